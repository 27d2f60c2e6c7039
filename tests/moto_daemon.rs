//! `ecs-ingress run` against moto: admin endpoints, services tagged while it runs, the SQS
//! event fast path, and a clean exit on SIGTERM.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Daemon, Moto, free_port, http_get as get};

fn daemon(moto: &Moto, seed: &support::Seed, port: u16, extra: &[&str]) -> Daemon {
    let child = Command::new(env!("CARGO_BIN_EXE_ecs-ingress"))
        .arg("run")
        .args(seed.args())
        .args(["--admin-addr", &format!("127.0.0.1:{port}")])
        .args(extra)
        .envs(moto.env())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    Daemon(child)
}

/// Polls `/status` until `service` is published; returns how long it took.
fn wait_published(port: u16, service: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        if let Some((200, body)) = get(port, "/status")
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(body.trim())
            && v["services"].as_array().is_some_and(|list| {
                list.iter()
                    .any(|s| s["service"] == service && s["state"] == "published")
            })
        {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "{service} not published within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(port, "/readyz").map(|r| r.0) != Some(200) {
        assert!(Instant::now() < deadline, "never ready");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_service_tagged_while_it_runs_is_published_within_two_intervals() {
    let moto = Moto::start();
    let seed = moto.seed();
    let port = free_port();
    let _daemon = daemon(&moto, &seed, port, &["--interval", "2s"]);
    wait_ready(port);
    moto.create_service(
        &seed,
        "late",
        &[("alb.host", "late.in.example.com")],
        &[],
        &[],
    );
    // Published by the first pass after it appeared and confirmed by the next read.
    wait_published(port, "late", Duration::from_secs(8));
    let (_, html) = get(port, "/").expect("index");
    assert!(html.contains("late.in.example.com"), "{html}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_sqs_event_triggers_a_pass_before_the_interval() {
    let moto = Moto::start();
    let seed = moto.seed();
    let sqs = aws_sdk_sqs::Client::new(&moto.sdk().await);
    let queue = sqs
        .create_queue()
        .queue_name("ecs-ingress-events")
        .send()
        .await
        .expect("queue")
        .queue_url()
        .unwrap_or_default()
        .to_string();
    let port = free_port();
    let _daemon = daemon(
        &moto,
        &seed,
        port,
        &["--interval", "10m", "--events-queue-url", &queue],
    );
    wait_ready(port);
    moto.create_service(
        &seed,
        "evented",
        &[("alb.host", "evented.in.example.com")],
        &[],
        &[],
    );
    sqs.send_message()
        .queue_url(&queue)
        .message_body(r#"{"source":"aws.ecs","detail-type":"AWS API Call via CloudTrail","detail":{"eventName":"CreateService"}}"#)
        .send()
        .await
        .expect("send");
    // The interval is 10 minutes: only the event can explain a pass within seconds. The
    // service is pending after that pass (its changes were just applied).
    let started = Instant::now();
    loop {
        if let Some((200, body)) = get(port, "/status")
            && body.contains("evented")
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "event did not trigger a pass"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, metrics) = get(port, "/metrics").expect("metrics");
    assert!(
        metrics.contains("ecs_ingress_events_received_total 1"),
        "{metrics}"
    );
    // The message is deleted once its pass finished.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&queue)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .expect("attributes");
        let count = |k: aws_sdk_sqs::types::QueueAttributeName| {
            attrs
                .attributes()
                .and_then(|a| a.get(&k))
                .cloned()
                .unwrap_or_default()
        };
        if count(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages) == "0"
            && count(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                == "0"
        {
            break;
        }
        assert!(Instant::now() < deadline, "event message never deleted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn run_serves_admin_endpoints_and_exits_zero_on_sigterm() {
    let moto = Moto::start();
    let seed = moto.seed();
    moto.create_service(&seed, "service-a", support::SEED_TAGS, &[], &[]);
    let port = free_port();
    let mut daemon = daemon(&moto, &seed, port, &["--interval", "2s"]);
    wait_ready(port);
    assert_eq!(get(port, "/healthz").map(|r| r.0), Some(200));
    let (code, metrics) = get(port, "/metrics").expect("metrics");
    assert_eq!(code, 200);
    assert!(metrics.contains("ecs_ingress_passes_total"), "{metrics}");
    assert!(metrics.contains("ecs_ingress_aws_calls_total{service=\"ecs\",operation=\"ListServices\",outcome=\"success\"}"), "{metrics}");
    let (code, status) = get(port, "/status").expect("status");
    assert_eq!(code, 200);
    let v: serde_json::Value =
        serde_json::from_str(status.trim()).unwrap_or_else(|e| panic!("{e}: {status}"));
    assert_eq!(v["services"][0]["service"], "service-a");
    let (code, html) = get(port, "/").expect("index");
    assert_eq!(code, 200);
    assert!(html.contains("service-a"));

    let pid = daemon.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = daemon.0.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(0));
}
