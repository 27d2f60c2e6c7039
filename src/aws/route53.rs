//! Route 53 adapter: SDK calls in, [`crate::state`] record types out.

use async_trait::async_trait;
use aws_sdk_route53::Client;
use aws_sdk_route53::types::{
    AliasTarget as SdkAlias, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet,
    RrType,
};

use super::call::{CallContext, send};
use super::{AwsError, Route53Api};
use crate::state::{AliasTarget, HostedZone, RecordChange, RecordSet};

const SERVICE: &str = "route53";
/// The largest page ListResourceRecordSets returns.
const PAGE_SIZE: i32 = 300;

pub struct Route53Adapter {
    client: Client,
    ctx: CallContext,
}

impl Route53Adapter {
    pub fn new(client: Client, ctx: CallContext) -> Self {
        Self { client, ctx }
    }
}

/// Route 53 answers names fully qualified, with `*` escaped as `\052`.
pub fn normalize_name(name: &str) -> String {
    name.trim_end_matches('.')
        .replace("\\052", "*")
        .to_ascii_lowercase()
}

fn record(r: &ResourceRecordSet) -> RecordSet {
    RecordSet {
        name: normalize_name(r.name()),
        record_type: r.r#type().as_str().into(),
        ttl: r.ttl(),
        values: r
            .resource_records()
            .iter()
            .map(|v| v.value().to_string())
            .collect(),
        alias: r.alias_target().map(|a| AliasTarget {
            dns_name: normalize_name(a.dns_name()).into(),
            hosted_zone_id: a.hosted_zone_id().into(),
            evaluate_target_health: a.evaluate_target_health(),
        }),
        set_identifier: r.set_identifier().map(str::to_string),
    }
}

fn sdk_record(r: &RecordSet) -> Result<ResourceRecordSet, AwsError> {
    let invalid = |e: aws_sdk_route53::error::BuildError| {
        AwsError::new(
            SERVICE,
            "ChangeResourceRecordSets",
            super::ErrorKind::Validation,
            e.to_string(),
        )
    };
    let mut b = ResourceRecordSet::builder()
        .name(&r.name)
        .r#type(RrType::from(r.record_type.as_str()))
        .set_ttl(r.ttl)
        .set_set_identifier(r.set_identifier.clone());
    for v in &r.values {
        b = b.resource_records(
            ResourceRecord::builder()
                .value(v)
                .build()
                .map_err(invalid)?,
        );
    }
    if let Some(a) = &r.alias {
        b = b.alias_target(
            SdkAlias::builder()
                .dns_name(a.dns_name.as_str())
                .hosted_zone_id(a.hosted_zone_id.as_str())
                .evaluate_target_health(a.evaluate_target_health)
                .build()
                .map_err(invalid)?,
        );
    }
    b.build().map_err(invalid)
}

#[async_trait]
impl Route53Api for Route53Adapter {
    async fn get_hosted_zone(&self, zone_id: &str) -> Result<HostedZone, AwsError> {
        const OP: &str = "GetHostedZone";
        let out = send!(
            self,
            "GetHostedZone",
            self.client.get_hosted_zone().id(zone_id)
        )?;
        let zone = out.hosted_zone().ok_or_else(|| {
            AwsError::new(
                SERVICE,
                OP,
                super::ErrorKind::Other,
                "answer without a zone",
            )
        })?;
        Ok(HostedZone {
            id: zone.id().trim_start_matches("/hostedzone/").to_string(),
            name: normalize_name(zone.name()),
        })
    }

    async fn list_record_sets(&self, zone_id: &str) -> Result<Vec<RecordSet>, AwsError> {
        // The SDK has no paginator for ListResourceRecordSets (its continuation is a name,
        // type and identifier, not one token), so this loop stays hand-written.
        let mut out = Vec::new();
        let mut next: Option<(String, RrType, Option<String>)> = None;
        loop {
            let mut request = self
                .client
                .list_resource_record_sets()
                .hosted_zone_id(zone_id)
                .max_items(PAGE_SIZE);
            if let Some((name, rtype, identifier)) = next.take() {
                request = request
                    .start_record_name(name)
                    .start_record_type(rtype)
                    .set_start_record_identifier(identifier);
            }
            let page = send!(self, "ListResourceRecordSets", request)?;
            out.extend(page.resource_record_sets().iter().map(record));
            if !page.is_truncated() {
                return Ok(out);
            }
            match (page.next_record_name(), page.next_record_type()) {
                (Some(name), Some(rtype)) => {
                    next = Some((
                        name.to_string(),
                        rtype.clone(),
                        page.next_record_identifier().map(str::to_string),
                    ))
                }
                _ => return Ok(out),
            }
        }
    }

    async fn list_record_sets_from(
        &self,
        zone_id: &str,
        start_name: &str,
        max_items: usize,
    ) -> Result<super::RecordPage, AwsError> {
        let page = send!(
            self,
            "ListResourceRecordSets",
            self.client
                .list_resource_record_sets()
                .hosted_zone_id(zone_id)
                .start_record_name(start_name)
                .max_items(i32::try_from(max_items).unwrap_or(PAGE_SIZE).min(PAGE_SIZE))
        )?;
        Ok(super::RecordPage {
            records: page.resource_record_sets().iter().map(record).collect(),
            truncated: page.is_truncated(),
        })
    }

    async fn change_record_sets(
        &self,
        zone_id: &str,
        changes: &[RecordChange],
    ) -> Result<(), AwsError> {
        const OP: &str = "ChangeResourceRecordSets";
        let mut batch = ChangeBatch::builder().comment("ecs-ingress");
        for c in changes {
            let action = match c {
                RecordChange::Upsert(_) => ChangeAction::Upsert,
                RecordChange::Delete(_) => ChangeAction::Delete,
            };
            let change = Change::builder()
                .action(action)
                .resource_record_set(sdk_record(c.record())?)
                .build()
                .map_err(|e| {
                    AwsError::new(SERVICE, OP, super::ErrorKind::Validation, e.to_string())
                })?;
            batch = batch.changes(change);
        }
        let batch = batch
            .build()
            .map_err(|e| AwsError::new(SERVICE, OP, super::ErrorKind::Validation, e.to_string()))?;
        send!(
            self,
            "ChangeResourceRecordSets",
            self.client
                .change_resource_record_sets()
                .hosted_zone_id(zone_id)
                .change_batch(batch)
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalized() {
        assert_eq!(
            normalize_name("Service-A.in.example.com."),
            "service-a.in.example.com"
        );
        assert_eq!(normalize_name("\\052.in.example.com."), "*.in.example.com");
    }
}
