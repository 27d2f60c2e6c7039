//! The reconcile pass and the daemon loop around it.

pub(crate) mod diagnose;
mod intents;
pub(crate) mod pass_facts;
pub(crate) mod schedule;
mod status_view;
mod targeted;

pub use intents::intents;
pub use targeted::{Kept, Scope, ScopeDecision, keep_targeted, resolve};

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rustc_hash::FxHashMap;
use tokio::sync::watch;

use crate::admin::AdminState;
use crate::apply::{self, ApplyReport};
use crate::aws::Aws;
use crate::config::Config;
use crate::events::Events;
use crate::model::ServiceIntent;
use crate::observe::targeted::Baseline;
use crate::observe::{self, Cache, Observation};
use crate::plan::{self, Plan, PlanConfig};
use crate::snapshot::Snapshot;
use crate::state::EcsService;
use crate::status::transitions::Transitions;
use crate::status::{ServiceState, StatusReport};
use crate::telemetry::{Metrics, PassKind, PassResult, StateLabel};
use schedule::{Action, PassOutcome, Schedule, Timing};

/// Everything one pass produced.
pub struct PassReport {
    pub kind: PassKind,
    pub plan: Plan,
    /// `None` for `plan` (nothing applied) and dry runs.
    pub applied: Option<ApplyReport>,
    pub observed_failures: Vec<String>,
    /// What the failed reads mean and how to fix it, in one line.
    pub read_problem: Option<String>,
    /// Reads that failed with a fallback that kept the pass whole.
    pub degraded: Vec<String>,
    /// When this process last changed something for each service (survives passes).
    /// Shared with the controller's memory: a pass that changes nothing copies nothing.
    pub last_changes: Arc<BTreeMap<String, String>>,
    /// Quota use and target-group facts for the status page, shared with the status view.
    pub facts: Arc<crate::status::PassFacts>,
    /// Services whose state changed in this pass (`apply` and the daemon; `plan` compares
    /// nothing).
    pub transitions: Vec<crate::status::TransitionRecord>,
    /// The status view of this pass, made once when the pass concluded (from the fields
    /// above as they were then) and shared with the controller's memory and the admin
    /// server.
    status: Arc<StatusReport>,
}

impl PassReport {
    /// True when every read and every change succeeded.
    pub fn succeeded(&self) -> bool {
        self.observed_failures.is_empty() && self.applied.as_ref().is_none_or(|a| a.failed() == 0)
    }

    /// This pass's status view (a copy of it).
    pub fn status(&self) -> StatusReport {
        StatusReport::clone(&self.status)
    }

    /// This pass's status view, borrowed.
    pub fn status_view(&self) -> &StatusReport {
        &self.status
    }

    /// This pass's status view, shared.
    pub fn shared_status(&self) -> Arc<StatusReport> {
        Arc::clone(&self.status)
    }
}

/// What the controller remembers between passes about its own work (the read cache is
/// `observe`'s): each service's intent at the end of the last pass, to tell drift (the
/// intent is the same, yet a resource needs changing) from an intent change, and when it
/// last changed something for each service.
#[derive(Debug, Default)]
struct Memory {
    /// Each service's intent at the end of the last pass, with what it was computed from.
    intents: intents::RememberedIntents,
    /// RFC 3339 time of the last change applied per service ARN; each pass's report shares
    /// it (copied on write, when a pass changes something).
    last_changes: Arc<BTreeMap<String, String>>,
    /// Since when each ALB ecs-ingress created has held nothing (seconds since the epoch).
    empty_albs: BTreeMap<String, i64>,
    /// Each service's status at the end of the last pass that planned it: a targeted pass
    /// reports the others as they were, and escalates when it would change their state.
    /// Shared with that pass's report and the admin server.
    last_status: Arc<StatusReport>,
    /// Listeners no longer configured that hold our rules, already logged.
    departed_noted: BTreeSet<String>,
}

impl Memory {
    /// Notes which created ALBs are empty since when, and tells the snapshot.
    fn track_empty_albs(&mut self, observed: &mut Snapshot) {
        let now = observed.read_at;
        let empty: BTreeMap<String, i64> = observed
            .provisioned
            .iter()
            .filter(|p| plan::load_balancer_is_empty(observed, &p.arn))
            .map(|p| {
                let since = self.empty_albs.get(&p.arn).copied().unwrap_or(now);
                (p.arn.clone(), since)
            })
            .collect();
        self.empty_albs = empty.clone();
        observed.empty_since = empty;
    }

    /// Logs once per listener that an ALB no longer given with `--listener` still holds
    /// rules of ecs-ingress, and what happens to them.
    fn note_departed(&mut self, observed: &Snapshot) {
        for listener in &observed.departed_listeners {
            if !self.departed_noted.insert(listener.clone()) {
                continue;
            }
            let load_balancer = observed
                .listeners
                .get(listener)
                .map(|l| l.load_balancer_arn.as_str())
                .unwrap_or_default();
            tracing::warn!(
                %listener,
                %load_balancer,
                "listener is no longer given with --listener but holds rules of ecs-ingress: its services move off it as in a drain (new target group elsewhere, names switched once healthy, old rules removed after --dns-drain)"
            );
        }
        if observed.complete() {
            self.departed_noted
                .retain(|l| observed.departed_listeners.contains(l));
        }
    }

    fn intent_unchanged(&self, service_arn: &str, intent: &ServiceIntent) -> bool {
        self.intents.get(service_arn).map(|r| &r.intent) == Some(intent)
    }

    fn remember_intents(
        &mut self,
        intents: Vec<(Arc<EcsService>, ServiceIntent)>,
        observed: &Snapshot,
    ) {
        self.intents = intents::remember(intents, observed);
    }

    fn remember_status(&mut self, status: Arc<StatusReport>) {
        self.last_status = status;
    }

    fn remember_changes(&mut self, report: &ApplyReport) {
        let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
        let mut applied = report
            .results
            .iter()
            .filter(|r| r.result == crate::apply::Outcome::Applied)
            .filter_map(|r| r.service_arn.as_ref())
            .peekable();
        if applied.peek().is_none() {
            return;
        }
        let last_changes = Arc::make_mut(&mut self.last_changes);
        for arn in applied {
            last_changes.insert(arn.clone(), now.clone());
        }
    }
}

/// A pass between planning and applying.
struct PlannedPass {
    kind: PassKind,
    plan: Plan,
    observed: Observation,
    intents: Vec<(Arc<EcsService>, ServiceIntent)>,
    started: Instant,
}

/// One controller: configuration, AWS access, metrics and what it remembers between passes.
pub struct Controller {
    pub config: Config,
    pub aws: Aws,
    pub metrics: Arc<Metrics>,
    cache: tokio::sync::Mutex<Cache>,
    memory: std::sync::Mutex<Memory>,
    /// Turns true on shutdown: no new change starts, the loop ends after the pass in flight.
    stop: watch::Sender<bool>,
    /// Whether this replica may write (leader election); always for a single replica.
    pub leadership: crate::lease::leadership::Leadership,
    /// Each service's last state, for logging transitions once.
    transitions: std::sync::Mutex<Transitions>,
    /// The last full pass's reads (updated by targeted passes): what targeted passes take
    /// the rest of the estate from. A targeted pass takes it, and leaves the next one when
    /// its reads were complete and it did not hand over to a full pass.
    baseline: std::sync::Mutex<Option<Arc<Baseline>>>,
    /// The interval's jitter when fixed ([`Controller::with_jitter`]); otherwise drawn from
    /// the clock for every wait.
    jitter: Option<f64>,
    /// Returns the allocator's free pages to the system
    /// ([`Controller::releasing_memory_with`]).
    release_memory: Option<fn()>,
    /// A pass wrote (or tried to) since the free pages were last returned.
    wrote_since_release: std::sync::atomic::AtomicBool,
}

/// How long a burst of events is collected before the pass it triggers starts.
pub const EVENT_DEBOUNCE: Duration = Duration::from_secs(2);

/// Plans a pass from what `observe` read, making the extra reads the plan asks for: running
/// tasks and targets of `direct` services, target health where it decides a next step, and
/// tags of deletions resting on the tagging index. Each of those re-plans once.
pub async fn plan_pass(
    aws: &Aws,
    plan_config: &PlanConfig,
    observed: &mut Observation,
    intents: &[(Arc<EcsService>, ServiceIntent)],
) -> Plan {
    let (direct_services, direct_groups) = plan::direct_reads(plan_config, observed, intents);
    if !direct_services.is_empty() || !direct_groups.is_empty() {
        observe::observe_direct(aws, &direct_services, &direct_groups, observed).await;
    }
    // A plan that asks for more reads is dropped before the next is made: two plans of
    // the estate at once were the cold start's highest heap (docs/performance.md).
    let mut plan = plan::plan(plan_config, observed, intents);
    if plan.alb_account_wanted {
        drop(plan);
        observe::observe_alb_account(aws, observed).await;
        plan = plan::plan(plan_config, observed, intents);
    }
    if !plan.health_wanted.is_empty() {
        let wanted = std::mem::take(&mut plan.health_wanted);
        drop(plan);
        observe::observe_health(aws, &wanted, observed).await;
        plan = plan::plan(plan_config, observed, intents);
    }
    confirm_indexed_deletions(aws, plan_config, observed, intents, plan, |_| true).await
}

/// Deletions (among the changes `considered` keeps) that rest on the tagging index are
/// confirmed with DescribeTags, then planned again from what that says.
pub(crate) async fn confirm_indexed_deletions(
    aws: &Aws,
    plan_config: &PlanConfig,
    observed: &mut Observation,
    intents: &[(Arc<EcsService>, ServiceIntent)],
    plan: Plan,
    considered: impl Fn(&plan::PlannedChange) -> bool,
) -> Plan {
    let doubtful: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| considered(c))
        .filter_map(|c| c.change.removed_elb_resource())
        .filter(|arn| observed.indexed_tags.may_need_confirming(arn))
        .map(str::to_string)
        .collect();
    if doubtful.is_empty() {
        return plan;
    }
    let failures = observed.failures().len();
    let changed = observe::confirm_tags(aws, &doubtful, observed).await;
    if changed || observed.failures().len() != failures {
        return plan::plan(plan_config, observed, intents);
    }
    plan
}

impl Controller {
    pub fn new(config: Config, aws: Aws, metrics: Arc<Metrics>) -> Self {
        Self {
            config,
            aws,
            metrics,
            cache: tokio::sync::Mutex::new(Cache::default()),
            memory: std::sync::Mutex::new(Memory::default()),
            stop: watch::Sender::new(false),
            leadership: crate::lease::leadership::Leadership::always(),
            transitions: std::sync::Mutex::new(Transitions::new()),
            baseline: std::sync::Mutex::new(None),
            jitter: None,
            release_memory: None,
            wrote_since_release: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Calls `release` at the start of a full pass that follows a pass which wrote (or
    /// tried to), once the last pass's reads are dropped: the binary hands its allocator's
    /// release of free pages here (`allocator::return_free_pages`). A pass that writes (a
    /// cold start, a deployment of many services) frees large transients whose pages the
    /// allocator would otherwise keep, and they set the process's highest RSS
    /// (docs/performance.md). A converged pass writes nothing, so a steady estate never
    /// pays for it.
    pub fn releasing_memory_with(mut self, release: fn()) -> Self {
        self.release_memory = Some(release);
        self
    }

    /// Returns the free pages if a pass wrote since they were last returned.
    fn release_memory_after_writes(&self) {
        if let Some(release) = self.release_memory
            && self
                .wrote_since_release
                .swap(false, std::sync::atomic::Ordering::Relaxed)
        {
            release();
        }
    }

    /// Waits with this fixed jitter (a fraction of the interval, at most ±0.1) instead of
    /// one drawn from the clock: a seeded simulation must replay exactly.
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = Some(jitter.clamp(-0.1, 0.1));
        self
    }

    /// Runs passes only while `leadership` may write, and stops applying when it may not.
    pub fn with_leadership(mut self, leadership: crate::lease::leadership::Leadership) -> Self {
        self.leadership = leadership;
        self
    }

    /// Asks the controller to stop: changes in flight finish, nothing new starts, and
    /// [`Controller::run`] returns after the current pass.
    pub fn shutdown(&self) {
        self.stop.send_replace(true);
    }

    pub fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    fn plan_config(&self) -> PlanConfig {
        self.config.plan_config()
    }

    /// A full pass: observe everything and plan. Applies the plan when `apply` is set and
    /// this is not a dry run. Its reads become the base of the targeted passes that follow.
    pub async fn pass(&self, apply: bool) -> PassReport {
        let started = Instant::now();
        let plan_config = self.plan_config();
        let mut cache = self.cache.lock().await;
        // The last full pass's reads are the base of targeted passes only, and passes run
        // one at a time (the cache's lock): dropped now, the pass never holds two snapshots
        // of the estate at once. This pass leaves the next base.
        self.lock_baseline().take();
        self.release_memory_after_writes();
        cache.start_pass(self.config.resync_interval);
        let mut observed =
            observe::observe(&self.aws, &self.config, &plan_config.ownership, &mut cache).await;
        let intents = {
            let mut memory = self.lock_memory();
            memory.track_empty_albs(&mut observed);
            memory.note_departed(&observed);
            let read_anew = memory.intents.share_unchanged_services(&mut observed);
            let intents = intents::intents_reusing(&self.config, &observed, &memory.intents);
            // A steady pass reads every service as remembered: nothing to re-key.
            if read_anew > 0 {
                memory.intents.key_by_services_read(&observed.services);
            }
            intents
        };
        let plan = plan_pass(&self.aws, &plan_config, &mut observed, &intents).await;
        let run = PlannedPass {
            kind: PassKind::Full,
            plan,
            observed,
            intents,
            started,
        };
        let (report, observed) = self.conclude(run, apply, &mut cache).await;
        *self.lock_baseline() = Some(Arc::new(Baseline::from_observation(observed)));
        report
    }

    /// Applies a planned pass (when `apply` is set and this is not a dry run), remembers
    /// what it did and records it. Hands back what the pass read.
    async fn conclude(
        &self,
        run: PlannedPass,
        apply: bool,
        cache: &mut Cache,
    ) -> (PassReport, Observation) {
        let PlannedPass {
            kind,
            plan,
            observed,
            intents,
            started,
        } = run;
        let applied = if apply && !self.config.dry_run {
            // Checked before every change: a replica that lost the lease starts none.
            let stop = || self.stopping() || !self.leadership.may_write();
            let report = apply::apply(&self.aws, &plan, &self.metrics, &stop).await;
            for (arn, attributes) in &report.attributes_written {
                cache.remember_attributes(arn, attributes.clone());
            }
            let touched: Vec<String> = plan
                .changes
                .iter()
                .filter_map(|c| match &c.change {
                    crate::plan::Change::AddListenerCertificate { listener_arn, .. }
                    | crate::plan::Change::RemoveListenerCertificate { listener_arn, .. } => {
                        Some(listener_arn.clone())
                    }
                    _ => None,
                })
                .collect();
            cache.after_certificate_changes(plan.certificates_wanted, &touched);
            // A write tried, whether it succeeded or failed, allocated for it.
            if report
                .results
                .iter()
                .any(|r| r.result != crate::apply::Outcome::Skipped)
            {
                self.wrote_since_release
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
            Some(report)
        } else {
            if apply {
                // A dry run logs what it would do, change by change.
                plan.changes
                    .iter()
                    .for_each(crate::telemetry::logging::change_not_made);
            }
            None
        };
        // Asked only when an update was applied: it is what the hand-overs set apart from
        // drift repairs, and a converged pass applies none.
        let handed_over = if applied
            .as_ref()
            .is_some_and(|r| applied_updates(&plan, r).next().is_some())
        {
            self.lock_transitions().new_holders(&plan.services)
        } else {
            BTreeSet::new()
        };
        let last_changes = {
            let mut memory = self.lock_memory();
            if let Some(report) = &applied {
                self.count_drift_repairs(&plan, report, &intents, &memory, &handed_over);
                memory.remember_changes(report);
            }
            // The pass is done with them: memory takes them rather than a copy.
            memory.remember_intents(intents, &observed);
            Arc::clone(&memory.last_changes)
        };
        let facts = Arc::new(crate::runtime::pass_facts::collect(
            &observed,
            &plan.services,
            &self.config,
        ));
        let mut report = PassReport {
            kind,
            plan,
            applied,
            observed_failures: observed
                .failures()
                .iter()
                .map(ToString::to_string)
                .collect(),
            read_problem: crate::runtime::diagnose::summarize(observed.failures()),
            degraded: observed.degraded().to_vec(),
            last_changes,
            facts,
            transitions: Vec::new(),
            status: Arc::default(),
        };
        // One status view for metrics, transitions, memory and the admin server; it shares
        // the last pass's view of every service whose view is unchanged.
        let earlier = Arc::clone(&self.lock_memory().last_status);
        let status = Arc::new(report.make_status(&earlier));
        report.status = Arc::clone(&status);
        self.record(&report, &status, started.elapsed());
        // `plan` is one look: every service would be "new"; the daemon and `apply` log changes.
        if apply {
            report.transitions = self.log_transitions(&status, report.observed_failures.is_empty());
        }
        self.lock_memory().remember_status(status);
        (report, observed)
    }

    fn lock_memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_baseline(&self) -> std::sync::MutexGuard<'_, Option<Arc<Baseline>>> {
        self.baseline.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_transitions(&self) -> std::sync::MutexGuard<'_, Transitions> {
        // A panic while logging leaves nothing half-updated worth refusing.
        self.transitions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Logs each service whose state changed since the last pass, and hosts handed over;
    /// returns the state changes for the page's history (numbered by the admin server).
    fn log_transitions(
        &self,
        status: &StatusReport,
        complete: bool,
    ) -> Vec<crate::status::TransitionRecord> {
        let (handovers, changes) = self
            .lock_transitions()
            .record_pass(&status.services, complete);
        handovers
            .iter()
            .for_each(crate::status::transitions::log_handover);
        changes
            .iter()
            .for_each(crate::status::transitions::log_transition);
        changes
            .into_iter()
            .map(|t| crate::status::TransitionRecord {
                pass: 0,
                at: String::new(),
                service: t.service,
                from: t.from,
                to: t.to,
                reason: t.reason,
            })
            .collect()
    }

    /// An update applied to a service whose intent did not change since the last pass puts
    /// back something changed outside ecs-ingress: a drift repair. A service taking over a
    /// host from a withdrawn holder (`handed_over`) changes rules for that reason, not drift.
    fn count_drift_repairs(
        &self,
        plan: &Plan,
        report: &ApplyReport,
        intents: &[(Arc<EcsService>, ServiceIntent)],
        memory: &Memory,
        handed_over: &std::collections::BTreeSet<String>,
    ) {
        // Indexed only when an update was applied: a converged pass applies none.
        let mut intent_of: Option<FxHashMap<&str, &ServiceIntent>> = None;
        for (planned, service_arn) in applied_updates(plan, report) {
            if handed_over.contains(service_arn) {
                continue;
            }
            // Of a service read twice, the later copy's intent (as memory keeps it).
            let intent_of = intent_of
                .get_or_insert_with(|| intents.iter().map(|(s, i)| (s.arn.as_str(), i)).collect());
            let unchanged = intent_of
                .get(service_arn)
                .is_some_and(|i| memory.intent_unchanged(service_arn, i));
            if unchanged {
                self.metrics
                    .drift_repairs
                    .get_or_create(&crate::telemetry::KindLabel {
                        kind: planned.change.kind().as_str().into(),
                    })
                    .inc();
            }
        }
    }

    fn record(&self, report: &PassReport, status: &StatusReport, took: Duration) {
        let result = if report.succeeded() {
            PassResult::Success
        } else {
            PassResult::Partial
        };
        self.metrics
            .record_pass(report.kind, result, took.as_secs_f64());
        if report.succeeded() {
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default();
            self.metrics.last_success_timestamp.set(now.as_secs_f64());
        }
        for state in ServiceState::ALL {
            let n = status.services.iter().filter(|s| s.state == state).count();
            self.metrics
                .services
                .get_or_create(&StateLabel {
                    state: state.as_str().into(),
                })
                .set(n as i64);
        }
        let can_grow: Vec<(String, bool)> = self
            .config
            .pools
            .max_albs
            .iter()
            .map(|(pool, max)| {
                let given = self.config.pools.members.get(pool).map_or(0, Vec::len);
                let created = report
                    .facts
                    .albs
                    .iter()
                    .filter(|a| &a.pool == pool && a.provisioned)
                    .count();
                (pool.clone(), given + created < *max)
            })
            .collect();
        self.metrics.capacity.record(&report.facts.albs, &can_grow);
        for (kind, n) in report.plan.managed_resource_counts() {
            self.metrics
                .managed_resources
                .get_or_create(&crate::telemetry::KindLabel { kind: kind.into() })
                .set(n as i64);
        }
    }

    /// One line of the page's pass history: `calls_before` are the AWS call and throttle
    /// totals when the pass started.
    fn summary(
        &self,
        report: &PassReport,
        took: Duration,
        calls_before: (u64, u64),
    ) -> crate::status::PassSummary {
        let (calls, throttles) = self.metrics.call_totals();
        crate::status::PassSummary {
            number: 0,
            finished: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            duration_seconds: took.as_secs_f64(),
            changes: report.applied.as_ref().map_or(0, |a| a.succeeded()),
            failed: report.applied.as_ref().map_or(0, |a| a.failed()),
            aws_calls: calls.saturating_sub(calls_before.0),
            throttles: throttles.saturating_sub(calls_before.1),
            result: if report.succeeded() {
                "success"
            } else {
                "partial"
            },
        }
    }

    /// The daemon, until [`Controller::shutdown`]. Without an events queue: a full pass
    /// every interval (jittered). With one: a targeted pass for the services a burst of
    /// events names, follow-up targeted passes while those settle, and a full pass every
    /// resync interval. Never two passes at once: passes run in this one task.
    pub async fn run(&self, admin: Arc<AdminState>, events: Option<Arc<Events>>) {
        let mut stop = self.stop.subscribe();
        let mut schedule = Schedule::new(events.is_some(), tokio::time::Instant::now());
        loop {
            if self.stopping() {
                return;
            }
            // A standby runs no pass (no AWS call) until it leads.
            if !self.leadership.may_write() {
                tokio::select! {
                    // Branches in order: a seeded simulation replays exactly.
                    biased;
                    _ = self.leadership.until_leader() => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
            let covered = events
                .as_ref()
                .map(|e| e.take_pending())
                .unwrap_or_default();
            let action = schedule.next_action(
                tokio::time::Instant::now(),
                covered.wants_full_pass(),
                || (!covered.targets.is_empty()).then(|| self.scope_of(&covered.targets)),
            );
            let (started, calls_before) = (Instant::now(), self.metrics.call_totals());
            let report = match &action {
                Action::Idle => None,
                Action::Full => Some(self.pass(true).await),
                Action::Targeted(scope) => match self.targeted_pass(scope).await {
                    Some(report) => Some(report),
                    None => Some(self.pass(true).await),
                },
            };
            if let Some(report) = &report {
                admin.pass_completed(report.shared_status(), report.observed_failures.is_empty());
                let summary = self.summary(report, started.elapsed(), calls_before);
                let changes = change_records(report, &summary.finished);
                admin.pass_summary(summary, changes, report.transitions.clone());
                log_pass(report);
                self.record_event_latency(report, &covered);
                let scope = match &action {
                    Action::Targeted(scope) if report.kind == PassKind::Targeted => scope.clone(),
                    _ => all_services(report),
                };
                let outcome = PassOutcome {
                    kind: report.kind,
                    succeeded: report.succeeded(),
                    unsettled: self.unsettled(report, &scope),
                };
                schedule.after(tokio::time::Instant::now(), self.timing(), outcome);
            }
            if let Some(e) = &events {
                e.delete(&covered.receipts).await;
            }
            let wait = schedule.wait(tokio::time::Instant::now(), self.timing());
            let event = async {
                match &events {
                    Some(e) => e.wanted().await,
                    None => std::future::pending().await,
                }
            };
            let triggered = tokio::select! {
                // Branches in order: a seeded simulation replays exactly.
                biased;
                _ = tokio::time::sleep(wait) => false,
                _ = event => true,
                _ = stop.wait_for(|s| *s) => return,
            };
            if triggered {
                // Debounce: a deployment sends a burst of events; one pass covers them.
                tokio::select! {
                    // Branches in order: a seeded simulation replays exactly.
                    biased;
                    _ = tokio::time::sleep(EVENT_DEBOUNCE) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        }
    }

    fn timing(&self) -> Timing {
        Timing {
            interval: self.config.interval,
            resync: self.config.resync_interval,
            jitter: self.jitter.unwrap_or_else(schedule::clock_jitter),
        }
    }

    /// From the oldest event a pass covered to its first applied change.
    fn record_event_latency(&self, report: &PassReport, covered: &crate::events::PendingEvents) {
        let changed = report.applied.as_ref().is_some_and(|a| a.succeeded() > 0);
        if let (true, Some(oldest)) = (changed, covered.oldest) {
            self.metrics
                .event_to_change
                .observe(oldest.elapsed().as_secs_f64());
        }
    }
}

/// The updates of a service's resources that were applied, with the service's ARN: what a
/// drift repair may be.
fn applied_updates<'p>(
    plan: &'p Plan,
    report: &'p ApplyReport,
) -> impl Iterator<Item = (&'p plan::PlannedChange, &'p str)> {
    plan.changes
        .iter()
        .zip(&report.results)
        .filter(|(planned, result)| {
            result.result == crate::apply::Outcome::Applied && planned.change.is_update()
        })
        .filter_map(|(planned, _)| Some((planned, planned.service_arn.as_deref()?)))
}

/// What a pass changed or tried, for the page's history (numbered by the admin server).
fn change_records(report: &PassReport, at: &str) -> Vec<crate::status::ChangeRecord> {
    let results = report.applied.as_ref().map(|a| a.results.as_slice());
    results
        .unwrap_or_default()
        .iter()
        .map(|r| crate::status::ChangeRecord {
            pass: 0,
            at: at.to_string(),
            service: r.service.clone(),
            change: r.change.clone(),
            result: r.result.as_str(),
            error: r.error.clone(),
        })
        .collect()
}

/// Every service a pass planned, as a scope (after a full pass, the unsettled ones are
/// taken from it).
fn all_services(report: &PassReport) -> Scope {
    let mut scope = Scope::default();
    for status in &report.plan.services {
        if let Some(arn) = crate::events::ServiceArn::parse(&status.service_arn) {
            scope
                .services
                .entry(arn.cluster().to_string())
                .or_default()
                .insert(status.service_arn.clone());
        }
    }
    scope
}

/// One line per pass: a pass that could not read is that line alone (what failed and how
/// to fix it); a pass that read everything says what it did, after what it had to do
/// without (a fallback read).
fn log_pass(report: &PassReport) {
    for failure in &report.observed_failures {
        tracing::debug!(error = %failure, "read failed; deletions are held back this pass");
    }
    let applied = report.applied.as_ref();
    let (applied, failed) = (
        applied.map(|a| a.succeeded()).unwrap_or(0),
        applied.map(|a| a.failed()).unwrap_or(0),
    );
    if let Some(problem) = &report.read_problem {
        tracing::warn!(
            failed_reads = report.observed_failures.len(),
            changes = report.plan.changes.len(),
            applied,
            failed,
            "pass incomplete: {problem}"
        );
        return;
    }
    log_degraded(report);
    tracing::info!(
        changes = report.plan.changes.len(),
        applied,
        failed,
        services = report.plan.services.len(),
        "pass complete"
    );
}

/// The fallbacks a pass that read everything needed, one warning each.
pub fn log_degraded(report: &PassReport) {
    for what in &report.degraded {
        tracing::warn!("{what}");
    }
}
