//! Backend security-group rules on the in-memory AWS, whose ALBs reach a task only through
//! an inbound rule of the task's security groups (health checks included): tagging a
//! service is all it takes for its name to be served, with the served-traffic check after
//! every write.

use ecs_ingress::aws::ErrorKind;
use ecs_ingress::fake::{FakeSource, Fault};
use ecs_ingress::status::ServiceState;
use ecs_ingress::testing::{Estate, PORT};

fn host(name: &str) -> String {
    format!("{name}.in.example.com")
}

/// Service `name` routed by its host, its tasks in `groups`, fast health checks.
fn add(estate: &Estate, name: &str, groups: &[String], extra: &[(&str, &str)]) -> String {
    let h = host(name);
    let mut tags = vec![
        ("alb.host", h.as_str()),
        ("alb.healthcheck.interval", "5"),
        ("alb.healthcheck.timeout", "4"),
        ("alb.healthcheck.healthy-threshold", "2"),
    ];
    tags.extend_from_slice(extra);
    let arn = estate.add_service(name, &tags, &[]);
    estate.set_security_groups(&arn, groups);
    arn
}

/// Inbound rules of `group` that carry an ecs-ingress owner tag.
fn owned_rules_of(estate: &Estate, group: &str) -> Vec<(String, Option<String>, i32)> {
    estate
        .fake
        .world()
        .ingress_rules_of(Some(&[group.to_string()]))
        .into_iter()
        .filter(|r| r.tags.get("ecs-ingress/owner") == Some("ecs-ingress"))
        .map(|r| (r.id, r.source_group_id, r.from_port))
        .collect()
}

fn operations(estate: &Estate, op: &str) -> usize {
    estate
        .fake
        .calls()
        .iter()
        .filter(|c| c.served && c.operation == op)
        .count()
}

#[tokio::test(start_paused = true)]
async fn a_tagged_service_is_served_once_its_alb_may_reach_it_and_withdrawn_rule_last() {
    let estate = Estate::new(1);
    let app = estate.add_security_group();
    let alb = estate.alb_security_groups("default");
    let a = add(
        &estate,
        "a",
        &[app.clone(), estate.add_security_group()],
        &[],
    );
    estate.expect_served(&host("a"), &a);
    let controller = estate.controller();
    let (_, report) = estate.converge_report(&controller, 20).await;
    let rules = owned_rules_of(&estate, &app);
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(rules[0].1.as_deref(), Some(alb[0].as_str()));
    assert_eq!(rules[0].2, PORT);
    estate.assert_traffic_served("published through its backend rule");
    let status = report
        .plan
        .services
        .iter()
        .find(|s| s.service_arn == a)
        .expect("a's status");
    assert_eq!(status.state, ServiceState::Published);
    assert!(
        status
            .resources
            .iter()
            .any(|r| r.kind == "security-group-rule" && r.id == rules[0].0),
        "{:?}",
        status.resources
    );
    let metrics = estate.metrics.encode();
    assert!(
        metrics.contains(r#"ecs_ingress_managed_resources{kind="security-group-rule"} 1"#),
        "{metrics}"
    );
    // A second pass changes nothing.
    let writes = estate.fake.writes();
    controller.pass(true).await;
    assert_eq!(estate.fake.writes(), writes);

    // Untagged: withdrawn, the rule revoked after the listener rule and the group.
    estate.fake.release_served(&host("a"));
    estate.untag_task_definitions();
    estate.fake.reset_calls();
    estate.converge(&controller, 20).await;
    assert!(owned_rules_of(&estate, &app).is_empty());
    let order: Vec<&'static str> = estate
        .fake
        .calls()
        .iter()
        .filter(|c| c.served && c.is_write())
        .map(|c| c.operation)
        .collect();
    let at = |op: &str| order.iter().position(|o| *o == op);
    assert!(
        at("RevokeSecurityGroupIngress") > at("DeleteTargetGroup"),
        "{order:?}"
    );
    assert!(at("DeleteTargetGroup") > at("DeleteRule"), "{order:?}");
    estate.assert_traffic_served("withdrawn");
}

#[tokio::test(start_paused = true)]
async fn without_the_rule_the_name_is_never_published_and_off_makes_no_ec2_call() {
    let estate = Estate::new(1);
    let app = estate.add_security_group();
    let a = add(&estate, "a", std::slice::from_ref(&app), &[]);
    let mut config = estate.config();
    config.backend_sg_rules = false;
    let controller = estate.controller_with(config);
    for _ in 0..6 {
        controller.pass(true).await;
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    }
    assert!(
        !estate.fake.world().has_record(&host("a")),
        "published a name nobody can reach"
    );
    assert_eq!(
        estate
            .fake
            .calls()
            .iter()
            .filter(|c| c.service == "ec2")
            .count(),
        0
    );
    // The team writes the rule by hand: used as it is, never tagged or revoked.
    let alb = estate.alb_security_groups("default");
    let hand = estate.fake.world().add_ingress_rule(
        &app,
        "tcp",
        (0, 65535),
        FakeSource::Group(alb[0].clone()),
    );
    estate.expect_served(&host("a"), &a);
    let on = estate.controller();
    estate.converge(&on, 20).await;
    assert_eq!(operations(&estate, "AuthorizeSecurityGroupIngress"), 0);
    estate.assert_traffic_served("a hand-made rule");
    estate.fake.release_served(&host("a"));
    estate.untag_task_definitions();
    estate.converge(&on, 20).await;
    assert!(
        estate.fake.world().ingress_rules.contains_key(&hand),
        "the hand-made rule went"
    );
}

#[tokio::test(start_paused = true)]
async fn services_of_one_group_share_its_rule_until_the_last_goes() {
    let estate = Estate::new(1);
    let app = estate.add_security_group();
    let a = add(&estate, "a", std::slice::from_ref(&app), &[]);
    let b = add(&estate, "b", std::slice::from_ref(&app), &[]);
    estate.expect_served(&host("a"), &a);
    estate.expect_served(&host("b"), &b);
    let controller = estate.controller();
    estate.converge(&controller, 20).await;
    assert_eq!(owned_rules_of(&estate, &app).len(), 1);
    assert_eq!(operations(&estate, "AuthorizeSecurityGroupIngress"), 1);
    estate.fake.release_served(&host("a"));
    estate.edit_task_definition_tags("a", |t| {
        t.remove("alb.host");
    });
    estate.converge(&controller, 20).await;
    assert_eq!(owned_rules_of(&estate, &app).len(), 1, "b still needs it");
    estate.assert_traffic_served("a withdrawn, b kept");
}

#[tokio::test(start_paused = true)]
async fn a_numbered_health_check_port_gets_its_own_rule() {
    let estate = Estate::new(1);
    let app = estate.add_security_group();
    let a = add(
        &estate,
        "a",
        std::slice::from_ref(&app),
        &[("alb.healthcheck.port", "9000")],
    );
    estate.expect_served(&host("a"), &a);
    estate.converge(&estate.controller(), 20).await;
    let mut ports: Vec<i32> = owned_rules_of(&estate, &app).iter().map(|r| r.2).collect();
    ports.sort_unstable();
    assert_eq!(ports, vec![PORT, 9000]);
    estate.assert_traffic_served("two ports");
}

#[tokio::test(start_paused = true)]
async fn a_missing_group_or_a_full_one_fails_only_that_service_naming_the_group() {
    let estate = Estate::new(1);
    let full = estate.add_security_group();
    let other = estate.add_security_group();
    let ok = estate.add_security_group();
    for port in 0..60 {
        estate.fake.world().add_ingress_rule(
            &full,
            "tcp",
            (port, port),
            FakeSource::Cidr("10.0.0.0/8".into()),
        );
    }
    let gone = "sg-0000000000deleted".to_string();
    let a = add(&estate, "a", std::slice::from_ref(&gone), &[]);
    let b = add(&estate, "b", &[full.clone(), other], &[]);
    let c = add(&estate, "c", std::slice::from_ref(&ok), &[]);
    estate.expect_served(&host("c"), &c);
    let controller = estate.controller();
    let status = controller.pass(true).await.status();
    let state = |arn: &str| {
        status
            .services
            .iter()
            .find(|s| s.service_arn == arn)
            .map(|s| {
                (
                    s.state,
                    s.problems
                        .iter()
                        .map(|p| p.reason.clone())
                        .collect::<Vec<_>>(),
                )
            })
            .expect("a status")
    };
    let (a_state, a_problems) = state(&a);
    assert_eq!(a_state, ServiceState::Error, "{a_problems:?}");
    assert!(
        a_problems.iter().any(|p| p.contains(&gone)),
        "{a_problems:?}"
    );
    let (b_state, b_problems) = state(&b);
    assert_eq!(b_state, ServiceState::Quota, "{b_problems:?}");
    assert!(
        b_problems.iter().any(|p| p.contains(&full)),
        "{b_problems:?}"
    );
    // Their group, rule and attachment were made as for any service.
    let owned = estate.owned_rules();
    for arn in [&a, &b] {
        assert!(
            owned
                .iter()
                .any(|r| r.tags.get("ecs-ingress/service") == Some(arn)),
            "no listener rule for {arn}"
        );
    }
    for _ in 0..10 {
        controller.pass(true).await;
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    }
    assert!(!estate.fake.world().has_record(&host("a")));
    assert!(!estate.fake.world().has_record(&host("b")));
    estate.assert_traffic_served("c unaffected");
}

#[tokio::test(start_paused = true)]
async fn an_alb_move_gets_the_new_albs_rule_first_and_drops_the_old_after() {
    let estate = Estate::new(2);
    // The second ALB has a security group of its own.
    let second = estate.add_security_group();
    {
        let mut world = estate.fake.world();
        let listener = world.listeners[&estate.listeners["alb-1"]].clone();
        if let Some(lb) = world.load_balancers.get_mut(&listener.load_balancer_arn) {
            lb.security_groups = vec![second.clone()];
        }
    }
    let app = estate.add_security_group();
    let a = add(&estate, "a", std::slice::from_ref(&app), &[]);
    estate.expect_served(&host("a"), &a);
    let controller = estate.controller();
    estate.converge(&controller, 30).await;
    let first = estate.alb_security_groups("default");
    assert_eq!(
        owned_rules_of(&estate, &app)[0].1.as_deref(),
        Some(first[0].as_str())
    );
    estate.edit_task_definition_tags("a", |t| {
        t.insert("alb.listener".into(), "alb-1".into());
    });
    estate.converge(&controller, 40).await;
    let sources: Vec<Option<String>> = owned_rules_of(&estate, &app)
        .into_iter()
        .map(|r| r.1)
        .collect();
    assert_eq!(sources, vec![Some(second.clone())]);
    estate.assert_traffic_served("moved to the other ALB");
}

#[tokio::test(start_paused = true)]
async fn faults_on_the_ec2_calls_converge_and_a_denied_read_skips_the_feature() {
    for op in [
        "DescribeSecurityGroupRules",
        "AuthorizeSecurityGroupIngress",
        "RevokeSecurityGroupIngress",
    ] {
        for kind in [
            ErrorKind::Throttled,
            ErrorKind::Unavailable,
            ErrorKind::AccessDenied,
        ] {
            let case = format!("{op} {kind:?}");
            let estate = Estate::new(1);
            let app = estate.add_security_group();
            let gone = estate.add_security_group();
            let a = add(&estate, "a", std::slice::from_ref(&app), &[]);
            let b = add(&estate, "b", std::slice::from_ref(&gone), &[]);
            estate.expect_served(&host("a"), &a);
            estate.expect_served(&host("b"), &b);
            let controller = estate.controller();
            estate.converge(&controller, 20).await;
            // b leaves (its rule is revoked) while c arrives (a rule is authorized).
            estate.fake.release_served(&host("b"));
            estate.edit_task_definition_tags("b", |t| {
                t.remove("alb.host");
            });
            let new = estate.add_security_group();
            let c = add(&estate, "c", std::slice::from_ref(&new), &[]);
            estate.expect_served(&host("c"), &c);
            estate.fake.inject(Fault {
                operation: op,
                kind,
                times: 2,
            });
            let report = controller.pass(true).await;
            if op == "DescribeSecurityGroupRules" {
                assert!(
                    report.observed_failures.is_empty(),
                    "{case}: not a failed read of the pass"
                );
                assert!(
                    report
                        .plan
                        .problems
                        .iter()
                        .any(|p| p.contains("security-group rules")),
                    "{case}: {:?}",
                    report.plan.problems
                );
            }
            estate.converge(&controller, 30).await;
            estate.fake.clear_faults();
            estate.converge(&controller, 30).await;
            assert_eq!(owned_rules_of(&estate, &app).len(), 1, "{case}");
            assert!(owned_rules_of(&estate, &gone).is_empty(), "{case}");
            assert_eq!(owned_rules_of(&estate, &new).len(), 1, "{case}");
            estate.assert_traffic_served(&case);
        }
    }
}

/// b withdrawn (its rule revoked) and c published (a rule authorized) in one pass.
fn crash_scenario() -> (Estate, Vec<String>) {
    let estate = Estate::new(1);
    let groups: Vec<String> = (0..3).map(|_| estate.add_security_group()).collect();
    for (name, group) in ["a", "b"].iter().zip(&groups) {
        let arn = add(&estate, name, std::slice::from_ref(group), &[]);
        estate.expect_served(&host(name), &arn);
    }
    (estate, groups)
}

fn crash_transition(estate: &Estate, groups: &[String]) {
    estate.fake.release_served(&host("b"));
    estate.edit_task_definition_tags("b", |t| {
        t.remove("alb.host");
    });
    let c = add(estate, "c", std::slice::from_ref(&groups[2]), &[]);
    estate.expect_served(&host("c"), &c);
}

#[tokio::test(start_paused = true)]
async fn a_crash_after_any_write_of_a_pass_with_backend_rules_is_finished_by_a_fresh_process() {
    use ecs_ingress::observe::{self, Cache};
    use ecs_ingress::{apply, runtime};
    // How many writes the transition's pass makes.
    let (estate, groups) = crash_scenario();
    estate.converge(&estate.controller(), 20).await;
    crash_transition(&estate, &groups);
    let start = estate.fake.writes();
    estate.controller().pass(true).await;
    let writes = estate.fake.writes() - start;
    assert!(writes >= 6, "the transition makes {writes} writes");
    for k in 0..writes {
        let (estate, groups) = crash_scenario();
        estate.converge(&estate.controller(), 20).await;
        crash_transition(&estate, &groups);
        let config = estate.config();
        let plan_config = config.plan_config();
        let aws = estate.fake.aws();
        let mut cache = Cache::default();
        let mut observed =
            observe::observe(&aws, &config, &plan_config.ownership, &mut cache).await;
        let intents = runtime::intents(&config, &observed);
        let planned = runtime::plan_pass(&aws, &plan_config, &mut observed, &intents).await;
        assert!(
            planned
                .changes
                .iter()
                .any(|c| c.change.kind() == ecs_ingress::status::ResourceKind::SecurityGroupRule),
            "the pass makes backend-rule writes"
        );
        let start = estate.fake.writes();
        let stop = || estate.fake.writes() >= start + k;
        apply::apply(&aws, &planned, &estate.metrics, &stop).await;
        let fresh = estate.controller();
        estate.converge(&fresh, 30).await;
        assert_eq!(
            owned_rules_of(&estate, &groups[0]).len(),
            1,
            "crash after {k}"
        );
        assert!(
            owned_rules_of(&estate, &groups[1]).is_empty(),
            "crash after {k}"
        );
        assert_eq!(
            owned_rules_of(&estate, &groups[2]).len(),
            1,
            "crash after {k}"
        );
        estate.assert_traffic_served(&format!("crash after write {k}"));
    }
}

#[tokio::test(start_paused = true)]
async fn a_rule_on_a_group_no_service_has_any_more_is_revoked_on_the_refresh_pass() {
    let estate = Estate::new(1);
    let (gone_group, kept_group) = (estate.add_security_group(), estate.add_security_group());
    let gone = add(&estate, "gone", std::slice::from_ref(&gone_group), &[]);
    let kept = add(&estate, "kept", std::slice::from_ref(&kept_group), &[]);
    let stays_group = estate.add_security_group();
    let stays = add(&estate, "stays", std::slice::from_ref(&stays_group), &[]);
    estate.expect_served(&host("gone"), &gone);
    estate.expect_served(&host("kept"), &kept);
    estate.expect_served(&host("stays"), &stays);
    let controller = estate.controller();
    estate.converge(&controller, 20).await;
    assert_eq!(owned_rules_of(&estate, &gone_group).len(), 1);
    assert_eq!(owned_rules_of(&estate, &kept_group).len(), 1);

    // The service is deleted: nothing reads its group any more but the refresh pass, which
    // lists every rule of ours; the rule goes then, within one refresh interval.
    estate.fake.release_served(&host("gone"));
    estate.fake.world().delete_service(&gone);
    let mut passes = 0;
    while !owned_rules_of(&estate, &gone_group).is_empty() && passes < 12 {
        controller.pass(true).await;
        passes += 1;
    }
    assert!(
        owned_rules_of(&estate, &gone_group).is_empty(),
        "still there after {passes} passes"
    );
    assert_eq!(owned_rules_of(&estate, &kept_group).len(), 1);
    estate.assert_traffic_served("a deleted service's rule revoked");
    // Once gone, nothing tries again: passes after it write nothing.
    let writes = estate.fake.writes();
    for _ in 0..3 {
        controller.pass(true).await;
    }
    assert_eq!(estate.fake.writes(), writes);

    // A restart's first pass is a refresh pass: a group emptied while no replica ran is
    // cleaned at once (here another service still has a group; with none, a restarted
    // process looks for rules of its own only once one has).
    estate.fake.release_served(&host("kept"));
    estate.fake.world().delete_service(&kept);
    let restarted = estate.controller();
    estate.converge(&restarted, 20).await;
    assert!(owned_rules_of(&estate, &kept_group).is_empty());
    assert_eq!(owned_rules_of(&estate, &stays_group).len(), 1);
    estate.assert_traffic_served("a restart cleans up");
}
