//! The status view of a pass: the planned statuses, with what was applied, what is pending
//! and when each service last changed. Made once per pass; a service whose view is the
//! same as in the last pass's view shares that one, so a pass at steady state copies no
//! status and the process holds one view of each unchanged service.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use rustc_hash::FxHashMap;

use super::PassReport;
use crate::status::{ServiceStatus, StatusReport};

impl PassReport {
    /// Each service's changes this pass planned and did not make: held back, or all of
    /// them when nothing was applied (`plan`, a dry run). One walk over the changes, so a
    /// cold start with thousands of services does not scan every change per service.
    fn pending_by_service(&self) -> BTreeMap<&str, Vec<String>> {
        let planned = self
            .plan
            .changes
            .iter()
            .filter(|_| self.applied.is_none())
            .map(|c| (c, c.to_string()));
        let held = self
            .plan
            .held_back
            .iter()
            .map(|c| (c, format!("held back: {c}")));
        let mut out: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (c, line) in planned.chain(held) {
            if let Some(arn) = c.service_arn.as_deref() {
                out.entry(arn).or_default().push(line);
            }
        }
        out
    }

    /// Makes the status view: the planned statuses, updated by what was applied. A service
    /// whose view would equal its view in `earlier` (the last pass's) shares that one.
    pub(super) fn make_status(&self, earlier: &StatusReport) -> StatusReport {
        let mut report = StatusReport {
            last_pass: Some(humantime::format_rfc3339_seconds(SystemTime::now()).to_string()),
            last_pass_result: Some(
                if self.succeeded() {
                    "success"
                } else {
                    "partial"
                }
                .into(),
            ),
            // The diagnosis (what failed and how to fix it), not the adapters' error
            // chains: those are in the debug log.
            pass_problems: self.read_problem.iter().cloned().collect(),
            services: Vec::with_capacity(self.plan.services.len()),
            leadership: None,
            facts: Arc::clone(&self.facts),
            recent_changes: Vec::new(),
            recent_transitions: Vec::new(),
        };
        report
            .pass_problems
            .extend(self.plan.problems.iter().cloned());
        let mut pending_lines = self.pending_by_service();
        let mut earlier_views = EarlierViews::new(&earlier.services);
        for (position, planned) in self.plan.services.iter().enumerate() {
            let arn = planned.service_arn.as_str();
            let last_change = planned
                .last_change
                .as_ref()
                .or_else(|| self.last_changes.get(arn));
            report.services.push(view_of(
                planned,
                pending_lines.remove(arn).unwrap_or_default(),
                last_change,
                earlier_views.find(position, arn),
            ));
        }
        // Copies, on write, only the views of services the changes concern.
        if let Some(applied) = &self.applied {
            applied.update_statuses(&mut report.services);
        }
        report
    }
}

/// The view of a service planned as `planned`: `earlier` again when it would equal it.
fn view_of(
    planned: &ServiceStatus,
    pending: Vec<String>,
    last_change: Option<&String>,
    earlier: Option<&Arc<ServiceStatus>>,
) -> Arc<ServiceStatus> {
    match earlier {
        Some(e) if pending.is_empty() && same_view(e, planned, last_change) => Arc::clone(e),
        _ => {
            let mut view = planned.clone();
            view.pending = pending;
            view.last_change = last_change.cloned();
            Arc::new(view)
        }
    }
}

/// The last pass's view of each service, looked up by ARN: first at the same position (the
/// planner lists services in one order every pass), then in an index made at the first miss.
struct EarlierViews<'a> {
    views: &'a [Arc<ServiceStatus>],
    by_arn: Option<FxHashMap<&'a str, &'a Arc<ServiceStatus>>>,
}

impl<'a> EarlierViews<'a> {
    fn new(views: &'a [Arc<ServiceStatus>]) -> Self {
        Self {
            views,
            by_arn: None,
        }
    }

    fn find(&mut self, position: usize, arn: &str) -> Option<&'a Arc<ServiceStatus>> {
        if let Some(view) = self.views.get(position)
            && view.service_arn == arn
        {
            return Some(view);
        }
        let views = self.views;
        self.by_arn
            .get_or_insert_with(|| views.iter().map(|v| (v.service_arn.as_str(), v)).collect())
            .get(arn)
            .copied()
    }
}

/// True when the view made of `planned` (with `last_change` and nothing pending) would
/// equal `earlier`. Every field is named, so a new field cannot be left out of the
/// comparison unnoticed.
fn same_view(
    earlier: &ServiceStatus,
    planned: &ServiceStatus,
    last_change: Option<&String>,
) -> bool {
    let ServiceStatus {
        cluster,
        service,
        service_arn,
        state,
        intent,
        hosts,
        resources,
        problems,
        warnings,
        waiting,
        last_change: _,
        load_balancer,
        keys,
        pending: _,
    } = planned;
    earlier.pending.is_empty()
        && earlier.last_change.as_ref() == last_change
        && earlier.state == *state
        && earlier.service_arn == *service_arn
        && earlier.cluster == *cluster
        && earlier.service == *service
        && earlier.intent == *intent
        && earlier.hosts == *hosts
        && earlier.resources == *resources
        && earlier.problems == *problems
        && earlier.warnings == *warnings
        && earlier.waiting == *waiting
        && earlier.load_balancer == *load_balancer
        && earlier.keys == *keys
}

#[cfg(test)]
mod tests;
