//! What a full pass keeps for the next: cached reads that need not be repeated, and when
//! owned target groups' attributes are read again.

use rustc_hash::{FxHashMap, FxHashSet};
use std::sync::Arc;

use crate::state::HostedZone;
use crate::state::SharedStr;
use crate::state::TaskDefinition;

/// State kept between passes: what need not be read again.
#[derive(Debug, Default)]
pub struct Cache {
    /// Attributes last seen or written per owned target group. Re-read when missing, so a
    /// restart (or [`Cache::forget_attributes`]) verifies them again.
    /// Keyed by the group's own ARN, shared with its records.
    pub(super) attributes: FxHashMap<SharedStr, crate::state::TargetGroupAttributes>,
    /// One of each distinct attribute map cached: groups mostly have equal attributes, and
    /// each shares the map held here rather than holding its own copy (at 10,000 groups
    /// the copies were two thirds of a KiB per service). Cleared with the attributes, so it
    /// only holds maps seen since the last refresh.
    pub(super) distinct_attributes: FxHashSet<crate::state::TargetGroupAttributes>,
    /// Full passes since the last attribute refresh, counting it (`None` before the first).
    pub(super) passes_since_refresh: Option<u64>,
    /// This full pass re-reads every attribute (and checks what else is checked with them).
    pub(super) refreshing: bool,
    /// Hosted zone names by id (a zone's name never changes).
    pub(super) zones: FxHashMap<String, HostedZone>,
    /// Task definitions (contents are immutable per revision; tags are not) as last read
    /// with DescribeTaskDefinition.
    pub(super) task_definitions: FxHashMap<String, Arc<TaskDefinition>>,
    /// Pages the last task-definition listing of the tagging index took. The index lists
    /// every tagged revision of the account, not only the watched services' ones.
    pub(super) task_definition_index_pages: Option<usize>,
    /// The account's rules-per-ALB quota (DescribeAccountLimits), re-read with attributes.
    pub(super) rules_quota: Option<usize>,
    /// The account's certificates-per-ALB quota, read with the rules quota.
    pub(super) certificates_quota: Option<usize>,
    /// ACM's certificates as last listed and described, by ARN: described again only when
    /// ListCertificates shows another status (names never change on a certificate).
    pub(super) certificates: FxHashMap<String, crate::state::AcmCertificate>,
    /// ACM is listed again on the next full pass: none listed yet, a service waits for a
    /// certificate, or the refresh pass.
    pub(super) certificates_stale: bool,
    /// The last full pass saw a backend rule of ours: the refresh pass then lists every rule
    /// of ours even when no service has a security group any more.
    pub(super) backend_rules_seen: bool,
    /// Tags of the configured HTTPS listeners (the records of attached certificates), read
    /// again on the refresh pass and after ecs-ingress changed a listener's certificates.
    pub(super) listener_tags: FxHashMap<String, crate::state::Tags>,
    /// The ALB of each configured listener (a listener never moves).
    pub(super) listener_load_balancers: FxHashMap<String, String>,
    /// One copy of each value that repeats across the records a pass reads (`shared`).
    pub(super) shared: ecs_ingress_core::shared_str::Interner,
}

/// Attributes are read again at least every this many full passes (5 minutes at the default
/// interval without an events queue), so a hand edit of an owned target group's attributes
/// is repaired without paying one DescribeTargetGroupAttributes per group on every pass.
/// Targeted passes do not count. With an events queue, see [`attribute_refresh_passes`].
pub const ATTRIBUTE_REFRESH_PASSES: u64 = 10;

/// With an events queue, the attribute refresh may use this many DescribeTargetGroupAttributes
/// per second on average: 4% of ELBv2's describe bucket (10 per second), so a full resync's
/// other describes (about 4% at 10,000 services) and the refresh stay under a tenth of it.
/// The average holds at the resync cadence; a refresh itself reads every group in one pass,
/// paced by the client-side limiter like any read.
pub const ATTRIBUTE_REFRESH_READS_PER_SECOND: f64 = 0.4;

/// Full passes between two attribute refreshes: [`ATTRIBUTE_REFRESH_PASSES`], or more with
/// an events queue (`resync`) when refreshing `groups` groups that often would use more than
/// [`ATTRIBUTE_REFRESH_READS_PER_SECOND`]. CloudTrail's ModifyTargetGroupAttributes event
/// drops a group's cached attributes at once; the refresh is the backstop for an event
/// that never came, so it may wait longer as the estate grows (every 100 minutes up to
/// 2,400 groups at the default resync, every 7 hours at 10,000). It counts full passes, not
/// time: full passes that come sooner (an event no targeted pass can answer, a retry after
/// a failed pass) bring it sooner. The refresh pass also re-checks whether listing
/// task-definition tags through the tagging index still pays.
pub fn attribute_refresh_passes(groups: usize, resync: Option<std::time::Duration>) -> u64 {
    let Some(resync) = resync.filter(|r| !r.is_zero()) else {
        return ATTRIBUTE_REFRESH_PASSES;
    };
    let per_refresh = ATTRIBUTE_REFRESH_READS_PER_SECOND * resync.as_secs_f64();
    let needed = (groups as f64 / per_refresh).ceil() as u64;
    needed.max(ATTRIBUTE_REFRESH_PASSES)
}

impl Cache {
    /// Caches a group's attributes as read or written; returns them shared with every
    /// group cached with equal ones.
    pub(crate) fn remember_attributes(
        &mut self,
        arn: impl Into<SharedStr>,
        attributes: crate::state::TargetGroupAttributes,
    ) -> crate::state::TargetGroupAttributes {
        let shared = match self.distinct_attributes.get(&attributes) {
            Some(held) => held.clone(),
            None => {
                self.distinct_attributes.insert(attributes.clone());
                attributes
            }
        };
        // Keyed by the interner's copy of the ARN: a group's written attributes then share
        // the ARN its records hold from the next read on.
        let mut key = arn.into();
        self.shared.share(&mut key);
        self.attributes.insert(key, shared.clone());
        shared
    }

    /// Counts a full pass; the first, and then one every [`attribute_refresh_passes`]
    /// (for the groups whose attributes are cached), starts with no cached attributes.
    pub(crate) fn start_pass(&mut self, resync: Option<std::time::Duration>) {
        let every = attribute_refresh_passes(self.attributes.len(), resync);
        self.refreshing = self.passes_since_refresh.is_none_or(|n| n >= every);
        if self.refreshing {
            self.forget_attributes();
            self.passes_since_refresh = Some(0);
        }
        self.passes_since_refresh = self.passes_since_refresh.map(|n| n + 1);
    }

    /// Whether listing task-definition tags through the index is cheaper than reading the
    /// `wanted` revisions one by one. Checked again on every attribute-refresh pass, as the
    /// account's tagged revisions come and go.
    pub(super) fn task_definition_index_pays(&self, wanted: usize) -> bool {
        match self.task_definition_index_pages {
            None => true,
            Some(pages) => pages <= wanted || self.refreshing,
        }
    }

    /// Drops one target group's cached attributes (someone else changed them): the next
    /// pass that reads the group reads them again.
    pub fn forget_attributes_of(&mut self, arn: &str) {
        self.attributes.remove(arn);
    }

    /// After a pass: ACM is listed again next pass when a service waits for a certificate,
    /// and the tags of listeners whose certificates changed are read again.
    pub fn after_certificate_changes(&mut self, waiting: bool, listeners: &[String]) {
        self.certificates_stale |= waiting;
        for l in listeners {
            self.listener_tags.remove(l);
        }
    }

    /// Drops the attribute cache so the next pass reads (and repairs) every owned target
    /// group's attributes.
    pub(crate) fn forget_attributes(&mut self) {
        self.attributes.clear();
        self.distinct_attributes.clear();
        self.rules_quota = None;
    }
}

#[cfg(test)]
mod tests;
