//! The planner's settings: which listeners form pools and how they fill and drain, what it
//! may change (`--policy`), and the band of automatic rule priorities. The command line
//! converts its flags into these.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// What the controller may do to resources it owns (the names follow external-dns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// Create, update and delete.
    Sync,
    /// Create and update, never delete.
    UpsertOnly,
    /// Only create what is missing.
    CreateOnly,
}

/// Listener names given several times, and how their ALBs fill and drain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolSettings {
    /// Listener name → its listeners in the order given. The first is the pool's home: the
    /// target groups placed there keep the names a single listener gives them.
    pub members: BTreeMap<String, Vec<String>>,
    pub max_rules_per_alb: Option<usize>,
    pub max_target_groups_per_alb: Option<usize>,
    /// Listeners that take no new placements and whose services move away.
    pub draining: BTreeSet<String>,
    /// `None`: twice each record's TTL (60 s for an alias record).
    pub dns_drain: Option<Duration>,
    /// Pools that may grow, with their most ALBs (given ones included).
    pub max_albs: BTreeMap<String, usize>,
    /// An ALB ecs-ingress created goes after holding no rules this long.
    pub scale_in_after: Duration,
}

impl PoolSettings {
    /// The pool of one listener, as a single `--listener NAME=ARN` gives.
    pub fn single(listeners: &BTreeMap<String, String>) -> Self {
        Self {
            members: listeners
                .iter()
                .map(|(name, arn)| (name.clone(), vec![arn.clone()]))
                .collect(),
            scale_in_after: Duration::from_secs(3600),
            ..Self::default()
        }
    }

    /// Every configured listener, each once.
    pub fn listener_arns(&self) -> BTreeSet<&str> {
        self.members
            .values()
            .flatten()
            .map(String::as_str)
            .collect()
    }

    /// The pool a listener belongs to.
    pub fn pool_of(&self, listener_arn: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|(_, members)| members.iter().any(|m| m == listener_arn))
            .map(|(name, _)| name.as_str())
    }
}

/// The band automatic listener-rule priorities are drawn from (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PriorityRange {
    pub low: u32,
    pub high: u32,
}
