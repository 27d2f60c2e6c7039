use super::*;
use crate::model::ServiceIntent;
use crate::plan::fixtures::{LISTENER, one_alb, plan_config, tagged_service};
use crate::plan::{Phase, Policy, plan};
use crate::state::{EcsService, ListenerCertificates, Rule, Tags};

const DEFAULT_CERT: &str = "arn:aws:acm:us-east-1:123456789012:certificate/default";
const WILD: &str = "arn:aws:acm:us-east-1:123456789012:certificate/wild";
const EXACT: &str = "arn:aws:acm:us-east-1:123456789012:certificate/exact";
const PENDING: &str = "arn:aws:acm:us-east-1:123456789012:certificate/pending";

fn cert(arn: &str, names: &[&str], status: CertificateStatus) -> AcmCertificate {
    AcmCertificate {
        arn: arn.into(),
        names: names.iter().map(|s| s.to_string()).collect(),
        status,
        not_after: Some(2_000_000_000),
    }
}

/// One HTTPS listener presenting `DEFAULT_CERT` (for `other.org`); ACM holds a wildcard for
/// `*.example.com`, an exact one for `a.example.com` and a pending one for
/// `p.other.net`.
fn observed() -> Snapshot {
    let mut obs = one_alb();
    if let Some(l) = obs.listeners.get_mut(LISTENER) {
        l.protocol = Some("HTTPS".into());
        l.port = Some(443);
    }
    obs.target_groups_complete = true;
    obs.listener_certificates.insert(
        LISTENER.into(),
        ListenerCertificates {
            default: Some(DEFAULT_CERT.into()),
            extra: vec![],
        },
    );
    obs.listener_tags.insert(LISTENER.into(), Tags::new());
    obs.certificates = CertificatesRead::Read(
        [
            cert(DEFAULT_CERT, &["other.org"], CertificateStatus::Issued),
            cert(WILD, &["*.example.com"], CertificateStatus::Issued),
            cert(EXACT, &["a.example.com"], CertificateStatus::Issued),
            cert(
                PENDING,
                &["p.other.net"],
                CertificateStatus::PendingValidation,
            ),
        ]
        .into_iter()
        .map(|c| (c.arn.clone(), c))
        .collect(),
    );
    obs
}

fn config() -> PlanConfig {
    plan_config(Policy::Sync, None)
}

fn service(name: &str, host: &str, extra: &[(&str, &str)]) -> (Arc<EcsService>, ServiceIntent) {
    let mut tags = vec![("alb.host", host)];
    tags.extend_from_slice(extra);
    tagged_service(name, &tags)
}

fn added(p: &Plan) -> Vec<String> {
    p.changes
        .iter()
        .filter_map(|c| match &c.change {
            Change::AddListenerCertificate {
                certificate_arn, ..
            } => Some(certificate_arn.clone()),
            _ => None,
        })
        .collect()
}

fn removed(changes: &[PlannedChange]) -> Vec<String> {
    changes
        .iter()
        .filter_map(|c| match &c.change {
            Change::RemoveListenerCertificate {
                certificate_arn, ..
            } => Some(certificate_arn.clone()),
            _ => None,
        })
        .collect()
}

fn creates_rule(p: &Plan) -> bool {
    p.changes
        .iter()
        .any(|c| matches!(c.change, Change::CreateRule { .. }))
}

fn state_of(p: &Plan, name: &str) -> (ServiceState, Vec<String>) {
    let s = p
        .services
        .iter()
        .find(|s| s.service == name)
        .expect("a status");
    (
        s.state,
        s.problems.iter().map(|p| p.reason.clone()).collect(),
    )
}

#[test]
fn the_exact_certificate_is_added_before_the_rule_and_recorded() {
    let p = plan(
        &config(),
        &observed(),
        &[service("a", "a.example.com", &[])],
    );
    assert_eq!(added(&p), vec![EXACT.to_string()]);
    let phases: Vec<Phase> = p.changes.iter().map(|c| c.change.phase()).collect();
    let at = |ph: Phase| phases.iter().position(|x| *x == ph);
    assert!(
        at(Phase::AddCertificates) < at(Phase::CreateRules),
        "{phases:?}"
    );
    assert!(
        at(Phase::CreateTargetGroups) < at(Phase::AddCertificates),
        "{phases:?}"
    );
    let Some(Change::AddListenerCertificate {
        record_key, record, ..
    }) = p
        .changes
        .iter()
        .map(|c| &c.change)
        .find(|c| matches!(c, Change::AddListenerCertificate { .. }))
    else {
        panic!("no addition");
    };
    assert_eq!(record_key, "ecs-ingress/certificate/exact");
    assert_eq!(record, "ecs-ingress");
}

#[test]
fn a_wildcard_serves_one_label_and_a_covered_host_adds_nothing() {
    let p = plan(
        &config(),
        &observed(),
        &[service("b", "b.example.com", &[])],
    );
    assert_eq!(added(&p), vec![WILD.to_string()]);
    // Already on the listener (hand-attached): nothing to add, the rule goes out.
    let mut obs = observed();
    if let Some(c) = obs.listener_certificates.get_mut(LISTENER) {
        c.extra.push(WILD.into());
    }
    let p = plan(&config(), &obs, &[service("b", "b.example.com", &[])]);
    assert!(added(&p).is_empty());
    assert!(creates_rule(&p));
    // The default covers it: nothing to add either.
    let p = plan(&config(), &observed(), &[service("o", "other.org", &[])]);
    assert!(added(&p).is_empty() && creates_rule(&p), "{:?}", p.changes);
}

#[test]
fn a_host_no_issued_certificate_covers_is_held_without_a_rule() {
    for (host, why) in [
        ("p.other.net", "PENDING_VALIDATION"),
        ("x.y.example.com", "one label only"),
        ("nothing.net", "no certificate in ACM covers nothing.net"),
    ] {
        let p = plan(&config(), &observed(), &[service("a", host, &[])]);
        assert!(!creates_rule(&p), "{host}: {:?}", p.changes);
        assert!(added(&p).is_empty());
        let (state, problems) = state_of(&p, "a");
        assert_eq!(state, ServiceState::Invalid, "{host}");
        assert!(
            problems.iter().any(|m| m.contains(why) && m.contains(host)),
            "{host}: {problems:?}"
        );
    }
}

#[test]
fn explicit_arns_are_exactly_those_and_bad_ones_say_why() {
    let tagged = |v: &str| service("a", "a.example.com", &[("alb.certificate-arn", v)]);
    // The wildcard, named, though an exact one exists.
    let p = plan(&config(), &observed(), &[tagged(WILD)]);
    assert_eq!(added(&p), vec![WILD.to_string()]);
    let missing = "arn:aws:acm:us-east-1:123456789012:certificate/gone";
    for (value, why) in [
        (missing, "not found in ACM"),
        (PENDING, "is PENDING_VALIDATION, not ISSUED"),
        (DEFAULT_CERT, "covers none of the hosts"),
    ] {
        let p = plan(&config(), &observed(), &[tagged(value)]);
        let (state, problems) = state_of(&p, "a");
        assert_eq!(state, ServiceState::Invalid, "{value}");
        assert!(
            problems
                .iter()
                .any(|m| m.contains("alb.certificate-arn") && m.contains(why)),
            "{value}: {problems:?}"
        );
        assert!(!creates_rule(&p) && added(&p).is_empty());
    }
}

#[test]
fn tls_off_http_listeners_and_the_flag_off_do_no_certificate_work() {
    let p = plan(
        &config(),
        &observed(),
        &[service("a", "p.other.net", &[("alb.tls", "off")])],
    );
    assert!(creates_rule(&p) && added(&p).is_empty());
    let mut http = observed();
    if let Some(l) = http.listeners.get_mut(LISTENER) {
        l.protocol = Some("HTTP".into());
    }
    let p = plan(
        &config(),
        &http,
        &[service(
            "a",
            "a.example.com",
            &[("alb.certificate-arn", EXACT)],
        )],
    );
    assert!(creates_rule(&p) && added(&p).is_empty());
    let s = p.services.iter().find(|s| s.service == "a").expect("a");
    assert!(
        s.warnings.iter().any(|w| w.contains("not HTTPS")),
        "{:?}",
        s.warnings
    );
    let mut off = observed();
    off.certificates = CertificatesRead::Off;
    let p = plan(&config(), &off, &[service("a", "p.other.net", &[])]);
    assert!(creates_rule(&p) && added(&p).is_empty());
}

#[test]
fn a_certificate_that_does_not_fit_is_quota_and_shared_ones_count_once() {
    let mut cfg = config();
    cfg.max_certificates_per_alb = Some(1);
    let p = plan(
        &cfg,
        &observed(),
        &[
            service("a", "a.example.com", &[]),
            service("b", "b.example.com", &[]),
            service("c", "c.example.com", &[]),
        ],
    );
    // a takes the one slot with EXACT; b and c need WILD, which does not fit.
    assert_eq!(added(&p), vec![EXACT.to_string()]);
    for name in ["b", "c"] {
        let (state, problems) = state_of(&p, name);
        assert_eq!(state, ServiceState::Quota, "{name}");
        assert!(problems[0].contains("does not fit"), "{problems:?}");
    }
    cfg.max_certificates_per_alb = Some(2);
    let p = plan(
        &cfg,
        &observed(),
        &[
            service("b", "b.example.com", &[]),
            service("c", "c.example.com", &[]),
        ],
    );
    assert_eq!(added(&p), vec![WILD.to_string()], "one addition for both");
    let add = p
        .changes
        .iter()
        .find(|c| matches!(c.change, Change::AddListenerCertificate { .. }))
        .expect("an addition");
    assert_eq!(add.service_arn, None, "ahead of every pipeline");
    let Change::AddListenerCertificate { for_services, .. } = &add.change else {
        unreachable!()
    };
    assert_eq!(
        for_services.len(),
        2,
        "a failure holds back both services' rules"
    );
}

/// `a.example.com` published on the listener with EXACT attached by ecs-ingress.
fn published() -> (PlanConfig, Snapshot, (Arc<EcsService>, ServiceIntent)) {
    let cfg = config();
    let mut obs = observed();
    let svc = service("a", "a.example.com", &[]);
    obs.rules.push(Rule {
        arn: "arn:rule/a".into(),
        listener_arn: LISTENER.into(),
        priority: Some(1000),
        hosts: vec!["a.example.com".into()],
        paths: vec![],
        other_conditions: 0,
        forward_target_groups: vec!["arn:tg/a".into()],
        staged_target_groups: vec![],
        weights: Default::default(),
        other_actions: 0,
        tags: cfg.ownership.tags(&svc.0.arn, "rule-0"),
    });
    if let Some(c) = obs.listener_certificates.get_mut(LISTENER) {
        c.extra.push(EXACT.into());
    }
    obs.listener_tags.insert(
        LISTENER.into(),
        Tags::from([(record_key(EXACT), "ecs-ingress".to_string())]),
    );
    (cfg, obs, svc)
}

#[test]
fn an_attached_certificate_stays_while_a_host_selects_it_and_goes_after_the_rule() {
    let (cfg, obs, svc) = published();
    let p = plan(&cfg, &obs, std::slice::from_ref(&svc));
    assert!(removed(&p.changes).is_empty(), "{:?}", p.changes);
    let counts: Vec<_> = p.managed_resource_counts().collect();
    assert!(counts.contains(&("listener-certificate", 1)), "{counts:?}");
    let s = p.services.iter().find(|s| s.service == "a").expect("a");
    assert!(
        s.resources
            .iter()
            .any(|r| r.kind == ResourceKind::ListenerCertificate && r.id == EXACT),
        "{:?}",
        s.resources
    );
    // Untagged: the rule goes, then the certificate.
    let gone = tagged_service("a", &[]);
    let p = plan(&cfg, &obs, &[gone]);
    assert_eq!(removed(&p.changes), vec![EXACT.to_string()]);
    let phases: Vec<Phase> = p.changes.iter().map(|c| c.change.phase()).collect();
    let at = |ph: Phase| phases.iter().position(|x| *x == ph);
    assert!(
        at(Phase::DeleteRules) < at(Phase::RemoveCertificates),
        "{phases:?}"
    );
}

#[test]
fn hand_attached_and_default_certificates_are_never_removed() {
    let (cfg, mut obs, _) = published();
    // EXACT attached by hand: no record of ours.
    obs.listener_tags.insert(LISTENER.into(), Tags::new());
    let p = plan(&cfg, &obs, &[tagged_service("a", &[])]);
    assert!(removed(&p.changes).is_empty());
    // Another owner's record is not ours either.
    obs.listener_tags.insert(
        LISTENER.into(),
        Tags::from([(record_key(EXACT), "someone-else".to_string())]),
    );
    let p = plan(&cfg, &obs, &[tagged_service("a", &[])]);
    assert!(removed(&p.changes).is_empty());
}

#[test]
fn a_certificate_deleted_later_never_unpublishes_and_a_failed_read_removes_nothing() {
    let (cfg, mut obs, svc) = published();
    if let CertificatesRead::Read(certs) = &mut obs.certificates {
        certs.remove(EXACT);
        certs.remove(WILD);
    }
    let p = plan(&cfg, &obs, std::slice::from_ref(&svc));
    assert!(
        !p.changes
            .iter()
            .any(|c| matches!(c.change, Change::DeleteRule { .. })),
        "{:?}",
        p.changes
    );
    assert_eq!(state_of(&p, "a").0, ServiceState::Invalid);
    let (cfg, mut obs, _) = published();
    obs.failed_reads.push(crate::snapshot::FailedRead {
        service: "elbv2".into(),
        operation: "DescribeRules".into(),
        message: "throttled".into(),
        zone: None,
    });
    let p = plan(&cfg, &obs, &[tagged_service("a", &[])]);
    assert!(removed(&p.changes).is_empty());
}

#[test]
fn a_failed_acm_read_holds_https_services_as_they_are() {
    let (cfg, mut obs, svc) = published();
    obs.certificates = CertificatesRead::Failed("AccessDeniedException".into());
    let p = plan(&cfg, &obs, std::slice::from_ref(&svc));
    assert!(removed(&p.changes).is_empty());
    let (state, problems) = state_of(&p, "a");
    assert_eq!(state, ServiceState::Error);
    assert!(
        problems[0].contains("AccessDeniedException"),
        "{problems:?}"
    );
    let fresh = service("n", "n.example.com", &[]);
    let p = plan(&cfg, &obs, &[fresh]);
    assert!(!creates_rule(&p));
}

#[test]
fn a_certificate_removed_by_hand_is_attached_again_and_keeps_its_record() {
    let (cfg, mut obs, svc) = published();
    if let Some(c) = obs.listener_certificates.get_mut(LISTENER) {
        c.extra.clear();
    }
    let p = plan(&cfg, &obs, std::slice::from_ref(&svc));
    assert_eq!(added(&p), vec![EXACT.to_string()]);
    assert!(
        removed(&p.changes).is_empty(),
        "the record stays: {:?}",
        p.changes
    );
}

/// `a.example.com` published with WILD attached by ecs-ingress (EXACT also in ACM).
fn published_with_wildcard(
    extra: &[(&str, &str)],
) -> (PlanConfig, Snapshot, (Arc<EcsService>, ServiceIntent)) {
    let (cfg, mut obs, _) = published();
    let svc = service("a", "a.example.com", extra);
    if let Some(c) = obs.listener_certificates.get_mut(LISTENER) {
        c.extra = vec![WILD.into()];
    }
    obs.certificates_per_load_balancer
        .insert(crate::plan::fixtures::LB.into(), 1);
    obs.listener_tags.insert(
        LISTENER.into(),
        Tags::from([(record_key(WILD), "ecs-ingress".to_string())]),
    );
    (cfg, obs, svc)
}

#[test]
fn a_pinned_certificate_stays_though_a_better_one_is_in_acm() {
    let (cfg, obs, svc) = published_with_wildcard(&[("alb.certificate-arn", WILD)]);
    let p = plan(&cfg, &obs, std::slice::from_ref(&svc));
    assert!(removed(&p.changes).is_empty(), "{:?}", p.changes);
    assert!(added(&p).is_empty(), "{:?}", p.changes);
    let s = p.services.iter().find(|s| s.service == "a").expect("a");
    assert!(
        s.resources
            .iter()
            .any(|r| r.kind == ResourceKind::ListenerCertificate && r.id == WILD),
        "{:?}",
        s.resources
    );
}

#[test]
fn the_certificate_serving_a_host_stays_until_its_better_choice_is_attached() {
    // EXACT is the better choice but does not fit: a is held (quota), WILD keeps serving.
    let (mut cfg, obs, svc) = published_with_wildcard(&[]);
    cfg.max_certificates_per_alb = Some(1);
    let p = plan(&cfg, &obs, std::slice::from_ref(&svc));
    assert_eq!(state_of(&p, "a").0, ServiceState::Quota);
    assert!(removed(&p.changes).is_empty(), "{:?}", p.changes);
    // With room: EXACT is added and WILD goes in the same pass, after it.
    cfg.max_certificates_per_alb = Some(2);
    let p = plan(&cfg, &obs, std::slice::from_ref(&svc));
    assert_eq!(added(&p), vec![EXACT.to_string()]);
    assert_eq!(removed(&p.changes), vec![WILD.to_string()]);
}
