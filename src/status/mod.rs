//! The status view the daemon serves (`/status` as JSON, `/` as HTML through
//! [`crate::status::page`]) and the page's pass history, over the core's per-service statuses.

pub use ecs_ingress_core::status::*;

pub(crate) mod page;
pub(crate) mod transitions;

use std::sync::Arc;

use serde::Serialize;

/// The whole status view.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    /// RFC 3339 time the last pass finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_pass: Option<String>,
    /// `success`, `partial` (some reads or changes failed) or `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_pass_result: Option<String>,
    /// Problems with the pass as a whole (a listener that cannot be read, ...).
    pub pass_problems: Vec<String>,
    /// Each service's status. Shared: a service whose status did not change since the last
    /// pass keeps that pass's, so a pass at steady state copies none.
    pub services: Vec<Arc<ServiceStatus>>,
    /// `{mode: single|leader|standby, id, leader}`; filled in by the admin server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leadership: Option<LeadershipStatus>,
    /// `dry_run`, `albs` (quota use) and `target_groups` (ALB and health), for the page.
    /// Shared with the pass's report: a group's facts for every service are not copied.
    #[serde(flatten)]
    pub facts: Arc<PassFacts>,
    /// The changes of the last passes, newest first (kept in memory, at most
    /// [`RECENT_CHANGES`]): what changed, for which service, when, in which pass, and
    /// what failed. Filled in by the admin server.
    pub recent_changes: Vec<ChangeRecord>,
    /// Services' state changes of the last passes, newest first (at most
    /// [`RECENT_CHANGES`]). Filled in by the admin server.
    pub recent_transitions: Vec<TransitionRecord>,
}

/// A service that changed state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransitionRecord {
    /// The pass's number since start-up.
    pub pass: u64,
    /// RFC 3339 time the pass finished.
    pub at: String,
    /// `cluster/name`.
    pub service: String,
    /// `None` the first time this process saw the service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<ServiceState>,
    pub to: ServiceState,
    pub reason: String,
}

/// Changes `/status` and the page remember.
pub const RECENT_CHANGES: usize = 100;

/// One change a pass made or tried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeRecord {
    /// The pass's number since start-up (the page's pass history shows it too).
    pub pass: u64,
    /// RFC 3339 time the pass finished.
    pub at: String,
    /// `cluster/name`.
    pub service: String,
    /// The change as one line (action, resource, details).
    pub change: String,
    /// `applied`, `failed` or `skipped`.
    pub result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One finished pass, for the page's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PassSummary {
    /// Its number since start-up.
    pub number: u64,
    /// RFC 3339 time it finished.
    pub finished: String,
    pub duration_seconds: f64,
    pub changes: usize,
    pub failed: usize,
    pub aws_calls: u64,
    pub throttles: u64,
    /// `success` or `partial`.
    pub result: &'static str,
}

/// `/status`'s `leadership` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeadershipStatus {
    /// `single` (no leader election), `leader` or `standby`.
    pub mode: &'static str,
    /// This replica's id (absent for `single`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The id of the replica that leads, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
    /// Why this replica cannot campaign (lease table missing, no permission, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}
