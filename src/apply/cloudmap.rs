//! Cloud Map: services created (or found, when another pass made one since the read),
//! instances registered, and services deleted only after their tags prove them ours.

use std::collections::BTreeMap;

use super::{Created, gone_is_fine};
use crate::aws::{Aws, AwsError, ErrorKind};
use crate::ownership::Ownership;
use crate::plan::CloudMapServiceRef;
use crate::state::CloudMapServiceSpec;

/// CreateService; returns the service's id.
pub(super) async fn create_service(
    aws: &Aws,
    spec: &CloudMapServiceSpec,
) -> Result<String, AwsError> {
    let service = match aws.cloudmap.create_service(spec).await {
        Ok(s) => s,
        Err(e) if e.kind == ErrorKind::Duplicate => {
            // Made by a concurrent pass or another controller since the read: use it.
            aws.cloudmap
                .list_services(&spec.namespace_id)
                .await?
                .into_iter()
                .find(|s| s.name.eq_ignore_ascii_case(&spec.name))
                .ok_or(e)?
        }
        Err(e) => return Err(e),
    };
    Ok(service.id)
}

pub(super) async fn register(
    aws: &Aws,
    service: &CloudMapServiceRef,
    instance_id: &str,
    attributes: &BTreeMap<String, String>,
    created: &Created,
) -> Result<(), AwsError> {
    let id = resolve(service, created)?;
    aws.cloudmap
        .register_instance(&id, instance_id, attributes)
        .await
}

/// DeleteService, once ListTagsForResource shows our owner tag: the description that marked
/// it ours can be edited by anyone; the tags set at creation are the proof.
pub(super) async fn delete_service(
    aws: &Aws,
    id: &str,
    arn: &str,
    owner: &str,
) -> Result<(), AwsError> {
    let tags = aws.cloudmap.list_tags(arn).await?;
    if !Ownership::new(owner.to_string()).owns(&tags) {
        return Err(AwsError::new(
            "servicediscovery",
            "DeleteService",
            ErrorKind::Validation,
            format!("not deleted: Cloud Map service {arn} does not carry owner tag {owner}"),
        ));
    }
    gone_is_fine(aws.cloudmap.delete_service(id).await)
}

fn resolve(service: &CloudMapServiceRef, created: &Created) -> Result<String, AwsError> {
    match service {
        CloudMapServiceRef::Existing { id, .. } => Ok(id.clone()),
        CloudMapServiceRef::New { namespace_id, name } => created
            .cloudmap
            .get(&(namespace_id.clone(), name.clone()))
            .cloned()
            .ok_or_else(|| {
                AwsError::new(
                    "servicediscovery",
                    "CreateService",
                    ErrorKind::Other,
                    format!("Cloud Map service {name} was not created"),
                )
            }),
    }
}
