//! The values that repeat across an estate's records, held once (`shared_str`).
//!
//! Every rule of a listener names the listener; every target group names its ALBs, VPC,
//! protocols and health check; every alias record names its ALB and record type. Decoded
//! from AWS's answers, each record holds its own copy of each, and the controller holds
//! the records of the last pass (the base of targeted passes) and of this one. Each batch
//! of records (a listener's rules, the account's groups, a zone's records) is handed the
//! cache's copies as soon as it is read.
//!
//! ARNs too: a group's ARN is held by the group, by the rules that forward to it, by the
//! statuses that list it, by its cached attributes and by the status page's facts; a
//! rule's by the rule and the statuses; an ALB's by the ALB, its groups and the statuses
//! placed on it. Each is one allocation, and the next pass's read shares the one the last
//! pass's statuses still hold.

use super::Cache;
use crate::state::{HealthCheck, LoadBalancer, RecordSet, Rule, TargetGroup};
use ecs_ingress_core::shared_str::Interner;

impl Cache {
    /// Forgets the values nothing holds any more: called as a full pass starts, after the
    /// last pass's reads are dropped, so what the statuses, caches and intents still hold
    /// stays (the ARNs the last statuses list among them).
    pub(crate) fn forget_unshared_values(&mut self) {
        self.shared.forget_unused();
    }

    pub(crate) fn share_rules_values(&mut self, rules: &mut [Rule]) {
        for rule in rules {
            share_rule(rule, &mut self.shared);
        }
    }

    /// An ALB's ARN is the one its groups list (and the statuses placed on it hold).
    pub(crate) fn share_load_balancers_values(&mut self, load_balancers: &mut [LoadBalancer]) {
        for load_balancer in load_balancers {
            self.shared.share(&mut load_balancer.arn);
        }
    }

    pub(crate) fn share_groups_values(&mut self, groups: &mut [TargetGroup]) {
        for group in groups {
            share_group(group, &mut self.shared);
        }
    }

    pub(crate) fn share_records_values(&mut self, records: &mut [RecordSet]) {
        for record in records {
            share_record(record, &mut self.shared);
        }
    }
}

/// A rule's own ARN too: the statuses of the last pass hold it, and the next pass's read
/// of the rule then shares their copy instead of adding its own. The groups it forwards to
/// share their ARNs with the groups' records.
fn share_rule(rule: &mut Rule, interner: &mut Interner) {
    interner.share(&mut rule.arn);
    interner.share(&mut rule.listener_arn);
    for group in rule
        .forward_target_groups
        .iter_mut()
        .chain(&mut rule.staged_target_groups)
    {
        interner.share(group);
    }
}

fn share_group(group: &mut TargetGroup, interner: &mut Interner) {
    interner.share(&mut group.arn);
    interner.share(&mut group.protocol);
    interner.share_option(&mut group.protocol_version);
    interner.share(&mut group.target_type);
    interner.share(&mut group.vpc_id);
    for alb in &mut group.load_balancer_arns {
        interner.share(alb);
    }
    share_health_check(&mut group.health_check, interner);
}

fn share_health_check(check: &mut HealthCheck, interner: &mut Interner) {
    interner.share(&mut check.protocol);
    interner.share(&mut check.path);
    interner.share(&mut check.port);
    interner.share(&mut check.matcher);
}

fn share_record(record: &mut RecordSet, interner: &mut Interner) {
    interner.share(&mut record.record_type);
    if let Some(alias) = &mut record.alias {
        interner.share(&mut alias.dns_name);
        interner.share(&mut alias.hosted_zone_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{AliasTarget, Tags};

    /// On an ALB and with a protocol version, so that every shared field holds a value.
    fn group(arn: &str) -> TargetGroup {
        TargetGroup {
            protocol_version: Some("HTTP1".into()),
            load_balancer_arns: vec!["alb-1".into()],
            ..crate::testing::target_group(arn, Tags::new())
        }
    }

    fn alias_record(name: &str) -> RecordSet {
        RecordSet {
            name: name.into(),
            record_type: "A".into(),
            ttl: None,
            values: vec![],
            alias: Some(AliasTarget {
                dns_name: "internal-alb-1.elb.amazonaws.com".into(),
                hosted_zone_id: "Z35SXDOTRQ7X7K".into(),
                evaluate_target_health: true,
            }),
            set_identifier: None,
        }
    }

    fn rule(arn: &str) -> Rule {
        crate::testing::rule(arn, "listener-1")
    }

    #[test]
    fn records_read_apart_share_their_repeated_values() {
        let mut cache = Cache::default();
        let mut groups = vec![group("tg-a"), group("tg-b")];
        let mut records = vec![alias_record("a"), alias_record("b")];
        let mut rules = vec![rule("r-1")];
        let mut more_rules = vec![rule("r-2")];
        let (groups_before, records_before) = (groups.clone(), records.clone());
        cache.share_groups_values(&mut groups);
        cache.share_records_values(&mut records);
        cache.share_rules_values(&mut rules);
        cache.share_rules_values(&mut more_rules);

        assert!(
            rules[0]
                .listener_arn
                .is_shared_with(&more_rules[0].listener_arn)
        );
        let [a, b] = &groups[..] else {
            panic!("two groups");
        };
        assert!(a.vpc_id.is_shared_with(&b.vpc_id));
        assert!(a.load_balancer_arns[0].is_shared_with(&b.load_balancer_arns[0]));
        assert!(a.health_check.path.is_shared_with(&b.health_check.path));
        assert!(
            a.protocol.is_shared_with(&a.health_check.protocol),
            "equal values of different fields are one copy too"
        );
        let (x, y) = (&records[0], &records[1]);
        assert!(x.record_type.is_shared_with(&y.record_type));
        let (Some(xa), Some(ya)) = (&x.alias, &y.alias) else {
            panic!("aliases");
        };
        assert!(xa.dns_name.is_shared_with(&ya.dns_name));
        assert_eq!(groups, groups_before, "values unchanged");
        assert_eq!(records, records_before);
    }

    #[test]
    fn arns_are_one_copy_in_every_record_that_names_them() {
        let mut cache = Cache::default();
        let mut groups = vec![group("tg-a")];
        let mut forwarding = rule("r-1");
        forwarding.forward_target_groups = vec!["tg-a".into()];
        forwarding.staged_target_groups = vec!["tg-b".into()];
        let mut staged_group = vec![group("tg-b")];
        let mut rules = vec![forwarding];
        let mut albs = vec![crate::testing::load_balancer("alb-1")];
        cache.share_rules_values(&mut rules);
        cache.share_groups_values(&mut groups);
        cache.share_groups_values(&mut staged_group);
        cache.share_load_balancers_values(&mut albs);

        let r = &rules[0];
        assert!(r.forward_target_groups[0].is_shared_with(&groups[0].arn));
        assert!(r.staged_target_groups[0].is_shared_with(&staged_group[0].arn));
        assert!(albs[0].arn.is_shared_with(&groups[0].load_balancer_arns[0]));

        // The next pass reads the rule again while the last one's copy is held (by a
        // status, say): it gets that copy.
        let held = rules[0].arn.clone();
        drop(rules);
        cache.forget_unshared_values();
        let mut again = vec![rule("r-1")];
        cache.share_rules_values(&mut again);
        assert!(again[0].arn.is_shared_with(&held));
    }

    #[test]
    fn the_next_pass_shares_the_values_of_the_last_one_still_held() {
        let mut cache = Cache::default();
        let mut last = vec![group("tg-a")];
        cache.share_groups_values(&mut last);
        cache.forget_unshared_values();
        let mut next = vec![group("tg-a")];
        cache.share_groups_values(&mut next);
        assert!(last[0].vpc_id.is_shared_with(&next[0].vpc_id));
        drop(last);
        drop(next);
        cache.forget_unshared_values();
        assert!(cache.shared.is_empty(), "values nobody holds are forgotten");
    }
}
