//! What resolvers remember: after a record changes target, clients holding the old answer
//! keep calling the old target until its TTL runs out.

use std::time::Duration;

use tokio::time::Instant;

use crate::state::RecordSet;

/// An answer a resolver may still hold: `name` resolved to `target` until `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedAnswer {
    pub name: String,
    pub target: String,
    pub until: Instant,
}

/// Route 53 answers an alias to an ALB with a 60-second TTL ("Choosing between alias and
/// non-alias records"); other records with their own.
const ALIAS_TTL: Duration = Duration::from_secs(60);

/// The ALB name a record points at, normalised.
pub fn record_target(record: &RecordSet) -> String {
    let target = record
        .alias
        .as_ref()
        .map(|a| a.dns_name.as_str())
        .or_else(|| record.values.first().map(String::as_str))
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    target.trim_start_matches("dualstack.").to_string()
}

/// The answers a change batch leaves in resolvers' caches: every answering record whose
/// target changed or that went away, for its TTL from now.
pub fn answers_left_behind(before: &[RecordSet], after: &[RecordSet]) -> Vec<CachedAnswer> {
    let now = Instant::now();
    before
        .iter()
        .filter(|r| matches!(r.record_type.as_str(), "A" | "AAAA" | "CNAME"))
        .filter(|old| {
            !after.iter().any(|new| {
                new.name == old.name
                    && new.record_type == old.record_type
                    && record_target(new) == record_target(old)
            })
        })
        .map(|old| CachedAnswer {
            name: old.name.trim_end_matches('.').to_string(),
            target: record_target(old),
            until: now
                + match (&old.alias, old.ttl) {
                    (Some(_), _) => ALIAS_TTL,
                    (None, ttl) => {
                        Duration::from_secs(ttl.and_then(|t| u64::try_from(t).ok()).unwrap_or(300))
                    }
                },
        })
        .collect()
}
