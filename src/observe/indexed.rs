//! Which rules and target groups took their tags from the tagging index (GetResources),
//! which lags behind AWS: deleting one of them needs a DescribeTags first.
//!
//! Every full pass marks nearly every owned rule and group, and the base of targeted passes
//! keeps the marks (a targeted pass copies them). As a set of ARN strings that was two
//! allocations of about 110 bytes per service, built every pass and held twice at a pass's
//! peak: a third of a KiB per service. A set of 64-bit hashes of the ARNs holds the same
//! answer in a few bytes, because an error can only go one way: two ARNs with the same hash
//! make the second look indexed, which costs one DescribeTags before deleting it, and never
//! lets a deletion go unconfirmed. Confirmations are kept exactly, by ARN (they are few:
//! only deletions), so a collision can never clear another resource's doubt.

use std::hash::{Hash, Hasher};

use rustc_hash::{FxHashSet, FxHasher};

/// The rules and target groups whose tags came from the tagging index and are not
/// confirmed since (by DescribeTags).
#[derive(Debug, Clone, Default)]
pub struct IndexedTags {
    /// Hashes of the ARNs marked: a member may be a collision, never a miss.
    marked: FxHashSet<u64>,
    /// Marked ARNs whose tags were read with DescribeTags since they were marked.
    confirmed: FxHashSet<String>,
}

fn hash_of(arn: &str) -> u64 {
    let mut hasher = FxHasher::default();
    arn.hash(&mut hasher);
    hasher.finish()
}

impl IndexedTags {
    /// `arn`'s tags were taken from the index (again: an earlier confirmation no longer
    /// holds).
    pub fn mark(&mut self, arn: &str) {
        self.mark_hashed(arn, hash_of(arn));
    }

    /// Whether `arn`'s tags may have come from the index and need confirming before it is
    /// deleted. True for every marked ARN not confirmed since; rarely (a hash collision) for
    /// another, which only costs a confirmation.
    pub fn may_need_confirming(&self, arn: &str) -> bool {
        self.may_need_confirming_hashed(arn, hash_of(arn))
    }

    /// `arn`'s tags were read with DescribeTags.
    pub fn confirm(&mut self, arn: &str) {
        self.confirm_hashed(arn, hash_of(arn));
    }

    // The same, with the hash given: the tests give two ARNs one hash.

    fn mark_hashed(&mut self, arn: &str, hash: u64) {
        self.marked.insert(hash);
        if !self.confirmed.is_empty() {
            self.confirmed.remove(arn);
        }
    }

    fn may_need_confirming_hashed(&self, arn: &str, hash: u64) -> bool {
        self.marked.contains(&hash) && !self.confirmed.contains(arn)
    }

    fn confirm_hashed(&mut self, arn: &str, hash: u64) {
        // An ARN never marked (nor colliding with one) needs no note: it is not doubted.
        if self.marked.contains(&hash) {
            self.confirmed.insert(arn.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_marked_arn_needs_confirming_until_confirmed_and_again_once_marked_again() {
        let mut indexed = IndexedTags::default();
        assert!(!indexed.may_need_confirming("r1"), "nothing marked");
        indexed.mark("r1");
        assert!(indexed.may_need_confirming("r1"));
        indexed.confirm("r1");
        assert!(!indexed.may_need_confirming("r1"), "confirmed");
        indexed.mark("r1");
        assert!(
            indexed.may_need_confirming("r1"),
            "marked after its confirmation"
        );
    }

    #[test]
    fn confirming_an_arn_never_marked_changes_nothing() {
        let mut indexed = IndexedTags::default();
        indexed.mark("r2");
        indexed.confirm("r1");
        assert!(indexed.confirmed.is_empty(), "nothing to remember of r1");
        indexed.mark("r1");
        assert!(indexed.may_need_confirming("r1"));
    }

    #[test]
    fn two_arns_with_one_hash_both_need_confirming_and_each_is_confirmed_alone() {
        let mut indexed = IndexedTags::default();
        let (marked, other) = ("r1", "r2");
        indexed.mark_hashed(marked, 7);
        // The other was never marked: it only looks so, and costs a confirmation.
        assert!(indexed.may_need_confirming_hashed(marked, 7));
        assert!(indexed.may_need_confirming_hashed(other, 7));
        // Confirming the other never clears the doubt about the one marked.
        indexed.confirm_hashed(other, 7);
        assert!(!indexed.may_need_confirming_hashed(other, 7));
        assert!(indexed.may_need_confirming_hashed(marked, 7));
        indexed.confirm_hashed(marked, 7);
        assert!(!indexed.may_need_confirming_hashed(marked, 7));
    }

    /// An ARN as AWS writes them, with a rule id drawn for the test.
    fn rule_arn(id: u64) -> String {
        format!(
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/alb-0/50dc6c495c0c9188/f2f7dc8efc522ab2/{id:016x}"
        )
    }

    proptest! {
        /// Against a set of the ARNs themselves: every ARN that set says needs confirming,
        /// this one does too (whatever the order of marks and confirmations), so no deletion
        /// of an indexed resource skips its DescribeTags.
        #[test]
        fn never_misses_what_a_set_of_the_arns_would_answer(
            steps in prop::collection::vec((any::<bool>(), 0u64..40), 0..120),
        ) {
            let mut indexed = IndexedTags::default();
            let mut exact = std::collections::BTreeSet::new();
            for (mark, id) in steps {
                let arn = rule_arn(id);
                if mark {
                    indexed.mark(&arn);
                    exact.insert(arn);
                } else {
                    indexed.confirm(&arn);
                    exact.remove(&arn);
                }
            }
            for id in 0u64..40 {
                let arn = rule_arn(id);
                // Equal both ways: a collision among these 40 ARNs would show as a
                // difference the other way (the test above gives two ARNs one hash).
                prop_assert_eq!(indexed.may_need_confirming(&arn), exact.contains(&arn), "{}", arn);
            }
        }
    }
}
