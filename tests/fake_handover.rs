//! A host handed from a withdrawn holder to the next claimant is a handover: the new
//! holder's changes are not counted as drift repairs.

use ecs_ingress::status::ServiceState;
use ecs_ingress::testing::Estate;

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
    estate.edit_task_definition_tags("first", |t| {
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
    assert!(
        rules[0]
            .tags
            .get("ecs-ingress/service")
            .is_some_and(|s| s.ends_with("/second"))
    );
}
