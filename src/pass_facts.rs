//! What the status page shows beyond per-service states, taken from a pass's reads: each
//! ALB's rules and target groups against their quotas, and the ALB and target health of each
//! owned target group.

use std::collections::{BTreeMap, BTreeSet};

use crate::plan::{MAX_RULES_PER_ALB, MAX_TARGET_GROUPS_PER_ALB};
use crate::snapshot::Snapshot;
use crate::state::TargetHealthState;
use crate::status::{AlbUsage, GroupFacts, PassFacts, ServiceStatus};

fn alb_name(observed: &Snapshot, arn: &str) -> String {
    observed
        .load_balancers
        .get(arn)
        .map(|lb| lb.name.clone())
        .unwrap_or_else(|| crate::plan::change::short_arn(arn).to_string())
}

/// Quota use of every ALB behind a configured listener.
pub fn alb_usage(observed: &Snapshot) -> Vec<AlbUsage> {
    let albs: BTreeSet<&str> = observed
        .listeners
        .values()
        .map(|l| l.load_balancer_arn.as_str())
        .collect();
    albs.into_iter()
        .map(|arn| AlbUsage {
            arn: arn.to_string(),
            name: alb_name(observed, arn),
            rules_used: observed
                .rules_per_load_balancer
                .get(arn)
                .copied()
                .unwrap_or_default(),
            rules_max: observed.rules_quota.unwrap_or(MAX_RULES_PER_ALB),
            target_groups_used: observed
                .target_groups
                .iter()
                .filter(|g| g.load_balancer_arns.iter().any(|a| a == arn))
                .count(),
            target_groups_max: MAX_TARGET_GROUPS_PER_ALB,
        })
        .collect()
}

/// ALB and target health of the target groups `services` name.
pub fn group_facts(
    observed: &Snapshot,
    services: &[ServiceStatus],
) -> BTreeMap<String, GroupFacts> {
    let wanted: BTreeSet<&str> = services
        .iter()
        .flat_map(|s| &s.resources)
        .filter(|r| r.kind == "target-group")
        .map(|r| r.id.as_str())
        .collect();
    observed
        .target_groups
        .iter()
        .filter(|g| wanted.contains(g.arn.as_str()))
        .map(|g| {
            let health = observed.targets.get(&g.arn);
            let facts = GroupFacts {
                albs: g
                    .load_balancer_arns
                    .iter()
                    .map(|a| alb_name(observed, a))
                    .collect(),
                healthy: health.map(|t| {
                    t.iter()
                        .filter(|t| t.state == TargetHealthState::Healthy)
                        .count()
                }),
                targets: health.map(Vec::len),
            };
            (g.arn.clone(), facts)
        })
        .collect()
}

/// Everything the page needs from `observed` after planning `services`.
pub fn collect(observed: &Snapshot, services: &[ServiceStatus], dry_run: bool) -> PassFacts {
    PassFacts {
        dry_run,
        albs: alb_usage(observed),
        target_groups: group_facts(observed, services),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Listener, LoadBalancer};

    #[test]
    fn usage_counts_rules_and_groups_per_alb() {
        let mut observed = Snapshot::default();
        let lb = "arn:aws:elasticloadbalancing:r:1:loadbalancer/app/internal/1";
        observed.listeners.insert(
            "l".into(),
            Listener {
                arn: "l".into(),
                load_balancer_arn: lb.into(),
                port: Some(80),
                protocol: Some("HTTP".into()),
            },
        );
        observed.load_balancers.insert(
            lb.into(),
            LoadBalancer {
                arn: lb.into(),
                name: "internal".into(),
                vpc_id: String::new(),
                dns_name: String::new(),
                canonical_hosted_zone_id: String::new(),
                ip_address_type: "ipv4".into(),
            },
        );
        observed.rules_per_load_balancer.insert(lb.into(), 8);
        let usage = alb_usage(&observed);
        assert_eq!(usage.len(), 1);
        assert_eq!(usage[0].name, "internal");
        assert_eq!((usage[0].rules_used, usage[0].rules_max), (8, 100));
        assert_eq!(usage[0].target_groups_used, 0);
    }
}
