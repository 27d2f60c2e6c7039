//! The controller's replicas as `run` wires them, on one fake account and one lease
//! table: started, killed, stopped, frozen and cut off by the script. Every write that
//! passes a replica's fence is checked against the lease table's history at that instant.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::invariants::{Violations, push};
use crate::admin::AdminState;
use crate::config::Config;
use crate::events::Events;
use crate::fake::FakeAws;
use crate::lease::fake::{FakeLeaseClient, FakeLeaseStore};
use crate::lease::fenced::{FencedAws, WriteWitness};
use crate::lease::leadership::Leadership;
use crate::lease::{Campaign, during_leadership};
use crate::runtime::Controller;
use crate::telemetry::Metrics;

/// The lease the replicas campaign for.
pub const LEASE: Duration = Duration::from_secs(15);
/// At most this many replicas run at once.
pub const MAX_REPLICAS: usize = 3;

struct Replica {
    id: String,
    leadership: Leadership,
    lease_client: Arc<FakeLeaseClient>,
    controller: Arc<Controller>,
    passes: JoinHandle<()>,
    campaign: JoinHandle<()>,
    campaign_stop: watch::Sender<bool>,
    events_stop: watch::Sender<bool>,
    /// Renewals hang until then.
    frozen_until: Option<Instant>,
}

pub struct Replicas {
    fake: Arc<FakeAws>,
    store: Arc<FakeLeaseStore>,
    config: Config,
    events: bool,
    skews: Vec<i64>,
    running: Vec<Replica>,
    started: usize,
    violations: Violations,
    /// Writes let through the fences, by all replicas.
    pub writes: Arc<std::sync::atomic::AtomicU64>,
}

impl Replicas {
    pub fn new(
        fake: Arc<FakeAws>,
        config: Config,
        events: bool,
        skews: Vec<i64>,
        violations: Violations,
    ) -> Self {
        Self {
            fake,
            store: FakeLeaseStore::new(),
            config,
            events,
            skews,
            running: Vec::new(),
            started: 0,
            violations,
            writes: Arc::default(),
        }
    }

    /// The flags new replicas start with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Other flags: every running replica is stopped (SIGTERM) and replaced, one by one, as
    /// a rolling deployment of the controller's ECS service does.
    pub async fn reconfigure(&mut self, config: Config) {
        self.config = config;
        for _ in 0..self.running.len() {
            self.stop(0).await;
            self.start();
        }
    }

    pub fn running(&self) -> usize {
        self.running.len()
    }

    pub fn started(&self) -> usize {
        self.started
    }

    /// A new replica, as a new ECS task of the controller would start: its own id, metrics,
    /// lease connection, host clock and event receiver.
    pub fn start(&mut self) -> bool {
        if self.running.len() >= MAX_REPLICAS {
            return false;
        }
        let id = format!("replica-{}", self.started);
        let skew = self
            .skews
            .get(self.started % self.skews.len().max(1))
            .copied();
        self.started += 1;
        let leadership = Leadership::elected(id.clone());
        let metrics = Arc::new(Metrics::new(crate::aws::OPERATIONS));
        let aws = FencedAws::wrap_with_witness(
            self.fake.aws_on_host_skewed_by(skew.unwrap_or(0)),
            leadership.clone(),
            Some(self.witness(&id)),
        );
        // A jitter of its own, fixed by its clock's offset: replicas do not pass in step.
        let jitter = f64::from(i32::try_from(skew.unwrap_or(0) % 100).unwrap_or(0)) / 1000.0;
        let controller = Arc::new(
            Controller::new(self.config.clone(), aws, metrics.clone())
                .with_leadership(leadership.clone())
                .with_jitter(jitter),
        );
        let admin = Arc::new(AdminState::new(metrics.clone(), self.config.interval));
        admin.set_leadership(leadership.clone());
        let lease_client = self.store.client();
        let (campaign_stop, stopped) = watch::channel(false);
        let campaign = Campaign::new(
            lease_client.clone(),
            "ecs-ingress",
            LEASE,
            leadership.clone(),
            metrics.clone(),
        );
        let campaign = tokio::spawn(campaign.run(stopped));
        let (events_stop, events_stopped) = watch::channel(false);
        let events = self.events.then(|| {
            let e = Events::new(self.fake.clone(), metrics.clone());
            let receiver = e.clone();
            tokio::spawn(during_leadership(
                leadership.clone(),
                events_stopped,
                move |term| receiver.clone().receive_loop(term),
            ));
            e
        });
        let passes = {
            use tracing::Instrument;
            let controller = controller.clone();
            let span = tracing::info_span!("replica", id = %id);
            tokio::spawn(async move { controller.run(admin, events).await }.instrument(span))
        };
        self.running.push(Replica {
            id,
            leadership,
            lease_client,
            controller,
            passes,
            campaign,
            campaign_stop,
            events_stop,
            frozen_until: None,
        });
        true
    }

    /// Checks each write let through `id`'s fence against the lease table at that instant.
    fn witness(&self, id: &str) -> WriteWitness {
        let (store, violations, writes, who) = (
            self.store.clone(),
            self.violations.clone(),
            self.writes.clone(),
            id.to_string(),
        );
        Arc::new(move |_, operation| {
            writes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if !store.valid_at(&who, Instant::now(), LEASE) {
                push(
                    &violations,
                    format!(
                        "two writers: {who} sent {operation} without a valid lease (holders so far: {:?})",
                        store.holders()
                    ),
                );
            }
        })
    }

    /// `kill -9`: nothing of it runs any more and nothing is released.
    pub fn kill(&mut self, n: usize) -> bool {
        if self.running.is_empty() {
            return false;
        }
        let r = self.running.remove(n % self.running.len());
        r.passes.abort();
        r.campaign.abort();
        let _ = r.events_stop.send(true);
        true
    }

    /// SIGTERM: the pass in flight finishes, then the lease is released.
    pub async fn stop(&mut self, n: usize) -> bool {
        if self.running.is_empty() {
            return false;
        }
        let r = self.running.remove(n % self.running.len());
        r.controller.shutdown();
        let _ = r.passes.await;
        let _ = r.events_stop.send(true);
        let _ = r.campaign_stop.send(true);
        let _ = r.campaign.await;
        true
    }

    /// The replica `n` picks: an even `n` the leader (when one leads), an odd one the n-th.
    /// Faults on the leader are the ones that matter most.
    fn pick(&self, n: usize) -> usize {
        let leader = self.running.iter().position(|r| r.leadership.may_write());
        match leader {
            Some(i) if n.is_multiple_of(2) => i,
            _ => n % self.running.len().max(1),
        }
    }

    /// The lease renewals of the replica `n` picks hang for `seconds`.
    pub fn freeze(&mut self, n: usize, seconds: u64) -> bool {
        let i = self.pick(n);
        let Some(r) = self.running.get_mut(i) else {
            return false;
        };
        r.lease_client.delay_renewals(Duration::from_secs(seconds));
        r.frozen_until = Some(Instant::now() + Duration::from_secs(seconds));
        true
    }

    pub fn partition(&mut self, n: usize, cut: bool) -> bool {
        let Some(r) = self.running.get(self.pick(n)) else {
            return false;
        };
        r.lease_client.partition(cut);
        true
    }

    /// Thaws replicas whose freeze ended.
    pub fn thaw(&mut self) {
        let now = Instant::now();
        for r in &mut self.running {
            if r.frozen_until.is_some_and(|t| t <= now) {
                r.lease_client.delay_renewals(Duration::ZERO);
                r.frozen_until = None;
            }
        }
    }

    /// Faults on the lease table end: no freeze, no partition; one replica at least runs.
    pub fn heal(&mut self) {
        for r in &mut self.running {
            r.lease_client.delay_renewals(Duration::ZERO);
            r.lease_client.partition(false);
            r.frozen_until = None;
        }
        if self.running.is_empty() {
            self.start();
        }
    }

    /// The replica that may write now, if one may.
    pub fn leader(&self) -> Option<&str> {
        self.running
            .iter()
            .find(|r| r.leadership.may_write())
            .map(|r| r.id.as_str())
    }

    /// Stops every replica (the run is over).
    pub fn kill_all(&mut self) {
        while !self.running.is_empty() {
            self.kill(0);
        }
    }
}
