//! The whole pass (observe → plan → apply) on the in-memory AWS: the seed reproduced,
//! convergence with zero writes, safety around hand-made resources, withdrawal, drift,
//! direct mode, conflicts and quotas.

use ecs_ingress::model::Source;
use ecs_ingress::state::{Rule, Target};
use ecs_ingress::status::{ServiceState, ServiceStatus};
use ecs_ingress::testing::Estate;
use ecs_ingress::testing::{PORT, SEED_TAGS};

/// Applies one pass and returns (writes it made, report).
async fn apply(
    estate: &Estate,
    controller: &ecs_ingress::runtime::Controller,
) -> (usize, ecs_ingress::runtime::PassReport) {
    let before = estate.fake.writes();
    let report = controller.pass(true).await;
    (estate.fake.writes() - before, report)
}

/// A hand-made rule at priority 1 forwarding to a hand-made target group.
fn hand_made_rule(estate: &Estate) -> Rule {
    let arns = estate.add_hand_made_rules(
        &estate.listeners["default"],
        1,
        &["legacy.in.example.com".to_string()],
    );
    estate.fake.world().rules[&arns[0]].clone()
}

#[tokio::test(start_paused = true)]
async fn seed_is_reproduced_converges_and_is_withdrawn() {
    let estate = Estate::new(1);
    let legacy = hand_made_rule(&estate);
    let svc = estate.add_service("service-a", SEED_TAGS, &[]);
    let controller = estate.controller();

    estate.expect_served("service-a.in.example.com", &svc);
    let (writes, report) = apply(&estate, &controller).await;
    assert!(report.succeeded(), "{:?}", report.applied);
    // Target group + rule + attachment: the minimum. The name waits until ECS's deployment
    // has a healthy target in the group (2 checks 5 s apart with the seed's tags).
    assert_eq!(writes, 3, "{:?}", estate.fake.call_counts());
    let before = estate.fake.writes();
    estate.converge(&controller, 10).await;
    assert_eq!(estate.fake.writes() - before, 1, "then one DNS batch");
    estate.assert_traffic_served("seed published");
    {
        let world = estate.fake.world();
        let groups: Vec<_> = world
            .target_groups
            .values()
            .filter(|g| g.tags.contains_key("ecs-ingress/owner"))
            .collect();
        assert_eq!(groups.len(), 1);
        let g = groups[0];
        assert_eq!(
            (g.protocol.as_str(), g.port, g.target_type.as_str()),
            ("HTTP", PORT, "ip")
        );
        assert_eq!(g.health_check.path, "/application-status/health");
        assert_eq!(
            (
                g.health_check.healthy_threshold,
                g.health_check.unhealthy_threshold,
                g.health_check.interval_seconds,
                g.health_check.timeout_seconds
            ),
            (2, 10, 5, 4)
        );
        let service = &world.services[&svc];
        assert_eq!(service.service.load_balancers.len(), 1);
        assert_eq!(
            service.service.load_balancers[0]
                .target_group_arn
                .as_deref(),
            Some(g.arn.as_str())
        );
        assert_eq!(service.deployments, 1);
    }
    let rules = estate.owned_rules();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].hosts, vec!["service-a.in.example.com"]);

    // Converged: a second pass writes nothing and plans nothing.
    let (writes, report) = apply(&estate, &controller).await;
    assert_eq!(writes, 0, "{:?}", report.plan.changes);
    assert!(report.plan.changes.is_empty());
    let status = report.status();
    assert_eq!(status.services[0].state, ServiceState::Published);
    assert!(
        status.services[0].last_change.is_some(),
        "the last change time survives passes that change nothing"
    );

    // Untag: everything made for it goes, in withdraw order; the hand-made rule stays.
    estate.fake.release_served("service-a.in.example.com");
    estate.untag_task_definitions();
    let (_, report) = apply(&estate, &controller).await;
    assert!(report.succeeded(), "{:?}", report.applied);
    assert!(estate.owned_rules().is_empty());
    {
        let world = estate.fake.world();
        assert!(
            !world
                .target_groups
                .values()
                .any(|g| g.tags.contains_key("ecs-ingress/owner"))
        );
        assert!(world.services[&svc].service.load_balancers.is_empty());
        assert_eq!(world.services[&svc].deployments, 2);
        assert_eq!(
            world.rules[legacy.arn.as_str()],
            legacy,
            "hand-made rule untouched"
        );
    }
    let (writes, _) = apply(&estate, &controller).await;
    assert_eq!(writes, 0);
}

#[tokio::test(start_paused = true)]
async fn drift_on_owned_resources_is_repaired_and_counted_once() {
    let estate = Estate::new(1);
    estate.add_service("service-a", SEED_TAGS, &[]);
    let controller = estate.controller();
    apply(&estate, &controller).await;
    {
        let mut world = estate.fake.world();
        for r in world.rules.values_mut() {
            if r.tags.contains_key("ecs-ingress/owner") {
                r.hosts = vec!["hijacked.in.example.com".into()];
            }
        }
        for g in world.target_groups.values_mut() {
            if g.tags.contains_key("ecs-ingress/owner") {
                g.health_check.path = "/".into();
            }
        }
    }
    let (writes, report) = apply(&estate, &controller).await;
    assert!(report.succeeded());
    assert_eq!(writes, 2, "ModifyRule + ModifyTargetGroup");
    let metrics = estate.metrics.encode();
    assert!(
        metrics.contains("ecs_ingress_drift_repairs_total{kind=\"listener-rule\"} 1")
            && metrics.contains("ecs_ingress_drift_repairs_total{kind=\"target-group\"} 1"),
        "{metrics}"
    );
    assert_eq!(
        estate.owned_rules()[0].hosts,
        vec!["service-a.in.example.com"]
    );
    let (writes, _) = apply(&estate, &controller).await;
    assert_eq!(writes, 0);
    // An intent change is not drift.
    estate
        .fake
        .world()
        .task_definitions
        .values_mut()
        .for_each(|td| {
            td.tags
                .insert("alb.healthcheck.path".into(), "/ready".into());
        });
    let (writes, _) = apply(&estate, &controller).await;
    assert_eq!(writes, 1);
    assert!(
        estate
            .metrics
            .encode()
            .contains("ecs_ingress_drift_repairs_total{kind=\"target-group\"} 1")
    );
}

#[tokio::test(start_paused = true)]
async fn attribute_drift_is_repaired_within_the_refresh_period() {
    let estate = Estate::new(1);
    estate.add_service(
        "service-a",
        &[
            ("alb.host", "a.in.example.com"),
            ("alb.deregistration-delay", "10"),
        ],
        &[],
    );
    let controller = estate.controller();
    apply(&estate, &controller).await;
    let set_delay = |value: &str| {
        let mut world = estate.fake.world();
        for g in world.target_groups.values_mut() {
            if g.tags.contains_key("ecs-ingress/owner") {
                g.attributes
                    .insert("deregistration_delay.timeout_seconds".into(), value.into());
            }
        }
    };
    assert_eq!(estate.fake.call_counts()["ModifyTargetGroupAttributes"], 1);
    set_delay("300");
    let mut repaired_after = None;
    for pass in 1..=ecs_ingress::observe::ATTRIBUTE_REFRESH_PASSES {
        let (writes, _) = apply(&estate, &controller).await;
        if writes > 0 {
            repaired_after = Some(pass);
            break;
        }
    }
    assert!(repaired_after.is_some(), "attribute drift never repaired");
    assert_eq!(estate.fake.call_counts()["ModifyTargetGroupAttributes"], 2);
}

#[tokio::test(start_paused = true)]
async fn deleted_service_loses_everything_even_while_listed_inactive() {
    let estate = Estate::new(1);
    let svc = estate.add_service("service-a", SEED_TAGS, &[]);
    let controller = estate.controller();
    apply(&estate, &controller).await;
    estate.fake.world().delete_service(&svc);
    let (_, report) = apply(&estate, &controller).await;
    assert!(report.succeeded(), "{:?}", report.applied);
    assert!(estate.owned_rules().is_empty());
    assert_eq!(
        estate.fake.world().target_groups.len(),
        1,
        "only the default group"
    );
}

#[tokio::test(start_paused = true)]
async fn direct_mode_registers_running_tasks_and_follows_them() {
    let estate = Estate::new(1);
    let svc = estate.add_service(
        "service-a",
        &[
            ("alb.host", "service-a.in.example.com"),
            ("alb.targets", "direct"),
        ],
        &[],
    );
    let (t1, _t2) = {
        let mut world = estate.fake.world();
        // Only the two tasks below run.
        let fixture_tasks: Vec<String> = world.tasks.iter().map(|t| t.task.arn.clone()).collect();
        for t in fixture_tasks {
            world.stop_task(&t);
        }
        (
            world.add_task(&svc, "10.0.1.10").expect("task"),
            world.add_task(&svc, "10.0.1.11").expect("task"),
        )
    };
    // A task of another service with a similar name must not be registered.
    let other = estate.add_service("service-a-worker", &[], &[]);
    estate.fake.world().add_task(&other, "10.0.9.9");
    let controller = estate.controller();
    let (_, report) = apply(&estate, &controller).await;
    assert!(report.succeeded(), "{:?}", report.applied);
    let registered = |estate: &Estate| -> Vec<Target> {
        let world = estate.fake.world();
        world.targets.values().flatten().cloned().collect()
    };
    assert_eq!(
        registered(&estate),
        vec![
            Target {
                id: "10.0.1.10".into(),
                port: PORT
            },
            Target {
                id: "10.0.1.11".into(),
                port: PORT
            }
        ]
    );
    assert!(
        estate.fake.world().services[&svc]
            .service
            .load_balancers
            .is_empty(),
        "direct mode never touches the service (no deployment)"
    );
    estate.fake.world().stop_task(&t1);
    estate.fake.world().add_task(&svc, "10.0.1.12");
    let (writes, _) = apply(&estate, &controller).await;
    assert_eq!(writes, 2, "one register, one deregister");
    assert_eq!(
        registered(&estate),
        vec![
            Target {
                id: "10.0.1.11".into(),
                port: PORT
            },
            Target {
                id: "10.0.1.12".into(),
                port: PORT
            }
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn the_older_service_wins_a_host_and_the_loser_never_flaps() {
    let estate = Estate::new(1);
    estate.add_service("first", &[("alb.host", "shared.in.example.com")], &[]);
    estate.add_service("second", &[("alb.host", "shared.in.example.com")], &[]);
    let controller = estate.controller();
    for _ in 0..3 {
        let (_, report) = apply(&estate, &controller).await;
        let status = report.status();
        let state = |name: &str| {
            status
                .services
                .iter()
                .find(|s| s.service == name)
                .map(|s| s.state)
        };
        assert_eq!(state("second"), Some(ServiceState::Conflict));
        assert!(matches!(
            state("first"),
            Some(ServiceState::Published | ServiceState::Pending)
        ));
    }
    let rules = estate.owned_rules();
    assert_eq!(rules.len(), 1);
    assert!(
        rules[0]
            .tags
            .get("ecs-ingress/service")
            .is_some_and(|s| s.ends_with("/first"))
    );
}

#[tokio::test(start_paused = true)]
async fn a_full_alb_gives_new_services_a_quota_status_and_breaks_nothing() {
    let estate = Estate::new(1);
    // 99 services fill the ALB's 100 target groups (the default group is the 100th).
    for i in 0..100 {
        estate.add_service(
            &format!("s{i:03}"),
            &[("alb.host", &format!("s{i}.in.example.com"))],
            &[],
        );
    }
    let controller = estate.controller();
    let (_, report) = apply(&estate, &controller).await;
    let status = report.status();
    let quota: Vec<_> = status
        .services
        .iter()
        .filter(|s| s.state == ServiceState::Quota)
        .collect();
    assert_eq!(quota.len(), 1, "the youngest service waits for room");
    assert_eq!(quota[0].service, "s099");
    assert!(
        report.succeeded(),
        "no AWS call failed: the planner knew the quota"
    );
    let (writes, report) = apply(&estate, &controller).await;
    assert_eq!(writes, 0, "{:?}", report.plan.changes);
    assert_eq!(estate.owned_rules().len(), 99);
}

#[tokio::test(start_paused = true)]
async fn status_says_where_each_key_came_from_and_what_plan_would_do() {
    let estate = Estate::new(1);
    estate.add_service(
        "service-a",
        &[("alb.host", "service-a.in.example.com")],
        &[("alb.healthcheck.path", "/health")],
    );
    let controller = estate.controller();
    // `plan`: nothing is applied, so every change is pending for its service.
    let report = controller.pass(false).await;
    let status = report.status();
    let s = &status.services[0];
    assert_eq!(
        s.keys.get("alb.host").map(Source::as_str),
        Some("task definition tag")
    );
    assert_eq!(
        s.keys.get("alb.healthcheck.path").map(Source::as_str),
        Some("service tag")
    );
    assert_eq!(
        s.pending.len(),
        report.plan.changes.len(),
        "{:?}",
        s.pending
    );
    assert!(
        s.pending.iter().any(|c| c.contains("target-group")),
        "{:?}",
        s.pending
    );
    // `apply`: made, so nothing is pending.
    let report = controller.pass(true).await;
    assert!(report.status().services[0].pending.is_empty());
}

/// A pass at steady state shares each service's status view with the last pass's instead of
/// copying it; a service whose status changes gets a view of its own, the others stay shared.
#[tokio::test(start_paused = true)]
async fn steady_passes_share_the_status_views_of_unchanged_services() {
    let estate = Estate::new(1);
    estate.add_service("a", &[("alb.host", "a.in.example.com")], &[]);
    estate.add_service("b", &[("alb.host", "b.in.example.com")], &[]);
    let controller = estate.controller();
    estate.converge(&controller, 20).await;
    let first = controller.pass(true).await;
    let second = controller.pass(true).await;
    let (before, after) = (
        &first.status_view().services,
        &second.status_view().services,
    );
    assert_eq!(before.len(), 2);
    assert_eq!(after.len(), 2);
    for (x, y) in before.iter().zip(after) {
        assert!(
            std::sync::Arc::ptr_eq(x, y),
            "{} was copied at steady state",
            y.service
        );
    }

    estate.edit_task_definition_tags("b", |tags| {
        tags.insert("alb.priority".into(), "not-a-number".into());
    });
    let third = controller.pass(true).await;
    let view = |name: &str| {
        third
            .status_view()
            .services
            .iter()
            .find(|s| s.service == name)
            .cloned()
            .unwrap_or_else(|| panic!("no view of {name}"))
    };
    let (a, b) = (view("a"), view("b"));
    assert!(
        after.iter().any(|s| std::sync::Arc::ptr_eq(s, &a)),
        "a did not change: its view is still shared"
    );
    assert!(
        !after.iter().any(|s| std::sync::Arc::ptr_eq(s, &b)),
        "b changed: its view is its own"
    );
    assert_eq!(b.state, ServiceState::Invalid, "{:?}", b.problems);
    // The view is what the pass planned for it: the planned status, as before sharing.
    let planned = third
        .plan
        .services
        .iter()
        .find(|s| s.service == "b")
        .unwrap_or_else(|| panic!("b not planned"));
    assert_eq!(
        *b,
        ServiceStatus {
            last_change: b.last_change.clone(),
            ..planned.clone()
        }
    );
}

/// How many times the controller below returned its free pages.
static RELEASES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn count_release() {
    RELEASES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

fn releases() -> usize {
    RELEASES.load(std::sync::atomic::Ordering::SeqCst)
}

/// The allocator's free pages go back at the start of a full pass that follows a pass which
/// wrote, and never while the estate is steady.
#[tokio::test(start_paused = true)]
async fn free_pages_go_back_after_a_pass_that_wrote_and_never_on_a_steady_estate() {
    let estate = Estate::new(1);
    let svc = estate.add_service("service-a", SEED_TAGS, &[]);
    estate.expect_served("service-a.in.example.com", &svc);
    let controller = estate.controller().releasing_memory_with(count_release);

    let (writes, _) = apply(&estate, &controller).await;
    assert!(writes > 0);
    assert_eq!(
        releases(),
        0,
        "returned as the next pass starts, not after this one"
    );
    estate.converge(&controller, 10).await;
    let converged = releases();
    assert!(converged >= 1, "passes that followed writes returned them");

    for _ in 0..3 {
        let (writes, _) = apply(&estate, &controller).await;
        assert_eq!(writes, 0);
    }
    assert_eq!(releases(), converged, "a steady pass never returns them");

    estate.fake.release_served("service-a.in.example.com");
    estate.edit_task_definition_tags("service-a", |t| {
        t.remove("alb.host");
    });
    let (writes, _) = apply(&estate, &controller).await;
    assert!(writes > 0, "the withdrawal writes");
    assert_eq!(releases(), converged);
    apply(&estate, &controller).await;
    assert_eq!(
        releases(),
        converged + 1,
        "the pass after the withdrawal returns them"
    );
}
