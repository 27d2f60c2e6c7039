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

use std::collections::{BTreeMap, BTreeSet};

use super::change::{Change, CloudMapServiceRef, PlannedChange};
use super::dns::NameOutcome;
use crate::model::CloudMapIntent;
use crate::ownership::Ownership;
use crate::snapshot::CloudMapSnapshot;
use crate::state::{
    CloudMapInstance, CloudMapNamespace, CloudMapService, CloudMapServiceSpec, EcsService,
    LoadBalancer,
};
use crate::status::{Problem, ResourceRef};

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
    /// Per ECS service ARN.
    pub outcomes: BTreeMap<String, NameOutcome>,
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
    let owner = ownership.owner_id();
    let mut out = CloudMapPlan::default();
    // (namespace id, Cloud Map service name) → ECS service holding it this pass.
    let mut claims: BTreeMap<(String, String), &EcsService> = BTreeMap::new();
    let no_instances: Vec<CloudMapInstance> = Vec::new();
    // Cloud Map service names are case-insensitive within a namespace.
    let by_name: BTreeMap<(&str, String), &CloudMapService> = observed
        .services
        .iter()
        .map(|s| ((s.namespace_id.as_str(), s.name.to_ascii_lowercase()), s))
        .collect();

    for w in winners {
        let outcome = out.outcomes.entry(w.service.arn.clone()).or_default();
        let Some(namespace) = observed.namespace(&w.intent.namespace) else {
            let why = if observed
                .missing
                .iter()
                .any(|m| m.eq_ignore_ascii_case(&w.intent.namespace))
            {
                "was not found"
            } else {
                "is not managed (see --cloudmap-namespace)"
            };
            outcome.warnings.push(format!(
                "cloudmap: namespace {} {why}; not registered",
                w.intent.namespace
            ));
            continue;
        };
        let lowercase = w.intent.service.to_ascii_lowercase();
        let existing = by_name
            .get(&(namespace.id.as_str(), lowercase.clone()))
            .copied();
        let key = (namespace.id.clone(), lowercase);
        let label = format!("{}/{}", namespace.name, w.intent.service);
        if let Some(holder) = claims.get(&key) {
            outcome.conflicts.push(conflict(format!(
                "cloudmap: {label} is already registered by older service {}/{}",
                super::cluster_name(&holder.cluster_arn),
                holder.name
            )));
            continue;
        }
        let instances = existing
            .and_then(|s| observed.instances.get(&s.id))
            .unwrap_or(&no_instances);
        let current = instances.iter().find(|i| i.id == owner);
        if let Some(i) = current {
            let holder = i.attributes.get(SERVICE_ATTRIBUTE).map(String::as_str);
            if i.attributes.get(OWNER_ATTRIBUTE).map(String::as_str) != Some(owner) {
                outcome.conflicts.push(conflict(format!(
                    "cloudmap: instance {owner} in {label} was not registered by ecs-ingress; it is left alone"
                )));
                continue;
            }
            if let Some(other) = holder.filter(|h| *h != w.service.arn && keep(h)) {
                outcome.conflicts.push(conflict(format!(
                    "cloudmap: {label} is still held for service {other}, whose resources are kept as they are"
                )));
                continue;
            }
        }
        claims.insert(key, w.service);
        outcome.records.push(ResourceRef {
            kind: "cloudmap-instance".into(),
            id: format!("{label}/{owner}"),
        });
        let attributes = desired_attributes(owner, &w.service.arn, namespace, w.load_balancer);
        if current.is_some_and(|i| i.attributes == attributes) {
            continue;
        }
        let target = match existing {
            Some(s) => CloudMapServiceRef::Existing {
                id: s.id.clone(),
                name: label.clone(),
            },
            None => {
                let record_types = if !namespace.is_dns() {
                    vec![]
                } else if w.load_balancer.ip_address_type == "dualstack" {
                    vec!["A".into(), "AAAA".into()]
                } else {
                    vec!["A".into()]
                };
                out.changes.push(PlannedChange::new(
                    w.service,
                    Change::CreateCloudMapService {
                        spec: CloudMapServiceSpec {
                            namespace_id: namespace.id.clone(),
                            name: w.intent.service.clone(),
                            record_types,
                            description: description(owner, &w.service.arn),
                            tags: ownership.tags(&w.service.arn, "cloudmap-service"),
                        },
                    },
                    "the Cloud Map service does not exist yet",
                ));
                CloudMapServiceRef::New {
                    namespace_id: namespace.id.clone(),
                    name: w.intent.service.clone(),
                }
            }
        };
        out.changes.push(PlannedChange::new(
            w.service,
            Change::RegisterInstance {
                service: target,
                instance_id: owner.to_string(),
                attributes,
                exists: current.is_some(),
            },
            if current.is_some() {
                "instance attributes differ from the intent (changed by hand, or the ALB changed)"
            } else {
                "new Cloud Map registration"
            },
        ));
    }

    // Our instances nobody claims any more, and our services left empty.
    let mut emptied: BTreeSet<&str> = BTreeSet::new();
    for s in &observed.services {
        let instances = observed.instances.get(&s.id).unwrap_or(&no_instances);
        let claimed = claims.contains_key(&(s.namespace_id.clone(), s.name.to_ascii_lowercase()));
        for i in instances.iter().filter(|i| {
            i.id == owner && i.attributes.get(OWNER_ATTRIBUTE).map(String::as_str) == Some(owner)
        }) {
            out.managed += 1;
            let holder = i
                .attributes
                .get(SERVICE_ATTRIBUTE)
                .cloned()
                .unwrap_or_default();
            if claimed || keep(&holder) {
                continue;
            }
            out.changes.push(PlannedChange {
                service_arn: Some(holder.clone()),
                service: holder.clone(),
                change: Change::DeregisterInstance {
                    service_id: s.id.clone(),
                    service_name: s.name.clone(),
                    instance_id: i.id.clone(),
                },
                reason: "no published service asks for this registration any more".into(),
            });
            emptied.insert(s.id.as_str());
        }
        let ours = s
            .description
            .as_deref()
            .and_then(description_owner)
            .is_some_and(|o| o == owner);
        if ours && !claimed && instances.is_empty() && !emptied.contains(s.id.as_str()) {
            let creator = s
                .description
                .as_deref()
                .and_then(|d| d.split("service=").nth(1))
                .unwrap_or_default()
                .to_string();
            if keep(&creator) {
                continue;
            }
            out.changes.push(PlannedChange {
                service_arn: Some(creator.clone()),
                service: creator,
                change: Change::DeleteCloudMapService {
                    id: s.id.clone(),
                    arn: s.arn.clone(),
                    name: s.name.clone(),
                    owner: owner.to_string(),
                },
                reason: "Cloud Map service made by ecs-ingress has no instances left".into(),
            });
        }
    }
    out
}

#[cfg(test)]
#[path = "cloudmap/tests.rs"]
mod tests;
