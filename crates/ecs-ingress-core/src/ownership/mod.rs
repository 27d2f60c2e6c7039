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
    /// The AWS accounts this controller's services live in (from its listeners' and
    /// clusters' ARNs); empty when unknown.
    accounts: std::collections::BTreeSet<String>,
}

impl Ownership {
    pub fn new(owner_id: impl Into<String>) -> Self {
        Self {
            owner_id: owner_id.into(),
            accounts: Default::default(),
        }
    }

    /// This controller acts for services of `accounts` (12-digit ids).
    pub fn in_accounts(mut self, accounts: impl IntoIterator<Item = String>) -> Self {
        self.accounts = accounts.into_iter().collect();
        self
    }

    pub fn owner_id(&self) -> &str {
        &self.owner_id
    }

    /// True when a DNS marker is this controller's: it carries this owner id and, when the
    /// accounts are known, names a service of one of them. A zone shared by several
    /// accounts (a central account's zone written through a role) may hold markers of
    /// another account's controller with the same owner id: those are never changed or
    /// deleted.
    pub fn owns_marker<S: AsRef<str>>(&self, marker: &marker::Marker<S>) -> bool {
        marker.owner.as_ref() == self.owner_id
            && (self.accounts.is_empty()
                || marker.services.iter().any(|arn| {
                    arn_account(arn.as_ref()).is_some_and(|a| self.accounts.contains(a))
                }))
    }

    /// True when `tags` mark a resource as made by this controller.
    pub fn owns(&self, tags: &Tags) -> bool {
        tags.get(OWNER_TAG).is_some_and(|o| *o == self.owner_id)
            || crate::sabotage::is_on(crate::sabotage::Sabotage::Ownership)
    }

    /// The tags to create a resource with.
    pub fn tags(&self, service_arn: &str, resource: &str) -> Tags {
        Tags::from_strs(&self.tag_pairs(service_arn, resource))
    }

    /// [`Ownership::tags`] with one more tag.
    pub fn tags_and(&self, service_arn: &str, resource: &str, extra: (&str, &str)) -> Tags {
        let [owner, service, kind] = self.tag_pairs(service_arn, resource);
        Tags::from_strs(&[owner, service, kind, extra])
    }

    fn tag_pairs<'a>(&'a self, service_arn: &'a str, resource: &'a str) -> [(&'a str, &'a str); 3] {
        [
            (OWNER_TAG, &self.owner_id),
            (SERVICE_TAG, service_arn),
            (RESOURCE_TAG, resource),
        ]
    }
}

/// The account field of an ARN (`arn:partition:service:region:ACCOUNT:...`).
pub fn arn_account(arn: &str) -> Option<&str> {
    let account = arn.strip_prefix("arn:")?.split(':').nth(3)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

/// The service ARN an owned resource was made for.
pub fn service_of(tags: &Tags) -> Option<&str> {
    tags.get(SERVICE_TAG)
}

/// Which of its service's resources an owned resource is (`target-group`, `rule-0`, ...).
pub fn resource_of(tags: &Tags) -> Option<&str> {
    tags.get(RESOURCE_TAG)
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
