//! Placement of rule priorities per listener (the algorithm is in [`super::priorities`]):
//! the priority of every winner's rules, and the moves of existing rules it needs.

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::{FxHashMap, FxHashSet};

use super::change::{Change, PlannedChange};
use super::desired::DesiredService;
use super::owned::Owned;
use super::{Plan, PlanConfig, priorities};
use crate::ownership::resource_of;
use crate::snapshot::Snapshot;
use crate::state::Rule;

/// Priorities chosen for every winner's rules, and moves of existing rules.
pub struct Placed {
    /// (winner index, rule index) → priority.
    pub priorities: BTreeMap<(usize, usize), u32>,
    /// Listener → existing rules to move.
    pub moves: BTreeMap<String, Vec<(String, u32)>>,
}

pub fn existing_rule<'a>(
    owned: &Owned<'a>,
    desired: &DesiredService<'_>,
    key: &str,
) -> Option<&'a Rule> {
    owned
        .rules_of(&desired.service.arn)
        .iter()
        .copied()
        .find(|r| r.listener_arn == desired.listener_arn && resource_of(&r.tags) == Some(key))
}

pub fn place_priorities<'a>(
    config: &PlanConfig,
    observed: &Snapshot,
    owned: &Owned<'a>,
    winners: &[DesiredService<'_>],
    out: &mut Plan,
) -> Placed {
    let mut placed = Placed {
        priorities: BTreeMap::new(),
        moves: BTreeMap::new(),
    };
    let groups = members_by_listener(owned, winners);
    // Indexed once: a scan of every rule per listener made this listeners × rules.
    let placing: FxHashSet<&str> = groups.iter().map(|(listener, _)| *listener).collect();
    let mut rules_by_listener: FxHashMap<&str, Vec<&Rule>> = FxHashMap::default();
    for r in &observed.rules {
        if placing.contains(r.listener_arn.as_str()) {
            rules_by_listener
                .entry(r.listener_arn.as_str())
                .or_default()
                .push(r);
        }
    }
    for (listener, members) in groups {
        let mine: FxHashSet<&str> = members
            .iter()
            .filter_map(|m| m.existing.map(|r| r.arn.as_str()))
            .collect();
        // Everything else on the listener keeps its priority and is never reused.
        let occupied: BTreeSet<u32> = rules_by_listener
            .get(listener)
            .into_iter()
            .flatten()
            .filter(|r| !mine.contains(r.arn.as_str()))
            .filter_map(|r| r.priority)
            .collect();
        let slots: Vec<priorities::Slot<'_>> = members
            .iter()
            .map(|m| {
                let rule = &winners[m.winner].rules[m.rule];
                priorities::Slot {
                    hosts: &rule.hosts,
                    paths: &rule.paths,
                    explicit: rule.explicit_priority,
                    current: m.existing.and_then(|r| r.priority),
                }
            })
            .collect();
        match priorities::place(config.priority_range, &occupied, &slots) {
            Ok(p) => {
                for (m, &priority) in members.iter().zip(&p.priorities) {
                    placed.priorities.insert((m.winner, m.rule), priority);
                    if let Some(rule) = m.existing
                        && rule.priority != Some(priority)
                    {
                        placed
                            .moves
                            .entry(listener.to_string())
                            .or_default()
                            .push((rule.arn.clone(), priority));
                    }
                }
            }
            Err(e) => out.problems.push(format!(
                "listener {listener}: {e}; new rules on it wait for room"
            )),
        }
    }
    placed
}

/// One winner's rule to place, with the rule of it that exists (found once: placing asked
/// for it three times).
struct Member<'a> {
    winner: usize,
    rule: usize,
    existing: Option<&'a Rule>,
}

/// Every winner's rules grouped by their listener, the listeners in ARN order (the order
/// their problems are reported in). Grouped through a hash: an ordered map searched per
/// rule compared listener ARNs, which share a hundred bytes of prefix, a dozen times each.
fn members_by_listener<'w, 'a>(
    owned: &Owned<'a>,
    winners: &'w [DesiredService<'_>],
) -> Vec<(&'w str, Vec<Member<'a>>)> {
    let mut groups: Vec<(&str, Vec<Member<'a>>)> = Vec::new();
    let mut at: FxHashMap<&str, usize> = FxHashMap::default();
    for (winner, d) in winners.iter().enumerate() {
        for (rule, r) in d.rules.iter().enumerate() {
            let k = *at.entry(d.listener_arn).or_insert_with(|| {
                groups.push((d.listener_arn, Vec::new()));
                groups.len() - 1
            });
            groups[k].1.push(Member {
                winner,
                rule,
                existing: existing_rule(owned, d, &r.key),
            });
        }
    }
    groups.sort_unstable_by(|a, b| a.0.cmp(b.0));
    groups
}

/// One SetRulePriorities per listener for the moves placement needs.
pub fn renumbering(moves: BTreeMap<String, Vec<(String, u32)>>) -> Vec<PlannedChange> {
    moves
        .into_iter()
        .filter(|(_, priorities)| !priorities.is_empty())
        .map(|(listener_arn, priorities)| PlannedChange {
            service_arn: None,
            service: listener_arn.clone(),
            change: Change::SetRulePriorities {
                listener_arn,
                priorities,
            },
            reason: "keep rule priorities unique and ordered by specificity".into(),
        })
        .collect()
}
