//! A service's `loadBalancers`: the list as planned, with groups and rules created earlier
//! in the pass resolved to their ARNs, in one UpdateService (ECS replaces the list whole).

use super::Created;
use super::target_groups::resolve;
use crate::aws::{Aws, AwsError, ErrorKind};
use crate::plan::{AttachmentEntry, RuleRef, ShiftSetup};
use crate::state::{AdvancedConfiguration, DeploymentSettings, LoadBalancerAttachment};

/// The service whose list is written.
pub(super) struct Target<'a> {
    pub cluster: &'a str,
    pub service: &'a str,
    pub service_arn: &'a str,
}

pub(super) async fn update(
    aws: &Aws,
    target: Target<'_>,
    load_balancers: &[AttachmentEntry],
    deployment: Option<&DeploymentSettings>,
    created: &Created,
) -> Result<(), AwsError> {
    let entries = load_balancers
        .iter()
        .map(|e| match e {
            AttachmentEntry::Keep(lb) => Ok(lb.clone()),
            AttachmentEntry::Ours {
                target: group,
                container,
                port,
                shift,
            } => Ok(LoadBalancerAttachment {
                target_group_arn: Some(resolve(group, created)?),
                load_balancer_name: None,
                container_name: Some(container.clone()),
                container_port: Some(*port),
                advanced: shift
                    .as_ref()
                    .map(|s| advanced(s, target.service_arn, created))
                    .transpose()?,
            }),
        })
        .collect::<Result<Vec<_>, AwsError>>()?;
    aws.ecs
        .update_service_load_balancers(target.cluster, target.service, Some(&entries), deployment)
        .await
}

/// ECS's `advancedConfiguration` for the entry.
fn advanced(
    shift: &ShiftSetup,
    service_arn: &str,
    created: &Created,
) -> Result<AdvancedConfiguration, AwsError> {
    Ok(AdvancedConfiguration {
        alternate_target_group_arn: Some(resolve(&shift.alternate, created)?),
        production_listener_rule: Some(rule_arn(&shift.production_rule, service_arn, created)?),
        test_listener_rule: shift
            .test_rule
            .as_ref()
            .map(|r| rule_arn(r, service_arn, created))
            .transpose()?,
        role_arn: Some(shift.role_arn.clone()),
    })
}

/// A rule's ARN, created earlier in the pass if it is new.
pub(super) fn rule_arn(
    rule: &RuleRef,
    service_arn: &str,
    created: &Created,
) -> Result<String, AwsError> {
    match rule {
        RuleRef::Existing(arn) => Ok(arn.clone()),
        RuleRef::New(key) => created
            .rules
            .get(&(service_arn.to_string(), key.clone()))
            .cloned()
            .ok_or_else(|| {
                AwsError::new(
                    "elbv2",
                    "CreateRule",
                    ErrorKind::Other,
                    format!("the rule {key} was not created"),
                )
            }),
    }
}
