//! Reading RDS: the global cluster by its identifier, and in each region the
//! cluster under our deterministic identifier with its DB instances.

use aws_sdk_rds::{
    Client,
    types::{DbCluster, DbInstance, Filter, GlobalCluster, Tag},
};

use crate::error::{Error, Result};
use crate::plan::Finding;
use crate::target::Target;

use super::desired::cluster_identifier;
use super::model::{
    Member, Observed, ObservedCluster, ObservedGlobalCluster, ObservedInstance, Ownership,
};

/// One observation, with the regions that could not be read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observation {
    pub observed: Observed,
    /// Where the global cluster's API was called.
    pub api_region: String,
    /// `<region>: <error>` for each region that could not be read.
    pub errors: Vec<Finding>,
}

/// Where an observation looks.
#[derive(Clone, Copy, Debug, Default)]
pub struct Scope<'a> {
    /// Where the global cluster's API is called (the spec's primary
    /// region); without it, the region of a cluster naming the global
    /// cluster, or the first region.
    pub api_region: Option<&'a str>,
    /// The global cluster the spec names.
    pub global: Option<&'a str>,
    /// The global cluster the last reconcile reported: used when neither
    /// the spec nor a cluster of ours names one (the database left the spec).
    pub remembered_global: Option<&'a str>,
    /// The regions to look in: the spec's, and those the last reconcile
    /// reported a cluster in.
    pub regions: &'a [String],
}

/// Observes our cluster in each region of the scope, then the global
/// cluster, then our cluster in every other region the global cluster
/// lists a member of under our identifier: a region the spec left still
/// holds one.
///
/// Failing to read the global cluster fails the step; failing to read a
/// region is an error line for that region, and it stays unknown.
pub async fn observe(
    rds: &impl Fn(&str) -> Client,
    target: &Target,
    scope: Scope<'_>,
) -> Result<Observation> {
    let mut found = Observation::default();
    let mut regions: Vec<&String> = Vec::new();
    for region in scope.regions {
        if !regions.contains(&region) {
            regions.push(region);
        }
    }
    for region in &regions {
        look(rds, target, region, &mut found).await;
    }
    let named = found
        .observed
        .clusters()
        .filter(|c| c.ownership.is_ours())
        .find_map(|c| Some((c.global_cluster_identifier.clone()?, c.region.clone())));
    let global_id = scope
        .global
        .map(str::to_owned)
        .or_else(|| named.as_ref().map(|(id, _)| id.clone()))
        .or_else(|| scope.remembered_global.map(str::to_owned));
    found.api_region = scope
        .api_region
        .map(str::to_owned)
        .unwrap_or_else(|| default_region(named, scope.regions));
    let Some(global_id) = global_id else {
        return Ok(found);
    };
    found.observed.global =
        global_cluster(&rds(&found.api_region), &target.uid, &global_id).await?;
    let more: Vec<String> = found
        .observed
        .global
        .iter()
        .flat_map(|g| g.members.iter())
        .filter_map(|m| {
            let region = m.region.as_deref()?;
            (m.cluster_identifier.as_deref() == Some(cluster_identifier(target, region).as_str()))
                .then(|| region.to_owned())
        })
        .collect();
    for region in more {
        let known = found.observed.regions.contains_key(&region)
            || found.errors.iter().any(|e| e.concerns(&region));
        if !known {
            look(rds, target, &region, &mut found).await;
        }
    }
    Ok(found)
}

fn default_region(named: Option<(String, String)>, regions: &[String]) -> String {
    named
        .map(|(_, region)| region)
        .or_else(|| regions.first().cloned())
        .unwrap_or_else(|| crate::aws::clients::GLOBAL_REGION.to_owned())
}

/// Our cluster in one region, or an error line for it.
async fn look(
    rds: &impl Fn(&str) -> Client,
    target: &Target,
    region: &str,
    found: &mut Observation,
) {
    let identifier = cluster_identifier(target, region);
    match cluster(&rds(region), &target.uid, region, &identifier).await {
        Ok(cluster) => {
            found.observed.regions.insert(region.to_owned(), cluster);
        }
        Err(e) => found.errors.push(Finding::failed(region, &e)),
    }
}

fn tags(list: &[Tag]) -> impl Iterator<Item = (&str, &str)> {
    list.iter()
        .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default())))
}

pub(crate) fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// The global cluster `identifier`, if it exists.
pub(crate) async fn global_cluster(
    client: &Client,
    uid: &str,
    identifier: &str,
) -> Result<Option<ObservedGlobalCluster>> {
    Ok(find_global_cluster(client, identifier)
        .await?
        .map(|found| to_global_cluster(uid, &found)))
}

/// The SDK's global cluster `identifier`, if it exists. The identifier is
/// also checked here: the emulator ignores it and returns every global
/// cluster.
pub(crate) async fn find_global_cluster(
    client: &Client,
    identifier: &str,
) -> Result<Option<GlobalCluster>> {
    let mut marker: Option<String> = None;
    loop {
        let out = match client
            .describe_global_clusters()
            .global_cluster_identifier(identifier)
            .set_marker(marker.take())
            .send()
            .await
        {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_global_cluster_not_found_fault()) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(Error::aws("rds", "DescribeGlobalClusters", e)),
        };
        if let Some(found) = out
            .global_clusters()
            .iter()
            .find(|g| g.global_cluster_identifier() == Some(identifier))
        {
            return Ok(Some(found.clone()));
        }
        match out.marker() {
            Some(m) if !m.is_empty() => marker = Some(m.to_owned()),
            _ => return Ok(None),
        }
    }
}

/// Our view of an SDK global cluster.
pub(crate) fn to_global_cluster(uid: &str, g: &GlobalCluster) -> ObservedGlobalCluster {
    ObservedGlobalCluster {
        identifier: g.global_cluster_identifier().unwrap_or_default().to_owned(),
        arn: g.global_cluster_arn().unwrap_or_default().to_owned(),
        status: g.status().unwrap_or_default().to_owned(),
        engine: g.engine().unwrap_or_default().to_owned(),
        engine_version: g.engine_version().unwrap_or_default().to_owned(),
        deletion_protection: g.deletion_protection().unwrap_or(false),
        members: g
            .global_cluster_members()
            .iter()
            .filter_map(|m| Some(Member::from_arn(m.db_cluster_arn()?, m.is_writer()?)))
            .collect(),
        ownership: Ownership::from_tags(uid, tags(g.tag_list())),
    }
}

/// The cluster `identifier` in `region` with its instances, if it exists.
pub async fn cluster(
    client: &Client,
    uid: &str,
    region: &str,
    identifier: &str,
) -> Result<Option<ObservedCluster>> {
    // A filter rather than the identifier: an absent cluster is an empty
    // list instead of a DBClusterNotFoundFault.
    let out = client
        .describe_db_clusters()
        .filters(filter("db-cluster-id", identifier))
        .send()
        .await
        .map_err(|e| Error::aws("rds", "DescribeDBClusters", e))?;
    let Some(found) = out
        .db_clusters()
        .iter()
        .find(|c| c.db_cluster_identifier() == Some(identifier))
    else {
        return Ok(None);
    };
    let mut cluster = to_cluster(uid, region, found);
    cluster.instances = instances(client, uid, identifier).await?;
    Ok(Some(cluster))
}

/// Our view of an SDK cluster, without its instances.
pub(crate) fn to_cluster(uid: &str, region: &str, c: &DbCluster) -> ObservedCluster {
    ObservedCluster {
        region: region.to_owned(),
        identifier: c.db_cluster_identifier().unwrap_or_default().to_owned(),
        arn: c.db_cluster_arn().unwrap_or_default().to_owned(),
        status: c.status().unwrap_or_default().to_owned(),
        engine: c.engine().unwrap_or_default().to_owned(),
        engine_version: c.engine_version().unwrap_or_default().to_owned(),
        deletion_protection: c.deletion_protection().unwrap_or(false),
        global_cluster_identifier: c.global_cluster_identifier().map(str::to_owned),
        endpoint: c.endpoint().map(str::to_owned),
        reader_endpoint: c.reader_endpoint().map(str::to_owned),
        resource_id: c.db_cluster_resource_id().map(str::to_owned),
        master_user_secret_arn: c
            .master_user_secret()
            .and_then(|s| s.secret_arn())
            .map(str::to_owned),
        write_forwarding: c.global_write_forwarding_requested().unwrap_or(false),
        ownership: Ownership::from_tags(uid, tags(c.tag_list())),
        instances: Vec::new(),
    }
}

/// The DB instances of cluster `identifier`, all pages.
pub async fn instances(client: &Client, uid: &str, cluster: &str) -> Result<Vec<ObservedInstance>> {
    let mut found = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = client
            .describe_db_instances()
            .filters(filter("db-cluster-id", cluster))
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| Error::aws("rds", "DescribeDBInstances", e))?;
        found.extend(
            out.db_instances()
                .iter()
                .filter(|i| i.db_cluster_identifier() == Some(cluster))
                .map(|i| to_instance(uid, i)),
        );
        match out.marker() {
            Some(m) if !m.is_empty() => marker = Some(m.to_owned()),
            _ => break,
        }
    }
    found.sort_by(|a, b| a.identifier.cmp(&b.identifier));
    Ok(found)
}

/// Our view of an SDK DB instance.
pub(crate) fn to_instance(uid: &str, i: &DbInstance) -> ObservedInstance {
    ObservedInstance {
        identifier: i.db_instance_identifier().unwrap_or_default().to_owned(),
        class: i.db_instance_class().unwrap_or_default().to_owned(),
        status: i.db_instance_status().unwrap_or_default().to_owned(),
        ownership: Ownership::from_tags(uid, tags(i.tag_list())),
    }
}

/// The status of cluster `identifier`; `None` once it is gone.
pub(crate) async fn cluster_status(client: &Client, identifier: &str) -> Result<Option<String>> {
    let out = client
        .describe_db_clusters()
        .filters(filter("db-cluster-id", identifier))
        .send()
        .await
        .map_err(|e| Error::aws("rds", "DescribeDBClusters", e))?;
    Ok(out
        .db_clusters()
        .iter()
        .find(|c| c.db_cluster_identifier() == Some(identifier))
        .map(|c| c.status().unwrap_or_default().to_owned()))
}
