//! The served-traffic invariant through whole passes on the in-memory AWS, whose ECS
//! registers tasks and whose targets get healthy only after their health checks: a
//! published (host, path) is served by healthy targets of its service after every single
//! write, from the moment its record exists until it is withdrawn. One test per defect that
//! real estates showed and the earlier tests did not.

use std::time::Duration;

use ecs_ingress::config::canonical_clusters;
use ecs_ingress::fake::{Served, container, tags};
use ecs_ingress::observe::{self, Cache};
use ecs_ingress::runtime::{self, Controller, PassReport};
use ecs_ingress::state::{PortMapping, Rule, Tags, TargetGroup};
use ecs_ingress::status::{ServiceState, ServiceStatus};
use ecs_ingress::testing::Estate;
use ecs_ingress::testing::{CLUSTER, CONTAINER};
use ecs_ingress::{apply, fake};

const INTERVAL: Duration = Duration::from_secs(30);

fn owned_groups(estate: &Estate) -> Vec<TargetGroup> {
    estate
        .fake
        .world()
        .target_groups
        .values()
        .filter(|g| g.tags.contains_key("ecs-ingress/owner"))
        .cloned()
        .collect()
}

fn attached(estate: &Estate, service_arn: &str) -> Vec<String> {
    estate.fake.world().services[service_arn]
        .service
        .load_balancers
        .iter()
        .filter_map(|l| l.target_group_arn.clone())
        .collect()
}

fn status<'a>(report: &'a PassReport, name: &str) -> &'a ServiceStatus {
    report
        .plan
        .services
        .iter()
        .find(|s| s.service == name)
        .unwrap_or_else(|| panic!("no status for {name}: {:?}", report.plan.services))
}

fn only_rule(estate: &Estate) -> Rule {
    let rules = estate.owned_rules();
    assert_eq!(rules.len(), 1, "{rules:?}");
    rules[0].clone()
}

fn served(estate: &Estate, host: &str, path: &str) -> Served {
    estate.fake.world().served(host, path)
}

fn record_exists(estate: &Estate, name: &str) -> bool {
    estate.fake.world().zones[&estate.zone_id]
        .1
        .iter()
        .any(|r| r.name == name && r.record_type == "A")
}

/// Runs passes, letting time run between those that write nothing.
async fn passes(estate: &Estate, controller: &Controller, n: usize) -> PassReport {
    let mut last = None;
    for _ in 0..n {
        let before = estate.fake.writes();
        last = Some(controller.pass(true).await);
        if estate.fake.writes() == before {
            tokio::time::sleep(INTERVAL).await;
        }
    }
    last.expect("at least one pass")
}

#[tokio::test(start_paused = true)]
async fn removing_alb_host_withdraws_everything_in_order_and_names_the_leftover_keys() {
    let estate = Estate::new(1);
    let svc = estate.add_service(
        "a",
        &[
            ("alb.host", "a.in.example.com"),
            ("alb.healthcheck.path", "/health"),
            ("alb.port", "8080"),
        ],
        &[],
    );
    estate.expect_served("a.in.example.com", &svc);
    let controller = estate.controller();
    estate.converge(&controller, 20).await;
    estate.assert_traffic_served("published");

    estate.fake.release_served("a.in.example.com");
    estate.edit_task_definition_tags("a", |t| {
        t.remove("alb.host");
    });
    estate.fake.reset_calls();
    let report = controller.pass(true).await;
    let a = status(&report, "a");
    assert_eq!(a.state, ServiceState::Withdrawn, "{a:?}");
    assert!(
        a.warnings
            .iter()
            .any(|w| w.contains("leftover keys ignored: alb.healthcheck.path, alb.port")),
        "{:?}",
        a.warnings
    );
    estate.converge(&controller, 20).await;
    let writes: Vec<&str> = estate
        .fake
        .calls()
        .iter()
        .filter(|c| c.served && c.is_write())
        .map(|c| c.operation)
        .collect();
    assert_eq!(
        writes,
        [
            "ChangeResourceRecordSets",
            "DeleteRule",
            "UpdateService",
            "DeleteTargetGroup"
        ],
        "withdrawn name first, target group last"
    );
    assert!(estate.owned_rules().is_empty());
    assert!(owned_groups(&estate).is_empty());
    assert!(attached(&estate, &svc).is_empty());
    assert!(!record_exists(&estate, "a.in.example.com"));
}

#[tokio::test(start_paused = true)]
async fn a_cluster_named_twice_is_one_cluster_and_a_service_never_its_own_rival() {
    let estate = Estate::new(1);
    let svc = estate.add_service("a", &[("alb.host", "a.in.example.com")], &[]);
    estate.expect_served("a.in.example.com", &svc);
    let cluster_arn = estate.fake.world().clusters[CLUSTER].clone();
    let named_twice = vec![
        CLUSTER.to_string(),
        cluster_arn.clone(),
        CLUSTER.to_string(),
    ];
    assert_eq!(canonical_clusters(named_twice), vec![CLUSTER.to_string()]);
    // Even a configuration that bypassed that (both spellings listed) reads the service
    // twice and must still see one service.
    let mut config = estate.config();
    config.clusters = vec![CLUSTER.to_string(), cluster_arn];
    let controller = estate.controller_with(config);
    estate.converge(&controller, 20).await;
    let before = estate.fake.writes();
    for _ in 0..3 {
        let report = controller.pass(true).await;
        assert_eq!(status(&report, "a").state, ServiceState::Published);
    }
    assert_eq!(
        estate.fake.writes(),
        before,
        "no rule deleted and re-created"
    );
    estate.assert_traffic_served("cluster named twice");
}

/// a published, then its protocol version changes: an immutable setting.
fn replacement_estate() -> (Estate, String) {
    let estate = Estate::new(1);
    let svc = estate.add_service("a", &[("alb.host", "a.in.example.com")], &[]);
    estate.expect_served("a.in.example.com", &svc);
    (estate, svc)
}

fn change_protocol_version(estate: &Estate) {
    estate.edit_task_definition_tags("a", |t| {
        t.insert("alb.protocol-version".into(), "HTTP2".into());
    });
}

#[tokio::test(start_paused = true)]
async fn an_immutable_change_moves_traffic_only_once_the_new_group_is_healthy() {
    let (estate, svc) = replacement_estate();
    let controller = estate.controller();
    estate.converge(&controller, 20).await;
    let old = owned_groups(&estate).remove(0);

    change_protocol_version(&estate);
    let report = controller.pass(true).await;
    let groups = owned_groups(&estate);
    assert_eq!(
        groups.len(),
        2,
        "the replacement is created beside the old group"
    );
    let new = groups
        .iter()
        .find(|g| g.arn != old.arn)
        .expect("new")
        .clone();
    assert_eq!(
        attached(&estate, &svc).len(),
        2,
        "both attached: ECS registers in both"
    );
    let rule = only_rule(&estate);
    assert_eq!(rule.forward_target_groups, vec![old.arn.clone()]);
    assert_eq!(rule.staged_target_groups, vec![new.arn.clone()]);
    let a = status(&report, "a");
    assert_eq!(a.state, ServiceState::Pending);
    assert!(
        a.waiting
            .iter()
            .any(|w| w.contains("replacing target group")),
        "{a:?}"
    );

    estate.converge(&controller, 20).await;
    let groups = owned_groups(&estate);
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].arn, new.arn);
    assert_eq!(attached(&estate, &svc), vec![new.arn.clone()]);
    let rule = only_rule(&estate);
    assert_eq!(rule.forward_target_groups, vec![new.arn.clone()]);
    assert!(rule.staged_target_groups.is_empty());
    estate.assert_traffic_served("replaced");
}

/// Runs the replacement in a process that dies (no cleanup, no cache kept) after its k-th
/// write, however many passes that takes.
async fn die_after(estate: &Estate, k: usize) {
    let config = estate.config();
    let plan_config = config.plan_config();
    let aws = estate.fake.aws();
    let mut cache = Cache::default();
    let start = estate.fake.writes();
    for _ in 0..20 {
        if estate.fake.writes() >= start + k {
            return;
        }
        let mut observed =
            observe::observe(&aws, &config, &plan_config.ownership, &mut cache).await;
        let intents = runtime::intents(&config, &observed);
        let planned = runtime::plan_pass(&aws, &plan_config, &mut observed, &intents).await;
        let before = estate.fake.writes();
        let stop = || estate.fake.writes() >= start + k;
        apply::apply(&aws, &planned, &estate.metrics, &stop).await;
        if estate.fake.writes() == before {
            tokio::time::sleep(INTERVAL).await;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_replacement_killed_after_any_write_is_finished_by_a_fresh_process() {
    // How many writes the whole replacement takes.
    let (estate, _) = replacement_estate();
    estate.converge(&estate.controller(), 20).await;
    change_protocol_version(&estate);
    let before = estate.fake.writes();
    estate.converge(&estate.controller(), 20).await;
    let writes = estate.fake.writes() - before;
    assert!(writes >= 6, "the replacement takes {writes} writes");

    for k in 0..writes {
        let (estate, svc) = replacement_estate();
        estate.converge(&estate.controller(), 20).await;
        change_protocol_version(&estate);
        die_after(&estate, k).await;
        estate.converge(&estate.controller(), 20).await;
        let groups = owned_groups(&estate);
        assert_eq!(groups.len(), 1, "kill after write {k}: {groups:?}");
        assert_eq!(
            attached(&estate, &svc),
            vec![groups[0].arn.clone()],
            "kill after write {k}"
        );
        estate.assert_traffic_served(&format!("kill after write {k}"));
    }
    eprintln!("replacement killed after each of {writes} writes: served throughout, finished");
}

#[tokio::test(start_paused = true)]
async fn a_replacement_that_never_gets_healthy_is_reported_and_traffic_stays() {
    let estate = Estate::new(1);
    let svc = {
        let mut world = estate.fake.world();
        let mut app = container(CONTAINER, 8080, Tags::new());
        app.port_mappings.push(PortMapping {
            container_port: 9090,
            host_port: None,
            udp: false,
        });
        let td = world.add_task_definition(
            "a",
            "awsvpc",
            vec![app],
            tags(&[("alb.host", "a.in.example.com"), ("alb.port", "8080")]),
        );
        let svc = world.add_service(CLUSTER, "a", &td, Tags::new());
        world.add_task(&svc, "10.0.5.1");
        // Nothing in the task answers on 9090.
        world.refuses_health_checks.insert((svc.clone(), 9090));
        svc
    };
    estate.expect_served("a.in.example.com", &svc);
    let controller = estate.controller();
    estate.converge(&controller, 20).await;
    let old = owned_groups(&estate).remove(0);
    estate.edit_task_definition_tags("a", |t| {
        t.insert("alb.port".into(), "9090".into());
    });
    let report = passes(&estate, &controller, 12).await;
    let a = status(&report, "a");
    assert_eq!(a.state, ServiceState::Pending, "{a:?}");
    let waiting = a.waiting.join(" ");
    assert!(
        waiting.contains("replacing target group") && waiting.contains(" for "),
        "state, reason and how long: {waiting}"
    );
    assert_eq!(
        only_rule(&estate).forward_target_groups,
        vec![old.arn.clone()]
    );
    assert!(owned_groups(&estate).iter().any(|g| g.arn == old.arn));
    estate.assert_traffic_served("replacement never healthy");
}

#[tokio::test(start_paused = true)]
async fn a_target_group_deleted_by_hand_is_recreated_and_the_service_reattached() {
    let estate = Estate::new(1);
    let svc = estate.add_service("a", &[("alb.host", "a.in.example.com")], &[]);
    let controller = estate.controller();
    estate.converge(&controller, 20).await;
    let old = owned_groups(&estate).remove(0);
    {
        // Someone deletes the rule and then the group (AWS refuses the other order).
        let rule = only_rule(&estate).arn;
        let mut world = estate.fake.world();
        world.remove_rule(&rule).expect("rule");
        world.remove_target_group(&old.arn).expect("group");
    }
    assert_eq!(
        attached(&estate, &svc),
        vec![old.arn.clone()],
        "ECS still lists it"
    );
    estate.converge(&controller, 20).await;
    let groups = owned_groups(&estate);
    assert_eq!(groups.len(), 1);
    assert_ne!(groups[0].arn, old.arn);
    assert_eq!(
        attached(&estate, &svc),
        vec![groups[0].arn.clone()],
        "the deleted group's entry is dropped, or ECS would refuse the update"
    );
    // Served again once ECS's deployment has healthy targets in the new group (5 checks
    // 30 s apart), and from then on.
    tokio::time::sleep(Duration::from_secs(160)).await;
    estate.expect_served("a.in.example.com", &svc);
    estate.converge(&controller, 20).await;
    assert!(matches!(
        served(&estate, "a.in.example.com", "/"),
        Served::By(_)
    ));
    estate.assert_traffic_served("recreated");
}

#[tokio::test(start_paused = true)]
async fn a_deleted_listener_is_named_and_the_other_listeners_go_on() {
    let estate = Estate::new(2);
    let a = estate.add_service("a", &[("alb.host", "a.in.example.com")], &[]);
    estate.add_service(
        "b",
        &[("alb.host", "b.in.example.com"), ("alb.listener", "alb-1")],
        &[],
    );
    estate.expect_served("a.in.example.com", &a);
    let controller = estate.controller();
    estate.converge(&controller, 20).await;
    let gone = estate.listeners["alb-1"].clone();
    estate.fake.world().delete_listener(&gone);
    let c = estate.add_service("c", &[("alb.host", "c.in.example.com")], &[]);
    estate.expect_served("c.in.example.com", &c);
    let groups_before = owned_groups(&estate).len();
    let report = passes(&estate, &controller, 8).await;
    let b = status(&report, "b");
    assert_eq!(b.state, ServiceState::Error, "{b:?}");
    assert!(
        b.problems
            .iter()
            .any(|p| p.reason.contains(&gone) && p.reason.contains("does not exist")),
        "{b:?}"
    );
    assert_eq!(status(&report, "c").state, ServiceState::Published);
    assert!(
        report
            .read_problem
            .as_deref()
            .is_some_and(|p| p.contains("--listener")),
        "{:?}",
        report.read_problem
    );
    assert_eq!(
        owned_groups(&estate).len(),
        groups_before + 1,
        "b's target group is kept, c's added"
    );
    estate.assert_traffic_served("a listener deleted");
}

#[tokio::test(start_paused = true)]
async fn the_rule_quota_counts_every_listener_of_the_alb_and_comes_from_the_account() {
    let estate = Estate::new(1);
    {
        let mut world = estate.fake.world();
        world.rules_quota = Some(4);
        let lb = world.listeners[&estate.listeners["default"]]
            .load_balancer_arn
            .clone();
        // A listener ecs-ingress is not given, with two hand-made rules.
        let other = world.add_listener(&lb, 8443).expect("listener");
        let tg = world
            .insert_target_group(&ecs_ingress::state::TargetGroupSpec {
                name: "legacy".into(),
                protocol: ecs_ingress::state::Protocol::Http,
                protocol_version: ecs_ingress::state::ProtocolVersion::Http1,
                port: 80,
                target_type: ecs_ingress::state::TargetType::Ip,
                vpc_id: ecs_ingress::testing::VPC.into(),
                health_check: fake::default_health_check().into(),
                attributes: Default::default(),
                tags: Default::default(),
            })
            .expect("group");
        for (p, host) in [(1, "x.example.com"), (2, "y.example.com")] {
            world
                .insert_rule(&ecs_ingress::state::RuleSpec {
                    listener_arn: other.clone(),
                    priority: p,
                    hosts: vec![host.into()],
                    paths: vec![],
                    target_group_arn: tg.clone(),
                    staged_target_group_arn: None,
                    tags: Default::default(),
                })
                .expect("rule");
        }
    }
    for name in ["a", "b", "c"] {
        estate.add_service(
            name,
            &[("alb.host", &format!("{name}.in.example.com"))],
            &[],
        );
    }
    let controller = estate.controller();
    let (_, report) = estate.converge_report(&controller, 20).await;
    assert!(report.succeeded(), "no TooManyRules: {:?}", report.applied);
    assert_eq!(status(&report, "a").state, ServiceState::Published);
    assert_eq!(status(&report, "b").state, ServiceState::Published);
    let c = status(&report, "c");
    assert_eq!(c.state, ServiceState::Quota, "{c:?}");
    assert!(
        c.problems[0]
            .reason
            .contains("5 rules across its listeners, over its quota of 4"),
        "{c:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn four_hosts_are_split_within_three_values_per_condition() {
    let estate = Estate::new(1);
    let hosts: Vec<String> = (1..=4).map(|i| format!("h{i}.in.example.com")).collect();
    let svc = estate.add_service("a", &[("alb.host", &hosts.join(" "))], &[]);
    for h in &hosts {
        estate.expect_served(h, &svc);
    }
    let (_, report) = estate.converge_report(&estate.controller(), 20).await;
    assert!(report.succeeded(), "{:?}", report.applied);
    let rules = estate.owned_rules();
    assert_eq!(rules.len(), 2);
    assert!(rules.iter().all(|r| r.hosts.len() <= 3), "{rules:?}");
    estate.assert_traffic_served("four hosts");
}

#[tokio::test(start_paused = true)]
async fn services_routed_by_path_on_one_host_share_its_name() {
    let estate = Estate::new(1);
    let web = estate.add_service(
        "web",
        &[("alb.host", "h.in.example.com")],
        &[("alb.path", "/*")],
    );
    let api = estate.add_service(
        "api",
        &[("alb.host", "h.in.example.com")],
        &[("alb.path", "/api/*")],
    );
    estate.fake.expect_served("h.in.example.com", "/", &web);
    estate
        .fake
        .expect_served("h.in.example.com", "/api/orders", &api);
    let controller = estate.controller();
    let (_, report) = estate.converge_report(&controller, 20).await;
    for name in ["web", "api"] {
        assert_eq!(
            status(&report, name).state,
            ServiceState::Published,
            "{name}"
        );
    }
    estate.assert_traffic_served("shared host");

    // The older one withdraws: the name stays for the other.
    estate.fake.release_served("h.in.example.com");
    estate
        .fake
        .expect_served("h.in.example.com", "/api/orders", &api);
    estate.edit_task_definition_tags("web", |t| {
        t.remove("alb.host");
    });
    estate.converge(&controller, 20).await;
    assert!(record_exists(&estate, "h.in.example.com"));
    estate.assert_traffic_served("web withdrawn");
    // The last one goes: so does the name.
    estate.fake.release_served("h.in.example.com");
    estate.edit_task_definition_tags("api", |t| {
        t.remove("alb.host");
    });
    estate.converge(&controller, 20).await;
    assert!(!record_exists(&estate, "h.in.example.com"));
    assert_eq!(served(&estate, "h.in.example.com", "/"), Served::NoRecord);
}
