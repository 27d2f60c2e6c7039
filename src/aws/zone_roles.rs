//! Route 53 by zone: a zone given with `--zone-role` is read and written with its role's
//! credentials, in its role's account; every other zone with the process's own.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use super::sts::RoleSession;
use super::{AwsError, ErrorKind, RecordPage, Route53Api};
use crate::state::{HostedZone, RecordChange, RecordSet};

/// The Route 53 of one assumed role: its session and the adapter signing with it.
pub struct RoleRoute53 {
    pub session: Arc<RoleSession>,
    pub route53: Arc<dyn Route53Api>,
}

/// Sends each zone's calls to the Route 53 of its account.
pub struct ZoneRoutedRoute53 {
    default: Arc<dyn Route53Api>,
    by_zone: BTreeMap<String, Arc<RoleRoute53>>,
}

impl ZoneRoutedRoute53 {
    /// `roles`: zone id → role ARN; `role_route53` builds the Route 53 of one role (called
    /// once per distinct role, which all its zones share).
    pub fn new(
        default: Arc<dyn Route53Api>,
        roles: &BTreeMap<String, String>,
        mut role_route53: impl FnMut(&str) -> RoleRoute53,
    ) -> Self {
        let mut by_role: BTreeMap<&str, Arc<RoleRoute53>> = BTreeMap::new();
        let by_zone = roles
            .iter()
            .map(|(zone, role)| {
                let route53 = by_role
                    .entry(role.as_str())
                    .or_insert_with(|| Arc::new(role_route53(role)))
                    .clone();
                (zone.clone(), route53)
            })
            .collect();
        Self { default, by_zone }
    }

    /// The Route 53 that serves `zone`, with its role's credentials in hand. A role that
    /// cannot be assumed fails the zone's call, naming the zone and the role.
    async fn route(&self, zone: &str) -> Result<&dyn Route53Api, AwsError> {
        let Some(role) = self.by_zone.get(zone) else {
            return Ok(&*self.default);
        };
        if let Err(mut e) = role.session.credentials().await {
            e.message = format!(
                "cannot assume role {} for hosted zone {zone}: {}",
                role.session.role_arn(),
                e.message
            );
            return Err(e);
        }
        Ok(&*role.route53)
    }
}

impl ZoneRoutedRoute53 {
    /// AWS refused the role's credentials although the session held them valid: expired
    /// early (a host clock behind STS's), or revoked ("Revoke active sessions" denies every
    /// session issued before it, so AWS answers AccessDenied). They are forgotten, and the
    /// caller tries once more with new ones; a role that lost the permission itself fails
    /// again, as it should.
    fn renewed_after(&self, zone: &str, e: &AwsError) -> bool {
        let refused = e.kind == ErrorKind::AccessDenied
            || matches!(
                e.code.as_deref(),
                Some("ExpiredToken" | "ExpiredTokenException")
            );
        match self.by_zone.get(zone) {
            Some(role) if refused && e.service == "route53" => {
                role.session.forget();
                true
            }
            _ => false,
        }
    }
}

/// `$call` on the Route 53 of `$zone` (bound to `$route53`), once more with renewed
/// credentials if AWS said the first ones expired.
macro_rules! routed {
    ($self:ident, $zone:expr, |$route53:ident| $call:expr) => {{
        let $route53 = $self.route($zone).await?;
        match $call.await {
            Err(e) if $self.renewed_after($zone, &e) => {
                let $route53 = $self.route($zone).await?;
                $call.await
            }
            answered => answered,
        }
    }};
}

#[async_trait]
impl Route53Api for ZoneRoutedRoute53 {
    async fn get_hosted_zone(&self, zone_id: &str) -> Result<HostedZone, AwsError> {
        routed!(self, zone_id, |r| r.get_hosted_zone(zone_id))
    }

    async fn list_record_sets(&self, zone_id: &str) -> Result<Vec<RecordSet>, AwsError> {
        routed!(self, zone_id, |r| r.list_record_sets(zone_id))
    }

    async fn list_record_sets_from(
        &self,
        zone_id: &str,
        start_name: &str,
        max_items: usize,
    ) -> Result<RecordPage, AwsError> {
        routed!(self, zone_id, |r| r
            .list_record_sets_from(zone_id, start_name, max_items))
    }

    async fn change_record_sets(
        &self,
        zone_id: &str,
        changes: &[RecordChange],
    ) -> Result<(), AwsError> {
        routed!(self, zone_id, |r| r.change_record_sets(zone_id, changes))
    }
}

/// What `--zone-role` asks for, in the adapters' terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZoneRoleSettings {
    /// Zone id → role ARN.
    pub roles: BTreeMap<String, String>,
    pub external_id: Option<String>,
    /// See [`super::sts::session_name`].
    pub session_name: String,
}
