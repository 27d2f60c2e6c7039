//! The applier: runs a plan's changes in order through the adapter traits.
//!
//! A failed change stops the rest of that service's changes for this pass (a rule must not
//! be created for a target group that failed to appear); other services go on. Everything
//! is retried by the next pass, which plans again from a fresh read.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use std::time::SystemTime;

use serde::Serialize;

use crate::aws::{Aws, AwsError, ErrorKind, ROUTE53_BATCH_CHARS, ROUTE53_BATCH_RECORDS};
use crate::ownership::marker::{MARKER_PREFIX, restamp};
use crate::plan::{Change, Plan, PlannedChange};
use crate::state::{RecordChange, RuleSpec};
use crate::status::{Problem, ResourceKind, ResourceRef, ServiceState, ServiceStatus};
use crate::telemetry::{ChangeLabels, Metrics};

mod attachment;
mod certificates;
mod cloudmap;
pub(crate) mod provision;
mod target_groups;

/// How often a target-group delete is retried while AWS still sees it in use (a rule that
/// was just deleted can take a moment to let go of it).
const IN_USE_RETRIES: u32 = 3;

/// What happened to one change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Applied,
    Failed,
    /// Not started: an earlier change of the same service failed, or the process stops.
    Skipped,
}

impl Outcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// What happened to one change.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeResult {
    pub service_arn: Option<String>,
    pub service: String,
    pub change: String,
    /// What the change acts on (and so what it created, if anything).
    pub kind: ResourceKind,
    pub result: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// ARN of what it created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// It failed on a quota of AWS's: the service is `quota`, not `error`.
    #[serde(skip)]
    pub quota: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ApplyReport {
    pub results: Vec<ChangeResult>,
    /// Target-group attributes it wrote (created or modified groups), so the read cache can
    /// skip reading them back.
    #[serde(skip)]
    pub attributes_written: Vec<(String, crate::state::TargetGroupAttributes)>,
}

impl ApplyReport {
    pub fn failed(&self) -> usize {
        self.results
            .iter()
            .filter(|r| r.result != Outcome::Applied)
            .count()
    }

    pub fn succeeded(&self) -> usize {
        self.results
            .iter()
            .filter(|r| r.result == Outcome::Applied)
            .count()
    }

    /// Folds the outcome into the views of the services: failures become `error` with the
    /// reason; a `pending` service whose changes all applied and that waits for nothing is
    /// `published`; created resources are listed. A view shared with another holder is
    /// copied only when this changes it.
    pub(crate) fn update_statuses(&self, services: &mut [Arc<ServiceStatus>]) {
        let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
        // Indexed once: a cold start has a result per change of every service, and a scan
        // per service made this quadratic (seconds at 10,000 services).
        let mut by_service: BTreeMap<&str, Vec<&ChangeResult>> = BTreeMap::new();
        for r in &self.results {
            if let Some(arn) = r.service_arn.as_deref() {
                by_service.entry(arn).or_default().push(r);
            }
        }
        for s in services.iter_mut() {
            let mine = by_service
                .get(s.service_arn.as_str())
                .map(Vec::as_slice)
                .unwrap_or_default();
            let all_applied = mine.iter().all(|r| r.result == Outcome::Applied);
            let published = s.state == ServiceState::Pending && all_applied && s.waiting.is_empty();
            // A change skipped without an error (the process stops) says nothing new.
            let told = mine
                .iter()
                .any(|r| r.result == Outcome::Applied || r.error.is_some());
            if !published && !told {
                continue;
            }
            let s = Arc::make_mut(s);
            if published {
                s.state = ServiceState::Published;
            }
            for r in mine {
                fold_result(s, r, &now);
            }
        }
    }
}

/// One change's result in its service's view: nothing for one skipped without an error.
fn fold_result(s: &mut ServiceStatus, r: &ChangeResult, now: &str) {
    if r.result == Outcome::Applied {
        s.last_change = Some(now.to_string());
        if let Some(arn) = &r.created {
            s.resources.push(ResourceRef {
                kind: r.kind,
                id: arn.as_str().into(),
            });
        }
    } else if let Some(e) = &r.error {
        s.state = if r.quota && s.state != ServiceState::Error {
            ServiceState::Quota
        } else {
            ServiceState::Error
        };
        s.problems.push(Problem {
            key: None,
            reason: format!("{}: {e}", r.change),
        });
    }
}

fn service_key(planned: &PlannedChange) -> String {
    planned
        .service_arn
        .clone()
        .unwrap_or_else(|| planned.service.clone())
}

fn result_of(planned: &PlannedChange) -> ChangeResult {
    ChangeResult {
        service_arn: planned.service_arn.clone(),
        service: planned.service.clone(),
        change: planned.change.to_string(),
        kind: planned.change.kind(),
        result: Outcome::Applied,
        error: None,
        created: None,
        quota: false,
    }
}

fn skipped(planned: &PlannedChange) -> ChangeResult {
    ChangeResult {
        result: Outcome::Skipped,
        error: Some("an earlier change for this service failed".into()),
        ..result_of(planned)
    }
}

/// Applies `plan` in phase order; publishing runs one pipeline per service, services
/// concurrently. DNS changes of one phase go out together, in change batches per zone. Once
/// `stop()` turns true no further change is started (those in flight finish); the rest are reported as not started and the next process plans them again.
pub async fn apply(
    aws: &Aws,
    plan: &Plan,
    metrics: &Metrics,
    stop: &(dyn Fn() -> bool + Sync),
) -> ApplyReport {
    let changes = &plan.changes;
    let mut results: Vec<Option<ChangeResult>> = vec![None; changes.len()];
    let mut created = Created::default();
    let mut failed_services: BTreeSet<String> = BTreeSet::new();
    let written = Mutex::new(Vec::new());
    let run = Run {
        aws,
        changes,
        written: &written,
        stop,
    };
    let mut i = 0;
    while i < changes.len() && !stop() {
        let phase = changes[i].change.phase();
        if changes[i].change.is_dns() {
            let end = (i..changes.len())
                .find(|&j| !changes[j].change.is_dns() || changes[j].change.phase() != phase)
                .unwrap_or(changes.len());
            apply_dns(
                aws,
                changes,
                i..end,
                &mut failed_services,
                &mut results,
                stop,
            )
            .await;
            i = end;
            continue;
        }
        if phase.is_pipelined() {
            let end = (i..changes.len())
                .find(|&j| !changes[j].change.phase().is_pipelined())
                .unwrap_or(changes.len());
            run.publish(i..end, &mut created, &mut failed_services, &mut results)
                .await;
            i = end;
            continue;
        }
        results[i] = Some(run.one(i, &mut created, &mut failed_services).await);
        i += 1;
    }
    let mut report = ApplyReport {
        attributes_written: written
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
        ..ApplyReport::default()
    };
    for (planned, result) in changes.iter().zip(results) {
        let result = result.unwrap_or_else(|| ChangeResult {
            result: Outcome::Skipped,
            error: Some("not started: shutting down".into()),
            ..result_of(planned)
        });
        metrics
            .changes
            .get_or_create(&ChangeLabels {
                kind: planned.change.kind().as_str().into(),
                action: planned.change.action().into(),
                result: result.result.as_str().into(),
            })
            .inc();
        report.results.push(result);
    }
    report
}

/// Packs changes (by index) into batches within Route 53's limits, in order.
fn pack(changes: &[PlannedChange], indexes: &[usize]) -> Vec<Vec<usize>> {
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let (mut records, mut chars) = (0, 0);
    for &k in indexes {
        let (r, c) = changes[k]
            .change
            .record_changes()
            .iter()
            .map(|rc| rc.batch_weight())
            .fold((0, 0), |(a, b), (x, y)| (a + x, b + y));
        let fits = records + r <= ROUTE53_BATCH_RECORDS && chars + c <= ROUTE53_BATCH_CHARS;
        match batches.last_mut() {
            Some(batch) if fits => batch.push(k),
            _ => {
                batches.push(vec![k]);
                (records, chars) = (0, 0);
            }
        }
        records += r;
        chars += c;
    }
    batches
}

/// Sends one phase's DNS changes: per zone, batch by batch (one in flight per zone). A batch
/// Route 53 rejects is split in halves and retried at once, so one bad name cannot hold back
/// the others; throttling and outages fail the whole batch for the next pass instead.
async fn apply_dns(
    aws: &Aws,
    changes: &[PlannedChange],
    run: std::ops::Range<usize>,
    failed_services: &mut BTreeSet<String>,
    results: &mut [Option<ChangeResult>],
    stop: &(dyn Fn() -> bool + Sync),
) {
    let mut by_zone: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for k in run {
        let planned = &changes[k];
        if failed_services.contains(&service_key(planned)) {
            results[k] = Some(skipped(planned));
            continue;
        }
        let zone = match &planned.change {
            Change::UpsertRecords { zone_id, .. } | Change::DeleteRecords { zone_id, .. } => {
                zone_id.as_str()
            }
            _ => continue,
        };
        by_zone.entry(zone).or_default().push(k);
    }
    for (zone, indexes) in by_zone {
        let mut pending: Vec<Vec<usize>> = pack(changes, &indexes);
        pending.reverse();
        while let Some(batch) = pending.pop() {
            if stop() {
                return;
            }
            let now = aws.clock.now();
            let records: Vec<RecordChange> = batch
                .iter()
                .flat_map(|&k| switch_stamped(&changes[k].change, now))
                .collect();
            match aws.route53.change_record_sets(zone, &records).await {
                Ok(()) => {
                    for &k in &batch {
                        crate::telemetry::logging::change_applied(&changes[k]);
                        results[k] = Some(result_of(&changes[k]));
                    }
                }
                Err(e)
                    if batch.len() > 1
                        && !matches!(
                            e.kind,
                            ErrorKind::Throttled | ErrorKind::Unavailable | ErrorKind::AccessDenied
                        ) =>
                {
                    tracing::warn!(zone, changes = batch.len(), error = %e, "change batch rejected; retrying in halves");
                    let (a, b) = batch.split_at(batch.len() / 2);
                    pending.push(b.to_vec());
                    pending.push(a.to_vec());
                }
                Err(e) => {
                    for &k in &batch {
                        crate::telemetry::logging::change_failed(&changes[k], &e);
                        failed_services.insert(service_key(&changes[k]));
                        results[k] = Some(ChangeResult {
                            result: Outcome::Failed,
                            error: Some(e.to_string()),
                            ..result_of(&changes[k])
                        });
                    }
                }
            }
        }
    }
}

/// Services whose publishing pipelines run at once. The rate limiter paces the calls; this
/// only bounds what waits on it.
const PIPELINE_CONCURRENCY: usize = 32;

/// What a stretch of the applier needs.
struct Run<'a> {
    aws: &'a Aws,
    changes: &'a [PlannedChange],
    /// Attributes written so far (never locked across an await).
    written: &'a Mutex<Vec<(String, crate::state::TargetGroupAttributes)>>,
    stop: &'a (dyn Fn() -> bool + Sync),
}

impl Run<'_> {
    /// Applies change `k` unless its service already failed; records what it created.
    async fn one(
        &self,
        k: usize,
        created: &mut Created,
        failed_services: &mut BTreeSet<String>,
    ) -> ChangeResult {
        let planned = &self.changes[k];
        let key = service_key(planned);
        if failed_services.contains(&key) {
            return skipped(planned);
        }
        // A backend rule is shared: it goes only in a pass where every change that freed it
        // (rules, attachments, groups of any service) went out.
        if matches!(
            planned.change,
            Change::RevokeIngress { .. } | Change::RemoveListenerCertificate { .. }
        ) && !failed_services.is_empty()
        {
            return ChangeResult {
                result: Outcome::Skipped,
                error: Some("a change failed this pass: the rule is revoked by a later one".into()),
                ..result_of(planned)
            };
        }
        let mut result = result_of(planned);
        match apply_one(self.aws, planned, created, self.written).await {
            Ok(made) => {
                match (&planned.change, &made) {
                    (Change::CreateTargetGroup { spec, .. }, Some(arn)) => {
                        created.groups.insert(spec.name.clone(), arn.clone());
                    }
                    (Change::CreateRule { tags, .. }, Some(arn)) => {
                        if let (Some(service), Some(key)) = (
                            planned.service_arn.as_ref(),
                            crate::ownership::resource_of(tags),
                        ) {
                            created
                                .rules
                                .insert((service.clone(), key.to_string()), arn.clone());
                        }
                    }
                    (Change::CreateCloudMapService { spec }, Some(id)) => {
                        created
                            .cloudmap
                            .insert((spec.namespace_id.clone(), spec.name.clone()), id.clone());
                    }
                    _ => {}
                }
                crate::telemetry::logging::change_applied(planned);
                result.created = made;
            }
            Err(e) => {
                crate::telemetry::logging::change_failed(planned, &e);
                // A backend rule that cannot be made (a group deleted by hand, the group's
                // rule quota) does not hold back the service's group, rule and attachment:
                // its name waits for healthy targets either way.
                if !matches!(planned.change, Change::AuthorizeIngress { .. }) {
                    failed_services.insert(key);
                }
                // No service that needs the certificate gets a rule without it.
                if let Change::AddListenerCertificate { for_services, .. } = &planned.change {
                    failed_services.extend(for_services.iter().cloned());
                }
                result.result = Outcome::Failed;
                result.quota = e.kind == ErrorKind::Quota;
                result.error = Some(e.to_string());
            }
        }
        result
    }

    /// The publishing phases of `range`: listener-wide moves first (new rules go into the
    /// slots they free), then every service's own changes in order, services concurrently.
    async fn publish(
        &self,
        range: std::ops::Range<usize>,
        created: &mut Created,
        failed_services: &mut BTreeSet<String>,
        results: &mut [Option<ChangeResult>],
    ) {
        let mut per_service: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for k in range {
            if self.changes[k].service_arn.is_none() {
                if (self.stop)() {
                    return;
                }
                results[k] = Some(self.one(k, created, failed_services).await);
            } else {
                per_service
                    .entry(service_key(&self.changes[k]))
                    .or_default()
                    .push(k);
            }
        }
        let already_failed: &BTreeSet<String> = failed_services;
        let pipelines = per_service.into_iter().map(|(key, indexes)| {
            // A pipeline only ever consults its own service's failure.
            let mut failed = BTreeSet::new();
            if already_failed.contains(&key) {
                failed.insert(key);
            }
            async move {
                let mut mine = Created::default();
                let mut out = Vec::new();
                for k in indexes {
                    if (self.stop)() {
                        break;
                    }
                    out.push((k, self.one(k, &mut mine, &mut failed).await));
                }
                (out, mine, failed)
            }
        });
        let finished: Vec<_> = futures_util::stream::iter(pipelines)
            .buffer_unordered(PIPELINE_CONCURRENCY)
            .collect()
            .await;
        for (out, mine, failed) in finished {
            for (k, r) in out {
                results[k] = Some(r);
            }
            created.groups.extend(mine.groups);
            created.rules.extend(mine.rules);
            created.cloudmap.extend(mine.cloudmap);
            failed_services.extend(failed);
        }
    }
}

/// The record changes of `change`; when its records move to another ALB, with the marker's
/// `since` stamped `now`, as the batch leaves (see `Change::UpsertRecords::moves`).
fn switch_stamped(change: &Change, now: i64) -> Vec<RecordChange> {
    let moves = matches!(change, Change::UpsertRecords { moves: true, .. });
    change
        .record_changes()
        .into_iter()
        .map(|c| match c {
            RecordChange::Upsert(mut r) if moves && r.name.starts_with(MARKER_PREFIX) => {
                r.values = r
                    .values
                    .iter()
                    .map(|v| restamp(v, now).unwrap_or_else(|| v.clone()))
                    .collect();
                RecordChange::Upsert(r)
            }
            other => other,
        })
        .collect()
}

/// What earlier changes of the pass created, for later changes that refer to it.
#[derive(Default)]
struct Created {
    /// Target group name → ARN.
    groups: BTreeMap<String, String>,
    /// (service ARN, rule key) → rule ARN.
    rules: BTreeMap<(String, String), String>,
    /// (namespace id, name) → Cloud Map service id.
    cloudmap: BTreeMap<(String, String), String>,
}

/// Target-group attributes written this pass, for the read cache.
type Written = Mutex<Vec<(String, crate::state::TargetGroupAttributes)>>;

/// Treats "already gone" as done for deletions.
fn gone_is_fine(result: Result<(), AwsError>) -> Result<(), AwsError> {
    match result {
        Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// One change, by the family of resource it acts on; returns the id of what it created.
async fn apply_one(
    aws: &Aws,
    planned: &PlannedChange,
    created: &Created,
    written: &Written,
) -> Result<Option<String>, AwsError> {
    match &planned.change {
        Change::CreateTargetGroup {
            spec,
            extra_attributes,
        } => target_groups::create(aws, spec, extra_attributes, written)
            .await
            .map(Some),
        Change::ModifyHealthCheck {
            arn, health_check, ..
        } => none(aws.elb.modify_target_group(arn, health_check).await),
        Change::ModifyAttributes {
            arn, attributes, ..
        } => none(target_groups::modify_attributes(aws, arn, attributes, written).await),
        Change::DeleteTargetGroup { arn, .. } => none(target_groups::delete(aws, arn).await),
        Change::RegisterTargets { target, targets } => none(
            aws.elb
                .register_targets(&target_groups::resolve(target, created)?, targets)
                .await,
        ),
        Change::DeregisterTargets { arn, targets } => {
            none(gone_is_fine(aws.elb.deregister_targets(arn, targets).await))
        }
        Change::SetRulePriorities { priorities, .. } => {
            none(aws.elb.set_rule_priorities(priorities).await)
        }
        Change::CreateRule {
            listener_arn,
            priority,
            hosts,
            paths,
            target,
            staged,
            tags,
        } => {
            let spec = RuleSpec {
                listener_arn: listener_arn.clone(),
                priority: *priority,
                hosts: hosts.clone(),
                paths: paths.clone(),
                target_group_arn: target_groups::resolve(target, created)?,
                staged_target_group_arn: staged
                    .as_ref()
                    .map(|s| target_groups::resolve(s, created))
                    .transpose()?,
                tags: tags.clone(),
            };
            aws.elb.create_rule(&spec).await.map(Some)
        }
        Change::ModifyRule {
            arn,
            hosts,
            paths,
            target,
            staged,
        } => {
            let target = target_groups::resolve(target, created)?;
            let staged = staged
                .as_ref()
                .map(|s| target_groups::resolve(s, created))
                .transpose()?;
            none(
                aws.elb
                    .modify_rule(arn, hosts, paths, &target, staged.as_deref())
                    .await,
            )
        }
        Change::ModifyRuleWeights {
            rule,
            hosts,
            paths,
            weights,
        } => {
            let service = planned.service_arn.as_deref().unwrap_or_default();
            let arn = attachment::rule_arn(rule, service, created)?;
            let weights = weights
                .iter()
                .map(|(g, w)| Ok((target_groups::resolve(g, created)?, *w)))
                .collect::<Result<Vec<_>, AwsError>>()?;
            none(
                aws.elb
                    .modify_rule_weighted(&arn, hosts, paths, &weights)
                    .await,
            )
        }
        Change::ModifyRuleConditions { arn, hosts, paths } => {
            none(aws.elb.modify_rule_conditions(arn, hosts, paths).await)
        }
        Change::DeleteRule { arn } => none(gone_is_fine(aws.elb.delete_rule(arn).await)),
        Change::UpdateServiceLoadBalancers {
            cluster,
            service,
            load_balancers,
            deployment,
            ..
        } => none(
            attachment::update(
                aws,
                attachment::Target {
                    cluster,
                    service,
                    service_arn: planned.service_arn.as_deref().unwrap_or_default(),
                },
                load_balancers,
                deployment.as_ref(),
                created,
            )
            .await,
        ),
        Change::UpdateServiceDeployment {
            cluster,
            service,
            deployment,
        } => none(
            aws.ecs
                .update_service_load_balancers(cluster, service, None, Some(deployment))
                .await,
        ),
        // Sent in batches by `apply_dns`.
        Change::UpsertRecords { .. } | Change::DeleteRecords { .. } => Ok(None),
        Change::CreateCloudMapService { spec } => {
            cloudmap::create_service(aws, spec).await.map(Some)
        }
        Change::RegisterInstance {
            service,
            instance_id,
            attributes,
            ..
        } => none(cloudmap::register(aws, service, instance_id, attributes, created).await),
        Change::DeregisterInstance {
            service_id,
            instance_id,
            ..
        } => none(gone_is_fine(
            aws.cloudmap
                .deregister_instance(service_id, instance_id)
                .await,
        )),
        Change::DeleteCloudMapService { id, arn, owner, .. } => {
            none(cloudmap::delete_service(aws, id, arn, owner).await)
        }
        Change::CreateLoadBalancer {
            name,
            template_listener_arn,
            tags,
            ..
        } => provision::create_pool_alb(aws, name, template_listener_arn, tags)
            .await
            .map(Some),
        Change::DeleteLoadBalancer { arn, owner, .. } => none(gone_is_fine(
            provision::delete_pool_alb(aws, arn, owner).await,
        )),
        Change::AuthorizeIngress {
            group_id,
            source_group_id,
            port,
            tags,
        } => match aws
            .ec2
            .authorize_ingress(group_id, source_group_id, *port, tags)
            .await
        {
            Ok(id) => Ok(Some(id)),
            // The access is there already (a pass that planned from an older read): what
            // the change is for holds.
            Err(e) if e.kind == ErrorKind::Duplicate => Ok(None),
            Err(e) => Err(e),
        },
        Change::RevokeIngress {
            group_id, rule_id, ..
        } => none(gone_is_fine(
            aws.ec2.revoke_ingress(group_id, rule_id).await,
        )),
        Change::AddListenerCertificate { .. } | Change::RemoveListenerCertificate { .. } => {
            none(certificates::apply(aws, &planned.change).await)
        }
    }
}

/// A change that creates nothing.
fn none(result: Result<(), AwsError>) -> Result<Option<String>, AwsError> {
    result.map(|()| None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: ServiceState, waiting: Vec<String>) -> ServiceStatus {
        ServiceStatus {
            waiting,
            ..crate::testing::service_status("arn:a", "a", state)
        }
    }

    fn result(outcome: Outcome) -> ChangeResult {
        ChangeResult {
            service_arn: Some("arn:a".into()),
            service: "main/a".into(),
            change: "create listener-rule".into(),
            kind: ResourceKind::ListenerRule,
            result: outcome,
            error: (outcome == Outcome::Failed).then(|| "boom".to_string()),
            created: None,
            quota: false,
        }
    }

    #[test]
    fn the_summary_shows_the_state_after_the_changes() {
        let applied = ApplyReport {
            results: vec![result(Outcome::Applied), result(Outcome::Applied)],
            ..ApplyReport::default()
        };
        let mut done = [Arc::new(status(ServiceState::Pending, vec![]))];
        applied.update_statuses(&mut done);
        assert_eq!(done[0].state, ServiceState::Published);

        let mut waiting = [Arc::new(status(
            ServiceState::Pending,
            vec!["DNS waits".into()],
        ))];
        applied.update_statuses(&mut waiting);
        assert_eq!(
            waiting[0].state,
            ServiceState::Pending,
            "still waits for health"
        );

        let failed = ApplyReport {
            results: vec![result(Outcome::Applied), result(Outcome::Failed)],
            ..ApplyReport::default()
        };
        let mut broken = [Arc::new(status(ServiceState::Pending, vec![]))];
        failed.update_statuses(&mut broken);
        assert_eq!(broken[0].state, ServiceState::Error);
    }
}
