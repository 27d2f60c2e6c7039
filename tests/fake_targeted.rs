//! Targeted passes on the in-memory AWS: a service named by an event is published,
//! withdrawn or repaired by a pass that reads only it and what it touches, on top of the
//! last full pass's reads; other services are never changed by it.

use std::collections::BTreeSet;
use std::time::Duration;

use ecs_ingress::events::{EventTarget, ServiceArn};
use ecs_ingress::runtime::{Controller, ScopeDecision};
use ecs_ingress::status::ServiceState;
use ecs_ingress::telemetry::PassKind;
use ecs_ingress::testing::{Estate, SEED_TAGS};

/// Operations a targeted pass never needs: they list the whole estate.
const WHOLE_ESTATE: &[&str] = &["ListServices", "GetResources", "DescribeLoadBalancers"];

fn estate_with(n: usize) -> Estate {
    let estate = Estate::new(1);
    for i in 0..n {
        let host = format!("s{i}.in.example.com");
        let mut tags: Vec<(&str, &str)> = SEED_TAGS.to_vec();
        tags[0] = ("alb.host", host.as_str());
        estate.add_service(&format!("s{i}"), &tags, &[]);
    }
    estate
}

fn scope(controller: &Controller, targets: &[EventTarget]) -> ecs_ingress::runtime::Scope {
    let targets: BTreeSet<EventTarget> = targets.iter().cloned().collect();
    match controller.scope_of(&targets) {
        ScopeDecision::Targeted(scope) => scope,
        other => panic!("expected a targeted scope, got {other:?}"),
    }
}

fn service(arn: &str) -> EventTarget {
    EventTarget::Service(ServiceArn::parse(arn).expect("service ARN"))
}

/// Targeted passes (a tenth of a minute apart, as the follow-ups run) until the service is
/// published; returns the passes and the calls they made.
async fn targeted_until(
    estate: &Estate,
    controller: &Controller,
    targets: &[EventTarget],
    done: impl Fn(&Estate) -> bool,
) -> (usize, usize) {
    estate.fake.reset_calls();
    let scope = scope(controller, targets);
    for n in 1..=20 {
        let report = controller
            .targeted_pass(&scope)
            .await
            .expect("a targeted pass, not a hand-over to a full one");
        assert_eq!(report.kind, PassKind::Targeted);
        assert!(report.succeeded(), "{:?}", report.observed_failures);
        if done(estate) {
            return (n, estate.fake.calls().len());
        }
        tokio::time::sleep(Duration::from_secs(6)).await;
    }
    panic!("not done after 20 targeted passes");
}

fn assert_reads_only_the_target(estate: &Estate) {
    let counts = estate.fake.call_counts();
    for op in WHOLE_ESTATE {
        assert_eq!(counts.get(op), None, "{op} in a targeted pass: {counts:?}");
    }
}

fn record_exists(estate: &Estate, name: &str) -> bool {
    estate
        .fake
        .world()
        .zones
        .get(&estate.zone_id)
        .is_some_and(|(_, records)| records.iter().any(|r| r.name == name))
}

#[tokio::test(start_paused = true)]
async fn a_service_tagged_after_the_full_pass_is_published_by_targeted_passes() {
    let estate = estate_with(5);
    let controller = estate.controller();
    estate.converge(&controller, 10).await;
    estate.assert_traffic_served("converged");
    let late = estate.add_service("late", SEED_TAGS, &[]);
    estate.expect_served("service-a.in.example.com", &late);
    let (passes, calls) = targeted_until(&estate, &controller, &[service(&late)], |e| {
        record_exists(e, "service-a.in.example.com")
    })
    .await;
    assert_reads_only_the_target(&estate);
    assert!(passes <= 3, "{passes} targeted passes");
    assert!(calls <= 10 * passes, "{calls} calls in {passes} passes");
    estate.assert_traffic_served("published by targeted passes");
    // The full pass agrees: nothing left to do.
    let writes = estate.fake.writes();
    controller.pass(true).await;
    assert_eq!(
        estate.fake.writes(),
        writes,
        "the full pass had to fix something"
    );
}

#[tokio::test(start_paused = true)]
async fn untagging_withdraws_with_a_targeted_pass_and_nothing_of_the_others_changes() {
    let estate = estate_with(3);
    let controller = estate.controller();
    estate.converge(&controller, 10).await;
    let others: Vec<_> = estate
        .owned_rules()
        .into_iter()
        .filter(|r| !r.hosts.contains(&"s1.in.example.com".to_string()))
        .collect();
    estate.edit_task_definition_tags("s1", |t| t.clear());
    let s1 = estate
        .fake
        .world()
        .services
        .values()
        .find(|s| s.service.name == "s1")
        .map(|s| s.service.arn.clone())
        .expect("s1");
    targeted_until(
        &estate,
        &controller,
        &[EventTarget::TaskDefinitionFamily("s1".into())],
        |e| {
            !record_exists(e, "s1.in.example.com")
                && !e
                    .owned_rules()
                    .iter()
                    .any(|r| r.hosts.contains(&"s1.in.example.com".to_string()))
        },
    )
    .await;
    assert_reads_only_the_target(&estate);
    let world = estate.fake.world();
    assert!(
        !world
            .target_groups
            .values()
            .any(|g| g.tags.get("ecs-ingress/service") == Some(&s1)),
        "its target group is withdrawn"
    );
    drop(world);
    let mut after: Vec<_> = estate
        .owned_rules()
        .into_iter()
        .filter(|r| !r.hosts.contains(&"s1.in.example.com".to_string()))
        .collect();
    after.sort_by(|a, b| a.arn.cmp(&b.arn));
    let mut before = others;
    before.sort_by(|a, b| a.arn.cmp(&b.arn));
    assert_eq!(after, before, "other services' rules untouched");
}

#[tokio::test(start_paused = true)]
async fn a_rule_changed_by_hand_is_put_back_by_a_targeted_repair() {
    let estate = estate_with(2);
    let controller = estate.controller();
    estate.converge(&controller, 10).await;
    let rule = estate
        .owned_rules()
        .into_iter()
        .find(|r| r.hosts == ["s0.in.example.com"])
        .expect("s0's rule");
    estate
        .fake
        .world()
        .rules
        .get_mut(rule.arn.as_str())
        .expect("rule")
        .hosts = vec!["hijacked.in.example.com".into()];
    let target = EventTarget::ElbResource {
        arn: rule.arn.to_string(),
        attributes: false,
    };
    targeted_until(&estate, &controller, &[target], |e| {
        e.fake
            .world()
            .rules
            .get(rule.arn.as_str())
            .map(|r| r.hosts.clone())
            == Some(vec!["s0.in.example.com".to_string()])
    })
    .await;
    assert_reads_only_the_target(&estate);
}

#[tokio::test(start_paused = true)]
async fn a_resource_or_name_it_does_not_own_concerns_nothing() {
    let estate = estate_with(1);
    let controller = estate.controller();
    estate.converge(&controller, 10).await;
    let not_ours: BTreeSet<EventTarget> = [
        EventTarget::ElbResource {
            arn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/x/1/2/3"
                .into(),
            attributes: false,
        },
        EventTarget::DnsName {
            zone_id: estate.zone_id.clone(),
            name: "hand-made.in.example.com".into(),
        },
        EventTarget::Service(
            ServiceArn::parse("arn:aws:ecs:us-east-1:123456789012:service/unwatched/web")
                .expect("arn"),
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(controller.scope_of(&not_ours), ScopeDecision::Nothing);
    let everything: BTreeSet<EventTarget> = [EventTarget::Everything].into_iter().collect();
    assert_eq!(controller.scope_of(&everything), ScopeDecision::Full);
    let state = controller.pass(false).await.status().services[0].state;
    assert_eq!(state, ServiceState::Published);
}

#[tokio::test(start_paused = true)]
async fn without_a_complete_full_pass_there_is_no_targeted_pass() {
    let estate = estate_with(1);
    let controller = estate.controller();
    let anything: BTreeSet<EventTarget> = [EventTarget::TaskDefinitionFamily("s0".into())]
        .into_iter()
        .collect();
    assert_eq!(controller.scope_of(&anything), ScopeDecision::Full);
}

const LATE_NAME: &str = "service-a.in.example.com";

/// Two services, and a third published by targeted passes (its record written after the base
/// the next targeted pass starts from was read), then untagged. Returns the controller and
/// the scope of the untag's event.
async fn untagged_after_a_targeted_publish(
    estate: &Estate,
) -> (Controller, ecs_ingress::runtime::Scope) {
    let controller = estate.controller();
    estate.converge(&controller, 10).await;
    let late = estate.add_service("late", SEED_TAGS, &[]);
    targeted_until(estate, &controller, &[service(&late)], |e| {
        record_exists(e, LATE_NAME)
    })
    .await;
    assert!(late_rule_exists(estate));
    estate.edit_task_definition_tags("late", |t| t.clear());
    let scope = scope(&controller, &[service(&late)]);
    (controller, scope)
}

fn late_rule_exists(estate: &Estate) -> bool {
    estate
        .owned_rules()
        .iter()
        .any(|r| r.hosts.contains(&LATE_NAME.to_string()))
}

#[tokio::test(start_paused = true)]
async fn an_untag_right_after_a_targeted_publish_takes_the_name_first() {
    // The withdrawal must read the names the service may hold afresh, not only those the
    // base's markers list.
    let estate = estate_with(2);
    let (controller, scope) = untagged_after_a_targeted_publish(&estate).await;
    for pass in 1..=5 {
        let report = controller
            .targeted_pass(&scope)
            .await
            .expect("a targeted pass");
        assert!(report.succeeded(), "{:?}", report.observed_failures);
        assert!(
            late_rule_exists(&estate) || !record_exists(&estate, LATE_NAME),
            "pass {pass}: the rule is gone but the name still points at the ALB"
        );
        if !record_exists(&estate, LATE_NAME) && !late_rule_exists(&estate) {
            return;
        }
        tokio::time::sleep(Duration::from_secs(6)).await;
    }
    panic!("the untagged service was not withdrawn by targeted passes");
}

#[tokio::test(start_paused = true)]
async fn a_targeted_withdrawal_that_cannot_read_the_name_keeps_the_rule() {
    let estate = estate_with(2);
    let (controller, scope) = untagged_after_a_targeted_publish(&estate).await;
    estate.fake.inject(ecs_ingress::fake::Fault {
        operation: "ListResourceRecordSets",
        kind: ecs_ingress::aws::ErrorKind::Unavailable,
        times: 1,
    });
    let report = controller
        .targeted_pass(&scope)
        .await
        .expect("a targeted pass");
    assert!(!report.succeeded());
    assert!(record_exists(&estate, LATE_NAME) && late_rule_exists(&estate));
    // A targeted pass takes its base, and one whose reads failed leaves none: the next
    // pass is the full one the failure brought forward, and it finishes the withdrawal.
    let targets: BTreeSet<EventTarget> = scope
        .service_arns()
        .iter()
        .map(|arn| service(arn))
        .collect();
    assert_eq!(controller.scope_of(&targets), ScopeDecision::Full);
    assert!(controller.targeted_pass(&scope).await.is_none());
    let report = controller.pass(true).await;
    assert!(report.succeeded(), "{:?}", report.observed_failures);
    assert!(!record_exists(&estate, LATE_NAME) && !late_rule_exists(&estate));
}

#[tokio::test(start_paused = true)]
async fn a_targeted_pass_reads_the_listener_its_last_pass_put_a_rule_back_on() {
    // Found by the simulation (seed 35, two clusters): a rule deleted by hand was put back by
    // a full pass after its reads, so the base did not show it; the service was then
    // retagged onto the other ALB with `alb.deploy=canary`. The targeted pass read only the
    // new listener, saw nothing on the old one, set the service up for ECS there, and the
    // entry it wrote dropped the group the name was still served by.
    let estate = Estate::new(2);
    let host = "s0.in.example.com";
    let arn = estate.add_service(
        "s0",
        &[
            ("alb.host", host),
            ("alb.healthcheck.interval", "5"),
            ("alb.healthcheck.timeout", "4"),
            ("alb.healthcheck.healthy-threshold", "2"),
        ],
        &[],
    );
    estate.expect_served(host, &arn);
    let controller = estate.controller();
    estate.converge(&controller, 40).await;
    let rule = estate.owned_rules()[0].arn.clone();
    estate
        .fake
        .others_act(|world| world.remove_rule(&rule))
        .expect("deleted by hand");
    assert!(controller.pass(true).await.succeeded());
    assert_eq!(estate.owned_rules().len(), 1, "the rule is put back");
    estate.edit_task_definition_tags("s0", |t| {
        t.insert("alb.listener".into(), "alb-1".into());
        t.insert("alb.deploy".into(), "canary".into());
    });
    let scope = scope(&controller, &[service(&arn)]);
    for _ in 0..10 {
        controller.targeted_pass(&scope).await;
        tokio::time::sleep(Duration::from_secs(6)).await;
    }
    estate.converge(&controller, 40).await;
    estate.assert_traffic_served("retagged onto another ALB as canary after a repair");
}

#[tokio::test(start_paused = true)]
async fn a_targeted_pass_that_hands_over_leaves_no_base_until_a_full_pass() {
    // Two services ask for one host: the older holds it, the younger waits in conflict.
    let estate = Estate::new(1);
    let mut tags: Vec<(&str, &str)> = SEED_TAGS.to_vec();
    tags[0] = ("alb.host", "shared.in.example.com");
    let older = estate.add_service("older", &tags, &[]);
    let younger = estate.add_service("younger", &tags, &[]);
    let controller = estate.controller();
    estate.converge(&controller, 10).await;
    // Untagging the older hands the host to the younger, a service the event did not name:
    // only a full pass may decide that, and the targeted pass hands over.
    estate.edit_task_definition_tags("older", |t| t.clear());
    let untagged = scope(&controller, &[service(&older)]);
    assert!(controller.targeted_pass(&untagged).await.is_none());
    // It took the base with it: until a full pass runs, every event asks for one.
    assert_eq!(
        controller.scope_of(&BTreeSet::from([service(&younger)])),
        ScopeDecision::Full
    );
    assert!(controller.targeted_pass(&untagged).await.is_none());
    assert!(controller.pass(true).await.succeeded());
    scope(&controller, &[service(&younger)]);
}
