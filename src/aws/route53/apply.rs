//! Changing Route 53: health checks, then one record batch per zone.

use std::collections::BTreeMap;

use aws_sdk_route53::{
    Client,
    types::{
        AliasTarget, Change as SdkChange, ChangeAction, ChangeBatch, HealthCheckConfig,
        HealthCheckType, ResourceRecord, ResourceRecordSet, ResourceRecordSetFailover,
        ResourceRecordSetRegion, RrType, Tag, TagResourceType,
    },
};

use crate::error::{Error, Result};
use crate::target::Target;

use super::diff::{HealthCheckOp, RecordOp};
use super::observe::{ListedHealthCheck, REGION_TAG};
use super::record::{HealthCheck, Record, RecordValue, Routing};
use super::shared::HealthCheckListing;

/// Route 53 takes at most 1000 changes in one batch.
const MAX_BATCH: usize = 1000;

/// The caller reference of a health check: the same settings give the same
/// reference, so a create retried after a crash returns the first one.
pub fn caller_reference(target: &Target, check: &HealthCheck) -> String {
    target.token(
        &format!(
            "healthcheck {} {} {}",
            check.region, check.request_interval, check.fqdn
        ),
        64,
    )
}

/// What applying health check operations came to.
#[derive(Debug, Default)]
pub struct HealthCheckResults {
    /// Checks to delete once no record points at them any more.
    pub delete_later: Vec<String>,
    /// Regions whose operation failed, with the error; the others went on.
    pub failed: BTreeMap<String, Error>,
}

/// Applies health check operations, each region on its own: one that fails
/// is reported and the others go on. Each change that goes through is
/// written into `listing` as well.
pub async fn health_checks(
    client: &Client,
    target: &Target,
    ops: &[HealthCheckOp],
    ids: &mut BTreeMap<String, String>,
    listing: &mut HealthCheckListing,
) -> HealthCheckResults {
    let mut results = HealthCheckResults::default();
    for op in ops {
        if results.failed.contains_key(op.region()) {
            continue;
        }
        if let Err(e) = health_check(client, target, op, ids, listing, &mut results).await {
            results.failed.insert(op.region().to_owned(), e);
        }
    }
    results
}

async fn health_check(
    client: &Client,
    target: &Target,
    op: &HealthCheckOp,
    ids: &mut BTreeMap<String, String>,
    listing: &mut HealthCheckListing,
    results: &mut HealthCheckResults,
) -> Result<()> {
    match op {
        HealthCheckOp::Create(check) => {
            let (id, reference) = create_health_check(client, target, check).await?;
            listing.written(listed(target, &id, check, reference));
            ids.insert(check.region.clone(), id);
        }
        HealthCheckOp::Replace {
            old_id, desired, ..
        } => {
            let (id, reference) = create_health_check(client, target, desired).await?;
            listing.written(listed(target, &id, desired, reference));
            ids.insert(desired.region.clone(), id);
            results.delete_later.push(old_id.clone());
        }
        HealthCheckOp::Update { id, desired, .. } => {
            client
                .update_health_check()
                .health_check_id(id)
                .fully_qualified_domain_name(&desired.fqdn)
                .resource_path(&desired.resource_path)
                .failure_threshold(desired.failure_threshold)
                .send()
                .await
                .map_err(|e| Error::aws("route53", "UpdateHealthCheck", e))?;
            if let Some(mut updated) = listing.get(id).cloned() {
                updated.fqdn.clone_from(&desired.fqdn);
                updated.resource_path.clone_from(&desired.resource_path);
                updated.failure_threshold = desired.failure_threshold;
                listing.written(updated);
            }
            ids.insert(desired.region.clone(), id.clone());
        }
        HealthCheckOp::Adopt { id, observed } => {
            tag_health_check(client, target, id, &observed.region).await?;
            if let Some(mut adopted) = listing.get(id).cloned() {
                adopted.tags = health_check_tags(target, &observed.region)
                    .into_iter()
                    .collect();
                listing.written(adopted);
            }
            ids.entry(observed.region.clone())
                .or_insert_with(|| id.clone());
        }
        HealthCheckOp::Delete { id, .. } => results.delete_later.push(id.clone()),
    }
    Ok(())
}

/// Creates and tags a health check; returns its id and the reference it
/// was made with.
async fn create_health_check(
    client: &Client,
    target: &Target,
    check: &HealthCheck,
) -> Result<(String, String)> {
    let config = HealthCheckConfig::builder()
        .r#type(HealthCheckType::Https)
        .fully_qualified_domain_name(&check.fqdn)
        .resource_path(&check.resource_path)
        .port(443)
        .request_interval(check.request_interval)
        .failure_threshold(check.failure_threshold)
        .enable_sni(true)
        .build()
        .map_err(|e| Error::Unexpected(format!("health check for {}: {e}", check.region)))?;
    let mut renewal = 0;
    let (out, reference) = loop {
        let reference = Target::renewed(&caller_reference(target, check), renewal);
        match client
            .create_health_check()
            .caller_reference(&reference)
            .health_check_config(config.clone())
            .send()
            .await
        {
            Ok(out) => break (out, reference),
            Err(e)
                if renewal < crate::target::RENEWALS
                    && e.as_service_error()
                        .is_some_and(|s| s.is_health_check_already_exists()) =>
            {
                tracing::info!(
                    region = %check.region,
                    reference,
                    "the health check's caller reference belongs to another (or a deleted) health check; trying a fresh one"
                );
                renewal += 1;
            }
            Err(e) => return Err(Error::aws("route53", "CreateHealthCheck", e)),
        }
    };
    let id = out
        .health_check()
        .map(|h| h.id().to_owned())
        .ok_or_else(|| Error::Unexpected("CreateHealthCheck returned no health check".into()))?;
    tag_health_check(client, target, &id, &check.region).await?;
    Ok((id, reference))
}

/// The tags of our health check for `region`.
fn health_check_tags(target: &Target, region: &str) -> Vec<(String, String)> {
    let mut tags = target.tags();
    tags.push((REGION_TAG.to_owned(), region.to_owned()));
    tags.push(("Name".to_owned(), format!("{} {region}", target.owner())));
    tags
}

/// How the listing shows a health check we just created and tagged.
fn listed(target: &Target, id: &str, check: &HealthCheck, reference: String) -> ListedHealthCheck {
    ListedHealthCheck {
        id: id.to_owned(),
        caller_reference: reference,
        fqdn: check.fqdn.clone(),
        resource_path: check.resource_path.clone(),
        request_interval: check.request_interval,
        failure_threshold: check.failure_threshold,
        tags: health_check_tags(target, &check.region)
            .into_iter()
            .collect(),
    }
}

async fn tag_health_check(client: &Client, target: &Target, id: &str, region: &str) -> Result<()> {
    add_health_check_tags(client, id, health_check_tags(target, region)).await
}

/// Adds (or overwrites) tags of a health check.
pub(crate) async fn add_health_check_tags(
    client: &Client,
    id: &str,
    tags: Vec<(String, String)>,
) -> Result<()> {
    let tags: Vec<Tag> = tags
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    client
        .change_tags_for_resource()
        .resource_type(TagResourceType::Healthcheck)
        .resource_id(id)
        .set_add_tags(Some(tags))
        .send()
        .await
        .map_err(|e| Error::aws("route53", "ChangeTagsForResource", e))?;
    Ok(())
}

/// Deletes health checks; one already gone counts as deleted.
pub(crate) async fn delete_health_checks(client: &Client, ids: &[String]) -> Result<()> {
    for id in ids {
        match client
            .delete_health_check()
            .health_check_id(id)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_no_such_health_check()) => {}
            Err(e) => return Err(Error::aws("route53", "DeleteHealthCheck", e)),
        }
    }
    Ok(())
}

/// Applies record operations in batches of at most 1000 changes.
pub async fn records(client: &Client, zone_id: &str, ops: &[RecordOp]) -> Result<()> {
    let changes: Vec<SdkChange> = ops.iter().map(to_sdk_change).collect::<Result<_>>()?;
    for batch in changes.chunks(MAX_BATCH) {
        let batch = ChangeBatch::builder()
            .comment("globalapi")
            .set_changes(Some(batch.to_vec()))
            .build()
            .map_err(|e| Error::Unexpected(format!("record batch: {e}")))?;
        client
            .change_resource_record_sets()
            .hosted_zone_id(zone_id)
            .change_batch(batch)
            .send()
            .await
            .map_err(|e| Error::aws("route53", "ChangeResourceRecordSets", e))?;
    }
    Ok(())
}

/// A record that was not there is CREATEd, not UPSERTed: should another
/// writer (a second operator, the CLI, a person) take the name between our
/// read and our write, the whole batch fails instead of overwriting theirs,
/// and of two claimants of a free name exactly one gets its ownership record.
fn to_sdk_change(op: &RecordOp) -> Result<SdkChange> {
    let (action, record) = match op {
        RecordOp::Upsert {
            record,
            observed: None,
        } => (ChangeAction::Create, record),
        RecordOp::Upsert { record, .. } => (ChangeAction::Upsert, record),
        RecordOp::Delete(record) => (ChangeAction::Delete, record),
    };
    SdkChange::builder()
        .action(action)
        .resource_record_set(to_sdk_record(record)?)
        .build()
        .map_err(|e| Error::Unexpected(format!("record {}: {e}", record.key)))
}

/// The SDK's record set for one of ours.
pub(crate) fn to_sdk_record(record: &Record) -> Result<ResourceRecordSet> {
    let invalid = |e: aws_sdk_route53::error::BuildError| {
        Error::Unexpected(format!("record {}: {e}", record.key))
    };
    let mut set = ResourceRecordSet::builder()
        .name(&record.key.name)
        .r#type(RrType::from(record.key.record_type.as_str()))
        .set_set_identifier(record.key.set_identifier.clone())
        .set_health_check_id(record.health_check_id.clone());
    set = match &record.routing {
        Routing::Simple => set,
        Routing::Latency { region } => set.region(ResourceRecordSetRegion::from(region.as_str())),
        Routing::Failover(f) => set.failover(ResourceRecordSetFailover::from(f.as_str())),
    };
    set = match &record.value {
        RecordValue::Alias {
            zone_id,
            dns_name,
            evaluate_target_health,
        } => set.alias_target(
            AliasTarget::builder()
                .hosted_zone_id(zone_id)
                .dns_name(dns_name)
                .evaluate_target_health(*evaluate_target_health)
                .build()
                .map_err(invalid)?,
        ),
        RecordValue::Values { ttl, values } => {
            let records = values
                .iter()
                .map(|v| ResourceRecord::builder().value(v).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(invalid)?;
            set.ttl(*ttl).set_resource_records(Some(records))
        }
    };
    set.build().map_err(invalid)
}
