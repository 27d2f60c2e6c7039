use super::*;
use crate::state::{Listener, LoadBalancer, Rule, Tags};

use super::fixtures::{LB, LISTENER, one_alb as observed};

fn config(policy: Policy) -> PlanConfig {
    super::fixtures::plan_config(policy, None)
}

fn service(name: &str, host: Option<&str>) -> (Arc<EcsService>, ServiceIntent) {
    let tags: Vec<(&str, &str)> = host.map(|h| ("alb.host", h)).into_iter().collect();
    super::fixtures::tagged_service(name, &tags)
}

fn foreign_rule(host: &str, priority: u32) -> Rule {
    Rule {
        arn: format!("arn:rule/{priority}").into(),
        listener_arn: LISTENER.into(),
        priority: Some(priority),
        hosts: vec![host.into()],
        paths: vec![],
        other_conditions: 0,
        forward_target_groups: vec!["tg".into()],
        staged_target_groups: vec![],
        weights: Default::default(),
        other_actions: 0,
        tags: Tags::new(),
    }
}

fn owned_rule(cfg: &PlanConfig, service_arn: &str, priority: u32) -> Rule {
    Rule {
        tags: cfg.ownership.tags(service_arn, "rule-0"),
        arn: format!("arn:owned-rule/{priority}").into(),
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
        zone: None,
    });
    let p = plan(&cfg, &obs, &[]);
    assert!(p.changes.is_empty());
    assert_eq!(p.held_back.len(), 1);
    assert!(p.problems[0].contains("a read failed"));
}

#[test]
fn a_new_group_is_created_with_its_owner_service_and_time() {
    let cfg = config(Policy::Sync);
    let mut obs = observed();
    obs.read_at = 1_700_000_000;
    let svc = service("a", Some("a.example.com"));
    let p = plan(&cfg, &obs, std::slice::from_ref(&svc));
    let tags = p
        .changes
        .iter()
        .find_map(|c| match &c.change {
            Change::CreateTargetGroup { spec, .. } => Some(spec.tags.clone()),
            _ => None,
        })
        .expect("a group for a fresh service");
    assert!(cfg.ownership.owns(&tags), "{tags:?}");
    assert_eq!(
        crate::ownership::service_of(&tags),
        Some(svc.0.arn.as_str())
    );
    assert_eq!(tags.get(crate::ownership::CREATED_TAG), Some("1700000000"));
}

#[test]
fn with_neither_its_rules_nor_the_groups_read_a_published_service_is_not_planned_as_new() {
    // Found by the simulation (seed 56): DescribeRules and DescribeTargetGroups both failed,
    // so nothing of a published service showed but its entry. Planned as new, it got a rule
    // at a better priority to an empty group, and an entry that dropped the serving group.
    let cfg = config(Policy::Sync);
    let mut obs = observed();
    let mut svc = service("a", Some("a.example.com"));
    let first = plan(&cfg, &obs, std::slice::from_ref(&svc));
    assert!(
        first
            .changes
            .iter()
            .any(|c| matches!(c.change, Change::CreateTargetGroup { .. })),
        "published from a complete read: {:?}",
        touched(&first)
    );
    // What the first pass made: its group is in the entry; the rest was not read.
    Arc::make_mut(&mut svc.0).load_balancers = vec![crate::state::LoadBalancerAttachment {
        target_group_arn: Some(
            "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/ei-a-0a1b2c3d4e5f/1".into(),
        ),
        load_balancer_name: None,
        container_name: Some("web".into()),
        container_port: Some(80),
        advanced: None,
    }];
    obs.target_groups_complete = false;
    for operation in ["DescribeRules", "DescribeTargetGroups"] {
        obs.failed_reads.push(crate::snapshot::FailedRead {
            service: "elbv2".into(),
            operation: operation.into(),
            message: "Service Unavailable".into(),
            zone: None,
        });
    }
    let p = plan(&cfg, &obs, std::slice::from_ref(&svc));
    assert!(p.changes.is_empty(), "{:?}", touched(&p));
    assert_eq!(p.services[0].state, ServiceState::Error);
    assert!(
        p.services[0].problems[0]
            .reason
            .contains("target groups could not be read"),
        "{:?}",
        p.services[0].problems
    );
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
    Arc::make_mut(&mut young.0).created_at = Some(200);
    let mut old = service("z-old", Some("shared.example.com"));
    Arc::make_mut(&mut old.0).created_at = Some(100);
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

/// Moves between ALBs: a service whose rule is on listener `OLD` (ALB `OLD_LB`) and whose
/// intent places it on `LISTENER` (ALB `LB`).
mod moves {
    use super::*;
    use crate::state::{Target, TargetGroup, TargetHealth, TargetHealthState};

    const OLD: &str = "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/old/3/4";
    const OLD_LB: &str = "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/old/3";
    const OLD_GROUP: &str = "arn:tg/old";
    const NEW_GROUP: &str = "arn:tg/new";

    /// `old_configured`: the old listener is still given (as `other`); else it left the
    /// flags. `new_group`: the service's group on the new ALB exists, with `healthy` targets.
    fn moving(
        old_configured: bool,
        new_group: Option<bool>,
    ) -> (PlanConfig, Snapshot, (Arc<EcsService>, ServiceIntent)) {
        let mut cfg = config(Policy::Sync);
        if old_configured {
            cfg.pools.members.insert("other".into(), vec![OLD.into()]);
        }
        let mut svc = service("a", Some("a.example.com"));
        let mut obs = observed();
        // The group's name a single listener gives, from the plan of a fresh service.
        let fresh = plan(&cfg, &obs, std::slice::from_ref(&svc));
        let plain = fresh
            .changes
            .iter()
            .find_map(|c| match &c.change {
                Change::CreateTargetGroup { spec, .. } => Some(spec.clone()),
                _ => None,
            })
            .expect("a group for a fresh service");
        obs.listeners.insert(
            OLD.into(),
            Listener {
                arn: OLD.into(),
                load_balancer_arn: OLD_LB.into(),
                port: Some(80),
                protocol: Some("HTTP".into()),
            },
        );
        obs.load_balancers.insert(
            OLD_LB.into(),
            LoadBalancer {
                arn: OLD_LB.into(),
                dns_name: "old.example".into(),
                ..obs.load_balancers[LB].clone()
            },
        );
        if !old_configured {
            obs.departed_listeners.insert(OLD.into());
        }
        let service_arn = svc.0.arn.clone();
        let group = |arn: &str, name: &str, lb: &str| TargetGroup {
            arn: arn.into(),
            name: name.into(),
            protocol: "HTTP".into(),
            protocol_version: Some("HTTP1".into()),
            port: plain.port,
            target_type: "ip".into(),
            vpc_id: plain.vpc_id.as_str().into(),
            health_check: crate::state::HealthCheck::clone(&plain.health_check),
            load_balancer_arns: vec![lb.into()],
            tags: cfg.ownership.tags(&service_arn, "target-group"),
            attributes: plain.attributes.clone(),
        };
        obs.target_groups
            .push(group(OLD_GROUP, &plain.name, OLD_LB));
        obs.target_groups_complete = true;
        let mut rule = owned_rule(&cfg, &svc.0.arn, 1010);
        rule.listener_arn = OLD.into();
        rule.hosts = vec!["a.example.com".into()];
        rule.forward_target_groups = vec![OLD_GROUP.into()];
        obs.rules.push(rule);
        let entry = |arn: &str| crate::state::LoadBalancerAttachment {
            target_group_arn: Some(arn.into()),
            load_balancer_name: None,
            container_name: Some("web".into()),
            container_port: Some(80),
            advanced: None,
        };
        Arc::make_mut(&mut svc.0).load_balancers = vec![entry(OLD_GROUP)];
        if let Some(healthy) = new_group {
            // Created by an earlier pass under the ALB's own name, with its own rule.
            let desired = plan(&cfg, &obs, std::slice::from_ref(&svc));
            let name = desired
                .changes
                .iter()
                .find_map(|c| match &c.change {
                    Change::CreateTargetGroup { spec, .. } => Some(spec.name.clone()),
                    _ => None,
                })
                .expect("the move creates a group");
            obs.target_groups.push(group(NEW_GROUP, &name, LB));
            let mut rule = owned_rule(&cfg, &svc.0.arn, 1000);
            rule.arn = "arn:owned-rule/new".into();
            rule.hosts = vec!["a.example.com".into()];
            rule.forward_target_groups = vec![NEW_GROUP.into()];
            obs.rules.push(rule);
            Arc::make_mut(&mut svc.0)
                .load_balancers
                .push(entry(NEW_GROUP));
            obs.targets.insert(
                NEW_GROUP.into(),
                vec![TargetHealth {
                    target: Target {
                        id: "10.0.0.1".into(),
                        port: 80,
                    },
                    state: if healthy {
                        TargetHealthState::Healthy
                    } else {
                        TargetHealthState::Initial
                    },
                }],
            );
        }
        (cfg, obs, svc)
    }

    fn kinds(p: &Plan) -> Vec<String> {
        touched(p)
            .iter()
            .map(|c| {
                c.split([' ', '{', '('])
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn every_move_gets_a_second_group_and_keeps_the_old_until_the_new_serves() {
        for old_configured in [true, false] {
            let case = if old_configured { "retag" } else { "departed" };
            // First pass: a new group under another name, a rule on the new ALB, both
            // groups attached; nothing of the old ALB goes.
            let (cfg, obs, svc) = moving(old_configured, None);
            let p = plan(&cfg, &obs, std::slice::from_ref(&svc));
            let created = p.changes.iter().find_map(|c| match &c.change {
                Change::CreateTargetGroup { spec, .. } => Some(spec.name.clone()),
                _ => None,
            });
            let old_name = &obs.target_groups[0].name;
            assert!(
                created.as_ref().is_some_and(|n| n != old_name),
                "{case}: {created:?}"
            );
            let k = kinds(&p);
            assert!(k.contains(&"CreateRule".to_string()), "{case}: {k:?}");
            assert!(!k.iter().any(|c| c.starts_with("Delete")), "{case}: {k:?}");
            let waiting = &p.services[0].waiting;
            assert!(
                waiting
                    .iter()
                    .any(|w| w.contains("moving from load balancer")),
                "{case}: {waiting:?}"
            );
            assert_eq!(
                waiting
                    .iter()
                    .any(|w| w.contains("no longer given with --listener")),
                !old_configured,
                "{case}: {waiting:?}"
            );
            // The new group not healthy yet: the old rule and group stay.
            let (cfg, obs, svc) = moving(old_configured, Some(false));
            let p = plan(&cfg, &obs, std::slice::from_ref(&svc));
            assert!(
                !kinds(&p).iter().any(|c| c.starts_with("Delete")),
                "{case}: {:?}",
                kinds(&p)
            );
            // Healthy, and no managed name to drain: the old rule, entry and group go.
            let (cfg, obs, svc) = moving(old_configured, Some(true));
            let p = plan(&cfg, &obs, std::slice::from_ref(&svc));
            let k = kinds(&p);
            for wanted in [
                "DeleteRule",
                "UpdateServiceLoadBalancers",
                "DeleteTargetGroup",
            ] {
                assert!(k.contains(&wanted.to_string()), "{case}: {k:?}");
            }
            assert!(
                !k.contains(&"CreateTargetGroup".to_string()),
                "{case}: {k:?}"
            );
            // The same after a failed read, with the new group not attached yet (so the
            // update adds it): nothing goes, and the old group's entry stays beside it.
            let (cfg, mut obs, mut svc) = moving(old_configured, Some(true));
            Arc::make_mut(&mut svc.0)
                .load_balancers
                .retain(|e| e.target_group_arn.as_deref() != Some(NEW_GROUP));
            obs.failed_reads.push(crate::snapshot::FailedRead {
                service: "elbv2".into(),
                operation: "DescribeRules".into(),
                message: "Rate exceeded".into(),
                zone: None,
            });
            let p = plan(&cfg, &obs, std::slice::from_ref(&svc));
            assert!(
                !kinds(&p).iter().any(|c| c.starts_with("Delete")),
                "{case}: {:?}",
                kinds(&p)
            );
            let attached: Vec<&AttachmentEntry> = p
                .changes
                .iter()
                .find_map(|c| match &c.change {
                    Change::UpdateServiceLoadBalancers { load_balancers, .. } => {
                        Some(load_balancers.iter().collect())
                    }
                    _ => None,
                })
                .expect("the new group is attached");
            assert!(
                attached.iter().any(|e| matches!(
                    e,
                    AttachmentEntry::Keep(lb) if lb.target_group_arn.as_deref() == Some(OLD_GROUP)
                )),
                "{case}: the serving group's entry was dropped: {attached:?}"
            );
        }
    }
}

#[test]
fn a_service_ecs_deploys_itself_is_left_as_it_is_and_foreign_blue_green_entries_survive() {
    use crate::state::{AdvancedConfiguration, DeploymentStrategy, LoadBalancerAttachment};
    let cfg = config(Policy::Sync);
    // The account's groups unread: every foreign entry's group counts as existing.
    let obs = observed();
    // The team's own blue/green pair on another service's entry, kept as read.
    let foreign = LoadBalancerAttachment {
        target_group_arn: Some("arn:their-blue".into()),
        load_balancer_name: None,
        container_name: Some("sidecar".into()),
        container_port: Some(9000),
        advanced: Some(AdvancedConfiguration {
            alternate_target_group_arn: Some("arn:their-green".into()),
            production_listener_rule: Some("arn:their-rule".into()),
            test_listener_rule: None,
            role_arn: Some("arn:aws:iam::1:role/ecs-lb".into()),
        }),
    };
    // (strategy, the foreign entry on the service, what happens)
    let cases = [
        (DeploymentStrategy::BlueGreen, false, "left as it is"),
        (DeploymentStrategy::Canary, false, "left as it is"),
        (
            DeploymentStrategy::Other("NEW_ONE".into()),
            false,
            "left as it is",
        ),
        (
            DeploymentStrategy::Rolling,
            true,
            "published, the entry kept whole",
        ),
    ];
    for (strategy, with_foreign, case) in cases {
        let mut svc = service("a", Some("a.example.com"));
        Arc::make_mut(&mut svc.0).deployment.strategy = strategy.clone();
        if with_foreign {
            Arc::make_mut(&mut svc.0).load_balancers = vec![foreign.clone()];
        }
        let p = plan(&cfg, &obs, std::slice::from_ref(&svc));
        let status = &p.services[0];
        if strategy == DeploymentStrategy::Rolling {
            assert_eq!(status.state, ServiceState::Pending, "{case}: {status:?}");
            let kept = p.changes.iter().find_map(|c| match &c.change {
                Change::UpdateServiceLoadBalancers { load_balancers, .. } => {
                    load_balancers.iter().find_map(|e| match e {
                        AttachmentEntry::Keep(lb) => Some(lb.clone()),
                        AttachmentEntry::Ours { .. } => None,
                    })
                }
                _ => None,
            });
            assert_eq!(kept.as_ref(), Some(&foreign), "{case}");
        } else {
            assert!(p.changes.is_empty(), "{case}: {:?}", p.changes);
            assert_eq!(status.state, ServiceState::Invalid, "{case}");
            assert_eq!(
                status.problems[0].key.as_deref(),
                Some("alb.deploy"),
                "{case}"
            );
            assert!(
                status.problems[0].reason.contains(strategy.as_str()),
                "{case}: {}",
                status.problems[0].reason
            );
        }
    }
}

#[test]
fn a_withdrawal_drops_an_entry_naming_a_group_of_ours_deleted_by_hand() {
    // Found by the simulation (listener loss, seed 5): a group freed by its listener's
    // deletion was deleted by hand; the withdrawal kept the entry naming it, and ECS refused
    // every update that kept it, for ever.
    let cfg = config(Policy::Sync);
    let (mut svc, intent) = service("a", None);
    let dead = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/ei-a-0123456789ab/1";
    let entry = |arn: &str| crate::state::LoadBalancerAttachment {
        target_group_arn: Some(arn.into()),
        load_balancer_name: None,
        container_name: Some("app".into()),
        container_port: Some(8080),
        advanced: None,
    };
    Arc::make_mut(&mut svc).load_balancers = vec![entry(dead)];
    for complete in [true, false] {
        let mut obs = observed();
        obs.target_groups_complete = complete;
        obs.rules.push(owned_rule(&cfg, &svc.arn, 1010));
        let p = plan(&cfg, &obs, &[(svc.clone(), intent.clone())]);
        let update = p.changes.iter().find_map(|c| match &c.change {
            Change::UpdateServiceLoadBalancers { load_balancers, .. } => Some(load_balancers),
            _ => None,
        });
        if complete {
            assert_eq!(update.map(Vec::len), Some(0), "{:?}", touched(&p));
        } else {
            // Unread, the group may still be there: the entry is left as it is.
            assert!(update.is_none(), "{:?}", touched(&p));
        }
    }
}

#[test]
fn a_cluster_is_watched_by_name_or_by_arn_and_never_by_a_longer_name_ending_in_it() {
    let mut config = config(Policy::Sync);
    config.clusters = vec![
        "main".into(),
        "arn:aws:ecs:eu-west-1:111122223333:cluster/payments".into(),
    ];
    let arn = |cluster: &str| format!("arn:aws:ecs:eu-west-1:111122223333:service/{cluster}/api");
    let table = [
        ("main", true),
        ("payments", true),
        ("domain", false),
        ("team-payments", false),
        ("other", false),
    ];
    for (cluster, expected) in table {
        assert_eq!(
            watched(&config, &arn(cluster)),
            expected,
            "cluster {cluster}"
        );
    }
    assert!(!watched(
        &config,
        "arn:aws:ecs:eu-west-1:111122223333:service/api"
    ));
    // Another partition's ARN names its cluster in the same place.
    assert!(watched(
        &config,
        "arn:aws-cn:ecs:cn-north-1:111122223333:service/main/api"
    ));
    // Malformed ARNs (an owned resource's tag names its service) as a split at every
    // `:service/` reads them: whatever follows the first, up to a `/` before the next.
    for (arn, cluster) in [
        ("x:service/main/api", Some("main")),
        ("arn:aws:ecs:r:1:2:service/main/api", Some("main")),
        ("arn:aws:service/x:r:1:service/main/api", None),
        (
            "arn:aws:ecs:r:service/other/x:service/main/api",
            Some("other"),
        ),
        ("arn:aws:ecs:r:1:service/x:service/main/api", None),
    ] {
        assert_eq!(cluster_of_service_arn(arn), cluster, "{arn}");
    }
    // No cluster is read from what is not a service's ARN.
    for not_a_service in [
        "arn:aws:ecs:eu-west-1:111122223333:task/main/0123",
        "main/api",
        "",
    ] {
        assert!(!watched(&config, not_a_service), "{not_a_service}");
    }
}

proptest::proptest! {
    /// Any string, however malformed (an owned resource's tag names its service), gets the
    /// cluster a split at every `:service/` gives.
    #[test]
    fn a_service_arns_cluster_is_what_follows_its_first_service_part(
        arn in "(arn:aws:ecs:r:1|:service/|service/|:service|:|/|main|x){0,8}"
    ) {
        let split = arn
            .split(":service/")
            .nth(1)
            .and_then(|piece| piece.split_once('/'))
            .map(|(cluster, _)| cluster);
        proptest::prop_assert_eq!(cluster_of_service_arn(&arn), split);
    }
}

#[test]
fn a_service_read_twice_is_one_service_even_when_its_copies_sort_apart() {
    // Two reads of one service (a cluster named twice) that disagree on its creation time,
    // with another service created in between: still one service, never its own rival,
    // with one status.
    let cfg = config(Policy::Sync);
    let obs = observed();
    let (mut early, intent) = service("a", Some("a.example.com"));
    Arc::make_mut(&mut early).created_at = Some(100);
    let late = EcsService {
        created_at: Some(300),
        ..(*early).clone()
    };
    let (mut between, between_intent) = service("b", Some("b.example.com"));
    Arc::make_mut(&mut between).created_at = Some(200);
    let p = plan(
        &cfg,
        &obs,
        &[
            (late.into(), intent.clone()),
            (between, between_intent),
            (early, intent),
        ],
    );
    let statuses: Vec<(&str, ServiceState)> = p
        .services
        .iter()
        .map(|s| (s.service.as_str(), s.state))
        .collect();
    assert_eq!(
        statuses,
        [("a", ServiceState::Pending), ("b", ServiceState::Pending)],
        "{:?}",
        p.services
    );
    let created: usize = p
        .changes
        .iter()
        .filter(|c| matches!(c.change, Change::CreateTargetGroup { .. }))
        .count();
    assert_eq!(created, 2, "{:?}", touched(&p));
}
