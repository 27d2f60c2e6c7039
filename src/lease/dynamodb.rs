//! The lease record in a DynamoDB table: one item per owner id, partition key `lock`.
//!
//! Item: `lock` (S, the owner id), `holder` (S, the replica id), `counter` (N, bumped on
//! every renewal) and `renewed_at` (S, RFC 3339 wall-clock time, for people reading the
//! table; the controller never compares it). Every write carries a `ConditionExpression`,
//! which DynamoDB evaluates strongly consistently per item; a refused condition
//! (`ConditionalCheckFailedException`) is [`LeaseError::Conflict`].

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{LeaseError, LeaseRecord, LeaseStore};
use crate::aws::call::{CallContext, send};
use crate::aws::ratelimit::RateLimiter;
use crate::aws::throttle::ThrottleCounter;
use crate::aws::{AwsError, ErrorKind};
use crate::telemetry::Metrics;

const SERVICE: &str = "dynamodb";
const KEY: &str = "lock";
const CONDITION_FAILED: &str = "ConditionalCheckFailedException";
/// The record is exactly the one the writer saw.
const UNCHANGED: &str = "#holder = :holder AND #counter = :counter";

pub struct DynamoDbLeaseStore {
    client: Client,
    ctx: CallContext,
    table: String,
}

impl DynamoDbLeaseStore {
    /// The store for `table`, from the shared SDK configuration. Its calls count in the
    /// same metrics as the other AWS calls (service `dynamodb`); no client-side rate
    /// bucket applies (a few calls a second at most).
    pub fn from_sdk(sdk: &aws_config::SdkConfig, metrics: Arc<Metrics>, table: &str) -> Self {
        let client = Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(sdk)
                .interceptor(ThrottleCounter::new(metrics.clone(), SERVICE))
                .build(),
        );
        let ctx = CallContext::with_attempt_counter(metrics, Arc::new(RateLimiter::new(100)));
        Self::new(client, ctx, table)
    }

    pub fn new(client: Client, ctx: CallContext, table: impl Into<String>) -> Self {
        Self {
            client,
            ctx,
            table: table.into(),
        }
    }

    /// Sorts an AWS error into what the campaign acts on, with the fix for a table that is
    /// missing, not allowed or of the wrong shape.
    fn classify(&self, e: AwsError) -> LeaseError {
        let table = &self.table;
        if e.code.as_deref() == Some(CONDITION_FAILED) {
            return LeaseError::Conflict;
        }
        match e.kind {
            ErrorKind::NotFound => LeaseError::Misconfigured(format!(
                "leader election: DynamoDB table `{table}` does not exist in this region ({e}); \
                 create it with partition key `lock` (String) or fix --leader-election-table"
            )),
            ErrorKind::AccessDenied => LeaseError::Misconfigured(format!(
                "leader election: not allowed to use DynamoDB table `{table}` ({e}); grant \
                 dynamodb:GetItem, PutItem, UpdateItem and DeleteItem on it to this task's role"
            )),
            ErrorKind::Validation => LeaseError::Misconfigured(format!(
                "leader election: DynamoDB table `{table}` rejected the lease item ({e}); it \
                 needs partition key `lock` of type String and no sort key"
            )),
            _ => LeaseError::Unavailable(e),
        }
    }

    fn key(&self, owner: &str) -> HashMap<String, AttributeValue> {
        HashMap::from([(KEY.to_string(), AttributeValue::S(owner.to_string()))])
    }

    fn item(&self, owner: &str, holder: &str, counter: u64) -> HashMap<String, AttributeValue> {
        let mut item = self.key(owner);
        item.insert("holder".into(), AttributeValue::S(holder.to_string()));
        item.insert("counter".into(), AttributeValue::N(counter.to_string()));
        item.insert("renewed_at".into(), AttributeValue::S(now_rfc3339()));
        item
    }

    fn names() -> HashMap<String, String> {
        HashMap::from([
            ("#holder".to_string(), "holder".to_string()),
            ("#counter".to_string(), "counter".to_string()),
        ])
    }

    fn expected(holder: &str, counter: u64) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (":holder".to_string(), AttributeValue::S(holder.to_string())),
            (
                ":counter".to_string(),
                AttributeValue::N(counter.to_string()),
            ),
        ])
    }
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Reads a lease item; an item without a holder or counter (written by hand) reads as a
/// record nobody can renew, which a candidate takes over after a lease.
fn record(item: &HashMap<String, AttributeValue>) -> LeaseRecord {
    let holder = item
        .get("holder")
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default();
    let counter = item
        .get("counter")
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .unwrap_or_default();
    LeaseRecord { holder, counter }
}

#[async_trait]
impl LeaseStore for DynamoDbLeaseStore {
    async fn get(&self, owner: &str) -> Result<Option<LeaseRecord>, LeaseError> {
        let out = send!(
            self,
            "GetItem",
            self.client
                .get_item()
                .table_name(&self.table)
                .set_key(Some(self.key(owner)))
                // A candidate must see the holder's latest renewal.
                .consistent_read(true)
        )
        .map_err(|e| self.classify(e))?;
        Ok(out.item().map(record))
    }

    async fn acquire_if_absent(&self, owner: &str, holder: &str) -> Result<u64, LeaseError> {
        let counter = 0;
        send!(
            self,
            "PutItem",
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(self.item(owner, holder, counter)))
                .condition_expression("attribute_not_exists(#lock)")
                .expression_attribute_names("#lock", KEY)
        )
        .map_err(|e| self.classify(e))?;
        Ok(counter)
    }

    async fn acquire_if_unchanged(
        &self,
        owner: &str,
        expected: &LeaseRecord,
        holder: &str,
    ) -> Result<u64, LeaseError> {
        // The counter moves on, so the old holder's renewal (conditional on its counter)
        // fails even when a restarted replica reuses its id.
        let counter = expected.counter.wrapping_add(1);
        send!(
            self,
            "PutItem",
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(self.item(owner, holder, counter)))
                .condition_expression(UNCHANGED)
                .set_expression_attribute_names(Some(Self::names()))
                .set_expression_attribute_values(Some(Self::expected(
                    &expected.holder,
                    expected.counter,
                )))
        )
        .map_err(|e| self.classify(e))?;
        Ok(counter)
    }

    async fn renew(&self, owner: &str, holder: &str, counter: u64) -> Result<u64, LeaseError> {
        let next = counter.wrapping_add(1);
        let mut values = Self::expected(holder, counter);
        values.insert(":next".into(), AttributeValue::N(next.to_string()));
        values.insert(":now".into(), AttributeValue::S(now_rfc3339()));
        let mut names = Self::names();
        names.insert("#renewed_at".into(), "renewed_at".into());
        send!(
            self,
            "UpdateItem",
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(self.key(owner)))
                .update_expression("SET #counter = :next, #renewed_at = :now")
                .condition_expression(UNCHANGED)
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(Some(values))
        )
        .map_err(|e| self.classify(e))?;
        Ok(next)
    }

    async fn release(&self, owner: &str, holder: &str, counter: u64) -> Result<(), LeaseError> {
        send!(
            self,
            "DeleteItem",
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(self.key(owner)))
                .condition_expression(UNCHANGED)
                .set_expression_attribute_names(Some(Self::names()))
                .set_expression_attribute_values(Some(Self::expected(holder, counter)))
        )
        .map_err(|e| self.classify(e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hand_written_item_reads_as_a_record_nobody_renews() {
        let item = HashMap::from([("lock".to_string(), AttributeValue::S("o".into()))]);
        assert_eq!(
            record(&item),
            LeaseRecord {
                holder: String::new(),
                counter: 0
            }
        );
    }
}
