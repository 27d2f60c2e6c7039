use super::*;
use crate::ownership::marker::parse_marker;

const OWNER: &str = "ecs-ingress";

fn zone(id: &str, name: &str) -> HostedZone {
    HostedZone {
        id: id.into(),
        name: name.into(),
    }
}

fn lb(dualstack: bool) -> LoadBalancer {
    super::super::fixtures::load_balancer(dualstack, "internal-lb-1.us-east-1.elb.amazonaws.com")
}

fn service(name: &str) -> EcsService {
    super::super::fixtures::ecs_service(name)
}

fn dns(record_type: DnsType, names: Option<&[&str]>, zone: Option<&str>) -> DnsIntent {
    DnsIntent {
        names: names.map(|n| n.iter().map(|s| s.to_string()).collect()),
        record_type,
        ttl: 60,
        zone: zone.map(str::to_string),
    }
}

fn record(name: &str, t: &str, value: &str) -> RecordSet {
    RecordSet {
        name: name.into(),
        record_type: t.into(),
        ttl: Some(300),
        values: vec![value.into()],
        alias: None,
        set_identifier: None,
    }
}

/// How a winner serves its name's ALB: its rule ready, its targets healthy, a rule of its
/// own routing the name there already.
#[derive(Clone, Copy)]
struct Serving {
    ready: bool,
    healthy: bool,
    routed_here: bool,
}

struct Case {
    zones: Vec<HostedZone>,
    records: BTreeMap<String, Vec<RecordSet>>,
}

impl Case {
    fn new() -> Self {
        let zones = vec![
            zone("ZIN", "in.example.com"),
            zone("ZAPI", "api.in.example.com"),
        ];
        let records = zones.iter().map(|z| (z.id.clone(), Vec::new())).collect();
        Self { zones, records }
    }

    fn plan<'w>(
        &self,
        winners: &'w [(EcsService, DnsIntent, Vec<String>, LoadBalancer)],
    ) -> DnsPlan<'w> {
        let ws: Vec<DnsWinner<'_>> = winners
            .iter()
            .map(|(s, d, h, l)| DnsWinner {
                service: s,
                dns: d,
                hosts: h,
                load_balancer: l,
                ready: true,
                healthy: true,
                routed_here: true,
                rules_read: true,
            })
            .collect();
        plan_dns(
            &Ownership::new(OWNER),
            &self.zones,
            &self.records,
            &ws,
            &|_| false,
            0,
        )
    }

    /// A case where service `name` holds `h.in.example.com` (an alias) on the first ALB.
    fn holding(name: &str) -> Self {
        let mut case = Self::new();
        let first = vec![(
            service(name),
            dns(DnsType::Alias, None, None),
            hosts(&["h.in.example.com"]),
            lb(false),
        )];
        let plan = case.plan(&first);
        case.apply(&plan);
        case
    }

    /// The plan for one winner on `at`, ready (and healthy) or not, at time `now`.
    fn plan_one<'w>(
        &self,
        winner: (&'w EcsService, &'w DnsIntent, &'w [String]),
        at: &'w LoadBalancer,
        ready: bool,
        now: i64,
    ) -> DnsPlan<'w> {
        let serving = Serving {
            ready,
            healthy: ready,
            routed_here: ready,
        };
        self.plan_serving(winner, at, serving, now)
    }

    /// The plan for one winner on `at` that serves as `serving` says, at time `now`.
    fn plan_serving<'w>(
        &self,
        (service, dns, hosts): (&'w EcsService, &'w DnsIntent, &'w [String]),
        at: &'w LoadBalancer,
        serving: Serving,
        now: i64,
    ) -> DnsPlan<'w> {
        let ws = [DnsWinner {
            service,
            dns,
            hosts,
            load_balancer: at,
            ready: serving.ready,
            healthy: serving.healthy,
            routed_here: serving.routed_here,
            rules_read: true,
        }];
        plan_dns(
            &Ownership::new(OWNER),
            &self.zones,
            &self.records,
            &ws,
            &|_| false,
            now,
        )
    }

    /// Applies the plan's record changes to the zones (as Route 53 would).
    fn apply(&mut self, plan: &DnsPlan<'_>) {
        for c in &plan.changes {
            let zone = match &c.change {
                Change::UpsertRecords { zone_id, .. } | Change::DeleteRecords { zone_id, .. } => {
                    zone_id.clone()
                }
                _ => continue,
            };
            let records = self.records.entry(zone).or_default();
            for change in c.change.record_changes() {
                apply_change(records, change);
            }
        }
    }
}

/// One record change as Route 53 takes it: a delete must name the record exactly as it is
/// (else the whole batch is refused), an upsert replaces the set of that name and type.
/// (The fake AWS enforces the same, and more, in the edge crate's tests.)
fn apply_change(records: &mut Vec<RecordSet>, change: crate::state::RecordChange) {
    use crate::state::RecordChange;
    match change {
        RecordChange::Delete(r) => {
            let i = records
                .iter()
                .position(|x| *x == r)
                .unwrap_or_else(|| panic!("Route 53 refuses to delete {r:?}: not as it is"));
            records.remove(i);
        }
        RecordChange::Upsert(r) => {
            records.retain(|x| !(x.name == r.name && x.record_type == r.record_type));
            records.push(r);
        }
    }
}

fn hosts(h: &[&str]) -> Vec<String> {
    h.iter().map(|s| s.to_string()).collect()
}

#[test]
fn zone_selection_takes_the_longest_suffix_or_the_override() {
    let zones = vec![
        zone("ZIN", "in.example.com"),
        zone("ZAPI", "api.in.example.com"),
    ];
    let cases: &[(&str, Option<&str>, Option<&str>)] = &[
        ("service-a.in.example.com", None, Some("ZIN")),
        ("x.api.in.example.com", None, Some("ZAPI")),
        ("api.in.example.com", None, Some("ZAPI")),
        ("x.api.in.example.com", Some("ZIN"), Some("ZIN")),
        ("x.api.in.example.com", Some("in.example.com."), Some("ZIN")),
        ("service-a.other.com", None, None),
        ("service-a.in.example.com", Some("ZAPI"), None),
        ("notin.example.com", None, None),
    ];
    for (name, zone_ref, want) in cases {
        let got = zone_for(&zones, name, *zone_ref).map(|z| z.id.as_str());
        assert_eq!(got, *want, "{name} {zone_ref:?}");
    }
}

#[test]
fn alias_by_default_with_aaaa_for_dualstack_and_cname_with_ttl() {
    let a = desired_records(
        "a.in.example.com",
        &dns(DnsType::Alias, None, None),
        &lb(false),
    );
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].record_type, "A");
    let alias = a[0].alias.as_ref().expect("alias");
    assert!(!alias.evaluate_target_health);
    assert_eq!(alias.hosted_zone_id, "Z35SXDOTRQ7X7K");
    let both = desired_records(
        "a.in.example.com",
        &dns(DnsType::Alias, None, None),
        &lb(true),
    );
    let types: Vec<&str> = both.iter().map(|r| r.record_type.as_str()).collect();
    assert_eq!(types, vec!["A", "AAAA"]);
    let mut cname = dns(DnsType::Cname, None, None);
    cname.ttl = 30;
    let c = desired_records("a.in.example.com", &cname, &lb(false));
    assert_eq!(c[0].record_type, "CNAME");
    assert_eq!(c[0].ttl, Some(30));
    assert_eq!(
        c[0].values,
        vec!["internal-lb-1.us-east-1.elb.amazonaws.com"]
    );
}

#[test]
fn marker_round_trips_and_rejects_anything_else() {
    let v = marker_value(OWNER, &["arn:svc"], ["A", "AAAA"], None);
    assert_eq!(
        parse_marker(&v),
        Some(Marker {
            owner: OWNER.into(),
            services: vec!["arn:svc".into()],
            types: vec!["A".into(), "AAAA".into()],
            since: None,
        })
    );
    let moved = marker_value(OWNER, &["arn:svc"], ["A"], Some(1700));
    assert_eq!(parse_marker(&moved).and_then(|m| m.since), Some(1700));
    assert!(!v.contains("since"), "{v}");
    for bad in [
        "\"v=spf1 -all\"",
        "ecs-ingress-registry=1 owner=a service=b types=A",
        "\"ecs-ingress-registry=2 owner=a service=b types=A\"",
        "\"ecs-ingress-registry=1 service=b types=A\"",
        "",
    ] {
        assert_eq!(parse_marker(bad), None, "{bad}");
    }
}

#[test]
fn publishes_records_with_marker_then_converges() {
    let mut case = Case::new();
    let w = vec![(
        service("a"),
        dns(DnsType::Alias, None, None),
        hosts(&[
            "a.in.example.com",
            "*.wild.in.example.com",
            "a.elsewhere.com",
        ]),
        lb(false),
    )];
    let plan = case.plan(&w);
    assert_eq!(
        plan.changes.len(),
        1,
        "wildcard and out-of-zone hosts get no record"
    );
    match &plan.changes[0].change {
        Change::UpsertRecords {
            zone_id,
            upsert,
            exists,
            ..
        } => {
            assert_eq!(zone_id, "ZIN");
            assert!(!exists);
            let names: Vec<&str> = upsert.iter().map(|r| r.name.as_str()).collect();
            assert_eq!(
                names,
                vec!["a.in.example.com", "_ecs-ingress.a.in.example.com"]
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        plan.outcomes[w[0].0.arn.as_str()].warnings().is_empty(),
        "defaults outside zones are quiet"
    );
    case.apply(&plan);
    let again = case.plan(&w);
    assert!(again.changes.is_empty(), "{:?}", again.changes);
    assert_eq!(again.managed, 1);
}

#[test]
fn explicit_names_outside_every_zone_are_reported() {
    let case = Case::new();
    let w = vec![(
        service("a"),
        dns(DnsType::Alias, Some(&["a.other.com"]), None),
        hosts(&["a.in.example.com"]),
        lb(false),
    )];
    let plan = case.plan(&w);
    assert!(plan.changes.is_empty());
    assert!(
        plan.outcomes[w[0].0.arn.as_str()].warnings()[0].contains("outside every managed zone")
    );
}

#[test]
fn foreign_records_and_other_owners_are_conflicts_never_touched() {
    let mut case = Case::new();
    let foreign = record("a.in.example.com", "CNAME", "somewhere.example.com");
    let other_owner = record(
        "_ecs-ingress.b.in.example.com",
        "TXT",
        &marker_value("other", &["arn:x"], ["A"], None),
    );
    case.records
        .insert("ZIN".into(), vec![foreign, other_owner]);
    let w = vec![
        (
            service("a"),
            dns(DnsType::Alias, None, None),
            hosts(&["a.in.example.com"]),
            lb(false),
        ),
        (
            service("b"),
            dns(DnsType::Alias, None, None),
            hosts(&["b.in.example.com"]),
            lb(false),
        ),
    ];
    let plan = case.plan(&w);
    assert!(plan.changes.is_empty(), "{:?}", plan.changes);
    assert!(
        plan.outcomes[w[0].0.arn.as_str()].conflicts()[0]
            .reason
            .contains("does not own")
    );
    assert!(
        plan.outcomes[w[1].0.arn.as_str()].conflicts()[0]
            .reason
            .contains("another controller")
    );
    assert_eq!(
        plan.managed, 0,
        "the other owner's name is not counted as ours"
    );
}

#[test]
fn a_marker_of_the_same_owner_id_for_another_accounts_services_is_never_ours() {
    // A central zone written by two accounts' controllers that share an owner id.
    const OURS: &str = "arn:aws:ecs:eu-west-1:111111111111:service/main/a";
    const THEIRS: &str = "arn:aws:ecs:eu-west-1:222222222222:service/main/b";
    let mut case = Case::new();
    let theirs = |name: &str| {
        vec![
            record(name, "CNAME", "their-alb.example.com"),
            record(
                &format!("_ecs-ingress.{name}"),
                "TXT",
                &marker_value(OWNER, &[THEIRS], ["CNAME"], None),
            ),
        ]
    };
    case.records.insert(
        "ZIN".into(),
        [theirs("b.in.example.com"), theirs("c.in.example.com")].concat(),
    );
    let ours = Ownership::new(OWNER).in_accounts(["111111111111".to_string()]);
    let mut a = service("a");
    a.arn = OURS.into();
    let (intent, h, at) = (
        dns(DnsType::Alias, None, None),
        hosts(&["b.in.example.com"]),
        lb(false),
    );
    let ws = [DnsWinner {
        service: &a,
        dns: &intent,
        hosts: &h,
        load_balancer: &at,
        ready: true,
        healthy: true,
        routed_here: true,
        rules_read: true,
    }];
    let plan = plan_dns(&ours, &case.zones, &case.records, &ws, &|_| false, 0);
    assert!(plan.changes.is_empty(), "{:?}", plan.changes);
    assert!(
        plan.outcomes[OURS].conflicts()[0]
            .reason
            .contains("another controller"),
        "{:?}",
        plan.outcomes[OURS]
    );
    assert_eq!(plan.managed, 0, "neither name is counted as ours");
    // Which accounts are ours is what keeps their unclaimed name: without it, the same
    // owner id alone made it ours, and it was deleted.
    let blind = plan_dns(
        &Ownership::new(OWNER),
        &case.zones,
        &case.records,
        &[],
        &|_| false,
        0,
    );
    assert!(!blind.changes.is_empty());
    let scoped = plan_dns(&ours, &case.zones, &case.records, &[], &|_| false, 0);
    assert!(scoped.changes.is_empty(), "{:?}", scoped.changes);
}

#[test]
fn services_routed_by_path_on_one_alb_share_a_name_until_the_last_goes() {
    let mut case = Case::new();
    let mut w = vec![
        (
            service("web"),
            dns(DnsType::Alias, None, None),
            hosts(&["h.in.example.com"]),
            lb(false),
        ),
        (
            service("api"),
            dns(DnsType::Alias, None, None),
            hosts(&["h.in.example.com"]),
            lb(false),
        ),
    ];
    let plan = case.plan(&w);
    assert_eq!(plan.changes.len(), 1, "one record for the shared name");
    for (s, ..) in &w {
        assert!(
            plan.outcomes[s.arn.as_str()].conflicts().is_empty(),
            "{:?}",
            plan.outcomes[s.arn.as_str()]
        );
    }
    case.apply(&plan);
    assert!(case.plan(&w).changes.is_empty(), "converged");
    // The older one withdraws: the name stays, its marker names only the other.
    w.remove(0);
    let plan = case.plan(&w);
    assert_eq!(plan.changes.len(), 1);
    assert!(
        matches!(&plan.changes[0].change, Change::UpsertRecords { upsert, .. }
            if upsert.iter().any(|r| r.values.iter().any(|v| v.contains("service=arn:aws:ecs:us-east-1:1:service/main/api ")))),
        "{:?}",
        plan.changes[0].change
    );
    case.apply(&plan);
    // The last one goes: so does the name.
    let plan = case.plan(&[]);
    assert!(
        matches!(&plan.changes[..], [c] if matches!(c.change, Change::DeleteRecords { .. })),
        "{:?}",
        plan.changes
    );
}

#[test]
fn the_older_service_keeps_a_name_wanted_on_another_alb() {
    let case = Case::new();
    let other =
        super::super::fixtures::load_balancer(false, "internal-lb-2.us-east-1.elb.amazonaws.com");
    let w = vec![
        (
            service("old"),
            dns(DnsType::Alias, Some(&["x.in.example.com"]), None),
            hosts(&["old.in.example.com"]),
            lb(false),
        ),
        (
            service("new"),
            dns(DnsType::Alias, Some(&["x.in.example.com"]), None),
            hosts(&["new.in.example.com"]),
            other,
        ),
    ];
    let plan = case.plan(&w);
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.changes[0].service, "main/old");
    assert!(
        plan.outcomes[w[1].0.arn.as_str()].conflicts()[0]
            .reason
            .contains("older service main/old")
    );
}

#[test]
fn switching_to_cname_deletes_the_alias_in_the_same_batch_and_withdraw_removes_all() {
    let mut case = Case::new();
    let mut w = vec![(
        service("a"),
        dns(DnsType::Alias, None, None),
        hosts(&["a.in.example.com"]),
        lb(true),
    )];
    let plan = case.plan(&w);
    case.apply(&plan);
    w[0].1 = dns(DnsType::Cname, None, None);
    let plan = case.plan(&w);
    match &plan.changes[..] {
        [c] => match &c.change {
            Change::UpsertRecords { delete, exists, .. } => {
                assert!(exists);
                let types: Vec<&str> = delete.iter().map(|r| r.record_type.as_str()).collect();
                assert_eq!(types, vec!["A", "AAAA"]);
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    case.apply(&plan);
    assert!(case.plan(&w).changes.is_empty());
    // Withdrawn: the CNAME and the marker go, with their exact values.
    let plan = case.plan(&[]);
    assert_eq!(plan.changes.len(), 1);
    assert!(plan.changes[0].change.is_deletion());
    case.apply(&plan);
    assert!(case.records["ZIN"].is_empty());
}

#[test]
fn a_record_deleted_by_hand_comes_back_and_kept_services_keep_theirs() {
    let mut case = Case::new();
    let w = vec![(
        service("a"),
        dns(DnsType::Alias, None, None),
        hosts(&["a.in.example.com"]),
        lb(false),
    )];
    case.apply(&case.plan(&w));
    case.records
        .get_mut("ZIN")
        .expect("zone")
        .retain(|r| r.record_type != "A");
    let plan = case.plan(&w);
    assert_eq!(plan.changes.len(), 1);
    assert!(plan.changes[0].change.is_update(), "owned name, repaired");
    case.apply(&plan);
    // A service whose resources are kept (invalid tags, say) keeps its records.
    let ws: Vec<DnsWinner<'_>> = Vec::new();
    let kept = plan_dns(
        &Ownership::new(OWNER),
        &case.zones,
        &case.records,
        &ws,
        &|_| true,
        0,
    );
    assert!(kept.changes.is_empty());
}

#[test]
fn a_published_name_is_held_where_it_points_until_its_new_alb_can_serve_it() {
    let mut case = Case::new();
    let svc = service("a");
    let intent = dns(DnsType::Alias, None, None);
    let h = hosts(&["a.in.example.com"]);
    case.apply(&case.plan(&[(svc.clone(), intent.clone(), h.clone(), lb(false))]));
    let other =
        super::super::fixtures::load_balancer(false, "internal-lb-2.us-east-1.elb.amazonaws.com");
    let here = lb(false);
    let winner = (&svc, &intent, h.as_slice());
    // Where it points and not ready (its rules change this pass): nothing to wait for.
    let p = case.plan_one(winner, &here, false, 100);
    assert!(
        p.changes.is_empty()
            && p.outcomes["arn:aws:ecs:us-east-1:1:service/main/a"]
                .waiting()
                .is_empty()
    );
    // Another ALB that cannot serve it yet: held as it is (not deleted, not repointed).
    let p = case.plan_one(winner, &other, false, 100);
    assert!(p.changes.is_empty(), "{:?}", p.changes);
    let outcome = &p.outcomes["arn:aws:ecs:us-east-1:1:service/main/a"];
    assert_eq!(outcome.waiting(), ["a.in.example.com".to_string()]);
    // Once it can: repointed, the marker noting since when.
    let p = case.plan_one(winner, &other, true, 100);
    assert_eq!(p.changes.len(), 1);
    case.apply(&p);
    let marker = &case.records["ZIN"]
        .iter()
        .find(|r| r.record_type == "TXT")
        .expect("a marker")
        .values[0];
    assert!(marker.contains("since=100"), "{marker}");
}

#[test]
fn a_name_whose_records_were_deleted_by_hand_is_put_back_only_once_it_can_be_served() {
    // Found by the simulation (seed 73): the A record deleted by hand, the marker left, and
    // no target of the service healthy where the name was to point; the record was put back
    // at once, a fresh answer for a name nothing served.
    let mut case = Case::new();
    let svc = service("a");
    let intent = dns(DnsType::Alias, None, None);
    let h = hosts(&["a.in.example.com"]);
    case.apply(&case.plan(&[(svc.clone(), intent.clone(), h.clone(), lb(false))]));
    for records in case.records.values_mut() {
        records.retain(|r| r.record_type != "A");
    }
    let at = lb(false);
    let plan_with = |case: &Case, ready: bool| case.plan_one((&svc, &intent, &h), &at, ready, 100);
    let arn = "arn:aws:ecs:us-east-1:1:service/main/a";
    let p = plan_with(&case, false);
    assert!(
        p.changes.is_empty(),
        "nothing written or withdrawn: {:?}",
        p.changes
    );
    assert_eq!(p.outcomes[arn].waiting(), ["a.in.example.com".to_string()]);
    assert_eq!(p.managed, 1, "the name stays counted as ours");
    let p = plan_with(&case, true);
    assert!(
        matches!(&p.changes[..], [c] if matches!(&c.change, Change::UpsertRecords { upsert, .. }
            if upsert.iter().any(|r| r.record_type == "A"))),
        "put back once served: {:?}",
        p.changes
    );
    assert!(p.outcomes[arn].waiting().is_empty());
}

#[test]
fn a_name_in_place_is_taken_over_only_by_a_service_that_can_serve_it_or_is_reached_by_it() {
    let case = Case::holding("stable");
    // The service holding it leaves; another wants the name on the same ALB, its rule made
    // this pass (not ready yet).
    let next = service("canary");
    let (intent, h, at) = (
        dns(DnsType::Alias, None, None),
        hosts(&["h.in.example.com"]),
        lb(false),
    );
    // (healthy, a rule of its own routes it on that ALB already)
    for (healthy, routed_here) in [(true, false), (false, false), (false, true)] {
        let serving = Serving {
            ready: false,
            healthy,
            routed_here,
        };
        let plan = case.plan_serving((&next, &intent, &h), &at, serving, 0);
        let deletes = plan
            .changes
            .iter()
            .any(|c| matches!(c.change, Change::DeleteRecords { .. }));
        // With healthy targets it takes the name over as it stands; without, the name is
        // not handed to it (it waits), and nobody else holds it — unless clients reach it
        // through that name already (found by the simulation, pool world with listener
        // loss, seed 80: a sharer moving off the ALB, its marker update throttled, lost the
        // name under it when the service listed left).
        let takes_over = healthy || routed_here;
        assert_eq!(
            deletes, !takes_over,
            "healthy {healthy}, routed {routed_here}: {:?}",
            plan.changes
        );
        if takes_over {
            let marker = plan.changes.iter().find_map(|c| match &c.change {
                Change::UpsertRecords { upsert, .. } => {
                    upsert.iter().find(|r| r.record_type == "TXT")
                }
                _ => None,
            });
            assert!(
                marker.is_some_and(|m| m.values[0].contains("service/main/canary")),
                "{:?}",
                plan.changes
            );
        }
    }
}

#[test]
fn a_ready_winner_in_a_pass_that_read_every_rule_is_planned_without_routed_here() {
    // The planner works `routed_here` out only for winners not ready, or in a pass that
    // missed rules: for the others the answer must not change anything.
    let case = Case::holding("stable");
    let next = service("canary");
    let intent = dns(DnsType::Alias, None, None);
    let other_alb =
        super::super::fixtures::load_balancer(false, "internal-lb-2.us-east-1.elb.amazonaws.com");
    // A name in place (ours, for another service), one whose records change (dualstack),
    // one moving to another ALB, and a new one.
    let situations = [
        (hosts(&["h.in.example.com"]), lb(false)),
        (hosts(&["h.in.example.com"]), lb(true)),
        (hosts(&["h.in.example.com"]), other_alb),
        (hosts(&["n.in.example.com"]), lb(false)),
    ];
    for (h, at) in &situations {
        for healthy in [true, false] {
            let planned = |routed_here: bool| {
                let serving = Serving {
                    ready: true,
                    healthy,
                    routed_here,
                };
                let plan = case.plan_serving((&next, &intent, h), at, serving, 7);
                format!("{:?} {:?}", plan.changes, plan.outcomes)
            };
            assert_eq!(
                planned(true),
                planned(false),
                "{h:?} on {}, healthy {healthy}",
                at.dns_name
            );
        }
    }
}

#[test]
fn a_name_nobody_claims_stays_while_a_kept_service_is_routed_through_it() {
    // Found by the simulation (the month run of seed 2): a host's marker listed only a
    // service that then left; another, held as it was while ECS deployed it, routed a path
    // of the host on the same ALB without being listed, and the name was deleted under it.
    let case = Case::holding("leaver");
    let at = lb(false).dns_name.to_ascii_lowercase();
    for routed in [false, true] {
        let routes: BTreeSet<(String, String)> = if routed {
            BTreeSet::from([("h.in.example.com".to_string(), at.clone())])
        } else {
            BTreeSet::new()
        };
        let plan = plan_dns_keeping_routes(
            &Ownership::new(OWNER),
            &case.zones,
            &case.records,
            &[],
            &|_| false,
            &|| routes.clone(),
            0,
        );
        let deletes = plan
            .changes
            .iter()
            .any(|c| matches!(c.change, Change::DeleteRecords { .. }));
        assert_eq!(deletes, !routed, "routed {routed}: {:?}", plan.changes);
    }
}

#[test]
fn a_name_leaves_the_alb_it_points_at_only_in_a_pass_that_read_every_rule() {
    // Found by the simulation (every world at once, the month run of seed 10): with
    // DescribeRules throttled, a sharer of a host on the ALB its name pointed at was not
    // seen, and the name was pointed at the pool's other ALB for the sharers that were.
    let mut case = Case::new();
    let svc = service("a");
    let intent = dns(DnsType::Alias, None, None);
    let h = hosts(&["a.in.example.com"]);
    case.apply(&case.plan(&[(svc.clone(), intent.clone(), h.clone(), lb(false))]));
    let other =
        super::super::fixtures::load_balancer(false, "internal-lb-2.us-east-1.elb.amazonaws.com");
    for rules_read in [false, true] {
        let ws = [DnsWinner {
            service: &svc,
            dns: &intent,
            hosts: &h,
            load_balancer: &other,
            ready: true,
            healthy: true,
            routed_here: true,
            rules_read,
        }];
        let plan = plan_dns(
            &Ownership::new(OWNER),
            &case.zones,
            &case.records,
            &ws,
            &|_| false,
            0,
        );
        assert_eq!(
            plan.changes.is_empty(),
            !rules_read,
            "rules read {rules_read}: {:?}",
            plan.changes
        );
    }
}

/// A zone's markers are walked in hash order: the names nobody claims any more are still
/// deleted in name order, whatever order they were published in.
#[test]
fn names_nobody_claims_are_deleted_in_name_order() {
    let mut case = Case::new();
    let published = ["m", "b", "z", "a", "q"];
    let winners: Vec<_> = published
        .iter()
        .map(|n| {
            (
                service(n),
                dns(DnsType::Alias, None, None),
                hosts(&[&format!("{n}.in.example.com")]),
                lb(false),
            )
        })
        .collect();
    let plan = case.plan(&winners);
    assert_eq!(plan.changes.len(), published.len());
    case.apply(&plan);
    assert!(case.plan(&winners).changes.is_empty(), "converged");
    let plan = case.plan(&[]);
    let deleted: Vec<&str> = plan
        .changes
        .iter()
        .map(|c| match &c.change {
            Change::DeleteRecords { name, .. } => name.as_str(),
            other => panic!("only deletions expected: {other:?}"),
        })
        .collect();
    assert_eq!(
        deleted,
        vec![
            "a.in.example.com",
            "b.in.example.com",
            "m.in.example.com",
            "q.in.example.com",
            "z.in.example.com",
        ]
    );
}

#[test]
fn a_template_is_the_records_without_their_name_and_a_winner_without_one_gets_them_built() {
    let (svc, intent, names) = (
        service("a"),
        dns(DnsType::Alias, None, None),
        hosts(&["a.in.example.com"]),
    );
    let at = lb(true);
    let w = DnsWinner {
        service: &svc,
        dns: &intent,
        hosts: &names,
        load_balancer: &at,
        ready: true,
        healthy: true,
        routed_here: true,
        rules_read: true,
    };
    let built = desired_records("a.in.example.com", &intent, &at);
    let templates = RecordTemplates::new(std::slice::from_ref(&w));
    let template = templates.of(&w, "a.in.example.com");
    assert!(template.iter().all(|r| r.name.is_empty()));
    assert!(same_records(&template, &built));
    // A winner the templates were not made from: its records, named, not none.
    let none = RecordTemplates::new(&[]);
    assert_eq!(*none.of(&w, "a.in.example.com"), *built);
}

#[test]
fn a_names_marker_is_its_first_txt_record_with_a_valid_marker_value() {
    let name = "a.in.example.com";
    let at = format!("{MARKER_PREFIX}{name}");
    let first = marker_value(OWNER, &["arn:first"], ["A"], None);
    let second = marker_value("other", &["arn:second"], ["A"], None);
    let records = vec![
        record(&at, "TXT", "\"not a marker\""),
        record(&at, "CNAME", &first),
        record(name, "A", "10.0.0.1"),
        record(&at, "TXT", &first),
        record(&at, "TXT", &second),
        record("b.in.example.com", "TXT", &second),
    ];
    let index = ZoneIndex::new(&records);
    let (marker, record) = index.marker(name).expect("a valid marker");
    assert_eq!(marker.services, ["arn:first"]);
    assert_eq!(record.values, [first]);
    assert_eq!(index.at(name).len(), 1);
    assert_eq!(index.at(&at).len(), 4, "every record at the marker's name");
    assert!(
        index.marker("b.in.example.com").is_none(),
        "not at a marker's name"
    );
    assert_eq!(index.markers().count(), 1);
}

proptest::proptest! {
    /// An alias target loses its `dualstack.` prefixes exactly as `trim_start_matches` took
    /// them off: every one in front, none elsewhere.
    #[test]
    fn dualstack_prefixes_come_off_as_trim_start_matches_took_them(
        pieces in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just("dualstack."),
                proptest::strategy::Just("dualstack"),
                proptest::strategy::Just("."),
                proptest::strategy::Just("Dualstack."),
                proptest::strategy::Just("alb-1.elb.amazonaws.com"),
            ],
            0..6,
        ),
    ) {
        let name = pieces.concat();
        proptest::prop_assert_eq!(
            without_dualstack(&name),
            name.trim_start_matches("dualstack.")
        );
    }
}
