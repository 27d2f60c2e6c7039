//! SQS adapter for the event queue.

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;

use super::AwsError;
use super::call::CallContext;
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
        const OP: &str = "ReceiveMessage";
        let out = self
            .ctx
            .call(SERVICE, OP, async {
                self.client
                    .receive_message()
                    .queue_url(&self.url)
                    .max_number_of_messages(10)
                    .wait_time_seconds(WAIT_SECONDS)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk(SERVICE, OP, e))
            })
            .await?;
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
        self.ctx
            .call(SERVICE, OP, async {
                self.client
                    .delete_message_batch()
                    .queue_url(&self.url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk(SERVICE, OP, e))
            })
            .await?;
        Ok(())
    }
}
