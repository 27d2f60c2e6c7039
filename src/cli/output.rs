//! What `plan` and `apply` print, and their exit codes.

use std::borrow::Borrow;
use std::fmt::Write as _;

use serde::Serialize;

use crate::apply::ChangeResult;
use crate::plan::PlannedChange;
use crate::runtime::PassReport;
use crate::status::ServiceStatus;

/// `plan`: nothing to change.
pub const EXIT_NOTHING_TO_DO: u8 = 0;
/// `plan`/`apply`: an error (a read failed for `plan`, a change failed for `apply`).
pub const EXIT_ERROR: u8 = 1;
/// `plan`: changes are pending.
pub const EXIT_CHANGES_PENDING: u8 = 2;

#[derive(Serialize)]
struct PlanJson<'a> {
    changes: &'a [PlannedChange],
    held_back: &'a [PlannedChange],
    services: &'a [ServiceStatus],
    problems: Vec<String>,
}

/// The plan as one JSON document.
pub fn plan_json(report: &PassReport) -> String {
    let mut problems = report.observed_failures.clone();
    problems.extend(report.plan.problems.iter().cloned());
    serde_json::to_string_pretty(&PlanJson {
        changes: &report.plan.changes,
        held_back: &report.plan.held_back,
        services: &report.plan.services,
        problems,
    })
    .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

fn services_table<S: Borrow<ServiceStatus>>(out: &mut String, services: &[S]) {
    if services.is_empty() {
        out.push_str("No services carry routing tags.\n");
        return;
    }
    let _ = writeln!(out, "{:<32} {:<10} ROUTING", "SERVICE", "STATE");
    for s in services.iter().map(Borrow::borrow) {
        let _ = writeln!(
            out,
            "{:<32} {:<10} {}",
            format!("{}/{}", s.cluster, s.service),
            s.state.as_str(),
            s.intent
        );
        for p in &s.problems {
            let _ = writeln!(out, "    ! {}", p.reason);
        }
        for w in &s.warnings {
            let _ = writeln!(out, "    warning: {w}");
        }
        for w in &s.waiting {
            let _ = writeln!(out, "    waiting: {w}");
        }
        if let Some(lb) = &s.load_balancer {
            let _ = writeln!(out, "    on: {}", crate::plan::change::short_arn(lb));
        }
        for r in &s.resources {
            let _ = writeln!(out, "    {}: {}", r.kind, r.id);
        }
    }
}

/// The ALBs of pools of several (or growing): where services are placed, and their room.
fn load_balancers(out: &mut String, report: &PassReport) {
    let pools: std::collections::BTreeMap<&str, usize> =
        report
            .facts
            .albs
            .iter()
            .fold(Default::default(), |mut m, a| {
                *m.entry(a.pool.as_str()).or_default() += 1;
                m
            });
    let shown: Vec<&crate::status::AlbUsage> = report
        .facts
        .albs
        .iter()
        .filter(|a| pools.get(a.pool.as_str()) > Some(&1) || a.provisioned || a.draining)
        .collect();
    if shown.is_empty() {
        return;
    }
    out.push_str("\nLoad balancers:\n");
    for a in shown {
        let _ = writeln!(
            out,
            "  {:<32} pool {:<12} rules {}/{}  target groups {}/{}{}{}",
            a.name,
            if a.pool.is_empty() {
                "-"
            } else {
                a.pool.as_str()
            },
            a.rules_used,
            a.rules_max,
            a.target_groups_used,
            a.target_groups_max,
            if a.provisioned { "  created" } else { "" },
            if a.draining { "  draining" } else { "" },
        );
    }
}

fn problems(out: &mut String, report: &PassReport) {
    for p in report.observed_failures.iter().chain(&report.plan.problems) {
        let _ = writeln!(out, "! {p}");
    }
}

/// The pass read no service and planned nothing: all it can say is why.
fn read_nothing(report: &PassReport) -> bool {
    report.plan.services.is_empty()
        && report.plan.changes.is_empty()
        && report.plan.held_back.is_empty()
}

/// `plan` as text: one line per change (action, resource, service, why), then services.
pub fn plan_text(report: &PassReport) -> String {
    let mut out = String::new();
    if let Some(problem) = &report.read_problem {
        let _ = writeln!(out, "Could not read AWS: {problem}");
        if read_nothing(report) {
            // Saying "no services" or "nothing to change" would claim what was not read.
            return out;
        }
        out.push_str("The plan below is incomplete.\n");
    }
    if report.plan.changes.is_empty() {
        if report.read_problem.is_none() {
            out.push_str("Nothing to change.\n");
        }
    } else {
        let _ = writeln!(out, "{} changes:", report.plan.changes.len());
        for c in &report.plan.changes {
            let _ = writeln!(out, "  {c}");
        }
    }
    for c in &report.plan.held_back {
        let _ = writeln!(out, "  held back: {c}");
    }
    out.push('\n');
    services_table(&mut out, &report.plan.services);
    load_balancers(&mut out, report);
    problems(&mut out, report);
    out
}

/// `apply` as text: what was done, then the per-service summary.
pub fn apply_text(report: &PassReport) -> String {
    let mut out = String::new();
    let results: &[ChangeResult] = report
        .applied
        .as_ref()
        .map(|a| a.results.as_slice())
        .unwrap_or_default();
    if let Some(problem) = &report.read_problem {
        let _ = writeln!(out, "Could not read AWS: {problem}");
        if read_nothing(report) && results.is_empty() {
            return out;
        }
    } else if results.is_empty() {
        out.push_str(if report.plan.changes.is_empty() {
            "Nothing to change.\n"
        } else {
            "Dry run: nothing applied.\n"
        });
    }
    for r in results {
        let _ = write!(out, "{:<8} {}  [{}]", r.result, r.change, r.service);
        if let Some(e) = &r.error {
            let _ = write!(out, ": {e}");
        }
        out.push('\n');
    }
    out.push('\n');
    services_table(&mut out, &report.status_view().services);
    problems(&mut out, report);
    out
}

/// Exit code of `plan`.
pub fn plan_exit_code(report: &PassReport) -> u8 {
    if !report.observed_failures.is_empty() {
        EXIT_ERROR
    } else if report.plan.changes.is_empty() {
        EXIT_NOTHING_TO_DO
    } else {
        EXIT_CHANGES_PENDING
    }
}

/// Exit code of `apply`.
pub fn apply_exit_code(report: &PassReport) -> u8 {
    if report.succeeded() { 0 } else { EXIT_ERROR }
}
