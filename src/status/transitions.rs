//! Per-service state transitions: each one is logged once, when it happens, not every pass.
//!
//! The runtime keeps one [`Transitions`] for the life of the process and feeds it the
//! statuses of every pass. It remembers each service's last state and the statuses of the
//! last pass that read everything (which say who held each host), so that it can tell a
//! host handed from a withdrawn holder to the next claimant (a handover, expected) from a
//! resource put back after a hand edit (a drift repair).

use std::borrow::Borrow;
use std::collections::BTreeSet;
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::status::{ServiceState, ServiceStatus};

/// What is remembered of a service between passes.
#[derive(Debug, Clone)]
struct Seen {
    name: String,
    state: ServiceState,
}

/// One change of a service's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Transition {
    /// `cluster/service`.
    pub service: String,
    pub service_arn: String,
    /// `None` the first time the process sees the service.
    pub from: Option<ServiceState>,
    pub to: ServiceState,
    /// Why, in one line: the first problem, what it waits for, or its routing.
    pub reason: String,
}

/// A host that passed from one service to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Handover {
    pub host: String,
    /// `cluster/service` of the previous holder.
    pub from: String,
    /// `cluster/service` of the new holder.
    pub to: String,
    pub to_arn: String,
}

/// The last known state of every service, and who held each host after the last pass that
/// read everything.
///
/// States are hashed: a pass that changes something looks every service up, and an ordered
/// map of ARNs compares their long shared prefix at every step of a search.
#[derive(Debug, Default)]
pub(crate) struct Transitions {
    last: FxHashMap<String, Seen>,
    /// The statuses of the last pass that read everything, in its order, shared with its
    /// status view: the hosts' holders after it are theirs (several when they share a host
    /// by path). Kept rather than a map of holders, which held every host, ARN and name
    /// again; the map is made from them when a pass needs it.
    complete: Vec<Arc<ServiceStatus>>,
    /// Whether that pass noted nothing, and every pass since listed what it listed: `last`
    /// is then what `complete` lists, and a pass listing the same services in the same
    /// states with the same hosts would note nothing and change nothing either. That is
    /// known position by position (most statuses are the very ones of the last view),
    /// without a lookup by ARN or host. False after any pass recorded in full but a quiet
    /// complete one: one that read less may have left `last` apart, one that noted
    /// something may be listing a service twice in two states (each pass notes both).
    quiet: bool,
}

/// States in which a service keeps the hosts it asks for (its rule exists or is being made).
fn holds_hosts(state: ServiceState) -> bool {
    matches!(
        state,
        ServiceState::Published | ServiceState::Pending | ServiceState::DnsConflict
    )
}

fn display_name(s: &ServiceStatus) -> String {
    format!("{}/{}", s.cluster, s.service)
}

/// The one line that says why a service is in its state.
pub(crate) fn reason_of(s: &ServiceStatus) -> String {
    if let Some(p) = s.problems.first() {
        return p.reason.clone();
    }
    if let Some(w) = s.waiting.first() {
        return w.clone();
    }
    match s.state {
        ServiceState::Withdrawn => "routing tags removed: its resources are removed".into(),
        _ => s.intent.clone(),
    }
}

impl Transitions {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Services that now claim a host another service held after the last pass: the host
    /// was handed over. Changes made for them are not drift repairs.
    pub(crate) fn handovers<S: Borrow<ServiceStatus>>(&self, services: &[S]) -> Vec<Handover> {
        self.handovers_to(services, &current_holders(services))
    }

    /// [`Transitions::handovers`], with the hosts' current holders (`now`) indexed already.
    fn handovers_to<S: Borrow<ServiceStatus>>(
        &self,
        services: &[S],
        now: &FxHashMap<&str, Vec<&str>>,
    ) -> Vec<Handover> {
        let mut out = Vec::new();
        let mut held_after_last: Option<FxHashMap<&str, Vec<&ServiceStatus>>> = None;
        for s in services
            .iter()
            .map(Borrow::borrow)
            .filter(|s| holds_hosts(s.state))
        {
            for host in &s.hosts {
                // Sharing a host by path, or joining others on it, is not taking it over:
                // the host passes only when none of its holders holds it any more.
                let still_held =
                    |arn: &str| now.get(host.as_str()).is_some_and(|n| n.contains(&arn));
                let held_after_last =
                    held_after_last.get_or_insert_with(|| holders(&self.complete));
                if let Some(held) = held_after_last.get(host.as_str())
                    && !held.is_empty()
                    && !held.iter().any(|h| h.service_arn == s.service_arn)
                    && !held.iter().any(|h| still_held(&h.service_arn))
                {
                    let from: Vec<String> = held.iter().map(|h| display_name(h)).collect();
                    out.push(Handover {
                        host: host.clone(),
                        from: from.join(", "),
                        to: display_name(s),
                        to_arn: s.service_arn.clone(),
                    });
                }
            }
        }
        out
    }

    /// ARNs of the services receiving a host this pass (see [`Transitions::handovers`]).
    pub(crate) fn new_holders<S: Borrow<ServiceStatus>>(&self, services: &[S]) -> BTreeSet<String> {
        if self.listed_as_last(services) {
            return BTreeSet::new();
        }
        self.handovers(services)
            .into_iter()
            .map(|h| h.to_arn)
            .collect()
    }

    /// Whether the last pass was complete and quiet and `services` are those it listed, in
    /// the same order, each in the same state with the same hosts. Then the pass hands no
    /// host over (each holds what it held), changes no state, and leaves the holders as
    /// they are.
    fn listed_as_last<S: Borrow<ServiceStatus>>(&self, services: &[S]) -> bool {
        self.quiet
            && self.complete.len() == services.len()
            && self.complete.iter().zip(services).all(|(was, now)| {
                let now = now.borrow();
                std::ptr::eq(&**was, now)
                    || (was.state == now.state
                        && was.service_arn == now.service_arn
                        && was.hosts == now.hosts)
            })
    }

    /// Records the statuses of a pass that read everything; see [`Transitions::record_pass`].
    #[cfg(test)]
    pub(crate) fn record(
        &mut self,
        services: &[ServiceStatus],
    ) -> (Vec<Handover>, Vec<Transition>) {
        let shared: Vec<Arc<ServiceStatus>> = services.iter().cloned().map(Arc::new).collect();
        self.record_pass(&shared, true)
    }

    /// Records the statuses of a pass; returns the handovers and the state changes since
    /// the last pass. A service that is no longer listed (its tags and resources are gone)
    /// ends as `withdrawn` if it was not already — unless a read of the pass failed
    /// (`complete` false): then it may only have gone unseen, and keeps its last state.
    pub(crate) fn record_pass(
        &mut self,
        services: &[Arc<ServiceStatus>],
        complete: bool,
    ) -> (Vec<Handover>, Vec<Transition>) {
        if self.listed_as_last(services) {
            // Most passes: nothing to note. The statuses are kept, so that the next pass's
            // unchanged ones are these very ones.
            if complete {
                self.complete = services.to_vec();
            }
            return (Vec::new(), Vec::new());
        }
        let recorded = self.record_in_full(services, complete);
        self.quiet = complete && recorded.0.is_empty() && recorded.1.is_empty();
        recorded
    }

    /// [`Transitions::record_pass`], every service and host looked up.
    fn record_in_full(
        &mut self,
        services: &[Arc<ServiceStatus>],
        complete: bool,
    ) -> (Vec<Handover>, Vec<Transition>) {
        let handovers = self.handovers(services);
        let mut changes = Vec::new();
        let listed: FxHashSet<&str> = services.iter().map(|s| s.service_arn.as_str()).collect();
        if !complete {
            // The hosts' holders stay as last read in full (`complete`), too.
            self.record_listed(services, &mut changes);
            return (handovers, changes);
        }
        // Hashed: those gone are put in ARN order, as an ordered map listed them.
        let mut gone: Vec<(&String, &Seen)> = self
            .last
            .iter()
            .filter(|(arn, seen)| {
                !listed.contains(arn.as_str()) && seen.state != ServiceState::Withdrawn
            })
            .collect();
        gone.sort_unstable_by_key(|(arn, _)| *arn);
        changes.extend(gone.into_iter().map(|(arn, seen)| Transition {
            service: seen.name.clone(),
            service_arn: arn.clone(),
            from: Some(seen.state),
            to: ServiceState::Withdrawn,
            reason: "no longer tagged for routing, or deleted".into(),
        }));
        self.last.retain(|arn, _| listed.contains(arn.as_str()));
        self.record_listed(services, &mut changes);
        self.complete = services.to_vec();
        (handovers, changes)
    }

    /// The state changes of the services a pass listed.
    fn record_listed<S: Borrow<ServiceStatus>>(
        &mut self,
        services: &[S],
        changes: &mut Vec<Transition>,
    ) {
        for s in services.iter().map(Borrow::borrow) {
            let from = self.last.get(&s.service_arn).map(|seen| seen.state);
            if from == Some(s.state) {
                // Unchanged, as most are every pass: nothing to note or copy.
                continue;
            }
            changes.push(Transition {
                service: display_name(s),
                service_arn: s.service_arn.clone(),
                from,
                to: s.state,
                reason: reason_of(s),
            });
            self.last.insert(
                s.service_arn.clone(),
                Seen {
                    name: display_name(s),
                    state: s.state,
                },
            );
        }
    }
}

/// True for the states that need a person: logged at warn.
pub(crate) fn needs_attention(state: ServiceState) -> bool {
    matches!(
        state,
        ServiceState::Invalid
            | ServiceState::Conflict
            | ServiceState::Quota
            | ServiceState::DnsConflict
            | ServiceState::Error
    )
}

/// Host → ARNs of the services holding it this pass, borrowed from the statuses.
fn current_holders<S: Borrow<ServiceStatus>>(services: &[S]) -> FxHashMap<&str, Vec<&str>> {
    let mut out: FxHashMap<&str, Vec<&str>> = FxHashMap::default();
    for s in services
        .iter()
        .map(Borrow::borrow)
        .filter(|s| holds_hosts(s.state))
    {
        for h in &s.hosts {
            let arns = out.entry(h.as_str()).or_default();
            if !arns.contains(&s.service_arn.as_str()) {
                arns.push(s.service_arn.as_str());
            }
        }
    }
    out
}

/// Host → the services holding it, in ARN order, one status per ARN (the last listed, as
/// a map by ARN would keep): several previous holders are named in a stable order.
fn holders(services: &[Arc<ServiceStatus>]) -> FxHashMap<&str, Vec<&ServiceStatus>> {
    let mut out: FxHashMap<&str, Vec<&ServiceStatus>> = FxHashMap::default();
    for s in services.iter().filter(|s| holds_hosts(s.state)) {
        for h in &s.hosts {
            out.entry(h.as_str()).or_default().push(s);
        }
    }
    for held in out.values_mut() {
        // Reversed, then sorted stably: of one ARN listed twice, the later listed comes
        // first, and is the one `dedup_by` keeps.
        held.reverse();
        held.sort_by(|a, b| a.service_arn.cmp(&b.service_arn));
        held.dedup_by(|next, kept| next.service_arn == kept.service_arn);
    }
    out
}

/// Logs one transition: warn for states that need a person, info for the others.
pub(crate) fn log_transition(t: &Transition) {
    let from = t.from.map(ServiceState::as_str).unwrap_or("new");
    if needs_attention(t.to) {
        tracing::warn!(service = %t.service, state = t.to.as_str(), previous = from, reason = %t.reason, "service state changed");
    } else {
        tracing::info!(service = %t.service, state = t.to.as_str(), previous = from, reason = %t.reason, "service state changed");
    }
}

/// Logs one handover at info.
pub(crate) fn log_handover(h: &Handover) {
    tracing::info!(service = %h.to, host = %h.host, previous_holder = %h.from, "host handed over");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::Problem;

    fn status(name: &str, state: ServiceState, hosts: &[&str]) -> ServiceStatus {
        ServiceStatus {
            intent: format!("{} → {name}:80", hosts.join(" ")),
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            ..crate::testing::service_status(
                &format!("arn:aws:ecs:eu-west-1:1:service/main/{name}"),
                name,
                state,
            )
        }
    }

    #[test]
    fn a_state_is_reported_once_until_it_changes() {
        let mut t = Transitions::new();
        let mut bad = status("bad", ServiceState::Invalid, &[]);
        bad.problems.push(Problem {
            key: Some("alb.port".into()),
            reason: "alb.port=x is not a port".into(),
        });
        let (_, first) = t.record(std::slice::from_ref(&bad));
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].from, None);
        assert_eq!(first[0].reason, "alb.port=x is not a port");
        let (_, again) = t.record(std::slice::from_ref(&bad));
        assert!(again.is_empty(), "{again:?}");
        bad.state = ServiceState::Published;
        bad.problems.clear();
        let (_, fixed) = t.record(&[bad]);
        assert_eq!(fixed[0].from, Some(ServiceState::Invalid));
        assert_eq!(fixed[0].to, ServiceState::Published);
    }

    #[test]
    fn a_service_unseen_by_a_pass_with_a_failed_read_is_not_withdrawn() {
        // Found by the simulation: a failed DescribeServices logged every service it did
        // not see as withdrawn, then published again the pass after.
        let mut t = Transitions::new();
        let a = status("a", ServiceState::Published, &["a.example.com"]);
        t.record(std::slice::from_ref(&a));
        let (_, partial) = t.record_pass(&[], false);
        assert!(partial.is_empty(), "{partial:?}");
        let (_, again) = t.record(std::slice::from_ref(&a));
        assert!(again.is_empty(), "{again:?}");
        let (_, gone) = t.record(&[]);
        assert_eq!(gone[0].to, ServiceState::Withdrawn);
    }

    #[test]
    fn a_service_that_disappears_ends_withdrawn_once() {
        let mut t = Transitions::new();
        t.record(&[status("a", ServiceState::Published, &["a.example.com"])]);
        let (_, gone) = t.record(&[]);
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].to, ServiceState::Withdrawn);
        let (_, nothing) = t.record(&[]);
        assert!(nothing.is_empty());
    }

    #[test]
    fn services_that_disappear_together_end_withdrawn_in_arn_order() {
        let mut t = Transitions::new();
        let names = ["m", "c", "x", "a", "q", "b", "z", "k"];
        let seen: Vec<ServiceStatus> = names
            .iter()
            .map(|n| status(n, ServiceState::Published, &[]))
            .collect();
        t.record(&seen);
        let (_, gone) = t.record(&seen[..1]);
        let arns: Vec<&str> = gone.iter().map(|g| g.service_arn.as_str()).collect();
        let mut sorted = arns.clone();
        sorted.sort_unstable();
        assert_eq!(arns, sorted);
        assert_eq!(arns.len(), names.len() - 1);
        assert!(gone.iter().all(|g| g.to == ServiceState::Withdrawn));
    }

    #[test]
    fn a_host_passed_to_the_next_claimant_is_a_handover() {
        let mut t = Transitions::new();
        let host = ["shared.example.com"];
        t.record(&[
            status("old", ServiceState::Published, &host),
            status("young", ServiceState::Conflict, &host),
        ]);
        let next = [
            status("old", ServiceState::Withdrawn, &host),
            status("young", ServiceState::Pending, &host),
        ];
        let holders = t.new_holders(&next);
        assert!(holders.contains("arn:aws:ecs:eu-west-1:1:service/main/young"));
        let (handovers, _) = t.record(&next);
        assert_eq!(handovers.len(), 1);
        assert_eq!(handovers[0].from, "main/old");
        assert_eq!(handovers[0].to, "main/young");
        // The new holder keeps the host: no second handover.
        let (again, _) = t.record(&[status("young", ServiceState::Published, &host)]);
        assert!(again.is_empty());
    }

    #[test]
    fn services_sharing_a_host_by_path_hand_nothing_over_pass_after_pass() {
        // Found by the simulation: with a host shared by path, the map kept one holder per
        // host, so every other service on it logged "host handed over" on every pass (and
        // its drift repairs went uncounted).
        let mut t = Transitions::new();
        let host = ["shared.example.com"];
        let both = [
            status("a", ServiceState::Published, &host),
            status("b", ServiceState::Published, &host),
        ];
        t.record(&both);
        for _ in 0..3 {
            assert!(t.new_holders(&both).is_empty());
            let (handovers, _) = t.record(&both);
            assert!(handovers.is_empty(), "{handovers:?}");
        }
        // A third service joining the shared host takes nothing over either.
        let three = [
            both[0].clone(),
            both[1].clone(),
            status("c", ServiceState::Pending, &host),
        ];
        let (handovers, _) = t.record(&three);
        assert!(handovers.is_empty(), "{handovers:?}");
    }

    #[test]
    fn the_holders_kept_follow_every_change_of_holder() {
        // A pass that swaps one holder for another, with as many hosts and holders as
        // before, hands the host over, and the next pass sees the new holder.
        let mut t = Transitions::new();
        let (x, y) = (["x.example.com"], ["y.example.com"]);
        let first = [
            status("a", ServiceState::Published, &x),
            status("b", ServiceState::Published, &y),
        ];
        t.record(&first);
        let (none, _) = t.record(&first);
        assert!(none.is_empty(), "{none:?}");
        let swapped = [
            status("b", ServiceState::Published, &y),
            status("c", ServiceState::Published, &x),
        ];
        let pairs = |handovers: &[Handover]| -> Vec<(String, String)> {
            handovers
                .iter()
                .map(|h| (h.from.clone(), h.to.clone()))
                .collect()
        };
        let (to_c, _) = t.record(&swapped);
        assert_eq!(pairs(&to_c), [("main/a".into(), "main/c".into())]);
        let (back, _) = t.record(&first);
        assert_eq!(pairs(&back), [("main/c".into(), "main/a".into())]);
    }

    /// One pass of the property below: the statuses it lists (service, state, hosts, by
    /// index into small pools), whether it read everything, and whether its unchanged
    /// statuses are the last pass's own (shared, as the status view shares them) or equal
    /// copies.
    type Listing = Vec<(usize, usize, usize)>;

    fn listing() -> impl proptest::strategy::Strategy<Value = Listing> {
        proptest::collection::vec((0..4usize, 0..4usize, 0..3usize), 0..5)
    }

    const STATES: [ServiceState; 4] = [
        ServiceState::Published,
        ServiceState::Pending,
        ServiceState::Conflict,
        ServiceState::Withdrawn,
    ];
    const HOSTS: [&[&str]; 3] = [&[], &["x.example.com"], &["x.example.com", "y.example.com"]];

    fn statuses_of(listing: &Listing) -> Vec<Arc<ServiceStatus>> {
        listing
            .iter()
            .map(|&(service, state, hosts)| {
                Arc::new(status(&format!("s{service}"), STATES[state], HOSTS[hosts]))
            })
            .collect()
    }

    proptest::proptest! {
        /// A pass that lists what the last complete pass listed is answered without looking
        /// anything up; every pass, whatever came before, gives the handovers, transitions
        /// and new holders that looking every service and host up gives.
        #[test]
        fn passes_listing_the_same_services_note_what_looking_everything_up_notes(
            passes in proptest::collection::vec(
                (proptest::option::of(listing()), proptest::bool::weighted(0.8), proptest::bool::ANY),
                1..12,
            )
        ) {
            let mut shortcut = Transitions::new();
            let mut in_full = Transitions::new();
            let mut last: Vec<Arc<ServiceStatus>> = Vec::new();
            let mut last_listing: Listing = Vec::new();
            for (fresh, complete, shared) in passes {
                // `None`: the last pass's services again, as they were.
                let listing = fresh.unwrap_or_else(|| last_listing.clone());
                let statuses = if listing == last_listing && shared {
                    last.clone()
                } else {
                    statuses_of(&listing)
                };
                let in_full_holders: BTreeSet<String> = in_full
                    .handovers(&statuses)
                    .into_iter()
                    .map(|h| h.to_arn)
                    .collect();
                proptest::prop_assert_eq!(shortcut.new_holders(&statuses), in_full_holders);
                let noted = shortcut.record_pass(&statuses, complete);
                let expected = in_full.record_in_full(&statuses, complete);
                proptest::prop_assert_eq!(noted, expected);
                last = statuses;
                last_listing = listing;
            }
        }
    }

    #[test]
    fn a_pass_listing_what_the_last_quiet_pass_listed_looks_nothing_up() {
        let mut t = Transitions::new();
        let listed: Vec<Arc<ServiceStatus>> = ["a", "b"]
            .iter()
            .map(|n| Arc::new(status(n, ServiceState::Published, &["x.example.com"])))
            .collect();
        let (_, first) = t.record_pass(&listed, true);
        assert_eq!(first.len(), 2, "new services are noted");
        assert!(!t.quiet, "a pass that noted something is not kept");
        let (_, quiet) = t.record_pass(&listed, true);
        assert!(quiet.is_empty(), "{quiet:?}");
        assert!(t.quiet, "a quiet pass that read everything is kept");
        // Were the services looked up again, they would be new once more.
        t.last.clear();
        let (handovers, again) = t.record_pass(&listed, true);
        assert!(handovers.is_empty() && again.is_empty(), "{again:?}");
        // A pass that read less leaves the list as it was; one that differs is looked up.
        t.record_pass(&listed, false);
        assert!(t.quiet);
        let (_, changed) = t.record_pass(&listed[..1], true);
        assert_eq!(changed.len(), 1, "{changed:?}");
    }

    #[test]
    fn the_same_holder_is_no_handover() {
        let mut t = Transitions::new();
        let s = status("a", ServiceState::Published, &["a.example.com"]);
        t.record(std::slice::from_ref(&s));
        assert!(t.new_holders(&[s]).is_empty());
    }
}
