//! Services ECS deploys itself: set up from tags, then whatever ECS does to the weights and
//! the primary between passes, a pass never changes either.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::super::*;
use crate::model::ServiceIntent;
use crate::state::{DeploymentSettings, DeploymentStrategy, LoadBalancerAttachment, Rule};

use super::super::fixtures::LISTENER;
const ROLE: &str = "arn:aws:iam::1:role/ecs-infrastructure";

fn config(role: bool) -> PlanConfig {
    super::super::fixtures::plan_config(Policy::Sync, role.then_some(ROLE))
}

fn observed() -> Snapshot {
    Snapshot {
        target_groups_complete: true,
        ..super::super::fixtures::one_alb()
    }
}

fn service(tags: &[(&str, &str)]) -> (Arc<EcsService>, ServiceIntent) {
    super::super::fixtures::tagged_service("web", tags)
}

const BLUE_GREEN: &[(&str, &str)] = &[
    ("alb.host", "web.example.com"),
    ("alb.deploy", "blue-green"),
    ("alb.bake-minutes", "10"),
];

/// What AWS would hold after `plan`'s changes: a small applier over the snapshot.
fn apply(obs: &mut Snapshot, svc: &mut EcsService, plan: &Plan) {
    let mut groups: BTreeMap<String, String> = BTreeMap::new();
    let mut rules: BTreeMap<String, String> = BTreeMap::new();
    for c in &plan.changes {
        let group = |r: &TargetGroupRef, groups: &BTreeMap<String, String>| match r {
            TargetGroupRef::Existing(a) => a.clone(),
            TargetGroupRef::New(name) => groups[name].clone(),
        };
        match &c.change {
            Change::CreateTargetGroup { spec, .. } => {
                let arn = format!("arn:tg/{}", spec.name);
                groups.insert(spec.name.clone(), arn.clone());
                obs.target_groups
                    .push(super::super::fixtures::created_group(arn, spec));
            }
            Change::CreateRule {
                hosts,
                paths,
                target,
                staged,
                tags,
                priority,
                ..
            } => {
                let key = crate::ownership::resource_of(tags)
                    .unwrap_or("?")
                    .to_string();
                static CREATED: std::sync::atomic::AtomicUsize =
                    std::sync::atomic::AtomicUsize::new(0);
                let n = CREATED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let arn = format!("arn:rule/{key}/{n}");
                rules.insert(key, arn.clone());
                obs.rules.push(Rule {
                    arn: arn.into(),
                    listener_arn: LISTENER.into(),
                    priority: Some(*priority),
                    hosts: hosts.clone(),
                    paths: paths.clone(),
                    other_conditions: 0,
                    forward_target_groups: vec![group(target, &groups).into()],
                    staged_target_groups: staged.iter().map(|s| group(s, &groups).into()).collect(),
                    weights: Default::default(),
                    other_actions: 0,
                    tags: tags.clone(),
                });
            }
            Change::ModifyRule {
                arn,
                hosts,
                paths,
                target,
                staged,
            } => {
                let r = obs.rules.iter_mut().find(|r| r.arn == *arn).unwrap();
                r.hosts = hosts.clone();
                r.paths = paths.clone();
                r.forward_target_groups = vec![group(target, &groups).into()];
                r.staged_target_groups = staged.iter().map(|s| group(s, &groups).into()).collect();
            }
            Change::ModifyRuleConditions { arn, hosts, paths } => {
                let r = obs.rules.iter_mut().find(|r| r.arn == *arn).unwrap();
                r.hosts = hosts.clone();
                r.paths = paths.clone();
                r.other_conditions = 0;
            }
            Change::UpdateServiceLoadBalancers {
                load_balancers,
                deployment,
                ..
            } => {
                svc.load_balancers = load_balancers
                    .iter()
                    .map(|e| match e {
                        AttachmentEntry::Keep(lb) => lb.clone(),
                        AttachmentEntry::Ours {
                            target,
                            container,
                            port,
                            shift,
                        } => LoadBalancerAttachment {
                            target_group_arn: Some(group(target, &groups)),
                            load_balancer_name: None,
                            container_name: Some(container.clone()),
                            container_port: Some(*port),
                            advanced: shift.as_ref().map(|s| crate::state::AdvancedConfiguration {
                                alternate_target_group_arn: Some(group(&s.alternate, &groups)),
                                production_listener_rule: Some(match &s.production_rule {
                                    RuleRef::Existing(a) => a.clone(),
                                    RuleRef::New(key) => rules[key].clone(),
                                }),
                                test_listener_rule: s.test_rule.as_ref().map(|r| match r {
                                    RuleRef::Existing(a) => a.clone(),
                                    RuleRef::New(key) => rules[key].clone(),
                                }),
                                role_arn: Some(s.role_arn.clone()),
                            }),
                        },
                    })
                    .collect();
                if let Some(d) = deployment {
                    let mut merged = d.clone();
                    let had = &svc.deployment;
                    merged.bake_minutes = d.bake_minutes.or(had.bake_minutes);
                    merged.linear_step_percent = d.linear_step_percent.or(had.linear_step_percent);
                    merged.linear_step_minutes = d.linear_step_minutes.or(had.linear_step_minutes);
                    merged.canary_percent = d.canary_percent.or(had.canary_percent);
                    merged.canary_minutes = d.canary_minutes.or(had.canary_minutes);
                    svc.deployment = merged;
                }
            }
            Change::UpdateServiceDeployment { deployment, .. } => {
                svc.deployment = DeploymentSettings {
                    strategy: deployment.strategy.clone(),
                    bake_minutes: deployment.bake_minutes.or(svc.deployment.bake_minutes),
                    ..svc.deployment.clone()
                };
            }
            Change::DeleteRule { arn } => obs.rules.retain(|r| r.arn != *arn),
            Change::DeleteTargetGroup { arn, .. } => obs.target_groups.retain(|g| g.arn != *arn),
            other => panic!("unexpected change {other:?}"),
        }
    }
}

/// Plans and applies until a pass plans nothing; the passes it took.
fn converge(
    cfg: &PlanConfig,
    obs: &mut Snapshot,
    svc: &mut (Arc<EcsService>, ServiceIntent),
) -> usize {
    for pass in 1..=5 {
        let p = plan(cfg, obs, std::slice::from_ref(svc));
        if p.changes.is_empty() {
            return pass;
        }
        apply(obs, Arc::make_mut(&mut svc.0), &p);
    }
    panic!("no convergence in 5 passes");
}

fn production_rule(obs: &Snapshot) -> &Rule {
    obs.rules
        .iter()
        .find(|r| crate::ownership::resource_of(&r.tags) == Some("rule-0"))
        .expect("a production rule")
}

/// (entry's group, its alternate)
fn primary_and_alternate(svc: &EcsService) -> (String, String) {
    let e = &svc.load_balancers[0];
    (
        e.target_group_arn.clone().unwrap(),
        e.advanced
            .as_ref()
            .and_then(|a| a.alternate_target_group_arn.clone())
            .unwrap(),
    )
}

#[test]
fn tags_set_up_two_groups_a_production_rule_the_entry_and_the_strategy_in_one_pass() {
    let cfg = config(true);
    let mut obs = observed();
    let mut svc = service(BLUE_GREEN);
    let first = plan(&cfg, &obs, std::slice::from_ref(&svc));
    let kinds: Vec<&str> = first.changes.iter().map(|c| c.change.action()).collect();
    assert_eq!(
        kinds,
        ["create", "create", "create", "update"],
        "{:#?}",
        first.changes
    );
    apply(&mut obs, Arc::make_mut(&mut svc.0), &first);
    let rule = production_rule(&obs);
    let (primary, alternate) = primary_and_alternate(&svc.0);
    assert_eq!(rule.forward_target_groups, std::slice::from_ref(&primary));
    assert_eq!(rule.staged_target_groups, std::slice::from_ref(&alternate));
    let advanced = svc.0.load_balancers[0].advanced.clone().unwrap();
    assert_eq!(
        advanced.production_listener_rule.as_deref(),
        Some(rule.arn.as_str())
    );
    assert_eq!(advanced.role_arn.as_deref(), Some(ROLE));
    assert_eq!(svc.0.deployment.strategy, DeploymentStrategy::BlueGreen);
    assert_eq!(svc.0.deployment.bake_minutes, Some(10));
    assert_eq!(
        converge(&cfg, &mut obs, &mut svc),
        1,
        "settled after one pass"
    );
}

#[test]
fn what_ecs_cannot_do_is_invalid_naming_the_key_and_nothing_is_created() {
    let many_hosts = "a.example.com b.example.com c.example.com d.example.com";
    // (config has the role, tags, controller, key named, words in the reason)
    type Case<'a> = (bool, Vec<(&'a str, &'a str)>, &'a str, &'a str, &'a str);
    let cases: &[Case] = &[
        (
            false,
            BLUE_GREEN.to_vec(),
            "ECS",
            "alb.deploy",
            "--ecs-infrastructure-role-arn",
        ),
        (
            true,
            BLUE_GREEN.to_vec(),
            "CODE_DEPLOY",
            "alb.deploy",
            "CODE_DEPLOY",
        ),
        (
            true,
            [BLUE_GREEN, &[("alb.targets", "direct")]].concat(),
            "ECS",
            "alb.deploy",
            "alb.targets=direct",
        ),
        (
            true,
            vec![("alb.host", many_hosts), ("alb.deploy", "canary")],
            "ECS",
            "alb.host",
            "one production rule",
        ),
    ];
    for (role, tags, controller, key, words) in cases {
        let mut svc = service(tags);
        Arc::make_mut(&mut svc.0).deployment_controller =
            crate::state::DeploymentController::parse(controller);
        let p = plan(&config(*role), &observed(), std::slice::from_ref(&svc));
        assert!(p.changes.is_empty(), "{tags:?}: {:?}", p.changes);
        let s = &p.services[0];
        assert_eq!(s.state, ServiceState::Invalid, "{tags:?}");
        assert_eq!(s.problems[0].key.as_deref(), Some(*key), "{tags:?}");
        assert!(
            s.problems[0].reason.contains(words),
            "{}",
            s.problems[0].reason
        );
    }
}

#[test]
fn a_deleted_production_rule_comes_back_on_the_current_primary_and_the_entry_follows() {
    let cfg = config(true);
    let mut obs = observed();
    let mut svc = service(BLUE_GREEN);
    converge(&cfg, &mut obs, &mut svc);
    // ECS finished a deployment: the alternate is the primary now.
    ecs_flips(&mut obs, Arc::make_mut(&mut svc.0));
    let (primary, alternate) = primary_and_alternate(&svc.0);
    let old_rule = production_rule(&obs).arn.clone();
    obs.rules.clear();
    let p = plan(&cfg, &obs, std::slice::from_ref(&svc));
    apply(&mut obs, Arc::make_mut(&mut svc.0), &p);
    let rule = production_rule(&obs);
    assert_ne!(rule.arn, old_rule);
    assert_eq!(rule.forward_target_groups, std::slice::from_ref(&primary));
    assert_eq!(rule.staged_target_groups, std::slice::from_ref(&alternate));
    assert_eq!(primary_and_alternate(&svc.0), (primary, alternate));
    let advanced = svc.0.load_balancers[0].advanced.as_ref().unwrap();
    assert_eq!(
        advanced.production_listener_rule.as_deref(),
        Some(rule.arn.as_str())
    );
    assert_eq!(converge(&cfg, &mut obs, &mut svc), 1);
}

#[test]
fn a_changed_host_is_repaired_in_the_conditions_and_the_weights_stay() {
    let cfg = config(true);
    let mut obs = observed();
    let mut svc = service(BLUE_GREEN);
    converge(&cfg, &mut obs, &mut svc);
    ecs_shifts(&mut obs, Shift::Both);
    let before = production_rule(&obs).clone();
    let mut tags: Vec<(&str, &str)> = BLUE_GREEN.to_vec();
    tags[0] = ("alb.host", "www.example.com");
    let moved = service(&tags);
    svc = (
        EcsService {
            tags: moved.0.tags.clone(),
            ..(*svc.0).clone()
        }
        .into(),
        moved.1,
    );
    let p = plan(&cfg, &obs, std::slice::from_ref(&svc));
    let changes: Vec<&Change> = p.changes.iter().map(|c| &c.change).collect();
    assert!(
        matches!(changes.as_slice(), [Change::ModifyRuleConditions { hosts, .. }] if hosts == &["www.example.com"]),
        "{changes:?}"
    );
    apply(&mut obs, Arc::make_mut(&mut svc.0), &p);
    let after = production_rule(&obs);
    assert_eq!(after.forward_target_groups, before.forward_target_groups);
    assert_eq!(after.staged_target_groups, before.staged_target_groups);
}

#[test]
fn withdrawal_removes_both_rules_groups_and_the_entry_and_alb_deploy_removed_alone_holds() {
    let cfg = config(true);
    let mut obs = observed();
    let mut svc = service(BLUE_GREEN);
    converge(&cfg, &mut obs, &mut svc);
    ecs_flips(&mut obs, Arc::make_mut(&mut svc.0));

    // alb.deploy gone, alb.host kept: ECS still deploys blue/green, so nothing is touched.
    let kept = service(&[("alb.host", "web.example.com")]);
    let held = (
        EcsService {
            tags: kept.0.tags.clone(),
            ..(*svc.0).clone()
        }
        .into(),
        kept.1,
    );
    let p = plan(&cfg, &obs, std::slice::from_ref(&held));
    assert!(p.changes.is_empty(), "{:?}", p.changes);
    assert_eq!(p.services[0].state, ServiceState::Invalid);
    assert!(
        p.services[0].problems[0]
            .reason
            .contains("alb.deploy is gone")
    );

    // Every routing tag gone: withdrawn.
    let untagged = service(&[]);
    let mut gone = (
        EcsService {
            tags: untagged.0.tags.clone(),
            ..(*svc.0).clone()
        }
        .into(),
        untagged.1,
    );
    let p = plan(&cfg, &obs, std::slice::from_ref(&gone));
    apply(&mut obs, Arc::make_mut(&mut gone.0), &p);
    assert!(obs.rules.is_empty(), "{:?}", obs.rules);
    assert!(obs.target_groups.is_empty());
    assert!(gone.0.load_balancers.is_empty());
    assert_eq!(
        gone.0.deployment.strategy,
        DeploymentStrategy::Rolling,
        "the strategy goes back with the entry"
    );
    assert_eq!(
        gone.0.deployment.bake_minutes,
        Some(10),
        "the rest as it was"
    );
}

#[test]
fn back_to_rolling_keeps_traffic_on_the_serving_group_until_the_other_is_healthy() {
    let cfg = config(true);
    let mut obs = observed();
    let mut svc = service(BLUE_GREEN);
    converge(&cfg, &mut obs, &mut svc);
    ecs_flips(&mut obs, Arc::make_mut(&mut svc.0));
    let (serving, _) = primary_and_alternate(&svc.0);
    let rolling = service(&[("alb.host", "web.example.com"), ("alb.deploy", "rolling")]);
    svc = (
        EcsService {
            tags: rolling.0.tags.clone(),
            ..(*svc.0).clone()
        }
        .into(),
        rolling.1,
    );
    let p = plan(&cfg, &obs, std::slice::from_ref(&svc));
    apply(&mut obs, Arc::make_mut(&mut svc.0), &p);
    assert_eq!(
        production_rule(&obs).forward_target_groups,
        std::slice::from_ref(&serving)
    );
    assert_eq!(svc.0.deployment.strategy, DeploymentStrategy::Rolling);
    assert!(
        svc.0.load_balancers.iter().all(|e| e.advanced.is_none()),
        "{:?}",
        svc.0.load_balancers
    );
    assert!(
        svc.0
            .load_balancers
            .iter()
            .any(|e| e.target_group_arn.as_deref() == Some(serving.as_str())),
        "the serving group stays attached"
    );
}

/// What ECS may have done to the production rule between two passes.
#[derive(Debug, Clone, Copy)]
enum Shift {
    /// Mid-deployment: both groups take traffic (90/10, a linear step).
    Both,
    /// All traffic on the alternate, before the flip (bake time).
    Alternate,
    /// Untouched.
    Primary,
}

fn ecs_shifts(obs: &mut Snapshot, shift: Shift) {
    ecs_shifts_rule(obs, "rule-0", shift);
}

fn ecs_shifts_rule(obs: &mut Snapshot, key: &str, shift: Shift) {
    let Some(rule) = obs
        .rules
        .iter_mut()
        .find(|r| crate::ownership::resource_of(&r.tags) == Some(key))
    else {
        return;
    };
    let mut groups: Vec<crate::shared_str::SharedStr> = rule
        .forward_target_groups
        .iter()
        .chain(&rule.staged_target_groups)
        .cloned()
        .collect();
    groups.sort();
    let (a, b) = (groups[0].clone(), groups[1].clone());
    (rule.forward_target_groups, rule.staged_target_groups) = match shift {
        Shift::Both => (vec![a, b], vec![]),
        Shift::Alternate => (vec![b], vec![a]),
        Shift::Primary => (vec![a], vec![b]),
    };
}

/// What DescribeServices says while ECS has traffic anywhere but 100% on the primary: a
/// deployment under way.
fn ecs_reports(obs: &Snapshot, svc: &mut EcsService) {
    let (primary, _) = primary_and_alternate(svc);
    svc.deploying = obs
        .rules
        .iter()
        .any(|r| r.forward_target_groups != std::slice::from_ref(&primary));
}

/// A deployment's end: ECS swaps the entry's group and alternate, and traffic is all on
/// the new primary.
fn ecs_flips(obs: &mut Snapshot, svc: &mut EcsService) {
    let entry = &mut svc.load_balancers[0];
    let advanced = entry.advanced.as_mut().unwrap();
    std::mem::swap(
        &mut entry.target_group_arn,
        &mut advanced.alternate_target_group_arn,
    );
    let primary = entry.target_group_arn.clone().unwrap();
    let alternate = advanced.alternate_target_group_arn.clone().unwrap();
    let rule = obs
        .rules
        .iter_mut()
        .find(|r| crate::ownership::resource_of(&r.tags) == Some("rule-0"))
        .unwrap();
    rule.forward_target_groups = vec![primary.into()];
    rule.staged_target_groups = vec![alternate.into()];
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever ECS does between passes — shifts, stops half-way, flips, several
    /// deployments — a pass rewrites neither the weights nor the primary.
    #[test]
    fn a_pass_never_changes_weights_or_the_primary(
        strategy in prop::sample::select(vec!["blue-green", "linear", "canary"]),
        with_test_host in any::<bool>(),
        steps in prop::collection::vec((0u8..7, any::<bool>()), 1..12),
    ) {
        let cfg = config(true);
        let mut obs = observed();
        let mut tags = vec![("alb.host", "web.example.com"), ("alb.deploy", strategy)];
        if with_test_host {
            tags.push(("alb.test-host", "test.web.example.com"));
        }
        let mut svc = service(&tags);
        converge(&cfg, &mut obs, &mut svc);
        for (step, flip) in steps {
            match step {
                0 => ecs_shifts(&mut obs, Shift::Both),
                1 => ecs_shifts(&mut obs, Shift::Alternate),
                2 => ecs_shifts(&mut obs, Shift::Primary),
                3 => ecs_shifts_rule(&mut obs, "test-0", Shift::Alternate),
                4 => ecs_shifts_rule(&mut obs, "test-0", Shift::Primary),
                _ => {}
            }
            if flip {
                ecs_flips(&mut obs, Arc::make_mut(&mut svc.0));
            }
            ecs_reports(&obs, Arc::make_mut(&mut svc.0));
            let rules = obs.rules.clone();
            let entry = svc.0.load_balancers.clone();
            let p = plan(&cfg, &obs, std::slice::from_ref(&svc));
            prop_assert!(p.changes.is_empty(), "{:?}", p.changes);
            apply(&mut obs, Arc::make_mut(&mut svc.0), &p);
            prop_assert_eq!(&obs.rules, &rules);
            prop_assert_eq!(&svc.0.load_balancers, &entry);
        }
    }
}

#[test]
fn a_test_host_gets_a_test_rule_ecs_moves_like_the_production_rule() {
    let cfg = config(true);
    let mut obs = observed();
    let mut svc = service(&[
        ("alb.host", "web.example.com"),
        ("alb.deploy", "linear"),
        ("alb.test-host", "test.web.example.com"),
    ]);
    converge(&cfg, &mut obs, &mut svc);
    let test = obs
        .rules
        .iter()
        .find(|r| crate::ownership::resource_of(&r.tags) == Some("test-0"))
        .expect("a test rule")
        .clone();
    assert_eq!(test.hosts, ["test.web.example.com"]);
    let (primary, alternate) = primary_and_alternate(&svc.0);
    assert_eq!(test.forward_target_groups, std::slice::from_ref(&primary));
    assert_eq!(test.staged_target_groups, std::slice::from_ref(&alternate));
    let advanced = svc.0.load_balancers[0].advanced.clone().unwrap();
    assert_eq!(
        advanced.test_listener_rule.as_deref(),
        Some(test.arn.as_str())
    );
    // ECS sends test traffic to the alternate, then production traffic, then flips.
    ecs_shifts_rule(&mut obs, "test-0", Shift::Alternate);
    ecs_shifts(&mut obs, Shift::Both);
    ecs_reports(&obs, Arc::make_mut(&mut svc.0));
    let p = plan(&cfg, &obs, std::slice::from_ref(&svc));
    assert!(p.changes.is_empty(), "{:?}", p.changes);
    ecs_flips(&mut obs, Arc::make_mut(&mut svc.0));
    ecs_reports(&obs, Arc::make_mut(&mut svc.0));
    let p = plan(&cfg, &obs, std::slice::from_ref(&svc));
    assert!(p.changes.is_empty(), "{:?}", p.changes);

    // A test host with a rolling service, or too many for one rule, is invalid.
    for (tags, key) in [
        (
            vec![
                ("alb.host", "web.example.com"),
                ("alb.deploy", "rolling"),
                ("alb.test-host", "t.example.com"),
            ],
            "alb.test-host",
        ),
        (
            vec![
                ("alb.host", "web.example.com"),
                ("alb.deploy", "canary"),
                (
                    "alb.test-host",
                    "a.example.com b.example.com c.example.com d.example.com",
                ),
            ],
            "alb.test-host",
        ),
    ] {
        let svc = service(&tags);
        let p = plan(&cfg, &observed(), std::slice::from_ref(&svc));
        assert!(p.changes.is_empty(), "{tags:?}");
        let s = &p.services[0];
        assert_eq!(s.state, ServiceState::Invalid, "{tags:?}");
        let named = s.problems.iter().any(|p| p.key.as_deref() == Some(key))
            || s.problems.iter().any(|p| p.reason.contains(key));
        assert!(named, "{tags:?}: {:?}", s.problems);
    }
}

fn retagged(
    svc: &(Arc<EcsService>, ServiceIntent),
    tags: &[(&str, &str)],
) -> (Arc<EcsService>, ServiceIntent) {
    let fresh = service(tags);
    (
        EcsService {
            tags: fresh.0.tags.clone(),
            ..(*svc.0).clone()
        }
        .into(),
        fresh.1,
    )
}

#[test]
fn a_partial_read_leaves_a_service_ecs_deploys_as_it_is() {
    let cfg = config(true);
    let mut obs = observed();
    let mut svc = service(BLUE_GREEN);
    converge(&cfg, &mut obs, &mut svc);
    ecs_flips(&mut obs, Arc::make_mut(&mut svc.0));
    // The flipped-to group's tags could not be read: it does not look like ours.
    let mut partial = obs.clone();
    let (primary, _) = primary_and_alternate(&svc.0);
    partial.target_groups.retain(|g| g.arn != primary);
    partial.failed_reads.push(crate::snapshot::FailedRead {
        service: "elbv2".into(),
        operation: "DescribeTags".into(),
        message: "Rate exceeded".into(),
        zone: None,
    });
    let p = plan(&cfg, &partial, std::slice::from_ref(&svc));
    assert!(p.changes.is_empty(), "{:?}", p.changes);
    assert_eq!(p.services[0].state, ServiceState::Error);
    // Without the failed read on record (a group missing from a targeted pass's view).
    partial.failed_reads.clear();
    let p = plan(&cfg, &partial, std::slice::from_ref(&svc));
    assert!(
        !p.changes.iter().any(|c| matches!(
            c.change,
            Change::ModifyRule { .. } | Change::UpdateServiceLoadBalancers { .. }
        )),
        "{:?}",
        p.changes
    );
}

#[test]
fn with_neither_its_rules_nor_its_groups_read_it_is_not_planned_as_new() {
    // Found by the simulation (seed 27): DescribeRules and DescribeTargetGroups both failed,
    // so nothing of its own was seen; the service was planned as new — a second production
    // rule at a better priority and an entry naming the pair the other way round, which
    // emptied the group serving it.
    let cfg = config(true);
    let mut obs = observed();
    let mut svc = service(BLUE_GREEN);
    converge(&cfg, &mut obs, &mut svc);
    let mut partial = obs.clone();
    partial.target_groups.clear();
    partial.rules.retain(|r| r.is_default());
    for operation in ["DescribeRules", "DescribeTargetGroups"] {
        partial.failed_reads.push(crate::snapshot::FailedRead {
            service: "elbv2".into(),
            operation: operation.into(),
            message: "Service Unavailable".into(),
            zone: None,
        });
    }
    let p = plan(&cfg, &partial, std::slice::from_ref(&svc));
    assert!(p.changes.is_empty(), "{:?}", p.changes);
    assert_eq!(p.services[0].state, ServiceState::Error);
}

#[test]
fn a_settings_change_writes_the_settings_alone() {
    let cfg = config(true);
    let mut obs = observed();
    let mut svc = service(BLUE_GREEN);
    converge(&cfg, &mut obs, &mut svc);
    let mut tags = BLUE_GREEN.to_vec();
    tags[2] = ("alb.bake-minutes", "20");
    svc = retagged(&svc, &tags);
    let p = plan(&cfg, &obs, std::slice::from_ref(&svc));
    let changes: Vec<&Change> = p.changes.iter().map(|c| &c.change).collect();
    assert!(
        matches!(changes.as_slice(), [Change::UpdateServiceDeployment { deployment, .. }] if deployment.bake_minutes == Some(20)),
        "{changes:?}"
    );
}

#[test]
fn back_to_rolling_waits_for_the_deployment_ecs_is_running() {
    let cfg = config(true);
    let mut obs = observed();
    let mut svc = service(BLUE_GREEN);
    converge(&cfg, &mut obs, &mut svc);
    let rolling = [("alb.host", "web.example.com"), ("alb.deploy", "rolling")];
    for shift in [Shift::Both, Shift::Alternate] {
        ecs_shifts(&mut obs, shift);
        let p = plan(&cfg, &obs, &[retagged(&svc, &rolling)]);
        assert!(p.changes.is_empty(), "{shift:?}: {:?}", p.changes);
        let s = &p.services[0];
        assert_eq!(s.state, ServiceState::Pending, "{shift:?}");
        assert!(
            s.waiting.iter().any(|w| w.contains("ECS is deploying it")),
            "{s:?}"
        );
    }
}

#[test]
fn blue_green_waits_for_a_rolling_replacement_to_finish() {
    let cfg = config(true);
    let mut obs = observed();
    let mut svc = service(&[("alb.host", "web.example.com")]);
    converge(&cfg, &mut obs, &mut svc);
    let old = obs.target_groups[0].arn.clone();
    // An immutable change starts a replacement beside the serving group.
    let http2 = [
        ("alb.host", "web.example.com"),
        ("alb.protocol-version", "HTTP2"),
    ];
    svc = retagged(&svc, &http2);
    let p = plan(&cfg, &obs, std::slice::from_ref(&svc));
    apply(&mut obs, Arc::make_mut(&mut svc.0), &p);
    assert_eq!(
        production_rule(&obs).forward_target_groups,
        std::slice::from_ref(&old)
    );
    // alb.deploy set before the new group is healthy: traffic stays on the old group.
    let bg = [
        ("alb.host", "web.example.com"),
        ("alb.protocol-version", "HTTP2"),
        ("alb.deploy", "blue-green"),
    ];
    svc = retagged(&svc, &bg);
    let p = plan(&cfg, &obs, std::slice::from_ref(&svc));
    apply(&mut obs, Arc::make_mut(&mut svc.0), &p);
    assert_eq!(
        production_rule(&obs).forward_target_groups,
        std::slice::from_ref(&old)
    );
    assert!(
        svc.0
            .load_balancers
            .iter()
            .any(|e| e.target_group_arn.as_deref() == Some(old.as_str())),
        "the serving group stays attached: {:?}",
        svc.0.load_balancers
    );
    assert!(obs.target_groups.iter().any(|g| g.arn == old));
}

#[test]
fn a_rule_deleted_during_the_bake_comes_back_on_the_group_with_healthy_targets() {
    use crate::state::{Target, TargetHealth, TargetHealthState};
    let cfg = config(true);
    let mut obs = observed();
    let mut svc = service(BLUE_GREEN);
    converge(&cfg, &mut obs, &mut svc);
    let (primary, alternate) = primary_and_alternate(&svc.0);
    ecs_shifts(&mut obs, Shift::Alternate);
    obs.rules.clear();
    let health = |state| {
        vec![TargetHealth {
            target: Target {
                id: "10.0.0.1".into(),
                port: 80,
            },
            state,
        }]
    };
    // The old tasks failing already, the new ones healthy.
    obs.targets
        .insert(primary.clone(), health(TargetHealthState::Unhealthy));
    obs.targets
        .insert(alternate.clone(), health(TargetHealthState::Healthy));
    let p = plan(&cfg, &obs, std::slice::from_ref(&svc));
    apply(&mut obs, Arc::make_mut(&mut svc.0), &p);
    let rule = production_rule(&obs);
    assert_eq!(rule.forward_target_groups, std::slice::from_ref(&alternate));
    assert_eq!(rule.staged_target_groups, std::slice::from_ref(&primary));
    assert_eq!(
        primary_and_alternate(&svc.0),
        (primary, alternate),
        "the entry is ECS's"
    );
}

/// Another team's entry in a service's `loadBalancers`, without ECS's deployment settings.
fn their_plain_entry() -> LoadBalancerAttachment {
    LoadBalancerAttachment {
        target_group_arn: Some("arn:their-group".into()),
        load_balancer_name: None,
        container_name: Some("web".into()),
        container_port: Some(9000),
        advanced: None,
    }
}

#[test]
fn another_entry_without_ecs_settings_makes_alb_deploy_invalid() {
    let mut svc = service(BLUE_GREEN);
    Arc::make_mut(&mut svc.0)
        .load_balancers
        .push(their_plain_entry());
    let p = plan(&config(true), &observed(), std::slice::from_ref(&svc));
    assert!(p.changes.is_empty(), "{:?}", p.changes);
    let s = &p.services[0];
    assert_eq!(s.state, ServiceState::Invalid);
    assert!(s.problems[0].reason.contains("arn:their-group"), "{s:?}");
}

#[test]
fn what_a_second_review_found_stays_fixed() {
    let cfg = config(true);
    let mut obs = observed();
    let mut svc = service(BLUE_GREEN);
    converge(&cfg, &mut obs, &mut svc);

    // Going back to rolling while ECS reports a deployment, weights still on the primary.
    Arc::make_mut(&mut svc.0).deploying = true;
    let rolling = [("alb.host", "web.example.com"), ("alb.deploy", "rolling")];
    let p = plan(&cfg, &obs, &[retagged(&svc, &rolling)]);
    assert!(p.changes.is_empty(), "{:?}", p.changes);
    assert_eq!(p.services[0].state, ServiceState::Pending);

    // A test host added during a deployment: its rule may come, the entry waits.
    let mut tags = BLUE_GREEN.to_vec();
    tags.push(("alb.test-host", "test.web.example.com"));
    let p = plan(&cfg, &obs, &[retagged(&svc, &tags)]);
    assert!(
        p.changes
            .iter()
            .all(|c| matches!(c.change, Change::CreateRule { .. })),
        "{:?}",
        p.changes
    );
    assert!(
        p.services[0]
            .waiting
            .iter()
            .any(|w| w.contains("ECS is deploying it"))
    );
    Arc::make_mut(&mut svc.0).deploying = false;

    // A rule deleted during a bake comes back on the primary (both groups healthy); after
    // ECS's flip, with no deployment under way, it is repaired onto the new primary.
    ecs_shifts(&mut obs, Shift::Alternate);
    obs.rules.clear();
    let p = plan(&cfg, &obs, std::slice::from_ref(&svc));
    apply(&mut obs, Arc::make_mut(&mut svc.0), &p);
    let (primary, _) = primary_and_alternate(&svc.0);
    assert_eq!(
        production_rule(&obs).forward_target_groups,
        std::slice::from_ref(&primary)
    );
    let entry = &mut Arc::make_mut(&mut svc.0).load_balancers[0];
    let advanced = entry.advanced.as_mut().unwrap();
    std::mem::swap(
        &mut entry.target_group_arn,
        &mut advanced.alternate_target_group_arn,
    );
    let (flipped, _) = primary_and_alternate(&svc.0);
    let p = plan(&cfg, &obs, std::slice::from_ref(&svc));
    apply(&mut obs, Arc::make_mut(&mut svc.0), &p);
    assert_eq!(
        production_rule(&obs).forward_target_groups,
        std::slice::from_ref(&flipped)
    );

    // alb.deploy=rolling beside another team's plain entry is fine.
    let mut plain = service(&rolling);
    Arc::make_mut(&mut plain.0)
        .load_balancers
        .push(their_plain_entry());
    let p = plan(&cfg, &observed(), std::slice::from_ref(&plain));
    assert_ne!(
        p.services[0].state,
        ServiceState::Invalid,
        "{:?}",
        p.services[0]
    );

    // A test host the production hosts already match never gets test traffic.
    let shadowed = service(&[
        ("alb.host", "*.example.com"),
        ("alb.deploy", "blue-green"),
        ("alb.test-host", "test.example.com"),
    ]);
    let p = plan(&cfg, &observed(), std::slice::from_ref(&shadowed));
    assert_eq!(p.services[0].state, ServiceState::Invalid);
    assert_eq!(
        p.services[0].problems[0].key.as_deref(),
        Some("alb.test-host")
    );
}

#[test]
fn an_immutable_change_while_ecs_deploys_it_is_invalid_naming_alb_deploy() {
    // Its groups are kept (ECS deploys between them): the tags are the user's to change,
    // and the simulation held it to being served while it said `error` with no key.
    let cfg = config(true);
    let mut obs = observed();
    let mut svc = service(BLUE_GREEN);
    converge(&cfg, &mut obs, &mut svc);
    let mut tags = BLUE_GREEN.to_vec();
    tags.push(("alb.protocol-version", "HTTP2"));
    let p = plan(&cfg, &obs, &[retagged(&svc, &tags)]);
    assert!(p.changes.is_empty(), "{:?}", p.changes);
    let s = &p.services[0];
    assert_eq!(s.state, ServiceState::Invalid, "{s:?}");
    assert_eq!(s.problems[0].key.as_deref(), Some("alb.deploy"));
    assert!(s.problems[0].reason.contains("alb.deploy=rolling"), "{s:?}");
}

#[test]
fn an_immutable_change_made_with_alb_deploy_is_a_rolling_replacement_first() {
    let cfg = config(true);
    let mut obs = observed();
    let mut svc = service(&[("alb.host", "web.example.com")]);
    converge(&cfg, &mut obs, &mut svc);
    let old = obs.target_groups[0].arn.clone();
    let both = [
        ("alb.host", "web.example.com"),
        ("alb.protocol-version", "HTTP2"),
        ("alb.deploy", "blue-green"),
    ];
    svc = retagged(&svc, &both);
    let p = plan(&cfg, &obs, std::slice::from_ref(&svc));
    assert_ne!(
        p.services[0].state,
        ServiceState::Error,
        "{:?}",
        p.services[0]
    );
    apply(&mut obs, Arc::make_mut(&mut svc.0), &p);
    assert_eq!(
        production_rule(&obs).forward_target_groups,
        std::slice::from_ref(&old)
    );
    assert_eq!(
        svc.0.deployment.strategy,
        DeploymentStrategy::Rolling,
        "not yet"
    );
}

#[test]
fn an_entry_whose_group_was_deleted_by_hand_is_not_kept_in_the_update() {
    // Found by the simulation (pool world, seed 11): the production rule and the primary
    // group deleted by hand, the entry naming it was kept as someone else's, and ECS
    // refused every update that kept it ("target group does not exist"), for ever.
    let cfg = config(true);
    let mut obs = observed();
    let mut svc = service(BLUE_GREEN);
    converge(&cfg, &mut obs, &mut svc);
    let (primary, _) = primary_and_alternate(&svc.0);
    obs.rules.clear();
    obs.target_groups.retain(|g| g.arn != primary);
    let p = plan(&cfg, &obs, std::slice::from_ref(&svc));
    let kept: Vec<&LoadBalancerAttachment> = p
        .changes
        .iter()
        .filter_map(|c| match &c.change {
            Change::UpdateServiceLoadBalancers { load_balancers, .. } => Some(load_balancers),
            _ => None,
        })
        .flatten()
        .filter_map(|e| match e {
            AttachmentEntry::Keep(lb) => Some(lb),
            AttachmentEntry::Ours { .. } => None,
        })
        .collect();
    assert!(kept.is_empty(), "{kept:?}");
    apply(&mut obs, Arc::make_mut(&mut svc.0), &p);
    converge(&cfg, &mut obs, &mut svc);
    let existing = |arn: &Option<String>| {
        arn.as_ref()
            .is_some_and(|a| obs.target_groups.iter().any(|g| g.arn == *a))
    };
    assert!(
        svc.0
            .load_balancers
            .iter()
            .all(|lb| existing(&lb.target_group_arn)),
        "{:?}",
        svc.0.load_balancers
    );
}

#[test]
fn while_ecs_deploys_a_rule_with_another_host_and_action_gets_its_host_now_and_its_action_later() {
    // Found by the simulation (pool world with listener loss, month runs of seeds 2 and 3):
    // a service retagged onto a host of its own while ECS deployed it kept a rule for its
    // old host and action; the whole rewrite waited for the deployment, so no change was
    // planned for its rules, and its new name was published for a host no rule routed.
    let cfg = config(true);
    let mut obs = observed();
    let mut svc = service(BLUE_GREEN);
    converge(&cfg, &mut obs, &mut svc);
    let (primary, _) = primary_and_alternate(&svc.0);
    let rule = obs
        .rules
        .iter_mut()
        .find(|r| crate::ownership::resource_of(&r.tags) == Some("rule-0"))
        .expect("a production rule");
    rule.hosts = vec!["shared.example.com".into()];
    rule.paths = vec!["/web/*".into()];
    rule.forward_target_groups = vec![primary.into()];
    rule.staged_target_groups.clear();
    Arc::make_mut(&mut svc.0).deploying = true;
    let p = plan(&cfg, &obs, std::slice::from_ref(&svc));
    let rule_changes: Vec<&Change> = p
        .changes
        .iter()
        .map(|c| &c.change)
        .filter(|c| {
            matches!(
                c,
                Change::ModifyRule { .. } | Change::ModifyRuleConditions { .. }
            )
        })
        .collect();
    assert!(
        matches!(
            rule_changes.as_slice(),
            [Change::ModifyRuleConditions { hosts, paths, .. }]
                if hosts == &["web.example.com"] && paths.is_empty()
        ),
        "{rule_changes:?}"
    );
    // Once ECS is done, the action is set back too.
    apply(&mut obs, Arc::make_mut(&mut svc.0), &p);
    Arc::make_mut(&mut svc.0).deploying = false;
    let p = plan(&cfg, &obs, std::slice::from_ref(&svc));
    assert!(
        p.changes
            .iter()
            .any(|c| matches!(c.change, Change::ModifyRule { .. })),
        "{:?}",
        p.changes
    );
}
