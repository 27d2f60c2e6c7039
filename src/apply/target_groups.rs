//! Target groups: created with their non-default attributes, attributes rewritten, deleted
//! once AWS no longer counts them in use; a group created earlier in the pass found by name.

use std::time::Duration;

use super::{Created, IN_USE_RETRIES, Written, gone_is_fine};
use crate::aws::{Aws, AwsError, ErrorKind};
use crate::plan::TargetGroupRef;
use crate::state::{TargetGroupAttributes, TargetGroupSpec};

/// CreateTargetGroup, then the attributes a new group lacks. Returns its ARN.
pub(super) async fn create(
    aws: &Aws,
    spec: &TargetGroupSpec,
    extra_attributes: &TargetGroupAttributes,
    written: &Written,
) -> Result<String, AwsError> {
    let arn = aws.elb.create_target_group(spec).await?;
    if !extra_attributes.is_empty() {
        aws.elb
            .modify_target_group_attributes(&arn, extra_attributes)
            .await?;
    }
    remember_attributes(written, &arn, &spec.attributes);
    Ok(arn)
}

pub(super) async fn modify_attributes(
    aws: &Aws,
    arn: &str,
    attributes: &TargetGroupAttributes,
    written: &Written,
) -> Result<(), AwsError> {
    aws.elb
        .modify_target_group_attributes(arn, attributes)
        .await?;
    remember_attributes(written, arn, attributes);
    Ok(())
}

/// DeleteTargetGroup, retried while AWS still counts the group in use (a rule deleted a
/// moment ago, ECS draining its targets).
pub(super) async fn delete(aws: &Aws, arn: &str) -> Result<(), AwsError> {
    let mut attempt = 0;
    loop {
        match gone_is_fine(aws.elb.delete_target_group(arn).await) {
            Err(e) if e.kind == ErrorKind::InUse && attempt < IN_USE_RETRIES => {
                attempt += 1;
                tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
            }
            other => return other,
        }
    }
}

/// The ARN of a group: given, or created earlier in this pass.
pub(super) fn resolve(target: &TargetGroupRef, created: &Created) -> Result<String, AwsError> {
    match target {
        TargetGroupRef::Existing(arn) => Ok(arn.clone()),
        TargetGroupRef::New(name) => created.groups.get(name).cloned().ok_or_else(|| {
            AwsError::new(
                "elbv2",
                "CreateTargetGroup",
                ErrorKind::Other,
                format!("target group {name} was not created"),
            )
        }),
    }
}

fn remember_attributes(written: &Written, arn: &str, attributes: &TargetGroupAttributes) {
    // Never held across an await; a poisoned lock still holds a usable list.
    written
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push((arn.to_string(), attributes.clone()));
}
