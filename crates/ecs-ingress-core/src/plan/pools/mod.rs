//! ALB pools: on which member of its pool each candidate is published.
//!
//! The unit of placement is a set of candidates joined by hosts: DNS points a host at one
//! ALB, so every rule routing it must be on that ALB. A placed unit stays where it is while
//! it fits and its ALB is not draining; a new unit, or one that must move, goes to the member
//! with the most free capacity (ties: pool order). Capacity counts every rule of an ALB's
//! listeners and every target group it forwards to, hand-made ones included, and on HTTPS
//! listeners the certificates besides each default (`rooms.rs`), so two passes (and two
//! controllers) reading the same state place alike. A pool of one is left alone.

use std::collections::{BTreeMap, BTreeSet};

mod rooms;

use super::arbitrate::Candidate;
use super::desired::{DesiredService, Location, Previous, desired_service};
use super::growth;
use super::owned::Owned;
use super::{PlanConfig, dns, problem, status};
use crate::snapshot::Snapshot;
use crate::status::{ServiceState, ServiceStatus};
use rooms::{Need, Rooms, Usage, Waiting, current, demand, limits};

/// What placement decided.
#[derive(Default)]
pub struct Placement<'a> {
    pub candidates: Vec<Candidate<'a>>,
    /// Candidates no member has room for.
    pub statuses: Vec<ServiceStatus>,
    pub kept: BTreeSet<&'a str>,
    /// Why a service stays on an ALB it should leave.
    pub waiting: BTreeMap<String, String>,
    /// ALBs to create for pools with no room, and to delete once empty long enough.
    pub changes: Vec<super::change::PlannedChange>,
    /// A pool needs to grow: the account's ALB count must be read, then planned again.
    pub alb_account_wanted: bool,
    /// What units that must leave their ALB (draining, or no longer fitting) need, per pool,
    /// when no other member has room: the pool grows for them too.
    stuck: BTreeMap<String, Waiting>,
    /// Candidates whose place a failed read hides: left as they are.
    unread: BTreeSet<usize>,
    /// Candidates a new ALB could not take, with why: the pool does not grow for them.
    ungrowable: BTreeMap<usize, String>,
}

/// Why a new ALB of the pool could not take the unit: it needs more than one ALB holds, or a
/// member is pinned to a listener by ARN.
fn cannot_grow_for(
    config: &PlanConfig,
    observed: &Snapshot,
    candidates: &[Candidate<'_>],
    unit: &[usize],
    need: &Need<'_>,
) -> Option<String> {
    let Usage {
        rules,
        groups,
        certificates,
    } = limits(config, observed);
    let need = need.on_new_alb();
    if need.rules > rules || need.groups > groups {
        return Some(format!(
            "the services sharing its hosts need {} rules and {} target groups, more than one load balancer holds ({rules}, {groups})",
            need.rules, need.groups
        ));
    }
    if need.certificates > certificates {
        return Some(format!(
            "the services sharing its hosts need {} certificates, more than one load balancer holds ({certificates})",
            need.certificates
        ));
    }
    unit.iter().find(|&&i| candidates[i].pinned).map(|&i| {
        format!(
            "{} names its listener by ARN, so a new load balancer cannot take it",
            candidates[i].desired.service.name
        )
    })
}

/// The status of a candidate pinned by ARN to another ALB than the services sharing a host
/// with it: `conflict`, and what it has stays.
fn split_unit(owned: &Owned<'_>, candidate: &Candidate<'_>, lb: &str) -> ServiceStatus {
    let d = &candidate.desired;
    let mut s = status(
        d.service,
        ServiceState::Conflict,
        Some(d.intent),
        owned.resources(&d.service.arn),
    );
    s.warnings = candidate.warnings.clone();
    s.problems.push(problem(
        Some("alb.listener"),
        format!(
            "it shares a host with services on load balancer {lb}, but alb.listener pins it to another listener; a host is routed by one ALB"
        ),
    ));
    s
}

/// On a partial read nothing moves, and a unit that owns target groups but shows no rule
/// may well be published on a listener whose rules could not be read: it is left as it is
/// rather than published a second time elsewhere (a new target group on another ALB would
/// take its tasks' attachment). Returns true when the unit was settled here.
fn partial_view(
    owned: &Owned<'_>,
    candidates: &[Candidate<'_>],
    unit: &[usize],
    current: Option<&str>,
    out: &mut Placement<'_>,
) -> bool {
    if current.is_some() {
        return true;
    }
    let published_before = unit.iter().any(|&i| {
        !owned
            .groups_of(&candidates[i].desired.service.arn)
            .is_empty()
    });
    if published_before {
        out.unread.extend(unit.iter().copied());
    }
    published_before
}

/// The member with the most free room that takes the unit (ties: pool order).
fn roomiest<'c>(
    rooms: &Rooms,
    candidates: &'c [Candidate<'_>],
    unit: &[usize],
    need: &Need<'_>,
) -> Option<&'c str> {
    allowed(candidates, unit)
        .into_iter()
        .filter(|lb| !rooms.draining(lb) && rooms.fits(lb, need))
        .enumerate()
        .max_by_key(|(order, lb)| (rooms.free(lb, need), std::cmp::Reverse(*order)))
        .map(|(_, lb)| lb)
}

/// Notes why every member of a unit stays where it is.
fn note(out: &mut Placement<'_>, candidates: &[Candidate<'_>], unit: &[usize], why: &str) {
    for &i in unit {
        out.waiting
            .insert(candidates[i].desired.service.arn.clone(), why.to_string());
    }
}

/// Places every candidate of a pool of several ALBs (others stay on their listener), and
/// notes where each moves from: any ALB it still has rules on.
pub fn place<'a>(
    config: &PlanConfig,
    observed: &'a Snapshot,
    owned: &Owned<'a>,
    candidates: Vec<Candidate<'a>>,
) -> Placement<'a> {
    if config.pools.members.values().all(|m| m.len() < 2) && config.pools.max_albs.is_empty() {
        let candidates = candidates
            .into_iter()
            .map(|mut c| {
                settle_move(config, observed, owned, &mut c.desired);
                c
            })
            .collect();
        return Placement {
            candidates,
            ..Placement::default()
        };
    }
    let losers = losers(&candidates);
    let mut rooms = Rooms::new(config, observed, owned, &candidates, &losers);
    let units = units(&candidates);
    let mut chosen: BTreeMap<usize, String> = BTreeMap::new();
    let mut out = Placement::default();
    // Round 1: units that are placed and fit stay (before any newcomer takes their room).
    // A unit clients reach without a name ecs-ingress manages never moves.
    for unit in &units {
        let Some(lb) = unit_current(owned, &candidates, unit) else {
            continue;
        };
        let need = demand(observed, &candidates, unit, &losers);
        // Whether it can move (its names are all ours: a look at the zone's records) is
        // only asked of a unit that should.
        if (rooms.draining(lb) || !rooms.fits(lb, &need))
            && movable(config, observed, &candidates, unit)
        {
            continue;
        }
        if rooms.draining(lb) {
            note(
                &mut out,
                &candidates,
                unit,
                &format!(
                    "stays on draining load balancer {lb}: it has no DNS name ecs-ingress manages, so moving it would cut off its clients"
                ),
            );
        }
        rooms.take(lb, &need);
        chosen.insert(unit[0], lb.to_string());
    }
    let round = Round {
        config,
        observed,
        owned,
        candidates: &candidates,
        losers: &losers,
    };
    round.place_rest(&units, &mut rooms, &mut chosen, &mut out);
    finish(config, observed, owned, candidates, &units, &chosen, out)
}

/// What one placement round reads.
struct Round<'r, 'a> {
    config: &'r PlanConfig,
    observed: &'a Snapshot,
    owned: &'r Owned<'a>,
    candidates: &'r [Candidate<'a>],
    losers: &'r BTreeSet<usize>,
}

impl Round<'_, '_> {
    /// Round 2: new units, and units that must move, oldest first, to the member with the
    /// most room; a unit nothing has room for stays where it is, or waits (and the pool
    /// grows for it when it can).
    fn place_rest(
        &self,
        units: &[Vec<usize>],
        rooms: &mut Rooms,
        chosen: &mut BTreeMap<usize, String>,
        out: &mut Placement<'_>,
    ) {
        let rest: Vec<&Vec<usize>> = units
            .iter()
            .filter(|u| !chosen.contains_key(&u[0]))
            .collect();
        for unit in rest {
            let need = demand(self.observed, self.candidates, unit, self.losers);
            let current = unit_current(self.owned, self.candidates, unit);
            if !self.observed.complete()
                && partial_view(self.owned, self.candidates, unit, current, out)
            {
                if let Some(lb) = current {
                    rooms.take(lb, &need);
                    chosen.insert(unit[0], lb.to_string());
                }
                continue;
            }
            match (roomiest(rooms, self.candidates, unit, &need), current) {
                (Some(lb), _) => {
                    rooms.take(lb, &need);
                    chosen.insert(unit[0], lb.to_string());
                }
                (None, Some(lb)) => {
                    rooms.take(lb, &need);
                    chosen.insert(unit[0], lb.to_string());
                    if cannot_grow_for(self.config, self.observed, self.candidates, unit, &need)
                        .is_none()
                    {
                        out.stuck
                            .entry(self.candidates[unit[0]].desired.pool.clone())
                            .or_default()
                            .add(&need);
                    }
                    let pool = &self.candidates[unit[0]].desired.pool;
                    note(
                        out,
                        self.candidates,
                        unit,
                        &format!(
                            "no other load balancer of pool `{pool}` has room; it stays on {lb}"
                        ),
                    );
                }
                (None, None) => {
                    if let Some(why) =
                        cannot_grow_for(self.config, self.observed, self.candidates, unit, &need)
                    {
                        out.ungrowable
                            .extend(unit.iter().map(|&i| (i, why.clone())));
                    }
                }
            }
        }
    }
}

/// Rebuilds each placed candidate for its ALB, notes where it moves from, and gives the
/// unplaced ones their `quota` status.
fn finish<'a>(
    config: &PlanConfig,
    observed: &'a Snapshot,
    owned: &Owned<'a>,
    candidates: Vec<Candidate<'a>>,
    units: &[Vec<usize>],
    chosen: &BTreeMap<usize, String>,
    mut out: Placement<'a>,
) -> Placement<'a> {
    let unit_of: BTreeMap<usize, usize> = units
        .iter()
        .flat_map(|u| u.iter().map(move |&i| (i, u[0])))
        .collect();
    let mut growing: BTreeMap<String, Waiting> = std::mem::take(&mut out.stuck);
    for pool in growing.keys().cloned().collect::<Vec<_>>() {
        match growth::growth(config, observed, &pool) {
            growth::Growth::Grow => {}
            growth::Growth::AccountUnknown => {
                out.alb_account_wanted = true;
                growing.remove(&pool);
            }
            growth::Growth::Cannot(_) => {
                growing.remove(&pool);
            }
        }
    }
    for (i, mut candidate) in candidates.into_iter().enumerate() {
        if out.unread.contains(&i) {
            out.kept.insert(candidate.desired.service.arn.as_str());
            out.statuses.push(unread(owned, &candidate));
            continue;
        }
        let Some(lb) = unit_of.get(&i).and_then(|u| chosen.get(u)) else {
            out.kept.insert(candidate.desired.service.arn.as_str());
            let pool = candidate.desired.pool.clone();
            let growth = match out.ungrowable.get(&i) {
                Some(why) => growth::Growth::Cannot(why.clone()),
                None => growth::growth(config, observed, &pool),
            };
            out.alb_account_wanted |= growth == growth::Growth::AccountUnknown;
            let need = demand(
                observed,
                std::slice::from_ref(&candidate),
                &[0],
                &BTreeSet::new(),
            );
            if growth == growth::Growth::Grow {
                growing.entry(pool).or_default().add(&need);
            }
            let needs_certificates = !need.for_new_alb.is_empty();
            out.statuses.push(unplaced(
                config,
                observed,
                owned,
                &candidate,
                needs_certificates,
                &growth,
            ));
            continue;
        };
        let Some(at) = candidate
            .choices
            .iter()
            .find(|c| c.load_balancer.arn == *lb)
            .copied()
        else {
            // Pinned by ARN to another ALB than the services sharing its host.
            out.kept.insert(candidate.desired.service.arn.as_str());
            out.statuses.push(split_unit(owned, &candidate, lb));
            continue;
        };
        if at.listener_arn != candidate.desired.listener_arn {
            candidate.desired = relocated(config, &candidate, at);
        }
        settle_move(config, observed, owned, &mut candidate.desired);
        out.candidates.push(candidate);
    }
    grow_and_shrink(config, observed, chosen, &growing, &mut out);
    out
}

/// ALBs to create for what waits for room, and created ALBs to delete: those nothing is
/// placed on, moves away from, or grows into this pass.
fn grow_and_shrink(
    config: &PlanConfig,
    observed: &Snapshot,
    chosen: &BTreeMap<usize, String>,
    growing: &BTreeMap<String, Waiting>,
    out: &mut Placement<'_>,
) {
    let max = limits(config, observed);
    let per_alb = [max.rules, max.groups, max.certificates];
    for (pool, waiting) in growing {
        let waiting = waiting.total();
        out.changes.extend(growth::grow(
            config,
            observed,
            pool,
            [waiting.rules, waiting.groups, waiting.certificates],
            per_alb,
        ));
    }
    let in_use: BTreeSet<&str> = chosen
        .values()
        .map(String::as_str)
        .chain(
            out.candidates
                .iter()
                .filter_map(|c| c.desired.previous.as_ref())
                .map(|p| p.load_balancer_arn.as_str()),
        )
        .chain(
            observed
                .provisioned
                .iter()
                .filter(|p| growing.contains_key(&p.pool))
                .map(|p| p.arn.as_str()),
        )
        .collect();
    out.changes
        .extend(growth::scale_in(config, observed, &in_use));
}

fn relocated<'a>(
    config: &PlanConfig,
    candidate: &Candidate<'a>,
    at: Location<'a>,
) -> super::desired::DesiredService<'a> {
    let d = &candidate.desired;
    let scope = super::desired::PoolScope {
        pool: d.pool.clone(),
        claim_scope: d.claim_scope.clone(),
    };
    desired_service(
        &config.ownership,
        d.service,
        d.intent,
        scope,
        at,
        super::desired::GroupSettings::of_spec(&d.target_group),
    )
}

/// The status of a candidate a failed read hides: `error`, and what it has stays.
fn unread(owned: &Owned<'_>, candidate: &Candidate<'_>) -> ServiceStatus {
    let d = &candidate.desired;
    let mut s = status(
        d.service,
        ServiceState::Error,
        Some(d.intent),
        owned.resources(&d.service.arn),
    );
    s.warnings = candidate.warnings.clone();
    s.problems.push(problem(
        None,
        format!(
            "its rules on pool `{}` could not all be read this pass (see the pass's failed reads); it is left as it is",
            d.pool
        ),
    ));
    s
}

/// The status of a candidate no member of its pool has room for: `pending` while the pool
/// grows, else `quota` with what would make room.
fn unplaced(
    config: &PlanConfig,
    observed: &Snapshot,
    owned: &Owned<'_>,
    candidate: &Candidate<'_>,
    needs_certificates: bool,
    growth: &growth::Growth,
) -> ServiceStatus {
    let d = &candidate.desired;
    let state = match growth {
        growth::Growth::Cannot(_) => ServiceState::Quota,
        _ => ServiceState::Pending,
    };
    let mut s = status(
        d.service,
        state,
        Some(d.intent),
        owned.resources(&d.service.arn),
    );
    s.warnings = candidate.warnings.clone();
    let max = limits(config, observed);
    let certificates = if needs_certificates {
        format!(", {} certificates", max.certificates)
    } else {
        String::new()
    };
    let full = format!(
        "every load balancer of pool `{}` is full ({} rules, {} target groups{certificates} each at most){}",
        d.pool,
        max.rules,
        max.groups,
        if config.pools.draining.is_empty() {
            ""
        } else {
            " or draining"
        },
    );
    match growth {
        growth::Growth::Cannot(why) => s.problems.push(problem(
            None,
            format!(
                "{full}, and {why}; add a --listener {}=ARN on another ALB, or raise the quota",
                d.pool
            ),
        )),
        _ => s.waiting.push(format!(
            "{full}: waiting for a new load balancer of the pool"
        )),
    }
    s
}

/// Notes the move in progress, if any, and the name of the group on the ALB it goes to.
fn settle_move(
    config: &PlanConfig,
    observed: &Snapshot,
    owned: &Owned<'_>,
    desired: &mut DesiredService<'_>,
) {
    desired.previous = previous(config, observed, owned, desired);
    settle_group_name(owned, desired);
}

/// The group's name on its ALB: the pool's first listener's name, unless a group of this
/// service holds that name on another ALB (it moves between pools' first listeners, or a
/// pool's first member was removed) or the ALB's own name is already in use. AWS lets a
/// target group serve one ALB, so a move always gets a second group; and once it has the
/// ALB's own name it keeps it (no replacement after the move).
fn settle_group_name(owned: &Owned<'_>, desired: &mut DesiredService<'_>) {
    let Some(own) = desired.alb_group_name.take() else {
        return;
    };
    let mine = owned.groups_of(&desired.service.arn);
    let name_elsewhere = mine.iter().any(|g| {
        g.name == desired.target_group.name
            && g.load_balancer_arns
                .iter()
                .any(|lb| lb != desired.load_balancer_arn)
    });
    if name_elsewhere || mine.iter().any(|g| g.name == own) {
        desired.target_group.name = own;
    }
}

/// The move in progress: the ALB it leaves — any other ALB it still has rules on: a member
/// of its pool, the ALB of a listener its `alb.listener` named before, or one no longer
/// given with `--listener` (of those, the one its names point at) — and whether its names
/// left it long enough ago.
fn previous(
    config: &PlanConfig,
    observed: &Snapshot,
    owned: &Owned<'_>,
    d: &DesiredService<'_>,
) -> Option<Previous> {
    let target = owned.load_balancer(d.load_balancer_arn)?;
    let mut held: Vec<(&str, &crate::state::LoadBalancer)> = owned
        .rules_of(&d.service.arn)
        .iter()
        .filter_map(|r| {
            let listener = owned.listener(&r.listener_arn)?;
            let lb = owned.load_balancer(&listener.load_balancer_arn)?;
            (lb.arn != target.arn).then_some((listener.arn.as_str(), lb))
        })
        .collect();
    held.sort_by_key(|(listener, _)| *listener);
    held.dedup_by_key(|(listener, _)| *listener);
    if held.is_empty() {
        // Not moving (almost every service): nothing below is needed.
        return None;
    }
    let zones: Vec<crate::state::HostedZone> = observed.zones.values().cloned().collect();
    let routed_on: Vec<&crate::state::LoadBalancer> = held.iter().map(|(_, lb)| *lb).collect();
    let names_at = |lb: &crate::state::LoadBalancer| {
        dns::names_point_at(
            config.ownership.owner_id(),
            &zones,
            &observed.records,
            d,
            lb,
            &routed_on,
        )
    };
    let (old_listener, old) = held
        .iter()
        .find(|(_, lb)| matches!(names_at(lb), dns::NamesAt::Since(_)))
        .or(held.first())
        .copied()?;
    let mut drain = config
        .pools
        .dns_drain
        .map_or_else(|| dns::default_drain(&d.intent.dns), |t| t.as_secs());
    if d.intent.cloudmap.is_some() {
        // Cloud Map answers with its own TTL after an asynchronous update.
        drain = drain.max(2 * dns::ALIAS_TTL_SECONDS);
    }
    let drain = i64::try_from(drain)
        .unwrap_or(i64::MAX)
        .saturating_add(crate::snapshot::CLOCK_UNCERTAINTY_SECONDS);
    let names = names_at(target);
    let drained = match names {
        dns::NamesAt::Elsewhere | dns::NamesAt::HeldForOthers | dns::NamesAt::Unknown => false,
        dns::NamesAt::Since(None) => true,
        // `since` and `read_at` are both AWS's clock (see `aws::clock`), whichever replica
        // wrote the one and reads the other.
        dns::NamesAt::Since(Some(t)) => {
            observed.read_at.saturating_sub(t) >= drain
                || crate::sabotage::is_on(crate::sabotage::Sabotage::Drain)
        }
    };
    Some(Previous {
        listener_arn: old_listener.to_string(),
        load_balancer_arn: old.arn.to_string(),
        switched: matches!(names, dns::NamesAt::Since(_)),
        held_for_others: names == dns::NamesAt::HeldForOthers,
        drained,
        departed: observed.departed_listeners.contains(old_listener),
    })
}

/// Units: candidates joined by a host of the same pool, in age order of their oldest member.
fn units(candidates: &[Candidate<'_>]) -> Vec<Vec<usize>> {
    let mut parent: Vec<usize> = (0..candidates.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut first: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (i, c) in candidates.iter().enumerate() {
        for host in &c.desired.intent.hosts {
            match first.get(&(c.desired.pool.as_str(), host.as_str())) {
                Some(&j) => {
                    let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                    parent[a.max(b)] = a.min(b);
                }
                None => {
                    first.insert((c.desired.pool.as_str(), host.as_str()), i);
                }
            }
        }
    }
    let mut by_root: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..candidates.len() {
        let r = root(&mut parent, i);
        by_root.entry(r).or_default().push(i);
    }
    by_root.into_values().collect()
}

/// Candidates that will lose a host and path to an older one of their pool in arbitration:
/// they create nothing, so they take no room (what they already have stays counted).
fn losers(candidates: &[Candidate<'_>]) -> BTreeSet<usize> {
    let mut claimed: BTreeSet<(&str, &str, &str)> = BTreeSet::new();
    let mut out = BTreeSet::new();
    for (i, c) in candidates.iter().enumerate() {
        let d = &c.desired;
        let paths: Vec<&str> = if d.intent.paths.is_empty() {
            vec![""]
        } else {
            d.intent.paths.iter().map(String::as_str).collect()
        };
        let claims: Vec<(&str, &str, &str)> = d
            .intent
            .hosts
            .iter()
            .flat_map(|h| paths.iter().map(move |p| (d.pool.as_str(), h.as_str(), *p)))
            .collect();
        if claims.iter().any(|k| claimed.contains(k)) {
            out.insert(i);
        } else {
            claimed.extend(claims);
        }
    }
    out
}

/// The ALBs every member of the unit may be placed on, in pool order.
fn allowed<'c>(candidates: &'c [Candidate<'_>], unit: &[usize]) -> Vec<&'c str> {
    let first = &candidates[unit[0]];
    first
        .choices
        .iter()
        .map(|c| c.load_balancer.arn.as_str())
        .filter(|lb| {
            unit.iter().all(|&i| {
                candidates[i]
                    .choices
                    .iter()
                    .any(|c| c.load_balancer.arn == *lb)
            })
        })
        .collect()
}

/// The ALB a unit is published on (that of its oldest placed member).
fn unit_current<'c>(
    owned: &Owned<'_>,
    candidates: &'c [Candidate<'_>],
    unit: &[usize],
) -> Option<&'c str> {
    unit.iter().find_map(|&i| current(owned, &candidates[i]))
}

/// A unit can move when its clients find every member through a name ecs-ingress manages.
fn movable(
    config: &PlanConfig,
    observed: &Snapshot,
    candidates: &[Candidate<'_>],
    unit: &[usize],
) -> bool {
    unit.iter()
        .all(|&i| dns::only_managed_names(config, observed, &candidates[i].desired))
}

#[cfg(test)]
mod tests;
