//! [`Ec2Api`] on the fake account.

use async_trait::async_trait;

use super::{FakeAws, World};
use crate::aws::{AwsError, Ec2Api, SECURITY_GROUP_FILTER_VALUES};
use crate::ownership::OWNER_TAG;
use crate::state::{SecurityGroupRule, Tags};

const EC2: &str = "ec2";
/// The page size the real adapter asks for.
const PAGE: usize = 1000;

#[async_trait]
impl Ec2Api for FakeAws {
    async fn describe_ingress_rules(
        &self,
        group_ids: &[String],
    ) -> Result<Vec<SecurityGroupRule>, AwsError> {
        if group_ids.is_empty() {
            return Ok(Vec::new());
        }
        // As the real adapter asks: filtered by group when the groups fit one filter,
        // otherwise every rule of the region (AWS also lists outbound rules: one per group,
        // the default "allow all").
        let filtered = group_ids.len() <= SECURITY_GROUP_FILTER_VALUES;
        let count = |world: &World| {
            let groups = if filtered {
                group_ids.len()
            } else {
                world.security_groups.len()
            };
            world.ingress_rules_of(filtered.then_some(group_ids)).len() + groups
        };
        let rules = self
            .paged(EC2, "DescribeSecurityGroupRules", count, PAGE, |world| {
                Ok(world.ingress_rules_of(filtered.then_some(group_ids)))
            })
            .await?;
        Ok(rules
            .into_iter()
            .filter(|r| group_ids.contains(&r.group_id))
            .collect())
    }

    async fn describe_owned_ingress_rules(
        &self,
        owner: &str,
    ) -> Result<Vec<SecurityGroupRule>, AwsError> {
        let owned = |world: &World| -> Vec<SecurityGroupRule> {
            world
                .ingress_rules_of(None)
                .into_iter()
                .filter(|r| r.tags.get(OWNER_TAG).is_some_and(|o| o == owner))
                .collect()
        };
        self.paged(
            EC2,
            "DescribeSecurityGroupRules",
            |world| owned(world).len(),
            PAGE,
            |world| Ok(owned(world)),
        )
        .await
    }

    async fn authorize_ingress(
        &self,
        group_id: &str,
        source_group_id: &str,
        port: u16,
        tags: &Tags,
    ) -> Result<String, AwsError> {
        self.request(EC2, "AuthorizeSecurityGroupIngress", |world| {
            world.authorize_ingress(group_id, source_group_id, port, tags)
        })
        .await
    }

    async fn revoke_ingress(&self, group_id: &str, rule_id: &str) -> Result<(), AwsError> {
        self.request(EC2, "RevokeSecurityGroupIngress", |world| {
            world.revoke_ingress(group_id, rule_id)
        })
        .await
    }
}
