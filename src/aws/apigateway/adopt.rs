//! Adoption of REST APIs and custom domains: those of the spec's regions
//! tagged by the previous owner (stages and deployments go with their API).

use std::collections::HashMap;

use crate::aws::AwsClients;
use crate::aws::adoption::model::{Handle, Inherited, Previous};
use crate::error::{Error, Result};
use crate::plan::Service;
use crate::target::{OWNER_TAG, Target, UID_TAG};

use super::observe::{domain_names, rest_apis};

/// The previous owner's REST APIs and custom domain names.
pub async fn find(
    clients: &AwsClients,
    heir: &Target,
    previous: &Previous,
) -> Result<Vec<Inherited>> {
    let mut found = Vec::new();
    for region in heir.region_names() {
        let client = clients.apigateway(&region);
        let mut inherit = |kind: &'static str,
                           resource: &str,
                           arn: String,
                           tags: Option<&HashMap<String, String>>| {
            let owner = tags.and_then(|t| t.get(OWNER_TAG)).map(String::as_str);
            let uid = tags.and_then(|t| t.get(UID_TAG)).map(String::as_str);
            if previous.owned(heir, owner, uid) {
                found.push(Inherited {
                    service: Service::ApiGateway,
                    region: Some(region.clone()),
                    kind,
                    resource: resource.to_owned(),
                    owner: owner.map(str::to_owned),
                    uid: uid.unwrap_or_default().to_owned(),
                    handle: Handle::ApiGateway {
                        region: region.clone(),
                        arn,
                    },
                });
            }
        };
        for api in rest_apis(&client).await? {
            let id = api.id().unwrap_or_default();
            inherit(
                "rest-api",
                id,
                format!("arn:aws:apigateway:{region}::/restapis/{id}"),
                api.tags(),
            );
        }
        for domain in domain_names(&client).await? {
            let name = domain.domain_name().unwrap_or_default();
            if name != heir.spec.domain && name != heir.origin_domain() {
                continue;
            }
            inherit(
                "domain-name",
                name,
                format!("arn:aws:apigateway:{region}::/domainnames/{name}"),
                domain.tags(),
            );
        }
    }
    Ok(found)
}

/// Tags the REST API or custom domain name as the heir's.
pub(crate) async fn retag(
    clients: &AwsClients,
    heir: &Target,
    region: &str,
    arn: &str,
) -> Result<()> {
    clients
        .apigateway(region)
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(heir.tags().into_iter().collect()))
        .send()
        .await
        .map_err(|e| Error::aws("apigateway", "TagResource", e))?;
    // The kept listings show the previous owner's tags.
    let listings = clients.listings();
    listings.rest_apis.forget(region).await;
    listings.domain_names.forget(region).await;
    Ok(())
}
