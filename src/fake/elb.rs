//! [`ElbApi`] on the fake account.

use async_trait::async_trait;

use super::traffic::FakeTargetState;
use super::{FakeAws, error};
use crate::aws::{AwsError, DESCRIBE_TAGS_BATCH, ElbApi};
use crate::state::{
    HealthCheck, Listener, LoadBalancer, Rule, RuleSpec, Tags, Target, TargetGroup,
    TargetGroupAttributes, TargetGroupSpec, TargetHealth, TargetHealthState,
};

const ELB: &str = "elbv2";
/// The page size the real adapter asks for.
const PAGE: usize = 400;

fn not_found(operation: &'static str, code: &str, arn: &str) -> AwsError {
    error(
        ELB,
        operation,
        code,
        format!("One or more resources not found: {arn}"),
    )
}

#[async_trait]
impl ElbApi for FakeAws {
    async fn describe_listeners(&self, arns: &[String]) -> Result<Vec<Listener>, AwsError> {
        self.request(ELB, "DescribeListeners", |world| {
            arns.iter()
                .map(|a| {
                    world
                        .listeners
                        .get(a)
                        .cloned()
                        .ok_or_else(|| not_found("DescribeListeners", "ListenerNotFound", a))
                })
                .collect()
        })
        .await
    }

    async fn describe_load_balancer_listeners(
        &self,
        load_balancer_arn: &str,
    ) -> Result<Vec<Listener>, AwsError> {
        self.request(ELB, "DescribeListeners", |world| {
            if !world.load_balancers.contains_key(load_balancer_arn) {
                return Err(not_found(
                    "DescribeListeners",
                    "LoadBalancerNotFound",
                    load_balancer_arn,
                ));
            }
            Ok(world
                .listeners
                .values()
                .filter(|l| l.load_balancer_arn == load_balancer_arn)
                .cloned()
                .collect())
        })
        .await
    }

    async fn describe_account_limits(
        &self,
    ) -> Result<std::collections::BTreeMap<String, u64>, AwsError> {
        self.request(ELB, "DescribeAccountLimits", |world| {
            Ok(world.account_limits())
        })
        .await
    }

    async fn describe_load_balancers(
        &self,
        arns: &[String],
    ) -> Result<Vec<LoadBalancer>, AwsError> {
        self.request(ELB, "DescribeLoadBalancers", |world| {
            arns.iter()
                .map(|a| {
                    world.load_balancers.get(a).cloned().ok_or_else(|| {
                        not_found("DescribeLoadBalancers", "LoadBalancerNotFound", a)
                    })
                })
                .collect()
        })
        .await
    }

    async fn describe_rules(&self, listener_arn: &str) -> Result<Vec<Rule>, AwsError> {
        let count = self
            .world()
            .rules
            .values()
            .filter(|r| r.listener_arn == listener_arn)
            .count();
        self.paged(ELB, "DescribeRules", count, PAGE, |world| {
            if !world.listeners.contains_key(listener_arn) {
                return Err(not_found("DescribeRules", "ListenerNotFound", listener_arn));
            }
            Ok(world
                .rules
                .values()
                .filter(|r| r.listener_arn == listener_arn)
                .map(|r| Rule {
                    tags: Tags::new(),
                    ..r.clone()
                })
                .collect())
        })
        .await
    }

    async fn describe_target_groups(&self) -> Result<Vec<TargetGroup>, AwsError> {
        let count = self.world().target_groups.len();
        self.paged(ELB, "DescribeTargetGroups", count, PAGE, |world| {
            Ok(world.target_group_views())
        })
        .await
    }

    async fn describe_target_groups_by_arn(
        &self,
        arns: &[String],
    ) -> Result<Vec<TargetGroup>, AwsError> {
        self.request(ELB, "DescribeTargetGroups", |world| {
            let views = world.target_group_views();
            // AWS fails the whole call when one ARN does not exist.
            arns.iter()
                .map(|arn| {
                    views
                        .iter()
                        .find(|g| &g.arn == arn)
                        .cloned()
                        .ok_or_else(|| {
                            error(
                                ELB,
                                "DescribeTargetGroups",
                                "TargetGroupNotFound",
                                format!("One or more target groups not found: {arn}"),
                            )
                        })
                })
                .collect()
        })
        .await
    }

    async fn describe_tags(&self, arns: &[String]) -> Result<Vec<(String, Tags)>, AwsError> {
        self.request(ELB, "DescribeTags", |world| {
            if arns.len() > DESCRIBE_TAGS_BATCH {
                return Err(error(
                    ELB,
                    "DescribeTags",
                    "ValidationError",
                    format!("at most {DESCRIBE_TAGS_BATCH} resource ARNs"),
                ));
            }
            arns.iter()
                .map(|a| {
                    if let Some(g) = world.target_groups.get(a) {
                        Ok((a.clone(), g.tags.clone()))
                    } else if let Some(r) = world.rules.get(a) {
                        Ok((a.clone(), r.tags.clone()))
                    } else {
                        Err(not_found("DescribeTags", "RuleNotFound", a))
                    }
                })
                .collect()
        })
        .await
    }

    async fn describe_target_group_attributes(
        &self,
        arn: &str,
    ) -> Result<TargetGroupAttributes, AwsError> {
        self.request(ELB, "DescribeTargetGroupAttributes", |world| {
            Ok(world
                .target_group_mut("DescribeTargetGroupAttributes", arn)?
                .attributes
                .clone())
        })
        .await
    }

    async fn describe_target_health(
        &self,
        target_group_arn: &str,
    ) -> Result<Vec<TargetHealth>, AwsError> {
        self.request(ELB, "DescribeTargetHealth", |world| {
            world.target_group_mut("DescribeTargetHealth", target_group_arn)?;
            Ok(world
                .target_health(target_group_arn)
                .into_iter()
                .map(|(target, state)| TargetHealth {
                    target,
                    state: match state {
                        FakeTargetState::Initial => TargetHealthState::Initial,
                        FakeTargetState::Healthy => TargetHealthState::Healthy,
                        FakeTargetState::Unhealthy => TargetHealthState::Unhealthy,
                        FakeTargetState::Draining => TargetHealthState::Draining,
                    },
                })
                .collect())
        })
        .await
    }

    async fn create_target_group(&self, spec: &TargetGroupSpec) -> Result<String, AwsError> {
        self.request(ELB, "CreateTargetGroup", |world| {
            world.insert_target_group(spec)
        })
        .await
    }

    async fn modify_target_group(
        &self,
        arn: &str,
        health_check: &HealthCheck,
    ) -> Result<(), AwsError> {
        self.request(ELB, "ModifyTargetGroup", |world| {
            if health_check.timeout_seconds >= health_check.interval_seconds {
                return Err(error(
                    ELB,
                    "ModifyTargetGroup",
                    "ValidationError",
                    "Health check timeout must be smaller than the interval".into(),
                ));
            }
            world
                .target_group_mut("ModifyTargetGroup", arn)?
                .health_check = health_check.clone();
            Ok(())
        })
        .await
    }

    async fn modify_target_group_attributes(
        &self,
        arn: &str,
        attributes: &TargetGroupAttributes,
    ) -> Result<(), AwsError> {
        self.request(ELB, "ModifyTargetGroupAttributes", |world| {
            let group = world.target_group_mut("ModifyTargetGroupAttributes", arn)?;
            group
                .attributes
                .extend(attributes.iter().map(|(k, v)| (k.clone(), v.clone())));
            Ok(())
        })
        .await
    }

    async fn delete_target_group(&self, arn: &str) -> Result<(), AwsError> {
        self.request(ELB, "DeleteTargetGroup", |world| {
            world.remove_target_group(arn)
        })
        .await
    }

    async fn create_rule(&self, spec: &RuleSpec) -> Result<String, AwsError> {
        self.request(ELB, "CreateRule", |world| world.insert_rule(spec))
            .await
    }

    async fn modify_rule(
        &self,
        arn: &str,
        hosts: &[String],
        paths: &[String],
        target_group_arn: &str,
        staged: Option<&str>,
    ) -> Result<(), AwsError> {
        self.request(ELB, "ModifyRule", |world| {
            world.modify_rule(arn, hosts, paths, target_group_arn, staged)
        })
        .await
    }

    async fn set_rule_priorities(&self, priorities: &[(String, u32)]) -> Result<(), AwsError> {
        self.request(ELB, "SetRulePriorities", |world| {
            world.set_rule_priorities(priorities)
        })
        .await
    }

    async fn delete_rule(&self, arn: &str) -> Result<(), AwsError> {
        self.request(ELB, "DeleteRule", |world| world.remove_rule(arn))
            .await
    }

    async fn register_targets(
        &self,
        target_group_arn: &str,
        targets: &[Target],
    ) -> Result<(), AwsError> {
        self.request(ELB, "RegisterTargets", |world| {
            world.target_group_mut("RegisterTargets", target_group_arn)?;
            world.register(target_group_arn, targets);
            Ok(())
        })
        .await
    }

    async fn deregister_targets(
        &self,
        target_group_arn: &str,
        targets: &[Target],
    ) -> Result<(), AwsError> {
        self.request(ELB, "DeregisterTargets", |world| {
            world.target_group_mut("DeregisterTargets", target_group_arn)?;
            world.deregister(target_group_arn, targets);
            Ok(())
        })
        .await
    }
}
