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

use super::change::{Change, PlannedChange, TargetGroupRef};
use super::{Plan, PlanConfig};
use crate::model::ServiceIntent;
use crate::ownership::{OWNER_TAG, RESOURCE_TAG, resource_of, service_of};
use crate::snapshot::{BackendRulesRead, Snapshot};
use crate::state::{EcsService, SecurityGroupRule, Tags, TargetType};
use crate::status::{ResourceKind, ResourceRef};

/// The `ecs-ingress/resource` tag value of a backend rule.
pub const SECURITY_GROUP_RULE_RESOURCE: &str = "security-group-rule";

/// One rule's worth of access: `source` may reach tcp `port` of `group`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Access {
    group: String,
    source: String,
    port: u16,
}

/// What the routed target groups ask of the security groups.
#[derive(Default)]
struct Demand {
    /// Access a published service needs, with the services that need it (oldest first).
    needed: BTreeMap<Access, Vec<String>>,
    /// Ports of services kept as they are (invalid tags, gone from ECS) or that ECS is
    /// deploying: any rule of ours that lets one of these sources reach the port, in one of
    /// these groups (`None`: any group), stays.
    /// By (source, port): a lookup per rule, not a scan (every service ECS deploys adds
    /// entries, and a cold start deploys them all).
    kept: BTreeMap<(String, u16), KeptIn>,
}

/// The groups in which a kept access's rules stay.
enum KeptIn {
    Any,
    Groups(BTreeSet<String>),
}

impl Demand {
    /// Keeps whatever of ours lets `sources` reach `port` in `groups` (`None`: any group).
    fn keep(&mut self, groups: Option<&[String]>, sources: &[String], port: u16) {
        for source in sources {
            let entry = self
                .kept
                .entry((source.clone(), port))
                .or_insert_with(|| KeptIn::Groups(BTreeSet::new()));
            match (entry, groups) {
                (entry, None) => *entry = KeptIn::Any,
                (KeptIn::Groups(kept), Some(groups)) => kept.extend(groups.iter().cloned()),
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
            .range((source.clone(), 0)..=(source.clone(), u16::MAX))
            .any(|((source, port), kept_in)| {
                rule.allows(source, *port)
                    && match kept_in {
                        KeptIn::Any => true,
                        KeptIn::Groups(groups) => groups.contains(&rule.group_id),
                    }
            })
    }
    /// The needed accesses of one group: a range of the map, which is ordered by group.
    fn needed_in<'d>(&'d self, group: &str) -> impl Iterator<Item = (&'d Access, &'d Vec<String>)> {
        let from = Access {
            group: group.to_string(),
            source: String::new(),
            port: 0,
        };
        let group = from.group.clone();
        self.needed
            .range(from..)
            .take_while(move |(a, _)| a.group == group)
    }
}

/// A target group that is routed once this pass's changes are applied.
struct Routed<'a> {
    service_arn: &'a str,
    target_type: &'a str,
    ports: Vec<u16>,
    load_balancers: BTreeSet<&'a str>,
}

/// Adds the backend rules the plan's routed target groups need, and revokes ours that
/// nothing needs; fills each service's resources.
pub(super) fn plan_backend_rules(
    config: &PlanConfig,
    observed: &Snapshot,
    intents: &[(EcsService, ServiceIntent)],
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
    let demand = demand(config, observed, intents, &out.changes);
    // By group and by ARN: lookups per access and per rule stay linear in the estate.
    let mut rules_of: BTreeMap<&str, Vec<&SecurityGroupRule>> = BTreeMap::new();
    for r in rules {
        rules_of.entry(r.group_id.as_str()).or_default().push(r);
    }
    let services_by_arn: BTreeMap<&str, &EcsService> =
        intents.iter().map(|(s, _)| (s.arn.as_str(), s)).collect();
    let mut added = Vec::new();
    for (access, services) in &demand.needed {
        let covered = rules_of
            .get(access.group.as_str())
            .is_some_and(|rs| rs.iter().any(|r| r.allows(&access.source, access.port)));
        if covered {
            continue;
        }
        let Some(service) = services_by_arn.get(services[0].as_str()) else {
            continue;
        };
        added.push(PlannedChange::new(
            service,
            Change::AuthorizeIngress {
                group_id: access.group.clone(),
                source_group_id: access.source.clone(),
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
    demand: &Demand,
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

fn used(rule: &SecurityGroupRule, demand: &Demand) -> bool {
    demand
        .needed_in(&rule.group_id)
        .any(|(a, _)| rule.allows(&a.source, a.port))
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
    demand: &Demand,
    out: &mut Plan,
) {
    let mut by_service: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for rule in ours {
        for (access, services) in demand.needed_in(&rule.group_id) {
            if rule.allows(&access.source, access.port) {
                for s in services {
                    by_service.entry(s).or_default().push(&rule.id);
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
                id: (*id).to_string(),
            }));
        }
    }
}

/// What the target groups still routed after this pass ask for.
fn demand(
    config: &PlanConfig,
    observed: &Snapshot,
    intents: &[(EcsService, ServiceIntent)],
    changes: &[PlannedChange],
) -> Demand {
    let by_arn: BTreeMap<&str, &(EcsService, ServiceIntent)> =
        intents.iter().map(|e| (e.0.arn.as_str(), e)).collect();
    let mut demand = Demand::default();
    for routed in routed_groups(config, observed, changes) {
        if routed.target_type != TargetType::Ip.as_str() {
            continue;
        }
        let sources: Vec<String> = routed
            .load_balancers
            .iter()
            .filter_map(|lb| observed.load_balancers.get(*lb))
            .flat_map(|lb| lb.security_groups.iter().cloned())
            .collect();
        match by_arn.get(routed.service_arn) {
            Some((service, ServiceIntent::Publish { intent, .. })) => {
                if service.deploying {
                    // Tasks of the deployment ECS replaces may sit in groups the service
                    // no longer names (its groups changed): whatever of ours lets its ALB
                    // in on its ports stays until the deployment is over.
                    for &port in &routed.ports {
                        demand.keep(None, &sources, port);
                    }
                }
                let Some(group) = intent.backend_sg.group(&service.security_groups) else {
                    continue;
                };
                for source in &sources {
                    for &port in &routed.ports {
                        let access = Access {
                            group: group.to_string(),
                            source: source.clone(),
                            port,
                        };
                        let services = demand.needed.entry(access).or_default();
                        if !services.iter().any(|s| s == &service.arn) {
                            services.push(service.arn.clone());
                        }
                    }
                }
            }
            // Kept as it is: whatever of ours lets its ALB in stays.
            Some((service, _)) => {
                for &port in &routed.ports {
                    demand.keep(Some(&service.security_groups), &sources, port);
                }
            }
            None => {
                for &port in &routed.ports {
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
fn routed_groups<'a>(
    config: &PlanConfig,
    observed: &'a Snapshot,
    changes: &'a [PlannedChange],
) -> Vec<Routed<'a>> {
    let deleted: BTreeSet<&str> = changes
        .iter()
        .filter_map(|c| match &c.change {
            Change::DeleteTargetGroup { arn, .. } => Some(arn.as_str()),
            _ => None,
        })
        .collect();
    let forwards = forwarded_from(observed, changes);
    let mut out = Vec::new();
    for group in &observed.target_groups {
        if deleted.contains(group.arn.as_str()) || !config.ownership.owns(&group.tags) {
            continue;
        }
        let Some(service_arn) = service_of(&group.tags) else {
            continue;
        };
        let mut load_balancers: BTreeSet<&str> = group
            .load_balancer_arns
            .iter()
            .map(String::as_str)
            .collect();
        load_balancers.extend(forwards.get(group.arn.as_str()).into_iter().flatten());
        out.push(Routed {
            service_arn,
            target_type: &group.target_type,
            ports: ports(group.port, &group.health_check.port),
            load_balancers,
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
                load_balancers: forwards
                    .get(spec.name.as_str())
                    .cloned()
                    .unwrap_or_default(),
            });
        }
    }
    out
}

/// The traffic port and a numbered health-check port other than it.
fn ports(port: i32, health_check_port: &str) -> Vec<u16> {
    let mut ports: Vec<u16> = u16::try_from(port).ok().into_iter().collect();
    if let Ok(hc) = health_check_port.parse::<u16>()
        && !ports.contains(&hc)
    {
        ports.push(hc);
    }
    ports
}

/// ALBs whose rules this pass creates or rewrites to forward to a group, by the group's ARN
/// (existing) or name (created in this pass).
fn forwarded_from<'a>(
    observed: &'a Snapshot,
    changes: &'a [PlannedChange],
) -> BTreeMap<&'a str, BTreeSet<&'a str>> {
    let listener_of_rule: BTreeMap<&str, &str> = observed
        .rules
        .iter()
        .map(|r| (r.arn.as_str(), r.listener_arn.as_str()))
        .collect();
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
                listener_of_rule.get(arn.as_str()).copied(),
                std::iter::once(target).chain(staged).collect(),
            ),
            Change::ModifyRuleWeights { rule, weights, .. } => (
                match rule {
                    super::RuleRef::Existing(arn) => listener_of_rule.get(arn.as_str()).copied(),
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
