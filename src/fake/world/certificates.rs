//! ACM certificates and what HTTPS listeners present, in the fake account.
//!
//! From AWS's documentation (ACM's ListCertificates and DescribeCertificate, ELB's
//! "HTTPS listeners" and "SSL certificates"), not from the controller's code:
//! - ListCertificates lists RSA_1024 and RSA_2048 certificates only unless
//!   `Includes.keyTypes` names other types; its summaries are read for ARN and status, the
//!   names come from DescribeCertificate.
//! - A listener presents its default certificate and its SNI list; a client's TLS
//!   handshake for a host succeeds when one of them covers it (a name equal to the host, or
//!   a wildcard of exactly one label in its place).
//! - RemoveListenerCertificates cannot remove the default certificate; a certificate a
//!   listener uses cannot be deleted (`ResourceInUseException`).

use super::World;
use crate::aws::AwsError;
use crate::fake::error;
use crate::state::{
    AcmCertificate, CertificateStatus, DefaultAction, Listener, ListenerSettings, Tags,
};

const ELB: &str = "elbv2";
const ACM: &str = "acm";
/// The key types ListCertificates lists without `Includes.keyTypes`.
pub const DEFAULT_LISTED_KEY_TYPES: &[&str] = &["RSA_1024", "RSA_2048"];

/// A certificate of the fake account's ACM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeCertificate {
    pub certificate: AcmCertificate,
    /// `RSA_2048`, `EC_prime256v1`, ...
    pub key_type: String,
}

/// TLS's own matching: a name equal to the host, or `*.` and exactly one label.
fn tls_covers(name: &str, host: &str) -> bool {
    let (name, host) = (name.to_ascii_lowercase(), host.to_ascii_lowercase());
    if name == host {
        return true;
    }
    match (name.strip_prefix("*."), host.split_once('.')) {
        (Some(suffix), Some((label, rest))) => !label.is_empty() && rest == suffix,
        _ => false,
    }
}

impl World {
    /// An ACM certificate for `names` (the first is its domain name). Returns its ARN.
    pub fn add_acm_certificate(
        &mut self,
        names: &[&str],
        status: CertificateStatus,
        key_type: &str,
        not_after: i64,
    ) -> String {
        let arn = format!(
            "arn:aws:acm:{}:{}:certificate/{}",
            crate::fake::REGION,
            crate::fake::ACCOUNT,
            self.id()
        );
        if status == CertificateStatus::Issued {
            self.certificates.insert(arn.clone());
        }
        self.acm.insert(
            arn.clone(),
            FakeCertificate {
                certificate: AcmCertificate {
                    arn: arn.clone(),
                    names: names.iter().map(|n| n.to_string()).collect(),
                    status,
                    not_after: Some(not_after),
                },
                key_type: key_type.to_string(),
            },
        );
        arn
    }

    /// ACM validated a pending certificate.
    pub fn issue_certificate(&mut self, arn: &str) {
        if let Some(c) = self.acm.get_mut(arn) {
            c.certificate.status = CertificateStatus::Issued;
            self.certificates.insert(arn.to_string());
        }
    }

    /// DeleteCertificate: refused while a listener uses it (moto deletes it anyway).
    pub fn delete_certificate(&mut self, arn: &str) -> Result<(), AwsError> {
        if self
            .listener_settings
            .values()
            .any(|l| l.certificates.iter().any(|c| c == arn))
        {
            return Err(error(
                ACM,
                "DeleteCertificate",
                "ResourceInUseException",
                format!("Certificate {arn} is in use."),
            ));
        }
        self.acm.remove(arn);
        self.certificates.remove(arn);
        Ok(())
    }

    /// ListCertificates: ARN and status of those of `key_types` (AWS's default: RSA_1024
    /// and RSA_2048 only).
    pub fn list_certificates(
        &self,
        key_types: Option<&[&str]>,
    ) -> Vec<(String, CertificateStatus)> {
        let listed = key_types.unwrap_or(DEFAULT_LISTED_KEY_TYPES);
        self.acm
            .values()
            .filter(|c| listed.contains(&c.key_type.as_str()))
            .map(|c| (c.certificate.arn.clone(), c.certificate.status.clone()))
            .collect()
    }

    /// DescribeCertificate.
    pub fn describe_certificate(&self, arn: &str) -> Result<AcmCertificate, AwsError> {
        self.acm
            .get(arn)
            .map(|c| c.certificate.clone())
            .ok_or_else(|| {
                error(
                    ACM,
                    "DescribeCertificate",
                    "ResourceNotFoundException",
                    format!("Could not find certificate {arn}."),
                )
            })
    }

    /// An HTTPS listener on port 443 of an existing ALB presenting `default_certificate`,
    /// answering what it does not route with a fixed 404. Returns its ARN.
    pub fn add_https_listener(
        &mut self,
        load_balancer_arn: &str,
        default_certificate: &str,
    ) -> Option<String> {
        let rest = load_balancer_arn
            .split(":loadbalancer/")
            .nth(1)?
            .to_string();
        let id = self.id();
        let arn = format!(
            "arn:aws:elasticloadbalancing:{}:{}:listener/{rest}/{id}",
            crate::fake::REGION,
            crate::fake::ACCOUNT
        );
        self.listeners.insert(
            arn.clone(),
            Listener {
                arn: arn.clone(),
                load_balancer_arn: load_balancer_arn.to_string(),
                port: Some(443),
                protocol: Some("HTTPS".into()),
            },
        );
        self.listener_settings.insert(
            arn.clone(),
            ListenerSettings {
                port: 443,
                protocol: "HTTPS".into(),
                default_actions: vec![DefaultAction::FixedResponse {
                    status_code: "404".into(),
                    content_type: Some("text/plain".into()),
                    message_body: None,
                }],
                certificates: vec![default_certificate.to_string()],
                ssl_policy: Some("ELBSecurityPolicy-TLS13-1-2-2021-06".into()),
            },
        );
        self.add_fixed_default_rule(&arn);
        Some(arn)
    }

    /// RemoveListenerCertificates of one certificate: never the default.
    pub fn remove_listener_certificate(
        &mut self,
        listener_arn: &str,
        certificate_arn: &str,
    ) -> Result<(), AwsError> {
        const OP: &str = "RemoveListenerCertificates";
        let settings = self
            .listener_settings
            .get_mut(listener_arn)
            .ok_or_else(|| {
                error(
                    ELB,
                    OP,
                    "ListenerNotFound",
                    format!("Listener '{listener_arn}' not found"),
                )
            })?;
        if settings.certificates.first().map(String::as_str) == Some(certificate_arn) {
            return Err(error(
                ELB,
                OP,
                "OperationNotPermitted",
                "The default certificate of a listener cannot be removed".into(),
            ));
        }
        settings.certificates.retain(|c| c != certificate_arn);
        Ok(())
    }

    /// The listener presents a certificate covering `host` (its default or one of its SNI
    /// list, each still in ACM).
    pub fn presents_certificate_for(&self, listener_arn: &str, host: &str) -> bool {
        let Some(settings) = self.listener_settings.get(listener_arn) else {
            return false;
        };
        settings.certificates.iter().any(|arn| {
            self.acm.get(arn).is_some_and(|c| {
                c.certificate.status == CertificateStatus::Issued
                    && c.certificate.names.iter().any(|n| tls_covers(n, host))
            })
        })
    }

    /// AddTags on one ELB resource (listeners here; 50 tags at most).
    pub fn add_elb_tags(&mut self, arn: &str, tags: &Tags) -> Result<(), AwsError> {
        if !self.listeners.contains_key(arn) && !self.load_balancers.contains_key(arn) {
            return Err(error(
                ELB,
                "AddTags",
                "ListenerNotFound",
                format!("'{arn}' not found"),
            ));
        }
        let current = self.elb_tags.entry(arn.to_string()).or_default();
        let mut next = current.clone();
        next.extend(tags.clone());
        if next.len() > 50 {
            return Err(error(
                ELB,
                "AddTags",
                "TooManyTags",
                "A resource takes at most 50 tags".into(),
            ));
        }
        *current = next;
        Ok(())
    }

    /// RemoveTags on one ELB resource.
    pub fn remove_elb_tags(&mut self, arn: &str, keys: &[String]) -> Result<(), AwsError> {
        if let Some(t) = self.elb_tags.get_mut(arn) {
            t.retain(|k, _| !keys.iter().any(|key| key == k));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::tls_covers;

    #[test]
    fn a_certificate_in_use_cannot_be_deleted() {
        use crate::state::CertificateStatus;
        let mut world = crate::fake::World::default();
        let (lb, _) = world.add_load_balancer("lb", "vpc-1");
        let cert =
            world.add_acm_certificate(&["a.example.com"], CertificateStatus::Issued, "RSA_2048", 1);
        let listener = world.add_https_listener(&lb, &cert).expect("listener");
        let e = world.delete_certificate(&cert).expect_err("in use");
        assert_eq!(e.code.as_deref(), Some("ResourceInUseException"));
        assert!(world.presents_certificate_for(&listener, "a.example.com"));
        let other =
            world.add_acm_certificate(&["b.example.com"], CertificateStatus::Issued, "RSA_2048", 1);
        assert!(world.delete_certificate(&other).is_ok());
        assert_eq!(world.list_certificates(None).len(), 1);
    }

    #[test]
    fn acm_lists_rsa_1024_and_2048_only_unless_asked() {
        use crate::state::CertificateStatus;
        let mut world = crate::fake::World::default();
        world.add_acm_certificate(&["a.example.com"], CertificateStatus::Issued, "RSA_2048", 1);
        world.add_acm_certificate(
            &["b.example.com"],
            CertificateStatus::Issued,
            "EC_prime256v1",
            1,
        );
        assert_eq!(world.list_certificates(None).len(), 1);
        assert_eq!(
            world
                .list_certificates(Some(&["RSA_2048", "EC_prime256v1"]))
                .len(),
            2
        );
    }

    #[test]
    fn tls_matches_names_as_the_handshake_does() {
        assert!(tls_covers("a.example.com", "A.example.com"));
        assert!(tls_covers("*.example.com", "a.example.com"));
        assert!(!tls_covers("*.example.com", "example.com"));
        assert!(!tls_covers("*.example.com", "a.b.example.com"));
    }
}
