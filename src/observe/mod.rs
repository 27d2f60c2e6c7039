//! Reads the AWS state a pass needs, through the adapter traits.
//!
//! A read that fails does not stop the pass: it is recorded in the [`Observation`] (and as a plain failed read in its snapshot) and
//! the planner then makes no deletions at all (safety rule 2), while services whose own
//! reads succeeded still reconcile.

mod cache;
mod certificates;
mod indexed;
mod shared;
pub(crate) mod targeted;

pub use cache::{
    ATTRIBUTE_REFRESH_PASSES, ATTRIBUTE_REFRESH_READS_PER_SECOND, Cache, attribute_refresh_passes,
};
pub use indexed::IndexedTags;

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::{FxHashMap, FxHashSet};
use std::sync::Arc;

use futures_util::future::join_all;

use crate::aws::{
    Aws, AwsError, DESCRIBE_SERVICES_BATCH, DESCRIBE_TAGS_BATCH, DESCRIBE_TASKS_BATCH, ErrorKind,
};
use crate::config::Config;
use crate::ownership::Ownership;
use crate::ownership::naming::TARGET_GROUP_NAME_PREFIX;
use crate::snapshot::{BackendRulesRead, CloudMapSnapshot, FailedRead, Snapshot, UnreadZone};
use crate::state::{Listener, Rule, Tags};

/// Reads of independent resources in flight at once. The client-side rate limiter paces
/// them; this only bounds memory and connections.
const READ_CONCURRENCY: usize = 16;

/// What `observe` produced: the snapshot, and what only the edge needs — the adapters'
/// errors (for the one-line diagnosis) and which tags came from the lagging tagging index.
/// Derefs to the snapshot, so reads fill it directly.
#[derive(Debug, Default)]
pub struct Observation {
    pub snapshot: Snapshot,
    /// Reads that failed, as the adapters reported them (mirrored as plain
    /// [`crate::snapshot::FailedRead`]s in the snapshot).
    failures: Vec<AwsError>,
    /// Rules and target groups whose tags came from the tagging index (GetResources), which
    /// lags behind: deleting one needs a DescribeTags first ([`confirm_tags`]).
    pub indexed_tags: IndexedTags,
    /// Listeners not given to ecs-ingress on the configured listeners' ALBs, per ALB: only
    /// their rules' number matters (the quota).
    other_listeners: BTreeMap<String, Vec<Listener>>,
    /// Their rules, as read for the count: those forwarding to our target groups are on a
    /// listener no longer given with `--listener` (see `read_departed`).
    other_rules: Vec<(Listener, Vec<Rule>)>,
    /// Reads that failed with a fallback that kept the pass whole (the tagging index, the
    /// account's limits): said once per pass, and only when the pass itself read everything.
    degraded: Vec<String>,
}

impl std::ops::Deref for Observation {
    type Target = Snapshot;
    fn deref(&self) -> &Snapshot {
        &self.snapshot
    }
}

impl std::ops::DerefMut for Observation {
    fn deref_mut(&mut self) -> &mut Snapshot {
        &mut self.snapshot
    }
}

impl Observation {
    /// Records a failed read: no deletion in this pass.
    pub(crate) fn fail(&mut self, e: AwsError) {
        self.snapshot.failed_reads.push(FailedRead {
            service: e.service.to_string(),
            operation: e.operation.to_string(),
            message: e.to_string(),
            zone: None,
        });
        self.failures.push(e);
    }

    /// A managed zone's read failed (`name`: its name, if an earlier pass learned it).
    pub(crate) fn fail_zone(&mut self, zone: &str, name: Option<String>, e: AwsError) {
        let reason = e.to_string();
        self.snapshot.failed_reads.push(FailedRead {
            service: e.service.to_string(),
            operation: e.operation.to_string(),
            message: reason.clone(),
            zone: Some(zone.to_string()),
        });
        self.snapshot
            .unread_zones
            .insert(zone.to_string(), UnreadZone { name, reason });
        self.failures.push(e);
    }

    /// The failed reads as the adapters reported them.
    pub(crate) fn failures(&self) -> &[AwsError] {
        &self.failures
    }

    /// A read failed but its fallback kept the pass whole.
    pub(crate) fn degrade(&mut self, what: String) {
        self.degraded.push(what);
    }

    /// What [`Observation::degrade`] recorded.
    pub(crate) fn degraded(&self) -> &[String] {
        &self.degraded
    }
}

pub(crate) use crate::aws::clock::unix_now;

/// Reads services, task definitions, listeners, rules and target groups.
pub async fn observe(
    aws: &Aws,
    config: &Config,
    ownership: &Ownership,
    cache: &mut Cache,
) -> Observation {
    cache.forget_unshared_values();
    let mut observed = Observation {
        snapshot: Snapshot {
            read_at: aws.clock.now(),
            ..Snapshot::default()
        },
        ..Observation::default()
    };
    read_services(aws, config, cache, &mut observed).await;
    read_provisioned(aws, config, ownership, cache, &mut observed).await;
    let owned_tags = read_owned_tags(aws, ownership, &mut observed).await;
    read_listeners(aws, config, cache, &owned_tags, &mut observed).await;
    read_load_balancer_rules(aws, config, cache, &mut observed).await;
    read_target_groups(aws, ownership, cache, &owned_tags, &mut observed).await;
    read_departed(aws, ownership, cache, &owned_tags, &mut observed).await;
    read_zones(aws, config, cache, &mut observed).await;
    read_cloudmap(aws, config, &mut observed).await;
    read_backend_rules(aws, config, ownership, cache, &mut observed).await;
    certificates::read(aws, config, cache, &mut observed).await;
    // On AWS's clock, as AWS's answers of this pass told it (see `aws::clock`): the times
    // the plan compares and stamps mean the same to every replica.
    observed.read_at = aws.clock.now();
    observed
}

/// The inbound rules of every service's security groups (`--backend-sg-rules`), and on the
/// refresh pass every rule of ours wherever it is: one on a group no service has any more
/// (the service deleted, its groups swapped) is then revoked. A failed read turns the
/// feature off for the pass and is not a failed read of it: no other decision rests on
/// these rules.
async fn read_backend_rules(
    aws: &Aws,
    config: &Config,
    ownership: &Ownership,
    cache: &mut Cache,
    observed: &mut Observation,
) {
    if !config.backend_sg_rules {
        return;
    }
    let groups: BTreeSet<&String> = observed
        .services
        .iter()
        .flat_map(|s| &s.security_groups)
        .collect();
    let groups: Vec<String> = groups.into_iter().cloned().collect();
    // An estate without security groups, where no rule of ours was seen, makes no call.
    let look_everywhere = cache.refreshing && (!groups.is_empty() || cache.backend_rules_seen);
    let read = aws.ec2.describe_ingress_rules(&groups).await;
    let read = match read {
        Ok(mut rules) if look_everywhere => aws
            .ec2
            .describe_owned_ingress_rules(ownership.owner_id())
            .await
            .map(|owned| {
                let known: BTreeSet<String> = rules.iter().map(|r| r.id.clone()).collect();
                rules.extend(owned.into_iter().filter(|r| !known.contains(&r.id)));
                rules
            }),
        other => other,
    };
    observed.backend_rules = match read {
        Ok(rules) => {
            cache.backend_rules_seen = rules.iter().any(|r| ownership.owns(&r.tags));
            BackendRulesRead::Read(rules)
        }
        Err(e) => {
            tracing::warn!(error = %e, "security-group rules not read: backend rules wait for the next pass");
            BackendRulesRead::Failed(e.to_string())
        }
    };
}

/// Every listener of the pools: the configured ones and those of ALBs ecs-ingress created.
fn pool_listeners<'a>(config: &'a Config, observed: &'a Observation) -> BTreeSet<&'a str> {
    let mut arns = config.pools.listener_arns();
    arns.extend(
        observed
            .provisioned
            .iter()
            .filter_map(|p| p.listener_arn.as_deref()),
    );
    arns
}

/// ALBs ecs-ingress created for pools that may grow: found by their owner tag (so a restart
/// finds them), each with its listener. Only read when some pool may grow.
async fn read_provisioned(
    aws: &Aws,
    config: &Config,
    ownership: &Ownership,
    cache: &Cache,
    observed: &mut Observation,
) {
    if config.pools.max_albs.is_empty() {
        return;
    }
    let found = match aws
        .tagging
        .get_resources(
            &["elasticloadbalancing:loadbalancer"],
            Some((crate::ownership::OWNER_TAG, ownership.owner_id())),
        )
        .await
    {
        Ok(found) => found,
        Err(e) => return observed.fail(e),
    };
    for (arn, tags) in found {
        let Some(pool) = tags
            .get(crate::ownership::POOL_TAG)
            .filter(|p| config.pools.max_albs.contains_key(*p))
        else {
            continue;
        };
        // A listener never moves: once known, the per-ALB read of `read_listeners` sees it
        // (and a deleted ALB) without a call here.
        let known = cache
            .listener_load_balancers
            .iter()
            .find(|(_, lb)| **lb == arn)
            .map(|(l, _)| l.clone());
        let listener_arn = match known {
            Some(l) => Some(l),
            None => match aws.elb.describe_load_balancer_listeners(&arn).await {
                Ok(l) => l
                    .iter()
                    .min_by_key(|l| (l.port, l.arn.clone()))
                    .map(|l| l.arn.clone()),
                // The tagging index still lists an ALB deleted a moment ago.
                Err(e) if e.kind == ErrorKind::NotFound => continue,
                Err(e) => {
                    observed.fail(e);
                    continue;
                }
            },
        };
        observed.provisioned.push(crate::snapshot::ProvisionedAlb {
            name: arn.split('/').nth(2).unwrap_or_default().to_string(),
            arn,
            pool: pool.to_string(),
            listener_arn,
        });
    }
    observed.provisioned.sort_by(|a, b| a.name.cmp(&b.name));
}

/// The account's ALBs and its ALB quota: read only when a pool needs to grow.
pub(crate) async fn observe_alb_account(aws: &Aws, observed: &mut Observation) {
    let quota = match aws.elb.describe_account_limits().await {
        Ok(limits) => limits
            .get("application-load-balancers")
            .and_then(|q| usize::try_from(*q).ok())
            .unwrap_or(DEFAULT_ALB_QUOTA),
        Err(e) => return observed.fail(e),
    };
    match aws.elb.describe_all_load_balancers().await {
        Ok(all) => {
            observed.alb_account = Some(crate::snapshot::AlbAccount {
                used: all.len(),
                quota,
            })
        }
        Err(e) => observed.fail(e),
    }
}

/// AWS's default `application-load-balancers` quota per region.
const DEFAULT_ALB_QUOTA: usize = 50;

/// Managed Cloud Map namespaces, every service in them and every service's instances
/// (our instance may sit in a service we did not create, so none can be skipped).
async fn read_cloudmap(aws: &Aws, config: &Config, observed: &mut Observation) {
    if config.cloudmap_namespaces.is_empty() {
        return;
    }
    let all = match aws.cloudmap.list_namespaces().await {
        Ok(all) => all,
        Err(e) => {
            observed.fail(e);
            return;
        }
    };
    let mut seen = CloudMapSnapshot {
        namespaces: all,
        ..CloudMapSnapshot::default()
    };
    let mut managed = Vec::new();
    for wanted in &config.cloudmap_namespaces {
        match seen.namespace(wanted) {
            Some(n) if !managed.contains(n) => managed.push(n.clone()),
            Some(_) => {}
            None => seen.missing.push(wanted.clone()),
        }
    }
    seen.namespaces = managed;
    for namespace in &seen.namespaces {
        match aws.cloudmap.list_services(&namespace.id).await {
            Ok(services) => seen.services.extend(services),
            Err(e) => observed.fail(e),
        }
    }
    let ids: Vec<String> = seen.services.iter().map(|s| s.id.clone()).collect();
    for chunk in ids.chunks(READ_CONCURRENCY) {
        let calls: Vec<_> = chunk
            .iter()
            .map(|id| aws.cloudmap.list_instances(id))
            .collect();
        for (id, result) in chunk.iter().zip(join_all(calls).await) {
            match result {
                Ok(instances) => {
                    seen.instances.insert(id.clone(), instances);
                }
                Err(e) => observed.fail(e),
            }
        }
    }
    observed.cloudmap = seen;
}

/// Managed zones (names cached) and all their records.
async fn read_zones(aws: &Aws, config: &Config, cache: &mut Cache, observed: &mut Observation) {
    for id in &config.hosted_zones {
        let zone = match cache.zones.get(id) {
            Some(z) => z.clone(),
            None => match aws.route53.get_hosted_zone(id).await {
                Ok(z) => {
                    cache.zones.insert(id.clone(), z.clone());
                    z
                }
                Err(e) => {
                    observed.fail_zone(id, None, e);
                    continue;
                }
            },
        };
        match aws.route53.list_record_sets(id).await {
            Ok(mut records) => {
                cache.share_records_values(&mut records);
                observed.records.insert(id.clone(), records);
                observed.zones.insert(id.clone(), zone);
            }
            Err(e) => observed.fail_zone(id, Some(zone.name), e),
        }
    }
}

/// Resource types whose owned members the tagging index lists.
const OWNED_TYPES: &[&str] = &[
    "elasticloadbalancing:targetgroup",
    "elasticloadbalancing:listener-rule",
];

/// Tags of owned target groups and rules from the tagging index: about one call per 100
/// owned resources instead of one DescribeTags per 20. Resources it does not list (just
/// created, or not ours) are read with DescribeTags; if it fails, everything is.
async fn read_owned_tags(
    aws: &Aws,
    ownership: &Ownership,
    observed: &mut Observation,
) -> FxHashMap<String, Tags> {
    match aws
        .tagging
        .get_resources(
            OWNED_TYPES,
            Some((crate::ownership::OWNER_TAG, ownership.owner_id())),
        )
        .await
    {
        Ok(found) => found.into_iter().collect(),
        Err(e) => {
            observed.degrade(format!(
                "tagging index unavailable, owned resources' tags read with DescribeTags: {e}"
            ));
            FxHashMap::default()
        }
    }
}

/// DescribeTags for `arns` that the tagging index vouched for, so a deletion never rests on
/// the index alone. Updates the tags in `observed`; returns true when any differed.
pub(crate) async fn confirm_tags(aws: &Aws, arns: &[String], observed: &mut Observation) -> bool {
    let fresh = read_tags(aws, arns, observed).await;
    let mut changed = false;
    for rule in observed
        .rules
        .iter_mut()
        .filter(|r| arns.iter().any(|a| *a == r.arn))
    {
        let tags = fresh.get(rule.arn.as_str()).cloned().unwrap_or_default();
        changed |= tags != rule.tags;
        rule.tags = tags;
    }
    for group in observed
        .target_groups
        .iter_mut()
        .filter(|g| arns.iter().any(|a| *a == g.arn))
    {
        let tags = fresh.get(group.arn.as_str()).cloned().unwrap_or_default();
        changed |= tags != group.tags;
        group.tags = tags;
    }
    for arn in arns {
        observed.indexed_tags.confirm(arn);
    }
    changed
}

/// Task definitions of the services. Contents come from the cache when the tagging index
/// shows the same tags as the cached read; a difference (or no cached read) is confirmed
/// with DescribeTaskDefinition, the authoritative source, so a lagging index never changes
/// an intent by itself.
async fn read_task_definitions(
    aws: &Aws,
    wanted: Vec<String>,
    cache: &mut Cache,
    observed: &mut Observation,
) {
    if wanted.is_empty() {
        return;
    }
    // Without the index every wanted revision is read: the answer is the same, only the
    // number of calls differs.
    let index: Option<FxHashMap<String, Tags>> = if !cache.task_definition_index_pays(wanted.len())
    {
        None
    } else {
        match aws
            .tagging
            .get_resources(&["ecs:task-definition"], None)
            .await
        {
            Ok(found) => {
                cache.task_definition_index_pages = Some(found.len().div_ceil(100).max(1));
                Some(found.into_iter().collect())
            }
            Err(e) => {
                observed.degrade(format!(
                    "tagging index unavailable, every task definition read: {e}"
                ));
                None
            }
        }
    };
    let no_tags = Tags::new();
    let mut to_read = Vec::new();
    for arn in wanted {
        let cached = cache.task_definitions.get(&arn).filter(|td| {
            index
                .as_ref()
                .is_some_and(|i| i.get(&arn).unwrap_or(&no_tags) == &td.tags)
        });
        match cached {
            Some(td) => {
                observed.task_definitions.insert(arn, Arc::clone(td));
            }
            None => to_read.push(arn),
        }
    }
    // Independent reads run concurrently; the rate limiter in every call keeps them within
    // the account's bucket.
    let mut reads = Vec::with_capacity(to_read.len());
    for chunk in to_read.chunks(READ_CONCURRENCY) {
        let calls: Vec<_> = chunk
            .iter()
            .map(|arn| aws.ecs.describe_task_definition(arn))
            .collect();
        let results = join_all(calls).await;
        reads.extend(chunk.iter().cloned().zip(results));
    }
    for (arn, result) in reads {
        match result {
            Ok(td) => {
                let td = Arc::new(td);
                cache.task_definitions.insert(arn.clone(), Arc::clone(&td));
                observed.task_definitions.insert(arn, td);
            }
            Err(e) => observed.fail(e),
        }
    }
    cache
        .task_definitions
        .retain(|arn, _| observed.task_definitions.contains_key(arn));
}

async fn read_services(aws: &Aws, config: &Config, cache: &mut Cache, observed: &mut Observation) {
    for cluster in &config.clusters {
        let arns = match aws.ecs.list_services(cluster).await {
            Ok(arns) => arns,
            Err(e) => {
                observed.fail(e);
                continue;
            }
        };
        let mut batches = Vec::new();
        for group in arns.chunks(DESCRIBE_SERVICES_BATCH * READ_CONCURRENCY) {
            let calls: Vec<_> = group
                .chunks(DESCRIBE_SERVICES_BATCH)
                .map(|batch| aws.ecs.describe_services(cluster, batch))
                .collect();
            batches.extend(join_all(calls).await);
        }
        for result in batches {
            match result {
                Ok(services) => observed.services.extend(
                    services
                        .into_iter()
                        .filter(|s| s.status == crate::state::EcsServiceStatus::Active)
                        .map(Arc::new),
                ),
                Err(e) => observed.fail(e),
            }
        }
    }
    // Sorted and deduplicated by reference: one copy per revision, no set to build.
    let mut revisions: Vec<&str> = observed
        .services
        .iter()
        .map(|s| s.task_definition.as_str())
        .collect();
    revisions.sort_unstable();
    revisions.dedup();
    let wanted: Vec<String> = revisions.into_iter().map(str::to_string).collect();
    read_task_definitions(aws, wanted, cache, observed).await;
}

async fn read_listeners(
    aws: &Aws,
    config: &Config,
    cache: &mut Cache,
    owned_tags: &FxHashMap<String, Tags>,
    observed: &mut Observation,
) {
    let arns: Vec<String> = pool_listeners(config, observed)
        .into_iter()
        .map(str::to_string)
        .collect();
    // A listener never moves to another ALB: once known, every listener of each ALB is read
    // in one call per ALB, which also counts the listeners not given to ecs-ingress.
    let known: Option<BTreeMap<String, String>> = arns
        .iter()
        .map(|a| {
            cache
                .listener_load_balancers
                .get(a)
                .map(|lb| (a.clone(), lb.clone()))
        })
        .collect();
    match known {
        Some(known) => {
            read_listeners_by_load_balancer(aws, &known, observed).await;
            for l in forget_deleted_provisioned(observed) {
                cache.listener_load_balancers.remove(&l);
            }
        }
        None => read_listeners_by_arn(aws, &arns, observed).await,
    }
    for l in observed.listeners.values() {
        cache
            .listener_load_balancers
            .insert(l.arn.clone(), l.load_balancer_arn.clone());
    }
    for arn in &observed.missing_listeners {
        cache.listener_load_balancers.remove(arn);
    }
    let lb_arns: Vec<String> = observed
        .listeners
        .values()
        .map(|l| l.load_balancer_arn.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !lb_arns.is_empty() {
        match aws.elb.describe_load_balancers(&lb_arns).await {
            Ok(mut lbs) => {
                cache.share_load_balancers_values(&mut lbs);
                observed.load_balancers = lbs.into_iter().map(|l| (l.arn.to_string(), l)).collect()
            }
            Err(e) => observed.fail(e),
        }
    }
    let listener_arns: Vec<String> = observed.listeners.keys().cloned().collect();
    for listener in listener_arns {
        match aws.elb.describe_rules(&listener).await {
            Ok(mut rules) => {
                cache.share_rules_values(&mut rules);
                observed.rules.extend(rules);
            }
            Err(e) => observed.fail(e),
        }
    }
    // Rules the index lists as ours take its tags; the others (hand-made, or too new for
    // the index) are read with DescribeTags.
    let mut unlisted = Vec::new();
    for rule in observed
        .snapshot
        .rules
        .iter_mut()
        .filter(|r| !r.is_default())
    {
        match owned_tags.get(rule.arn.as_str()) {
            Some(t) => {
                rule.tags = t.clone();
                observed.indexed_tags.mark(&rule.arn);
            }
            None => unlisted.push(rule.arn.to_string()),
        }
    }
    let tags = read_tags(aws, &unlisted, observed).await;
    for rule in &mut observed.rules {
        if let Some(t) = tags.get(rule.arn.as_str()) {
            rule.tags = t.clone();
        }
    }
}

/// Listeners no longer given with `--listener` that still hold rules forwarding to our target
/// groups (a `--listener` removed without a drain): those of configured ALBs (their rules
/// were read for the quota), and every listener of ALBs our groups are still forwarded from
/// that no configured listener (nor an ALB ecs-ingress created) is on. Their rules join the
/// snapshot (only those forwarding to our groups, which need tags), so the planner moves
/// their services off as from a drained pool member, instead of orphaning rules that keep
/// forwarding to groups it would detach. No call in a steady pass.
async fn read_departed(
    aws: &Aws,
    ownership: &Ownership,
    cache: &mut Cache,
    owned_tags: &FxHashMap<String, Tags>,
    observed: &mut Observation,
) {
    let known: BTreeSet<String> = observed
        .listeners
        .values()
        .map(|l| l.load_balancer_arn.clone())
        .chain(observed.provisioned.iter().map(|p| p.arn.clone()))
        .collect();
    let departed: Vec<String> = observed
        .target_groups
        .iter()
        .filter(|g| ownership.owns(&g.tags))
        .flat_map(|g| &g.load_balancer_arns)
        .filter(|lb| !known.contains(lb.as_str()))
        .map(|lb| lb.to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if departed.is_empty() && observed.other_rules.is_empty() {
        // The steady case: nothing to look for, and no set of every group of ours to build.
        return;
    }
    let ours: FxHashSet<String> = observed
        .target_groups
        .iter()
        .filter(|g| ownership.owns(&g.tags))
        .map(|g| g.arn.to_string())
        .collect();
    let mut rules = Vec::new();
    // Unconfigured listeners of configured ALBs: their rules were read for the quota.
    for (listener, found) in std::mem::take(&mut observed.other_rules) {
        keep_forwarding(listener, found, &ours, observed, &mut rules);
    }
    if !departed.is_empty() {
        read_departed_albs(aws, &departed, &ours, observed, &mut rules).await;
    }
    let unlisted: Vec<String> = rules
        .iter()
        .filter(|r| !owned_tags.contains_key(r.arn.as_str()))
        .map(|r| r.arn.to_string())
        .collect();
    let mut tags = read_tags(aws, &unlisted, observed).await;
    cache.share_rules_values(&mut rules);
    for mut rule in rules {
        match owned_tags.get(rule.arn.as_str()) {
            Some(t) => {
                rule.tags = t.clone();
                observed.indexed_tags.mark(&rule.arn);
            }
            None => rule.tags = tags.remove(rule.arn.as_str()).unwrap_or_default(),
        }
        observed.snapshot.rules.push(rule);
    }
}

/// The listeners and rules of ALBs no configured listener is on.
async fn read_departed_albs(
    aws: &Aws,
    departed: &[String],
    ours: &FxHashSet<String>,
    observed: &mut Observation,
    rules: &mut Vec<Rule>,
) {
    match aws.elb.describe_load_balancers(departed).await {
        Ok(lbs) => observed
            .load_balancers
            .extend(lbs.into_iter().map(|l| (l.arn.to_string(), l))),
        Err(e) => return observed.fail(e),
    }
    for lb in departed {
        let listeners = match aws.elb.describe_load_balancer_listeners(lb).await {
            Ok(l) => l,
            Err(e) => {
                observed.fail(e);
                continue;
            }
        };
        for listener in listeners {
            match aws.elb.describe_rules(&listener.arn).await {
                Ok(found) => keep_forwarding(listener, found, ours, observed, rules),
                Err(e) => observed.fail(e),
            }
        }
    }
}

/// Keeps the rules of an unconfigured `listener` that forward to our groups (its listener
/// then departed); the others are not ecs-ingress's business.
fn keep_forwarding(
    listener: Listener,
    found: Vec<Rule>,
    ours: &FxHashSet<String>,
    observed: &mut Observation,
    kept: &mut Vec<Rule>,
) {
    let forwarding: Vec<Rule> = found
        .into_iter()
        .filter(|r| !r.is_default())
        .filter(|r| {
            r.forward_target_groups
                .iter()
                .chain(&r.staged_target_groups)
                .any(|g| ours.contains(g.as_str()))
        })
        .collect();
    if !forwarding.is_empty() {
        observed.departed_listeners.insert(listener.arn.clone());
        observed.listeners.insert(listener.arn.clone(), listener);
        kept.extend(forwarding);
    }
}

/// Configured listeners by ARN (the first pass, before their ALBs are known).
/// DescribeListeners fails as a whole when one ARN is missing: then they are asked one by
/// one, so the others go on and the missing one is named (and recorded as a failed read).
async fn read_listeners_by_arn(aws: &Aws, arns: &[String], observed: &mut Observation) {
    match aws.elb.describe_listeners(arns).await {
        Ok(listeners) => {
            observed.listeners = listeners.into_iter().map(|l| (l.arn.clone(), l)).collect();
            // Some implementations leave a missing ARN out instead of failing.
            let left_out: Vec<&String> = arns
                .iter()
                .filter(|a| !observed.listeners.contains_key(*a))
                .collect();
            for arn in left_out {
                observed.missing_listeners.insert(arn.clone());
                observed.fail(listener_not_found(arn));
            }
        }
        Err(e) if e.kind == ErrorKind::NotFound && arns.len() > 1 => {
            for arn in arns {
                match aws.elb.describe_listeners(std::slice::from_ref(arn)).await {
                    Ok(found) => observed
                        .listeners
                        .extend(found.into_iter().map(|l| (l.arn.clone(), l))),
                    Err(e) if e.kind == ErrorKind::NotFound => {
                        observed.missing_listeners.insert(arn.clone());
                        observed.fail(e);
                    }
                    Err(e) => observed.fail(e),
                }
            }
        }
        Err(e) if e.kind == ErrorKind::NotFound => {
            observed.missing_listeners.extend(arns.iter().cloned());
            observed.fail(e);
        }
        Err(e) => observed.fail(e),
    }
}

/// Every listener of the ALBs the configured listeners are on (`known`: listener → ALB):
/// a configured one not among them was deleted; the others only count toward the quota.
async fn read_listeners_by_load_balancer(
    aws: &Aws,
    known: &BTreeMap<String, String>,
    observed: &mut Observation,
) {
    let lbs: BTreeSet<&String> = known.values().collect();
    for lb in lbs {
        let mine = known.iter().filter(|(_, l)| *l == lb).map(|(a, _)| a);
        match aws.elb.describe_load_balancer_listeners(lb).await {
            Ok(listeners) => {
                let (configured, others): (Vec<Listener>, Vec<Listener>) = listeners
                    .into_iter()
                    .partition(|l| known.contains_key(l.arn.as_str()));
                for arn in mine {
                    if !configured.iter().any(|l| l.arn == *arn) {
                        observed.missing_listeners.insert(arn.clone());
                        observed.fail(listener_not_found(arn));
                    }
                }
                observed
                    .listeners
                    .extend(configured.into_iter().map(|l| (l.arn.clone(), l)));
                observed.other_listeners.insert(lb.clone(), others);
            }
            Err(e) if e.kind == ErrorKind::NotFound => {
                for arn in mine {
                    observed.missing_listeners.insert(arn.clone());
                    observed.fail(listener_not_found(arn));
                }
            }
            Err(e) => observed.fail(e),
        }
    }
}

/// An ALB ecs-ingress created and deleted (scale-in) is still listed by the lagging tagging
/// index for a while: its listener is gone because the ALB is, which is no failed read.
fn forget_deleted_provisioned(observed: &mut Observation) -> Vec<String> {
    let gone: Vec<String> = observed
        .provisioned
        .iter()
        .filter_map(|p| p.listener_arn.clone())
        .filter(|l| observed.missing_listeners.contains(l))
        .collect();
    if gone.is_empty() {
        return gone;
    }
    observed
        .provisioned
        .retain(|p| p.listener_arn.as_ref().is_none_or(|l| !gone.contains(l)));
    for l in &gone {
        observed.snapshot.missing_listeners.remove(l);
    }
    let missing = |e: &AwsError| gone.iter().any(|l| e.message.contains(l.as_str()));
    observed.failures.retain(|e| !missing(e));
    observed
        .snapshot
        .failed_reads
        .retain(|f| !gone.iter().any(|l| f.message.contains(l.as_str())));
    gone
}

/// What DescribeListeners answers for a listener that does not exist. A missing configured
/// listener counts as a failed read: services on it keep what they have, and no deletion
/// happens anywhere until the flag or the listener is fixed.
fn listener_not_found(arn: &str) -> AwsError {
    let mut e = AwsError::new(
        "elbv2",
        "DescribeListeners",
        ErrorKind::NotFound,
        format!("One or more listeners not found: {arn}"),
    );
    e.code = Some("ListenerNotFound".into());
    e
}

/// Rules of every listener of the configured listeners' ALBs, counted per ALB (the rule
/// quota covers listeners not given to ecs-ingress and hand-made rules), and the quota
/// itself. Only counted: rules of other listeners are never changed.
async fn read_load_balancer_rules(
    aws: &Aws,
    config: &Config,
    cache: &mut Cache,
    observed: &mut Observation,
) {
    let configured: BTreeSet<String> = pool_listeners(config, observed)
        .into_iter()
        .map(str::to_string)
        .collect();
    let snapshot = &mut observed.snapshot;
    for rule in snapshot.rules.iter().filter(|r| !r.is_default()) {
        if let Some(l) = snapshot.listeners.get(rule.listener_arn.as_str()) {
            *snapshot
                .rules_per_load_balancer
                .entry(l.load_balancer_arn.clone())
                .or_default() += 1;
        }
    }
    let lbs: BTreeSet<String> = observed
        .listeners
        .values()
        .map(|l| l.load_balancer_arn.clone())
        .collect();
    for lb in lbs {
        let others: Vec<Listener> = match observed.other_listeners.get(&lb) {
            Some(known) => known.clone(),
            None => match aws.elb.describe_load_balancer_listeners(&lb).await {
                Ok(l) => l
                    .into_iter()
                    .filter(|l| !configured.contains(&l.arn))
                    .collect(),
                Err(e) => {
                    observed.fail(e);
                    continue;
                }
            },
        };
        for other in &others {
            match aws.elb.describe_rules(&other.arn).await {
                Ok(rules) => {
                    *observed
                        .rules_per_load_balancer
                        .entry(lb.clone())
                        .or_default() += rules.iter().filter(|r| !r.is_default()).count();
                    observed.other_rules.push((other.clone(), rules));
                }
                Err(e) => observed.fail(e),
            }
        }
    }
    if cache.rules_quota.is_none() {
        match aws.elb.describe_account_limits().await {
            Ok(limits) => {
                cache.rules_quota = limits
                    .get("rules-per-application-load-balancer")
                    .and_then(|v| usize::try_from(*v).ok());
                cache.certificates_quota = limits
                    .get("certificates-per-application-load-balancer")
                    .and_then(|v| usize::try_from(*v).ok());
            }
            // The documented default is assumed; checked again on the next refresh.
            Err(e) => observed.degrade(format!(
                "DescribeAccountLimits failed, the default of 100 rules per ALB assumed: {e}"
            )),
        }
    }
    observed.rules_quota = cache.rules_quota;
    observed.certificates_quota = cache.certificates_quota;
}

async fn read_tags(
    aws: &Aws,
    arns: &[String],
    observed: &mut Observation,
) -> FxHashMap<String, crate::state::Tags> {
    let mut out = FxHashMap::default();
    for batch in arns.chunks(DESCRIBE_TAGS_BATCH) {
        match aws.elb.describe_tags(batch).await {
            Ok(tags) => out.extend(tags),
            Err(e) => observed.fail(e),
        }
    }
    out
}

async fn read_target_groups(
    aws: &Aws,
    ownership: &Ownership,
    cache: &mut Cache,
    owned_tags: &FxHashMap<String, Tags>,
    observed: &mut Observation,
) {
    match aws.elb.describe_target_groups().await {
        Ok(mut groups) => {
            cache.share_groups_values(&mut groups);
            observed.target_groups = groups;
            observed.target_groups_complete = true;
        }
        Err(e) => {
            observed.fail(e);
            return;
        }
    }
    // Only our naming scheme can hold our target groups: reading every group's tags would
    // cost a call per 20 groups of the whole account.
    let mut candidates = Vec::new();
    for group in observed
        .snapshot
        .target_groups
        .iter_mut()
        .filter(|t| t.name.starts_with(TARGET_GROUP_NAME_PREFIX))
    {
        match owned_tags.get(group.arn.as_str()) {
            Some(t) => {
                group.tags = t.clone();
                observed.indexed_tags.mark(&group.arn);
            }
            None => candidates.push(group.arn.to_string()),
        }
    }
    let tags = read_tags(aws, &candidates, observed).await;
    let mut failures = Vec::new();
    for group in &mut observed.target_groups {
        if let Some(t) = tags.get(group.arn.as_str()) {
            group.tags = t.clone();
        }
        if !ownership.owns(&group.tags) {
            continue;
        }
        if let Some(attributes) = cache.attributes.get(group.arn.as_str()) {
            group.attributes = attributes.clone();
            continue;
        }
        match aws.elb.describe_target_group_attributes(&group.arn).await {
            Ok(attributes) => group.attributes = cache.remember_attributes(&group.arn, attributes),
            Err(e) => failures.push(e),
        }
    }
    for e in failures {
        observed.fail(e);
    }
}

/// Reads the running tasks of `services` (cluster ARN, service name, service ARN) and the
/// registered targets of `target_groups`, for `alb.targets=direct`.
pub(crate) async fn observe_direct(
    aws: &Aws,
    services: &[(String, String, String)],
    target_groups: &[String],
    observed: &mut Observation,
) {
    for (cluster, name, service_arn) in services {
        let arns = match aws.ecs.list_tasks(cluster, name).await {
            Ok(arns) => arns,
            Err(e) => {
                observed.fail(e);
                continue;
            }
        };
        let group = format!("service:{name}");
        let mut tasks = Vec::new();
        for batch in arns.chunks(DESCRIBE_TASKS_BATCH) {
            match aws.ecs.describe_tasks(cluster, batch).await {
                // ListTasks filters by service on AWS but not on every emulator: the
                // task's group is authoritative.
                Ok(found) => tasks.extend(
                    found
                        .into_iter()
                        .filter(|t| t.group.as_deref() == Some(group.as_str())),
                ),
                Err(e) => observed.fail(e),
            }
        }
        observed.tasks.insert(service_arn.clone(), tasks);
    }
    observe_health(aws, target_groups, observed).await;
}

/// DescribeTargetHealth for `target_groups` not read yet this pass.
pub(crate) async fn observe_health(
    aws: &Aws,
    target_groups: &[String],
    observed: &mut Observation,
) {
    let wanted: Vec<&String> = target_groups
        .iter()
        .filter(|a| !observed.targets.contains_key(*a))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    for chunk in wanted.chunks(READ_CONCURRENCY) {
        let calls: Vec<_> = chunk
            .iter()
            .map(|arn| aws.elb.describe_target_health(arn))
            .collect();
        for (arn, result) in chunk.iter().zip(join_all(calls).await) {
            match result {
                Ok(targets) => {
                    observed.targets.insert((*arn).clone(), targets);
                }
                Err(e) => observed.fail(e),
            }
        }
    }
}
