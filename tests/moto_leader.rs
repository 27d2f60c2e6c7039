//! Two and three `ecs-ingress run` replicas against one moto, with the lease in a DynamoDB
//! table of the same moto: one leads, a kill -9 of the leader hands over within a lease and
//! a period, SIGTERM hands over within seconds, a leader frozen (SIGSTOP) past its lease
//! writes nothing when it resumes, and a standby makes no ECS, ELBv2 or Route 53 call (its
//! own metrics say so).

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use support::{Moto, Seed, free_port, http_get as get};

const TABLE: &str = "ecs-ingress-leases";
/// Short, so takeover after a kill takes seconds: 3 s lease, renewed every second.
const LEASE: &str = "3s";

/// One replica; killed when dropped.
struct Replica {
    id: &'static str,
    port: u16,
    child: Child,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Replica {
    fn start(moto: &Moto, seed: &Seed, id: &'static str, table: &str) -> Replica {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_ecs-ingress"))
            .arg("run")
            .args(seed.args())
            .args(["--admin-addr", &format!("127.0.0.1:{port}")])
            .args(["--interval", "2s"])
            .envs(moto.env())
            .env("ECS_INGRESS_LEADER_ELECTION_TABLE", table)
            .env("ECS_INGRESS_LEADER_ELECTION_LEASE", LEASE)
            .env("ECS_INGRESS_LEADER_ELECTION_ID", id)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        Replica { id, port, child }
    }

    fn metrics(&self) -> String {
        get(self.port, "/metrics").map(|r| r.1).unwrap_or_default()
    }

    /// `ecs_ingress_leader`, once the admin server answers.
    fn leads(&self) -> Option<bool> {
        let metrics = self.metrics();
        let line = metrics
            .lines()
            .find(|l| l.starts_with("ecs_ingress_leader "))?;
        Some(line.trim_end().ends_with(" 1"))
    }

    fn status(&self) -> serde_json::Value {
        get(self.port, "/status")
            .and_then(|(_, body)| serde_json::from_str(body.trim()).ok())
            .unwrap_or_default()
    }

    /// Calls to ECS, ELBv2 or Route 53 this replica's metrics counted.
    fn controller_calls(&self) -> Vec<String> {
        self.metrics()
            .lines()
            .filter(|l| l.starts_with("ecs_ingress_aws_calls_total{"))
            .filter(|l| {
                ["ecs", "elbv2", "route53"]
                    .iter()
                    .any(|s| l.contains(&format!("service=\"{s}\"")))
            })
            .map(str::to_string)
            .collect()
    }

    /// ECS, ELBv2 and Route 53 writes this replica sent (any outcome).
    fn controller_writes(&self) -> u64 {
        self.controller_calls()
            .iter()
            .filter(|l| {
                !["Describe", "List", "Get"]
                    .iter()
                    .any(|p| l.contains(&format!("operation=\"{p}")))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .map(|v| v as u64)
            .sum()
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        let ok = Command::new("kill")
            .args([signal, &pid])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill {signal} {pid}");
    }
}

async fn create_table(moto: &Moto) {
    create_table_keyed(moto, TABLE, "lock").await;
}

async fn create_table_keyed(moto: &Moto, table: &str, key: &str) {
    let dynamodb = aws_sdk_dynamodb::Client::new(&moto.sdk().await);
    dynamodb
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(key)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(key)
                .key_type(KeyType::Hash)
                .build()
                .expect("key"),
        )
        .send()
        .await
        .expect("table created");
}

/// Waits until exactly one of `replicas` reports `ecs_ingress_leader 1` and the others 0;
/// returns the leader's index and how long it took.
fn wait_one_leader(replicas: &[&Replica], limit: Duration) -> (usize, Duration) {
    let started = Instant::now();
    loop {
        let states: Vec<Option<bool>> = replicas.iter().map(|r| r.leads()).collect();
        let leaders: Vec<usize> = (0..states.len())
            .filter(|&i| states[i] == Some(true))
            .collect();
        if leaders.len() == 1 && states.iter().all(Option::is_some) {
            return (leaders[0], started.elapsed());
        }
        assert!(leaders.len() <= 1, "two leaders: {states:?}");
        assert!(
            started.elapsed() < limit,
            "no single leader within {limit:?}: {states:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_published(replica: &Replica, service: &str, limit: Duration, since: Instant) {
    loop {
        let status = replica.status();
        let published = status["services"].as_array().is_some_and(|list| {
            list.iter()
                .any(|s| s["service"] == service && s["state"] == "published")
        });
        if published {
            return;
        }
        assert!(
            since.elapsed() < limit,
            "{service} not published by {} within {limit:?}: {status}",
            replica.id
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn assert_standby(standby: &Replica, leader: &Replica) {
    let calls = standby.controller_calls();
    assert!(
        calls.is_empty(),
        "standby {} called ECS/ELB/Route 53: {calls:?}",
        standby.id
    );
    let status = standby.status();
    assert_eq!(status["leadership"]["mode"], "standby", "{status}");
    assert_eq!(status["leadership"]["leader"], leader.id, "{status}");
    assert_eq!(
        get(standby.port, "/readyz").map(|r| r.0),
        Some(200),
        "a standby that can take over is ready"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_leads_a_killed_leader_is_replaced_and_sigterm_hands_over() {
    let moto = Moto::start();
    let seed = moto.seed();
    create_table(&moto).await;
    moto.create_service(&seed, "service-a", support::SEED_TAGS, &[], &[]);
    let a = Replica::start(&moto, &seed, "replica-a", TABLE);
    std::thread::sleep(Duration::from_millis(500));
    let b = Replica::start(&moto, &seed, "replica-b", TABLE);
    let (index, _) = wait_one_leader(&[&a, &b], Duration::from_secs(20));
    let (leader, standby) = if index == 0 { (a, b) } else { (b, a) };
    wait_published(
        &leader,
        "service-a",
        Duration::from_secs(20),
        Instant::now(),
    );
    // Several passes later the standby still made no controller call.
    std::thread::sleep(Duration::from_secs(4));
    assert_standby(&standby, &leader);

    // kill -9: the standby takes over after the lease and publishes a new service.
    let killed = Instant::now();
    drop(leader);
    moto.create_service(
        &seed,
        "after-kill",
        &[("alb.host", "after-kill.in.example.com")],
        &[],
        &[],
    );
    let (_, took) = wait_one_leader(&[&standby], Duration::from_secs(20));
    eprintln!("takeover after kill -9: {took:?}");
    wait_published(&standby, "after-kill", Duration::from_secs(20), killed);
    let new_leader = standby;

    // SIGTERM: the leader releases the lease and a standby takes over within seconds.
    let c = Replica::start(&moto, &seed, "replica-c", TABLE);
    let deadline = Instant::now() + Duration::from_secs(20);
    while c.leads() != Some(false) {
        assert!(Instant::now() < deadline, "replica-c never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(3));
    assert_standby(&c, &new_leader);
    let mut new_leader = new_leader;
    new_leader.signal("-TERM");
    let terminated = Instant::now();
    let (_, _) = wait_one_leader(&[&c], Duration::from_secs(5));
    let handover = terminated.elapsed();
    eprintln!("handover after SIGTERM: {handover:?}");
    assert!(
        handover < Duration::from_secs(3),
        "SIGTERM handover took {handover:?}"
    );
    let exit = loop {
        if let Some(s) = new_leader.child.try_wait().expect("wait") {
            break s;
        }
        assert!(terminated.elapsed() < Duration::from_secs(10), "no exit");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(exit.code(), Some(0));
}

/// Waits until `/readyz` answers 503 naming `table`; returns the body.
fn wait_not_ready_naming(replica: &Replica, table: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some((503, body)) = get(replica.port, "/readyz")
            && body.contains(table)
        {
            eprintln!("/readyz: {}", body.trim());
            return body;
        }
        assert!(Instant::now() < deadline, "readyz never named {table}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_table_or_a_wrong_key_keeps_the_replica_up_not_ready_with_the_fix_named() {
    let moto = Moto::start();
    let seed = moto.seed();
    let a = Replica::start(&moto, &seed, "replica-a", "no-such-table");
    let body = wait_not_ready_naming(&a, "no-such-table");
    assert!(body.contains("does not exist"), "{body}");
    assert!(body.contains("partition key `lock`"), "{body}");
    assert_eq!(a.leads(), Some(false));
    assert!(a.controller_calls().is_empty());
    assert_eq!(get(a.port, "/healthz").map(|r| r.0), Some(200));

    create_table_keyed(&moto, "keyed-by-id", "id").await;
    let b = Replica::start(&moto, &seed, "replica-b", "keyed-by-id");
    let body = wait_not_ready_naming(&b, "keyed-by-id");
    assert!(body.contains("partition key `lock`"), "{body}");
    assert_eq!(b.leads(), Some(false));

    // The missing table appears: the replica that waited for it retries, takes the lease
    // and becomes ready.
    create_table_keyed(&moto, "no-such-table", "lock").await;
    wait_one_leader(&[&a], Duration::from_secs(20));
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(a.port, "/readyz").map(|r| r.0) != Some(200) {
        assert!(
            Instant::now() < deadline,
            "never ready once the table exists"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_leader_paused_longer_than_the_lease_writes_nothing_when_it_resumes() {
    let moto = Moto::start();
    let seed = moto.seed();
    create_table(&moto).await;
    moto.create_service(&seed, "service-a", support::SEED_TAGS, &[], &[]);
    let a = Replica::start(&moto, &seed, "replica-a", TABLE);
    std::thread::sleep(Duration::from_millis(500));
    let b = Replica::start(&moto, &seed, "replica-b", TABLE);
    let (index, _) = wait_one_leader(&[&a, &b], Duration::from_secs(20));
    let (leader, standby) = if index == 0 { (a, b) } else { (b, a) };
    wait_published(
        &leader,
        "service-a",
        Duration::from_secs(20),
        Instant::now(),
    );
    // Converged: passes make no writes now, so none is in flight when it is frozen.
    std::thread::sleep(Duration::from_secs(3));
    let writes_before = leader.controller_writes();
    assert!(writes_before > 0, "the leader published service-a");

    leader.signal("-STOP");
    let paused = Instant::now();
    moto.create_service(
        &seed,
        "during-pause",
        &[("alb.host", "during-pause.in.example.com")],
        &[],
        &[],
    );
    let (_, took) = wait_one_leader(&[&standby], Duration::from_secs(20));
    eprintln!("takeover from a paused leader: {took:?}");
    wait_published(&standby, "during-pause", Duration::from_secs(20), paused);
    // Paused for well over the lease (3 s), then resumed.
    std::thread::sleep(Duration::from_secs(8).saturating_sub(paused.elapsed()));
    leader.signal("-CONT");
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        leader.leads(),
        Some(false),
        "the resumed replica is a standby"
    );
    assert_eq!(standby.leads(), Some(true));
    assert_eq!(
        leader.controller_writes(),
        writes_before,
        "the resumed replica sent a write after its lease had passed"
    );
    let status = leader.status();
    assert_eq!(status["leadership"]["leader"], standby.id, "{status}");
}
