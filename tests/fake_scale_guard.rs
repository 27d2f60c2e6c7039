//! A small run of the scale benchmark as a regression guard: call counts, not timings.
//! With AWS's buckets enforced, a cold start is never throttled, a converged pass reads
//! exactly the floor's pages and writes nothing, and publishing one service takes the
//! minimum writes.

use ecs_ingress::fake::floor;
use ecs_ingress::testing::Estate;
use ecs_ingress::testing::listener_name;

const SERVICES: usize = 60;
const ALBS: usize = 3;

fn add(estate: &Estate, i: usize) {
    let host = format!("s{i}.in.example.com");
    let listener = listener_name(i % ALBS);
    estate.add_service(
        &format!("s{i}"),
        &[
            ("alb.host", host.as_str()),
            ("alb.listener", listener.as_str()),
        ],
        &[],
    );
}

#[tokio::test(start_paused = true)]
async fn counts_stay_at_the_floor() {
    let estate = Estate::new(ALBS);
    estate.fake.enforce_rate_limits();
    for i in 0..SERVICES {
        add(&estate, i);
    }
    let controller = estate.controller();
    let first = controller.pass(true).await;
    assert!(first.succeeded(), "{:?}", first.applied);
    assert_eq!(estate.fake.throttled(), 0, "never throttled");
    let counts = estate.fake.call_counts();
    assert_eq!(counts["CreateTargetGroup"], SERVICES);
    assert_eq!(counts["CreateRule"], SERVICES);
    assert_eq!(counts["UpdateService"], SERVICES);

    // Names wait for healthy targets (ECS's deployments take 5 checks 30 s apart).
    estate.converge(&controller, 20).await;
    assert_eq!(estate.fake.throttled(), 0, "never throttled");
    estate.fake.reset_calls();
    let steady = controller.pass(true).await;
    assert!(steady.plan.changes.is_empty());
    let counts = estate.fake.call_counts();
    assert_eq!(estate.fake.writes(), 0, "{counts:?}");
    let reads = estate.fake.calls().len();
    assert_eq!(
        reads,
        floor::steady_reads(SERVICES, ALBS),
        "steady reads by operation: {counts:?}"
    );

    estate.fake.reset_calls();
    add(&estate, SERVICES);
    estate.converge(&controller, 20).await;
    let writes: Vec<&str> = estate
        .fake
        .calls()
        .iter()
        .filter(|c| c.is_write())
        .map(|c| c.operation)
        .collect();
    assert_eq!(
        writes,
        vec![
            "CreateTargetGroup",
            "CreateRule",
            "UpdateService",
            "ChangeResourceRecordSets"
        ]
    );
    assert_eq!(estate.fake.throttled(), 0);
}
