//! [`Route53Api`] on the fake account: atomic change batches with Route 53's checks
//! (exact-value DELETE, CNAME exclusivity, batch size limits).

use async_trait::async_trait;

use super::{ACCOUNT, FakeAws, World, error};
use crate::aws::{AwsError, ROUTE53_BATCH_CHARS, ROUTE53_BATCH_RECORDS, Route53Api};
use crate::state::{HostedZone, RecordChange, RecordSet};

const R53: &str = "route53";
/// Route 53's page size for ListResourceRecordSets.
const PAGE: usize = 300;

fn invalid(message: String) -> AwsError {
    error(
        R53,
        "ChangeResourceRecordSets",
        "InvalidChangeBatch",
        message,
    )
}

/// Route 53 lists records by name with the labels reversed (`com.example.in.web`), so a
/// name's records come first from `StartRecordName` = that name.
fn route53_order(name: &str) -> Vec<String> {
    name.trim_end_matches('.')
        .rsplit('.')
        .map(str::to_ascii_lowercase)
        .collect()
}

/// Applies a batch to a copy of the zone's records; all or nothing.
pub fn apply_batch(
    records: &[RecordSet],
    changes: &[RecordChange],
) -> Result<Vec<RecordSet>, AwsError> {
    let (count, chars) = changes.iter().fold((0, 0), |(n, c), ch| {
        let (dn, dc) = ch.batch_weight();
        (n + dn, c + dc)
    });
    if count > ROUTE53_BATCH_RECORDS || chars > ROUTE53_BATCH_CHARS {
        return Err(invalid(format!(
            "batch of {count} records / {chars} characters is over Route 53's {ROUTE53_BATCH_RECORDS} / {ROUTE53_BATCH_CHARS}"
        )));
    }
    let mut out = records.to_vec();
    let same = |a: &RecordSet, b: &RecordSet| {
        a.name == b.name && a.record_type == b.record_type && a.set_identifier == b.set_identifier
    };
    for change in changes {
        match change {
            RecordChange::Delete(r) => {
                let Some(i) = out.iter().position(|x| x == r) else {
                    return Err(invalid(format!(
                        "Tried to delete resource record set [name='{}', type='{}'] but the values provided do not match the current values (or it was not found)",
                        r.name, r.record_type
                    )));
                };
                out.remove(i);
            }
            RecordChange::Upsert(r) => {
                let cname_clash = out.iter().any(|x| {
                    x.name == r.name
                        && !same(x, r)
                        && (x.record_type == "CNAME" || r.record_type == "CNAME")
                });
                if cname_clash {
                    return Err(invalid(format!(
                        "RRSet of type {} with DNS name {} is not permitted as it conflicts with other records with the same DNS name in zone",
                        r.record_type, r.name
                    )));
                }
                out.retain(|x| !same(x, r));
                out.push(r.clone());
            }
        }
    }
    Ok(out)
}

/// Route 53 as `account` sees it: its own zones only (zone ids are global, so another
/// account's zone answers NoSuchHostedZone, as on AWS).
impl FakeAws {
    pub(super) async fn get_hosted_zone_as(
        &self,
        account: &str,
        zone_id: &str,
    ) -> Result<HostedZone, AwsError> {
        self.request(R53, "GetHostedZone", |world| {
            world
                .zone_in(account, zone_id)
                .map(|(z, _)| z.clone())
                .ok_or_else(|| {
                    error(
                        R53,
                        "GetHostedZone",
                        "NoSuchHostedZone",
                        format!("No hosted zone found with ID: {zone_id}"),
                    )
                })
        })
        .await
    }

    pub(super) async fn list_record_sets_as(
        &self,
        account: &str,
        zone_id: &str,
    ) -> Result<Vec<RecordSet>, AwsError> {
        let count = |world: &World| {
            world
                .zone_in(account, zone_id)
                .map(|(_, r)| r.len())
                .unwrap_or(0)
        };
        self.paged(R53, "ListResourceRecordSets", count, PAGE, |world| {
            world
                .zone_in(account, zone_id)
                .map(|(_, r)| r.clone())
                .ok_or_else(|| {
                    error(
                        R53,
                        "ListResourceRecordSets",
                        "NoSuchHostedZone",
                        format!("No hosted zone found with ID: {zone_id}"),
                    )
                })
        })
        .await
    }

    pub(super) async fn list_record_sets_from_as(
        &self,
        account: &str,
        zone_id: &str,
        start_name: &str,
        max_items: usize,
    ) -> Result<crate::aws::RecordPage, AwsError> {
        self.request(R53, "ListResourceRecordSets", |world| {
            let Some((_, records)) = world.zone_in(account, zone_id) else {
                return Err(error(
                    R53,
                    "ListResourceRecordSets",
                    "NoSuchHostedZone",
                    format!("No hosted zone found with ID: {zone_id}"),
                ));
            };
            let start = route53_order(start_name);
            let mut after: Vec<&RecordSet> = records
                .iter()
                .filter(|r| route53_order(&r.name) >= start)
                .collect();
            after.sort_by_key(|r| (route53_order(&r.name), r.record_type.clone()));
            let max = max_items.min(PAGE);
            Ok(crate::aws::RecordPage {
                truncated: after.len() > max,
                records: after.into_iter().take(max).cloned().collect(),
            })
        })
        .await
    }

    pub(super) async fn change_record_sets_as(
        &self,
        account: &str,
        zone_id: &str,
        changes: &[RecordChange],
    ) -> Result<(), AwsError> {
        self.request(R53, "ChangeResourceRecordSets", |world| {
            let Some((_, records)) = world.zone_in_mut(account, zone_id) else {
                return Err(error(
                    R53,
                    "ChangeResourceRecordSets",
                    "NoSuchHostedZone",
                    format!("No hosted zone found with ID: {zone_id}"),
                ));
            };
            let after = apply_batch(records, changes)?;
            let cached = super::answers::answers_left_behind(records, &after);
            *records = after;
            world.cached_answers.extend(cached);
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl Route53Api for FakeAws {
    async fn get_hosted_zone(&self, zone_id: &str) -> Result<HostedZone, AwsError> {
        self.get_hosted_zone_as(ACCOUNT, zone_id).await
    }

    async fn list_record_sets(&self, zone_id: &str) -> Result<Vec<RecordSet>, AwsError> {
        self.list_record_sets_as(ACCOUNT, zone_id).await
    }

    async fn list_record_sets_from(
        &self,
        zone_id: &str,
        start_name: &str,
        max_items: usize,
    ) -> Result<crate::aws::RecordPage, AwsError> {
        self.list_record_sets_from_as(ACCOUNT, zone_id, start_name, max_items)
            .await
    }

    async fn change_record_sets(
        &self,
        zone_id: &str,
        changes: &[RecordChange],
    ) -> Result<(), AwsError> {
        self.change_record_sets_as(ACCOUNT, zone_id, changes).await
    }
}
