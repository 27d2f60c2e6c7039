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
    /// Each winner's rules' priorities.
    pub priorities: RulePriorities,
    /// Listener → existing rules to move.
    pub moves: BTreeMap<String, Vec<(String, u32)>>,
}

/// The priority placed for each rule of each winner, by position: the ALB stage asks for
/// every rule of every winner in winner order, so it reads this in order, where a map keyed
/// by (winner, rule) was a walk down a tree of the whole estate per rule.
#[derive(Debug)]
pub struct RulePriorities {
    /// Where winner `i`'s rules start in `priority`; one more entry than winners.
    first: Vec<usize>,
    /// `None` for a rule its listener had no room for.
    priority: Vec<Option<u32>>,
}

impl RulePriorities {
    /// Room for each winner's rules, given how many each has, in winner order.
    fn new(rules_per_winner: impl ExactSizeIterator<Item = usize>) -> Self {
        let mut first = Vec::with_capacity(rules_per_winner.len() + 1);
        let mut total = 0;
        first.push(0);
        for rules in rules_per_winner {
            total += rules;
            first.push(total);
        }
        Self {
            first,
            priority: vec![None; total],
        }
    }

    fn slot(&self, winner: usize, rule: usize) -> Option<usize> {
        let start = *self.first.get(winner)?;
        let end = *self.first.get(winner + 1)?;
        (rule < end - start).then_some(start + rule)
    }

    fn set(&mut self, winner: usize, rule: usize, priority: u32) {
        if let Some(at) = self.slot(winner, rule) {
            self.priority[at] = Some(priority);
        }
    }

    /// The priority of winner `winner`'s rule `rule`, when its listener had room.
    pub fn get(&self, winner: usize, rule: usize) -> Option<u32> {
        self.slot(winner, rule).and_then(|at| self.priority[at])
    }
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
        priorities: RulePriorities::new(winners.iter().map(|d| d.rules.len())),
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
                    placed.priorities.set(m.winner, m.rule, priority);
                    if let Some(rule) = m.existing
                        && rule.priority != Some(priority)
                    {
                        placed
                            .moves
                            .entry(listener.to_string())
                            .or_default()
                            .push((rule.arn.to_string(), priority));
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

#[cfg(test)]
mod tests {
    use super::RulePriorities;

    #[test]
    fn each_rule_of_each_winner_has_its_own_slot() {
        // Winners with 2, 0, 1 and 3 rules.
        let mut placed = RulePriorities::new([2, 0, 1, 3].into_iter());
        placed.set(0, 1, 10);
        placed.set(2, 0, 20);
        placed.set(3, 2, 30);
        let table = [
            ((0, 0), None),
            ((0, 1), Some(10)),
            ((1, 0), None),
            ((2, 0), Some(20)),
            ((3, 0), None),
            ((3, 1), None),
            ((3, 2), Some(30)),
        ];
        for ((winner, rule), want) in table {
            assert_eq!(
                placed.get(winner, rule),
                want,
                "winner {winner}, rule {rule}"
            );
        }
    }

    #[test]
    fn positions_past_a_winners_rules_or_the_winners_hold_nothing() {
        let mut placed = RulePriorities::new([1, 1].into_iter());
        // Rule 1 of winner 0 would be winner 1's rule 0 if positions ran on.
        placed.set(0, 1, 7);
        placed.set(5, 0, 8);
        assert_eq!(placed.get(1, 0), None);
        assert_eq!(placed.get(0, 1), None);
        assert_eq!(placed.get(5, 0), None);
        placed.set(1, 0, 9);
        assert_eq!(placed.get(1, 0), Some(9));
        assert_eq!(placed.get(0, 0), None);
    }
}
