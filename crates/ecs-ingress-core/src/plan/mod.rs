//! The planner: intents × observed AWS state → typed changes and per-service statuses.
//!
//! Pure and synchronous. The safety rules of the design live here and are tested here:
//! only owned resources are changed, nothing is deleted after a failed read, conflicts are
//! decided by age, quotas are checked before anything is created, and every change carries
//! the phase that orders it (publish TG → rule → attachment, withdraw in reverse).

mod alb;
mod arbitrate;
mod backend_sg;
pub mod capacity;
pub mod certificates;
pub mod change;
pub mod cloudmap;
pub mod desired;
pub mod dns;
mod few;
#[cfg(test)]
mod fixtures;
mod growth;
mod names;
mod owned;
mod placement;
pub mod policy;
mod pools;
pub mod priorities;
mod resolve;
pub mod settings;
mod shifted;
mod unread_zones;
mod weighted;
mod withdraw;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

pub use change::{
    AttachmentEntry, Change, CloudMapServiceRef, Phase, PlannedChange, RuleRef, ShiftSetup,
    TargetGroupRef,
};
use desired::DesiredService;
pub use growth::is_empty as load_balancer_is_empty;
use owned::Owned;

use crate::model::{Intent, ServiceIntent, TargetsMode};
use crate::ownership::Ownership;
use crate::snapshot::Snapshot;
use crate::state::EcsService;
use crate::status::{Problem, ResourceKind, ResourceRef, ServiceState, ServiceStatus};
pub use settings::{Policy, PoolSettings, PriorityRange};

/// ALB quotas checked before creating (see `aws-limits`): rules per ALB (raisable; the
/// default is assumed) and target groups per ALB (not raisable).
pub const MAX_RULES_PER_ALB: usize = 100;
pub const MAX_TARGET_GROUPS_PER_ALB: usize = 100;
/// The highest rule priority ALB accepts.
pub const MAX_RULE_PRIORITY: u32 = 50_000;

/// What the planner needs from the configuration.
#[derive(Debug, Clone)]
pub struct PlanConfig {
    pub ownership: Ownership,
    /// Listener names with their members (a single `--listener` is a pool of one).
    pub pools: PoolSettings,
    pub clusters: Vec<String>,
    pub priority_range: PriorityRange,
    pub policy: Policy,
    /// Hosted zone ids DNS records may be written in; empty turns DNS off.
    pub hosted_zones: Vec<String>,
    /// Cloud Map namespaces instances may be registered in; empty turns Cloud Map off.
    pub cloudmap_namespaces: Vec<String>,
    /// `--ecs-infrastructure-role-arn`: the role ECS rewrites production rules with, for
    /// services ECS shifts traffic of (`alb.deploy`).
    pub ecs_infrastructure_role_arn: Option<String>,
    /// `--max-certificates-per-alb`: at most this many certificates besides the default on
    /// one ALB, below the account's quota.
    pub max_certificates_per_alb: Option<usize>,
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
    /// A pool must grow: the runtime reads the account's ALB count and quota, and plans
    /// again.
    pub alb_account_wanted: bool,
    /// A service waits for a certificate ACM does not have (issued) yet: the next pass lists
    /// ACM again.
    pub certificates_wanted: bool,
    /// Owned resources seen, by kind.
    managed: BTreeMap<ResourceKind, usize>,
}

impl Plan {
    pub fn managed_resource_counts(&self) -> impl Iterator<Item = (&'static str, usize)> + '_ {
        self.managed.iter().map(|(k, v)| (k.as_str(), *v))
    }
}

/// Owned resources seen, for the metrics.
fn count_managed(owned: &Owned<'_>, out: &mut Plan) {
    out.managed
        .insert(ResourceKind::TargetGroup, owned.group_list.len());
    out.managed
        .insert(ResourceKind::ListenerRule, owned.rule_list.len());
}

/// Age order for conflicts: older services (creation time, then ARN) win.
fn age_key(s: &EcsService) -> (i64, &str) {
    (s.created_at.unwrap_or(i64::MAX), s.arn.as_str())
}

fn cluster_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Cluster of a service ARN (`arn:...:service/CLUSTER/NAME`); old-format ARNs
/// (`service/NAME`) have none. What follows the first `:service/`, up to the next `/`,
/// unless another `:service/` comes first: any string, as an owned resource's tag may name
/// one, gets the answer a split at every `:service/` gave. Found from the colons: a search for
/// `:service/` set up a substring searcher per call, and every winner asks (2.7% of
/// planning a converged estate).
fn cluster_of_service_arn(arn: &str) -> Option<&str> {
    let rest = arn
        .match_indices(':')
        .find_map(|(at, _)| arn[at..].strip_prefix(":service/"))?;
    let (cluster, _) = rest.split_once('/')?;
    // A `/` found only past the next `:service/`: the piece between the two has none.
    (!cluster.ends_with(":service")).then_some(cluster)
}

/// Which services need task reads, and which owned target groups need target reads, for
/// `alb.targets=direct`.
pub fn direct_reads(
    config: &PlanConfig,
    observed: &Snapshot,
    intents: &[(Arc<EcsService>, ServiceIntent)],
) -> (Vec<(String, String, String)>, Vec<String>) {
    let mut services = Vec::new();
    let mut groups = Vec::new();
    // Indexed once, and only when a service asks: a scan of every group per service was
    // quadratic.
    let mut owned: Option<Owned<'_>> = None;
    for (service, intent) in intents {
        if let ServiceIntent::Publish { intent, .. } = intent
            && intent.targets == TargetsMode::Direct
        {
            services.push((
                service.cluster_arn.clone(),
                service.name.clone(),
                service.arn.clone(),
            ));
            let owned = owned.get_or_insert_with(|| Owned::new(&config.ownership, observed));
            groups.extend(
                owned
                    .groups_of(&service.arn)
                    .iter()
                    .map(|t| t.arn.to_string()),
            );
        }
    }
    (services, groups)
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
        load_balancer: None,
        keys: intent.map(|i| i.sources.clone()).unwrap_or_default(),
        pending: Vec::new(),
    }
}

fn problem(key: Option<&str>, reason: impl Into<String>) -> Problem {
    Problem {
        key: key.map(str::to_string),
        reason: reason.into(),
    }
}

/// Plans one pass: a pipeline of stages, each with narrow inputs and typed outputs.
pub fn plan(
    config: &PlanConfig,
    observed: &Snapshot,
    intents: &[(Arc<EcsService>, ServiceIntent)],
) -> Plan {
    let owned = Owned::new(&config.ownership, observed)
        .keyed_by(intents.iter().map(|(s, _)| s.arn.as_str()));
    let mut out = Plan::default();
    count_managed(&owned, &mut out);
    let ordered = age_ordered(intents);
    let mut resolution = resolve::resolve_intents(config, observed, &owned, &ordered);
    weighted::group(
        &owned,
        weighted::Held {
            candidates: &mut resolution.candidates,
            statuses: &mut resolution.statuses,
            kept: &mut resolution.kept,
        },
    );
    let placement = pools::place(config, observed, &owned, resolution.candidates);
    let arbitration = arbitrate::arbitrate(config, observed, &owned, placement.candidates);
    out.services.reserve_exact(
        resolution.statuses.len() + placement.statuses.len() + arbitration.statuses.len(),
    );
    out.services.extend(resolution.statuses);
    out.services.extend(placement.statuses);
    out.services.extend(arbitration.statuses);
    let mut changes = arbitration.changes;
    changes.extend(placement.changes);
    out.alb_account_wanted = placement.alb_account_wanted;
    let admission = certificates::admit(config, observed, arbitration.winners, &mut out);
    changes.extend(admission.changes);
    let kept: FxHashSet<&str> = resolution
        .kept
        .iter()
        .chain(&placement.kept)
        .chain(&arbitration.kept)
        .chain(&admission.held)
        .copied()
        .chain(gone_but_held(config, observed, &owned))
        .collect();
    let winners = admission.winners;

    let placed = placement::place_priorities(config, observed, &owned, &winners, &mut out);
    let alb = alb_stage(config, observed, &owned, &winners, &placed, &mut changes);
    changes.extend(placement::renumbering(placed.moves));

    // Names of services whose resources stay as they are (invalid, conflicting, or in a
    // cluster this controller does not watch) are neither rewritten nor withdrawn.
    let keep = |service_arn: &str| kept.contains(service_arn) || !watched(config, service_arn);
    changes.extend(names_stage(
        config, observed, &owned, &winners, &alb, &keep, &mut out,
    ));
    alb.fold_into(&winners, observed, &mut out);
    for status in &mut out.services {
        if let Some(w) = placement.waiting.get(&status.service_arn) {
            status.warnings.push(w.clone());
        }
    }

    // Owners of something that are not among the services read (`keyed_by` above).
    let orphans = owned
        .services_not_keyed()
        .filter(|arn| !kept.contains(*arn))
        .collect::<BTreeSet<&str>>();
    withdraw::withdraw_all(
        config,
        &owned,
        orphans,
        resolution.withdrawn,
        &mut changes,
        &mut out,
    );

    last_stages(config, observed, &owned, intents, changes, &mut out);
    out
}

/// What goes out (the policy), then what rests on it: backend rules and certificate
/// removals; then the order.
fn last_stages(
    config: &PlanConfig,
    observed: &Snapshot,
    owned: &Owned<'_>,
    intents: &[(Arc<EcsService>, ServiceIntent)],
    changes: Vec<PlannedChange>,
    out: &mut Plan,
) {
    policy::Policy::new(config.policy, observed.complete_but_zones()).apply(changes, out);
    backend_sg::plan_backend_rules(config, observed, owned, intents, out);
    certificates::plan_removals(config, observed, owned, intents, out);
    finish(out);
}

/// Services gone from ECS whose rules route a name in a zone that could not be read: they
/// keep everything, as a service still there would.
fn gone_but_held<'a>(config: &PlanConfig, observed: &Snapshot, owned: &Owned<'a>) -> Vec<&'a str> {
    let zones = unread_zones::UnreadZones::new(&config.hosted_zones, observed);
    if zones.none() {
        return Vec::new();
    }
    owned
        .services_not_keyed()
        .filter(|arn| {
            let routed = resolve::routed_hosts(owned, arn);
            zones.holds_back(&[], None, routed).is_some()
        })
        .collect()
}

/// The winners routing each host, per pool: who shares a name with whom. Indexed once, as
/// every winner asks (a scan of the winners per winner was quadratic).
struct Sharing<'w> {
    by_host: FxHashMap<(&'w str, &'w str), Vec<usize>>,
}

impl<'w> Sharing<'w> {
    fn new(winners: &'w [DesiredService<'_>]) -> Self {
        let mut by_host: FxHashMap<(&str, &str), Vec<usize>> = FxHashMap::default();
        for (i, d) in winners.iter().enumerate() {
            for h in &d.intent.hosts {
                by_host
                    .entry((d.pool.as_str(), h.as_str()))
                    .or_default()
                    .push(i);
            }
        }
        Self { by_host }
    }

    /// The positions of the winners routing one of `d`'s hosts in its pool (`d` among
    /// them), in winner order.
    fn sharers(&self, d: &DesiredService<'_>) -> Vec<usize> {
        let mut indices: Vec<usize> = d
            .intent
            .hosts
            .iter()
            .filter_map(|h| self.by_host.get(&(d.pool.as_str(), h.as_str())))
            .flatten()
            .copied()
            .collect();
        indices.sort_unstable();
        indices.dedup();
        indices
    }
}

/// DNS and Cloud Map names of the winners. A moving service's names stay on the ALB it
/// leaves until the new one serves it, and every moving service sharing a host with it
/// (one name, one ALB).
fn names_stage(
    config: &PlanConfig,
    observed: &Snapshot,
    owned: &Owned<'_>,
    winners: &[DesiredService<'_>],
    alb: &AlbOutcome,
    keep: &dyn Fn(&str) -> bool,
    out: &mut Plan,
) -> Vec<PlannedChange> {
    let mut changes = Vec::new();
    // Winners are asked by position: the ALB stage's outcome is in winner order, one entry
    // each, for these very winners.
    debug_assert_eq!(alb.per_winner.len(), winners.len());
    let ready = |i: usize| alb.serving_state(i).is_some_and(ServingState::ready);
    let healthy = |i: usize| alb.serving_state(i).is_some_and(|s| s.healthy);
    // Every winner routing one of its hosts, moving or joining, must serve it on the new ALB.
    // Indexed only when asked: only a pass with a service moving between ALBs asks.
    let sharing_index = std::cell::OnceCell::new();
    let sharing = || sharing_index.get_or_init(|| Sharing::new(winners));
    let switched = |d: &DesiredService<'_>| sharing().sharers(d).into_iter().all(ready);
    // A moving service's names stay on the ALB it leaves until every mover of its hosts
    // can be served on the new one: held as they are, never written there (that ALB may
    // not route a name its rules there were not made for).
    let stays = |d: &DesiredService<'_>| {
        d.previous
            .as_ref()
            .is_some_and(|p| !p.switched && !switched(d))
    };
    let names_at = names::at_fn(|d| match &d.previous {
        Some(p) if stays(d) => &p.load_balancer_arn,
        _ => d.load_balancer_arn,
    });
    // One name, one ALB: a service whose host a mover shares holds the name where it is too,
    // mover or not, until every one of them can be served on the new ALB.
    // Whether each winner stays, decided once (most move nowhere: then no one is held).
    let staying: Vec<usize> = (0..winners.len()).filter(|&i| stays(&winners[i])).collect();
    let names_ready = |i: usize| {
        ready(i)
            && (staying.is_empty()
                || !sharing()
                    .sharers(&winners[i])
                    .iter()
                    .any(|m| staying.binary_search(m).is_ok()))
    };
    // A sharer that waits for nothing itself has its health read by no one, and would hold
    // the movers' names where they are for ever: its serving group's health is read too.
    for &i in &staying {
        for m in sharing().sharers(&winners[i]) {
            if let Some(group) = alb.serving(m)
                && !observed.targets.contains_key(group)
            {
                out.health_wanted.push(group.to_string());
            }
        }
    }
    let gates = names::NameGates {
        at: &names_at,
        ready: &ready,
        names_ready: &names_ready,
        healthy: &healthy,
        keep,
    };
    if !config.hosted_zones.is_empty() {
        names::plan_service_dns(config, observed, owned, winners, &gates, &mut changes, out);
    }
    names::plan_service_cloudmap(config, observed, winners, &gates, &mut changes, out);
    changes
}

/// Intents oldest first (conflicts are decided by age); a service read twice (a cluster
/// named twice) is one service: it must never be its own older rival, and it has one
/// status. Its oldest copy stays, wherever the copies sort (two reads of it need not agree
/// on its creation time).
fn age_ordered(
    intents: &[(Arc<EcsService>, ServiceIntent)],
) -> Vec<&(Arc<EcsService>, ServiceIntent)> {
    let mut ordered: Vec<&(Arc<EcsService>, ServiceIntent)> = intents.iter().collect();
    ordered.sort_by(|a, b| age_key(&a.0).cmp(&age_key(&b.0)));
    let mut seen = FxHashSet::with_capacity_and_hasher(ordered.len(), Default::default());
    ordered.retain(|(service, _)| seen.insert(service.arn.as_str()));
    ordered
}

/// A winner's serving group and rules, as far as its names are concerned.
#[derive(Clone, Copy)]
struct ServingState {
    /// Its serving group has a healthy target.
    healthy: bool,
    /// This pass creates or rewrites none of its rules.
    rules_settled: bool,
}

impl ServingState {
    /// A name it does not hold yet may be published.
    fn ready(self) -> bool {
        self.healthy && self.rules_settled
    }
}

/// A winner's serving group, and whether it can serve.
struct ServingGroup {
    arn: String,
    state: ServingState,
}

/// What the ALB stage found for one winner, for the name stages and the statuses.
struct WinnerAlb {
    serving: Option<ServingGroup>,
    waiting: Option<String>,
}

/// What the ALB stage found, per winner in winner order. The name stages ask of every
/// winner by its position: a map by service ARN hashed and compared an ARN, held far
/// away on a large heap, per question.
struct AlbOutcome {
    per_winner: Vec<WinnerAlb>,
    health_wanted: Vec<String>,
}

fn alb_stage(
    config: &PlanConfig,
    observed: &Snapshot,
    owned: &Owned<'_>,
    winners: &[DesiredService<'_>],
    placed: &placement::Placed,
    changes: &mut Vec<PlannedChange>,
) -> AlbOutcome {
    let mut out = AlbOutcome {
        per_winner: Vec::with_capacity(winners.len()),
        health_wanted: Vec::new(),
    };
    for (i, desired) in winners.iter().enumerate() {
        let before = changes.len();
        let outcome = if desired.intent.shifted_by_ecs() && shifted::settled(owned, desired) {
            shifted::service_changes(config, observed, owned, desired, placed, i, changes)
        } else {
            alb::service_changes(config, observed, owned, desired, placed, i, changes)
        };
        // Its rules are all in place when this pass creates or rewrites none of them: only
        // then may a moving service's names follow.
        let rules_settled = !changes[before..].iter().any(|c| {
            matches!(
                c.change,
                Change::CreateRule { .. }
                    | Change::ModifyRule { .. }
                    | Change::ModifyRuleConditions { .. }
            )
        });
        out.health_wanted.extend(outcome.health_wanted);
        let serving = outcome.serving.map(|arn| ServingGroup {
            state: ServingState {
                healthy: alb::has_healthy_targets(observed, &arn) == Some(true)
                    || crate::sabotage::is_on(crate::sabotage::Sabotage::HealthWait),
                rules_settled,
            },
            arn,
        });
        out.per_winner.push(WinnerAlb {
            serving,
            waiting: outcome.waiting,
        });
    }
    out
}

impl AlbOutcome {
    /// The serving state of the winner at position `i`.
    fn serving_state(&self, i: usize) -> Option<ServingState> {
        self.per_winner
            .get(i)
            .and_then(|w| w.serving.as_ref())
            .map(|g| g.state)
    }

    /// The serving group of the winner at position `i`.
    fn serving(&self, i: usize) -> Option<&str> {
        self.per_winner
            .get(i)
            .and_then(|w| w.serving.as_ref())
            .map(|g| g.arn.as_str())
    }

    /// What each service waits for goes into its status; names that wait for health make
    /// the runtime read the serving group's health when it was not read.
    fn fold_into(self, winners: &[DesiredService<'_>], observed: &Snapshot, out: &mut Plan) {
        debug_assert_eq!(self.per_winner.len(), winners.len());
        out.health_wanted.extend(self.health_wanted);
        let any_waits = self.per_winner.iter().any(|w| w.waiting.is_some());
        // Statuses are not in winner order: they find their winner by ARN, indexed only
        // when one asks (a converged pass has nothing waiting, and nothing asks).
        let index = std::cell::OnceCell::new();
        let winner_of = |arn: &str| {
            index
                .get_or_init(|| {
                    winners
                        .iter()
                        .enumerate()
                        .map(|(i, d)| (d.service.arn.as_str(), i))
                        .collect::<FxHashMap<&str, usize>>()
                })
                .get(arn)
                .and_then(|&i| self.per_winner.get(i))
        };
        for status in &mut out.services {
            let reads_health = !status.waiting.is_empty();
            if !reads_health && !any_waits {
                continue;
            }
            let Some(winner) = winner_of(status.service_arn.as_str()) else {
                continue;
            };
            if reads_health
                && let Some(group) = &winner.serving
                && !observed.targets.contains_key(&group.arn)
            {
                out.health_wanted.push(group.arn.clone());
            }
            if let Some(w) = &winner.waiting {
                status.waiting.push(w.clone());
            }
        }
        out.health_wanted.sort();
        out.health_wanted.dedup();
    }
}

/// Changes in phase order; a service with pending changes or something to wait for is not
/// published yet; statuses by name.
fn finish(out: &mut Plan) {
    crate::sort_large::sort_by(&mut out.changes, |a, b| {
        a.change.phase().cmp(&b.change.phase())
    });
    let pending: FxHashSet<&str> = out
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
    crate::status::sort_by_name(&mut out.services);
}

/// True when the service's cluster is one this controller watches: only then may it
/// withdraw what it owns for the service.
fn watched(config: &PlanConfig, service_arn: &str) -> bool {
    cluster_of_service_arn(service_arn).is_some_and(|c| {
        config
            .clusters
            .iter()
            .any(|w| w == c || w.strip_suffix(c).is_some_and(|p| p.ends_with('/')))
    })
}

#[cfg(test)]
mod tests;
