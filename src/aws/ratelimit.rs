//! AWS's per-account API rate buckets, as token buckets.
//!
//! The same table serves two sides: the controller's client-side limiter
//! ([`RateLimiter`], used by every adapter call through [`crate::aws::call::CallContext`])
//! waits for a token with a configurable share of each bucket, so the console and
//! Terraform keep headroom; the in-memory fake AWS ([`crate::fake`]) enforces the full
//! buckets server-side and answers `Throttling` when one is empty, as AWS does. Figures come
//! from AWS's published throttling pages (see `docs/performance.md`).
//!
//! Time is `tokio::time::Instant`, so tests and the benchmark run on paused, virtual time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// One of AWS's per-account, per-region token buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Bucket {
    /// ECS ListServices, DescribeServices.
    EcsServiceRead,
    /// ECS DescribeTaskDefinition.
    EcsTaskDefinitionRead,
    /// ECS ListTasks, DescribeTasks.
    EcsClusterRead,
    /// ECS Create/Update/DeleteService.
    EcsServiceModify,
    /// Every ELBv2 action together.
    ElbAccount,
    /// ELBv2 Describe*.
    ElbDescribe,
    /// ELBv2 Create/Modify/Delete*, SetRulePriorities, AddTags.
    ElbMutate,
    /// ELBv2 Register/DeregisterTargets.
    ElbRegistration,
    /// Every Route 53 action together.
    Route53Account,
    /// EC2 DescribeSecurityGroupRules (EC2 keeps a bucket per action).
    Ec2DescribeSecurityGroupRules,
    /// EC2 AuthorizeSecurityGroupIngress.
    Ec2AuthorizeIngress,
    /// EC2 RevokeSecurityGroupIngress.
    Ec2RevokeIngress,
    /// ACM ListCertificates.
    AcmList,
    /// ACM DescribeCertificate.
    AcmDescribe,
}

impl Bucket {
    /// AWS's published (burst, refill per second).
    pub(crate) fn aws_size(self) -> (f64, f64) {
        match self {
            Self::EcsServiceRead => (100.0, 20.0),
            Self::EcsTaskDefinitionRead => (50.0, 20.0),
            Self::EcsClusterRead => (100.0, 20.0),
            Self::EcsServiceModify => (50.0, 5.0),
            Self::ElbAccount => (40.0, 10.0),
            Self::ElbDescribe => (40.0, 10.0),
            Self::ElbMutate => (20.0, 3.0),
            Self::ElbRegistration => (20.0, 4.0),
            Self::Route53Account => (50.0, 10.0),
            // "Request throttling for the Amazon EC2 API": a bucket per action, non-mutating
            // actions 100 tokens refilled at 20/s, mutating ones 200 at 5/s.
            Self::Ec2DescribeSecurityGroupRules => (100.0, 20.0),
            Self::Ec2AuthorizeIngress | Self::Ec2RevokeIngress => (200.0, 5.0),
            // ACM throttles per API in requests per second (its quotas page): a conservative
            // rate for each, a second's worth of burst.
            Self::AcmList => (8.0, 8.0),
            Self::AcmDescribe => (10.0, 10.0),
        }
    }

    /// The buckets one call of `service`/`operation` takes a token from. Operations AWS
    /// publishes no bucket for (Cloud Map writes, SQS) take none.
    pub(crate) fn for_operation(service: &str, operation: &str) -> &'static [Bucket] {
        match (service, operation) {
            ("ecs", "ListServices" | "DescribeServices") => &[Self::EcsServiceRead],
            ("ecs", "DescribeTaskDefinition") => &[Self::EcsTaskDefinitionRead],
            ("ecs", "ListTasks" | "DescribeTasks") => &[Self::EcsClusterRead],
            ("ecs", "UpdateService") => &[Self::EcsServiceModify],
            ("elbv2", op) if op.starts_with("Describe") => &[Self::ElbAccount, Self::ElbDescribe],
            ("elbv2", "RegisterTargets" | "DeregisterTargets") => {
                &[Self::ElbAccount, Self::ElbRegistration]
            }
            ("elbv2", _) => &[Self::ElbAccount, Self::ElbMutate],
            ("route53", _) => &[Self::Route53Account],
            ("ec2", "DescribeSecurityGroupRules") => &[Self::Ec2DescribeSecurityGroupRules],
            ("ec2", "AuthorizeSecurityGroupIngress") => &[Self::Ec2AuthorizeIngress],
            ("ec2", "RevokeSecurityGroupIngress") => &[Self::Ec2RevokeIngress],
            ("acm", "ListCertificates") => &[Self::AcmList],
            ("acm", "DescribeCertificate") => &[Self::AcmDescribe],
            _ => &[],
        }
    }
}

/// A token bucket: `capacity` tokens, refilled continuously at `per_second`.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub(crate) fn new(capacity: f64, per_second: f64, now: Instant) -> Self {
        Self {
            capacity,
            per_second,
            tokens: capacity,
            updated: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.updated = now;
    }

    /// How long until one token is there (zero when one is there now).
    pub(crate) fn wait(&mut self, now: Instant) -> Duration {
        self.refill(now);
        if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - self.tokens) / self.per_second)
        }
    }

    /// Takes a token if there is one.
    pub(crate) fn try_take(&mut self, now: Instant) -> bool {
        if self.wait(now).is_zero() {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// A set of buckets, each sized as AWS's times a share.
#[derive(Debug)]
pub(crate) struct Buckets {
    share: f64,
    buckets: Mutex<HashMap<Bucket, TokenBucket>>,
}

impl Buckets {
    /// `share` in (0, 1]: the fraction of each AWS bucket (burst and refill) to use.
    pub(crate) fn new(share: f64) -> Self {
        Self {
            share: share.clamp(0.01, 1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut HashMap<Bucket, TokenBucket>, f64) -> R) -> R {
        // A poisoned lock only means another thread panicked mid-update of plain numbers.
        let mut guard = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard, self.share)
    }

    /// Takes one token from every bucket in `wanted` if all have one; otherwise takes none
    /// and returns how long to wait.
    pub(crate) fn try_take_all(&self, wanted: &[Bucket], now: Instant) -> Result<(), Duration> {
        self.with(|map, share| {
            let mut wait = Duration::ZERO;
            for b in wanted {
                let bucket = map.entry(*b).or_insert_with(|| {
                    let (burst, refill) = b.aws_size();
                    TokenBucket::new((burst * share).max(1.0), refill * share, now)
                });
                wait = wait.max(bucket.wait(now));
            }
            if !wait.is_zero() {
                return Err(wait);
            }
            for b in wanted {
                if let Some(bucket) = map.get_mut(b) {
                    bucket.try_take(now);
                }
            }
            Ok(())
        })
    }
}

/// The client-side limiter: waits until every bucket of a call has a token.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    buckets: Buckets,
}

impl RateLimiter {
    /// `share_percent` of each AWS bucket (1–100).
    pub(crate) fn new(share_percent: u8) -> Self {
        Self {
            buckets: Buckets::new(f64::from(share_percent) / 100.0),
        }
    }

    /// Waits for a token for one call; returns how long it waited.
    pub(crate) async fn acquire(&self, service: &str, operation: &str) -> Duration {
        let wanted = Bucket::for_operation(service, operation);
        if wanted.is_empty() {
            return Duration::ZERO;
        }
        let started = Instant::now();
        loop {
            match self.buckets.try_take_all(wanted, Instant::now()) {
                Ok(()) => return started.elapsed(),
                Err(wait) => tokio::time::sleep(wait).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn bucket_allows_burst_then_refill_rate() {
        let now = Instant::now();
        let mut b = TokenBucket::new(20.0, 3.0, now);
        let taken = (0..100).filter(|_| b.try_take(now)).count();
        assert_eq!(taken, 20, "the burst");
        assert!(!b.try_take(now));
        let later = now + Duration::from_secs(10);
        let refilled = (0..100).filter(|_| b.try_take(later)).count();
        assert_eq!(
            refilled, 20,
            "10 s at 3/s is 30, capped by the capacity of 20"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn limiter_paces_calls_to_the_share_of_the_bucket() {
        // ELBv2 mutating: 20 burst / 3 per second; at 50%: 10 burst / 1.5 per second.
        let limiter = RateLimiter::new(50);
        let started = Instant::now();
        for _ in 0..25 {
            limiter.acquire("elbv2", "CreateRule").await;
        }
        let took = started.elapsed().as_secs_f64();
        // 10 from the burst, then 15 at 1.5/s = 10 s.
        assert!((9.9..=10.1).contains(&took), "took {took}s");
    }

    #[tokio::test(start_paused = true)]
    async fn elb_calls_share_the_account_bucket() {
        let buckets = Buckets::new(1.0);
        let now = Instant::now();
        for _ in 0..20 {
            assert!(
                buckets
                    .try_take_all(Bucket::for_operation("elbv2", "CreateRule"), now)
                    .is_ok()
            );
        }
        // The mutating bucket is empty; describes still have 20 of the account's 40.
        assert!(
            buckets
                .try_take_all(Bucket::for_operation("elbv2", "CreateRule"), now)
                .is_err()
        );
        let describes = (0..100)
            .filter(|_| {
                buckets
                    .try_take_all(Bucket::for_operation("elbv2", "DescribeRules"), now)
                    .is_ok()
            })
            .count();
        assert_eq!(describes, 20);
    }

    #[test]
    fn every_operation_the_controller_calls_has_its_buckets() {
        assert_eq!(
            Bucket::for_operation("ecs", "DescribeServices"),
            &[Bucket::EcsServiceRead]
        );
        assert_eq!(
            Bucket::for_operation("elbv2", "RegisterTargets"),
            &[Bucket::ElbAccount, Bucket::ElbRegistration]
        );
        assert_eq!(
            Bucket::for_operation("route53", "ChangeResourceRecordSets"),
            &[Bucket::Route53Account]
        );
        assert!(Bucket::for_operation("sqs", "ReceiveMessage").is_empty());
    }
}
