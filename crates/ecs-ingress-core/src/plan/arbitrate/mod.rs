//! Arbitration: which candidates may publish. In age order (older wins), a candidate loses
//! to an older service's host+path or explicit priority, to a rule or target group
//! ecs-ingress does not own, or to an ALB quota; the winners' claims are recorded as they
//! win, so the outcome does not depend on anything but age.

use std::borrow::Cow;
use std::collections::BTreeSet;

use rustc_hash::FxHashMap;

use super::desired::{DesiredService, Values};
use super::owned::Owned;
use super::{MAX_RULE_PRIORITY, PlanConfig, cluster_name, problem, status};
use crate::plan::change::{Change, PlannedChange};
use crate::snapshot::Snapshot;
use crate::state::{EcsService, Rule, TargetGroup};
use crate::status::{Problem, ServiceState, ServiceStatus};

/// A publishable service and the warnings its tags produced.
pub struct Candidate<'a> {
    pub desired: DesiredService<'a>,
    pub warnings: Vec<String>,
    /// The pool members it may be placed on, the pool's order (first: home).
    pub choices: Vec<super::desired::Location<'a>>,
    /// `alb.listener` names a listener by ARN: it stays on that one.
    pub pinned: bool,
}

/// What arbitration decided.
#[derive(Default)]
pub struct Arbitration<'a> {
    /// In age order.
    pub winners: Vec<DesiredService<'a>>,
    pub statuses: Vec<ServiceStatus>,
    /// Rules of conflicting services that would shadow the winner.
    pub changes: Vec<PlannedChange>,
    /// Services whose resources stay as they are.
    pub kept: BTreeSet<&'a str>,
}

/// (host, path) of one rule condition; `""` for no path. Borrowed for as long as the
/// intent when the rule borrows its values (one rule holds them all, as for most
/// services), copied when a split gave the rule chunks of its own: a winner's claims are
/// kept in the ledger.
type Claim<'a> = (Cow<'a, str>, Cow<'a, str>);

/// What one rule condition claims in its pool: the pool's claim scope (numbered, see
/// [`Ledger::scopes`]), the host and the path. A host is claimed across its pool, as its
/// DNS name points at one of the pool's ALBs. The host and path are borrowed where the
/// rule borrows them from the intent: a key of the scope, host and path joined in one
/// string took an allocation per winner's claim, and hashed the scope's ARN in every key.
type ClaimKey<'a> = (usize, Cow<'a, str>, Cow<'a, str>);

/// The `i`-th value of a rule's condition, as part of a [`Claim`].
fn claim_part<'a>(values: &Values<'a>, i: usize) -> Cow<'a, str> {
    match values {
        Cow::Borrowed(values) => Cow::Borrowed(values[i].as_str()),
        Cow::Owned(values) => Cow::Owned(values[i].clone()),
    }
}

/// What the winners so far hold, and what the account already uses. Hashed: each
/// candidate looks up every one of these, and nothing here is iterated.
struct Ledger<'a> {
    /// The winner holding each claim and each explicit priority; named only in a
    /// conflict's message.
    claims: FxHashMap<ClaimKey<'a>, &'a EcsService>,
    /// Each claim scope a winner has, numbered in the order they were first seen.
    scopes: FxHashMap<String, usize>,
    explicit: FxHashMap<(String, u32), &'a EcsService>,
    rules_per_alb: FxHashMap<String, usize>,
    groups_per_alb: FxHashMap<String, usize>,
    rules_quota: usize,
    groups_max: usize,
    /// Rules of others, per listener: each candidate checks only its own listener's.
    foreign_rules: FxHashMap<&'a str, Vec<&'a Rule>>,
    groups_by_name: FxHashMap<&'a str, &'a TargetGroup>,
    /// Each listener's ALB ARN: asked for every rule of every candidate.
    listener_albs: FxHashMap<&'a str, &'a str>,
}

/// Adds `n` to `alb`'s count, copying its ARN only the first time.
fn count(counts: &mut FxHashMap<String, usize>, alb: &str, n: usize) {
    match counts.get_mut(alb) {
        Some(c) => *c += n,
        None => {
            counts.insert(alb.to_string(), n);
        }
    }
}

/// Decides every candidate, oldest first.
pub fn arbitrate<'a>(
    config: &PlanConfig,
    observed: &'a Snapshot,
    owned: &Owned<'a>,
    candidates: Vec<Candidate<'a>>,
) -> Arbitration<'a> {
    let mut ledger = Ledger::new(config, observed, owned);
    // Winners and statuses are large: sized once rather than copied at each doubling.
    let mut out = Arbitration {
        winners: Vec::with_capacity(candidates.len()),
        statuses: Vec::with_capacity(candidates.len()),
        ..Arbitration::default()
    };
    for Candidate {
        desired, warnings, ..
    } in candidates
    {
        let service = desired.service;
        let my_rules = owned.rules_of(&service.arn);
        let claims = claims_of(&desired);
        let (state, problems) = ledger.judge(owned, &desired, &claims, my_rules);
        let mut s = status(
            service,
            state,
            Some(desired.intent),
            owned.resources(&service.arn),
        );
        s.warnings = warnings;
        if problems.is_empty() {
            s.load_balancer = Some(desired.load_balancer_arn.clone());
            ledger.record(&desired, claims);
            out.statuses.push(s);
            out.winners.push(desired);
            continue;
        }
        s.problems = problems;
        out.statuses.push(s);
        // A conflicting service keeps its target group and attachment (no ECS redeploys
        // while the conflict lasts) but not rules that now shadow the winner.
        if state == ServiceState::Conflict {
            out.changes.extend(my_rules.iter().map(|rule| {
                PlannedChange::new(
                    service,
                    Change::DeleteRule {
                        arn: rule.arn.to_string(),
                    },
                    "service is in conflict: its rule must not shadow the winner",
                )
            }));
        }
        out.kept.insert(service.arn.as_str());
    }
    out
}

/// Every (host, path) a service's rules route, in its pool.
fn claims_of<'a>(desired: &DesiredService<'a>) -> Vec<Claim<'a>> {
    let mut out = Vec::new();
    for r in &desired.rules {
        for h in 0..r.hosts.len() {
            let host = claim_part(&r.hosts, h);
            if r.paths.is_empty() {
                out.push((host.clone(), Cow::Borrowed("")));
            }
            out.extend((0..r.paths.len()).map(|p| (host.clone(), claim_part(&r.paths, p))));
        }
    }
    out
}

impl<'a> Ledger<'a> {
    fn new(config: &PlanConfig, observed: &'a Snapshot, owned: &Owned<'a>) -> Self {
        let groups_per_alb = observed
            .target_groups_per_load_balancer()
            .into_iter()
            .map(|(lb, n)| (lb.to_string(), n))
            .collect();
        let mut foreign_rules: FxHashMap<&str, Vec<&Rule>> = FxHashMap::default();
        for &r in &owned.foreign_rules {
            foreign_rules
                .entry(r.listener_arn.as_str())
                .or_default()
                .push(r);
        }
        Self {
            claims: FxHashMap::default(),
            scopes: FxHashMap::default(),
            explicit: FxHashMap::default(),
            rules_per_alb: observed
                .rules_per_load_balancer
                .iter()
                .map(|(lb, n)| (lb.clone(), *n))
                .collect(),
            groups_per_alb,
            rules_quota: super::capacity::rules_max(&config.pools, observed),
            groups_max: super::capacity::groups_max(&config.pools),
            foreign_rules,
            groups_by_name: observed
                .target_groups
                .iter()
                .map(|g| (g.name.as_str(), g))
                .collect(),
            listener_albs: observed
                .listeners
                .iter()
                .map(|(arn, l)| (arn.as_str(), l.load_balancer_arn.as_str()))
                .collect(),
        }
    }

    /// The state a candidate gets and why, counting what it would add to the quotas.
    fn judge(
        &mut self,
        owned: &Owned<'_>,
        desired: &DesiredService<'_>,
        claims: &[Claim<'_>],
        my_rules: &[&Rule],
    ) -> (ServiceState, Vec<Problem>) {
        let mut problems = self.older_claims(&desired.claim_scope, claims);
        problems.extend(self.foreign_rules(desired, claims));
        problems.extend(self.explicit_priorities(desired));
        let existing = self.groups_by_name.get(desired.target_group.name.as_str());
        problems.extend(unowned_group(owned, existing.copied()));
        if !problems.is_empty() {
            return (ServiceState::Conflict, problems);
        }
        match self.take_quota(desired, my_rules) {
            Some(p) => (ServiceState::Quota, vec![p]),
            None => (ServiceState::Published, Vec::new()),
        }
    }

    fn older_claims(&self, scope: &str, claims: &[Claim<'_>]) -> Vec<Problem> {
        let mut problems = Vec::new();
        // No winner in the scope yet: nothing of it is claimed.
        let Some(&scope) = self.scopes.get(scope) else {
            return problems;
        };
        // Looked up with the candidate's borrowed values: the map is read for as short a
        // time as they live.
        let held: &FxHashMap<ClaimKey<'_>, &EcsService> = &self.claims;
        for (host, path) in claims {
            let key = (
                scope,
                Cow::Borrowed(host.as_ref()),
                Cow::Borrowed(path.as_ref()),
            );
            let Some(holder) = held.get(&key) else {
                continue;
            };
            let path = if path.is_empty() {
                String::new()
            } else {
                format!(" path {path}")
            };
            problems.push(problem(
                Some("alb.host"),
                format!(
                    "host {host}{path} is already routed by older service {}",
                    holder_name(holder)
                ),
            ));
        }
        problems
    }

    /// Hosts and explicit priorities held by rules ecs-ingress does not own.
    fn foreign_rules(&self, desired: &DesiredService<'_>, claims: &[Claim<'_>]) -> Vec<Problem> {
        let mut problems = Vec::new();
        for rule in self
            .foreign_rules
            .get(desired.listener_arn)
            .into_iter()
            .flatten()
        {
            // A rule without a path condition claims the path `""`.
            let routes = |(host, path): &Claim<'_>| {
                rule.hosts.iter().any(|h| *h == **host)
                    && if rule.paths.is_empty() {
                        path.is_empty()
                    } else {
                        rule.paths.iter().any(|p| *p == **path)
                    }
            };
            let hit = claims
                .iter()
                .find(|claim| rule.other_conditions == 0 && routes(claim));
            if let Some((h, _)) = hit {
                problems.push(problem(
                    Some("alb.host"),
                    format!(
                        "host {h} is already routed by a rule ecs-ingress does not own ({}, priority {}); it is left alone",
                        rule.arn,
                        rule.priority.unwrap_or_default()
                    ),
                ));
            }
            if let Some(p) = rule.priority
                && desired.rules.iter().any(|d| d.explicit_priority == Some(p))
            {
                problems.push(problem(
                    Some("alb.priority"),
                    format!(
                        "priority {p} is taken by a rule ecs-ingress does not own ({})",
                        rule.arn
                    ),
                ));
            }
        }
        problems
    }

    fn explicit_priorities(&self, desired: &DesiredService<'_>) -> Vec<Problem> {
        let mut problems = Vec::new();
        for p in desired.rules.iter().filter_map(|r| r.explicit_priority) {
            if p > MAX_RULE_PRIORITY {
                problems.push(problem(
                    Some("alb.priority"),
                    format!(
                        "priority {p} is above {MAX_RULE_PRIORITY} (the service needs {} rules)",
                        desired.rules.len()
                    ),
                ));
            } else if let Some(holder) = self.explicit.get(&(desired.claim_scope.clone(), p)) {
                problems.push(problem(
                    Some("alb.priority"),
                    format!(
                        "priority {p} is already used by older service {}",
                        holder_name(holder)
                    ),
                ));
            }
        }
        problems
    }

    /// Counts what the candidate adds to its ALB's rules and target groups; a problem if
    /// that would exceed a quota (then nothing is counted).
    fn take_quota(&mut self, desired: &DesiredService<'_>, my_rules: &[&Rule]) -> Option<Problem> {
        let lb = desired.load_balancer_arn;
        let existing_on_lb = my_rules
            .iter()
            .filter(|r| {
                self.listener_albs
                    .get(r.listener_arn.as_str())
                    .is_some_and(|l| **l == **lb)
            })
            .count();
        let new_rules = desired.rules.len().saturating_sub(existing_on_lb);
        let has_group = |name: &str| {
            self.groups_by_name
                .get(name)
                .is_some_and(|g| g.load_balancer_arns.iter().any(|a| a == lb))
        };
        let mut new_groups = usize::from(!has_group(&desired.target_group.name));
        // A service ECS deploys blue/green forwards to a second group as well.
        if desired.intent.shifted_by_ecs() {
            let alternate = super::desired::alternate_spec(&desired.target_group).name;
            new_groups += usize::from(!has_group(&alternate));
        }
        let rules_now = self.rules_per_alb.get(lb.as_str()).copied().unwrap_or(0);
        let groups_now = self.groups_per_alb.get(lb.as_str()).copied().unwrap_or(0);
        if new_rules > 0 && rules_now + new_rules > self.rules_quota {
            return Some(problem(
                None,
                format!(
                    "load balancer {lb} would have {} rules across its listeners, over its quota of {}",
                    rules_now + new_rules,
                    self.rules_quota
                ),
            ));
        }
        if new_groups > 0 && groups_now + new_groups > self.groups_max {
            return Some(problem(
                None,
                format!(
                    "load balancer {lb} would have {} target groups, over its limit of {}",
                    groups_now + new_groups,
                    self.groups_max
                ),
            ));
        }
        count(&mut self.rules_per_alb, lb, new_rules);
        count(&mut self.groups_per_alb, lb, new_groups);
        None
    }

    /// A winner's hosts, paths and explicit priorities are taken.
    fn record(&mut self, desired: &DesiredService<'a>, claims: Vec<Claim<'a>>) {
        let service = desired.service;
        let next = self.scopes.len();
        let scope = match self.scopes.get(desired.claim_scope.as_str()) {
            Some(&scope) => scope,
            None => {
                self.scopes.insert(desired.claim_scope.clone(), next);
                next
            }
        };
        for (host, path) in claims {
            self.claims.insert((scope, host, path), service);
        }
        for p in desired.rules.iter().filter_map(|r| r.explicit_priority) {
            self.explicit
                .insert((desired.claim_scope.clone(), p), service);
        }
    }
}

/// A target group of the wanted name that someone else made is never adopted. Whether it is
/// owned was read from its tags once, in `owned`.
fn unowned_group(owned: &Owned<'_>, existing: Option<&TargetGroup>) -> Option<Problem> {
    let existing = existing?;
    (!owned.owns_group(existing)).then(|| {
        problem(
            None,
            format!(
                "target group {} exists but is not owned by ecs-ingress ({}); it is not adopted",
                existing.name, existing.arn
            ),
        )
    })
}

/// How a conflict names the service holding what another asked for: `cluster/service`.
fn holder_name(holder: &EcsService) -> String {
    format!("{}/{}", cluster_name(&holder.cluster_arn), holder.name)
}

#[cfg(test)]
mod tests;
