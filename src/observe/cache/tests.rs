use std::time::Duration;

use super::*;

const RESYNC: Option<Duration> = Some(Duration::from_secs(600));

/// Fills the attribute cache as a pass that read `groups` groups would.
fn cache_with(groups: usize) -> Cache {
    let mut cache = Cache::default();
    for i in 0..groups {
        cache.remember_attributes(format!("tg-{i}"), Default::default());
    }
    cache
}

/// The passes that refresh attributes, numbered from 1, among the first `passes` full
/// passes, with the cache holding `groups` groups after each.
fn refreshing_passes(groups: usize, resync: Option<Duration>, passes: u64) -> Vec<u64> {
    let mut cache = Cache::default();
    let mut refreshing = Vec::new();
    for pass in 1..=passes {
        cache.start_pass(resync);
        if cache.refreshing {
            refreshing.push(pass);
        }
        // The pass reads every group's attributes that are not cached.
        let filled = cache_with(groups);
        cache.attributes = filled.attributes;
    }
    refreshing
}

#[test]
fn without_events_the_refresh_comes_every_tenth_pass_whatever_the_size() {
    for groups in [0, 100, 10_000, 100_000] {
        assert_eq!(attribute_refresh_passes(groups, None), 10, "{groups}");
    }
    assert_eq!(refreshing_passes(10_000, None, 25), vec![1, 11, 21]);
}

#[test]
fn with_events_the_refresh_waits_as_long_as_its_reads_need_to_stay_within_budget() {
    let table = [
        (0, 10),
        (1000, 10),
        (2400, 10),
        (2401, 11),
        (5000, 21),
        (10_000, 42),
    ];
    for (groups, passes) in table {
        assert_eq!(attribute_refresh_passes(groups, RESYNC), passes, "{groups}");
        // Reads per second of the refresh, spread over its passes, within the budget.
        let per_second = groups as f64 / (passes as f64 * 600.0);
        assert!(per_second <= ATTRIBUTE_REFRESH_READS_PER_SECOND, "{groups}");
    }
    // A longer resync pays for more groups per refresh.
    assert_eq!(
        attribute_refresh_passes(10_000, Some(Duration::from_secs(3600))),
        10
    );
    // A zero resync is treated as no events queue rather than dividing by zero.
    assert_eq!(attribute_refresh_passes(10_000, Some(Duration::ZERO)), 10);
}

#[test]
fn the_first_pass_refreshes_and_the_interval_follows_the_groups_cached() {
    assert_eq!(refreshing_passes(10_000, RESYNC, 90), vec![1, 43, 85]);
    assert_eq!(refreshing_passes(100, RESYNC, 25), vec![1, 11, 21]);
}

#[test]
fn a_refresh_forgets_every_attribute_and_the_rules_quota() {
    let mut cache = cache_with(3);
    cache.rules_quota = Some(100);
    cache.start_pass(RESYNC);
    assert!(cache.refreshing);
    assert!(cache.attributes.is_empty());
    assert_eq!(cache.rules_quota, None);
    let mut cache = cache_with(3);
    cache.passes_since_refresh = Some(1);
    cache.start_pass(RESYNC);
    assert!(!cache.refreshing);
    assert_eq!(cache.attributes.len(), 3);
}

/// Attributes as a group has them, with its deregistration delay.
fn attributes(delay: &str) -> crate::state::TargetGroupAttributes {
    let mut map = crate::state::TargetGroupAttributes::new();
    map.insert("deregistration_delay.timeout_seconds".into(), delay.into());
    map.insert("stickiness.enabled".into(), "false".into());
    map
}

#[test]
fn groups_with_equal_attributes_share_one_map_and_others_keep_their_own() {
    let mut cache = Cache::default();
    let first = cache.remember_attributes("tg-1", attributes("300"));
    let second = cache.remember_attributes("tg-2", attributes("300"));
    let other = cache.remember_attributes("tg-3", attributes("30"));
    assert!(first.is_shared_with(&second), "equal maps are one");
    assert!(!first.is_shared_with(&other));
    assert_eq!(other, attributes("30"), "each group keeps what it has");
    assert!(cache.attributes["tg-2"].is_shared_with(&first));
    assert_eq!(cache.distinct_attributes.len(), 2);
    // A refresh reads every group again: nothing held from before is shared.
    cache.forget_attributes();
    assert!(cache.distinct_attributes.is_empty());
    let again = cache.remember_attributes("tg-1", attributes("300"));
    assert!(!again.is_shared_with(&first));
}

#[test]
fn written_attributes_are_keyed_by_the_arn_the_next_read_shares() {
    let mut cache = Cache::default();
    cache.remember_attributes("tg-1", attributes("300"));
    let mut groups = vec![crate::testing::target_group(
        "tg-1",
        crate::state::Tags::new(),
    )];
    cache.share_groups_values(&mut groups);
    let Some((key, _)) = cache.attributes.get_key_value("tg-1") else {
        panic!("cached");
    };
    assert!(key.is_shared_with(&groups[0].arn));
}
