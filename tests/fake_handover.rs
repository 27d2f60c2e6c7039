//! A host handed from a withdrawn holder to the next claimant is a handover: the new
//! holder's changes are not counted as drift repairs.

use ecs_ingress::state::Tags;
use ecs_ingress::status::ServiceState;
use ecs_ingress::testing::Estate;

fn edit_tags(estate: &Estate, service: &str, f: impl FnOnce(&mut Tags)) {
    let mut world = estate.fake.world();
    let td = world
        .services
        .values()
        .find(|s| s.service.name == service)
        .map(|s| s.service.task_definition.clone())
        .expect("service");
    if let Some(td) = world.task_definitions.get_mut(&td) {
        f(&mut td.tags);
    }
}

fn drift_repairs(estate: &Estate) -> Vec<String> {
    estate
        .metrics
        .encode()
        .lines()
        .filter(|l| l.starts_with("ecs_ingress_drift_repairs_total{") && !l.ends_with(" 0"))
        .map(str::to_string)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_host_taken_over_after_its_holder_withdraws_is_no_drift_repair() {
    let estate = Estate::new(1);
    estate.add_service("first", &[("alb.host", "shared.in.example.com")], &[]);
    estate.add_service("second", &[("alb.host", "shared.in.example.com")], &[]);
    let controller = estate.controller();
    estate.converge(&controller, 20).await;
    edit_tags(&estate, "first", |t| {
        t.remove("alb.host");
    });
    let report = estate.converge_report(&controller, 20).await.1;
    let second = report
        .status()
        .services
        .into_iter()
        .find(|s| s.service == "second")
        .expect("second listed");
    assert_eq!(second.state, ServiceState::Published, "{second:?}");
    assert_eq!(drift_repairs(&estate), Vec::<String>::new());
    let rules = estate.owned_rules();
    assert_eq!(rules.len(), 1);
    assert!(rules[0].tags["ecs-ingress/service"].ends_with("/second"));
}
