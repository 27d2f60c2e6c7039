//! Private DNS through the whole pass on the in-memory AWS: records with ownership markers,
//! hand-made names left alone, withdrawal, repair, and batches that isolate a bad name.

use ecs_ingress::aws::ErrorKind;
use ecs_ingress::fake::Fault;
use ecs_ingress::state::RecordSet;
use ecs_ingress::status::ServiceState;
use ecs_ingress::testing::Estate;

fn records(estate: &Estate) -> Vec<RecordSet> {
    estate.fake.world().zones[&estate.zone_id].1.clone()
}

fn at<'a>(records: &'a [RecordSet], name: &str) -> Vec<&'a RecordSet> {
    records.iter().filter(|r| r.name == name).collect()
}

#[tokio::test(start_paused = true)]
async fn alias_record_and_marker_are_written_repaired_and_withdrawn() {
    let estate = Estate::new(1);
    let arn = estate.add_service(
        "service-a",
        &[("alb.host", "service-a.in.example.com")],
        &[],
    );
    estate.expect_served("service-a.in.example.com", &arn);
    let controller = estate.controller();
    // The first pass publishes the ALB side; the name waits for healthy targets.
    let report = controller.pass(true).await;
    assert!(report.succeeded(), "{:?}", report.applied);
    assert!(at(&records(&estate), "service-a.in.example.com").is_empty());
    assert_eq!(report.status().services[0].state, ServiceState::Pending);
    assert!(
        report.status().services[0].waiting[0].contains("waits for healthy targets"),
        "{:?}",
        report.status().services[0]
    );
    let (_, report) = estate.converge_report(&controller, 20).await;
    assert!(report.succeeded(), "{:?}", report.applied);
    estate.assert_traffic_served("published");
    let lb_dns = estate.load_balancer_dns();
    let all = records(&estate);
    let a = at(&all, "service-a.in.example.com");
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].record_type, "A");
    assert_eq!(
        a[0].alias.as_ref().map(|x| x.dns_name.as_str()),
        Some(lb_dns.as_str())
    );
    let marker = at(&all, "_ecs-ingress.service-a.in.example.com");
    assert_eq!(marker.len(), 1);
    assert!(marker[0].values[0].contains("owner=ecs-ingress"));
    assert_eq!(estate.fake.call_counts()["ChangeResourceRecordSets"], 1);

    // Deleted by hand: it comes back.
    estate.edit_records(|records| {
        records.retain(|r| r.record_type != "A" || r.name != "service-a.in.example.com")
    });
    controller.pass(true).await;
    assert_eq!(at(&records(&estate), "service-a.in.example.com").len(), 1);

    estate.assert_traffic_served("repaired");
    // Untagged: record and marker go.
    estate.fake.release_served("service-a.in.example.com");
    estate.untag_task_definitions();
    let report = controller.pass(true).await;
    assert!(report.succeeded(), "{:?}", report.applied);
    let left = records(&estate);
    assert!(at(&left, "service-a.in.example.com").is_empty());
    assert!(at(&left, "_ecs-ingress.service-a.in.example.com").is_empty());
    assert_eq!(left.len(), 2, "only the zone's NS and SOA remain");
}

#[tokio::test(start_paused = true)]
async fn cname_with_ttl_as_in_the_seed() {
    let estate = Estate::new(1);
    estate.add_service(
        "service-a",
        &[
            ("alb.host", "service-a.in.example.com"),
            ("dns.type", "cname"),
            ("dns.ttl", "60"),
        ],
        &[],
    );
    estate.converge(&estate.controller(), 20).await;
    let all = records(&estate);
    let c = at(&all, "service-a.in.example.com");
    assert_eq!((c[0].record_type.as_str(), c[0].ttl), ("CNAME", Some(60)));
}

#[tokio::test(start_paused = true)]
async fn a_hand_made_record_is_never_touched_and_the_service_reports_it() {
    let estate = Estate::new(1);
    let hand_made = RecordSet {
        name: "service-a.in.example.com".into(),
        record_type: "CNAME".into(),
        ttl: Some(300),
        values: vec!["legacy.example.com".into()],
        alias: None,
        set_identifier: None,
    };
    estate.edit_records(|records| records.push(hand_made.clone()));
    estate.add_service(
        "service-a",
        &[("alb.host", "service-a.in.example.com")],
        &[],
    );
    let controller = estate.controller();
    for _ in 0..2 {
        let report = controller.pass(true).await;
        let status = report.status();
        assert_eq!(status.services[0].state, ServiceState::DnsConflict);
        assert!(
            status.services[0].problems[0]
                .reason
                .contains("does not own")
        );
    }
    assert_eq!(
        at(&records(&estate), "service-a.in.example.com"),
        vec![&hand_made]
    );
    // The ALB side is published regardless.
    assert_eq!(
        estate
            .fake
            .world()
            .rules
            .values()
            .filter(|r| r.tags.contains_key("ecs-ingress/owner"))
            .count(),
        1
    );
    // Untagging never deletes a record it does not own.
    estate.untag_task_definitions();
    controller.pass(true).await;
    assert_eq!(
        at(&records(&estate), "service-a.in.example.com"),
        vec![&hand_made]
    );
}

#[tokio::test(start_paused = true)]
async fn a_rejected_batch_is_split_so_the_other_names_still_publish() {
    let estate = Estate::new(1);
    for name in ["a", "b", "c", "d"] {
        estate.add_service(
            name,
            &[("alb.host", &format!("{name}.in.example.com"))],
            &[],
        );
    }
    // Route 53 rejects the first batch (as it would for one bad record in it).
    estate.fake.inject(Fault {
        operation: "ChangeResourceRecordSets",
        kind: ErrorKind::Validation,
        times: 1,
    });
    let (_, report) = estate.converge_report(&estate.controller(), 20).await;
    assert!(report.succeeded(), "{:?}", report.applied);
    let calls = estate.fake.call_counts()["ChangeResourceRecordSets"];
    assert_eq!(calls, 3, "one rejected batch of four, then two halves");
    let all = records(&estate);
    for name in ["a", "b", "c", "d"] {
        assert_eq!(at(&all, &format!("{name}.in.example.com")).len(), 1);
    }
}

#[tokio::test(start_paused = true)]
async fn throttled_batches_are_not_split_and_nothing_is_deleted_after_a_failed_read() {
    let estate = Estate::new(1);
    estate.add_service("a", &[("alb.host", "a.in.example.com")], &[]);
    let controller = estate.controller();
    estate.fake.inject(Fault {
        operation: "ChangeResourceRecordSets",
        kind: ErrorKind::Throttled,
        times: 1,
    });
    estate.converge(&controller, 20).await;
    assert_eq!(
        estate.fake.call_counts()["ChangeResourceRecordSets"],
        2,
        "the throttled batch is sent again whole"
    );
    assert_eq!(at(&records(&estate), "a.in.example.com").len(), 1);
    // The zone cannot be read while the service is untagged: nothing of the service's is
    // deleted (its rule routes a name in that zone), and it says why.
    estate.untag_task_definitions();
    estate.fake.inject(Fault {
        operation: "ListResourceRecordSets",
        kind: ErrorKind::Unavailable,
        times: 1,
    });
    let report = controller.pass(true).await;
    assert!(
        report.plan.changes.iter().all(|c| !c.change.is_deletion()),
        "{:?}",
        report.plan.changes
    );
    let status = report.status();
    assert_eq!(status.services[0].state, ServiceState::Error);
    assert!(
        status.services[0].problems[0]
            .reason
            .contains(&estate.zone_id),
        "{:?}",
        status.services[0]
    );
    assert_eq!(at(&records(&estate), "a.in.example.com").len(), 1);
    assert_eq!(estate.owned_rules().len(), 1, "its rule stays too");
    controller.pass(true).await;
    assert!(at(&records(&estate), "a.in.example.com").is_empty());
}
