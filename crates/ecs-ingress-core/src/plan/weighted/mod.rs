//! Weighted canaries across services (`alb.weight`): services routing the same hosts and
//! paths in one pool share one rule, owned by the oldest, whose forward action spreads the
//! requests over their groups by weight. The others keep their groups and attachments and
//! have no rule of their own.

use std::collections::BTreeMap;

use super::arbitrate::Candidate;
use super::change::{Change, PlannedChange, RuleRef, TargetGroupRef};
use super::desired::{DesiredService, Weighted};
use super::owned::Owned;
use super::{problem, status};
use crate::snapshot::Snapshot;
use crate::status::ServiceState;

/// AWS's limit on the target groups of one forward action.
pub const MAX_WEIGHTED_GROUPS: usize = 5;

/// Groups weighted candidates by pool, hosts and paths: the oldest owns the rule, up to four
/// more join it; the rest, and one with no partner and no rule to keep serving, are
/// `invalid`. Candidates keep their age order.
pub fn group<'a>(owned: &Owned<'_>, held: Held<'_, 'a>) {
    let candidates = std::mem::take(held.candidates);
    let mut sets: BTreeMap<(String, Vec<String>, Vec<String>), Vec<usize>> = BTreeMap::new();
    for (i, c) in candidates.iter().enumerate() {
        if c.desired.intent.weight.is_some() {
            let mut hosts = c.desired.intent.hosts.clone();
            let mut paths = c.desired.intent.paths.clone();
            hosts.sort();
            paths.sort();
            sets.entry((c.desired.pool.clone(), hosts, paths))
                .or_default()
                .push(i);
        }
    }
    let mut roles: BTreeMap<usize, Result<Weighted, String>> = BTreeMap::new();
    for members in sets.values() {
        assign(owned, &candidates, members, &mut roles);
    }
    // Most passes have no weighted service: the candidates (large) stay where they are.
    if roles.is_empty() {
        *held.candidates = candidates;
        return;
    }
    let mut out = Vec::with_capacity(candidates.len());
    for (i, mut c) in candidates.into_iter().enumerate() {
        match roles.remove(&i) {
            Some(Err(why)) => {
                let service = c.desired.service;
                let mut s = status(
                    service,
                    ServiceState::Invalid,
                    Some(c.desired.intent),
                    owned.resources(&service.arn),
                );
                s.problems.push(problem(Some("alb.weight"), why));
                s.warnings = c.warnings;
                held.kept.insert(service.arn.as_str());
                held.statuses.push(s);
            }
            Some(Ok(role)) => {
                if matches!(role, Weighted::Member { .. }) {
                    c.desired.rules.clear();
                }
                c.desired.weighted = role;
                out.push(c);
            }
            None => out.push(c),
        }
    }
    *held.candidates = out;
}

/// Where grouping writes: the candidates (in age order), and the statuses and kept services
/// of those that keep what they have.
pub struct Held<'r, 'a> {
    pub candidates: &'r mut Vec<Candidate<'a>>,
    pub statuses: &'r mut Vec<crate::status::ServiceStatus>,
    pub kept: &'r mut std::collections::BTreeSet<&'a str>,
}

/// The role of each candidate of one weighted set (indexes in age order).
fn assign(
    owned: &Owned<'_>,
    candidates: &[Candidate<'_>],
    set: &[usize],
    roles: &mut BTreeMap<usize, Result<Weighted, String>>,
) {
    let (fits, too_big): (Vec<usize>, Vec<usize>) = set
        .iter()
        .partition(|&&i| candidates[i].desired.rules.len() == 1);
    for i in too_big {
        roles.insert(
            i,
            Err("a weighted service's hosts and paths must fit one rule (at most 3 hosts, 3 paths, 5 values together): the services of a canary share it".into()),
        );
    }
    // A group to replace (an immutable setting, or another ALB of the pool): the shared
    // rule cannot take the new group beside the old one, so the service keeps what it has.
    let (fits, replacing): (Vec<usize>, Vec<usize>) = fits.into_iter().partition(|&i| {
        let d = &candidates[i].desired;
        let groups = owned.groups_of(&d.service.arn);
        groups.is_empty() || groups.iter().any(|g| g.name == d.target_group.name)
    });
    for i in replacing {
        roles.insert(
            i,
            Err("an immutable setting of its target group (container, port, protocol, target type, VPC) or its ALB changed, which a shared rule cannot follow without a gap: remove alb.weight from it first (it then moves or is replaced as any service), and tag it again".into()),
        );
    }
    let Some(&owner) = fits.first() else {
        return;
    };
    let owner_arn = candidates[owner].desired.service.arn.clone();
    if fits.len() == 1 && !serving(owned, &owner_arn) {
        roles.insert(
            owner,
            Err("no other service routes the same hosts and paths with alb.weight: a weight needs a partner (tag the canary too, or remove alb.weight)".into()),
        );
        return;
    }
    let (joined, extra) = fits.split_at(fits.len().min(MAX_WEIGHTED_GROUPS));
    for &i in extra {
        roles.insert(
            i,
            Err(format!(
                "the rule of these hosts and paths already forwards to {MAX_WEIGHTED_GROUPS} services' groups (AWS's limit; the oldest keep it)"
            )),
        );
    }
    let members: Vec<(String, u16)> = joined
        .iter()
        .map(|&i| {
            let d = &candidates[i].desired;
            (d.service.arn.clone(), d.intent.weight.unwrap_or_default())
        })
        .collect();
    for &i in &joined[1..] {
        roles.insert(
            i,
            Ok(Weighted::Member {
                owner: owner_arn.clone(),
            }),
        );
    }
    roles.insert(owner, Ok(Weighted::Owner { members }));
}

/// Where a member of a shared rule stands: whether its `loadBalancers` may carry its group,
/// what it waits for, and the health to read for that.
pub struct MemberState {
    pub attach: bool,
    pub waiting: Option<String>,
    pub health_wanted: Option<String>,
}

impl MemberState {
    /// What it waits for (instead of anything else) and the health to read for it.
    pub fn fold_into(self, health_wanted: &mut Vec<String>, waiting: &mut Option<String>) {
        health_wanted.extend(self.health_wanted);
        if self.waiting.is_some() {
            *waiting = self.waiting;
        }
    }
}

/// A service's place as a member of a shared rule (anything else: attached as usual).
pub fn member_state(
    observed: &Snapshot,
    desired: &DesiredService<'_>,
    group: &TargetGroupRef,
) -> MemberState {
    if !joined(observed, desired, group) {
        return MemberState {
            attach: false,
            waiting: Some("alb.weight: waiting for the rule it shares to take its target group (at weight 0 until it has healthy targets); ECS accepts the group only then".to_string()),
            health_wanted: None,
        };
    }
    let waiting = share_waits(observed, desired, group);
    let health_wanted = match group {
        TargetGroupRef::Existing(arn) if waiting.is_some() => observed
            .has_healthy_targets(arn)
            .is_none()
            .then(|| arn.clone()),
        _ => None,
    };
    MemberState {
        attach: true,
        waiting,
        health_wanted,
    }
}

/// A member's group is in the rule it shares (or the service is not a member): ECS takes a
/// group into a service's `loadBalancers` only once a rule of an ALB forwards to it.
fn joined(observed: &Snapshot, desired: &DesiredService<'_>, group: &TargetGroupRef) -> bool {
    if !matches!(desired.weighted, Weighted::Member { .. }) {
        return true;
    }
    let TargetGroupRef::Existing(arn) = group else {
        return false;
    };
    observed.rules.iter().any(|r| {
        r.forward_target_groups
            .iter()
            .chain(&r.staged_target_groups)
            .any(|g| g == arn)
    })
}

/// What a member in the shared rule still waits for: its share, which it gets once its
/// group has healthy targets.
fn share_waits(
    observed: &Snapshot,
    desired: &DesiredService<'_>,
    group: &TargetGroupRef,
) -> Option<String> {
    let (Weighted::Member { .. }, TargetGroupRef::Existing(arn), Some(weight)) =
        (&desired.weighted, group, desired.intent.weight)
    else {
        return None;
    };
    let has = observed.rules.iter().find_map(|r| r.weights.get(arn))?;
    (*has != u32::from(weight)).then(|| {
        format!("alb.weight={weight}: in the shared rule at {has} until its target group has healthy targets")
    })
}

/// The service has a rule, or its group is in a shared rule: alone now (its partners left),
/// it keeps serving — on a rule of its own, made before the shared one goes.
fn serving(owned: &Owned<'_>, service_arn: &str) -> bool {
    if !owned.rules_of(service_arn).is_empty() {
        return true;
    }
    let groups = owned.groups_of(service_arn);
    owned.rule_list.iter().any(|(_, r)| {
        r.forward_target_groups
            .iter()
            .chain(&r.staged_target_groups)
            .any(|g| groups.iter().any(|mine| mine.arn == *g))
    })
}

/// The owner's rule action: its own serving group and every member's group, with their
/// weights — a member's at 0 until it has healthy targets (in the rule at 0, ECS accepts
/// the group and registers its tasks; a canary takes requests once it can serve them).
/// Groups whose health was not read are asked for.
pub fn forward(
    observed: &Snapshot,
    owned: &Owned<'_>,
    desired: &DesiredService<'_>,
    own: &TargetGroupRef,
) -> WeightedForward {
    let mut health_wanted = Vec::new();
    let Weighted::Owner { members } = &desired.weighted else {
        return WeightedForward::default();
    };
    let mut out = Vec::new();
    for (arn, weight) in members {
        if *arn == desired.service.arn {
            // Its own group too takes requests only once it can serve them.
            let healthy = match own {
                TargetGroupRef::Existing(g) => {
                    let h = observed.has_healthy_targets(g);
                    if h.is_none() {
                        health_wanted.push(g.clone());
                    }
                    h == Some(true)
                }
                TargetGroupRef::New(_) => false,
            };
            out.push((own.clone(), if healthy { u32::from(*weight) } else { 0 }));
            continue;
        }
        // Its group (a member has one, or two while one replaces the other: the healthy
        // one serves).
        let groups = owned.groups_of(arn);
        let health = |g: &&&crate::state::TargetGroup| observed.has_healthy_targets(&g.arn);
        for g in groups.iter().filter(|g| health(g).is_none()) {
            health_wanted.push(g.arn.to_string());
        }
        let chosen = groups
            .iter()
            .find(|g| health(g) == Some(true))
            .or_else(|| groups.first());
        if let Some(g) = chosen {
            let w = if health(&g) == Some(true) {
                u32::from(*weight)
            } else {
                0
            };
            out.push((TargetGroupRef::Existing(g.arn.to_string()), w));
        }
    }
    // With no group able to serve yet (a set just made), its own group takes what there
    // is (no name points here before a group can serve it); partners stay at 0.
    if out.iter().all(|(_, w)| *w == 0)
        && let Some((_, w)) = out.iter_mut().find(|(g, _)| g == own)
    {
        *w = 1;
    }
    WeightedForward {
        groups: Some(out),
        health_wanted,
        // After a failed read a partner may be missing from this pass's set (held): the
        // rule's weights stay as they are rather than drop it.
        hold: !observed.complete_but_zones(),
    }
}

/// A shared rule's groups and weights (`None`: the service owns no shared rule), the
/// groups whose health decides a weight and was not read, and whether the weights wait.
#[derive(Default)]
pub struct WeightedForward {
    pub groups: Option<Vec<(TargetGroupRef, u32)>>,
    pub health_wanted: Vec<String>,
    pub hold: bool,
}

/// The owner's rule carries `weights` (created as a plain forward this pass, then given its
/// weights); nothing when it does already or only its own group is in it yet.
pub fn weights_change(
    desired: &DesiredService<'_>,
    rule: RuleRef,
    have: Option<&crate::state::Rule>,
    weights: Vec<(TargetGroupRef, u32)>,
) -> Option<PlannedChange> {
    let wanted = desired.rules.first()?;
    let mut weights = weights;
    if weights.iter().map(|(_, w)| w).sum::<u32>() == 0 {
        match weights.as_mut_slice() {
            // One group alone takes every request, whatever its weight says.
            [(_, w)] => *w = 1,
            _ => return None, // AWS needs some weight above 0: the rule stays as it is.
        }
    }
    let same = have.is_some_and(|r| {
        r.hosts[..] == wanted.hosts[..]
            && r.paths[..] == wanted.paths[..]
            && r.other_conditions == 0
            && r.other_actions == 0
            && weights.iter().all(|(g, w)| match g {
                TargetGroupRef::Existing(a) => r.weights.get(a) == Some(w),
                TargetGroupRef::New(_) => false,
            })
            && r.weights.len() == weights.len()
    });
    // One group alone takes all the traffic, weighted or not.
    let alone_already = weights.len() == 1
        && have.is_some_and(|r| {
            r.hosts[..] == wanted.hosts[..]
                && r.paths[..] == wanted.paths[..]
                && r.other_conditions == 0
                && r.other_actions == 0
                && matches!(&weights[0].0, TargetGroupRef::Existing(a) if r.forward_target_groups == [a.clone()] && r.staged_target_groups.is_empty())
        });
    if same || alone_already || (have.is_none() && weights.len() < 2) {
        return None;
    }
    Some(PlannedChange::new(
        desired.service,
        Change::ModifyRuleWeights {
            rule,
            hosts: wanted.hosts.to_vec(),
            paths: wanted.paths.to_vec(),
            weights,
        },
        "the weighted rule's groups or weights differ (alb.weight)",
    ))
}

#[cfg(test)]
mod tests;
