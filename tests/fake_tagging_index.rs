//! The tagging index (GetResources) replaces per-resource tag reads, and its lag never
//! causes a wrong decision: resources it does not list yet are read directly, intents only
//! change on the task definition's own word, and deletions are confirmed with DescribeTags.

use ecs_ingress::testing::Estate;

fn add(estate: &Estate, n: usize) {
    for i in 0..n {
        estate.add_service(
            &format!("svc-{i}"),
            &[("alb.host", &format!("svc-{i}.in.example.com"))],
            &[],
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_steady_pass_reads_tags_from_the_index_only() {
    let estate = Estate::new(1);
    add(&estate, 30);
    let controller = estate.controller();
    assert!(controller.pass(true).await.succeeded());
    estate.fake.reset_calls();
    let report = controller.pass(true).await;
    assert!(report.plan.changes.is_empty());
    let counts = estate.fake.call_counts();
    assert_eq!(counts.get("DescribeTaskDefinition"), None, "{counts:?}");
    assert_eq!(counts.get("DescribeTags"), None, "{counts:?}");
    assert_eq!(counts["GetResources"], 2, "{counts:?}");
    assert_eq!(estate.fake.writes(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_lagging_index_costs_reads_not_mistakes() {
    let estate = Estate::new(1);
    estate.fake.lag_tagging(true);
    add(&estate, 3);
    let controller = estate.controller();
    assert!(controller.pass(true).await.succeeded());
    // The index does not list what the first pass made: those tags are read directly, and
    // nothing is taken for someone else's.
    estate.fake.reset_calls();
    let report = controller.pass(true).await;
    assert!(report.plan.changes.is_empty(), "{:?}", report.plan.changes);
    assert!(estate.fake.call_counts().contains_key("DescribeTags"));
    assert_eq!(estate.fake.writes(), 0);

    // Untagged: while the index still shows the old tags, the intent stays (no withdrawal
    // on a stale word); once it shows the change, the task definition's own read confirms it.
    estate.untag_task_definitions();
    let stale = controller.pass(true).await;
    assert!(stale.plan.changes.is_empty(), "{:?}", stale.plan.changes);
    let fresh = controller.pass(true).await;
    assert!(fresh.succeeded(), "{:?}", fresh.applied);
    assert!(
        fresh
            .plan
            .changes
            .iter()
            .any(|c| c.change.to_string().starts_with("delete listener-rule")),
        "{:?}",
        fresh.plan.changes
    );
}

#[tokio::test(start_paused = true)]
async fn a_deletion_is_confirmed_by_the_resources_own_tags() {
    let estate = Estate::new(1);
    add(&estate, 1);
    let controller = estate.controller();
    assert!(controller.pass(true).await.succeeded());
    estate.fake.lag_tagging(true);
    controller.pass(true).await; // primes the lagging index
    estate.untag_task_definitions();
    controller.pass(true).await; // the index still shows the old task-definition tags
    // Someone takes the rule over (removes our owner tag); the lagging index still lists
    // it as ours on the next pass, the one that withdraws the service.
    let rule_arn = {
        let mut world = estate.fake.world();
        let rule = world
            .rules
            .values_mut()
            .find(|r| r.tags.contains_key("ecs-ingress/owner"))
            .expect("owned rule");
        rule.tags.remove("ecs-ingress/owner");
        rule.arn.clone()
    };
    estate.fake.reset_calls();
    let report = controller.pass(true).await;
    assert!(
        estate.fake.world().rules.contains_key(rule_arn.as_str()),
        "the rule is no longer ours and must survive: {:?}",
        report.plan.changes
    );
    assert!(
        !report
            .plan
            .changes
            .iter()
            .any(|c| c.change.to_string().contains("delete listener-rule")),
        "{:?}",
        report.plan.changes
    );
    // The index's word was checked with the rule's own tags.
    assert!(estate.fake.call_counts().contains_key("DescribeTags"));
}

#[tokio::test(start_paused = true)]
async fn the_index_is_skipped_when_the_account_has_far_more_tagged_revisions() {
    let estate = Estate::new(1);
    add(&estate, 2);
    // Other teams' tagged revisions: listing them would cost 6 pages for 2 services.
    {
        let mut world = estate.fake.world();
        for i in 0..500 {
            world.add_task_definition(
                &format!("other-{i}"),
                "awsvpc",
                vec![],
                ecs_ingress::fake::tags(&[("team", "other")]),
            );
        }
    }
    let controller = estate.controller();
    estate.converge(&controller, 20).await;
    estate.fake.reset_calls();
    let report = controller.pass(true).await;
    assert!(report.plan.changes.is_empty());
    let counts = estate.fake.call_counts();
    assert_eq!(counts.get("DescribeTaskDefinition"), Some(&2), "{counts:?}");
    assert_eq!(
        counts["GetResources"], 1,
        "only the owned-tags listing: {counts:?}"
    );
    // A tag change is still seen on the next pass: the revisions are read directly.
    estate.untag_task_definitions();
    let report = controller.pass(true).await;
    assert!(
        report
            .plan
            .changes
            .iter()
            .any(|c| c.change.to_string().starts_with("delete dns-record")),
        "{:?}",
        report.plan.changes
    );
}
