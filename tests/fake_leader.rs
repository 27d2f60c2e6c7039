//! Leader election on paused time: two and three replicas share one fake AWS account and one
//! fake lease table. Every write that passes a replica's fence is recorded with the replica
//! and the instant; the lease table's history then says whether that replica's lease was
//! valid at that instant (it wrote the record last, less than a lease before). Faults on the
//! lease table (throttling, 5xx, a partition, slow renewals) and kill or graceful stop of
//! the leader must never give two writers, and a standby must take over in time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ecs_ingress::admin::AdminState;
use ecs_ingress::aws::ErrorKind;
use ecs_ingress::events::Events;
use ecs_ingress::lease::fake::{FakeLeaseClient, FakeLeaseStore};
use ecs_ingress::lease::fenced::{FencedAws, WriteWitness};
use ecs_ingress::lease::leadership::Leadership;
use ecs_ingress::lease::{Campaign, during_leadership};
use ecs_ingress::runtime::Controller;
use ecs_ingress::telemetry::{Metrics, PassKind, PassResult};
use ecs_ingress::testing::Estate;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

const OWNER: &str = "ecs-ingress";
const DEFAULT_LEASE: Duration = Duration::from_secs(15);

/// A write that passed a fence: who, what, when.
type Write = (String, &'static str, Instant);

struct Group {
    estate: Estate,
    store: Arc<FakeLeaseStore>,
    writes: Arc<Mutex<Vec<Write>>>,
    lease: Duration,
}

struct Replica {
    id: String,
    leadership: Leadership,
    lease_client: Arc<FakeLeaseClient>,
    controller: Arc<Controller>,
    metrics: Arc<Metrics>,
    admin: Arc<AdminState>,
    passes: JoinHandle<()>,
    campaign: JoinHandle<()>,
    campaign_stop: watch::Sender<bool>,
    /// Ends the event receiver with the test.
    _events_stop: watch::Sender<bool>,
}

impl Group {
    fn new(lease: Duration) -> Self {
        Self {
            estate: Estate::new(1),
            store: FakeLeaseStore::new(),
            writes: Arc::new(Mutex::new(Vec::new())),
            lease,
        }
    }

    fn start(&self, id: &str) -> Replica {
        self.start_with(id, false)
    }

    /// A replica as `run` wires it, with its own metrics and lease connection, and with
    /// `events` a receiver on the account's event queue.
    fn start_with(&self, id: &str, events: bool) -> Replica {
        let leadership = Leadership::elected(id);
        let metrics = Arc::new(Metrics::new(ecs_ingress::aws::OPERATIONS));
        let writes = self.writes.clone();
        let who = id.to_string();
        let witness: WriteWitness = Arc::new(move |_, operation| {
            writes
                .lock()
                .expect("write log")
                .push((who.clone(), operation, Instant::now()));
        });
        let aws =
            FencedAws::wrap_with_witness(self.estate.fake.aws(), leadership.clone(), Some(witness));
        let mut config = self.estate.config();
        config.interval = Duration::from_secs(5);
        let controller = Arc::new(
            Controller::new(config, aws, metrics.clone()).with_leadership(leadership.clone()),
        );
        let admin = Arc::new(AdminState::new(metrics.clone(), Duration::from_secs(5)));
        admin.set_leadership(leadership.clone());
        let lease_client = self.store.client();
        let (campaign_stop, stopped) = watch::channel(false);
        let campaign = Campaign::new(
            lease_client.clone(),
            OWNER,
            self.lease,
            leadership.clone(),
            metrics.clone(),
        );
        let campaign = tokio::spawn(campaign.run(stopped));
        let (events_stop, events_stopped) = watch::channel(false);
        let events = events.then(|| {
            let e = Events::new(self.estate.fake.clone(), metrics.clone());
            let receiver = e.clone();
            tokio::spawn(during_leadership(
                leadership.clone(),
                events_stopped,
                move |term| receiver.clone().receive_loop(term),
            ));
            e
        });
        let passes = {
            let controller = controller.clone();
            let admin = admin.clone();
            tokio::spawn(async move { controller.run(admin, events).await })
        };
        Replica {
            id: id.into(),
            leadership,
            lease_client,
            controller,
            metrics,
            admin,
            passes,
            campaign,
            campaign_stop,
            _events_stop: events_stop,
        }
    }

    /// Every write was made by a replica whose lease was valid when the write started.
    fn assert_never_two_writers(&self) {
        let writes = self.writes.lock().expect("write log");
        assert!(!writes.is_empty(), "the test made no write at all");
        for (id, operation, at) in writes.iter() {
            assert!(
                self.store.valid_at(id, *at, self.lease),
                "{id} wrote {operation} at {at:?} without a valid lease; holders: {:?}",
                self.store.holders()
            );
        }
    }

    fn published(&self, host: &str) -> bool {
        self.estate
            .owned_rules()
            .iter()
            .any(|r| r.hosts.iter().any(|h| h == host))
    }

    fn add_service(&self, name: &str) -> String {
        let host = format!("{name}.in.example.com");
        self.estate.add_service(name, &[("alb.host", &host)], &[]);
        host
    }
}

impl Replica {
    /// kill -9: nothing runs any more, nothing is released.
    fn kill(&self) {
        self.passes.abort();
        self.campaign.abort();
    }

    /// SIGTERM: the pass in flight finishes, then the lease is released.
    async fn terminate(self) {
        self.controller.shutdown();
        self.passes.await.expect("passes end");
        let _ = self.campaign_stop.send(true);
        self.campaign.await.expect("campaign ends");
    }

    fn passes(&self) -> u64 {
        PassKind::ALL
            .into_iter()
            .flat_map(|k| [(k, PassResult::Success), (k, PassResult::Partial)])
            .map(|(k, r)| self.metrics.passes_count(k, r))
            .sum()
    }
}

fn leaders<'a>(replicas: &[&'a Replica]) -> Vec<&'a str> {
    replicas
        .iter()
        .filter(|r| r.leadership.may_write())
        .map(|r| r.id.as_str())
        .collect()
}

/// Lets `total` of virtual time pass in small steps, checking that at most one replica may
/// write at any step.
async fn run_for(total: Duration, replicas: &[&Replica]) {
    let step = Duration::from_millis(100);
    let end = Instant::now() + total;
    while Instant::now() < end {
        tokio::time::sleep(step).await;
        let now = leaders(replicas);
        assert!(now.len() <= 1, "two writers at once: {now:?}");
    }
}

/// Waits until `replica` leads; returns how long that took.
async fn until_leads(replica: &Replica, limit: Duration) -> Duration {
    let start = Instant::now();
    while !replica.leadership.may_write() {
        assert!(
            start.elapsed() < limit,
            "{} did not lead within {limit:?}",
            replica.id
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    start.elapsed()
}

#[tokio::test(start_paused = true)]
async fn one_of_two_leads_and_a_killed_leader_is_replaced_within_lease_and_a_period() {
    let group = Group::new(DEFAULT_LEASE);
    let first = group.add_service("first");
    let a = group.start("a");
    tokio::time::sleep(Duration::from_millis(10)).await;
    let b = group.start("b");
    run_for(Duration::from_secs(5), &[&a, &b]).await;
    assert_eq!(leaders(&[&a, &b]), vec!["a"], "the first to start leads");
    assert!(group.published(&first));
    assert_eq!(b.passes(), 0, "a standby runs no pass");
    assert!(b.admin.is_ready(), "a standby that can take over is ready");
    let status = b.admin.report().leadership.expect("leadership in /status");
    assert_eq!(
        (status.mode, status.leader.as_deref()),
        ("standby", Some("a"))
    );
    assert_eq!(b.metrics.lease.leader.get(), 0);
    assert_eq!(a.metrics.lease.leader.get(), 1);

    a.kill();
    let second = group.add_service("second");
    let took = until_leads(&b, Duration::from_secs(30)).await;
    assert!(
        took < DEFAULT_LEASE + DEFAULT_LEASE / 3,
        "takeover after kill took {took:?}"
    );
    run_for(Duration::from_secs(2), &[&b]).await;
    assert!(group.published(&second), "the new leader publishes");
    assert!(b.passes() > 0);
    assert_eq!(b.metrics.lease.transitions.get(), 1);
    group.assert_never_two_writers();
}

#[tokio::test(start_paused = true)]
async fn graceful_handover_takes_seconds_and_three_replicas_keep_one_writer() {
    let group = Group::new(DEFAULT_LEASE);
    group.add_service("first");
    let a = group.start("a");
    tokio::time::sleep(Duration::from_millis(10)).await;
    let b = group.start("b");
    let c = group.start("c");
    run_for(Duration::from_secs(5), &[&a, &b, &c]).await;
    assert_eq!(leaders(&[&a, &b, &c]), vec!["a"]);

    let stopped = Instant::now();
    a.terminate().await;
    let mut waited = Duration::ZERO;
    while leaders(&[&b, &c]).is_empty() {
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited = stopped.elapsed();
        assert!(waited < Duration::from_secs(3), "no handover within 3 s");
    }
    assert!(waited <= Duration::from_secs(2), "handover took {waited:?}");
    let next = if b.leadership.may_write() { &b } else { &c };
    let last = if b.leadership.may_write() { &c } else { &b };
    let host = group.add_service("after-handover");
    run_for(Duration::from_secs(6), &[&b, &c]).await;
    assert!(group.published(&host));

    next.kill();
    let took = until_leads(last, Duration::from_secs(30)).await;
    assert!(took < DEFAULT_LEASE + DEFAULT_LEASE / 3, "{took:?}");
    let host = group.add_service("after-kill");
    run_for(Duration::from_secs(6), &[last]).await;
    assert!(group.published(&host));
    assert_eq!(
        group.store.holders().len(),
        3,
        "{:?}",
        group.store.holders()
    );
    group.assert_never_two_writers();
}

/// What goes wrong between the leader and the lease table.
#[derive(Debug, Clone, Copy)]
enum LeaseFault {
    Throttled,
    ServerError,
    /// The leader cannot reach the table but still reaches ELB.
    Partition,
    /// Renewals take longer than the lease (a paused or starved process) while passes go on.
    SlowRenewals,
}

async fn leader_under_fault(fault: LeaseFault) {
    let group = Group::new(Duration::from_secs(6));
    group.add_service("s0");
    let a = group.start("a");
    tokio::time::sleep(Duration::from_millis(10)).await;
    let b = group.start("b");
    run_for(Duration::from_secs(3), &[&a, &b]).await;
    assert_eq!(leaders(&[&a, &b]), vec!["a"], "{fault:?}");

    match fault {
        LeaseFault::Throttled => a.lease_client.fail_next(ErrorKind::Throttled, 20),
        LeaseFault::ServerError => a.lease_client.fail_next(ErrorKind::Unavailable, 20),
        LeaseFault::Partition => a.lease_client.partition(true),
        LeaseFault::SlowRenewals => a.lease_client.delay_renewals(Duration::from_secs(12)),
    }
    // New services keep both replicas' passes busy with writes throughout.
    for i in 1..=10 {
        group.add_service(&format!("s{i}"));
        run_for(Duration::from_secs(3), &[&a, &b]).await;
    }
    assert_eq!(
        leaders(&[&a, &b]),
        vec!["b"],
        "{fault:?}: the standby took over"
    );
    assert!(
        a.metrics.lease.renew_failures.get() > 0,
        "{fault:?}: renewals failed"
    );
    a.lease_client.partition(false);
    a.lease_client.delay_renewals(Duration::ZERO);
    let host = group.add_service("after-fault");
    run_for(Duration::from_secs(20), &[&a, &b]).await;
    assert_eq!(leaders(&[&a, &b]), vec!["b"], "{fault:?}: no flapping back");
    assert!(group.published(&host), "{fault:?}");
    let status = a.admin.report().leadership.expect("leadership");
    assert_eq!(
        (status.mode, status.leader.as_deref()),
        ("standby", Some("b")),
        "{fault:?}"
    );
    group.assert_never_two_writers();
}

#[tokio::test(start_paused = true)]
async fn lease_table_throttling_on_the_leader_never_gives_two_writers() {
    leader_under_fault(LeaseFault::Throttled).await;
}

#[tokio::test(start_paused = true)]
async fn lease_table_5xx_on_the_leader_never_gives_two_writers() {
    leader_under_fault(LeaseFault::ServerError).await;
}

#[tokio::test(start_paused = true)]
async fn a_leader_partitioned_from_the_lease_table_fences_itself() {
    leader_under_fault(LeaseFault::Partition).await;
}

#[tokio::test(start_paused = true)]
async fn a_leader_whose_renewals_stall_past_the_lease_fences_itself() {
    leader_under_fault(LeaseFault::SlowRenewals).await;
}

/// The leader's campaign stops dead (a starved or wedged task: no renewal, no failure to
/// react to) while its passes go on: only the time-based fence stops its writes, before the
/// standby's lease-long wait ends.
#[tokio::test(start_paused = true)]
async fn a_leader_whose_campaign_stalls_stops_writing_at_its_fence() {
    let group = Group::new(DEFAULT_LEASE);
    group.add_service("s0");
    let a = group.start("a");
    tokio::time::sleep(Duration::from_millis(10)).await;
    let b = group.start("b");
    run_for(Duration::from_secs(3), &[&a, &b]).await;
    assert_eq!(leaders(&[&a, &b]), vec!["a"]);
    a.campaign.abort();
    let stalled = Instant::now();
    for i in 1..=12 {
        group.add_service(&format!("s{i}"));
        run_for(Duration::from_secs(2), &[&a, &b]).await;
        if stalled.elapsed() >= DEFAULT_LEASE {
            assert!(
                !a.leadership.may_write(),
                "the fence closed within the lease"
            );
        }
    }
    assert_eq!(leaders(&[&a, &b]), vec!["b"]);
    assert!(a.passes() > 0, "the stalled leader's passes went on");
    let host = group.add_service("after");
    run_for(Duration::from_secs(6), &[&a, &b]).await;
    assert!(group.published(&host));
    group.assert_never_two_writers();
}

#[tokio::test(start_paused = true)]
async fn one_failed_renewal_stops_writes_at_once_and_the_next_resumes_them() {
    let group = Group::new(Duration::from_secs(15));
    let a = group.start("a");
    run_for(Duration::from_secs(1), &[&a]).await;
    assert!(a.leadership.may_write());
    a.lease_client.fail_next(ErrorKind::Throttled, 1);
    // The next renewal (every 5 s) fails: no write may start from then on.
    let mut fenced = false;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if !a.leadership.may_write() {
            fenced = true;
            break;
        }
    }
    assert!(fenced, "a failed renewal closes the fence");
    // Nobody else took the record: the retry renews it and writing resumes.
    until_leads(&a, Duration::from_secs(3)).await;
    assert_eq!(group.store.holders(), vec!["a"]);
}

#[tokio::test(start_paused = true)]
async fn a_missing_lease_table_keeps_a_replica_up_not_ready_and_retrying() {
    let group = Group::new(Duration::from_secs(3));
    let a = group.start("a");
    a.lease_client.fail_next(ErrorKind::NotFound, 10);
    run_for(Duration::from_secs(3), &[&a]).await;
    assert!(!a.leadership.may_write());
    assert!(!a.admin.is_ready(), "not ready while the table is missing");
    let status = a.admin.report().leadership.expect("leadership");
    assert!(
        status
            .problem
            .as_deref()
            .is_some_and(|p| p.contains("table")),
        "{status:?}"
    );
    assert_eq!(a.passes(), 0);
    // The table appears (the faults run out): it leads.
    until_leads(&a, Duration::from_secs(15)).await;
    run_for(Duration::from_secs(2), &[&a]).await;
    assert!(a.admin.is_ready());
    assert!(a.admin.is_live());
}

/// A small deterministic generator, so a failing schedule can be replayed by its seed.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Random schedules of faults, kills and restarts among three replicas: at no step do two
/// replicas may write, every write falls in its writer's lease, and once the faults heal one
/// replica leads and publishes.
#[tokio::test(start_paused = true)]
async fn random_faults_kills_and_restarts_never_give_two_writers() {
    for seed in 0..40u64 {
        let mut rng = Lcg(seed);
        let group = Group::new(Duration::from_secs(6));
        let mut replicas: Vec<Option<Replica>> = (0..3)
            .map(|i| Some(group.start(&format!("r{i}"))))
            .collect();
        let mut restarts = 0;
        for step in 0..30 {
            match rng.below(8) {
                0 => {
                    if let Some(r) = replicas[rng.below(3) as usize].as_ref() {
                        r.lease_client.partition(rng.below(2) == 0);
                    }
                }
                1 => {
                    if let Some(r) = replicas[rng.below(3) as usize].as_ref() {
                        r.lease_client
                            .fail_next(ErrorKind::Throttled, rng.below(10) as usize);
                    }
                }
                2 => {
                    if let Some(r) = replicas[rng.below(3) as usize].as_ref() {
                        let stall = Duration::from_secs(rng.below(12));
                        r.lease_client.delay_renewals(stall);
                    }
                }
                3 => {
                    let i = rng.below(3) as usize;
                    let alive = replicas.iter().filter(|r| r.is_some()).count();
                    if alive > 1
                        && let Some(r) = replicas[i].take()
                    {
                        r.kill();
                    }
                }
                4 => {
                    if let Some(slot) = replicas.iter_mut().find(|r| r.is_none()) {
                        restarts += 1;
                        *slot = Some(group.start(&format!("restarted-{restarts}")));
                    }
                }
                _ => {
                    group.add_service(&format!("s{seed}-{step}"));
                }
            }
            let live: Vec<&Replica> = replicas.iter().flatten().collect();
            run_for(Duration::from_secs(2), &live).await;
        }
        // Heal everything: one replica leads within a lease and a bit, and publishes.
        for r in replicas.iter().flatten() {
            r.lease_client.heal();
        }
        let host = group.add_service(&format!("healed-{seed}"));
        let live: Vec<&Replica> = replicas.iter().flatten().collect();
        run_for(Duration::from_secs(30), &live).await;
        assert_eq!(
            leaders(&live).len(),
            1,
            "seed {seed}: one leader once healed; holders {:?}",
            group.store.holders()
        );
        assert!(group.published(&host), "seed {seed}");
        group.assert_never_two_writers();
        for r in replicas.into_iter().flatten() {
            r.kill();
        }
    }
}

/// A standby takes no message off the event queue (it would hide it from the leader for the
/// visibility timeout); the leader does, and the standby does once it leads.
#[tokio::test(start_paused = true)]
async fn only_the_leader_receives_events() {
    let group = Group::new(DEFAULT_LEASE);
    let a = group.start_with("a", true);
    tokio::time::sleep(Duration::from_millis(10)).await;
    let b = group.start_with("b", true);
    run_for(Duration::from_secs(3), &[&a, &b]).await;
    assert_eq!(leaders(&[&a, &b]), vec!["a"]);
    let event = r#"{"source":"aws.ecs","detail-type":"ECS Service Action","detail":{}}"#;
    for _ in 0..3 {
        group.estate.fake.send_event(event);
        run_for(Duration::from_secs(3), &[&a, &b]).await;
    }
    assert_eq!(a.metrics.events_received_total(), 3);
    assert_eq!(
        b.metrics.events_received_total(),
        0,
        "the standby took none"
    );
    assert_eq!(group.estate.fake.deleted_events().len(), 3);

    a.kill();
    until_leads(&b, Duration::from_secs(30)).await;
    group.estate.fake.send_event(event);
    run_for(Duration::from_secs(5), &[&b]).await;
    assert_eq!(
        b.metrics.events_received_total(),
        1,
        "the new leader receives"
    );
}

#[tokio::test(start_paused = true)]
async fn a_leader_whose_renewals_take_a_whole_period_still_stops_on_sigterm() {
    // Found by the simulation (pool world, month run of seed 4): renewals taking a renewal
    // period each left the campaign no wait between them, and its loop took the ready
    // sleep before the stop every time: SIGTERM never ended it.
    let lease = Duration::from_secs(6);
    let group = Group::new(lease);
    group.add_service("s0");
    let a = group.start("a");
    run_for(Duration::from_secs(3), &[&a]).await;
    assert_eq!(leaders(&[&a]), vec!["a"]);
    a.lease_client.delay_renewals(lease / 3);
    run_for(Duration::from_secs(10), &[&a]).await;
    let stopped = tokio::time::timeout(Duration::from_secs(60), a.terminate()).await;
    assert!(stopped.is_ok(), "the campaign did not stop within a minute");
}
