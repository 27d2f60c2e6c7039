//! What must hold after every write, by the controller or anyone else: the checks the
//! simulation hangs on the fake account beside the served-traffic oracle.

use std::sync::{Arc, Mutex};

use super::actors::Foreign;
use crate::fake::World;

/// Broken invariants, in the order found.
pub type Violations = Arc<Mutex<Vec<String>>>;

pub fn push(violations: &Violations, what: String) {
    let mut v = violations.lock().unwrap_or_else(|e| e.into_inner());
    if v.len() < 20 {
        v.push(what);
    }
}

/// Nothing someone else made was changed or deleted, except by that someone (who updates
/// `foreign` as they go).
pub fn foreign_untouched(world: &World, foreign: &Foreign) -> Vec<String> {
    let mut out = Vec::new();
    for (arn, rule) in &foreign.rules {
        match world.rules.get(arn) {
            Some(now) if now == rule => {}
            Some(now) => out.push(format!(
                "a hand-made rule was changed: {rule:?} became {now:?}"
            )),
            None => out.push(format!("a hand-made rule was deleted: {arn}")),
        }
    }
    for arn in &foreign.target_groups {
        if !world.target_groups.contains_key(arn) {
            out.push(format!("a hand-made target group was deleted: {arn}"));
        }
    }
    let records: Vec<&crate::state::RecordSet> =
        world.zones.values().flat_map(|(_, r)| r).collect();
    for record in &foreign.records {
        if !records.contains(&record) {
            out.push(format!(
                "a hand-made record was changed or deleted: {} {}",
                record.name, record.record_type
            ));
        }
    }
    out
}

/// AWS's own rules, which no state of the account may break: unique priorities per
/// listener, the rules-per-ALB quota, one ALB per target group, at most 5 target groups
/// per forward and weights 0–999 ("Quotas for your Application Load Balancers", "Listener
/// rules for your Application Load Balancer"). The fake refuses writes that break them;
/// this sees a state that slipped through anyway.
pub fn aws_rules(world: &World) -> Vec<String> {
    let mut out = Vec::new();
    let quota = world.rules_quota.unwrap_or(100);
    let mut per_listener: std::collections::BTreeMap<&str, Vec<u32>> = Default::default();
    let mut per_alb: std::collections::BTreeMap<&str, usize> = Default::default();
    for rule in world.rules.values().filter(|r| !r.is_default()) {
        if let Some(p) = rule.priority {
            per_listener.entry(&rule.listener_arn).or_default().push(p);
        }
        if let Some(l) = world.listeners.get(rule.listener_arn.as_str()) {
            *per_alb.entry(&l.load_balancer_arn).or_default() += 1;
        }
        let groups = rule.forward_target_groups.len() + rule.staged_target_groups.len();
        if groups > 5 {
            out.push(format!(
                "rule {} forwards to {groups} target groups",
                rule.arn
            ));
        }
        if let Some((g, w)) = rule.weights.iter().find(|(_, w)| **w > 999) {
            out.push(format!("rule {} gives {g} weight {w}", rule.arn));
        }
    }
    for (listener, mut priorities) in per_listener {
        priorities.sort_unstable();
        let n = priorities.len();
        priorities.dedup();
        if priorities.len() != n {
            out.push(format!("listener {listener} has two rules at one priority"));
        }
    }
    for (alb, n) in per_alb {
        if n > quota {
            out.push(format!(
                "ALB {alb} has {n} rules, over the quota of {quota}"
            ));
        }
    }
    for arn in world.target_groups.keys() {
        let albs = world.load_balancers_of(arn);
        if albs.len() > 1 {
            out.push(format!("target group {arn} is used by {} ALBs", albs.len()));
        }
    }
    out
}
