//! Weighted canaries across services (`alb.weight`) on the in-memory AWS: one rule, owned by
//! the oldest, spreads a host over its partners' groups; every request lands on healthy
//! targets of one of them after every write.

use std::collections::BTreeMap;

use ecs_ingress::state::Rule;
use ecs_ingress::testing::Estate;

const HOST: &str = "a.in.example.com";

fn the_rule(estate: &Estate) -> Rule {
    let rules = estate.owned_rules();
    assert_eq!(rules.len(), 1, "{rules:?}");
    rules[0].clone()
}

fn group_of(estate: &Estate, service_arn: &str) -> String {
    estate
        .fake
        .world()
        .target_groups
        .values()
        .find(|g| g.tags.get("ecs-ingress/service") == Some(service_arn))
        .map(|g| g.arn.to_string())
        .expect("a group")
}

/// A stable service (90) and its canary (10) on one host, served by either.
fn stable_and_canary() -> (Estate, String, String) {
    let estate = Estate::new(1);
    let stable = estate.add_service("stable", &[("alb.host", HOST), ("alb.weight", "90")], &[]);
    let canary = estate.add_service("canary", &[("alb.host", HOST), ("alb.weight", "10")], &[]);
    estate
        .fake
        .expect_served_by_any(HOST, "/", &[stable.as_str(), canary.as_str()]);
    (estate, stable, canary)
}

#[tokio::test(start_paused = true)]
async fn a_canary_shares_the_stable_rule_by_weight_and_leaves_it_cleanly() {
    let (estate, stable, canary) = stable_and_canary();
    let controller = estate.controller();
    estate.converge(&controller, 20).await;
    let (stable_group, canary_group) = (group_of(&estate, &stable), group_of(&estate, &canary));
    let rule = the_rule(&estate);
    assert_eq!(
        rule.tags.get("ecs-ingress/service"),
        Some(stable.as_str()),
        "owned by the oldest"
    );
    assert_eq!(
        rule.weights,
        BTreeMap::from([(stable_group.clone(), 90), (canary_group.clone(), 10)])
    );

    // A second canary joins while the name is served: at weight 0 until it is healthy.
    let second = estate.add_service("second", &[("alb.host", HOST), ("alb.weight", "5")], &[]);
    estate.fake.expect_served_by_any(
        HOST,
        "/",
        &[stable.as_str(), canary.as_str(), second.as_str()],
    );
    estate.converge(&controller, 20).await;
    let second_group = group_of(&estate, &second);
    assert_eq!(the_rule(&estate).weights.get(&second_group), Some(&5));
    estate.edit_task_definition_tags("second", |t| {
        t.remove("alb.host");
    });
    estate.converge(&controller, 20).await;
    assert_eq!(the_rule(&estate).weights.len(), 2);

    // A weight edit changes the rule in place.
    estate.edit_task_definition_tags("canary", |t| {
        t.insert("alb.weight".into(), "50".into());
    });
    estate.converge(&controller, 20).await;
    let edited = the_rule(&estate);
    assert_eq!(edited.arn, rule.arn);
    assert_eq!(edited.weights[&canary_group], 50);

    // The canary leaves: the rule forwards to the stable group alone, then its group goes.
    estate.edit_task_definition_tags("canary", |t| {
        t.remove("alb.host");
    });
    estate.converge(&controller, 20).await;
    let alone = the_rule(&estate);
    assert_eq!(
        alone.forward_target_groups,
        std::slice::from_ref(&stable_group)
    );
    assert!(
        !estate
            .fake
            .world()
            .target_groups
            .contains_key(&canary_group)
    );
    estate.assert_traffic_served("canary");

    // The last one leaves: the rule goes.
    estate.fake.release_served(HOST);
    estate.edit_task_definition_tags("stable", |t| {
        t.remove("alb.host");
    });
    estate.converge(&controller, 20).await;
    assert!(estate.owned_rules().is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_stable_service_leaving_hands_the_name_to_the_canary() {
    let (estate, _stable, canary) = stable_and_canary();
    let controller = estate.controller();
    estate.converge(&controller, 20).await;
    estate.edit_task_definition_tags("stable", |t| {
        t.remove("alb.host");
    });
    estate.converge(&controller, 20).await;
    let rule = the_rule(&estate);
    assert_eq!(rule.tags.get("ecs-ingress/service"), Some(canary.as_str()));
    estate.assert_traffic_served("stable left");
}

/// A weighted member stands among the winners (oldest first: stable, canary, then a
/// service of a host of its own). The later service's name follows its own group's health,
/// not that of the winner before it: none after the pass that creates its group, and
/// published once its targets are healthy, every request served after every write.
#[tokio::test(start_paused = true)]
async fn a_name_after_a_weighted_member_waits_for_its_own_health() {
    const OTHER: &str = "b.in.example.com";
    let (estate, _stable, _canary) = stable_and_canary();
    let controller = estate.controller();
    estate.converge(&controller, 20).await;
    assert!(estate.fake.world().has_record(HOST));
    let other = estate.add_service("other", &[("alb.host", OTHER)], &[]);
    estate.expect_served(OTHER, &other);
    controller.pass(true).await;
    assert!(
        !estate.fake.world().has_record(OTHER),
        "its group has no healthy target yet, whatever the canary's has"
    );
    estate.converge(&controller, 20).await;
    assert!(estate.fake.world().has_record(OTHER));
    estate.assert_traffic_served("a service after a weighted member");
}
