//! Adoption of certificates: those for the spec's names, in the spec's
//! regions (and us-east-1 for the edge), tagged by the previous owner.

use aws_sdk_acm::types::Tag;

use crate::aws::AwsClients;
use crate::aws::adoption::model::{Handle, Inherited, Previous};
use crate::error::{Error, Result};
use crate::plan::Service;
use crate::target::{OWNER_TAG, Target, UID_TAG};

use super::observe::{list_certificates, tags};

/// The previous owner's certificates.
pub async fn find(
    clients: &AwsClients,
    heir: &Target,
    previous: &Previous,
) -> Result<Vec<Inherited>> {
    let names = [heir.spec.domain.clone(), heir.origin_domain()];
    let mut regions = heir.region_names();
    if heir.edge_enabled() {
        regions.push("us-east-1".to_owned());
    }
    regions.sort();
    regions.dedup();
    let mut found = Vec::new();
    for region in regions {
        let client = clients.acm(&region);
        for summary in list_certificates(&client).await? {
            let (Some(arn), Some(domain)) = (summary.certificate_arn(), summary.domain_name())
            else {
                continue;
            };
            if !names.iter().any(|n| n == domain) {
                continue;
            }
            let tags = tags(&client, arn).await?;
            let owner = tags.get(OWNER_TAG).map(String::as_str);
            let uid = tags.get(UID_TAG).map(String::as_str);
            if previous.owned(heir, owner, uid) {
                found.push(Inherited {
                    service: Service::Acm,
                    region: Some(region.clone()),
                    kind: "certificate",
                    resource: arn.to_owned(),
                    owner: owner.map(str::to_owned),
                    uid: uid.unwrap_or_default().to_owned(),
                    handle: Handle::Certificate {
                        region: region.clone(),
                        arn: arn.to_owned(),
                    },
                });
            }
        }
    }
    Ok(found)
}

/// Tags the certificate as the heir's.
pub(crate) async fn retag(
    clients: &AwsClients,
    heir: &Target,
    region: &str,
    arn: &str,
) -> Result<()> {
    let tags = heir
        .tags()
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Unexpected(format!("certificate tags: {e}")))?;
    clients
        .acm(region)
        .add_tags_to_certificate()
        .certificate_arn(arn)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| Error::aws("acm", "AddTagsToCertificate", e))?;
    // The kept owner of the certificate is the heir from now on.
    clients
        .listings()
        .certificate_owners
        .found(arn, Some(heir.uid.clone()));
    Ok(())
}
