//! Both "tagging is all it takes" features at scale: every service's tasks in a security
//! group of its own (the worst case for reads: no two services share a group), and every
//! ALB's one listener HTTPS, its hosts covered by a wildcard certificate ecs-ingress finds
//! in ACM and attaches. What a steady pass reads beyond the estate without them, against
//! the budget: one DescribeSecurityGroupRules page (1000) per 1000 rules and one
//! DescribeListenerCertificates per HTTPS listener.

use std::collections::BTreeMap;

use ecs_ingress::state::CertificateStatus;
use ecs_ingress::testing::{Estate, listener_name};

use super::{PER_ALB, converge};

/// The reads the features add to a steady pass.
const FEATURE_READS: &[&str] = &[
    "DescribeSecurityGroupRules",
    "DescribeListenerCertificates",
    "ListCertificates",
    "DescribeCertificate",
    "DescribeTags",
];

pub struct BackendSgResult {
    /// Reads of one steady pass by the operations the features call.
    pub steady_extra_reads_by_op: BTreeMap<&'static str, usize>,
    pub steady_extra_reads: usize,
    /// One page per 1000 rules plus one DescribeListenerCertificates per HTTPS listener.
    pub steady_extra_reads_budget: usize,
    /// Rules a read of every group of the account lists (inbound, plus the default outbound
    /// rule of each group).
    pub rules: usize,
    pub https_listeners: usize,
    pub steady_writes: usize,
    /// Those reads over the next ten full passes, one of them the refresh pass (which also
    /// lists ACM, reads the HTTPS listeners' tags and lists every rule of ours), and the
    /// writes they made.
    pub cycle_extra_reads_by_op: BTreeMap<&'static str, usize>,
    pub cycle_writes: usize,
    /// The ALB side of the cold start (virtual seconds).
    pub cold_start_alb_s: f64,
    /// Backend rules created (one per service) and certificates attached (one per ALB).
    pub rules_created: usize,
    pub certificates_attached: usize,
}

/// Replaces every ALB's HTTP listener with an HTTPS one presenting a certificate of another
/// domain; ACM holds a wildcard for the services' hosts. Returns the listeners by name.
fn https_listeners(estate: &Estate) -> BTreeMap<String, String> {
    let mut world = estate.fake.world();
    let default = world.add_acm_certificate(
        &["other.example.org"],
        CertificateStatus::Issued,
        "RSA_2048",
        2_000_000_000,
    );
    world.add_acm_certificate(
        &["*.in.example.com"],
        CertificateStatus::Issued,
        "EC_prime256v1",
        2_000_000_000,
    );
    let mut out = BTreeMap::new();
    for (name, http) in &estate.listeners {
        let lb = world.listeners[http].load_balancer_arn.clone();
        world.delete_listener(http);
        if let Some(https) = world.add_https_listener(&lb, &default) {
            out.insert(name.clone(), https);
        }
    }
    out
}

/// The features' reads made since the fake's counts were last reset, by operation.
fn feature_reads(estate: &Estate) -> BTreeMap<&'static str, usize> {
    let counts = estate.fake.call_counts();
    FEATURE_READS
        .iter()
        .map(|op| (*op, counts.get(op).copied().unwrap_or(0)))
        .collect()
}

pub async fn run(n: usize) -> BackendSgResult {
    let albs = n.div_ceil(PER_ALB) + 1;
    let estate = Estate::new(albs);
    estate.fake.enforce_rate_limits();
    let listeners = https_listeners(&estate);
    for i in 0..n {
        let host = format!("s{i}.in.example.com");
        let listener = listener_name(i / PER_ALB);
        let arn = estate.add_service(
            &format!("s{i}"),
            &[
                ("alb.host", host.as_str()),
                ("alb.listener", listener.as_str()),
            ],
            &[],
        );
        let group = estate.add_security_group();
        estate.set_security_groups(&arn, &[group]);
    }
    let mut config = estate.config();
    config.pools = ecs_ingress::config::PoolSettings::single(&listeners);
    config.listeners = listeners;
    let controller = estate.controller_with(config);
    let started = tokio::time::Instant::now();
    let (_, _, alb_done_at) = converge(&estate, &controller).await;
    estate.fake.reset_calls();
    controller.pass(true).await;
    let steady_extra_reads_by_op = feature_reads(&estate);
    let steady_extra_reads = steady_extra_reads_by_op.values().sum();
    let steady_writes = estate.fake.writes();
    estate.fake.reset_calls();
    for _ in 0..10 {
        controller.pass(true).await;
    }
    let cycle_extra_reads_by_op = feature_reads(&estate);
    let cycle_writes = estate.fake.writes();
    let world = estate.fake.world();
    let rules = world.ingress_rules.len() + world.security_groups.len();
    let https_listeners = world
        .listeners
        .values()
        .filter(|l| l.protocol.as_deref() == Some("HTTPS"))
        .count();
    let certificates_attached = world
        .listener_settings
        .values()
        .map(|s| s.certificates.len().saturating_sub(1))
        .sum();
    BackendSgResult {
        steady_extra_reads_by_op,
        steady_extra_reads,
        steady_extra_reads_budget: rules.div_ceil(1000).max(1) + https_listeners,
        rules,
        https_listeners,
        steady_writes,
        cycle_extra_reads_by_op,
        cycle_writes,
        cold_start_alb_s: alb_done_at.duration_since(started).as_secs_f64(),
        rules_created: world.ingress_rules.len(),
        certificates_attached,
    }
}
