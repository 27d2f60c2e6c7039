//! What ecs-ingress owns in the snapshot, indexed by the service it was made for.

use rustc_hash::{FxHashMap, FxHashSet};

use crate::ownership::{Ownership, service_of};
use crate::snapshot::Snapshot;
use crate::state::{Rule, TargetGroup};
use crate::status::{ResourceKind, ResourceRef};

/// Owned resources, indexed. Hashed, not ordered: every stage looks these up per service,
/// and ARNs share a long prefix, so an ordered map compared ~60 equal bytes per step of a
/// search. Nothing iterates them in an order that reaches the plan.
pub struct Owned<'a> {
    pub groups: FxHashMap<&'a str, Vec<&'a TargetGroup>>,
    pub rules: FxHashMap<&'a str, Vec<&'a Rule>>,
    pub group_arns: FxHashSet<&'a str>,
    /// Every group of the account, when DescribeTargetGroups answered in full.
    all_groups: Option<FxHashSet<&'a str>>,
}

impl<'a> Owned<'a> {
    /// The owned rules of one service.
    pub fn rules_of(&self, service_arn: &str) -> &[&'a Rule] {
        self.rules
            .get(service_arn)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The owned target groups of one service.
    pub fn groups_of(&self, service_arn: &str) -> &[&'a TargetGroup] {
        self.groups
            .get(service_arn)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    pub fn new(ownership: &Ownership, observed: &'a Snapshot) -> Self {
        let mut groups: FxHashMap<&str, Vec<&TargetGroup>> = FxHashMap::default();
        let mut group_arns = FxHashSet::default();
        for g in observed
            .target_groups
            .iter()
            .filter(|g| ownership.owns(&g.tags))
        {
            group_arns.insert(g.arn.as_str());
            if let Some(s) = service_of(&g.tags) {
                groups.entry(s).or_default().push(g);
            }
        }
        let mut rules: FxHashMap<&str, Vec<&Rule>> = FxHashMap::default();
        for r in observed
            .rules
            .iter()
            .filter(|r| !r.is_default() && ownership.owns(&r.tags))
        {
            if let Some(s) = service_of(&r.tags) {
                rules.entry(s).or_default().push(r);
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
            .groups
            .get(service_arn)
            .into_iter()
            .flatten()
            .map(|g| ResourceRef {
                kind: ResourceKind::TargetGroup,
                id: g.arn.clone(),
            })
            .collect();
        out.extend(
            self.rules
                .get(service_arn)
                .into_iter()
                .flatten()
                .map(|r| ResourceRef {
                    kind: ResourceKind::ListenerRule,
                    id: r.arn.clone(),
                }),
        );
        out
    }
}
