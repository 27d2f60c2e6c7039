//! Other AWS accounts, as far as `--zone-role` needs them: hosted zones that belong to
//! another account, IAM roles there that STS lets the controller assume (or not), and the
//! temporary credentials it hands out, which expire.
//!
//! AWS's rules modelled (STS and Route 53 docs): AssumeRole is denied when the role does not
//! exist, its trust policy does not name the caller, or the ExternalId it requires is
//! missing or wrong — all three answer AccessDenied; the credentials last
//! `DurationSeconds` (default 3600); a request signed with expired credentials fails with
//! ExpiredToken; a session revoked in IAM ("Revoke active sessions") is refused with
//! AccessDenied (an explicit deny); Route 53 answers NoSuchHostedZone for a zone of another
//! account.

use std::sync::Arc;

use async_trait::async_trait;

pub use super::world::accounts::FakeRole;
use super::world::accounts::Issued;
use super::{ACCOUNT, FakeAws, error};
use crate::aws::sts::{RoleCredentials, RoleSession, StsApi};
use crate::aws::{AwsError, RecordPage, Route53Api};
use crate::state::{HostedZone, RecordChange, RecordSet};

#[async_trait]
impl StsApi for FakeAws {
    async fn assume_role(
        &self,
        role_arn: &str,
        session_name: &str,
        external_id: Option<&str>,
    ) -> Result<RoleCredentials, AwsError> {
        let now = crate::aws::clock::unix_now();
        self.request("sts", "AssumeRole", |world| {
            *world
                .accounts
                .assumed
                .entry(role_arn.to_string())
                .or_default() += 1;
            let denied = || {
                error(
                    "sts",
                    "AssumeRole",
                    "AccessDenied",
                    format!(
                        "User: arn:aws:sts::{ACCOUNT}:assumed-role/ecs-ingress/task is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
                    ),
                )
            };
            let role = world.accounts.roles.get(role_arn).ok_or_else(denied)?;
            let account = crate::ownership::arn_account(role_arn).ok_or_else(denied)?.to_string();
            if role.denied || role.external_id.as_deref().is_some_and(|e| Some(e) != external_id)
            {
                return Err(denied());
            }
            if session_name.is_empty() || session_name.len() > 64 {
                return Err(error(
                    "sts",
                    "AssumeRole",
                    "ValidationError",
                    format!("RoleSessionName {session_name:?} must be 2-64 characters"),
                ));
            }
            let key = format!("ASIAFAKE{:08}", world.accounts.issued.len());
            let expires_at = now + role.duration_seconds;
            world.accounts.issued.insert(
                key.clone(),
                Issued {
                    account,
                    expires_at,
                    revoked: false,
                },
            );
            Ok(RoleCredentials {
                access_key_id: key,
                secret_access_key: "fake-secret".into(),
                session_token: "fake-token".into(),
                expires_at,
            })
        })
        .await
    }
}

impl FakeAws {
    /// Route 53 signed with `session`'s credentials: it acts in the account they belong to,
    /// and fails with ExpiredToken once they have expired.
    pub fn route53_for(self: &Arc<Self>, session: Arc<RoleSession>) -> Arc<dyn Route53Api> {
        Arc::new(SignedRoute53 {
            fake: self.clone(),
            session,
        })
    }
}

struct SignedRoute53 {
    fake: Arc<FakeAws>,
    session: Arc<RoleSession>,
}

impl SignedRoute53 {
    /// The account the session's current credentials act in.
    async fn account(&self, operation: &'static str) -> Result<String, AwsError> {
        let credentials = self.session.credentials().await?;
        let now = crate::aws::clock::unix_now();
        let world = self.fake.world();
        match world.accounts.issued.get(&credentials.access_key_id) {
            Some(issued) if issued.revoked => Err(error(
                "route53",
                operation,
                "AccessDenied",
                format!(
                    "User: arn:aws:sts::{}:assumed-role/... is not authorized to perform: route53:{operation} with an explicit deny",
                    issued.account
                ),
            )),
            Some(issued) if issued.expires_at > now => Ok(issued.account.clone()),
            Some(_) => Err(error(
                "route53",
                operation,
                "ExpiredToken",
                "The security token included in the request is expired".into(),
            )),
            None => Err(error(
                "route53",
                operation,
                "InvalidClientTokenId",
                "The security token included in the request is invalid".into(),
            )),
        }
    }
}

#[async_trait]
impl Route53Api for SignedRoute53 {
    async fn get_hosted_zone(&self, zone_id: &str) -> Result<HostedZone, AwsError> {
        let account = self.account("GetHostedZone").await?;
        self.fake.get_hosted_zone_as(&account, zone_id).await
    }

    async fn list_record_sets(&self, zone_id: &str) -> Result<Vec<RecordSet>, AwsError> {
        let account = self.account("ListResourceRecordSets").await?;
        self.fake.list_record_sets_as(&account, zone_id).await
    }

    async fn list_record_sets_from(
        &self,
        zone_id: &str,
        start_name: &str,
        max_items: usize,
    ) -> Result<RecordPage, AwsError> {
        let account = self.account("ListResourceRecordSets").await?;
        self.fake
            .list_record_sets_from_as(&account, zone_id, start_name, max_items)
            .await
    }

    async fn change_record_sets(
        &self,
        zone_id: &str,
        changes: &[RecordChange],
    ) -> Result<(), AwsError> {
        let account = self.account("ChangeResourceRecordSets").await?;
        self.fake
            .change_record_sets_as(&account, zone_id, changes)
            .await
    }
}
