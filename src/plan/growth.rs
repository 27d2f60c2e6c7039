//! Pools that grow and shrink: an ALB is created when no member of a pool has room (up to
//! `--pool-max-albs`, within the account's ALB quota), and one ecs-ingress created is deleted
//! after holding nothing for `--pool-scale-in-after`.

use std::collections::{BTreeMap, BTreeSet};

use super::PlanConfig;
use super::change::{Change, PlannedChange};
use crate::ownership::naming::load_balancer_name;
use crate::ownership::{OWNER_TAG, POOL_TAG};
use crate::snapshot::{ProvisionedAlb, Snapshot};
use crate::state::Tags;

/// Whether a pool with no room left can get another ALB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Growth {
    Grow,
    /// The account's ALB count must be read first (the runtime does, then plans again).
    AccountUnknown,
    /// Why not, for the services that wait.
    Cannot(String),
}

fn provisioned<'s>(
    observed: &'s Snapshot,
    pool: &'s str,
) -> impl Iterator<Item = &'s ProvisionedAlb> {
    observed.provisioned.iter().filter(move |p| p.pool == pool)
}

/// Whether `pool` can grow now.
pub fn growth(config: &PlanConfig, observed: &Snapshot, pool: &str) -> Growth {
    let Some(&max) = config.pools.max_albs.get(pool) else {
        return Growth::Cannot(format!("pool `{pool}` does not grow (see --pool-max-albs)"));
    };
    // An ALB created without its listener yet is finished first.
    if provisioned(observed, pool).any(|p| p.listener_arn.is_none()) {
        return Growth::Grow;
    }
    let given = config.pools.members.get(pool).map_or(0, Vec::len);
    if given + provisioned(observed, pool).count() >= max {
        return Growth::Cannot(format!(
            "pool `{pool}` has its {max} load balancers (--pool-max-albs {pool}={max})"
        ));
    }
    match observed.alb_account {
        None => Growth::AccountUnknown,
        Some(a) if a.used >= a.quota => Growth::Cannot(format!(
            "the account's quota of {} application load balancers is used up: ask AWS to raise `application-load-balancers`",
            a.quota
        )),
        Some(_) => Growth::Grow,
    }
}

/// The change that gives `pool` one more ALB: the one created without a listener, or the
/// next free name.
pub fn grow(config: &PlanConfig, observed: &Snapshot, pool: &str) -> Option<PlannedChange> {
    let template = config.pools.members.get(pool)?.first()?.clone();
    let owner = config.ownership.owner_id();
    let name = match provisioned(observed, pool).find(|p| p.listener_arn.is_none()) {
        Some(unfinished) => unfinished.name.clone(),
        None => {
            let taken: BTreeSet<&str> = provisioned(observed, pool)
                .map(|p| p.name.as_str())
                .collect();
            (1..)
                .map(|n| load_balancer_name(owner, pool, n))
                .find(|n| !taken.contains(n.as_str()))?
        }
    };
    let tags: Tags = BTreeMap::from([
        (OWNER_TAG.to_string(), owner.to_string()),
        (POOL_TAG.to_string(), pool.to_string()),
    ]);
    Some(PlannedChange {
        service_arn: None,
        service: pool.to_string(),
        change: Change::CreateLoadBalancer {
            pool: pool.to_string(),
            name,
            template_listener_arn: template,
            tags,
        },
        reason: "no load balancer of the pool has room".into(),
    })
}

/// Deletions of ALBs ecs-ingress created that hold no rule and no target group, nothing is
/// placed on (`in_use`), and have been empty for `--pool-scale-in-after`.
pub fn scale_in(
    config: &PlanConfig,
    observed: &Snapshot,
    in_use: &BTreeSet<&str>,
) -> Vec<PlannedChange> {
    let after = i64::try_from(config.pools.scale_in_after.as_secs()).unwrap_or(i64::MAX);
    observed
        .provisioned
        .iter()
        .filter(|p| is_empty(observed, &p.arn) && !in_use.contains(p.arn.as_str()))
        .filter(|p| {
            observed
                .empty_since
                .get(&p.arn)
                .is_some_and(|since| observed.read_at.saturating_sub(*since) >= after)
        })
        .map(|p| PlannedChange {
            service_arn: None,
            service: p.pool.clone(),
            change: Change::DeleteLoadBalancer {
                arn: p.arn.clone(),
                name: p.name.clone(),
                owner: config.ownership.owner_id().to_string(),
            },
            reason: format!(
                "held no rules for {}",
                humantime::format_duration(config.pools.scale_in_after)
            ),
        })
        .collect()
}

/// No rule on any listener and no target group forwarding from it.
pub fn is_empty(observed: &Snapshot, lb: &str) -> bool {
    observed
        .rules_per_load_balancer
        .get(lb)
        .copied()
        .unwrap_or(0)
        == 0
        && !observed
            .target_groups
            .iter()
            .any(|g| g.load_balancer_arns.iter().any(|a| a == lb))
}
