//! Backend security-group rules (`--backend-sg-rules`, `alb.backend-sg`): the inbound rule
//! on a service's security group that lets its ALB's security groups reach the target port
//! (and a numbered health-check port). Without it the health checks fail and the name is
//! never published.
//!
//! This stage runs last, on the changes that go out: what needs a rule is read off the
//! target groups that will still be routed from an ALB once they are applied, so a move
//! needs both ALBs' rules until the old rules and group are gone, and a withdrawal frees its
//! rule in the same pass, after its rules, attachment and group (the phases order it). Rules
//! are shared: one per (group, source group, port), ours by tag, revoked only when nothing
//! needs it; a hand-made rule that already lets the source in is used as it is.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::change::{Change, PlannedChange, TargetGroupRef};
use super::owned::Owned;
use super::{Plan, PlanConfig};
use crate::model::ServiceIntent;
use crate::ownership::{OWNER_TAG, RESOURCE_TAG, resource_of, service_of};
use crate::snapshot::{BackendRulesRead, Snapshot};
use crate::state::{EcsService, SecurityGroupRule, SharedStr, Tags, TargetType};
use crate::status::{ResourceKind, ResourceRef};

/// The `ecs-ingress/resource` tag value of a backend rule.
pub const SECURITY_GROUP_RULE_RESOURCE: &str = "security-group-rule";

/// One rule's worth of access: `source` may reach tcp `port` of `group`. Borrowed from the
/// intents and the snapshot: a pass builds one per routed group, and few become rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Access<'a> {
    group: &'a str,
    source: &'a str,
    port: u16,
}

/// What the routed target groups ask of the security groups.
#[derive(Default)]
struct Demand<'a> {
    /// Access a published service needs, with the services that need it (oldest first).
    needed: BTreeMap<Access<'a>, Vec<&'a str>>,
    /// Ports of services kept as they are (invalid tags, gone from ECS) or that ECS is
    /// deploying: any rule of ours that lets one of these sources reach the port, in one of
    /// these groups (`None`: any group), stays.
    /// By (source, port): a lookup per rule, not a scan (every service ECS deploys adds
    /// entries, and a cold start deploys them all).
    kept: BTreeMap<(&'a str, u16), KeptIn<'a>>,
}

/// The groups in which a kept access's rules stay.
enum KeptIn<'a> {
    Any,
    Groups(BTreeSet<&'a str>),
}

impl<'a> Demand<'a> {
    /// Keeps whatever of ours lets `sources` reach `port` in `groups` (`None`: any group).
    fn keep(&mut self, groups: Option<&'a [String]>, sources: &[&'a str], port: u16) {
        for &source in sources {
            let entry = self
                .kept
                .entry((source, port))
                .or_insert_with(|| KeptIn::Groups(BTreeSet::new()));
            match (entry, groups) {
                (entry, None) => *entry = KeptIn::Any,
                (KeptIn::Groups(kept), Some(groups)) => {
                    kept.extend(groups.iter().map(String::as_str));
                }
                (KeptIn::Any, Some(_)) => {}
            }
        }
    }

    /// A kept access this rule serves.
    fn keeps(&self, rule: &SecurityGroupRule) -> bool {
        let Some(source) = &rule.source_group_id else {
            return false;
        };
        self.kept
            .range((source.as_str(), 0)..=(source.as_str(), u16::MAX))
            .any(|((source, port), kept_in)| {
                rule.allows(source, *port)
                    && match kept_in {
                        KeptIn::Any => true,
                        KeptIn::Groups(groups) => groups.contains(rule.group_id.as_str()),
                    }
            })
    }
    /// The needed accesses of one group: a range of the map, which is ordered by group.
    fn needed_in<'d>(
        &'d self,
        group: &'d str,
    ) -> impl Iterator<Item = (&'d Access<'d>, &'d Vec<&'d str>)> {
        let needed: &'d BTreeMap<Access<'d>, Vec<&'d str>> = &self.needed;
        let from = Access {
            group,
            source: "",
            port: 0,
        };
        needed
            .range(from..)
            .take_while(move |(a, _)| a.group == group)
    }
}

/// A target group that is routed once this pass's changes are applied. Borrowed, with no
/// list of its own: a pass has one per owned group.
struct Routed<'c, 'f> {
    service_arn: &'c str,
    target_type: &'c str,
    /// The traffic port and a numbered health-check port other than it.
    ports: [Option<u16>; 2],
    /// The ALBs AWS lists for it (none for a group this pass creates).
    listed: &'c [SharedStr],
    /// The ALBs whose rules this pass creates or rewrites to forward to it.
    forwarded: Option<&'f BTreeSet<&'c str>>,
}

impl<'c> Routed<'c, '_> {
    /// The ALBs that route to it once the changes are applied. One may be named twice:
    /// what is read off them does not count repeats (`Demand::keep` may be told twice, and
    /// `needed` lists each service once).
    fn load_balancers(&self) -> impl Iterator<Item = &'c str> + '_ {
        self.listed
            .iter()
            .map(SharedStr::as_str)
            .chain(self.forwarded.into_iter().flatten().copied())
    }

    fn ports(&self) -> impl Iterator<Item = u16> + '_ {
        self.ports.iter().flatten().copied()
    }
}

/// Adds the backend rules the plan's routed target groups need, and revokes ours that
/// nothing needs; fills each service's resources.
pub(super) fn plan_backend_rules(
    config: &PlanConfig,
    observed: &Snapshot,
    owned: &Owned<'_>,
    intents: &[(Arc<EcsService>, ServiceIntent)],
    out: &mut Plan,
) {
    let rules = match &observed.backend_rules {
        BackendRulesRead::Off => return,
        BackendRulesRead::Failed(why) => {
            out.problems.push(format!(
                "security-group rules could not be read ({why}): backend rules are neither added nor revoked this pass"
            ));
            return;
        }
        BackendRulesRead::Read(rules) => rules,
    };
    let owner = config.ownership.owner_id();
    let ours = |r: &&SecurityGroupRule| {
        config.ownership.owns(&r.tags) && resource_of(&r.tags) == Some(SECURITY_GROUP_RULE_RESOURCE)
    };
    out.managed.insert(
        ResourceKind::SecurityGroupRule,
        rules.iter().filter(ours).count(),
    );
    let demand = demand(observed, owned, intents, &out.changes);
    // By group and by ARN: lookups per access and per rule stay linear in the estate.
    let mut rules_of: BTreeMap<&str, Vec<&SecurityGroupRule>> = BTreeMap::new();
    for r in rules {
        rules_of.entry(r.group_id.as_str()).or_default().push(r);
    }
    // Hashed: looked up, never iterated (ARNs share a long prefix an ordered map compares).
    let services_by_arn: FxHashMap<&str, &EcsService> = intents
        .iter()
        .map(|(s, _)| (s.arn.as_str(), &**s))
        .collect();
    let mut added = Vec::new();
    for (access, services) in &demand.needed {
        let covered = rules_of
            .get(access.group)
            .is_some_and(|rs| rs.iter().any(|r| r.allows(access.source, access.port)));
        if covered {
            continue;
        }
        let Some(service) = services_by_arn.get(services[0]) else {
            continue;
        };
        added.push(PlannedChange::new(
            service,
            Change::AuthorizeIngress {
                group_id: access.group.to_string(),
                source_group_id: access.source.to_string(),
                port: access.port,
                tags: rule_tags(owner),
            },
            format!(
                "the ALB's group {} must reach port {} of the service's tasks",
                access.source, access.port
            ),
        ));
    }
    let revokes = unneeded(rules.iter().filter(ours), &demand);
    let policy = super::policy::Policy::new(config.policy, observed.complete_but_zones());
    for change in revokes {
        if policy.allows(&change) {
            out.changes.push(change);
        } else {
            out.held_back.push(change);
        }
    }
    out.changes.extend(added);
    list_resources(rules.iter().filter(ours), &demand, out);
}

/// The tags of a rule ecs-ingress creates: its owner, and what it is. Shared by services,
/// so it names none of them.
fn rule_tags(owner: &str) -> Tags {
    Tags::from([
        (OWNER_TAG.to_string(), owner.to_string()),
        (
            RESOURCE_TAG.to_string(),
            SECURITY_GROUP_RULE_RESOURCE.to_string(),
        ),
    ])
}

/// Our rules that no needed or kept access uses: revoked (a deletion, so the policy and a
/// failed read hold it back).
fn unneeded<'r>(
    ours: impl Iterator<Item = &'r SecurityGroupRule>,
    demand: &Demand<'_>,
) -> Vec<PlannedChange> {
    ours.filter(|r| !used(r, demand))
        .map(|r| PlannedChange {
            service_arn: None,
            service: "-".into(),
            change: Change::RevokeIngress {
                group_id: r.group_id.clone(),
                rule_id: r.id.clone(),
                allows: describe(r),
            },
            reason: "no published service behind an ALB needs it any more".into(),
        })
        .collect()
}

fn used(rule: &SecurityGroupRule, demand: &Demand<'_>) -> bool {
    demand
        .needed_in(&rule.group_id)
        .any(|(a, _)| rule.allows(a.source, a.port))
        || demand.keeps(rule)
}

/// `sg-alb → tcp/8080`.
fn describe(rule: &SecurityGroupRule) -> String {
    let source = rule.source_group_id.as_deref().unwrap_or("?");
    if rule.from_port == rule.to_port {
        format!("{source} → {}/{}", rule.protocol, rule.from_port)
    } else {
        format!(
            "{source} → {}/{}-{}",
            rule.protocol, rule.from_port, rule.to_port
        )
    }
}

/// Every service's rules of ours that it needs, as its resources.
fn list_resources<'r>(
    ours: impl Iterator<Item = &'r SecurityGroupRule>,
    demand: &Demand<'_>,
    out: &mut Plan,
) {
    // Hashed: looked up per status, never iterated (an ordered map compared the long
    // shared prefix of two ARNs at every step of a search).
    let mut by_service: FxHashMap<&str, Vec<&str>> = FxHashMap::default();
    for rule in ours {
        for (access, services) in demand.needed_in(&rule.group_id) {
            if rule.allows(access.source, access.port) {
                for s in services {
                    by_service.entry(*s).or_default().push(&rule.id);
                }
            }
        }
    }
    for status in &mut out.services {
        if let Some(ids) = by_service.get_mut(status.service_arn.as_str()) {
            ids.sort_unstable();
            ids.dedup();
            status.resources.extend(ids.iter().map(|id| ResourceRef {
                kind: ResourceKind::SecurityGroupRule,
                id: (*id).into(),
            }));
        }
    }
}

/// What the target groups still routed after this pass ask for.
fn demand<'a>(
    observed: &'a Snapshot,
    owned: &Owned<'a>,
    intents: &'a [(Arc<EcsService>, ServiceIntent)],
    changes: &[PlannedChange],
) -> Demand<'a> {
    let by_arn: FxHashMap<&str, &(Arc<EcsService>, ServiceIntent)> =
        intents.iter().map(|e| (e.0.arn.as_str(), e)).collect();
    let mut demand = Demand::default();
    let forwards = forwarded_from(observed, changes);
    // One buffer for every group's sources, not a vector each.
    let mut sources: Vec<&str> = Vec::new();
    for routed in routed_groups(owned, changes, &forwards) {
        if routed.target_type != TargetType::Ip.as_str() {
            continue;
        }
        sources.clear();
        sources.extend(
            routed
                .load_balancers()
                .filter_map(|lb| observed.load_balancers.get(lb))
                .flat_map(|lb| lb.security_groups.iter().map(String::as_str)),
        );
        match by_arn.get(routed.service_arn) {
            Some((service, ServiceIntent::Publish { intent, .. })) => {
                if service.deploying {
                    // Tasks of the deployment ECS replaces may sit in groups the service
                    // no longer names (its groups changed): whatever of ours lets its ALB
                    // in on its ports stays until the deployment is over.
                    for port in routed.ports() {
                        demand.keep(None, &sources, port);
                    }
                }
                let Some(group) = intent.backend_sg.group(&service.security_groups) else {
                    continue;
                };
                for &source in &sources {
                    for port in routed.ports() {
                        let access = Access {
                            group,
                            source,
                            port,
                        };
                        let services = demand.needed.entry(access).or_default();
                        if !services.contains(&service.arn.as_str()) {
                            services.push(service.arn.as_str());
                        }
                    }
                }
            }
            // Kept as it is: whatever of ours lets its ALB in stays.
            Some((service, _)) => {
                for port in routed.ports() {
                    demand.keep(Some(&service.security_groups), &sources, port);
                }
            }
            None => {
                for port in routed.ports() {
                    demand.keep(None, &sources, port);
                }
            }
        }
    }
    demand
}

/// The owned target groups that are not deleted and the ones created in this pass, each
/// with the ALBs that route to it once the changes are applied (the ALBs AWS lists for it,
/// plus those of the rules this pass creates or rewrites to forward to it).
fn routed_groups<'c, 'f>(
    owned: &Owned<'c>,
    changes: &'c [PlannedChange],
    forwards: &'f BTreeMap<&'c str, BTreeSet<&'c str>>,
) -> Vec<Routed<'c, 'f>> {
    let deleted: BTreeSet<&str> = changes
        .iter()
        .filter_map(|c| match &c.change {
            Change::DeleteTargetGroup { arn, .. } => Some(arn.as_str()),
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    for &(service_arn, group) in &owned.group_list {
        if deleted.contains(group.arn.as_str()) {
            continue;
        }
        out.push(Routed {
            service_arn,
            target_type: &group.target_type,
            ports: ports(group.port, &group.health_check.port),
            listed: &group.load_balancer_arns,
            forwarded: forwards.get(group.arn.as_str()),
        });
    }
    for c in changes {
        if let Change::CreateTargetGroup { spec, .. } = &c.change
            && let Some(service_arn) = service_of(&spec.tags)
        {
            out.push(Routed {
                service_arn,
                target_type: spec.target_type.as_str(),
                ports: ports(spec.port, &spec.health_check.port),
                listed: &[],
                forwarded: forwards.get(spec.name.as_str()),
            });
        }
    }
    out
}

/// The traffic port and a numbered health-check port other than it.
fn ports(port: i32, health_check_port: &str) -> [Option<u16>; 2] {
    let traffic = u16::try_from(port).ok();
    let health = health_check_port
        .parse::<u16>()
        .ok()
        .filter(|hc| traffic != Some(*hc));
    [traffic, health]
}

/// ALBs whose rules this pass creates or rewrites to forward to a group, by the group's ARN
/// (existing) or name (created in this pass).
fn forwarded_from<'a>(
    observed: &'a Snapshot,
    changes: &'a [PlannedChange],
) -> BTreeMap<&'a str, BTreeSet<&'a str>> {
    let listener_of_rule = observed.rule_listeners();
    let alb_of = |listener: &str| {
        observed
            .listeners
            .get(listener)
            .map(|l| l.load_balancer_arn.as_str())
    };
    let key = |g: &'a TargetGroupRef| match g {
        TargetGroupRef::Existing(arn) => arn.as_str(),
        TargetGroupRef::New(name) => name.as_str(),
    };
    let mut out: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for c in changes {
        let (listener, groups): (Option<&str>, Vec<&TargetGroupRef>) = match &c.change {
            Change::CreateRule {
                listener_arn,
                target,
                staged,
                ..
            } => (
                Some(listener_arn.as_str()),
                std::iter::once(target).chain(staged).collect(),
            ),
            Change::ModifyRule {
                arn,
                target,
                staged,
                ..
            } => (
                listener_of_rule.get(arn),
                std::iter::once(target).chain(staged).collect(),
            ),
            Change::ModifyRuleWeights { rule, weights, .. } => (
                match rule {
                    super::RuleRef::Existing(arn) => listener_of_rule.get(arn),
                    super::RuleRef::New(_) => None,
                },
                weights.iter().map(|(g, _)| g).collect(),
            ),
            _ => (None, Vec::new()),
        };
        if let Some(lb) = listener.and_then(alb_of) {
            for g in groups {
                out.entry(key(g)).or_default().insert(lb);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
