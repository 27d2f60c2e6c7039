//! Resolution: each service's intent becomes a candidate (its desired resources on its
//! listener's ALB), a status that keeps what it has (invalid tags, an unknown or missing
//! listener), or a withdrawal.

use std::collections::BTreeSet;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::arbitrate::Candidate;
use super::desired::{Location, PoolScope, SharedSettings, desired_service};
use super::dns::wanted_names;
use super::owned::Owned;
use super::unread_zones::UnreadZones;
use super::{PlanConfig, problem, shifted, status};
use crate::model::{Intent, ListenerRef, ServiceIntent, TargetsMode};
use crate::snapshot::Snapshot;
use crate::state::{DeploymentController, EcsService};
use crate::status::{Problem, ServiceState, ServiceStatus};

/// What resolution decided.
#[derive(Default)]
pub struct Resolution<'a> {
    /// In age order.
    pub candidates: Vec<Candidate<'a>>,
    pub statuses: Vec<ServiceStatus>,
    /// Services whose resources stay as they are.
    pub kept: BTreeSet<&'a str>,
    /// Services with owned resources that no longer ask for any (with their intent, for
    /// the warnings of an `alb.host` removal).
    pub withdrawn: Vec<(&'a EcsService, &'a ServiceIntent)>,
    settings: SharedSettings<'a>,
    /// Each `alb.listener` value resolved once: every service of a pool asks the same.
    pools: FxHashMap<ListenerRef, Resolved<'a>>,
}

/// A pool and the members a service may be placed on, or why it cannot publish.
type Resolved<'a> = Result<(String, Vec<Location<'a>>), Problem>;

/// Resolves every service, oldest first.
pub fn resolve_intents<'a>(
    config: &PlanConfig,
    observed: &'a Snapshot,
    owned: &Owned<'_>,
    ordered: &[&'a (Arc<EcsService>, ServiceIntent)],
) -> Resolution<'a> {
    // Candidates are large and almost every service becomes one: the vector is sized
    // once, not grown by copying them all again at each doubling.
    let mut out = Resolution {
        candidates: Vec::with_capacity(ordered.len()),
        ..Resolution::default()
    };
    let zones = UnreadZones::new(&config.hosted_zones, observed);
    for (service, intent) in ordered.iter().map(|p| (&p.0, &p.1)) {
        let keep = |state, problems: Vec<Problem>, intent, warnings: &[String]| {
            let mut s = status(service, state, intent, owned.resources(&service.arn));
            s.problems = problems;
            s.warnings = warnings.to_vec();
            s
        };
        let held = if let Some(why) = deployed_by_ecs(service, owned, intent, observed) {
            Some(keep(
                ServiceState::Invalid,
                vec![problem(Some("alb.deploy"), why)],
                None,
                &[],
            ))
        } else {
            match intent {
                ServiceIntent::Unmanaged | ServiceIntent::Withdraw { .. } => {
                    if owned.owns_any(&service.arn) {
                        let routed = routed_hosts(owned, &service.arn);
                        match zones.holds_back(&[], None, routed) {
                            Some(why) => Some(keep(
                                ServiceState::Error,
                                vec![problem(None, format!("its withdrawal waits: {why}"))],
                                None,
                                &[],
                            )),
                            None => {
                                out.withdrawn.push((service, intent));
                                None
                            }
                        }
                    } else {
                        None
                    }
                }
                ServiceIntent::Invalid { errors, warnings } => {
                    let problems = errors
                        .iter()
                        .map(|e| problem(Some(&e.key), e.to_string()))
                        .collect();
                    Some(keep(ServiceState::Invalid, problems, None, warnings))
                }
                ServiceIntent::Publish { intent, warnings } => {
                    match publish_held(&zones, owned, &service.arn, intent) {
                        Some(why) => Some(keep(
                            ServiceState::Error,
                            vec![problem(None, why)],
                            Some(intent),
                            warnings,
                        )),
                        None => {
                            resolve_published(
                                config, observed, owned, service, intent, warnings, &mut out,
                            );
                            None
                        }
                    }
                }
            }
        };
        if let Some(s) = held {
            out.kept.insert(&service.arn);
            out.statuses.push(s);
        }
    }
    out
}

/// A service that asks to be published: a candidate on its pool's listeners, or a status
/// that keeps what it has (a listener it cannot use, or what a failed read hides).
fn resolve_published<'a>(
    config: &PlanConfig,
    observed: &'a Snapshot,
    owned: &Owned<'_>,
    service: &'a EcsService,
    intent: &'a Intent,
    warnings: &[String],
    out: &mut Resolution<'a>,
) {
    let kept = |state, p: Problem, out: &mut Resolution<'a>| {
        out.kept.insert(&service.arn);
        let mut s = status(service, state, Some(intent), owned.resources(&service.arn));
        s.problems.push(p);
        s.warnings = warnings.to_vec();
        out.statuses.push(s);
    };
    match shifted::hold(config, observed, owned, service, intent) {
        Some(shifted::Hold::Invalid(p)) => return kept(ServiceState::Invalid, p, out),
        Some(shifted::Hold::Error(p)) => return kept(ServiceState::Error, p, out),
        Some(shifted::Hold::Waiting(why)) => {
            out.kept.insert(&service.arn);
            let resources = owned.resources(&service.arn);
            let mut s = status(service, ServiceState::Pending, Some(intent), resources);
            s.waiting.push(why);
            s.warnings = warnings.to_vec();
            return out.statuses.push(s);
        }
        None => {}
    }
    let resolved = resolve_listener(config, observed, service, intent, &mut out.pools);
    if let (Ok(_), Some(why)) = (&resolved, unread(observed, owned, service)) {
        let reason = format!("{why} this pass (see the pass's failed reads); it is left as it is");
        return kept(ServiceState::Error, problem(None, reason), out);
    }
    let resolved = resolved.and_then(|(pool, choices)| {
        let choices = shifted::pin(owned, service, intent, choices)?;
        Ok((pool, choices))
    });
    match resolved {
        Ok((pool, choices)) => {
            let claim_scope = config
                .pools
                .members
                .get(&pool)
                .and_then(|m| m.first())
                .cloned()
                .unwrap_or_else(|| pool.clone());
            let desired = desired_service(
                &config.ownership,
                service,
                intent,
                PoolScope { pool, claim_scope },
                choices[0],
                out.settings.of(intent),
            );
            if intent.shifted_by_ecs()
                && let Some(p) = shifted::immutable_change(owned, &desired)
            {
                // The tags ask for what ECS's setup cannot follow: theirs to change.
                return kept(ServiceState::Invalid, p, out);
            }
            out.candidates.push(Candidate {
                desired,
                warnings: warnings.to_vec(),
                choices,
                pinned: matches!(intent.listener, ListenerRef::Arn(_)),
            })
        }
        Err(p) => {
            let state = if p.key.is_none() || !observed.complete_but_zones() {
                ServiceState::Error
            } else {
                ServiceState::Invalid
            };
            kept(state, p, out);
        }
    }
}

/// Why what a published service has could not all be read, if so: then nothing of it is
/// planned. With the account's target groups unread, which group its rules forward to (and
/// under which name) is unknown; with groups but no readable rule, it may well be published
/// on a listener whose rules failed to read. Planned as new, it would get a group elsewhere
/// that takes its tasks' attachment, or a rule pointed at a group with no targets.
/// Its `loadBalancers` entry naming a group that may be ours counts as something it has:
/// with its rules and the account's groups both unread, nothing else of its own shows.
fn unread(observed: &Snapshot, owned: &Owned<'_>, service: &EcsService) -> Option<&'static str> {
    let (rules, groups) = (owned.rules_of(&service.arn), owned.groups_of(&service.arn));
    // Asked only when the groups were not read: most passes read them.
    let attached = || {
        service.load_balancers.iter().any(|lb| {
            lb.target_group_arn
                .as_deref()
                .is_some_and(crate::ownership::naming::may_be_ours)
        })
    };
    if !observed.target_groups_complete && (!rules.is_empty() || attached()) {
        Some("the account's target groups could not be read")
    } else if !observed.complete_but_zones() && rules.is_empty() && !groups.is_empty() {
        Some("it has target groups but none of its rules could be read")
    } else {
        None
    }
}

/// Why ECS itself deploys the service by shifting traffic between two target groups — a
/// `deploymentConfiguration.strategy` other than ROLLING, or a `loadBalancers` entry of one
/// of our groups with an `advancedConfiguration` — without `alb.deploy` asking for it. ECS
/// then owns the production rule's weights and which group is primary: rewriting the rule
/// or the entry would send traffic back to the old revision, so everything the service has
/// is left as it is. Only for services ecs-ingress has something of, or is asked to publish.
fn deployed_by_ecs(
    service: &EcsService,
    owned: &Owned<'_>,
    intent: &ServiceIntent,
    observed: &Snapshot,
) -> Option<String> {
    let ours = owned.owns_any(&service.arn);
    let publish = match intent {
        ServiceIntent::Publish { intent, .. } => Some(intent),
        _ => None,
    };
    if !ours && publish.is_none() {
        return None;
    }
    // ECS swaps the primary and the alternate when a deployment ends: our group, or our
    // rule as its production or test rule, in either place means ECS owns the traffic.
    let our_rule = |arn: &Option<String>| {
        arn.as_deref()
            .is_some_and(|a| owned.rules_of(&service.arn).iter().any(|r| r.arn == a))
    };
    let our_group =
        |arn: &Option<String>| arn.as_deref().is_some_and(|a| owned.group_arns.contains(a));
    let advanced: Vec<(bool, &crate::state::AdvancedConfiguration)> = service
        .load_balancers
        .iter()
        .filter_map(|lb| lb.advanced.as_ref().map(|a| (lb, a)))
        .filter(|(lb, a)| {
            our_group(&lb.target_group_arn)
                || our_group(&a.alternate_target_group_arn)
                || our_rule(&a.production_listener_rule)
                || our_rule(&a.test_listener_rule)
        })
        // ecs-ingress's own setup (`alb.deploy`) has both groups ours; one set up by hand has
        // a group that was read and is not ours. A group not read at all is neither: what
        // a partial view misses (`shifted::unread` holds the service then).
        .map(|(lb, a)| {
            let read_and_foreign = |arn: &Option<String>| {
                arn.as_deref().is_some_and(|g| {
                    !owned.group_arns.contains(g)
                        && observed.target_groups.iter().any(|t| t.arn == g)
                })
            };
            let mine = !read_and_foreign(&lb.target_group_arn)
                && !read_and_foreign(&a.alternate_target_group_arn);
            (mine, a)
        })
        .collect();
    let by_hand = advanced.iter().any(|(mine, _)| !mine);
    let set_up_by_us = !advanced.is_empty() && !by_hand;
    if let Some(intent) = publish
        && intent.deploy.is_some()
    {
        // After a failed read a group of ecs-ingress's own pair may just not have been
        // recognised: `shifted::unread` holds the service then, as an error of the pass.
        return (by_hand && observed.complete_but_zones()).then(|| {
            "a loadBalancers entry's advancedConfiguration pairs its ecs-ingress target group or rule with a target group ecs-ingress did not make (a blue/green set up by hand): everything it has is left as it is; remove that entry's advancedConfiguration (and set the strategy to ROLLING) to let alb.deploy set it up, or remove alb.deploy".to_string()
        });
    }
    if publish.is_none() && !by_hand {
        // Withdrawn: what ecs-ingress set up goes like anything else of the service.
        return None;
    }
    let strategy = &service.deployment.strategy;
    if set_up_by_us {
        return Some(format!(
            "ECS deploys this service with {} through the two target groups alb.deploy set up, and alb.deploy is gone: everything it has is left as it is, so that ecs-ingress never rewrites the weights or the primary group ECS manages; set alb.deploy=rolling to go back to rolling deployments, or put alb.deploy back",
            strategy.as_str()
        ));
    }
    let how = if strategy.shifts_traffic() {
        format!(
            "its deploymentConfiguration.strategy is {}",
            strategy.as_str()
        )
    } else if by_hand {
        "a loadBalancers entry's advancedConfiguration names its ecs-ingress target group or rule"
            .to_string()
    } else {
        return None;
    };
    Some(format!(
        "ECS shifts this service's traffic itself ({how}), set up outside ecs-ingress and without alb.deploy: everything it has is left as it is, so that ecs-ingress never rewrites the weights or the primary group ECS manages; set the strategy back to ROLLING (and drop the entry's advancedConfiguration) to let ecs-ingress manage it again, or tag it alb.deploy"
    ))
}

/// Why a service asking to publish keeps what it has: a name of it in an unread zone.
/// Names are built only in a pass with an unread zone, off the steady path.
fn publish_held(
    zones: &UnreadZones<'_>,
    owned: &Owned<'_>,
    service_arn: &str,
    intent: &Intent,
) -> Option<String> {
    if zones.none() {
        return None;
    }
    let hosts: Vec<String> = intent
        .hosts
        .iter()
        .chain(&intent.test_hosts)
        .cloned()
        .collect();
    let asked = wanted_names(&intent.dns, &hosts);
    let routed = routed_hosts(owned, service_arn);
    zones.holds_back(&asked, intent.dns.zone.as_deref(), routed)
}

/// The host conditions of the service's owned rules: names it may hold.
pub(super) fn routed_hosts<'o>(
    owned: &'o Owned<'_>,
    service_arn: &str,
) -> impl Iterator<Item = &'o String> {
    owned.rules_of(service_arn).iter().flat_map(|r| &r.hosts)
}

/// The service's pool and the listeners (with their ALBs) it may be placed on, or why it
/// cannot publish.
fn resolve_listener<'a>(
    config: &PlanConfig,
    observed: &'a Snapshot,
    service: &EcsService,
    intent: &Intent,
    pools: &mut FxHashMap<ListenerRef, Resolved<'a>>,
) -> Resolved<'a> {
    if intent.targets == TargetsMode::Ecs
        && service.deployment_controller != DeploymentController::Ecs
    {
        return Err(problem(
            Some("alb.targets"),
            format!(
                "alb.targets=ecs needs the ECS deployment controller, this service uses {}; set alb.targets=direct",
                service.deployment_controller
            ),
        ));
    }
    if let Some(resolved) = pools.get(&intent.listener) {
        return resolved.clone();
    }
    let resolved = resolve(config, observed, &intent.listener);
    pools.insert(intent.listener.clone(), resolved.clone());
    resolved
}

/// Resolves a service's pool and the members it may use (a listener named by ARN pins it to
/// that one), or says why not. Every member must have been read: nothing is placed or moved
/// on a partial view of a pool.
fn resolve<'a>(
    config: &PlanConfig,
    observed: &'a Snapshot,
    listener: &ListenerRef,
) -> Resolved<'a> {
    let (pool, arns): (&str, Vec<&String>) = match listener {
        ListenerRef::Name(name) => match config.pools.members.get(name) {
            // The ALBs ecs-ingress created for the pool come after the given ones.
            Some(members) => (
                name,
                members
                    .iter()
                    .chain(
                        observed
                            .provisioned
                            .iter()
                            .filter(|p| p.pool == *name)
                            .filter_map(|p| p.listener_arn.as_ref()),
                    )
                    .collect(),
            ),
            None => {
                let known: Vec<&str> = config.pools.members.keys().map(String::as_str).collect();
                return Err(problem(
                    Some("alb.listener"),
                    format!(
                        "alb.listener={name}: no --listener of that name (known: {})",
                        known.join(", ")
                    ),
                ));
            }
        },
        ListenerRef::Arn(arn) => match config.pools.pool_of(arn) {
            Some(pool) => (pool, vec![arn]),
            None => {
                return Err(problem(
                    Some("alb.listener"),
                    format!(
                        "alb.listener={arn}: not a listener given with --listener; ecs-ingress only writes to those"
                    ),
                ));
            }
        },
    };
    let home = config.pools.members.get(pool).and_then(|m| m.first());
    let mut out = Vec::new();
    for arn in arns {
        let (listener_arn, load_balancer) = member(observed, pool, arn)?;
        out.push(Location {
            listener_arn,
            load_balancer,
            home: Some(arn) == home,
        });
    }
    Ok((pool.to_string(), out))
}

/// One pool member, read.
fn member<'a>(
    observed: &'a Snapshot,
    pool: &str,
    arn: &str,
) -> Result<(&'a str, &'a crate::state::LoadBalancer), Problem> {
    if observed.missing_listeners.contains(arn) {
        return Err(problem(
            None,
            format!(
                "listener {arn} (--listener {pool}) does not exist: fix the flag or recreate the listener; what this service has is kept"
            ),
        ));
    }
    let listener = observed.listeners.get(arn).ok_or_else(|| {
        problem(
            Some("alb.listener"),
            format!("listener {arn} could not be read"),
        )
    })?;
    let lb = observed
        .load_balancers
        .get(&listener.load_balancer_arn)
        .ok_or_else(|| {
            problem(
                None,
                format!(
                    "load balancer {} could not be read",
                    listener.load_balancer_arn
                ),
            )
        })?;
    Ok((listener.arn.as_str(), lb))
}
