//! The one place every AWS call goes through: timing, outcome metrics and (see
//! [`crate::aws::call::CallContext::call`]) the client-side rate limit.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use super::error::{AwsError, ErrorKind};
use crate::telemetry::Metrics;

/// Shared by all adapters of one process.
#[derive(Clone)]
pub struct CallContext {
    metrics: Arc<Metrics>,
}

impl CallContext {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }

    /// Runs one AWS call and records it as `ecs_ingress_aws_calls_total{service,operation,outcome}`.
    pub async fn call<T, F>(
        &self,
        service: &'static str,
        operation: &'static str,
        call: F,
    ) -> Result<T, AwsError>
    where
        F: Future<Output = Result<T, AwsError>>,
    {
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
            throttled,
        );
        if let Err(e) = &result {
            tracing::debug!(service, operation, error = %e, "AWS call failed");
        }
        result
    }
}
