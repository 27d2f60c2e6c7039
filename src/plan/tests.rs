use super::*;
use crate::state::{Listener, LoadBalancer, Rule, Tags};

const LISTENER: &str = "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/lb/1/2";
const LB: &str = "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/lb/1";

fn config(policy: Policy) -> PlanConfig {
    PlanConfig {
        ownership: Ownership::new("ecs-ingress"),
        pools: crate::config::PoolSettings::single(&BTreeMap::from([(
            "default".to_string(),
            LISTENER.to_string(),
        )])),
        clusters: vec!["main".into()],
        priority_range: PriorityRange {
            low: 1000,
            high: 49_999,
        },
        policy,
        hosted_zones: vec![],
        cloudmap_namespaces: vec![],
    }
}

fn observed() -> Snapshot {
    Snapshot {
        listeners: BTreeMap::from([(
            LISTENER.to_string(),
            Listener {
                arn: LISTENER.into(),
                load_balancer_arn: LB.into(),
                port: Some(80),
                protocol: Some("HTTP".into()),
            },
        )]),
        load_balancers: BTreeMap::from([(
            LB.to_string(),
            LoadBalancer {
                arn: LB.into(),
                name: "lb".into(),
                vpc_id: "vpc-1".into(),
                dns_name: "lb.example".into(),
                canonical_hosted_zone_id: "Z1".into(),
                ip_address_type: "ipv4".into(),
            },
        )]),
        ..Default::default()
    }
}

fn service(name: &str, host: Option<&str>) -> (EcsService, ServiceIntent) {
    let tags: Vec<(&str, &str)> = host.map(|h| ("alb.host", h)).into_iter().collect();
    super::fixtures::tagged_service(name, &tags)
}

fn foreign_rule(host: &str, priority: u32) -> Rule {
    Rule {
        arn: format!("arn:rule/{priority}"),
        listener_arn: LISTENER.into(),
        priority: Some(priority),
        hosts: vec![host.into()],
        paths: vec![],
        other_conditions: 0,
        forward_target_groups: vec!["tg".into()],
        staged_target_groups: vec![],
        other_actions: 0,
        tags: Tags::new(),
    }
}

fn owned_rule(cfg: &PlanConfig, service_arn: &str, priority: u32) -> Rule {
    Rule {
        tags: cfg.ownership.tags(service_arn, "rule-0"),
        arn: format!("arn:owned-rule/{priority}"),
        ..foreign_rule("gone.example.com", priority)
    }
}

fn touched(plan: &Plan) -> Vec<String> {
    plan.changes
        .iter()
        .map(|c| format!("{:?}", c.change))
        .collect()
}

#[test]
fn publishes_in_order_and_never_touches_foreign_rules() {
    let cfg = config(Policy::Sync);
    let mut obs = observed();
    obs.rules.push(foreign_rule("legacy.example.com", 1010));
    let plan = plan(&cfg, &obs, &[service("a", Some("a.example.com"))]);
    let phases: Vec<Phase> = plan.changes.iter().map(|c| c.change.phase()).collect();
    assert_eq!(
        phases,
        vec![Phase::CreateTargetGroups, Phase::CreateRules, Phase::Attach],
        "{:?}",
        touched(&plan)
    );
    assert!(!touched(&plan).iter().any(|c| c.contains("arn:rule/1010")));
    match &plan.changes[1].change {
        Change::CreateRule { priority, .. } => {
            assert_ne!(*priority, 1010, "occupied priority reused")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_failed_read_holds_back_every_deletion() {
    let cfg = config(Policy::Sync);
    let mut obs = observed();
    let gone = "arn:aws:ecs:us-east-1:1:service/main/deleted";
    obs.rules.push(owned_rule(&cfg, gone, 1010));
    let p = plan(&cfg, &obs, &[]);
    assert_eq!(
        p.changes.len(),
        1,
        "withdrawal planned when reads are complete"
    );
    obs.failed_reads.push(crate::snapshot::FailedRead {
        service: "ecs".into(),
        operation: "ListServices".into(),
        message: "Rate exceeded".into(),
    });
    let p = plan(&cfg, &obs, &[]);
    assert!(p.changes.is_empty());
    assert_eq!(p.held_back.len(), 1);
    assert!(p.problems[0].contains("a read failed"));
}

#[test]
fn policies_hold_back_deletions_and_updates() {
    let mut obs = observed();
    let cfg = config(Policy::UpsertOnly);
    obs.rules.push(owned_rule(
        &cfg,
        "arn:aws:ecs:us-east-1:1:service/main/deleted",
        1010,
    ));
    let p = plan(&cfg, &obs, &[]);
    assert!(p.changes.is_empty() && p.held_back.len() == 1);
    let p = plan(
        &config(Policy::CreateOnly),
        &obs,
        &[service("a", Some("a.example.com"))],
    );
    assert!(
        p.changes
            .iter()
            .all(|c| !c.change.is_deletion() && !c.change.is_update())
    );
}

#[test]
fn older_service_wins_a_host_conflict_and_foreign_hosts_conflict() {
    let cfg = config(Policy::Sync);
    let mut obs = observed();
    obs.rules.push(foreign_rule("legacy.example.com", 5));
    let mut young = service("b-young", Some("shared.example.com"));
    young.0.created_at = Some(200);
    let mut old = service("z-old", Some("shared.example.com"));
    old.0.created_at = Some(100);
    let p = plan(
        &cfg,
        &obs,
        &[young, old, service("c", Some("legacy.example.com"))],
    );
    let state = |n: &str| p.services.iter().find(|s| s.service == n).map(|s| s.state);
    assert_eq!(state("z-old"), Some(ServiceState::Pending));
    assert_eq!(state("b-young"), Some(ServiceState::Conflict));
    assert_eq!(state("c"), Some(ServiceState::Conflict));
}

#[test]
fn unmanaged_services_are_not_reported_and_invalid_ones_keep_their_resources() {
    let cfg = config(Policy::Sync);
    let mut obs = observed();
    let (svc, _) = service("bad", None);
    obs.rules.push(owned_rule(&cfg, &svc.arn, 1010));
    let mut bad = service("bad", Some("bad..example.com"));
    bad.0 = svc;
    let p = plan(&cfg, &obs, &[bad, service("plain", None)]);
    assert!(p.changes.is_empty(), "{:?}", touched(&p));
    assert_eq!(p.services.len(), 1);
    assert_eq!(p.services[0].state, ServiceState::Invalid);
}
