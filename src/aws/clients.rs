//! SDK clients from the standard credential and region chain.
//!
//! `AWS_ENDPOINT_URL` (read by aws-config) points every client at an emulator such as moto;
//! `AWS_MAX_ATTEMPTS` and `AWS_RETRY_MODE` tune the SDK's own retries.

use std::sync::Arc;

use aws_config::BehaviorVersion;

use super::call::CallContext;
use super::{
    Aws, cloudmap::CloudMapAdapter, ecs::EcsAdapter, elb::ElbAdapter, route53::Route53Adapter,
    tagging::TaggingAdapter,
};
use crate::ratelimit::RateLimiter;
use crate::telemetry::Metrics;

/// Loads the shared SDK configuration (region, credentials, endpoint, retries).
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// The real adapters, instrumented with `metrics` and paced to `rate_share` percent of
/// each AWS rate bucket.
pub fn real_aws(sdk: &aws_config::SdkConfig, metrics: Arc<Metrics>, rate_share: u8) -> Aws {
    let ctx = CallContext::new(metrics, Arc::new(RateLimiter::new(rate_share)));
    Aws {
        ecs: Arc::new(EcsAdapter::new(aws_sdk_ecs::Client::new(sdk), ctx.clone())),
        elb: Arc::new(ElbAdapter::new(
            aws_sdk_elasticloadbalancingv2::Client::new(sdk),
            ctx.clone(),
        )),
        route53: Arc::new(Route53Adapter::new(
            aws_sdk_route53::Client::new(sdk),
            ctx.clone(),
        )),
        cloudmap: Arc::new(CloudMapAdapter::new(
            aws_sdk_servicediscovery::Client::new(sdk),
            ctx.clone(),
        )),
        tagging: Arc::new(TaggingAdapter::new(
            aws_sdk_resourcegroupstagging::Client::new(sdk),
            ctx,
        )),
    }
}

/// The event queue at `url`, through the same limiter and metrics as the rest.
pub fn event_queue(
    sdk: &aws_config::SdkConfig,
    metrics: Arc<Metrics>,
    url: &str,
) -> Arc<dyn crate::events::QueueApi> {
    // SQS calls take no AWS rate bucket; the limiter passes them through.
    let ctx = CallContext::new(metrics, Arc::new(RateLimiter::new(100)));
    Arc::new(super::sqs::SqsQueue::new(
        aws_sdk_sqs::Client::new(sdk),
        ctx,
        url.to_string(),
    ))
}
