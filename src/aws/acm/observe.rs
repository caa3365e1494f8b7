//! Reading ACM: our certificates in one region, found by tag.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_acm::{
    Client,
    types::{CertificateDetail, CertificateStatus, CertificateSummary, RecordType},
};

use super::certificate::ValidationRecord;
use crate::aws::listing::KeptAnswers;
use crate::error::{Error, Result};
use crate::target::{Target, UID_TAG};

use super::certificate::ObservedCertificate;

/// Every status: `ListCertificates` filters on them, and a failed
/// certificate of ours must be seen to be replaced or deleted.
const ALL_STATUSES: [CertificateStatus; 7] = [
    CertificateStatus::PendingValidation,
    CertificateStatus::Issued,
    CertificateStatus::Inactive,
    CertificateStatus::Expired,
    CertificateStatus::ValidationTimedOut,
    CertificateStatus::Revoked,
    CertificateStatus::Failed,
];

/// Which listed certificates to read the tags of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Candidates {
    /// Every certificate of the region (destroy).
    All,
    /// Those for one of these domains, or with one of these ARNs (one that an
    /// earlier reconcile reported). Keeps the tag reads few in a busy account.
    Matching {
        domains: BTreeSet<String>,
        arns: BTreeSet<String>,
    },
}

impl Candidates {
    fn admits(&self, summary: &CertificateSummary) -> bool {
        match self {
            Candidates::All => true,
            Candidates::Matching { domains, arns } => {
                summary.domain_name().is_some_and(|d| domains.contains(d))
                    || summary.certificate_arn().is_some_and(|a| arns.contains(a))
            }
        }
    }
}

/// What one region holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegionView {
    /// Our certificates (tagged with our uid), described.
    pub ours: Vec<ObservedCertificate>,
    /// The ARN of every certificate listed, ours or not.
    pub listed: BTreeSet<String>,
}

/// Every certificate of the region, in any status.
pub async fn list_certificates(client: &Client) -> Result<Vec<CertificateSummary>> {
    let mut summaries: Vec<CertificateSummary> = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let out = client
            .list_certificates()
            .set_certificate_statuses(Some(ALL_STATUSES.to_vec()))
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| Error::aws("acm", "ListCertificates", e))?;
        summaries.extend(out.certificate_summary_list().iter().cloned());
        match out.next_token() {
            Some(token) if !token.is_empty() => next = Some(token.to_owned()),
            _ => break,
        }
    }
    Ok(summaries)
}

/// Of the region's `listed` certificates, reads the tags of the candidates
/// and describes those tagged with our uid. Untagged or foreign ones are
/// skipped.
pub async fn region(
    client: &Client,
    region: &str,
    target: &Target,
    candidates: &Candidates,
    listed: &[CertificateSummary],
    owners: &KeptAnswers,
) -> Result<RegionView> {
    let mut view = RegionView {
        listed: listed
            .iter()
            .filter_map(|s| s.certificate_arn().map(str::to_owned))
            .collect(),
        ..Default::default()
    };
    let summaries = listed.iter().filter(|s| candidates.admits(s));
    for summary in summaries {
        let Some(arn) = summary.certificate_arn() else {
            continue;
        };
        let owner = match owners.get(arn) {
            Some(owner) => owner,
            None => {
                let owner = uid_tag(client, arn).await?;
                owners.found(arn, owner.clone());
                owner
            }
        };
        if owner.as_deref() != Some(target.uid.as_str()) {
            continue;
        }
        if let Some(cert) = describe(client, region, arn, true).await? {
            view.ours.push(cert);
        }
    }
    Ok(view)
}

/// The certificate's uid tag; none for one deleted meanwhile.
async fn uid_tag(client: &Client, arn: &str) -> Result<Option<String>> {
    Ok(tags(client, arn).await?.remove(UID_TAG))
}

/// The certificate's tags; none for one deleted meanwhile.
pub(crate) async fn tags(client: &Client, arn: &str) -> Result<BTreeMap<String, String>> {
    match client
        .list_tags_for_certificate()
        .certificate_arn(arn)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().unwrap_or_default().to_owned()))
            .collect()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(BTreeMap::new())
        }
        Err(e) => Err(Error::aws("acm", "ListTagsForCertificate", e)),
    }
}

/// One certificate; `None` when it does not exist (in this region).
pub async fn describe(
    client: &Client,
    region: &str,
    arn: &str,
    owned: bool,
) -> Result<Option<ObservedCertificate>> {
    match client
        .describe_certificate()
        .certificate_arn(arn)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .certificate()
            .map(|detail| to_observed(detail, region, arn, owned))),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(Error::aws("acm", "DescribeCertificate", e)),
    }
}

/// Our view of ACM's description of a certificate.
pub(crate) fn to_observed(
    detail: &CertificateDetail,
    region: &str,
    arn: &str,
    owned: bool,
) -> ObservedCertificate {
    let mut validation_records: Vec<ValidationRecord> = detail
        .domain_validation_options()
        .iter()
        .filter_map(|option| option.resource_record())
        .filter(|record| *record.r#type() == RecordType::Cname)
        .map(|record| ValidationRecord {
            name: record.name().to_owned(),
            value: record.value().to_owned(),
        })
        .collect();
    // The apex and its wildcard share one record.
    validation_records.sort();
    validation_records.dedup();
    ObservedCertificate {
        arn: detail.certificate_arn().unwrap_or(arn).to_owned(),
        region: region.to_owned(),
        domain: detail.domain_name().unwrap_or_default().to_owned(),
        names: detail.subject_alternative_names().to_vec(),
        status: detail
            .status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        failure_reason: detail.failure_reason().map(|r| r.as_str().to_owned()),
        validation_records,
        in_use_by: detail.in_use_by().to_vec(),
        owned,
    }
}
