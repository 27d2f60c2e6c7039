//! SQS adapter for the event queue.

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;

use super::AwsError;
use super::call::{CallContext, send};
use super::{Message, QueueApi};

const SERVICE: &str = "sqs";
/// SQS's longest long poll.
const WAIT_SECONDS: i32 = 20;

pub struct SqsQueue {
    client: Client,
    ctx: CallContext,
    url: String,
}

impl SqsQueue {
    pub fn new(client: Client, ctx: CallContext, url: String) -> Self {
        Self { client, ctx, url }
    }
}

#[async_trait]
impl QueueApi for SqsQueue {
    async fn receive(&self) -> Result<Vec<Message>, AwsError> {
        let out = send!(
            self,
            "ReceiveMessage",
            self.client
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(10)
                .wait_time_seconds(WAIT_SECONDS)
        )?;
        Ok(out
            .messages()
            .iter()
            .filter_map(|m| {
                Some(Message {
                    receipt: m.receipt_handle()?.to_string(),
                    body: m.body().unwrap_or_default().to_string(),
                })
            })
            .collect())
    }

    async fn delete(&self, receipts: &[String]) -> Result<(), AwsError> {
        const OP: &str = "DeleteMessageBatch";
        let entries = receipts
            .iter()
            .enumerate()
            .map(|(i, r)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(r)
                    .build()
                    .map_err(|e| {
                        AwsError::new(SERVICE, OP, super::ErrorKind::Validation, e.to_string())
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        send!(
            self,
            "DeleteMessageBatch",
            self.client
                .delete_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
        )?;
        Ok(())
    }
}
