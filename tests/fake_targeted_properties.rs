//! Properties of targeted passes on the in-memory AWS, for random estates and random
//! events: a targeted pass never changes a resource of a service it did not target, the
//! served-traffic check holds after every write, and once targeted passes have settled
//! their services a full pass finds nothing left to write.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ecs_ingress::events::{EventTarget, ServiceArn};
use ecs_ingress::runtime::{Controller, ScopeDecision};
use ecs_ingress::status::ServiceState;
use ecs_ingress::testing::Estate;
use proptest::prelude::*;

const SHARED: &str = "shared.in.example.com";

fn host(i: usize) -> String {
    format!("s{i}.in.example.com")
}

/// Routing tags: its own host, maybe the shared one (older services win it), maybe an
/// explicit priority, and a fast health check so names follow within seconds.
fn tags(i: usize, shared: bool, priority: Option<u32>) -> Vec<(String, String)> {
    let mut hosts = host(i);
    if shared {
        hosts.push(' ');
        hosts.push_str(SHARED);
    }
    let mut t = vec![
        ("alb.host".to_string(), hosts),
        ("alb.healthcheck.interval".into(), "5".into()),
        ("alb.healthcheck.timeout".into(), "4".into()),
        ("alb.healthcheck.healthy-threshold".into(), "2".into()),
    ];
    if let Some(p) = priority {
        t.push(("alb.priority".into(), (p * 10).to_string()));
    }
    t
}

#[derive(Debug, Clone)]
enum Event {
    /// New tags on service i's task definition.
    Retag { i: usize, shared: bool },
    /// Its task definition loses every tag.
    Untag(usize),
    /// Its owned rule's hosts are changed by hand.
    EditRule(usize),
    /// Its owned A record is deleted by hand.
    DeleteRecord(usize),
    /// Its owned target group's health check is changed by hand.
    EditHealthCheck(usize),
    /// A new tagged service.
    Add { shared: bool },
}

fn event(n: usize) -> impl Strategy<Value = Event> {
    prop_oneof![
        (0..n, any::<bool>()).prop_map(|(i, shared)| Event::Retag { i, shared }),
        (0..n).prop_map(Event::Untag),
        (0..n).prop_map(Event::EditRule),
        (0..n).prop_map(Event::DeleteRecord),
        (0..n).prop_map(Event::EditHealthCheck),
        any::<bool>().prop_map(|shared| Event::Add { shared }),
    ]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime")
}

fn add(estate: &Estate, i: usize, shared: bool, priority: Option<u32>) -> String {
    let t = tags(i, shared, priority);
    let t: Vec<(&str, &str)> = t.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    estate.add_service(&format!("s{i}"), &t, &[])
}

fn owned_by(tags: &ecs_ingress::state::Tags, arn: &str) -> bool {
    tags.get("ecs-ingress/service") == Some(arn)
}

/// Everything owned for `arn`: its rules, target groups, attachment and records, as text.
fn resources_of(estate: &Estate, arn: &str) -> Vec<String> {
    let world = estate.fake.world();
    let mut out: Vec<String> = world
        .rules
        .values()
        .filter(|r| owned_by(&r.tags, arn))
        .map(|r| format!("{r:?}"))
        .collect();
    out.extend(
        world
            .target_groups
            .values()
            .filter(|g| owned_by(&g.tags, arn))
            .map(|g| format!("{g:?}")),
    );
    if let Some(s) = world.services.get(arn) {
        out.push(format!("{:?}", s.service.load_balancers));
    }
    if let Some((_, records)) = world.zones.get(&estate.zone_id) {
        let marked: BTreeSet<String> = records
            .iter()
            .filter(|r| r.values.iter().any(|v| v.contains(arn)))
            .filter_map(|r| r.name.strip_prefix("_ecs-ingress.").map(str::to_string))
            .collect();
        out.extend(
            records
                .iter()
                .filter(|r| marked.contains(&r.name))
                .map(|r| format!("{r:?}")),
        );
    }
    out
}

/// Makes `event` happen in AWS and returns what the event would name.
fn happen(estate: &Estate, arns: &mut Vec<String>, event: &Event) -> Option<EventTarget> {
    let name = |i: usize| format!("s{i}");
    match *event {
        Event::Retag { i, shared } => {
            estate.fake.release_served(&host(i));
            if shared {
                // Whoever of the shared host's claimants is younger ends in conflict, and a
                // conflicting service's rule goes (it must not shadow the winner): by design,
                // in full passes too.
                for j in 0..arns.len() {
                    estate.fake.release_served(&host(j));
                }
            }
            estate.edit_task_definition_tags(&name(i), |t| {
                *t = tags(i, shared, None).into_iter().collect();
            });
            Some(EventTarget::TaskDefinitionFamily(name(i)))
        }
        Event::Untag(i) => {
            estate.fake.release_served(&host(i));
            estate.edit_task_definition_tags(&name(i), |t| t.clear());
            Some(EventTarget::TaskDefinitionFamily(name(i)))
        }
        Event::EditRule(i) => {
            // The hand edit itself stops serving the host: not a write of ours.
            estate.fake.release_served(&host(i));
            let mut world = estate.fake.world();
            let rule = world
                .rules
                .values_mut()
                .find(|r| owned_by(&r.tags, &arns[i]))?;
            rule.hosts = vec!["hand.in.example.com".into()];
            Some(EventTarget::ElbResource {
                arn: rule.arn.to_string(),
                attributes: false,
            })
        }
        Event::DeleteRecord(i) => {
            let name = host(i);
            estate.fake.release_served(&name);
            estate
                .edit_records(|records| records.retain(|r| r.name != name || r.record_type != "A"));
            Some(EventTarget::DnsName {
                zone_id: estate.zone_id.clone(),
                name,
            })
        }
        Event::EditHealthCheck(i) => {
            let mut world = estate.fake.world();
            let group = world
                .target_groups
                .values_mut()
                .find(|g| owned_by(&g.tags, &arns[i]))?;
            group.health_check.path = "/by-hand".into();
            Some(EventTarget::ElbResource {
                arn: group.arn.to_string(),
                attributes: false,
            })
        }
        Event::Add { shared } => {
            let i = arns.len();
            let arn = add(estate, i, shared, None);
            arns.push(arn.clone());
            Some(EventTarget::Service(ServiceArn::parse(&arn)?))
        }
    }
}

/// Expects every published service's own host to be served by it from now on.
fn expect_published_served(
    estate: &Estate,
    controller: &Controller,
    report: &ecs_ingress::runtime::PassReport,
) {
    let _ = controller;
    for s in report.status().services {
        if s.state == ServiceState::Published
            && let Some(i) = s
                .service
                .strip_prefix('s')
                .and_then(|n| n.parse::<usize>().ok())
        {
            estate.expect_served(&host(i), &s.service_arn);
        }
    }
}

/// Targeted passes for `targets` until one writes nothing (time running between them as
/// the follow-ups do). Returns false when the pass handed over to a full one.
async fn settle_targeted(
    estate: &Estate,
    controller: &Controller,
    targets: &BTreeSet<EventTarget>,
    untouched: &BTreeMap<String, Vec<String>>,
) -> Result<bool, TestCaseError> {
    let ScopeDecision::Targeted(scope) = controller.scope_of(targets) else {
        return Ok(false);
    };
    let targeted = scope.service_arns();
    for _ in 0..8 {
        let before = estate.fake.writes();
        let Some(report) = controller.targeted_pass(&scope).await else {
            return Ok(false);
        };
        for (arn, resources) in untouched.iter().filter(|(a, _)| !targeted.contains(*a)) {
            prop_assert_eq!(
                &resources_of(estate, arn),
                resources,
                "a targeted pass changed {}",
                arn
            );
        }
        let waiting = report
            .plan
            .services
            .iter()
            .any(|s| targeted.contains(&s.service_arn) && !s.waiting.is_empty());
        if estate.fake.writes() == before && !waiting {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_secs(6)).await;
    }
    Ok(true)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn targeted_passes_touch_only_their_services_and_leave_nothing_to_the_full_pass(
        estate_shape in proptest::collection::vec((any::<bool>(), proptest::option::weighted(0.2, 100u32..=120)), 2..6),
        events in proptest::collection::vec(event(6), 1..4),
    ) {
        runtime().block_on(async {
            let estate = Estate::new(1);
            let mut arns: Vec<String> = estate_shape
                .iter()
                .enumerate()
                .map(|(i, (shared, priority))| add(&estate, i, *shared, *priority))
                .collect();
            let controller = estate.controller();
            let (_, converged) = estate.converge_report(&controller, 20).await;
            expect_published_served(&estate, &controller, &converged);
            let targets: BTreeSet<EventTarget> = events
                .iter()
                .filter(|e| !matches!(e, Event::Retag { i, .. } | Event::Untag(i) | Event::EditRule(i) | Event::DeleteRecord(i) | Event::EditHealthCheck(i) if *i >= arns.len()))
                .cloned()
                .collect::<Vec<_>>()
                .iter()
                .filter_map(|e| happen(&estate, &mut arns, e))
                .collect();
            let untouched: BTreeMap<String, Vec<String>> = arns
                .iter()
                .map(|a| (a.clone(), resources_of(&estate, a)))
                .collect();
            let targeted = settle_targeted(&estate, &controller, &targets, &untouched).await?;
            let (violations, writes) = estate.fake.traffic_report();
            prop_assert!(violations.is_empty(), "traffic dropped ({writes} writes checked): {violations:#?}");
            if targeted {
                let before = estate.fake.writes();
                let full = controller.pass(true).await;
                prop_assert_eq!(estate.fake.writes(), before, "the full pass after targeted ones wrote: {:?}", full.plan.changes);
            }
            Ok(())
        })?;
    }
}
