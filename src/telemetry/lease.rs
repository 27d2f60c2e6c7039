//! The leader-election series, registered with the rest in [`crate::telemetry::Metrics`].

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

pub struct LeaseMetrics {
    /// 1 on the leader and on a single replica without leader election, 0 on a standby.
    pub leader: Gauge,
    pub transitions: Counter,
    pub renew_duration: Histogram,
    pub renew_failures: Counter,
}

impl LeaseMetrics {
    /// Registers the series in `registry` (already prefixed `ecs_ingress`). A process
    /// starts as the writer (single replica); a campaign sets 0 until it leads.
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let leader = Gauge::default();
        leader.set(1);
        registry.register(
            "leader",
            "1 when this replica may write to AWS (the leader, or a single replica), 0 on a standby",
            leader.clone(),
        );
        let transitions = Counter::default();
        registry.register(
            "leader_transitions",
            "Times this replica became leader or stopped being leader",
            transitions.clone(),
        );
        // 5 ms .. ~10 s: a renewal is one DynamoDB write; anything near the lease is a problem.
        let renew_duration = Histogram::new(exponential_buckets(0.005, 2.0, 12));
        registry.register(
            "lease_renew_duration_seconds",
            "Duration of lease renewals, SDK retries included",
            renew_duration.clone(),
        );
        let renew_failures = Counter::default();
        registry.register(
            "lease_renew_failures",
            "Lease renewals that failed (the replica stopped writing at once)",
            renew_failures.clone(),
        );
        Self {
            leader,
            transitions,
            renew_duration,
            renew_failures,
        }
    }
}
