use super::*;
use crate::config::{LogFormat, Policy, PriorityRange};
use crate::state::{RecordSet, Rule, TargetGroup};

const A: &str = "arn:aws:ecs:us-east-1:1:service/main/a";
const B: &str = "arn:aws:ecs:us-east-1:1:service/main/b";
const LISTENER: &str = "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/lb/1/2";
const ZONE: &str = "Z0ABC";

fn config() -> Config {
    Config {
        clusters: vec!["main".into()],
        listeners: [("default".to_string(), LISTENER.to_string())].into(),
        pools: crate::config::PoolSettings::single(
            &[("default".to_string(), LISTENER.to_string())].into(),
        ),
        hosted_zones: vec![ZONE.into()],
        zone_roles: Default::default(),
        zone_role_external_id: None,
        cloudmap_namespaces: vec![],
        ecs_infrastructure_role_arn: None,
        owner_id: "ecs-ingress".into(),
        tag_prefix: String::new(),
        interval: std::time::Duration::from_secs(30),
        priority_range: PriorityRange {
            low: 1000,
            high: 49_999,
        },
        policy: Policy::Sync,
        dry_run: false,
        events_queue_url: None,
        resync_interval: None,
        admin_addr: ([127, 0, 0, 1], 0).into(),
        log_format: LogFormat::Text,
        rate_share: 100,
        backend_sg_rules: true,
        listener_certificates: true,
        max_certificates_per_alb: None,
        leader_election: None,
    }
}

fn ownership() -> Ownership {
    Ownership::new("ecs-ingress")
}

fn service(arn: &str, td: &str) -> EcsService {
    EcsService {
        arn: arn.into(),
        name: arn.rsplit('/').next().unwrap_or(arn).into(),
        cluster_arn: "arn:aws:ecs:us-east-1:1:cluster/main".into(),
        status: crate::state::EcsServiceStatus::Active,
        created_at: Some(1),
        task_definition: td.into(),
        deployment_controller: crate::state::DeploymentController::Ecs,
        deployment: Default::default(),
        deploying: false,
        tags: Default::default(),
        load_balancers: vec![],
        security_groups: vec![],
    }
}

fn rule(arn: &str, tags: crate::state::Tags) -> Rule {
    Rule {
        priority: Some(1000),
        hosts: vec!["a.in.example.com".into()],
        tags,
        ..crate::testing::rule(arn, LISTENER)
    }
}

fn group(arn: &str, tags: crate::state::Tags) -> TargetGroup {
    crate::testing::target_group(arn, tags)
}

fn marker(name: &str, owner: &str, services: &[&str]) -> RecordSet {
    let services: Vec<String> = services.iter().map(|s| s.to_string()).collect();
    RecordSet {
        name: crate::ownership::marker::marker_name(name),
        record_type: "TXT".into(),
        ttl: Some(300),
        values: vec![crate::ownership::marker::marker_value(
            owner,
            &services,
            ["A"],
            None,
        )],
        alias: None,
        set_identifier: None,
    }
}

/// A base where `a` runs `web:3`, owns rule `r-a` and group `g-a` and the name
/// `a.in.example.com`; `b` runs `api:1`; a hand-made rule `r-x` and a name held by
/// another owner exist.
fn base() -> Snapshot {
    let own = ownership();
    let mut snapshot = Snapshot {
        services: vec![
            service(A, "arn:aws:ecs:us-east-1:1:task-definition/web:3").into(),
            service(B, "arn:aws:ecs:us-east-1:1:task-definition/api:1").into(),
        ],
        rules: vec![
            rule("r-a", own.tags(A, "rule-0")),
            rule("r-x", Default::default()),
        ],
        target_groups: vec![group("g-a", own.tags(A, "target-group"))],
        ..Snapshot::default()
    };
    snapshot.records.insert(
        ZONE.into(),
        vec![
            marker("a.in.example.com", "ecs-ingress", &[A]),
            marker("other.in.example.com", "someone-else", &[B]),
        ],
    );
    snapshot
}

fn targeted(arns: &[&str]) -> ScopeDecision {
    let mut scope = Scope::default();
    for arn in arns {
        scope.add_service(&ServiceArn::parse(arn).expect("arn"));
    }
    ScopeDecision::Targeted(scope)
}

#[test]
fn targets_resolve_to_the_services_that_own_them() {
    let elb = |arn: &str| EventTarget::ElbResource {
        arn: arn.into(),
        attributes: false,
    };
    let name = |n: &str| EventTarget::DnsName {
        zone_id: ZONE.into(),
        name: n.into(),
    };
    let service = |arn: &str| EventTarget::Service(ServiceArn::parse(arn).expect("arn"));
    let cases: Vec<(&str, Vec<EventTarget>, ScopeDecision)> = vec![
        ("a service", vec![service(B)], targeted(&[B])),
        (
            "a family",
            vec![EventTarget::TaskDefinitionFamily("web".into())],
            targeted(&[A]),
        ),
        (
            "an unused family",
            vec![EventTarget::TaskDefinitionFamily("x".into())],
            ScopeDecision::Nothing,
        ),
        ("an owned rule", vec![elb("r-a")], targeted(&[A])),
        ("an owned group", vec![elb("g-a")], targeted(&[A])),
        ("a hand-made rule", vec![elb("r-x")], ScopeDecision::Nothing),
        (
            "an unknown resource",
            vec![elb("r-new")],
            ScopeDecision::Nothing,
        ),
        ("an owned name", vec![name("a.in.example.com")], {
            let ScopeDecision::Targeted(mut scope) = targeted(&[A]) else {
                unreachable!()
            };
            scope.names.insert((ZONE.into(), "a.in.example.com".into()));
            ScopeDecision::Targeted(scope)
        }),
        (
            "another owner's name",
            vec![name("other.in.example.com")],
            ScopeDecision::Nothing,
        ),
        (
            "an unwatched cluster",
            vec![service("arn:aws:ecs:us-east-1:1:service/other/a")],
            ScopeDecision::Nothing,
        ),
        (
            "anything",
            vec![service(A), EventTarget::Everything],
            ScopeDecision::Full,
        ),
        (
            "two at once",
            vec![service(B), elb("r-a")],
            targeted(&[A, B]),
        ),
    ];
    for (case, targets, want) in cases {
        let targets: BTreeSet<EventTarget> = targets.into_iter().collect();
        assert_eq!(
            resolve(&targets, &base(), &config(), &ownership()),
            want,
            "{case}"
        );
    }
}

#[test]
fn changed_attributes_are_marked_stale() {
    let targets = BTreeSet::from([EventTarget::ElbResource {
        arn: "g-a".into(),
        attributes: true,
    }]);
    let ScopeDecision::Targeted(scope) = resolve(&targets, &base(), &config(), &ownership()) else {
        panic!("targeted")
    };
    assert_eq!(scope.stale_attributes, BTreeSet::from(["g-a".to_string()]));
}

fn change(service: Option<&str>, change: Change) -> PlannedChange {
    PlannedChange {
        service_arn: service.map(str::to_string),
        service: "main/x".into(),
        change,
        reason: String::new(),
    }
}

fn status(arn: &str, state: ServiceState) -> ServiceStatus {
    crate::testing::service_status(arn, arn.rsplit('/').next().unwrap_or(arn), state)
}

fn fresh() -> Fresh {
    Fresh {
        services: BTreeSet::from([A.to_string()]),
        listeners: BTreeSet::from([LISTENER.to_string()]),
        rules: BTreeSet::from(["r-a".to_string()]),
        target_groups: BTreeSet::from(["g-a".to_string()]),
        names: BTreeSet::from([(ZONE.to_string(), "a.in.example.com".to_string())]),
    }
}

fn plan_of(changes: Vec<PlannedChange>, services: Vec<ServiceStatus>) -> Plan {
    let mut plan = Plan::default();
    plan.changes = changes;
    plan.services = services;
    plan
}

#[test]
fn only_targeted_changes_on_fresh_resources_are_kept() {
    let delete_rule = |arn: &str| Change::DeleteRule { arn: arn.into() };
    let delete_group = |arn: &str| Change::DeleteTargetGroup {
        arn: arn.into(),
        name: "ei".into(),
    };
    let delete_name = |name: &str| Change::DeleteRecords {
        zone_id: ZONE.into(),
        name: name.into(),
        records: vec![],
    };
    let cases: Vec<(&str, PlannedChange, bool)> = vec![
        ("its fresh rule", change(Some(A), delete_rule("r-a")), true),
        (
            "a rule not read now",
            change(Some(A), delete_rule("r-old")),
            false,
        ),
        (
            "its fresh group",
            change(Some(A), delete_group("g-a")),
            true,
        ),
        (
            "a group not read now",
            change(Some(A), delete_group("g-old")),
            false,
        ),
        (
            "its fresh name",
            change(Some(A), delete_name("a.in.example.com")),
            true,
        ),
        (
            "a name not read now",
            change(Some(A), delete_name("z.in.example.com")),
            false,
        ),
        (
            "another service's rule",
            change(Some(B), delete_rule("r-a")),
            false,
        ),
        ("no service", change(None, delete_rule("r-a")), false),
        (
            "a Cloud Map instance",
            change(
                Some(A),
                Change::DeregisterInstance {
                    service_id: "srv".into(),
                    service_name: "ns/a".into(),
                    instance_id: "ecs-ingress".into(),
                },
            ),
            false,
        ),
        (
            "a rule on a listener not read now",
            change(
                Some(A),
                Change::CreateRule {
                    listener_arn: "other-listener".into(),
                    priority: 1000,
                    hosts: vec![],
                    paths: vec![],
                    target: plan::TargetGroupRef::Existing("g-a".into()),
                    staged: None,
                    tags: Default::default(),
                },
            ),
            false,
        ),
    ];
    let before = vec![Arc::new(status(B, ServiceState::Published))];
    for (case, planned, kept) in cases {
        let plan = plan_of(vec![planned], vec![status(A, ServiceState::Pending)]);
        let Kept::Plan(plan) = keep_targeted(plan, &fresh(), &before) else {
            panic!("{case}: handed to a full pass");
        };
        assert_eq!(plan.changes.len(), usize::from(kept), "{case}");
        let states: Vec<(&str, ServiceState)> = plan
            .services
            .iter()
            .map(|s| (s.service_arn.as_str(), s.state))
            .collect();
        assert_eq!(
            states,
            vec![(A, ServiceState::Pending), (B, ServiceState::Published)],
            "{case}: the others' statuses stay as the last pass left them"
        );
    }
}

#[test]
fn decisions_about_other_services_need_a_full_pass() {
    let renumber = |listener: &str| {
        change(
            None,
            Change::SetRulePriorities {
                listener_arn: listener.into(),
                priorities: vec![("r-x".into(), 1)],
            },
        )
    };
    let published = vec![Arc::new(status(B, ServiceState::Published))];
    let conflicted = vec![Arc::new(status(B, ServiceState::Conflict))];
    let cases: Vec<(&str, Plan, &[Arc<ServiceStatus>], bool)> = vec![
        (
            "renumbering a fresh listener",
            plan_of(vec![renumber(LISTENER)], vec![]),
            &published,
            true,
        ),
        (
            "renumbering a listener not read now",
            plan_of(vec![renumber("other")], vec![]),
            &published,
            false,
        ),
        (
            "another service newly in conflict",
            plan_of(vec![], vec![status(B, ServiceState::Conflict)]),
            &published,
            true,
        ),
        (
            "another service already in conflict",
            plan_of(vec![], vec![status(B, ServiceState::Conflict)]),
            &conflicted,
            false,
        ),
        (
            "another service leaving conflict (a host handed over)",
            plan_of(vec![], vec![status(B, ServiceState::Pending)]),
            &conflicted,
            true,
        ),
        (
            "the targeted service in conflict",
            plan_of(vec![], vec![status(A, ServiceState::Conflict)]),
            &published,
            false,
        ),
    ];
    for (case, plan, before, full) in cases {
        let kept = keep_targeted(plan, &fresh(), before);
        assert_eq!(
            matches!(kept, Kept::NeedsFullPass(_)),
            full,
            "{case}: {kept:?}"
        );
    }
}

#[test]
fn a_rule_arn_names_its_listener() {
    let listener = "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/lb/50dc6c495c0c9188/f2f7dc8efc522ab2";
    let rule = "arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/lb/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee";
    assert_eq!(super::listener_of_rule(rule).as_deref(), Some(listener));
    assert_eq!(super::listener_of_rule(listener), None);
    assert_eq!(super::listener_of_rule("not-an-arn"), None);
}
