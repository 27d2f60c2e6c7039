//! How a one-shot `plan` or `apply` ends: `--fail-on`, `apply --output json`, and an
//! `apply` interrupted by a signal.

use std::borrow::Borrow;
use std::sync::Arc;

use serde::Serialize;

use crate::apply::ChangeResult;
use crate::runtime::{Controller, PassReport};
use crate::status::{ServiceState, ServiceStatus};

/// `plan`/`apply`: a service ended in a state named by `--fail-on`.
pub const EXIT_SERVICES_FAILING: u8 = 3;
/// `plan`/`apply`: an error (same as [`crate::cli::output::EXIT_ERROR`]).
const EXIT_ERROR: u8 = 1;

pub use crate::status::parse_state;

/// Services whose state is one of `fail_on`.
pub fn failing<'a, S: Borrow<ServiceStatus>>(
    services: &'a [S],
    fail_on: &[ServiceState],
) -> Vec<&'a ServiceStatus> {
    services
        .iter()
        .map(Borrow::borrow)
        .filter(|s| fail_on.contains(&s.state))
        .collect()
}

/// The exit code once `--fail-on` is taken into account: an error stays an error; a
/// matched service turns any other code into [`EXIT_SERVICES_FAILING`].
pub fn exit_code<S: Borrow<ServiceStatus>>(
    code: u8,
    services: &[S],
    fail_on: &[ServiceState],
) -> u8 {
    if code == EXIT_ERROR || failing(services, fail_on).is_empty() {
        code
    } else {
        EXIT_SERVICES_FAILING
    }
}

/// One line per service `--fail-on` matched, for stderr.
pub fn failing_lines<S: Borrow<ServiceStatus>>(services: &[S], fail_on: &[ServiceState]) -> String {
    failing(services, fail_on)
        .into_iter()
        .map(|s| {
            format!(
                "fail-on: {}/{} is {}: {}\n",
                s.cluster,
                s.service,
                s.state.as_str(),
                crate::status::transitions::reason_of(s)
            )
        })
        .collect()
}

#[derive(Serialize)]
struct ApplyJson<'a> {
    results: &'a [ChangeResult],
    /// Changes planned but not started (a signal stopped the run, or a dry run).
    not_started: usize,
    services: &'a [Arc<ServiceStatus>],
    problems: Vec<String>,
}

/// `apply --output json`: what was done, and every service's state after it.
pub fn apply_json(report: &PassReport) -> String {
    let results: &[ChangeResult] = report
        .applied
        .as_ref()
        .map(|a| a.results.as_slice())
        .unwrap_or_default();
    let status = report.status_view();
    let mut problems = report.observed_failures.clone();
    problems.extend(report.plan.problems.iter().cloned());
    serde_json::to_string_pretty(&ApplyJson {
        results,
        not_started: report.plan.changes.len().saturating_sub(results.len()),
        services: &status.services,
        problems,
    })
    .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// Stops `controller` on SIGTERM or SIGINT: the change in flight finishes, no new one
/// starts, and `apply` still prints its summary. The listener ends when the guard drops.
pub fn stop_on_signal(controller: Arc<Controller>) -> AbortOnDrop {
    AbortOnDrop(tokio::spawn(async move {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::warn!("signal received: finishing the change in flight, starting no other");
        controller.shutdown();
    }))
}

/// Aborts its task when dropped.
pub struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(state: ServiceState) -> ServiceStatus {
        crate::testing::service_status("arn", "web", state)
    }

    #[test]
    fn states_parse_by_their_status_names() {
        assert_eq!(parse_state("dns-conflict"), Ok(ServiceState::DnsConflict));
        assert!(parse_state("broken").unwrap_err().contains("invalid"));
    }

    #[test]
    fn fail_on_turns_success_and_pending_into_3_but_keeps_errors() {
        let services = [service(ServiceState::Invalid)];
        let fail_on = [ServiceState::Invalid, ServiceState::Conflict];
        assert_eq!(exit_code(0, &services, &fail_on), EXIT_SERVICES_FAILING);
        assert_eq!(exit_code(2, &services, &fail_on), EXIT_SERVICES_FAILING);
        assert_eq!(exit_code(1, &services, &fail_on), 1);
        assert_eq!(exit_code(2, &services, &[ServiceState::Quota]), 2);
        assert!(failing_lines(&services, &fail_on).contains("main/web is invalid"));
    }
}
