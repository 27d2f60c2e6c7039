//! Accounts other than the fake's own, as the world holds them: which account each zone
//! belongs to, the roles STS may let the controller assume there, and the credentials it
//! handed out (`super::super::accounts` answers STS and signed Route 53 calls with them).

use std::collections::BTreeMap;

use super::World;
use crate::fake::ACCOUNT;
use crate::state::{HostedZone, RecordSet};

/// AssumeRole's default session length.
const DEFAULT_DURATION_SECONDS: i64 = 3600;

/// A role in another account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeRole {
    /// The ExternalId its trust policy requires, if any.
    pub external_id: Option<String>,
    /// Its trust policy does not let the controller in (or it was deleted).
    pub denied: bool,
    pub duration_seconds: i64,
}

impl FakeRole {
    pub fn trusting() -> Self {
        Self {
            external_id: None,
            denied: false,
            duration_seconds: DEFAULT_DURATION_SECONDS,
        }
    }
}

/// Temporary credentials STS handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub account: String,
    pub expires_at: i64,
    /// "Revoke active sessions": an explicit deny on every session issued before.
    pub revoked: bool,
}

/// What the fake knows of accounts other than [`ACCOUNT`].
#[derive(Debug, Default)]
pub struct Accounts {
    /// Zone id → its account, for zones not in [`ACCOUNT`].
    zone_owner: BTreeMap<String, String>,
    /// Role ARN → the role.
    pub roles: BTreeMap<String, FakeRole>,
    /// Access key id → the credentials.
    pub issued: BTreeMap<String, Issued>,
    /// Every AssumeRole answered, by role ARN (denied ones included).
    pub assumed: BTreeMap<String, usize>,
}

impl World {
    /// A private hosted zone of `account`. Returns its id.
    pub fn add_zone_in(&mut self, account: &str, name: &str) -> String {
        let id = self.add_zone(name);
        if account != ACCOUNT {
            self.accounts.zone_owner.insert(id.clone(), account.into());
        }
        id
    }

    /// The zone's account.
    pub fn zone_account(&self, zone_id: &str) -> &str {
        self.accounts
            .zone_owner
            .get(zone_id)
            .map_or(ACCOUNT, String::as_str)
    }

    /// The zone as `account` sees it: `None` unless it is that account's.
    pub(in crate::fake) fn zone_in(
        &self,
        account: &str,
        zone_id: &str,
    ) -> Option<&(HostedZone, Vec<RecordSet>)> {
        self.zones
            .get(zone_id)
            .filter(|_| self.zone_account(zone_id) == account)
    }

    pub(in crate::fake) fn zone_in_mut(
        &mut self,
        account: &str,
        zone_id: &str,
    ) -> Option<&mut (HostedZone, Vec<RecordSet>)> {
        let visible = self.zone_account(zone_id) == account;
        self.zones.get_mut(zone_id).filter(|_| visible)
    }

    /// Ends every credential handed out for `account` now (as a host clock behind STS's
    /// would see it), so the next call signed with them fails with ExpiredToken.
    pub fn expire_credentials(&mut self, account: &str) {
        for issued in self.accounts.issued.values_mut() {
            if issued.account == account {
                issued.expires_at = i64::MIN;
            }
        }
    }

    /// IAM's "Revoke active sessions" on `account`'s roles: every session issued so far is
    /// denied (AccessDenied, an explicit deny); new ones work.
    pub fn revoke_sessions(&mut self, account: &str) {
        for issued in self.accounts.issued.values_mut() {
            if issued.account == account {
                issued.revoked = true;
            }
        }
    }
}
