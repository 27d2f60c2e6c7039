//! Faults on every AWS operation a pass makes, and crashes between any two writes: after the
//! faults stop, the next passes reach exactly the state a fault-free run reaches, with no
//! duplicates, no leftovers, no deletion on a partial read and no published service
//! withdrawn by mistake.
//!
//! `cargo test --test fake_faults -- --nocapture` prints the number of cases run.

use std::collections::BTreeSet;

use ecs_ingress::apply;
use ecs_ingress::aws::ErrorKind;
use ecs_ingress::fake::Fault;
use ecs_ingress::observe::{self, Cache};
use ecs_ingress::runtime;
use ecs_ingress::testing::Estate;

/// An owned rule: listener name, hosts, paths, target group names.
type RuleShape = (String, Vec<String>, Vec<String>, Vec<String>);

/// A Cloud Map service: its name and instances (id, ALB attribute).
type CloudMapShape = (String, Vec<(String, Option<String>)>);

/// What a converged account looks like, without ids that differ from run to run.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    /// Owned target groups: name and health-check path.
    target_groups: BTreeSet<(String, String)>,
    /// Owned rules: listener name, hosts, paths, target group name (priorities are checked
    /// for uniqueness, not compared: a different order of creation may place them apart).
    rules: BTreeSet<RuleShape>,
    /// Services' load balancers: service name → target group names.
    attachments: BTreeSet<(String, Vec<String>)>,
    /// Records of the managed zone: name, type, values, alias target.
    records: BTreeSet<(String, String, Vec<String>, Option<String>)>,
    /// Cloud Map: service name → instance ids with their ALB attribute.
    cloudmap: BTreeSet<CloudMapShape>,
    /// Registered targets of owned target groups (direct mode): group name → ip:port.
    targets: BTreeSet<(String, Vec<String>)>,
}

fn snapshot(estate: &Estate) -> Snapshot {
    let world = estate.fake.world();
    let owned = |tags: &ecs_ingress::state::Tags| tags.contains_key("ecs-ingress/owner");
    let tg_name = |arn: &str| {
        world
            .target_groups
            .get(arn)
            .map(|g| g.name.clone())
            .unwrap_or_else(|| format!("missing {arn}"))
    };
    let listener_name = |arn: &str| {
        estate
            .listeners
            .iter()
            .find(|(_, a)| a.as_str() == arn)
            .map(|(n, _)| n.clone())
            .unwrap_or_default()
    };
    let mut priorities = BTreeSet::new();
    for r in world.rules.values().filter(|r| owned(&r.tags)) {
        assert!(
            priorities.insert((r.listener_arn.clone(), r.priority)),
            "duplicate priority {:?}",
            r.priority
        );
    }
    Snapshot {
        target_groups: world
            .target_groups
            .values()
            .filter(|g| owned(&g.tags))
            .map(|g| (g.name.clone(), g.health_check.path.to_string()))
            .collect(),
        rules: world
            .rules
            .values()
            .filter(|r| owned(&r.tags))
            .map(|r| {
                (
                    listener_name(&r.listener_arn),
                    r.hosts.clone(),
                    r.paths.clone(),
                    r.forward_target_groups.iter().map(|a| tg_name(a)).collect(),
                )
            })
            .collect(),
        attachments: world
            .services
            .values()
            .map(|s| {
                (
                    s.service.name.clone(),
                    s.service
                        .load_balancers
                        .iter()
                        .filter_map(|l| l.target_group_arn.as_deref().map(tg_name))
                        .collect(),
                )
            })
            .collect(),
        records: world.zones[&estate.zone_id]
            .1
            .iter()
            .map(|r| {
                (
                    r.name.clone(),
                    r.record_type.to_string(),
                    r.values.clone(),
                    r.alias.as_ref().map(|a| a.dns_name.to_string()),
                )
            })
            .collect(),
        cloudmap: world
            .cloudmap
            .services
            .values()
            .map(|s| {
                (
                    s.service.name.clone(),
                    s.instances
                        .values()
                        .map(|i| {
                            (
                                i.id.clone(),
                                i.attributes.get("AWS_ALIAS_DNS_NAME").cloned(),
                            )
                        })
                        .collect(),
                )
            })
            .collect(),
        targets: world
            .targets
            .iter()
            .filter(|(arn, _)| {
                world
                    .target_groups
                    .get(*arn)
                    .is_some_and(|g| owned(&g.tags))
            })
            .map(|(arn, t)| {
                (
                    tg_name(arn),
                    t.iter().map(|t| format!("{}:{}", t.id, t.port)).collect(),
                )
            })
            .collect(),
    }
}

/// a, b, c (with a Cloud Map registration) and e (direct mode, two tasks) published, with
/// the Cloud Map namespace `internal` managed. The transition then withdraws c, publishes d
/// (with Cloud Map), changes b's health check, deregistration delay and hosts, and replaces
/// one of e's tasks: creates, updates and deletes of every kind in one pass.
fn scenario() -> Estate {
    let estate = Estate::new(1);
    estate
        .fake
        .world()
        .cloudmap
        .add_namespace("internal", "DNS_PRIVATE");
    for name in ["a", "b"] {
        estate.add_service(
            name,
            &[("alb.host", &format!("{name}.in.example.com"))],
            &[],
        );
    }
    estate.add_service(
        "c",
        &[
            ("alb.host", "c.in.example.com"),
            ("cloudmap.namespace", "internal"),
        ],
        &[],
    );
    let e = estate.add_service(
        "e",
        &[("alb.host", "e.in.example.com"), ("alb.targets", "direct")],
        &[],
    );
    let mut world = estate.fake.world();
    world.add_task(&e, "10.0.1.10");
    world.add_task(&e, "10.0.1.11");
    drop(world);
    // Every name must be served from the moment its record exists, after every write.
    for name in ["a", "b", "c", "e"] {
        estate.expect_served(
            &format!("{name}.in.example.com"),
            &service_arn(&estate, name),
        );
    }
    estate
}

fn service_arn(estate: &Estate, name: &str) -> String {
    estate
        .fake
        .world()
        .services
        .values()
        .find(|s| s.service.name == name)
        .map(|s| s.service.arn.clone())
        .unwrap_or_default()
}

fn controller(estate: &Estate) -> runtime::Controller {
    let mut config = estate.config();
    config.cloudmap_namespaces = vec!["internal".into()];
    estate.controller_with(config)
}

fn transition(estate: &Estate) {
    estate.fake.release_served("c.in.example.com");
    let d = estate.add_service(
        "d",
        &[
            ("alb.host", "d.in.example.com"),
            ("cloudmap.namespace", "internal"),
        ],
        &[],
    );
    estate.expect_served("d.in.example.com", &d);
    estate.expect_served("b2.in.example.com", &service_arn(estate, "b"));
    let mut world = estate.fake.world();
    for td in world.task_definitions.values_mut() {
        match td.tags.get("alb.host") {
            Some("c.in.example.com") => td.tags.clear(),
            Some("b.in.example.com") => {
                td.tags.insert(
                    "alb.host".into(),
                    "b.in.example.com b2.in.example.com".into(),
                );
                td.tags
                    .insert("alb.healthcheck.path".into(), "/health".into());
                td.tags
                    .insert("alb.deregistration-delay".into(), "10".into());
            }
            _ => {}
        }
    }
    let e = world
        .services
        .values()
        .find(|s| s.service.name == "e")
        .map(|s| s.service.arn.clone())
        .expect("e");
    let first = world
        .tasks
        .iter()
        .find(|t| t.task.group.as_deref() == Some("service:e"))
        .map(|t| t.task.arn.clone())
        .expect("task");
    world.stop_task(&first);
    world.add_task(&e, "10.0.1.12");
}

async fn reference() -> (Snapshot, BTreeSet<&'static str>, usize) {
    let estate = scenario();
    estate.converge(&controller(&estate), 20).await;
    transition(&estate);
    // A fresh process: its caches are cold, so every kind of read is made.
    let fresh = controller(&estate);
    estate.fake.reset_calls();
    fresh.pass(true).await;
    let writes = estate.fake.writes();
    // The passes after it finish the job (an emptied Cloud Map service goes one pass later).
    estate.converge(&fresh, 20).await;
    let ops: BTreeSet<&'static str> = estate.fake.calls().iter().map(|c| c.operation).collect();
    estate.assert_traffic_served("reference");
    (snapshot(&estate), ops, writes)
}

/// Published names that must survive any fault: a and b.
fn assert_still_published(estate: &Estate, case: &str) {
    let snap = snapshot(estate);
    for host in ["a.in.example.com", "b.in.example.com"] {
        assert!(
            snap.rules.iter().any(|r| r.1.iter().any(|h| h == host)),
            "{case}: rule of {host} gone"
        );
        assert!(
            snap.records.iter().any(|r| r.0 == host),
            "{case}: record of {host} gone"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn every_operation_failing_in_every_way_converges_to_the_fault_free_state() {
    let (want, ops, _) = reference().await;
    for op in [
        "GetHostedZone",
        "DescribeTargetGroupAttributes",
        "ModifyTargetGroupAttributes",
        "ModifyRule",
        "RegisterTargets",
        "DeregisterTargets",
        "ListInstances",
        "CreateService",
        "RegisterInstance",
        "DeregisterInstance",
        "ListTagsForResource",
        "DeleteService",
    ] {
        assert!(ops.contains(op), "{op} not exercised: {ops:?}");
    }
    let kinds = [
        ErrorKind::Throttled,
        ErrorKind::Unavailable,
        ErrorKind::AccessDenied,
        ErrorKind::NotFound,
    ];
    let mut cases = 0;
    let mut partial = 0;
    for op in &ops {
        for kind in kinds {
            for times in [1, 3] {
                let case = format!("{op} {kind:?} x{times}");
                let estate = scenario();
                estate.converge(&controller(&estate), 20).await;
                transition(&estate);
                let controller = controller(&estate);
                estate.fake.reset_calls();
                estate.fake.inject(Fault {
                    operation: op,
                    kind,
                    times,
                });
                let report = controller.pass(true).await;
                let calls = estate.fake.calls();
                if *op == "GetResources" {
                    // The index has a fallback: its failure leaves nothing unread.
                    assert!(
                        report.observed_failures.is_empty(),
                        "{case}: {:?}",
                        report.observed_failures
                    );
                }
                // A read with a fallback (the tagging index) is not a partial read; any
                // other failed read is, and then nothing may be deleted.
                if !report.observed_failures.is_empty() {
                    let deletions: Vec<&str> = calls
                        .iter()
                        .filter(|c| c.served && c.is_write())
                        .map(|c| c.operation)
                        .filter(|o| o.starts_with("Delete") || o.starts_with("Deregister"))
                        .collect();
                    assert!(deletions.is_empty(), "{case}: deleted {deletions:?}");
                    // DNS deletions go in ChangeResourceRecordSets: check the record too.
                    assert!(
                        snapshot(&estate)
                            .records
                            .iter()
                            .any(|r| r.0 == "c.in.example.com"),
                        "{case}: c's record deleted on a partial read"
                    );
                    partial += 1;
                }
                assert_still_published(&estate, &case);
                // A fault on a call of a later pass fires there; then faults stop.
                estate.converge(&controller, 20).await;
                estate.fake.clear_faults();
                estate.converge(&controller, 20).await;
                assert_eq!(snapshot(&estate), want, "{case}");
                estate.assert_traffic_served(&case);
                cases += 1;
            }
        }
    }
    eprintln!(
        "fault matrix: {} operations x {} kinds x 2 repeat counts = {cases} cases, all converged; \
         {partial} with a partial read, none deleted anything; operations: {ops:?}",
        ops.len(),
        kinds.len()
    );
}

#[tokio::test(start_paused = true)]
async fn a_page_failing_midway_deletes_nothing() {
    // 130 services: ListServices answers in 2 pages, DescribeServices in 13 batches, and
    // untagging makes 130 DescribeTaskDefinition reads.
    let estate = Estate::new(2);
    for i in 0..130 {
        let listener = if i < 65 { "default" } else { "alb-1" };
        estate.add_service(
            &format!("s{i}"),
            &[
                ("alb.host", &format!("s{i}.in.example.com")),
                ("alb.listener", listener),
            ],
            &[],
        );
    }
    let controller = controller(&estate);
    estate.converge(&controller, 20).await;
    let converged = snapshot(&estate);
    let mut cases = 0;
    for op in ["ListServices", "DescribeServices", "DescribeTaskDefinition"] {
        estate.untag_task_definitions();
        // Untagged everything: a complete read would withdraw all 130. A failed second page
        // must withdraw nothing.
        estate.fake.reset_calls();
        estate.fake.inject_after(
            Fault {
                operation: op,
                kind: ErrorKind::Unavailable,
                times: 1,
            },
            1,
        );
        controller.pass(true).await;
        assert!(
            !estate.fake.calls().iter().any(|c| c.served && c.is_write()),
            "{op}: wrote after a failed page: {:?}",
            estate.fake.call_counts()
        );
        assert_eq!(snapshot(&estate), converged, "{op}");
        // Put the tags back for the next case.
        estate.fake.clear_faults();
        let mut world = estate.fake.world();
        for td in world.task_definitions.values_mut() {
            let family = td
                .arn
                .rsplit('/')
                .next()
                .and_then(|f| f.split(':').next())
                .unwrap_or_default()
                .to_string();
            let n: usize = family.trim_start_matches('s').parse().unwrap_or(0);
            td.tags
                .insert("alb.host".into(), format!("{family}.in.example.com"));
            td.tags.insert(
                "alb.listener".into(),
                if n < 65 { "default" } else { "alb-1" }.into(),
            );
        }
        drop(world);
        cases += 1;
    }
    eprintln!("failed second page: {cases} operations, no write in the failed pass");
}

#[tokio::test(start_paused = true)]
async fn a_crash_after_any_write_is_finished_by_a_fresh_process() {
    let (want, _, writes) = reference().await;
    assert!(writes >= 10, "the transition makes {writes} writes");
    for k in 0..writes {
        let estate = scenario();
        estate.converge(&controller(&estate), 20).await;
        transition(&estate);
        // The process dies after its k-th write of the pass: the applier is stopped there.
        let mut config = estate.config();
        config.cloudmap_namespaces = vec!["internal".into()];
        let plan_config = config.plan_config();
        let aws = estate.fake.aws();
        let mut cache = Cache::default();
        let mut observed =
            observe::observe(&aws, &config, &plan_config.ownership, &mut cache).await;
        let intents = runtime::intents(&config, &observed);
        let planned = runtime::plan_pass(&aws, &plan_config, &mut observed, &intents).await;
        let start = estate.fake.writes();
        let stop = || estate.fake.writes() >= start + k;
        apply::apply(&aws, &planned, &estate.metrics, &stop).await;
        assert!(estate.fake.writes() <= start + k + 1);
        // A fresh process (empty cache) finishes the job.
        let fresh = controller(&estate);
        estate.converge(&fresh, 20).await;
        assert_eq!(snapshot(&estate), want, "crash after write {k}");
        estate.assert_traffic_served(&format!("crash after write {k}"));
    }
    eprintln!("crash after each of {writes} writes: all converged");
}

#[tokio::test(start_paused = true)]
async fn two_controllers_with_one_owner_do_not_fight_and_other_owners_are_left_alone() {
    let (want, _, _) = reference().await;
    let estate = scenario();
    let (one, two) = (controller(&estate), controller(&estate));
    // Both run their passes at the same time, interleaving every call, until published.
    for _ in 0..20 {
        tokio::join!(one.pass(true), two.pass(true));
        if estate.fake.unserved().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    }
    transition(&estate);
    tokio::join!(one.pass(true), two.pass(true));
    for _ in 0..20 {
        if snapshot(&estate) == want {
            break;
        }
        tokio::join!(one.pass(true), two.pass(true));
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    }
    assert_eq!(snapshot(&estate), want);
    estate.assert_traffic_served("two controllers");
    let before = estate.fake.writes();
    tokio::join!(one.pass(true), two.pass(true));
    assert_eq!(estate.fake.writes(), before, "no flapping between them");

    // A controller with another owner id sees the same tags but owns nothing: it reports
    // conflicts and changes nothing of the first one's.
    let mut config = estate.config();
    config.owner_id = "team-b".into();
    let other = estate.controller_with(config);
    let before = estate.fake.writes();
    let report = other.pass(true).await;
    let planned: Vec<String> = report
        .plan
        .changes
        .iter()
        .map(|c| c.change.to_string())
        .collect();
    assert!(planned.is_empty(), "{planned:?}");
    assert_eq!(estate.fake.writes(), before);
    assert!(
        report
            .plan
            .services
            .iter()
            .all(|s| s.state == ecs_ingress::status::ServiceState::Conflict),
        "every service is reported as held by the other owner"
    );
    assert_eq!(
        snapshot(&estate).rules,
        want.rules,
        "the first owner's rules are untouched"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_renumbering_is_retried_and_ends_in_specificity_order() {
    // A band of two priorities: the more specific rule for the same host only fits if the
    // first one moves, which takes a SetRulePriorities call.
    let estate = Estate::new(1);
    let mut config = estate.config();
    config.priority_range = ecs_ingress::config::PriorityRange {
        low: 1000,
        high: 1001,
    };
    let controller = estate.controller_with(config);
    estate.add_service(
        "api",
        &[("alb.host", "h.in.example.com")],
        &[("alb.path", "/api/*")],
    );
    estate.converge(&controller, 20).await;
    estate.add_service(
        "api-v2",
        &[("alb.host", "h.in.example.com")],
        &[("alb.path", "/api/v2/*")],
    );
    for kind in [ErrorKind::Throttled, ErrorKind::Unavailable] {
        estate.fake.inject(Fault {
            operation: "SetRulePriorities",
            kind,
            times: 1,
        });
    }
    estate.converge(&controller, 20).await;
    let counts = estate.fake.call_counts();
    assert!(
        counts.get("SetRulePriorities").copied().unwrap_or(0) >= 2,
        "the renumbering failed and was retried: {counts:?}"
    );
    let world = estate.fake.world();
    let priority = |path: &str| {
        world
            .rules
            .values()
            .find(|r| r.paths == vec![path.to_string()])
            .and_then(|r| r.priority)
            .expect("rule")
    };
    assert!(
        priority("/api/v2/*") < priority("/api/*"),
        "more specific first"
    );
}
