//! Backend security-group rules against moto through the real binary: the rule that lets
//! the ALB reach the service's tasks is created tagged, a second run changes nothing, a
//! hand-made rule is used as it is, withdrawal revokes only ours, and a rule of ours on a
//! group no service has is found by its tag and revoked.

mod support;

use support::{Moto, SEED_TAGS, apply_ok, stdout};

/// Inbound rules of `group`: (id, source group, from port, tagged as ours).
async fn inbound(
    ec2: &aws_sdk_ec2::Client,
    group: &str,
) -> Vec<(String, Option<String>, Option<i32>, bool)> {
    let out = ec2
        .describe_security_group_rules()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-id")
                .values(group)
                .build(),
        )
        .send()
        .await
        .expect("rules");
    out.security_group_rules()
        .iter()
        .filter(|r| r.is_egress() == Some(false))
        .map(|r| {
            (
                r.security_group_rule_id().unwrap_or_default().to_string(),
                r.referenced_group_info()
                    .and_then(|g| g.group_id())
                    .map(str::to_string),
                r.from_port(),
                r.tags().iter().any(|t| {
                    t.key() == Some("ecs-ingress/owner") && t.value() == Some("ecs-ingress")
                }),
            )
        })
        .collect()
}

/// The service as ECS describes it, and its first security group.
async fn backend_group(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service_arn: &str,
) -> (
    aws_sdk_ecs::operation::describe_services::DescribeServicesOutput,
    String,
) {
    let svc = ecs
        .describe_services()
        .cluster(cluster)
        .services(service_arn)
        .send()
        .await
        .expect("service");
    let backend = svc.services()[0]
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration())
        .and_then(|a| a.security_groups().first().cloned())
        .expect("the seed's service has a group");
    (svc, backend)
}

fn with(args: &[String], more: &[&str]) -> Vec<String> {
    args.iter()
        .cloned()
        .chain(more.iter().map(|s| s.to_string()))
        .collect()
}

fn run(moto: &Moto, args: &[String]) -> std::process::Output {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    moto.ecs_ingress(&refs)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_backend_rule_is_created_tagged_kept_and_revoked_by_the_binary() {
    let moto = Moto::start();
    let seed = moto.seed();
    let sdk = moto.sdk().await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let service_arn = moto.create_service(&seed, "service-a", SEED_TAGS, &[], &[]);
    let (svc, backend) = backend_group(&ecs, &seed.cluster, &service_arn).await;
    let lb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk)
        .describe_load_balancers()
        .load_balancer_arns(&seed.load_balancer_arn)
        .send()
        .await
        .expect("alb");
    let alb_group = lb.load_balancers()[0].security_groups()[0].to_string();

    // `plan` names the group and the source.
    let mut plan = vec!["plan".to_string()];
    plan.extend(seed.args());
    let out = run(&moto, &with(&plan, &["--output", "json"]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("plan JSON");
    let authorize: Vec<&serde_json::Value> = v["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["action"] == "authorize-ingress")
        .collect();
    assert_eq!(authorize.len(), 1, "{v}");
    assert_eq!(authorize[0]["group_id"], backend.as_str());
    assert_eq!(authorize[0]["source_group_id"], alb_group.as_str());

    apply_ok(&moto, &seed.args());
    let rules = inbound(&ec2, &backend).await;
    let ours: Vec<_> = rules.iter().filter(|r| r.3).collect();
    assert_eq!(ours.len(), 1, "{rules:?}");
    assert_eq!(ours[0].1.as_deref(), Some(alb_group.as_str()));
    assert_eq!(ours[0].2, Some(8080));
    // A second run changes nothing.
    let out = run(&moto, &plan);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("Nothing to change."),
        "{}",
        stdout(&out)
    );
    // `/status`'s resources (the plan JSON's statuses) list the rule.
    let out = run(&moto, &with(&plan, &["--output", "json"]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("plan JSON");
    let resources = v["services"][0]["resources"].to_string();
    assert!(
        resources.contains("security-group-rule") && resources.contains(&ours[0].0),
        "{resources}"
    );

    // Withdrawn: our rule goes, the group's other rules stay.
    let hand = ec2
        .authorize_security_group_ingress()
        .group_id(&backend)
        .ip_permissions(
            aws_sdk_ec2::types::IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(9000)
                .to_port(9000)
                .user_id_group_pairs(
                    aws_sdk_ec2::types::UserIdGroupPair::builder()
                        .group_id(&alb_group)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("hand-made rule")
        .security_group_rules()[0]
        .security_group_rule_id()
        .unwrap_or_default()
        .to_string();
    let td = svc.services()[0].task_definition().expect("td").to_string();
    let keys: Vec<String> = SEED_TAGS.iter().map(|(k, _)| k.to_string()).collect();
    ecs.untag_resource()
        .resource_arn(&td)
        .set_tag_keys(Some(keys))
        .send()
        .await
        .expect("untag");
    apply_ok(&moto, &seed.args());
    let rules = inbound(&ec2, &backend).await;
    assert!(!rules.iter().any(|r| r.3), "ours revoked: {rules:?}");
    assert!(
        rules.iter().any(|r| r.0 == hand),
        "the hand-made rule stays: {rules:?}"
    );
    let out = run(&moto, &plan);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn off_plans_no_backend_rule() {
    let moto = Moto::start();
    let seed = moto.seed();
    moto.create_service(&seed, "service-a", SEED_TAGS, &[], &[]);
    let mut plan = vec!["plan".to_string()];
    plan.extend(seed.args());
    let out = run(
        &moto,
        &with(&plan, &["--backend-sg-rules", "off", "--output", "json"]),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("plan JSON");
    assert!(
        !v["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .any(|c| c["action"] == "authorize-ingress"),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rule_of_ours_on_a_group_no_service_has_is_found_by_its_tag_and_revoked() {
    let moto = Moto::start();
    let seed = moto.seed();
    let sdk = moto.sdk().await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let service_arn = moto.create_service(&seed, "service-a", SEED_TAGS, &[], &[]);
    let (_, backend) = backend_group(&ecs, &seed.cluster, &service_arn).await;
    apply_ok(&moto, &seed.args());
    let theirs = inbound(&ec2, &backend).await;
    assert_eq!(theirs.iter().filter(|r| r.3).count(), 1, "{theirs:?}");

    // A rule of ours left on a group no service has (its service deleted while no replica
    // ran, say): each run of the binary starts with the refresh pass, which lists the
    // rules tagged as ours wherever they are. (Another port than the service's: moto
    // reports its deployment in progress, and while ECS deploys a service every rule of
    // ours that lets its ALB in on its port stays.)
    let vpc = ec2
        .describe_security_groups()
        .group_ids(&backend)
        .send()
        .await
        .expect("group")
        .security_groups()[0]
        .vpc_id()
        .expect("vpc")
        .to_string();
    let leftover = ec2
        .create_security_group()
        .group_name("leftover")
        .description("a deleted service's group")
        .vpc_id(vpc)
        .send()
        .await
        .expect("create group")
        .group_id()
        .expect("group id")
        .to_string();
    let tag = |k: &str, v: &str| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build();
    ec2.authorize_security_group_ingress()
        .group_id(&leftover)
        .ip_permissions(
            aws_sdk_ec2::types::IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(9090)
                .to_port(9090)
                .user_id_group_pairs(
                    aws_sdk_ec2::types::UserIdGroupPair::builder()
                        .group_id(&backend)
                        .build(),
                )
                .build(),
        )
        .tag_specifications(
            aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(aws_sdk_ec2::types::ResourceType::SecurityGroupRule)
                .tags(tag("ecs-ingress/owner", "ecs-ingress"))
                .tags(tag("ecs-ingress/resource", "security-group-rule"))
                .build(),
        )
        .send()
        .await
        .expect("a leftover rule of ours");
    assert_eq!(inbound(&ec2, &leftover).await.len(), 1);
    apply_ok(&moto, &seed.args());
    let rules = inbound(&ec2, &leftover).await;
    assert!(rules.is_empty(), "the leftover revoked: {rules:?}");
    assert_eq!(
        inbound(&ec2, &backend).await,
        theirs,
        "the service's rule stays"
    );
    let mut plan = vec!["plan".to_string()];
    plan.extend(seed.args());
    let out = run(&moto, &plan);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}
