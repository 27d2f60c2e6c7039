//! EC2 adapter: security-group rules in and out, as [`crate::state::SecurityGroupRule`].

use async_trait::async_trait;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{
    Filter, IpPermission, ResourceType, Tag, TagSpecification, UserIdGroupPair,
};

use super::call::{CallContext, paged, send};
use super::{AwsError, Ec2Api, ErrorKind, SECURITY_GROUP_FILTER_VALUES};
use crate::ownership::OWNER_TAG;
use crate::state::{SecurityGroupRule, Tags};

const SERVICE: &str = "ec2";
/// The largest page DescribeSecurityGroupRules returns.
const PAGE_SIZE: i32 = 1000;

pub struct Ec2Adapter {
    client: Client,
    ctx: CallContext,
}

impl Ec2Adapter {
    pub fn new(client: Client, ctx: CallContext) -> Self {
        Self { client, ctx }
    }
}

fn tags(tags: &[Tag]) -> Tags {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

/// An inbound rule; `None` for an outbound one.
fn ingress_rule(r: &aws_sdk_ec2::types::SecurityGroupRule) -> Option<SecurityGroupRule> {
    if r.is_egress() != Some(false) {
        return None;
    }
    Some(SecurityGroupRule {
        id: r.security_group_rule_id()?.to_string(),
        group_id: r.group_id()?.to_string(),
        protocol: r.ip_protocol().unwrap_or("-1").to_string(),
        from_port: r.from_port().unwrap_or(-1),
        to_port: r.to_port().unwrap_or(-1),
        source_group_id: r
            .referenced_group_info()
            .and_then(|g| g.group_id())
            .map(str::to_string),
        tags: tags(r.tags()),
    })
}

#[async_trait]
impl Ec2Api for Ec2Adapter {
    async fn describe_ingress_rules(
        &self,
        group_ids: &[String],
    ) -> Result<Vec<SecurityGroupRule>, AwsError> {
        if group_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut request = self
            .client
            .describe_security_group_rules()
            .max_results(PAGE_SIZE);
        if group_ids.len() <= SECURITY_GROUP_FILTER_VALUES {
            request = request.filters(
                Filter::builder()
                    .name("group-id")
                    .set_values(Some(group_ids.to_vec()))
                    .build(),
            );
        }
        let pages = paged!(self, "DescribeSecurityGroupRules", request, |p| p
            .next_token())?;
        let wanted: std::collections::HashSet<&str> =
            group_ids.iter().map(String::as_str).collect();
        Ok(pages
            .iter()
            .flat_map(|p| p.security_group_rules())
            .filter_map(ingress_rule)
            .filter(|r| wanted.contains(r.group_id.as_str()))
            .collect())
    }

    async fn describe_owned_ingress_rules(
        &self,
        owner: &str,
    ) -> Result<Vec<SecurityGroupRule>, AwsError> {
        let request = self
            .client
            .describe_security_group_rules()
            .max_results(PAGE_SIZE)
            .filters(
                Filter::builder()
                    .name(format!("tag:{OWNER_TAG}"))
                    .values(owner)
                    .build(),
            );
        let pages = paged!(self, "DescribeSecurityGroupRules", request, |p| p
            .next_token())?;
        Ok(pages
            .iter()
            .flat_map(|p| p.security_group_rules())
            .filter_map(ingress_rule)
            .filter(|r| r.tags.get(OWNER_TAG).is_some_and(|o| o == owner))
            .collect())
    }

    async fn authorize_ingress(
        &self,
        group_id: &str,
        source_group_id: &str,
        port: u16,
        tags: &Tags,
    ) -> Result<String, AwsError> {
        const OP: &str = "AuthorizeSecurityGroupIngress";
        let permission = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(i32::from(port))
            .to_port(i32::from(port))
            .user_id_group_pairs(UserIdGroupPair::builder().group_id(source_group_id).build())
            .build();
        let spec = TagSpecification::builder()
            .resource_type(ResourceType::SecurityGroupRule)
            .set_tags(Some(
                tags.iter()
                    .map(|(k, v)| Tag::builder().key(k).value(v).build())
                    .collect(),
            ))
            .build();
        let out = send!(
            self,
            "AuthorizeSecurityGroupIngress",
            self.client
                .authorize_security_group_ingress()
                .group_id(group_id)
                .ip_permissions(permission)
                .tag_specifications(spec)
        )?;
        out.security_group_rules()
            .iter()
            .find_map(|r| r.security_group_rule_id())
            .map(str::to_string)
            .ok_or_else(|| AwsError::new(SERVICE, OP, ErrorKind::Other, "answer without a rule id"))
    }

    async fn revoke_ingress(&self, group_id: &str, rule_id: &str) -> Result<(), AwsError> {
        send!(
            self,
            "RevokeSecurityGroupIngress",
            self.client
                .revoke_security_group_ingress()
                .group_id(group_id)
                .security_group_rule_ids(rule_id)
        )?;
        Ok(())
    }
}
