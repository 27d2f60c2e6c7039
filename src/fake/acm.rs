//! [`AcmApi`] on the fake account.

use async_trait::async_trait;

use super::FakeAws;
use crate::aws::{AcmApi, AwsError};
use crate::state::{AcmCertificate, CertificateStatus};

const ACM: &str = "acm";
/// The page size the real adapter asks for.
const PAGE: usize = 1000;
/// Every key type, as the real adapter asks for them (`Includes.keyTypes`).
const EVERY_KEY_TYPE: &[&str] = &[
    "RSA_1024",
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "EC_prime256v1",
    "EC_secp384r1",
    "EC_secp521r1",
];

#[async_trait]
impl AcmApi for FakeAws {
    async fn list_certificates(&self) -> Result<Vec<(String, CertificateStatus)>, AwsError> {
        let count = |world: &super::World| world.list_certificates(Some(EVERY_KEY_TYPE)).len();
        self.paged(ACM, "ListCertificates", count, PAGE, |world| {
            Ok(world.list_certificates(Some(EVERY_KEY_TYPE)))
        })
        .await
    }

    async fn describe_certificate(&self, arn: &str) -> Result<AcmCertificate, AwsError> {
        self.request(ACM, "DescribeCertificate", |world| {
            world.describe_certificate(arn)
        })
        .await
    }
}
