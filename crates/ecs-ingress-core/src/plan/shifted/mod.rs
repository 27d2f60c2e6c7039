//! The ALB side of a service ECS deploys itself (`alb.deploy` blue-green, linear or canary):
//! two target groups with the same settings, one production rule forwarding to both, one
//! `loadBalancers` entry carrying ECS's `advancedConfiguration`, and the strategy.
//!
//! The weights and which group is primary belong to ECS: during a deployment it rewrites
//! the production rule's weights, and at its end it swaps the entry's target group and
//! alternate. So the primary is read from the entry (never chosen again), the rule's action
//! is rewritten only when it no longer forwards to exactly the service's two groups, and a
//! changed host or path is repaired in the conditions alone.

use std::collections::BTreeSet;

use super::alb::{WinnerOutcome, target_group_changes};
use super::change::{AttachmentEntry, Change, PlannedChange, RuleRef, ShiftSetup, TargetGroupRef};
use super::desired::{DesiredService, Location};
use super::owned::Owned;
use super::placement::{Placed, existing_rule};
use super::{PlanConfig, problem};
use crate::model::{Intent, TargetsMode};
use crate::ownership::naming::alternate_target_group_name;
use crate::snapshot::Snapshot;
use crate::state::{EcsService, LoadBalancerAttachment, Rule, TargetGroupSpec};
use crate::status::Problem;

/// The ownership key of the production rule: the one rule such a service has.
const PRODUCTION_RULE: &str = "rule-0";

/// Why a service asking ECS to shift its traffic cannot have it, naming what to fix.
pub fn problem_with(config: &PlanConfig, service: &EcsService, intent: &Intent) -> Option<Problem> {
    let strategy = intent.deploy.as_ref()?.strategy.as_str().to_string();
    if service.deployment_controller != "ECS" {
        return Some(problem(
            Some("alb.deploy"),
            format!(
                "ECS deploys with {strategy} only under the ECS deployment controller; this service uses {}",
                service.deployment_controller
            ),
        ));
    }
    if intent.targets == TargetsMode::Direct {
        return Some(problem(
            Some("alb.deploy"),
            "ECS registers the tasks of a service it deploys blue/green itself: remove alb.targets=direct",
        ));
    }
    if super::desired::split_conditions(&intent.hosts, &intent.paths).len() > 1 {
        return Some(problem(
            Some("alb.host"),
            format!(
                "ECS shifts traffic through one production rule, and these hosts and paths need several (at most 3 hosts, 3 paths and 5 values together, 5 wildcards): {}",
                intent.summary()
            ),
        ));
    }
    if config.ecs_infrastructure_role_arn.is_none() {
        return Some(problem(
            Some("alb.deploy"),
            format!(
                "alb.deploy={} needs --ecs-infrastructure-role-arn (ECS_INGRESS_ECS_INFRASTRUCTURE_ROLE_ARN): the role ECS rewrites the production rule with",
                crate::model::deploy_tag(&intent.deploy.as_ref()?.strategy)
            ),
        ));
    }
    None
}

/// A service ECS deploys stays on the ALB its production rule is on: ECS keeps the rule's
/// ARN in the service, so a move would strand its deployments. The one location left, or
/// why it cannot stay.
pub fn pin<'a>(
    owned: &Owned<'_>,
    service_arn: &str,
    choices: Vec<Location<'a>>,
) -> Result<Vec<Location<'a>>, Problem> {
    let Some(rule) = owned
        .rules_of(service_arn)
        .iter()
        .find(|r| crate::ownership::resource_of(&r.tags) == Some(PRODUCTION_RULE))
    else {
        return Ok(choices);
    };
    let here: Vec<Location<'a>> = choices
        .iter()
        .copied()
        .filter(|c| c.listener_arn == rule.listener_arn)
        .collect();
    if here.is_empty() {
        return Err(problem(
            Some("alb.listener"),
            format!(
                "ECS deploys this service through its production rule on listener {}, which its pool no longer offers: it stays there; set alb.deploy=rolling to let it move",
                rule.listener_arn
            ),
        ));
    }
    Ok(here)
}

/// The second group's spec: the primary's settings under the alternate name.
pub fn alternate_spec(primary: &TargetGroupSpec) -> TargetGroupSpec {
    TargetGroupSpec {
        name: alternate_target_group_name(&primary.name),
        ..primary.clone()
    }
}

/// Why the service's groups cannot be its two: an immutable setting changed (its groups
/// carry other names), which needs new groups ECS has no way to take over mid-flight.
pub fn immutable_change(owned: &Owned<'_>, desired: &DesiredService<'_>) -> Option<Problem> {
    let groups = owned.groups_of(&desired.service.arn);
    let alternate = alternate_target_group_name(&desired.target_group.name);
    let known = |name: &str| name == desired.target_group.name || name == alternate;
    if groups.is_empty() || groups.iter().any(|g| known(&g.name)) {
        return None;
    }
    Some(problem(
        None,
        format!(
            "an immutable setting (container, port, protocol, target type or VPC) changed, which needs new target groups ({}); ECS deploys this service between its current ones, so they are kept: set alb.deploy=rolling to let ecs-ingress replace them without downtime, then alb.deploy again",
            desired.target_group.name
        ),
    ))
}

pub fn service_changes(
    config: &PlanConfig,
    observed: &Snapshot,
    owned: &Owned<'_>,
    desired: &DesiredService<'_>,
    placed: &Placed,
    index: usize,
    changes: &mut Vec<PlannedChange>,
) -> WinnerOutcome {
    let service = desired.service;
    let my_groups = owned.groups_of(&service.arn);
    let blue = target_group_changes(service, &desired.target_group, my_groups, changes);
    let green_spec = alternate_spec(&desired.target_group);
    let green = target_group_changes(service, &green_spec, my_groups, changes);
    let rule = existing_rule(owned, desired, PRODUCTION_RULE);
    let (primary, alternate) = roles(service, rule, blue, green);
    let mut outcome = WinnerOutcome::default();
    let Some(production) = rule_changes(
        config, owned, desired, placed, index, rule, &primary, &alternate, changes,
    ) else {
        return outcome; // The listener's band is full: reported as a pass problem.
    };
    outcome.serving = serving(rule, &primary);
    if let Some(g) = &outcome.serving
        && super::alb::has_healthy_targets(observed, g).is_none()
    {
        outcome.health_wanted.push(g.clone());
    }
    attachment_changes(
        config, owned, desired, &primary, &alternate, production, changes,
    );
    delete_strays(service, owned, &[&primary, &alternate], changes);
    outcome
}

/// (primary, alternate): the entry's target group is the primary — ECS swaps it with the
/// alternate when a deployment ends. Without an entry, the group the rule sends traffic to;
/// without either, the group named like a rolling service's.
fn roles(
    service: &EcsService,
    rule: Option<&Rule>,
    blue: TargetGroupRef,
    green: TargetGroupRef,
) -> (TargetGroupRef, TargetGroupRef) {
    let is = |r: &TargetGroupRef, arn: &str| matches!(r, TargetGroupRef::Existing(a) if a == arn);
    let entry_on_green = service
        .load_balancers
        .iter()
        .filter_map(|lb| lb.target_group_arn.as_deref())
        .any(|a| is(&green, a));
    let entry_on_blue = service
        .load_balancers
        .iter()
        .filter_map(|lb| lb.target_group_arn.as_deref())
        .any(|a| is(&blue, a));
    let rule_on_green_only = rule.is_some_and(|r| {
        !r.forward_target_groups.is_empty() && r.forward_target_groups.iter().all(|a| is(&green, a))
    });
    if entry_on_green || (!entry_on_blue && rule_on_green_only) {
        (green, blue)
    } else {
        (blue, green)
    }
}

/// The group whose health decides whether the names may be published: one the rule sends
/// traffic to (ECS moves traffic only to a group with healthy targets).
fn serving(rule: Option<&Rule>, primary: &TargetGroupRef) -> Option<String> {
    match (rule, primary) {
        (Some(r), _) if !r.forward_target_groups.is_empty() => {
            r.forward_target_groups.first().cloned()
        }
        (_, TargetGroupRef::Existing(arn)) => Some(arn.clone()),
        (_, TargetGroupRef::New(_)) => None,
    }
}

/// The production rule: created 100/0 on the primary; its action reset only when it no
/// longer forwards to exactly the two groups; its conditions repaired with the weights
/// kept. Other rules of the service go. `None` when the listener has no room for it.
#[allow(clippy::too_many_arguments)]
fn rule_changes(
    config: &PlanConfig,
    owned: &Owned<'_>,
    desired: &DesiredService<'_>,
    placed: &Placed,
    index: usize,
    rule: Option<&Rule>,
    primary: &TargetGroupRef,
    alternate: &TargetGroupRef,
    changes: &mut Vec<PlannedChange>,
) -> Option<RuleRef> {
    let service = desired.service;
    let wanted = desired.rules.first()?;
    for other in owned
        .rules_of(&service.arn)
        .iter()
        .filter(|r| rule.is_none_or(|p| p.arn != r.arn))
    {
        changes.push(PlannedChange::new(
            service,
            Change::DeleteRule {
                arn: other.arn.clone(),
            },
            "rule no longer wanted (ECS shifts this service through one production rule)",
        ));
    }
    let Some(existing) = rule else {
        let priority = *placed.priorities.get(&(index, 0))?;
        changes.push(PlannedChange::new(
            service,
            Change::CreateRule {
                listener_arn: desired.listener_arn.clone(),
                priority,
                hosts: wanted.hosts.clone(),
                paths: wanted.paths.clone(),
                target: primary.clone(),
                staged: Some(alternate.clone()),
                tags: config.ownership.tags(&service.arn, PRODUCTION_RULE),
            },
            "new production rule: 100% to the primary group, 0% to the alternate ECS deploys into",
        ));
        return Some(RuleRef::New(PRODUCTION_RULE.to_string()));
    };
    if !forwards_to_both(existing, primary, alternate) {
        changes.push(PlannedChange::new(
            service,
            Change::ModifyRule {
                arn: existing.arn.clone(),
                hosts: wanted.hosts.clone(),
                paths: wanted.paths.clone(),
                target: primary.clone(),
                staged: Some(alternate.clone()),
            },
            "the production rule does not forward to the service's two target groups: 100% to the primary, 0% to the alternate",
        ));
    } else if existing.hosts != wanted.hosts
        || existing.paths != wanted.paths
        || existing.other_conditions > 0
    {
        changes.push(PlannedChange::new(
            service,
            Change::ModifyRuleConditions {
                arn: existing.arn.clone(),
                hosts: wanted.hosts.clone(),
                paths: wanted.paths.clone(),
            },
            "production rule conditions differ (the weights are ECS's and stay)",
        ));
    }
    Some(RuleRef::Existing(existing.arn.clone()))
}

/// The rule forwards to exactly the two groups (in any weights ECS chose, some above 0).
fn forwards_to_both(rule: &Rule, primary: &TargetGroupRef, alternate: &TargetGroupRef) -> bool {
    let (TargetGroupRef::Existing(p), TargetGroupRef::Existing(a)) = (primary, alternate) else {
        return false;
    };
    let groups: BTreeSet<&str> = rule
        .forward_target_groups
        .iter()
        .chain(&rule.staged_target_groups)
        .map(String::as_str)
        .collect();
    rule.other_actions == 0
        && !rule.forward_target_groups.is_empty()
        && groups == BTreeSet::from([p.as_str(), a.as_str()])
}

/// One entry for the primary with ECS's `advancedConfiguration`, others' entries as they
/// are, and the strategy the tags ask for — in one UpdateService.
fn attachment_changes(
    config: &PlanConfig,
    owned: &Owned<'_>,
    desired: &DesiredService<'_>,
    primary: &TargetGroupRef,
    alternate: &TargetGroupRef,
    production: RuleRef,
    changes: &mut Vec<PlannedChange>,
) {
    let service = desired.service;
    let Some(role_arn) = config.ecs_infrastructure_role_arn.clone() else {
        return; // `problem_with` keeps such a service out of planning.
    };
    let ours = |lb: &&LoadBalancerAttachment| {
        lb.target_group_arn
            .as_deref()
            .is_some_and(|a| owned.group_arns.contains(a))
    };
    let foreign: Vec<AttachmentEntry> = service
        .load_balancers
        .iter()
        .filter(|lb| !ours(lb))
        .cloned()
        .map(AttachmentEntry::Keep)
        .collect();
    let setup = ShiftSetup {
        alternate: alternate.clone(),
        production_rule: production,
        role_arn,
    };
    let have: Vec<&LoadBalancerAttachment> = service.load_balancers.iter().filter(ours).collect();
    let entry_matches = match (have.as_slice(), as_entry(desired, primary, &setup)) {
        ([one], Some(want)) => **one == want,
        _ => false,
    };
    let deployment = desired
        .intent
        .deploy
        .as_ref()
        .filter(|d| !d.drift_from(&service.deployment).is_empty());
    if entry_matches && deployment.is_none() {
        return;
    }
    let mut reason = Vec::new();
    if !entry_matches {
        reason.push(
            "its loadBalancers entry must name both groups and the production rule for ECS"
                .to_string(),
        );
    }
    if let Some(d) = deployment {
        reason.push(format!(
            "deploymentConfiguration differs: {}",
            d.drift_from(&service.deployment).join(", ")
        ));
    }
    let mut load_balancers = foreign;
    load_balancers.push(AttachmentEntry::Ours {
        target: primary.clone(),
        container: desired.intent.container.clone(),
        port: i32::from(desired.intent.container_port),
        shift: Some(setup),
    });
    changes.push(PlannedChange::new(
        service,
        Change::UpdateServiceLoadBalancers {
            cluster: service.cluster_arn.clone(),
            service: service.name.clone(),
            load_balancers,
            publish: true,
            deployment: deployment.cloned(),
        },
        format!("{} (starts an ECS deployment)", reason.join("; ")),
    ));
}

/// The entry as ECS would hold it, when everything it names exists already.
fn as_entry(
    desired: &DesiredService<'_>,
    primary: &TargetGroupRef,
    setup: &ShiftSetup,
) -> Option<LoadBalancerAttachment> {
    let (
        TargetGroupRef::Existing(primary),
        TargetGroupRef::Existing(alternate),
        RuleRef::Existing(rule),
    ) = (primary, &setup.alternate, &setup.production_rule)
    else {
        return None;
    };
    Some(LoadBalancerAttachment {
        target_group_arn: Some(primary.clone()),
        load_balancer_name: None,
        container_name: Some(desired.intent.container.clone()),
        container_port: Some(i32::from(desired.intent.container_port)),
        advanced: Some(crate::state::AdvancedConfiguration {
            alternate_target_group_arn: Some(alternate.clone()),
            production_listener_rule: Some(rule.clone()),
            test_listener_rule: None,
            role_arn: Some(setup.role_arn.clone()),
        }),
    })
}

/// Groups of the service other than its two, once nothing routes to them or names them.
fn delete_strays(
    service: &EcsService,
    owned: &Owned<'_>,
    keep: &[&TargetGroupRef],
    changes: &mut Vec<PlannedChange>,
) {
    let used = |arn: &str| {
        owned.rules_of(&service.arn).iter().any(|r| {
            r.forward_target_groups
                .iter()
                .chain(&r.staged_target_groups)
                .any(|g| g == arn)
        }) || service
            .load_balancers
            .iter()
            .any(|lb| lb.target_group_arn.as_deref() == Some(arn))
    };
    for g in owned.groups_of(&service.arn) {
        let kept = keep
            .iter()
            .any(|k| matches!(k, TargetGroupRef::Existing(a) if *a == g.arn));
        if !kept && !used(&g.arn) {
            changes.push(PlannedChange::new(
                service,
                Change::DeleteTargetGroup {
                    arn: g.arn.clone(),
                    name: g.name.clone(),
                },
                "no longer one of the service's two groups",
            ));
        }
    }
}

#[cfg(test)]
mod tests;
