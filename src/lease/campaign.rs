//! The campaign: take the lease when it is free or abandoned, renew it while leading, step
//! down the moment a renewal fails, release it on shutdown.
//!
//! The rule a standby follows is the one Kubernetes' leader-election client follows: it
//! remembers the record (holder and counter) and the instant, on its own monotonic clock,
//! it first saw it as it is; once the record stayed the same for a whole lease, the holder
//! has stopped renewing and the standby replaces it with a conditional write. No wall-clock
//! time from the record is ever compared.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::{LeaseError, LeaseRecord, LeaseStore};
use crate::aws::{AwsError, ErrorKind};
use crate::lease::leadership::{Leadership, Role};
use crate::telemetry::Metrics;

/// A standby reads the record at least this often, so a released lease is taken within
/// about this long.
const MAX_POLL: Duration = Duration::from_secs(1);
/// How long a release on shutdown may take before the process exits without it (a standby
/// then takes over after a lease instead).
const RELEASE_TIMEOUT: Duration = Duration::from_secs(2);

/// One replica's campaign for the lease of one owner id.
pub struct Campaign {
    store: Arc<dyn LeaseStore>,
    owner: String,
    lease: Duration,
    leadership: Leadership,
    metrics: Arc<Metrics>,
}

/// What the campaign carries from one step to the next.
#[derive(Default)]
struct Memory {
    /// Our counter while we hold the record (or may still: a renewal that failed without an
    /// answer is retried with the same counter).
    held: Option<u64>,
    /// Someone else's record and when we first saw it as it is (our clock).
    watched: Option<(LeaseRecord, Instant)>,
    /// The last problem logged: each distinct one is logged once.
    problem: Option<String>,
}

impl Campaign {
    /// `leadership` must be [`Leadership::elected`]; its id is the holder name written.
    pub fn new(
        store: Arc<dyn LeaseStore>,
        owner: impl Into<String>,
        lease: Duration,
        leadership: Leadership,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            store,
            owner: owner.into(),
            lease,
            leadership,
            metrics,
        }
    }

    /// The leader renews this often: two renewals can fail before its fence closes.
    pub fn renew_every(&self) -> Duration {
        self.lease / 3
    }

    fn poll_every(&self) -> Duration {
        self.renew_every().min(MAX_POLL)
    }

    /// Taken off the lease for the fence: room for a write that was checked just before the
    /// fence to reach AWS, and for monotonic clocks that run at slightly different rates.
    fn margin(&self) -> Duration {
        self.lease / 5
    }

    fn id(&self) -> &str {
        self.leadership.id().unwrap_or_default()
    }

    /// Campaigns until `stop` turns true, then releases the lease if held. Call it after
    /// the passes stopped, so the change in flight finishes under the lease.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        self.metrics.lease.leader.set(0);
        let mut memory = Memory::default();
        loop {
            let wait = match memory.held {
                Some(counter) => self.renew(&mut memory, counter).await,
                None => self.watch(&mut memory).await,
            };
            tokio::select! {
                // Branches in order: a seeded simulation replays exactly. The stop first:
                // renewals as slow as a renewal period leave no wait, and a ready sleep
                // taken first would never let a SIGTERM through (found by the simulation).
                biased;
                _ = stop.wait_for(|s| *s) => break,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        self.resign(&memory).await;
    }

    /// A store call that takes longer than a renewal period counts as failed: the loop must
    /// go on (a hung call must not keep a replica believing anything).
    async fn bounded<T>(
        &self,
        operation: &'static str,
        call: impl std::future::Future<Output = Result<T, LeaseError>>,
    ) -> Result<T, LeaseError> {
        tokio::time::timeout(self.renew_every(), call)
            .await
            .unwrap_or_else(|_| {
                Err(LeaseError::Unavailable(AwsError::new(
                    "dynamodb",
                    operation,
                    ErrorKind::Unavailable,
                    format!("no answer within {:?}", self.renew_every()),
                )))
            })
    }

    /// The leader's step: renew; on any failure stop writing at once.
    async fn renew(&self, memory: &mut Memory, counter: u64) -> Duration {
        let sent = Instant::now();
        let result = self
            .bounded(
                "UpdateItem",
                self.store.renew(&self.owner, self.id(), counter),
            )
            .await;
        self.metrics
            .lease
            .renew_duration
            .observe(sent.elapsed().as_secs_f64());
        match result {
            Ok(next) => {
                memory.held = Some(next);
                self.lead(memory, sent);
                self.renew_every().saturating_sub(sent.elapsed())
            }
            Err(LeaseError::Conflict) => {
                self.metrics.lease.renew_failures.inc();
                tracing::warn!(owner = %self.owner, "lost the lease: another replica holds it now");
                memory.held = None;
                memory.watched = None;
                self.follow(memory, None, None);
                Duration::ZERO
            }
            Err(e) => {
                self.metrics.lease.renew_failures.inc();
                // We may still hold the record; renewing it again with the same counter is
                // safe (it fails if anyone took it), but writes stop until it succeeds.
                self.follow(memory, Some(self.id().to_string()), Some(e.to_string()));
                self.poll_every()
            }
        }
    }

    /// The standby's step: read the record; take it when absent or unchanged for a lease.
    async fn watch(&self, memory: &mut Memory) -> Duration {
        let seen = match self.bounded("GetItem", self.store.get(&self.owner)).await {
            Ok(seen) => seen,
            Err(e) => {
                let leader = memory.watched.as_ref().map(|(r, _)| r.holder.clone());
                self.follow(memory, leader, Some(e.to_string()));
                return self.poll_every();
            }
        };
        let Some(record) = seen else {
            return self.take(memory, None).await;
        };
        let now = Instant::now();
        let since = match &memory.watched {
            Some((r, since)) if *r == record => *since,
            _ => now,
        };
        memory.watched = Some((record.clone(), since));
        let unchanged_for = now.duration_since(since);
        if unchanged_for >= self.lease {
            return self.take(memory, Some(record)).await;
        }
        self.follow(memory, Some(record.holder), None);
        self.poll_every().min(self.lease - unchanged_for)
    }

    /// Writes our record over `expected` (or into an empty slot).
    async fn take(&self, memory: &mut Memory, expected: Option<LeaseRecord>) -> Duration {
        let sent = Instant::now();
        let result = match &expected {
            None => {
                self.bounded(
                    "PutItem",
                    self.store.acquire_if_absent(&self.owner, self.id()),
                )
                .await
            }
            Some(r) => {
                self.bounded(
                    "PutItem",
                    self.store.acquire_if_unchanged(&self.owner, r, self.id()),
                )
                .await
            }
        };
        match result {
            Ok(counter) => {
                tracing::info!(owner = %self.owner, id = %self.id(), previous = ?expected.map(|r| r.holder), "took the lease");
                memory.held = Some(counter);
                memory.watched = None;
                self.lead(memory, sent);
                self.renew_every().saturating_sub(sent.elapsed())
            }
            // Another standby was faster: read again and follow it.
            Err(LeaseError::Conflict) => {
                memory.watched = None;
                self.poll_every()
            }
            Err(e) => {
                self.follow(memory, None, Some(e.to_string()));
                self.poll_every()
            }
        }
    }

    /// Leads until `sent + lease - margin`: `sent` is when the write that proved the lease
    /// left, which is no later than when the store applied it.
    fn lead(&self, memory: &mut Memory, sent: Instant) {
        self.clear_problem(memory);
        let fence = sent + self.lease.saturating_sub(self.margin());
        if self.leadership.set_role(Role::Leader { fence }) {
            self.metrics.lease.transitions.inc();
            tracing::info!(owner = %self.owner, id = %self.id(), "leading: passes start");
        }
        self.metrics.lease.leader.set(1);
    }

    fn follow(&self, memory: &mut Memory, leader: Option<String>, problem: Option<String>) {
        match &problem {
            Some(p) if memory.problem.as_ref() != Some(p) => {
                tracing::warn!(owner = %self.owner, "{p}");
                memory.problem = Some(p.clone());
            }
            Some(_) => {}
            None => self.clear_problem(memory),
        }
        let stepped_down = self.leadership.set_role(Role::Standby { leader, problem });
        self.metrics.lease.leader.set(0);
        if stepped_down {
            self.metrics.lease.transitions.inc();
            tracing::warn!(owner = %self.owner, id = %self.id(), "not leading any more: no new AWS write starts");
        }
    }

    fn clear_problem(&self, memory: &mut Memory) {
        if memory.problem.take().is_some() {
            tracing::info!(owner = %self.owner, "lease store reachable again");
        }
    }

    /// On shutdown: stop writing, then delete our record so a standby need not wait a lease.
    async fn resign(&self, memory: &Memory) {
        let Some(counter) = memory.held else {
            return;
        };
        self.leadership.set_role(Role::Standby {
            leader: None,
            problem: None,
        });
        self.metrics.lease.leader.set(0);
        let release = self.store.release(&self.owner, self.id(), counter);
        match tokio::time::timeout(RELEASE_TIMEOUT, release).await {
            Ok(Ok(())) => tracing::info!(owner = %self.owner, "lease released"),
            Ok(Err(e)) => {
                tracing::warn!(owner = %self.owner, error = %e, "lease not released; a standby takes over after the lease")
            }
            Err(_) => {
                tracing::warn!(owner = %self.owner, "lease release timed out; a standby takes over after the lease")
            }
        }
    }
}
