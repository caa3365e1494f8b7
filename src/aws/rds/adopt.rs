//! Adoption of the database: the global cluster of the spec, and the
//! regional clusters and instances under the heir's identifiers (a database
//! keeps the names of the GlobalApi that made it), tagged by the previous
//! owner.

use aws_sdk_rds::types::Tag;

use crate::aws::AwsClients;
use crate::aws::adoption::model::{Handle, Inherited, Previous};
use crate::error::{Error, Result};
use crate::plan::Service;
use crate::target::{OWNER_TAG, Target, UID_TAG};

use super::desired::cluster_identifier;
use super::observe::{filter, find_global_cluster};

/// The previous owner's global cluster, clusters and instances.
pub async fn find(
    clients: &AwsClients,
    heir: &Target,
    previous: &Previous,
) -> Result<Vec<Inherited>> {
    let Some(aurora) = heir.spec.database.as_ref().and_then(|d| d.aurora.as_ref()) else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    let primary = &aurora.primary_region;
    let client = clients.rds(primary);
    if let Some(global) = find_global_cluster(&client, &aurora.global_cluster_identifier).await? {
        found.extend(inherited(
            heir,
            previous,
            primary,
            "global-cluster",
            &aurora.global_cluster_identifier,
            global.global_cluster_arn(),
            global.tag_list(),
        ));
    }
    for region in heir.region_names() {
        found.extend(in_region(&clients.rds(&region), heir, previous, &region).await?);
    }
    Ok(found)
}

/// The previous owner's cluster and instances in `region`.
async fn in_region(
    client: &aws_sdk_rds::Client,
    heir: &Target,
    previous: &Previous,
    region: &str,
) -> Result<Vec<Inherited>> {
    let mut found = Vec::new();
    let identifier = cluster_identifier(heir, region);
    let clusters = client
        .describe_db_clusters()
        .filters(filter("db-cluster-id", &identifier))
        .send()
        .await
        .map_err(|e| Error::aws("rds", "DescribeDBClusters", e))?;
    for cluster in clusters
        .db_clusters()
        .iter()
        .filter(|c| c.db_cluster_identifier() == Some(identifier.as_str()))
    {
        found.extend(inherited(
            heir,
            previous,
            region,
            "cluster",
            &identifier,
            cluster.db_cluster_arn(),
            cluster.tag_list(),
        ));
    }
    let instances = client
        .describe_db_instances()
        .filters(filter("db-cluster-id", &identifier))
        .send()
        .await
        .map_err(|e| Error::aws("rds", "DescribeDBInstances", e))?;
    for instance in instances
        .db_instances()
        .iter()
        .filter(|i| i.db_cluster_identifier() == Some(identifier.as_str()))
    {
        found.extend(inherited(
            heir,
            previous,
            region,
            "instance",
            instance.db_instance_identifier().unwrap_or_default(),
            instance.db_instance_arn(),
            instance.tag_list(),
        ));
    }
    Ok(found)
}

/// The resource `id` when its tags name the previous owner.
fn inherited(
    heir: &Target,
    previous: &Previous,
    region: &str,
    kind: &'static str,
    id: &str,
    arn: Option<&str>,
    tags: &[Tag],
) -> Option<Inherited> {
    let tag = |key: &str| {
        tags.iter()
            .find(|t| t.key() == Some(key))
            .and_then(Tag::value)
    };
    let (owner, uid) = (tag(OWNER_TAG), tag(UID_TAG));
    let arn = arn.filter(|_| previous.owned(heir, owner, uid))?;
    Some(Inherited {
        service: Service::Rds,
        region: Some(region.to_owned()),
        kind,
        resource: id.to_owned(),
        owner: owner.map(str::to_owned),
        uid: uid.unwrap_or_default().to_owned(),
        handle: Handle::Rds {
            region: region.to_owned(),
            arn: arn.to_owned(),
        },
    })
}

/// Tags the global cluster, cluster or instance as the heir's.
pub(crate) async fn retag(
    clients: &AwsClients,
    heir: &Target,
    region: &str,
    arn: &str,
) -> Result<()> {
    let tags: Vec<Tag> = heir
        .tags()
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    clients
        .rds(region)
        .add_tags_to_resource()
        .resource_name(arn)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| Error::aws("rds", "AddTagsToResource", e))?;
    Ok(())
}
