//! Adoption of distributions: those serving the spec's domain, tagged by
//! the previous owner.

use aws_sdk_cloudfront::types::{Tag, Tags};

use crate::aws::AwsClients;
use crate::aws::adoption::model::{Handle, Inherited, Previous};
use crate::error::{Error, Result};
use crate::plan::Service;
use crate::target::{OWNER_TAG, Target, UID_TAG};

use super::observe::{LISTING_KEY, list_distributions, tags};

/// The previous owner's distributions.
pub async fn find(
    clients: &AwsClients,
    heir: &Target,
    previous: &Previous,
) -> Result<Vec<Inherited>> {
    let client = clients.cloudfront();
    let domain = heir.spec.domain.to_ascii_lowercase();
    let mut found = Vec::new();
    for summary in list_distributions(&client).await? {
        let serves = summary
            .aliases()
            .is_some_and(|a| a.items().iter().any(|n| n.eq_ignore_ascii_case(&domain)));
        if !serves {
            continue;
        }
        let tags = tags(&client, summary.arn()).await?;
        let owner = tags.get(OWNER_TAG).map(String::as_str);
        let uid = tags.get(UID_TAG).map(String::as_str);
        if previous.owned(heir, owner, uid) {
            found.push(Inherited {
                service: Service::CloudFront,
                region: None,
                kind: "distribution",
                resource: summary.id().to_owned(),
                owner: owner.map(str::to_owned),
                uid: uid.unwrap_or_default().to_owned(),
                handle: Handle::Distribution {
                    arn: summary.arn().to_owned(),
                },
            });
        }
    }
    Ok(found)
}

/// Tags the distribution as the heir's.
pub(crate) async fn retag(clients: &AwsClients, heir: &Target, arn: &str) -> Result<()> {
    let tags = heir
        .tags()
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Unexpected(format!("distribution tags: {e}")))?;
    clients
        .cloudfront()
        .tag_resource()
        .resource(arn)
        .tags(Tags::builder().set_items(Some(tags)).build())
        .send()
        .await
        .map_err(|e| Error::aws("cloudfront", "TagResource", e))?;
    clients.listings().distributions.forget(LISTING_KEY).await;
    Ok(())
}
