//! Names: the DNS and Cloud Map stages run for the winners, their outcomes folded into the
//! statuses. A name waits until its service's target group has a healthy target.

use std::collections::BTreeSet;

use rustc_hash::FxHashMap;

use super::change::PlannedChange;
use super::desired::DesiredService;
use super::owned::Owned;
use super::{Plan, PlanConfig, cloudmap, dns};
use crate::ownership;
use crate::snapshot::Snapshot;
use crate::status::{ResourceKind, ServiceState, ServiceStatus};

/// What decides a winner's names: the ALB they point at, whether it can serve them yet,
/// and whether a service's resources stay as they are.
pub struct NameGates<'f> {
    pub at: &'f dyn for<'d> Fn(&'d DesiredService<'_>) -> &'d str,
    /// The winner at this position (in the winners the stages are given) may be published:
    /// its serving group has a healthy target and its rules are settled.
    pub ready: &'f dyn Fn(usize) -> bool,
    /// Its DNS names may be written where `at` says: ready, and not held where they are
    /// during a move.
    pub names_ready: &'f dyn Fn(usize) -> bool,
    /// Its serving group has a healthy target (its rules may still change this pass).
    pub healthy: &'f dyn Fn(usize) -> bool,
    pub keep: &'f dyn Fn(&str) -> bool,
}

/// `at` as a closure may be written: one that answers with a string of the service it is
/// given (its ALB's ARN, borrowed, not copied for every winner).
pub fn at_fn<F>(at: F) -> F
where
    F: for<'d> Fn(&'d DesiredService<'_>) -> &'d str,
{
    at
}

/// Runs the DNS planner for the winners and folds its outcome into the statuses.
pub fn plan_service_dns(
    config: &PlanConfig,
    observed: &Snapshot,
    owned: &Owned<'_>,
    winners: &[DesiredService<'_>],
    gates: &NameGates<'_>,
    changes: &mut Vec<PlannedChange>,
    out: &mut Plan,
) {
    let zones: Vec<crate::state::HostedZone> = config
        .hosted_zones
        .iter()
        .filter_map(|id| observed.zones.get(id).cloned())
        .collect();
    // `alb.test-host` names are published like `alb.host` ones (few services have them).
    let with_test_hosts: Vec<Option<Vec<String>>> = winners
        .iter()
        .map(|d| {
            (!d.intent.test_hosts.is_empty()).then(|| {
                d.intent
                    .hosts
                    .iter()
                    .chain(&d.intent.test_hosts)
                    .cloned()
                    .collect()
            })
        })
        .collect();
    // Whether a service has a rule on an ALB now: asked of its own rules, found by the ARN
    // it is asked with (a set of every rule's service and ALB compared each winner's ARN
    // with the copy in a rule's tags, a cache miss per winner on a large heap).
    let routed_here = |service_arn: &str, load_balancer_arn: &str| {
        owned.rules_of(service_arn).iter().any(|r| {
            owned
                .load_balancer_of_listener(&r.listener_arn)
                .is_some_and(|lb| lb.arn == load_balancer_arn)
        })
    };
    let rules_read = !observed
        .failed_reads
        .iter()
        .any(|f| f.operation == "DescribeRules");
    // A weighted service's names are its rule owner's (`alb.weight`).
    let dns_winners: Vec<dns::DnsWinner<'_>> = winners
        .iter()
        .zip(&with_test_hosts)
        .enumerate()
        .filter(|(_, (d, _))| !matches!(d.weighted, super::desired::Weighted::Member { .. }))
        .filter_map(|(i, (d, combined))| {
            let load_balancer = owned.load_balancer((gates.at)(d))?;
            let ready = (gates.names_ready)(i);
            Some(dns::DnsWinner {
                service: d.service,
                dns: &d.intent.dns,
                hosts: combined.as_deref().unwrap_or(&d.intent.hosts),
                load_balancer,
                ready,
                healthy: (gates.healthy)(i),
                // Asked only when it can matter (see the field).
                routed_here: !(ready && rules_read)
                    && routed_here(&d.service.arn, &load_balancer.arn),
                rules_read,
            })
        })
        .collect();
    let kept_routes = || kept_routes(owned, gates.keep);
    let planned = dns::plan_dns_keeping_routes(
        &config.ownership,
        &zones,
        &observed.records,
        &dns_winners,
        gates.keep,
        &kept_routes,
        observed.read_at,
    );
    out.managed.insert(ResourceKind::DnsName, planned.managed);
    changes.extend(planned.changes);
    fold_name_outcomes(planned.outcomes, &mut out.services);
}

/// (host, ALB DNS name) for every host a rule of a service kept as it is routes, on an ALB
/// that was read.
fn kept_routes(owned: &Owned<'_>, keep: &dyn Fn(&str) -> bool) -> BTreeSet<(String, String)> {
    owned
        .rule_list
        .iter()
        .filter(|(service, _)| keep(service))
        .filter_map(|&(_, r)| Some((r, owned.load_balancer_of_listener(&r.listener_arn)?)))
        .flat_map(|(r, lb)| {
            let to = lb.dns_name.to_ascii_lowercase();
            r.hosts
                .iter()
                .map(move |h| (h.to_ascii_lowercase(), to.clone()))
        })
        .collect()
}

/// Folds DNS or Cloud Map outcomes into the statuses: a name conflict leaves the ALB side
/// published but marks the service `dns-conflict`.
/// A service has one status (`age_ordered` keeps one copy of a service read twice): its
/// outcome is moved into it, not copied.
fn fold_name_outcomes<K>(
    mut outcomes: FxHashMap<K, dns::NameOutcome>,
    services: &mut [ServiceStatus],
) where
    K: std::borrow::Borrow<str> + std::hash::Hash + Eq,
{
    for status in services {
        let Some(outcome) = outcomes.remove(status.service_arn.as_str()) else {
            continue;
        };
        let (records, notes) = outcome.into_parts();
        status.resources.extend(records);
        status.warnings.extend(notes.warnings);
        if !notes.waiting.is_empty() {
            status.waiting.push(format!(
                "DNS {} waits for healthy targets: a name is published only once it can be served",
                notes.waiting.join(", ")
            ));
        }
        if !notes.conflicts.is_empty() {
            status.state = ServiceState::DnsConflict;
            status.problems.extend(notes.conflicts);
        }
    }
}

/// Runs the Cloud Map planner for the winners that ask for it. With no managed namespace,
/// Cloud Map is not read, so nothing is withdrawn there either; a tagged service is told so.
pub fn plan_service_cloudmap(
    config: &PlanConfig,
    observed: &Snapshot,
    winners: &[DesiredService<'_>],
    gates: &NameGates<'_>,
    changes: &mut Vec<PlannedChange>,
    out: &mut Plan,
) {
    // Like a DNS name, an instance is registered only once requests can be served; one
    // that exists stays managed.
    let registered = |arn: &str| {
        observed.cloudmap.instances.values().flatten().any(|i| {
            i.attributes
                .get(ownership::SERVICE_ATTRIBUTE)
                .map(String::as_str)
                == Some(arn)
                && i.attributes
                    .get(ownership::OWNER_ATTRIBUTE)
                    .map(String::as_str)
                    == Some(config.ownership.owner_id())
        })
    };
    let mut cm_waiting: BTreeSet<&str> = BTreeSet::new();
    let cm_winners: Vec<cloudmap::CloudMapWinner<'_>> = winners
        .iter()
        .enumerate()
        .filter(|(_, d)| !matches!(d.weighted, super::desired::Weighted::Member { .. }))
        .filter(|&(i, d)| {
            let go = d.intent.cloudmap.is_none() || (gates.ready)(i) || registered(&d.service.arn);
            if !go {
                cm_waiting.insert(d.service.arn.as_str());
            }
            go
        })
        .filter_map(|(_, d)| {
            Some(cloudmap::CloudMapWinner {
                service: d.service,
                intent: d.intent.cloudmap.as_deref()?,
                load_balancer: observed.load_balancers.get((gates.at)(d))?,
            })
        })
        .collect();
    if config.cloudmap_namespaces.is_empty() && cm_winners.is_empty() {
        return;
    }
    for name in &observed.cloudmap.missing {
        out.problems.push(format!(
            "Cloud Map namespace {name} (--cloudmap-namespace) was not found"
        ));
    }
    // A service waiting for health keeps its Cloud Map service (made or not) as it is.
    let keep_waiting = |arn: &str| (gates.keep)(arn) || cm_waiting.contains(arn);
    let planned = cloudmap::plan_cloudmap(
        &config.ownership,
        &observed.cloudmap,
        &cm_winners,
        &keep_waiting,
    );
    for status in &mut out.services {
        if cm_waiting.contains(status.service_arn.as_str()) {
            status
                .waiting
                .push("Cloud Map registration waits for healthy targets".into());
        }
    }
    out.managed
        .insert(ResourceKind::CloudMapInstance, planned.managed);
    changes.extend(planned.changes);
    fold_name_outcomes(planned.outcomes, &mut out.services);
}
