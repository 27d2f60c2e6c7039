//! The daemon loop on paused (virtual) time with the in-memory AWS: the interval, event
//! debounce, backoff after failures, health turning red on a stuck pass, and shutdown in
//! the middle of a pass.

use std::sync::Arc;
use std::time::Duration;

use ecs_ingress::admin::AdminState;
use ecs_ingress::aws::ErrorKind;
use ecs_ingress::events::Events;
use ecs_ingress::fake::Fault;
use ecs_ingress::runtime::Controller;
use ecs_ingress::telemetry::{PassKind, PassResult};
use ecs_ingress::testing::{Estate, SEED_TAGS};

/// Passes of every kind that ended with `result`.
fn passes(estate: &Estate, result: &str) -> u64 {
    let result = match result {
        "success" => PassResult::Success,
        _ => PassResult::Partial,
    };
    PassKind::ALL
        .into_iter()
        .map(|kind| estate.metrics.passes_count(kind, result))
        .sum()
}

struct Running {
    controller: Arc<Controller>,
    admin: Arc<AdminState>,
    task: tokio::task::JoinHandle<()>,
    /// Stops the event receiver when the test ends.
    _events_stop: tokio::sync::watch::Sender<bool>,
}

fn start(estate: &Estate, interval: Duration, events: bool) -> Running {
    let mut config = estate.config();
    config.interval = interval;
    // As `--events-queue-url` sets it: full passes every 10 minutes.
    config.resync_interval = events.then_some(Duration::from_secs(600));
    let controller = Arc::new(estate.controller_with(config));
    let admin = Arc::new(AdminState::new(estate.metrics.clone(), interval));
    let (events_stop, events_stopped) = tokio::sync::watch::channel(false);
    let events = events.then(|| {
        let e = Events::new(estate.fake.clone(), estate.metrics.clone());
        tokio::spawn(e.clone().receive_loop(events_stopped));
        e
    });
    let task = {
        let controller = controller.clone();
        let admin = admin.clone();
        tokio::spawn(async move { controller.run(admin, events).await })
    };
    Running {
        controller,
        admin,
        task,
        _events_stop: events_stop,
    }
}

#[tokio::test(start_paused = true)]
async fn passes_follow_the_jittered_interval() {
    let estate = Estate::new(1);
    let running = start(&estate, Duration::from_secs(30), false);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(passes(&estate, "success"), 1, "first pass at start-up");
    assert!(running.admin.is_ready());
    tokio::time::sleep(Duration::from_secs(25)).await;
    assert_eq!(
        passes(&estate, "success"),
        1,
        "not before 27 s (30 s - 10%)"
    );
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(passes(&estate, "success"), 2, "by 33 s (30 s + 10%)");
    running.controller.shutdown();
    running.task.await.expect("loop ends");
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_events_triggers_one_early_pass_and_is_deleted_after_it() {
    let estate = Estate::new(1);
    let running = start(&estate, Duration::from_secs(300), true);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(passes(&estate, "success"), 1);
    estate.add_service("late", &[("alb.host", "late.in.example.com")], &[]);
    let mut receipts = Vec::new();
    for _ in 0..5 {
        receipts.push(estate.fake.send_event(
            r#"{"source":"aws.ecs","detail-type":"AWS API Call via CloudTrail","detail":{"eventName":"TagResource"}}"#,
        ));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let malformed = estate.fake.send_event("not an event");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        estate
            .metrics
            .passes_count(PassKind::Full, PassResult::Success),
        2,
        "one full pass for the whole burst (events that name nothing narrower)"
    );
    let mut deleted = estate.fake.deleted_events();
    deleted.sort();
    let mut want = receipts.clone();
    want.push(malformed);
    want.sort();
    assert_eq!(deleted, want);
    assert_eq!(estate.metrics.events_malformed.get(), 1);
    assert_eq!(estate.metrics.events_received_total(), 6);
    let rules = estate
        .fake
        .world()
        .rules
        .values()
        .filter(|r| r.hosts.contains(&"late.in.example.com".to_string()))
        .count();
    assert_eq!(rules, 1, "published by the event-triggered pass");
    running.controller.shutdown();
    running.task.await.expect("loop ends");
}

fn full(estate: &Estate) -> u64 {
    estate
        .metrics
        .passes_count(PassKind::Full, PassResult::Success)
}

fn targeted(estate: &Estate) -> u64 {
    estate
        .metrics
        .passes_count(PassKind::Targeted, PassResult::Success)
}

fn has_record(estate: &Estate, name: &str) -> bool {
    estate
        .fake
        .world()
        .zones
        .get(&estate.zone_id)
        .is_some_and(|(_, records)| records.iter().any(|r| r.name == name))
}

#[tokio::test(start_paused = true)]
async fn events_naming_a_service_drive_targeted_passes_and_the_resync_stays_full() {
    let estate = Estate::new(1);
    estate.add_service("a", SEED_TAGS, &[]);
    let running = start(&estate, Duration::from_secs(300), true);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!((full(&estate), targeted(&estate)), (1, 0));
    // Published ALB-side by the first pass; its name waits for a healthy target, which the
    // follow-up targeted passes see long before the interval.
    tokio::time::sleep(Duration::from_secs(40)).await;
    assert!(has_record(&estate, "service-a.in.example.com"));
    assert_eq!(full(&estate), 1, "follow-ups are targeted");
    let settled = targeted(&estate);
    assert!(settled >= 1);

    let late = estate.add_service("late", &[("alb.host", "late.in.example.com")], &[]);
    estate.fake.send_event(&format!(
        r#"{{"source":"aws.ecs","detail-type":"AWS API Call via CloudTrail","account":"123456789012","region":"us-east-1","detail":{{"eventSource":"ecs.amazonaws.com","eventName":"TagResource","requestParameters":{{"resourceArn":"{late}"}}}}}}"#
    ));
    tokio::time::sleep(Duration::from_secs(4)).await;
    let rules = estate
        .owned_rules()
        .iter()
        .filter(|r| r.hosts == ["late.in.example.com"])
        .count();
    assert_eq!(rules, 1, "published by a targeted pass within seconds");
    assert_eq!(full(&estate), 1);
    assert!(targeted(&estate) > settled);
    let text = estate.metrics.encode();
    assert!(
        text.contains("ecs_ingress_event_to_change_seconds_count 1"),
        "{text}"
    );
    assert!(
        text.contains("ecs_ingress_events_received_total{type=\"cloudtrail-ecs\"} 1"),
        "{text}"
    );
    // A rule of a service it does not own concerns nothing: no pass at all.
    let before = (full(&estate), targeted(&estate));
    tokio::time::sleep(Duration::from_secs(300)).await;
    let idle = (full(&estate), targeted(&estate));
    assert_eq!(idle.0, before.0, "no full pass before the resync interval");
    estate.fake.send_event(r#"{"source":"aws.elasticloadbalancing","detail-type":"AWS API Call via CloudTrail","detail":{"eventSource":"elasticloadbalancing.amazonaws.com","eventName":"ModifyRule","requestParameters":{"ruleArn":"arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/x/1/2/3"}}}"#);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!((full(&estate), targeted(&estate)), idle);
    // The resync: a full pass about 10 minutes after the last one.
    tokio::time::sleep(Duration::from_secs(360)).await;
    assert_eq!(full(&estate), 2);
    running.controller.shutdown();
    running.task.await.expect("loop ends");
}

#[tokio::test(start_paused = true)]
async fn failed_passes_back_off_exponentially_then_reset() {
    let estate = Estate::new(1);
    estate.fake.inject(Fault {
        operation: "ListServices",
        kind: ErrorKind::Unavailable,
        times: 3,
    });
    let running = start(&estate, Duration::from_secs(30), false);
    // Failures at 0 s, 1 s, 3 s; success at 7 s (waits 1, 2, 4 s).
    tokio::time::sleep(Duration::from_millis(6_500)).await;
    assert_eq!(passes(&estate, "partial"), 3);
    assert_eq!(passes(&estate, "success"), 0);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(passes(&estate, "success"), 1);
    // Reset: the next pass waits a whole interval again.
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(passes(&estate, "success"), 1);
    running.controller.shutdown();
    running.task.await.expect("loop ends");
}

#[tokio::test(start_paused = true)]
async fn a_stuck_pass_turns_health_red_after_three_intervals() {
    let estate = Estate::new(1);
    let running = start(&estate, Duration::from_secs(10), false);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(running.admin.is_live());
    // Every ListServices now hangs for an hour.
    estate.fake.delay("ListServices", Duration::from_secs(3600));
    tokio::time::sleep(Duration::from_secs(25)).await;
    assert!(
        running.admin.is_live(),
        "within three intervals of the last pass"
    );
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(!running.admin.is_live(), "no pass for more than 30 s");
    running.task.abort();
}

#[tokio::test(start_paused = true)]
async fn a_long_first_pass_that_makes_progress_stays_live() {
    let estate = Estate::new(2);
    estate.fake.enforce_rate_limits();
    for i in 0..200 {
        let listener = if i % 2 == 0 { "default" } else { "alb-1" };
        estate.add_service(
            &format!("s{i}"),
            &[
                ("alb.host", &format!("s{i}.in.example.com")),
                ("alb.listener", listener),
            ],
            &[],
        );
    }
    // 400 creates through ELB's mutating bucket (3 per second): the first pass takes over
    // two minutes, far longer than three 10 s intervals.
    let running = start(&estate, Duration::from_secs(10), false);
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(running.admin.is_live(), "calls keep completing");
    }
    assert!(
        running.admin.report().last_pass.is_none(),
        "the first pass is still under way after 100 s"
    );
    running.task.abort();
}

#[tokio::test(start_paused = true)]
async fn shutdown_mid_pass_finishes_the_changes_in_flight_and_starts_no_other() {
    let estate = Estate::new(1);
    for name in ["a", "b", "c"] {
        estate.add_service(
            name,
            &[("alb.host", &format!("{name}.in.example.com"))],
            &[],
        );
    }
    estate
        .fake
        .delay("CreateTargetGroup", Duration::from_secs(5));
    let running = start(&estate, Duration::from_secs(30), false);
    tokio::time::sleep(Duration::from_secs(2)).await;
    running.controller.shutdown();
    let started = tokio::time::Instant::now();
    running.task.await.expect("loop ends");
    assert!(
        started.elapsed() <= Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let counts = estate.fake.call_counts();
    // Each service's pipeline had its first change in flight; those finish.
    assert_eq!(counts.get("CreateTargetGroup"), Some(&3), "{counts:?}");
    let made = estate
        .fake
        .world()
        .target_groups
        .values()
        .filter(|g| g.name.starts_with("ei-"))
        .count();
    assert_eq!(made, 3, "the changes in flight finished");
    assert_eq!(
        counts.get("CreateRule"),
        None,
        "nothing new after the signal"
    );
    // A fresh controller converges from there.
    let fresh = estate.controller();
    estate.fake.delay("CreateTargetGroup", Duration::ZERO);
    let report = fresh.pass(true).await;
    assert!(report.succeeded(), "{:?}", report.applied);
    let before = estate.fake.writes();
    fresh.pass(true).await;
    assert_eq!(estate.fake.writes(), before);
}

#[tokio::test(start_paused = true)]
async fn independent_reads_run_concurrently_within_the_rate_limit() {
    let estate = Estate::new(1);
    for i in 0..32 {
        estate.add_service(
            &format!("s{i}"),
            &[("alb.host", &format!("s{i}.in.example.com"))],
            &[],
        );
    }
    // Each task-definition read takes a second: one after the other would be 32 s.
    estate
        .fake
        .delay("DescribeTaskDefinition", Duration::from_secs(1));
    let controller = estate.controller();
    let started = tokio::time::Instant::now();
    controller.pass(false).await;
    let took = started.elapsed();
    assert!(took <= Duration::from_secs(3), "took {took:?}");
    assert_eq!(estate.fake.call_counts()["DescribeTaskDefinition"], 32);
}

#[tokio::test(start_paused = true)]
async fn start_up_failures_keep_it_live_but_not_ready_until_reads_succeed() {
    let estate = Estate::new(1);
    estate.add_service("a", &[("alb.host", "a.in.example.com")], &[]);
    // As with no credentials: every ListServices is refused for a while.
    estate.fake.inject(Fault {
        operation: "ListServices",
        kind: ErrorKind::AccessDenied,
        times: 1000,
    });
    let running = start(&estate, Duration::from_secs(10), false);
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(running.admin.is_live(), "the loop keeps running");
    assert!(!running.admin.is_ready(), "not ready while reads fail");
    let status = running.admin.report();
    assert_eq!(status.last_pass_result.as_deref(), Some("partial"));
    estate.fake.clear_faults();
    tokio::time::sleep(Duration::from_secs(15)).await;
    assert!(
        running.admin.is_ready(),
        "ready after the first complete pass"
    );
    running.controller.shutdown();
    running.task.await.expect("loop ends");
}
