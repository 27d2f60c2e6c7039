//! The ALB side of a service ECS deploys itself (`alb.deploy` blue-green, linear or canary):
//! two target groups with the same settings, one production rule forwarding to both, one
//! `loadBalancers` entry carrying ECS's `advancedConfiguration`, and the strategy.
//!
//! The weights and which group is primary belong to ECS: during a deployment it rewrites
//! the production rule's weights, and at its end it swaps the entry's target group and
//! alternate. So the primary is read from the entry (never chosen again), the rule's action
//! is rewritten only when it no longer forwards to exactly the service's two groups, and a
//! changed host or path is repaired in the conditions alone.

use std::collections::BTreeSet;

use super::alb::{Creation, WinnerOutcome, target_group_changes};
use super::change::{AttachmentEntry, Change, PlannedChange, RuleRef, ShiftSetup, TargetGroupRef};
use super::desired::{DesiredService, Location};
use super::owned::Owned;
use super::placement::{Placed, existing_rule};
use super::{PlanConfig, problem};
use crate::model::{Intent, TargetsMode};
use crate::ownership::naming::alternate_target_group_name;
use crate::shared_str::SharedStr;
use crate::snapshot::Snapshot;
use crate::state::{DeploymentSettings, EcsService, LoadBalancerAttachment, Rule};
use crate::status::Problem;

/// The ownership key of the production rule: the one rule such a service has.
const PRODUCTION_RULE: &str = "rule-0";

/// Why a service with `alb.deploy` keeps what it has this pass.
pub enum Hold {
    /// Its tags ask for what ECS cannot do (`invalid`).
    Invalid(Problem),
    /// What it has could not all be read (`error`).
    Error(Problem),
    /// ECS is deploying it and the tags ask to go back to rolling (`pending`).
    Waiting(String),
}

/// Whether a service with `alb.deploy` is held this pass, and why.
pub fn hold(
    config: &PlanConfig,
    observed: &Snapshot,
    owned: &Owned<'_>,
    service: &EcsService,
    intent: &Intent,
) -> Option<Hold> {
    if let Some(p) = problem_with(config, owned, service, intent) {
        return Some(Hold::Invalid(p));
    }
    if intent.shifted_by_ecs() {
        return unread(observed, owned, service).map(Hold::Error);
    }
    if intent.deploy.is_some() {
        return deployment_in_progress(owned, service).map(Hold::Waiting);
    }
    None
}

/// Why a service asking ECS to shift its traffic cannot have it, naming what to fix.
fn problem_with(
    config: &PlanConfig,
    owned: &Owned<'_>,
    service: &EcsService,
    intent: &Intent,
) -> Option<Problem> {
    let deploy = intent.deploy.as_deref()?;
    if service.deployment_controller != crate::state::DeploymentController::Ecs {
        return Some(problem(
            Some("alb.deploy"),
            format!(
                "ECS deploys with {} only under the ECS deployment controller; this service uses {}",
                deploy.strategy.as_str(),
                service.deployment_controller
            ),
        ));
    }
    if !deploy.strategy.shifts_traffic() {
        return None;
    }
    if intent.targets == TargetsMode::Direct {
        return Some(problem(
            Some("alb.deploy"),
            "ECS registers the tasks of a service it deploys blue/green itself: remove alb.targets=direct",
        ));
    }
    rules_problem(intent)
        .or_else(|| entries_problem(owned, service, deploy))
        .or_else(|| {
            config.ecs_infrastructure_role_arn.is_none().then(|| problem(
                Some("alb.deploy"),
                format!(
                    "alb.deploy={} needs --ecs-infrastructure-role-arn (ECS_INGRESS_ECS_INFRASTRUCTURE_ROLE_ARN): the role ECS rewrites the production rule with",
                    crate::model::deploy_tag(&deploy.strategy)
                ),
            ))
        })
}

/// ECS shifts traffic through one production rule (and one test rule), and test traffic
/// must reach the test rule: a test host that a host of the service matches never does.
fn rules_problem(intent: &Intent) -> Option<Problem> {
    let fits = |hosts: &[String]| {
        hosts.is_empty() || super::desired::split_conditions(hosts, &intent.paths).len() == 1
    };
    const LIMITS: &str = "at most 3 hosts, 3 paths and 5 values together, 5 wildcards";
    if !fits(&intent.hosts) {
        return Some(problem(
            Some("alb.host"),
            format!(
                "ECS shifts traffic through one production rule, and these hosts and paths need several ({LIMITS}): {}",
                intent.summary()
            ),
        ));
    }
    if !fits(&intent.test_hosts) {
        return Some(problem(
            Some("alb.test-host"),
            format!(
                "ECS sends test traffic through one test rule, and these test hosts with the service's paths need several ({LIMITS}): {}",
                intent.test_hosts.join(" ")
            ),
        ));
    }
    let shadowed = intent.test_hosts.iter().find(|t| {
        intent
            .hosts
            .iter()
            .any(|h| super::priorities::glob_match(h, t))
    })?;
    Some(problem(
        Some("alb.test-host"),
        format!(
            "test host {shadowed} is also matched by alb.host ({}): test traffic would reach the production rule; use a name alb.host does not cover",
            intent.hosts.join(" ")
        ),
    ))
}

/// ECS takes a traffic-shifting strategy only when every target-group entry of the service
/// has an `advancedConfiguration`: another team's plain entry makes it refuse.
fn entries_problem(
    owned: &Owned<'_>,
    service: &EcsService,
    deploy: &DeploymentSettings,
) -> Option<Problem> {
    let other = service.load_balancers.iter().find(|lb| {
        lb.advanced.is_none()
            && lb
                .target_group_arn
                .as_deref()
                .is_some_and(|a| !owned.group_arns.contains(a))
    })?;
    Some(problem(
        Some("alb.deploy"),
        format!(
            "ECS deploys {} only when every load balancer entry of the service has an advancedConfiguration, and the entry of {} (not ecs-ingress's) has none: set it up for that group too, or drop alb.deploy",
            deploy.strategy.as_str(),
            other.target_group_arn.as_deref().unwrap_or_default()
        ),
    ))
}

/// Why what ECS deploys between could not all be read, if so: planned from a partial view,
/// a group of the pair would look new, and the rule and the entry would be reset onto the
/// other one — the group ECS may have emptied.
fn unread(observed: &Snapshot, owned: &Owned<'_>, service: &EcsService) -> Option<Problem> {
    // Its entry naming groups counts too: with its rules and groups both unread, nothing of
    // its own shows, and it would be planned as new over what ECS deploys between.
    let ours = !owned.rules_of(&service.arn).is_empty()
        || !owned.groups_of(&service.arn).is_empty()
        || service
            .load_balancers
            .iter()
            .any(|lb| lb.target_group_arn.is_some());
    let why = if ours && !observed.complete_but_zones() {
        "some of what it has could not be read this pass (see the pass's failed reads)"
    } else if service.load_balancers.iter().any(|lb| {
        lb.advanced.as_ref().is_some_and(|a| {
            let our_rule = owned
                .rules_of(&service.arn)
                .iter()
                .any(|r| a.production_listener_rule.as_deref() == Some(r.arn.as_str()));
            let both_read = [&lb.target_group_arn, &a.alternate_target_group_arn]
                .iter()
                .all(|g| g.as_deref().is_some_and(|g| owned.group_arns.contains(g)));
            our_rule && !both_read
        })
    }) {
        "a target group its loadBalancers entry names was not read as one of its two groups"
    } else {
        return None;
    };
    Some(problem(
        None,
        format!("{why}; ECS deploys it between its two groups, so it is left as it is"),
    ))
}

/// The service can be handed to ECS: its rules are all on the listener it is placed on and
/// send traffic only to its two groups (or to groups not its own, which are repaired). While
/// a replacement or a move of its rolling days is still under way, the rolling path finishes
/// it first: only then does traffic stand on a group of the pair.
pub fn settled(owned: &Owned<'_>, desired: &DesiredService<'_>) -> bool {
    let service = &desired.service.arn;
    let alternate = alternate_target_group_name(&desired.target_group.name);
    let pair = |name: &str| name == desired.target_group.name || name == alternate;
    let groups = owned.groups_of(service);
    desired.previous.is_none()
        && owned.rules_of(service).iter().all(|r| {
            r.listener_arn == desired.listener_arn
                && r.forward_target_groups.iter().all(|arn| {
                    groups
                        .iter()
                        .find(|g| g.arn == *arn)
                        .is_none_or(|g| pair(&g.name))
                })
        })
}

/// `alb.deploy=rolling` on a service ECS is deploying: its production rule sends traffic
/// elsewhere than to the entry's primary (a shift, a canary stop, the bake). Going back to
/// rolling now would send everything to one of the two revisions mid-flight, so it waits
/// for ECS to finish. What it waits for, if so.
fn deployment_in_progress(owned: &Owned<'_>, service: &EcsService) -> Option<String> {
    let (primary, rule_arn) = service.load_balancers.iter().find_map(|lb| {
        let a = lb.advanced.as_ref()?;
        Some((
            lb.target_group_arn.as_deref()?,
            a.production_listener_rule.as_deref()?,
        ))
    })?;
    let beyond_primary = owned
        .rules_of(&service.arn)
        .iter()
        .find(|r| r.arn == rule_arn)
        .is_some_and(|rule| rule.forward_target_groups != [primary]);
    (ecs_deploying(service) || beyond_primary).then(|| {
        "ECS is deploying it (a deployment under way, or its production rule sending traffic beyond the primary group): alb.deploy=rolling is applied once that deployment is over".to_string()
    })
}

/// ECS runs a deployment of its own on the service: the rules' weights and the entry are
/// moving under it.
fn ecs_deploying(service: &EcsService) -> bool {
    service.deploying && service.deployment.strategy.shifts_traffic()
}

/// ECS shifts the service's traffic already (its strategy, or an entry of ours with an
/// `advancedConfiguration`): only then are its groups and its ALB ECS's to keep.
pub fn ecs_shifts_now(owned: &Owned<'_>, service: &EcsService) -> bool {
    service.deployment.strategy.shifts_traffic()
        || service.load_balancers.iter().any(|lb| {
            lb.advanced.is_some()
                && lb
                    .target_group_arn
                    .as_deref()
                    .is_some_and(|a| owned.group_arns.contains(a))
        })
}

/// A service ECS deploys stays on the ALB its production rule is on: ECS keeps the rule's
/// ARN in the service, so a move would strand its deployments. The one location left, or
/// why it cannot stay. A move under way (rules on two ALBs) is finished first, as for any
/// service.
pub fn pin<'a>(
    owned: &Owned<'_>,
    service: &EcsService,
    intent: &Intent,
    choices: Vec<Location<'a>>,
) -> Result<Vec<Location<'a>>, Problem> {
    if !intent.shifted_by_ecs() || !ecs_shifts_now(owned, service) {
        return Ok(choices);
    }
    let rules = owned.rules_of(&service.arn);
    if rules.iter().any(|r| {
        rules
            .first()
            .is_some_and(|f| f.listener_arn != r.listener_arn)
    }) {
        return Ok(choices);
    }
    let Some(rule) = rules
        .iter()
        .find(|r| crate::ownership::resource_of(&r.tags) == Some(PRODUCTION_RULE))
    else {
        return Ok(choices);
    };
    let here: Vec<Location<'a>> = choices
        .iter()
        .copied()
        .filter(|c| c.listener_arn == rule.listener_arn)
        .collect();
    if here.is_empty() {
        return Err(problem(
            Some("alb.listener"),
            format!(
                "ECS deploys this service through its production rule on listener {}, which its pool no longer offers: it stays there; set alb.deploy=rolling to let it move",
                rule.listener_arn
            ),
        ));
    }
    Ok(here)
}

/// Why the service's groups cannot be its two: an immutable setting changed (its groups
/// carry other names), which needs new groups ECS has no way to take over mid-flight.
pub fn immutable_change(owned: &Owned<'_>, desired: &DesiredService<'_>) -> Option<Problem> {
    if !ecs_shifts_now(owned, desired.service) {
        return None; // The rolling planner replaces its group first (see `settled`).
    }
    let groups = owned.groups_of(&desired.service.arn);
    // The pool-wide name, or the ALB's own one a pool may have settled on, and their pairs.
    let names: Vec<String> = std::iter::once(&desired.target_group.name)
        .chain(desired.alb_group_name.as_ref())
        .flat_map(|n| [n.clone(), alternate_target_group_name(n)])
        .collect();
    let known = |name: &str| names.iter().any(|n| n == name);
    if groups.is_empty() || groups.iter().any(|g| known(&g.name)) {
        return None;
    }
    Some(problem(
        Some("alb.deploy"),
        format!(
            "an immutable setting (container, port, protocol, target type or VPC) or its ALB changed, which needs new target groups ({}); ECS deploys this service between its current ones, so they are kept: set alb.deploy=rolling to let ecs-ingress replace them without downtime, then alb.deploy again",
            desired.target_group.name
        ),
    ))
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
    let first_change = changes.len();
    let my_groups = owned.groups_of(&service.arn);
    let created = Creation::of(config, observed);
    let blue = target_group_changes(&created, service, &desired.target_group, my_groups, changes);
    let green_spec = super::desired::alternate_spec(&desired.target_group);
    let green = target_group_changes(&created, service, &green_spec, my_groups, changes);
    let rule = existing_rule(owned, desired, PRODUCTION_RULE);
    let (primary, alternate) = roles(service, rule, blue, green);
    let mut outcome = WinnerOutcome::default();
    let (to, beside) = recreated_onto(observed, rule, &primary, &alternate, &mut outcome);
    let Some(rules) = rule_changes(config, owned, desired, placed, index, to, beside, changes)
    else {
        return outcome; // The listener's band is full: reported as a pass problem.
    };
    outcome.serving = serving(rule, to);
    if let Some(g) = &outcome.serving
        && observed.has_healthy_targets(g).is_none()
    {
        outcome.health_wanted.push(g.clone());
    }
    attachment_changes(config, owned, desired, &primary, &alternate, rules, changes);
    delete_strays(service, owned, &[&primary, &alternate], changes);
    if ecs_deploying(service) {
        hold_while_deploying(changes, first_change, &mut outcome);
    }
    outcome
}

/// While ECS deploys the service, only what cannot disturb it goes out: groups created or
/// repaired, a missing rule recreated, conditions repaired, tagged settings written without
/// the entry (ECS takes them for its next deployment). Rewriting the entry (which starts
/// another deployment), resetting a rule's action, or deleting a rule or group ECS may be
/// shifting waits for the deployment to end.
fn hold_while_deploying(
    changes: &mut Vec<PlannedChange>,
    first: usize,
    outcome: &mut WinnerOutcome,
) {
    let before = changes.len();
    let mut index = 0;
    changes.retain(|c| {
        let earlier = index < first;
        index += 1;
        earlier
            || matches!(
                c.change,
                Change::CreateTargetGroup { .. }
                    | Change::ModifyHealthCheck { .. }
                    | Change::ModifyAttributes { .. }
                    | Change::CreateRule { .. }
                    | Change::ModifyRuleConditions { .. }
                    | Change::UpdateServiceDeployment { .. }
            )
    });
    if changes.len() < before {
        outcome.waiting = Some(
            "ECS is deploying it: changes to its loadBalancers entry, its rules' actions and its groups wait for that deployment to end".to_string(),
        );
    }
}

/// Which group a production rule made now sends its traffic to (and which is beside it at
/// 0): the primary, unless the rule is gone while ECS had moved traffic to the alternate
/// (a deployment's bake) — then the group with healthy targets, so that the flip ECS is
/// about to make finds its traffic there. Health is read when unknown.
fn recreated_onto<'g>(
    observed: &Snapshot,
    rule: Option<&Rule>,
    primary: &'g TargetGroupRef,
    alternate: &'g TargetGroupRef,
    outcome: &mut WinnerOutcome,
) -> (&'g TargetGroupRef, &'g TargetGroupRef) {
    let (TargetGroupRef::Existing(p), TargetGroupRef::Existing(a), None) =
        (primary, alternate, rule)
    else {
        return (primary, alternate);
    };
    let health = |g: &String| observed.has_healthy_targets(g);
    match (health(p), health(a)) {
        (Some(false), Some(true)) => (alternate, primary),
        (Some(_), Some(_)) => (primary, alternate),
        _ => {
            outcome.health_wanted.extend([p.clone(), a.clone()]);
            (primary, alternate)
        }
    }
}

/// (primary, alternate): the entry's target group is the primary — ECS swaps it with the
/// alternate when a deployment ends. Without an entry, the group the rule sends traffic to;
/// without either, the group named like a rolling service's.
fn roles(
    service: &EcsService,
    rule: Option<&Rule>,
    blue: TargetGroupRef,
    green: TargetGroupRef,
) -> (TargetGroupRef, TargetGroupRef) {
    let is = |r: &TargetGroupRef, arn: &str| matches!(r, TargetGroupRef::Existing(a) if a == arn);
    let entry_on_green = service
        .load_balancers
        .iter()
        .filter_map(|lb| lb.target_group_arn.as_deref())
        .any(|a| is(&green, a));
    let entry_on_blue = service
        .load_balancers
        .iter()
        .filter_map(|lb| lb.target_group_arn.as_deref())
        .any(|a| is(&blue, a));
    let rule_on_green_only = rule.is_some_and(|r| {
        !r.forward_target_groups.is_empty() && r.forward_target_groups.iter().all(|a| is(&green, a))
    });
    if entry_on_green || (!entry_on_blue && rule_on_green_only) {
        (green, blue)
    } else {
        (blue, green)
    }
}

/// The group whose health decides whether the names may be published: one the rule sends
/// traffic to (ECS moves traffic only to a group with healthy targets), or the one a rule
/// made now sends it to.
fn serving(rule: Option<&Rule>, primary: &TargetGroupRef) -> Option<String> {
    match (rule, primary) {
        (Some(r), _) if !r.forward_target_groups.is_empty() => {
            r.forward_target_groups.first().map(SharedStr::to_string)
        }
        (_, TargetGroupRef::Existing(arn)) => Some(arn.clone()),
        (_, TargetGroupRef::New(_)) => None,
    }
}

/// The service's rules: the production rule and, with `alb.test-host`, the test rule. Each
/// is created 100/0 on the primary; its action reset only when it no longer forwards to
/// exactly the two groups; its conditions repaired with the weights kept. Other rules of
/// the service go. (production, test); `None` when the listener has no room.
#[allow(clippy::too_many_arguments)]
fn rule_changes(
    config: &PlanConfig,
    owned: &Owned<'_>,
    desired: &DesiredService<'_>,
    placed: &Placed,
    index: usize,
    primary: &TargetGroupRef,
    alternate: &TargetGroupRef,
    changes: &mut Vec<PlannedChange>,
) -> Option<(RuleRef, Option<RuleRef>)> {
    let service = desired.service;
    let kept: Vec<Option<&Rule>> = desired
        .rules
        .iter()
        .map(|r| existing_rule(owned, desired, &r.key))
        .collect();
    for other in owned
        .rules_of(&service.arn)
        .iter()
        .filter(|r| !kept.iter().flatten().any(|k| k.arn == r.arn))
    {
        changes.push(PlannedChange::new(
            service,
            Change::DeleteRule {
                arn: other.arn.to_string(),
            },
            "rule no longer wanted (ECS shifts this service through one production rule)",
        ));
    }
    let mut refs = Vec::new();
    for (j, (wanted, existing)) in desired.rules.iter().zip(kept).enumerate() {
        let at = Slot {
            desired,
            priority: placed.priorities.get(index, j),
            key: &wanted.key,
        };
        refs.push(one_rule(
            config, at, wanted, existing, primary, alternate, changes,
        )?);
    }
    let mut refs = refs.into_iter();
    let production = refs.next()?;
    Some((production, refs.next()))
}

/// Where a rule goes: its service, its slot on the listener (if it got one) and its key.
struct Slot<'a, 'd> {
    desired: &'a DesiredService<'d>,
    priority: Option<u32>,
    key: &'a str,
}

/// One rule forwarding to both groups (see [`rule_changes`]).
fn one_rule(
    config: &PlanConfig,
    at: Slot<'_, '_>,
    wanted: &super::desired::DesiredRule<'_>,
    existing: Option<&Rule>,
    primary: &TargetGroupRef,
    alternate: &TargetGroupRef,
    changes: &mut Vec<PlannedChange>,
) -> Option<RuleRef> {
    let service = at.desired.service;
    let what = if at.key == super::desired::TEST_RULE {
        "test rule"
    } else {
        "production rule"
    };
    let Some(existing) = existing else {
        changes.push(PlannedChange::new(
            service,
            Change::CreateRule {
                listener_arn: at.desired.listener_arn.to_string(),
                priority: at.priority?,
                hosts: wanted.hosts.to_vec(),
                paths: wanted.paths.to_vec(),
                target: primary.clone(),
                staged: Some(alternate.clone()),
                tags: config.ownership.tags(&service.arn, at.key),
            },
            format!("new {what}: 100% to the primary group, 0% to the alternate ECS deploys into"),
        ));
        return Some(RuleRef::New(at.key.to_string()));
    };
    // No deployment under way yet no traffic on the primary: a rule recreated during a bake
    // and left behind by ECS's flip. It goes to the primary, where ECS put the new tasks.
    let stranded = !ecs_deploying(service)
        && matches!(primary, TargetGroupRef::Existing(p) if !existing.forward_target_groups.iter().any(|f| f == p));
    let conditions_differ = existing.hosts[..] != wanted.hosts[..]
        || existing.paths[..] != wanted.paths[..]
        || existing.other_conditions > 0;
    let conditions = |why: &str| {
        PlannedChange::new(
            service,
            Change::ModifyRuleConditions {
                arn: existing.arn.to_string(),
                hosts: wanted.hosts.to_vec(),
                paths: wanted.paths.to_vec(),
            },
            format!("{what} conditions differ ({why})"),
        )
    };
    if !forwards_to_both(existing, primary, alternate) || stranded {
        if conditions_differ && ecs_deploying(service) {
            // The action waits for ECS's deployment to end (`hold_while_deploying`); the
            // conditions go now, so that no name is published for a host no rule routes.
            changes.push(conditions("its action waits for ECS's deployment"));
        }
        changes.push(PlannedChange::new(
            service,
            Change::ModifyRule {
                arn: existing.arn.to_string(),
                hosts: wanted.hosts.to_vec(),
                paths: wanted.paths.to_vec(),
                target: primary.clone(),
                staged: Some(alternate.clone()),
            },
            format!("the {what} does not forward to the service's two target groups: 100% to the primary, 0% to the alternate"),
        ));
    } else if conditions_differ {
        changes.push(conditions("the weights are ECS's and stay"));
    }
    Some(RuleRef::Existing(existing.arn.to_string()))
}

/// The rule forwards to exactly the two groups (in any weights ECS chose, some above 0).
fn forwards_to_both(rule: &Rule, primary: &TargetGroupRef, alternate: &TargetGroupRef) -> bool {
    let (TargetGroupRef::Existing(p), TargetGroupRef::Existing(a)) = (primary, alternate) else {
        return false;
    };
    let groups: BTreeSet<&str> = rule
        .forward_target_groups
        .iter()
        .chain(&rule.staged_target_groups)
        .map(SharedStr::as_str)
        .collect();
    rule.other_actions == 0
        && !rule.forward_target_groups.is_empty()
        && groups == BTreeSet::from([p.as_str(), a.as_str()])
}

/// One entry for the primary with ECS's `advancedConfiguration`, others' entries as they
/// are (unless their target group no longer exists: ECS would refuse the whole update), and
/// the strategy the tags ask for — in one UpdateService.
fn attachment_changes(
    config: &PlanConfig,
    owned: &Owned<'_>,
    desired: &DesiredService<'_>,
    primary: &TargetGroupRef,
    alternate: &TargetGroupRef,
    (production, test): (RuleRef, Option<RuleRef>),
    changes: &mut Vec<PlannedChange>,
) {
    let service = desired.service;
    let Some(role_arn) = config.ecs_infrastructure_role_arn.clone() else {
        return; // `problem_with` keeps such a service out of planning.
    };
    let ours = |lb: &&LoadBalancerAttachment| {
        lb.target_group_arn
            .as_deref()
            .is_some_and(|a| owned.group_arns.contains(a))
    };
    // A group deleted (by hand, say) leaves an entry ECS refuses to keep in any update.
    let dead = |lb: &&LoadBalancerAttachment| {
        lb.target_group_arn
            .as_deref()
            .is_some_and(|a| owned.group_gone(a))
    };
    let foreign: Vec<AttachmentEntry> = service
        .load_balancers
        .iter()
        .filter(|lb| !ours(lb) && !dead(lb))
        .cloned()
        .map(AttachmentEntry::Keep)
        .collect();
    let setup = ShiftSetup {
        alternate: alternate.clone(),
        production_rule: production,
        test_rule: test,
        role_arn,
    };
    let have: Vec<&LoadBalancerAttachment> = service.load_balancers.iter().filter(ours).collect();
    let entry_matches = match (have.as_slice(), as_entry(desired, primary, &setup)) {
        ([one], Some(want)) => **one == want && !service.load_balancers.iter().any(|lb| dead(&lb)),
        _ => false,
    };
    let deployment = desired
        .intent
        .deploy
        .as_deref()
        .filter(|d| !d.drift_from(&service.deployment).is_empty());
    if entry_matches {
        changes.extend(deployment.map(|d| settings_change(service, d)));
        return;
    }
    let mut reason = vec![
        "its loadBalancers entry must name both groups and the production rule for ECS".to_string(),
    ];
    if let Some(d) = deployment {
        reason.push(format!(
            "deploymentConfiguration differs: {}",
            d.drift_from(&service.deployment).join(", ")
        ));
    }
    let mut load_balancers = foreign;
    load_balancers.push(AttachmentEntry::Ours {
        target: primary.clone(),
        container: desired.intent.container.clone(),
        port: i32::from(desired.intent.container_port),
        shift: Some(setup),
    });
    changes.push(PlannedChange::new(
        service,
        Change::UpdateServiceLoadBalancers {
            cluster: service.cluster_arn.clone(),
            service: service.name.clone(),
            load_balancers,
            publish: true,
            deployment: deployment.cloned(),
        },
        format!("{} (starts an ECS deployment)", reason.join("; ")),
    ));
}

/// The tagged settings alone, the entries left as ECS holds them.
fn settings_change(service: &EcsService, deployment: &DeploymentSettings) -> PlannedChange {
    PlannedChange::new(
        service,
        Change::UpdateServiceDeployment {
            cluster: service.cluster_arn.clone(),
            service: service.name.clone(),
            deployment: deployment.clone(),
        },
        format!(
            "deploymentConfiguration differs: {}",
            deployment.drift_from(&service.deployment).join(", ")
        ),
    )
}

/// The entry as ECS would hold it, when everything it names exists already.
fn as_entry(
    desired: &DesiredService<'_>,
    primary: &TargetGroupRef,
    setup: &ShiftSetup,
) -> Option<LoadBalancerAttachment> {
    let (
        TargetGroupRef::Existing(primary),
        TargetGroupRef::Existing(alternate),
        RuleRef::Existing(rule),
    ) = (primary, &setup.alternate, &setup.production_rule)
    else {
        return None;
    };
    let test_rule = match &setup.test_rule {
        Some(RuleRef::Existing(arn)) => Some(arn.clone()),
        Some(RuleRef::New(_)) => return None,
        None => None,
    };
    Some(LoadBalancerAttachment {
        target_group_arn: Some(primary.clone()),
        load_balancer_name: None,
        container_name: Some(desired.intent.container.clone()),
        container_port: Some(i32::from(desired.intent.container_port)),
        advanced: Some(crate::state::AdvancedConfiguration {
            alternate_target_group_arn: Some(alternate.clone()),
            production_listener_rule: Some(rule.clone()),
            test_listener_rule: test_rule,
            role_arn: Some(setup.role_arn.clone()),
        }),
    })
}

/// Groups of the service other than its two, once nothing routes to them or names them.
fn delete_strays(
    service: &EcsService,
    owned: &Owned<'_>,
    keep: &[&TargetGroupRef],
    changes: &mut Vec<PlannedChange>,
) {
    let used = |arn: &str| {
        owned.rules_of(&service.arn).iter().any(|r| {
            r.forward_target_groups
                .iter()
                .chain(&r.staged_target_groups)
                .any(|g| g == arn)
        }) || service
            .load_balancers
            .iter()
            .any(|lb| lb.target_group_arn.as_deref() == Some(arn))
    };
    for g in owned.groups_of(&service.arn) {
        let kept = keep
            .iter()
            .any(|k| matches!(k, TargetGroupRef::Existing(a) if *a == g.arn));
        if !kept && !used(&g.arn) {
            changes.push(PlannedChange::new(
                service,
                Change::DeleteTargetGroup {
                    arn: g.arn.to_string(),
                    name: g.name.clone(),
                },
                "no longer one of the service's two groups",
            ));
        }
    }
}

#[cfg(test)]
mod tests;
