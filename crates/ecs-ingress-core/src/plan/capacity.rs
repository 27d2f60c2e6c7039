//! How much one ALB may hold: AWS's quotas, lowered by the operator's headroom flags.

use super::settings::PoolSettings;
use super::{MAX_RULES_PER_ALB, MAX_TARGET_GROUPS_PER_ALB};
use crate::snapshot::Snapshot;

/// Rules one ALB may hold: the account's quota, lowered by `--max-rules-per-alb`.
pub fn rules_max(pools: &PoolSettings, observed: &Snapshot) -> usize {
    let quota = observed.rules_quota.unwrap_or(MAX_RULES_PER_ALB);
    pools.max_rules_per_alb.map_or(quota, |m| m.min(quota))
}

/// Target groups one ALB may forward to: AWS's limit, lowered by the flag.
pub fn groups_max(pools: &PoolSettings) -> usize {
    pools
        .max_target_groups_per_alb
        .map_or(MAX_TARGET_GROUPS_PER_ALB, |m| {
            m.min(MAX_TARGET_GROUPS_PER_ALB)
        })
}
