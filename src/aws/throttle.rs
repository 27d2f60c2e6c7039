//! Counts every attempt AWS throttles, including those the SDK's retry layer retries and
//! hides from the caller: an interceptor on each SDK client reads the HTTP answer of each
//! attempt. Counting only calls that still failed after retries would report zero while
//! AWS throttles half the attempts and the retries happen to succeed.

use std::sync::Arc;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::Headers;
use aws_smithy_types::config_bag::ConfigBag;

use super::ErrorKind;
use crate::telemetry::Metrics;

/// Counts throttled attempts of one client as `aws_throttled_calls_total{service, operation}`.
#[derive(Clone)]
pub struct ThrottleCounter {
    metrics: Arc<Metrics>,
    service: &'static str,
}

// The SDK wants interceptors to be `Debug`; the registry behind `metrics` is not.
impl std::fmt::Debug for ThrottleCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThrottleCounter")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl ThrottleCounter {
    /// `service` is the label the client's adapter uses (`ecs`, `elbv2`, ...).
    pub fn new(metrics: Arc<Metrics>, service: &'static str) -> Self {
        Self { metrics, service }
    }
}

impl Intercept for ThrottleCounter {
    fn name(&self) -> &'static str {
        "ThrottleCounter"
    }

    // Runs once per attempt, after its answer is read and before the retry decision.
    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // No response: the attempt failed before an answer (timeout, connection): not a
        // throttle.
        let Some(response) = context.response() else {
            return Ok(());
        };
        if is_throttle(
            response.status().as_u16(),
            response.headers(),
            response.body().bytes(),
        ) {
            let operation = cfg.load::<Metadata>().map(Metadata::name).unwrap_or("");
            self.metrics
                .record_throttled_attempt(self.service, operation);
        }
        Ok(())
    }
}

/// Whether an HTTP answer is AWS's "slow down": 429, or an error code that
/// [`ErrorKind::from_code`] classifies as throttled.
pub fn is_throttle(status: u16, headers: &Headers, body: Option<&[u8]>) -> bool {
    if status < 400 {
        return false;
    }
    status == 429
        || error_code(headers, body)
            .is_some_and(|c| ErrorKind::from_code(&c) == ErrorKind::Throttled)
}

/// The AWS error code of an error answer, from whichever place its protocol puts it: the
/// `x-amzn-query-error` header (JSON protocols answering for a Query API, SQS), the
/// `x-amzn-ErrorType` header or `__type`/`code` in a JSON body (ECS, Cloud Map, tagging),
/// or `<Code>` in an XML body (ELBv2, Route 53).
pub fn error_code(headers: &Headers, body: Option<&[u8]>) -> Option<String> {
    // `ThrottlingException:http://internal...`, `aws.protocoltests#ThrottlingException`,
    // `AWS.SimpleQueueService.X;Sender`: the code is the last name before any suffix.
    fn clean(raw: &str) -> Option<String> {
        let raw = raw.split([':', ';']).next().unwrap_or(raw);
        let raw = raw.rsplit('#').next().unwrap_or(raw).trim();
        (!raw.is_empty()).then(|| raw.to_string())
    }
    if let Some(code) = headers.get("x-amzn-query-error").and_then(clean) {
        return Some(code);
    }
    if let Some(code) = headers.get("x-amzn-errortype").and_then(clean) {
        return Some(code);
    }
    let body = std::str::from_utf8(body?).ok()?.trim_start();
    if body.starts_with('{') {
        let json: serde_json::Value = serde_json::from_str(body).ok()?;
        ["__type", "code", "Code"]
            .iter()
            .find_map(|k| json.get(*k).and_then(|v| v.as_str()).and_then(clean))
    } else {
        let start = body.find("<Code>")? + "<Code>".len();
        let end = start + body[start..].find("</Code>")?;
        clean(&body[start..end])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> Headers {
        let mut h = Headers::new();
        for (k, v) in pairs {
            h.insert(*k, *v);
        }
        h
    }

    #[test]
    fn finds_the_code_of_each_protocol() {
        let none = headers(&[]);
        let json =
            br#"{"__type":"com.amazonaws.ecs#ThrottlingException","message":"Rate exceeded"}"#;
        assert_eq!(
            error_code(&none, Some(json)).as_deref(),
            Some("ThrottlingException")
        );
        let xml = b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>";
        assert_eq!(error_code(&none, Some(xml)).as_deref(), Some("Throttling"));
        let typed = headers(&[("x-amzn-ErrorType", "ThrottlingException:http://internal")]);
        assert_eq!(
            error_code(&typed, None).as_deref(),
            Some("ThrottlingException")
        );
        assert!(is_throttle(400, &none, Some(xml)));
        assert!(is_throttle(
            400,
            &none,
            Some(b"<Code>PriorRequestNotComplete</Code>")
        ));
        assert!(is_throttle(429, &none, None));
        assert!(!is_throttle(
            400,
            &none,
            Some(b"<Code>ValidationError</Code>")
        ));
        assert!(!is_throttle(200, &none, Some(xml)));
        assert!(!is_throttle(500, &none, Some(b"<html>oops</html>")));
    }

    /// Answers each request on `127.0.0.1` with the next canned `(status, body)`, then
    /// closes the connection.
    async fn canned_server(answers: Vec<(u16, &'static str)>) -> std::net::SocketAddr {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            for (status, body) in answers {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                // Read the head and the body it announces.
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    request.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
                    if let Some(head_end) = text.find("\r\n\r\n") {
                        let length = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if request.len() >= head_end + 4 + length {
                            break;
                        }
                    }
                }
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.shutdown().await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn counts_throttled_attempts_the_sdk_retried() {
        use aws_sdk_ecs::config::{BehaviorVersion, Credentials, Region};
        use aws_smithy_types::retry::RetryConfig;

        let addr = canned_server(vec![
            (
                400,
                r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
            ),
            (
                400,
                r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
            ),
            (200, r#"{"serviceArns":[]}"#),
        ])
        .await;
        let metrics = Arc::new(Metrics::new(crate::aws::OPERATIONS));
        let config = aws_sdk_ecs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
            .endpoint_url(format!("http://{addr}"))
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(std::time::Duration::from_millis(1)),
            )
            .interceptor(ThrottleCounter::new(metrics.clone(), "ecs"))
            .build();
        let client = aws_sdk_ecs::Client::from_conf(config);
        let answer = client.list_services().cluster("c").send().await;
        assert!(answer.is_ok(), "{answer:?}");
        let text = metrics.encode();
        assert!(
            text.contains(
                "ecs_ingress_aws_throttled_calls_total{service=\"ecs\",operation=\"ListServices\"} 2"
            ),
            "{text}"
        );
    }
}
