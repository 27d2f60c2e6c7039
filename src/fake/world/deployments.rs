//! ECS's side of a service's load balancing: UpdateService's rules, and the blue/green,
//! linear and canary deployments ECS runs itself.
//!
//! Written from AWS's documentation ("Amazon ECS blue/green deployments", "linear
//! deployments", "canary deployments", UpdateService), not from the controller's code:
//! - A BLUE_GREEN, LINEAR or CANARY strategy needs the ECS deployment controller, and each
//!   load balancer entry then needs an `advancedConfiguration`: the alternate target group,
//!   the production listener rule (forwarding to both groups) and the role ECS uses.
//! - A deployment starts the new revision's tasks and registers them in the alternate
//!   group; once they are healthy ECS sends all test traffic (the test listener rule, when
//!   there is one) to them and shifts production traffic by rewriting the production
//!   rule's forward weights — all at once (BLUE_GREEN), `stepPercent` at a time (LINEAR), or
//!   `canaryPercent` and then the rest (CANARY) — bakes, then swaps the primary and the
//!   alternate in the service and stops the old tasks.
//! - UpdateService replaces `loadBalancers` whole, and the `deploymentConfiguration` fields
//!   it is given.
//!
//! Simplified: bake times are steps the test takes (`advance`), not clocks; a lifecycle
//! hook is a pause the test starts and ends (`hold_ecs_deployment`), during which no step
//! moves anything; an UpdateService that changes the entries registers the service's tasks in the
//! entries' groups at once, as a rolling deployment would.

use std::collections::BTreeMap;

use super::{TARGET_GROUPS_PER_SERVICE, World};
use crate::aws::AwsError;
use crate::fake::error;
use crate::fake::traffic::FakeTargetState;
use crate::state::{DeploymentSettings, LoadBalancerAttachment, Target};

const OP: &str = "UpdateService";
/// ECS's defaults when the service sets none.
const DEFAULT_LINEAR_STEP_TENTHS: u32 = 100;
const DEFAULT_CANARY_TENTHS: u32 = 50;
/// Weights in tenths of a percent: all of a rule's traffic.
const ALL: u32 = 1000;

fn invalid(message: impl Into<String>) -> AwsError {
    error("ecs", OP, "InvalidParameterException", message.into())
}

/// A deployment ECS runs itself, in progress.
#[derive(Debug, Clone)]
pub struct EcsDeployment {
    /// The new revision's tasks (in the alternate group).
    pub new_tasks: Vec<String>,
    /// The tasks being replaced (in the primary group).
    pub old_tasks: Vec<String>,
    /// Production traffic on the alternate group, in tenths of a percent.
    pub shifted: u32,
    pub phase: DeploymentPhase,
    /// A lifecycle hook has not answered yet: nothing moves until it does.
    pub held_by_hook: bool,
    /// A rolling deployment (no traffic shifting): the new tasks start beside the old ones
    /// in every group of the service, and the old ones stop once the new are healthy.
    pub rolling: bool,
}

/// Where a deployment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentPhase {
    /// The new tasks are not all healthy yet: no traffic moves.
    WaitingForHealthy,
    /// Part of the traffic moved (a canary, a linear step).
    Shifting,
    /// All traffic on the alternate: the bake time runs.
    Baking,
    /// Primary and alternate swapped, old tasks stopped.
    Done,
}

impl World {
    /// UpdateService: the entries, and the deployment fields given (others kept).
    pub fn update_service(
        &mut self,
        cluster: &str,
        service: &str,
        load_balancers: Option<&[LoadBalancerAttachment]>,
        deployment: Option<&DeploymentSettings>,
    ) -> Result<(), AwsError> {
        let cluster_arn = self.cluster_arn(cluster).ok_or_else(|| {
            error(
                "ecs",
                OP,
                "ClusterNotFoundException",
                format!("Cluster not found: {cluster}"),
            )
        })?;
        if load_balancers.is_some_and(|l| l.len() > TARGET_GROUPS_PER_SERVICE) {
            return Err(invalid(format!(
                "A service can have at most {TARGET_GROUPS_PER_SERVICE} load balancers (target groups)"
            )));
        }
        for lb in load_balancers.into_iter().flatten() {
            self.check_entry(lb)?;
        }
        let found = self
            .services
            .values()
            .find(|s| {
                s.service.cluster_arn == cluster_arn
                    && (s.service.name == service || s.service.arn == service)
                    && s.service.status == crate::state::EcsServiceStatus::Active
            })
            .map(|s| s.service.clone());
        let Some(found) = found else {
            return Err(error(
                "ecs",
                OP,
                "ServiceNotFoundException",
                format!("Service not found: {service}"),
            ));
        };
        let settings = match deployment {
            Some(wish) => merged(&found.deployment, wish),
            None => found.deployment.clone(),
        };
        // Without new entries, the service keeps the ones it has.
        let load_balancers = load_balancers.unwrap_or(&found.load_balancers);
        if settings.strategy.shifts_traffic() {
            if found.deployment_controller != crate::state::DeploymentController::Ecs {
                return Err(invalid(format!(
                    "The {} strategy requires the ECS deployment controller",
                    settings.strategy.as_str()
                )));
            }
            if let Some(lb) = load_balancers
                .iter()
                .find(|lb| lb.target_group_arn.is_some() && lb.advanced.is_none())
            {
                return Err(invalid(format!(
                    "advancedConfiguration is required for target group {} with the {} strategy",
                    lb.target_group_arn.as_deref().unwrap_or_default(),
                    settings.strategy.as_str()
                )));
            }
        }
        let new_deployment = self.services.get(&found.arn).is_some_and(|s| {
            s.service.load_balancers != load_balancers
                || s.service.deployment.strategy != settings.strategy
        });
        if new_deployment {
            self.supersede_deployment(&found.arn);
        }
        let Some(entry) = self.services.get_mut(&found.arn) else {
            return Err(invalid("service vanished"));
        };
        let before = std::mem::replace(&mut entry.service.load_balancers, load_balancers.to_vec());
        entry.service.deployment = settings;
        if before != load_balancers {
            entry.deployments += 1;
            self.ecs_sync_registrations(&found.arn, &before);
        }
        Ok(())
    }

    /// What ECS checks of one entry.
    fn check_entry(&self, lb: &LoadBalancerAttachment) -> Result<(), AwsError> {
        let Some(tg) = lb.target_group_arn.as_deref() else {
            return Ok(());
        };
        if !self.target_groups.contains_key(tg) {
            return Err(invalid(format!(
                "Unable to assume role and validate the specified targetGroupArn: {tg} does not exist"
            )));
        }
        if self.load_balancers_of(tg).is_empty() {
            // ECS refuses a target group that no load balancer routes to: the rule must
            // exist before the attachment.
            return Err(invalid(format!(
                "The target group with targetGroupArn {tg} does not have an associated load balancer."
            )));
        }
        let Some(a) = &lb.advanced else {
            return Ok(());
        };
        let alternate = a.alternate_target_group_arn.as_deref().unwrap_or_default();
        if !self.target_groups.contains_key(alternate) || alternate == tg {
            return Err(invalid(format!(
                "advancedConfiguration.alternateTargetGroupArn {alternate} is not another existing target group"
            )));
        }
        if a.role_arn.as_deref().is_none_or(str::is_empty) {
            return Err(invalid("advancedConfiguration.roleArn is required"));
        }
        let production = a.production_listener_rule.as_deref().unwrap_or_default();
        self.check_shift_rule("productionListenerRule", production, tg, alternate)?;
        if let Some(test) = a.test_listener_rule.as_deref() {
            self.check_shift_rule("testListenerRule", test, tg, alternate)?;
        }
        Ok(())
    }

    /// A rule ECS shifts must exist and forward to both groups.
    fn check_shift_rule(
        &self,
        field: &str,
        rule_arn: &str,
        tg: &str,
        alternate: &str,
    ) -> Result<(), AwsError> {
        let Some(rule) = self.rules.get(rule_arn) else {
            return Err(invalid(format!(
                "advancedConfiguration.{field} {rule_arn} does not exist"
            )));
        };
        let forwards = |g: &str| {
            rule.forward_target_groups
                .iter()
                .chain(&rule.staged_target_groups)
                .any(|x| x == g)
        };
        if !forwards(tg) || !forwards(alternate) {
            return Err(invalid(format!(
                "The listener rule {rule_arn} ({field}) must forward to both {tg} and {alternate}"
            )));
        }
        Ok(())
    }

    /// The forward weights of a rule (tenths of a percent when ECS set them).
    pub fn rule_weights(&self, rule_arn: &str) -> BTreeMap<String, u32> {
        let Some(rule) = self.rules.get(rule_arn) else {
            return BTreeMap::new();
        };
        if !rule.weights.is_empty() {
            return rule.weights.clone();
        }
        rule.forward_target_groups
            .iter()
            .map(|g| (g.to_string(), 1))
            .chain(rule.staged_target_groups.iter().map(|g| (g.to_string(), 0)))
            .collect()
    }

    /// ECS starts a deployment of the service: the new revision's tasks (at `ips`) start
    /// and are registered in the alternate group.
    pub fn start_ecs_deployment(&mut self, service_arn: &str, ips: &[&str]) -> Result<(), String> {
        let service = &self
            .services
            .get(service_arn)
            .ok_or("no such service")?
            .service;
        if !service.deployment.strategy.shifts_traffic() {
            return Err(format!(
                "{} deploys ROLLING, not by shifting traffic",
                service.name
            ));
        }
        if self.ecs_deployments.contains_key(service_arn) {
            return Err("a deployment is in progress".into());
        }
        let (_, alternate, port, _) = self.shift_setup(service_arn)?;
        let old_tasks = self.running_tasks(service_arn);
        let mut new_tasks = Vec::new();
        for ip in ips {
            let arn = self
                .add_task_unregistered(service_arn, ip)
                .ok_or("no such service")?;
            self.register(
                &alternate,
                &[Target {
                    id: ip.to_string(),
                    port,
                }],
            );
            new_tasks.push(arn);
        }
        self.begin_deployment(service_arn, new_tasks, old_tasks, false);
        Ok(())
    }

    /// One step of the service's deployment: traffic moves only to healthy new tasks; the
    /// end swaps primary and alternate and stops the old tasks. Returns where it is.
    pub fn advance_ecs_deployment(&mut self, service_arn: &str) -> Result<DeploymentPhase, String> {
        let mut d = self
            .ecs_deployments
            .get(service_arn)
            .cloned()
            .ok_or("no deployment in progress")?;
        if d.held_by_hook {
            return Ok(d.phase);
        }
        if d.rolling {
            return Ok(self.advance_rolling(service_arn, &d));
        }
        let (primary, alternate, port, rule) = self.shift_setup(service_arn)?;
        if !self.rules.contains_key(&rule) {
            // ECS cannot modify a rule that is gone: the deployment fails and rolls back.
            self.roll_back_ecs_deployment(service_arn)?;
            return Err(format!("production rule {rule} not found: rolled back"));
        }
        let test_rule = self.test_rule(service_arn);
        let healthy = !d.new_tasks.is_empty()
            && self.task_ips(&d.new_tasks).iter().all(|ip| {
                self.target_health(&alternate)
                    .iter()
                    .any(|(t, s)| t.id == *ip && t.port == port && *s == FakeTargetState::Healthy)
            });
        d.phase = match d.phase {
            DeploymentPhase::WaitingForHealthy | DeploymentPhase::Shifting if !healthy => {
                DeploymentPhase::WaitingForHealthy
            }
            DeploymentPhase::WaitingForHealthy | DeploymentPhase::Shifting => {
                // Test traffic goes to the new tasks first, all of it.
                if let Some(test) = &test_rule {
                    self.set_weights(test, &primary, &alternate, ALL);
                }
                d.shifted = self.next_shift(service_arn, d.shifted);
                self.set_weights(&rule, &primary, &alternate, d.shifted);
                if d.shifted >= ALL {
                    DeploymentPhase::Baking
                } else {
                    DeploymentPhase::Shifting
                }
            }
            DeploymentPhase::Baking | DeploymentPhase::Done => {
                self.flip(service_arn, &d.old_tasks);
                self.end_deployment(service_arn);
                return Ok(DeploymentPhase::Done);
            }
        };
        let phase = d.phase;
        self.ecs_deployments.insert(service_arn.to_string(), d);
        Ok(phase)
    }

    /// ECS starts a rolling deployment of the service (a new task definition revision, or
    /// a forced deployment): the new tasks (at `ips`) start and are registered in every
    /// target group of its `loadBalancers`, beside the old ones.
    pub fn start_rolling_deployment(
        &mut self,
        service_arn: &str,
        ips: &[&str],
    ) -> Result<(), String> {
        if self.ecs_deployments.contains_key(service_arn) {
            return Err("a deployment is in progress".into());
        }
        let old_tasks = self.running_tasks(service_arn);
        let mut new_tasks = Vec::new();
        for ip in ips {
            new_tasks.push(self.add_task(service_arn, ip).ok_or("no such service")?);
        }
        self.begin_deployment(service_arn, new_tasks, old_tasks, true);
        Ok(())
    }

    /// ECS no longer reports a deployment of the service.
    fn end_deployment(&mut self, service_arn: &str) {
        self.ecs_deployments.remove(service_arn);
        if let Some(s) = self.services.get_mut(service_arn) {
            s.service.deploying = false;
        }
    }

    /// ECS reports the service deploying, its new tasks waiting to be healthy.
    fn begin_deployment(
        &mut self,
        service_arn: &str,
        new_tasks: Vec<String>,
        old_tasks: Vec<String>,
        rolling: bool,
    ) {
        if let Some(s) = self.services.get_mut(service_arn) {
            s.service.deploying = true;
        }
        self.ecs_deployments.insert(
            service_arn.to_string(),
            EcsDeployment {
                new_tasks,
                old_tasks,
                shifted: 0,
                phase: DeploymentPhase::WaitingForHealthy,
                held_by_hook: false,
                rolling,
            },
        );
    }

    /// An UpdateService that starts a deployment of its own (other load balancers, another
    /// strategy) replaces the one in progress ("Amazon ECS deployment types"): a rolling
    /// one simply ends with its tasks running; one shifting traffic is rolled back first.
    fn supersede_deployment(&mut self, service_arn: &str) {
        let Some(d) = self.ecs_deployments.get(service_arn) else {
            return;
        };
        if d.rolling {
            self.end_deployment(service_arn);
        } else {
            let _ = self.roll_back_ecs_deployment(service_arn);
        }
    }

    /// A rolling deployment's step: with minimum healthy percent 100, ECS stops the old
    /// tasks only once every new task is healthy in every target group of the service.
    fn advance_rolling(&mut self, service_arn: &str, d: &EcsDeployment) -> DeploymentPhase {
        let listed: Vec<(String, i32)> = self
            .services
            .get(service_arn)
            .map(|s| {
                s.service
                    .load_balancers
                    .iter()
                    .filter_map(|l| Some((l.target_group_arn.clone()?, l.container_port?)))
                    .collect()
            })
            .unwrap_or_default();
        let ips = self.task_ips(&d.new_tasks);
        let healthy = listed.iter().all(|(group, port)| {
            let health = self.target_health(group);
            ips.iter().all(|ip| {
                health
                    .iter()
                    .any(|(t, s)| t.id == *ip && t.port == *port && *s == FakeTargetState::Healthy)
            })
        });
        if !healthy {
            return DeploymentPhase::WaitingForHealthy;
        }
        for t in &d.old_tasks {
            self.stop_task(t);
        }
        self.end_deployment(service_arn);
        DeploymentPhase::Done
    }

    /// ECS rolls the deployment back (an alarm, a hook's answer, a failed health check):
    /// production and test traffic go back to the primary, the new tasks stop.
    pub fn roll_back_ecs_deployment(&mut self, service_arn: &str) -> Result<(), String> {
        let d = self
            .ecs_deployments
            .get(service_arn)
            .cloned()
            .ok_or("no deployment in progress")?;
        // Without its setup (the entry rewritten), there is no traffic to move back.
        if let (false, Ok((primary, alternate, _, rule))) =
            (d.rolling, self.shift_setup(service_arn))
        {
            if let Some(test) = self.test_rule(service_arn) {
                self.set_weights(&test, &primary, &alternate, 0);
            }
            self.set_weights(&rule, &primary, &alternate, 0);
        }
        for t in &d.new_tasks {
            self.stop_task(t);
        }
        self.end_deployment(service_arn);
        Ok(())
    }

    /// What AWS forgets with time: stopped tasks (ECS lists them for about an hour) and
    /// targets whose draining ended. A long simulation would otherwise only grow.
    pub fn forget_expired(&mut self) {
        let now = tokio::time::Instant::now();
        self.tasks.retain(|t| t.task.last_status == "RUNNING");
        self.registrations
            .retain(|_, r| r.draining_until.is_none_or(|until| until > now));
        self.cached_answers.retain(|c| c.until > now);
    }

    /// A lifecycle hook of the deployment starts (`true`) or stops (`false`) holding it.
    pub fn hold_ecs_deployment(&mut self, service_arn: &str, held: bool) -> Result<(), String> {
        let d = self
            .ecs_deployments
            .get_mut(service_arn)
            .ok_or("no deployment in progress")?;
        d.held_by_hook = held;
        Ok(())
    }

    /// (primary, alternate, container port, production rule) of the service's entry.
    fn shift_setup(&self, service_arn: &str) -> Result<(String, String, i32, String), String> {
        let service = &self
            .services
            .get(service_arn)
            .ok_or("no such service")?
            .service;
        let entry = service
            .load_balancers
            .iter()
            .find(|lb| lb.advanced.is_some())
            .ok_or("no loadBalancers entry with advancedConfiguration")?;
        let a = entry.advanced.as_ref().ok_or("no advancedConfiguration")?;
        Ok((
            entry.target_group_arn.clone().ok_or("no target group")?,
            a.alternate_target_group_arn
                .clone()
                .ok_or("no alternate target group")?,
            entry.container_port.ok_or("no container port")?,
            a.production_listener_rule
                .clone()
                .ok_or("no production rule")?,
        ))
    }

    /// The entry's `testListenerRule`, if it has one.
    fn test_rule(&self, service_arn: &str) -> Option<String> {
        self.services
            .get(service_arn)?
            .service
            .load_balancers
            .iter()
            .find_map(|lb| lb.advanced.as_ref()?.test_listener_rule.clone())
    }

    /// Traffic on the alternate after the next step of the strategy.
    fn next_shift(&self, service_arn: &str, shifted: u32) -> u32 {
        let settings = self
            .services
            .get(service_arn)
            .map(|s| s.service.deployment.clone())
            .unwrap_or_default();
        let step = match settings.strategy {
            crate::state::DeploymentStrategy::Linear => settings
                .linear_step_percent
                .map_or(DEFAULT_LINEAR_STEP_TENTHS, |t| u32::from(t.0)),
            crate::state::DeploymentStrategy::Canary if shifted == 0 => settings
                .canary_percent
                .map_or(DEFAULT_CANARY_TENTHS, |t| u32::from(t.0)),
            _ => ALL,
        };
        (shifted + step.max(1)).min(ALL)
    }

    /// ECS rewrites the production rule's weights (only the action: conditions stay).
    fn set_weights(&mut self, rule_arn: &str, primary: &str, alternate: &str, shifted: u32) {
        let Some(rule) = self.rules.get_mut(rule_arn) else {
            return;
        };
        // ECS writes whole weights (0–999 in AWS's rules): the shift in percent.
        let percent = |tenths: u32| if tenths == 0 { 0 } else { (tenths / 10).max(1) };
        let weights = BTreeMap::from([
            (primary.to_string(), percent(ALL - shifted)),
            (alternate.to_string(), percent(shifted)),
        ]);
        rule.forward_target_groups = weights
            .iter()
            .filter(|(_, w)| **w > 0)
            .map(|(g, _)| g.into())
            .collect();
        rule.staged_target_groups = weights
            .iter()
            .filter(|(_, w)| **w == 0)
            .map(|(g, _)| g.into())
            .collect();
        rule.weights = weights;
    }

    /// The deployment's end: the old tasks stop (deregistered from the old primary, which
    /// takes no traffic any more), then the alternate becomes the primary.
    fn flip(&mut self, service_arn: &str, old_tasks: &[String]) {
        for t in old_tasks {
            self.stop_task(t);
        }
        let Some(s) = self.services.get_mut(service_arn) else {
            return;
        };
        for lb in &mut s.service.load_balancers {
            if let Some(a) = lb.advanced.as_mut() {
                std::mem::swap(&mut lb.target_group_arn, &mut a.alternate_target_group_arn);
            }
        }
    }

    fn running_tasks(&self, service_arn: &str) -> Vec<String> {
        let Some(s) = self.services.get(service_arn) else {
            return Vec::new();
        };
        let group = format!("service:{}", s.service.name);
        self.tasks
            .iter()
            .filter(|t| t.cluster_arn == s.service.cluster_arn)
            .filter(|t| t.task.group.as_deref() == Some(group.as_str()))
            .filter(|t| t.task.last_status == "RUNNING")
            .map(|t| t.task.arn.clone())
            .collect()
    }

    fn task_ips(&self, task_arns: &[String]) -> Vec<String> {
        self.tasks
            .iter()
            .filter(|t| task_arns.contains(&t.task.arn))
            .filter_map(|t| t.task.private_ip.clone())
            .collect()
    }
}

/// `have` with the fields `wish` sets replaced.
fn merged(have: &DeploymentSettings, wish: &DeploymentSettings) -> DeploymentSettings {
    DeploymentSettings {
        strategy: wish.strategy.clone(),
        bake_minutes: wish.bake_minutes.or(have.bake_minutes),
        linear_step_percent: wish.linear_step_percent.or(have.linear_step_percent),
        linear_step_minutes: wish.linear_step_minutes.or(have.linear_step_minutes),
        canary_percent: wish.canary_percent.or(have.canary_percent),
        canary_minutes: wish.canary_minutes.or(have.canary_minutes),
    }
}
