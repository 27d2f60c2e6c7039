//! Weighted canaries across services: one rule, the oldest's, over every partner's group.

use std::collections::BTreeMap;

use super::super::*;
use crate::model::ServiceIntent;
use crate::state::{LoadBalancerAttachment, Rule, Target, TargetHealth, TargetHealthState};

use super::super::fixtures::LISTENER;

fn config() -> PlanConfig {
    super::super::fixtures::plan_config(Policy::Sync, None)
}

fn observed() -> Snapshot {
    Snapshot {
        target_groups_complete: true,
        ..super::super::fixtures::one_alb()
    }
}

/// `name`, created at `age`, routing web.example.com with `alb.weight` (if given).
fn service(name: &str, age: i64, weight: Option<&str>) -> (Arc<EcsService>, ServiceIntent) {
    let mut tags = vec![("alb.host", "web.example.com")];
    tags.extend(weight.map(|w| ("alb.weight", w)));
    let (mut svc, intent) = super::super::fixtures::tagged_service(name, &tags);
    Arc::make_mut(&mut svc).created_at = Some(age);
    (svc, intent)
}

/// AWS after `plan`, for the changes these tests make.
fn apply(obs: &mut Snapshot, services: &mut [(Arc<EcsService>, ServiceIntent)], plan: &Plan) {
    let mut groups: BTreeMap<String, String> = BTreeMap::new();
    let mut rules: BTreeMap<String, String> = BTreeMap::new();
    let arn = |r: &TargetGroupRef, groups: &BTreeMap<String, String>| match r {
        TargetGroupRef::Existing(a) => a.clone(),
        TargetGroupRef::New(n) => groups[n].clone(),
    };
    for c in &plan.changes {
        match &c.change {
            Change::CreateTargetGroup { spec, .. } => {
                let a = format!("arn:tg/{}", spec.name);
                groups.insert(spec.name.clone(), a.clone());
                obs.target_groups
                    .push(super::super::fixtures::created_group(a, spec));
            }
            Change::CreateRule {
                hosts,
                paths,
                target,
                tags,
                priority,
                ..
            } => {
                let a = format!("arn:rule/{}/{priority}", c.service);
                rules.insert(c.service.clone(), a.clone());
                obs.rules.push(Rule {
                    arn: a.into(),
                    listener_arn: LISTENER.into(),
                    priority: Some(*priority),
                    hosts: hosts.clone(),
                    paths: paths.clone(),
                    other_conditions: 0,
                    forward_target_groups: vec![arn(target, &groups).into()],
                    staged_target_groups: vec![],
                    weights: BTreeMap::new(),
                    other_actions: 0,
                    tags: tags.clone(),
                });
            }
            Change::ModifyRuleWeights { rule, weights, .. } => {
                let a = match rule {
                    RuleRef::Existing(a) => a.clone(),
                    RuleRef::New(_) => rules[&c.service].clone(),
                };
                let r = obs.rules.iter_mut().find(|r| r.arn == a).unwrap();
                r.weights = weights.iter().map(|(g, w)| (arn(g, &groups), *w)).collect();
                r.forward_target_groups = weights
                    .iter()
                    .filter(|(_, w)| *w > 0)
                    .map(|(g, _)| arn(g, &groups).into())
                    .collect();
                r.staged_target_groups = weights
                    .iter()
                    .filter(|(_, w)| *w == 0)
                    .map(|(g, _)| arn(g, &groups).into())
                    .collect();
            }
            Change::UpdateServiceLoadBalancers { load_balancers, .. } => {
                let svc = services
                    .iter_mut()
                    .find(|s| Some(&s.0.arn) == c.service_arn.as_ref())
                    .unwrap();
                Arc::make_mut(&mut svc.0).load_balancers = load_balancers
                    .iter()
                    .map(|e| match e {
                        AttachmentEntry::Keep(lb) => lb.clone(),
                        AttachmentEntry::Ours {
                            target,
                            container,
                            port,
                            ..
                        } => LoadBalancerAttachment {
                            target_group_arn: Some(arn(target, &groups)),
                            load_balancer_name: None,
                            container_name: Some(container.clone()),
                            container_port: Some(*port),
                            advanced: None,
                        },
                    })
                    .collect();
            }
            Change::DeleteRule { arn: a } => obs.rules.retain(|r| r.arn != *a),
            Change::DeleteTargetGroup { arn: a, .. } => obs.target_groups.retain(|g| g.arn != *a),
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Every group of the estate healthy.
fn all_healthy(obs: &mut Snapshot) {
    for g in &obs.target_groups {
        obs.targets.insert(
            g.arn.to_string(),
            vec![TargetHealth {
                target: Target {
                    id: "10.0.0.1".into(),
                    port: 80,
                },
                state: TargetHealthState::Healthy,
            }],
        );
    }
}

fn converge(obs: &mut Snapshot, services: &mut [(Arc<EcsService>, ServiceIntent)]) -> Plan {
    for _ in 0..6 {
        let p = plan(&config(), obs, services);
        if p.changes.is_empty() {
            return p;
        }
        apply(obs, services, &p);
        all_healthy(obs);
    }
    panic!("no convergence");
}

fn the_rule(obs: &Snapshot) -> &Rule {
    assert_eq!(obs.rules.len(), 1, "{:?}", obs.rules);
    &obs.rules[0]
}

fn group_of(obs: &Snapshot, svc: &EcsService) -> String {
    obs.target_groups
        .iter()
        .find(|g| crate::ownership::service_of(&g.tags) == Some(svc.arn.as_str()))
        .map(|g| g.arn.to_string())
        .expect("a group")
}

#[test]
fn partners_share_the_oldest_rule_and_weight_edits_change_it_in_place() {
    let mut obs = observed();
    let mut services = vec![
        service("stable", 1, Some("90")),
        service("canary", 2, Some("10")),
    ];
    let p = converge(&mut obs, &mut services);
    assert!(
        p.services
            .iter()
            .all(|s| s.state == ServiceState::Published),
        "{:?}",
        p.services
    );
    let (stable, canary) = (
        group_of(&obs, &services[0].0),
        group_of(&obs, &services[1].0),
    );
    let rule = the_rule(&obs);
    assert_eq!(
        crate::ownership::service_of(&rule.tags),
        Some(services[0].0.arn.as_str()),
        "owned by the oldest"
    );
    assert_eq!(
        rule.weights,
        BTreeMap::from([(stable.clone(), 90), (canary.clone(), 10)])
    );

    services[1] = (services[1].0.clone(), service("canary", 2, Some("50")).1);
    Arc::make_mut(&mut services[1].0).created_at = Some(2);
    let p = plan(&config(), &obs, &services);
    let kinds: Vec<&str> = p.changes.iter().map(|c| c.change.action()).collect();
    assert_eq!(kinds, ["update"], "{:?}", p.changes);
    apply(&mut obs, &mut services, &p);
    assert_eq!(
        the_rule(&obs).weights,
        BTreeMap::from([(stable.clone(), 90), (canary.clone(), 50)])
    );

    // The canary withdrawn: the rule goes back to the stable group alone, then its group.
    services[1].1 = ServiceIntent::Unmanaged;
    Arc::make_mut(&mut services[1].0).tags.clear();
    let p = plan(&config(), &obs, &services);
    let phases: Vec<Phase> = p.changes.iter().map(|c| c.change.phase()).collect();
    assert!(phases.windows(2).all(|w| w[0] <= w[1]));
    apply(&mut obs, &mut services, &p);
    assert_eq!(the_rule(&obs).weights, BTreeMap::from([(stable, 90)]));
    assert!(!obs.target_groups.iter().any(|g| g.arn == canary));
}

#[test]
fn a_canary_is_in_the_rule_at_weight_0_until_its_group_is_healthy() {
    let mut obs = observed();
    let mut services = vec![
        service("stable", 1, Some("90")),
        service("canary", 2, Some("10")),
    ];
    let p = plan(&config(), &obs, &services);
    apply(&mut obs, &mut services, &p);
    assert!(
        the_rule(&obs).weights.is_empty(),
        "a plain forward to the stable group"
    );
    assert!(
        services[1].0.load_balancers.is_empty(),
        "the canary's group is attached only once a rule forwards to it (ECS refuses it before)"
    );
    let canary = group_of(&obs, &services[1].0);
    // Its health not read yet: asked for, and the group joins at weight 0.
    let p = plan(&config(), &obs, &services);
    assert!(p.health_wanted.contains(&canary));
    apply(&mut obs, &mut services, &p);
    assert_eq!(the_rule(&obs).weights.get(&canary), Some(&0));
    let p = plan(&config(), &obs, &services);
    apply(&mut obs, &mut services, &p);
    assert_eq!(
        services[1].0.load_balancers[0].target_group_arn.as_deref(),
        Some(canary.as_str()),
        "attached now"
    );
    all_healthy(&mut obs);
    let p = plan(&config(), &obs, &services);
    apply(&mut obs, &mut services, &p);
    assert_eq!(the_rule(&obs).weights.get(&canary), Some(&10));
}

#[test]
fn a_weight_without_a_partner_or_a_sixth_partner_is_invalid() {
    let lone = vec![service("alone", 1, Some("10"))];
    let p = plan(&config(), &observed(), &lone);
    assert!(p.changes.is_empty(), "{:?}", p.changes);
    assert_eq!(p.services[0].state, ServiceState::Invalid);
    assert_eq!(p.services[0].problems[0].key.as_deref(), Some("alb.weight"));

    let six: Vec<_> = (0..6)
        .map(|i| service(&format!("s{i}"), i, Some("10")))
        .collect();
    let p = plan(&config(), &observed(), &six);
    let invalid: Vec<&str> = p
        .services
        .iter()
        .filter(|s| s.state == ServiceState::Invalid)
        .map(|s| s.service.as_str())
        .collect();
    assert_eq!(invalid, ["s5"], "the five oldest keep the rule");
    let rules = p
        .changes
        .iter()
        .filter(|c| matches!(c.change, Change::CreateRule { .. }))
        .count();
    assert_eq!(rules, 1);
}

#[test]
fn the_last_partner_left_keeps_serving_through_the_rule_it_owns() {
    let mut obs = observed();
    let mut services = vec![
        service("stable", 1, Some("90")),
        service("canary", 2, Some("10")),
    ];
    converge(&mut obs, &mut services);
    services[1].1 = ServiceIntent::Unmanaged;
    Arc::make_mut(&mut services[1].0).tags.clear();
    let p = converge(&mut obs, &mut services);
    assert_eq!(
        p.services[0].state,
        ServiceState::Published,
        "{:?}",
        p.services[0]
    );
    assert_eq!(the_rule(&obs).forward_target_groups.len(), 1);
}

#[test]
fn the_stable_service_leaving_hands_the_host_to_the_canary_without_a_gap() {
    let mut obs = observed();
    let mut services = vec![
        service("stable", 1, Some("90")),
        service("canary", 2, Some("10")),
    ];
    converge(&mut obs, &mut services);
    services[0].1 = ServiceIntent::Unmanaged;
    Arc::make_mut(&mut services[0].0).tags.clear();
    let p = plan(&config(), &obs, &services);
    let create = p
        .changes
        .iter()
        .position(|c| matches!(c.change, Change::CreateRule { .. }))
        .expect("the canary gets a rule of its own");
    let delete = p
        .changes
        .iter()
        .position(|c| matches!(c.change, Change::DeleteRule { .. }))
        .expect("the stable rule goes");
    assert!(create < delete, "{:?}", p.changes);
    let p = converge(&mut obs, &mut services);
    let canary_status = p.services.iter().find(|s| s.service == "canary").unwrap();
    assert_eq!(
        canary_status.state,
        ServiceState::Published,
        "{:?}",
        p.services
    );
    let canary = group_of(&obs, &services[1].0);
    assert_eq!(
        the_rule(&obs).forward_target_groups,
        std::slice::from_ref(&canary)
    );
}

#[test]
fn what_a_review_found_stays_fixed() {
    let mut obs = observed();
    let mut services = vec![
        service("stable", 1, Some("10")),
        service("canary", 2, Some("90")),
    ];
    converge(&mut obs, &mut services);
    let before = the_rule(&obs).clone();

    // A failed read holds the canary (its group and no rule): the shared weights stay.
    let mut partial = obs.clone();
    partial.failed_reads.push(crate::snapshot::FailedRead {
        service: "elbv2".into(),
        operation: "DescribeTargetHealth".into(),
        message: "Rate exceeded".into(),
        zone: None,
    });
    let p = plan(&config(), &partial, &services);
    assert!(
        !p.changes
            .iter()
            .any(|c| c.change.kind() == crate::status::ResourceKind::ListenerRule),
        "{:?}",
        p.changes
    );

    // An immutable change of a partner: it keeps what it has, named invalid.
    let mut http2 = service("canary", 2, Some("90"));
    Arc::make_mut(&mut http2.0)
        .tags
        .insert("alb.protocol-version".into(), "HTTP2".into());
    let t = http2.0.tags.clone();
    let (_, intent) =
        super::super::fixtures::tagged_service("canary", &t.iter().collect::<Vec<_>>());
    let changed = vec![
        services[0].clone(),
        (
            EcsService {
                tags: t,
                ..(*services[1].0).clone()
            }
            .into(),
            intent,
        ),
    ];
    let p = plan(&config(), &obs, &changed);
    let canary = p.services.iter().find(|s| s.service == "canary").unwrap();
    assert_eq!(canary.state, ServiceState::Invalid, "{canary:?}");
    assert!(
        !p.changes
            .iter()
            .any(|c| matches!(c.change, Change::DeleteTargetGroup { .. }))
    );

    // A stable service at weight 0: its canary leaving leaves it alone at weight 1.
    let mut zero = vec![
        service("stable", 1, Some("0")),
        service("canary", 2, Some("100")),
    ];
    let mut obs0 = observed();
    converge(&mut obs0, &mut zero);
    zero[1].1 = ServiceIntent::Unmanaged;
    Arc::make_mut(&mut zero[1].0).tags.clear();
    converge(&mut obs0, &mut zero);
    let stable = group_of(&obs0, &zero[0].0);
    assert_eq!(the_rule(&obs0).weights, BTreeMap::from([(stable, 1)]));
    assert_eq!(before.weights.len(), 2);
}

#[test]
fn a_new_owner_without_healthy_targets_takes_no_requests() {
    let mut obs = observed();
    let mut services = vec![
        service("stable", 1, Some("90")),
        service("canary", 2, Some("10")),
    ];
    converge(&mut obs, &mut services);
    // An older service is tagged into the set: it owns the rule now, its group is new.
    let mut older = service("older", 0, Some("50"));
    Arc::make_mut(&mut older.0).created_at = Some(0);
    services.insert(0, older);
    let p = plan(&config(), &obs, &services);
    let created = p.changes.iter().find_map(|c| match &c.change {
        Change::CreateRule { target, .. } => Some(target.clone()),
        _ => None,
    });
    assert!(
        matches!(&created, Some(TargetGroupRef::Existing(_))),
        "made forwarding to a partner that serves, not to its own new group: {created:?}"
    );
    apply(&mut obs, &mut services, &p);
    let p = plan(&config(), &obs, &services);
    apply(&mut obs, &mut services, &p);
    let p = plan(&config(), &obs, &services);
    apply(&mut obs, &mut services, &p);
    let owner = group_of(&obs, &services[0].0);
    let rules: Vec<&Rule> = obs
        .rules
        .iter()
        .filter(|r| crate::ownership::service_of(&r.tags) == Some(services[0].0.arn.as_str()))
        .collect();
    assert_eq!(rules.len(), 1, "{:?}", obs.rules);
    assert_eq!(
        rules[0].weights.get(&owner).copied().unwrap_or(0),
        0,
        "its group is not healthy yet: {:?}",
        rules[0].weights
    );
    assert!(
        rules[0].weights.values().any(|w| *w > 0),
        "the healthy partners take the requests: {:?}",
        rules[0].weights
    );
}
