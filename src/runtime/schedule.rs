//! When the daemon's passes are due: pure, no clock of its own (every call takes `now`, and
//! the jitter is given), so it is table-tested.
//!
//! Without an events queue every pass is full, one per interval (jittered ±10%), sooner after
//! a failure (1 s doubling, never more than the interval). With one: a full pass every
//! resync interval; in between, a targeted pass for the services a burst of events names,
//! and follow-up targeted passes for services a pass left unsettled (2 s, doubling, up to the
//! interval; more than [`FOLLOW_UP_MAX_SERVICES`] at once are confirmed by a full pass).

use std::time::Duration;

use tokio::time::Instant;

use super::targeted::{Scope, ScopeDecision};
use crate::telemetry::PassKind;

/// More unsettled services than this are confirmed by a full pass instead (reading them one
/// by one would cost more).
pub const FOLLOW_UP_MAX_SERVICES: usize = 20;

/// What the loop runs next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Full,
    Targeted(Scope),
    /// Events concerned nothing managed, and no pass is due.
    Idle,
}

/// The configured timing.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// `--interval`.
    pub interval: Duration,
    /// `--resync-interval` (with an events queue).
    pub resync: Option<Duration>,
    /// The jitter of the next wait, a fraction in −0.1..=0.1: it spreads the passes of many
    /// controllers sharing an account's rate buckets.
    pub jitter: f64,
}

/// What a finished pass tells the schedule.
#[derive(Debug, Clone)]
pub struct PassOutcome {
    pub kind: PassKind,
    pub succeeded: bool,
    /// Services it left waiting or just changed: a follow-up confirms them.
    pub unsettled: Scope,
}

/// Services to look at again, when, and how many times they were.
#[derive(Debug, Clone)]
struct FollowUp {
    scope: Scope,
    at: Instant,
    tries: u32,
}

/// When passes are due.
#[derive(Debug)]
pub struct Schedule {
    /// Events drive targeted passes; without them every pass is full.
    events: bool,
    next_full: Instant,
    failures: u32,
    follow_up: Option<FollowUp>,
}

impl Schedule {
    /// The first pass is full, at once.
    pub fn new(events: bool, now: Instant) -> Self {
        Self {
            events,
            next_full: now,
            failures: 0,
            follow_up: None,
        }
    }

    /// The next action at `now`. `wants_full`: an event could not be narrowed down;
    /// `events_scope`: what the pending events name, asked only when it matters.
    pub fn next_action(
        &mut self,
        now: Instant,
        wants_full: bool,
        events_scope: impl FnOnce() -> Option<ScopeDecision>,
    ) -> Action {
        if !self.events || now >= self.next_full || wants_full {
            return Action::Full;
        }
        let (mut scope, follow_up_due) = match &self.follow_up {
            Some(f) => (f.scope.clone(), f.at <= now),
            None => (Scope::default(), false),
        };
        let more = match events_scope() {
            Some(ScopeDecision::Full) => return Action::Full,
            Some(ScopeDecision::Targeted(more)) => Some(more),
            Some(ScopeDecision::Nothing) | None => None,
        };
        // Services still settling ride along with an event's pass (the pass after it
        // replaces the follow-up); alone they wait for their time.
        match more {
            Some(more) => scope.merge(more),
            None if !follow_up_due => scope = Scope::default(),
            None => {}
        }
        if scope.is_empty() {
            Action::Idle
        } else {
            Action::Targeted(scope)
        }
    }

    /// Notes a finished pass.
    pub fn after(&mut self, now: Instant, timing: Timing, outcome: PassOutcome) {
        let interval = timing.interval;
        self.failures = if outcome.succeeded {
            0
        } else {
            self.failures.saturating_add(1)
        };
        if outcome.kind == PassKind::Full {
            let every = timing.resync.unwrap_or(interval);
            self.next_full = now + next_wait(every, 0, timing.jitter);
            self.follow_up = None;
        }
        if self.failures > 0 {
            // A failed pass is retried by a full pass, sooner, backing off exponentially up
            // to the interval; the first success resets it.
            self.next_full = self
                .next_full
                .min(now + next_wait(interval, self.failures, timing.jitter));
        }
        let count = outcome.unsettled.service_arns().len();
        if count == 0 {
            self.follow_up = None;
        } else if count > FOLLOW_UP_MAX_SERVICES {
            self.next_full = self
                .next_full
                .min(now + next_wait(interval, 0, timing.jitter));
        } else {
            let tries = match &self.follow_up {
                Some(f) if f.scope == outcome.unsettled => f.tries + 1,
                _ => 1,
            };
            let delay = Duration::from_secs(1)
                .saturating_mul(1u32 << tries.min(16))
                .min(interval);
            self.follow_up = Some(FollowUp {
                scope: outcome.unsettled,
                at: now + delay,
                tries,
            });
        }
    }

    /// How long to sleep from `now`: until the next full pass or follow-up; without events,
    /// the interval (or the backoff after failures).
    pub fn wait(&self, now: Instant, timing: Timing) -> Duration {
        if !self.events {
            return next_wait(timing.interval, self.failures, timing.jitter);
        }
        let next = match &self.follow_up {
            Some(f) => self.next_full.min(f.at),
            None => self.next_full,
        };
        next.saturating_duration_since(now)
    }
}

/// The wait before the next pass: the interval, `jitter` (a fraction, −0.1..=0.1) off, after
/// a success; after `failures` failed passes in a row, 1 s doubling per failure, never more
/// than the interval.
pub fn next_wait(interval: Duration, failures: u32, jitter: f64) -> Duration {
    if failures > 0 {
        let backoff =
            Duration::from_secs(1).saturating_mul(1u32 << failures.min(16).saturating_sub(1));
        return backoff.min(interval);
    }
    interval.mul_f64(1.0 + jitter.clamp(-0.1, 0.1))
}

/// A jitter for [`Timing::jitter`] from the clock's sub-second digits: spread enough between
/// controllers, and no random-number dependency.
pub fn clock_jitter() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    (f64::from(nanos % 1000) / 1000.0 - 0.5) * 0.2
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_secs(30);
    const RESYNC: Duration = Duration::from_secs(600);

    fn timing() -> Timing {
        Timing {
            interval: INTERVAL,
            resync: Some(RESYNC),
            jitter: 0.0,
        }
    }

    fn scope(arns: &[&str]) -> Scope {
        let mut s = Scope::default();
        for arn in arns {
            s.services
                .entry("main".into())
                .or_default()
                .insert(format!("arn:aws:ecs:us-east-1:1:service/main/{arn}"));
        }
        s
    }

    fn outcome(kind: PassKind, succeeded: bool, unsettled: &[&str]) -> PassOutcome {
        PassOutcome {
            kind,
            succeeded,
            unsettled: scope(unsettled),
        }
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn waits_are_the_jittered_interval_or_a_capped_backoff() {
        let cases: &[(u32, f64, Duration)] = &[
            (0, 0.0, INTERVAL),
            (0, 0.1, secs(33)),
            (0, -0.1, secs(27)),
            (0, 0.5, secs(33)), // clamped to ±10%
            (1, 0.1, secs(1)),
            (2, 0.0, secs(2)),
            (5, 0.0, secs(16)),
            (6, 0.0, INTERVAL),
            (40, 0.0, INTERVAL),
        ];
        for (failures, jitter, want) in cases {
            assert_eq!(
                next_wait(INTERVAL, *failures, *jitter),
                *want,
                "{failures} {jitter}"
            );
        }
        for _ in 0..100 {
            assert!(clock_jitter().abs() <= 0.1);
        }
    }

    #[test]
    fn without_events_every_pass_is_full_and_failures_back_off() {
        let t0 = Instant::now();
        let mut s = Schedule::new(false, t0);
        let steps: &[(bool, Duration)] = &[
            (true, INTERVAL),
            (false, secs(1)),
            (false, secs(2)),
            (false, secs(4)),
            (true, INTERVAL),
        ];
        for (succeeded, wait) in steps {
            assert_eq!(s.next_action(t0, false, || None), Action::Full);
            s.after(t0, timing(), outcome(PassKind::Full, *succeeded, &[]));
            assert_eq!(s.wait(t0, timing()), *wait, "after succeeded={succeeded}");
        }
    }

    #[test]
    fn with_events_targeted_passes_fill_the_time_between_full_ones() {
        let t0 = Instant::now();
        let mut s = Schedule::new(true, t0);
        // The first pass is full; the next is due a resync later.
        assert_eq!(s.next_action(t0, false, || None), Action::Full);
        s.after(t0, timing(), outcome(PassKind::Full, true, &[]));
        assert_eq!(s.wait(t0, timing()), RESYNC);
        let t1 = t0 + secs(10);
        // Nothing pending: idle; events naming nothing managed: idle.
        assert_eq!(s.next_action(t1, false, || None), Action::Idle);
        assert_eq!(
            s.next_action(t1, false, || Some(ScopeDecision::Nothing)),
            Action::Idle
        );
        // Events naming a service: a targeted pass for it; one that cannot be narrowed down,
        // or a decision only a full pass can make: full.
        assert_eq!(
            s.next_action(t1, false, || Some(ScopeDecision::Targeted(scope(&["a"])))),
            Action::Targeted(scope(&["a"]))
        );
        assert_eq!(s.next_action(t1, true, || None), Action::Full);
        assert_eq!(
            s.next_action(t1, false, || Some(ScopeDecision::Full)),
            Action::Full
        );
        // The resync comes whatever the events say.
        assert_eq!(s.next_action(t0 + RESYNC, false, || None), Action::Full);
    }

    #[test]
    fn unsettled_services_are_followed_up_doubling_and_ride_along_with_events() {
        let t0 = Instant::now();
        let mut s = Schedule::new(true, t0);
        s.after(t0, timing(), outcome(PassKind::Full, true, &[]));
        // A targeted pass leaves `a` waiting: looked at again 2 s later, then 4, 8, 16, then
        // every interval.
        let mut now = t0 + secs(5);
        for want in [2, 4, 8, 16, 30, 30] {
            s.after(now, timing(), outcome(PassKind::Targeted, true, &["a"]));
            assert_eq!(s.wait(now, timing()), secs(want));
            assert_eq!(
                s.next_action(now, false, || None),
                Action::Idle,
                "not due yet"
            );
            now += secs(want);
            assert_eq!(
                s.next_action(now, false, || None),
                Action::Targeted(scope(&["a"]))
            );
        }
        // Settling services ride along with an event's pass.
        assert_eq!(
            s.next_action(now, false, || Some(ScopeDecision::Targeted(scope(&["b"])))),
            Action::Targeted(scope(&["a", "b"]))
        );
        // Settled: no follow-up.
        s.after(now, timing(), outcome(PassKind::Targeted, true, &[]));
        assert_eq!(s.next_action(now + secs(60), false, || None), Action::Idle);
    }

    #[test]
    fn many_unsettled_services_or_a_failure_bring_the_full_pass_forward() {
        let t0 = Instant::now();
        let many: Vec<String> = (0..=FOLLOW_UP_MAX_SERVICES)
            .map(|i| format!("s{i}"))
            .collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let mut s = Schedule::new(true, t0);
        s.after(t0, timing(), outcome(PassKind::Full, true, &[]));
        s.after(t0, timing(), outcome(PassKind::Targeted, true, &many));
        assert_eq!(s.wait(t0, timing()), INTERVAL);
        assert_eq!(s.next_action(t0 + INTERVAL, false, || None), Action::Full);
        // A failed targeted pass: a full pass 1 s later.
        let mut s = Schedule::new(true, t0);
        s.after(t0, timing(), outcome(PassKind::Full, true, &[]));
        s.after(t0, timing(), outcome(PassKind::Targeted, false, &[]));
        assert_eq!(s.wait(t0, timing()), secs(1));
        assert_eq!(s.next_action(t0 + secs(1), false, || None), Action::Full);
    }
}
