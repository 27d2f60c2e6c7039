//! The physical floor a run is held against, from AWS's published buckets and page sizes
//! (see `docs/performance.md`): what no implementation can beat.

fn pages(items: usize, page: usize) -> usize {
    items.div_ceil(page).max(1)
}

/// Virtual seconds to publish `services` from nothing: 2 ELBv2 mutating calls per service
/// (CreateTargetGroup and CreateRule, tags inline) through the mutating bucket (20 tokens,
/// 3 per second). UpdateService and Route 53 use other buckets and can overlap.
pub fn cold_start_seconds(services: usize) -> f64 {
    let mutating = 2.0 * services as f64;
    ((mutating - 20.0) / 3.0).max(0.0)
}

/// The same for a pool that starts from one ALB and creates `created` more: each creation
/// is a CreateLoadBalancer and a CreateListener from the same mutating bucket.
pub fn pool_cold_start_seconds(services: usize, created: usize) -> f64 {
    let mutating = 2.0 * services as f64 + 2.0 * created as f64;
    ((mutating - 20.0) / 3.0).max(0.0)
}

/// The fewest reads that see everything a pass needs, with the largest pages AWS allows,
/// for `services` in one cluster behind `listeners` listeners (one per ALB) and one zone:
/// ListServices (100) and DescribeServices (10), GetResources (100) for task-definition tags
/// and for the owned rules and target groups, one DescribeListeners per ALB (every listener
/// of it: the rule quota counts them all) and one DescribeLoadBalancers, DescribeRules per
/// listener (400), DescribeTargetGroups (400, the
/// listeners' default groups included) and ListResourceRecordSets (300; an A record and a
/// marker per name, plus NS and SOA).
pub fn steady_reads(services: usize, listeners: usize) -> usize {
    let per_listener = services.div_ceil(listeners.max(1));
    pages(services, 100)
        + pages(services, 10)
        + pages(services, 100)
        + pages(2 * services, 100)
        + listeners
        + 1
        + listeners * pages(per_listener, 400)
        + pages(services + listeners, 400)
        + pages(2 * services + 2, 300)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_worked_example_in_the_limits() {
        // 1000 services behind 11 ALBs: ≈ 150 reads (aws-limits: ECS ≈ 110, tags ≈ 10 + 20,
        // ELBv2 ≈ 14, Route 53 7).
        assert_eq!(
            steady_reads(1000, 11),
            10 + 100 + 10 + 20 + 11 + 1 + 11 + 3 + 7
        );
        assert_eq!(cold_start_seconds(1000), 660.0);
        assert_eq!(cold_start_seconds(5), 0.0);
        assert_eq!(pool_cold_start_seconds(1000, 10), 666.0 + 2.0 / 3.0);
    }
}
