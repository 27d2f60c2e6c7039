//! Ownership tags: how ecs-ingress knows what it made.
//!
//! Every resource it creates carries three tags, set at creation (CreateTargetGroup and
//! CreateRule take tags inline, so there is never an untagged moment):
//! `ecs-ingress/owner` = `--owner-id`, `ecs-ingress/service` = the ECS service ARN, and
//! `ecs-ingress/resource` = which of the service's resources it is. Anything without our
//! owner tag is never modified or deleted.

use crate::state::Tags;

pub mod marker;
pub mod naming;

pub const OWNER_TAG: &str = "ecs-ingress/owner";
pub const SERVICE_TAG: &str = "ecs-ingress/service";
pub const RESOURCE_TAG: &str = "ecs-ingress/resource";
/// The ownership tag's `resource` value on a service's target group (rules are `rule-N`).
pub const TARGET_GROUP_RESOURCE: &str = "target-group";

/// Cloud Map instance attribute holding the owner id.
pub const OWNER_ATTRIBUTE: &str = "ECS_INGRESS_OWNER";
/// Cloud Map instance attribute holding the ECS service ARN.
pub const SERVICE_ATTRIBUTE: &str = "ECS_INGRESS_SERVICE";
/// In DNS namespaces Cloud Map turns this instance attribute into an alias record to the ALB.
pub const ALIAS_ATTRIBUTE: &str = "AWS_ALIAS_DNS_NAME";
/// HTTP namespaces make no records, and AWS allows the alias attribute only in services
/// with A/AAAA records: there the ALB's name is a plain attribute for DiscoverInstances.
pub const HTTP_ALB_ATTRIBUTE: &str = "ALB_DNS_NAME";

/// On target groups: when it was created (seconds since the epoch), so a replacement that
/// never gets healthy can say for how long, even after a restart.
pub const CREATED_TAG: &str = "ecs-ingress/created";
/// On an ALB ecs-ingress created: the pool it belongs to.
pub const POOL_TAG: &str = "ecs-ingress/pool";

/// The identity of this controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ownership {
    owner_id: String,
}

impl Ownership {
    pub fn new(owner_id: impl Into<String>) -> Self {
        Self {
            owner_id: owner_id.into(),
        }
    }

    pub fn owner_id(&self) -> &str {
        &self.owner_id
    }

    /// True when `tags` mark a resource as made by this controller.
    pub fn owns(&self, tags: &Tags) -> bool {
        tags.get(OWNER_TAG).is_some_and(|o| *o == self.owner_id)
    }

    /// The tags to create a resource with.
    pub fn tags(&self, service_arn: &str, resource: &str) -> Tags {
        Tags::from([
            (OWNER_TAG.to_string(), self.owner_id.clone()),
            (SERVICE_TAG.to_string(), service_arn.to_string()),
            (RESOURCE_TAG.to_string(), resource.to_string()),
        ])
    }
}

/// The service ARN an owned resource was made for.
pub fn service_of(tags: &Tags) -> Option<&str> {
    tags.get(SERVICE_TAG).map(String::as_str)
}

/// Which of its service's resources an owned resource is (`target-group`, `rule-0`, ...).
pub fn resource_of(tags: &Tags) -> Option<&str> {
    tags.get(RESOURCE_TAG).map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owns_only_its_own_tags() {
        let a = Ownership::new("a");
        let b = Ownership::new("b");
        let tags = a.tags("arn:svc", "rule-0");
        assert!(a.owns(&tags));
        assert!(!b.owns(&tags));
        assert!(!a.owns(&Tags::new()));
        assert_eq!(service_of(&tags), Some("arn:svc"));
        assert_eq!(resource_of(&tags), Some("rule-0"));
    }
}
