//! Cloud Map through the whole pass on the in-memory AWS: a registration appears, is
//! repaired and goes; a reused service stays; a service is deleted only when its tags say
//! it is ours; a failed read deletes nothing.

use ecs_ingress::aws::ErrorKind;
use ecs_ingress::fake::Fault;
use ecs_ingress::fake::cloudmap::FakeCloudMapService;
use ecs_ingress::ownership::{ALIAS_ATTRIBUTE, OWNER_ATTRIBUTE};
use ecs_ingress::plan::cloudmap::description;
use ecs_ingress::runtime::Controller;
use ecs_ingress::state::CloudMapServiceSpec;
use ecs_ingress::status::ServiceState;
use ecs_ingress::testing::Estate;

/// An estate with the private DNS namespace `internal` managed through
/// `--cloudmap-namespace`, and a controller for it.
fn estate() -> (Estate, String, Controller) {
    let estate = Estate::new(1);
    let ns = estate
        .fake
        .world()
        .cloudmap
        .add_namespace("internal", "DNS_PRIVATE");
    let mut config = estate.config();
    config.cloudmap_namespaces = vec!["internal".into()];
    let controller = estate.controller_with(config);
    (estate, ns, controller)
}

fn cloudmap_services(estate: &Estate) -> Vec<FakeCloudMapService> {
    estate
        .fake
        .world()
        .cloudmap
        .services
        .values()
        .cloned()
        .collect()
}

const TAGS: &[(&str, &str)] = &[
    ("alb.host", "service-a.in.example.com"),
    ("cloudmap.namespace", "internal"),
    ("cloudmap.service", "service-a"),
];

#[tokio::test(start_paused = true)]
async fn registration_appears_is_repaired_and_goes_with_its_service() {
    let (estate, ns, controller) = estate();
    estate.add_service("service-a", TAGS, &[]);
    // The registration waits for the target group's healthy targets.
    let (_, report) = estate.converge_report(&controller, 20).await;
    assert!(report.succeeded(), "{:?}", report.applied);
    let lb_dns = estate.load_balancer_dns();
    let services = cloudmap_services(&estate);
    assert_eq!(services.len(), 1);
    let made = &services[0];
    assert_eq!(made.service.name, "service-a");
    assert_eq!(made.service.namespace_id, ns);
    assert_eq!(made.record_types, vec!["A"]);
    assert_eq!(made.tags.get("ecs-ingress/owner"), Some("ecs-ingress"));
    let instance = &made.instances["ecs-ingress"];
    assert_eq!(instance.attributes[ALIAS_ATTRIBUTE], lb_dns);
    assert_eq!(instance.attributes[OWNER_ATTRIBUTE], "ecs-ingress");
    let status = report.status();
    assert!(
        status.services[0]
            .resources
            .iter()
            .any(|r| r.kind == "cloudmap-instance" && r.id == "internal/service-a/ecs-ingress"),
        "{:?}",
        status.services[0].resources
    );

    // Steady: nothing to write.
    estate.fake.reset_calls();
    assert!(controller.pass(true).await.plan.changes.is_empty());
    assert_eq!(estate.fake.writes(), 0);

    // Deregistered by hand: it comes back.
    let id = made.service.id.clone();
    estate
        .fake
        .world()
        .cloudmap
        .services
        .get_mut(&id)
        .expect("service")
        .instances
        .clear();
    controller.pass(true).await;
    assert!(
        cloudmap_services(&estate)[0]
            .instances
            .contains_key("ecs-ingress")
    );

    // Untagged: the instance goes first, the empty service on the next pass.
    estate.untag_task_definitions();
    let report = controller.pass(true).await;
    assert!(report.succeeded(), "{:?}", report.applied);
    assert!(cloudmap_services(&estate)[0].instances.is_empty());
    let report = controller.pass(true).await;
    assert!(report.succeeded(), "{:?}", report.applied);
    assert!(cloudmap_services(&estate).is_empty());
    assert!(controller.pass(true).await.plan.changes.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_service_made_by_hand_is_reused_and_kept() {
    let (estate, ns, controller) = estate();
    let by_hand = estate
        .fake
        .world()
        .cloudmap
        .create_service(&CloudMapServiceSpec {
            namespace_id: ns,
            name: "service-a".into(),
            record_types: vec!["A".into()],
            description: "made by the platform team".into(),
            tags: Default::default(),
        })
        .expect("create");
    estate.add_service("service-a", TAGS, &[]);
    assert!(estate.converge_report(&controller, 20).await.1.succeeded());
    let services = cloudmap_services(&estate);
    assert_eq!(services.len(), 1, "no second service");
    assert!(services[0].instances.contains_key("ecs-ingress"));

    estate.untag_task_definitions();
    controller.pass(true).await;
    controller.pass(true).await;
    let services = cloudmap_services(&estate);
    assert_eq!(services.len(), 1);
    assert_eq!(services[0].service.id, by_hand.id);
    assert!(services[0].instances.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_description_alone_does_not_make_a_service_ours() {
    let (estate, ns, controller) = estate();
    // Someone copied our description onto their own, untagged service.
    estate
        .fake
        .world()
        .cloudmap
        .create_service(&CloudMapServiceSpec {
            namespace_id: ns,
            name: "lookalike".into(),
            record_types: vec![],
            description: description(
                "ecs-ingress",
                "arn:aws:ecs:us-east-1:123456789012:service/main/gone",
            ),
            tags: Default::default(),
        })
        .expect("create");
    let report = controller.pass(true).await;
    let applied = report.applied.expect("applied");
    assert_eq!(applied.failed(), 1);
    assert!(
        applied.results[0]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("does not carry owner tag")),
        "{:?}",
        applied.results
    );
    assert_eq!(cloudmap_services(&estate).len(), 1);
    assert_eq!(estate.fake.call_counts().get("DeleteService"), None);
}

#[tokio::test(start_paused = true)]
async fn a_failed_instance_read_deletes_nothing_and_a_conflict_keeps_the_alb_side() {
    let (estate, _, controller) = estate();
    estate.add_service("service-a", TAGS, &[]);
    assert!(estate.converge_report(&controller, 20).await.1.succeeded());

    estate.untag_task_definitions();
    estate.fake.inject(Fault {
        operation: "ListInstances",
        kind: ErrorKind::Unavailable,
        times: 1,
    });
    let report = controller.pass(true).await;
    assert!(!report.observed_failures.is_empty());
    assert!(
        cloudmap_services(&estate)[0]
            .instances
            .contains_key("ecs-ingress")
    );
    assert_eq!(estate.fake.call_counts().get("DeregisterInstance"), None);

    // Another service asks for the same Cloud Map service: the younger one is told, and
    // its ALB rule is still published.
    let (estate, _, controller) = self::estate();
    estate.add_service("service-a", TAGS, &[]);
    estate.add_service(
        "service-b",
        &[
            ("alb.host", "service-b.in.example.com"),
            ("cloudmap.namespace", "internal"),
            ("cloudmap.service", "service-a"),
        ],
        &[],
    );
    let (_, report) = estate.converge_report(&controller, 20).await;
    let status = report.status();
    let b = status
        .services
        .iter()
        .find(|s| s.service == "service-b")
        .expect("b");
    assert_eq!(b.state, ServiceState::DnsConflict);
    assert!(b.problems[0].reason.contains("older service"));
    assert!(
        b.resources.iter().any(|r| r.kind == "listener-rule"),
        "{:?}",
        b.resources
    );
}
