//! The fake's own AWS rules: a lenient fake would let controller bugs through.

use super::*;
use crate::aws::{EcsApi, ElbApi};
use crate::state::{RuleSpec, TargetGroupSpec};
use crate::testing::Estate;

fn spec(name: &str) -> TargetGroupSpec {
    TargetGroupSpec {
        name: name.into(),
        protocol: crate::state::Protocol::Http,
        protocol_version: crate::state::ProtocolVersion::Http1,
        port: 8080,
        target_type: crate::state::TargetType::Ip,
        vpc_id: crate::testing::VPC.into(),
        health_check: default_health_check().into(),
        attributes: Default::default(),
        tags: Default::default(),
    }
}

fn rule(listener: &str, priority: u32, host: &str, tg: &str) -> RuleSpec {
    RuleSpec {
        listener_arn: listener.into(),
        priority,
        hosts: vec![host.into()],
        paths: vec![],
        target_group_arn: tg.into(),
        staged_target_group_arn: None,
        tags: Default::default(),
    }
}

fn listener(estate: &Estate) -> String {
    estate.listeners["default"].clone()
}

#[tokio::test(start_paused = true)]
async fn priorities_are_unique_per_listener() {
    let estate = Estate::new(1);
    let l = listener(&estate);
    let tg = estate.fake.create_target_group(&spec("a")).await.unwrap();
    estate
        .fake
        .create_rule(&rule(&l, 5, "a.x", &tg))
        .await
        .unwrap();
    let e = estate
        .fake
        .create_rule(&rule(&l, 5, "b.x", &tg))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::PriorityInUse);
    let second = estate
        .fake
        .create_rule(&rule(&l, 6, "b.x", &tg))
        .await
        .unwrap();
    let first = estate.fake.world().listener_rules(&l)[0].arn.clone();
    // Swapping in one call is fine; a collision after the call is not.
    estate
        .fake
        .set_rule_priorities(&[(first.to_string(), 6), (second.clone(), 5)])
        .await
        .unwrap();
    let e = estate
        .fake
        .set_rule_priorities(&[(first.to_string(), 7), (second, 7)])
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::PriorityInUse);
}

#[tokio::test(start_paused = true)]
async fn rule_limits_are_enforced() {
    let estate = Estate::new(1);
    let l = listener(&estate);
    let tg = estate.fake.create_target_group(&spec("a")).await.unwrap();
    let mut four = rule(&l, 1, "a.x", &tg);
    four.hosts = (0..4).map(|i| format!("h{i}.x")).collect();
    let e = estate.fake.create_rule(&four).await.unwrap_err();
    assert_eq!(
        e.code.as_deref(),
        Some("ValidationError"),
        "3 values per condition"
    );
    let mut six = rule(&l, 1, "a.x", &tg);
    six.hosts = (0..3).map(|i| format!("h{i}.x")).collect();
    six.paths = (0..3).map(|i| format!("/p{i}")).collect();
    let e = estate.fake.create_rule(&six).await.unwrap_err();
    assert_eq!(e.code.as_deref(), Some("TooManyConditionValues"));
    let mut wild = rule(&l, 1, "a.x", &tg);
    wild.hosts = vec!["*.a.x".into(), "*.b.x".into()];
    wild.paths = vec!["/*/*".into(), "/x*/*".into()];
    let e = estate.fake.create_rule(&wild).await.unwrap_err();
    assert_eq!(
        e.code.as_deref(),
        Some("ValidationError"),
        "5 wildcards per rule"
    );
    for p in 1..=100 {
        estate
            .fake
            .create_rule(&rule(&l, p, &format!("h{p}.x"), &tg))
            .await
            .unwrap();
    }
    let e = estate
        .fake
        .create_rule(&rule(&l, 101, "over.x", &tg))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Quota);
}

#[tokio::test(start_paused = true)]
async fn target_groups_per_alb_are_capped() {
    let estate = Estate::new(1);
    let l = listener(&estate);
    // The listener's default target group is the first of the ALB's 100.
    for i in 1..100 {
        let tg = estate
            .fake
            .create_target_group(&spec(&format!("g{i}")))
            .await
            .unwrap();
        estate
            .fake
            .create_rule(&rule(&l, i, &format!("h{i}.x"), &tg))
            .await
            .unwrap();
    }
    let tg = estate
        .fake
        .create_target_group(&spec("g100"))
        .await
        .unwrap();
    let e = estate
        .fake
        .create_rule(&rule(&l, 100, "h100.x", &tg))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Quota, "{e}");
}

#[tokio::test(start_paused = true)]
async fn target_group_names_and_duplicates_follow_aws() {
    let estate = Estate::new(1);
    let long = "x".repeat(33);
    for bad in [long.as_str(), "-a", "a-", "a_b", "internal-a", ""] {
        let e = estate
            .fake
            .create_target_group(&spec(bad))
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Validation, "{bad}");
    }
    let a = estate
        .fake
        .create_target_group(&spec("same"))
        .await
        .unwrap();
    let again = estate
        .fake
        .create_target_group(&spec("same"))
        .await
        .unwrap();
    assert_eq!(
        a, again,
        "same name and settings: AWS returns the existing group"
    );
    let mut other = spec("same");
    other.port = 9090;
    let e = estate.fake.create_target_group(&other).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Duplicate);
}

#[tokio::test(start_paused = true)]
async fn in_use_target_groups_cannot_be_deleted_or_attached_early() {
    let estate = Estate::new(1);
    let l = listener(&estate);
    let svc = estate.add_service("svc", &[], &[]);
    let tg = estate.fake.create_target_group(&spec("a")).await.unwrap();
    let attachment = [crate::state::LoadBalancerAttachment {
        target_group_arn: Some(tg.clone()),
        load_balancer_name: None,
        container_name: Some("app".into()),
        container_port: Some(8080),
        advanced: None,
    }];
    let e = estate
        .fake
        .update_service_load_balancers("main", "svc", Some(&attachment), None)
        .await
        .unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::Validation,
        "no load balancer uses it yet"
    );
    let r = estate
        .fake
        .create_rule(&rule(&l, 1, "a.x", &tg))
        .await
        .unwrap();
    estate
        .fake
        .update_service_load_balancers("main", "svc", Some(&attachment), None)
        .await
        .unwrap();
    assert_eq!(estate.fake.world().services[&svc].deployments, 1);
    let e = estate.fake.delete_target_group(&tg).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::InUse);
    estate.fake.delete_rule(&r).await.unwrap();
    estate.fake.delete_target_group(&tg).await.unwrap();
    let e = estate.fake.delete_rule(&r).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
}

#[tokio::test(start_paused = true)]
async fn a_service_takes_at_most_five_target_groups() {
    let estate = Estate::new(1);
    let l = listener(&estate);
    estate.add_service("svc", &[], &[]);
    let mut attachment = Vec::new();
    for i in 0..6u32 {
        let tg = estate
            .fake
            .create_target_group(&spec(&format!("g{i}")))
            .await
            .unwrap();
        estate
            .fake
            .create_rule(&rule(&l, i + 1, &format!("h{i}.x"), &tg))
            .await
            .unwrap();
        attachment.push(crate::state::LoadBalancerAttachment {
            target_group_arn: Some(tg),
            load_balancer_name: None,
            container_name: Some("app".into()),
            container_port: Some(8080),
            advanced: None,
        });
    }
    let e = estate
        .fake
        .update_service_load_balancers("main", "svc", Some(&attachment), None)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Validation);
    estate
        .fake
        .update_service_load_balancers("main", "svc", Some(&attachment[..5]), None)
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn buckets_throttle_and_refill() {
    let estate = Estate::new(1);
    estate.fake.enforce_rate_limits();
    // The client's limiter has the same buckets as AWS: it spends the burst of 40, then
    // waits for the refill instead of sending a call AWS would throttle.
    let l = listener(&estate);
    for _ in 0..40 {
        estate.fake.describe_rules(&l).await.unwrap();
    }
    assert_eq!(estate.fake.throttled(), 0);
    let before = tokio::time::Instant::now();
    estate.fake.describe_rules(&l).await.unwrap();
    assert!(
        before.elapsed() >= std::time::Duration::from_millis(99),
        "the client waited for the refill instead of being throttled"
    );
    assert_eq!(estate.fake.throttled(), 0);
}

#[tokio::test(start_paused = true)]
async fn server_side_throttling_answers_throttling() {
    // A client allowed 100% of the bucket plus a second client on the same account.
    let estate = Estate::new(1);
    estate.fake.enforce_rate_limits();
    let l = listener(&estate);
    for _ in 0..40 {
        estate.fake.admit("elbv2", "DescribeRules").unwrap();
    }
    let e = estate.fake.describe_rules(&l).await;
    // The client's own bucket is full, so it sends at once and AWS's bucket says no.
    let e = e.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Throttled);
    assert_eq!(estate.fake.throttled(), 1);
}

#[tokio::test(start_paused = true)]
async fn faults_fire_the_given_number_of_times_and_paged_reads_count_pages() {
    let estate = Estate::new(1);
    for i in 0..250 {
        estate.add_service(&format!("s{i}"), &[], &[]);
    }
    estate.fake.inject(Fault {
        operation: "ListServices",
        kind: ErrorKind::Unavailable,
        times: 1,
    });
    let e = estate.fake.list_services("main").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unavailable);
    estate.fake.reset_calls();
    let arns = estate.fake.list_services("main").await.unwrap();
    assert_eq!(arns.len(), 250);
    assert_eq!(estate.fake.call_counts()["ListServices"], 3, "100 per page");
}

#[tokio::test(start_paused = true)]
async fn answers_hold_maps_of_their_own() {
    // As AWS's answers are decoded afresh: one sharing the fake's maps would make the
    // controller's memory look smaller than it is (the benchmark counts the fake apart).
    let estate = Estate::new(1);
    let arn = estate.add_service("a", &[("alb.host", "a.in.example.com")], &[("team", "x")]);
    let aws = estate.fake.aws();
    let cluster = estate.fake.world().services[&arn]
        .service
        .cluster_arn
        .clone();
    let answer = aws
        .ecs
        .describe_services(&cluster, std::slice::from_ref(&arn))
        .await
        .expect("the service");
    let world = estate.fake.world();
    let held = &world.services[&arn].service.tags;
    assert_eq!(&answer[0].tags, held);
    assert!(!answer[0].tags.is_shared_with(held));
}
