//! Cloud Map: which services to create, which instances to register, and what to remove.
//!
//! A service tagged `cloudmap.namespace` (and optionally `cloudmap.service`) gets one
//! instance in that Cloud Map service pointing at its ALB. The Cloud Map service is reused
//! when it exists (a platform team may have made it with its own settings) and created
//! otherwise; the ones we create carry ownership tags and a description naming the owner.
//!
//! Ownership: our instance has the id `--owner-id` and the attributes
//! [`OWNER_ATTRIBUTE`] and [`SERVICE_ATTRIBUTE`]. An instance with our id but without our
//! owner attribute is someone else's and is never replaced. On withdraw the instance is
//! deregistered; a Cloud Map service we created is deleted once it has no instances left
//! (registration changes are asynchronous, so that happens on a later pass). The applier
//! confirms the ownership tags before deleting a service.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use super::change::{Change, CloudMapServiceRef, PlannedChange};
use super::dns::NameOutcome;
use crate::model::CloudMapIntent;
use crate::ownership::Ownership;
use crate::snapshot::CloudMapSnapshot;
use crate::state::{
    CloudMapInstance, CloudMapNamespace, CloudMapService, CloudMapServiceSpec, EcsService,
    LoadBalancer,
};
use crate::status::{Problem, ResourceKind, ResourceRef};

use crate::ownership::{ALIAS_ATTRIBUTE, HTTP_ALB_ATTRIBUTE, OWNER_ATTRIBUTE, SERVICE_ATTRIBUTE};

/// The description of a Cloud Map service we create: it lets the planner find ours without
/// a tag read per service.
pub fn description(owner: &str, service_arn: &str) -> String {
    format!("ecs-ingress owner={owner} service={service_arn}")
}

/// The owner a description names, if it is one of ours.
fn description_owner(description: &str) -> Option<&str> {
    description
        .strip_prefix("ecs-ingress owner=")?
        .split_whitespace()
        .next()
}

/// The attributes our instance should have.
pub fn desired_attributes(
    owner: &str,
    service_arn: &str,
    namespace: &CloudMapNamespace,
    lb: &LoadBalancer,
) -> BTreeMap<String, String> {
    let alb = if namespace.is_dns() {
        ALIAS_ATTRIBUTE
    } else {
        HTTP_ALB_ATTRIBUTE
    };
    BTreeMap::from([
        (alb.to_string(), lb.dns_name.to_ascii_lowercase()),
        (OWNER_ATTRIBUTE.to_string(), owner.to_string()),
        (SERVICE_ATTRIBUTE.to_string(), service_arn.to_string()),
    ])
}

/// A published service that asks for Cloud Map, as the planner needs it.
pub struct CloudMapWinner<'a> {
    pub service: &'a EcsService,
    pub intent: &'a CloudMapIntent,
    pub load_balancer: &'a LoadBalancer,
}

#[derive(Debug, Default)]
pub struct CloudMapPlan {
    pub changes: Vec<PlannedChange>,
    /// Per ECS service ARN (hashed: looked up per status).
    pub outcomes: FxHashMap<String, NameOutcome>,
    /// Owned instances seen.
    pub managed: usize,
}

fn conflict(reason: String) -> Problem {
    Problem {
        key: Some("cloudmap.service".into()),
        reason,
    }
}

/// Plans Cloud Map for `winners` (oldest first). Our instances that no winner claims are
/// deregistered unless `keep(service_arn)`; our empty services are deleted.
pub fn plan_cloudmap(
    ownership: &Ownership,
    observed: &CloudMapSnapshot,
    winners: &[CloudMapWinner<'_>],
    keep: &dyn Fn(&str) -> bool,
) -> CloudMapPlan {
    let mut out = CloudMapPlan::default();
    let mut ctx = Registrar {
        ownership,
        observed,
        keep,
        claims: BTreeMap::new(),
        // Cloud Map service names are case-insensitive within a namespace.
        by_name: observed
            .services
            .iter()
            .map(|s| ((s.namespace_id.as_str(), s.name.to_ascii_lowercase()), s))
            .collect(),
    };
    for w in winners {
        let outcome = out.outcomes.entry(w.service.arn.clone()).or_default();
        ctx.register(w, outcome, &mut out.changes);
    }
    out.managed = ctx.unclaimed(&mut out.changes);
    out
}

/// What registering the winners needs, and the claims made so far.
struct Registrar<'a, 'k> {
    ownership: &'a Ownership,
    observed: &'a CloudMapSnapshot,
    keep: &'k dyn Fn(&str) -> bool,
    /// (namespace id, lowercase Cloud Map service name) → ECS service holding it this pass.
    claims: BTreeMap<(String, String), &'a EcsService>,
    by_name: BTreeMap<(&'a str, String), &'a CloudMapService>,
}

const NO_INSTANCES: &[CloudMapInstance] = &[];

impl<'a> Registrar<'a, '_> {
    /// Claims the winner's registration, or says why not, and plans its writes.
    fn register(
        &mut self,
        w: &CloudMapWinner<'a>,
        outcome: &mut NameOutcome,
        changes: &mut Vec<PlannedChange>,
    ) {
        let owner = self.ownership.owner_id();
        let Some(namespace) = self.observed.namespace(&w.intent.namespace) else {
            outcome.push_warning(self.unknown_namespace(&w.intent.namespace));
            return;
        };
        let lowercase = w.intent.service.to_ascii_lowercase();
        let existing = self
            .by_name
            .get(&(namespace.id.as_str(), lowercase.clone()))
            .copied();
        let key = (namespace.id.clone(), lowercase);
        let label = format!("{}/{}", namespace.name, w.intent.service);
        if let Some(holder) = self.claims.get(&key) {
            outcome.push_conflict(conflict(format!(
                "cloudmap: {label} is already registered by older service {}/{}",
                super::cluster_name(&holder.cluster_arn),
                holder.name
            )));
            return;
        }
        let instances = existing
            .and_then(|s| self.observed.instances.get(&s.id))
            .map(Vec::as_slice)
            .unwrap_or(NO_INSTANCES);
        let current = instances.iter().find(|i| i.id == owner);
        if let Some(p) = current.and_then(|i| self.held_elsewhere(i, w, &label)) {
            outcome.push_conflict(p);
            return;
        }
        self.claims.insert(key, w.service);
        outcome.records.push(ResourceRef {
            kind: ResourceKind::CloudMapInstance,
            id: format!("{label}/{owner}").into(),
        });
        let attributes = desired_attributes(owner, &w.service.arn, namespace, w.load_balancer);
        if current.is_some_and(|i| i.attributes == attributes) {
            return;
        }
        let target = match existing {
            Some(s) => CloudMapServiceRef::Existing {
                id: s.id.clone(),
                name: label,
            },
            None => {
                changes.push(self.create_service(w, namespace));
                CloudMapServiceRef::New {
                    namespace_id: namespace.id.clone(),
                    name: w.intent.service.clone(),
                }
            }
        };
        let exists = current.is_some();
        changes.push(PlannedChange::new(
            w.service,
            Change::RegisterInstance {
                service: target,
                instance_id: owner.to_string(),
                attributes,
                exists,
            },
            if exists {
                "instance attributes differ from the intent (changed by hand, or the ALB changed)"
            } else {
                "new Cloud Map registration"
            },
        ));
    }

    fn unknown_namespace(&self, namespace: &str) -> String {
        let missing = self
            .observed
            .missing
            .iter()
            .any(|m| m.eq_ignore_ascii_case(namespace));
        let why = if missing {
            "was not found"
        } else {
            "is not managed (see --cloudmap-namespace)"
        };
        format!("cloudmap: namespace {namespace} {why}; not registered")
    }

    /// An instance with our id that is not ours, or is held for a service kept as it is.
    fn held_elsewhere(
        &self,
        instance: &CloudMapInstance,
        w: &CloudMapWinner<'_>,
        label: &str,
    ) -> Option<Problem> {
        let owner = self.ownership.owner_id();
        if instance.attributes.get(OWNER_ATTRIBUTE).map(String::as_str) != Some(owner) {
            return Some(conflict(format!(
                "cloudmap: instance {owner} in {label} was not registered by ecs-ingress; it is left alone"
            )));
        }
        let holder = instance.attributes.get(SERVICE_ATTRIBUTE)?;
        (*holder != w.service.arn && (self.keep)(holder)).then(|| {
            conflict(format!(
                "cloudmap: {label} is still held for service {holder}, whose resources are kept as they are"
            ))
        })
    }

    fn create_service(
        &self,
        w: &CloudMapWinner<'_>,
        namespace: &CloudMapNamespace,
    ) -> PlannedChange {
        let record_types = if !namespace.is_dns() {
            vec![]
        } else if w.load_balancer.ip_address_type == "dualstack" {
            vec!["A".into(), "AAAA".into()]
        } else {
            vec!["A".into()]
        };
        PlannedChange::new(
            w.service,
            Change::CreateCloudMapService {
                spec: CloudMapServiceSpec {
                    namespace_id: namespace.id.clone(),
                    name: w.intent.service.clone(),
                    record_types,
                    description: description(self.ownership.owner_id(), &w.service.arn),
                    tags: self.ownership.tags(&w.service.arn, "cloudmap-service"),
                },
            },
            "the Cloud Map service does not exist yet",
        )
    }

    /// Our instances nobody claims any more, and our services left empty; returns how many
    /// instances are ours.
    fn unclaimed(&self, changes: &mut Vec<PlannedChange>) -> usize {
        let owner = self.ownership.owner_id();
        let mut managed = 0;
        for s in &self.observed.services {
            let instances = self
                .observed
                .instances
                .get(&s.id)
                .map(Vec::as_slice)
                .unwrap_or(NO_INSTANCES);
            let claimed = self
                .claims
                .contains_key(&(s.namespace_id.clone(), s.name.to_ascii_lowercase()));
            let mut emptied = false;
            for i in instances.iter().filter(|i| {
                i.id == owner
                    && i.attributes.get(OWNER_ATTRIBUTE).map(String::as_str) == Some(owner)
            }) {
                managed += 1;
                let holder = i
                    .attributes
                    .get(SERVICE_ATTRIBUTE)
                    .cloned()
                    .unwrap_or_default();
                if claimed || (self.keep)(&holder) {
                    continue;
                }
                changes.push(PlannedChange {
                    service_arn: Some(holder.clone()),
                    service: holder,
                    change: Change::DeregisterInstance {
                        service_id: s.id.clone(),
                        service_name: s.name.clone(),
                        instance_id: i.id.clone(),
                    },
                    reason: "no published service asks for this registration any more".into(),
                });
                emptied = true;
            }
            if !claimed && instances.is_empty() && !emptied {
                changes.extend(self.delete_if_ours(s));
            }
        }
        managed
    }

    /// An empty Cloud Map service we created (its description says so; the applier checks
    /// its tags before deleting).
    fn delete_if_ours(&self, s: &CloudMapService) -> Option<PlannedChange> {
        let owner = self.ownership.owner_id();
        let description = s.description.as_deref()?;
        if description_owner(description) != Some(owner) {
            return None;
        }
        let creator = description
            .split("service=")
            .nth(1)
            .unwrap_or_default()
            .to_string();
        if (self.keep)(&creator) {
            return None;
        }
        Some(PlannedChange {
            service_arn: Some(creator.clone()),
            service: creator,
            change: Change::DeleteCloudMapService {
                id: s.id.clone(),
                arn: s.arn.clone(),
                name: s.name.clone(),
                owner: owner.to_string(),
            },
            reason: "Cloud Map service made by ecs-ingress has no instances left".into(),
        })
    }
}

#[cfg(test)]
mod tests;
