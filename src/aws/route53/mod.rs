//! Route 53: health checks per region, latency or failover alias records for
//! the origin name, aliases of the public name to CloudFront, certificate
//! validation records, and the TXT records that mark what we own.

pub mod adopt;
pub mod apply;
pub mod desired;
pub mod diff;
#[cfg(test)]
mod mock_tests;
pub mod observe;
mod ownership;
mod record;
pub mod shared;
pub mod switch;
pub mod valve;

use std::{collections::BTreeMap, future::Future};

use crate::aws::service::ServiceStep;
use crate::aws::{AwsClients, Observed};
use crate::error::{Error, Result};
use crate::plan::{Finding, Mode, Service, StepOutcome};
use crate::target::Target;

pub use desired::Route53Inputs;
pub use diff::{HealthCheckOp, RecordOp};
pub use ownership::owner_record_name;
pub use record::{Failover, HealthCheck, Record, RecordKey, RecordValue, Routing};
pub use shared::Route53Listings;

/// The hosted zone id of every CloudFront distribution, for alias records.
pub const CLOUDFRONT_ZONE_ID: &str = "Z2FDTNDATAQYW2";

/// What Route 53 hands on: the zone and each region's health check.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Route53Outputs {
    pub zone_id: String,
    /// region -> health check id
    pub health_check_ids: BTreeMap<String, String>,
    /// The record batch was not written: it would have removed most of the
    /// serving records without the spec asking for it (see [`valve`]).
    pub valve_closed: bool,
}

/// Observes the zone and our health checks, diffs them with the spec and,
/// in Apply mode, makes them equal: health checks first (records point at
/// them), then one record batch, then the health checks no longer used.
/// Listings come from the process's [`Route53Listings`].
///
/// What an input does not know is left as it is: a region whose endpoint is
/// unknown keeps its record and health check, an unknown distribution keeps
/// the public aliases, unknown certificates keep the validation records. A
/// region whose health check cannot be made keeps its record, and does not
/// hold back the other regions' records.
pub async fn run(
    clients: &AwsClients,
    target: &Target,
    inputs: &Route53Inputs,
    mode: Mode,
) -> Result<StepOutcome<Route53Outputs>> {
    let client = clients.route53();
    let shared = &clients.listings().route53;
    let zone_id = zone_id(clients, target).await?;
    let mut inputs = inputs.clone();

    let wanted_checks = desired::health_checks(target, &inputs);
    let held_regions = desired::held_regions(target, &inputs);
    let refs: Vec<String> = wanted_checks
        .iter()
        .map(|c| apply::caller_reference(target, c))
        .collect();
    let mut outcome = StepOutcome::<Route53Outputs>::default();
    let (ids, unused_checks) = {
        let mut listing = shared
            .health_checks(&client, clients.fresher_than())
            .await?;
        let (held_checks, found_checks): (Vec<_>, Vec<_>) =
            observe::ours(listing.checks(), target, &refs)
                .into_iter()
                .partition(|c| held_regions.contains(&c.check.region));
        let check_ops = diff::health_checks(&wanted_checks, &found_checks);
        let mut ids = kept_health_checks(&wanted_checks, &found_checks);
        for held in &held_checks {
            ids.entry(held.check.region.clone())
                .or_insert_with(|| held.id.clone());
        }
        let mut unused = Vec::new();
        let mut failed = BTreeMap::new();
        if mode == Mode::Apply {
            let applied =
                apply::health_checks(&client, target, &check_ops, &mut ids, &mut listing).await;
            if !applied.failed.is_empty() {
                listing.forget();
            }
            unused = applied.delete_later;
            failed = applied.failed;
        }
        outcome.changes = check_ops
            .iter()
            .filter(|op| !failed.contains_key(op.region()))
            .map(HealthCheckOp::change)
            .collect();
        for (region, error) in failed {
            outcome.errors.push(Finding::failed(&region, &error));
            inputs
                .endpoints
                .insert(region.clone(), Observed::Unknown(error.to_string()));
            ids.remove(&region);
        }
        (ids, unused)
    };

    // A batch that lost a race for a name (another writer created one of
    // its records after our read) is decided again once, on a fresh
    // listing: the name then shows its new owner and is a conflict.
    let mut raced = false;
    loop {
        let mut zone = shared
            .zone_records(&client, &zone_id, clients.fresher_than())
            .await?;
        let holds = desired::holds(target, &inputs);
        let held = diff::held_records(target, &holds, zone.records());
        let wanted_records = desired::records(target, &inputs, &ids, &held);
        let wanted_records =
            switch::make_before_break(target, &inputs, wanted_records, zone.records());
        let record_diff = diff::records(target, &wanted_records, zone.records());
        outcome.conflicts = record_diff.conflicts.iter().map(Finding::global).collect();
        if let Some(refusal) = valve::refusal(target, &record_diff.ops, zone.records()) {
            // About DNS as a whole: no region failed.
            outcome.errors.push(Finding::global(refusal));
            outcome.outputs = Route53Outputs {
                zone_id,
                health_check_ids: ids,
                valve_closed: true,
            };
            return Ok(outcome);
        }
        if mode == Mode::Apply {
            match write_records(&client, &mut zone, &zone_id, &record_diff.ops).await {
                Err(e) if !raced && lost_a_race(&e) => {
                    tracing::info!(error = %e, "another writer took a record first; deciding again on a fresh listing");
                    raced = true;
                    continue;
                }
                written => written?,
            }
        }
        outcome
            .changes
            .extend(record_diff.ops.iter().map(RecordOp::change));
        break;
    }
    if mode == Mode::Apply {
        delete_health_checks(clients, &unused_checks).await?;
    }
    outcome.outputs = Route53Outputs {
        zone_id,
        health_check_ids: ids,
        valve_closed: false,
    };
    Ok(outcome)
}

/// Removes every record and health check this target owns, nothing else.
pub async fn destroy(clients: &AwsClients, target: &Target, mode: Mode) -> Result<StepOutcome<()>> {
    let client = clients.route53();
    let shared = &clients.listings().route53;
    let zone_id = zone_id(clients, target).await?;
    let mut outcome = StepOutcome::<()>::default();
    {
        let mut zone = shared.zone_records(&client, &zone_id, None).await?;
        let record_diff = diff::records(target, &[], zone.records());
        outcome.changes = record_diff.ops.iter().map(RecordOp::change).collect();
        if mode == Mode::Apply {
            write_records(&client, &mut zone, &zone_id, &record_diff.ops).await?;
        }
    }
    let found_checks = {
        let listing = shared.health_checks(&client, None).await?;
        observe::ours(listing.checks(), target, &[])
    };
    let check_ops = diff::health_checks(&[], &found_checks);
    outcome
        .changes
        .extend(check_ops.iter().map(HealthCheckOp::change));
    if mode == Mode::Apply {
        let ids: Vec<String> = found_checks.iter().map(|c| c.id.clone()).collect();
        delete_health_checks(clients, &ids).await?;
    }
    Ok(outcome)
}

/// The spec's hosted zone id, found by name (or checked to hold `domain`
/// when given by id) at most once per listing age.
pub(super) async fn zone_id(clients: &AwsClients, target: &Target) -> Result<String> {
    let zone = &target.spec.hosted_zone;
    let key = match (&zone.id, &zone.name) {
        (Some(id), _) => format!("id {id}"),
        (None, Some(name)) => name.clone(),
        (None, None) => return observe::zone_id(&clients.route53(), target).await,
    };
    let client = clients.route53();
    let id = clients
        .listings()
        .route53
        .zone_ids
        .get(&key, None, || observe::zone_id(&client, target))
        .await?;
    Ok(id.as_ref().clone())
}

/// Writes `ops` (if any) to the zone and into its kept listing; after a
/// failed write the listing is dropped.
pub(super) async fn write_records(
    client: &aws_sdk_route53::Client,
    zone: &mut shared::ZoneRecords,
    zone_id: &str,
    ops: &[RecordOp],
) -> Result<()> {
    if ops.is_empty() {
        return Ok(());
    }
    let written = apply::records(client, zone_id, ops).await;
    match &written {
        Ok(()) => zone.written(ops),
        Err(_) => zone.forget(),
    }
    written
}

/// Whether a batch failed because a record it creates exists already.
fn lost_a_race(e: &Error) -> bool {
    matches!(e, Error::Aws { code, message, .. }
        if code == "InvalidChangeBatch" && message.contains("but it already exists"))
}

/// Deletes health checks no record uses any more, and tells the listing.
async fn delete_health_checks(clients: &AwsClients, ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let deleted = apply::delete_health_checks(&clients.route53(), ids).await;
    clients
        .listings()
        .route53
        .health_checks_deleted(ids, deleted.is_ok())
        .await;
    deleted
}

/// The health checks that stay as they are or are changed in place, by region.
fn kept_health_checks(
    wanted: &[HealthCheck],
    found: &[observe::ObservedHealthCheck],
) -> BTreeMap<String, String> {
    wanted
        .iter()
        .filter_map(|want| {
            let same_region = || found.iter().filter(|f| f.check.region == want.region);
            let kept = same_region().find(|f| f.check == *want).or_else(|| {
                same_region().find(|f| f.check.request_interval == want.request_interval)
            })?;
            Some((want.region.clone(), kept.id.clone()))
        })
        .collect()
}

/// Route 53's part of a pass: health checks, latency or failover records,
/// the ownership records and the certificates' validation records.
pub struct Dns;

impl ServiceStep for Dns {
    const SERVICE: Service = Service::Route53;
    type Inputs = Route53Inputs;
    type Outputs = Route53Outputs;
    /// Nothing: the records are found by their ownership records.
    type Remembered = ();

    fn run(
        clients: &AwsClients,
        target: &Target,
        inputs: &Self::Inputs,
        mode: Mode,
    ) -> impl Future<Output = Result<StepOutcome<Self::Outputs>>> + Send {
        run(clients, target, inputs, mode)
    }

    fn destroy(
        clients: &AwsClients,
        target: &Target,
        _: &Self::Remembered,
        mode: Mode,
    ) -> impl Future<Output = Result<StepOutcome<()>>> + Send {
        destroy(clients, target, mode)
    }
}

/// What the Route 53 unit tests share.
#[cfg(test)]
pub(crate) mod fixtures {
    use crate::aws::apigateway::model::RegionEndpoint;

    /// Endpoints of us-east-1 and eu-west-1, as API Gateway would hand them on.
    pub fn endpoints() -> Vec<RegionEndpoint> {
        ["us-east-1", "eu-west-1"]
            .iter()
            .map(|r| RegionEndpoint {
                region: (*r).into(),
                rest_api_id: format!("api-{r}"),
                regional_domain_name: format!("d-{r}.example.net"),
                regional_zone_id: "ZREGIONAL".into(),
            })
            .collect()
    }
}
