//! A deterministic whole-system simulation: one seed draws a script of a month in an
//! estate's life — services tagged, retagged and untagged, ECS deploying them (rolling,
//! blue/green, linear, canary; hooks, rollbacks), tasks failing their checks, hand edits,
//! replicas started, killed, stopped, frozen and cut from the lease table with skewed
//! clocks, AWS faults and slow calls, events delivered late, twice or never — and runs it on
//! the fake AWS in virtual time, with every invariant checked after every write:
//! - a name a client may hold is served by healthy targets of its service (the oracle,
//!   [`crate::fake::TrafficCheck`]);
//! - never two writers (each write against the lease table's history);
//! - nothing someone else made is touched; no AWS rule is broken;
//! - liveness: once the world and the faults stop, everything converges within
//!   [`SETTLE_BOUND`] and a `plan` is empty.
//!
//! A run is its script: the same seed replays it exactly (one thread, virtual time, the
//! controller's jitter fixed, `select!`s biased). A failing run names its seed and step;
//! [`shrink`] narrows it to fewer steps.

mod actors;
pub mod invariants;
mod listeners;
mod replicas;
pub mod rng;
pub mod script;
mod shrink;

use std::collections::BTreeMap;
use std::time::Duration;

pub use shrink::shrink;

use crate::fake::Fault;
use crate::sabotage::Sabotage;
use actors::Actors;
use invariants::Violations;
use replicas::Replicas;
use script::{Act, Delivery, ReplicaAct, Script};

/// The longest the estate may take to converge once the world and the faults stop: a
/// DNS drain (60 s alias TTL twice, plus clock uncertainty), a deregistration delay (300 s),
/// health checks and a few passes, with room. Measured settles are in docs/reliability.md.
pub const SETTLE_BOUND: Duration = Duration::from_secs(30 * 60);
/// Settle checks an ECS deployment may take before ECS rolls it back (10 minutes).
const DEPLOYMENT_PATIENCE: u32 = 20;
/// The longest one step may take (a replica restart waits for its pass in flight): beyond
/// it the run hangs, and is reported as broken at that step rather than left to grow.
const STEP_BOUND: Duration = Duration::from_secs(3600);

/// How often convergence is checked while settling.
const SETTLE_CHECK: Duration = Duration::from_secs(30);

/// How a run went.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub seed: u64,
    /// Steps run (all of the script's, unless one broke an invariant).
    pub steps: usize,
    pub virtual_time: Duration,
    /// Writes the replicas' fences let through.
    pub writes: u64,
    /// Writes the served-traffic oracle checked (everyone's).
    pub checked_writes: usize,
    pub replicas_started: usize,
    /// The first broken invariants, with the step after which they were seen.
    pub violations: Vec<String>,
    /// The step after which the first violation was seen.
    pub failed_at: Option<usize>,
    /// Virtual time from the world stopping to a converged estate with an empty plan.
    pub settled_in: Option<Duration>,
    /// What happened how often: acts by kind and outcome, events, faults.
    pub coverage: BTreeMap<String, u64>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Runs `script` on a fresh fake account, with `sabotage` (if any) turning one safety rule
/// off, on a single-threaded runtime in virtual time.
pub fn run(script: &Script, sabotage: Option<Sabotage>) -> Report {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build();
    let Ok(runtime) = runtime else {
        return Report {
            violations: vec!["cannot build a runtime".into()],
            ..Report::default()
        };
    };
    crate::sabotage::set(sabotage);
    let report = runtime.block_on(async { Sim::new(script).run(script).await });
    crate::sabotage::set(None);
    report
}

struct Sim {
    actors: Actors,
    replicas: Replicas,
    violations: Violations,
    report: Report,
    /// Events held back: (the step they are due after, body).
    late: Vec<(usize, String)>,
    last_leader: Option<String>,
    /// Prints every step (`SIM_TRACE=1`).
    trace: bool,
    /// Writes stall until then (a frozen leader).
    stalled_until: Option<tokio::time::Instant>,
    /// Listeners deleted by hand and not made again yet, by the estate's name.
    lost_listeners: BTreeMap<String, listeners::Lost>,
}

impl Sim {
    fn new(script: &Script) -> Self {
        let actors = Actors::new(script.services, script.pools);
        let violations = Violations::default();
        let mut config = actors.estate.config();
        config.clusters.push(actors::SECOND_CLUSTER.to_string());
        config.interval = Duration::from_secs(30);
        if script.events {
            config.events_queue_url =
                Some("https://sqs.us-east-1.amazonaws.com/123456789012/ecs-ingress".into());
            config.resync_interval = Some(crate::config::DEFAULT_RESYNC_INTERVAL);
        }
        if script.pools {
            pool_flags(
                &mut config,
                &actors.estate.listeners,
                script::PoolFlags::Both,
            );
        }
        let fake = actors.fake().clone();
        fake.enforce_rate_limits();
        watch_invariants(&actors, &violations);
        let mut replicas = Replicas::new(
            fake,
            config,
            script.events,
            script.skews.clone(),
            violations.clone(),
        );
        replicas.start();
        replicas.start();
        Self {
            actors,
            replicas,
            violations,
            report: Report {
                seed: script.seed,
                ..Report::default()
            },
            late: Vec::new(),
            last_leader: None,
            trace: std::env::var_os("SIM_TRACE").is_some(),
            stalled_until: None,
            lost_listeners: BTreeMap::new(),
        }
    }

    async fn run(mut self, script: &Script) -> Report {
        let start = tokio::time::Instant::now();
        for (i, step) in script.steps.iter().enumerate() {
            tokio::time::sleep(step.after).await;
            self.replicas.thaw();
            if self
                .stalled_until
                .is_some_and(|t| t <= tokio::time::Instant::now())
            {
                for op in script::WRITES {
                    self.actors.fake().delay(op, Duration::ZERO);
                }
                self.stalled_until = None;
            }
            self.deliver_late(i);
            if i % 200 == 199 {
                self.actors.fake().world().forget_expired();
            }
            let Ok((outcome, event)) = tokio::time::timeout(STEP_BOUND, self.act(step.act)).await
            else {
                invariants::push(
                    &self.violations,
                    format!(
                        "step {} ({:?}) did not finish within {STEP_BOUND:?} of virtual time: a hang",
                        script.kept.get(i).copied().unwrap_or(i),
                        step.act
                    ),
                );
                self.report.steps = i + 1;
                self.broken(i);
                break;
            };
            if self.trace {
                eprintln!(
                    "[{:>9.1} s] step {}: {:?} -> {outcome}",
                    start.elapsed().as_secs_f64(),
                    script.kept.get(i).copied().unwrap_or(i),
                    step.act
                );
            }
            self.count(&format!("{}: {outcome}", step.act.kind()));
            if let Some(body) = event {
                self.send(i, &body, step.delivery);
            }
            self.report.steps = i + 1;
            let leader = self.replicas.leader().map(str::to_string);
            if leader.is_some() && leader != self.last_leader {
                self.count("leader: taken over");
                self.last_leader = leader;
            }
            if self.broken(i) {
                break;
            }
        }
        if self.report.failed_at.is_none() {
            self.settle().await;
        }
        self.replicas.kill_all();
        self.report.virtual_time = start.elapsed();
        self.report.writes = self
            .replicas
            .writes
            .load(std::sync::atomic::Ordering::Relaxed);
        self.report.checked_writes = self.actors.fake().traffic_report().1;
        self.report.replicas_started = self.replicas.started();
        self.report
    }

    /// Performs one act; returns its outcome and the event AWS would send for it.
    async fn act(&mut self, act: Act) -> (&'static str, Option<String>) {
        let service_event = |arn: &str, kind: &str| {
            format!(
                r#"{{"version":"0","source":"aws.ecs","detail-type":"{kind}","account":"123456789012","region":"us-east-1","resources":["{arn}"],"detail":{{}}}}"#
            )
        };
        let arn = act
            .service()
            .and_then(|s| self.actors.services.get(s))
            .map(|s| s.arn.clone())
            .unwrap_or_default();
        match act {
            Act::Retag { service, intent } => {
                let outcome = self.actors.retag(service, intent);
                let event = format!(
                    r#"{{"version":"0","source":"aws.ecs","detail-type":"AWS API Call via CloudTrail","account":"123456789012","region":"us-east-1","resources":[],"detail":{{"eventSource":"ecs.amazonaws.com","eventName":"TagResource","userAgent":"aws-cli/2.15","requestParameters":{{"resourceArn":"{arn}"}}}}}}"#
                );
                (outcome, Some(event))
            }
            Act::Deploy { service } => {
                let outcome = self.actors.deploy(service);
                (
                    outcome,
                    Some(service_event(&arn, "ECS Deployment State Change")),
                )
            }
            Act::Advance { service } => {
                let outcome = self.actors.advance(service);
                (
                    outcome,
                    Some(service_event(&arn, "ECS Deployment State Change")),
                )
            }
            Act::Hold { service, held } => (self.actors.hold(service, held), None),
            Act::RollBack { service } => {
                let outcome = self.actors.roll_back(service);
                (
                    outcome,
                    Some(service_event(&arn, "ECS Deployment State Change")),
                )
            }
            Act::Health { service, failing } => {
                let outcome = self.actors.health(service, failing);
                (outcome, Some(service_event(&arn, "ECS Service Action")))
            }
            Act::HandEdit(edit) => self.actors.hand_edit(edit),
            Act::Replica(r) => (self.replica_act(r).await, None),
            Act::Fault {
                operation,
                kind,
                times,
            } => {
                self.actors.fake().inject(Fault {
                    operation,
                    kind,
                    times,
                });
                ("injected", None)
            }
            Act::Slow { operation, seconds } => {
                self.actors
                    .fake()
                    .delay(operation, Duration::from_secs(seconds));
                ("set", None)
            }
            Act::Pool(flags) => {
                let mut config = self.replicas.config().clone();
                pool_flags(&mut config, &self.actors.estate.listeners, flags);
                self.replicas.reconfigure(config).await;
                ("replicas restarted", None)
            }
            Act::Listener(act) => (self.listener_act(act).await, None),
            Act::Quiet => ("time passes", None),
        }
    }

    async fn listener_act(&mut self, act: script::ListenerAct) -> &'static str {
        match act {
            script::ListenerAct::Delete(n) | script::ListenerAct::DeleteAlb(n) => {
                let name = script::LISTENERS[n % script::LISTENERS.len()];
                let alb = matches!(act, script::ListenerAct::DeleteAlb(_));
                match listeners::delete(&mut self.actors, name, alb) {
                    Some(lost) => {
                        self.lost_listeners.insert(name.to_string(), lost);
                        "deleted"
                    }
                    None => "gone already",
                }
            }
            script::ListenerAct::Restore => self.restore_listeners().await,
        }
    }

    /// Makes the lost listeners again and restarts the replicas with their new ARNs.
    async fn restore_listeners(&mut self) -> &'static str {
        if self.lost_listeners.is_empty() {
            return "none lost";
        }
        let config = listeners::restore(
            &mut self.actors,
            &mut self.lost_listeners,
            self.replicas.config(),
        );
        self.replicas.reconfigure(config).await;
        "made again, replicas restarted"
    }

    async fn replica_act(&mut self, act: ReplicaAct) -> &'static str {
        let done = match act {
            ReplicaAct::Start => self.replicas.start(),
            ReplicaAct::Kill(n) => self.replicas.kill(n),
            ReplicaAct::Stop(n) => self.replicas.stop(n).await,
            ReplicaAct::Freeze(n, s) => {
                // The frozen process's pass in flight stalls too: its next write leaves only
                // after the freeze (only the leader writes, so every write waits).
                let stall = Duration::from_secs(s);
                for op in script::WRITES {
                    self.actors.fake().delay(op, stall);
                }
                self.stalled_until = Some(tokio::time::Instant::now() + stall);
                self.replicas.freeze(n, s)
            }
            ReplicaAct::Partition(n, cut) => self.replicas.partition(n, cut),
        };
        // A controller with no replica left is restarted by ECS (its service).
        if self.replicas.running() == 0 {
            self.replicas.start();
        }
        if done { "done" } else { "no replica for it" }
    }

    fn send(&mut self, step: usize, body: &str, delivery: Delivery) {
        match delivery {
            Delivery::Now => {
                self.actors.fake().send_event(body);
            }
            Delivery::Twice => {
                self.actors.fake().send_event(body);
                self.actors.fake().send_event(body);
            }
            Delivery::Late(after) => self.late.push((step + after, body.to_string())),
            Delivery::Never => {}
        }
        self.count(&format!("event: {}", delivery_name(delivery)));
    }

    fn deliver_late(&mut self, step: usize) {
        let (due, later): (Vec<_>, Vec<_>) = self.late.drain(..).partition(|(at, _)| *at <= step);
        self.late = later;
        for (_, body) in due {
            self.actors.fake().send_event(&body);
        }
    }

    fn count(&mut self, what: &str) {
        *self.report.coverage.entry(what.to_string()).or_default() += 1;
    }

    /// Collects what broke; true (and the step recorded) when anything did.
    fn broken(&mut self, step: usize) -> bool {
        let mut found: Vec<String> = self
            .violations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        found.extend(self.actors.fake().traffic_report().0);
        if found.is_empty() {
            return false;
        }
        self.report.failed_at = Some(step);
        self.report.violations = found;
        true
    }

    /// The world stops changing and the faults stop: ECS finishes its deployments, tasks
    /// answer their checks, the lease table heals and late events arrive. Then, within
    /// [`SETTLE_BOUND`], every name a valid tag asks for must be served and a fresh `plan`
    /// must be empty.
    async fn settle(&mut self) {
        let fake = self.actors.fake().clone();
        fake.clear_faults();
        for op in script::FAULTY {
            fake.delay(op, Duration::ZERO);
        }
        self.replicas.heal();
        self.restore_listeners().await;
        for s in 0..self.actors.services.len() {
            if self.actors.services[s].failing_checks {
                self.actors.health(s, false);
            }
        }
        for (_, body) in std::mem::take(&mut self.late) {
            fake.send_event(&body);
        }
        let start = tokio::time::Instant::now();
        let mut last = Vec::new();
        while start.elapsed() < SETTLE_BOUND {
            tokio::time::sleep(SETTLE_CHECK).await;
            last = self.actors.finish_deployments(DEPLOYMENT_PATIENCE);
            if self.trace {
                eprintln!("[settling {:>5} s] {last:?}", start.elapsed().as_secs());
            }
            if !last.is_empty() {
                continue;
            }
            last = self.unconverged().await;
            if last.is_empty() {
                self.report.settled_in = Some(start.elapsed());
                break;
            }
        }
        let step = self.report.steps;
        if self.report.settled_in.is_none() {
            if self.trace {
                self.dump_world();
            }
            invariants::push(
                &self.violations,
                format!(
                    "liveness: not converged {SETTLE_BOUND:?} after the world stopped: {last:?}"
                ),
            );
        }
        self.broken(step);
    }

    /// Prints the rules and records, for a person reading a liveness failure.
    fn dump_world(&self) {
        let world = self.actors.fake().world();
        for rule in world.rules.values().filter(|r| r.priority.is_some()) {
            let listener = rule.listener_arn.rsplit('/').nth(2).unwrap_or_default();
            let service = rule
                .tags
                .get(crate::ownership::SERVICE_TAG)
                .map(|s| s.rsplit('/').next().unwrap_or_default().to_string());
            eprintln!(
                "[world] rule {listener} {:?} hosts {:?} paths {:?} → {:?} of {service:?}",
                rule.priority, rule.hosts, rule.paths, rule.forward_target_groups
            );
        }
        for (arn, fake) in &world.services {
            let groups: Vec<String> = fake
                .service
                .load_balancers
                .iter()
                .filter_map(|lb| lb.target_group_arn.clone())
                .map(|g| {
                    let health: Vec<String> = world
                        .target_health(&g)
                        .iter()
                        .map(|(_, state)| format!("{state:?}"))
                        .collect();
                    format!("{} {health:?}", g.rsplit('/').nth(1).unwrap_or_default())
                })
                .collect();
            eprintln!(
                "[world] service {} entries {groups:?}",
                arn.rsplit('/').next().unwrap_or_default()
            );
        }
        for (_, records) in world.zones.values() {
            for r in records {
                let to = r.alias.as_ref().map(|a| a.dns_name.as_str());
                eprintln!(
                    "[world] record {} {} {to:?} {:?}",
                    r.name, r.record_type, r.values
                );
            }
        }
    }

    /// Why the estate has not converged: names a valid tag asks for that are not served,
    /// and what a fresh `plan` would still change or wait for.
    async fn unconverged(&self) -> Vec<String> {
        let fake = self.actors.fake();
        let mut out = Vec::new();
        let mut config = self.replicas.config().clone();
        config.events_queue_url = None;
        let probe =
            crate::runtime::Controller::new(config, fake.aws(), self.actors.estate.metrics.clone());
        let report = probe.pass(false).await;
        if self.trace {
            for s in &report.plan.services {
                eprintln!(
                    "[status] {} {} waiting {:?} problems {:?}",
                    s.service,
                    s.state.as_str(),
                    s.waiting,
                    s.problems
                );
            }
        }
        let status = |arn: &str| report.plan.services.iter().find(|s| s.service_arn == arn);
        // Which tags ecs-ingress refuses (a blue/green service moved off its ALB, a name
        // another invalid service keeps) is the model's and planner's business, tested
        // there: a service it reports invalid or in conflict, for a key it names, keeps what
        // it has and is not held to being served.
        let refused = |arn: &str| {
            status(arn).is_some_and(|s| {
                matches!(
                    s.state,
                    crate::status::ServiceState::Invalid
                        | crate::status::ServiceState::Conflict
                        | crate::status::ServiceState::DnsConflict
                ) && s.problems.iter().any(|p| p.key.is_some())
            })
        };
        let verdict = |arn: &str| {
            status(arn)
                .map(|s| format!("{} {:?}", s.state.as_str(), s.problems))
                .unwrap_or_else(|| "no status".into())
        };
        {
            let world = fake.world();
            for s in &self.actors.services {
                let valid = matches!(
                    s.intent,
                    script::Intent::Own { .. } | script::Intent::SharedPath
                ) && !refused(&s.arn);
                if let (true, Some((host, path))) = (valid, &s.key) {
                    let served = world.served(host, path);
                    if !matches!(&served, crate::fake::Served::By(by) if by.len() == 1 && by.contains(&s.arn))
                    {
                        out.push(format!(
                            "{host}{path} of s{}: {served:?}; {}",
                            s.index,
                            verdict(&s.arn)
                        ));
                    }
                }
            }
        }
        if !report.succeeded() {
            out.push(format!("plan failed: {:?}", report.observed_failures));
        }
        out.extend(
            report
                .plan
                .changes
                .iter()
                .map(|c| format!("plan: {:?}", c.change)),
        );
        // A refused service may wait on what only a person can change (a name another
        // service keeps holds its move): that is its status, not a failure to converge.
        for s in report
            .plan
            .services
            .iter()
            .filter(|s| !refused(&s.service_arn))
        {
            out.extend(
                s.waiting
                    .iter()
                    .map(|w| format!("{} waits: {w}", s.service)),
            );
        }
        out
    }
}

fn delivery_name(d: Delivery) -> &'static str {
    match d {
        Delivery::Now => "delivered",
        Delivery::Twice => "delivered twice",
        Delivery::Late(_) => "delivered late",
        Delivery::Never => "lost",
    }
}

/// Hangs the invariants on the account: checked after every write and every act of ECS's.
fn watch_invariants(actors: &Actors, violations: &Violations) {
    let (foreign, found) = (actors.foreign.clone(), violations.clone());
    actors.fake().watch_writes(Box::new(move |world, what| {
        let foreign = foreign.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for broken in invariants::foreign_untouched(world, &foreign)
            .into_iter()
            .chain(invariants::aws_rules(world))
        {
            invariants::push(&found, format!("after {what}: {broken}"));
        }
    }));
}

/// Sets the listener flags of `flags` on a configuration of the estate's two listeners.
fn pool_flags(
    config: &mut crate::config::Config,
    listeners: &std::collections::BTreeMap<String, String>,
    flags: script::PoolFlags,
) {
    let (Some(first), Some(second)) = (
        listeners.get(script::LISTENERS[0]),
        listeners.get(script::LISTENERS[1]),
    ) else {
        return;
    };
    let home = script::LISTENERS[0].to_string();
    config.listeners = std::collections::BTreeMap::from([(home.clone(), first.clone())]);
    let members = match flags {
        script::PoolFlags::SecondRemoved => vec![first.clone()],
        _ => vec![first.clone(), second.clone()],
    };
    config.pools.members = std::collections::BTreeMap::from([(home, members)]);
    config.pools.draining = match flags {
        script::PoolFlags::SecondDraining => std::collections::BTreeSet::from([second.clone()]),
        _ => std::collections::BTreeSet::new(),
    };
}
