//! ACM adapter: the region's certificates, with the names that decide which host each serves.

use async_trait::async_trait;
use aws_sdk_acm::Client;
use aws_sdk_acm::types::{Filters, KeyAlgorithm};

use super::call::{CallContext, paged, send};
use super::{AcmApi, AwsError, ErrorKind};
use crate::state::{AcmCertificate, CertificateStatus};

const SERVICE: &str = "acm";
/// The largest page ListCertificates returns.
const PAGE_SIZE: i32 = 1000;

pub struct AcmAdapter {
    client: Client,
    ctx: CallContext,
}

impl AcmAdapter {
    pub fn new(client: Client, ctx: CallContext) -> Self {
        Self { client, ctx }
    }
}

fn status(s: Option<&aws_sdk_acm::types::CertificateStatus>) -> CertificateStatus {
    CertificateStatus::parse(s.map_or("", |s| s.as_str()))
}

#[async_trait]
impl AcmApi for AcmAdapter {
    async fn list_certificates(&self) -> Result<Vec<(String, CertificateStatus)>, AwsError> {
        // Without `keyTypes`, ListCertificates lists RSA_1024 and RSA_2048 certificates only:
        // an ECDSA or RSA_4096 certificate would never be found.
        let every_key_type = Filters::builder()
            .set_key_types(Some(
                KeyAlgorithm::values()
                    .iter()
                    .map(|k| KeyAlgorithm::from(*k))
                    .collect(),
            ))
            .build();
        let request = self
            .client
            .list_certificates()
            .includes(every_key_type)
            .max_items(PAGE_SIZE);
        let pages = paged!(self, "ListCertificates", request, |p| p.next_token())?;
        Ok(pages
            .iter()
            .flat_map(|p| p.certificate_summary_list())
            .filter_map(|c| Some((c.certificate_arn()?.to_string(), status(c.status()))))
            .collect())
    }

    async fn describe_certificate(&self, arn: &str) -> Result<AcmCertificate, AwsError> {
        const OP: &str = "DescribeCertificate";
        let out = send!(
            self,
            "DescribeCertificate",
            self.client.describe_certificate().certificate_arn(arn)
        )?;
        let c = out.certificate().ok_or_else(|| {
            AwsError::new(
                SERVICE,
                OP,
                ErrorKind::Other,
                "answer without a certificate",
            )
        })?;
        let mut names: Vec<String> = c.domain_name().into_iter().map(str::to_string).collect();
        for n in c.subject_alternative_names() {
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
        Ok(AcmCertificate {
            arn: arn.to_string(),
            names,
            status: status(c.status()),
            not_after: c.not_after().map(|t| t.secs()),
        })
    }
}
