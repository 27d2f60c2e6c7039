//! Leader election on a lease kept in a store with conditional writes (DynamoDB).
//!
//! One record per `--owner-id` names the replica that holds the lease and a counter the
//! holder bumps on every renewal. Every write is conditional on the record the writer last
//! saw, so two replicas can never both believe they took or renewed the same record. A
//! candidate takes the lease over only when the record did not change for a whole lease
//! duration measured on its *own* monotonic clock; wall clocks of different machines are
//! never compared, so clock skew cannot hand the lease to two replicas.
//!
//! - [`LeaseStore`]: the port, implemented by [`dynamodb::DynamoDbLeaseStore`] and by the
//!   in-memory [`fake::FakeLeaseStore`];
//! - [`campaign::Campaign`]: the loop that acquires, renews and releases, and drives the
//!   [`crate::lease::leadership::Leadership`] handle every writer consults;
//! - [`fenced::FencedAws`]: refuses every AWS write while this replica may not write.

pub(crate) mod campaign;
pub(crate) mod dynamodb;
pub mod fake;
pub mod fenced;
pub(crate) mod identity;
pub mod leadership;
pub(crate) mod settings;

use async_trait::async_trait;

pub use campaign::Campaign;
pub use settings::{LeaderElectionArgs, LeaseSettings, MIN_LEASE};

use crate::aws::AwsError;

/// The holder and its renewal counter: what a candidate watches for change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRecord {
    pub holder: String,
    pub counter: u64,
}

/// Why a lease operation did not happen.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LeaseError {
    /// The record is not what the condition expected: someone else wrote it first.
    #[error("the lease record changed (conditional write refused)")]
    Conflict,
    /// The store cannot be used as configured: missing table, no permission, wrong key
    /// schema. The message names the table and the fix.
    #[error("{0}")]
    Misconfigured(String),
    /// Throttling, a 5xx, a timeout, no route: worth retrying.
    #[error("{0}")]
    Unavailable(AwsError),
}

/// Conditional operations on the one lease record of an owner id.
#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// The record, read strongly consistent; `None` when nobody holds the lease.
    async fn get(&self, owner: &str) -> Result<Option<LeaseRecord>, LeaseError>;
    /// Creates the record for `holder` if there is none; returns its counter.
    async fn acquire_if_absent(&self, owner: &str, holder: &str) -> Result<u64, LeaseError>;
    /// Replaces `expected` (the record seen unchanged for a lease) with one for `holder`;
    /// returns the new counter, which always differs from `expected.counter`.
    async fn acquire_if_unchanged(
        &self,
        owner: &str,
        expected: &LeaseRecord,
        holder: &str,
    ) -> Result<u64, LeaseError>;
    /// Bumps the counter of `holder`'s record if it is still at `counter`; returns the new
    /// counter.
    async fn renew(&self, owner: &str, holder: &str, counter: u64) -> Result<u64, LeaseError>;
    /// Deletes `holder`'s record if it is still at `counter`, so a standby need not wait.
    async fn release(&self, owner: &str, holder: &str, counter: u64) -> Result<(), LeaseError>;
}

/// Runs `task` during each term in which `leadership` may write, until `stop`: the task gets
/// a stop signal of its own that turns true when the term ends. A standby must not consume
/// what the leader needs (the events queue: a message a standby received stays invisible to
/// the leader for the queue's visibility timeout). A single replica has one term.
pub async fn during_leadership<F, Fut>(
    leadership: crate::lease::leadership::Leadership,
    mut stop: tokio::sync::watch::Receiver<bool>,
    task: F,
) where
    F: Fn(tokio::sync::watch::Receiver<bool>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    /// How often a term checks that leadership still holds (a fence can pass silently).
    const CHECK: std::time::Duration = std::time::Duration::from_millis(500);
    loop {
        tokio::select! {
            // Branches in order: a seeded simulation replays exactly.
            biased;
            _ = leadership.until_leader() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let (end_term, term) = tokio::sync::watch::channel(false);
        let running = tokio::spawn(task(term));
        let stopping = loop {
            tokio::select! {
                // Branches in order: a seeded simulation replays exactly.
                biased;
                _ = tokio::time::sleep(CHECK) => {}
                _ = stop.wait_for(|s| *s) => break true,
            }
            if !leadership.may_write() {
                break false;
            }
        };
        let _ = end_term.send(true);
        let _ = running.await;
        if stopping {
            return;
        }
    }
}

/// What `run` needs for leader election: the handle writers consult and the campaign that
/// drives it.
pub struct Election {
    pub leadership: crate::lease::leadership::Leadership,
    pub campaign: Campaign,
}

/// The election for `owner` on the DynamoDB table of `settings`.
pub async fn election(
    settings: &LeaseSettings,
    owner: &str,
    sdk: &aws_config::SdkConfig,
    metrics: std::sync::Arc<crate::telemetry::Metrics>,
) -> Election {
    let id = match &settings.id {
        Some(id) => id.clone(),
        None => identity::default_id().await,
    };
    tracing::info!(table = %settings.table, lease = ?settings.lease, %id, "leader election on");
    let leadership = crate::lease::leadership::Leadership::elected(id);
    let store = dynamodb::DynamoDbLeaseStore::from_sdk(sdk, metrics.clone(), &settings.table);
    let campaign = Campaign::new(
        std::sync::Arc::new(store),
        owner,
        settings.lease,
        leadership.clone(),
        metrics,
    );
    Election {
        leadership,
        campaign,
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: LeaderElectionArgs,
    }

    fn parse(args: &[&str]) -> Result<LeaderElectionArgs, String> {
        Cli::try_parse_from(std::iter::once("x").chain(args.iter().copied()))
            .map(|c| c.args)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn off_by_default_with_a_15s_lease() {
        let a = parse(&[]).expect("parses");
        assert_eq!(a.lease, std::time::Duration::from_secs(15));
        assert_eq!(a.settings(), None);
    }

    #[test]
    fn a_table_turns_it_on() {
        let a = parse(&[
            "--leader-election-table",
            "ecs-ingress-leases",
            "--leader-election-lease",
            "3s",
            "--leader-election-id",
            "replica-a",
        ])
        .expect("parses");
        assert_eq!(
            a.settings(),
            Some(LeaseSettings {
                table: "ecs-ingress-leases".into(),
                lease: std::time::Duration::from_secs(3),
                id: Some("replica-a".into()),
            })
        );
    }

    #[test]
    fn bad_values_are_rejected_with_the_reason() {
        for (args, reason) in [
            (["--leader-election-lease", "2s"], "between 3s and 10m"),
            (["--leader-election-lease", "soon"], "is not a duration"),
            (
                ["--leader-election-table", "a b"],
                "is not a DynamoDB table name",
            ),
            (["--leader-election-id", ""], "1-1024 printable"),
        ] {
            let e = parse(&args).expect_err("rejected");
            assert!(e.contains(reason), "{args:?}: {e}");
        }
    }
}
