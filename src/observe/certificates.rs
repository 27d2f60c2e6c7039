//! What certificate work needs (`--listener-certificates`): what each HTTPS listener of
//! the configured listeners' ALBs presents, which certificates ecs-ingress attached (the
//! configured listeners' tags), and ACM's certificates. A failed read holds the services on
//! HTTPS listeners as they are; it is not a failed read of the pass.
//!
//! Each full pass reads every HTTPS listener's certificates. The listeners' tags and ACM's
//! list are cached: the tags change only by ecs-ingress's own writes (after which the
//! listener's are read again) or by hand (repaired on the refresh pass, with the attribute
//! refresh); ACM is listed again on the refresh pass, and on every pass while a service
//! waits for a certificate (one issued since is then found on the next pass).

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use super::{Cache, Observation};
use crate::aws::{Aws, AwsError, DESCRIBE_TAGS_BATCH};
use crate::config::Config;
use crate::snapshot::CertificatesRead;
use crate::state::{AcmCertificate, Listener};

/// Reads it all, or nothing when the flag is off or no listener of the ALBs is HTTPS.
pub(super) async fn read(
    aws: &Aws,
    config: &Config,
    cache: &mut Cache,
    observed: &mut Observation,
) {
    if !config.listener_certificates {
        return;
    }
    let https = |l: &&Listener| l.protocol.as_deref() == Some("HTTPS");
    let configured: Vec<Listener> = observed.listeners.values().filter(https).cloned().collect();
    let others: Vec<Listener> = observed
        .other_listeners
        .values()
        .flatten()
        .filter(https)
        .cloned()
        .collect();
    if configured.is_empty() && others.is_empty() {
        return;
    }
    observed.certificates = match read_all(aws, cache, observed, &configured, &others).await {
        Ok(certs) => CertificatesRead::Read(certs),
        Err(e) => {
            tracing::warn!(error = %e, "certificates not read: services on HTTPS listeners wait for the next pass");
            CertificatesRead::Failed(e.to_string())
        }
    };
}

async fn read_all(
    aws: &Aws,
    cache: &mut Cache,
    observed: &mut Observation,
    configured: &[Listener],
    others: &[Listener],
) -> Result<BTreeMap<String, AcmCertificate>, AwsError> {
    for l in configured.iter().chain(others) {
        let certs = aws.elb.describe_listener_certificates(&l.arn).await?;
        *observed
            .certificates_per_load_balancer
            .entry(l.load_balancer_arn.clone())
            .or_default() += certs.extra.len();
        if configured.iter().any(|c| c.arn == l.arn) {
            observed.listener_certificates.insert(l.arn.clone(), certs);
        }
    }
    listener_tags(aws, cache, observed, configured).await?;
    if cache.refreshing {
        // Described again too: a certificate re-imported under its ARN keeps its status
        // but may change its names and expiry.
        cache.certificates.clear();
    }
    if cache.certificates_stale || cache.refreshing || cache.certificates.is_empty() {
        acm_certificates(aws, &mut cache.certificates).await?;
        cache.certificates_stale = false;
    }
    Ok(cache
        .certificates
        .iter()
        .map(|(a, c)| (a.clone(), c.clone()))
        .collect())
}

/// The configured HTTPS listeners' tags: from the cache, read for those it lacks (and
/// every one on the refresh pass).
async fn listener_tags(
    aws: &Aws,
    cache: &mut Cache,
    observed: &mut Observation,
    configured: &[Listener],
) -> Result<(), AwsError> {
    if cache.refreshing {
        cache.listener_tags.clear();
    }
    let missing: Vec<String> = configured
        .iter()
        .filter(|l| !cache.listener_tags.contains_key(&l.arn))
        .map(|l| l.arn.clone())
        .collect();
    for chunk in missing.chunks(DESCRIBE_TAGS_BATCH) {
        let read = aws.elb.describe_tags(chunk).await?;
        for arn in chunk {
            let tags = read
                .iter()
                .find(|(a, _)| a == arn)
                .map(|(_, t)| t.clone())
                .unwrap_or_default();
            cache.listener_tags.insert(arn.clone(), tags);
        }
    }
    for l in configured {
        if let Some(tags) = cache.listener_tags.get(&l.arn) {
            observed.listener_tags.insert(l.arn.clone(), tags.clone());
        }
    }
    Ok(())
}

/// ACM's certificates: listed, described when new or when their status changed.
async fn acm_certificates(
    aws: &Aws,
    cached: &mut FxHashMap<String, AcmCertificate>,
) -> Result<(), AwsError> {
    let listed = aws.acm.list_certificates().await?;
    let mut out = BTreeMap::new();
    for (arn, status) in listed {
        let known = cached.get(&arn).filter(|c| c.status == status).cloned();
        let cert = match known {
            Some(c) => c,
            None => aws.acm.describe_certificate(&arn).await?,
        };
        out.insert(arn, cert);
    }
    cached.retain(|arn, _| out.contains_key(arn));
    cached.extend(out);
    Ok(())
}
