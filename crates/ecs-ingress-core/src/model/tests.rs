use super::*;
use crate::state::{Container, PortMapping, Tags, TaskDefinition};
use proptest::prelude::*;

fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn td(td_tags: &[(&str, &str)], labels: &[(&str, &str)]) -> TaskDefinition {
    TaskDefinition {
        arn: "arn:aws:ecs:us-east-1:1:task-definition/a:1".into(),
        network_mode: Some("awsvpc".into()),
        containers: vec![Container {
            name: "serviceA".into(),
            docker_labels: tags(labels),
            port_mappings: vec![PortMapping {
                container_port: 8080,
                host_port: None,
                udp: false,
            }],
        }],
        tags: tags(td_tags),
    }
}

/// The security groups of the services these tests describe.
static SERVICE_GROUPS: std::sync::LazyLock<Vec<String>> =
    std::sync::LazyLock::new(|| vec!["sg-a".to_string(), "sg-b".to_string()]);

fn intent_of(service: &[(&str, &str)], td: &TaskDefinition) -> ServiceIntent {
    compute_intent(&IntentInput {
        prefix: "",
        service_name: "svc",
        service_tags: &tags(service),
        task_definition: td,
        service_security_groups: &SERVICE_GROUPS,
    })
}

fn publish(i: ServiceIntent) -> Intent {
    match i {
        ServiceIntent::Publish { intent, .. } => Intent::clone(&intent),
        other => panic!("expected an intent, got {other:?}"),
    }
}

fn errors(i: ServiceIntent) -> Vec<String> {
    match i {
        ServiceIntent::Invalid { errors, .. } => errors.iter().map(ToString::to_string).collect(),
        other => panic!("expected errors, got {other:?}"),
    }
}

/// The seed article's ServiceA as routing tags.
const SEED_TAGS: &[(&str, &str)] = &[
    ("alb.host", "service-a.in.example.com"),
    ("alb.healthcheck.path", "/application-status/health"),
    ("alb.healthcheck.healthy-threshold", "2"),
    ("alb.healthcheck.unhealthy-threshold", "10"),
    ("alb.healthcheck.interval", "5"),
    ("alb.healthcheck.timeout", "4"),
];

#[test]
fn seed_service_a_gives_the_seed_target_group_settings() {
    let t = td(SEED_TAGS, &[]);
    let i = publish(intent_of(&[], &t));
    assert_eq!(i.hosts, vec!["service-a.in.example.com"]);
    assert_eq!((i.container.as_str(), i.container_port), ("serviceA", 8080));
    assert_eq!(i.protocol, Protocol::Http);
    assert_eq!(i.target_type, TargetType::Ip);
    assert_eq!(
        i.health_check,
        HealthCheckIntent {
            path: "/application-status/health".into(),
            port: HealthCheckPort::TrafficPort,
            interval: 5,
            timeout: 4,
            healthy_threshold: 2,
            unhealthy_threshold: 10,
            matcher: "200".into(),
        }
    );
    assert_eq!(i.sources.get("alb.host"), Some(Source::TaskDefinitionTag));
}

#[test]
fn no_routing_keys_means_unmanaged() {
    assert_eq!(
        intent_of(&[("team", "a")], &td(&[("env", "prod")], &[])),
        ServiceIntent::Unmanaged
    );
}

#[test]
fn precedence_is_label_then_task_definition_then_service() {
    let t = td(
        &[("alb.host", "td.example.com"), ("alb.path", "/td")],
        &[
            ("alb.host", "label.example.com"),
            ("alb.path", "/label/*"),
            ("alb.priority", "7"),
        ],
    );
    let i = publish(intent_of(&[("alb.host", "svc.example.com")], &t));
    assert_eq!(i.hosts, vec!["svc.example.com"]);
    assert_eq!(i.paths, vec!["/td"]);
    assert_eq!(i.priority, Some(7));
    assert_eq!(i.sources.get("alb.host"), Some(Source::ServiceTag));
    assert_eq!(i.sources.get("alb.path"), Some(Source::TaskDefinitionTag));
    assert_eq!(i.sources.get("alb.priority"), Some(Source::DockerLabel));
}

#[test]
fn key_sources_are_listed_in_key_order_and_the_last_source_given_for_a_key_counts() {
    let sources: KeySources = [
        ("alb.port", Source::DockerLabel),
        ("alb.host", Source::TaskDefinitionTag),
        ("alb.port", Source::ServiceTag),
    ]
    .into_iter()
    .collect();
    let listed: Vec<(&str, Source)> = sources.iter().collect();
    assert_eq!(
        listed,
        [
            ("alb.host", Source::TaskDefinitionTag),
            ("alb.port", Source::ServiceTag)
        ]
    );
    assert_eq!(sources.get("alb.path"), None);
    assert!(KeySources::default().is_empty());
}

#[test]
fn wildcard_paths_and_hosts_from_labels() {
    let t = td(
        &[],
        &[
            ("alb.host", "*.in.example.com"),
            ("alb.path", "/api/* /v?/x"),
        ],
    );
    let i = publish(intent_of(&[], &t));
    assert_eq!(i.hosts, vec!["*.in.example.com"]);
    assert_eq!(i.paths, vec!["/api/*", "/v?/x"]);
}

#[test]
fn the_summary_reads_hosts_paths_container_and_port() {
    for (keys, summary) in [
        (
            vec![("alb.host", "a.in.example.com b.in.example.com")],
            "a.in.example.com b.in.example.com → serviceA:8080",
        ),
        (
            vec![("alb.host", "a.in.example.com"), ("alb.path", "/api/* /v1")],
            "a.in.example.com /api/* /v1 → serviceA:8080",
        ),
    ] {
        let i = publish(intent_of(&keys, &td(&[], &[])));
        assert_eq!(i.summary(), summary);
    }
}

#[test]
fn every_error_names_key_value_source_and_what_is_allowed() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "alb.healthcheck.interval",
            "abc",
            "alb.healthcheck.interval=abc (task definition tag): expected seconds 5–300",
        ),
        (
            "alb.healthcheck.timeout",
            "1",
            "alb.healthcheck.timeout=1 (task definition tag): expected seconds 2–120",
        ),
        (
            "alb.healthcheck.healthy-threshold",
            "11",
            "alb.healthcheck.healthy-threshold=11 (task definition tag): expected a count 2–10",
        ),
        (
            "alb.healthcheck.unhealthy-threshold",
            "1",
            "alb.healthcheck.unhealthy-threshold=1 (task definition tag): expected a count 2–10",
        ),
        (
            "alb.healthcheck.matcher",
            "600",
            "alb.healthcheck.matcher=600 (task definition tag): expected HTTP codes 200–499",
        ),
        (
            "alb.healthcheck.path",
            "health",
            "alb.healthcheck.path=health (task definition tag): expected a path starting with /",
        ),
        (
            "alb.healthcheck.port",
            "0",
            "alb.healthcheck.port=0 (task definition tag): expected traffic-port or a port 1–65535",
        ),
        (
            "alb.priority",
            "50001",
            "alb.priority=50001 (task definition tag): expected a rule priority 1–50000",
        ),
        (
            "alb.port",
            "9090",
            "alb.port=9090 (task definition tag): container serviceA maps no TCP port 9090; it maps: 8080",
        ),
        (
            "alb.protocol",
            "TCP",
            "alb.protocol=TCP (task definition tag): expected HTTP or HTTPS",
        ),
        (
            "alb.protocol-version",
            "HTTP3",
            "alb.protocol-version=HTTP3 (task definition tag): expected HTTP1, HTTP2 or GRPC",
        ),
        (
            "alb.targets",
            "lambda",
            "alb.targets=lambda (task definition tag): expected ecs or direct",
        ),
        (
            "alb.deregistration-delay",
            "4000",
            "alb.deregistration-delay=4000 (task definition tag): expected seconds 0–3600",
        ),
        (
            "alb.slow-start",
            "10",
            "alb.slow-start=10 (task definition tag): expected 0 (off) or seconds 30–900",
        ),
        (
            "alb.stickiness",
            "maybe",
            "alb.stickiness=maybe (task definition tag): expected off, on (one day) or cookie seconds 1–604800",
        ),
        (
            "alb.path",
            "api",
            "alb.path=api (task definition tag): not valid path patterns",
        ),
        (
            "alb.listener",
            "no such",
            "alb.listener=no such (task definition tag): expected a --listener name or a listener ARN",
        ),
        (
            "alb.container",
            "web",
            "alb.container=web (task definition tag): no such container; the task definition has: serviceA",
        ),
        (
            "dns.type",
            "mx",
            "dns.type=mx (task definition tag): expected alias or cname",
        ),
        (
            "dns.ttl",
            "-1",
            "dns.ttl=-1 (task definition tag): expected seconds 0–2147483647",
        ),
        (
            "dns.name",
            "bad_name",
            "dns.name=bad_name (task definition tag): not valid DNS names: bad_name",
        ),
        (
            "cloudmap.service",
            "x",
            "cloudmap.namespace: required when cloudmap.service is set",
        ),
    ];
    for (key, value, expected) in cases {
        let t = td(&[("alb.host", "a.example.com"), (key, value)], &[]);
        let errs = errors(intent_of(&[], &t));
        assert!(
            errs.iter().any(|e| e.starts_with(expected)),
            "{key}={value}: {errs:?}"
        );
    }
    let errs = errors(intent_of(&[], &td(&[("alb.host", "a..example.com")], &[])));
    assert!(
        errs[0].starts_with("alb.host=a..example.com (task definition tag): not valid host names"),
        "{errs:?}"
    );
    let errs = errors(intent_of(
        &[],
        &td(
            &[
                ("alb.healthcheck.interval", "5"),
                ("alb.healthcheck.timeout", "5"),
                ("alb.host", "a.b.c"),
            ],
            &[],
        ),
    ));
    assert!(
        errs.iter()
            .any(|e| e.contains("timeout (5s) must be shorter than the interval (5s)")),
        "{errs:?}"
    );
}

#[test]
fn missing_host_with_a_bad_value_is_invalid_and_keeps_what_exists() {
    let errs = errors(intent_of(
        &[],
        &td(&[("alb.path", "/x"), ("alb.port", "x")], &[]),
    ));
    assert!(errs.iter().any(|e| e.starts_with("alb.port=x")), "{errs:?}");
}

#[test]
fn removing_alb_host_unpublishes_and_names_the_leftover_keys() {
    let intent = intent_of(
        &[],
        &td(
            &[
                ("alb.healthcheck.path", "/health"),
                ("alb.port", "8080"),
                ("dns.type", "cname"),
            ],
            &[],
        ),
    );
    match intent {
        ServiceIntent::Withdraw { warnings } => {
            let w = warnings.join(" ");
            assert!(w.contains("alb.host is not set"), "{w}");
            assert!(
                w.contains("alb.healthcheck.path, alb.port, dns.type"),
                "{w}"
            );
        }
        other => panic!("expected a withdrawal, got {other:?}"),
    }
}

#[test]
fn a_misspelt_alb_host_keeps_the_service_invalid() {
    for typo in ["alb.hosts", "alb.hots", "dns.host", "alb.hostname"] {
        let errs = errors(intent_of(
            &[],
            &td(&[(typo, "a.in.example.com"), ("alb.port", "8080")], &[]),
        ));
        assert!(
            errs.iter()
                .any(|e| e.starts_with("alb.host: not set, but") && e.contains(typo)),
            "{typo}: {errs:?}"
        );
    }
}

#[test]
fn ambiguous_container_lists_the_candidates() {
    let mut t = td(&[("alb.host", "a.example.com")], &[]);
    t.containers.push(Container {
        name: "envoy".into(),
        docker_labels: Tags::new(),
        port_mappings: vec![PortMapping {
            container_port: 9901,
            host_port: None,
            udp: false,
        }],
    });
    let errs = errors(intent_of(&[], &t));
    assert!(
        errs[0].contains("candidates: serviceA (8080), envoy (9901)"),
        "{errs:?}"
    );
    let i = publish(intent_of(&[("alb.container", "envoy")], &t));
    assert_eq!((i.container.as_str(), i.container_port), ("envoy", 9901));
}

#[test]
fn unknown_keys_warn_and_prefix_namespaces() {
    let t = td(
        &[
            ("ingress/alb.host", "a.example.com"),
            ("ingress/alb.helthcheck.path", "/x"),
            ("alb.host", "ignored.example.com"),
        ],
        &[],
    );
    let r = compute_intent(&IntentInput {
        prefix: "ingress/",
        service_name: "svc",
        service_tags: &Tags::new(),
        task_definition: &t,
        service_security_groups: &[],
    });
    match r {
        ServiceIntent::Publish { intent, warnings } => {
            assert_eq!(intent.hosts, vec!["a.example.com"]);
            assert_eq!(warnings.len(), 1);
            assert!(
                warnings[0].contains("ingress/alb.helthcheck.path"),
                "{warnings:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bridge_network_mode_gives_instance_targets_and_forbids_direct() {
    let mut t = td(&[("alb.host", "a.example.com")], &[]);
    t.network_mode = Some("bridge".into());
    assert_eq!(
        publish(intent_of(&[], &t)).target_type,
        TargetType::Instance
    );
    let errs = errors(intent_of(&[("alb.targets", "direct")], &t));
    assert!(
        errs[0].contains("direct needs network mode awsvpc"),
        "{errs:?}"
    );
}

fn arb_host() -> impl Strategy<Value = String> {
    ("(\\*\\.)?", "[a-z][a-z0-9-]{0,10}[a-z0-9]", "[a-z]{2,6}")
        .prop_map(|(w, a, b)| format!("{w}{a}.{b}"))
}

fn arb_deploy() -> impl Strategy<Value = Option<DeploymentSettings>> {
    let minutes = || prop::option::of(0u16..=1440);
    prop::option::of((
        0usize..4,
        minutes(),
        prop::option::of(30u16..=1000),
        minutes(),
        prop::option::of(1u16..=1000),
        minutes(),
    ))
    .prop_map(|d| {
        d.map(|(k, bake, step, step_minutes, canary, canary_minutes)| {
            let strategy = [
                DeploymentStrategy::Rolling,
                DeploymentStrategy::BlueGreen,
                DeploymentStrategy::Linear,
                DeploymentStrategy::Canary,
            ][k]
                .clone();
            let linear = strategy == DeploymentStrategy::Linear;
            let canary_on = strategy == DeploymentStrategy::Canary;
            DeploymentSettings {
                bake_minutes: bake.filter(|_| strategy.shifts_traffic()),
                linear_step_percent: step.filter(|_| linear).map(Tenths),
                linear_step_minutes: step_minutes.filter(|_| linear),
                canary_percent: canary.filter(|_| canary_on).map(Tenths),
                canary_minutes: canary_minutes.filter(|_| canary_on),
                strategy,
            }
        })
    })
}

prop_compose! {
    fn arb_intent()(
        hosts in prop::collection::btree_set(arb_host(), 1..4),
        paths in prop::collection::btree_set("/[a-z0-9*?]{0,12}", 0..3),
        priority in prop::option::of(1u32..=50_000),
        interval in 5u16..=300,
        healthy in 2u8..=10,
        unhealthy in 2u8..=10,
        delay in 0u32..=3600,
        sticky in prop::option::of(1u32..=604_800),
        direct in any::<bool>(),
        cname in any::<bool>(),
        ttl in 0u32..=86_400,
        deploy in arb_deploy(),
        test_host in prop::option::of(arb_host()),
        weight in prop::option::of(0u16..=999),
        backend in 0u8..3,
        tls_off in any::<bool>(),
        certs in any::<bool>(),
    ) -> Intent {
        let shifted = deploy.as_ref().is_some_and(|d| d.strategy.shifts_traffic());
        let test_hosts = test_host.filter(|_| shifted).into_iter().collect();
        let sources: KeySources = KEYS.iter().map(|k| (*k, Source::DockerLabel)).collect();
        Intent {
            hosts: hosts.into_iter().collect(),
            paths: paths.into_iter().collect(),
            listener: ListenerRef::Name("default".into()),
            container: "serviceA".into(),
            container_port: 8080,
            priority,
            protocol: Protocol::Http,
            protocol_version: ProtocolVersion::Http1,
            target_type: TargetType::Ip,
            health_check: HealthCheckIntent { path: "/health".into(), port: HealthCheckPort::TrafficPort, interval, timeout: (interval - 1).min(120), healthy_threshold: healthy, unhealthy_threshold: unhealthy, matcher: "200-299".into() },
            attributes: AttributesIntent { deregistration_delay: delay, slow_start: 0, stickiness: sticky.map_or(Stickiness::Off, |seconds| Stickiness::LbCookie { seconds }) },
            targets: if direct { TargetsMode::Direct } else { TargetsMode::Ecs },
            dns: DnsIntent { names: None, record_type: if cname { DnsType::Cname } else { DnsType::Alias }, ttl, zone: None },
            cloudmap: None,
            deploy: deploy.map(Box::new),
            test_hosts,
            weight: weight.filter(|_| !shifted),
            backend_sg: match backend { 0 => BackendSg::Auto, 1 => BackendSg::Off, _ => BackendSg::Group("sg-b".into()) },
            tls: if tls_off { TlsMode::Off } else { TlsMode::Auto },
            certificate_arns: if certs { vec!["arn:aws:acm:us-east-1:123456789012:certificate/abc-1".into()] } else { vec![] },
            sources,
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_tags_never_panic(
        service in prop::collection::btree_map("(alb|dns|cloudmap|x)\\.[a-z.-]{0,20}", ".{0,300}", 0..30),
        labels in prop::collection::btree_map("(alb|dns)\\.[a-z.-]{0,20}", "\\PC{0,300}", 0..10),
    ) {
        let t = TaskDefinition {
            arn: "arn".into(),
            network_mode: Some("awsvpc".into()),
            containers: vec![Container { name: "c".into(), docker_labels: labels.into(), port_mappings: vec![PortMapping { container_port: 80, host_port: None, udp: false }] }],
            tags: Tags::new(),
        };
        let _ = compute_intent(&IntentInput { prefix: "", service_name: "s", service_tags: &service.into(), task_definition: &t, service_security_groups: &[] });
    }

    #[test]
    fn valid_intents_round_trip_through_their_label_form(intent in arb_intent()) {
        let labels: Vec<(String, String)> = intent.to_labels("").into_iter().collect();
        let refs: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let t = td(&[], &refs);
        let mut parsed = publish(intent_of(&[], &t));
        parsed.sources = intent.sources.clone();
        prop_assert_eq!(parsed, intent);
    }
}

#[test]
fn huge_values_are_rejected_cheaply() {
    let big = "a".repeat(1_000_000);
    let t = td(&[], &[("alb.host", &big)]);
    let errs = errors(intent_of(&[], &t));
    assert!(errs[0].contains("at most 4096 characters"));
    assert!(errs[0].len() < 200, "the value is shortened in the message");
}

#[test]
fn deploy_tags_parse_and_every_mistake_names_its_key() {
    let t = td(&[], &[]);
    let host = ("alb.host", "a.example.com");
    let ok = publish(intent_of(
        &[
            host,
            ("alb.deploy", "canary"),
            ("alb.canary.percent", "12.5"),
            ("alb.canary.minutes", "15"),
            ("alb.bake-minutes", "0"),
        ],
        &t,
    ));
    let d = ok.deploy.clone().expect("deploy settings");
    assert_eq!(d.strategy, DeploymentStrategy::Canary);
    assert_eq!(d.canary_percent, Some(Tenths(125)));
    assert_eq!(d.canary_minutes, Some(15));
    assert_eq!(d.bake_minutes, Some(0));
    assert_eq!(d.linear_step_percent, None, "left to ECS");
    assert!(ok.shifted_by_ecs());
    let rolling = publish(intent_of(&[host, ("alb.deploy", "rolling")], &t));
    assert!(!rolling.shifted_by_ecs());
    assert_eq!(
        publish(intent_of(&[host], &t)).deploy,
        None,
        "no alb.deploy: deploymentConfiguration is never written"
    );
    // (tags besides alb.host, the error's beginning, words in it)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case] = &[
        (
            &[("alb.deploy", "bluegreen")],
            "alb.deploy=bluegreen",
            "rolling, blue-green, linear or canary",
        ),
        (
            &[("alb.bake-minutes", "5")],
            "alb.bake-minutes=5",
            "needs alb.deploy",
        ),
        (
            &[("alb.deploy", "rolling"), ("alb.bake-minutes", "5")],
            "alb.bake-minutes=5",
            "blue-green, linear or canary",
        ),
        (
            &[("alb.deploy", "canary"), ("alb.linear.step-percent", "10")],
            "alb.linear.step-percent=10",
            "needs alb.deploy=linear",
        ),
        (
            &[("alb.deploy", "linear"), ("alb.linear.step-percent", "2")],
            "alb.linear.step-percent=2",
            "3–100",
        ),
        (
            &[("alb.deploy", "canary"), ("alb.canary.percent", "0.05")],
            "alb.canary.percent=0.05",
            "at most one decimal",
        ),
        (
            &[("alb.deploy", "canary"), ("alb.canary.percent", "100.1")],
            "alb.canary.percent=100.1",
            "0.1–100",
        ),
        (
            &[("alb.deploy", "blue-green"), ("alb.bake-minutes", "1441")],
            "alb.bake-minutes=1441",
            "0–1440",
        ),
        (
            &[("alb.deploy", "linear"), ("alb.linear.step-minutes", "-1")],
            "alb.linear.step-minutes=-1",
            "minutes",
        ),
        (&[("alb.weight", "1000")], "alb.weight=1000", "0–999"),
        (
            &[("alb.deploy", "canary"), ("alb.weight", "5")],
            "alb.weight=5",
            "cannot be combined with alb.deploy",
        ),
    ];
    for (extra, start, words) in cases {
        let mut all = vec![host];
        all.extend_from_slice(extra);
        let errs = errors(intent_of(&all, &t));
        assert_eq!(errs.len(), 1, "{extra:?}: {errs:?}");
        assert!(errs[0].starts_with(start), "{extra:?}: {errs:?}");
        assert!(errs[0].contains(words), "{extra:?}: {errs:?}");
    }
}

#[test]
fn backend_sg_is_auto_off_or_one_of_the_services_own_groups() {
    let with = |v: &str| td(&[], &[("alb.host", "a.example.com"), ("alb.backend-sg", v)]);
    assert_eq!(
        publish(intent_of(&[], &td(&[], &[("alb.host", "a.example.com")]))).backend_sg,
        BackendSg::Auto
    );
    assert_eq!(
        publish(intent_of(&[], &with("auto"))).backend_sg,
        BackendSg::Auto
    );
    assert_eq!(
        publish(intent_of(&[], &with("off"))).backend_sg,
        BackendSg::Off
    );
    assert_eq!(
        publish(intent_of(&[], &with("sg-b"))).backend_sg,
        BackendSg::Group("sg-b".into())
    );
    let foreign = errors(intent_of(&[], &with("sg-zzz")));
    assert_eq!(foreign.len(), 1);
    assert!(
        foreign[0].contains("alb.backend-sg=sg-zzz"),
        "{}",
        foreign[0]
    );
    assert!(
        foreign[0].contains("sg-a, sg-b"),
        "names the service's groups: {}",
        foreign[0]
    );
    let nonsense = errors(intent_of(&[], &with("maybe")));
    assert!(
        nonsense[0].contains("expected auto, off or a security group id"),
        "{}",
        nonsense[0]
    );
}

#[test]
fn backend_sg_group_of_a_service_without_groups_says_so() {
    let t = td(
        &[],
        &[("alb.host", "a.example.com"), ("alb.backend-sg", "sg-a")],
    );
    let r = compute_intent(&IntentInput {
        prefix: "",
        service_name: "svc",
        service_tags: &Tags::new(),
        task_definition: &t,
        service_security_groups: &[],
    });
    let ServiceIntent::Invalid { errors, .. } = r else {
        panic!("expected invalid, got {r:?}")
    };
    assert!(
        errors[0].expected.contains("no security groups"),
        "{}",
        errors[0]
    );
}

#[test]
fn backend_sg_picks_the_group_that_gets_the_rule() {
    let groups = vec!["sg-a".to_string(), "sg-b".to_string()];
    assert_eq!(BackendSg::Auto.group(&groups), Some("sg-a"));
    assert_eq!(BackendSg::Auto.group(&[]), None);
    assert_eq!(BackendSg::Off.group(&groups), None);
    assert_eq!(BackendSg::Group("sg-b".into()).group(&groups), Some("sg-b"));
}

#[test]
fn alb_tls_and_certificate_arns_are_checked() {
    let with = |k: &str, v: &str| td(&[], &[("alb.host", "a.example.com"), (k, v)]);
    let plain = publish(intent_of(&[], &td(&[], &[("alb.host", "a.example.com")])));
    assert_eq!(
        (plain.tls, plain.certificate_arns.len()),
        (TlsMode::Auto, 0)
    );
    assert_eq!(
        publish(intent_of(&[], &with("alb.tls", "off"))).tls,
        TlsMode::Off
    );
    let arn = "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e-2d3c";
    let two = format!("{arn} arn:aws-us-gov:acm:us-gov-west-1:123456789012:certificate/ab");
    assert_eq!(
        publish(intent_of(&[], &with("alb.certificate-arn", &two)))
            .certificate_arns
            .len(),
        2
    );
    for bad in [
        "arn:aws:iam::123456789012:server-certificate/x",
        "arn:aws:acm:eu-west-1:1234:certificate/x",
        "not-an-arn",
        "arn:aws:acm:eu-west-1:123456789012:certificate/",
    ] {
        let errs = errors(intent_of(&[], &with("alb.certificate-arn", bad)));
        assert!(
            errs[0].contains("alb.certificate-arn") && errs[0].contains("ACM certificate ARNs"),
            "{bad}: {errs:?}"
        );
    }
    let errs = errors(intent_of(&[], &with("alb.tls", "maybe")));
    assert!(errs[0].contains("expected auto or off"), "{errs:?}");
}
