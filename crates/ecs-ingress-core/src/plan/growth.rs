//! Pools that grow and shrink: an ALB is created when no member of a pool has room (up to
//! `--pool-max-albs`, within the account's ALB quota), and one ecs-ingress created is deleted
//! after holding nothing for `--pool-scale-in-after`.

use std::collections::BTreeSet;

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

/// The changes that give `pool` the ALBs `waiting` (rules, target groups, certificates)
/// needs, each taking `per_alb` at most, within `--pool-max-albs` and the account's quota: ALBs created
/// without their listener first, then the next free names. All in one pass, so a cold start
/// of thousands of services does not grow one ALB per pass.
pub fn grow(
    config: &PlanConfig,
    observed: &Snapshot,
    pool: &str,
    waiting: [usize; 3],
    per_alb: [usize; 3],
) -> Vec<PlannedChange> {
    let Some(template) = config.pools.members.get(pool).and_then(|m| m.first()) else {
        return Vec::new();
    };
    let owner = config.ownership.owner_id();
    let unfinished: Vec<String> = provisioned(observed, pool)
        .filter(|p| p.listener_arn.is_none())
        .map(|p| p.name.clone())
        .collect();
    let needed = waiting
        .iter()
        .zip(per_alb)
        .map(|(w, per)| w.div_ceil(per.max(1)))
        .max()
        .unwrap_or(0)
        .max(1)
        .saturating_sub(unfinished.len());
    let given = config.pools.members.get(pool).map_or(0, Vec::len);
    let room = config.pools.max_albs.get(pool).map_or(0, |max| {
        max.saturating_sub(given + provisioned(observed, pool).count())
    });
    let account_room = observed
        .alb_account
        .map_or(0, |a| a.quota.saturating_sub(a.used));
    let taken: BTreeSet<String> = provisioned(observed, pool)
        .map(|p| p.name.clone())
        .collect();
    let fresh = (1..)
        .map(|n| load_balancer_name(owner, pool, n))
        .filter(|n| !taken.contains(n))
        .take(needed.min(room).min(account_room));
    let tags = Tags::from([
        (OWNER_TAG.to_string(), owner.to_string()),
        (POOL_TAG.to_string(), pool.to_string()),
    ]);
    unfinished
        .into_iter()
        .chain(fresh)
        .map(|name| PlannedChange {
            service_arn: None,
            service: pool.to_string(),
            change: Change::CreateLoadBalancer {
                pool: pool.to_string(),
                name,
                template_listener_arn: template.clone(),
                tags: tags.clone(),
            },
            reason: "no load balancer of the pool has room".into(),
        })
        .collect()
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
