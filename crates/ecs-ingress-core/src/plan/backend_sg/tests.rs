use super::*;
use crate::plan::fixtures::{LB, LISTENER, one_alb, plan_config, tagged_service};
use crate::plan::{Phase, Policy, plan};
use crate::snapshot::FailedRead;
use crate::state::{LoadBalancerAttachment, Rule, TargetGroup};
use crate::status::ServiceState;

const APP_SG: &str = "sg-app";
const ALB_SG: &str = "sg-alb";

/// `main/<name>` routing `<name>.example.com`, with `extra` tags, its tasks in `APP_SG`
/// (first) and `sg-other`.
fn service(name: &str, extra: &[(&str, &str)]) -> (Arc<EcsService>, ServiceIntent) {
    let host = format!("{name}.example.com");
    let mut tags = vec![("alb.host", host.as_str())];
    tags.extend_from_slice(extra);
    let (mut svc, _) = tagged_service(name, &tags);
    Arc::make_mut(&mut svc).security_groups = vec![APP_SG.into(), "sg-other".into()];
    // The intent depends on the groups (`alb.backend-sg`): compute it with them.
    let (_, intent) = with_groups(&svc, &tags);
    (svc, intent)
}

fn with_groups(svc: &EcsService, tags: &[(&str, &str)]) -> (Arc<EcsService>, ServiceIntent) {
    let (plain, _) = tagged_service(&svc.name, tags);
    let td = crate::state::TaskDefinition {
        arn: "td".into(),
        network_mode: Some("awsvpc".into()),
        containers: vec![crate::state::Container {
            name: "web".into(),
            docker_labels: Tags::new(),
            port_mappings: vec![crate::state::PortMapping {
                container_port: 80,
                host_port: None,
                udp: false,
            }],
        }],
        tags: Tags::new(),
    };
    let intent = crate::model::compute_intent(&crate::model::IntentInput {
        prefix: "",
        service_name: &svc.name,
        service_tags: &plain.tags,
        task_definition: &td,
        service_security_groups: &svc.security_groups,
    });
    (svc.clone().into(), intent)
}

/// One ALB in `ALB_SG`, its rules read (none).
fn observed() -> Snapshot {
    let mut obs = one_alb();
    if let Some(lb) = obs.load_balancers.get_mut(LB) {
        lb.security_groups = vec![ALB_SG.into()];
    }
    obs.target_groups_complete = true;
    obs.backend_rules = BackendRulesRead::Read(Vec::new());
    obs
}

fn config() -> PlanConfig {
    plan_config(Policy::Sync, None)
}

fn rule(
    id: &str,
    group: &str,
    source: &str,
    protocol: &str,
    ports: (i32, i32),
    tags: Tags,
) -> SecurityGroupRule {
    SecurityGroupRule {
        id: id.into(),
        group_id: group.into(),
        protocol: protocol.into(),
        from_port: ports.0,
        to_port: ports.1,
        source_group_id: Some(source.into()),
        tags,
    }
}

fn ours(id: &str, group: &str, port: i32) -> SecurityGroupRule {
    rule(
        id,
        group,
        ALB_SG,
        "tcp",
        (port, port),
        rule_tags("ecs-ingress"),
    )
}

fn rules_of(obs: &mut Snapshot) -> &mut Vec<SecurityGroupRule> {
    match &mut obs.backend_rules {
        BackendRulesRead::Read(rules) => rules,
        other => panic!("rules not read: {other:?}"),
    }
}

/// `service` published on `LB` as the planner made it: its group (with `health_port`),
/// rule and attachment.
fn publish(cfg: &PlanConfig, obs: &mut Snapshot, service: &mut (Arc<EcsService>, ServiceIntent)) {
    let first = plan(cfg, obs, std::slice::from_ref(service));
    let spec = first
        .changes
        .iter()
        .find_map(|c| match &c.change {
            Change::CreateTargetGroup { spec, .. } => Some(spec.clone()),
            _ => None,
        })
        .expect("a group for a fresh service");
    let arn = format!("arn:tg/{}", service.0.name);
    let group: TargetGroup = crate::plan::fixtures::created_group(arn.clone(), &spec);
    obs.target_groups.push(group);
    obs.rules.push(Rule {
        arn: format!("arn:rule/{}", service.0.name).into(),
        listener_arn: LISTENER.into(),
        priority: Some(1000 + obs.rules.len() as u32),
        hosts: service_hosts(service),
        paths: vec![],
        other_conditions: 0,
        forward_target_groups: vec![arn.clone().into()],
        staged_target_groups: vec![],
        weights: Default::default(),
        other_actions: 0,
        tags: cfg.ownership.tags(&service.0.arn, "rule-0"),
    });
    Arc::make_mut(&mut service.0).load_balancers = vec![LoadBalancerAttachment {
        target_group_arn: Some(arn),
        load_balancer_name: None,
        container_name: Some("web".into()),
        container_port: Some(80),
        advanced: None,
    }];
}

fn service_hosts(service: &(Arc<EcsService>, ServiceIntent)) -> Vec<String> {
    match &service.1 {
        ServiceIntent::Publish { intent, .. } => intent.hosts.clone(),
        _ => vec![],
    }
}

fn authorized(p: &Plan) -> Vec<(String, String, u16)> {
    p.changes
        .iter()
        .filter_map(|c| match &c.change {
            Change::AuthorizeIngress {
                group_id,
                source_group_id,
                port,
                ..
            } => Some((group_id.clone(), source_group_id.clone(), *port)),
            _ => None,
        })
        .collect()
}

fn revoked(changes: &[PlannedChange]) -> Vec<String> {
    changes
        .iter()
        .filter_map(|c| match &c.change {
            Change::RevokeIngress { rule_id, .. } => Some(rule_id.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_new_service_gets_its_rule_after_its_group_and_before_its_listener_rule() {
    let p = plan(&config(), &observed(), &[service("a", &[])]);
    assert_eq!(authorized(&p), vec![(APP_SG.into(), ALB_SG.into(), 80)]);
    let phases: Vec<Phase> = p.changes.iter().map(|c| c.change.phase()).collect();
    assert_eq!(
        phases,
        vec![
            Phase::CreateTargetGroups,
            Phase::AuthorizeIngress,
            Phase::CreateRules,
            Phase::Attach
        ]
    );
    let Change::AuthorizeIngress { tags, .. } = &p.changes[1].change else {
        panic!("second change: {:?}", p.changes[1]);
    };
    assert!(
        config().ownership.owns(tags),
        "tagged with its owner: {tags:?}"
    );
    assert_eq!(resource_of(tags), Some(SECURITY_GROUP_RULE_RESOURCE));
    assert!(
        Phase::AuthorizeIngress.is_pipelined(),
        "in the service's own pipeline"
    );
}

#[test]
fn a_numbered_health_check_port_gets_a_second_rule_and_every_alb_group_is_a_source() {
    let mut obs = observed();
    if let Some(lb) = obs.load_balancers.get_mut(LB) {
        lb.security_groups.push("sg-alb2".into());
    }
    let p = plan(
        &config(),
        &obs,
        &[service("a", &[("alb.healthcheck.port", "9000")])],
    );
    let mut got = authorized(&p);
    got.sort();
    assert_eq!(
        got,
        vec![
            (APP_SG.into(), ALB_SG.into(), 80),
            (APP_SG.into(), ALB_SG.into(), 9000),
            (APP_SG.into(), "sg-alb2".into(), 80),
            (APP_SG.into(), "sg-alb2".into(), 9000),
        ]
    );
}

#[test]
fn a_published_service_with_its_rule_in_place_changes_nothing_and_lists_it() {
    let cfg = config();
    let mut obs = observed();
    let mut a = service("a", &[]);
    publish(&cfg, &mut obs, &mut a);
    rules_of(&mut obs).push(ours("sgr-1", APP_SG, 80));
    let p = plan(&cfg, &obs, std::slice::from_ref(&a));
    assert!(p.changes.is_empty(), "{:?}", p.changes);
    assert_eq!(p.services[0].state, ServiceState::Published);
    assert!(
        p.services[0]
            .resources
            .iter()
            .any(|r| r.kind == ResourceKind::SecurityGroupRule && r.id == "sgr-1"),
        "{:?}",
        p.services[0].resources
    );
    let counts: Vec<_> = p.managed_resource_counts().collect();
    assert!(counts.contains(&("security-group-rule", 1)), "{counts:?}");
}

#[test]
fn a_hand_made_rule_that_lets_the_alb_in_is_used_as_it_is_and_never_revoked() {
    let cfg = config();
    for (protocol, ports) in [("tcp", (0, 65535)), ("-1", (-1, -1)), ("tcp", (80, 80))] {
        let mut obs = observed();
        let mut a = service("a", &[]);
        publish(&cfg, &mut obs, &mut a);
        rules_of(&mut obs).push(rule(
            "sgr-hand",
            APP_SG,
            ALB_SG,
            protocol,
            ports,
            Tags::new(),
        ));
        let p = plan(&cfg, &obs, std::slice::from_ref(&a));
        assert!(
            p.changes.is_empty(),
            "{protocol} {ports:?}: {:?}",
            p.changes
        );
        // Withdrawn: the hand-made rule is not ours to revoke.
        let untagged = with_groups(&a.0, &[]);
        let w = plan(&cfg, &obs, &[untagged]);
        assert!(revoked(&w.changes).is_empty(), "{:?}", w.changes);
    }
    // A rule of the wrong protocol, port range or source does not count.
    for other in [
        rule("x", APP_SG, ALB_SG, "udp", (80, 80), Tags::new()),
        rule("x", APP_SG, ALB_SG, "tcp", (81, 90), Tags::new()),
        rule("x", APP_SG, "sg-elsewhere", "tcp", (80, 80), Tags::new()),
        rule("x", "sg-other", ALB_SG, "tcp", (80, 80), Tags::new()),
    ] {
        let mut obs = observed();
        rules_of(&mut obs).push(other.clone());
        let p = plan(&cfg, &obs, &[service("a", &[])]);
        assert_eq!(authorized(&p).len(), 1, "{other:?}");
    }
}

#[test]
fn services_sharing_a_group_and_port_share_one_rule() {
    let p = plan(
        &config(),
        &observed(),
        &[service("a", &[]), service("b", &[])],
    );
    assert_eq!(authorized(&p), vec![(APP_SG.into(), ALB_SG.into(), 80)]);
}

#[test]
fn withdrawal_revokes_the_rule_last_and_only_when_nobody_needs_it() {
    let cfg = config();
    let mut obs = observed();
    let mut a = service("a", &[]);
    let mut b = service("b", &[]);
    publish(&cfg, &mut obs, &mut a);
    publish(&cfg, &mut obs, &mut b);
    rules_of(&mut obs).push(ours("sgr-1", APP_SG, 80));
    let a_gone = with_groups(&a.0, &[]);
    // b still needs it.
    let p = plan(&cfg, &obs, &[a_gone.clone(), b.clone()]);
    assert!(revoked(&p.changes).is_empty(), "{:?}", p.changes);
    assert!(
        p.changes
            .iter()
            .any(|c| matches!(c.change, Change::DeleteRule { .. }))
    );
    // Both gone: revoked after the rules, the detach and the groups.
    let b_gone = with_groups(&b.0, &[]);
    let p = plan(&cfg, &obs, &[a_gone, b_gone]);
    assert_eq!(revoked(&p.changes), vec!["sgr-1".to_string()]);
    assert_eq!(
        p.changes.last().map(|c| c.change.phase()),
        Some(Phase::RevokeIngress),
        "{:?}",
        p.changes
    );
    assert!(
        p.changes
            .iter()
            .any(|c| matches!(c.change, Change::DeleteTargetGroup { .. }))
    );
}

#[test]
fn a_failed_read_or_upsert_only_holds_the_revoke_back() {
    let cfg = config();
    let mut obs = observed();
    let mut a = service("a", &[]);
    publish(&cfg, &mut obs, &mut a);
    rules_of(&mut obs).push(ours("sgr-1", APP_SG, 80));
    let gone = with_groups(&a.0, &[]);
    // The group's deletion is held back, so it still needs the rule.
    let mut failed = obs.clone();
    failed.failed_reads.push(FailedRead {
        service: "elbv2".into(),
        operation: "DescribeRules".into(),
        message: "throttled".into(),
        zone: None,
    });
    let p = plan(&cfg, &failed, std::slice::from_ref(&gone));
    assert!(revoked(&p.changes).is_empty() && revoked(&p.held_back).is_empty());
    // A rule left behind by a group already gone: held back too.
    failed.target_groups.clear();
    failed.rules.clear();
    let p = plan(&cfg, &failed, std::slice::from_ref(&gone));
    assert!(revoked(&p.changes).is_empty());
    assert_eq!(revoked(&p.held_back), vec!["sgr-1".to_string()]);
    let upsert_only = plan_config(Policy::UpsertOnly, None);
    let p = plan(&upsert_only, &obs, &[gone]);
    assert!(revoked(&p.changes).is_empty());
}

#[test]
fn backend_sg_off_makes_no_rule_and_revokes_one_only_it_used() {
    let cfg = config();
    let p = plan(
        &cfg,
        &observed(),
        &[service("a", &[("alb.backend-sg", "off")])],
    );
    assert!(authorized(&p).is_empty(), "{:?}", p.changes);
    let mut obs = observed();
    let mut a = service("a", &[]);
    publish(&cfg, &mut obs, &mut a);
    rules_of(&mut obs).push(ours("sgr-1", APP_SG, 80));
    let off = service("a", &[("alb.backend-sg", "off")]);
    let off = (a.0.clone(), off.1);
    let p = plan(&cfg, &obs, &[off]);
    assert_eq!(revoked(&p.changes), vec!["sgr-1".to_string()]);
}

#[test]
fn a_named_backend_group_gets_the_rule_instead_of_the_first() {
    let p = plan(
        &config(),
        &observed(),
        &[service("a", &[("alb.backend-sg", "sg-other")])],
    );
    assert_eq!(authorized(&p), vec![("sg-other".into(), ALB_SG.into(), 80)]);
}

#[test]
fn instance_targets_and_services_without_groups_get_no_rule() {
    let (mut bare, _) = tagged_service("a", &[("alb.host", "a.example.com")]);
    Arc::make_mut(&mut bare).security_groups = vec![];
    let bare = with_groups(&bare, &[("alb.host", "a.example.com")]);
    let p = plan(&config(), &observed(), &[bare]);
    assert!(authorized(&p).is_empty(), "{:?}", p.changes);
    let cfg = config();
    let mut obs = observed();
    let mut a = service("a", &[]);
    publish(&cfg, &mut obs, &mut a);
    for g in &mut obs.target_groups {
        g.target_type = "instance".into();
    }
    rules_of(&mut obs).push(ours("sgr-1", APP_SG, 80));
    let p = plan(&cfg, &obs, std::slice::from_ref(&a));
    assert_eq!(
        revoked(&p.changes),
        vec!["sgr-1".to_string()],
        "instance targets need none"
    );
}

#[test]
fn an_invalid_service_keeps_its_rule() {
    let cfg = config();
    let mut obs = observed();
    let mut a = service("a", &[]);
    publish(&cfg, &mut obs, &mut a);
    rules_of(&mut obs).push(ours("sgr-1", APP_SG, 80));
    let bad = with_groups(
        &a.0,
        &[("alb.host", "a.example.com"), ("alb.backend-sg", "sg-nope")],
    );
    assert!(matches!(bad.1, ServiceIntent::Invalid { .. }));
    let p = plan(&cfg, &obs, &[bad]);
    assert!(
        revoked(&p.changes).is_empty() && revoked(&p.held_back).is_empty(),
        "{:?}",
        p.changes
    );
}

#[test]
fn a_group_routed_from_two_albs_needs_both_until_the_old_rule_goes() {
    const OLD_LB: &str = "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/old/3";
    let cfg = config();
    let mut obs = observed();
    let mut a = service("a", &[]);
    publish(&cfg, &mut obs, &mut a);
    obs.load_balancers.insert(
        OLD_LB.into(),
        crate::state::LoadBalancer {
            arn: OLD_LB.into(),
            security_groups: vec!["sg-old-alb".into()],
            ..obs.load_balancers[LB].clone()
        },
    );
    // AWS lists the group under both ALBs while a rule of each forwards to it.
    obs.target_groups[0].load_balancer_arns.push(OLD_LB.into());
    rules_of(&mut obs).push(ours("sgr-new", APP_SG, 80));
    rules_of(&mut obs).push(rule(
        "sgr-old",
        APP_SG,
        "sg-old-alb",
        "tcp",
        (80, 80),
        rule_tags("ecs-ingress"),
    ));
    let p = plan(&cfg, &obs, std::slice::from_ref(&a));
    assert!(revoked(&p.changes).is_empty(), "{:?}", p.changes);
    // The old ALB no longer routes to it: its rule goes.
    obs.target_groups[0]
        .load_balancer_arns
        .retain(|l| l != OLD_LB);
    let p = plan(&cfg, &obs, std::slice::from_ref(&a));
    assert_eq!(revoked(&p.changes), vec!["sgr-old".to_string()]);
}

#[test]
fn rules_not_read_or_turned_off_change_nothing() {
    let mut obs = observed();
    obs.backend_rules = BackendRulesRead::Failed("UnauthorizedOperation".into());
    let p = plan(&config(), &obs, &[service("a", &[])]);
    assert!(authorized(&p).is_empty());
    assert!(
        p.problems
            .iter()
            .any(|m| m.contains("UnauthorizedOperation")),
        "{:?}",
        p.problems
    );
    obs.backend_rules = BackendRulesRead::Off;
    let p = plan(&config(), &obs, &[service("a", &[])]);
    assert!(authorized(&p).is_empty());
    assert!(p.problems.is_empty(), "{:?}", p.problems);
}

#[test]
fn a_rule_of_another_owner_is_never_revoked() {
    let cfg = config();
    let mut obs = observed();
    let foreign = rule(
        "sgr-theirs",
        APP_SG,
        ALB_SG,
        "tcp",
        (8080, 8080),
        rule_tags("someone-else"),
    );
    rules_of(&mut obs).push(foreign);
    let p = plan(&cfg, &obs, &[]);
    assert!(revoked(&p.changes).is_empty(), "{:?}", p.changes);
}

#[test]
fn a_rule_on_the_old_group_stays_while_ecs_deploys_the_service_into_a_new_one() {
    let cfg = config();
    let mut obs = observed();
    let mut a = service("a", &[]);
    publish(&cfg, &mut obs, &mut a);
    rules_of(&mut obs).push(ours("sgr-old", APP_SG, 80));
    // Its groups changed: ECS starts tasks in the new group while the old tasks serve.
    Arc::make_mut(&mut a.0).security_groups = vec!["sg-new".into()];
    Arc::make_mut(&mut a.0).deploying = true;
    let (_, intent) = with_groups(&a.0, &[("alb.host", "a.example.com")]);
    let moving = (a.0.clone(), intent);
    let p = plan(&cfg, &obs, std::slice::from_ref(&moving));
    assert_eq!(
        authorized(&p),
        vec![("sg-new".to_string(), ALB_SG.to_string(), 80)]
    );
    assert!(revoked(&p.changes).is_empty(), "{:?}", p.changes);
    // The deployment over, the old group's rule goes.
    rules_of(&mut obs).push(ours("sgr-new", "sg-new", 80));
    let done = (
        EcsService {
            deploying: false,
            ..(*moving.0).clone()
        }
        .into(),
        moving.1.clone(),
    );
    let p = plan(&cfg, &obs, &[done]);
    assert_eq!(revoked(&p.changes), vec!["sgr-old".to_string()]);
}
