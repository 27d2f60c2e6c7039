//! Services ECS deploys itself (`alb.deploy`), on the in-memory AWS whose ECS runs
//! blue/green, linear and canary deployments: set up from tags, then ECS shifts, bakes and
//! flips while passes run — a pass writes nothing, and the served-traffic oracle holds after
//! every write of ours and every step of ECS's.

use std::time::Duration;

use ecs_ingress::fake::DeploymentPhase;
use ecs_ingress::runtime::Controller;
use ecs_ingress::state::{DeploymentStrategy, LoadBalancerAttachment, Rule};
use ecs_ingress::status::ServiceState;
use ecs_ingress::testing::{Estate, INFRASTRUCTURE_ROLE};

const HOST: &str = "a.in.example.com";
/// Long enough for a new target to pass its health checks (5 × 30 s by default).
const HEALTH_WAIT: Duration = Duration::from_secs(30);

fn estate(tags: &[(&str, &str)]) -> (Estate, String) {
    let estate = Estate::new(1);
    let mut all = vec![("alb.host", HOST)];
    all.extend_from_slice(tags);
    let svc = estate.add_service("a", &all, &[]);
    estate.expect_served(HOST, &svc);
    (estate, svc)
}

fn entry(estate: &Estate, svc: &str) -> LoadBalancerAttachment {
    let world = estate.fake.world();
    let lbs = &world.services[svc].service.load_balancers;
    assert_eq!(lbs.len(), 1, "{lbs:?}");
    lbs[0].clone()
}

fn production_rule(estate: &Estate) -> Rule {
    let rules = estate.owned_rules();
    assert_eq!(rules.len(), 1, "{rules:?}");
    rules[0].clone()
}

/// What ECS owns: the weights of the service's rules and its entry.
fn ecs_state(estate: &Estate, svc: &str) -> (Vec<(String, String)>, LoadBalancerAttachment) {
    let rules = estate.owned_rules();
    let world = estate.fake.world();
    let weights = rules
        .iter()
        .map(|r| {
            (
                r.arn.to_string(),
                format!("{:?}", world.rule_weights(&r.arn)),
            )
        })
        .collect();
    drop(world);
    (weights, entry(estate, svc))
}

/// A pass that must write nothing, with ECS's state unchanged by it.
async fn idle_pass(estate: &Estate, controller: &Controller, svc: &str, when: &str) {
    let before = (estate.fake.writes(), ecs_state(estate, svc));
    let report = controller.pass(true).await;
    assert!(
        report.plan.changes.is_empty(),
        "{when}: {:#?}",
        report.plan.changes
    );
    assert_eq!(
        (estate.fake.writes(), ecs_state(estate, svc)),
        before,
        "{when}"
    );
}

/// Runs one ECS deployment to its end, a pass after each of ECS's steps.
async fn deploy(estate: &Estate, controller: &Controller, svc: &str, ip: &str) -> usize {
    let svc_arn = svc.to_string();
    let ip = ip.to_string();
    estate
        .fake
        .ecs_acts("ECS starts a deployment", |w| {
            w.start_ecs_deployment(&svc_arn, &[ip.as_str()])
        })
        .expect("deployment starts");
    for step in 1..=40 {
        idle_pass(estate, controller, svc, &format!("step {step}")).await;
        let phase = estate
            .fake
            .ecs_acts("ECS deployment step", |w| w.advance_ecs_deployment(svc))
            .expect("deployment advances");
        if phase == DeploymentPhase::Done {
            idle_pass(estate, controller, svc, "after the flip").await;
            return step;
        }
        if phase == DeploymentPhase::WaitingForHealthy {
            tokio::time::sleep(HEALTH_WAIT).await;
        }
    }
    panic!("the deployment did not finish");
}

#[tokio::test(start_paused = true)]
async fn tags_set_up_blue_green_and_ecs_deployments_never_drop_traffic() {
    for (tags, strategy) in [
        (
            vec![("alb.deploy", "blue-green"), ("alb.bake-minutes", "5")],
            DeploymentStrategy::BlueGreen,
        ),
        (
            vec![("alb.deploy", "linear"), ("alb.linear.step-percent", "25")],
            DeploymentStrategy::Linear,
        ),
        (
            vec![("alb.deploy", "canary"), ("alb.canary.percent", "10")],
            DeploymentStrategy::Canary,
        ),
    ] {
        let (estate, svc) = estate(&tags);
        let controller = estate.controller();
        estate.converge(&controller, 20).await;

        let first = entry(&estate, &svc);
        let advanced = first.advanced.clone().expect("advancedConfiguration");
        let rule = production_rule(&estate);
        assert_eq!(
            rule.forward_target_groups,
            [first.target_group_arn.clone().unwrap()]
        );
        assert_eq!(
            rule.staged_target_groups,
            [advanced.alternate_target_group_arn.clone().unwrap()]
        );
        assert_eq!(
            advanced.production_listener_rule,
            Some(rule.arn.to_string())
        );
        assert_eq!(advanced.role_arn.as_deref(), Some(INFRASTRUCTURE_ROLE));
        let deployment = estate.fake.world().services[&svc]
            .service
            .deployment
            .clone();
        assert_eq!(deployment.strategy, strategy);

        // Two deployments: the primary flips there and back.
        deploy(&estate, &controller, &svc, "10.9.0.1").await;
        let flipped = entry(&estate, &svc);
        assert_eq!(
            flipped.target_group_arn, advanced.alternate_target_group_arn,
            "{strategy:?}: ECS made the alternate the primary"
        );
        deploy(&estate, &controller, &svc, "10.9.0.2").await;
        assert_eq!(
            entry(&estate, &svc).target_group_arn,
            first.target_group_arn
        );
        estate.assert_traffic_served(&format!("{strategy:?}"));
    }
}

#[tokio::test(start_paused = true)]
async fn passes_at_any_moment_of_any_deployment_change_nothing() {
    // A small deterministic generator: each seed interleaves passes, ECS steps and time
    // differently.
    for seed in 0u64..6 {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        let mut next = move |n: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        let strategy = ["blue-green", "linear", "canary"][next(3) as usize];
        let (estate, svc) = estate(&[("alb.deploy", strategy)]);
        let controller = estate.controller();
        estate.converge(&controller, 20).await;
        let mut deployed = 0;
        let mut in_progress = false;
        for step in 0..60 {
            match next(4) {
                0 => {
                    idle_pass(
                        &estate,
                        &controller,
                        &svc,
                        &format!("seed {seed} step {step}"),
                    )
                    .await
                }
                1 if !in_progress => {
                    deployed += 1;
                    let ip = format!("10.9.{seed}.{deployed}");
                    estate
                        .fake
                        .ecs_acts("ECS starts a deployment", |w| {
                            w.start_ecs_deployment(&svc, &[ip.as_str()])
                        })
                        .expect("starts");
                    in_progress = true;
                }
                1 | 2 if in_progress => {
                    let phase = estate
                        .fake
                        .ecs_acts("ECS deployment step", |w| w.advance_ecs_deployment(&svc))
                        .expect("advances");
                    in_progress = phase != DeploymentPhase::Done;
                }
                _ => tokio::time::sleep(HEALTH_WAIT).await,
            }
        }
        assert!(deployed > 0, "seed {seed}: ECS never deployed");
        estate.assert_traffic_served(&format!("seed {seed} ({strategy}, {deployed} deployments)"));
    }
}

#[tokio::test(start_paused = true)]
async fn a_deleted_production_rule_comes_back_on_the_current_primary() {
    let (estate, svc) = estate(&[("alb.deploy", "blue-green")]);
    let controller = estate.controller();
    estate.converge(&controller, 20).await;
    deploy(&estate, &controller, &svc, "10.9.0.1").await;
    let primary = entry(&estate, &svc).target_group_arn.unwrap();
    let old = production_rule(&estate).arn;
    // Someone deletes the rule: the name is not served until the rule is back.
    estate.fake.release_served(HOST);
    estate.fake.world().remove_rule(&old).expect("rule");
    estate.converge(&controller, 20).await;
    let rule = production_rule(&estate);
    assert_ne!(rule.arn, old);
    assert_eq!(rule.forward_target_groups, std::slice::from_ref(&primary));
    let e = entry(&estate, &svc);
    assert_eq!(e.target_group_arn.as_deref(), Some(primary.as_str()));
    assert_eq!(
        e.advanced.and_then(|a| a.production_listener_rule),
        Some(rule.arn.to_string())
    );
    estate.expect_served(HOST, &svc);
    estate.assert_traffic_served("rule recreated");
}

#[tokio::test(start_paused = true)]
async fn withdrawal_removes_both_groups_the_rule_and_the_entry() {
    let (estate, svc) = estate(&[("alb.deploy", "canary")]);
    let controller = estate.controller();
    estate.converge(&controller, 20).await;
    deploy(&estate, &controller, &svc, "10.9.0.1").await;
    estate.fake.release_served(HOST);
    estate.untag_task_definitions();
    estate.converge(&controller, 20).await;
    assert!(estate.owned_rules().is_empty());
    let world = estate.fake.world();
    assert!(
        !world
            .target_groups
            .values()
            .any(|g| g.tags.contains_key("ecs-ingress/owner")),
        "both groups deleted"
    );
    assert!(world.services[&svc].service.load_balancers.is_empty());
    assert_eq!(
        world.services[&svc].service.deployment.strategy,
        DeploymentStrategy::Rolling,
        "the strategy goes back with the entry"
    );
}

#[tokio::test(start_paused = true)]
async fn back_to_rolling_waits_for_ecs_then_keeps_traffic_served() {
    let (estate, svc) = estate(&[("alb.deploy", "blue-green")]);
    let controller = estate.controller();
    estate.converge(&controller, 20).await;
    let first = entry(&estate, &svc).target_group_arn;
    // A deployment under way, traffic on the new tasks, not flipped yet.
    estate
        .fake
        .ecs_acts("ECS starts a deployment", |w| {
            w.start_ecs_deployment(&svc, &["10.9.0.2"])
        })
        .expect("starts");
    tokio::time::sleep(HEALTH_WAIT * 6).await;
    let phase = estate
        .fake
        .ecs_acts("ECS deployment step", |w| w.advance_ecs_deployment(&svc))
        .expect("advances");
    assert_eq!(phase, DeploymentPhase::Baking);
    estate.edit_task_definition_tags("a", |t| {
        t.insert("alb.deploy".into(), "rolling".into());
    });
    let report = controller.pass(true).await;
    assert!(report.plan.changes.is_empty(), "{:#?}", report.plan.changes);
    assert_eq!(report.plan.services[0].state, ServiceState::Pending);
    // ECS finishes; then rolling takes over without dropping a request.
    let phase = estate
        .fake
        .ecs_acts("ECS deployment step", |w| w.advance_ecs_deployment(&svc))
        .expect("advances");
    assert_eq!(phase, DeploymentPhase::Done);
    assert_ne!(
        entry(&estate, &svc).target_group_arn,
        first,
        "the second group is the primary: rolling replaces it by the first"
    );
    estate.converge(&controller, 30).await;
    let world = estate.fake.world();
    let service = &world.services[&svc].service;
    assert_eq!(service.deployment.strategy, DeploymentStrategy::Rolling);
    assert_eq!(
        service.load_balancers.len(),
        1,
        "{:?}",
        service.load_balancers
    );
    assert!(service.load_balancers[0].advanced.is_none());
    assert_eq!(service.load_balancers[0].target_group_arn, first);
    drop(world);
    estate.assert_traffic_served("back to rolling");
}

#[tokio::test(start_paused = true)]
async fn without_the_role_flag_the_service_is_invalid_and_nothing_is_created() {
    let (estate, _svc) = estate(&[("alb.deploy", "blue-green")]);
    estate.fake.release_served(HOST);
    let mut config = estate.config();
    config.ecs_infrastructure_role_arn = None;
    let controller = estate.controller_with(config);
    let report = controller.pass(true).await;
    let status = &report.plan.services[0];
    assert_eq!(status.state, ServiceState::Invalid);
    assert!(
        status.problems[0]
            .reason
            .contains("--ecs-infrastructure-role-arn"),
        "{status:?}"
    );
    assert_eq!(estate.fake.writes(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_test_host_is_published_and_served_through_every_deployment() {
    const TEST_HOST: &str = "test-a.in.example.com";
    let (estate, svc) = estate(&[("alb.deploy", "linear"), ("alb.test-host", TEST_HOST)]);
    estate.expect_served(TEST_HOST, &svc);
    let controller = estate.controller();
    estate.converge(&controller, 20).await;
    let rules = estate.owned_rules();
    assert_eq!(rules.len(), 2, "{rules:?}");
    let test = rules
        .iter()
        .find(|r| r.hosts == [TEST_HOST])
        .expect("the test rule");
    let e = entry(&estate, &svc);
    let advanced = e.advanced.expect("advancedConfiguration");
    assert_eq!(advanced.test_listener_rule, Some(test.arn.to_string()));
    assert!(estate.fake.unserved().is_empty(), "both names served");
    for ip in ["10.9.0.1", "10.9.0.2"] {
        deploy(&estate, &controller, &svc, ip).await;
    }
    estate.assert_traffic_served("test host");
}

#[tokio::test(start_paused = true)]
async fn a_lifecycle_hook_holding_a_canary_changes_nothing_either() {
    let (estate, svc) = estate(&[("alb.deploy", "canary"), ("alb.canary.percent", "10")]);
    let controller = estate.controller();
    estate.converge(&controller, 20).await;
    estate
        .fake
        .ecs_acts("ECS starts a deployment", |w| {
            w.start_ecs_deployment(&svc, &["10.9.0.1"])
        })
        .expect("starts");
    tokio::time::sleep(HEALTH_WAIT * 6).await;
    let phase = estate
        .fake
        .ecs_acts("ECS shifts the canary", |w| w.advance_ecs_deployment(&svc))
        .expect("advances");
    assert_eq!(phase, DeploymentPhase::Shifting, "10% on the new tasks");
    estate
        .fake
        .ecs_acts("a lifecycle hook holds the deployment", |w| {
            w.hold_ecs_deployment(&svc, true)
        })
        .expect("held");
    for step in 0..5 {
        idle_pass(&estate, &controller, &svc, &format!("held, pass {step}")).await;
        let phase = estate
            .fake
            .ecs_acts("ECS waits for the hook", |w| w.advance_ecs_deployment(&svc))
            .expect("advances");
        assert_eq!(phase, DeploymentPhase::Shifting, "nothing moves while held");
        tokio::time::sleep(HEALTH_WAIT * 10).await;
    }
    estate
        .fake
        .ecs_acts("the hook answers", |w| w.hold_ecs_deployment(&svc, false))
        .expect("released");
    loop {
        idle_pass(&estate, &controller, &svc, "released").await;
        let phase = estate
            .fake
            .ecs_acts("ECS deployment step", |w| w.advance_ecs_deployment(&svc))
            .expect("advances");
        if phase == DeploymentPhase::Done {
            break;
        }
    }
    estate.assert_traffic_served("held by a hook");
}

#[tokio::test(start_paused = true)]
async fn ecs_rolls_back_a_deployment_and_a_withdrawal_mid_deployment_supersedes_it() {
    // The fake's ECS, as the simulation drives it: a rollback puts production traffic back
    // on the primary and stops the new tasks; an UpdateService that starts a deployment of
    // its own (the withdrawal's) ends the one in progress.
    let (estate, svc) = estate(&[("alb.deploy", "canary")]);
    let controller = estate.controller();
    estate.converge(&controller, 20).await;
    let primary = entry(&estate, &svc).target_group_arn.expect("primary");
    let rule = production_rule(&estate).arn;
    estate
        .fake
        .ecs_acts("ECS starts a deployment", |w| {
            w.start_ecs_deployment(&svc, &["10.9.0.1"])
        })
        .expect("deployment starts");
    let mut phase = DeploymentPhase::WaitingForHealthy;
    for _ in 0..10 {
        tokio::time::sleep(HEALTH_WAIT).await;
        phase = estate
            .fake
            .ecs_acts("ECS deployment step", |w| w.advance_ecs_deployment(&svc))
            .expect("advances");
        if phase != DeploymentPhase::WaitingForHealthy {
            break;
        }
    }
    assert_eq!(phase, DeploymentPhase::Shifting, "the canary took traffic");
    estate
        .fake
        .ecs_acts("ECS rolls back", |w| w.roll_back_ecs_deployment(&svc))
        .expect("rolls back");
    {
        let world = estate.fake.world();
        let weights = world.rule_weights(&rule);
        assert!(
            weights.iter().all(|(g, w)| (*g == primary) == (*w > 0)),
            "{weights:?}"
        );
        assert!(!world.services[&svc].service.deploying);
        assert!(
            world
                .tasks
                .iter()
                .any(|t| t.task.private_ip.as_deref() == Some("10.9.0.1")
                    && t.task.last_status == "STOPPED"),
            "the canary's task stopped"
        );
    }
    estate.assert_traffic_served("after the rollback");

    estate
        .fake
        .ecs_acts("ECS starts a deployment", |w| {
            w.start_ecs_deployment(&svc, &["10.9.0.2"])
        })
        .expect("a second deployment starts");
    estate.fake.release_served(HOST);
    estate.untag_task_definitions();
    estate.converge(&controller, 20).await;
    let world = estate.fake.world();
    assert!(
        !world.ecs_deployments.contains_key(&svc),
        "the withdrawal's UpdateService superseded the deployment"
    );
    assert!(!world.services[&svc].service.deploying);
}
