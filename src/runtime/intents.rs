//! Every service's intent for a pass, and what the controller remembers of them between
//! passes.
//!
//! An intent is a function of the service's name, tags and security groups, its task
//! definition revision (whose containers never change) and that revision's tags (which
//! may). A pass computes it again only for a service where one of those differs from the
//! pass that remembered it: at 10,000 services, parsing every service's keys again was a
//! tenth of a steady pass.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::config::Config;
use crate::model::{IntentInput, ServiceIntent, compute_intent};
use crate::snapshot::Snapshot;
use crate::state::{EcsService, Tags, TaskDefinition};

/// A service as a pass read it, found by its ARN. It is the snapshot's own (shared, not
/// copied): what an intent was computed from, but for its task definition's tags, or a
/// later copy that pass's successor read (see [`RememberedIntent`]).
#[derive(Debug)]
struct ByArn(Arc<EcsService>);

impl Borrow<str> for ByArn {
    fn borrow(&self) -> &str {
        &self.0.arn
    }
}

/// As the ARN hashes: looked up by `&str`.
impl Hash for ByArn {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.arn.as_str().hash(state);
    }
}

impl PartialEq for ByArn {
    fn eq(&self, other: &Self) -> bool {
        self.0.arn == other.0.arn
    }
}

impl Eq for ByArn {}

/// A service's intent at the end of the last pass, and the tags of the task definition it
/// was computed from. `None` when that was not read, or when the key is no longer the copy
/// of the service it was computed from (`key_by_services_read`): it is computed again.
#[derive(Debug)]
pub(super) struct RememberedIntent {
    pub(super) intent: ServiceIntent,
    task_definition_tags: Option<Tags>,
}

/// The remembered intents, by service. The key is the copy of the service an intent was
/// computed from, or its task definition's tags are `None`.
#[derive(Debug, Default)]
pub(super) struct RememberedIntents(FxHashMap<ByArn, RememberedIntent>);

impl RememberedIntents {
    pub(super) fn get(&self, service_arn: &str) -> Option<&RememberedIntent> {
        self.0.get(service_arn)
    }

    /// The intent remembered for `service`, if nothing it rests on changed: the service's
    /// name, tags and security groups, its task definition revision (compared by ARN: AWS
    /// never changes a revision's containers or network mode, and never reuses an ARN;
    /// anything that rewrites one in place, a test double, would get stale intents) and
    /// that revision's tags.
    fn unchanged(&self, service: &EcsService, td: &TaskDefinition) -> Option<&ServiceIntent> {
        let (ByArn(then), remembered) = self.0.get_key_value(service.arn.as_str())?;
        // Tags are shared with the snapshot they were read in: the same map is equal
        // without a look inside.
        let same_tags = |a: &Tags, b: &Tags| a.is_shared_with(b) || a == b;
        let same = remembered
            .task_definition_tags
            .as_ref()
            .is_some_and(|tags| same_tags(tags, &td.tags))
            && (std::ptr::eq(&**then, service)
                || then.name == service.name
                    && then.task_definition == service.task_definition
                    && then.security_groups == service.security_groups
                    && same_tags(&then.tags, &service.tags));
        same.then_some(&remembered.intent)
    }

    /// Gives every service of `observed` that equals the one remembered the remembered copy
    /// (shared), dropping the one just read. A converged pass reads every service as it was:
    /// without this, from here to the pass's end (its heap's peak, in planning) it held two
    /// copies of each, about 0.75 KiB per service. Equal in every field, so nothing that
    /// reads a service can tell; the intent then finds it unchanged at a glance. Returns how
    /// many services read are not the remembered copy (changed, or not remembered).
    pub(super) fn share_unchanged_services(&self, observed: &mut Snapshot) -> usize {
        let mut not_shared = 0;
        for service in &mut observed.services {
            match self.0.get_key_value(service.arn.as_str()) {
                Some((ByArn(then), _)) if Arc::ptr_eq(then, service) => {}
                Some((ByArn(then), _)) if **then == **service => *service = Arc::clone(then),
                _ => not_shared += 1,
            }
        }
        not_shared
    }

    /// Once a pass's intents are computed, keys each remembered intent whose service this
    /// pass read differently by the copy read, so the copy it was computed from is dropped
    /// now rather than when the pass ends. After a pass that changed every service (the
    /// cold start's first, which attaches each to its group) that copy of the estate's
    /// services was held through the next pass's planning, its heap's highest point.
    ///
    /// The intent stays: it is what the pass tells drift from an intent change by. Its
    /// task definition's tags are forgotten, so that it is never reused for the copy it
    /// is now keyed by: a pass that does not conclude (which would remember its own)
    /// leaves intents that the next pass computes again.
    pub(super) fn key_by_services_read(&mut self, services: &[Arc<EcsService>]) {
        for service in services {
            let read_differently = self
                .0
                .get_key_value(service.arn.as_str())
                .is_some_and(|(ByArn(then), _)| !Arc::ptr_eq(then, service));
            if read_differently
                && let Some((_, mut remembered)) = self.0.remove_entry(service.arn.as_str())
            {
                remembered.task_definition_tags = None;
                self.0.insert(ByArn(Arc::clone(service)), remembered);
            }
        }
    }
}

/// Computes every service's intent.
pub fn intents(config: &Config, observed: &Snapshot) -> Vec<(Arc<EcsService>, ServiceIntent)> {
    intents_reusing(config, observed, &RememberedIntents::default())
}

/// Every service's intent, taken from `remembered` where nothing it rests on changed. The
/// services are the snapshot's own, shared.
pub(super) fn intents_reusing(
    config: &Config,
    observed: &Snapshot,
    remembered: &RememberedIntents,
) -> Vec<(Arc<EcsService>, ServiceIntent)> {
    observed
        .services
        .iter()
        .map(|service| {
            let intent = match observed.task_definitions.get(&service.task_definition) {
                Some(td) => remembered
                    .unchanged(service, td)
                    .cloned()
                    .unwrap_or_else(|| {
                        compute_intent(&IntentInput {
                            prefix: &config.tag_prefix,
                            service_name: &service.name,
                            service_tags: &service.tags,
                            task_definition: td,
                            service_security_groups: &service.security_groups,
                        })
                    }),
                // Its task definition could not be read: the pass has a failure recorded
                // and the service is left as it is.
                None => ServiceIntent::Unmanaged,
            };
            (Arc::clone(service), intent)
        })
        .collect()
}

/// What to remember of a pass's intents; `observed` is what they were computed from. Of a
/// service read twice, the later copy and its intent: both, as the key is the service.
pub(super) fn remember(
    intents: Vec<(Arc<EcsService>, ServiceIntent)>,
    observed: &Snapshot,
) -> RememberedIntents {
    let mut remembered = FxHashMap::with_capacity_and_hasher(intents.len(), Default::default());
    // From the last: a map collected in order keeps the first key of a repeated ARN with
    // the last value, which would pair one copy with the other copy's intent.
    for (service, intent) in intents.into_iter().rev() {
        // Without its task definition the intent was not computed (`Unmanaged`).
        let task_definition_tags = observed
            .task_definitions
            .get(&service.task_definition)
            .map(|td| td.tags.clone());
        remembered
            .entry(ByArn(service))
            .or_insert(RememberedIntent {
                intent,
                task_definition_tags,
            });
    }
    RememberedIntents(remembered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Container, PortMapping};

    const ARN: &str = "arn:aws:ecs:us-east-1:123456789012:service/main/a";
    const TD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/a:1";

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn observed(service_tags: Tags, td_tags: Tags) -> Snapshot {
        let mut observed = Snapshot::default();
        observed.services.push(Arc::new(EcsService {
            arn: ARN.into(),
            name: "a".into(),
            cluster_arn: "arn:aws:ecs:us-east-1:123456789012:cluster/main".into(),
            status: crate::state::EcsServiceStatus::Active,
            created_at: Some(1),
            task_definition: TD.into(),
            deployment_controller: crate::state::DeploymentController::Ecs,
            deployment: Default::default(),
            deploying: false,
            tags: service_tags,
            load_balancers: Vec::new(),
            security_groups: vec!["sg-1".into()],
        }));
        observed.task_definitions.insert(
            TD.into(),
            Arc::new(TaskDefinition {
                arn: TD.into(),
                network_mode: Some("awsvpc".into()),
                containers: vec![Container {
                    name: "web".into(),
                    docker_labels: Tags::new(),
                    port_mappings: vec![PortMapping {
                        container_port: 80,
                        host_port: None,
                        udp: false,
                    }],
                }],
                tags: td_tags,
            }),
        );
        observed
    }

    /// Remembers a pass of `observed` with a marked intent in place of the one computed:
    /// the mark shows whether the next pass took the remembered intent or computed its own.
    fn remembered_marked(observed: &Snapshot) -> RememberedIntents {
        let config = crate::testing::Estate::new(1).config();
        let mut pass = intents(&config, observed);
        pass[0].1 = ServiceIntent::Withdraw {
            warnings: vec!["remembered".into()],
        };
        remember(pass, observed)
    }

    fn reused(remembered: &RememberedIntents, observed: &Snapshot) -> bool {
        let config = crate::testing::Estate::new(1).config();
        let pass = intents_reusing(&config, observed, remembered);
        matches!(&pass[0].1, ServiceIntent::Withdraw { warnings } if warnings == &["remembered"])
    }

    #[test]
    fn an_intent_is_computed_again_only_when_what_it_rests_on_changed() {
        let host = tags(&[("alb.host", "a.in.example.com")]);
        let before = observed(host.clone(), tags(&[("team", "x")]));
        let remembered = remembered_marked(&before);
        // The same reads, and equal copies of them, give the remembered intent.
        assert!(reused(&remembered, &before));
        assert!(reused(
            &remembered,
            &observed(host.clone(), tags(&[("team", "x")]))
        ));
        let config = crate::testing::Estate::new(1).config();
        assert!(
            matches!(
                intents(&config, &before)[0].1,
                ServiceIntent::Publish { .. }
            ),
            "without a remembered intent it is computed"
        );

        let changed: Vec<(&str, Snapshot)> = vec![
            (
                "service tags",
                observed(
                    tags(&[("alb.host", "b.in.example.com")]),
                    tags(&[("team", "x")]),
                ),
            ),
            (
                "task definition tags",
                observed(host.clone(), tags(&[("alb.port", "81")])),
            ),
            ("name", {
                let mut o = before.clone();
                Arc::make_mut(&mut o.services[0]).name = "renamed".into();
                o
            }),
            ("security groups", {
                let mut o = before.clone();
                Arc::make_mut(&mut o.services[0]).security_groups = vec!["sg-2".into()];
                o
            }),
            ("task definition revision", {
                let mut o = before.clone();
                let td = Arc::clone(&o.task_definitions[TD]);
                let revision = TD.replace(":1", ":2");
                Arc::make_mut(&mut o.services[0]).task_definition = revision.clone();
                o.task_definitions.insert(revision, td);
                o
            }),
        ];
        for (what, after) in &changed {
            assert!(
                !reused(&remembered, after),
                "{what} changed: computed again"
            );
        }
    }

    #[test]
    fn of_a_service_read_twice_the_later_copy_is_remembered_with_its_own_intent() {
        let host = tags(&[("alb.host", "a.in.example.com")]);
        let mut twice = observed(host.clone(), Tags::new());
        let mut renamed = (*twice.services[0]).clone();
        renamed.name = "renamed".into();
        twice.services.push(Arc::new(renamed));
        let config = crate::testing::Estate::new(1).config();
        let mut pass = intents(&config, &twice);
        for (service, intent) in &mut pass {
            *intent = ServiceIntent::Withdraw {
                warnings: vec![format!("remembered {}", service.name)],
            };
        }
        let remembered = remember(pass, &twice);
        let next = |copy: usize| {
            let mut o = twice.clone();
            o.services = vec![Arc::clone(&twice.services[copy])];
            intents_reusing(&config, &o, &remembered).remove(0).1
        };
        assert_eq!(
            next(1),
            ServiceIntent::Withdraw {
                warnings: vec!["remembered renamed".into()]
            }
        );
        // The first copy differs from what was remembered: computed, never the other
        // copy's intent.
        assert!(
            matches!(next(0), ServiceIntent::Publish { .. }),
            "{:?}",
            next(0)
        );
    }

    #[test]
    fn a_service_read_as_it_was_remembered_is_the_remembered_copy_and_a_changed_one_its_own() {
        let host = tags(&[("alb.host", "a.in.example.com")]);
        let before = observed(host.clone(), Tags::new());
        let remembered = remembered_marked(&before);
        let remembered_copy = Arc::clone(&before.services[0]);
        // Read again: equal, not the same allocation.
        let mut again = observed(host.clone(), Tags::new());
        assert!(!Arc::ptr_eq(&again.services[0], &remembered_copy));
        remembered.share_unchanged_services(&mut again);
        assert!(Arc::ptr_eq(&again.services[0], &remembered_copy));
        // Any field differing keeps the copy read.
        let mut deploying = observed(host.clone(), Tags::new());
        Arc::make_mut(&mut deploying.services[0]).deploying = true;
        let mut renamed = observed(host, Tags::new());
        Arc::make_mut(&mut renamed.services[0]).name = "renamed".into();
        for mut after in [deploying, renamed] {
            let read = Arc::clone(&after.services[0]);
            remembered.share_unchanged_services(&mut after);
            assert!(Arc::ptr_eq(&after.services[0], &read));
        }
        // A service never remembered keeps its own.
        let mut unknown = before.clone();
        unknown.services = vec![Arc::new(EcsService {
            arn: ARN.replace("/a", "/b"),
            ..(*before.services[0]).clone()
        })];
        let read = Arc::clone(&unknown.services[0]);
        remembered.share_unchanged_services(&mut unknown);
        assert!(Arc::ptr_eq(&unknown.services[0], &read));
    }

    #[test]
    fn a_service_read_differently_drops_the_remembered_copy_and_keeps_its_intent_for_drift() {
        let host = tags(&[("alb.host", "a.in.example.com")]);
        let before = observed(host.clone(), Tags::new());
        let mut remembered = remembered_marked(&before);
        let first_copy = Arc::downgrade(&before.services[0]);
        drop(before);
        // The cold start's next pass: the service now has its group attached.
        let mut after = observed(host.clone(), Tags::new());
        Arc::make_mut(&mut after.services[0]).deploying = true;
        assert_eq!(remembered.share_unchanged_services(&mut after), 1);
        assert!(
            first_copy.upgrade().is_some(),
            "until then the remembered intents hold it"
        );
        remembered.key_by_services_read(&after.services);
        assert!(
            first_copy.upgrade().is_none(),
            "the copy the intent was computed from is dropped"
        );
        assert!(
            matches!(
                &remembered.get(ARN).map(|r| &r.intent),
                Some(ServiceIntent::Withdraw { warnings }) if warnings == &["remembered"]
            ),
            "the last pass's intent stays, to tell drift from an intent change"
        );
        // Never reused for the copy it is now keyed by, had the pass not concluded (the
        // copies differ in nothing an intent rests on: only the forgotten tags stop it).
        assert!(!reused(&remembered, &after));
        // A pass that reads every service as remembered re-keys nothing: its intents are
        // still taken as they are.
        let steady = observed(host.clone(), Tags::new());
        let mut remembered = remembered_marked(&steady);
        let mut again = observed(host, Tags::new());
        assert_eq!(remembered.share_unchanged_services(&mut again), 0);
        remembered.key_by_services_read(&again.services);
        assert!(reused(&remembered, &again));
    }

    #[test]
    fn a_service_whose_task_definition_was_not_read_is_unmanaged_and_computed_next_time() {
        let host = tags(&[("alb.host", "a.in.example.com")]);
        let read = observed(host.clone(), Tags::new());
        let mut unread = read.clone();
        unread.task_definitions.clear();
        let remembered = remembered_marked(&read);
        let config = crate::testing::Estate::new(1).config();
        let pass = intents_reusing(&config, &unread, &remembered);
        assert_eq!(pass[0].1, ServiceIntent::Unmanaged);
        // Remembered from a pass that could not read it: nothing to reuse.
        let after_unread = remember(pass, &unread);
        let next = intents_reusing(&config, &read, &after_unread);
        assert!(matches!(next[0].1, ServiceIntent::Publish { .. }));
    }
}
