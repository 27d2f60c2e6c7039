//! The one place every AWS call goes through: the client-side rate limit, timing and
//! outcome metrics.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use super::error::{AwsError, ErrorKind};
use crate::aws::ratelimit::RateLimiter;
use crate::telemetry::Metrics;

/// Whether this replica may send a write now (leader election's fence).
pub type WriteGate = Arc<dyn Fn() -> bool + Send + Sync>;

/// Shared by all adapters of one process (real or fake), so one limiter paces them all.
#[derive(Clone)]
pub struct CallContext {
    metrics: Arc<Metrics>,
    limiter: Arc<RateLimiter>,
    /// Whether a call that failed throttled is counted here in
    /// `aws_throttled_calls_total`; not where the clients count every attempt themselves
    /// ([`super::throttle::ThrottleCounter`]), which would count the last one twice.
    count_throttles: bool,
    /// Leader election: a write is sent only while this replica may write, checked after
    /// the rate limiter's wait (which can be long) and right before the request leaves.
    fence: Option<WriteGate>,
}

impl CallContext {
    /// For adapters whose calls are single attempts (the fake): a throttled call is counted
    /// here.
    pub fn new(metrics: Arc<Metrics>, limiter: Arc<RateLimiter>) -> Self {
        Self {
            metrics,
            limiter,
            count_throttles: true,
            fence: None,
        }
    }

    /// For SDK clients that carry a [`super::throttle::ThrottleCounter`].
    pub fn with_attempt_counter(metrics: Arc<Metrics>, limiter: Arc<RateLimiter>) -> Self {
        Self {
            metrics,
            limiter,
            count_throttles: false,
            fence: None,
        }
    }

    /// Every write through this context is refused once `may_write` says no (leader
    /// election's fence: the call layer knows only the question, not the lease).
    pub fn fenced(mut self, may_write: WriteGate) -> Self {
        self.fence = Some(may_write);
        self
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Waits for the call's rate buckets, runs it, and records it as
    /// `ecs_ingress_aws_calls_total{service,operation,outcome}`. The `call` future is lazy,
    /// so nothing is sent before a token is held.
    pub async fn call<T, F>(
        &self,
        service: &'static str,
        operation: &'static str,
        call: F,
    ) -> Result<T, AwsError>
    where
        F: Future<Output = Result<T, AwsError>>,
    {
        let waited = self.limiter.acquire(service, operation).await;
        if !waited.is_zero() {
            self.metrics.rate_limit_wait.observe(waited.as_secs_f64());
        }
        if let Some(refused) = self.refuse_write(service, operation) {
            return Err(refused);
        }
        let started = Instant::now();
        let result = call.await;
        let (outcome, throttled) = match &result {
            Ok(_) => ("success", false),
            Err(e) => (e.kind.as_str(), e.kind == ErrorKind::Throttled),
        };
        self.metrics.record_aws_call(
            service,
            operation,
            outcome,
            started.elapsed().as_secs_f64(),
            throttled && self.count_throttles,
        );
        if let Err(e) = &result {
            tracing::debug!(service, operation, error = %e, "AWS call failed");
        }
        result
    }
}

impl CallContext {
    /// The error for a write this replica may not send now (it lost the leader lease).
    fn refuse_write(&self, service: &'static str, operation: &'static str) -> Option<AwsError> {
        let read = ["Describe", "List", "Get"]
            .iter()
            .any(|p| operation.starts_with(p));
        match &self.fence {
            Some(may_write) if !read && !may_write() => {
                Some(super::error::not_leader(service, operation))
            }
            _ => None,
        }
    }
}

/// Sends an SDK request through `$self.ctx` as operation `$op` of the adapter's `SERVICE`,
/// mapping the SDK error. The request is built before the limiter is asked, and sent after.
macro_rules! send {
    ($self:ident, $op:literal, $request:expr) => {{
        let request = $request;
        $self
            .ctx
            .call(SERVICE, $op, async {
                request
                    .send()
                    .await
                    .map_err(|e| $crate::aws::AwsError::from_sdk(SERVICE, $op, e))
            })
            .await
    }};
}
pub(crate) use send;
