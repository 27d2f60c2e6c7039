//! SDK clients from the standard credential and region chain.
//!
//! `AWS_ENDPOINT_URL` (read by aws-config) points every client at an emulator such as moto;
//! `AWS_MAX_ATTEMPTS` and `AWS_RETRY_MODE` tune the SDK's own retries.

use std::sync::Arc;

use aws_config::BehaviorVersion;

use super::call::CallContext;
use super::clock::{AwsClock, ServerDate};
use super::sts::{RoleSession, SessionCredentials, StsAdapter, StsApi};
use super::throttle::ThrottleCounter;
use super::zone_roles::{RoleRoute53, ZoneRoleSettings, ZoneRoutedRoute53};
use super::{
    Aws, acm::AcmAdapter, cloudmap::CloudMapAdapter, ec2::Ec2Adapter, ecs::EcsAdapter,
    elb::ElbAdapter, route53::Route53Adapter, tagging::TaggingAdapter,
};
use crate::aws::ratelimit::RateLimiter;
use crate::telemetry::Metrics;

/// The application name in the user agent of every client (`app/ecs-ingress`): CloudTrail
/// records it, so events about the controller's own calls are told from changes made by
/// others.
pub const APP_NAME: &str = "ecs-ingress";

/// Loads the shared SDK configuration (region, credentials, endpoint, retries), with
/// [`APP_NAME`] in the user agent.
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    let loader = aws_config::defaults(BehaviorVersion::latest());
    match aws_config::AppName::new(APP_NAME) {
        Ok(name) => loader.app_name(name).load().await,
        Err(e) => {
            tracing::warn!(error = %e, "cannot set the user agent's application name");
            loader.load().await
        }
    }
}

/// A client of SDK crate `$sdk` from the shared configuration, with a
/// [`ThrottleCounter`] labelled `$service` (the adapter's `SERVICE`).
macro_rules! client {
    ($sdk:ident, $config:expr, $metrics:expr, $service:literal) => {
        $sdk::Client::from_conf(
            $sdk::config::Builder::from($config)
                .interceptor(ThrottleCounter::new($metrics.clone(), $service))
                .build(),
        )
    };
    ($sdk:ident, $config:expr, $metrics:expr, $service:literal, $clock:expr) => {
        $sdk::Client::from_conf(
            $sdk::config::Builder::from($config)
                .interceptor(ThrottleCounter::new($metrics.clone(), $service))
                .interceptor(ServerDate::new($clock.clone()))
                .build(),
        )
    };
}

/// The real adapters, instrumented with `metrics` and paced to `rate_share` percent of
/// each AWS rate bucket.
pub fn real_aws(sdk: &aws_config::SdkConfig, metrics: Arc<Metrics>, rate_share: u8) -> Aws {
    real_aws_fenced(sdk, metrics, rate_share, Arc::new(|| true))
}

/// [`real_aws`] whose writes are sent only while `may_write` says so (leader election).
pub fn real_aws_fenced(
    sdk: &aws_config::SdkConfig,
    metrics: Arc<Metrics>,
    rate_share: u8,
    may_write: super::call::WriteGate,
) -> Aws {
    let ctx =
        CallContext::with_attempt_counter(metrics.clone(), Arc::new(RateLimiter::new(rate_share)))
            .fenced(may_write);
    let clock = AwsClock::from_answers();
    Aws {
        ecs: Arc::new(EcsAdapter::new(
            client!(aws_sdk_ecs, sdk, metrics, "ecs", clock),
            ctx.clone(),
        )),
        elb: Arc::new(ElbAdapter::new(
            client!(aws_sdk_elasticloadbalancingv2, sdk, metrics, "elbv2", clock),
            ctx.clone(),
        )),
        route53: Arc::new(Route53Adapter::new(
            client!(aws_sdk_route53, sdk, metrics, "route53", clock),
            ctx.clone(),
        )),
        cloudmap: Arc::new(CloudMapAdapter::new(
            client!(
                aws_sdk_servicediscovery,
                sdk,
                metrics,
                "servicediscovery",
                clock
            ),
            ctx.clone(),
        )),
        ec2: Arc::new(Ec2Adapter::new(
            client!(aws_sdk_ec2, sdk, metrics, "ec2", clock),
            ctx.clone(),
        )),
        acm: Arc::new(AcmAdapter::new(
            client!(aws_sdk_acm, sdk, metrics, "acm", clock),
            ctx.clone(),
        )),
        tagging: Arc::new(TaggingAdapter::new(
            client!(
                aws_sdk_resourcegroupstagging,
                sdk,
                metrics,
                "tagging",
                clock
            ),
            ctx,
        )),
        clock,
    }
}

/// `aws` with each zone of `settings` read and written through its role: one STS client
/// (the process's own credentials), and per role a Route 53 client that signs with the
/// role's credentials, behind the same write gate and paced to `rate_share` by the limiter
/// of the role's account (Route 53's rate limit is per account: roles of one account share
/// it).
pub fn with_zone_roles(
    mut aws: Aws,
    sdk: &aws_config::SdkConfig,
    metrics: Arc<Metrics>,
    rate_share: u8,
    may_write: super::call::WriteGate,
    settings: &ZoneRoleSettings,
) -> Aws {
    if settings.roles.is_empty() {
        return aws;
    }
    let mut limiters: std::collections::BTreeMap<String, Arc<RateLimiter>> = Default::default();
    let mut limiter = |account: &str| {
        limiters
            .entry(account.to_string())
            .or_insert_with(|| Arc::new(RateLimiter::new(rate_share)))
            .clone()
    };
    let sts: Arc<dyn StsApi> = Arc::new(StsAdapter::new(
        client!(aws_sdk_sts, sdk, metrics, "sts"),
        CallContext::with_attempt_counter(metrics.clone(), limiter("sts")),
    ));
    let clock = aws.clock.clone();
    let route53 = ZoneRoutedRoute53::new(aws.route53.clone(), &settings.roles, |role| {
        let session = Arc::new(RoleSession::new(
            role,
            &settings.session_name,
            settings.external_id.as_deref(),
            sts.clone(),
            clock.clone(),
        ));
        let client = aws_sdk_route53::Client::from_conf(
            aws_sdk_route53::config::Builder::from(sdk)
                .credentials_provider(SessionCredentials(session.clone()))
                .identity_cache(aws_sdk_route53::config::IdentityCache::no_cache())
                .interceptor(ThrottleCounter::new(metrics.clone(), "route53"))
                .interceptor(ServerDate::new(clock.clone()))
                .build(),
        );
        // The config checked every role ARN; an account-less one would share one limiter.
        let account = crate::ownership::arn_account(role).unwrap_or_default();
        let ctx = CallContext::with_attempt_counter(metrics.clone(), limiter(account))
            .fenced(may_write.clone())
            .in_account(account);
        RoleRoute53 {
            session,
            route53: Arc::new(Route53Adapter::new(client, ctx)),
        }
    });
    aws.route53 = Arc::new(route53);
    aws
}

/// The event queue at `url`, through the same limiter and metrics as the rest.
pub fn event_queue(
    sdk: &aws_config::SdkConfig,
    metrics: Arc<Metrics>,
    url: &str,
) -> Arc<dyn crate::aws::QueueApi> {
    // SQS calls take no AWS rate bucket; the limiter passes them through.
    let ctx = CallContext::with_attempt_counter(metrics.clone(), Arc::new(RateLimiter::new(100)));
    Arc::new(super::sqs::SqsQueue::new(
        client!(aws_sdk_sqs, sdk, metrics, "sqs"),
        ctx,
        url.to_string(),
    ))
}
