//! Targeted passes: events name a few services; those are read afresh with what they touch
//! and laid over the last full pass's reads ([`Baseline`]); the unchanged planner plans the
//! whole estate from that, and only the targeted services' changes on freshly read
//! resources are kept ([`keep_targeted`]). A decision the fresh reads cannot settle — a
//! renumbering of a listener, or taking something from a service that was not targeted —
//! hands the pass to a full one.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use rustc_hash::FxHashMap;

use super::intents::intents_reusing;
use super::{Controller, PassReport, PlannedPass};
use crate::aws::Aws;
use crate::config::{Config, cluster_name};
use crate::events::{EventTarget, ServiceArn, task_definition_family};
use crate::model::{Intent, ListenerRef, ServiceIntent};
use crate::observe::targeted::{self as reads, Baseline, Fresh};
use crate::observe::{self, Observation};
use crate::ownership::{Ownership, service_of};
use crate::plan::{self, Change, Plan, PlanConfig, PlannedChange};
use crate::snapshot::Snapshot;
use crate::state::EcsService;
use crate::status::{ServiceState, ServiceStatus};
use crate::telemetry::PassKind;

/// What a targeted pass reads afresh besides what the services' intents lead to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Service ARNs by cluster name.
    pub services: BTreeMap<String, BTreeSet<String>>,
    /// (zone id, name) changed by someone else.
    pub names: BTreeSet<(String, String)>,
    /// Target groups whose cached attributes are stale (changed by someone else).
    pub stale_attributes: BTreeSet<String>,
}

impl Scope {
    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    pub fn service_arns(&self) -> BTreeSet<String> {
        self.services.values().flatten().cloned().collect()
    }

    /// Both scopes' services and names.
    pub fn merge(&mut self, other: Scope) {
        for (cluster, arns) in other.services {
            self.services.entry(cluster).or_default().extend(arns);
        }
        self.names.extend(other.names);
        self.stale_attributes.extend(other.stale_attributes);
    }

    fn add_service(&mut self, arn: &ServiceArn) {
        self.services
            .entry(arn.cluster().to_string())
            .or_default()
            .insert(arn.as_str().to_string());
    }
}

/// What events ask for, given the last full pass's reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeDecision {
    /// Some event could not be narrowed down (or there is no complete base yet).
    Full,
    Targeted(Scope),
    /// Nothing ecs-ingress manages is concerned (a resource it does not own, a cluster it
    /// does not watch).
    Nothing,
}

/// Resolves event targets to services with the ownership index of the last full pass: a
/// load-balancer resource or DNS name to the service that owns it, a task-definition family
/// to the services running it.
pub fn resolve(
    targets: &BTreeSet<EventTarget>,
    base: &Snapshot,
    config: &Config,
    ownership: &Ownership,
) -> ScopeDecision {
    let mut scope = Scope::default();
    for target in targets {
        match target {
            EventTarget::Everything => return ScopeDecision::Full,
            EventTarget::Service(arn) => scope.add_service(arn),
            EventTarget::TaskDefinitionFamily(family) => base
                .services
                .iter()
                .filter(|s| task_definition_family(&s.task_definition).as_ref() == Some(family))
                .filter_map(|s| ServiceArn::parse(&s.arn))
                .for_each(|arn| scope.add_service(&arn)),
            EventTarget::ElbResource { arn, attributes } => {
                if let Some(service) = elb_owner(base, ownership, arn) {
                    scope.add_service(&service);
                    if *attributes {
                        scope.stale_attributes.insert(arn.clone());
                    }
                }
            }
            EventTarget::DnsName { zone_id, name } => {
                if !config.hosted_zones.contains(zone_id) {
                    continue;
                }
                let holders = name_holders(base, ownership, zone_id, name);
                if !holders.is_empty() {
                    scope.names.insert((zone_id.clone(), name.clone()));
                }
                holders.iter().for_each(|s| scope.add_service(s));
            }
        }
    }
    scope.services.retain(|cluster, _| watched(config, cluster));
    if scope.is_empty() {
        ScopeDecision::Nothing
    } else {
        ScopeDecision::Targeted(scope)
    }
}

/// The service owning a rule or target group, by its ownership tags in the base.
fn elb_owner(base: &Snapshot, ownership: &Ownership, arn: &str) -> Option<ServiceArn> {
    let tags = base
        .rules
        .iter()
        .find(|r| r.arn == arn)
        .map(|r| &r.tags)
        .or_else(|| {
            base.target_groups
                .iter()
                .find(|g| g.arn == arn)
                .map(|g| &g.tags)
        })?;
    if !ownership.owns(tags) {
        return None;
    }
    service_of(tags).and_then(ServiceArn::parse)
}

/// The services a name's marker lists, when the marker is this controller's.
fn name_holders(
    base: &Snapshot,
    ownership: &Ownership,
    zone_id: &str,
    name: &str,
) -> Vec<ServiceArn> {
    let marker = crate::ownership::marker::marker_name(name);
    base.records
        .get(zone_id)
        .into_iter()
        .flatten()
        .filter(|r| r.name == marker)
        .flat_map(|r| r.values.iter())
        .filter_map(|v| crate::ownership::marker::parse_marker(v))
        .filter(|m| m.owner == ownership.owner_id())
        .flat_map(|m| m.services)
        .filter_map(|s| ServiceArn::parse(&s))
        .collect()
}

fn watched(config: &Config, cluster: &str) -> bool {
    config.clusters.iter().any(|c| cluster_name(c) == cluster)
}

/// What is left of a plan for a targeted pass, or why it must be a full pass.
#[derive(Debug)]
pub enum Kept {
    Plan(Plan),
    /// A decision the fresh reads cannot settle: the full pass makes it.
    NeedsFullPass(String),
}

/// Keeps the changes a targeted pass may make: those of targeted services, on resources
/// read afresh in this pass (a deletion especially), never a Cloud Map change (Cloud Map is
/// only read by full passes). `before` holds every service's status after the last pass: a
/// plan that would change the state of a service that was not targeted, or renumber a
/// freshly read listener, needs a full pass.
pub fn keep_targeted(mut plan: Plan, fresh: &Fresh, before: &[Arc<ServiceStatus>]) -> Kept {
    if let Some(reason) = needs_full_pass(&plan, fresh, before) {
        return Kept::NeedsFullPass(reason);
    }
    let keep = |c: &PlannedChange| {
        let for_fresh = match &c.change {
            // Planned for all the services that need it, ahead of their pipelines.
            Change::AddListenerCertificate { for_services, .. } => {
                for_services.iter().any(|s| fresh.services.contains(s))
            }
            _ => c
                .service_arn
                .as_ref()
                .is_some_and(|s| fresh.services.contains(s)),
        };
        for_fresh && on_fresh_resources(&c.change, fresh)
    };
    plan.changes.retain(keep);
    plan.held_back.retain(keep);
    let targeted = |s: &ServiceStatus| fresh.services.contains(&s.service_arn);
    plan.services.retain(targeted);
    plan.services.extend(
        before
            .iter()
            .filter(|s| !targeted(s))
            .map(|s| ServiceStatus::clone(s)),
    );
    crate::status::sort_by_name(&mut plan.services);
    Kept::Plan(plan)
}

fn needs_full_pass(plan: &Plan, fresh: &Fresh, before: &[Arc<ServiceStatus>]) -> Option<String> {
    let renumbered = plan.changes.iter().find_map(|c| match &c.change {
        Change::SetRulePriorities { listener_arn, .. }
            if fresh.listeners.contains(listener_arn) =>
        {
            Some(listener_arn.clone())
        }
        _ => None,
    });
    if let Some(listener) = renumbered {
        return Some(format!("listener {listener} needs its rules renumbered"));
    }
    // A pool that grows or shrinks changes the room of every service of it.
    if let Some(c) = plan.changes.iter().find(|c| {
        matches!(
            c.change,
            Change::CreateLoadBalancer { .. } | Change::DeleteLoadBalancer { .. }
        )
    }) {
        return Some(format!("{}: {}", c.service, c.change));
    }
    // A service that was not targeted and would change state — lose a host to an older
    // service, take one over from a withdrawn one, hit a quota — is decided by a full pass.
    let state_before: FxHashMap<&str, ServiceState> = before
        .iter()
        .map(|s| (s.service_arn.as_str(), s.state))
        .collect();
    plan.services
        .iter()
        .filter(|s| !fresh.services.contains(&s.service_arn))
        .find(|s| {
            state_before
                .get(s.service_arn.as_str())
                .is_some_and(|state| *state != s.state)
        })
        .map(|s| {
            format!(
                "{}/{} would turn {} (it was not targeted)",
                s.cluster,
                s.service,
                s.state.as_str()
            )
        })
}

/// A change acts only on what this pass read afresh.
fn on_fresh_resources(change: &Change, fresh: &Fresh) -> bool {
    let name = |zone_id: &str, name: &str| {
        fresh
            .names
            .contains(&(zone_id.to_string(), name.to_string()))
    };
    match change {
        Change::DeleteRule { arn }
        | Change::ModifyRule { arn, .. }
        | Change::ModifyRuleConditions { arn, .. } => fresh.rules.contains(arn),
        Change::ModifyRuleWeights { rule, .. } => match rule {
            crate::plan::RuleRef::Existing(arn) => fresh.rules.contains(arn),
            crate::plan::RuleRef::New(_) => true,
        },
        Change::CreateRule { listener_arn, .. }
        | Change::SetRulePriorities { listener_arn, .. } => fresh.listeners.contains(listener_arn),
        Change::DeleteTargetGroup { arn, .. }
        | Change::DeregisterTargets { arn, .. }
        | Change::ModifyHealthCheck { arn, .. }
        | Change::ModifyAttributes { arn, .. } => fresh.target_groups.contains(arn),
        Change::UpsertRecords {
            zone_id, name: n, ..
        }
        | Change::DeleteRecords {
            zone_id, name: n, ..
        } => name(zone_id, n),
        Change::CreateCloudMapService { .. }
        | Change::RegisterInstance { .. }
        | Change::DeregisterInstance { .. }
        | Change::DeleteCloudMapService { .. }
        | Change::CreateLoadBalancer { .. }
        | Change::DeleteLoadBalancer { .. }
        // Shared by services: only a full pass sees everything that may need it.
        | Change::RevokeIngress { .. }
        | Change::RemoveListenerCertificate { .. } => false,
        Change::AddListenerCertificate { listener_arn, .. } => {
            fresh.listeners.contains(listener_arn)
        }
        Change::CreateTargetGroup { .. }
        | Change::UpdateServiceLoadBalancers { .. }
        | Change::UpdateServiceDeployment { .. }
        | Change::RegisterTargets { .. }
        // A creation; a duplicate of one made since the base was read is no error.
        | Change::AuthorizeIngress { .. } => true,
    }
}

/// Listeners a publishing intent may be placed on: every member of its pool (the given ones
/// and those ecs-ingress created, as the base saw them), or the one it names by ARN.
fn intent_listeners(config: &Config, observed: &Snapshot, intent: &Intent) -> Vec<String> {
    match &intent.listener {
        ListenerRef::Name(name) => config
            .pools
            .members
            .get(name)
            .into_iter()
            .flatten()
            .cloned()
            .chain(
                observed
                    .provisioned
                    .iter()
                    .filter(|p| p.pool == *name)
                    .filter_map(|p| p.listener_arn.clone()),
            )
            .collect(),
        ListenerRef::Arn(arn) => vec![arn.clone()],
    }
}

/// The DNS names an intent publishes, in the managed zones that could hold them (the
/// planner picks one; reading each candidate is cheap and never wrong).
fn intent_names(observed: &Snapshot, intent: &Intent) -> BTreeSet<(String, String)> {
    names_in_zones(observed, intent.dns.names.as_ref().unwrap_or(&intent.hosts))
}

/// `names` in every managed zone that could hold them.
fn names_in_zones(observed: &Snapshot, names: &[String]) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for name in names {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        for zone in observed.zones.values() {
            let inside = name == zone.name || name.ends_with(&format!(".{}", zone.name));
            if inside {
                out.insert((zone.id.clone(), name.clone()));
            }
        }
    }
    out
}

/// The listener a rule belongs to: its ARN is the listener's with `listener-rule` for
/// `listener` and the rule's id appended.
fn listener_of_rule(rule_arn: &str) -> Option<String> {
    let (listener, _rule_id) = rule_arn.rsplit_once('/')?;
    listener
        .contains(":listener-rule/")
        .then(|| listener.replacen(":listener-rule/", ":listener/", 1))
}

/// What the targeted services touch: the listeners and names of their intents, plus the
/// listeners of the rules they own now.
fn touched(
    config: &Config,
    ownership: &Ownership,
    observed: &Snapshot,
    targeted: &[&(Arc<EcsService>, ServiceIntent)],
    services: &BTreeSet<String>,
) -> (BTreeSet<String>, BTreeSet<(String, String)>) {
    let mut listeners = BTreeSet::new();
    let mut names = BTreeSet::new();
    for (_, intent) in targeted {
        if let ServiceIntent::Publish { intent, .. } = intent {
            listeners.extend(intent_listeners(config, observed, intent));
            names.extend(intent_names(observed, intent));
        }
    }
    listeners.extend(
        observed
            .rules
            .iter()
            .filter(|r| ownership.owns(&r.tags))
            .filter(|r| service_of(&r.tags).is_some_and(|s| services.contains(s)))
            .map(|r| r.listener_arn.to_string()),
    );
    names.extend(reads::marked_names(observed, services));
    // Hosts its rules route are names it may hold even where the base's markers do not
    // show them yet (written by a pass after the base was read).
    let routed: Vec<String> = observed
        .rules
        .iter()
        .filter(|r| ownership.owns(&r.tags))
        .filter(|r| service_of(&r.tags).is_some_and(|s| services.contains(s)))
        .flat_map(|r| r.hosts.iter().cloned())
        .collect();
    names.extend(names_in_zones(observed, &routed));
    (listeners, names)
}

/// Plans from the merged reads like [`super::plan_pass`], but reads tasks, health and tags
/// only for the targeted services.
async fn plan_targeted(
    aws: &Aws,
    plan_config: &PlanConfig,
    observed: &mut Observation,
    intents: &[(Arc<EcsService>, ServiceIntent)],
    fresh: &Fresh,
) -> Plan {
    let targeted: Vec<(Arc<EcsService>, ServiceIntent)> = intents
        .iter()
        .filter(|(s, _)| fresh.services.contains(&s.arn))
        .cloned()
        .collect();
    let (direct_services, direct_groups) = plan::direct_reads(plan_config, observed, &targeted);
    if !direct_services.is_empty() || !direct_groups.is_empty() {
        observe::observe_direct(aws, &direct_services, &direct_groups, observed).await;
    }
    let mut plan = plan::plan(plan_config, observed, intents);
    let health: Vec<String> = plan
        .health_wanted
        .iter()
        .filter(|g| fresh.target_groups.contains(*g))
        .cloned()
        .collect();
    if !health.is_empty() {
        // Dropped first, as in a full pass.
        drop(plan);
        observe::observe_health(aws, &health, observed).await;
        plan = plan::plan(plan_config, observed, intents);
    }
    let targeted_change = |c: &PlannedChange| {
        c.service_arn
            .as_ref()
            .is_some_and(|s| fresh.services.contains(s))
    };
    super::confirm_indexed_deletions(aws, plan_config, observed, intents, plan, targeted_change)
        .await
}

impl Controller {
    /// A targeted pass for `scope`, applied. `None` when it cannot be one — no complete
    /// full pass to build on, or a decision only a full pass can make — and a full pass
    /// must run instead.
    ///
    /// The pass takes the base and leaves the next one only when its reads were complete
    /// and it did not hand over: after a `None` or a failed read, every targeted pass is
    /// `None` until [`Controller::pass`] has run.
    pub async fn targeted_pass(&self, scope: &Scope) -> Option<PassReport> {
        let started = Instant::now();
        let plan_config = self.plan_config();
        let ownership = &plan_config.ownership;
        let mut cache = self.cache.lock().await;
        // Taken, not shared, under the cache's lock as a full pass drops it: the pass lays
        // its reads over the base's records in place (a copy of them was a targeted pass's
        // highest heap). After a failed read a full pass is brought forward anyway.
        let base = self.lock_baseline().take_if(|b| b.snapshot.complete())?;
        // Nothing else holds it between passes (`scope_of` lets go of its reference), so
        // `start` moves the records rather than copying them.
        debug_assert_eq!(Arc::strong_count(&base), 1, "the base is shared");
        for arn in &scope.stale_attributes {
            cache.forget_attributes_of(arn);
        }
        let mut observed = reads::start(base);
        let mut fresh = Fresh::default();
        let services: BTreeMap<String, Vec<String>> = scope
            .services
            .iter()
            .map(|(c, arns)| (c.clone(), arns.iter().cloned().collect()))
            .collect();
        reads::read_services(&self.aws, &mut cache, &mut observed, &services, &mut fresh).await;
        let all = {
            let memory = self.lock_memory();
            intents_reusing(&self.config, &observed, &memory.intents)
        };
        let targeted: Vec<&(Arc<EcsService>, ServiceIntent)> = all
            .iter()
            .filter(|(s, _)| fresh.services.contains(&s.arn))
            .collect();
        let (mut listeners, mut names) = touched(
            &self.config,
            ownership,
            &observed,
            &targeted,
            &fresh.services,
        );
        names.extend(scope.names.iter().cloned());
        // A withdrawal reads every name the service may hold: also those of the intent the
        // last pass saw (explicit `dns.name`s included), which the base may predate.
        let remembered: Vec<ServiceIntent> = {
            let memory = self.lock_memory();
            fresh
                .services
                .iter()
                .filter_map(|arn| memory.intents.get(arn).map(|r| r.intent.clone()))
                .collect()
        };
        for intent in &remembered {
            if let ServiceIntent::Publish { intent, .. } = intent {
                names.extend(intent_names(&observed, intent));
                listeners.extend(intent_listeners(&self.config, &observed, intent));
            }
        }
        // So are the listeners of the rules it had after the last pass, which may have made
        // them after the base was read: a rule the base misses would leave a move unseen.
        listeners.extend(self.remembered_rule_listeners(&fresh.services));
        reads::read_rules(&self.aws, &mut cache, &mut observed, &listeners, &mut fresh).await;
        reads::read_certificates_and_backend_rules(&self.aws, &mut observed, &fresh).await;
        let groups = reads::groups_of(&observed, ownership, &fresh);
        reads::read_target_groups(
            &self.aws,
            ownership,
            &mut cache,
            &mut observed,
            &groups,
            &mut fresh,
        )
        .await;
        reads::read_names(&self.aws, &mut cache, &mut observed, &names, &mut fresh).await;
        observed.read_at = self.aws.clock.now();
        let plan = plan_targeted(&self.aws, &plan_config, &mut observed, &all, &fresh).await;
        // Shared with memory, not copied: the last pass's statuses of every service.
        let before = Arc::clone(&self.lock_memory().last_status);
        let plan = match keep_targeted(plan, &fresh, &before.services) {
            Kept::Plan(plan) => plan,
            Kept::NeedsFullPass(reason) => {
                tracing::info!(%reason, "a targeted pass hands over to a full pass");
                return None;
            }
        };
        let run = PlannedPass {
            kind: PassKind::Targeted,
            plan,
            observed,
            intents: all,
            started,
        };
        let (report, observed) = self.conclude(run, true, &mut cache).await;
        // Complete fresh reads over the base are the best base for the next targeted pass.
        if observed.complete() {
            *self.lock_baseline() = Some(Arc::new(Baseline::from_observation(observed)));
        }
        Some(report)
    }

    /// The listeners of the rules each of `services` had at the end of the last pass that
    /// planned it (its status lists them, those it created included).
    fn remembered_rule_listeners(&self, services: &BTreeSet<String>) -> Vec<String> {
        let memory = self.lock_memory();
        memory
            .last_status
            .services
            .iter()
            .filter(|s| services.contains(&s.service_arn))
            .flat_map(|s| &s.resources)
            .filter(|r| r.kind == crate::status::ResourceKind::ListenerRule)
            .filter_map(|r| listener_of_rule(&r.id))
            .collect()
    }

    /// What `targets` ask for, against the current base.
    pub fn scope_of(&self, targets: &BTreeSet<EventTarget>) -> ScopeDecision {
        let base = self.lock_baseline().clone();
        match base {
            Some(base) if base.snapshot.complete() => resolve(
                targets,
                &base.snapshot,
                &self.config,
                &Ownership::new(&self.config.owner_id),
            ),
            _ => ScopeDecision::Full,
        }
    }

    /// Targeted services that still wait (for healthy targets, a replacement) or whose
    /// changes were just applied: a follow-up targeted pass confirms them.
    pub fn unsettled(&self, report: &PassReport, scope: &Scope) -> Scope {
        let unsettled: BTreeSet<&str> = report
            .plan
            .services
            .iter()
            .filter(|s| s.state == ServiceState::Pending || !s.waiting.is_empty())
            .map(|s| s.service_arn.as_str())
            .collect();
        let mut out = Scope::default();
        for (cluster, arns) in &scope.services {
            let kept: BTreeSet<String> = arns
                .iter()
                .filter(|a| unsettled.contains(a.as_str()))
                .cloned()
                .collect();
            if !kept.is_empty() {
                out.services.insert(cluster.clone(), kept);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
