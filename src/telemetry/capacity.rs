//! ALB capacity series: what each pool member uses of its rules, target groups and
//! certificates, and whether its pool can still grow, for the "pool nearly full" alert.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use ecs_ingress_core::status::AlbUsage;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AlbCapacityLabels {
    /// The ALB's name.
    pub alb: String,
    pub pool: String,
    /// `rules`, `target_groups` or `certificates`.
    pub resource: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabel {
    pub pool: String,
}

pub struct CapacityMetrics {
    pub used: Family<AlbCapacityLabels, Gauge>,
    pub max: Family<AlbCapacityLabels, Gauge>,
    pub can_grow: Family<PoolLabel, Gauge>,
}

impl CapacityMetrics {
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let used = Family::<AlbCapacityLabels, Gauge>::default();
        registry.register(
            "alb_capacity_used",
            "Rules (across all listeners), target groups and certificates besides the default each pool ALB holds",
            used.clone(),
        );
        let max = Family::<AlbCapacityLabels, Gauge>::default();
        registry.register(
            "alb_capacity_max",
            "Rules, target groups and certificates each pool ALB may hold (quota, or the --max-*-per-alb flags)",
            max.clone(),
        );
        let can_grow = Family::<PoolLabel, Gauge>::default();
        registry.register(
            "pool_can_grow",
            "1 when a pool may still get another ALB (--pool-max-albs), 0 when it cannot",
            can_grow.clone(),
        );
        Self {
            used,
            max,
            can_grow,
        }
    }

    /// Replaces the series with this pass's ALBs (a deleted ALB's series disappear), and
    /// each pool's room to grow.
    pub fn record(&self, albs: &[AlbUsage], can_grow: &[(String, bool)]) {
        self.used.clear();
        self.max.clear();
        for a in albs {
            for (resource, used, max) in [
                ("rules", a.rules_used, a.rules_max),
                ("target_groups", a.target_groups_used, a.target_groups_max),
                ("certificates", a.certificates_used, a.certificates_max),
            ] {
                let labels = AlbCapacityLabels {
                    alb: a.name.clone(),
                    pool: a.pool.clone(),
                    resource: resource.into(),
                };
                self.used
                    .get_or_create(&labels)
                    .set(i64::try_from(used).unwrap_or(i64::MAX));
                self.max
                    .get_or_create(&labels)
                    .set(i64::try_from(max).unwrap_or(i64::MAX));
            }
        }
        for (pool, grows) in can_grow {
            self.can_grow
                .get_or_create(&PoolLabel { pool: pool.clone() })
                .set(i64::from(*grows));
        }
    }
}
