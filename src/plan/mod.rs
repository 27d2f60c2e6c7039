//! The planner: intents × observed AWS state → typed changes and per-service statuses.
//!
//! Pure and synchronous. The safety rules of the design live here and are tested here:
//! only owned resources are changed, nothing is deleted after a failed read, conflicts are
//! decided by age, quotas are checked before anything is created, and every change carries
//! the phase that orders it (publish TG → rule → attachment, withdraw in reverse).

pub mod change;
pub mod cloudmap;
pub mod desired;
pub mod dns;
#[cfg(test)]
mod fixtures;
pub mod priorities;

use std::collections::{BTreeMap, BTreeSet};

use crate::ownership::{self, Ownership, resource_of, service_of};
pub use change::{AttachmentEntry, Change, CloudMapServiceRef, PlannedChange, TargetGroupRef};
use desired::{DesiredService, desired_service, non_default_attributes};

use crate::config::{Config, Policy, PriorityRange};
use crate::model::{Intent, ListenerRef, ServiceIntent, TargetsMode};
use crate::snapshot::Snapshot;
use crate::state::{
    EcsService, LoadBalancerAttachment, Rule, Target, TargetGroup, TargetHealthState,
};
use crate::status::{Problem, ResourceRef, ServiceState, ServiceStatus};

/// ALB quotas checked before creating (see `aws-limits`): rules per ALB (raisable; the
/// default is assumed) and target groups per ALB (not raisable).
pub const MAX_RULES_PER_ALB: usize = 100;
pub const MAX_TARGET_GROUPS_PER_ALB: usize = 100;

/// What the planner needs from the configuration.
#[derive(Debug, Clone)]
pub struct PlanConfig {
    pub ownership: Ownership,
    pub listeners: BTreeMap<String, String>,
    pub clusters: Vec<String>,
    pub priority_range: PriorityRange,
    pub policy: Policy,
    /// Hosted zone ids DNS records may be written in; empty turns DNS off.
    pub hosted_zones: Vec<String>,
    /// Cloud Map namespaces instances may be registered in; empty turns Cloud Map off.
    pub cloudmap_namespaces: Vec<String>,
}

impl PlanConfig {
    pub fn from_config(config: &Config) -> Self {
        Self {
            ownership: Ownership::new(&config.owner_id),
            listeners: config.listeners.clone(),
            clusters: config.clusters.clone(),
            priority_range: config.priority_range,
            policy: config.policy,
            hosted_zones: config.hosted_zones.clone(),
            cloudmap_namespaces: config.cloudmap_namespaces.clone(),
        }
    }
}

/// The outcome of planning.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// In the order they must be applied.
    pub changes: Vec<PlannedChange>,
    /// Deletions the policy or a failed read held back.
    pub held_back: Vec<PlannedChange>,
    pub services: Vec<ServiceStatus>,
    /// Problems of the pass as a whole.
    pub problems: Vec<String>,
    /// Target groups whose health decides a next step and was not read: the runtime reads
    /// them and plans again.
    pub health_wanted: Vec<String>,
    /// Owned resources seen, by kind.
    managed: BTreeMap<&'static str, usize>,
}

impl Plan {
    pub fn managed_resource_counts(&self) -> impl Iterator<Item = (&'static str, usize)> + '_ {
        self.managed.iter().map(|(k, v)| (*k, *v))
    }
}

/// Age order for conflicts: older services (creation time, then ARN) win.
fn age_key(s: &EcsService) -> (i64, &str) {
    (s.created_at.unwrap_or(i64::MAX), s.arn.as_str())
}

fn cluster_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Cluster of a service ARN (`arn:...:service/CLUSTER/NAME`); old-format ARNs have none.
fn cluster_of_service_arn(arn: &str) -> Option<&str> {
    let rest = arn.split(":service/").nth(1)?;
    let (cluster, _) = rest.split_once('/')?;
    Some(cluster)
}

/// Which services need task reads, and which owned target groups need target reads, for
/// `alb.targets=direct`.
pub fn direct_reads(
    config: &PlanConfig,
    observed: &Snapshot,
    intents: &[(EcsService, ServiceIntent)],
) -> (Vec<(String, String, String)>, Vec<String>) {
    let mut services = Vec::new();
    let mut groups = Vec::new();
    for (service, intent) in intents {
        if let ServiceIntent::Publish { intent, .. } = intent
            && intent.targets == TargetsMode::Direct
        {
            services.push((
                service.cluster_arn.clone(),
                service.name.clone(),
                service.arn.clone(),
            ));
            groups.extend(
                observed
                    .target_groups
                    .iter()
                    .filter(|t| {
                        config.ownership.owns(&t.tags)
                            && service_of(&t.tags) == Some(service.arn.as_str())
                    })
                    .map(|t| t.arn.clone()),
            );
        }
    }
    (services, groups)
}

/// Owned resources, indexed.
struct Owned<'a> {
    groups: BTreeMap<&'a str, Vec<&'a TargetGroup>>,
    rules: BTreeMap<&'a str, Vec<&'a Rule>>,
    group_arns: BTreeSet<&'a str>,
}

impl<'a> Owned<'a> {
    fn new(ownership: &Ownership, observed: &'a Snapshot) -> Self {
        let mut groups: BTreeMap<&str, Vec<&TargetGroup>> = BTreeMap::new();
        let mut group_arns = BTreeSet::new();
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
        let mut rules: BTreeMap<&str, Vec<&Rule>> = BTreeMap::new();
        for r in observed
            .rules
            .iter()
            .filter(|r| !r.is_default() && ownership.owns(&r.tags))
        {
            if let Some(s) = service_of(&r.tags) {
                rules.entry(s).or_default().push(r);
            }
        }
        Self {
            groups,
            rules,
            group_arns,
        }
    }

    fn resources(&self, service_arn: &str) -> Vec<ResourceRef> {
        let mut out: Vec<ResourceRef> = self
            .groups
            .get(service_arn)
            .into_iter()
            .flatten()
            .map(|g| ResourceRef {
                kind: "target-group".into(),
                id: g.arn.clone(),
            })
            .collect();
        out.extend(
            self.rules
                .get(service_arn)
                .into_iter()
                .flatten()
                .map(|r| ResourceRef {
                    kind: "listener-rule".into(),
                    id: r.arn.clone(),
                }),
        );
        out
    }
}

fn status(
    service: &EcsService,
    state: ServiceState,
    intent: Option<&Intent>,
    resources: Vec<ResourceRef>,
) -> ServiceStatus {
    ServiceStatus {
        cluster: cluster_name(&service.cluster_arn).to_string(),
        service: service.name.clone(),
        service_arn: service.arn.clone(),
        state,
        intent: intent.map(Intent::summary).unwrap_or_default(),
        hosts: intent.map(|i| i.hosts.clone()).unwrap_or_default(),
        resources,
        problems: Vec::new(),
        warnings: Vec::new(),
        waiting: Vec::new(),
        last_change: None,
    }
}

fn problem(key: Option<&str>, reason: impl Into<String>) -> Problem {
    Problem {
        key: key.map(str::to_string),
        reason: reason.into(),
    }
}

/// Resolves a service's listener and ALB, or says why not.
fn resolve<'a>(
    config: &PlanConfig,
    observed: &'a Snapshot,
    intent: &Intent,
) -> Result<(String, &'a crate::state::LoadBalancer), Problem> {
    let arn = match &intent.listener {
        ListenerRef::Name(name) => config.listeners.get(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = config.listeners.keys().map(String::as_str).collect();
            problem(
                Some("alb.listener"),
                format!(
                    "alb.listener={name}: no --listener of that name (known: {})",
                    known.join(", ")
                ),
            )
        })?,
        ListenerRef::Arn(arn) => {
            if !config.listeners.values().any(|a| a == arn) {
                return Err(problem(
                    Some("alb.listener"),
                    format!(
                        "alb.listener={arn}: not a listener given with --listener; ecs-ingress only writes to those"
                    ),
                ));
            }
            arn.clone()
        }
    };
    if observed.missing_listeners.contains(&arn) {
        let name = config
            .listeners
            .iter()
            .find(|(_, a)| **a == arn)
            .map(|(n, _)| n.as_str())
            .unwrap_or("default");
        return Err(problem(
            None,
            format!(
                "listener {arn} (--listener {name}) does not exist: fix the flag or recreate the listener; what this service has is kept"
            ),
        ));
    }
    let listener = observed.listeners.get(&arn).ok_or_else(|| {
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
    Ok((arn, lb))
}

/// Plans one pass.
pub fn plan(
    config: &PlanConfig,
    observed: &Snapshot,
    intents: &[(EcsService, ServiceIntent)],
) -> Plan {
    let owned = Owned::new(&config.ownership, observed);
    let mut out = Plan::default();
    out.managed
        .insert("target-group", owned.groups.values().map(Vec::len).sum());
    out.managed
        .insert("listener-rule", owned.rules.values().map(Vec::len).sum());
    let mut changes: Vec<PlannedChange> = Vec::new();

    let mut ordered: Vec<&(EcsService, ServiceIntent)> = intents.iter().collect();
    ordered.sort_by(|a, b| age_key(&a.0).cmp(&age_key(&b.0)));
    // A service read twice (a cluster named twice) is one service: it must never be its
    // own older rival.
    ordered.dedup_by(|a, b| a.0.arn == b.0.arn);
    let services_seen: BTreeSet<&str> = intents.iter().map(|(s, _)| s.arn.as_str()).collect();

    // 1. Resolve every publishable service; collect statuses of the others.
    let mut candidates: Vec<(DesiredService<'_>, Vec<String>)> = Vec::new();
    let mut kept: BTreeSet<&str> = BTreeSet::new();
    let mut withdrawn: Vec<(&EcsService, &ServiceIntent)> = Vec::new();
    for (service, intent) in &ordered {
        match intent {
            ServiceIntent::Unmanaged | ServiceIntent::Withdraw { .. } => {
                if owned.groups.contains_key(service.arn.as_str())
                    || owned.rules.contains_key(service.arn.as_str())
                {
                    withdrawn.push((service, intent));
                }
            }
            ServiceIntent::Invalid { errors, warnings } => {
                kept.insert(&service.arn);
                let mut s = status(
                    service,
                    ServiceState::Invalid,
                    None,
                    owned.resources(&service.arn),
                );
                s.problems = errors
                    .iter()
                    .map(|e| problem(Some(&e.key), e.to_string()))
                    .collect();
                s.warnings = warnings.clone();
                out.services.push(s);
            }
            ServiceIntent::Publish { intent, warnings } => {
                let unsupported_controller =
                    intent.targets == TargetsMode::Ecs && service.deployment_controller != "ECS";
                let resolved = if unsupported_controller {
                    Err(problem(
                        Some("alb.targets"),
                        format!(
                            "alb.targets=ecs needs the ECS deployment controller, this service uses {}; set alb.targets=direct",
                            service.deployment_controller
                        ),
                    ))
                } else {
                    resolve(config, observed, intent)
                };
                match resolved {
                    Ok((listener_arn, lb)) => candidates.push((
                        desired_service(
                            &config.ownership,
                            service,
                            intent,
                            &listener_arn,
                            lb,
                            observed.read_at,
                        ),
                        warnings.clone(),
                    )),
                    Err(p) => {
                        kept.insert(&service.arn);
                        let state = if p.key.is_none() || !observed.complete() {
                            ServiceState::Error
                        } else {
                            ServiceState::Invalid
                        };
                        let mut s =
                            status(service, state, Some(intent), owned.resources(&service.arn));
                        s.problems.push(p);
                        s.warnings = warnings.clone();
                        out.services.push(s);
                    }
                }
            }
        }
    }

    // 2. Conflicts (older wins) and quotas, in age order.
    let mut claims: BTreeMap<(String, String, String), String> = BTreeMap::new();
    let mut explicit: BTreeMap<(String, u32), String> = BTreeMap::new();
    let mut rules_per_alb: BTreeMap<String, usize> = observed.rules_per_load_balancer.clone();
    let rules_quota = observed.rules_quota.unwrap_or(MAX_RULES_PER_ALB);
    let mut groups_per_alb: BTreeMap<String, usize> = BTreeMap::new();
    for g in &observed.target_groups {
        let distinct: BTreeSet<&String> = g.load_balancer_arns.iter().collect();
        for lb in distinct {
            *groups_per_alb.entry(lb.clone()).or_default() += 1;
        }
    }
    // Rules of others, per listener: each candidate checks only its own listener's.
    let mut foreign_rules: BTreeMap<&str, Vec<&Rule>> = BTreeMap::new();
    for r in observed
        .rules
        .iter()
        .filter(|r| !r.is_default() && !config.ownership.owns(&r.tags))
    {
        foreign_rules
            .entry(r.listener_arn.as_str())
            .or_default()
            .push(r);
    }
    let tg_by_name: BTreeMap<&str, &TargetGroup> = observed
        .target_groups
        .iter()
        .map(|g| (g.name.as_str(), g))
        .collect();
    let mut winners: Vec<DesiredService<'_>> = Vec::new();
    for (desired, warnings) in candidates {
        let service = desired.service;
        let my_rules = owned
            .rules
            .get(service.arn.as_str())
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut problems = Vec::new();
        let mut state = ServiceState::Conflict;
        let my_claims: Vec<(String, String, String)> = desired
            .rules
            .iter()
            .flat_map(|r| {
                let paths = if r.paths.is_empty() {
                    vec![String::new()]
                } else {
                    r.paths.clone()
                };
                r.hosts
                    .iter()
                    .flat_map(move |h| paths.clone().into_iter().map(move |p| (h.clone(), p)))
                    .collect::<Vec<_>>()
            })
            .map(|(h, p)| (desired.listener_arn.clone(), h, p))
            .collect();
        for claim in &my_claims {
            if let Some(holder) = claims.get(claim) {
                problems.push(problem(
                    Some("alb.host"),
                    format!(
                        "host {}{} is already routed by older service {holder}",
                        claim.1,
                        if claim.2.is_empty() {
                            String::new()
                        } else {
                            format!(" path {}", claim.2)
                        }
                    ),
                ));
            }
        }
        for rule in foreign_rules
            .get(desired.listener_arn.as_str())
            .into_iter()
            .flatten()
        {
            let paths: Vec<String> = if rule.paths.is_empty() {
                vec![String::new()]
            } else {
                rule.paths.clone()
            };
            let hit = my_claims.iter().find(|(_, h, p)| {
                rule.other_conditions == 0 && rule.hosts.contains(h) && paths.contains(p)
            });
            if let Some((_, h, _)) = hit {
                problems.push(problem(
                    Some("alb.host"),
                    format!(
                        "host {h} is already routed by a rule ecs-ingress does not own ({}, priority {}); it is left alone",
                        rule.arn,
                        rule.priority.unwrap_or_default()
                    ),
                ));
            }
            if let Some(p) = rule.priority
                && desired.rules.iter().any(|d| d.explicit_priority == Some(p))
            {
                problems.push(problem(
                    Some("alb.priority"),
                    format!(
                        "priority {p} is taken by a rule ecs-ingress does not own ({})",
                        rule.arn
                    ),
                ));
            }
        }
        for r in &desired.rules {
            if let Some(p) = r.explicit_priority {
                if p > 50_000 {
                    problems.push(problem(
                        Some("alb.priority"),
                        format!(
                            "priority {p} is above 50000 (the service needs {} rules)",
                            desired.rules.len()
                        ),
                    ));
                } else if let Some(holder) = explicit.get(&(desired.listener_arn.clone(), p)) {
                    problems.push(problem(
                        Some("alb.priority"),
                        format!("priority {p} is already used by older service {holder}"),
                    ));
                }
            }
        }
        if let Some(existing) = tg_by_name.get(desired.target_group.name.as_str())
            && !config.ownership.owns(&existing.tags)
        {
            problems.push(problem(
                None,
                format!("target group {} exists but is not owned by ecs-ingress ({}); it is not adopted", existing.name, existing.arn),
            ));
        }
        if problems.is_empty() {
            // Quotas: count only what this service adds.
            let lb = desired.load_balancer_arn.clone();
            let existing_on_lb = my_rules
                .iter()
                .filter(|r| {
                    observed
                        .listeners
                        .get(&r.listener_arn)
                        .is_some_and(|l| l.load_balancer_arn == lb)
                })
                .count();
            let new_rules = desired.rules.len().saturating_sub(existing_on_lb);
            let has_group = tg_by_name
                .get(desired.target_group.name.as_str())
                .is_some_and(|g| g.load_balancer_arns.contains(&lb));
            let new_groups = usize::from(!has_group);
            let rules_now = rules_per_alb.get(&lb).copied().unwrap_or(0);
            let groups_now = groups_per_alb.get(&lb).copied().unwrap_or(0);
            if new_rules > 0 && rules_now + new_rules > rules_quota {
                state = ServiceState::Quota;
                problems.push(problem(
                    None,
                    format!("load balancer {lb} would have {} rules across its listeners, over its quota of {rules_quota}", rules_now + new_rules),
                ));
            } else if new_groups > 0 && groups_now + new_groups > MAX_TARGET_GROUPS_PER_ALB {
                state = ServiceState::Quota;
                problems.push(problem(
                    None,
                    format!("load balancer {lb} would have {} target groups, over its quota of {MAX_TARGET_GROUPS_PER_ALB}", groups_now + new_groups),
                ));
            } else {
                *rules_per_alb.entry(lb.clone()).or_default() += new_rules;
                *groups_per_alb.entry(lb).or_default() += new_groups;
            }
        }
        if problems.is_empty() {
            let name = format!("{}/{}", cluster_name(&service.cluster_arn), service.name);
            for c in my_claims {
                claims.insert(c, name.clone());
            }
            for r in &desired.rules {
                if let Some(p) = r.explicit_priority {
                    explicit.insert((desired.listener_arn.clone(), p), name.clone());
                }
            }
            winners.push(desired);
            let mut s = status(
                service,
                ServiceState::Published,
                Some(winners[winners.len() - 1].intent),
                owned.resources(&service.arn),
            );
            s.warnings = warnings;
            out.services.push(s);
        } else {
            let mut s = status(
                service,
                state,
                Some(desired.intent),
                owned.resources(&service.arn),
            );
            s.problems = problems;
            s.warnings = warnings;
            out.services.push(s);
            // A conflicting service keeps its target group and attachment (no ECS
            // redeploys while the conflict lasts) but not rules that now shadow the winner.
            if state == ServiceState::Conflict {
                for rule in my_rules {
                    changes.push(PlannedChange::new(
                        service,
                        Change::DeleteRule {
                            arn: rule.arn.clone(),
                        },
                        "service is in conflict: its rule must not shadow the winner",
                    ));
                }
            }
            kept.insert(&service.arn);
        }
    }

    // 3. Priorities per listener, then the changes of every winner.
    let placed = place_priorities(config, observed, &owned, &winners, &mut out);
    let mut ready: BTreeMap<&str, bool> = BTreeMap::new();
    let mut serving: BTreeMap<&str, String> = BTreeMap::new();
    let mut waiting: BTreeMap<&str, String> = BTreeMap::new();
    for (i, desired) in winners.iter().enumerate() {
        let outcome = service_changes(config, observed, &owned, desired, &placed, i, &mut changes);
        let arn = desired.service.arn.as_str();
        out.health_wanted.extend(outcome.health_wanted);
        if let Some(group) = outcome.serving {
            ready.insert(arn, has_healthy_targets(observed, &group) == Some(true));
            serving.insert(arn, group);
        }
        if let Some(w) = outcome.waiting {
            waiting.insert(arn, w);
        }
    }
    let mut renumbering: BTreeMap<String, Vec<(String, u32)>> = BTreeMap::new();
    for (listener, moves) in placed.moves {
        renumbering.entry(listener).or_default().extend(moves);
    }
    for (listener_arn, priorities) in renumbering {
        if !priorities.is_empty() {
            changes.push(PlannedChange {
                service_arn: None,
                service: listener_arn.clone(),
                change: Change::SetRulePriorities {
                    listener_arn,
                    priorities,
                },
                reason: "keep rule priorities unique and ordered by specificity".into(),
            });
        }
    }

    // 4. DNS for the winners; names of services that no longer ask for them go.
    // Names of services whose resources stay as they are (invalid, conflicting, or in a
    // cluster this controller does not watch) are neither rewritten nor withdrawn.
    let keep = |service_arn: &str| kept.contains(service_arn) || !watched(config, service_arn);
    let is_ready = |arn: &str| ready.get(arn).copied().unwrap_or(false);
    if !config.hosted_zones.is_empty() {
        plan_service_dns(
            config,
            observed,
            &winners,
            &is_ready,
            &keep,
            &mut changes,
            &mut out,
        );
    }
    plan_service_cloudmap(
        config,
        observed,
        &winners,
        &is_ready,
        &keep,
        &mut changes,
        &mut out,
    );
    // Names wait for healthy targets: read the serving group's health when it was not.
    for status in &mut out.services {
        let arn = status.service_arn.as_str();
        if !status.waiting.is_empty()
            && let Some(group) = serving.get(arn)
            && !observed.targets.contains_key(group)
        {
            out.health_wanted.push(group.clone());
        }
        if let Some(w) = waiting.get(arn) {
            status.waiting.push(w.clone());
        }
    }
    out.health_wanted.sort();
    out.health_wanted.dedup();

    // 5. Withdraw what belongs to services that no longer ask for it.
    for service_arn in owned
        .groups
        .keys()
        .chain(owned.rules.keys())
        .collect::<BTreeSet<_>>()
    {
        if services_seen.contains(service_arn) || kept.contains(service_arn) {
            continue;
        }
        if !watched(config, service_arn) {
            out.problems.push(format!(
                "resources owned by ecs-ingress for {service_arn} are left alone: its cluster is not watched by this controller"
            ));
            continue;
        }
        withdraw(&owned, service_arn, None, &mut changes, &mut out);
    }
    for (service, intent) in withdrawn {
        withdraw(&owned, &service.arn, Some(service), &mut changes, &mut out);
        if let (ServiceIntent::Withdraw { warnings }, Some(s)) = (intent, out.services.last_mut()) {
            s.warnings = warnings.clone();
        }
    }

    // 6. Policy and partial reads.
    let deletions_allowed = observed.complete() && config.policy == Policy::Sync;
    let updates_allowed = config.policy != Policy::CreateOnly;
    for c in changes {
        let allowed = if c.change.is_deletion() {
            deletions_allowed
        } else if c.change.is_update() {
            updates_allowed
        } else {
            true
        };
        if allowed {
            out.changes.push(c)
        } else {
            out.held_back.push(c)
        }
    }
    if !out.held_back.is_empty() {
        let why = if !observed.complete() {
            "a read failed this pass, so nothing is deleted".to_string()
        } else {
            format!("policy {:?} does not allow them", config.policy)
        };
        out.problems
            .push(format!("{} changes held back: {why}", out.held_back.len()));
    }
    out.changes.sort_by_key(|c| c.change.phase());
    // A service with pending changes is not published yet.
    let pending: BTreeSet<&str> = out
        .changes
        .iter()
        .filter_map(|c| c.service_arn.as_deref())
        .collect();
    for s in &mut out.services {
        if s.state == ServiceState::Published
            && (pending.contains(s.service_arn.as_str()) || !s.waiting.is_empty())
        {
            s.state = ServiceState::Pending;
        }
    }
    out.services
        .sort_by(|a, b| (&a.cluster, &a.service).cmp(&(&b.cluster, &b.service)));
    out
}

/// True when the service's cluster is one this controller watches: only then may it
/// withdraw what it owns for the service.
fn watched(config: &PlanConfig, service_arn: &str) -> bool {
    cluster_of_service_arn(service_arn).is_some_and(|c| {
        config
            .clusters
            .iter()
            .any(|w| w == c || w.ends_with(&format!("/{c}")))
    })
}

/// Runs the DNS planner for the winners and folds its outcome into the statuses.
fn plan_service_dns(
    config: &PlanConfig,
    observed: &Snapshot,
    winners: &[DesiredService<'_>],
    ready: &dyn Fn(&str) -> bool,
    keep: &dyn Fn(&str) -> bool,
    changes: &mut Vec<PlannedChange>,
    out: &mut Plan,
) {
    let zones: Vec<crate::state::HostedZone> = config
        .hosted_zones
        .iter()
        .filter_map(|id| observed.zones.get(id).cloned())
        .collect();
    let dns_winners: Vec<dns::DnsWinner<'_>> = winners
        .iter()
        .filter_map(|d| {
            Some(dns::DnsWinner {
                service: d.service,
                dns: &d.intent.dns,
                hosts: &d.intent.hosts,
                load_balancer: observed.load_balancers.get(&d.load_balancer_arn)?,
                ready: ready(&d.service.arn),
            })
        })
        .collect();
    let planned = dns::plan_dns(
        config.ownership.owner_id(),
        &zones,
        &observed.records,
        &dns_winners,
        keep,
    );
    out.managed.insert("dns-name", planned.managed);
    changes.extend(planned.changes);
    fold_name_outcomes(&planned.outcomes, &mut out.services);
}

/// Folds DNS or Cloud Map outcomes into the statuses: a name conflict leaves the ALB side
/// published but marks the service `dns-conflict`.
fn fold_name_outcomes(
    outcomes: &BTreeMap<String, dns::NameOutcome>,
    services: &mut [ServiceStatus],
) {
    for status in services {
        let Some(outcome) = outcomes.get(&status.service_arn) else {
            continue;
        };
        status.resources.extend(outcome.records.iter().cloned());
        status.warnings.extend(outcome.warnings.iter().cloned());
        if !outcome.waiting.is_empty() {
            status.waiting.push(format!(
                "DNS {} waits for healthy targets: a name is published only once it can be served",
                outcome.waiting.join(", ")
            ));
        }
        if !outcome.conflicts.is_empty() {
            status.state = ServiceState::DnsConflict;
            status.problems.extend(outcome.conflicts.iter().cloned());
        }
    }
}

/// Runs the Cloud Map planner for the winners that ask for it. With no managed namespace,
/// Cloud Map is not read, so nothing is withdrawn there either; a tagged service is told so.
fn plan_service_cloudmap(
    config: &PlanConfig,
    observed: &Snapshot,
    winners: &[DesiredService<'_>],
    ready: &dyn Fn(&str) -> bool,
    keep: &dyn Fn(&str) -> bool,
    changes: &mut Vec<PlannedChange>,
    out: &mut Plan,
) {
    // Like a DNS name, an instance is registered only once requests can be served; one
    // that exists stays managed.
    let registered = |arn: &str| {
        observed.cloudmap.instances.values().flatten().any(|i| {
            i.attributes
                .get(ownership::SERVICE_ATTRIBUTE)
                .map(String::as_str)
                == Some(arn)
                && i.attributes
                    .get(ownership::OWNER_ATTRIBUTE)
                    .map(String::as_str)
                    == Some(config.ownership.owner_id())
        })
    };
    let mut cm_waiting: BTreeSet<&str> = BTreeSet::new();
    let cm_winners: Vec<cloudmap::CloudMapWinner<'_>> = winners
        .iter()
        .filter(|d| {
            let go =
                d.intent.cloudmap.is_none() || ready(&d.service.arn) || registered(&d.service.arn);
            if !go {
                cm_waiting.insert(d.service.arn.as_str());
            }
            go
        })
        .filter_map(|d| {
            Some(cloudmap::CloudMapWinner {
                service: d.service,
                intent: d.intent.cloudmap.as_ref()?,
                load_balancer: observed.load_balancers.get(&d.load_balancer_arn)?,
            })
        })
        .collect();
    if config.cloudmap_namespaces.is_empty() && cm_winners.is_empty() {
        return;
    }
    for name in &observed.cloudmap.missing {
        out.problems.push(format!(
            "Cloud Map namespace {name} (--cloudmap-namespace) was not found"
        ));
    }
    // A service waiting for health keeps its Cloud Map service (made or not) as it is.
    let keep_waiting = |arn: &str| keep(arn) || cm_waiting.contains(arn);
    let planned = cloudmap::plan_cloudmap(
        &config.ownership,
        &observed.cloudmap,
        &cm_winners,
        &keep_waiting,
    );
    for status in &mut out.services {
        if cm_waiting.contains(status.service_arn.as_str()) {
            status
                .waiting
                .push("Cloud Map registration waits for healthy targets".into());
        }
    }
    out.managed.insert("cloudmap-instance", planned.managed);
    changes.extend(planned.changes);
    fold_name_outcomes(&planned.outcomes, &mut out.services);
}

/// Priorities chosen for every winner's rules, and moves of existing rules.
struct Placed {
    /// (winner index, rule index) → priority.
    priorities: BTreeMap<(usize, usize), u32>,
    /// Listener → existing rules to move.
    moves: BTreeMap<String, Vec<(String, u32)>>,
}

fn existing_rule<'a>(
    owned: &Owned<'a>,
    desired: &DesiredService<'_>,
    key: &str,
) -> Option<&'a Rule> {
    owned
        .rules
        .get(desired.service.arn.as_str())?
        .iter()
        .copied()
        .find(|r| r.listener_arn == desired.listener_arn && resource_of(&r.tags) == Some(key))
}

fn place_priorities(
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
            by_listener
                .entry(d.listener_arn.as_str())
                .or_default()
                .push((i, j));
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
        let occupied: BTreeSet<u32> = observed
            .rules
            .iter()
            .filter(|r| r.listener_arn == listener && !mine.contains(r.arn.as_str()))
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

/// What planning one winner found besides its changes.
#[derive(Debug, Default)]
struct WinnerOutcome {
    /// The group its rules forward to once this pass is applied (`None`: created this pass).
    serving: Option<String>,
    /// Target groups whose health decides the next step and was not read this pass.
    health_wanted: Vec<String>,
    /// Why it is not fully published yet.
    waiting: Option<String>,
}

/// True when the read health of `arn` shows a healthy target.
fn has_healthy_targets(observed: &Snapshot, arn: &str) -> Option<bool> {
    observed.targets.get(arn).map(|targets| {
        targets
            .iter()
            .any(|t| t.state == TargetHealthState::Healthy)
    })
}

fn service_changes(
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
    let my_groups = owned
        .groups
        .get(service.arn.as_str())
        .map(Vec::as_slice)
        .unwrap_or_default();
    let my_rules = owned
        .rules
        .get(service.arn.as_str())
        .map(Vec::as_slice)
        .unwrap_or_default();

    let target = target_group_changes(service, spec, my_groups, changes);
    // A replacement (an immutable setting changed): traffic stays on the group the rules
    // forward to now until the new one has healthy targets; meanwhile the new group is
    // staged at weight 0 in the rules (so ECS accepts it) and attached beside the old one.
    let serving_old: Option<&TargetGroup> = my_rules
        .iter()
        .flat_map(|r| &r.forward_target_groups)
        .filter_map(|arn| my_groups.iter().find(|g| g.arn == *arn))
        .find(|g| g.name != spec.name)
        .copied();
    let new_ready = match &target {
        TargetGroupRef::Existing(arn) => has_healthy_targets(observed, arn),
        TargetGroupRef::New(_) => Some(false),
    };
    let replacing = serving_old.filter(|_| new_ready != Some(true));
    if let (Some(old), TargetGroupRef::Existing(arn)) = (replacing, &target) {
        if new_ready.is_none() {
            outcome.health_wanted.push(arn.clone());
        }
        outcome.waiting = Some(format!(
            "replacing target group {} with {}: waiting for healthy targets in the new group{}; traffic stays on the old one",
            old.name,
            spec.name,
            created_ago(observed, my_groups, arn)
        ));
    } else if let Some(old) = replacing {
        outcome.waiting = Some(format!(
            "replacing target group {} with {}: the new group is created this pass; traffic stays on the old one",
            old.name, spec.name
        ));
    }
    let (forward, staged) = match replacing {
        Some(old) => (
            TargetGroupRef::Existing(old.arn.clone()),
            Some(target.clone()),
        ),
        None => (target.clone(), None),
    };
    outcome.serving = match &forward {
        TargetGroupRef::Existing(arn) => Some(arn.clone()),
        TargetGroupRef::New(_) => None,
    };
    rule_changes(
        config, owned, desired, placed, index, my_rules, &forward, &staged, changes,
    );
    attachment_changes(observed, owned, desired, &target, replacing, changes);
    if desired.intent.targets == TargetsMode::Direct {
        direct_changes(observed, desired, &target, changes);
    }

    // Old target groups of this service (replaced, or from another VPC): after everything,
    // except the one still serving while its replacement gets healthy.
    for g in my_groups
        .iter()
        .filter(|g| g.name != spec.name)
        .filter(|g| replacing.is_none_or(|old| old.arn != g.arn))
    {
        changes.push(PlannedChange::new(
            service,
            Change::DeleteTargetGroup {
                arn: g.arn.clone(),
                name: g.name.clone(),
            },
            "replaced",
        ));
    }
    outcome
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

/// Creates the desired group, or repairs the mutable settings of the existing one.
fn target_group_changes(
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
                spec: spec.clone(),
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
    if g.health_check != spec.health_check {
        changes.push(PlannedChange::new(
            service,
            Change::ModifyHealthCheck {
                arn: g.arn.clone(),
                name: g.name.clone(),
                health_check: spec.health_check.clone(),
            },
            format!(
                "health check differs: {}",
                change::describe_health_check_drift(&g.health_check, &spec.health_check)
            ),
        ));
    }
    let drift: Vec<String> = spec
        .attributes
        .iter()
        .filter(|(k, v)| g.attributes.get(*k) != Some(*v))
        .map(|(k, v)| {
            format!(
                "{k} {} → {v}",
                g.attributes.get(k).map(String::as_str).unwrap_or("unset")
            )
        })
        .collect();
    if !drift.is_empty() {
        changes.push(PlannedChange::new(
            service,
            Change::ModifyAttributes {
                arn: g.arn.clone(),
                name: g.name.clone(),
                attributes: spec.attributes.clone(),
            },
            format!("attributes differ: {}", drift.join(", ")),
        ));
    }
    TargetGroupRef::Existing(g.arn.clone())
}

#[allow(clippy::too_many_arguments)]
fn rule_changes(
    config: &PlanConfig,
    owned: &Owned<'_>,
    desired: &DesiredService<'_>,
    placed: &Placed,
    index: usize,
    my_rules: &[&Rule],
    forward: &TargetGroupRef,
    staged: &Option<TargetGroupRef>,
    changes: &mut Vec<PlannedChange>,
) {
    let service = desired.service;
    let is = |r: &TargetGroupRef, arns: &[String]| match r {
        TargetGroupRef::Existing(a) => arns.len() == 1 && arns[0] == *a,
        TargetGroupRef::New(_) => false,
    };
    let mut wanted_rules = BTreeSet::new();
    for (j, rule) in desired.rules.iter().enumerate() {
        let Some(&priority) = placed.priorities.get(&(index, j)) else {
            continue; // The listener's band is full: reported as a pass problem.
        };
        match existing_rule(owned, desired, &rule.key) {
            Some(existing) => {
                wanted_rules.insert(existing.arn.as_str());
                let staged_differs = match staged {
                    Some(s) => !is(s, &existing.staged_target_groups),
                    None => !existing.staged_target_groups.is_empty(),
                };
                if existing.hosts != rule.hosts
                    || existing.paths != rule.paths
                    || !is(forward, &existing.forward_target_groups)
                    || staged_differs
                    || existing.other_conditions > 0
                    || existing.other_actions > 0
                {
                    changes.push(PlannedChange::new(
                        service,
                        Change::ModifyRule {
                            arn: existing.arn.clone(),
                            hosts: rule.hosts.clone(),
                            paths: rule.paths.clone(),
                            target: forward.clone(),
                            staged: staged.clone(),
                        },
                        if staged.is_some() {
                            "stage the replacement target group beside the serving one"
                        } else {
                            "rule conditions or action differ"
                        },
                    ));
                }
            }
            None => changes.push(PlannedChange::new(
                service,
                Change::CreateRule {
                    listener_arn: desired.listener_arn.clone(),
                    priority,
                    hosts: rule.hosts.clone(),
                    paths: rule.paths.clone(),
                    target: forward.clone(),
                    tags: config.ownership.tags(&service.arn, &rule.key),
                },
                "new rule",
            )),
        }
    }
    for rule in my_rules
        .iter()
        .filter(|r| !wanted_rules.contains(r.arn.as_str()))
    {
        changes.push(PlannedChange::new(
            service,
            Change::DeleteRule {
                arn: rule.arn.clone(),
            },
            "rule no longer wanted",
        ));
    }
}

/// The service's `loadBalancers`: entries of others kept (unless their target group no
/// longer exists: ECS would refuse the whole update), ours for the serving group and, while
/// a replacement gets healthy, for the new one beside it.
fn attachment_changes(
    observed: &Snapshot,
    owned: &Owned<'_>,
    desired: &DesiredService<'_>,
    target: &TargetGroupRef,
    replacing: Option<&TargetGroup>,
    changes: &mut Vec<PlannedChange>,
) {
    let service = desired.service;
    let exists = |arn: &str| {
        !observed.target_groups_complete || observed.target_groups.iter().any(|g| g.arn == arn)
    };
    let foreign: Vec<LoadBalancerAttachment> = service
        .load_balancers
        .iter()
        .filter(|lb| match lb.target_group_arn.as_deref() {
            Some(a) => !owned.group_arns.contains(a) && exists(a),
            None => true,
        })
        .cloned()
        .collect();
    let ecs = desired.intent.targets == TargetsMode::Ecs;
    let ours = |target: TargetGroupRef| AttachmentEntry::Ours {
        target,
        container: desired.intent.container.clone(),
        port: i32::from(desired.intent.container_port),
    };
    let mut wanted: Vec<AttachmentEntry> =
        foreign.iter().cloned().map(AttachmentEntry::Keep).collect();
    let old_entry = replacing.and_then(|old| {
        service
            .load_balancers
            .iter()
            .find(|lb| lb.target_group_arn.as_deref() == Some(old.arn.as_str()))
    });
    if ecs {
        if let Some(entry) = old_entry {
            wanted.push(AttachmentEntry::Keep(entry.clone()));
        }
        wanted.push(ours(target.clone()));
    }
    let current_matches = match target {
        TargetGroupRef::New(_) => !ecs && foreign.len() == service.load_balancers.len(),
        TargetGroupRef::Existing(arn) => {
            let mut want: Vec<LoadBalancerAttachment> = foreign.clone();
            if ecs {
                want.extend(old_entry.cloned());
                want.push(LoadBalancerAttachment {
                    target_group_arn: Some(arn.clone()),
                    load_balancer_name: None,
                    container_name: Some(desired.intent.container.clone()),
                    container_port: Some(i32::from(desired.intent.container_port)),
                });
            }
            let mut have = service.load_balancers.clone();
            want.sort();
            have.sort();
            want == have
        }
    };
    if !current_matches {
        changes.push(PlannedChange::new(
            service,
            Change::UpdateServiceLoadBalancers {
                cluster: service.cluster_arn.clone(),
                service: service.name.clone(),
                load_balancers: wanted,
                publish: true,
            },
            "the service's loadBalancers must carry its target group (starts an ECS deployment)",
        ));
    }
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

/// Every owned resource of a service that no longer asks for any.
fn withdraw(
    owned: &Owned<'_>,
    service_arn: &str,
    service: Option<&EcsService>,
    changes: &mut Vec<PlannedChange>,
    out: &mut Plan,
) {
    let display = service
        .map(|s| format!("{}/{}", cluster_name(&s.cluster_arn), s.name))
        .unwrap_or_else(|| service_arn.to_string());
    let push = |changes: &mut Vec<PlannedChange>, change: Change, reason: &str| {
        changes.push(PlannedChange {
            service_arn: Some(service_arn.to_string()),
            service: display.clone(),
            change,
            reason: reason.into(),
        })
    };
    let reason = if service.is_some() {
        "routing tags removed"
    } else {
        "service deleted"
    };
    for rule in owned.rules.get(service_arn).into_iter().flatten() {
        push(
            changes,
            Change::DeleteRule {
                arn: rule.arn.clone(),
            },
            reason,
        );
    }
    if let Some(s) = service {
        let remaining: Vec<AttachmentEntry> = s
            .load_balancers
            .iter()
            .filter(|lb| {
                !lb.target_group_arn
                    .as_deref()
                    .is_some_and(|a| owned.group_arns.contains(a))
            })
            .cloned()
            .map(AttachmentEntry::Keep)
            .collect();
        if remaining.len() != s.load_balancers.len() {
            push(
                changes,
                Change::UpdateServiceLoadBalancers {
                    cluster: s.cluster_arn.clone(),
                    service: s.name.clone(),
                    load_balancers: remaining,
                    publish: false,
                },
                reason,
            );
        }
    }
    for g in owned.groups.get(service_arn).into_iter().flatten() {
        push(
            changes,
            Change::DeleteTargetGroup {
                arn: g.arn.clone(),
                name: g.name.clone(),
            },
            reason,
        );
    }
    if let Some(s) = service {
        out.services.push(status(
            s,
            ServiceState::Withdrawn,
            None,
            owned.resources(service_arn),
        ));
    }
}

#[cfg(test)]
mod tests;
