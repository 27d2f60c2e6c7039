//! TLS certificates per host on HTTPS listeners (`--listener-certificates`, `alb.tls`,
//! `alb.certificate-arn`).
//!
//! Two stages. Admission, after arbitration and before the ALB stage: a winner on an HTTPS
//! listener gets, for every host, the certificate that serves it (`select.rs`); one that is
//! not on the listener yet is added, within the ALB's certificate quota. A host no ISSUED
//! certificate covers holds the service (`invalid`), as a certificate that does not fit
//! holds it (`quota`): it keeps what it has and no rule is created for it on the HTTPS
//! listener — serving the wrong certificate is worse than not serving. Removal, last, on the
//! changes that go out: a certificate ecs-ingress attached (recorded on the listener's
//! tags) goes once no host its rules still route there selects it, after those rules.

pub mod select;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rustc_hash::FxHashSet;

use super::change::{Change, PlannedChange};
use super::desired::DesiredService;
use super::owned::Owned;
use super::{Plan, PlanConfig, problem};
use crate::model::{Intent, ServiceIntent, TlsMode};
use crate::snapshot::{CertificatesRead, Snapshot};
use crate::state::{AcmCertificate, CertificateStatus, EcsService, ListenerCertificates};
use crate::status::{Problem, ResourceKind, ResourceRef, ServiceState, ServiceStatus};

/// The listener tag that records a certificate ecs-ingress attached: this prefix and the
/// certificate's id, the owner id as value.
pub const CERTIFICATE_TAG_PREFIX: &str = "ecs-ingress/certificate/";
/// `certificates-per-application-load-balancer` when the account's limit was not read.
pub const DEFAULT_CERTIFICATES_PER_ALB: usize = 25;

/// The record key of a certificate: the prefix and the ARN's id.
pub fn record_key(certificate_arn: &str) -> String {
    let id = certificate_arn
        .rsplit('/')
        .next()
        .unwrap_or(certificate_arn);
    format!("{CERTIFICATE_TAG_PREFIX}{id}")
}

/// What admission decided.
pub(super) struct Admission<'a> {
    pub winners: Vec<DesiredService<'a>>,
    /// Held services: they keep what they have.
    pub held: Vec<&'a str>,
    pub changes: Vec<PlannedChange>,
}

/// Certificates used per ALB (the default excluded), counting this pass's additions.
struct Room<'o> {
    observed: &'o Snapshot,
    limit: usize,
    added: BTreeMap<String, BTreeSet<String>>,
}

/// Certificates one ALB may take besides the default: the account's quota, or
/// `--max-certificates-per-alb` when lower.
pub fn certificates_max(max_per_alb: Option<usize>, observed: &Snapshot) -> usize {
    let quota = observed
        .certificates_quota
        .unwrap_or(DEFAULT_CERTIFICATES_PER_ALB);
    max_per_alb.map_or(quota, |m| m.min(quota))
}

impl<'o> Room<'o> {
    fn new(config: &PlanConfig, observed: &'o Snapshot) -> Self {
        Self {
            observed,
            limit: certificates_max(config.max_certificates_per_alb, observed),
            added: BTreeMap::new(),
        }
    }

    /// Certificates besides the default on every listener of `alb`.
    fn used(&self, alb: &str) -> usize {
        self.observed
            .certificates_per_load_balancer
            .get(alb)
            .copied()
            .unwrap_or(0)
            + self.added.get(alb).map_or(0, BTreeSet::len)
    }

    /// Takes room for `certs` on `alb`, all or none.
    fn take(&mut self, alb: &str, certs: &[&str]) -> Result<(), String> {
        let fresh: Vec<&str> = certs
            .iter()
            .copied()
            .filter(|c| !self.added.get(alb).is_some_and(|a| a.contains(*c)))
            .collect();
        let used = self.used(alb);
        if used + fresh.len() > self.limit {
            return Err(format!(
                "certificate {} does not fit on load balancer {}: {used} of {} certificates in use",
                fresh.join(" "),
                alb.rsplit('/').nth(1).unwrap_or(alb),
                self.limit
            ));
        }
        let set = self.added.entry(alb.to_string()).or_default();
        set.extend(fresh.into_iter().map(str::to_string));
        Ok(())
    }
}

/// The HTTPS listeners, hashed once per stage: searching the ordered listeners for every
/// winner or rule compared ARNs that share a hundred bytes of prefix a dozen times each.
fn https_listeners(observed: &Snapshot) -> FxHashSet<&str> {
    observed
        .listeners
        .iter()
        .filter(|(_, l)| l.protocol.as_deref() == Some("HTTPS"))
        .map(|(arn, _)| arn.as_str())
        .collect()
}

/// Admits the winners on HTTPS listeners whose every host a certificate serves; the
/// others' statuses say why they are held, and the plan whether one waits for ACM.
pub(super) fn admit<'a>(
    config: &PlanConfig,
    observed: &Snapshot,
    winners: Vec<DesiredService<'a>>,
    out_plan: &mut Plan,
) -> Admission<'a> {
    let statuses = &mut out_plan.services;
    let mut out = Admission {
        // Almost every winner is admitted; they are large, so sized once.
        winners: Vec::with_capacity(winners.len()),
        held: Vec::new(),
        changes: Vec::new(),
    };
    let mut room = Room::new(config, observed);
    // (listener, certificate) → the services that need it added.
    let mut planned: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let https_listeners = https_listeners(observed);
    for d in winners {
        let https = https_listeners.contains(d.listener_arn);
        if !https || d.intent.tls == TlsMode::Off {
            if !https
                && !d.intent.certificate_arns.is_empty()
                && let Some(s) = status_of(statuses, &d.service.arn)
            {
                s.warnings.push(
                    "alb.certificate-arn is ignored: the service's listener is not HTTPS".into(),
                );
            }
            out.winners.push(d);
            continue;
        }
        match certificates_for(observed, &d, &mut room) {
            Ok(chosen) => {
                for arn in chosen {
                    let on = observed
                        .listener_certificates
                        .get(d.listener_arn)
                        .is_some_and(|c| c.presents(&arn));
                    if !on {
                        planned
                            .entry((d.listener_arn.to_string(), arn))
                            .or_default()
                            .push(d.service.arn.clone());
                    }
                }
                out.winners.push(d);
            }
            Err((state, p)) => {
                // A certificate ACM may issue or import later: list ACM again next pass.
                out_plan.certificates_wanted |= state == ServiceState::Invalid;
                if let Some(s) = status_of(statuses, &d.service.arn) {
                    s.state = state;
                    s.problems.push(p);
                }
                out.held.push(d.service.arn.as_str());
            }
        }
    }
    out.changes = planned
        .into_iter()
        .map(|((listener, arn), services)| add(config, listener, arn, services))
        .collect();
    out
}

/// A service's status, looked up only for a service with something to say: a scan for
/// every winner would make each plan quadratic in the estate.
fn status_of<'s>(statuses: &'s mut [ServiceStatus], arn: &str) -> Option<&'s mut ServiceStatus> {
    statuses.iter_mut().find(|s| s.service_arn == arn)
}

/// One addition for every service that needs it: not in one service's pipeline, so that
/// no other service's rule goes out before it.
fn add(config: &PlanConfig, listener: String, arn: String, services: Vec<String>) -> PlannedChange {
    PlannedChange {
        service_arn: None,
        service: "-".into(),
        change: Change::AddListenerCertificate {
            listener_arn: listener,
            record_key: record_key(&arn),
            certificate_arn: arn,
            record: config.ownership.owner_id().to_string(),
            for_services: services,
        },
        reason: "a host published on this HTTPS listener needs this certificate".into(),
    }
}

/// The certificates `d`'s hosts need on its listener (taking room for those it lacks), or
/// the state it is held in and why.
fn certificates_for(
    observed: &Snapshot,
    d: &DesiredService<'_>,
    room: &mut Room<'_>,
) -> Result<Vec<String>, (ServiceState, Problem)> {
    let presented = observed.listener_certificates.get(d.listener_arn);
    let chosen = chosen(observed, d.intent, presented)?;
    let lacking: Vec<&str> = chosen
        .iter()
        .map(String::as_str)
        .filter(|c| !presented.is_some_and(|p| p.presents(c)))
        .collect();
    room.take(d.load_balancer_arn, &lacking)
        .map_err(|why| (ServiceState::Quota, problem(None, why)))?;
    Ok(chosen)
}

/// The certificates a service on `listener_arn` would have added there: what its hosts
/// select that the listener does not present. None on a listener that is not HTTPS, with
/// `alb.tls=off`, or when ACM was not read; nothing when no certificate serves it (it is
/// held, and adds nothing). Pool placement counts these beside rules and target groups.
pub(super) fn lacking_on(observed: &Snapshot, intent: &Intent, listener_arn: &str) -> Vec<String> {
    let https = observed
        .listeners
        .get(listener_arn)
        .is_some_and(|l| l.protocol.as_deref() == Some("HTTPS"));
    if !https || intent.tls == TlsMode::Off {
        return Vec::new();
    }
    let presented = observed.listener_certificates.get(listener_arn);
    let mut lacking = chosen(observed, intent, presented).unwrap_or_default();
    lacking.retain(|c| !presented.is_some_and(|p| p.presents(c)));
    lacking
}

/// The certificate each host of `intent` selects on a listener presenting `presented`,
/// each once, or the state the service is held in and why.
fn chosen(
    observed: &Snapshot,
    intent: &Intent,
    presented: Option<&ListenerCertificates>,
) -> Result<Vec<String>, (ServiceState, Problem)> {
    let certs = match &observed.certificates {
        CertificatesRead::Off => return Ok(Vec::new()),
        CertificatesRead::Failed(why) => {
            return Err((
                ServiceState::Error,
                problem(
                    None,
                    format!(
                        "ACM could not be read ({why}): the service waits on its HTTPS listener"
                    ),
                ),
            ));
        }
        CertificatesRead::Read(certs) => certs,
    };
    let candidates = candidates(intent, certs).map_err(|p| (ServiceState::Invalid, p))?;
    let mut chosen: Vec<String> = Vec::new();
    for host in intent.hosts.iter().chain(&intent.test_hosts) {
        match select::choose(candidates.iter().copied(), host, presented) {
            Ok(c) if !chosen.contains(&c.arn) => chosen.push(c.arn.clone()),
            Ok(_) => {}
            Err(why) => {
                let key = if intent.certificate_arns.is_empty() {
                    "alb.host"
                } else {
                    "alb.certificate-arn"
                };
                return Err((
                    ServiceState::Invalid,
                    problem(Some(key), why.describe(host)),
                ));
            }
        }
    }
    Ok(chosen)
}

/// The certificates a service may be served with: exactly those `alb.certificate-arn` names
/// (each existing and ISSUED), or every certificate of the region.
fn candidates<'c>(
    intent: &Intent,
    certs: &'c BTreeMap<String, AcmCertificate>,
) -> Result<Vec<&'c AcmCertificate>, Problem> {
    if intent.certificate_arns.is_empty() {
        return Ok(certs.values().collect());
    }
    let bad = |arn: &str, why: &str| {
        problem(
            Some("alb.certificate-arn"),
            format!("alb.certificate-arn={arn}: {why}"),
        )
    };
    let mut out = Vec::new();
    for arn in &intent.certificate_arns {
        let Some(c) = certs.get(arn) else {
            return Err(bad(arn, "not found in ACM in this account and region"));
        };
        if c.status != CertificateStatus::Issued {
            return Err(bad(arn, &format!("is {}, not ISSUED", c.status.as_str())));
        }
        let hosts = intent.hosts.iter().chain(&intent.test_hosts);
        if !hosts.clone().any(|h| select::covers(c, h).is_some()) {
            let hosts: Vec<&str> = hosts.map(String::as_str).collect();
            return Err(bad(
                arn,
                &format!("covers none of the hosts ({})", hosts.join(" ")),
            ));
        }
        out.push(c);
    }
    Ok(out)
}

/// Removes the certificates ecs-ingress attached that no host its rules still route on the
/// listener needs; lists each service's certificates; counts the attached ones.
pub(super) fn plan_removals(
    config: &PlanConfig,
    observed: &Snapshot,
    owned: &Owned<'_>,
    intents: &[(Arc<EcsService>, ServiceIntent)],
    out: &mut Plan,
) {
    let CertificatesRead::Read(certs) = &observed.certificates else {
        return;
    };
    let owner = config.ownership.owner_id();
    let routed = routed_hosts(observed, owned, &out.changes);
    let choice = Choice::new(certs, intents);
    let mut attached = 0;
    let mut removals = Vec::new();
    for (listener, tags) in &observed.listener_tags {
        let adding: BTreeSet<&str> = out
            .changes
            .iter()
            .filter_map(|c| match &c.change {
                Change::AddListenerCertificate {
                    listener_arn,
                    certificate_arn,
                    ..
                } if listener_arn == listener => Some(certificate_arn.as_str()),
                _ => None,
            })
            .collect();
        let presented = observed.listener_certificates.get(listener);
        let kept = choice.kept_on(routed.get(listener), presented, &adding);
        for (key, value) in tags {
            if value != owner || !key.starts_with(CERTIFICATE_TAG_PREFIX) {
                continue;
            }
            attached += 1;
            // Needed still (attached or re-attached in this pass): kept, record and all.
            if kept.iter().any(|a| record_key(a) == *key) {
                continue;
            }
            let arn = presented
                .into_iter()
                .flat_map(|p| &p.extra)
                .find(|a| record_key(a) == *key)
                .cloned();
            removals.push(PlannedChange {
                service_arn: None,
                service: "-".into(),
                change: Change::RemoveListenerCertificate {
                    listener_arn: listener.clone(),
                    certificate_arn: arn.unwrap_or_default(),
                    record_key: key.to_string(),
                },
                reason: "no host ecs-ingress publishes on this listener needs it any more".into(),
            });
        }
    }
    out.managed
        .insert(ResourceKind::ListenerCertificate, attached);
    let policy = super::policy::Policy::new(config.policy, observed.complete_but_zones());
    for change in removals {
        if policy.allows(&change) {
            out.changes.push(change);
        } else {
            out.held_back.push(change);
        }
    }
    list_resources(&choice, observed, &routed, out);
}

/// Which certificate a routed host of a service selects: among its `alb.certificate-arn`
/// when it names some (as admission chose), else among every certificate.
struct Choice<'c> {
    certs: &'c BTreeMap<String, AcmCertificate>,
    pinned: BTreeMap<&'c str, Vec<&'c AcmCertificate>>,
}

impl<'c> Choice<'c> {
    fn new(
        certs: &'c BTreeMap<String, AcmCertificate>,
        intents: &'c [(Arc<EcsService>, ServiceIntent)],
    ) -> Self {
        let pinned = intents
            .iter()
            .filter_map(|(s, i)| match i {
                ServiceIntent::Publish { intent, .. } if !intent.certificate_arns.is_empty() => {
                    let named = intent
                        .certificate_arns
                        .iter()
                        .filter_map(|a| certs.get(a))
                        .collect();
                    Some((s.arn.as_str(), named))
                }
                _ => None,
            })
            .collect();
        Self { certs, pinned }
    }

    fn of(
        &self,
        host: &str,
        service: &str,
        presented: Option<&ListenerCertificates>,
    ) -> Option<&'c AcmCertificate> {
        match self.pinned.get(service) {
            Some(named) => select::choose(named.iter().copied(), host, presented).ok(),
            None => select::choose(self.certs.values(), host, presented).ok(),
        }
    }

    /// The certificates a listener keeps: each routed host's choice when it is on the
    /// listener or being added; otherwise every certificate covering the host, so the one
    /// serving it now stays until its choice arrives (a choice the quota holds back, say).
    fn kept_on(
        &self,
        hosts: Option<&BTreeSet<(String, String)>>,
        presented: Option<&ListenerCertificates>,
        adding: &BTreeSet<&str>,
    ) -> BTreeSet<String> {
        let mut kept = BTreeSet::new();
        for (host, service) in hosts.into_iter().flatten() {
            match self.of(host, service, presented) {
                Some(c)
                    if presented.is_some_and(|p| p.presents(&c.arn))
                        || adding.contains(c.arn.as_str()) =>
                {
                    kept.insert(c.arn.clone());
                }
                _ => kept.extend(
                    self.certs
                        .values()
                        .filter(|c| select::covers(c, host).is_some())
                        .map(|c| c.arn.clone()),
                ),
            }
        }
        kept
    }
}

/// Each service's certificates, as its resources: the one each of its routed hosts selects.
fn list_resources(
    choice: &Choice<'_>,
    observed: &Snapshot,
    routed: &BTreeMap<String, BTreeSet<(String, String)>>,
    out: &mut Plan,
) {
    if routed.is_empty() {
        return;
    }
    let index: BTreeMap<String, usize> = out
        .services
        .iter()
        .enumerate()
        .map(|(i, s)| (s.service_arn.clone(), i))
        .collect();
    for (listener, hosts) in routed {
        let presented = observed.listener_certificates.get(listener);
        for (host, service) in hosts {
            let Some(cert) = choice.of(host, service, presented) else {
                continue;
            };
            if let Some(s) = index.get(service).and_then(|&i| out.services.get_mut(i)) {
                let r = ResourceRef {
                    kind: ResourceKind::ListenerCertificate,
                    id: cert.arn.as_str().into(),
                };
                if !s.resources.contains(&r) {
                    s.resources.push(r);
                }
            }
        }
    }
}

/// (host, service) routed by this owner's rules on each HTTPS listener once the changes
/// are applied: the rules that are not deleted, and those created or rewritten.
fn routed_hosts(
    observed: &Snapshot,
    owned: &Owned<'_>,
    changes: &[PlannedChange],
) -> BTreeMap<String, BTreeSet<(String, String)>> {
    let deleted: BTreeSet<&str> = changes
        .iter()
        .filter_map(|c| match &c.change {
            Change::DeleteRule { arn } => Some(arn.as_str()),
            _ => None,
        })
        .collect();
    let listeners = observed.rule_listeners();
    let listener_of = |arn: &str| listeners.get(arn);
    // Only HTTPS listeners present certificates: the hosts of the others are not collected.
    let https_listeners = https_listeners(observed);
    let https = |listener: &str| https_listeners.contains(listener);
    let mut out: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for &(service, rule) in &owned.rule_list {
        if deleted.contains(rule.arn.as_str()) || !https(&rule.listener_arn) {
            continue;
        }
        let hosts = out.entry(rule.listener_arn.to_string()).or_default();
        hosts.extend(rule.hosts.iter().map(|h| (h.clone(), service.to_string())));
    }
    for c in changes {
        let Some(service) = &c.service_arn else {
            continue;
        };
        let (listener, hosts) = match &c.change {
            Change::CreateRule {
                listener_arn,
                hosts,
                ..
            } => (Some(listener_arn.as_str()), hosts),
            Change::ModifyRule { arn, hosts, .. }
            | Change::ModifyRuleConditions { arn, hosts, .. } => (listener_of(arn), hosts),
            Change::ModifyRuleWeights {
                rule: super::RuleRef::Existing(arn),
                hosts,
                ..
            } => (listener_of(arn), hosts),
            _ => continue,
        };
        if let Some(listener) = listener.filter(|l| https(l)) {
            let entry = out.entry(listener.to_string()).or_default();
            entry.extend(hosts.iter().map(|h| (h.clone(), service.clone())));
        }
    }
    out
}

#[cfg(test)]
mod tests;
