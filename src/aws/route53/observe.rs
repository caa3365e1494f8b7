//! Reading Route 53: the zone, its records, and our health checks.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_route53::{
    Client,
    types::{HealthCheck as SdkHealthCheck, ResourceRecordSet, RrType, TagResourceType},
};

use crate::error::{Error, Result};
use crate::target::{Target, UID_TAG};

use super::record::{
    Failover, HealthCheck, Record, RecordKey, RecordValue, Routing, normalize_name,
};

/// Tag key naming the region a health check probes.
pub(crate) const REGION_TAG: &str = "globalapi.io/region";

/// The id of the spec's hosted zone (without `/hostedzone/`).
pub async fn zone_id(client: &Client, target: &Target) -> Result<String> {
    let zone = &target.spec.hosted_zone;
    if let Some(id) = &zone.id {
        return checked_zone_id(client, target, id).await;
    }
    let name = zone
        .name
        .as_deref()
        .ok_or_else(|| Error::Invalid("hostedZone needs id or name".into()))?;
    let out = client
        .list_hosted_zones_by_name()
        .dns_name(name)
        .send()
        .await
        .map_err(|e| Error::aws("route53", "ListHostedZonesByName", e))?;
    let matching: Vec<_> = out
        .hosted_zones()
        .iter()
        .filter(|z| normalize_name(z.name()) == name)
        .filter(|z| !z.config().is_some_and(|c| c.private_zone()))
        .collect();
    match matching.as_slice() {
        [zone] => Ok(zone.id().trim_start_matches("/hostedzone/").to_owned()),
        [] => Err(Error::Invalid(format!(
            "hostedZone.name: no public hosted zone named {name} in this account"
        ))),
        _ => Err(Error::Invalid(format!(
            "hostedZone.name: several public hosted zones are named {name}; give hostedZone.id instead"
        ))),
    }
}

/// `id` when that zone holds the spec's domain; a zone that does not, or
/// does not exist, is a spec error that no retry can fix.
async fn checked_zone_id(client: &Client, target: &Target, id: &str) -> Result<String> {
    let id = id.trim_start_matches("/hostedzone/");
    let out = match client.get_hosted_zone().id(id).send().await {
        Ok(out) => out,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_hosted_zone()) =>
        {
            return Err(Error::Invalid(format!(
                "hostedZone.id: there is no hosted zone {id} in this account; give the id of the zone that holds {}",
                target.spec.domain
            )));
        }
        Err(e) => return Err(Error::aws("route53", "GetHostedZone", e)),
    };
    let name = out
        .hosted_zone()
        .map(|z| normalize_name(z.name()))
        .unwrap_or_default();
    let domain = &target.spec.domain;
    if *domain != name && !domain.ends_with(&format!(".{name}")) {
        return Err(Error::Invalid(format!(
            "hostedZone.id: zone {id} is {name}, which does not hold domain {domain}; give the id of the zone that does (or hostedZone.name)"
        )));
    }
    Ok(id.to_owned())
}

/// Every record set of the zone, all pages.
pub async fn records(client: &Client, zone_id: &str) -> Result<Vec<Record>> {
    let mut records: Vec<Record> = Vec::new();
    let mut next: Option<(String, RrType, Option<String>)> = None;
    let mut starts = std::collections::BTreeSet::new();
    let mut seen = std::collections::HashSet::new();
    loop {
        // A page boundary inside a group of same name and type can repeat a
        // page where NextRecordIdentifier is missing (moto): never loop on it.
        if let Some(start) = &next
            && !starts.insert(start.clone())
        {
            break;
        }
        let mut request = client.list_resource_record_sets().hosted_zone_id(zone_id);
        if let Some((name, rtype, id)) = next.take() {
            request = request
                .start_record_name(name)
                .start_record_type(rtype)
                .set_start_record_identifier(id);
        }
        let out = request
            .send()
            .await
            .map_err(|e| Error::aws("route53", "ListResourceRecordSets", e))?;
        for record in out.resource_record_sets().iter().filter_map(to_record) {
            if seen.insert(record.key.clone()) {
                records.push(record);
            }
        }
        if !out.is_truncated() {
            break;
        }
        match (out.next_record_name(), out.next_record_type()) {
            (Some(name), Some(rtype)) => {
                next = Some((
                    name.to_owned(),
                    rtype.clone(),
                    out.next_record_identifier().map(str::to_owned),
                ))
            }
            _ => break,
        }
    }
    Ok(records)
}

/// Our view of an SDK record set; `None` for kinds we never manage.
pub(crate) fn to_record(set: &ResourceRecordSet) -> Option<Record> {
    let routing = if let Some(region) = set.region() {
        Routing::Latency {
            region: region.as_str().to_owned(),
        }
    } else if let Some(failover) = set.failover() {
        match failover.as_str() {
            "PRIMARY" => Routing::Failover(Failover::Primary),
            "SECONDARY" => Routing::Failover(Failover::Secondary),
            _ => return None,
        }
    } else if set.weight().is_some()
        || set.geo_location().is_some()
        || set.multi_value_answer().is_some()
    {
        return None;
    } else {
        Routing::Simple
    };
    let value = match set.alias_target() {
        Some(alias) => RecordValue::Alias {
            zone_id: alias.hosted_zone_id().to_owned(),
            dns_name: normalize_name(alias.dns_name()),
            evaluate_target_health: alias.evaluate_target_health(),
        },
        None => RecordValue::Values {
            ttl: set.ttl().unwrap_or(0),
            values: set
                .resource_records()
                .iter()
                .map(|r| {
                    let v = r.value();
                    if set.r#type() == &RrType::Cname {
                        normalize_name(v)
                    } else {
                        v.to_owned()
                    }
                })
                .collect(),
        },
    };
    Some(Record {
        key: RecordKey {
            name: normalize_name(&unescape(set.name())),
            record_type: set.r#type().as_str().to_owned(),
            set_identifier: set.set_identifier().map(str::to_owned),
        },
        routing,
        health_check_id: set.health_check_id().map(str::to_owned),
        value,
    })
}

/// Route 53 returns `*` and some characters octal-escaped (`\052`).
fn unescape(name: &str) -> String {
    name.replace("\\052", "*")
}

/// A health check of ours found in AWS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedHealthCheck {
    pub id: String,
    pub check: HealthCheck,
    /// False for one created by an interrupted run before it was tagged; it
    /// is recognised by its deterministic CallerReference and adopted.
    pub tagged: bool,
}

/// A health check of the account that could be ours (its caller reference
/// has our prefix), with its settings and tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedHealthCheck {
    pub id: String,
    pub caller_reference: String,
    pub fqdn: String,
    pub resource_path: String,
    pub request_interval: i32,
    pub failure_threshold: i32,
    pub tags: BTreeMap<String, String>,
}

/// Our health checks: tagged with our uid, or untagged with a caller
/// reference only we would have chosen.
pub async fn health_checks(
    client: &Client,
    target: &Target,
    expected_refs: &[String],
) -> Result<Vec<ObservedHealthCheck>> {
    let listed = listed_health_checks(client).await?;
    Ok(ours(&listed, target, expected_refs))
}

/// Every health check whose caller reference has our prefix, with tags.
pub(crate) async fn listed_health_checks(client: &Client) -> Result<Vec<ListedHealthCheck>> {
    listed_health_checks_knowing(client, &HashMap::new()).await
}

/// Like [`listed_health_checks`], taking the tags of the health checks in
/// `known_tags` from there instead of asking AWS again.
pub(crate) async fn listed_health_checks_knowing(
    client: &Client,
    known_tags: &HashMap<String, BTreeMap<String, String>>,
) -> Result<Vec<ListedHealthCheck>> {
    let mut all: Vec<SdkHealthCheck> = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = client
            .list_health_checks()
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| Error::aws("route53", "ListHealthChecks", e))?;
        all.extend(
            out.health_checks()
                .iter()
                .filter(|h| h.caller_reference().starts_with("gapi"))
                .filter(|h| h.health_check_config().is_some())
                .cloned(),
        );
        match (out.is_truncated(), out.next_marker()) {
            (true, Some(m)) => marker = Some(m.to_owned()),
            _ => break,
        }
    }

    let unknown: Vec<SdkHealthCheck> = all
        .iter()
        .filter(|h| !known_tags.contains_key(h.id()))
        .cloned()
        .collect();
    let mut tags = known_tags.clone();
    for chunk in unknown.chunks(10) {
        tags.extend(tags_of(client, chunk).await?);
    }
    let mut listed = Vec::with_capacity(all.len());
    {
        for health_check in &all {
            // Deleted since the listing: not there any more.
            let Some(tags) = tags.remove(health_check.id()) else {
                continue;
            };
            let Some(config) = health_check.health_check_config() else {
                continue;
            };
            listed.push(ListedHealthCheck {
                id: health_check.id().to_owned(),
                caller_reference: health_check.caller_reference().to_owned(),
                fqdn: config
                    .fully_qualified_domain_name()
                    .unwrap_or_default()
                    .to_owned(),
                resource_path: config.resource_path().unwrap_or_default().to_owned(),
                request_interval: config.request_interval().unwrap_or(30),
                failure_threshold: config.failure_threshold().unwrap_or(3),
                tags,
            });
        }
    }
    Ok(listed)
}

/// The tags of up to ten health checks by id. AWS fails the whole batch
/// when one of them was deleted after the listing; then each is asked on
/// its own and the deleted ones are left out.
async fn tags_of(
    client: &Client,
    checks: &[SdkHealthCheck],
) -> Result<HashMap<String, BTreeMap<String, String>>> {
    let ids: Vec<String> = checks.iter().map(|h| h.id().to_owned()).collect();
    let batch = client
        .list_tags_for_resources()
        .resource_type(TagResourceType::Healthcheck)
        .set_resource_ids(Some(ids.clone()))
        .send()
        .await;
    let sets = match batch {
        Ok(out) => out.resource_tag_sets().to_vec(),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_health_check()) =>
        {
            let mut sets = Vec::new();
            for id in ids {
                match client
                    .list_tags_for_resource()
                    .resource_type(TagResourceType::Healthcheck)
                    .resource_id(&id)
                    .send()
                    .await
                {
                    Ok(out) => sets.extend(out.resource_tag_set().cloned()),
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_no_such_health_check()) => {}
                    Err(e) => return Err(Error::aws("route53", "ListTagsForResource", e)),
                }
            }
            sets
        }
        Err(e) => return Err(Error::aws("route53", "ListTagsForResources", e)),
    };
    let mut tags: HashMap<String, BTreeMap<String, String>> = HashMap::new();
    for set in sets {
        let Some(id) = set.resource_id() else {
            continue;
        };
        let entry = tags.entry(id.to_owned()).or_default();
        for tag in set.tags() {
            if let (Some(k), Some(v)) = (tag.key(), tag.value()) {
                entry.insert(k.to_owned(), v.to_owned());
            }
        }
    }
    Ok(tags)
}

/// The listed health checks of `target` (pure).
pub fn ours(
    listed: &[ListedHealthCheck],
    target: &Target,
    expected_refs: &[String],
) -> Vec<ObservedHealthCheck> {
    listed
        .iter()
        .filter_map(|listed| {
            let uid = listed.tags.get(UID_TAG);
            let tagged = uid == Some(&target.uid);
            let adopted = !tagged
                && uid.is_none()
                && expected_refs
                    .iter()
                    .any(|r| Target::is_renewal_of(&listed.caller_reference, r));
            if !(tagged || adopted) {
                return None;
            }
            let region = listed
                .tags
                .get(REGION_TAG)
                .cloned()
                .or_else(|| region_of(&listed.fqdn))?;
            Some(ObservedHealthCheck {
                id: listed.id.clone(),
                check: HealthCheck {
                    region,
                    fqdn: listed.fqdn.clone(),
                    resource_path: listed.resource_path.clone(),
                    request_interval: listed.request_interval,
                    failure_threshold: listed.failure_threshold,
                },
                tagged,
            })
        })
        .collect()
}

/// The region of an execute-api host name.
fn region_of(fqdn: &str) -> Option<String> {
    let mut parts = fqdn.split('.');
    let _id = parts.next()?;
    (parts.next()? == "execute-api").then(|| parts.next().map(str::to_owned))?
}
