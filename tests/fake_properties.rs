//! Properties of the whole pass on the in-memory AWS, for random estates: applying converges
//! (planning again plans nothing, with zero writes), unowned resources are never touched,
//! priorities are unique and specificity-ordered, and adding or removing one service moves
//! no other rule.

use std::collections::BTreeMap;

use ecs_ingress::plan::priorities::specificity;
use ecs_ingress::state::Rule;
use ecs_ingress::testing::Estate;
use proptest::prelude::*;

const HOSTS: &[&str] = &["a.in.example.com", "b.in.example.com", "c.in.example.com"];
const PATHS: &[&str] = &["/api/*", "/api/v1/*", "/static/*", "/"];

#[derive(Debug, Clone)]
struct Svc {
    hosts: Vec<usize>,
    paths: Vec<usize>,
    explicit: Option<u32>,
}

fn svc() -> impl Strategy<Value = Svc> {
    (
        proptest::collection::btree_set(0..HOSTS.len(), 1..=2),
        proptest::collection::btree_set(0..PATHS.len(), 0..=2),
        proptest::option::weighted(0.1, 1u32..=20),
    )
        .prop_map(|(h, p, e)| Svc {
            hosts: h.into_iter().collect(),
            paths: p.into_iter().collect(),
            explicit: e,
        })
}

fn add(estate: &Estate, name: &str, s: &Svc) -> String {
    let hosts: Vec<&str> = s.hosts.iter().map(|&i| HOSTS[i]).collect();
    let paths: Vec<&str> = s.paths.iter().map(|&i| PATHS[i]).collect();
    let hosts = hosts.join(" ");
    let paths = paths.join(" ");
    let priority = s.explicit.map(|p| (p * 100).to_string());
    let mut tags = vec![("alb.host", hosts.as_str())];
    if !paths.is_empty() {
        tags.push(("alb.path", paths.as_str()));
    }
    if let Some(p) = &priority {
        tags.push(("alb.priority", p.as_str()));
    }
    estate.add_service(name, &tags, &[])
}

fn rules(estate: &Estate) -> BTreeMap<String, Rule> {
    estate.fake.world().rules.clone()
}

fn owned(r: &Rule) -> bool {
    r.tags.contains_key("ecs-ingress/owner")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime")
}

/// Passes until one writes nothing (at most 3), returning how many: the property is that
/// every write of a change lands in its first pass. Names that wait for healthy targets are
/// not writes, so this is not [`Estate::converge`], which also waits for them.
async fn passes_until_no_write(
    estate: &Estate,
    controller: &ecs_ingress::runtime::Controller,
) -> usize {
    for pass in 1..=3 {
        let before = estate.fake.writes();
        controller.pass(true).await;
        if estate.fake.writes() == before {
            return pass;
        }
    }
    99
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn apply_converges_and_leaves_unowned_rules_alone(
        services in proptest::collection::vec(svc(), 1..10),
        hand_made_priority in 1u32..2000,
    ) {
        runtime().block_on(async {
            let estate = Estate::new(1);
            let listener = estate.listeners["default"].clone();
            // A hand-made rule, possibly inside the automatic band.
            let hand_made = {
                let mut world = estate.fake.world();
                let default_tg = world.rules.values().find(|r| r.is_default()).map(|r| r.forward_target_groups[0].clone()).unwrap_or_default();
                let arn = world.insert_rule(&ecs_ingress::state::RuleSpec {
                    listener_arn: listener.clone(),
                    priority: hand_made_priority,
                    hosts: vec!["legacy.in.example.com".into()],
                    paths: vec![],
                    target_group_arn: default_tg.to_string(),
                    staged_target_group_arn: None,
                    tags: Default::default(),
                }).map_err(|e| TestCaseError::fail(e.to_string()))?;
                world.rules[&arn].clone()
            };
            for (i, s) in services.iter().enumerate() {
                add(&estate, &format!("s{i}"), s);
            }
            let controller = estate.controller();
            let first = controller.pass(true).await;
            prop_assert!(first.succeeded(), "{:?}", first.applied.map(|a| a.results.into_iter().filter(|r| r.result != ecs_ingress::apply::Outcome::Applied).collect::<Vec<_>>()));
            // Planning against what applying produced plans nothing and writes nothing.
            let before = estate.fake.writes();
            let second = controller.pass(true).await;
            prop_assert_eq!(estate.fake.writes(), before, "{:?}", second.plan.changes);
            prop_assert!(second.plan.changes.is_empty());
            let all = rules(&estate);
            prop_assert_eq!(&all[hand_made.arn.as_str()], &hand_made);
            // Specificity: for the same host, a more specific automatic rule comes first.
            let auto: Vec<&Rule> = all.values().filter(|r| owned(r)).collect();
            for a in &auto {
                for b in &auto {
                    let same_host = a.hosts.iter().any(|h| b.hosts.contains(h));
                    let explicit = |r: &Rule| r.priority.is_some_and(|p| p % 100 == 0 && p <= 2000);
                    if same_host && !explicit(a) && !explicit(b)
                        && specificity(&a.hosts, &a.paths) < specificity(&b.hosts, &b.paths)
                    {
                        prop_assert!(a.priority < b.priority, "{:?} {:?} / {:?} {:?}", a.priority, a.paths, b.priority, b.paths);
                    }
                }
            }
            Ok(())
        })?;
    }

    #[test]
    fn adding_or_removing_one_service_moves_no_other_rule(
        services in proptest::collection::vec(svc(), 1..10),
        extra in svc(),
    ) {
        runtime().block_on(async {
            let estate = Estate::new(1);
            for (i, s) in services.iter().enumerate() {
                add(&estate, &format!("s{i}"), s);
            }
            let controller = estate.controller();
            prop_assert!(passes_until_no_write(&estate, &controller).await <= 2);
            let priorities = |estate: &Estate| -> BTreeMap<String, Option<u32>> {
                rules(estate).into_iter().filter(|(_, r)| owned(r)).map(|(a, r)| (a, r.priority)).collect()
            };
            let before = priorities(&estate);
            let extra_arn = add(&estate, "extra", &extra);
            prop_assert!(passes_until_no_write(&estate, &controller).await <= 2);
            let with_extra = priorities(&estate);
            let moved_on_insert = before.iter().filter(|(a, p)| with_extra.get(*a) != Some(p)).count();
            prop_assert_eq!(moved_on_insert, 0, "insert moved existing rules (no renumbering needed with a band of 49000)");
            // Remove it again: every other rule keeps its priority.
            estate.fake.world().delete_service(&extra_arn);
            prop_assert!(passes_until_no_write(&estate, &controller).await <= 2);
            let after = priorities(&estate);
            for (arn, p) in &after {
                prop_assert_eq!(with_extra.get(arn), Some(p));
            }
            Ok(())
        })?;
    }
}
