//! Placement of rule priorities per listener (the algorithm is in [`super::priorities`]):
//! the priority of every winner's rules, and the moves of existing rules it needs.

use std::collections::{BTreeMap, BTreeSet};

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

pub fn place_priorities(
    config: &PlanConfig,
    observed: &Snapshot,
    owned: &Owned<'_>,
    winners: &[DesiredService<'_>],
    out: &mut Plan,
) -> Placed {
    let mut placed = Placed {
        priorities: BTreeMap::new(),
        moves: BTreeMap::new(),
    };
    let mut by_listener: BTreeMap<&str, Vec<(usize, usize)>> = BTreeMap::new();
    for (i, d) in winners.iter().enumerate() {
        for j in 0..d.rules.len() {
            by_listener.entry(d.listener_arn).or_default().push((i, j));
        }
    }
    // Indexed once: a scan of every rule per listener made this listeners × rules.
    let mut rules_by_listener: BTreeMap<&str, Vec<&Rule>> = BTreeMap::new();
    for r in &observed.rules {
        if by_listener.contains_key(r.listener_arn.as_str()) {
            rules_by_listener
                .entry(r.listener_arn.as_str())
                .or_default()
                .push(r);
        }
    }
    for (listener, members) in by_listener {
        let mine: BTreeSet<&str> = members
            .iter()
            .filter_map(|&(i, j)| {
                existing_rule(owned, &winners[i], &winners[i].rules[j].key).map(|r| r.arn.as_str())
            })
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
            .map(|&(i, j)| {
                let rule = &winners[i].rules[j];
                priorities::Slot {
                    hosts: &rule.hosts,
                    paths: &rule.paths,
                    explicit: rule.explicit_priority,
                    current: existing_rule(owned, &winners[i], &rule.key).and_then(|r| r.priority),
                }
            })
            .collect();
        match priorities::place(config.priority_range, &occupied, &slots) {
            Ok(p) => {
                for (k, &(i, j)) in members.iter().enumerate() {
                    placed.priorities.insert((i, j), p.priorities[k]);
                    if let Some(rule) = existing_rule(owned, &winners[i], &winners[i].rules[j].key)
                        && rule.priority != Some(p.priorities[k])
                    {
                        placed
                            .moves
                            .entry(listener.to_string())
                            .or_default()
                            .push((rule.arn.clone(), p.priorities[k]));
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
