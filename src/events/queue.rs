//! The queue side: receiving messages in the background, holding what no pass has covered
//! yet ([`PendingEvents`]), waking the loop, and deleting messages after their pass.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::parse::{EventTarget, EventType, parse_event};
use crate::aws::{Message, QueueApi};
use crate::telemetry::Metrics;

/// SQS's DeleteMessageBatch limit.
pub const DELETE_BATCH: usize = 10;
/// What a pass starting now covers: the receipts to delete after it, what the events named,
/// and when the oldest of them arrived.
#[derive(Debug, Default)]
pub struct PendingEvents {
    pub receipts: Vec<String>,
    pub targets: BTreeSet<EventTarget>,
    /// When the oldest covered event was received (for the event-to-change latency).
    pub oldest: Option<tokio::time::Instant>,
}

impl PendingEvents {
    pub fn is_empty(&self) -> bool {
        self.receipts.is_empty()
    }

    /// Some event could not be narrowed down: the pass must be full.
    pub fn wants_full_pass(&self) -> bool {
        self.targets.contains(&EventTarget::Everything)
    }
}

/// Receives events in the background and tells the loop when a pass is wanted.
pub struct Events {
    queue: Arc<dyn QueueApi>,
    metrics: Arc<Metrics>,
    /// Well-formed messages not yet covered by a finished pass.
    pending: Mutex<PendingEvents>,
    wanted: Notify,
}

impl Events {
    pub fn new(queue: Arc<dyn QueueApi>, metrics: Arc<Metrics>) -> Arc<Self> {
        for event_type in EventType::ALL {
            // At zero from the first scrape, so rate() sees the first event.
            let _ = metrics
                .events_received
                .get_or_create(&crate::telemetry::EventTypeLabel {
                    r#type: event_type.as_str(),
                });
        }
        Arc::new(Self {
            queue,
            metrics,
            pending: Mutex::new(PendingEvents::default()),
            wanted: Notify::new(),
        })
    }

    /// Long-polls until `stop` turns true. Errors back off (1 s doubling to 60 s) and never
    /// end the loop.
    pub async fn receive_loop(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut backoff = Duration::from_secs(1);
        while !*stop.borrow() {
            let received = tokio::select! {
                // Branches in order: a seeded simulation replays exactly.
                biased;
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
                        // Branches in order: a seeded simulation replays exactly.
                        biased;
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stop.changed() => return,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                }
            }
        }
    }

    async fn handle(&self, messages: Vec<Message>) {
        let mut done_with = Vec::new();
        let mut wanted = false;
        for m in messages {
            let event = match parse_event(&m.body) {
                Ok(event) => event,
                Err(reason) => {
                    self.metrics.record_event(EventType::Malformed.as_str());
                    self.metrics.events_malformed.inc();
                    tracing::warn!(%reason, "malformed event deleted");
                    done_with.push(m.receipt);
                    continue;
                }
            };
            self.metrics.record_event(event.event_type.as_str());
            tracing::debug!(event_type = event.event_type.as_str(), event_name = ?event.event_name, targets = ?event.targets, "event");
            if event.targets.is_empty() {
                done_with.push(m.receipt);
                continue;
            }
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            pending.receipts.push(m.receipt);
            pending.targets.extend(event.targets);
            pending.oldest.get_or_insert_with(tokio::time::Instant::now);
            wanted = true;
        }
        self.delete(&done_with).await;
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
            if self.has_pending() {
                return;
            }
        }
    }

    /// Events arrived that no pass covered yet.
    pub fn has_pending(&self) -> bool {
        !self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }

    /// Takes what a pass starting now will cover.
    pub fn take_pending(&self) -> PendingEvents {
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
