//! Which certificate serves a host: coverage by a certificate's names, and the choice
//! among those that cover it.
//!
//! A name equal to the host covers it exactly; a wildcard name (`*.example.com`) covers
//! exactly one label in its place (`a.example.com`, not `example.com` nor `a.b.example.com`),
//! as TLS matches them. Among ISSUED certificates that cover a host: an exact name beats a
//! wildcard; then one the listener already presents (its default too); then the latest
//! expiry; then the ARN, so every replica picks the same.

use std::cmp::Reverse;

use crate::state::{AcmCertificate, CertificateStatus, ListenerCertificates};

/// How a certificate covers a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Coverage {
    Exact,
    Wildcard,
}

/// How `name` (a certificate's) covers `host`, if it does.
pub fn name_covers(name: &str, host: &str) -> Option<Coverage> {
    if name.eq_ignore_ascii_case(host) {
        return Some(Coverage::Exact);
    }
    let suffix = name.strip_prefix("*.")?;
    let (label, rest) = host.split_once('.')?;
    (!label.is_empty() && label != "*" && rest.eq_ignore_ascii_case(suffix))
        .then_some(Coverage::Wildcard)
}

/// The best coverage of `host` by any of `cert`'s names.
pub fn covers(cert: &AcmCertificate, host: &str) -> Option<Coverage> {
    cert.names.iter().filter_map(|n| name_covers(n, host)).min()
}

/// Why no certificate serves a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uncovered {
    /// Certificates cover it but none is ISSUED (their ARNs and statuses).
    NotIssued(Vec<(String, String)>),
    /// Nothing covers it; wildcard certificates of a parent domain that are one label off.
    None { wrong_depth: Vec<String> },
}

impl Uncovered {
    /// For a person: why, with what would have covered it.
    pub fn describe(&self, host: &str) -> String {
        match self {
            Self::NotIssued(certs) => {
                let list: Vec<String> = certs.iter().map(|(a, s)| format!("{a} ({s})")).collect();
                format!(
                    "no ISSUED certificate covers {host}: only {}; serving the wrong certificate is worse than not serving, so no rule is created on the HTTPS listener",
                    list.join(", ")
                )
            }
            Self::None { wrong_depth } if !wrong_depth.is_empty() => format!(
                "no certificate covers {host}: {} covers one label only; request one for {host} or its parent's wildcard",
                wrong_depth.join(", ")
            ),
            Self::None { .. } => format!(
                "no certificate in ACM covers {host}; request one (or import it) and it is found on the next pass"
            ),
        }
    }
}

/// The certificate that serves `host` among `candidates` on a listener presenting
/// `presented`, or why none does.
pub fn choose<'c>(
    candidates: impl Iterator<Item = &'c AcmCertificate> + Clone,
    host: &str,
    presented: Option<&ListenerCertificates>,
) -> Result<&'c AcmCertificate, Uncovered> {
    let on_listener = |c: &AcmCertificate| presented.is_some_and(|p| p.presents(&c.arn));
    let best = candidates
        .clone()
        .filter(|c| c.status == CertificateStatus::Issued)
        .filter_map(|c| covers(c, host).map(|how| (c, how)))
        .min_by_key(|(c, how)| {
            (
                *how,
                !on_listener(c),
                Reverse(c.not_after.unwrap_or(i64::MIN)),
                c.arn.as_str(),
            )
        });
    if let Some((cert, _)) = best {
        return Ok(cert);
    }
    let not_issued: Vec<(String, String)> = candidates
        .clone()
        .filter(|c| covers(c, host).is_some())
        .map(|c| (c.arn.clone(), c.status.as_str().to_string()))
        .collect();
    if !not_issued.is_empty() {
        return Err(Uncovered::NotIssued(not_issued));
    }
    let wrong_depth = candidates
        .flat_map(|c| c.names.iter())
        .filter(|n| {
            n.strip_prefix("*.").is_some_and(|suffix| {
                let h = host.to_ascii_lowercase();
                let s = suffix.to_ascii_lowercase();
                h == s || h.ends_with(&format!(".{s}"))
            })
        })
        .cloned()
        .collect();
    Err(Uncovered::None { wrong_depth })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(
        arn: &str,
        names: &[&str],
        status: CertificateStatus,
        not_after: i64,
    ) -> AcmCertificate {
        AcmCertificate {
            arn: arn.into(),
            names: names.iter().map(|s| s.to_string()).collect(),
            status,
            not_after: Some(not_after),
        }
    }

    #[test]
    fn a_wildcard_covers_exactly_one_label() {
        let cases = [
            ("*.example.com", "a.example.com", Some(Coverage::Wildcard)),
            ("*.example.com", "A.Example.com", Some(Coverage::Wildcard)),
            ("*.example.com", "example.com", None),
            ("*.example.com", "a.b.example.com", None),
            ("*.example.com", "*.example.com", Some(Coverage::Exact)),
            ("a.example.com", "a.example.com", Some(Coverage::Exact)),
            ("a.example.com", "b.example.com", None),
            (
                "*.b.example.com",
                "a.b.example.com",
                Some(Coverage::Wildcard),
            ),
            ("example.com", "a.example.com", None),
        ];
        for (name, host, want) in cases {
            assert_eq!(name_covers(name, host), want, "{name} / {host}");
        }
    }

    #[test]
    fn exact_beats_wildcard_then_the_listeners_own_then_the_latest_then_the_arn() {
        use CertificateStatus::Issued;
        let wild = cert("arn:w", &["*.example.com"], Issued, 300);
        let exact_old = cert("arn:e1", &["x.example.com", "a.example.com"], Issued, 100);
        let exact_new = cert("arn:e2", &["a.example.com"], Issued, 200);
        let exact_twin = cert("arn:e0", &["a.example.com"], Issued, 200);
        let all = [
            wild.clone(),
            exact_old.clone(),
            exact_new.clone(),
            exact_twin.clone(),
        ];
        // Latest expiry, then the smaller ARN.
        assert_eq!(
            choose(all.iter(), "a.example.com", None).map(|c| c.arn.as_str()),
            Ok("arn:e0")
        );
        // One the listener presents wins over a later one.
        let on = ListenerCertificates {
            default: Some("arn:e1".into()),
            extra: vec![],
        };
        assert_eq!(
            choose(all.iter(), "a.example.com", Some(&on)).map(|c| c.arn.as_str()),
            Ok("arn:e1")
        );
        // An exact name beats a wildcard even when the wildcard is the listener's.
        let on = ListenerCertificates {
            default: Some("arn:w".into()),
            extra: vec![],
        };
        assert_eq!(
            choose(all.iter(), "a.example.com", Some(&on)).map(|c| c.arn.as_str()),
            Ok("arn:e0")
        );
        // Only the wildcard covers b.
        assert_eq!(
            choose(all.iter(), "b.example.com", None).map(|c| c.arn.as_str()),
            Ok("arn:w")
        );
    }

    #[test]
    fn no_cover_says_why() {
        let pending = cert(
            "arn:p",
            &["a.example.com"],
            CertificateStatus::PendingValidation,
            1,
        );
        let wild = cert("arn:w", &["*.example.com"], CertificateStatus::Issued, 1);
        let e = choose([pending.clone()].iter(), "a.example.com", None).unwrap_err();
        assert_eq!(
            e,
            Uncovered::NotIssued(vec![("arn:p".into(), "PENDING_VALIDATION".into())])
        );
        assert!(e.describe("a.example.com").contains("PENDING_VALIDATION"));
        let e = choose([wild.clone()].iter(), "a.b.example.com", None).unwrap_err();
        assert_eq!(
            e,
            Uncovered::None {
                wrong_depth: vec!["*.example.com".into()]
            }
        );
        assert!(e.describe("a.b.example.com").contains("one label only"));
        let e = choose([wild].iter(), "other.org", None).unwrap_err();
        assert_eq!(
            e,
            Uncovered::None {
                wrong_depth: vec![]
            }
        );
    }
}
