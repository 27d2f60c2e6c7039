//! Credentials of roles assumed in other accounts (`--zone-role`): AssumeRole through the
//! call layer (rate-limited, counted, a denial typed like any other), each role's
//! credentials cached and renewed before they expire on AWS's clock (STS's expiry is AWS's
//! time; the host's clock may be off).

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use super::AwsError;
use super::call::{CallContext, send};

const SERVICE: &str = "sts";

/// Renewed this long before they expire, so no call is signed with credentials about to
/// lapse (AssumeRole's default session lasts an hour).
const RENEW_BEFORE_SECONDS: i64 = 300;

/// The STS call ecs-ingress makes.
#[async_trait]
pub trait StsApi: Send + Sync {
    async fn assume_role(
        &self,
        role_arn: &str,
        session_name: &str,
        external_id: Option<&str>,
    ) -> Result<RoleCredentials, AwsError>;
}

/// Temporary credentials of an assumed role.
#[derive(Clone, PartialEq, Eq)]
pub struct RoleCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// Seconds since the epoch.
    pub expires_at: i64,
}

impl std::fmt::Debug for RoleCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret or the token: they end up in logs.
        f.debug_struct("RoleCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The role session name: `ecs-ingress-<owner id>`, cut to STS's 64 characters (CloudTrail
/// in the zone's account shows it, so its owners see who wrote).
pub fn session_name(owner_id: &str) -> String {
    format!("ecs-ingress-{owner_id}").chars().take(64).collect()
}

/// One role, assumed when first needed and again before its credentials expire; shared by
/// every zone written through it, so a role used for several zones is assumed once.
pub struct RoleSession {
    role_arn: String,
    session_name: String,
    external_id: Option<String>,
    sts: Arc<dyn StsApi>,
    /// AWS's clock (learned from answers' `Date` headers): STS's expiry is AWS's time, and
    /// the host's clock may be off.
    clock: Arc<super::clock::AwsClock>,
    current: Mutex<Option<RoleCredentials>>,
    /// One AssumeRole at a time: callers that find the credentials stale wait for it.
    renewing: tokio::sync::Mutex<()>,
}

impl RoleSession {
    pub fn new(
        role_arn: &str,
        session_name: &str,
        external_id: Option<&str>,
        sts: Arc<dyn StsApi>,
        clock: Arc<super::clock::AwsClock>,
    ) -> Self {
        Self {
            role_arn: role_arn.to_string(),
            session_name: session_name.to_string(),
            external_id: external_id.map(str::to_string),
            sts,
            clock,
            current: Mutex::new(None),
            renewing: tokio::sync::Mutex::new(()),
        }
    }

    pub fn role_arn(&self) -> &str {
        &self.role_arn
    }

    /// Valid credentials: the cached ones, or a new AssumeRole.
    pub async fn credentials(&self) -> Result<RoleCredentials, AwsError> {
        if let Some(fresh) = self.fresh() {
            return Ok(fresh);
        }
        let _one = self.renewing.lock().await;
        if let Some(fresh) = self.fresh() {
            return Ok(fresh);
        }
        let assumed = self
            .sts
            .assume_role(
                &self.role_arn,
                &self.session_name,
                self.external_id.as_deref(),
            )
            .await?;
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(assumed.clone());
        Ok(assumed)
    }

    /// Drops the cached credentials (AWS said they expired early: a revoked session, or a
    /// host clock behind STS's), so the next call assumes the role again.
    pub fn forget(&self) {
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// The cached credentials while they are good for more than [`RENEW_BEFORE_SECONDS`].
    fn fresh(&self) -> Option<RoleCredentials> {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        current
            .as_ref()
            .filter(|c| c.expires_at - self.clock.now() > RENEW_BEFORE_SECONDS)
            .cloned()
    }
}

/// STS through the SDK.
pub(crate) struct StsAdapter {
    client: aws_sdk_sts::Client,
    ctx: CallContext,
}

impl StsAdapter {
    pub(crate) fn new(client: aws_sdk_sts::Client, ctx: CallContext) -> Self {
        Self { client, ctx }
    }
}

#[async_trait]
impl StsApi for StsAdapter {
    async fn assume_role(
        &self,
        role_arn: &str,
        session_name: &str,
        external_id: Option<&str>,
    ) -> Result<RoleCredentials, AwsError> {
        let out = send!(
            self,
            "AssumeRole",
            self.client
                .assume_role()
                .role_arn(role_arn)
                .role_session_name(session_name)
                .set_external_id(external_id.map(str::to_string))
        )?;
        let Some(c) = out.credentials() else {
            return Err(AwsError::new(
                SERVICE,
                "AssumeRole",
                super::ErrorKind::Other,
                format!("STS answered AssumeRole of {role_arn} without credentials"),
            ));
        };
        Ok(RoleCredentials {
            access_key_id: c.access_key_id().to_string(),
            secret_access_key: c.secret_access_key().to_string(),
            session_token: c.session_token().to_string(),
            expires_at: c.expiration().secs(),
        })
    }
}

/// The role's credentials for an SDK client: always the session's current ones (the client
/// keeps no cache of its own, so a renewal is used at once).
#[derive(Clone)]
pub(crate) struct SessionCredentials(pub(crate) Arc<RoleSession>);

impl std::fmt::Debug for SessionCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SessionCredentials({})", self.0.role_arn)
    }
}

impl aws_credential_types::provider::ProvideCredentials for SessionCredentials {
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        aws_credential_types::provider::future::ProvideCredentials::new(async move {
            let c = self.0.credentials().await.map_err(|e| {
                aws_credential_types::provider::error::CredentialsError::provider_error(e)
            })?;
            let expiry = u64::try_from(c.expires_at)
                .ok()
                .map(|s| std::time::UNIX_EPOCH + std::time::Duration::from_secs(s));
            Ok(aws_credential_types::Credentials::new(
                c.access_key_id,
                c.secret_access_key,
                Some(c.session_token),
                expiry,
                "ecs-ingress --zone-role",
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

    use super::*;
    use crate::aws::ErrorKind;

    static NOW: AtomicI64 = AtomicI64::new(1_000_000);

    fn now() -> i64 {
        NOW.load(Ordering::SeqCst)
    }

    /// Counts AssumeRole calls; each grants an hour, or is denied.
    struct Counting {
        calls: AtomicUsize,
        deny: bool,
    }

    #[async_trait]
    impl StsApi for Counting {
        async fn assume_role(
            &self,
            role_arn: &str,
            session_name: &str,
            external_id: Option<&str>,
        ) -> Result<RoleCredentials, AwsError> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            assert_eq!(session_name, "ecs-ingress-team-a");
            assert_eq!(external_id, Some("ext"));
            if self.deny {
                return Err(AwsError::new(
                    SERVICE,
                    "AssumeRole",
                    ErrorKind::AccessDenied,
                    format!("not authorized to perform sts:AssumeRole on {role_arn}"),
                ));
            }
            Ok(RoleCredentials {
                access_key_id: format!("key-{n}"),
                secret_access_key: "secret".into(),
                session_token: "token".into(),
                expires_at: now() + 3600,
            })
        }
    }

    fn session(deny: bool) -> (RoleSession, Arc<Counting>) {
        let sts = Arc::new(Counting {
            calls: AtomicUsize::new(0),
            deny,
        });
        let session = RoleSession::new(
            "arn:aws:iam::222222222222:role/dns",
            &session_name("team-a"),
            Some("ext"),
            sts.clone(),
            crate::aws::clock::AwsClock::following(now, 0),
        );
        (session, sts)
    }

    #[tokio::test]
    async fn credentials_are_cached_and_renewed_before_they_expire() {
        let (session, sts) = session(false);
        let first = session.credentials().await.expect("assumed");
        let again = session.credentials().await.expect("cached");
        assert_eq!(first, again);
        assert_eq!(sts.calls.load(Ordering::SeqCst), 1);
        // Within five minutes of the expiry: renewed before any call is signed with them.
        NOW.fetch_add(3600 - RENEW_BEFORE_SECONDS + 1, Ordering::SeqCst);
        let renewed = session.credentials().await.expect("renewed");
        assert_ne!(renewed.access_key_id, first.access_key_id);
        assert_eq!(sts.calls.load(Ordering::SeqCst), 2);
        assert!(!format!("{renewed:?}").contains("secret"));
    }

    #[tokio::test]
    async fn a_denial_is_returned_and_asked_again_next_time() {
        let (session, sts) = session(true);
        let err = session.credentials().await.expect_err("denied");
        assert_eq!(err.kind, ErrorKind::AccessDenied);
        session.credentials().await.expect_err("still denied");
        assert_eq!(
            sts.calls.load(Ordering::SeqCst),
            2,
            "a denial is not cached"
        );
    }

    #[test]
    fn the_session_name_fits_sts() {
        assert_eq!(session_name("a"), "ecs-ingress-a");
        assert_eq!(session_name(&"x".repeat(64)).len(), 64);
    }
}
