//! The ALB reconcile against moto, with the real adapters: the seed reproduced, convergence,
//! hand-made rules untouched, withdrawal, drift repair, conflicts and invalid tags.

mod support;

use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum, RuleCondition};
use support::{Moto, SEED_TAGS, stdout};

fn args<'a>(cmd: &'a str, seed_args: &'a [String]) -> Vec<&'a str> {
    let mut v = vec![cmd];
    v.extend(seed_args.iter().map(String::as_str));
    v
}

/// Runs `apply` with the seed's flags, asserts it succeeded and returns its stdout.
fn apply_ok(moto: &Moto, seed: &support::Seed) -> String {
    support::apply_ok(moto, &seed.args())
}

#[test]
fn plan_on_the_seed_network_has_nothing_to_do() {
    let moto = Moto::start();
    let seed = moto.seed();
    let out = moto.ecs_ingress(&args("plan", &seed.args()));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        support::stderr(&out)
    );
    assert!(
        stdout(&out).contains("Nothing to change."),
        "{}",
        stdout(&out)
    );
    let json = moto.ecs_ingress(&[&args("plan", &seed.args())[..], &["--output", "json"]].concat());
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(v["changes"].as_array().map(Vec::len), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn seed_service_a_is_published_converges_and_is_withdrawn() {
    let moto = Moto::start();
    let seed = moto.seed();
    let sdk = moto.sdk().await;
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk);
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    // A hand-made rule on the same listener must survive everything below.
    let hand_made = elb
        .create_rule()
        .listener_arn(&seed.listener_arn)
        .priority(1)
        .conditions(
            RuleCondition::builder()
                .field("host-header")
                .values("legacy.in.example.com")
                .build(),
        )
        .actions(
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn(&seed.invalid_target_group_arn)
                .build(),
        )
        .send()
        .await
        .expect("hand-made rule")
        .rules()[0]
        .rule_arn()
        .expect("arn")
        .to_string();
    let service_arn = moto.create_service(&seed, "service-a", SEED_TAGS, &[], &[]);

    apply_ok(&moto, &seed);

    // The seed's target group...
    let groups = elb.describe_target_groups().send().await.expect("tgs");
    let tg = groups
        .target_groups()
        .iter()
        .find(|t| {
            t.target_group_name()
                .is_some_and(|n| n.starts_with("ei-service-a-"))
        })
        .expect("target group made");
    assert_eq!(tg.protocol().map(|p| p.as_str()), Some("HTTP"));
    assert_eq!(tg.port(), Some(8080));
    assert_eq!(tg.target_type().map(|t| t.as_str()), Some("ip"));
    assert_eq!(tg.vpc_id(), Some(seed.vpc_id.as_str()));
    assert_eq!(tg.health_check_path(), Some("/application-status/health"));
    assert_eq!(tg.healthy_threshold_count(), Some(2));
    assert_eq!(tg.unhealthy_threshold_count(), Some(10));
    assert_eq!(tg.health_check_interval_seconds(), Some(5));
    assert_eq!(tg.health_check_timeout_seconds(), Some(4));
    let tg_arn = tg.target_group_arn().expect("arn").to_string();
    // ...a rule Host: service-a.in.example.com forwarding to it...
    let rules = elb
        .describe_rules()
        .listener_arn(&seed.listener_arn)
        .send()
        .await
        .expect("rules");
    let ours: Vec<_> = rules
        .rules()
        .iter()
        .filter(|r| {
            r.actions()
                .iter()
                .any(|a| a.target_group_arn() == Some(tg_arn.as_str()))
        })
        .collect();
    assert_eq!(ours.len(), 1);
    let host_values: Vec<String> = ours[0]
        .conditions()
        .iter()
        .flat_map(|c| {
            c.host_header_config()
                .map(|h| h.values().to_vec())
                .unwrap_or_else(|| c.values().to_vec())
        })
        .collect();
    assert_eq!(host_values, vec!["service-a.in.example.com".to_string()]);
    // ...and the service's loadBalancers carrying it.
    let svc = ecs
        .describe_services()
        .cluster(&seed.cluster)
        .services(&service_arn)
        .send()
        .await
        .expect("svc");
    let lbs = svc.services()[0].load_balancers();
    assert_eq!(lbs.len(), 1);
    assert_eq!(lbs[0].target_group_arn(), Some(tg_arn.as_str()));
    assert_eq!(lbs[0].container_name(), Some("serviceA"));
    assert_eq!(lbs[0].container_port(), Some(8080));

    // A second pass has nothing to write.
    let again = moto.ecs_ingress(&args("plan", &seed.args()));
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
    assert!(stdout(&again).contains("published"), "{}", stdout(&again));

    // Drift: host and health check changed by hand are put back.
    elb.modify_rule()
        .rule_arn(ours[0].rule_arn().expect("arn"))
        .conditions(
            RuleCondition::builder()
                .field("host-header")
                .values("hijacked.in.example.com")
                .build(),
        )
        .send()
        .await
        .expect("modify rule");
    elb.modify_target_group()
        .target_group_arn(&tg_arn)
        .health_check_path("/")
        .health_check_interval_seconds(30)
        .send()
        .await
        .expect("modify tg");
    let drift_plan = moto.ecs_ingress(&args("plan", &seed.args()));
    assert_eq!(drift_plan.status.code(), Some(2), "{}", stdout(&drift_plan));
    assert!(
        stdout(&drift_plan).contains("health check"),
        "{}",
        stdout(&drift_plan)
    );
    apply_ok(&moto, &seed);
    let tg_now = elb
        .describe_target_groups()
        .target_group_arns(&tg_arn)
        .send()
        .await
        .expect("tg");
    assert_eq!(
        tg_now.target_groups()[0].health_check_path(),
        Some("/application-status/health")
    );
    assert_eq!(
        tg_now.target_groups()[0].health_check_interval_seconds(),
        Some(5)
    );
    assert_eq!(
        moto.ecs_ingress(&args("plan", &seed.args())).status.code(),
        Some(0)
    );

    // Untagging the task definition withdraws the rule, the attachment and the target group.
    let td = svc.services()[0].task_definition().expect("td").to_string();
    let keys: Vec<String> = SEED_TAGS.iter().map(|(k, _)| k.to_string()).collect();
    ecs.untag_resource()
        .resource_arn(&td)
        .set_tag_keys(Some(keys))
        .send()
        .await
        .expect("untag");
    apply_ok(&moto, &seed);
    let groups = elb.describe_target_groups().send().await.expect("tgs");
    assert!(
        !groups
            .target_groups()
            .iter()
            .any(|t| t.target_group_arn() == Some(tg_arn.as_str())),
        "target group deleted"
    );
    let rules = elb
        .describe_rules()
        .listener_arn(&seed.listener_arn)
        .send()
        .await
        .expect("rules");
    let arns: Vec<&str> = rules.rules().iter().filter_map(|r| r.rule_arn()).collect();
    assert_eq!(
        rules.rules().len(),
        2,
        "default rule and the hand-made one remain: {arns:?}"
    );
    assert!(arns.contains(&hand_made.as_str()));
    let svc = ecs
        .describe_services()
        .cluster(&seed.cluster)
        .services(&service_arn)
        .send()
        .await
        .expect("svc");
    assert!(svc.services()[0].load_balancers().is_empty());
    assert_eq!(
        moto.ecs_ingress(&args("plan", &seed.args())).status.code(),
        Some(0)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn conflicting_and_invalid_services_are_reported() {
    let moto = Moto::start();
    let seed = moto.seed();
    moto.create_service(
        &seed,
        "first",
        &[("alb.host", "shared.in.example.com")],
        &[],
        &[],
    );
    moto.create_service(
        &seed,
        "second",
        &[],
        &[("alb.host", "shared.in.example.com")],
        &[],
    );
    moto.create_service(
        &seed,
        "broken",
        &[
            ("alb.host", "broken.in.example.com"),
            ("alb.healthcheck.interval", "abc"),
        ],
        &[],
        &[],
    );
    let text = apply_ok(&moto, &seed);
    // moto reports no creation time, so the ARN decides: `first` < `second`.
    assert!(
        text.contains("main/first")
            && text
                .lines()
                .any(|l| l.starts_with("main/second") && l.contains("conflict")),
        "{text}"
    );
    assert!(
        text.contains("host shared.in.example.com is already routed by older service main/first"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("main/broken") && l.contains("invalid")),
        "{text}"
    );
    assert!(
        text.contains("alb.healthcheck.interval=abc (task definition tag): expected seconds 5–300"),
        "{text}"
    );
    // Reported, not pending: the next plan has nothing to do.
    assert_eq!(
        moto.ecs_ingress(&args("plan", &seed.args())).status.code(),
        Some(0)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn direct_mode_registers_running_task_ips_and_follows_them() {
    let moto = Moto::start();
    let seed = moto.seed();
    let sdk = moto.sdk().await;
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk);
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let (service_arn, tasks) = moto.create_service_with_tasks(
        &seed,
        "service-d",
        &[
            ("alb.host", "service-d.in.example.com"),
            ("alb.targets", "direct"),
        ],
        &[],
        &[],
        2,
    );
    assert_eq!(tasks.len(), 2);
    apply_ok(&moto, &seed);

    // The IPs ECS gave the tasks.
    let described = ecs
        .describe_tasks()
        .cluster(&seed.cluster)
        .set_tasks(Some(tasks.clone()))
        .send()
        .await
        .expect("describe tasks");
    let ip_of = |arn: &str| -> String {
        described
            .tasks()
            .iter()
            .find(|t| t.task_arn() == Some(arn))
            .and_then(|t| {
                t.attachments()
                    .iter()
                    .flat_map(|a| a.details())
                    .find(|d| d.name() == Some("privateIPv4Address"))
                    .and_then(|d| d.value().map(str::to_string))
            })
            .expect("task IP")
    };
    let registered = || async {
        let groups = elb.describe_target_groups().send().await.expect("groups");
        let group = groups
            .target_groups()
            .iter()
            .find(|g| {
                g.target_group_name()
                    .unwrap_or_default()
                    .starts_with("ei-service-d-")
            })
            .and_then(|g| g.target_group_arn().map(str::to_string))
            .expect("owned target group");
        let health = elb
            .describe_target_health()
            .target_group_arn(group)
            .send()
            .await
            .expect("health");
        let mut ips: Vec<(String, i32)> = health
            .target_health_descriptions()
            .iter()
            .filter_map(|d| d.target())
            .map(|t| {
                (
                    t.id().unwrap_or_default().to_string(),
                    t.port().unwrap_or_default(),
                )
            })
            .collect();
        ips.sort();
        ips
    };
    let mut want = vec![(ip_of(&tasks[0]), 8080), (ip_of(&tasks[1]), 8080)];
    want.sort();
    assert_eq!(registered().await, want);
    // The service itself is left alone: no loadBalancers entry, no deployment.
    let svc = ecs
        .describe_services()
        .cluster(&seed.cluster)
        .services(&service_arn)
        .send()
        .await
        .expect("service");
    assert!(svc.services()[0].load_balancers().is_empty());

    // A task stops: its target goes on the next pass.
    ecs.stop_task()
        .cluster(&seed.cluster)
        .task(&tasks[0])
        .send()
        .await
        .expect("stop task");
    apply_ok(&moto, &seed);
    assert_eq!(registered().await, vec![(ip_of(&tasks[1]), 8080)]);
    assert_eq!(
        moto.ecs_ingress(&args("plan", &seed.args())).status.code(),
        Some(0)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_listener_or_zone_is_one_clear_line() {
    let moto = Moto::start();
    let seed = moto.seed();
    let wrong_listener = seed.listener_arn.replace(
        seed.listener_arn.rsplit('/').next().unwrap_or_default(),
        "0000000000000000",
    );
    let cases = [
        (
            vec!["--listener".to_string(), wrong_listener],
            "a --listener ARN does not exist",
        ),
        (
            vec![
                "--listener".to_string(),
                seed.listener_arn.clone(),
                "--hosted-zone".to_string(),
                "Z0000000000000000000".to_string(),
            ],
            "a --hosted-zone does not exist",
        ),
    ];
    for (flags, want) in cases {
        for command in ["plan", "apply"] {
            let mut args = vec![
                command.to_string(),
                "--cluster".into(),
                seed.cluster.clone(),
            ];
            args.extend(flags.iter().cloned());
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = moto.ecs_ingress(&refs);
            assert_eq!(out.status.code(), Some(1), "{command} {flags:?}");
            let stderr = support::stderr(&out);
            let errors: Vec<&str> = stderr
                .lines()
                .filter(|l| l.starts_with("error: "))
                .collect();
            assert_eq!(errors.len(), 1, "{stderr}");
            assert!(errors[0].contains(want), "{}", errors[0]);
        }
    }
}

/// A hand-made HTTPS listener on the seed's ALB (fixed 404, two ACM certificates) and a
/// hand-tuned idle timeout: what a pool's first ALB may look like. Returns the listener ARN
/// and the certificates, the default one first.
fn https_listener_on_the_seed(moto: &Moto, seed: &support::Seed) -> (String, Vec<String>) {
    let made = moto.boto3(
        r#"
acm, elb = client("acm"), client("elbv2")
certs = [acm.request_certificate(DomainName=d)["CertificateArn"] for d in ("a.in.example.com", "b.in.example.com")]
listener = elb.create_listener(
    LoadBalancerArn=args[0], Protocol="HTTPS", Port=443,
    Certificates=[{"CertificateArn": certs[0]}],
    DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain", "MessageBody": "no route"}}],
)["Listeners"][0]["ListenerArn"]
elb.add_listener_certificates(ListenerArn=listener, Certificates=[{"CertificateArn": certs[1]}])
elb.modify_load_balancer_attributes(LoadBalancerArn=args[0], Attributes=[{"Key": "idle_timeout.timeout_seconds", "Value": "120"}])
print(json.dumps({"listener": listener, "certificates": certs}))
"#,
        &[&seed.load_balancer_arn],
    );
    let certificates = made["certificates"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    (
        made["listener"].as_str().unwrap_or_default().to_string(),
        certificates,
    )
}

/// boto3's view of one ALB and one of its listeners.
fn boto3_view(moto: &Moto, alb: &str, listener: &str) -> serde_json::Value {
    moto.boto3(
        r#"
elb = client("elbv2")
lb = elb.describe_load_balancers(LoadBalancerArns=[args[0]])["LoadBalancers"][0]
attrs = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(LoadBalancerArn=args[0])["Attributes"]}
l = elb.describe_listeners(ListenerArns=[args[1]])["Listeners"][0]
certs = elb.describe_listener_certificates(ListenerArn=args[1])["Certificates"]
tags = {d["ResourceArn"]: {t["Key"]: t["Value"] for t in d["Tags"]} for d in elb.describe_tags(ResourceArns=args)["TagDescriptions"]}
print(json.dumps({
    "scheme": lb["Scheme"],
    "subnets": sorted(z["SubnetId"] for z in lb["AvailabilityZones"]),
    "security_groups": sorted(lb["SecurityGroups"]),
    "ip_address_type": lb["IpAddressType"],
    "attributes": attrs,
    "port": l["Port"],
    "protocol": l["Protocol"],
    "ssl_policy": l.get("SslPolicy"),
    "default_actions": [{"type": a["Type"], "fixed": a.get("FixedResponseConfig")} for a in l["DefaultActions"]],
    "default_certificate": [c["CertificateArn"] for c in certs if c.get("IsDefault")],
    "certificates": sorted(c["CertificateArn"] for c in certs),
    "alb_tags": tags.get(args[0], {}),
    "listener_tags": tags.get(args[1], {}),
}))
"#,
        &[alb, listener],
    )
}

/// The real adapter clones the seed's ALB and a listener of it, tagged, and deletes the
/// clone. moto is lenient where the fake is not (a duplicate listener port, the ALB quota,
/// ModifyLoadBalancerAttributes keys): those refusals are tested on the fake.
#[tokio::test(flavor = "multi_thread")]
async fn an_alb_and_its_listener_are_cloned_tagged_and_deleted() {
    use ecs_ingress::aws::UNCOPYABLE_DEFAULT_ACTION;
    use ecs_ingress::state::DefaultAction;

    let moto = Moto::start();
    let seed = moto.seed();
    let (https, certificates) = https_listener_on_the_seed(&moto, &seed);
    let aws = ecs_ingress::aws::clients::real_aws(
        &moto.sdk().await,
        std::sync::Arc::new(ecs_ingress::telemetry::Metrics::new(
            ecs_ingress::aws::OPERATIONS,
        )),
        100,
    );
    let elb = aws.elb;

    let settings = elb
        .describe_load_balancer_settings(&seed.load_balancer_arn)
        .await
        .expect("seed ALB settings");
    assert_eq!(settings.scheme, "internal");
    assert_eq!(settings.subnets.len(), 2);
    assert_eq!(settings.security_groups.len(), 1);
    assert_eq!(settings.ip_address_type, "ipv4");
    assert_eq!(
        settings.attributes.get("idle_timeout.timeout_seconds"),
        Some(&"120".to_string())
    );
    // The seed's listener forwards to a target group of the seed's ALB: not copyable.
    let seed_listener = elb
        .describe_listener_settings(&seed.listener_arn)
        .await
        .expect("seed listener settings");
    assert_eq!(
        seed_listener.default_actions,
        vec![DefaultAction::Forward {
            target_group_arns: vec![seed.invalid_target_group_arn.clone()]
        }]
    );
    let listener_settings = elb
        .describe_listener_settings(&https)
        .await
        .expect("HTTPS listener settings");
    assert_eq!(listener_settings.port, 443);
    assert_eq!(listener_settings.protocol, "HTTPS");
    assert_eq!(listener_settings.certificates, certificates);
    assert!(listener_settings.ssl_policy.is_some());

    let owner = ecs_ingress::fake::tags(&[
        ("ecs-ingress/owner", "test"),
        ("ecs-ingress/pool", "internal"),
    ]);
    let clone = elb
        .create_load_balancer("pool-internal-2", &settings, &owner)
        .await
        .expect("clone");
    let e = elb
        .create_listener(&clone.arn, &seed_listener, &owner)
        .await
        .unwrap_err();
    assert_eq!(e.code.as_deref(), Some(UNCOPYABLE_DEFAULT_ACTION), "{e}");
    let listener = elb
        .create_listener(&clone.arn, &listener_settings, &owner)
        .await
        .expect("cloned listener");

    let source = boto3_view(&moto, &seed.load_balancer_arn, &https);
    let copy = boto3_view(&moto, &clone.arn, &listener.arn);
    for same in [
        "scheme",
        "subnets",
        "security_groups",
        "ip_address_type",
        "attributes",
        "port",
        "protocol",
        "ssl_policy",
        "default_actions",
        "default_certificate",
        "certificates",
    ] {
        assert_eq!(copy[same], source[same], "{same}");
    }
    let owner_json =
        serde_json::json!({"ecs-ingress/owner": "test", "ecs-ingress/pool": "internal"});
    assert_eq!(copy["alb_tags"], owner_json);
    assert_eq!(copy["listener_tags"], owner_json);
    let all: Vec<String> = elb
        .describe_all_load_balancers()
        .await
        .expect("all ALBs")
        .into_iter()
        .map(|l| l.arn.to_string())
        .collect();
    assert!(
        all.iter().any(|a| *a == clone.arn) && all.contains(&seed.load_balancer_arn),
        "{all:?}"
    );

    elb.delete_load_balancer(&clone.arn).await.expect("deleted");
    let after = moto.boto3(
        r#"
elb = client("elbv2")
arns = [lb["LoadBalancerArn"] for lb in elb.describe_load_balancers()["LoadBalancers"]]
try:
    elb.describe_listeners(ListenerArns=[args[0]])
    listener_gone = False
except elb.exceptions.ListenerNotFoundException:
    listener_gone = True
print(json.dumps({"albs": arns, "listener_gone": listener_gone}))
"#,
        &[&listener.arn],
    );
    assert_eq!(
        after["albs"],
        serde_json::json!([seed.load_balancer_arn]),
        "only the seed's ALB is left"
    );
    assert_eq!(after["listener_gone"], true, "its listener went with it");
}
