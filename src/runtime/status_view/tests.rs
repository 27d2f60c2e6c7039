use std::collections::BTreeMap;
use std::sync::Arc;

use super::*;
use crate::apply::{ApplyReport, ChangeResult, Outcome};
use crate::plan::Plan;
use crate::status::{ResourceKind, ServiceState};
use crate::telemetry::PassKind;

fn status(name: &str, state: ServiceState) -> ServiceStatus {
    ServiceStatus {
        intent: format!("{name}.example.com → app:8080"),
        hosts: vec![format!("{name}.example.com")],
        ..crate::testing::service_status(&format!("arn:{name}"), name, state)
    }
}

/// A pass that planned `services`, applied `applied` (`None`: nothing applied), and
/// remembers `last_changes`.
fn pass(
    services: Vec<ServiceStatus>,
    applied: Option<Vec<ChangeResult>>,
    last_changes: &[(&str, &str)],
) -> PassReport {
    let mut plan = Plan::default();
    plan.services = services;
    PassReport {
        kind: PassKind::Full,
        plan,
        applied: applied.map(|results| ApplyReport {
            results,
            ..ApplyReport::default()
        }),
        observed_failures: vec![],
        read_problem: None,
        degraded: vec![],
        last_changes: Arc::new(
            last_changes
                .iter()
                .map(|(arn, at)| (arn.to_string(), at.to_string()))
                .collect::<BTreeMap<_, _>>(),
        ),
        facts: Default::default(),
        transitions: vec![],
        status: Arc::default(),
    }
}

fn result(service: &str, outcome: Outcome) -> ChangeResult {
    ChangeResult {
        service_arn: Some(format!("arn:{service}")),
        service: format!("main/{service}"),
        change: "create listener-rule".into(),
        kind: ResourceKind::ListenerRule,
        result: outcome,
        error: (outcome == Outcome::Failed).then(|| "boom".to_string()),
        created: (outcome == Outcome::Applied).then(|| "arn:rule/1".to_string()),
        quota: false,
    }
}

fn shared(a: &StatusReport, b: &StatusReport, name: &str) -> bool {
    let find = |r: &StatusReport| {
        r.services
            .iter()
            .find(|s| s.service == name)
            .cloned()
            .unwrap_or_else(|| panic!("no view of {name}"))
    };
    Arc::ptr_eq(&find(a), &find(b))
}

#[test]
fn an_unchanged_service_shares_its_view_and_a_changed_one_gets_its_own() {
    let first = pass(
        vec![
            status("a", ServiceState::Published),
            status("b", ServiceState::Published),
        ],
        None,
        &[("arn:a", "2026-12-05T01:00:00Z")],
    )
    .make_status(&StatusReport::default());
    assert_eq!(
        first.services[0].last_change.as_deref(),
        Some("2026-12-05T01:00:00Z"),
        "the remembered last change is in the view"
    );
    let mut b = status("b", ServiceState::Conflict);
    b.problems.push(crate::status::Problem {
        key: None,
        reason: "host taken".into(),
    });
    // Listed in another order: found by ARN, not only by position.
    let second = pass(
        vec![b.clone(), status("a", ServiceState::Published)],
        None,
        &[("arn:a", "2026-12-05T01:00:00Z")],
    )
    .make_status(&first);
    assert!(shared(&first, &second, "a"));
    assert!(!shared(&first, &second, "b"));
    assert_eq!(*second.services[0], b, "b's view is what was planned");
}

#[test]
fn a_newer_last_change_or_pending_lines_make_a_view_of_its_own() {
    let planned = || vec![status("a", ServiceState::Published)];
    let first = pass(planned(), None, &[]).make_status(&StatusReport::default());
    let changed = pass(planned(), None, &[("arn:a", "2026-12-05T02:00:00Z")]).make_status(&first);
    assert!(!shared(&first, &changed, "a"));
    assert_eq!(
        changed.services[0].last_change.as_deref(),
        Some("2026-12-05T02:00:00Z")
    );

    // A change held back is pending.
    let mut with_change = pass(planned(), None, &[("arn:a", "2026-12-05T02:00:00Z")]);
    with_change.plan.held_back.push(crate::plan::PlannedChange {
        service_arn: Some("arn:a".into()),
        service: "main/a".into(),
        change: crate::plan::Change::DeleteRule {
            arn: "arn:rule/1".into(),
        },
        reason: "not routed any more".into(),
    });
    let pending = with_change.make_status(&changed);
    assert!(!shared(&changed, &pending, "a"));
    assert_eq!(pending.services[0].pending.len(), 1);

    // The pending line gone again: the view without it is a view of its own too.
    let clear = pass(planned(), None, &[("arn:a", "2026-12-05T02:00:00Z")]).make_status(&pending);
    assert!(!shared(&pending, &clear, "a"));
    assert!(clear.services[0].pending.is_empty());
    assert_eq!(*clear.services[0], *changed.services[0]);
}

#[test]
fn applied_results_are_written_on_a_copy_and_the_earlier_view_stays_as_it_was() {
    let first = pass(
        vec![
            status("a", ServiceState::Pending),
            status("b", ServiceState::Published),
            status("c", ServiceState::Published),
        ],
        None,
        &[],
    )
    .make_status(&StatusReport::default());
    // Values, not the shared views: comparing a view with itself could not fail.
    let before: Vec<ServiceStatus> = first.services.iter().map(|s| (**s).clone()).collect();
    let second = pass(
        vec![
            status("a", ServiceState::Pending),
            status("b", ServiceState::Published),
            status("c", ServiceState::Published),
        ],
        Some(vec![result("b", Outcome::Failed)]),
        &[],
    )
    .make_status(&first);
    let now: Vec<&ServiceStatus> = first.services.iter().map(|s| &**s).collect();
    assert_eq!(
        now,
        before.iter().collect::<Vec<_>>(),
        "the earlier views are unchanged"
    );
    assert_eq!(
        second.services[0].state,
        ServiceState::Published,
        "pending with nothing left to do: published once applied"
    );
    assert_eq!(second.services[1].state, ServiceState::Error);
    assert_eq!(second.services[1].problems.len(), 1);
    assert!(!shared(&first, &second, "a"));
    assert!(!shared(&first, &second, "b"));
    assert!(shared(&first, &second, "c"), "no result concerns c");
}

#[test]
fn a_change_skipped_without_an_error_leaves_a_shared_view_shared() {
    let planned = || vec![status("a", ServiceState::Published)];
    let first = pass(planned(), None, &[]).make_status(&StatusReport::default());
    let second =
        pass(planned(), Some(vec![result("a", Outcome::Skipped)]), &[]).make_status(&first);
    assert!(shared(&first, &second, "a"));
}
