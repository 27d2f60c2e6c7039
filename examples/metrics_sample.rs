//! Prints a `/metrics` page in the Prometheus text format (or OpenMetrics with
//! `--openmetrics`), with a sample of every kind of series, so that CI can lint the
//! exposition with `promtool check metrics` without running the daemon against AWS.

use ecs_ingress::telemetry::{Format, Metrics, PassKind, PassResult, StateLabel};

fn main() {
    let metrics = Metrics::new(ecs_ingress::aws::OPERATIONS);
    metrics.set_pass_interval(30.0);
    metrics.record_pass(PassKind::Full, PassResult::Success, 0.4);
    metrics.record_pass(PassKind::Targeted, PassResult::Success, 0.1);
    metrics.last_success_timestamp.set(1.7e9);
    metrics
        .services
        .get_or_create(&StateLabel {
            state: "published".into(),
        })
        .set(3);
    metrics.record_aws_call("ecs", "ListServices", "success", 0.02, false);
    metrics.record_aws_call("elbv2", "DescribeRules", "throttled", 0.3, false);
    metrics.record_throttled_attempt("elbv2", "DescribeRules");
    metrics.rate_limit_wait.observe(0.05);
    metrics.record_event("ecs-service-action");
    metrics.event_to_change.observe(2.5);
    let format = if std::env::args().any(|a| a == "--openmetrics") {
        Format::OpenMetrics
    } else {
        Format::Prometheus
    };
    print!("{}", metrics.encode_as(format));
}
