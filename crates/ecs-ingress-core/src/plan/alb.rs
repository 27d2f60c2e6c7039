//! The ALB side of one winner: its target group (created, repaired, or replaced beside the
//! serving one until the new group has healthy targets), its rules, its service's
//! `loadBalancers` and, in `direct` mode, its registered targets.

use std::borrow::Cow;
use std::collections::BTreeSet;

use super::PlanConfig;
use super::change::{self, AttachmentEntry, Change, PlannedChange, RuleRef, TargetGroupRef};
use super::desired::{DesiredService, non_default_attributes};
use super::owned::Owned;
use super::placement::{Placed, existing_rule};
use crate::model::TargetsMode;
use crate::ownership;
use crate::shared_str::SharedStr;
use crate::snapshot::Snapshot;
use crate::state::{
    EcsService, HealthCheck, LoadBalancerAttachment, Rule, Target, TargetGroup, TargetHealthState,
};

/// What planning one winner found besides its changes.
#[derive(Debug, Default)]
pub struct WinnerOutcome {
    /// The group its rules forward to once this pass is applied (`None`: created this pass).
    pub serving: Option<String>,
    /// Target groups whose health decides the next step and was not read this pass.
    pub health_wanted: Vec<String>,
    /// Why it is not fully published yet.
    pub waiting: Option<String>,
}

/// True when the read health of `arn` shows a healthy target.
pub fn has_healthy_targets(observed: &Snapshot, arn: &str) -> Option<bool> {
    observed.has_healthy_targets(arn)
}

/// Whether the group the service's rules want can serve: a new one cannot yet.
fn group_ready(observed: &Snapshot, target: &TargetGroupRef) -> Option<bool> {
    match target {
        _ if crate::sabotage::is_on(crate::sabotage::Sabotage::HealthWait) => Some(true),
        TargetGroupRef::Existing(arn) => has_healthy_targets(observed, arn),
        TargetGroupRef::New(_) => Some(false),
    }
}

pub fn service_changes(
    config: &PlanConfig,
    observed: &Snapshot,
    owned: &Owned<'_>,
    desired: &DesiredService<'_>,
    placed: &Placed,
    index: usize,
    changes: &mut Vec<PlannedChange>,
) -> WinnerOutcome {
    let service = desired.service;
    let spec = &desired.target_group;
    let mut outcome = WinnerOutcome::default();
    let my_groups = owned.groups_of(&service.arn);
    let created = Creation::of(config, observed);
    let target = target_group_changes(&created, service, spec, my_groups, changes);
    let new_ready = group_ready(observed, &target);
    // A move leaves the old ALB only once its names drained and the new group serves.
    let left = desired
        .previous
        .as_ref()
        .is_none_or(|p| p.drained && new_ready == Some(true));
    let (my_rules, leaving_groups) =
        split_move(desired, left, owned.rules_of(&service.arn), my_groups);
    let my_rules: &[&Rule] = &my_rules;

    // A replacement (see `replacement_waits`): traffic stays on the serving group.
    let replacing = serving_other(desired, my_rules, my_groups).filter(|_| new_ready != Some(true));
    if let Some(old) = replacing {
        replacement_waits(
            observed,
            my_groups,
            spec,
            old,
            &target,
            new_ready,
            &mut outcome,
        );
    }
    let serving_old_ref;
    let forward = match replacing {
        Some(old) => {
            serving_old_ref = TargetGroupRef::Existing(old.arn.to_string());
            &serving_old_ref
        }
        None => &target,
    };
    let staged = replacing.map(|_| target.clone());
    if outcome.waiting.is_none() && !left {
        move_progress(desired, &target, new_ready, &mut outcome);
    }
    outcome.serving = existing_arn(forward);
    let weighted = super::weighted::forward(observed, owned, desired, forward);
    outcome.health_wanted.extend(weighted.health_wanted);
    let targets = RuleTargets {
        forward,
        staged: &staged,
        weights: weighted.groups.filter(|_| !weighted.hold),
        hold: weighted.hold,
    };
    rule_changes(
        config, owned, desired, placed, index, my_rules, targets, changes,
    );
    let kept_attached: Vec<&TargetGroup> = replacing
        .into_iter()
        .chain(leaving_groups.iter().copied())
        .collect();
    let member = super::weighted::member_state(observed, desired, &target);
    if member.attach {
        attachment_changes(observed, owned, desired, &target, &kept_attached, changes);
    }
    member.fold_into(&mut outcome.health_wanted, &mut outcome.waiting);
    if desired.intent.targets == TargetsMode::Direct {
        direct_changes(observed, desired, &target, changes);
    }

    delete_old_groups(service, spec, my_groups, &kept_attached, changes);
    outcome
}

/// The group of the service's rules here that is not the one it should have: the one a
/// replacement keeps serving until the new group can.
fn serving_other<'g>(
    desired: &DesiredService<'_>,
    my_rules: &[&Rule],
    my_groups: &[&'g TargetGroup],
) -> Option<&'g TargetGroup> {
    my_rules
        .iter()
        .filter(|r| desired.previous.is_none() || r.listener_arn == desired.listener_arn)
        .flat_map(|r| &r.forward_target_groups)
        .filter_map(|arn| my_groups.iter().find(|g| g.arn == *arn))
        .find(|g| g.name != desired.target_group.name)
        .copied()
}

/// The ARN of a group that exists already.
fn existing_arn(group: &TargetGroupRef) -> Option<String> {
    match group {
        TargetGroupRef::Existing(arn) => Some(arn.clone()),
        TargetGroupRef::New(_) => None,
    }
}

/// What a replacement (an immutable setting changed) waits for: the new group's healthy
/// targets (read if unknown). Until then traffic stays on the group the rules forward to
/// now, and the new group is staged at weight 0 in the rules (so ECS accepts it) and
/// attached beside the old one.
fn replacement_waits(
    observed: &Snapshot,
    my_groups: &[&TargetGroup],
    spec: &crate::state::TargetGroupSpec,
    old: &TargetGroup,
    target: &TargetGroupRef,
    new_ready: Option<bool>,
    outcome: &mut WinnerOutcome,
) {
    outcome.waiting = Some(match target {
        TargetGroupRef::Existing(arn) => {
            if new_ready.is_none() {
                outcome.health_wanted.push(arn.clone());
            }
            format!(
                "replacing target group {} with {}: waiting for healthy targets in the new group{}; traffic stays on the old one",
                old.name,
                spec.name,
                created_ago(observed, my_groups, arn)
            )
        }
        TargetGroupRef::New(_) => format!(
            "replacing target group {} with {}: the new group is created this pass; traffic stays on the old one",
            old.name, spec.name
        ),
    });
}

/// Old target groups of this service (replaced, on an ALB it left, or from another VPC):
/// after everything, except those still serving while their successor gets ready.
fn delete_old_groups(
    service: &EcsService,
    spec: &crate::state::TargetGroupSpec,
    my_groups: &[&TargetGroup],
    kept: &[&TargetGroup],
    changes: &mut Vec<PlannedChange>,
) {
    for g in my_groups
        .iter()
        .filter(|g| g.name != spec.name)
        .filter(|g| !kept.iter().any(|k| k.arn == g.arn))
    {
        changes.push(PlannedChange::new(
            service,
            Change::DeleteTargetGroup {
                arn: g.arn.to_string(),
                name: g.name.clone(),
            },
            "replaced",
        ));
    }
}

/// What a move between ALBs waits for: healthy targets in the new group (read if unknown),
/// then resolvers' cached answers for the old ALB to expire.
fn move_progress(
    desired: &DesiredService<'_>,
    target: &TargetGroupRef,
    new_ready: Option<bool>,
    outcome: &mut WinnerOutcome,
) {
    let Some(p) = desired.previous.as_ref() else {
        return;
    };
    if let (None, TargetGroupRef::Existing(arn)) = (new_ready, target) {
        outcome.health_wanted.push(arn.clone());
    }
    let (from, to) = (
        change::short_arn(&p.load_balancer_arn),
        change::short_arn(desired.load_balancer_arn),
    );
    let why = if p.departed {
        " (its listener is no longer given with --listener)"
    } else {
        ""
    };
    outcome.waiting = Some(if p.held_for_others {
        format!(
            "moving from load balancer {from}{why} to {to}: clients reach it there through a name held for other services (see its problems); traffic stays on the old one until that name can move"
        )
    } else if new_ready == Some(true) {
        format!(
            "moving from load balancer {from}{why} to {to}: its names move to the new one, the old one keeps serving until cached answers expire"
        )
    } else {
        format!(
            "moving from load balancer {from}{why} to {to}: waiting for healthy targets in the new group; traffic stays on the old one"
        )
    });
}

/// A move keeps the rules and group on the ALB it leaves until it `left` (its names drained
/// and the new group serves): the rules this pass plans, and the groups it leaves attached.
fn split_move<'s, 'r, 'g>(
    desired: &DesiredService<'_>,
    left: bool,
    rules: &'s [&'r Rule],
    groups: &[&'g TargetGroup],
) -> (Cow<'s, [&'r Rule]>, Vec<&'g TargetGroup>) {
    // Every ALB it leaves (a move re-placed before it drained leaves two) keeps serving.
    // A service that does not move (almost every one) plans all its rules, not a copy.
    let (leaving, planned): (Vec<&Rule>, Cow<'s, [&'r Rule]>) = match &desired.previous {
        Some(_) if !left => {
            let (leaving, planned): (Vec<&Rule>, Vec<&Rule>) = rules
                .iter()
                .copied()
                .partition(|r| r.listener_arn != desired.listener_arn);
            (leaving, Cow::Owned(planned))
        }
        _ => (Vec::new(), Cow::Borrowed(rules)),
    };
    let kept = groups
        .iter()
        .filter(|g| {
            leaving
                .iter()
                .any(|r| r.forward_target_groups.contains(&g.arn))
        })
        .copied()
        .collect();
    (planned, kept)
}

/// ", for 3m" from the group's creation tag, when it has one.
fn created_ago(observed: &Snapshot, groups: &[&TargetGroup], arn: &str) -> String {
    let created = groups
        .iter()
        .find(|g| g.arn == arn)
        .and_then(|g| g.tags.get(ownership::CREATED_TAG))
        .and_then(|t| t.parse::<i64>().ok());
    match created {
        Some(c) if observed.read_at > c => {
            let secs = u64::try_from(observed.read_at - c).unwrap_or_default();
            format!(
                " for {}",
                humantime::format_duration(std::time::Duration::from_secs(secs))
            )
        }
        _ => String::new(),
    }
}

/// What a group created this pass is tagged with: its owner, and the pass's time.
pub(super) struct Creation<'c> {
    pub ownership: &'c crate::ownership::Ownership,
    pub now: i64,
}

impl<'c> Creation<'c> {
    /// This controller's, at the time the pass read AWS.
    pub fn of(config: &'c PlanConfig, observed: &Snapshot) -> Self {
        Self {
            ownership: &config.ownership,
            now: observed.read_at,
        }
    }
}

/// Creates the desired group, or repairs the mutable settings of the existing one.
pub(super) fn target_group_changes(
    created: &Creation<'_>,
    service: &EcsService,
    spec: &crate::state::TargetGroupSpec,
    my_groups: &[&TargetGroup],
    changes: &mut Vec<PlannedChange>,
) -> TargetGroupRef {
    // Reuse by name (the name encodes every immutable field).
    let Some(g) = my_groups.iter().find(|g| g.name == spec.name) else {
        changes.push(PlannedChange::new(
            service,
            Change::CreateTargetGroup {
                spec: crate::state::TargetGroupSpec {
                    tags: super::desired::creation_tags(
                        created.ownership,
                        &service.arn,
                        created.now,
                    ),
                    ..spec.clone()
                },
                extra_attributes: non_default_attributes(&spec.attributes),
            },
            if my_groups.is_empty() {
                "new service".to_string()
            } else {
                "an immutable setting changed: replacement".to_string()
            },
        ));
        return TargetGroupRef::New(spec.name.clone());
    };
    if g.health_check != *spec.health_check {
        changes.push(PlannedChange::new(
            service,
            Change::ModifyHealthCheck {
                arn: g.arn.to_string(),
                name: g.name.clone(),
                health_check: HealthCheck::clone(&spec.health_check),
            },
            format!(
                "health check differs: {}",
                change::describe_health_check_drift(&g.health_check, &spec.health_check)
            ),
        ));
    }
    // Most groups have every attribute as wanted: one walk of both maps says so.
    if !g.attributes.contains_all(&spec.attributes) {
        let drift: Vec<String> = spec
            .attributes
            .iter()
            .filter(|(k, v)| g.attributes.get(k) != Some(*v))
            .map(|(k, v)| format!("{k} {} → {v}", g.attributes.get(k).unwrap_or("unset")))
            .collect();
        changes.push(PlannedChange::new(
            service,
            Change::ModifyAttributes {
                arn: g.arn.to_string(),
                name: g.name.clone(),
                attributes: spec.attributes.clone(),
            },
            format!("attributes differ: {}", drift.join(", ")),
        ));
    }
    TargetGroupRef::Existing(g.arn.to_string())
}

/// What a service's rules forward to: its serving group, a replacement staged at weight 0,
/// or (`alb.weight`, its rule shared with other services) groups and weights.
struct RuleTargets<'a> {
    forward: &'a TargetGroupRef,
    staged: &'a Option<TargetGroupRef>,
    weights: Option<Vec<(TargetGroupRef, u32)>>,
    /// A shared rule whose weights stay as they are this pass (a failed read).
    hold: bool,
}

#[allow(clippy::too_many_arguments)]
fn rule_changes(
    config: &PlanConfig,
    owned: &Owned<'_>,
    desired: &DesiredService<'_>,
    placed: &Placed,
    index: usize,
    my_rules: &[&Rule],
    targets: RuleTargets<'_>,
    changes: &mut Vec<PlannedChange>,
) {
    let RuleTargets {
        forward,
        staged,
        weights,
        hold,
    } = targets;
    let service = desired.service;
    let mut wanted_rules = BTreeSet::new();
    for (j, rule) in desired.rules.iter().enumerate() {
        let Some(priority) = placed.priorities.get(index, j) else {
            continue; // The listener's band is full: reported as a pass problem.
        };
        let existing = existing_rule(owned, desired, &rule.key);
        if hold {
            wanted_rules.extend(existing.map(|e| e.arn.as_str()));
            continue;
        }
        if let Some(w) = weights.clone() {
            wanted_rules.extend(existing.map(|e| e.arn.as_str()));
            // Made as a plain forward first, then given its weights: to a group that takes
            // requests, so that the moment between the two sends none to an empty group.
            let first = w
                .iter()
                .find(|(_, weight)| *weight > 0)
                .map_or(forward, |(g, _)| g);
            let rule_ref = existing.map_or_else(
                || {
                    changes.push(create_rule(config, desired, priority, rule, first));
                    RuleRef::New(rule.key.to_string())
                },
                |e| RuleRef::Existing(e.arn.to_string()),
            );
            changes.extend(super::weighted::weights_change(
                desired, rule_ref, existing, w,
            ));
            continue;
        }
        match existing {
            Some(existing) => {
                wanted_rules.insert(existing.arn.as_str());
                changes.extend(repair_rule(desired, existing, rule, forward, staged));
            }
            None => changes.push(create_rule(config, desired, priority, rule, forward)),
        }
    }
    for rule in my_rules
        .iter()
        .filter(|r| !wanted_rules.contains(r.arn.as_str()))
    {
        changes.push(PlannedChange::new(
            service,
            Change::DeleteRule {
                arn: rule.arn.to_string(),
            },
            "rule no longer wanted",
        ));
    }
}

/// An existing rule's conditions and action set back to what is wanted, if they differ.
fn repair_rule(
    desired: &DesiredService<'_>,
    existing: &Rule,
    rule: &super::desired::DesiredRule<'_>,
    forward: &TargetGroupRef,
    staged: &Option<TargetGroupRef>,
) -> Option<PlannedChange> {
    let is = |r: &TargetGroupRef, arns: &[SharedStr]| match r {
        TargetGroupRef::Existing(a) => arns.len() == 1 && arns[0] == *a,
        TargetGroupRef::New(_) => false,
    };
    let staged_differs = match staged {
        Some(s) => !is(s, &existing.staged_target_groups),
        None => !existing.staged_target_groups.is_empty(),
    };
    let same = existing.hosts[..] == rule.hosts[..]
        && existing.paths[..] == rule.paths[..]
        && is(forward, &existing.forward_target_groups)
        && !staged_differs
        && existing.other_conditions == 0
        && existing.other_actions == 0;
    (!same).then(|| {
        PlannedChange::new(
            desired.service,
            Change::ModifyRule {
                arn: existing.arn.to_string(),
                hosts: rule.hosts.to_vec(),
                paths: rule.paths.to_vec(),
                target: forward.clone(),
                staged: staged.clone(),
            },
            if staged.is_some() {
                "stage the replacement target group beside the serving one"
            } else {
                "rule conditions or action differ"
            },
        )
    })
}

/// A new rule forwarding to `target`.
fn create_rule(
    config: &PlanConfig,
    desired: &DesiredService<'_>,
    priority: u32,
    rule: &super::desired::DesiredRule<'_>,
    target: &TargetGroupRef,
) -> PlannedChange {
    let service = desired.service;
    PlannedChange::new(
        service,
        Change::CreateRule {
            listener_arn: desired.listener_arn.to_string(),
            priority,
            hosts: rule.hosts.to_vec(),
            paths: rule.paths.to_vec(),
            target: target.clone(),
            staged: None,
            tags: config.ownership.tags(&service.arn, &rule.key),
        },
        "new rule",
    )
}

/// The service's `loadBalancers`: entries of others kept (unless their target group no
/// longer exists: ECS would refuse the whole update), ours for the serving group and, while
/// a replacement gets healthy, for the new one beside it.
fn attachment_changes(
    observed: &Snapshot,
    owned: &Owned<'_>,
    desired: &DesiredService<'_>,
    target: &TargetGroupRef,
    kept: &[&TargetGroup],
    changes: &mut Vec<PlannedChange>,
) {
    let service = desired.service;
    let exists = |arn: &str| !owned.group_gone(arn);
    // After a failed read no entry of ours is dropped either: the rules that still forward
    // to it may be the ones that could not be read.
    let partial = !observed.complete();
    let foreign: Vec<LoadBalancerAttachment> = service
        .load_balancers
        .iter()
        .filter(|lb| match lb.target_group_arn.as_deref() {
            Some(a) if partial => {
                !matches!(target, TargetGroupRef::Existing(t) if t == a)
                    && !kept.iter().any(|k| k.arn == a)
                    && exists(a)
            }
            Some(a) => !owned.group_arns.contains(a) && exists(a),
            None => true,
        })
        .cloned()
        .collect();
    let ecs = desired.intent.targets == TargetsMode::Ecs;
    let (deployment, rolling) = rolling_deployment(desired);
    let old_entries: Vec<LoadBalancerAttachment> = kept
        .iter()
        .filter_map(|old| {
            service
                .load_balancers
                .iter()
                .find(|lb| lb.target_group_arn.as_deref() == Some(old.arn.as_str()))
        })
        .cloned()
        .map(rolling)
        .collect();
    let current_matches = match target {
        TargetGroupRef::New(_) => !ecs && foreign.len() == service.load_balancers.len(),
        TargetGroupRef::Existing(arn) => {
            let ours = ecs.then(|| OurEntry {
                target_group_arn: arn,
                container: &desired.intent.container,
                port: i32::from(desired.intent.container_port),
            });
            entries_match(&service.load_balancers, &foreign, &old_entries, ours)
        }
    };
    if !current_matches || deployment.is_some() {
        // Built only when written: almost every pass finds the entries as they should be.
        let mut wanted: Vec<AttachmentEntry> =
            foreign.into_iter().map(AttachmentEntry::Keep).collect();
        if ecs {
            wanted.extend(old_entries.into_iter().map(AttachmentEntry::Keep));
            wanted.push(AttachmentEntry::Ours {
                target: target.clone(),
                container: desired.intent.container.clone(),
                port: i32::from(desired.intent.container_port),
                shift: None,
            });
        }
        changes.push(attachment_change(service, wanted, target, ecs, deployment));
    }
}

/// The entry of ours a service should have for an existing group.
struct OurEntry<'e> {
    target_group_arn: &'e str,
    container: &'e str,
    port: i32,
}

impl OurEntry<'_> {
    fn is(&self, entry: &LoadBalancerAttachment) -> bool {
        entry.target_group_arn.as_deref() == Some(self.target_group_arn)
            && entry.load_balancer_name.is_none()
            && entry.container_name.as_deref() == Some(self.container)
            && entry.container_port == Some(self.port)
            && entry.advanced.is_none()
    }

    fn entry(&self) -> LoadBalancerAttachment {
        LoadBalancerAttachment {
            target_group_arn: Some(self.target_group_arn.to_string()),
            load_balancer_name: None,
            container_name: Some(self.container.to_string()),
            container_port: Some(self.port),
            advanced: None,
        }
    }
}

/// Whether the service's entries (`have`) are, in any order, the others' entries kept, the
/// old entries kept and ours (if ECS registers its tasks).
fn entries_match(
    have: &[LoadBalancerAttachment],
    foreign: &[LoadBalancerAttachment],
    old_entries: &[LoadBalancerAttachment],
    ours: Option<OurEntry<'_>>,
) -> bool {
    // The usual case, compared without copying: nothing but (at most) our one entry.
    if foreign.is_empty() && old_entries.is_empty() {
        return match ours {
            Some(ours) => matches!(have, [only] if ours.is(only)),
            None => have.is_empty(),
        };
    }
    let mut want: Vec<LoadBalancerAttachment> = foreign.to_vec();
    if let Some(ours) = ours {
        want.extend(old_entries.iter().cloned());
        want.push(ours.entry());
    }
    let mut have = have.to_vec();
    want.sort();
    have.sort();
    want == have
}

/// With `alb.deploy` (here always `rolling`): the strategy to write if ECS has another, and
/// what becomes of the entries kept: on a service ECS deployed blue/green they lose ECS's
/// `advancedConfiguration` in the call that sets the strategy back.
fn rolling_deployment(
    desired: &DesiredService<'_>,
) -> (
    Option<crate::state::DeploymentSettings>,
    impl Fn(LoadBalancerAttachment) -> LoadBalancerAttachment,
) {
    // A service whose blue/green set-up waits for a replacement or a move to finish keeps
    // its strategy until `shifted` writes it with the entry ECS needs beside it.
    let rolling_tag = desired
        .intent
        .deploy
        .as_deref()
        .filter(|d| !d.strategy.shifts_traffic());
    let tagged = rolling_tag.is_some();
    let deployment = rolling_tag
        .filter(|d| !d.drift_from(&desired.service.deployment).is_empty())
        .cloned();
    let rolling = move |mut lb: LoadBalancerAttachment| {
        if tagged {
            lb.advanced = None;
        }
        lb
    };
    (deployment, rolling)
}

/// The UpdateService that sets `wanted`. Only dropping groups of ours (a finished replacement
/// or move) is a removal: it is held back after a failed read, and runs after the rules that
/// used them are gone.
fn attachment_change(
    service: &EcsService,
    wanted: Vec<AttachmentEntry>,
    target: &TargetGroupRef,
    ecs: bool,
    deployment: Option<crate::state::DeploymentSettings>,
) -> PlannedChange {
    let adds = match target {
        TargetGroupRef::New(_) => ecs,
        TargetGroupRef::Existing(arn) => {
            ecs && !service
                .load_balancers
                .iter()
                .any(|lb| lb.target_group_arn.as_deref() == Some(arn.as_str()))
        }
    };
    PlannedChange::new(
        service,
        Change::UpdateServiceLoadBalancers {
            cluster: service.cluster_arn.clone(),
            service: service.name.clone(),
            load_balancers: wanted,
            publish: adds || deployment.is_some(),
            deployment,
        },
        if adds {
            "the service's loadBalancers must carry its target group (starts an ECS deployment)"
        } else {
            "the service's loadBalancers must drop target groups it no longer uses (starts an ECS deployment)"
        },
    )
}

/// `alb.targets=direct`: running tasks registered, stopped ones deregistered.
fn direct_changes(
    observed: &Snapshot,
    desired: &DesiredService<'_>,
    target: &TargetGroupRef,
    changes: &mut Vec<PlannedChange>,
) {
    let service = desired.service;
    let port = i32::from(desired.intent.container_port);
    let running: BTreeSet<Target> = observed
        .tasks
        .get(&service.arn)
        .into_iter()
        .flatten()
        .filter(|t| t.last_status == "RUNNING")
        .filter_map(|t| t.private_ip.clone().map(|id| Target { id, port }))
        .collect();
    let registered: BTreeSet<Target> = match target {
        TargetGroupRef::Existing(arn) => observed
            .targets
            .get(arn)
            .into_iter()
            .flatten()
            .filter(|t| t.state != TargetHealthState::Draining)
            .map(|t| t.target.clone())
            .collect(),
        TargetGroupRef::New(_) => BTreeSet::new(),
    };
    let add: Vec<Target> = running.difference(&registered).cloned().collect();
    if !add.is_empty() {
        changes.push(PlannedChange::new(
            service,
            Change::RegisterTargets {
                target: target.clone(),
                targets: add,
            },
            "running tasks not registered",
        ));
    }
    if let TargetGroupRef::Existing(arn) = target {
        let gone: Vec<Target> = registered.difference(&running).cloned().collect();
        if !gone.is_empty() {
            changes.push(PlannedChange::new(
                service,
                Change::DeregisterTargets {
                    arn: arn.clone(),
                    targets: gone,
                },
                "registered targets whose tasks are no longer running",
            ));
        }
    }
}
