//! An in-memory lease store with DynamoDB's conditional semantics, for tests.
//!
//! Each replica talks to it through its own [`FakeLeaseClient`], on which faults are
//! injected: throttling and 5xx for the next calls, a partition (every call fails without
//! reaching the store), and a delay before a call reaches the store (a slow network, or a
//! process paused between sending and the store applying it). The store keeps the history
//! of the record, so a test can ask whether a holder's lease was valid at an instant as the
//! store saw it: the holder wrote the record last, less than a lease before.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::{LeaseError, LeaseRecord, LeaseStore};
use crate::aws::{AwsError, ErrorKind};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The shared table (one record: tests use one owner id).
#[derive(Default)]
pub struct FakeLeaseStore {
    record: Mutex<Option<LeaseRecord>>,
    /// Every change of the record: when, and what it became.
    history: Mutex<Vec<(Instant, Option<LeaseRecord>)>>,
}

/// What a client's next calls do instead of succeeding.
#[derive(Default)]
struct Faults {
    /// The next calls fail with these kinds, in order.
    next: Vec<ErrorKind>,
    /// Every call fails as if the network were down, without reaching the store.
    partitioned: bool,
    /// Every call waits this long before it reaches the store.
    delay: Duration,
    /// Only renewals wait this long (a holder paused while renewing).
    renew_delay: Duration,
}

/// One replica's connection to the store.
pub struct FakeLeaseClient {
    store: Arc<FakeLeaseStore>,
    faults: Mutex<Faults>,
}

impl FakeLeaseStore {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A connection for one replica.
    pub fn client(self: &Arc<Self>) -> Arc<FakeLeaseClient> {
        Arc::new(FakeLeaseClient {
            store: self.clone(),
            faults: Mutex::new(Faults::default()),
        })
    }

    pub fn record(&self) -> Option<LeaseRecord> {
        lock(&self.record).clone()
    }

    /// True when `holder` wrote the record last before `at`, less than `lease` before it:
    /// no other replica could have taken over by then.
    pub fn valid_at(&self, holder: &str, at: Instant, lease: Duration) -> bool {
        let history = lock(&self.history);
        let last = history.iter().rev().find(|(when, _)| *when <= at);
        matches!(last, Some((when, Some(r))) if r.holder == holder && at < *when + lease)
    }

    /// The holders in the order they took the lease (consecutive duplicates removed).
    pub fn holders(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (_, r) in lock(&self.history).iter() {
            if let Some(r) = r
                && out.last() != Some(&r.holder)
            {
                out.push(r.holder.clone());
            }
        }
        out
    }

    /// When `holder` first took the lease.
    pub fn acquired_at(&self, holder: &str) -> Option<Instant> {
        lock(&self.history)
            .iter()
            .find(|(_, r)| r.as_ref().is_some_and(|r| r.holder == holder))
            .map(|(t, _)| *t)
    }

    fn write(&self, record: &mut Option<LeaseRecord>, new: Option<LeaseRecord>) {
        *record = new.clone();
        lock(&self.history).push((Instant::now(), new));
    }

    /// Applies `change` if the record is `expected`.
    fn conditional(
        &self,
        expected: Option<&LeaseRecord>,
        new: Option<LeaseRecord>,
    ) -> Result<(), LeaseError> {
        let mut record = lock(&self.record);
        if record.as_ref() != expected {
            return Err(LeaseError::Conflict);
        }
        self.write(&mut record, new);
        Ok(())
    }
}

impl FakeLeaseClient {
    /// The next `times` calls fail with `kind` (`Throttled`, `Unavailable`, ...).
    pub fn fail_next(&self, kind: ErrorKind, times: usize) {
        lock(&self.faults)
            .next
            .extend(std::iter::repeat_n(kind, times));
    }

    /// Removes every injected fault and delay.
    pub fn heal(&self) {
        *lock(&self.faults) = Faults::default();
    }

    /// Cuts (or restores) this replica's route to the store.
    pub fn partition(&self, cut: bool) {
        lock(&self.faults).partitioned = cut;
    }

    /// Every call waits `delay` before it reaches the store.
    pub fn delay(&self, delay: Duration) {
        lock(&self.faults).delay = delay;
    }

    /// Renewals wait `delay` before they reach the store.
    pub fn delay_renewals(&self, delay: Duration) {
        lock(&self.faults).renew_delay = delay;
    }

    /// Waits out the injected delay, then fails the call if a fault says so.
    async fn enter(&self, operation: &'static str) -> Result<(), LeaseError> {
        let delay = {
            let f = lock(&self.faults);
            f.delay
                + if operation == "UpdateItem" {
                    f.renew_delay
                } else {
                    Duration::ZERO
                }
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let mut f = lock(&self.faults);
        if f.partitioned {
            return Err(unavailable(operation, ErrorKind::Unavailable, "no route"));
        }
        if !f.next.is_empty() {
            let kind = f.next.remove(0);
            return Err(unavailable(operation, kind, "injected fault"));
        }
        Ok(())
    }
}

/// An injected failure, sorted as the DynamoDB adapter sorts real ones: a missing table,
/// a denied call or a wrong key schema is a configuration problem, the rest is transient.
fn unavailable(operation: &'static str, kind: ErrorKind, message: &str) -> LeaseError {
    let e = AwsError::new("dynamodb", operation, kind, message);
    match kind {
        ErrorKind::NotFound | ErrorKind::AccessDenied | ErrorKind::Validation => {
            LeaseError::Misconfigured(format!("leader election: fake table: {e}"))
        }
        _ => LeaseError::Unavailable(e),
    }
}

#[async_trait]
impl LeaseStore for FakeLeaseClient {
    async fn get(&self, _owner: &str) -> Result<Option<LeaseRecord>, LeaseError> {
        self.enter("GetItem").await?;
        Ok(self.store.record())
    }

    async fn acquire_if_absent(&self, _owner: &str, holder: &str) -> Result<u64, LeaseError> {
        self.enter("PutItem").await?;
        let new = LeaseRecord {
            holder: holder.into(),
            counter: 0,
        };
        self.store.conditional(None, Some(new))?;
        Ok(0)
    }

    async fn acquire_if_unchanged(
        &self,
        _owner: &str,
        expected: &LeaseRecord,
        holder: &str,
    ) -> Result<u64, LeaseError> {
        self.enter("PutItem").await?;
        let counter = expected.counter.wrapping_add(1);
        let new = LeaseRecord {
            holder: holder.into(),
            counter,
        };
        self.store.conditional(Some(expected), Some(new))?;
        Ok(counter)
    }

    async fn renew(&self, _owner: &str, holder: &str, counter: u64) -> Result<u64, LeaseError> {
        self.enter("UpdateItem").await?;
        let expected = LeaseRecord {
            holder: holder.into(),
            counter,
        };
        let next = counter.wrapping_add(1);
        let new = LeaseRecord {
            holder: holder.into(),
            counter: next,
        };
        self.store.conditional(Some(&expected), Some(new))?;
        Ok(next)
    }

    async fn release(&self, _owner: &str, holder: &str, counter: u64) -> Result<(), LeaseError> {
        self.enter("DeleteItem").await?;
        let expected = LeaseRecord {
            holder: holder.into(),
            counter,
        };
        self.store.conditional(Some(&expected), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn writes_are_conditional_on_the_record_seen() {
        let store = FakeLeaseStore::new();
        let (a, b) = (store.client(), store.client());
        assert_eq!(a.acquire_if_absent("o", "a").await.expect("first"), 0);
        assert!(matches!(
            b.acquire_if_absent("o", "b").await,
            Err(LeaseError::Conflict)
        ));
        let seen = b.get("o").await.expect("read").expect("record");
        assert_eq!(a.renew("o", "a", 0).await.expect("renewed"), 1);
        assert!(matches!(
            b.acquire_if_unchanged("o", &seen, "b").await,
            Err(LeaseError::Conflict)
        ));
        let seen = b.get("o").await.expect("read").expect("record");
        assert_eq!(
            b.acquire_if_unchanged("o", &seen, "b")
                .await
                .expect("taken"),
            2
        );
        assert!(matches!(
            a.renew("o", "a", 1).await,
            Err(LeaseError::Conflict)
        ));
        assert!(matches!(
            a.release("o", "a", 1).await,
            Err(LeaseError::Conflict)
        ));
        b.release("o", "b", 2).await.expect("released");
        assert_eq!(store.record(), None);
        assert_eq!(store.holders(), vec!["a", "b"]);
    }

    #[tokio::test(start_paused = true)]
    async fn faults_fail_calls_without_reaching_the_store() {
        let store = FakeLeaseStore::new();
        let a = store.client();
        a.fail_next(ErrorKind::Throttled, 1);
        assert!(matches!(
            a.acquire_if_absent("o", "a").await,
            Err(LeaseError::Unavailable(_))
        ));
        a.partition(true);
        assert!(a.get("o").await.is_err());
        a.partition(false);
        assert_eq!(store.record(), None);
        a.acquire_if_absent("o", "a").await.expect("taken");
        let lease = Duration::from_secs(3);
        assert!(store.valid_at("a", Instant::now(), lease));
        assert!(!store.valid_at("a", Instant::now() + lease, lease));
        assert!(!store.valid_at("b", Instant::now(), lease));
    }
}
