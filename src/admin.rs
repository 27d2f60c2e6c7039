//! The admin HTTP server: `/healthz`, `/readyz`, `/metrics`, `/status`.
//!
//! It serves read-only views of [`AdminState`], which the runtime loop updates. There are
//! no write endpoints: the controller is steered by tags, not by HTTP.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::time::Instant;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

use crate::status::StatusReport;
use crate::telemetry::Metrics;

/// What the loop publishes for the admin server to show.
pub struct AdminState {
    pub metrics: Arc<Metrics>,
    started: Instant,
    /// A pass counts as "stuck" after this long without completing.
    stuck_after: Duration,
    inner: RwLock<Progress>,
    /// Set with leader election: readiness, liveness and `/status` of a standby.
    leadership: std::sync::OnceLock<crate::lease::leadership::Leadership>,
    /// What the page's header shows of the configuration.
    header: crate::status::page::Header,
}

#[derive(Default)]
struct Progress {
    last_completed_pass: Option<Instant>,
    ready: bool,
    /// The last pass's status view, shared with the controller (copied per request).
    report: Arc<StatusReport>,
    /// The last [`RECENT_PASSES`] passes, oldest first.
    passes: std::collections::VecDeque<crate::status::PassSummary>,
    /// The last [`crate::status::RECENT_CHANGES`] changes, oldest first.
    changes: std::collections::VecDeque<crate::status::ChangeRecord>,
    /// The last [`crate::status::RECENT_CHANGES`] state changes, oldest first.
    transitions: std::collections::VecDeque<crate::status::TransitionRecord>,
    /// Passes finished since start-up.
    finished: u64,
}

/// When the newest pass finished.
fn summary_time(passes: &std::collections::VecDeque<crate::status::PassSummary>) -> String {
    passes
        .back()
        .map(|p| p.finished.clone())
        .unwrap_or_default()
}

/// Passes the page lists.
pub const RECENT_PASSES: usize = 10;

impl AdminState {
    /// `interval` is the pass interval; the loop is unhealthy after three of them with no
    /// completed pass.
    pub fn new(metrics: Arc<Metrics>, interval: Duration) -> Self {
        metrics.set_pass_interval(interval.as_secs_f64());
        Self {
            metrics,
            started: Instant::now(),
            stuck_after: interval.saturating_mul(3),
            inner: RwLock::new(Progress::default()),
            leadership: std::sync::OnceLock::new(),
            header: crate::status::page::Header::default(),
        }
    }

    /// Leader election is on: a standby is ready while it could take over, and alive while
    /// its campaign runs (it makes no pass).
    pub fn set_leadership(&self, leadership: crate::lease::leadership::Leadership) {
        let _ = self.leadership.set(leadership);
    }

    /// Sets what the page's header shows.
    pub fn with_header(mut self, header: crate::status::page::Header) -> Self {
        self.header = header;
        self
    }

    /// Adds a pass and its changes to the page's history, numbering them, and drops the
    /// oldest beyond [`RECENT_PASSES`] and [`crate::status::RECENT_CHANGES`].
    pub fn pass_summary(
        &self,
        mut summary: crate::status::PassSummary,
        changes: Vec<crate::status::ChangeRecord>,
        transitions: Vec<crate::status::TransitionRecord>,
    ) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.finished += 1;
        summary.number = inner.finished;
        let number = inner.finished;
        inner.passes.push_back(summary);
        while inner.passes.len() > RECENT_PASSES {
            inner.passes.pop_front();
        }
        inner.changes.extend(
            changes
                .into_iter()
                .map(|c| crate::status::ChangeRecord { pass: number, ..c }),
        );
        while inner.changes.len() > crate::status::RECENT_CHANGES {
            inner.changes.pop_front();
        }
        let at = summary_time(&inner.passes);
        inner.transitions.extend(transitions.into_iter().map(|t| {
            crate::status::TransitionRecord {
                pass: number,
                at: at.clone(),
                ..t
            }
        }));
        while inner.transitions.len() > crate::status::RECENT_CHANGES {
            inner.transitions.pop_front();
        }
    }

    pub fn recent_passes(&self) -> Vec<crate::status::PassSummary> {
        self.inner
            .read()
            .map(|p| p.passes.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Called at the end of every pass that ran to completion (whatever its changes did).
    /// Ready from the first pass whose reads all succeeded: until then the controller does
    /// not know the account (no credentials, wrong ids, no route to AWS) and says so.
    pub fn pass_completed(&self, report: Arc<StatusReport>, reads_complete: bool) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.last_completed_pass = Some(Instant::now());
        inner.ready |= reads_complete;
        inner.report = report;
    }

    pub fn is_ready(&self) -> bool {
        if let Some(l) = self.leadership.get() {
            if !l.can_take_over() {
                return false;
            }
            if l.is_standby() {
                return true;
            }
        }
        self.inner.read().map(|p| p.ready).unwrap_or(false)
    }

    /// Live while the loop makes progress: a pass completed, or an AWS call did, within the
    /// last three intervals (counting from start-up before either). A first install of
    /// hundreds of services takes far longer than that (AWS paces creates at 3/s) and is
    /// alive all along; a loop hung on one call is not.
    pub fn is_live(&self) -> bool {
        let pass = self.inner.read().ok().and_then(|p| p.last_completed_pass);
        let campaign = self
            .leadership
            .get()
            .filter(|l| l.is_standby())
            .and_then(|l| l.last_step());
        let last = [
            Some(self.started),
            pass,
            self.metrics.last_progress(),
            campaign,
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(self.started);
        last.elapsed() <= self.stuck_after
    }

    pub fn report(&self) -> StatusReport {
        let (shared, changes, transitions) = self
            .inner
            .read()
            .map(|p| {
                (
                    Arc::clone(&p.report),
                    p.changes.iter().rev().cloned().collect(),
                    p.transitions.iter().rev().cloned().collect(),
                )
            })
            .unwrap_or_default();
        // Copied after the lock is released: the end of a pass does not wait for a request.
        let mut report = StatusReport::clone(&shared);
        report.recent_changes = changes;
        report.recent_transitions = transitions;
        report.leadership = Some(
            self.leadership
                .get()
                .map(|l| l.status())
                .unwrap_or_else(|| crate::lease::leadership::Leadership::always().status()),
        );
        report
    }
}

/// The router, separate from binding so tests can drive it in-process.
pub fn router(state: Arc<AdminState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .route("/", get(index))
        .with_state(state)
}

/// Binds `addr` (fails early with the address in the error) and returns the listener.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot listen on --admin-addr {addr}: {e}"),
        )
    })
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AdminState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn healthz(State(state): State<Arc<AdminState>>) -> Response {
    if state.is_live() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "no reconcile pass completed for three intervals\n",
        )
            .into_response()
    }
}

async fn readyz(State(state): State<Arc<AdminState>>) -> Response {
    if state.is_ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else if let Some(problem) = state.leadership.get().and_then(|l| l.problem()) {
        (StatusCode::SERVICE_UNAVAILABLE, format!("{problem}\n")).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "waiting for a pass that reads everything from AWS (see /status and the logs)\n",
        )
            .into_response()
    }
}

/// OpenMetrics to scrapers that ask for it, the Prometheus text format to the others.
async fn metrics(State(state): State<Arc<AdminState>>, headers: HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = crate::telemetry::negotiate(accept);
    (
        [(header::CONTENT_TYPE, format.content_type())],
        state.metrics.encode_as(format),
    )
        .into_response()
}

async fn status(State(state): State<Arc<AdminState>>) -> Response {
    let mut report = state.report();
    // Dry run is known before the first pass ends.
    if state.header.dry_run && !report.facts.dry_run {
        Arc::make_mut(&mut report.facts).dry_run = true;
    }
    axum::Json(report).into_response()
}

async fn index(
    State(state): State<Arc<AdminState>>,
    axum::extract::Query(filter): axum::extract::Query<crate::status::page::Filter>,
) -> Response {
    let report = state.report();
    // The header names who leads when replicas elect one.
    let mut header = state.header.clone();
    if let Some(l) = report.leadership.as_ref().filter(|l| l.mode != "single") {
        header.leader = Some(format!(
            "{} (this replica: {}, {})",
            l.leader.as_deref().unwrap_or("none yet"),
            l.id.as_deref().unwrap_or("?"),
            l.mode
        ));
    }
    let page = crate::status::page::render(&report, &header, &state.recent_passes(), &filter);
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{ChangeRecord, PassSummary, RECENT_CHANGES};

    fn summary() -> PassSummary {
        PassSummary {
            number: 0,
            finished: "2026-12-03T12:00:00Z".into(),
            duration_seconds: 1.0,
            changes: 1,
            failed: 0,
            aws_calls: 3,
            throttles: 0,
            result: "success",
        }
    }

    fn change(service: &str) -> ChangeRecord {
        ChangeRecord {
            pass: 0,
            at: "2026-12-03T12:00:00Z".into(),
            service: service.into(),
            change: "create target-group".into(),
            result: "applied",
            error: None,
        }
    }

    #[test]
    fn passes_and_changes_are_numbered_bounded_and_served_newest_first() {
        let admin = AdminState::new(
            Arc::new(Metrics::new(crate::aws::OPERATIONS)),
            Duration::from_secs(30),
        );
        for n in 0..(RECENT_CHANGES + 5) {
            let went = crate::status::TransitionRecord {
                pass: 0,
                at: String::new(),
                service: format!("main/s{n}"),
                from: None,
                to: crate::status::ServiceState::Pending,
                reason: "new".into(),
            };
            admin.pass_summary(summary(), vec![change(&format!("main/s{n}"))], vec![went]);
        }
        let passes = admin.recent_passes();
        assert_eq!(passes.len(), RECENT_PASSES);
        assert_eq!(
            passes.last().map(|p| p.number),
            Some((RECENT_CHANGES + 5) as u64)
        );
        let changes = admin.report().recent_changes;
        assert_eq!(changes.len(), RECENT_CHANGES);
        let newest = &changes[0];
        assert_eq!(newest.service, format!("main/s{}", RECENT_CHANGES + 4));
        assert_eq!(
            newest.pass,
            (RECENT_CHANGES + 5) as u64,
            "the pass that made it"
        );
        assert_eq!(
            changes[RECENT_CHANGES - 1].service,
            "main/s5",
            "the oldest dropped"
        );
        let transitions = admin.report().recent_transitions;
        assert_eq!(transitions.len(), RECENT_CHANGES);
        assert_eq!(transitions[0].pass, (RECENT_CHANGES + 5) as u64);
        assert_eq!(transitions[0].at, "2026-12-03T12:00:00Z", "the pass's time");
    }
}
