//! Every routing key ecs-ingress reads, once: parsing, the key list (unknown keys are
//! warnings) and [`super::Intent::to_labels`] all name keys through these constants.

pub const ALB_HOST: &str = "alb.host";
pub const ALB_PATH: &str = "alb.path";
pub const ALB_LISTENER: &str = "alb.listener";
pub const ALB_CONTAINER: &str = "alb.container";
pub const ALB_PORT: &str = "alb.port";
pub const ALB_PRIORITY: &str = "alb.priority";
pub const ALB_PROTOCOL: &str = "alb.protocol";
pub const ALB_PROTOCOL_VERSION: &str = "alb.protocol-version";
pub const ALB_HEALTHCHECK_PATH: &str = "alb.healthcheck.path";
pub const ALB_HEALTHCHECK_PORT: &str = "alb.healthcheck.port";
pub const ALB_HEALTHCHECK_INTERVAL: &str = "alb.healthcheck.interval";
pub const ALB_HEALTHCHECK_TIMEOUT: &str = "alb.healthcheck.timeout";
pub const ALB_HEALTHCHECK_HEALTHY_THRESHOLD: &str = "alb.healthcheck.healthy-threshold";
pub const ALB_HEALTHCHECK_UNHEALTHY_THRESHOLD: &str = "alb.healthcheck.unhealthy-threshold";
pub const ALB_HEALTHCHECK_MATCHER: &str = "alb.healthcheck.matcher";
pub const ALB_DEREGISTRATION_DELAY: &str = "alb.deregistration-delay";
pub const ALB_SLOW_START: &str = "alb.slow-start";
pub const ALB_STICKINESS: &str = "alb.stickiness";
pub const ALB_TARGETS: &str = "alb.targets";
pub const ALB_DEPLOY: &str = "alb.deploy";
pub const ALB_BAKE_MINUTES: &str = "alb.bake-minutes";
pub const ALB_LINEAR_STEP_PERCENT: &str = "alb.linear.step-percent";
pub const ALB_LINEAR_STEP_MINUTES: &str = "alb.linear.step-minutes";
pub const ALB_CANARY_PERCENT: &str = "alb.canary.percent";
pub const ALB_CANARY_MINUTES: &str = "alb.canary.minutes";
pub const ALB_TEST_HOST: &str = "alb.test-host";
pub const ALB_WEIGHT: &str = "alb.weight";
pub const ALB_BACKEND_SG: &str = "alb.backend-sg";
pub const ALB_TLS: &str = "alb.tls";
pub const ALB_CERTIFICATE_ARN: &str = "alb.certificate-arn";
pub const DNS_NAME: &str = "dns.name";
pub const DNS_TYPE: &str = "dns.type";
pub const DNS_TTL: &str = "dns.ttl";
pub const DNS_ZONE: &str = "dns.zone";
pub const CLOUDMAP_NAMESPACE: &str = "cloudmap.namespace";
pub const CLOUDMAP_SERVICE: &str = "cloudmap.service";

/// Every key, without prefix.
pub const ALL: &[&str] = &[
    ALB_HOST,
    ALB_PATH,
    ALB_LISTENER,
    ALB_CONTAINER,
    ALB_PORT,
    ALB_PRIORITY,
    ALB_PROTOCOL,
    ALB_PROTOCOL_VERSION,
    ALB_HEALTHCHECK_PATH,
    ALB_HEALTHCHECK_PORT,
    ALB_HEALTHCHECK_INTERVAL,
    ALB_HEALTHCHECK_TIMEOUT,
    ALB_HEALTHCHECK_HEALTHY_THRESHOLD,
    ALB_HEALTHCHECK_UNHEALTHY_THRESHOLD,
    ALB_HEALTHCHECK_MATCHER,
    ALB_DEREGISTRATION_DELAY,
    ALB_SLOW_START,
    ALB_STICKINESS,
    ALB_TARGETS,
    ALB_DEPLOY,
    ALB_BAKE_MINUTES,
    ALB_LINEAR_STEP_PERCENT,
    ALB_LINEAR_STEP_MINUTES,
    ALB_CANARY_PERCENT,
    ALB_CANARY_MINUTES,
    ALB_TEST_HOST,
    ALB_WEIGHT,
    ALB_BACKEND_SG,
    ALB_TLS,
    ALB_CERTIFICATE_ARN,
    DNS_NAME,
    DNS_TYPE,
    DNS_TTL,
    DNS_ZONE,
    CLOUDMAP_NAMESPACE,
    CLOUDMAP_SERVICE,
];

/// The routing key named `key` (without prefix), as the key's own name: `None` when it is
/// not one.
pub fn known(key: &str) -> Option<&'static str> {
    ALL.iter().copied().find(|k| *k == key)
}
