//! The arbitration stage alone: one table row per way a candidate loses.

use super::*;
use crate::model::ServiceIntent;
use crate::ownership::Ownership;
use crate::plan::desired::desired_service;
use crate::plan::fixtures::{bare_group, load_balancer};
use crate::plan::settings::{Policy, PriorityRange};
use crate::state::{EcsService, LoadBalancer};
use std::sync::Arc;

fn config() -> PlanConfig {
    PlanConfig {
        ownership: Ownership::new("ecs-ingress"),
        pools: Default::default(),
        clusters: vec!["main".into()],
        priority_range: PriorityRange {
            low: 1000,
            high: 49_999,
        },
        policy: Policy::Sync,
        hosted_zones: vec![],
        cloudmap_namespaces: vec![],
        ecs_infrastructure_role_arn: None,
        max_certificates_per_alb: None,
    }
}

fn service(name: &str, tags: &[(&str, &str)]) -> (Arc<EcsService>, ServiceIntent) {
    crate::plan::fixtures::tagged_service(name, tags)
}

fn location(lb: &LoadBalancer) -> crate::plan::desired::Location<'_> {
    crate::plan::desired::Location {
        listener_arn: "listener",
        load_balancer: lb,
        home: true,
    }
}

fn candidates<'a>(
    services: &'a [(Arc<EcsService>, ServiceIntent)],
    lb: &'a LoadBalancer,
) -> Vec<Candidate<'a>> {
    services
        .iter()
        .map(|(s, i)| {
            let ServiceIntent::Publish { intent, .. } = i else {
                panic!("{i:?}");
            };
            Candidate {
                desired: desired_service(
                    &Ownership::new("ecs-ingress"),
                    s,
                    intent,
                    crate::plan::desired::PoolScope {
                        pool: "default".into(),
                        claim_scope: "default".into(),
                    },
                    location(lb),
                    crate::plan::desired::GroupSettings::of(intent),
                ),
                warnings: vec![],
                choices: vec![location(lb)],
                pinned: false,
            }
        })
        .collect()
}

fn states(a: &Arbitration<'_>) -> Vec<(String, ServiceState, String)> {
    a.statuses
        .iter()
        .map(|s| {
            (
                s.service.clone(),
                s.state,
                s.problems
                    .first()
                    .map(|p| p.reason.clone())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn each_way_of_losing_gives_its_state_and_reason() {
    let lb = load_balancer(false, "lb.example");
    let foreign_group = bare_group("arn:tg/foreign", &[]);
    // (the services in age order, the snapshot's rule quota, a hand-made group taking the
    // younger one's name, the expected states)
    type Row<'a> = (
        &'a [(&'a str, &'a [(&'a str, &'a str)])],
        Option<usize>,
        bool,
        &'a [(ServiceState, &'a str)],
    );
    let rows: &[Row<'_>] = &[
        (
            &[
                ("old", &[("alb.host", "h.example.com")]),
                ("young", &[("alb.host", "h.example.com")]),
            ],
            None,
            false,
            &[
                (ServiceState::Published, ""),
                (
                    ServiceState::Conflict,
                    "already routed by older service main/old",
                ),
            ],
        ),
        (
            &[
                (
                    "old",
                    &[("alb.host", "a.example.com"), ("alb.priority", "7")],
                ),
                (
                    "young",
                    &[("alb.host", "b.example.com"), ("alb.priority", "7")],
                ),
            ],
            None,
            false,
            &[
                (ServiceState::Published, ""),
                (
                    ServiceState::Conflict,
                    "priority 7 is already used by older service main/old",
                ),
            ],
        ),
        (
            &[
                ("old", &[("alb.host", "a.example.com")]),
                ("young", &[("alb.host", "b.example.com")]),
            ],
            Some(1),
            false,
            &[
                (ServiceState::Published, ""),
                (
                    ServiceState::Quota,
                    "would have 2 rules across its listeners, over its quota of 1",
                ),
            ],
        ),
        (
            &[
                ("old", &[("alb.host", "a.example.com")]),
                ("young", &[("alb.host", "b.example.com")]),
            ],
            None,
            true,
            &[
                (ServiceState::Published, ""),
                (
                    ServiceState::Conflict,
                    "exists but is not owned by ecs-ingress",
                ),
            ],
        ),
    ];
    for (i, (services, quota, foreign, want)) in rows.iter().enumerate() {
        let services: Vec<_> = services.iter().map(|(n, t)| service(n, t)).collect();
        let candidates = candidates(&services, &lb);
        let mut snapshot = Snapshot {
            rules_quota: *quota,
            ..Snapshot::default()
        };
        if *foreign {
            snapshot.target_groups.push(TargetGroup {
                name: candidates[1].desired.target_group.name.clone(),
                ..foreign_group.clone()
            });
        }
        let config = config();
        let owned = Owned::new(&config.ownership, &snapshot);
        let a = arbitrate(&config, &snapshot, &owned, candidates);
        let got = states(&a);
        assert_eq!(got.len(), want.len(), "row {i}");
        for ((_, state, reason), (want_state, want_reason)) in got.iter().zip(want.iter()) {
            assert_eq!(state, want_state, "row {i}: {got:?}");
            assert!(reason.contains(want_reason), "row {i}: {reason}");
        }
        assert_eq!(a.winners.len(), 1, "row {i}");
        assert!(
            a.kept.contains(services[1].0.arn.as_str()),
            "row {i}: the loser keeps what it has"
        );
    }
}

#[test]
fn each_group_counts_once_on_each_of_its_albs() {
    let group = bare_group;
    let observed = Snapshot {
        target_groups: vec![
            group("g1", &["lb-1"]),
            group("g2", &["lb-1", "lb-2", "lb-1"]),
            group("g3", &["lb-2"]),
            group("g4", &[]),
        ],
        ..Snapshot::default()
    };
    let counts = observed.target_groups_per_load_balancer();
    assert_eq!(counts.get("lb-1"), Some(&2));
    assert_eq!(counts.get("lb-2"), Some(&2));
    assert_eq!(counts.len(), 2);
}

#[test]
fn a_younger_service_loses_any_pair_its_elder_routes_in_any_of_its_rules() {
    let lb = load_balancer(false, "lb.example");
    let many = |prefix: &str, n: usize, suffix: &str| {
        (0..n)
            .map(|i| format!("{prefix}{i}{suffix}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let seven_hosts = many("h", 7, ".example.com");
    let four_hosts = many("h", 4, ".example.com");
    let six_paths = many("/p", 6, "");
    // (the elder's tags, split over several rules; the younger one's; whether it loses)
    type Row<'a> = (&'a [(&'a str, &'a str)], &'a [(&'a str, &'a str)], bool);
    let rows: &[Row<'_>] = &[
        (
            &[("alb.host", &seven_hosts)],
            &[("alb.host", "h6.example.com")],
            true,
        ),
        (
            &[("alb.host", &seven_hosts)],
            &[("alb.host", "h0.example.com")],
            true,
        ),
        (
            &[("alb.host", &seven_hosts)],
            &[("alb.host", "h6.example.com"), ("alb.path", "/api")],
            false,
        ),
        (
            &[("alb.host", &seven_hosts)],
            &[("alb.host", "h7.example.com")],
            false,
        ),
        (
            &[("alb.host", &four_hosts), ("alb.path", &six_paths)],
            &[("alb.host", "h3.example.com"), ("alb.path", "/p5")],
            true,
        ),
        (
            &[("alb.host", &four_hosts), ("alb.path", &six_paths)],
            &[("alb.host", "h3.example.com")],
            false,
        ),
    ];
    for (i, (elder, younger, loses)) in rows.iter().enumerate() {
        let services = [service("old", elder), service("young", younger)];
        let candidates = candidates(&services, &lb);
        assert!(
            candidates[0].desired.rules.len() > 1,
            "row {i}: the elder's conditions are split"
        );
        let (snapshot, config) = (Snapshot::default(), config());
        let owned = Owned::new(&config.ownership, &snapshot);
        let a = arbitrate(&config, &snapshot, &owned, candidates);
        let got = states(&a);
        assert_eq!(got[0].1, ServiceState::Published, "row {i}: {got:?}");
        let want = if *loses {
            ServiceState::Conflict
        } else {
            ServiceState::Published
        };
        assert_eq!(got[1].1, want, "row {i}: {got:?}");
    }
}
