use super::*;
use crate::snapshot::CloudMapSnapshot;

const OWNER: &str = "ecs-ingress";

fn ownership() -> Ownership {
    Ownership::new(OWNER)
}

fn lb(dualstack: bool) -> LoadBalancer {
    super::super::fixtures::load_balancer(dualstack, "Internal-LB-1.us-east-1.elb.amazonaws.com")
}

fn service(name: &str) -> EcsService {
    super::super::fixtures::ecs_service(name)
}

fn intent(namespace: &str, service: &str) -> CloudMapIntent {
    CloudMapIntent {
        namespace: namespace.into(),
        service: service.into(),
    }
}

fn namespace(id: &str, name: &str, kind: &str) -> CloudMapNamespace {
    CloudMapNamespace {
        id: id.into(),
        name: name.into(),
        kind: kind.into(),
    }
}

fn cm_service(id: &str, name: &str, description: Option<String>) -> CloudMapService {
    CloudMapService {
        id: id.into(),
        arn: format!("arn:aws:servicediscovery:us-east-1:1:service/{id}"),
        name: name.into(),
        namespace_id: "ns-1".into(),
        description,
    }
}

fn instance(id: &str, attributes: BTreeMap<String, String>) -> CloudMapInstance {
    CloudMapInstance {
        id: id.into(),
        attributes,
    }
}

/// The managed namespace `internal` (private DNS), optionally with services.
fn observed(services: Vec<CloudMapService>) -> CloudMapSnapshot {
    CloudMapSnapshot {
        namespaces: vec![namespace("ns-1", "internal", "DNS_PRIVATE")],
        missing: vec![],
        instances: services.iter().map(|s| (s.id.clone(), vec![])).collect(),
        services,
    }
}

fn ours(ecs_service: &str, lb: &LoadBalancer) -> CloudMapInstance {
    instance(
        OWNER,
        desired_attributes(
            OWNER,
            &service(ecs_service).arn,
            &namespace("ns-1", "internal", "DNS_PRIVATE"),
            lb,
        ),
    )
}

fn run(
    observed: &CloudMapSnapshot,
    wanted: &[(&EcsService, CloudMapIntent)],
    lb: &LoadBalancer,
    keep: &dyn Fn(&str) -> bool,
) -> CloudMapPlan {
    let winners: Vec<CloudMapWinner<'_>> = wanted
        .iter()
        .map(|(s, i)| CloudMapWinner {
            service: s,
            intent: i,
            load_balancer: lb,
        })
        .collect();
    plan_cloudmap(&ownership(), observed, &winners, keep)
}

fn never(_: &str) -> bool {
    false
}

fn summary(plan: &CloudMapPlan) -> Vec<String> {
    plan.changes.iter().map(|c| c.change.to_string()).collect()
}

#[test]
fn a_new_registration_creates_the_service_then_the_alias_instance() {
    let a = service("a");
    for (dualstack, types) in [(false, vec!["A"]), (true, vec!["A", "AAAA"])] {
        let lb = lb(dualstack);
        let plan = run(
            &observed(vec![]),
            &[(&a, intent("internal", "a"))],
            &lb,
            &never,
        );
        assert_eq!(plan.changes.len(), 2, "{:?}", summary(&plan));
        let Change::CreateCloudMapService { spec } = &plan.changes[0].change else {
            panic!("first change: {}", plan.changes[0].change);
        };
        assert_eq!(spec.record_types, types);
        assert_eq!(spec.namespace_id, "ns-1");
        assert!(ownership().owns(&spec.tags));
        assert_eq!(description_owner(&spec.description), Some(OWNER));
        let Change::RegisterInstance {
            service: target,
            instance_id,
            attributes,
            exists,
        } = &plan.changes[1].change
        else {
            panic!("second change: {}", plan.changes[1].change);
        };
        assert_eq!(
            target,
            &CloudMapServiceRef::New {
                namespace_id: "ns-1".into(),
                name: "a".into()
            }
        );
        assert_eq!(instance_id, OWNER);
        assert!(!exists);
        assert_eq!(
            attributes.get(ALIAS_ATTRIBUTE).map(String::as_str),
            Some("internal-lb-1.us-east-1.elb.amazonaws.com")
        );
        assert_eq!(attributes.get(SERVICE_ATTRIBUTE), Some(&a.arn));
        assert_eq!(plan.outcomes[&a.arn].records.len(), 1);
    }
}

#[test]
fn http_namespaces_get_no_records_and_a_plain_attribute() {
    let a = service("a");
    let mut seen = observed(vec![]);
    seen.namespaces = vec![namespace("ns-1", "apps", "HTTP")];
    let plan = run(&seen, &[(&a, intent("apps", "a"))], &lb(false), &never);
    let Change::CreateCloudMapService { spec } = &plan.changes[0].change else {
        panic!("{:?}", summary(&plan));
    };
    assert!(spec.record_types.is_empty());
    let Change::RegisterInstance { attributes, .. } = &plan.changes[1].change else {
        panic!("{:?}", summary(&plan));
    };
    assert!(!attributes.contains_key(ALIAS_ATTRIBUTE));
    assert!(attributes.contains_key(HTTP_ALB_ATTRIBUTE));
}

#[test]
fn an_existing_service_is_reused_and_an_up_to_date_instance_is_left_alone() {
    let a = service("a");
    let lb = lb(false);
    // Made by hand (no description of ours): reused, never deleted.
    let mut seen = observed(vec![cm_service("srv-1", "A", None)]);
    let plan = run(&seen, &[(&a, intent("Internal.", "a"))], &lb, &never);
    assert_eq!(
        summary(&plan),
        vec![
            "register cloudmap-instance ecs-ingress in internal/a → internal-lb-1.us-east-1.elb.amazonaws.com"
        ]
    );
    seen.instances.insert("srv-1".into(), vec![ours("a", &lb)]);
    let plan = run(&seen, &[(&a, intent("internal", "a"))], &lb, &never);
    assert!(plan.changes.is_empty(), "{:?}", summary(&plan));
    assert_eq!(plan.managed, 1);
}

#[test]
fn drifted_attributes_are_rewritten_in_place() {
    let a = service("a");
    let lb = lb(false);
    let mut seen = observed(vec![cm_service("srv-1", "a", None)]);
    let mut drifted = ours("a", &lb);
    drifted
        .attributes
        .insert(ALIAS_ATTRIBUTE.into(), "elsewhere.example.com".into());
    seen.instances.insert("srv-1".into(), vec![drifted]);
    let plan = run(&seen, &[(&a, intent("internal", "a"))], &lb, &never);
    assert_eq!(plan.changes.len(), 1);
    assert!(matches!(
        &plan.changes[0].change,
        Change::RegisterInstance { exists: true, service: CloudMapServiceRef::Existing { id, .. }, .. } if id == "srv-1"
    ));
    assert!(plan.changes[0].change.is_update());
}

#[test]
fn an_instance_with_our_id_but_not_our_mark_is_a_conflict() {
    let a = service("a");
    let mut seen = observed(vec![cm_service("srv-1", "a", None)]);
    seen.instances.insert(
        "srv-1".into(),
        vec![instance(
            OWNER,
            BTreeMap::from([("AWS_INSTANCE_IPV4".into(), "10.0.0.1".into())]),
        )],
    );
    let plan = run(&seen, &[(&a, intent("internal", "a"))], &lb(false), &never);
    assert!(plan.changes.is_empty(), "{:?}", summary(&plan));
    let conflicts = plan.outcomes[&a.arn].conflicts();
    assert_eq!(conflicts.len(), 1);
    assert!(
        conflicts[0]
            .reason
            .contains("not registered by ecs-ingress")
    );
    assert_eq!(plan.managed, 0);
}

#[test]
fn the_older_service_wins_a_shared_cloud_map_service() {
    let (a, b) = (service("a"), service("b"));
    let plan = run(
        &observed(vec![]),
        &[(&a, intent("internal", "x")), (&b, intent("internal", "X"))],
        &lb(false),
        &never,
    );
    assert!(
        plan.changes
            .iter()
            .all(|c| c.service_arn.as_ref() == Some(&a.arn))
    );
    assert!(
        plan.outcomes[&b.arn].conflicts()[0]
            .reason
            .contains("older service main/a")
    );
}

#[test]
fn unmanaged_or_missing_namespaces_are_warned_about_not_written() {
    let a = service("a");
    let mut seen = observed(vec![]);
    seen.missing = vec!["gone".into()];
    for (ns, why) in [("other", "is not managed"), ("gone", "was not found")] {
        let plan = run(&seen, &[(&a, intent(ns, "a"))], &lb(false), &never);
        assert!(plan.changes.is_empty());
        assert!(plan.outcomes[&a.arn].warnings()[0].contains(why), "{ns}");
        assert!(plan.outcomes[&a.arn].conflicts().is_empty());
    }
}

#[test]
fn withdrawing_deregisters_then_deletes_only_services_we_made() {
    let lb = lb(false);
    let a = service("a");
    let made = cm_service("srv-1", "a", Some(description(OWNER, &a.arn)));
    let by_hand = cm_service("srv-2", "b", None);
    let mut seen = observed(vec![made.clone(), by_hand.clone()]);
    seen.instances.insert("srv-1".into(), vec![ours("a", &lb)]);
    seen.instances.insert(
        "srv-2".into(),
        vec![ours("b", &lb), instance("someone", BTreeMap::new())],
    );
    // Pass 1: both our instances go; the services still have instances.
    let plan = run(&seen, &[], &lb, &never);
    assert_eq!(
        summary(&plan),
        vec![
            "deregister cloudmap-instance ecs-ingress from a",
            "deregister cloudmap-instance ecs-ingress from b"
        ]
    );
    assert!(
        plan.changes.iter().all(|c| c.change.is_deletion()
            && c.change.phase() == crate::plan::change::Phase::WithdrawNames)
    );
    // Pass 2: ours is empty and goes; the hand-made one stays with its other instance.
    seen.instances.insert("srv-1".into(), vec![]);
    seen.instances
        .insert("srv-2".into(), vec![instance("someone", BTreeMap::new())]);
    let plan = run(&seen, &[], &lb, &never);
    assert_eq!(summary(&plan), vec!["delete cloudmap-service a (srv-1)"]);
    assert!(
        matches!(&plan.changes[0].change, Change::DeleteCloudMapService { owner, .. } if owner == OWNER)
    );
    // Empty hand-made services are never deleted.
    seen.instances.insert("srv-2".into(), vec![]);
    seen.services = vec![by_hand];
    assert!(run(&seen, &[], &lb, &never).changes.is_empty());
}

#[test]
fn kept_services_and_other_owners_are_left_alone() {
    let lb = lb(false);
    let a = service("a");
    let mut seen = observed(vec![cm_service(
        "srv-1",
        "a",
        Some(description("other", &a.arn)),
    )]);
    let mut theirs = ours("a", &lb);
    theirs.id = "other".into();
    theirs
        .attributes
        .insert(OWNER_ATTRIBUTE.into(), "other".into());
    seen.instances.insert("srv-1".into(), vec![theirs]);
    assert!(run(&seen, &[], &lb, &never).changes.is_empty());

    seen.instances.insert("srv-1".into(), vec![ours("a", &lb)]);
    let keep_a = |arn: &str| arn == a.arn;
    assert!(run(&seen, &[], &lb, &keep_a).changes.is_empty());
}

#[test]
fn moving_to_another_cloud_map_service_registers_there_and_leaves_the_old_one() {
    let lb = lb(false);
    let a = service("a");
    let mut seen = observed(vec![
        cm_service("srv-1", "old", None),
        cm_service("srv-2", "new", None),
    ]);
    seen.instances.insert("srv-1".into(), vec![ours("a", &lb)]);
    let plan = run(&seen, &[(&a, intent("internal", "new"))], &lb, &never);
    let mut phases: Vec<(crate::plan::change::Phase, String)> = plan
        .changes
        .iter()
        .map(|c| (c.change.phase(), c.change.to_string()))
        .collect();
    phases.sort();
    assert_eq!(
        phases,
        vec![
            (
                crate::plan::change::Phase::WithdrawNames,
                "deregister cloudmap-instance ecs-ingress from old".to_string()
            ),
            (
                crate::plan::change::Phase::RegisterInstances,
                "register cloudmap-instance ecs-ingress in internal/new → internal-lb-1.us-east-1.elb.amazonaws.com".to_string()
            ),
        ]
    );
}
