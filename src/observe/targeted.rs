//! Reads for a targeted pass: fresh reads of a few services and of what they touch (their
//! task-definition revisions, the rules of their listeners, their target groups, the
//! records of their names), laid over the last full pass's snapshot for the rest of the
//! estate. [`Fresh`] says what was read afresh: only that may be deleted.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures_util::future::join_all;
use rustc_hash::{FxHashMap, FxHashSet};

use super::{Cache, Observation, READ_CONCURRENCY, read_tags};
use crate::aws::{Aws, DESCRIBE_SERVICES_BATCH, DESCRIBE_TARGET_GROUPS_BATCH, ErrorKind};
use crate::ownership::marker::{marker_name, parse_marker};
use crate::ownership::{Ownership, service_of};
use crate::snapshot::{BackendRulesRead, CertificatesRead, Snapshot};
use crate::state::{EcsService, RecordSet, Rule, SecurityGroupRule, Tags, TargetGroup};

/// Records read per name: a name has one record set per type, plus its marker.
const RECORDS_PER_NAME: usize = 20;

/// What the last full pass read: the base of every targeted pass until the next one.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    pub snapshot: Snapshot,
    /// Rules and target groups whose tags came from the lagging tagging index.
    pub indexed_tags: super::IndexedTags,
}

impl Baseline {
    /// Keeps a pass's reads (moved, not copied: a snapshot of thousands of services is
    /// large) as the base of the next targeted passes. Health and tasks are read per pass,
    /// never carried over.
    pub(crate) fn from_observation(observed: Observation) -> Self {
        let mut snapshot = observed.snapshot;
        snapshot.targets.clear();
        snapshot.tasks.clear();
        Self {
            snapshot,
            indexed_tags: observed.indexed_tags,
        }
    }
}

/// What a targeted pass read afresh.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fresh {
    /// The targeted services by ARN, including those found deleted.
    pub services: BTreeSet<String>,
    pub listeners: BTreeSet<String>,
    /// Rules of the fresh listeners, as read now.
    pub rules: BTreeSet<String>,
    /// Target groups read now, and those found gone.
    pub target_groups: BTreeSet<String>,
    /// (zone id, name) whose records and marker were read now.
    pub names: BTreeSet<(String, String)>,
}

/// The base snapshot with the reads of this pass still to come: no failed read yet, no
/// health or tasks (read on demand), tags from the base vouched for by a fresh read before
/// any deletion. The base's records are taken, not copied, when nothing else holds the base
/// (a targeted pass takes it out of the controller): a copy of the estate's rules, groups and
/// records was the highest point of a targeted pass (docs/performance.md).
pub fn start(base: Arc<Baseline>) -> Observation {
    let Baseline {
        mut snapshot,
        indexed_tags,
    } = Arc::unwrap_or_clone(base);
    snapshot.failed_reads.clear();
    snapshot.read_at = super::unix_now();
    Observation {
        snapshot,
        indexed_tags,
        ..Observation::default()
    }
}

/// DescribeServices for `services` (ARNs, per cluster) and DescribeTaskDefinition for the
/// revisions they run. A service not returned, or not ACTIVE, is gone: its resources are
/// withdrawn (they are read afresh next). A failed read keeps the base's view of it.
pub async fn read_services(
    aws: &Aws,
    cache: &mut Cache,
    observed: &mut Observation,
    services: &BTreeMap<String, Vec<String>>,
    fresh: &mut Fresh,
) {
    for (cluster, arns) in services {
        for batch in arns.chunks(DESCRIBE_SERVICES_BATCH) {
            match aws.ecs.describe_services(cluster, batch).await {
                Ok(found) => {
                    replace_services(observed, batch, found);
                    fresh.services.extend(batch.iter().cloned());
                }
                Err(e) => observed.fail(e),
            }
        }
    }
    let revisions: BTreeSet<String> = observed
        .services
        .iter()
        .filter(|s| fresh.services.contains(&s.arn))
        .map(|s| s.task_definition.clone())
        .collect();
    read_task_definitions(aws, cache, observed, revisions).await;
}

fn replace_services(observed: &mut Observation, asked: &[String], found: Vec<EcsService>) {
    observed.services.retain(|s| !asked.contains(&s.arn));
    observed.services.extend(
        found
            .into_iter()
            .filter(|s| s.status == crate::state::EcsServiceStatus::Active)
            .map(Arc::new),
    );
}

/// Task definitions are read afresh: their tags may be what changed.
async fn read_task_definitions(
    aws: &Aws,
    cache: &mut Cache,
    observed: &mut Observation,
    revisions: BTreeSet<String>,
) {
    let revisions: Vec<String> = revisions.into_iter().collect();
    for chunk in revisions.chunks(READ_CONCURRENCY) {
        let calls: Vec<_> = chunk
            .iter()
            .map(|arn| aws.ecs.describe_task_definition(arn))
            .collect();
        for (arn, result) in chunk.iter().zip(join_all(calls).await) {
            match result {
                Ok(td) => {
                    let td = std::sync::Arc::new(td);
                    cache
                        .task_definitions
                        .insert(arn.clone(), std::sync::Arc::clone(&td));
                    observed.task_definitions.insert(arn.clone(), td);
                }
                Err(e) => observed.fail(e),
            }
        }
    }
}

/// What rests on shared state, read afresh for a targeted pass: the certificates of the
/// fresh HTTPS listeners (one a full pass removed since must be added again before a rule
/// sends a host there) and the rules of the targeted services' security groups. A failed
/// read turns that feature off for the pass, as in a full pass.
pub async fn read_certificates_and_backend_rules(
    aws: &Aws,
    observed: &mut Observation,
    fresh: &Fresh,
) {
    if matches!(observed.certificates, CertificatesRead::Read(_)) {
        let https: Vec<String> = fresh
            .listeners
            .iter()
            .filter(|l| {
                observed
                    .listeners
                    .get(*l)
                    .is_some_and(|l| l.protocol.as_deref() == Some("HTTPS"))
            })
            .cloned()
            .collect();
        for listener in https {
            match aws.elb.describe_listener_certificates(&listener).await {
                Ok(certs) => {
                    observed.listener_certificates.insert(listener, certs);
                }
                Err(e) => {
                    observed.certificates = CertificatesRead::Failed(e.to_string());
                    break;
                }
            }
        }
    }
    if let BackendRulesRead::Read(_) = &observed.backend_rules {
        let groups: BTreeSet<String> = observed
            .services
            .iter()
            .filter(|s| fresh.services.contains(&s.arn))
            .flat_map(|s| s.security_groups.iter().cloned())
            .collect();
        let groups: Vec<String> = groups.into_iter().collect();
        // Rules of ours on groups no service has (read on the refresh pass) are the full
        // pass's to revoke: a targeted pass planning from the base's copy would revoke one
        // again until the next full pass.
        let groups_in_use: BTreeSet<String> = observed
            .services
            .iter()
            .flat_map(|s| s.security_groups.iter().cloned())
            .collect();
        let orphan = |r: &SecurityGroupRule| !groups_in_use.contains(&r.group_id);
        let read = aws.ec2.describe_ingress_rules(&groups).await;
        match (read, &mut observed.backend_rules) {
            (Ok(rules), BackendRulesRead::Read(known)) => {
                known.retain(|r| !groups.contains(&r.group_id) && !orphan(r));
                known.extend(rules);
            }
            (Err(e), _) => observed.backend_rules = BackendRulesRead::Failed(e.to_string()),
            _ => {}
        }
    }
}

/// The base's tags of the resources read again (`read`, by ARN), from one walk of the
/// base's `resources`; of an ARN the base holds twice, the later one's. Only what was read
/// again is copied: a map of every rule (or group) of the estate cost an allocation per
/// resource in every targeted pass.
fn base_tags<'a>(
    resources: impl Iterator<Item = (&'a str, &'a Tags)>,
    read: impl Iterator<Item = &'a str>,
) -> FxHashMap<String, Tags> {
    let read: FxHashSet<&str> = read.collect();
    let mut known = FxHashMap::default();
    for (arn, tags) in resources.filter(|(arn, _)| read.contains(arn)) {
        known.insert(arn.to_string(), tags.clone());
    }
    known
}

/// DescribeRules for `listeners`, replacing the base's rules of each. Tags of rules the
/// base knew come from it (marked as from the index, so a deletion confirms them first);
/// the others are read with DescribeTags.
pub async fn read_rules(
    aws: &Aws,
    cache: &mut Cache,
    observed: &mut Observation,
    listeners: &BTreeSet<String>,
    fresh: &mut Fresh,
) {
    let mut read: Vec<Rule> = Vec::new();
    for listener in listeners {
        if !observed.listeners.contains_key(listener) {
            continue;
        }
        match aws.elb.describe_rules(listener).await {
            Ok(mut rules) => {
                cache.share_rules_values(&mut rules);
                fresh.listeners.insert(listener.clone());
                read.extend(rules);
            }
            Err(e) => observed.fail(e),
        }
    }
    let known = base_tags(
        observed.rules.iter().map(|r| (r.arn.as_str(), &r.tags)),
        read.iter()
            .filter(|r| !r.is_default())
            .map(|r| r.arn.as_str()),
    );
    let mut unknown = Vec::new();
    for rule in read.iter_mut().filter(|r| !r.is_default()) {
        match known.get(rule.arn.as_str()) {
            Some(tags) => {
                rule.tags = tags.clone();
                observed.indexed_tags.mark(&rule.arn);
            }
            None => unknown.push(rule.arn.to_string()),
        }
    }
    let tags = read_tags(aws, &unknown, observed).await;
    for rule in &mut read {
        if let Some(t) = tags.get(rule.arn.as_str()) {
            rule.tags = t.clone();
        }
    }
    recount_rules(&mut observed.snapshot, &fresh.listeners, &read);
    observed
        .rules
        .retain(|r| !fresh.listeners.contains(r.listener_arn.as_str()));
    fresh.rules.extend(read.iter().map(|r| r.arn.to_string()));
    observed.rules.extend(read);
}

/// The per-ALB rule count moves by what the fresh listeners gained or lost.
fn recount_rules(snapshot: &mut Snapshot, listeners: &BTreeSet<String>, read: &[Rule]) {
    let count = |rules: &mut dyn Iterator<Item = &Rule>, listener: &str| {
        rules
            .filter(|r| r.listener_arn == listener && !r.is_default())
            .count()
    };
    for listener in listeners {
        let Some(lb) = snapshot
            .listeners
            .get(listener)
            .map(|l| l.load_balancer_arn.clone())
        else {
            continue;
        };
        let before = count(&mut snapshot.rules.iter(), listener);
        let now = count(&mut read.iter(), listener);
        let total = snapshot.rules_per_load_balancer.entry(lb).or_default();
        *total = (*total + now).saturating_sub(before);
    }
}

/// The target groups the targeted services own or use: those the base lists as theirs,
/// those their fresh rules forward to, and their `loadBalancers` entries.
pub fn groups_of(observed: &Observation, ownership: &Ownership, fresh: &Fresh) -> Vec<String> {
    let theirs = |tags: &crate::state::Tags| {
        ownership.owns(tags) && service_of(tags).is_some_and(|s| fresh.services.contains(s))
    };
    let mut arns: BTreeSet<String> = observed
        .target_groups
        .iter()
        .filter(|g| theirs(&g.tags))
        .map(|g| g.arn.to_string())
        .collect();
    for rule in observed.rules.iter().filter(|r| theirs(&r.tags)) {
        arns.extend(rule.forward_target_groups.iter().map(|a| a.to_string()));
        arns.extend(rule.staged_target_groups.iter().map(|a| a.to_string()));
    }
    for service in observed
        .services
        .iter()
        .filter(|s| fresh.services.contains(&s.arn))
    {
        arns.extend(
            service
                .load_balancers
                .iter()
                .filter_map(|lb| lb.target_group_arn.clone()),
        );
    }
    arns.into_iter().collect()
}

/// DescribeTargetGroups for `arns`, replacing the base's view of each (a group not found is
/// gone). Tags as for rules; attributes of owned groups from the cache, or read.
pub async fn read_target_groups(
    aws: &Aws,
    ownership: &Ownership,
    cache: &mut Cache,
    observed: &mut Observation,
    arns: &[String],
    fresh: &mut Fresh,
) {
    let mut read = Vec::new();
    for batch in arns.chunks(DESCRIBE_TARGET_GROUPS_BATCH) {
        if let Some(mut found) = describe_groups(aws, observed, batch).await {
            cache.share_groups_values(&mut found);
            fresh.target_groups.extend(batch.iter().cloned());
            read.extend(found);
        }
    }
    let known = base_tags(
        observed
            .target_groups
            .iter()
            .map(|g| (g.arn.as_str(), &g.tags)),
        read.iter().map(|g| g.arn.as_str()),
    );
    let mut unknown = Vec::new();
    for group in &mut read {
        match known.get(group.arn.as_str()) {
            Some(tags) => {
                group.tags = tags.clone();
                observed.indexed_tags.mark(&group.arn);
            }
            None => unknown.push(group.arn.to_string()),
        }
    }
    let tags = read_tags(aws, &unknown, observed).await;
    for group in &mut read {
        if let Some(t) = tags.get(group.arn.as_str()) {
            group.tags = t.clone();
        }
        if ownership.owns(&group.tags) {
            attributes(aws, cache, observed, group).await;
        }
    }
    observed
        .target_groups
        .retain(|g| !fresh.target_groups.contains(g.arn.as_str()));
    observed.target_groups.extend(read);
}

/// One batch; when a group does not exist AWS fails the whole call, so the batch is then
/// asked for one by one and a group not found is gone. `None` after any other failure.
async fn describe_groups(
    aws: &Aws,
    observed: &mut Observation,
    batch: &[String],
) -> Option<Vec<TargetGroup>> {
    match aws.elb.describe_target_groups_by_arn(batch).await {
        Ok(found) => return Some(found),
        Err(e) if e.kind == ErrorKind::NotFound => {}
        Err(e) => {
            observed.fail(e);
            return None;
        }
    }
    let mut found = Vec::new();
    for arn in batch {
        match aws
            .elb
            .describe_target_groups_by_arn(std::slice::from_ref(arn))
            .await
        {
            Ok(group) => found.extend(group),
            Err(e) if e.kind == ErrorKind::NotFound => {}
            Err(e) => {
                observed.fail(e);
                return None;
            }
        }
    }
    Some(found)
}

async fn attributes(
    aws: &Aws,
    cache: &mut Cache,
    observed: &mut Observation,
    group: &mut TargetGroup,
) {
    if let Some(cached) = cache.attributes.get(group.arn.as_str()) {
        group.attributes = cached.clone();
        return;
    }
    match aws.elb.describe_target_group_attributes(&group.arn).await {
        Ok(read) => group.attributes = cache.remember_attributes(&group.arn, read),
        Err(e) => observed.fail(e),
    }
}

/// The records of each (zone, name) and of its marker, replacing the base's: one page from
/// the name (a name's records come first, its marker usually right after), and one from
/// the marker when the first page ended before it.
pub async fn read_names(
    aws: &Aws,
    cache: &mut Cache,
    observed: &mut Observation,
    names: &BTreeSet<(String, String)>,
    fresh: &mut Fresh,
) {
    for (zone, name) in names {
        if !observed.records.contains_key(zone) {
            continue;
        }
        match read_name(aws, zone, name).await {
            Ok(mut records) => {
                cache.share_records_values(&mut records);
                let marker = marker_name(name);
                if let Some(all) = observed.records.get_mut(zone) {
                    all.retain(|r| r.name != *name && r.name != marker);
                    all.extend(records);
                }
                fresh.names.insert((zone.clone(), name.clone()));
            }
            // One name's read failed (its zone's other records are the base's): the whole
            // targeted pass deletes nothing, as before zones were scoped in full passes.
            Err(e) => observed.fail(e),
        }
    }
}

async fn read_name(
    aws: &Aws,
    zone: &str,
    name: &str,
) -> Result<Vec<RecordSet>, crate::aws::AwsError> {
    let marker = marker_name(name);
    let page = aws
        .route53
        .list_record_sets_from(zone, name, RECORDS_PER_NAME)
        .await?;
    let mut records: Vec<RecordSet> = page
        .records
        .iter()
        .filter(|r| r.name == name || r.name == marker)
        .cloned()
        .collect();
    // Not on a page that listed everything from the name on: there is no marker.
    let marker_seen = page.records.iter().any(|r| r.name == marker);
    if !marker_seen && page.truncated {
        let page = aws
            .route53
            .list_record_sets_from(zone, &marker, RECORDS_PER_NAME)
            .await?;
        records.extend(page.records.into_iter().filter(|r| r.name == marker));
    }
    Ok(records)
}

/// Names whose marker (in the base) lists one of `services`: names they hold now.
pub fn marked_names(
    snapshot: &Snapshot,
    services: &BTreeSet<String>,
) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (zone, records) in &snapshot.records {
        for record in records.iter().filter(|r| r.record_type == "TXT") {
            let Some(name) = record
                .name
                .strip_prefix(crate::ownership::marker::MARKER_PREFIX)
            else {
                continue;
            };
            let holds = record
                .values
                .iter()
                .filter_map(|v| parse_marker(v))
                .any(|m| m.services.iter().any(|s| services.contains(s)));
            if holds {
                out.insert((zone.clone(), name.to_string()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::FailedRead;
    use crate::state::Listener;

    fn rule(arn: &str, listener: &str, priority: Option<u32>) -> Rule {
        Rule {
            priority,
            ..crate::testing::rule(arn, listener)
        }
    }

    fn service(arn: &str, status: &str) -> EcsService {
        EcsService {
            arn: arn.into(),
            name: arn.into(),
            cluster_arn: "c".into(),
            status: crate::state::EcsServiceStatus::parse(status),
            created_at: None,
            task_definition: "td".into(),
            deployment_controller: crate::state::DeploymentController::Ecs,
            deployment: Default::default(),
            deploying: false,
            tags: Default::default(),
            load_balancers: vec![],
            security_groups: vec![],
        }
    }

    #[test]
    fn a_targeted_pass_starts_from_the_base_without_its_per_pass_reads() {
        let mut observed = Observation::default();
        observed.services.push(service("a", "ACTIVE").into());
        observed.targets.insert("g".into(), vec![]);
        observed.indexed_tags.mark("r");
        let base = Baseline::from_observation(observed);
        assert!(base.snapshot.targets.is_empty(), "health is read per pass");
        let mut with_failure = base.clone();
        with_failure.snapshot.failed_reads.push(FailedRead {
            service: "ecs".into(),
            operation: "DescribeServices".into(),
            message: "x".into(),
            zone: None,
        });
        let started = start(Arc::new(with_failure));
        assert!(started.complete(), "only this pass's reads can fail it");
        assert_eq!(started.services, base.snapshot.services);
        assert!(started.indexed_tags.may_need_confirming("r"));
    }

    #[test]
    fn a_base_held_by_the_pass_alone_is_taken_and_a_shared_one_copied() {
        let mut base = Baseline::default();
        base.snapshot.rules = vec![rule("r1", "l1", Some(1)), rule("r2", "l1", Some(2))];
        let base = Arc::new(base);
        let records = base.snapshot.rules.as_ptr();

        let shared = Arc::clone(&base);
        let copied = start(Arc::clone(&base));
        assert_eq!(copied.rules, shared.snapshot.rules);
        assert_ne!(
            copied.rules.as_ptr(),
            records,
            "another holder keeps its records"
        );

        drop(shared);
        let taken = start(base);
        assert_eq!(
            taken.rules.as_ptr(),
            records,
            "the records are moved, not copied"
        );
    }

    #[test]
    fn fresh_services_replace_the_base_and_gone_ones_leave() {
        let mut observed = Observation::default();
        observed
            .services
            .extend([service("a", "ACTIVE").into(), service("b", "ACTIVE").into()]);
        let mut a = service("a", "ACTIVE");
        a.task_definition = "td:2".into();
        replace_services(
            &mut observed,
            &["a".into(), "b".into()],
            vec![a.clone(), service("b", "DRAINING")],
        );
        assert_eq!(observed.services, vec![Arc::new(a)]);
    }

    #[test]
    fn the_rule_count_of_an_alb_follows_its_fresh_listener() {
        let mut snapshot = Snapshot::default();
        snapshot.listeners.insert(
            "l1".into(),
            Listener {
                arn: "l1".into(),
                load_balancer_arn: "lb".into(),
                port: Some(80),
                protocol: Some("HTTP".into()),
            },
        );
        snapshot.rules = vec![rule("default", "l1", None), rule("r1", "l1", Some(1))];
        // Seven more rules on the ALB's other listeners.
        snapshot.rules_per_load_balancer.insert("lb".into(), 8);
        let read = vec![
            rule("default", "l1", None),
            rule("r1", "l1", Some(1)),
            rule("r2", "l1", Some(2)),
            rule("r3", "l1", Some(3)),
        ];
        recount_rules(&mut snapshot, &BTreeSet::from(["l1".to_string()]), &read);
        assert_eq!(snapshot.rules_per_load_balancer["lb"], 10);
    }

    #[test]
    fn names_are_found_by_the_services_their_marker_lists() {
        let marker = |name: &str, services: &[String]| RecordSet {
            name: marker_name(name),
            record_type: "TXT".into(),
            ttl: Some(300),
            values: vec![crate::ownership::marker::marker_value(
                "o",
                services,
                ["A"],
                None,
            )],
            alias: None,
            set_identifier: None,
        };
        let mut snapshot = Snapshot::default();
        snapshot.records.insert(
            "Z".into(),
            vec![
                marker("a.example.com", &["svc-a".into()]),
                marker("shared.example.com", &["svc-b".into(), "svc-a".into()]),
                marker("b.example.com", &["svc-b".into()]),
            ],
        );
        let names = marked_names(&snapshot, &BTreeSet::from(["svc-a".to_string()]));
        assert_eq!(
            names,
            BTreeSet::from([
                ("Z".to_string(), "a.example.com".to_string()),
                ("Z".to_string(), "shared.example.com".to_string())
            ])
        );
    }

    proptest::proptest! {
        /// The tags taken from the base for what was read again are those a map of every
        /// resource of the base (its later copy of a repeated ARN) gives.
        #[test]
        fn base_tags_are_those_of_a_map_of_the_whole_base(
            base in proptest::collection::vec((0u8..12, 0u8..4), 0..24),
            read in proptest::collection::vec(0u8..16, 0..8),
        ) {
            let arn = |i: u8| format!("arn:aws:elasticloadbalancing:r:1:listener-rule/{i}");
            let base: Vec<(String, Tags)> = base
                .iter()
                .map(|(i, t)| {
                    (arn(*i), [("k".to_string(), t.to_string())].into_iter().collect())
                })
                .collect();
            let read: Vec<String> = read.iter().map(|i| arn(*i)).collect();
            let known = base_tags(
                base.iter().map(|(a, t)| (a.as_str(), t)),
                read.iter().map(String::as_str),
            );
            let whole: std::collections::HashMap<&str, &Tags> =
                base.iter().map(|(a, t)| (a.as_str(), t)).collect();
            for a in &read {
                proptest::prop_assert_eq!(known.get(a), whole.get(a.as_str()).copied());
            }
            proptest::prop_assert!(known.keys().all(|k| read.contains(k)));
        }
    }
}
