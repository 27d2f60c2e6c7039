//! What certificate work needs (`--listener-certificates`): what each HTTPS listener of
//! the configured listeners' ALBs presents, which certificates ecs-ingress attached (the
//! configured listeners' tags), and ACM's certificates. A failed read holds the services on
//! HTTPS listeners as they are; it is not a failed read of the pass.

use std::collections::{BTreeMap, HashMap};

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
    let arns: Vec<String> = configured.iter().map(|l| l.arn.clone()).collect();
    for chunk in arns.chunks(DESCRIBE_TAGS_BATCH) {
        for (arn, tags) in aws.elb.describe_tags(chunk).await? {
            observed.listener_tags.insert(arn, tags);
        }
    }
    acm_certificates(aws, &mut cache.certificates).await
}

/// ACM's certificates: listed every pass, described when new or when their status changed.
async fn acm_certificates(
    aws: &Aws,
    cached: &mut HashMap<String, AcmCertificate>,
) -> Result<BTreeMap<String, AcmCertificate>, AwsError> {
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
    for (arn, c) in &out {
        cached.insert(arn.clone(), c.clone());
    }
    Ok(out)
}
