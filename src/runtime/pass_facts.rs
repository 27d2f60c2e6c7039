//! What the status page shows beyond per-service states, taken from a pass's reads: each
//! ALB's rules and target groups against their quotas, and the ALB and target health of each
//! owned target group.

use std::collections::BTreeMap;

use ecs_ingress_core::shared_str::SharedStr;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::config::Config;
use crate::snapshot::Snapshot;
use crate::state::TargetHealthState;
use crate::status::{AlbUsage, GroupFacts, PassFacts, ServiceStatus, ZoneFacts};

fn alb_name(observed: &Snapshot, arn: &str) -> String {
    observed
        .load_balancers
        .get(arn)
        .map(|lb| lb.name.clone())
        .unwrap_or_else(|| crate::plan::change::short_arn(arn).to_string())
}

/// Quota use of every ALB behind a pool's listener, against the limits placement uses.
pub(crate) fn alb_usage(observed: &Snapshot, config: &Config) -> Vec<AlbUsage> {
    let rules_max = crate::plan::capacity::rules_max(&config.pools, observed);
    let groups_max = crate::plan::capacity::groups_max(&config.pools);
    let mut albs: BTreeMap<&str, (String, bool)> = BTreeMap::new();
    for l in observed.listeners.values() {
        let pool = config
            .pools
            .pool_of(&l.arn)
            .map(str::to_string)
            .or_else(|| {
                observed
                    .provisioned
                    .iter()
                    .find(|p| p.arn == l.load_balancer_arn)
                    .map(|p| p.pool.clone())
            });
        let entry = albs
            .entry(l.load_balancer_arn.as_str())
            .or_insert((pool.clone().unwrap_or_default(), false));
        // An ALB whose every read listener left the flags drains (a configured ALB with
        // one listener removed does not).
        let all_departed = observed
            .listeners
            .values()
            .filter(|o| o.load_balancer_arn == l.load_balancer_arn)
            .all(|o| observed.departed_listeners.contains(&o.arn));
        entry.1 |= config.pools.draining.contains(&l.arn) || all_departed;
    }
    // Counted in one walk of the groups (a walk per ALB was quadratic in the estate).
    let groups_on = observed.target_groups_per_load_balancer();
    albs.into_iter()
        .map(|(arn, (pool, draining))| AlbUsage {
            arn: arn.to_string(),
            name: alb_name(observed, arn),
            pool,
            rules_used: observed
                .rules_per_load_balancer
                .get(arn)
                .copied()
                .unwrap_or_default(),
            rules_max,
            target_groups_used: groups_on.get(arn).copied().unwrap_or_default(),
            target_groups_max: groups_max,
            certificates_used: observed
                .certificates_per_load_balancer
                .get(arn)
                .copied()
                .unwrap_or_default(),
            certificates_max: crate::plan::certificates::certificates_max(
                config.max_certificates_per_alb,
                observed,
            ),
            provisioned: observed.provisioned.iter().any(|p| p.arn == arn),
            draining,
        })
        .collect()
}

/// ALB and target health of the target groups `services` name.
pub(crate) fn group_facts(
    observed: &Snapshot,
    services: &[ServiceStatus],
) -> BTreeMap<SharedStr, GroupFacts> {
    let wanted: FxHashSet<&str> = services
        .iter()
        .flat_map(|s| &s.resources)
        .filter(|r| r.kind == "target-group")
        .map(|r| r.id.as_str())
        .collect();
    let mut names: FxHashMap<&str, SharedStr> = FxHashMap::default();
    observed
        .target_groups
        .iter()
        .filter(|g| wanted.contains(g.arn.as_str()))
        .map(|g| {
            let health = observed.targets.get(g.arn.as_str());
            let facts = GroupFacts {
                albs: g
                    .load_balancer_arns
                    .iter()
                    .map(|a| {
                        names
                            .entry(a.as_str())
                            .or_insert_with(|| alb_name(observed, a).into())
                            .clone()
                    })
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
pub(crate) fn collect(
    observed: &Snapshot,
    services: &[ServiceStatus],
    config: &Config,
) -> PassFacts {
    PassFacts {
        dry_run: config.dry_run,
        albs: alb_usage(observed, config),
        target_groups: group_facts(observed, services),
        zones: zone_facts(observed, config),
    }
}

/// Each managed zone: its name, the account and role it is written through, and why it
/// could not be read.
fn zone_facts(observed: &Snapshot, config: &Config) -> Vec<ZoneFacts> {
    config
        .hosted_zones
        .iter()
        .map(|id| {
            let unread = observed.unread_zones.get(id);
            let role = config.zone_roles.get(id).cloned();
            ZoneFacts {
                id: id.clone(),
                name: observed
                    .zones
                    .get(id)
                    .map(|z| z.name.clone())
                    .or_else(|| unread.and_then(|z| z.name.clone())),
                account: role
                    .as_deref()
                    .and_then(crate::ownership::arn_account)
                    .unwrap_or("default")
                    .to_string(),
                role,
                problem: unread.map(|z| z.reason.clone()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Listener;

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
        observed
            .load_balancers
            .insert(lb.into(), crate::testing::load_balancer(lb));
        observed.rules_per_load_balancer.insert(lb.into(), 8);
        let mut config = crate::testing::Estate::new(1).config();
        config.pools.members = BTreeMap::from([("internal".to_string(), vec!["l".to_string()])]);
        config.pools.draining.insert("l".into());
        config.pools.max_rules_per_alb = Some(50);
        let usage = alb_usage(&observed, &config);
        assert_eq!(usage.len(), 1);
        assert_eq!(usage[0].name, "internal");
        assert_eq!(usage[0].pool, "internal");
        assert_eq!((usage[0].rules_used, usage[0].rules_max), (8, 50));
        assert_eq!(usage[0].target_groups_used, 0);
        assert!(usage[0].draining && !usage[0].provisioned);
        let group = |arn: &str, albs: &[&str]| crate::state::TargetGroup {
            load_balancer_arns: albs.iter().map(|&a| a.into()).collect(),
            ..crate::testing::target_group(arn, Default::default())
        };
        observed.target_groups = vec![
            group("g1", &[lb]),
            group("g2", &[lb, lb]),
            group("g3", &["arn:another-alb"]),
            group("g4", &[]),
        ];
        let usage = alb_usage(&observed, &config);
        assert_eq!(
            usage[0].target_groups_used, 2,
            "each group once, others' not"
        );
    }
}
