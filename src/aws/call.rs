//! The one place every AWS call goes through: the client-side rate limit, timing and
//! outcome metrics.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use aws_smithy_async::future::pagination_stream::PaginationStream;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::error::{AwsError, ErrorKind};
use crate::aws::ratelimit::RateLimiter;
use crate::telemetry::Metrics;

/// Whether this replica may send a write now (leader election's fence).
pub type WriteGate = Arc<dyn Fn() -> bool + Send + Sync>;

/// Shared by all adapters of one process (real or fake), so one limiter paces them all.
#[derive(Clone)]
pub(crate) struct CallContext {
    metrics: Arc<Metrics>,
    limiter: Arc<RateLimiter>,
    /// Whether a call that failed throttled is counted here in
    /// `aws_throttled_calls_total`; not where the clients count every attempt themselves
    /// ([`super::throttle::ThrottleCounter`]), which would count the last one twice.
    count_throttles: bool,
    /// Leader election: a write is sent only while this replica may write, checked after
    /// the rate limiter's wait (which can be long) and right before the request leaves.
    fence: Option<WriteGate>,
    /// The account whose role's credentials sign these calls (`None`: the own ones), for
    /// the `account` label of Route 53 and STS series.
    account: Option<String>,
}

impl CallContext {
    /// For adapters whose calls are single attempts (the fake): a throttled call is counted
    /// here.
    #[cfg(any(test, feature = "fake"))]
    pub(crate) fn new(metrics: Arc<Metrics>, limiter: Arc<RateLimiter>) -> Self {
        Self {
            metrics,
            limiter,
            count_throttles: true,
            fence: None,
            account: None,
        }
    }

    /// For SDK clients that carry a [`super::throttle::ThrottleCounter`].
    pub fn with_attempt_counter(metrics: Arc<Metrics>, limiter: Arc<RateLimiter>) -> Self {
        Self {
            metrics,
            limiter,
            count_throttles: false,
            fence: None,
            account: None,
        }
    }

    /// Every write through this context is refused once `may_write` says no (leader
    /// election's fence: the call layer knows only the question, not the lease).
    pub fn fenced(mut self, may_write: WriteGate) -> Self {
        self.fence = Some(may_write);
        self
    }

    /// Calls signed with the credentials of a role in `account`.
    pub fn in_account(mut self, account: &str) -> Self {
        self.account = Some(account.to_string());
        self
    }

    /// Waits for the call's rate buckets, runs it, and records it as
    /// `ecs_ingress_aws_calls_total{service,operation,outcome}`. The `call` future is lazy,
    /// so nothing is sent before a token is held.
    pub(crate) async fn call<T, F>(
        &self,
        service: &'static str,
        operation: &'static str,
        call: F,
    ) -> Result<T, AwsError>
    where
        F: Future<Output = Result<T, AwsError>>,
    {
        let waited = self.limiter.acquire(service, operation).await;
        if !waited.is_zero() {
            self.metrics.rate_limit_wait.observe(waited.as_secs_f64());
        }
        if let Some(refused) = self.refuse_write(service, operation) {
            return Err(refused);
        }
        let started = Instant::now();
        let result = call.await;
        let (outcome, throttled) = match &result {
            Ok(_) => ("success", false),
            Err(e) => (e.kind.as_str(), e.kind == ErrorKind::Throttled),
        };
        self.metrics.record_aws_call_in(
            self.account.as_deref(),
            service,
            operation,
            outcome,
            started.elapsed().as_secs_f64(),
            throttled && self.count_throttles,
        );
        if let Err(e) = &result {
            tracing::debug!(service, operation, error = %e, "AWS call failed");
        }
        result
    }
}

impl CallContext {
    /// Every page of a paginated operation, read with the SDK's own paginator (`pages`, from
    /// `into_paginator().send()`). Each page waits for the limiter and is counted like any
    /// other call: the paginator sends a page's request only when asked for it. `next_token`
    /// reads a page's continuation token; the loop stops on an empty or repeated one itself,
    /// as the paginator does, so no call is counted for a page it would not send.
    pub async fn all_pages<P, E, R>(
        &self,
        service: &'static str,
        operation: &'static str,
        mut pages: PaginationStream<Result<P, SdkError<E, R>>>,
        next_token: impl Fn(&P) -> Option<&str>,
    ) -> Result<Vec<P>, AwsError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let mut read = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .call(service, operation, async {
                    match pages.next().await {
                        Some(page) => page
                            .map(Some)
                            .map_err(|e| AwsError::from_sdk(service, operation, e)),
                        None => Ok(None),
                    }
                })
                .await?;
            let Some(page) = page else {
                return Ok(read);
            };
            let next = next_token(&page)
                .filter(|t| !t.is_empty() && token.as_deref() != Some(*t))
                .map(str::to_string);
            read.push(page);
            match next {
                Some(next) => token = Some(next),
                None => return Ok(read),
            }
        }
    }
}

impl CallContext {
    /// The error for a write this replica may not send now (it lost the leader lease).
    fn refuse_write(&self, service: &'static str, operation: &'static str) -> Option<AwsError> {
        let read = ["Describe", "List", "Get"]
            .iter()
            .any(|p| operation.starts_with(p));
        match &self.fence {
            _ if crate::sabotage::is_on(crate::sabotage::Sabotage::LeaseFence) => None,
            Some(may_write) if !read && !may_write() => {
                Some(super::error::not_leader(service, operation))
            }
            _ => None,
        }
    }
}

/// Sends an SDK request through `$self.ctx` as operation `$op` of the adapter's `SERVICE`,
/// mapping the SDK error. The request is built before the limiter is asked, and sent after.
macro_rules! send {
    ($self:ident, $op:literal, $request:expr) => {{
        let request = $request;
        $self
            .ctx
            .call(SERVICE, $op, async {
                request
                    .send()
                    .await
                    .map_err(|e| $crate::aws::AwsError::from_sdk(SERVICE, $op, e))
            })
            .await
    }};
}
pub(crate) use send;

/// Reads every page of `$request` (an SDK request builder with a paginator) through
/// `$self.ctx` as operation `$op` of the adapter's `SERVICE`; `$next` reads a page's
/// continuation token. See [`CallContext::all_pages`].
macro_rules! paged {
    ($self:ident, $op:literal, $request:expr, $next:expr $(,)?) => {
        $self
            .ctx
            .all_pages(SERVICE, $op, $request.into_paginator().send(), $next)
            .await
    };
}
pub(crate) use paged;

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aws_sdk_ecs::operation::list_services::{ListServicesError, ListServicesOutput};
    use aws_smithy_async::future::pagination_stream::PaginationStream;
    use aws_smithy_async::future::pagination_stream::fn_stream::FnStream;
    use aws_smithy_runtime_api::client::result::SdkError;

    use super::CallContext;
    use crate::aws::ErrorKind;
    use crate::aws::ratelimit::RateLimiter;
    use crate::telemetry::Metrics;

    type Page = Result<ListServicesOutput, SdkError<ListServicesError, ()>>;

    /// A paginator over `pages` that, like the SDK's, sends a page's request only when asked
    /// and stops after a page without a continuation token; `sent` counts the requests.
    fn paginator(pages: Vec<Page>, sent: Arc<AtomicUsize>) -> PaginationStream<Page> {
        PaginationStream::new(FnStream::new(move |tx| {
            Box::pin(async move {
                for page in pages {
                    sent.fetch_add(1, Ordering::SeqCst);
                    let last = match &page {
                        Ok(p) => p.next_token().is_none_or(str::is_empty),
                        Err(_) => true,
                    };
                    if tx.send(page).await.is_err() || last {
                        return;
                    }
                }
            })
        }))
    }

    #[allow(clippy::result_large_err)] // the SDK's own page type
    fn page(arn: &str, next: Option<&str>) -> Page {
        Ok(ListServicesOutput::builder()
            .service_arns(arn)
            .set_next_token(next.map(str::to_string))
            .build())
    }

    fn context() -> (CallContext, Arc<Metrics>) {
        let metrics = Arc::new(Metrics::new(crate::aws::OPERATIONS));
        let ctx = CallContext::new(metrics.clone(), Arc::new(RateLimiter::new(100)));
        (ctx, metrics)
    }

    fn counted(metrics: &Metrics, outcome: &str) -> bool {
        metrics.encode().contains(&format!(
            "ecs_ingress_aws_calls_total{{service=\"ecs\",operation=\"ListServices\",outcome=\"{outcome}\"}}"
        ))
    }

    fn calls(metrics: &Metrics) -> u64 {
        metrics.call_totals().0
    }

    #[tokio::test]
    async fn every_page_is_one_counted_call_and_none_after_the_last() {
        let (ctx, metrics) = context();
        let sent = Arc::new(AtomicUsize::new(0));
        let pages = vec![
            page("a", Some("t1")),
            page("b", Some("t2")),
            page("c", None),
        ];
        let read = ctx
            .all_pages("ecs", "ListServices", paginator(pages, sent.clone()), |p| {
                p.next_token()
            })
            .await
            .expect("three pages");
        let arns: Vec<&str> = read
            .iter()
            .flat_map(|p| p.service_arns())
            .map(String::as_str)
            .collect();
        assert_eq!(arns, ["a", "b", "c"]);
        assert_eq!(sent.load(Ordering::SeqCst), 3);
        assert_eq!(calls(&metrics), 3, "{}", metrics.encode());
        assert!(counted(&metrics, "success"));
    }

    #[tokio::test]
    async fn an_empty_or_repeated_token_ends_the_read_without_another_call() {
        for last in [Some(""), Some("t1")] {
            let (ctx, metrics) = context();
            let sent = Arc::new(AtomicUsize::new(0));
            let pages = vec![page("a", Some("t1")), page("b", last), page("never", None)];
            let read = ctx
                .all_pages("ecs", "ListServices", paginator(pages, sent.clone()), |p| {
                    p.next_token()
                })
                .await
                .expect("two pages");
            assert_eq!(read.len(), 2, "last token {last:?}");
            assert_eq!(sent.load(Ordering::SeqCst), 2, "last token {last:?}");
            assert_eq!(calls(&metrics), 2, "last token {last:?}");
        }
    }

    #[tokio::test]
    async fn a_failed_page_fails_the_read_and_is_counted() {
        let (ctx, metrics) = context();
        let sent = Arc::new(AtomicUsize::new(0));
        let failed: Page = Err(SdkError::timeout_error("the page timed out"));
        let pages = vec![page("a", Some("t1")), failed, page("never", None)];
        let err = ctx
            .all_pages("ecs", "ListServices", paginator(pages, sent.clone()), |p| {
                p.next_token()
            })
            .await
            .expect_err("the second page failed");
        assert_eq!(err.kind, ErrorKind::Unavailable);
        assert_eq!(sent.load(Ordering::SeqCst), 2);
        assert_eq!(calls(&metrics), 2);
        assert!(counted(&metrics, "success") && counted(&metrics, "unavailable"));
    }
}
