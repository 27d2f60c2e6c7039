//! AWS's clock, as this process knows it.
//!
//! Times one replica writes and another compares — a DNS marker's `since` (when a name moved
//! to another ALB, which times the DNS drain), a target group's creation tag — are stamped
//! and compared on AWS's clock, not on the host's. Hosts may be minutes apart (AWS accepts
//! request signatures up to 5 minutes off), and a drain measured by two hosts' clocks would
//! be shorter by their difference: a successor 4 minutes ahead would remove a drained ALB's
//! rules at once. AWS's clock is learned from the `Date` header of its answers
//! ([`ServerDate`], on every SDK client), to the second; every reader and writer of a time
//! then counts on the same clock, whatever its host says.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// The host's wall clock in seconds since the epoch, read once, plus the monotonic time
/// since. Tests on a paused runtime see virtual time pass (drain timers, creation tags), and
/// a wall-clock step never runs a timer backwards within a process.
pub fn unix_now() -> i64 {
    static START: std::sync::OnceLock<(std::time::SystemTime, tokio::time::Instant)> =
        std::sync::OnceLock::new();
    // The start on a whole second: where a timer ends within a second then never depends on
    // the sub-second phase the process started at, and a seeded simulation replays exactly.
    let (wall, mono) = START.get_or_init(|| {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        (
            std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs),
            tokio::time::Instant::now(),
        )
    });
    let now = *wall + mono.elapsed();
    now.duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// The host's clock corrected by the offset AWS's answers showed.
#[derive(Debug, Default)]
pub struct AwsClock {
    /// Seconds this host's clock is off from the true time: zero on a real host (whose
    /// clock is simply what it is); set by tests that model a skewed replica.
    host_skew: i64,
    /// AWS's time minus the host's, from the latest answer.
    offset: AtomicI64,
    learned: AtomicBool,
    /// Where AWS's time comes from when answers carry no `Date` header (the in-memory fake,
    /// whose clock is the true time).
    source: Option<fn() -> i64>,
}

impl AwsClock {
    /// A clock learned from the `Date` headers a [`ServerDate`] interceptor reports.
    pub fn from_answers() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A host `host_skew` seconds off the true time, asking `source` for AWS's time whenever
    /// it is read (an AWS whose every answer is up to date).
    pub fn following(source: fn() -> i64, host_skew: i64) -> Arc<Self> {
        Arc::new(Self {
            host_skew,
            source: Some(source),
            ..Self::default()
        })
    }

    /// A host `host_skew` seconds off that never learns AWS's time: it counts on its own
    /// clock, as ecs-ingress did before. Tests use it to show what that breaks.
    pub fn host_only(host_skew: i64) -> Arc<Self> {
        Arc::new(Self {
            host_skew,
            ..Self::default()
        })
    }

    /// The host's own clock.
    pub(crate) fn host_now(&self) -> i64 {
        unix_now().saturating_add(self.host_skew)
    }

    /// Notes AWS's time as an answer told it.
    pub(crate) fn learn(&self, aws_now: i64) {
        self.offset
            .store(aws_now.saturating_sub(self.host_now()), Ordering::Relaxed);
        self.learned.store(true, Ordering::Relaxed);
    }

    /// AWS's time now, as well as this process knows it (the host's time until an answer
    /// told otherwise).
    pub(crate) fn now(&self) -> i64 {
        if let Some(source) = self.source {
            self.learn(source());
        }
        self.host_now()
            .saturating_add(self.offset.load(Ordering::Relaxed))
    }

    /// Whether an answer has told AWS's time yet.
    pub fn is_learned(&self) -> bool {
        self.learned.load(Ordering::Relaxed) || self.source.is_some()
    }

    /// Seconds the host's clock is behind AWS's (negative: ahead).
    pub fn offset(&self) -> i64 {
        self.offset.load(Ordering::Relaxed)
    }
}

/// Reads the `Date` header of every answer into an [`AwsClock`].
#[derive(Debug, Clone)]
pub struct ServerDate {
    clock: Arc<AwsClock>,
}

impl ServerDate {
    pub fn new(clock: Arc<AwsClock>) -> Self {
        Self { clock }
    }
}

impl Intercept for ServerDate {
    fn name(&self) -> &'static str {
        "ServerDate"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(seconds) = context
            .response()
            .and_then(|r| r.headers().get("date"))
            .and_then(parse_http_date)
        {
            self.clock.learn(seconds);
        }
        Ok(())
    }
}

/// An HTTP date (`Thu, 03 Dec 2026 08:00:00 GMT`) in seconds since the epoch.
pub fn parse_http_date(value: &str) -> Option<i64> {
    aws_smithy_types::DateTime::from_str(
        value.trim(),
        aws_smithy_types::date_time::Format::HttpDate,
    )
    .ok()
    .map(|d| d.secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http_date_reads_as_seconds_and_garbage_as_nothing() {
        assert_eq!(
            parse_http_date("Thu, 03 Dec 2026 08:00:00 GMT"),
            Some(1_796_284_800)
        );
        assert_eq!(parse_http_date("yesterday"), None);
        assert_eq!(parse_http_date(""), None);
    }

    #[test]
    fn a_skewed_host_reads_aws_time_once_an_answer_told_it() {
        let clock = AwsClock {
            host_skew: 240,
            ..AwsClock::default()
        };
        let truth = unix_now();
        // Before any answer: the host's own (wrong) time.
        assert!((clock.now() - (truth + 240)).abs() <= 1);
        assert!(!clock.is_learned());
        clock.learn(truth);
        assert!((clock.now() - truth).abs() <= 1);
        assert!((clock.offset() + 240).abs() <= 1);
        assert!(clock.is_learned());
    }

    #[test]
    fn a_clock_following_its_source_ignores_its_host_skew() {
        fn truth() -> i64 {
            unix_now()
        }
        for skew in [-300, 0, 300] {
            let clock = AwsClock::following(truth, skew);
            assert!((clock.now() - unix_now()).abs() <= 1, "skew {skew}");
            assert!((clock.host_now() - unix_now() - skew).abs() <= 1);
        }
    }
}
