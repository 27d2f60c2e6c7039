//! Logs and Prometheus metrics.
//!
//! Every series is prefixed `ecs_ingress_` (except the standard `process_*` ones) and
//! documented in `docs/operations.md`. Families that alerts and dashboards read are created
//! with their label sets at zero, so that `rate()` and `increase()` see the first event: a
//! series that first appears at 1 has no earlier sample to increase from.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

pub(crate) mod capacity;
mod exposition;
pub(crate) mod lease;
pub mod logging;
mod process;

pub use exposition::{Format, negotiate};

/// Which kind of pass ran: a full pass reads everything; a targeted pass reads only the
/// services events named and takes the rest from the last full pass.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum PassKind {
    Full,
    Targeted,
}

impl PassKind {
    pub const ALL: [PassKind; 2] = [PassKind::Full, PassKind::Targeted];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Targeted => "targeted",
        }
    }
}

impl EncodeLabelValue for PassKind {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

/// Whether every read and change of a pass succeeded.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum PassResult {
    Success,
    Partial,
}

impl PassResult {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Partial => "partial",
        }
    }
}

impl EncodeLabelValue for PassResult {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PassLabels {
    pub kind: PassKind,
    pub result: PassResult,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PassKindLabel {
    pub kind: PassKind,
}

/// The type of a queue event (`crate::events::EventType::as_str`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventTypeLabel {
    pub r#type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChangeLabels {
    pub kind: String,
    pub action: String,
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct AwsCallLabels {
    pub service: String,
    pub operation: String,
    pub outcome: String,
    /// The account a Route 53 or STS call acts in: `default` (the own credentials) or a
    /// `--zone-role` role's account. Absent on the other services' series.
    pub account: Option<String>,
}

impl EncodeLabelSet for AwsCallLabels {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelSetEncoder,
    ) -> Result<(), std::fmt::Error> {
        use prometheus_client::encoding::EncodeLabel;
        ("service", self.service.as_str()).encode(encoder.encode_label())?;
        ("operation", self.operation.as_str()).encode(encoder.encode_label())?;
        ("outcome", self.outcome.as_str()).encode(encoder.encode_label())?;
        if let Some(account) = &self.account {
            ("account", account.as_str()).encode(encoder.encode_label())?;
        }
        Ok(())
    }
}

/// The `account` label of a call of `service` made with `account`'s credentials (`None`:
/// the own ones): only Route 53 and STS calls carry one.
pub fn call_account(service: &str, account: Option<&str>) -> Option<String> {
    matches!(service, "route53" | "sts").then(|| account.unwrap_or("default").to_string())
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AwsOperationLabels {
    pub service: String,
    pub operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct BuildLabels {
    pub version: String,
    pub target: String,
}

/// Change kinds and the actions each can have, as the planner labels them
/// (`Change::kind()`, `Change::action()`): their failure counters start at zero.
const CHANGE_ACTIONS: &[(&str, &[&str])] = &[
    ("target-group", &["create", "update", "delete"]),
    (
        "listener-rule",
        &["create", "update", "reprioritize", "delete"],
    ),
    ("service-attachment", &["update"]),
    ("targets", &["register", "deregister"]),
    ("dns-record", &["create", "update", "delete"]),
    ("cloudmap-service", &["create", "delete"]),
    ("cloudmap-instance", &["register", "deregister"]),
    ("load-balancer", &["create", "delete"]),
];

/// Kinds of `managed_resources`.
const MANAGED_KINDS: &[&str] = &[
    "target-group",
    "listener-rule",
    "dns-name",
    "cloudmap-instance",
];

/// 0.25 s .. ~8.5 min: from an event to the change it caused, a targeted pass takes
/// seconds; a change deferred to the full resync takes up to the resync interval.
fn event_latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.25, 2.0, 12))
}

fn duration_histogram() -> Histogram {
    // 5 ms .. ~82 s: AWS calls are tens of milliseconds, a throttled pass can take a minute.
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

/// All metrics of the process, registered once.
pub struct Metrics {
    pub registry: Registry,
    pub pass_interval: Gauge<f64, AtomicU64>,
    pub passes: Family<PassLabels, Counter>,
    pub pass_duration: Family<PassKindLabel, Histogram>,
    pub last_success_timestamp: Gauge<f64, AtomicU64>,
    pub services: Family<StateLabel, Gauge>,
    pub managed_resources: Family<KindLabel, Gauge>,
    pub changes: Family<ChangeLabels, Counter>,
    pub aws_calls: Family<AwsCallLabels, Counter>,
    pub aws_call_duration: Family<AwsOperationLabels, Histogram>,
    pub throttled_calls: Family<AwsOperationLabels, Counter>,
    pub rate_limit_wait: Histogram,
    pub drift_repairs: Family<KindLabel, Counter>,
    pub events_received: Family<EventTypeLabel, Counter>,
    pub events_malformed: Counter,
    /// From receiving an event to the first change applied by the pass it triggered.
    pub event_to_change: Histogram,
    /// Leader election: `leader`, transitions, lease renewals.
    pub lease: lease::LeaseMetrics,
    /// `alb_capacity_used`, `alb_capacity_max`, `pool_can_grow`.
    pub capacity: capacity::CapacityMetrics,
    /// When an AWS call last completed (any outcome): liveness means the loop makes
    /// progress, which a long first pass does while no pass has finished yet.
    last_progress: std::sync::Mutex<Option<tokio::time::Instant>>,
    /// AWS calls and throttled attempts since start-up, for the page's per-pass counts.
    call_total: AtomicU64,
    throttle_total: AtomicU64,
    /// Queue messages received since start-up, every type together.
    event_total: AtomicU64,
}

impl Metrics {
    /// The registry with every series, those of `operations` (service → the AWS operations
    /// it calls) created at zero.
    pub fn new(operations: &[(&str, &[&str])]) -> Self {
        let mut root = Registry::default();
        // The process's own metrics keep their standard unprefixed names.
        root.register_collector(Box::new(process::ProcessCollector::new()));
        let registry = root.sub_registry_with_prefix("ecs_ingress");
        registry.register(
            "build",
            "The running build (value 1)",
            Info::new(BuildLabels {
                version: env!("CARGO_PKG_VERSION").into(),
                target: format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS),
            }),
        );
        let pass_interval = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "pass_interval_seconds",
            "Configured time between passes (--interval), for alerts that scale with it",
            pass_interval.clone(),
        );
        let passes = Family::<PassLabels, Counter>::default();
        registry.register(
            "passes",
            "Reconcile passes by kind (full, targeted) and result",
            passes.clone(),
        );
        let pass_duration =
            Family::<PassKindLabel, Histogram>::new_with_constructor(duration_histogram as _);
        registry.register(
            "pass_duration_seconds",
            "Duration of reconcile passes by kind",
            pass_duration.clone(),
        );
        let last_success_timestamp = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "last_successful_pass_timestamp_seconds",
            "Unix time of the end of the last pass that completed without error",
            last_success_timestamp.clone(),
        );
        let services = Family::<StateLabel, Gauge>::default();
        registry.register(
            "services",
            "Managed ECS services by state",
            services.clone(),
        );
        let managed_resources = Family::<KindLabel, Gauge>::default();
        registry.register(
            "managed_resources",
            "AWS resources owned by this controller, by kind",
            managed_resources.clone(),
        );
        let changes = Family::<ChangeLabels, Counter>::default();
        registry.register(
            "changes",
            "Changes applied by resource kind, action and result",
            changes.clone(),
        );
        let aws_calls = Family::<AwsCallLabels, Counter>::default();
        registry.register(
            "aws_calls",
            "AWS API calls by service, operation and outcome",
            aws_calls.clone(),
        );
        let aws_call_duration =
            Family::<AwsOperationLabels, Histogram>::new_with_constructor(duration_histogram as _);
        registry.register(
            "aws_call_duration_seconds",
            "Duration of AWS API calls, retries included",
            aws_call_duration.clone(),
        );
        let throttled_calls = Family::<AwsOperationLabels, Counter>::default();
        registry.register(
            "aws_throttled_calls",
            "AWS API attempts answered with a throttling error, attempts the SDK retried included",
            throttled_calls.clone(),
        );
        let rate_limit_wait = duration_histogram();
        registry.register(
            "rate_limit_wait_seconds",
            "Time AWS calls waited for the client-side rate limiter (only calls that waited)",
            rate_limit_wait.clone(),
        );
        let drift_repairs = Family::<KindLabel, Counter>::default();
        registry.register(
            "drift_repairs",
            "Owned resources changed outside ecs-ingress and put back, by kind",
            drift_repairs.clone(),
        );
        let events_received = Family::<EventTypeLabel, Counter>::default();
        registry.register(
            "events_received",
            "Messages received from the events queue, by event type",
            events_received.clone(),
        );
        let events_malformed = Counter::default();
        registry.register(
            "events_malformed",
            "Messages from the events queue that could not be parsed (deleted)",
            events_malformed.clone(),
        );
        let event_to_change = event_latency_histogram();
        registry.register(
            "event_to_change_seconds",
            "From receiving an event to the first change applied by the pass it triggered",
            event_to_change.clone(),
        );
        let lease = lease::LeaseMetrics::register(registry);
        let capacity = capacity::CapacityMetrics::register(registry);
        let metrics = Self {
            registry: root,
            pass_interval,
            passes,
            pass_duration,
            last_success_timestamp,
            services,
            managed_resources,
            changes,
            aws_calls,
            aws_call_duration,
            throttled_calls,
            rate_limit_wait,
            drift_repairs,
            events_received,
            events_malformed,
            event_to_change,
            lease,
            capacity,
            last_progress: std::sync::Mutex::new(None),
            call_total: AtomicU64::new(0),
            throttle_total: AtomicU64::new(0),
            event_total: AtomicU64::new(0),
        };
        metrics.precreate(operations);
        metrics
    }

    /// Creates at zero the series that alerts and dashboards read, so they exist from the
    /// first scrape and the first event is an increase from 0.
    fn precreate(&self, operations: &[(&str, &[&str])]) {
        for kind in PassKind::ALL {
            for result in [PassResult::Success, PassResult::Partial] {
                let _ = self.passes.get_or_create(&PassLabels { kind, result });
            }
            let _ = self.pass_duration.get_or_create(&PassKindLabel { kind });
        }
        for (service, calls) in operations {
            for operation in *calls {
                let _ = self.throttled_calls.get_or_create(&AwsOperationLabels {
                    service: (*service).into(),
                    operation: (*operation).into(),
                });
            }
        }
        for (kind, actions) in CHANGE_ACTIONS {
            for action in *actions {
                for result in ["applied", "failed"] {
                    let _ = self.changes.get_or_create(&ChangeLabels {
                        kind: (*kind).into(),
                        action: (*action).into(),
                        result: result.into(),
                    });
                }
            }
            let _ = self.drift_repairs.get_or_create(&KindLabel {
                kind: (*kind).into(),
            });
        }
        for kind in MANAGED_KINDS {
            let _ = self.managed_resources.get_or_create(&KindLabel {
                kind: (*kind).into(),
            });
        }
    }

    /// Counts a finished pass and its duration.
    pub fn record_pass(&self, kind: PassKind, result: PassResult, seconds: f64) {
        self.passes
            .get_or_create(&PassLabels { kind, result })
            .inc();
        self.pass_duration
            .get_or_create(&PassKindLabel { kind })
            .observe(seconds);
    }

    /// Passes of `kind` that ended with `result` since start-up.
    pub fn passes_count(&self, kind: PassKind, result: PassResult) -> u64 {
        self.passes
            .get_or_create(&PassLabels { kind, result })
            .get()
    }

    /// Counts a message received from the events queue, by its event type.
    pub fn record_event(&self, event_type: &'static str) {
        self.events_received
            .get_or_create(&EventTypeLabel { r#type: event_type })
            .inc();
        self.event_total
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Messages received since start-up, every type together.
    pub fn events_received_total(&self) -> u64 {
        self.event_total.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Messages of `event_type` received since start-up.
    pub fn events_of_type(&self, event_type: &'static str) -> u64 {
        self.events_received
            .get_or_create(&EventTypeLabel { r#type: event_type })
            .get()
    }

    /// The configured pass interval, exported as `ecs_ingress_pass_interval_seconds`.
    pub fn set_pass_interval(&self, secs: f64) {
        self.pass_interval.set(secs);
    }

    /// OpenMetrics text exposition of every series.
    pub fn encode(&self) -> String {
        self.encode_as(Format::OpenMetrics)
    }

    /// Every series in `format`.
    pub fn encode_as(&self, format: Format) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        match format {
            Format::OpenMetrics => out,
            Format::Prometheus => exposition::to_prometheus_text(&out),
        }
    }

    /// When an AWS call last completed.
    pub fn last_progress(&self) -> Option<tokio::time::Instant> {
        *self
            .last_progress
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// AWS calls and throttled attempts since start-up.
    pub fn call_totals(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.call_total.load(Relaxed),
            self.throttle_total.load(Relaxed),
        )
    }

    /// Records one AWS call. `throttled` counts it in `aws_throttled_calls_total` too: for
    /// clients without a per-attempt counter (the fake), whose calls are single attempts.
    pub fn record_aws_call(
        &self,
        service: &str,
        operation: &str,
        outcome: &str,
        seconds: f64,
        throttled: bool,
    ) {
        self.record_aws_call_in(None, service, operation, outcome, seconds, throttled);
    }

    /// [`Metrics::record_aws_call`] for a call made with the credentials of `account`'s role
    /// (`None`: the own ones).
    pub fn record_aws_call_in(
        &self,
        account: Option<&str>,
        service: &str,
        operation: &str,
        outcome: &str,
        seconds: f64,
        throttled: bool,
    ) {
        self.aws_calls
            .get_or_create(&AwsCallLabels {
                service: service.into(),
                operation: operation.into(),
                outcome: outcome.into(),
                account: call_account(service, account),
            })
            .inc();
        let op = AwsOperationLabels {
            service: service.into(),
            operation: operation.into(),
        };
        self.aws_call_duration.get_or_create(&op).observe(seconds);
        self.call_total
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *self
            .last_progress
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(tokio::time::Instant::now());
        if throttled {
            let _ = self.throttled_calls.get_or_create(&op).inc();
            self.throttle_total
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Records one attempt that AWS answered with a throttling error (the real clients'
    /// interceptor calls this for every attempt, retried or not).
    pub fn record_throttled_attempt(&self, service: &str, operation: &str) {
        self.throttle_total
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.throttled_calls
            .get_or_create(&AwsOperationLabels {
                service: service.into(),
                operation: operation.into(),
            })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route53_and_sts_series_say_which_account_they_act_in() {
        let m = Metrics::new(crate::aws::OPERATIONS);
        m.record_aws_call("route53", "ListResourceRecordSets", "success", 0.01, false);
        m.record_aws_call_in(
            Some("222222222222"),
            "route53",
            "ChangeResourceRecordSets",
            "success",
            0.01,
            false,
        );
        m.record_aws_call("sts", "AssumeRole", "access-denied", 0.01, false);
        m.record_aws_call("ecs", "ListServices", "success", 0.01, false);
        let text = m.encode();
        for line in [
            "ecs_ingress_aws_calls_total{service=\"route53\",operation=\"ListResourceRecordSets\",outcome=\"success\",account=\"default\"} 1",
            "ecs_ingress_aws_calls_total{service=\"route53\",operation=\"ChangeResourceRecordSets\",outcome=\"success\",account=\"222222222222\"} 1",
            "ecs_ingress_aws_calls_total{service=\"sts\",operation=\"AssumeRole\",outcome=\"access-denied\",account=\"default\"} 1",
            "ecs_ingress_aws_calls_total{service=\"ecs\",operation=\"ListServices\",outcome=\"success\"} 1",
        ] {
            assert!(text.contains(line), "{line} not in {text}");
        }
    }

    #[test]
    fn encodes_prefixed_series() {
        let m = Metrics::new(crate::aws::OPERATIONS);
        m.record_pass(PassKind::Targeted, PassResult::Success, 0.2);
        m.record_aws_call("ecs", "ListServices", "success", 0.01, false);
        m.record_aws_call("elbv2", "DescribeRules", "throttled", 0.02, true);
        let text = m.encode();
        assert!(
            text.contains("ecs_ingress_passes_total{kind=\"targeted\",result=\"success\"} 1"),
            "{text}"
        );
        assert!(text.contains("ecs_ingress_pass_duration_seconds_count{kind=\"targeted\"} 1"));
        assert!(text.contains(
            "ecs_ingress_aws_calls_total{service=\"ecs\",operation=\"ListServices\",outcome=\"success\"} 1"
        ));
        assert!(text.contains(
            "ecs_ingress_aws_throttled_calls_total{service=\"elbv2\",operation=\"DescribeRules\"} 1"
        ));
        assert!(text.contains("# TYPE ecs_ingress_pass_duration_seconds histogram"));
        assert!(text.trim_end().ends_with("# EOF"));
    }

    #[test]
    fn alerting_series_exist_at_zero_from_the_first_scrape() {
        let m = Metrics::new(crate::aws::OPERATIONS);
        m.set_pass_interval(300.0);
        let text = m.encode_as(Format::Prometheus);
        for series in [
            "ecs_ingress_aws_throttled_calls_total{service=\"elbv2\",operation=\"DescribeRules\"} 0",
            "ecs_ingress_aws_throttled_calls_total{service=\"ecs\",operation=\"UpdateService\"} 0",
            "ecs_ingress_changes_total{kind=\"listener-rule\",action=\"create\",result=\"failed\"} 0",
            "ecs_ingress_passes_total{kind=\"full\",result=\"partial\"} 0",
            "ecs_ingress_passes_total{kind=\"targeted\",result=\"success\"} 0",
            "ecs_ingress_drift_repairs_total{kind=\"target-group\"} 0",
            "ecs_ingress_managed_resources{kind=\"dns-name\"} 0",
            "ecs_ingress_pass_interval_seconds 300.0",
        ] {
            assert!(text.contains(series), "{series} missing from\n{text}");
        }
        let version = format!(
            "ecs_ingress_build_info{{version=\"{}\",",
            env!("CARGO_PKG_VERSION")
        );
        assert!(text.contains(&version), "{text}");
        assert!(
            text.contains("# TYPE ecs_ingress_build_info gauge"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE ecs_ingress_passes_total counter"),
            "{text}"
        );
        assert!(!text.contains("# EOF"));
        #[cfg(target_os = "linux")]
        for name in [
            "process_cpu_seconds_total ",
            "process_resident_memory_bytes ",
            "process_open_fds ",
            "process_start_time_seconds ",
        ] {
            assert!(
                text.lines().any(|l| l.starts_with(name)),
                "{name} missing from\n{text}"
            );
        }
    }
}
