//! `ecs-ingress run` against moto: admin endpoints, services tagged while it runs, the SQS
//! event fast path (an event that names nothing narrower triggers a full pass; tag, untag
//! and a hand-edited rule are handled by targeted passes), and a clean exit on SIGTERM.

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
        metrics.contains("ecs_ingress_events_received_total{type=\"cloudtrail-ecs\"} 1"),
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

/// A value of `/metrics` (the first series that starts with `series`), 0 when absent.
fn metric(port: u16, series: &str) -> f64 {
    get(port, "/metrics")
        .and_then(|(_, text)| {
            text.lines()
                .find(|l| l.starts_with(series))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0.0)
}

const LIST_SERVICES: &str =
    "ecs_ingress_aws_calls_total{service=\"ecs\",operation=\"ListServices\",outcome=\"success\"}";
const FULL_PASSES: &str = "ecs_ingress_passes_total{kind=\"full\",result=\"success\"}";
const TARGETED_PASSES: &str = "ecs_ingress_passes_total{kind=\"targeted\",result=\"success\"}";

/// A CloudTrail "AWS API Call" event as EventBridge delivers it, made by someone else.
fn cloudtrail(source: &str, event_source: &str, name: &str, request: serde_json::Value) -> String {
    serde_json::json!({
        "version": "0",
        "source": source,
        "detail-type": "AWS API Call via CloudTrail",
        "account": "123456789012",
        "region": "us-east-1",
        "detail": {
            "eventSource": event_source,
            "eventName": name,
            "userAgent": "aws-cli/2.15",
            "requestParameters": request,
        }
    })
    .to_string()
}

/// Every non-default rule of `listener` with its host values.
async fn rule_hosts(
    elb: &aws_sdk_elasticloadbalancingv2::Client,
    listener: &str,
) -> Vec<(String, Vec<String>)> {
    let rules = elb
        .describe_rules()
        .listener_arn(listener)
        .send()
        .await
        .expect("rules");
    rules
        .rules()
        .iter()
        .filter(|r| !r.is_default().unwrap_or(false))
        .map(|r| {
            let hosts = r
                .conditions()
                .iter()
                .flat_map(|c| {
                    c.host_header_config()
                        .map(|h| h.values().to_vec())
                        .unwrap_or_else(|| c.values().to_vec())
                })
                .collect();
            (r.rule_arn().unwrap_or_default().to_string(), hosts)
        })
        .collect()
}

/// Polls `check` every 100 ms; returns how long it took to hold.
async fn within(limit: Duration, what: &str, mut check: impl AsyncFnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread")]
async fn tag_untag_and_a_hand_edit_are_handled_by_targeted_passes_within_seconds() {
    let moto = Moto::start();
    let seed = moto.seed();
    let sdk = moto.sdk().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk);
    let queue = sqs
        .create_queue()
        .queue_name("ecs-ingress-events")
        .send()
        .await
        .expect("queue")
        .queue_url()
        .unwrap_or_default()
        .to_string();
    let service = moto.create_service(&seed, "evt", &[], &[], &[]);
    let port = free_port();
    let _daemon = daemon(
        &moto,
        &seed,
        port,
        &["--interval", "300s", "--events-queue-url", &queue],
    );
    wait_ready(port);
    let full_passes = metric(port, FULL_PASSES);
    let list_services = metric(port, LIST_SERVICES);
    let send = async |body: String| {
        sqs.send_message()
            .queue_url(&queue)
            .message_body(body)
            .send()
            .await
            .expect("send");
    };
    let ecs_event = |name: &str| {
        cloudtrail(
            "aws.ecs",
            "ecs.amazonaws.com",
            name,
            serde_json::json!({ "resourceArn": service }),
        )
    };
    let host = "evt.in.example.com".to_string();
    let has_rule = async |want: bool| {
        rule_hosts(&elb, &seed.listener_arn)
            .await
            .iter()
            .any(|(_, hosts)| hosts.contains(&host))
            == want
    };

    // Tagging the service publishes it.
    ecs.tag_resource()
        .resource_arn(&service)
        .tags(
            aws_sdk_ecs::types::Tag::builder()
                .key("alb.host")
                .value(&host)
                .build(),
        )
        .send()
        .await
        .expect("tag");
    send(ecs_event("TagResource")).await;
    within(Duration::from_secs(8), "a rule after tagging", async || {
        has_rule(true).await
    })
    .await;
    wait_published(port, "evt", Duration::from_secs(10));

    // A rule changed by hand is put back.
    let (rule_arn, _) = rule_hosts(&elb, &seed.listener_arn)
        .await
        .into_iter()
        .find(|(_, hosts)| hosts.contains(&host))
        .expect("its rule");
    elb.modify_rule()
        .rule_arn(&rule_arn)
        .conditions(
            aws_sdk_elasticloadbalancingv2::types::RuleCondition::builder()
                .field("host-header")
                .values("hijacked.in.example.com")
                .build(),
        )
        .send()
        .await
        .expect("modify rule");
    send(cloudtrail(
        "aws.elasticloadbalancing",
        "elasticloadbalancing.amazonaws.com",
        "ModifyRule",
        serde_json::json!({ "ruleArn": rule_arn }),
    ))
    .await;
    within(Duration::from_secs(8), "the rule put back", async || {
        has_rule(true).await
    })
    .await;

    // Untagging withdraws it.
    ecs.untag_resource()
        .resource_arn(&service)
        .tag_keys("alb.host")
        .send()
        .await
        .expect("untag");
    send(ecs_event("UntagResource")).await;
    within(Duration::from_secs(8), "the rule withdrawn", async || {
        has_rule(false).await
    })
    .await;

    // All of it by targeted passes: no full pass, no ListServices since start-up. The pass
    // that withdrew the rule goes on after it (the group, the backend rule) before it is
    // counted.
    within(
        Duration::from_secs(8),
        "three targeted passes counted",
        async || metric(port, TARGETED_PASSES) >= 3.0,
    )
    .await;
    assert_eq!(metric(port, FULL_PASSES), full_passes, "a full pass ran");
    assert_eq!(
        metric(port, LIST_SERVICES),
        list_services,
        "the estate was listed"
    );
    assert!(metric(port, "ecs_ingress_event_to_change_seconds_count") >= 3.0);
}
