//! Listener certificates: attached with their record on the listener's tags, removed with
//! it.

use crate::aws::{Aws, AwsError};
use crate::plan::Change;
use crate::state::Tags;

use super::gone_is_fine;

/// Applies an `AddListenerCertificate` or `RemoveListenerCertificate`.
pub(super) async fn apply(aws: &Aws, change: &Change) -> Result<(), AwsError> {
    match change {
        Change::AddListenerCertificate {
            listener_arn,
            certificate_arn,
            record_key,
            record,
            ..
        } => {
            // The record first: a certificate on the listener without it would be taken
            // for a hand-attached one and never removed.
            let tags = Tags::from([(record_key.clone(), record.clone())]);
            aws.elb.add_tags(listener_arn, &tags).await?;
            aws.elb
                .add_listener_certificate(listener_arn, certificate_arn)
                .await
        }
        Change::RemoveListenerCertificate {
            listener_arn,
            certificate_arn,
            record_key,
        } => {
            // An empty ARN: the record of a certificate someone removed already.
            if !certificate_arn.is_empty() {
                gone_is_fine(
                    aws.elb
                        .remove_listener_certificate(listener_arn, certificate_arn)
                        .await,
                )?;
            }
            aws.elb
                .remove_tags(listener_arn, std::slice::from_ref(record_key))
                .await
        }
        _ => Ok(()),
    }
}
