//! Creating and deleting the ALBs of pools that grow: the applier's side of
//! `CreateLoadBalancer` and `DeleteLoadBalancer`.
//!
//! A new ALB is a clone of the pool's first ALB and listener, read when the change runs:
//! scheme, subnets, security groups, IP address type, attributes, port, protocol, default
//! actions, certificates (but those ecs-ingress attached) and SSL policy. Two things cannot
//! be copied as they are:
//! - a default action that forwards to a target group (a group belongs to one ALB): the
//!   clone answers `503` instead, which is what a client of an empty group gets;
//! - deletion protection: an ALB ecs-ingress must be able to delete when it scales in.

use crate::aws::{Aws, AwsError, ErrorKind};
use crate::ownership::Ownership;
use crate::state::{DefaultAction, ListenerSettings, LoadBalancerSettings, Tags};

const DELETION_PROTECTION: &str = "deletion_protection.enabled";

/// Creates (or finishes creating) the pool ALB `name` and its listener. Both calls are
/// idempotent: CreateLoadBalancer returns the existing ALB of the same name and settings,
/// and a listener already on the port is kept. Returns the new listener's ARN.
pub(crate) async fn create_pool_alb(
    aws: &Aws,
    name: &str,
    template_listener_arn: &str,
    tags: &Tags,
) -> Result<String, AwsError> {
    let template = aws
        .elb
        .describe_listeners(std::slice::from_ref(&template_listener_arn.to_string()))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| {
            AwsError::new(
                "elbv2",
                "DescribeListeners",
                ErrorKind::NotFound,
                format!("the pool's first listener {template_listener_arn} does not exist"),
            )
        })?;
    let settings = clone_settings(
        aws.elb
            .describe_load_balancer_settings(&template.load_balancer_arn)
            .await?,
    );
    let mut listener = clone_listener(
        aws.elb
            .describe_listener_settings(template_listener_arn)
            .await?,
    );
    if listener.certificates.len() > 1 {
        let recorded = aws
            .elb
            .describe_tags(std::slice::from_ref(&template_listener_arn.to_string()))
            .await?
            .into_iter()
            .flat_map(|(_, t)| t.into_keys())
            .collect();
        listener.certificates = without_attached(listener.certificates, &recorded);
    }
    let lb = match aws.elb.create_load_balancer(name, &settings, tags).await {
        Ok(lb) => lb,
        // Made by an earlier pass that stopped before its listener, with settings the
        // template no longer has: finish that one.
        Err(e) if e.kind == ErrorKind::Duplicate => aws
            .elb
            .describe_all_load_balancers()
            .await?
            .into_iter()
            .find(|lb| lb.name == name)
            .ok_or(e)?,
        Err(e) => return Err(e),
    };
    match aws.elb.create_listener(&lb.arn, &listener, tags).await {
        Ok(l) => Ok(l.arn),
        Err(e) if e.kind == ErrorKind::Duplicate => {
            let existing = aws.elb.describe_load_balancer_listeners(&lb.arn).await?;
            existing
                .into_iter()
                .find(|l| l.port == Some(listener.port))
                .map(|l| l.arn)
                .ok_or(e)
        }
        Err(e) => Err(e),
    }
}

/// The template listener's certificates (the default first) less those ecs-ingress attached
/// (recorded in `recorded` tag keys): copied, they would count as attached by hand on the
/// clone, never removed and using up its quota. Admission attaches, with their records,
/// those the clone's services need.
fn without_attached(
    certificates: Vec<String>,
    recorded: &std::collections::BTreeSet<String>,
) -> Vec<String> {
    certificates
        .into_iter()
        .enumerate()
        .filter(|(i, c)| *i == 0 || !recorded.contains(&crate::plan::certificates::record_key(c)))
        .map(|(_, c)| c)
        .collect()
}

/// Deletes a pool ALB after checking, with its own API, that `owner` created it.
pub(crate) async fn delete_pool_alb(aws: &Aws, arn: &str, owner: &str) -> Result<(), AwsError> {
    let tags = aws.elb.describe_tags(&[arn.to_string()]).await?;
    let ours = tags.iter().find(|(a, _)| a == arn).is_some_and(|(_, t)| {
        Ownership::new(owner).owns(t) && t.contains_key(crate::ownership::POOL_TAG)
    });
    if !ours {
        return Err(AwsError::new(
            "elbv2",
            "DeleteLoadBalancer",
            ErrorKind::Validation,
            format!(
                "not deleted: load balancer {arn} does not carry owner tag {owner} and a pool tag"
            ),
        ));
    }
    aws.elb.delete_load_balancer(arn).await
}

/// The template ALB's settings, without deletion protection.
fn clone_settings(mut settings: LoadBalancerSettings) -> LoadBalancerSettings {
    if let Some(v) = settings.attributes.get_mut(DELETION_PROTECTION) {
        *v = "false".into();
    }
    settings
}

/// The template listener's settings, with default actions another ALB can take.
fn clone_listener(mut settings: ListenerSettings) -> ListenerSettings {
    let copyable = settings.default_actions.iter().all(|a| {
        matches!(
            a,
            DefaultAction::FixedResponse { .. } | DefaultAction::Redirect { .. }
        )
    });
    if !copyable {
        settings.default_actions = vec![DefaultAction::FixedResponse {
            status_code: "503".into(),
            content_type: Some("text/plain".into()),
            message_body: Some("no rule matches this request".into()),
        }];
    }
    settings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clone_drops_what_cannot_follow_it_to_another_alb() {
        let listener = ListenerSettings {
            port: 80,
            protocol: "HTTP".into(),
            default_actions: vec![DefaultAction::Forward {
                target_group_arns: vec!["tg".into()],
            }],
            certificates: vec![],
            ssl_policy: None,
        };
        let cloned = clone_listener(listener.clone());
        assert!(matches!(
            &cloned.default_actions[..],
            [DefaultAction::FixedResponse { status_code, .. }] if status_code == "503"
        ));
        let redirect = ListenerSettings {
            default_actions: vec![DefaultAction::Redirect {
                protocol: Some("HTTPS".into()),
                port: Some("443".into()),
                host: None,
                path: None,
                query: None,
                status_code: "HTTP_301".into(),
            }],
            ..listener
        };
        assert_eq!(clone_listener(redirect.clone()), redirect);

        let lb = LoadBalancerSettings {
            scheme: "internal".into(),
            subnets: vec!["a".into(), "b".into()],
            security_groups: vec![],
            ip_address_type: "ipv4".into(),
            attributes: [(DELETION_PROTECTION.to_string(), "true".to_string())].into(),
        };
        assert_eq!(clone_settings(lb).attributes[DELETION_PROTECTION], "false");
    }

    #[test]
    fn a_clone_leaves_out_the_certificates_ecs_ingress_attached() {
        let attached = "arn:aws:acm:us-east-1:1:certificate/ours";
        let recorded: std::collections::BTreeSet<String> =
            [crate::plan::certificates::record_key(attached)].into();
        let certs = vec![
            "arn:aws:acm:us-east-1:1:certificate/default".to_string(),
            "arn:aws:acm:us-east-1:1:certificate/by-hand".to_string(),
            attached.to_string(),
        ];
        assert_eq!(
            without_attached(certs.clone(), &recorded),
            certs[..2].to_vec(),
            "the default and the hand-attached one are copied"
        );
    }
}
