//! `--zone-role`: a hosted zone of another account (a central networking account) written
//! through a role assumed there, on the in-memory AWS with accounts, roles and expiring
//! credentials.

use std::sync::Arc;

use ecs_ingress::config::Config;
use ecs_ingress::fake::accounts::FakeRole;
use ecs_ingress::runtime::Controller;
use ecs_ingress::state::RecordSet;
use ecs_ingress::testing::Estate;

const CENTRAL: &str = "222222222222";
const ROLE: &str = "arn:aws:iam::222222222222:role/central/dns-writer";

/// The estate with a zone `name` in the central account, written through [`ROLE`] (which
/// requires ExternalId `ext-1`), managed beside the estate's own zone when `with_own`.
fn central(estate: &Estate, name: &str, with_own: bool) -> (Config, String) {
    let zone = {
        let mut world = estate.fake.world();
        let mut role = FakeRole::trusting();
        role.external_id = Some("ext-1".into());
        world.accounts.roles.insert(ROLE.into(), role);
        world.add_zone_in(CENTRAL, name)
    };
    let mut config = estate.config();
    config.hosted_zones = if with_own {
        vec![estate.zone_id.clone(), zone.clone()]
    } else {
        vec![zone.clone()]
    };
    config.hosted_zones.sort();
    config.zone_roles = [(zone.clone(), ROLE.to_string())].into();
    config.zone_role_external_id = Some("ext-1".into());
    (config, zone)
}

fn controller(estate: &Estate, config: Config) -> Controller {
    let aws = estate
        .fake
        .aws_with_zone_roles(&config.zone_role_settings());
    Controller::new(config, aws, Arc::clone(&estate.metrics))
}

fn records(estate: &Estate, zone: &str) -> Vec<RecordSet> {
    estate.fake.world().zones[zone].1.clone()
}

fn names(records: &[RecordSet]) -> Vec<&str> {
    records
        .iter()
        .filter(|r| !matches!(r.record_type.as_str(), "NS" | "SOA"))
        .map(|r| r.name.as_str())
        .collect()
}

fn assumed(estate: &Estate) -> usize {
    estate
        .fake
        .world()
        .accounts
        .assumed
        .get(ROLE)
        .copied()
        .unwrap_or(0)
}

#[tokio::test(start_paused = true)]
async fn the_central_zone_is_written_through_the_role_and_the_own_same_named_zone_is_untouched() {
    let estate = Estate::new(1);
    // The workload account has its own zone of the same name, which is not managed.
    let (config, zone) = central(&estate, "in.example.com", false);
    let arn = estate.add_service(
        "service-a",
        &[("alb.host", "service-a.in.example.com")],
        &[],
    );
    estate.expect_served("service-a.in.example.com", &arn);
    let controller = controller(&estate, config);
    let (passes, report) = estate.converge_report(&controller, 20).await;
    assert!(report.succeeded(), "{:?}", report.applied);
    estate.assert_traffic_served("published in the central zone");

    let written = records(&estate, &zone);
    assert_eq!(
        names(&written),
        [
            "service-a.in.example.com",
            "_ecs-ingress.service-a.in.example.com"
        ]
    );
    let alias = written[2]
        .alias
        .as_ref()
        .expect("an alias to the workload ALB");
    assert_eq!(alias.dns_name, estate.load_balancer_dns());
    assert!(
        names(&records(&estate, &estate.zone_id)).is_empty(),
        "the workload account's own zone of the same name is untouched"
    );
    assert_eq!(
        assumed(&estate),
        1,
        "one AssumeRole for {passes} passes: the credentials are cached"
    );
}

#[tokio::test(start_paused = true)]
async fn credentials_that_expire_early_or_are_revoked_are_renewed_within_the_call() {
    let estate = Estate::new(1);
    let (config, zone) = central(&estate, "central.example.com", true);
    estate.add_service(
        "service-a",
        &[("alb.host", "service-a.central.example.com")],
        &[],
    );
    let controller = controller(&estate, config);
    estate.converge(&controller, 20).await;
    assert_eq!(assumed(&estate), 1);

    // The credentials run out early (the host's clock behind STS's): the next Route 53 call
    // is refused as expired, the role is assumed again and the call repeated, so the pass
    // never notices.
    estate.fake.world().expire_credentials(CENTRAL);
    estate
        .fake
        .world()
        .zones
        .get_mut(&zone)
        .expect("the central zone")
        .1
        .retain(|r| r.record_type != "A");
    let report = controller.pass(true).await;
    assert!(
        report.succeeded(),
        "{:?} {:?}",
        report.read_problem,
        report.applied
    );
    assert_eq!(assumed(&estate), 2);
    assert!(
        names(&records(&estate, &zone)).contains(&"service-a.central.example.com"),
        "the deleted record is repaired through the renewed role"
    );

    // Revoked in IAM ("Revoke active sessions"): AWS answers AccessDenied, not expired; the
    // session is renewed the same way.
    estate.fake.world().revoke_sessions(CENTRAL);
    let report = controller.pass(true).await;
    assert!(report.succeeded(), "{:?}", report.read_problem);
    assert_eq!(assumed(&estate), 3);
}

#[tokio::test(start_paused = true)]
async fn a_wrong_external_id_is_denied_and_nothing_is_written_in_that_zone() {
    let estate = Estate::new(1);
    let (mut config, zone) = central(&estate, "central.example.com", false);
    config.zone_role_external_id = Some("wrong".into());
    estate.add_service(
        "service-a",
        &[("alb.host", "service-a.central.example.com")],
        &[],
    );
    let controller = controller(&estate, config);
    let report = controller.pass(true).await;
    let problem = report.read_problem.clone().unwrap_or_default();
    assert!(
        problem.contains(ROLE) && problem.contains(&zone),
        "the failed read names the role and the zone: {problem}"
    );
    assert!(names(&records(&estate, &zone)).is_empty());
    assert_eq!(assumed(&estate), 1);
}

/// The owned rules routing `host`.
fn rules_for(estate: &Estate, host: &str) -> usize {
    estate
        .owned_rules()
        .iter()
        .filter(|r| r.hosts.iter().any(|h| h == host))
        .count()
}

#[tokio::test(start_paused = true)]
async fn a_denied_role_holds_back_only_the_services_with_a_name_in_its_zone() {
    let estate = Estate::new(1);
    let (config, central_zone) = central(&estate, "central.example.com", true);
    let a = estate.add_service("a", &[("alb.host", "a.in.example.com")], &[]);
    let b = estate.add_service("b", &[("alb.host", "b.central.example.com")], &[]);
    let c = estate.add_service("c", &[("alb.host", "c.in.example.com")], &[]);
    estate.expect_served("c.in.example.com", &c);
    let controller = controller(&estate, config);
    estate.converge(&controller, 20).await;
    assert!(names(&records(&estate, &estate.zone_id)).contains(&"a.in.example.com"));
    assert!(names(&records(&estate, &central_zone)).contains(&"b.central.example.com"));

    // The role's trust policy no longer lets the controller in (its session ended too),
    // and both a (own zone) and b (central zone) are untagged.
    {
        let mut world = estate.fake.world();
        if let Some(role) = world.accounts.roles.get_mut(ROLE) {
            role.denied = true;
        }
        world.expire_credentials(CENTRAL);
    }
    estate.edit_task_definition_tags("a", |tags| tags.clear());
    estate.edit_task_definition_tags("b", |tags| tags.clear());
    let report = controller.pass(true).await;

    // The pass is partial, and says which zone and role.
    let problem = report.read_problem.clone().unwrap_or_default();
    assert!(problem.contains(ROLE), "{problem}");
    // b keeps everything: its record and marker, rule and group; it is an error naming
    // the zone and the role.
    assert!(names(&records(&estate, &central_zone)).contains(&"b.central.example.com"));
    assert_eq!(rules_for(&estate, "b.central.example.com"), 1);
    let status = report.status();
    let b_status = status
        .services
        .iter()
        .find(|s| s.service_arn == b)
        .expect("b's status");
    assert_eq!(
        b_status.state,
        ecs_ingress::status::ServiceState::Error,
        "{b_status:?}"
    );
    let why = &b_status.problems[0].reason;
    assert!(why.contains(&central_zone) && why.contains(ROLE), "{why}");
    // /status says which zone, through which role, and why.
    let zone = status
        .facts
        .zones
        .iter()
        .find(|z| z.id == central_zone)
        .expect("the central zone in /status");
    assert_eq!(
        (zone.account.as_str(), zone.role.as_deref()),
        (CENTRAL, Some(ROLE))
    );
    assert!(
        zone.problem
            .as_deref()
            .is_some_and(|p| p.contains("AccessDenied") || p.contains("access-denied")),
        "{zone:?}"
    );
    let own = status
        .facts
        .zones
        .iter()
        .find(|z| z.id == estate.zone_id)
        .expect("own zone");
    assert_eq!(
        (own.account.as_str(), own.problem.as_deref()),
        ("default", None)
    );
    // a's withdrawal rests only on reads that succeeded: it goes on.
    assert!(!names(&records(&estate, &estate.zone_id)).contains(&"a.in.example.com"));
    assert_eq!(rules_for(&estate, "a.in.example.com"), 0, "{a} withdrawn");
    // c is untouched and still served.
    assert_eq!(rules_for(&estate, "c.in.example.com"), 1);
    estate.assert_traffic_served("through the denial");

    // Trusted again: b's withdrawal finishes.
    if let Some(role) = estate.fake.world().accounts.roles.get_mut(ROLE) {
        role.denied = false;
    }
    let report = controller.pass(true).await;
    assert!(report.read_problem.is_none(), "{:?}", report.read_problem);
    assert!(!names(&records(&estate, &central_zone)).contains(&"b.central.example.com"));
    assert_eq!(rules_for(&estate, "b.central.example.com"), 0);
}

#[tokio::test(start_paused = true)]
async fn a_role_for_two_zones_is_assumed_once() {
    let estate = Estate::new(1);
    let (mut config, first) = central(&estate, "one.example.com", false);
    let second = estate.fake.world().add_zone_in(CENTRAL, "two.example.com");
    config.hosted_zones = vec![first.clone(), second.clone()];
    config.hosted_zones.sort();
    config.zone_roles.insert(second.clone(), ROLE.to_string());
    estate.add_service("a", &[("alb.host", "a.one.example.com")], &[]);
    estate.add_service("b", &[("alb.host", "b.two.example.com")], &[]);
    let controller = controller(&estate, config);
    let (_, report) = estate.converge_report(&controller, 20).await;
    assert!(report.succeeded(), "{:?}", report.applied);
    assert!(names(&records(&estate, &first)).contains(&"a.one.example.com"));
    assert!(names(&records(&estate, &second)).contains(&"b.two.example.com"));
    assert_eq!(assumed(&estate), 1, "one session serves both zones");
}
