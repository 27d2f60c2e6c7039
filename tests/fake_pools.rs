//! ALB pools on the in-memory AWS: a listener name given several times spreads services
//! over its ALBs by capacity, keeps them where they are, and moves a draining ALB's
//! services with the served-traffic check after every write, cached DNS answers included.

use std::collections::BTreeMap;
use std::time::Duration;

use ecs_ingress::config::Config;
use ecs_ingress::fake::Served;
use ecs_ingress::runtime::Controller;
use ecs_ingress::state::RecordChange;
use ecs_ingress::status::ServiceState;
use ecs_ingress::testing::{Estate, listener_name};

const INTERVAL: Duration = Duration::from_secs(30);

fn host(i: usize) -> String {
    format!("s{i}.in.example.com")
}

/// Adds service `s{i}` routed by `s{i}.in.example.com`, expected to be served from now on.
fn add(estate: &Estate, i: usize) -> String {
    let arn = estate.add_service(
        &format!("s{i}"),
        &[
            ("alb.host", &host(i)),
            ("alb.healthcheck.interval", "5"),
            ("alb.healthcheck.timeout", "4"),
            ("alb.healthcheck.healthy-threshold", "2"),
        ],
        &[],
    );
    estate.expect_served(&host(i), &arn);
    arn
}

/// The pool of every ALB of the estate, each holding at most `groups` target groups.
fn pool(estate: &Estate, groups: usize) -> Config {
    let mut config = estate.pool_config();
    config.pools.max_target_groups_per_alb = Some(groups);
    config
}

/// Which ALB (by estate index) routes each service, from its owned rules.
fn placement(estate: &Estate) -> BTreeMap<String, usize> {
    let index: BTreeMap<String, usize> = (0..estate.listeners.len())
        .map(|i| (estate.listeners[&listener_name(i)].clone(), i))
        .collect();
    estate
        .owned_rules()
        .iter()
        .filter_map(|r| {
            let service = r.tags.get("ecs-ingress/service")?;
            let name = service.rsplit('/').next()?.to_string();
            Some((name, *index.get(r.listener_arn.as_str())?))
        })
        .collect()
}

fn count_on(placement: &BTreeMap<String, usize>, alb: usize) -> usize {
    placement.values().filter(|&&a| a == alb).count()
}

/// The service `which` picks is `quota`, its first problem saying `why`.
fn assert_quota(
    report: &ecs_ingress::runtime::PassReport,
    which: impl Fn(&ecs_ingress::status::ServiceStatus) -> bool,
    why: &str,
) {
    let s = report
        .plan
        .services
        .iter()
        .find(|s| which(s))
        .expect("a status for the service");
    assert_eq!(s.state, ServiceState::Quota, "{s:?}");
    assert!(s.problems[0].reason.contains(why), "{:?}", s.problems);
}

async fn converge(estate: &Estate, controller: &Controller) {
    estate.converge(controller, 40).await;
}

#[tokio::test(start_paused = true)]
async fn a_pool_fills_by_free_room_and_reports_quota_only_when_every_alb_is_full() {
    let estate = Estate::new(2);
    // Each ALB's default action forwards to a group of its own: room for three more.
    let controller = estate.controller_with(pool(&estate, 4));
    for i in 0..6 {
        add(&estate, i);
    }
    converge(&estate, &controller).await;
    let placed = placement(&estate);
    assert_eq!(placed.len(), 6, "{placed:?}");
    assert_eq!(
        (count_on(&placed, 0), count_on(&placed, 1)),
        (3, 3),
        "{placed:?}"
    );
    // Oldest first, to the ALB with the most room, ties in pool order.
    assert_eq!(placed["s0"], 0);
    assert_eq!(placed["s1"], 1);
    estate.assert_traffic_served("six services on two ALBs of three groups");

    // Visible: /status's `albs` and each service's ALB, the capacity series, and `plan`.
    let report = controller.pass(false).await;
    let status = serde_json::to_value(report.status()).expect("status JSON");
    let albs = status["albs"].as_array().expect("albs");
    assert_eq!(albs.len(), 2, "{albs:?}");
    for a in albs {
        assert_eq!(a["pool"], "default");
        assert_eq!(a["target_groups_used"], 4, "{a}");
        assert_eq!(a["target_groups_max"], 4, "{a}");
        assert_eq!(
            (a["provisioned"].as_bool(), a["draining"].as_bool()),
            (Some(false), Some(false))
        );
    }
    let services = status["services"].as_array().expect("services");
    assert!(services.iter().all(|s| {
        s["load_balancer"]
            .as_str()
            .is_some_and(|lb| lb.contains(":loadbalancer/"))
    }));
    let text = ecs_ingress::cli::output::plan_text(&report);
    assert!(
        text.contains("Load balancers:") && text.contains("target groups 4/4"),
        "{text}"
    );
    let metrics = estate.metrics.encode();
    assert!(
        metrics.contains(r#"ecs_ingress_alb_capacity_used{alb="internal-alb-0",pool="default",resource="target_groups"} 4"#),
        "{metrics}"
    );

    let extra = estate.add_service("s6", &[("alb.host", &host(6))], &[]);
    let report = controller.pass(true).await;
    assert_quota(
        &report,
        |s| s.service_arn == extra,
        "every load balancer of pool `default` is full",
    );
    estate.assert_traffic_served("a seventh service waits");
}

/// Six services converged on a pool of three ALBs of 10 target groups.
async fn six_on_three_albs() -> (Estate, Controller) {
    let estate = Estate::new(3);
    let controller = estate.controller_with(pool(&estate, 10));
    for i in 0..6 {
        add(&estate, i);
    }
    converge(&estate, &controller).await;
    (estate, controller)
}

#[tokio::test(start_paused = true)]
async fn placements_are_sticky_when_services_come_and_go() {
    let (estate, controller) = six_on_three_albs().await;
    let before = placement(&estate);

    // One goes, two come: nobody else moves, and the newcomers fill the emptiest ALB.
    estate.fake.release_served(&host(1));
    estate.edit_task_definition_tags("s1", |t| {
        t.remove("alb.host");
    });
    add(&estate, 6);
    add(&estate, 7);
    converge(&estate, &controller).await;
    let after = placement(&estate);
    for (service, alb) in &before {
        if service != "s1" {
            assert_eq!(after.get(service), Some(alb), "{service} moved: {after:?}");
        }
    }
    assert!(!after.contains_key("s1"), "{after:?}");
    assert_eq!(after.len(), 7);
    // A second controller (or a restart) computes the same placement: nothing to write.
    let writes = estate.fake.writes();
    let other = estate.controller_with(pool(&estate, 10));
    other.pass(true).await;
    assert_eq!(
        estate.fake.writes(),
        writes,
        "a fresh controller changed something"
    );
    estate.assert_traffic_served("services came and went");
}

#[tokio::test(start_paused = true)]
async fn draining_an_alb_moves_only_its_services_without_dropping_a_request() {
    let (estate, _) = six_on_three_albs().await;
    let before = placement(&estate);
    let drained = before["s2"];
    let leaving: Vec<&String> = before
        .iter()
        .filter(|&(_, &a)| a == drained)
        .map(|(s, _)| s)
        .collect();
    assert!(!leaving.is_empty());

    let mut config = pool(&estate, 10);
    config
        .pools
        .draining
        .insert(estate.listeners[&listener_name(drained)].clone());
    let draining = estate.controller_with(config);
    let writes = estate.fake.writes();
    converge(&estate, &draining).await;
    let after = placement(&estate);
    assert_eq!(count_on(&after, drained), 0, "{after:?}");
    for (service, alb) in &before {
        if *alb != drained {
            assert_eq!(after.get(service), Some(alb), "{service} moved: {after:?}");
        }
    }
    let per_service = (estate.fake.writes() - writes) as f64 / leaving.len() as f64;
    eprintln!(
        "moved {} services, {per_service:.1} writes each",
        leaving.len()
    );
    // Nothing of the old ALB is left behind: each service has one group, attached.
    let groups = owned_group_count(&estate);
    assert_eq!(groups, 6);
    estate.assert_traffic_served("drain of one ALB of three");
    let _ = INTERVAL;
}

/// Services of the drain estate.
const DRAIN_SERVICES: usize = 10;

/// A pool of five ALBs with ten services converged, and the configuration that drains the
/// ALB service `s2` is on (with `drain` as the DNS drain).
async fn drain_estate(drain: Option<Duration>) -> (Estate, Config) {
    let estate = Estate::new(5);
    let controller = estate.controller_with(pool(&estate, 10));
    for i in 0..DRAIN_SERVICES {
        add(&estate, i);
    }
    converge(&estate, &controller).await;
    let drained = placement(&estate)["s2"];
    let mut config = pool(&estate, 10);
    config
        .pools
        .draining
        .insert(estate.listeners[&listener_name(drained)].clone());
    config.pools.dns_drain = drain;
    (estate, config)
}

/// Runs a fresh process (observe, plan, apply) that dies after its `k`-th write.
async fn die_after(estate: &Estate, config: &Config, k: usize) {
    let plan_config = config.plan_config();
    let aws = estate.fake.aws();
    let mut cache = ecs_ingress::observe::Cache::default();
    let start = estate.fake.writes();
    for _ in 0..30 {
        if estate.fake.writes() >= start + k {
            return;
        }
        let mut observed =
            ecs_ingress::observe::observe(&aws, config, &plan_config.ownership, &mut cache).await;
        let intents = ecs_ingress::runtime::intents(config, &observed);
        let planned =
            ecs_ingress::runtime::plan_pass(&aws, &plan_config, &mut observed, &intents).await;
        let before = estate.fake.writes();
        let stop = || estate.fake.writes() >= start + k;
        ecs_ingress::apply::apply(&aws, &planned, &estate.metrics, &stop).await;
        if estate.fake.writes() == before {
            tokio::time::sleep(INTERVAL).await;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_move_killed_after_any_write_is_finished_by_a_fresh_process() {
    let (estate, config) = drain_estate(None).await;
    let before = estate.fake.writes();
    converge(&estate, &estate.controller_with(config)).await;
    let writes = estate.fake.writes() - before;
    assert!(writes >= 8, "the drain takes {writes} writes");

    for k in 0..writes {
        let (estate, config) = drain_estate(None).await;
        die_after(&estate, &config, k).await;
        converge(&estate, &estate.controller_with(config)).await;
        let after = placement(&estate);
        assert_eq!(
            after.len(),
            DRAIN_SERVICES,
            "kill after write {k}: {after:?}"
        );
        let groups = owned_group_count(&estate);
        assert_eq!(groups, DRAIN_SERVICES, "kill after write {k}");
        estate.assert_traffic_served(&format!("kill after write {k}"));
    }
    eprintln!("drain killed after each of {writes} writes: served throughout, finished");
}

#[tokio::test(start_paused = true)]
async fn the_oracle_catches_a_move_that_does_not_wait_for_cached_answers() {
    // With no DNS drain the old rules go in the pass after the switch, while resolvers
    // still hold the old answer for up to 60 s: the check must see that.
    let (estate, config) = drain_estate(Some(Duration::ZERO)).await;
    converge(&estate, &estate.controller_with(config)).await;
    let (violations, _) = estate.fake.traffic_report();
    assert!(
        violations.iter().any(|v| v.contains("cached answer")),
        "{violations:#?}"
    );
}

/// The ALBs ecs-ingress created for pool `default`.
fn created_albs(estate: &Estate) -> Vec<String> {
    let world = estate.fake.world();
    world
        .elb_tags
        .iter()
        .filter(|(arn, t)| {
            arn.contains(":loadbalancer/") && t.get("ecs-ingress/pool") == Some("default")
        })
        .map(|(arn, _)| arn.clone())
        .filter(|arn| world.load_balancers.contains_key(arn))
        .collect()
}

fn growing_pool(estate: &Estate, max_albs: usize) -> Config {
    let mut config = pool(estate, 4);
    config.pools.max_albs.insert("default".into(), max_albs);
    config.pools.scale_in_after = Duration::from_secs(600);
    config
}

#[tokio::test(start_paused = true)]
async fn a_pool_grows_when_full_and_shrinks_once_a_created_alb_stayed_empty() {
    let estate = Estate::new(1);
    let controller = estate.controller_with(growing_pool(&estate, 3));
    let arns: Vec<String> = (0..8).map(|i| add(&estate, i)).collect();
    converge(&estate, &controller).await;
    let created = created_albs(&estate);
    // Three on the first (its default action holds a group); the five others wait for
    // clones (whose default action answers 503 itself, four groups each): two, created in
    // one pass.
    assert_eq!(created.len(), 2, "eight services need two more ALBs");
    let report = controller.pass(false).await;
    for arn in &arns {
        let s = report
            .plan
            .services
            .iter()
            .find(|s| &s.service_arn == arn)
            .expect("status");
        assert_eq!(s.state, ServiceState::Published, "{s:?}");
    }
    estate.assert_traffic_served("grown to three ALBs");

    // The services of the emptiest created ALB go: it is deleted after 10 minutes empty.
    let rules = estate.owned_rules();
    let alb_of: BTreeMap<String, String> = {
        let world = estate.fake.world();
        world
            .listeners
            .iter()
            .map(|(arn, l)| (arn.clone(), l.load_balancer_arn.clone()))
            .collect()
    };
    let on = |lb: &str| {
        rules
            .iter()
            .filter(|r| alb_of[r.listener_arn.as_str()] == lb)
            .count()
    };
    let lonely = created
        .iter()
        .min_by_key(|lb| on(lb))
        .cloned()
        .expect("a created ALB");
    let leaving: Vec<String> = rules
        .iter()
        .filter(|r| alb_of[r.listener_arn.as_str()] == lonely)
        .filter_map(|r| r.tags.get("ecs-ingress/service"))
        .map(|s| s.rsplit('/').next().unwrap_or_default().to_string())
        .collect();
    assert!(!leaving.is_empty());
    for name in &leaving {
        estate
            .fake
            .release_served(&format!("{name}.in.example.com"));
        estate.edit_task_definition_tags(name, |t| {
            t.remove("alb.host");
        });
    }
    converge(&estate, &controller).await;
    assert!(
        estate.fake.world().load_balancers.contains_key(&lonely),
        "deleted too early"
    );
    for _ in 0..25 {
        controller.pass(true).await;
        tokio::time::sleep(INTERVAL).await;
    }
    assert!(
        !estate.fake.world().load_balancers.contains_key(&lonely),
        "an empty created ALB is deleted after --pool-scale-in-after"
    );
    assert_eq!(created_albs(&estate).len(), 1);
    estate.assert_traffic_served("scaled in");
}

#[tokio::test(start_paused = true)]
async fn a_full_account_is_a_clear_status_not_an_error_loop() {
    let estate = Estate::new(1);
    estate.fake.world().load_balancers_quota = Some(1);
    let controller = estate.controller_with(growing_pool(&estate, 3));
    for i in 0..4 {
        add(&estate, i);
    }
    estate.fake.release_served(&host(3));
    let report = passes_until_quiet(&estate, &controller).await;
    assert_quota(
        &report,
        |s| s.service == "s3",
        "quota of 1 application load balancers is used up",
    );
    assert!(created_albs(&estate).is_empty());
    let failed = report.applied.as_ref().map_or(0, |a| a.failed());
    assert_eq!(failed, 0, "no failing call");
    estate.assert_traffic_served("full account");
}

/// Passes until one writes nothing.
async fn passes_until_quiet(
    estate: &Estate,
    controller: &Controller,
) -> ecs_ingress::runtime::PassReport {
    for _ in 0..20 {
        let before = estate.fake.writes();
        let report = controller.pass(true).await;
        if estate.fake.writes() == before {
            return report;
        }
        tokio::time::sleep(INTERVAL).await;
    }
    panic!("still writing after 20 passes");
}

#[tokio::test(start_paused = true)]
async fn a_bad_pool_stops_start_up_naming_the_flag_and_value() {
    let estate = Estate::new(2);
    let (a, b) = (
        estate.listeners[&listener_name(0)].clone(),
        estate.listeners[&listener_name(1)].clone(),
    );
    let aws = estate.fake.aws();
    let check = |members: Vec<String>| {
        let mut config = estate.pool_config();
        config.pools.members = BTreeMap::from([("internal".to_string(), members)]);
        config
    };
    assert!(
        ecs_ingress::cli::pool_check::check(&aws, &check(vec![a.clone(), b.clone()]))
            .await
            .is_ok()
    );

    let missing = a.replace("/0000", "/9999");
    let err = ecs_ingress::cli::pool_check::check(&aws, &check(vec![a.clone(), missing.clone()]))
        .await
        .expect_err("missing");
    assert_eq!(
        err.to_string(),
        format!("--listener internal={missing}: no such listener")
    );

    // A second listener on the first ALB, on another port.
    let other_port = {
        let mut world = estate.fake.world();
        let mut l = world.listeners[&a].clone();
        l.arn = format!("{a}-8080");
        l.port = Some(8080);
        world.listeners.insert(l.arn.clone(), l.clone());
        l.arn
    };
    let err =
        ecs_ingress::cli::pool_check::check(&aws, &check(vec![a.clone(), other_port.clone()]))
            .await
            .expect_err("same ALB");
    assert!(
        err.to_string()
            .contains("each listener of a pool must be on its own ALB"),
        "{err}"
    );
    {
        let mut world = estate.fake.world();
        let lb = world.listeners[&b].load_balancer_arn.clone();
        if let Some(l) = world.listeners.get_mut(&other_port) {
            l.load_balancer_arn = lb;
        }
    }
    let err = ecs_ingress::cli::pool_check::check(
        &aws,
        &check(vec![a.clone(), other_port.clone(), b.clone()]),
    )
    .await
    .expect_err("mixed ports");
    assert!(
        err.to_string()
            .contains("a pool's listeners share port and protocol"),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_drain_with_no_room_left_grows_the_pool_for_the_services_that_must_leave() {
    let estate = Estate::new(2);
    let mut config = pool(&estate, 4);
    config.pools.max_albs.insert("default".into(), 3);
    let controller = estate.controller_with(config.clone());
    for i in 0..6 {
        add(&estate, i);
    }
    converge(&estate, &controller).await;
    assert!(
        created_albs(&estate).is_empty(),
        "six fit on two ALBs of three"
    );
    let drained = estate.listeners[&listener_name(1)].clone();
    config.pools.draining.insert(drained.clone());
    converge(&estate, &estate.controller_with(config)).await;
    assert_eq!(
        created_albs(&estate).len(),
        1,
        "one ALB created for the three leaving"
    );
    assert!(
        estate
            .owned_rules()
            .iter()
            .all(|r| r.listener_arn != drained),
        "the drained ALB still routes"
    );
    estate.assert_traffic_served("drain into a new ALB");
}

/// Services by host: several share one host by path, so they form one unit.
fn add_sharing(estate: &Estate, i: usize, host: usize, path: usize) -> String {
    let h = format!("h{host}.in.example.com");
    let p = format!("/p{path}/*");
    estate.add_service(
        &format!("s{i}"),
        &[
            ("alb.host", h.as_str()),
            ("alb.path", p.as_str()),
            ("alb.healthcheck.interval", "5"),
            ("alb.healthcheck.timeout", "4"),
            ("alb.healthcheck.healthy-threshold", "2"),
        ],
        &[],
    )
}

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a runtime")
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]

    /// Random services (some sharing a host by path) on pools of 1–3 ALBs with random
    /// capacity: no ALB goes over its limit, every host is on one ALB, a second controller
    /// agrees (writes nothing), and removing one service moves no other.
    #[test]
    fn placement_respects_capacity_keeps_hosts_together_and_is_stable(
        albs in 1usize..=3,
        groups in 3usize..=6,
        services in proptest::collection::vec((0usize..4, 0usize..3), 1..10),
    ) {
        paused_runtime().block_on(async {
            let estate = Estate::new(albs);
            let mut config = pool(&estate, groups);
            config.pools.max_albs.insert("default".into(), albs + 2);
            let controller = estate.controller_with(config.clone());
            let mut first: BTreeMap<(usize, usize), String> = BTreeMap::new();
            for (i, (host, path)) in services.iter().enumerate() {
                let arn = add_sharing(&estate, i, *host, *path);
                first.entry((*host, *path)).or_insert(arn);
            }
            let placed_all = albs * (groups - 1) >= services.len();
            if placed_all {
                // The oldest service of each (host, path) must be served.
                for ((host, path), arn) in &first {
                    estate.fake.expect_served(&format!("h{host}.in.example.com"), &format!("/p{path}/x"), arn);
                }
            }
            converge(&estate, &controller).await;
            let (groups_per_alb, hosts_per_alb) = {
                let world = estate.fake.world();
                let mut groups_per_alb: BTreeMap<String, usize> = BTreeMap::new();
                for g in world.target_groups.values() {
                    for lb in &g.load_balancer_arns {
                        *groups_per_alb.entry(lb.to_string()).or_default() += 1;
                    }
                }
                let mut hosts: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
                for r in world.rules.values().filter(|r| r.tags.contains_key("ecs-ingress/owner")) {
                    for h in &r.hosts {
                        hosts.entry(h.clone()).or_default().insert(world.listeners[r.listener_arn.as_str()].load_balancer_arn.clone());
                    }
                }
                (groups_per_alb, hosts)
            };
            for (lb, n) in &groups_per_alb {
                assert!(*n <= groups, "{lb} holds {n} groups, over {groups}");
            }
            for (h, lbs) in &hosts_per_alb {
                assert_eq!(lbs.len(), 1, "{h} routed by several ALBs: {lbs:?}");
            }
            let writes = estate.fake.writes();
            estate.controller_with(config.clone()).pass(true).await;
            assert_eq!(estate.fake.writes(), writes, "a second controller changed something");
            estate.assert_traffic_served("random pool");

            // One service goes: the others keep their rules where they are.
            let before: BTreeMap<String, String> = estate
                .owned_rules()
                .into_iter()
                .map(|r| (r.arn.to_string(), r.listener_arn.to_string()))
                .collect();
            let (host, _) = services[0];
            estate.fake.release_served(&format!("h{host}.in.example.com"));
            estate.edit_task_definition_tags("s0", |t| {
                t.remove("alb.host");
            });
            converge(&estate, &controller).await;
            let after: BTreeMap<String, String> = estate
                .owned_rules()
                .into_iter()
                .map(|r| (r.arn.to_string(), r.listener_arn.to_string()))
                .collect();
            for (arn, listener) in &after {
                if let Some(was) = before.get(arn) {
                    assert_eq!(was, listener, "rule {arn} moved");
                }
            }
            estate.assert_traffic_served("random pool, one withdrawn");
        });
    }
}

#[tokio::test(start_paused = true)]
async fn a_drain_with_each_of_its_calls_failing_keeps_serving_and_finishes() {
    use ecs_ingress::aws::ErrorKind;
    use ecs_ingress::fake::Fault;
    // Every operation the move makes, each failing (throttled, unavailable, denied) once
    // and three times in a row, on a drain of one ALB of five.
    let (estate, config) = drain_estate(None).await;
    estate.fake.reset_calls();
    converge(&estate, &estate.controller_with(config)).await;
    let ops: std::collections::BTreeSet<&'static str> =
        estate.fake.calls().iter().map(|c| c.operation).collect();
    for op in [
        "CreateTargetGroup",
        "CreateRule",
        "UpdateService",
        "ChangeResourceRecordSets",
        "DeleteRule",
        "DeleteTargetGroup",
        "DescribeTargetHealth",
    ] {
        assert!(ops.contains(op), "{op} not exercised by the drain: {ops:?}");
    }
    let mut cases = 0;
    for op in &ops {
        for kind in [
            ErrorKind::Throttled,
            ErrorKind::Unavailable,
            ErrorKind::AccessDenied,
        ] {
            for times in [1, 3] {
                let case = format!("{op} {kind:?} x{times}");
                let (estate, config) = drain_estate(None).await;
                estate.fake.inject(Fault {
                    operation: op,
                    kind,
                    times,
                });
                let drained = config.pools.draining.clone();
                estate.converge(&estate.controller_with(config), 60).await;
                let rules = estate.owned_rules();
                assert_eq!(rules.len(), DRAIN_SERVICES, "{case}: one rule per service");
                assert!(
                    rules
                        .iter()
                        .all(|r| !drained.contains(r.listener_arn.as_str())),
                    "{case}: the drained ALB still routes"
                );
                estate.assert_traffic_served(&case);
                cases += 1;
            }
        }
    }
    eprintln!("drain under {cases} fault cases: served throughout, finished");
}

#[tokio::test(start_paused = true)]
async fn a_pool_does_not_grow_for_services_no_alb_could_hold() {
    // Four services on one host by path need four target groups; ALBs hold three here.
    let estate = Estate::new(1);
    let mut config = pool(&estate, 4);
    config.pools.max_target_groups_per_alb = Some(3);
    config.pools.max_albs.insert("default".into(), 3);
    let controller = estate.controller_with(config);
    for path in 0..4 {
        add_sharing(&estate, path, 0, path);
    }
    let report = passes_until_quiet(&estate, &controller).await;
    assert!(
        created_albs(&estate).is_empty(),
        "grew for a unit no ALB can hold"
    );
    assert_quota(
        &report,
        |s| s.service == "s0",
        "more than one load balancer holds",
    );
}

#[tokio::test(start_paused = true)]
async fn a_service_whose_name_someone_else_holds_never_moves() {
    let (estate, config) = drain_estate(None).await;
    // s2's name is replaced by a hand-made record (no marker): its clients may be using it.
    let drained_lb = {
        let world = estate.fake.world();
        let listener = config
            .pools
            .draining
            .iter()
            .next()
            .cloned()
            .unwrap_or_default();
        world.listeners[&listener].load_balancer_arn.clone()
    };
    estate.edit_records(|records| {
        records.retain(|r| !r.name.contains("s2.in.example.com"));
        records.push(ecs_ingress::state::RecordSet {
            name: "s2.in.example.com".into(),
            record_type: "CNAME".into(),
            ttl: Some(60),
            values: vec!["somewhere.example.com".into()],
            alias: None,
            set_identifier: None,
        });
    });
    estate.fake.release_served("s2.in.example.com");
    estate.converge(&estate.controller_with(config), 40).await;
    let rules = estate.owned_rules();
    let s2_on: Vec<String> = {
        let world = estate.fake.world();
        rules
            .iter()
            .filter(|r| {
                r.tags
                    .get("ecs-ingress/service")
                    .is_some_and(|s| s.ends_with("/s2"))
            })
            .map(|r| {
                world.listeners[r.listener_arn.as_str()]
                    .load_balancer_arn
                    .clone()
            })
            .collect()
    };
    assert_eq!(
        s2_on,
        vec![drained_lb],
        "s2 moved although its name is not ours"
    );
    estate.assert_traffic_served("a name held by someone else");
}

#[tokio::test(start_paused = true)]
async fn two_controllers_on_one_pool_drain_it_together_without_fighting() {
    // Both read the same AWS and place alike: passes of either, interleaved, finish the
    // drain with the writes one alone would make, and every name stays served.
    let (alone, config) = drain_estate(None).await;
    let before = alone.fake.writes();
    converge(&alone, &alone.controller_with(config)).await;
    let writes_alone = alone.fake.writes() - before;

    let (estate, config) = drain_estate(None).await;
    let (a, b) = (
        estate.controller_with(config.clone()),
        estate.controller_with(config.clone()),
    );
    let before = estate.fake.writes();
    for round in 0..40 {
        let writes = estate.fake.writes();
        let report = if round % 2 == 0 {
            a.pass(true).await
        } else {
            b.pass(true).await
        };
        let waiting = report.plan.services.iter().any(|s| !s.waiting.is_empty());
        if estate.fake.writes() == writes {
            if !waiting {
                break;
            }
            tokio::time::sleep(INTERVAL).await;
        }
    }
    let drained = config.pools.draining.clone();
    assert!(
        estate
            .owned_rules()
            .iter()
            .all(|r| !drained.contains(r.listener_arn.as_str())),
        "the drained ALB still routes"
    );
    assert_eq!(
        estate.fake.writes() - before,
        writes_alone,
        "two controllers wrote more than one"
    );
    estate.assert_traffic_served("two controllers draining one pool");
}

// ---- One move protocol: a member removed from the flags, a retag, a skewed successor ----

/// Target groups carrying an ecs-ingress owner tag.
fn owned_group_count(estate: &Estate) -> usize {
    estate
        .fake
        .world()
        .target_groups
        .values()
        .filter(|g| g.tags.contains_key("ecs-ingress/owner"))
        .count()
}

/// True when some rule of ecs-ingress is on `listener`.
fn routes_on(estate: &Estate, listener: &str) -> bool {
    estate
        .owned_rules()
        .iter()
        .any(|r| r.listener_arn == listener)
}

/// Passes until nothing is written and nothing waits, each one required to succeed: a move
/// that AWS refuses (a target group forwarded from two ALBs, a group deleted while in use)
/// fails a pass here. Returns the reports.
async fn converge_cleanly(
    estate: &Estate,
    controller: &Controller,
) -> Vec<ecs_ingress::runtime::PassReport> {
    let mut reports = Vec::new();
    for _ in 0..40 {
        let writes = estate.fake.writes();
        let report = controller.pass(true).await;
        assert!(
            report.succeeded(),
            "pass {} failed: {:?} {:?}",
            reports.len() + 1,
            report.observed_failures,
            report.applied.as_ref().map(|a| a
                .results
                .iter()
                .filter(|r| r.error.is_some())
                .map(|r| format!("{}: {:?}", r.change, r.error))
                .collect::<Vec<_>>())
        );
        let waiting = report.plan.services.iter().any(|s| !s.waiting.is_empty());
        let quiet = estate.fake.writes() == writes;
        reports.push(report);
        if quiet && !waiting {
            return reports;
        }
        if quiet {
            tokio::time::sleep(INTERVAL).await;
        }
    }
    panic!("no convergence within 40 passes");
}

/// No target group is forwarded to from two ALBs (AWS refuses it; moto does not), and each
/// owned group serves at most one.
fn assert_one_alb_per_group(estate: &Estate, case: &str) {
    let world = estate.fake.world();
    for g in world.target_groups.values() {
        assert!(
            g.load_balancer_arns.len() <= 1,
            "{case}: {} forwarded from {:?}",
            g.name,
            g.load_balancer_arns
        );
    }
}

/// The drain estate's pool (five ALBs, ten services) with one member's `--listener` removed
/// instead of drained: the ALB service `s2` is on, or the pool's first (`first`), whose
/// groups carry the pool's plain names.
async fn removal_estate(first: bool) -> (Estate, Config, String) {
    let (estate, _) = drain_estate(None).await;
    let removed = if first { 0 } else { placement(&estate)["s2"] };
    let removed = estate.listeners[&listener_name(removed)].clone();
    let mut config = pool(&estate, 10);
    for members in config.pools.members.values_mut() {
        members.retain(|m| *m != removed);
    }
    let first_member = config.pools.members["default"][0].clone();
    config.listeners.insert("default".into(), first_member);
    (estate, config, removed)
}

#[tokio::test(start_paused = true)]
async fn a_member_removed_from_the_flags_without_a_drain_is_drained_all_the_same() {
    for first in [false, true] {
        let case = if first {
            "the pool's first member removed"
        } else {
            "a member removed"
        };
        let (estate, config, removed) = removal_estate(first).await;
        let leaving: Vec<String> = estate
            .owned_rules()
            .iter()
            .filter(|r| r.listener_arn == removed)
            .filter_map(|r| r.tags.get("ecs-ingress/service").map(str::to_string))
            .collect();
        assert!(!leaving.is_empty(), "{case}: nothing on the removed ALB");
        let controller = estate.controller_with(config);
        let reports = converge_cleanly(&estate, &controller).await;

        // The first pass says what happens, in the service's status and the ALB's.
        let first_report = &reports[0];
        let moving = first_report
            .plan
            .services
            .iter()
            .find(|s| s.service_arn == leaving[0])
            .expect("a status for a leaving service");
        assert!(
            moving
                .waiting
                .iter()
                .any(|w| w.contains("no longer given with --listener")),
            "{case}: {:?}",
            moving.waiting
        );
        let removed_lb = estate.fake.world().listeners[&removed]
            .load_balancer_arn
            .clone();
        assert!(
            first_report
                .facts
                .albs
                .iter()
                .any(|a| a.arn == removed_lb && a.draining),
            "{case}: the removed ALB is not shown draining"
        );
        // At the end: nothing on the removed ALB, one group per service, served throughout.
        assert!(
            !routes_on(&estate, &removed),
            "{case}: rules left on the removed ALB"
        );
        let groups = owned_group_count(&estate);
        assert_eq!(groups, DRAIN_SERVICES, "{case}");
        assert_one_alb_per_group(&estate, case);
        estate.assert_traffic_served(case);
        eprintln!(
            "{case}: {} services moved off in {} passes",
            leaving.len(),
            reports.len()
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_member_removal_killed_after_any_write_is_finished_by_a_fresh_process() {
    let (estate, config, _) = removal_estate(true).await;
    let before = estate.fake.writes();
    converge(&estate, &estate.controller_with(config)).await;
    let writes = estate.fake.writes() - before;
    for k in 0..writes {
        let (estate, config, removed) = removal_estate(true).await;
        die_after(&estate, &config, k).await;
        let case = format!("removal killed after write {k}");
        converge_cleanly(&estate, &estate.controller_with(config)).await;
        assert!(
            !routes_on(&estate, &removed),
            "{case}: rules left on the removed ALB"
        );
        assert_one_alb_per_group(&estate, &case);
        estate.assert_traffic_served(&case);
    }
    eprintln!("member removal killed after each of {writes} writes: served throughout, finished");
}

/// Every operation a move makes (found by running it once), failing throttled or unavailable
/// once and three times in a row: each case converges with the move finished (`done` holds,
/// no group on two ALBs) and every name served after every write. Returns the cases run.
async fn move_under_faults(
    what: &str,
    setup: impl AsyncFn() -> (Estate, Config),
    done: impl Fn(&Estate) -> bool,
) -> usize {
    use ecs_ingress::aws::ErrorKind;
    use ecs_ingress::fake::Fault;
    let (estate, config) = setup().await;
    estate.fake.reset_calls();
    converge(&estate, &estate.controller_with(config)).await;
    let ops: std::collections::BTreeSet<&'static str> =
        estate.fake.calls().iter().map(|c| c.operation).collect();
    let mut cases = 0;
    for op in &ops {
        for kind in [ErrorKind::Throttled, ErrorKind::Unavailable] {
            for times in [1, 3] {
                let case = format!("{what}, {op} {kind:?} x{times}");
                let (estate, config) = setup().await;
                estate.fake.inject(Fault {
                    operation: op,
                    kind,
                    times,
                });
                estate.converge(&estate.controller_with(config), 60).await;
                assert!(done(&estate), "{case}: the move did not finish");
                assert_one_alb_per_group(&estate, &case);
                estate.assert_traffic_served(&case);
                cases += 1;
            }
        }
    }
    cases
}

#[tokio::test(start_paused = true)]
async fn a_member_removal_with_each_of_its_calls_failing_keeps_serving_and_finishes() {
    let (estate, _, removed) = removal_estate(true).await;
    drop(estate);
    let cases = move_under_faults(
        "member removal",
        async || {
            let (estate, config, _) = removal_estate(true).await;
            (estate, config)
        },
        |estate| !routes_on(estate, &removed),
    )
    .await;
    eprintln!("member removal under {cases} fault cases: served throughout, finished");
}

#[tokio::test(start_paused = true)]
async fn a_retag_with_each_of_its_calls_failing_keeps_serving_and_finishes() {
    let cases = move_under_faults("retag", retag_estate, |estate| {
        let to = &estate.listeners["alb-1"];
        let rules = estate.owned_rules();
        rules.len() == 1 && rules[0].listener_arn == *to
    })
    .await;
    eprintln!("retag under {cases} fault cases: served throughout, finished");
}

#[tokio::test(start_paused = true)]
async fn a_service_retagged_onto_another_alb_moves_by_the_same_protocol() {
    // Two listeners on two ALBs, no pool: `alb.listener=default` becomes `alb-1`.
    let estate = Estate::new(2);
    let controller = estate.controller();
    let arns: Vec<String> = (0..3).map(|i| add(&estate, i)).collect();
    converge(&estate, &controller).await;
    let to = estate.listeners["alb-1"].clone();
    for i in 0..2 {
        estate.edit_task_definition_tags(&format!("s{i}"), |t| {
            t.insert("alb.listener".into(), "alb-1".into());
        });
    }
    let reports = converge_cleanly(&estate, &controller).await;
    assert!(
        reports[0]
            .plan
            .services
            .iter()
            .filter(|s| s.service_arn == arns[0])
            .any(|s| s
                .waiting
                .iter()
                .any(|w| w.contains("moving from load balancer"))),
        "the move is not shown"
    );
    let rules = estate.owned_rules();
    for arn in &arns[..2] {
        let mine: Vec<_> = rules
            .iter()
            .filter(|r| r.tags.get("ecs-ingress/service") == Some(arn))
            .collect();
        assert_eq!(mine.len(), 1, "{arn}");
        assert_eq!(mine[0].listener_arn, to, "{arn}");
    }
    let groups = owned_group_count(&estate);
    assert_eq!(groups, 3);
    assert_one_alb_per_group(&estate, "retag");
    estate.assert_traffic_served("retag onto another ALB");
    // Stable afterwards: another controller changes nothing (the moved group keeps its
    // ALB's own name).
    let writes = estate.fake.writes();
    estate.controller().pass(true).await;
    assert_eq!(estate.fake.writes(), writes);
}

#[tokio::test(start_paused = true)]
async fn a_retag_while_its_record_is_deleted_by_hand_republishes_where_it_is_served() {
    // Found by the simulation (seed 3): the name's A record deleted by hand (its marker
    // left), then the service retagged onto another ALB. With no record, the name counted
    // as pointing at the new ALB already: it was published there before the new group had
    // a healthy target, and the old ALB's rule went at once.
    let estate = Estate::new(2);
    add(&estate, 0);
    let controller = estate.controller();
    converge(&estate, &controller).await;
    estate.fake.others_act(|world| {
        for (_, records) in world.zones.values_mut() {
            records.retain(|r| !(r.name == host(0) && r.record_type == "A"));
        }
    });
    estate.edit_task_definition_tags("s0", |t| {
        t.insert("alb.listener".into(), "alb-1".into());
    });
    converge(&estate, &controller).await;
    assert_eq!(
        estate
            .owned_rules()
            .iter()
            .map(|r| r.listener_arn.clone())
            .collect::<Vec<_>>(),
        vec![estate.listeners["alb-1"].clone()],
        "the move finished"
    );
    estate.assert_traffic_served("retag with the record deleted by hand");
}

/// Two services sharing `h0.in.example.com` by path (`/p0/*`, `/p1/*`) on the second ALB,
/// published and expected served; returns the estate and their ARNs.
async fn sharing_on_the_second_alb() -> (Estate, Vec<String>) {
    let estate = Estate::new(2);
    let mut arns = Vec::new();
    for i in 0..2 {
        let arn = add_sharing(&estate, i, 0, i);
        estate.edit_task_definition_tags(&format!("s{i}"), |t| {
            t.insert("alb.listener".into(), "alb-1".into());
        });
        estate
            .fake
            .expect_served("h0.in.example.com", &format!("/p{i}/x"), &arn);
        arns.push(arn);
    }
    converge(&estate, &estate.controller()).await;
    (estate, arns)
}

#[tokio::test(start_paused = true)]
async fn a_host_shared_by_path_moves_once_a_sharer_waiting_for_nothing_is_seen_healthy() {
    // Found by the simulation (seeds 34 and 56). Two services share a host by path on the
    // second ALB; a third asks for the same host on the first (a DNS conflict: its ALB side
    // is published there). The two are retagged onto the first: their names stay on the
    // second until every service of the host serves on the first. The third waited for
    // nothing, so its health was never read: the move never finished.
    let (estate, _) = sharing_on_the_second_alb().await;
    let shared = "h0.in.example.com";
    let controller = estate.controller();
    let third = add_sharing(&estate, 2, 0, 2);
    let report = estate.converge_report(&controller, 40).await.1;
    let state = |arn: &str| {
        report
            .plan
            .services
            .iter()
            .find(|s| s.service_arn == arn)
            .map(|s| s.state)
    };
    assert_eq!(state(&third), Some(ServiceState::DnsConflict));
    estate.fake.traffic(|check, world| {
        check.expect_once_served(world, shared, "/p2/x", &[third.as_str()])
    });
    for i in 0..2 {
        estate.edit_task_definition_tags(&format!("s{i}"), |t| {
            t.remove("alb.listener");
        });
    }
    converge(&estate, &controller).await;
    assert_eq!(
        placement(&estate),
        BTreeMap::from([("s0".into(), 0), ("s1".into(), 0), ("s2".into(), 0)]),
        "the moves finished"
    );
    estate.assert_traffic_served("a host shared by path moved onto a sharer's ALB");
}

#[tokio::test(start_paused = true)]
async fn a_host_added_while_a_move_waits_is_not_published_on_the_alb_it_leaves() {
    // Two services share a host by path on the second ALB and move to the first; one of
    // them fails its health checks, so their names stay where they are. The other, ready,
    // gains a host meanwhile: its name was written onto the ALB being left, which has no
    // rule for it. It waits instead, and is published on the first once the move goes on.
    let (estate, arns) = sharing_on_the_second_alb().await;
    let shared = "h0.in.example.com";
    let added = "h9.in.example.com";
    let controller = estate.controller();
    let failing = (arns[1].clone(), 8080);
    estate.fake.others_act(|world| {
        world.refuses_health_checks.insert(failing.clone());
    });
    for i in 0..2 {
        estate.edit_task_definition_tags(&format!("s{i}"), |t| {
            t.remove("alb.listener");
            if i == 0 {
                t.insert("alb.host".into(), format!("{shared} {added}"));
            }
        });
    }
    for _ in 0..6 {
        controller.pass(true).await;
        tokio::time::sleep(INTERVAL).await;
        let records = estate.fake.world().zones[&estate.zone_id].1.clone();
        assert!(
            !records
                .iter()
                .any(|r| r.name == added && r.record_type == "A"),
            "{added} published while the move waits: {records:?}"
        );
    }
    estate.fake.others_act(|world| {
        world.refuses_health_checks.remove(&failing);
    });
    estate
        .fake
        .traffic(|check, world| check.expect_once_free(world, added, "/p0/x", &[arns[0].as_str()]));
    converge(&estate, &controller).await;
    assert_eq!(
        placement(&estate),
        BTreeMap::from([("s0".into(), 0), ("s1".into(), 0)]),
        "the move finished"
    );
    estate.assert_traffic_served("a host added while a move waits");
}

/// One service on the first of two ALBs, retagged onto the second's listener (no pool).
async fn retag_estate() -> (Estate, Config) {
    let estate = Estate::new(2);
    add(&estate, 0);
    converge(&estate, &estate.controller()).await;
    estate.edit_task_definition_tags("s0", |t| {
        t.insert("alb.listener".into(), "alb-1".into());
    });
    let config = estate.config();
    (estate, config)
}

#[tokio::test(start_paused = true)]
async fn the_oracle_excuses_a_write_from_a_read_older_than_a_hand_edit_and_only_that() {
    // A pass reads, someone deletes the new ALB's rule by hand, the pass moves the name
    // there: no controller can know (seeds 25 and 48 of the simulation). Once it has read
    // that ALB again, the same write is its own mistake.
    for read_after_edit in [false, true] {
        let (estate, config) = retag_estate().await;
        let controller = estate.controller_with(config);
        let new_listener = estate.listeners["alb-1"].clone();
        let new_alb = estate.fake.world().alb_names_of(&new_listener)[0].clone();
        // Route 53 fails until the new ALB serves, so that the name is still on the old one.
        estate.fake.inject(ecs_ingress::fake::Fault {
            operation: "ChangeResourceRecordSets",
            kind: ecs_ingress::aws::ErrorKind::Unavailable,
            times: 1000,
        });
        let mut ready = false;
        for _ in 0..20 {
            controller.pass(true).await;
            {
                let world = estate.fake.world();
                let serves = world
                    .served_on_each_alb(&host(0), "/")
                    .into_iter()
                    .any(|(alb, served)| alb == new_alb && matches!(served, Served::By(_)));
                ready = serves && world.record_target_of(&host(0)) != Some(new_alb.clone());
            }
            if ready {
                break;
            }
            tokio::time::sleep(INTERVAL).await;
        }
        assert!(ready, "the new ALB serves the name before it moves there");
        estate.fake.clear_faults();
        let rule = estate
            .owned_rules()
            .into_iter()
            .find(|r| r.listener_arn == new_listener)
            .expect("the new rule");
        estate
            .fake
            .others_act(|world| world.remove_rule(&rule.arn))
            .expect("deleted by hand");
        let aws = estate.fake.aws();
        if read_after_edit {
            aws.elb
                .describe_rules(&new_listener)
                .await
                .expect("the rules read");
        }
        let mut record = estate.fake.world().zones[&estate.zone_id]
            .1
            .iter()
            .find(|r| r.name == host(0) && r.record_type == "A")
            .cloned()
            .expect("the name's record");
        if let Some(alias) = record.alias.as_mut() {
            alias.dns_name = new_alb.as_str().into();
        }
        aws.route53
            .change_record_sets(&estate.zone_id, &[RecordChange::Upsert(record)])
            .await
            .expect("the name moved");
        let (violations, _) = estate.fake.traffic_report();
        assert_eq!(
            violations.is_empty(),
            !read_after_edit,
            "read after the edit: {read_after_edit}: {violations:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_retag_killed_after_any_write_is_finished_by_a_fresh_process() {
    let (estate, config) = retag_estate().await;
    let before = estate.fake.writes();
    converge(&estate, &estate.controller_with(config)).await;
    let writes = estate.fake.writes() - before;
    assert!(writes >= 6, "the retag takes {writes} writes");
    for k in 0..writes {
        let (estate, config) = retag_estate().await;
        die_after(&estate, &config, k).await;
        let case = format!("retag killed after write {k}");
        converge_cleanly(&estate, &estate.controller_with(config)).await;
        assert_one_alb_per_group(&estate, &case);
        estate.assert_traffic_served(&case);
    }
}

/// The drain estate, run by a replica whose host clock is `first` seconds off until the
/// names switched, then by one `second` seconds off, each with `clock` making its idea of
/// AWS's time from its host's.
async fn drain_across_a_failover(
    first: i64,
    second: i64,
    clock: fn(i64) -> std::sync::Arc<ecs_ingress::aws::clock::AwsClock>,
) -> Estate {
    let (estate, config) = drain_estate(None).await;
    let replica = |skew: i64| {
        Controller::new(
            config.clone(),
            estate.fake.aws_with_clock(clock(skew)),
            estate.metrics.clone(),
        )
    };
    let (a, b) = (replica(first), replica(second));
    let switched = |estate: &Estate| {
        estate.fake.world().zones[&estate.zone_id]
            .1
            .iter()
            .any(|r| r.values.iter().any(|v| v.contains("since=")))
    };
    for _ in 0..40 {
        let writes = estate.fake.writes();
        let report = if switched(&estate) {
            b.pass(true).await
        } else {
            a.pass(true).await
        };
        let waiting = report.plan.services.iter().any(|s| !s.waiting.is_empty());
        if estate.fake.writes() == writes {
            if !waiting {
                break;
            }
            // A short interval, so that a drain cut short shows up.
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    }
    estate
}

#[tokio::test(start_paused = true)]
async fn a_successor_on_a_skewed_clock_never_shortens_the_drain() {
    use ecs_ingress::aws::clock::{AwsClock, unix_now};
    fn on_aws_time(skew: i64) -> std::sync::Arc<AwsClock> {
        AwsClock::following(unix_now, skew)
    }
    for (first, second) in [(-300, 300), (0, 240), (300, -300), (240, 0)] {
        let estate = drain_across_a_failover(first, second, on_aws_time).await;
        let drained = estate.owned_rules().len();
        assert_eq!(drained, DRAIN_SERVICES, "{first:+} → {second:+}");
        estate.assert_traffic_served(&format!("failover {first:+} s → {second:+} s"));
    }
    // The same on the host's clock alone (as before): the successor ahead removes the old
    // rules while clients still hold the old answer, and the check sees it.
    let estate = drain_across_a_failover(-300, 300, AwsClock::host_only).await;
    let (violations, _) = estate.fake.traffic_report();
    assert!(
        violations.iter().any(|v| v.contains("cached answer")),
        "{violations:#?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_listener_removed_while_another_listener_of_its_alb_stays_is_drained_too() {
    // The ALB stays configured through another listener: its removed listener's rules are
    // read for the quota, and those forwarding to our groups make it a departed listener.
    let estate = Estate::new(2);
    let first = estate.listeners["default"].clone();
    let second = estate.listeners["alb-1"].clone();
    let other = {
        let mut world = estate.fake.world();
        let alb = world.listeners[&first].load_balancer_arn.clone();
        world.add_listener(&alb, 8080).expect("a second listener")
    };
    let mut config = pool(&estate, 10);
    config.listeners.insert("web".into(), other.clone());
    config.pools.members.insert("web".into(), vec![other]);
    let arns: Vec<String> = (0..4).map(|i| add(&estate, i)).collect();
    converge(&estate, &estate.controller_with(config.clone())).await;
    assert!(
        routes_on(&estate, &first),
        "nothing placed on the first ALB"
    );
    for members in config.pools.members.values_mut() {
        members.retain(|m| *m != first);
    }
    config.listeners.insert("default".into(), second.clone());
    converge_cleanly(&estate, &estate.controller_with(config)).await;
    assert!(
        !routes_on(&estate, &first),
        "rules left on the removed listener"
    );
    assert_eq!(owned_group_count(&estate), arns.len());
    assert_one_alb_per_group(&estate, "listener removed, its ALB still configured");
    estate.assert_traffic_served("listener removed, its ALB still configured");
}

#[tokio::test(start_paused = true)]
async fn a_mover_reached_through_a_name_a_kept_service_holds_keeps_serving_where_it_points() {
    // Found by the simulation (pool world, seed 13). A service shares a host by path on the
    // second ALB; its tags turn invalid, so it keeps what it has, the name included. A
    // second service joins the host there: in DNS conflict (the name is held for the
    // first), it is still reached through that name on that ALB. Moved to the first ALB,
    // it took the held name, which does not list it, for switched and deleted the rule
    // clients reach it by.
    let estate = Estate::new(2);
    let shared = "h0.in.example.com";
    let controller = estate.controller();
    let keeper = add_sharing(&estate, 0, 0, 0);
    estate.edit_task_definition_tags("s0", |t| {
        t.insert("alb.listener".into(), "alb-1".into());
    });
    estate.fake.expect_served(shared, "/p0/x", &keeper);
    converge(&estate, &controller).await;
    estate.edit_task_definition_tags("s0", |t| {
        t.insert("alb.healthcheck.interval".into(), "often".into());
    });
    let mover = add_sharing(&estate, 1, 0, 1);
    estate.edit_task_definition_tags("s1", |t| {
        t.insert("alb.listener".into(), "alb-1".into());
    });
    estate.fake.traffic(|check, world| {
        check.expect_once_served(world, shared, "/p1/x", &[mover.as_str()])
    });
    let joined = estate.converge_report(&controller, 40).await.1;
    // Nothing waits on its health (its name is not its own): give the checks their time.
    tokio::time::sleep(Duration::from_secs(60)).await;
    let served = estate.fake.world().served(shared, "/p1/x");
    assert!(
        matches!(served, Served::By(ref by) if by.contains(&mover)),
        "the joining service is reached through the held name: {served:?} {:?}",
        joined.plan.services
    );
    estate.edit_task_definition_tags("s1", |t| {
        t.remove("alb.listener");
    });
    // It waits on what only a person can change: a number of passes, not convergence.
    let mut report = controller.pass(true).await;
    for _ in 0..12 {
        tokio::time::sleep(INTERVAL).await;
        report = controller.pass(true).await;
    }
    let status = report
        .plan
        .services
        .iter()
        .find(|s| s.service_arn == mover)
        .expect("a status for the mover");
    assert_eq!(status.state, ServiceState::DnsConflict, "{status:?}");
    assert!(
        status
            .problems
            .iter()
            .any(|p| p.reason.contains("still held")),
        "{:?}",
        status.problems
    );
    assert!(
        status
            .waiting
            .iter()
            .any(|w| w.contains("held for other services")),
        "{:?}",
        status.waiting
    );
    assert!(
        estate
            .owned_rules()
            .iter()
            .any(|r| r.listener_arn == estate.listeners["alb-1"]
                && r.tags.get("ecs-ingress/service") == Some(&mover)),
        "the rule clients reach the mover by stays where the name points"
    );
    estate.assert_traffic_served("a mover reached through a name a kept service holds");
}
