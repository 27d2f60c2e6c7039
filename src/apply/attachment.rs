//! A service's `loadBalancers`: the list as planned, with groups created earlier in the pass
//! resolved to their ARNs, in one UpdateService (ECS replaces the list whole).

use super::Created;
use super::target_groups::resolve;
use crate::aws::{Aws, AwsError};
use crate::plan::AttachmentEntry;
use crate::state::LoadBalancerAttachment;

pub(super) async fn update(
    aws: &Aws,
    cluster: &str,
    service: &str,
    load_balancers: &[AttachmentEntry],
    created: &Created,
) -> Result<(), AwsError> {
    let entries = load_balancers
        .iter()
        .map(|e| match e {
            AttachmentEntry::Keep(lb) => Ok(lb.clone()),
            AttachmentEntry::Ours {
                target,
                container,
                port,
            } => Ok(LoadBalancerAttachment {
                target_group_arn: Some(resolve(target, created)?),
                load_balancer_name: None,
                container_name: Some(container.clone()),
                container_port: Some(*port),
                advanced: None,
            }),
        })
        .collect::<Result<Vec<_>, AwsError>>()?;
    aws.ecs
        .update_service_load_balancers(cluster, service, &entries)
        .await
}
