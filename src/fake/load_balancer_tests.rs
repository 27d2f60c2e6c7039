//! ALBs and listeners created and deleted at run time: AWS's rules for them, through the
//! same trait as the real adapter.

use std::collections::BTreeSet;

use super::*;
use crate::aws::{ElbApi, TaggingApi, UNCOPYABLE_DEFAULT_ACTION};
use crate::state::{
    AliasTarget, DefaultAction, ListenerSettings, LoadBalancerSettings, RecordSet, RuleSpec,
    Target, TargetGroupSpec,
};
use crate::testing::{CLUSTER, Estate, VPC};

fn owned() -> Tags {
    tags(&[
        ("ecs-ingress/owner", "test"),
        ("ecs-ingress/pool", "internal"),
    ])
}

/// The seed ALB of a one-ALB estate: (ALB ARN, listener ARN).
fn seed(estate: &Estate) -> (String, String) {
    let listener = estate.listeners["default"].clone();
    let alb = estate.fake.world().listeners[&listener]
        .load_balancer_arn
        .clone();
    (alb, listener)
}

fn fixed_response(port: i32) -> ListenerSettings {
    ListenerSettings {
        port,
        protocol: "HTTP".into(),
        default_actions: vec![DefaultAction::FixedResponse {
            status_code: "404".into(),
            content_type: Some("text/plain".into()),
            message_body: Some("no route".into()),
        }],
        certificates: vec![],
        ssl_policy: None,
    }
}

async fn seed_settings(estate: &Estate) -> LoadBalancerSettings {
    let (alb, _) = seed(estate);
    estate
        .fake
        .describe_load_balancer_settings(&alb)
        .await
        .expect("seed settings")
}

fn code(e: &AwsError) -> &str {
    e.code.as_deref().unwrap_or_default()
}

#[tokio::test(start_paused = true)]
async fn a_clone_copies_settings_and_listener_and_goes_with_its_listeners() {
    let estate = Estate::new(1);
    let (alb, _) = seed(&estate);
    let mut settings = seed_settings(&estate).await;
    assert_eq!(settings.scheme, "internal");
    assert_eq!(settings.subnets.len(), 2);
    assert_eq!(settings.security_groups.len(), 1);
    assert_eq!(settings.attributes["idle_timeout.timeout_seconds"], "60");
    // A source ALB tuned by hand: the clone must carry the change.
    settings
        .attributes
        .insert("idle_timeout.timeout_seconds".into(), "120".into());
    estate.fake.reset_calls();

    let clone = estate
        .fake
        .create_load_balancer("pool-internal-2", &settings, &owned())
        .await
        .expect("created");
    let counts = estate.fake.call_counts();
    assert_eq!(counts["CreateLoadBalancer"], 1);
    assert_eq!(counts["DescribeLoadBalancerAttributes"], 1);
    assert_eq!(
        counts["ModifyLoadBalancerAttributes"], 1,
        "one attribute differs"
    );
    assert_eq!(clone.vpc_id, VPC, "the subnets' VPC");
    assert!(
        clone.dns_name.starts_with("internal-pool-internal-2-")
            && clone.dns_name.ends_with(".us-east-1.elb.amazonaws.com"),
        "{}",
        clone.dns_name
    );
    assert_eq!(clone.canonical_hosted_zone_id, "Z35SXDOTRQ7X7K");
    let copied = estate
        .fake
        .describe_load_balancer_settings(&clone.arn)
        .await
        .expect("clone settings");
    assert_eq!(copied, settings);
    let tagged = estate
        .fake
        .describe_tags(&[clone.arn.to_string()])
        .await
        .expect("tags");
    assert_eq!(tagged, vec![(clone.arn.to_string(), owned())]);
    let found = estate
        .fake
        .get_resources(
            &["elasticloadbalancing:loadbalancer"],
            Some(("ecs-ingress/owner", "test")),
        )
        .await
        .expect("tagging");
    assert_eq!(
        found,
        vec![(clone.arn.to_string(), owned())],
        "found by its tags"
    );

    let listener = estate
        .fake
        .create_listener(&clone.arn, &fixed_response(80), &owned())
        .await
        .expect("listener");
    assert_eq!(listener.load_balancer_arn, clone.arn);
    assert_eq!(
        estate
            .fake
            .describe_listener_settings(&listener.arn)
            .await
            .expect("listener settings"),
        fixed_response(80)
    );
    let all: BTreeSet<String> = estate
        .fake
        .describe_all_load_balancers()
        .await
        .expect("all")
        .into_iter()
        .map(|l| l.arn.to_string())
        .collect();
    assert_eq!(all, BTreeSet::from([alb.clone(), clone.arn.to_string()]));

    estate
        .fake
        .delete_load_balancer(&clone.arn)
        .await
        .expect("deleted");
    let all: Vec<String> = estate
        .fake
        .describe_all_load_balancers()
        .await
        .expect("all")
        .into_iter()
        .map(|l| l.arn.to_string())
        .collect();
    assert_eq!(all, vec![alb]);
    let e = estate
        .fake
        .describe_listeners(std::slice::from_ref(&listener.arn))
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ListenerNotFound");
    assert!(
        !estate
            .fake
            .world()
            .rules
            .values()
            .any(|r| r.listener_arn == listener.arn),
        "its rules went with it"
    );
    // AWS: deleting an ALB that is gone succeeds.
    estate
        .fake
        .delete_load_balancer(&clone.arn)
        .await
        .expect("idempotent delete");
}

#[tokio::test(start_paused = true)]
async fn create_load_balancer_refuses_what_aws_refuses() {
    let estate = Estate::new(1);
    let settings = seed_settings(&estate).await;
    let create = |name: &'static str, settings: LoadBalancerSettings| {
        let fake = estate.fake.clone();
        async move { fake.create_load_balancer(name, &settings, &owned()).await }
    };
    for bad in [
        "a-name-of-thirty-three-characters",
        "under_score",
        "-leading",
        "trailing-",
        "internal-pool",
        "",
    ] {
        let e = create(bad, settings.clone()).await.unwrap_err();
        assert_eq!(code(&e), "ValidationError", "{bad}: {e}");
    }
    create("a-name-of-thirty-two-characters1", settings.clone())
        .await
        .expect("32 characters is fine");

    let first = create("pool-2", settings.clone()).await.expect("first");
    let again = create("pool-2", settings.clone())
        .await
        .expect("same settings");
    assert_eq!(again.arn, first.arn, "a repeat answers the existing ALB");
    let other = LoadBalancerSettings {
        scheme: "internet-facing".into(),
        ..settings.clone()
    };
    let e = create("pool-2", other).await.unwrap_err();
    assert_eq!(code(&e), "DuplicateLoadBalancerName");
    assert_eq!(e.kind, ErrorKind::Duplicate);

    let unknown_subnet = LoadBalancerSettings {
        subnets: vec![settings.subnets[0].clone(), "subnet-nope".into()],
        ..settings.clone()
    };
    let e = create("pool-3", unknown_subnet).await.unwrap_err();
    assert_eq!(code(&e), "SubnetNotFound");
    let one_zone = LoadBalancerSettings {
        subnets: vec![settings.subnets[0].clone()],
        ..settings.clone()
    };
    let e = create("pool-3", one_zone).await.unwrap_err();
    assert_eq!(code(&e), "ValidationError", "{e}");
    let other_vpc_group = estate.fake.world().add_security_group("vpc-other");
    let foreign_group = LoadBalancerSettings {
        security_groups: vec![other_vpc_group],
        ..settings.clone()
    };
    let e = create("pool-3", foreign_group).await.unwrap_err();
    assert_eq!(code(&e), "InvalidSecurityGroup");
    let bad_scheme = LoadBalancerSettings {
        scheme: "private".into(),
        ..settings.clone()
    };
    let e = create("pool-3", bad_scheme).await.unwrap_err();
    assert_eq!(code(&e), "ValidationError");
    let mut bad_attribute = settings.clone();
    bad_attribute
        .attributes
        .insert("no.such.attribute".into(), "1".into());
    let e = create("pool-4", bad_attribute).await.unwrap_err();
    assert_eq!(code(&e), "ValidationError", "{e}");

    // The account's quota, lowered to what exists (seed, 32-char, pool-2, pool-4).
    let existing = estate.fake.world().load_balancers.len();
    estate.fake.world().load_balancers_quota = Some(existing);
    let e = create("pool-5", settings.clone()).await.unwrap_err();
    assert_eq!(code(&e), "TooManyLoadBalancers");
    assert_eq!(e.kind, ErrorKind::Quota);
}

#[tokio::test(start_paused = true)]
async fn account_limits_name_the_alb_quotas() {
    let estate = Estate::new(1);
    let limits = estate.fake.describe_account_limits().await.expect("limits");
    assert_eq!(limits["application-load-balancers"], 50);
    assert_eq!(limits["target-groups-per-application-load-balancer"], 100);
    estate.fake.world().load_balancers_quota = Some(3);
    let limits = estate.fake.describe_account_limits().await.expect("limits");
    assert_eq!(limits["application-load-balancers"], 3);
}

#[tokio::test(start_paused = true)]
async fn create_listener_refuses_what_aws_refuses_and_what_cannot_be_copied() {
    let estate = Estate::new(1);
    let settings = seed_settings(&estate).await;
    let alb = estate
        .fake
        .create_load_balancer("pool-2", &settings, &owned())
        .await
        .expect("alb");
    estate
        .fake
        .create_listener(&alb.arn, &fixed_response(80), &owned())
        .await
        .expect("first listener");
    let e = estate
        .fake
        .create_listener(&alb.arn, &fixed_response(80), &owned())
        .await
        .unwrap_err();
    assert_eq!(code(&e), "DuplicateListener");

    let https = |certificates: Vec<String>| ListenerSettings {
        protocol: "HTTPS".into(),
        certificates,
        ..fixed_response(443)
    };
    let e = estate
        .fake
        .create_listener(&alb.arn, &https(vec![]), &owned())
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationError", "{e}");
    let e = estate
        .fake
        .create_listener(
            &alb.arn,
            &https(vec![
                "arn:aws:acm:us-east-1:123456789012:certificate/none".into(),
            ]),
            &owned(),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), "CertificateNotFound");

    // The seed listener forwards to a target group of its own ALB: refused before any call.
    let (_, seed_listener) = seed(&estate);
    let forward = estate
        .fake
        .describe_listener_settings(&seed_listener)
        .await
        .expect("seed listener");
    assert!(matches!(
        forward.default_actions.as_slice(),
        [DefaultAction::Forward { target_group_arns }] if target_group_arns.len() == 1
    ));
    let other = ListenerSettings {
        default_actions: vec![DefaultAction::Other {
            kind: "authenticate-oidc".into(),
        }],
        ..fixed_response(8081)
    };
    for refused in [
        ListenerSettings {
            port: 8080,
            ..forward
        },
        other,
    ] {
        estate.fake.reset_calls();
        let e = estate
            .fake
            .create_listener(&alb.arn, &refused, &owned())
            .await
            .unwrap_err();
        assert_eq!(code(&e), UNCOPYABLE_DEFAULT_ACTION);
        assert_eq!(e.kind, ErrorKind::Validation);
        assert!(e.message.contains("cannot copy a"), "{e}");
        assert!(estate.fake.calls().is_empty(), "no call was made");
    }
}

#[tokio::test(start_paused = true)]
async fn https_listeners_copy_every_certificate_default_first() {
    let estate = Estate::new(1);
    let settings = seed_settings(&estate).await;
    let alb = estate
        .fake
        .create_load_balancer("pool-2", &settings, &owned())
        .await
        .expect("alb");
    let certificates: Vec<String> = {
        let mut world = estate.fake.world();
        ["a.example.com", "b.example.com", "c.example.com"]
            .iter()
            .map(|d| world.add_certificate(d))
            .collect()
    };
    let https = ListenerSettings {
        protocol: "HTTPS".into(),
        certificates: certificates.clone(),
        ..fixed_response(443)
    };
    estate.fake.reset_calls();
    let listener = estate
        .fake
        .create_listener(&alb.arn, &https, &owned())
        .await
        .expect("https listener");
    let counts = estate.fake.call_counts();
    assert_eq!(counts["CreateListener"], 1);
    assert_eq!(
        counts["AddListenerCertificates"], 1,
        "the two SNI certificates"
    );
    let read = estate
        .fake
        .describe_listener_settings(&listener.arn)
        .await
        .expect("read");
    assert_eq!(read.certificates, certificates);
    assert_eq!(
        read.ssl_policy.as_deref(),
        Some("ELBSecurityPolicy-2016-08"),
        "AWS's default policy when none is given"
    );
    assert_eq!(estate.fake.call_counts()["DescribeListenerCertificates"], 1);
}

#[tokio::test(start_paused = true)]
async fn deletion_leaves_target_groups_and_respects_deletion_protection() {
    let estate = Estate::new(1);
    let settings = seed_settings(&estate).await;
    let alb = estate
        .fake
        .create_load_balancer("pool-2", &settings, &owned())
        .await
        .expect("alb");
    let listener = estate
        .fake
        .create_listener(&alb.arn, &fixed_response(80), &owned())
        .await
        .expect("listener");
    let tg = estate
        .fake
        .create_target_group(&target_group("ei-moved"))
        .await
        .expect("tg");
    estate
        .fake
        .create_rule(&RuleSpec {
            listener_arn: listener.arn.clone(),
            priority: 1,
            hosts: vec!["moved.in.example.com".into()],
            paths: vec![],
            target_group_arn: tg.clone(),
            staged_target_group_arn: None,
            tags: owned(),
        })
        .await
        .expect("rule");
    let used_by = |fake: &FakeAws| fake.world().load_balancers_of(&tg);
    assert_eq!(used_by(&estate.fake), vec![alb.arn.clone()]);

    let protected = LoadBalancerSettings {
        attributes: [(
            "deletion_protection.enabled".to_string(),
            "true".to_string(),
        )]
        .into(),
        ..settings.clone()
    };
    let kept = estate
        .fake
        .create_load_balancer("pool-3", &protected, &owned())
        .await
        .expect("protected alb");
    let e = estate
        .fake
        .delete_load_balancer(&kept.arn)
        .await
        .unwrap_err();
    assert_eq!(code(&e), "OperationNotPermitted");

    estate
        .fake
        .delete_load_balancer(&alb.arn)
        .await
        .expect("deleted");
    assert!(estate.fake.world().target_groups.contains_key(&tg));
    assert!(used_by(&estate.fake).is_empty(), "no longer attached");
    estate
        .fake
        .delete_target_group(&tg)
        .await
        .expect("a detached group can be deleted");
}

fn target_group(name: &str) -> TargetGroupSpec {
    TargetGroupSpec {
        name: name.into(),
        protocol: crate::state::Protocol::Http,
        protocol_version: crate::state::ProtocolVersion::Http1,
        port: 8080,
        target_type: crate::state::TargetType::Ip,
        vpc_id: VPC.into(),
        health_check: default_health_check().into(),
        attributes: Default::default(),
        tags: Default::default(),
    }
}

#[tokio::test(start_paused = true)]
async fn modify_rule_cannot_bring_a_101st_target_group_to_an_alb() {
    let estate = Estate::new(1);
    let (_, l) = seed(&estate);
    // The default action's group is the first of the ALB's 100.
    let mut rules = Vec::new();
    for i in 1..100u32 {
        let tg = estate
            .fake
            .create_target_group(&target_group(&format!("g{i}")))
            .await
            .expect("tg");
        let rule = estate
            .fake
            .create_rule(&RuleSpec {
                listener_arn: l.clone(),
                priority: i,
                hosts: vec![format!("h{i}.x")],
                paths: vec![],
                target_group_arn: tg.clone(),
                staged_target_group_arn: None,
                tags: Tags::new(),
            })
            .await
            .expect("rule");
        rules.push((rule, tg));
    }
    let extra = estate
        .fake
        .create_target_group(&target_group("g100"))
        .await
        .expect("tg");
    let (rule, tg) = &rules[0];
    let e = estate
        .fake
        .modify_rule(rule, &["h1.x".into()], &[], tg, Some(&extra))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Quota, "{e}");
    assert_eq!(code(&e), "TooManyUniqueTargetGroupsPerLoadBalancer");
}

#[tokio::test(start_paused = true)]
async fn traffic_reaches_an_alb_created_at_run_time() {
    let estate = Estate::new(1);
    let settings = seed_settings(&estate).await;
    let alb = estate
        .fake
        .create_load_balancer("pool-2", &settings, &owned())
        .await
        .expect("alb");
    let listener = estate
        .fake
        .create_listener(&alb.arn, &fixed_response(80), &owned())
        .await
        .expect("listener");
    let tg = estate
        .fake
        .create_target_group(&target_group("ei-web"))
        .await
        .expect("tg");
    let host = "web.in.example.com";
    estate
        .fake
        .create_rule(&RuleSpec {
            listener_arn: listener.arn.clone(),
            priority: 1,
            hosts: vec![host.into()],
            paths: vec![],
            target_group_arn: tg.clone(),
            staged_target_group_arn: None,
            tags: owned(),
        })
        .await
        .expect("rule");
    let service = {
        let mut world = estate.fake.world();
        let td = world.add_task_definition("web", "awsvpc", vec![], Tags::new());
        let service = world.add_service(CLUSTER, "web", &td, Tags::new());
        world.add_task(&service, "10.0.1.10");
        world.register(
            &tg,
            &[Target {
                id: "10.0.1.10".into(),
                port: 8080,
            }],
        );
        let zone = estate.zone_id.clone();
        if let Some((_, records)) = world.zones.get_mut(&zone) {
            records.push(RecordSet {
                name: host.into(),
                record_type: "A".into(),
                ttl: None,
                values: vec![],
                alias: Some(AliasTarget {
                    dns_name: format!("dualstack.{}", alb.dns_name).into(),
                    hosted_zone_id: alb.canonical_hosted_zone_id.as_str().into(),
                    evaluate_target_health: true,
                }),
                set_identifier: None,
            });
        }
        service
    };
    // Past the health checks: healthy threshold × interval.
    tokio::time::advance(std::time::Duration::from_secs(5 * 30 + 1)).await;
    assert_eq!(
        estate.fake.world().served(host, "/"),
        Served::By(BTreeSet::from([service]))
    );
    estate
        .fake
        .delete_load_balancer(&alb.arn)
        .await
        .expect("deleted");
    assert!(matches!(
        estate.fake.world().served(host, "/"),
        Served::Dangling(_)
    ));
}

#[tokio::test(start_paused = true)]
async fn a_weighted_forward_of_one_group_at_weight_1_reads_as_a_plain_forward() {
    let estate = Estate::new(1);
    let (_, l) = seed(&estate);
    let mut groups = Vec::new();
    for name in ["w1", "w2"] {
        let tg = estate
            .fake
            .create_target_group(&target_group(name))
            .await
            .expect("tg");
        groups.push(tg);
    }
    let rule = estate
        .fake
        .create_rule(&RuleSpec {
            listener_arn: l,
            priority: 1,
            hosts: vec!["w.x".into()],
            paths: vec![],
            target_group_arn: groups[0].clone(),
            staged_target_group_arn: None,
            tags: Tags::new(),
        })
        .await
        .expect("rule");
    let (a, b) = (&groups[0], &groups[1]);
    // Shared out: the weights as written.
    let (weights, forwarded) = weights_after(&estate, &rule, &[(a, 90), (b, 10)]).await;
    assert_eq!(weights, BTreeMap::from([(a.clone(), 90), (b.clone(), 10)]));
    assert_eq!(forwarded, vec![a.clone(), b.clone()]);
    // One group at weight 1 takes every request: AWS answers it as a ForwardConfig at
    // weight 1, which the adapter reads as a plain forward, without weights.
    let (weights, forwarded) = weights_after(&estate, &rule, &[(b, 1)]).await;
    assert!(weights.is_empty(), "{weights:?}");
    assert_eq!(forwarded, vec![b.clone()]);
    // One group at another weight is kept as written, as the adapter reads it.
    let (weights, forwarded) = weights_after(&estate, &rule, &[(b, 5)]).await;
    assert_eq!(weights, BTreeMap::from([(b.clone(), 5)]));
    assert_eq!(forwarded, vec![b.clone()]);
    // Staged at weight 0 beside a live group: both listed.
    let (weights, forwarded) = weights_after(&estate, &rule, &[(a, 1), (b, 0)]).await;
    assert_eq!(weights, BTreeMap::from([(a.clone(), 1), (b.clone(), 0)]));
    assert_eq!(forwarded, vec![a.clone()]);
}

/// Writes `weights` to `rule` and reads back the weights and forwarded groups it holds.
async fn weights_after(
    estate: &Estate,
    rule: &str,
    weights: &[(&String, u32)],
) -> (BTreeMap<String, u32>, Vec<String>) {
    let weights: Vec<(String, u32)> = weights.iter().map(|(g, w)| ((*g).clone(), *w)).collect();
    estate
        .fake
        .modify_rule_weighted(rule, &["w.x".into()], &[], &weights)
        .await
        .expect("modify");
    let world = estate.fake.world();
    let r = &world.rules[rule];
    (
        r.weights.clone(),
        r.forward_target_groups
            .iter()
            .map(|g| g.to_string())
            .collect(),
    )
}
