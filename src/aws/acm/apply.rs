//! Changing ACM: requesting and deleting certificates.

use aws_sdk_acm::{
    Client,
    types::{Tag, ValidationMethod},
};

use crate::error::{Error, Result};
use crate::target::Target;

use super::certificate::{DesiredCertificate, ObservedCertificate, PENDING_VALIDATION};
use super::desired::valid_token;
use super::observe;

/// Requests a DNS-validated certificate carrying the ownership tags and
/// returns its ARN. The same token (and tags) gives back the same certificate.
pub async fn request(
    client: &Client,
    target: &Target,
    cert: &DesiredCertificate,
    token: &str,
) -> Result<String> {
    if !valid_token(token) {
        return Err(Error::Unexpected(format!(
            "IdempotencyToken {token:?} is not valid for ACM"
        )));
    }
    let tags = target
        .tags()
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Unexpected(format!("certificate tags: {e}")))?;
    let out = client
        .request_certificate()
        .domain_name(&cert.domain)
        .validation_method(ValidationMethod::Dns)
        .idempotency_token(token)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| Error::aws("acm", "RequestCertificate", e))?;
    out.certificate_arn()
        .map(str::to_owned)
        .ok_or_else(|| Error::Unexpected("RequestCertificate returned no CertificateArn".into()))
}

/// Requests a certificate and reads it back for its status and validation
/// record. One ACM does not show yet counts as pending without a record;
/// the next reconcile finds it by tag, or, if it never appears, knows its
/// ARN as gone and requests anew with another token.
pub(crate) async fn request_and_describe(
    client: &Client,
    target: &Target,
    cert: &DesiredCertificate,
    token: &str,
) -> Result<ObservedCertificate> {
    let arn = request(client, target, cert, token).await?;
    let found = observe::describe(client, &cert.region, &arn, true).await?;
    Ok(found.unwrap_or_else(|| ObservedCertificate {
        arn,
        region: cert.region.clone(),
        domain: cert.domain.clone(),
        names: vec![cert.domain.clone()],
        status: PENDING_VALIDATION.into(),
        failure_reason: None,
        validation_records: vec![],
        in_use_by: vec![],
        owned: true,
    }))
}

/// How a delete ended, when AWS answered.
#[derive(Debug)]
pub enum Deletion {
    /// ACM deleted it.
    Deleted,
    /// It was already gone.
    Gone,
    /// Still attached to a load balancer, distribution or API Gateway domain.
    InUse(Error),
}

/// Deletes a certificate.
pub async fn delete(client: &Client, arn: &str) -> Result<Deletion> {
    match client
        .delete_certificate()
        .certificate_arn(arn)
        .send()
        .await
    {
        Ok(_) => Ok(Deletion::Deleted),
        Err(e) => {
            let service = e.as_service_error();
            if service.is_some_and(|s| s.is_resource_not_found_exception()) {
                Ok(Deletion::Gone)
            } else if service.is_some_and(|s| s.is_resource_in_use_exception()) {
                Ok(Deletion::InUse(Error::aws("acm", "DeleteCertificate", e)))
            } else {
                Err(Error::aws("acm", "DeleteCertificate", e))
            }
        }
    }
}
