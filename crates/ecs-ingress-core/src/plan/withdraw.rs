//! Withdrawal: everything owned for a service that no longer asks for it, in the safe
//! order (rules, then the attachment, then target groups; names go first, planned by the
//! DNS and Cloud Map stages).

use super::change::{AttachmentEntry, Change, PlannedChange};
use super::owned::Owned;
use std::collections::BTreeSet;

use super::{Plan, PlanConfig, cluster_name, status, watched};
use crate::model::ServiceIntent;
use crate::state::{DeploymentSettings, DeploymentStrategy, EcsService};
use crate::status::ServiceState;

/// ECS deploys the service between two groups of ours (what `alb.deploy` sets up): the
/// withdrawal takes the strategy back to ROLLING with the entry, as it found it.
fn set_up_by_alb_deploy(owned: &Owned<'_>, service: &EcsService) -> bool {
    service.deployment.strategy.shifts_traffic()
        && service.load_balancers.iter().any(|lb| {
            let ours =
                |g: &Option<String>| g.as_deref().is_some_and(|g| owned.group_arns.contains(g));
            lb.advanced
                .as_ref()
                .is_some_and(|a| ours(&lb.target_group_arn) && ours(&a.alternate_target_group_arn))
        })
}

/// Every owned resource of a service that no longer asks for any.
pub fn withdraw(
    owned: &Owned<'_>,
    service_arn: &str,
    service: Option<&EcsService>,
    changes: &mut Vec<PlannedChange>,
    out: &mut Plan,
) {
    let display = service
        .map(|s| format!("{}/{}", cluster_name(&s.cluster_arn), s.name))
        .unwrap_or_else(|| service_arn.to_string());
    let push = |changes: &mut Vec<PlannedChange>, change: Change, reason: &str| {
        changes.push(PlannedChange {
            service_arn: Some(service_arn.to_string()),
            service: display.clone(),
            change,
            reason: reason.into(),
        })
    };
    let reason = if service.is_some() {
        "routing tags removed"
    } else {
        "service deleted"
    };
    for rule in owned.rules_of(service_arn) {
        push(
            changes,
            Change::DeleteRule {
                arn: rule.arn.to_string(),
            },
            reason,
        );
    }
    if let Some(s) = service {
        // Ours go, and ours deleted by someone (named by our scheme, no longer there).
        let ours = |a: &str| {
            owned.group_arns.contains(a)
                || (owned.group_gone(a) && crate::ownership::naming::may_be_ours(a))
        };
        let remaining: Vec<AttachmentEntry> = s
            .load_balancers
            .iter()
            .filter(|lb| !lb.target_group_arn.as_deref().is_some_and(ours))
            .cloned()
            .map(AttachmentEntry::Keep)
            .collect();
        if remaining.len() != s.load_balancers.len() {
            push(
                changes,
                Change::UpdateServiceLoadBalancers {
                    cluster: s.cluster_arn.clone(),
                    service: s.name.clone(),
                    load_balancers: remaining,
                    publish: false,
                    // The strategy alone: every other field goes back as ECS holds it.
                    deployment: set_up_by_alb_deploy(owned, s).then(|| DeploymentSettings {
                        strategy: DeploymentStrategy::Rolling,
                        ..Default::default()
                    }),
                },
                reason,
            );
        }
    }
    for g in owned.groups_of(service_arn) {
        push(
            changes,
            Change::DeleteTargetGroup {
                arn: g.arn.to_string(),
                name: g.name.clone(),
            },
            reason,
        );
    }
    if let Some(s) = service {
        out.services.push(status(
            s,
            ServiceState::Withdrawn,
            None,
            owned.resources(service_arn),
        ));
    }
}

/// Withdraws the orphans (owned resources of services no longer seen, when their cluster is
/// watched) and the services that stopped asking.
pub fn withdraw_all(
    config: &PlanConfig,
    owned: &Owned<'_>,
    orphans: BTreeSet<&str>,
    withdrawn: Vec<(&EcsService, &ServiceIntent)>,
    changes: &mut Vec<PlannedChange>,
    out: &mut Plan,
) {
    for service_arn in orphans {
        if !watched(config, service_arn) {
            out.problems.push(format!(
                "resources owned by ecs-ingress for {service_arn} are left alone: its cluster is not watched by this controller"
            ));
            continue;
        }
        withdraw(owned, service_arn, None, changes, out);
    }
    for (service, intent) in withdrawn {
        withdraw(owned, &service.arn, Some(service), changes, out);
        if let (ServiceIntent::Withdraw { warnings }, Some(s)) = (intent, out.services.last_mut()) {
            s.warnings = warnings.clone();
        }
    }
}
