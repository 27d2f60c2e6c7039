//! Certificates per host on HTTPS listeners, on the in-memory AWS whose clients call a name
//! an HTTPS listener routes over TLS (served only if the listener presents a certificate
//! covering it), with the served-traffic check after every write.

use ecs_ingress::aws::ErrorKind;
use ecs_ingress::config::Config;
use ecs_ingress::fake::Fault;
use ecs_ingress::state::CertificateStatus;
use ecs_ingress::status::ServiceState;
use ecs_ingress::testing::Estate;
use ecs_ingress::testing::listener_name;

const FAR: i64 = 2_000_000_000;

struct Https {
    estate: Estate,
    listener: String,
    default_certificate: String,
}

/// One ALB whose HTTPS listener (presenting a certificate for `other.org`) is the one
/// services are published on.
fn https_estate() -> Https {
    let estate = Estate::new(1);
    let (listener, default_certificate) = {
        let mut world = estate.fake.world();
        let lb = world.listeners[&estate.listeners["default"]]
            .load_balancer_arn
            .clone();
        let default =
            world.add_acm_certificate(&["other.org"], CertificateStatus::Issued, "RSA_2048", FAR);
        let listener = world
            .add_https_listener(&lb, &default)
            .expect("an HTTPS listener");
        (listener, default)
    };
    Https {
        estate,
        listener,
        default_certificate,
    }
}

impl Https {
    fn config(&self) -> Config {
        let mut config = self.estate.config();
        config.listeners = [("default".to_string(), self.listener.clone())].into();
        config.pools = ecs_ingress::config::PoolSettings::single(&config.listeners);
        config
    }

    fn add(&self, name: &str, extra: &[(&str, &str)]) -> String {
        let host = format!("{name}.in.example.com");
        let mut tags = vec![
            ("alb.host", host.as_str()),
            ("alb.healthcheck.interval", "5"),
            ("alb.healthcheck.timeout", "4"),
            ("alb.healthcheck.healthy-threshold", "2"),
        ];
        tags.extend_from_slice(extra);
        self.estate.add_service(name, &tags, &[])
    }

    fn certificate(&self, names: &[&str], status: CertificateStatus, key_type: &str) -> String {
        self.estate
            .fake
            .world()
            .add_acm_certificate(names, status, key_type, FAR)
    }

    /// The listener's certificates, the default first.
    fn presented(&self) -> Vec<String> {
        self.estate.fake.world().listener_settings[&self.listener]
            .certificates
            .clone()
    }

    fn records(&self) -> Vec<String> {
        self.estate
            .fake
            .world()
            .elb_tags
            .get(&self.listener)
            .map(|t| {
                t.keys()
                    .filter(|k| k.starts_with("ecs-ingress/certificate/"))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn status_of(report: &ecs_ingress::runtime::PassReport, arn: &str) -> (ServiceState, String) {
    let status = report.status();
    let s = status
        .services
        .iter()
        .find(|s| s.service_arn == arn)
        .expect("a status");
    (
        s.state,
        s.problems
            .iter()
            .map(|p| p.reason.clone())
            .collect::<Vec<_>>()
            .join("; "),
    )
}

#[tokio::test(start_paused = true)]
async fn an_ecdsa_wildcard_is_found_attached_before_the_rule_and_removed_after_it() {
    let h = https_estate();
    let wildcard = h.certificate(
        &["*.in.example.com"],
        CertificateStatus::Issued,
        "EC_prime256v1",
    );
    let a = h.add("a", &[]);
    h.estate.expect_served("a.in.example.com", &a);
    let controller = h.estate.controller_with(h.config());
    let (_, report) = h.estate.converge_report(&controller, 20).await;
    assert_eq!(
        h.presented(),
        vec![h.default_certificate.clone(), wildcard.clone()]
    );
    assert_eq!(h.records().len(), 1);
    h.estate.assert_traffic_served("published over TLS");
    let (state, _) = status_of(&report, &a);
    assert_eq!(state, ServiceState::Published);
    let status = serde_json::to_value(report.status()).expect("status");
    assert!(
        status.to_string().contains("listener-certificate"),
        "{status}"
    );
    let metrics = h.estate.metrics.encode();
    assert!(
        metrics.contains(r#"ecs_ingress_managed_resources{kind="listener-certificate"} 1"#),
        "{metrics}"
    );
    // A second controller changes nothing.
    let writes = h.estate.fake.writes();
    h.estate.controller_with(h.config()).pass(true).await;
    assert_eq!(h.estate.fake.writes(), writes);
    // A steady pass reads the listener's certificates, not ACM nor the listener's tags
    // (cached until the refresh pass, or until ecs-ingress changes the listener).
    h.estate.fake.reset_calls();
    controller.pass(true).await;
    let counts = h.estate.fake.call_counts();
    assert_eq!(
        counts.get("DescribeListenerCertificates"),
        Some(&1),
        "{counts:?}"
    );
    assert_eq!(counts.get("ListCertificates"), None, "{counts:?}");
    assert_eq!(counts.get("DescribeTags"), None, "{counts:?}");

    // Withdrawn: the rule goes, then the certificate and its record; the default stays.
    h.estate.fake.release_served("a.in.example.com");
    h.estate.untag_task_definitions();
    h.estate.fake.reset_calls();
    h.estate.converge(&controller, 20).await;
    assert_eq!(h.presented(), vec![h.default_certificate.clone()]);
    assert!(h.records().is_empty());
    let order: Vec<&'static str> = h
        .estate
        .fake
        .calls()
        .iter()
        .filter(|c| c.served && c.is_write())
        .map(|c| c.operation)
        .collect();
    let at = |op: &str| order.iter().position(|o| *o == op);
    assert!(
        at("RemoveListenerCertificates") > at("DeleteRule"),
        "{order:?}"
    );
    h.estate.assert_traffic_served("withdrawn");
}

#[tokio::test(start_paused = true)]
async fn a_host_without_an_issued_certificate_waits_for_it_and_is_never_served_wrong() {
    let h = https_estate();
    let pending = h.certificate(
        &["a.in.example.com"],
        CertificateStatus::PendingValidation,
        "RSA_2048",
    );
    let a = h.add("a", &[]);
    let controller = h.estate.controller_with(h.config());
    let report = controller.pass(true).await;
    let (state, problems) = status_of(&report, &a);
    assert_eq!(state, ServiceState::Invalid);
    assert!(
        problems.contains("PENDING_VALIDATION") && problems.contains("a.in.example.com"),
        "{problems}"
    );
    assert!(
        !h.estate
            .owned_rules()
            .iter()
            .any(|r| r.listener_arn == h.listener),
        "a rule on the HTTPS listener"
    );
    // ACM validates it: the next passes publish.
    h.estate.fake.world().issue_certificate(&pending);
    h.estate.expect_served("a.in.example.com", &a);
    h.estate.converge(&controller, 20).await;
    assert!(h.presented().contains(&pending));
    h.estate.assert_traffic_served("issued, then published");
}

#[tokio::test(start_paused = true)]
async fn a_certificate_removed_by_hand_comes_back_and_hand_attached_ones_stay() {
    let h = https_estate();
    let exact = h.certificate(&["a.in.example.com"], CertificateStatus::Issued, "RSA_2048");
    let hand = h.certificate(
        &["legacy.example.org"],
        CertificateStatus::Issued,
        "RSA_2048",
    );
    h.estate
        .fake
        .world()
        .add_listener_certificates(&h.listener, std::slice::from_ref(&hand))
        .expect("hand-attached");
    let a = h.add("a", &[]);
    h.estate.expect_served("a.in.example.com", &a);
    let controller = h.estate.controller_with(h.config());
    h.estate.converge(&controller, 20).await;
    assert!(h.presented().contains(&exact));
    // Someone removes ours: it is attached again.
    h.estate.fake.release_served("a.in.example.com");
    h.estate
        .fake
        .world()
        .remove_listener_certificate(&h.listener, &exact)
        .expect("removed by hand");
    // (The name is not served until it is back: the damage is someone else's.)
    h.estate.converge(&controller, 20).await;
    assert!(h.presented().contains(&exact));
    assert_eq!(h.records().len(), 1, "attached again with its record");
    h.estate.expect_served("a.in.example.com", &a);
    // Untagged: ours goes, the hand-attached one stays.
    h.estate.fake.release_served("a.in.example.com");
    h.estate.untag_task_definitions();
    h.estate.converge(&controller, 20).await;
    assert_eq!(h.presented(), vec![h.default_certificate.clone(), hand]);
    h.estate.assert_traffic_served("hand-attached kept");
}

#[tokio::test(start_paused = true)]
async fn explicit_arns_quota_and_a_denied_acm_read() {
    let h = https_estate();
    let a_cert = h.certificate(&["a.in.example.com"], CertificateStatus::Issued, "RSA_2048");
    let b_cert = h.certificate(&["b.in.example.com"], CertificateStatus::Issued, "RSA_2048");
    let a = h.add("a", &[("alb.certificate-arn", a_cert.as_str())]);
    let b = h.add("b", &[]);
    let wrong = h.add("c", &[("alb.certificate-arn", b_cert.as_str())]);
    h.estate.expect_served("a.in.example.com", &a);
    let mut config = h.config();
    config.max_certificates_per_alb = Some(1);
    let controller = h.estate.controller_with(config);
    let report = controller.pass(true).await;
    let (state, problems) = status_of(&report, &b);
    assert_eq!(state, ServiceState::Quota, "{problems}");
    assert!(problems.contains("does not fit"), "{problems}");
    let (state, problems) = status_of(&report, &wrong);
    assert_eq!(state, ServiceState::Invalid);
    assert!(problems.contains("covers none of the hosts"), "{problems}");
    h.estate.converge(&controller, 20).await;
    assert_eq!(h.presented(), vec![h.default_certificate.clone(), a_cert]);
    // ACM denied: not a failed read of the pass; nothing removed, a stays served.
    h.estate.fake.inject(Fault {
        operation: "ListCertificates",
        kind: ErrorKind::AccessDenied,
        times: 1,
    });
    let report = controller.pass(true).await;
    assert!(
        report.observed_failures.is_empty(),
        "{:?}",
        report.observed_failures
    );
    let (state, problems) = status_of(&report, &a);
    assert_eq!(state, ServiceState::Error, "{problems}");
    assert!(h.presented().len() == 2);
    h.estate.assert_traffic_served("denied read");
}

#[tokio::test(start_paused = true)]
async fn listener_certificates_off_makes_no_acm_call() {
    let h = https_estate();
    h.certificate(&["a.in.example.com"], CertificateStatus::Issued, "RSA_2048");
    h.add("a", &[]);
    let mut config = h.config();
    config.listener_certificates = false;
    let controller = h.estate.controller_with(config);
    controller.pass(true).await;
    let calls = h.estate.fake.calls();
    assert!(
        !calls
            .iter()
            .any(|c| c.service == "acm" || c.operation.contains("ListenerCertificates")),
        "{:?}",
        h.estate.fake.call_counts()
    );
}

/// a published with its certificate; then a withdrawn and b (another certificate) added.
fn fault_scenario() -> (Https, String, String) {
    let h = https_estate();
    let a_cert = h.certificate(&["a.in.example.com"], CertificateStatus::Issued, "RSA_2048");
    let b_cert = h.certificate(
        &["b.in.example.com"],
        CertificateStatus::Issued,
        "EC_secp384r1",
    );
    (h, a_cert, b_cert)
}

fn transition(h: &Https) -> String {
    h.estate.fake.release_served("a.in.example.com");
    h.estate.edit_task_definition_tags("a", |t| {
        t.remove("alb.host");
    });
    let b = h.add("b", &[]);
    h.estate.expect_served("b.in.example.com", &b);
    b
}

#[tokio::test(start_paused = true)]
async fn faults_on_every_certificate_call_converge_and_remove_nothing_early() {
    let ops = [
        "DescribeListenerCertificates",
        "ListCertificates",
        "DescribeCertificate",
        "DescribeTags",
        "AddListenerCertificates",
        "RemoveListenerCertificates",
        "AddTags",
        "RemoveTags",
    ];
    let mut cases = 0;
    for op in ops {
        for kind in [
            ErrorKind::Throttled,
            ErrorKind::Unavailable,
            ErrorKind::AccessDenied,
        ] {
            let case = format!("{op} {kind:?}");
            let (h, a_cert, b_cert) = fault_scenario();
            let a = h.add("a", &[]);
            h.estate.expect_served("a.in.example.com", &a);
            let controller = h.estate.controller_with(h.config());
            h.estate.converge(&controller, 20).await;
            transition(&h);
            // A fresh process: every read is made, none from a cache.
            let fresh = h.estate.controller_with(h.config());
            h.estate.fake.inject(Fault {
                operation: op,
                kind,
                times: 2,
            });
            fresh.pass(true).await;
            h.estate.converge(&fresh, 30).await;
            h.estate.fake.clear_faults();
            h.estate.converge(&fresh, 30).await;
            assert_eq!(
                h.presented(),
                vec![h.default_certificate.clone(), b_cert.clone()],
                "{case}"
            );
            assert_eq!(h.records().len(), 1, "{case}");
            assert!(!h.presented().contains(&a_cert), "{case}");
            h.estate.assert_traffic_served(&case);
            cases += 1;
        }
    }
    eprintln!("certificate faults: {cases} cases converged");
}

#[tokio::test(start_paused = true)]
async fn a_crash_after_any_write_of_a_certificate_pass_is_finished_by_a_fresh_process() {
    use ecs_ingress::observe::{self, Cache};
    use ecs_ingress::{apply, runtime};
    let run = |crash_after: Option<usize>| async move {
        let (h, a_cert, b_cert) = fault_scenario();
        let a = h.add("a", &[]);
        h.estate.expect_served("a.in.example.com", &a);
        h.estate
            .converge(&h.estate.controller_with(h.config()), 20)
            .await;
        transition(&h);
        let config = h.config();
        let plan_config = config.plan_config();
        let aws = h.estate.fake.aws();
        let mut cache = Cache::default();
        let mut observed =
            observe::observe(&aws, &config, &plan_config.ownership, &mut cache).await;
        let intents = runtime::intents(&config, &observed);
        let planned = runtime::plan_pass(&aws, &plan_config, &mut observed, &intents).await;
        let start = h.estate.fake.writes();
        let limit = crash_after.unwrap_or(usize::MAX);
        let stop = || h.estate.fake.writes() >= start.saturating_add(limit);
        apply::apply(&aws, &planned, &h.estate.metrics, &stop).await;
        let made = h.estate.fake.writes() - start;
        let fresh = h.estate.controller_with(h.config());
        h.estate.converge(&fresh, 30).await;
        assert_eq!(
            h.presented(),
            vec![h.default_certificate.clone(), b_cert],
            "crash after {crash_after:?}"
        );
        assert!(!h.presented().contains(&a_cert));
        assert_eq!(h.records().len(), 1, "crash after {crash_after:?}");
        h.estate
            .assert_traffic_served(&format!("crash after {crash_after:?}"));
        made
    };
    let writes = run(None).await;
    assert!(writes >= 6, "the transition makes {writes} writes");
    for k in 0..writes {
        run(Some(k)).await;
    }
    eprintln!("crash after each of {writes} writes: all converged");
}

#[tokio::test(start_paused = true)]
async fn a_targeted_pass_adds_again_a_certificate_a_full_pass_removed_since_its_base() {
    use ecs_ingress::events::{EventTarget, ServiceArn};
    use ecs_ingress::runtime::ScopeDecision;
    let h = https_estate();
    let cert = h.certificate(&["a.in.example.com"], CertificateStatus::Issued, "RSA_2048");
    let a = h.add("a", &[]);
    h.estate.expect_served("a.in.example.com", &a);
    let controller = h.estate.controller_with(h.config());
    h.estate.converge(&controller, 20).await;
    // a leaves: a full pass removes its certificate (its base, read before, still has it).
    h.estate.fake.release_served("a.in.example.com");
    h.estate.untag_task_definitions();
    // The rule and then the certificate go in one pass, whose read (the base of the
    // targeted passes) was made before.
    controller.pass(true).await;
    assert!(!h.presented().contains(&cert));
    // A new service for the same host arrives by event: a targeted pass publishes it.
    let b = h.estate.add_service(
        "b",
        &[
            ("alb.host", "a.in.example.com"),
            ("alb.healthcheck.interval", "5"),
            ("alb.healthcheck.timeout", "4"),
            ("alb.healthcheck.healthy-threshold", "2"),
        ],
        &[],
    );
    h.estate.expect_served("a.in.example.com", &b);
    let targets = [EventTarget::Service(ServiceArn::parse(&b).expect("ARN"))]
        .into_iter()
        .collect();
    let ScopeDecision::Targeted(scope) = controller.scope_of(&targets) else {
        panic!("expected a targeted scope");
    };
    for _ in 0..20 {
        if let Some(report) = controller.targeted_pass(&scope).await {
            assert!(report.succeeded(), "{:?}", report.observed_failures);
        }
        if h.estate.fake.world().has_record("a.in.example.com") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    }
    assert!(h.presented().contains(&cert), "{:?}", h.presented());
    h.estate
        .assert_traffic_served("published by targeted passes over TLS");
}

/// A pool of two HTTPS listeners, each on its own ALB and presenting only a default for
/// `other.org`, with room for `certificates` more each; the second ALB carries 30 rules
/// by hand, so by rules alone the first is always the roomier.
fn https_pool(certificates: usize) -> (Estate, Vec<String>, Config) {
    let estate = Estate::new(2);
    let members: Vec<String> = {
        let mut world = estate.fake.world();
        let default =
            world.add_acm_certificate(&["other.org"], CertificateStatus::Issued, "RSA_2048", FAR);
        (0..2)
            .map(|i| {
                let plain = &estate.listeners[&listener_name(i)];
                let lb = world.listeners[plain].load_balancer_arn.clone();
                world
                    .add_https_listener(&lb, &default)
                    .expect("an HTTPS listener")
            })
            .collect()
    };
    let hand: Vec<String> = (0..30).map(|n| format!("hand{n}.example.net")).collect();
    assert_eq!(estate.add_hand_made_rules(&members[1], 1, &hand).len(), 30);
    let mut config = estate.config();
    config.listeners = [("default".to_string(), members[0].clone())].into();
    config.pools.members = [("default".to_string(), members.clone())].into();
    config.max_certificates_per_alb = Some(certificates);
    (estate, members, config)
}

#[tokio::test(start_paused = true)]
async fn a_pool_places_a_service_where_its_certificate_fits_and_serves_it_over_tls() {
    let (estate, members, config) = https_pool(1);
    let certificate = |name: &str| {
        estate
            .fake
            .world()
            .add_acm_certificate(&[name], CertificateStatus::Issued, "RSA_2048", FAR)
    };
    let (a_cert, b_cert) = (
        certificate("a.in.example.com"),
        certificate("b.in.example.com"),
    );
    let tags = |host: &'static str| {
        [
            ("alb.host", host),
            ("alb.healthcheck.interval", "5"),
            ("alb.healthcheck.timeout", "4"),
            ("alb.healthcheck.healthy-threshold", "2"),
        ]
    };
    let a = estate.add_service("a", &tags("a.in.example.com"), &[]);
    let b = estate.add_service("b", &tags("b.in.example.com"), &[]);
    estate.expect_served("a.in.example.com", &a);
    estate.expect_served("b.in.example.com", &b);
    let controller = estate.controller_with(config);
    let (_, report) = estate.converge_report(&controller, 40).await;
    for arn in [&a, &b] {
        let (state, problems) = status_of(&report, arn);
        assert_eq!(state, ServiceState::Published, "{problems}");
    }
    let presented = |listener: &str| -> Vec<String> {
        estate.fake.world().listener_settings[listener]
            .certificates
            .clone()
    };
    // One certificate each: `a` on the roomier first ALB, `b` on the second, where its
    // certificate still fits.
    assert!(presented(&members[0]).contains(&a_cert), "{members:?}");
    assert!(presented(&members[1]).contains(&b_cert), "{members:?}");
    estate.assert_traffic_served("a pool of HTTPS listeners, one certificate each");
    let status = serde_json::to_value(report.status()).expect("status");
    let used: Vec<u64> = status["albs"]
        .as_array()
        .expect("albs")
        .iter()
        .filter_map(|a| a["certificates_used"].as_u64())
        .collect();
    assert_eq!(used, vec![1, 1], "{status}");
}
