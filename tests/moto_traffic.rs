//! The served-traffic cases against moto with the real adapters, where moto can show them
//! (moto enforces neither the condition limits nor ECS's target-group checks, so those are
//! asserted on what ecs-ingress asked for; `tests/fake_traffic.rs` holds the AWS rules).

mod support;

use aws_sdk_elasticloadbalancingv2::Client as Elb;
use aws_sdk_elasticloadbalancingv2::types::Rule;
use support::{Moto, SEED_TAGS, Seed, apply_ok, stdout};

async fn owned_rules(elb: &Elb, listener: &str) -> Vec<Rule> {
    elb.describe_rules()
        .listener_arn(listener)
        .send()
        .await
        .expect("rules")
        .rules()
        .iter()
        .filter(|r| r.is_default() != Some(true))
        .cloned()
        .collect()
}

/// (target group, weight) of a rule's forward action, whichever form it was written in.
fn forwards(rule: &Rule) -> Vec<(String, i32)> {
    let mut out = Vec::new();
    for a in rule.actions() {
        match a.forward_config() {
            Some(cfg) if !cfg.target_groups().is_empty() => {
                out.extend(cfg.target_groups().iter().map(|t| {
                    (
                        t.target_group_arn().unwrap_or_default().to_string(),
                        t.weight().unwrap_or(1),
                    )
                }))
            }
            _ => out.extend(a.target_group_arn().map(|t| (t.to_string(), 1))),
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A condition's values, in whichever form moto returns them.
fn values(c: &aws_sdk_elasticloadbalancingv2::types::RuleCondition) -> Vec<String> {
    let mut out: Vec<String> = c.values().to_vec();
    if let Some(h) = c.host_header_config() {
        out.extend(h.values().iter().cloned());
    }
    if let Some(p) = c.path_pattern_config() {
        out.extend(p.values().iter().cloned());
    }
    out
}

async fn described(
    ecs: &aws_sdk_ecs::Client,
    seed: &Seed,
    name: &str,
) -> aws_sdk_ecs::types::Service {
    ecs.describe_services()
        .cluster(&seed.cluster)
        .services(name)
        .send()
        .await
        .expect("service")
        .services()[0]
        .clone()
}

async fn attached(ecs: &aws_sdk_ecs::Client, seed: &Seed, name: &str) -> Vec<String> {
    described(ecs, seed, name)
        .await
        .load_balancers()
        .iter()
        .filter_map(|l| l.target_group_arn().map(str::to_string))
        .collect()
}

async fn owned_groups(elb: &Elb) -> Vec<String> {
    elb.describe_target_groups()
        .send()
        .await
        .expect("groups")
        .target_groups()
        .iter()
        .filter(|g| g.target_group_name().is_some_and(|n| n.starts_with("ei-")))
        .filter_map(|g| g.target_group_arn().map(str::to_string))
        .collect()
}

async fn record_names(r53: &aws_sdk_route53::Client, zone: &str) -> Vec<(String, String)> {
    support::record_sets(r53, zone)
        .await
        .iter()
        .map(|r| {
            (
                r.name().trim_end_matches('.').to_string(),
                r.resource_records()
                    .first()
                    .map(|v| v.value().to_string())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

async fn task_definition_of(ecs: &aws_sdk_ecs::Client, seed: &Seed, name: &str) -> String {
    described(ecs, seed, name)
        .await
        .task_definition()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cluster_named_twice_converges_and_removing_alb_host_withdraws_everything() {
    let moto = Moto::start();
    let seed = moto.seed();
    let sdk = moto.sdk().await;
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let elb = Elb::new(&sdk);
    let r53 = aws_sdk_route53::Client::new(&sdk);
    let cluster_arn = ecs
        .describe_clusters()
        .clusters(&seed.cluster)
        .send()
        .await
        .expect("cluster")
        .clusters()[0]
        .cluster_arn()
        .expect("arn")
        .to_string();
    let mut args = seed.args_with_zone();
    args.extend(["--cluster".into(), cluster_arn]);
    moto.create_service(&seed, "service-a", SEED_TAGS, &[], &[]);
    apply_ok(&moto, &args);
    moto.ecs_deploys(&seed, "service-a");
    apply_ok(&moto, &args);
    assert!(
        record_names(&r53, &seed.hosted_zone_id)
            .await
            .iter()
            .any(|(n, _)| n == "service-a.in.example.com")
    );
    for _ in 0..2 {
        let out = apply_ok(&moto, &args);
        assert!(out.starts_with("Nothing to change."), "{out}");
    }

    // Only alb.host goes; the health-check keys stay behind.
    let td = task_definition_of(&ecs, &seed, "service-a").await;
    ecs.untag_resource()
        .resource_arn(td)
        .tag_keys("alb.host")
        .send()
        .await
        .expect("untag");
    let out = apply_ok(&moto, &args);
    assert!(
        out.contains("withdrawn") && out.contains("leftover keys ignored"),
        "{out}"
    );
    assert!(owned_rules(&elb, &seed.listener_arn).await.is_empty());
    assert!(owned_groups(&elb).await.is_empty());
    assert!(attached(&ecs, &seed, "service-a").await.is_empty());
    assert!(
        !record_names(&r53, &seed.hosted_zone_id)
            .await
            .iter()
            .any(|(n, _)| n.contains("service-a"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_immutable_change_stages_the_new_group_and_moves_once_it_is_healthy() {
    let moto = Moto::start();
    let seed = moto.seed();
    let sdk = moto.sdk().await;
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let elb = Elb::new(&sdk);
    let args = seed.args_with_zone();
    let svc = moto.create_service(&seed, "service-a", SEED_TAGS, &[], &[]);
    apply_ok(&moto, &args);
    moto.ecs_deploys(&seed, "service-a");
    apply_ok(&moto, &args);
    let old = owned_groups(&elb).await;
    assert_eq!(old.len(), 1);

    ecs.tag_resource()
        .resource_arn(&svc)
        .tags(
            aws_sdk_ecs::types::Tag::builder()
                .key("alb.protocol-version")
                .value("HTTP2")
                .build(),
        )
        .send()
        .await
        .expect("tag");
    let out = apply_ok(&moto, &args);
    assert!(out.contains("staging"), "{out}");
    let groups = owned_groups(&elb).await;
    assert_eq!(groups.len(), 2);
    let new = groups.iter().find(|g| **g != old[0]).expect("new").clone();
    let rules = owned_rules(&elb, &seed.listener_arn).await;
    assert_eq!(
        forwards(&rules[0]),
        {
            let mut want = vec![(old[0].clone(), 1), (new.clone(), 0)];
            want.sort();
            want
        },
        "traffic stays on the old group, the new one is staged at weight 0"
    );
    let mut both = attached(&ecs, &seed, "service-a").await;
    both.sort();
    let mut want = vec![old[0].clone(), new.clone()];
    want.sort();
    assert_eq!(both, want);
    // Nothing healthy in the new group yet: a second pass changes nothing.
    let out = apply_ok(&moto, &args);
    assert!(out.starts_with("Nothing to change."), "{out}");
    assert!(out.contains("replacing target group"), "{out}");

    moto.ecs_deploys(&seed, "service-a");
    apply_ok(&moto, &args);
    let rules = owned_rules(&elb, &seed.listener_arn).await;
    assert_eq!(forwards(&rules[0]), vec![(new.clone(), 1)]);
    assert_eq!(attached(&ecs, &seed, "service-a").await, vec![new.clone()]);
    assert_eq!(owned_groups(&elb).await, vec![new]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_deleted_by_hand_is_reattached_and_a_missing_listener_stops_nothing_else() {
    let moto = Moto::start();
    let seed = moto.seed();
    let sdk = moto.sdk().await;
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let elb = Elb::new(&sdk);
    let args = seed.args_with_zone();
    moto.create_service(&seed, "service-a", SEED_TAGS, &[], &[]);
    apply_ok(&moto, &args);
    let old = owned_groups(&elb).await;
    let rule = owned_rules(&elb, &seed.listener_arn).await[0]
        .rule_arn()
        .expect("arn")
        .to_string();
    elb.delete_rule().rule_arn(rule).send().await.expect("rule");
    elb.delete_target_group()
        .target_group_arn(&old[0])
        .send()
        .await
        .expect("group");
    assert_eq!(attached(&ecs, &seed, "service-a").await, old);
    apply_ok(&moto, &args);
    let new = owned_groups(&elb).await;
    assert_eq!(new.len(), 1);
    assert_ne!(new, old);
    assert_eq!(
        attached(&ecs, &seed, "service-a").await,
        new,
        "the deleted group's entry is dropped (ECS on AWS refuses an update naming it)"
    );

    // A second --listener that does not exist (moto leaves it out of DescribeListeners
    // instead of failing; AWS fails the call): one clear error, and services on the other
    // listener are still published.
    moto.create_service(
        &seed,
        "service-b",
        &[("alb.host", "service-b.in.example.com")],
        &[],
        &[],
    );
    let missing = seed.listener_arn.replace(
        seed.listener_arn.rsplit('/').next().unwrap_or_default(),
        "0000000000000000",
    );
    let mut flags = vec!["apply".to_string()];
    flags.extend(args.iter().cloned());
    flags.extend(["--listener".into(), format!("other={missing}")]);
    let refs: Vec<&str> = flags.iter().map(String::as_str).collect();
    let out = moto.ecs_ingress(&refs);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let stderr = support::stderr(&out);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains("--listener"), "{}", errors[0]);
    let hosts: Vec<String> = owned_rules(&elb, &seed.listener_arn)
        .await
        .iter()
        .flat_map(|r| r.conditions().iter().flat_map(values))
        .collect();
    assert!(
        hosts.iter().any(|h| h == "service-b.in.example.com"),
        "{hosts:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn four_hosts_make_two_rules_and_services_routed_by_path_share_a_name() {
    let moto = Moto::start();
    let seed = moto.seed();
    let sdk = moto.sdk().await;
    let elb = Elb::new(&sdk);
    let r53 = aws_sdk_route53::Client::new(&sdk);
    let args = seed.args_with_zone();
    moto.create_service(
        &seed,
        "multi",
        &[(
            "alb.host",
            "m1.in.example.com m2.in.example.com m3.in.example.com m4.in.example.com",
        )],
        &[],
        &[],
    );
    let web = moto.create_service(
        &seed,
        "web",
        &[("alb.host", "h.in.example.com")],
        &[],
        &[("alb.path", "/*")],
    );
    let api = moto.create_service(
        &seed,
        "api",
        &[("alb.host", "h.in.example.com")],
        &[],
        &[("alb.path", "/api/*")],
    );
    apply_ok(&moto, &args);
    for name in ["multi", "web", "api"] {
        moto.ecs_deploys(&seed, name);
    }
    let out = apply_ok(&moto, &args);
    for name in ["multi", "web", "api"] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(&format!("main/{name} ")) && l.contains("published")),
            "{name}: {out}"
        );
    }
    let rules = owned_rules(&elb, &seed.listener_arn).await;
    let multi: Vec<&Rule> = rules
        .iter()
        .filter(|r| {
            r.conditions()
                .iter()
                .any(|c| values(c).iter().any(|v| v.starts_with('m')))
        })
        .collect();
    assert_eq!(multi.len(), 2, "{rules:?}");
    for r in multi {
        for c in r.conditions() {
            assert!(values(c).len() <= 3, "{c:?}");
        }
    }
    let records = record_names(&r53, &seed.hosted_zone_id).await;
    let marker = records
        .iter()
        .find(|(n, _)| n == "_ecs-ingress.h.in.example.com")
        .map(|(_, v)| v.clone())
        .expect("one marker for the shared name");
    assert!(marker.contains(&web) && marker.contains(&api), "{marker}");
    let out = apply_ok(&moto, &args);
    assert!(out.starts_with("Nothing to change."), "{out}");
}
