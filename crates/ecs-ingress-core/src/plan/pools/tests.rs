//! Pool placement counting certificates on HTTPS listeners beside rules and groups.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::model::ServiceIntent;
use crate::plan::change::Change;
use crate::plan::fixtures::{LB, LISTENER, one_alb, plan_config, tagged_service};
use crate::plan::{Plan, PlanConfig, Policy, plan};
use crate::snapshot::{AlbAccount, CertificatesRead, Snapshot};
use crate::state::{
    AcmCertificate, CertificateStatus, EcsService, Listener, ListenerCertificates, Tags,
};
use crate::status::ServiceState;

const LISTENER_2: &str = "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/lb2/3/4";
const LB_2: &str = "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/lb2/3";
const DEFAULT_CERT: &str = "arn:aws:acm:us-east-1:1:certificate/default";
const A: &str = "arn:aws:acm:us-east-1:1:certificate/a";
const B: &str = "arn:aws:acm:us-east-1:1:certificate/b";
const WILD: &str = "arn:aws:acm:us-east-1:1:certificate/wild";

fn cert(arn: &str, names: &[&str]) -> AcmCertificate {
    AcmCertificate {
        arn: arn.into(),
        names: names.iter().map(|s| s.to_string()).collect(),
        status: CertificateStatus::Issued,
        not_after: Some(2_000_000_000),
    }
}

/// A pool of two HTTPS listeners on two ALBs, each presenting only its default; ACM holds
/// exact certificates for `a.example.com` and `b.example.com` and a wildcard for
/// `*.shared.example.com`. The second ALB holds 50 hand-made rules, so by rules alone the
/// first is always the roomier.
fn observed() -> Snapshot {
    let mut obs = one_alb();
    let mut second_lb = obs.load_balancers[LB].clone();
    second_lb.arn = LB_2.into();
    second_lb.name = "lb2".into();
    obs.load_balancers.insert(LB_2.into(), second_lb);
    obs.listeners.insert(
        LISTENER_2.into(),
        Listener {
            arn: LISTENER_2.into(),
            load_balancer_arn: LB_2.into(),
            port: Some(443),
            protocol: Some("HTTPS".into()),
        },
    );
    for (listener, lb) in [(LISTENER, LB), (LISTENER_2, LB_2)] {
        if let Some(l) = obs.listeners.get_mut(listener) {
            l.protocol = Some("HTTPS".into());
            l.port = Some(443);
        }
        obs.listener_certificates.insert(
            listener.into(),
            ListenerCertificates {
                default: Some(DEFAULT_CERT.into()),
                extra: vec![],
            },
        );
        obs.listener_tags.insert(listener.into(), Tags::new());
        obs.certificates_per_load_balancer.insert(lb.into(), 0);
    }
    obs.rules_per_load_balancer.insert(LB_2.into(), 50);
    obs.target_groups_complete = true;
    obs.certificates = CertificatesRead::Read(
        [
            cert(DEFAULT_CERT, &["other.org"]),
            cert(A, &["a.example.com"]),
            cert(B, &["b.example.com"]),
            cert(WILD, &["*.shared.example.com"]),
        ]
        .into_iter()
        .map(|c| (c.arn.clone(), c))
        .collect(),
    );
    obs
}

/// The pool `default` of both listeners, one certificate besides the default per ALB.
fn config() -> PlanConfig {
    let mut config = plan_config(Policy::Sync, None);
    config.pools.members = BTreeMap::from([(
        "default".to_string(),
        vec![LISTENER.to_string(), LISTENER_2.to_string()],
    )]);
    config.max_certificates_per_alb = Some(1);
    config
}

fn service(name: &str, hosts: &str) -> (Arc<EcsService>, ServiceIntent) {
    tagged_service(name, &[("alb.host", hosts)])
}

/// The listener each service's new rule goes on.
fn rules_on(p: &Plan) -> BTreeMap<String, String> {
    p.changes
        .iter()
        .filter_map(|c| match &c.change {
            Change::CreateRule { listener_arn, .. } => {
                Some((c.service.clone(), listener_arn.clone()))
            }
            _ => None,
        })
        .collect()
}

/// (listener, certificate) of every addition.
fn added(p: &Plan) -> Vec<(String, String)> {
    p.changes
        .iter()
        .filter_map(|c| match &c.change {
            Change::AddListenerCertificate {
                listener_arn,
                certificate_arn,
                ..
            } => Some((listener_arn.clone(), certificate_arn.clone())),
            _ => None,
        })
        .collect()
}

fn state_of(p: &Plan, name: &str) -> ServiceState {
    p.services
        .iter()
        .find(|s| s.service == name)
        .map(|s| s.state)
        .expect("a status")
}

fn statuses(p: &Plan) -> Vec<(String, ServiceState, Vec<String>, Vec<String>)> {
    p.services
        .iter()
        .map(|s| {
            (
                s.service.clone(),
                s.state,
                s.problems.iter().map(|p| p.reason.clone()).collect(),
                s.waiting.clone(),
            )
        })
        .collect()
}

#[test]
fn a_unit_goes_where_its_certificate_fits_though_another_member_has_more_rules_free() {
    let p = plan(
        &config(),
        &observed(),
        &[service("a", "a.example.com"), service("b", "b.example.com")],
    );
    // By rules alone both would go to the first ALB, and admission would hold `b` (quota).
    assert_eq!(
        rules_on(&p),
        BTreeMap::from([
            ("main/a".to_string(), LISTENER.to_string()),
            ("main/b".to_string(), LISTENER_2.to_string()),
        ]),
        "{:?}",
        statuses(&p)
    );
    assert_eq!(
        added(&p),
        vec![
            (LISTENER.to_string(), A.to_string()),
            (LISTENER_2.to_string(), B.to_string()),
        ]
    );
    assert_ne!(state_of(&p, "b"), ServiceState::Quota);
}

#[test]
fn a_shared_certificate_counts_once_and_one_already_presented_costs_nothing() {
    // Two units under one wildcard: one certificate, both on the roomier ALB.
    let p = plan(
        &config(),
        &observed(),
        &[
            service("x", "x.shared.example.com"),
            service("y", "y.shared.example.com"),
        ],
    );
    assert_eq!(
        rules_on(&p).values().collect::<Vec<_>>(),
        vec![LISTENER, LISTENER],
        "{:?}",
        statuses(&p)
    );
    assert_eq!(added(&p), vec![(LISTENER.to_string(), WILD.to_string())]);
    // The first ALB is full of certificates; the second already presents `b`'s: `b` goes
    // there and adds nothing.
    let mut obs = observed();
    obs.certificates_per_load_balancer.insert(LB.into(), 1);
    if let Some(c) = obs.listener_certificates.get_mut(LISTENER_2) {
        c.extra.push(B.into());
    }
    obs.certificates_per_load_balancer.insert(LB_2.into(), 1);
    let p = plan(&config(), &obs, &[service("b", "b.example.com")]);
    assert_eq!(
        rules_on(&p),
        BTreeMap::from([("main/b".to_string(), LISTENER_2.to_string())]),
        "{:?}",
        statuses(&p)
    );
    assert!(added(&p).is_empty(), "{:?}", added(&p));
}

#[test]
fn no_member_with_certificate_room_grows_the_pool_or_says_quota() {
    let mut obs = observed();
    for lb in [LB, LB_2] {
        obs.certificates_per_load_balancer.insert(lb.into(), 1);
    }
    // A pool that does not grow: `quota`, naming certificates among the limits.
    let p = plan(&config(), &obs, &[service("a", "a.example.com")]);
    assert!(rules_on(&p).is_empty(), "{:?}", p.changes);
    let s = statuses(&p);
    assert_eq!(s[0].1, ServiceState::Quota, "{s:?}");
    assert!(s[0].2.iter().any(|m| m.contains("1 certificates")), "{s:?}");
    // A pool that may grow: a new ALB for the certificate, the service waits for it.
    let mut config = config();
    config.pools.max_albs.insert("default".into(), 3);
    obs.alb_account = Some(AlbAccount { used: 2, quota: 50 });
    let p = plan(&config, &obs, &[service("a", "a.example.com")]);
    let created = p
        .changes
        .iter()
        .filter(|c| matches!(c.change, Change::CreateLoadBalancer { .. }))
        .count();
    assert_eq!(created, 1, "{:?}", p.changes);
    assert_eq!(state_of(&p, "a"), ServiceState::Pending);
}

#[test]
fn a_unit_needing_more_certificates_than_one_alb_holds_cannot_grow() {
    let mut config = config();
    config.pools.max_albs.insert("default".into(), 3);
    let mut obs = observed();
    obs.alb_account = Some(AlbAccount { used: 2, quota: 50 });
    let p = plan(
        &config,
        &obs,
        &[service("ab", "a.example.com b.example.com")],
    );
    let s = statuses(&p);
    assert_eq!(s[0].1, ServiceState::Quota, "{s:?}");
    assert!(
        s[0].2
            .iter()
            .any(|m| m.contains("need 2 certificates, more than one load balancer holds (1)")),
        "{s:?}"
    );
    assert!(
        !p.changes
            .iter()
            .any(|c| matches!(c.change, Change::CreateLoadBalancer { .. })),
        "{:?}",
        p.changes
    );
}

#[test]
fn http_pools_place_as_before() {
    // Without ACM read, certificates count nowhere: the roomier ALB by rules takes both.
    let mut obs = observed();
    obs.certificates = CertificatesRead::Off;
    let p = plan(
        &config(),
        &obs,
        &[service("a", "a.example.com"), service("b", "b.example.com")],
    );
    assert_eq!(
        rules_on(&p).values().collect::<Vec<_>>(),
        vec![LISTENER, LISTENER]
    );
}
