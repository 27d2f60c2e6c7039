//! What ecs-ingress owns in the snapshot, indexed by the service it was made for.

use rustc_hash::{FxHashMap, FxHashSet};

use super::few::{Few, push_under};
use crate::ownership::{Ownership, service_of};
use crate::snapshot::Snapshot;
use crate::state::{Listener, LoadBalancer, Rule, TargetGroup};
use crate::status::{ResourceKind, ResourceRef};

/// Owned resources, indexed. Hashed, not ordered: every stage looks these up per service,
/// and ARNs share a long prefix, so an ordered map compared ~60 equal bytes per step of a
/// search. Nothing iterates them in an order that reaches the plan.
///
/// Ownership is read from each resource's tags once a pass, here: every later stage asks
/// this instead of reading the tags again (a tag lookup follows a pointer per key, and a
/// full pass asked it of every rule and group four or five times).
pub struct Owned<'a> {
    pub groups: FxHashMap<&'a str, Few<'a, TargetGroup>>,
    pub rules: FxHashMap<&'a str, Few<'a, Rule>>,
    pub group_arns: FxHashSet<&'a str>,
    /// Every owned target group that names its service, in the snapshot's order.
    pub group_list: Vec<(&'a str, &'a TargetGroup)>,
    /// Every owned rule that names its service, in the snapshot's order. Default rules are
    /// left out: ecs-ingress never makes one, and they route no host.
    pub rule_list: Vec<(&'a str, &'a Rule)>,
    /// Every rule that is neither a default rule nor owned, in the snapshot's order.
    pub foreign_rules: Vec<&'a Rule>,
    /// The snapshot's listeners and ALBs by ARN, hashed: stages ask for them per owned rule
    /// and per winner, and the snapshot's ordered maps compare ~70 equal bytes of ARN at
    /// every step of a search.
    listeners: FxHashMap<&'a str, &'a Listener>,
    load_balancers: FxHashMap<&'a str, &'a LoadBalancer>,
    /// Every group of the account, when DescribeTargetGroups answered in full.
    all_groups: Option<FxHashSet<&'a str>>,
}

impl<'a> Owned<'a> {
    /// The owned rules of one service.
    pub fn rules_of(&self, service_arn: &str) -> &[&'a Rule] {
        self.rules
            .get(service_arn)
            .map(Few::as_slice)
            .unwrap_or_default()
    }

    pub fn listener(&self, arn: &str) -> Option<&'a Listener> {
        self.listeners.get(arn).copied()
    }

    pub fn load_balancer(&self, arn: &str) -> Option<&'a LoadBalancer> {
        self.load_balancers.get(arn).copied()
    }

    /// The ALB of a listener, when both were read.
    pub fn load_balancer_of_listener(&self, listener_arn: &str) -> Option<&'a LoadBalancer> {
        self.load_balancer(&self.listener(listener_arn)?.load_balancer_arn)
    }

    /// The owned target groups of one service.
    pub fn groups_of(&self, service_arn: &str) -> &[&'a TargetGroup] {
        self.groups
            .get(service_arn)
            .map(Few::as_slice)
            .unwrap_or_default()
    }

    pub fn new(ownership: &Ownership, observed: &'a Snapshot) -> Self {
        let mut groups = FxHashMap::default();
        let mut group_arns = FxHashSet::default();
        let mut group_list = Vec::new();
        for g in observed
            .target_groups
            .iter()
            .filter(|g| ownership.owns(&g.tags))
        {
            group_arns.insert(g.arn.as_str());
            if let Some(s) = service_of(&g.tags) {
                push_under(&mut groups, s, g);
                group_list.push((s, g));
            }
        }
        let mut rules = FxHashMap::default();
        let (mut rule_list, mut foreign_rules) = (Vec::new(), Vec::new());
        for r in observed.rules.iter().filter(|r| !r.is_default()) {
            if !ownership.owns(&r.tags) {
                foreign_rules.push(r);
            } else if let Some(s) = service_of(&r.tags) {
                push_under(&mut rules, s, r);
                rule_list.push((s, r));
            }
        }
        let all_groups = observed.target_groups_complete.then(|| {
            observed
                .target_groups
                .iter()
                .map(|g| g.arn.as_str())
                .collect()
        });
        Self {
            groups,
            rules,
            group_arns,
            group_list,
            rule_list,
            foreign_rules,
            listeners: observed
                .listeners
                .iter()
                .map(|(arn, l)| (arn.as_str(), l))
                .collect(),
            load_balancers: observed
                .load_balancers
                .iter()
                .map(|(arn, lb)| (arn.as_str(), lb))
                .collect(),
            all_groups,
        }
    }

    /// The group no longer exists (deleted by someone), as far as a complete read of the
    /// account's groups tells: an ECS entry naming it makes ECS refuse any update that
    /// keeps it.
    pub fn group_gone(&self, arn: &str) -> bool {
        self.all_groups
            .as_ref()
            .is_some_and(|all| !all.contains(arn))
    }

    pub fn resources(&self, service_arn: &str) -> Vec<ResourceRef> {
        let mut out: Vec<ResourceRef> = self
            .groups_of(service_arn)
            .iter()
            .map(|g| ResourceRef {
                kind: ResourceKind::TargetGroup,
                id: g.arn.clone(),
            })
            .collect();
        out.extend(self.rules_of(service_arn).iter().map(|r| ResourceRef {
            kind: ResourceKind::ListenerRule,
            id: r.arn.clone(),
        }));
        out
    }
}
