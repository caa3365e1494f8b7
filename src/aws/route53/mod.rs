//! Route 53: health checks per region, latency or failover alias records for
//! the origin name, aliases of the public name to CloudFront, certificate
//! validation records, and the TXT records that mark what we own.

pub mod apply;
pub mod desired;
pub mod diff;
pub mod observe;
mod ownership;
mod record;

use std::collections::BTreeMap;

use crate::aws::AwsClients;
use crate::error::Result;
use crate::plan::{Mode, StepOutcome};
use crate::target::Target;

pub use desired::{RegionEndpoint, Route53Inputs, ValidationRecord};
pub use diff::{HealthCheckOp, RecordOp};
pub use ownership::owner_record_name;
pub use record::{Failover, HealthCheck, Record, RecordKey, RecordValue, Routing};

/// The hosted zone id of every CloudFront distribution, for alias records.
pub const CLOUDFRONT_ZONE_ID: &str = "Z2FDTNDATAQYW2";

/// What Route 53 hands on: the zone and each region's health check.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Route53Outputs {
    pub zone_id: String,
    /// region -> health check id
    pub health_check_ids: BTreeMap<String, String>,
}

/// Observes the zone and our health checks, diffs them with the spec and,
/// in Apply mode, makes them equal: health checks first (records point at
/// them), then one record batch, then the health checks no longer used.
pub async fn run(
    clients: &AwsClients,
    target: &Target,
    inputs: &Route53Inputs,
    mode: Mode,
) -> Result<StepOutcome<Route53Outputs>> {
    let client = clients.route53();
    let zone_id = observe::zone_id(&client, target).await?;

    let wanted_checks = desired::health_checks(target, &inputs.endpoints);
    let refs: Vec<String> = wanted_checks
        .iter()
        .map(|c| apply::caller_reference(target, c))
        .collect();
    let found_checks = observe::health_checks(&client, target, &refs).await?;
    let check_ops = diff::health_checks(&wanted_checks, &found_checks);
    let mut ids = kept_health_checks(&wanted_checks, &found_checks);
    let mut outcome = StepOutcome::<Route53Outputs> {
        changes: check_ops.iter().map(HealthCheckOp::change).collect(),
        ..Default::default()
    };
    let mut unused_checks = Vec::new();
    if mode == Mode::Apply {
        unused_checks = apply::health_checks(&client, target, &check_ops, &mut ids).await?;
    }

    let wanted_records = desired::records(target, inputs, &ids);
    let found_records = observe::records(&client, &zone_id).await?;
    let record_diff = diff::records(target, &wanted_records, &found_records);
    outcome
        .changes
        .extend(record_diff.ops.iter().map(RecordOp::change));
    outcome.conflicts = record_diff.conflicts;
    if mode == Mode::Apply {
        if !record_diff.ops.is_empty() {
            apply::records(&client, &zone_id, &record_diff.ops).await?;
        }
        apply::delete_health_checks(&client, &unused_checks).await?;
    }
    outcome.outputs = Route53Outputs {
        zone_id,
        health_check_ids: ids,
    };
    Ok(outcome)
}

/// Removes every record and health check this target owns, nothing else.
pub async fn destroy(clients: &AwsClients, target: &Target, mode: Mode) -> Result<StepOutcome<()>> {
    let client = clients.route53();
    let zone_id = observe::zone_id(&client, target).await?;
    let found_records = observe::records(&client, &zone_id).await?;
    let record_diff = diff::records(target, &[], &found_records);
    let found_checks = observe::health_checks(&client, target, &[]).await?;
    let check_ops = diff::health_checks(&[], &found_checks);
    let mut outcome = StepOutcome::<()> {
        changes: record_diff.ops.iter().map(RecordOp::change).collect(),
        ..Default::default()
    };
    outcome
        .changes
        .extend(check_ops.iter().map(HealthCheckOp::change));
    if mode == Mode::Apply {
        if !record_diff.ops.is_empty() {
            apply::records(&client, &zone_id, &record_diff.ops).await?;
        }
        let ids: Vec<String> = found_checks.iter().map(|c| c.id.clone()).collect();
        apply::delete_health_checks(&client, &ids).await?;
    }
    Ok(outcome)
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
