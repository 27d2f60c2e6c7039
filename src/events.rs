//! The event fast path: an SQS queue fed by EventBridge (ECS service, deployment and task
//! events; CloudTrail tag and service API calls). Any well-formed event asks for an early
//! pass; the periodic pass stays the source of truth, so an event lost or late only costs
//! latency. Messages are deleted only after the pass they triggered has finished, so a
//! crash mid-pass leaves them to be delivered again.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::aws::{Message, QueueApi};
use crate::telemetry::Metrics;

/// SQS's DeleteMessageBatch limit.
pub const DELETE_BATCH: usize = 10;

/// What an event is about, for the log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSummary {
    pub source: String,
    pub detail_type: String,
    /// The API call, for CloudTrail events (`TagResource`, `UpdateService`, ...).
    pub event_name: Option<String>,
}

/// Reads an EventBridge event. Anything that is not a JSON object with `source` and
/// `detail-type` strings is malformed.
pub fn parse_event(body: &str) -> Result<EventSummary, String> {
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    let field = |k: &str| value.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let source = field("source").ok_or("no `source` string: not an EventBridge event")?;
    let detail_type =
        field("detail-type").ok_or("no `detail-type` string: not an EventBridge event")?;
    let event_name = value
        .get("detail")
        .and_then(|d| d.get("eventName"))
        .and_then(|v| v.as_str())
        .map(str::to_string);
    Ok(EventSummary {
        source,
        detail_type,
        event_name,
    })
}

/// Receives events in the background and tells the loop when a pass is wanted.
pub struct Events {
    queue: Arc<dyn QueueApi>,
    metrics: Arc<Metrics>,
    /// Receipts of well-formed messages not yet covered by a finished pass.
    pending: Mutex<Vec<String>>,
    wanted: Notify,
}

impl Events {
    pub fn new(queue: Arc<dyn QueueApi>, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            queue,
            metrics,
            pending: Mutex::new(Vec::new()),
            wanted: Notify::new(),
        })
    }

    /// Long-polls until `stop` turns true. Errors back off (1 s doubling to 60 s) and never
    /// end the loop.
    pub async fn receive_loop(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut backoff = Duration::from_secs(1);
        while !*stop.borrow() {
            let received = tokio::select! {
                r = self.queue.receive() => r,
                _ = stop.changed() => return,
            };
            match received {
                Ok(messages) => {
                    backoff = Duration::from_secs(1);
                    self.handle(messages).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "cannot receive events");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stop.changed() => return,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                }
            }
        }
    }

    async fn handle(&self, messages: Vec<Message>) {
        let mut malformed = Vec::new();
        let mut wanted = false;
        for m in messages {
            self.metrics.events_received.inc();
            match parse_event(&m.body) {
                Ok(event) => {
                    tracing::debug!(source = %event.source, detail_type = %event.detail_type, event_name = ?event.event_name, "event");
                    self.pending
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(m.receipt);
                    wanted = true;
                }
                Err(reason) => {
                    self.metrics.events_malformed.inc();
                    tracing::warn!(%reason, "malformed event deleted");
                    malformed.push(m.receipt);
                }
            }
        }
        self.delete(&malformed).await;
        if wanted {
            // Stores a permit when the loop is busy: the pass after this one picks it up.
            self.wanted.notify_one();
        }
    }

    /// Waits until an event not yet covered by a pass asks for one. (A wake-up left over
    /// from events that the last pass already covered is ignored.)
    pub async fn wanted(&self) {
        loop {
            self.wanted.notified().await;
            let pending = !self
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_empty();
            if pending {
                return;
            }
        }
    }

    /// Takes the receipts a pass starting now will cover.
    pub fn take_pending(&self) -> Vec<String> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Deletes messages (after their pass); failures only mean they come back.
    pub async fn delete(&self, receipts: &[String]) {
        for batch in receipts.chunks(DELETE_BATCH) {
            if let Err(e) = self.queue.delete(batch).await {
                tracing::warn!(error = %e, "cannot delete events; they will be received again");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ecs_and_cloudtrail_events_and_rejects_the_rest() {
        let ecs = r#"{"source":"aws.ecs","detail-type":"ECS Service Action","detail":{"eventName":"SERVICE_STEADY_STATE"}}"#;
        assert_eq!(
            parse_event(ecs).map(|e| e.detail_type),
            Ok("ECS Service Action".into())
        );
        let trail = r#"{"source":"aws.ecs","detail-type":"AWS API Call via CloudTrail","detail":{"eventName":"TagResource"}}"#;
        assert_eq!(
            parse_event(trail).ok().and_then(|e| e.event_name),
            Some("TagResource".into())
        );
        for bad in [
            "",
            "not json",
            "[]",
            "{}",
            r#"{"source":1,"detail-type":"x"}"#,
            r#"{"source":"aws.ecs"}"#,
        ] {
            assert!(parse_event(bad).is_err(), "{bad}");
        }
    }
}
