//! RDS: the optional Aurora Global Database behind the regional APIs. One
//! global cluster (`spec.database.aurora.globalClusterIdentifier`), a
//! primary cluster in `primaryRegion` that takes the writes, and a
//! secondary cluster in every other region of the spec that reads locally,
//! each with `instancesPerRegion` DB instances. The primary's master
//! password is made and kept by RDS in Secrets Manager
//! (`ManageMasterUserPassword`): no password passes through the spec or
//! the operator.
//!
//! Names are deterministic (`gapi-<namespace>-<name>-<region>`, instances
//! `…-1`, `…-2`), so a create retried after a crash finds what the first
//! one made. Clusters and instances are ours when tagged with our uid.
//! Global clusters keep tags in AWS but not in the emulator, so a global
//! cluster is also ours when its writer is one of our clusters, or when it
//! has no members at all (what an interrupted create leaves); one with a
//! writer or members of someone else is a conflict and left alone.
//!
//! Nothing waits: a cluster or instance that is not `available` is a
//! pending line, a secondary waits for an available writer and a deletion
//! for what must go before it, and the reconcile requeues. A writer in
//! another region than the spec's is switched over there (planned, no data
//! loss) once both are available; an unplanned failover happens only on
//! request ([`failover`], the `globalapi.io/failover-to` annotation), whose
//! region then stands in for the spec's. Secondaries forward writes when
//! `writeForwarding` asks. An engine or engine version change and a member
//! taken out of the global cluster by hand are reported, never acted on.
//! Deletion (destroy, or `database` removed from the spec) goes
//! secondaries first (out of the global cluster, instances, cluster), then
//! the primary, then the global cluster, keeping a final snapshot of each
//! cluster unless `skipFinalSnapshot`; `deletionProtection: true` refuses
//! it with a line naming the field.

pub mod adopt;
pub mod apply;
pub mod desired;
pub mod diff;
pub mod model;
pub mod observe;
pub mod ops;

#[cfg(test)]
mod mock_tests;

use std::future::Future;

use aws_sdk_rds::Client;

use crate::api::DatabaseRemoval;
use crate::aws::service::ServiceStep;
use crate::aws::{Announcer, AwsClients};
use crate::error::Result;
use crate::plan::{Finding, Mode, Service, StepOutcome};
use crate::target::Target;

pub use apply::Applied;
pub use desired::{RdsInputs, cluster_identifier, final_snapshot_identifier, instance_identifier};
pub use diff::{Op, OpKind, PROTECTED, RdsDiff};
pub use model::{
    Desired, DesiredCluster, DesiredGlobalCluster, DesiredInstance, MASTER_USERNAME, Member,
    Observed, ObservedCluster, ObservedGlobalCluster, ObservedInstance, Ownership, Role,
};
pub use observe::Observation;

/// The endpoints of one regional cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RdsEndpoint {
    pub region: String,
    /// The cluster endpoint of the writer; `None` for a secondary.
    pub writer: Option<String>,
    /// The reader endpoint.
    pub reader: Option<String>,
}

/// What the status shows of the database.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RdsOutputs {
    pub global_cluster_arn: Option<String>,
    /// The region of the writer cluster.
    pub writer_region: Option<String>,
    /// Each of our regional clusters that exists, primary region first.
    pub endpoints: Vec<RdsEndpoint>,
    /// The Secrets Manager secret RDS keeps the master password in.
    pub master_user_secret_arn: Option<String>,
    /// Regions whose reads failed this pass, with AWS's error: nothing of
    /// the database was changed on so partial a view.
    pub unknown: Vec<String>,
    /// Ours, no longer in the spec, left as they are (`removal: Orphan`).
    pub orphaned: Vec<String>,
    /// The region the `globalapi.io/failover-to` annotation moved the
    /// writer to, while it stands in for `primaryRegion`.
    pub failed_over_to: Option<String>,
}

impl RdsOutputs {
    /// What the next reconcile takes from these outputs (once in the status).
    pub fn remembered(&self) -> RdsInputs {
        RdsInputs {
            previous_regions: self.endpoints.iter().map(|e| e.region.clone()).collect(),
            previous_global_cluster_arn: self.global_cluster_arn.clone(),
            previous_writer_region: self.writer_region.clone(),
            failover_to: None,
        }
    }
}

/// Removes every cluster, instance and global cluster this target owns:
/// secondaries, then the primary, then the global cluster, a step per pass
/// as far as AWS has finished the step before. It looks in the spec's
/// regions; [`destroy_remembered`] also where the last status reported.
pub async fn destroy(clients: &AwsClients, target: &Target, mode: Mode) -> Result<StepOutcome<()>> {
    destroy_remembered(clients, target, &RdsInputs::default(), mode).await
}

/// Observes the global database, diffs it with the spec and, in Apply,
/// makes it so. Without `spec.database.aurora` it removes what we own; the
/// outputs show what exists until it is gone.
pub async fn run(
    clients: &AwsClients,
    target: &Target,
    inputs: &RdsInputs,
    mode: Mode,
) -> Result<StepOutcome<RdsOutputs>> {
    let rds = |region: &str| clients.rds(region);
    let announcer = clients.announcer();

    let Some(want) = desired::desired(target, inputs) else {
        if target.database_removal() == DatabaseRemoval::Orphan {
            return orphan(&rds, target, inputs).await;
        }
        let (removed, observed) = teardown(&rds, announcer, target, inputs, mode).await?;
        return Ok(StepOutcome {
            changes: removed.changes,
            conflicts: removed.conflicts,
            pending: removed.pending,
            errors: removed.errors,
            outputs: outputs(target, &observed, &target.region_names()),
        });
    };
    let order: Vec<String> = want.clusters.iter().map(|c| c.region.clone()).collect();
    let mut regions = order.clone();
    regions.extend(inputs.previous_regions.iter().cloned());
    let scope = observe::Scope {
        api_region: Some(&want.primary_region),
        global: Some(&want.global.identifier),
        remembered_global: None,
        regions: &regions,
    };
    let found = observe::observe(&rds, target, scope).await?;
    let plan = diff::diff(target, &want, &found.observed);
    let mut outcome = StepOutcome::<RdsOutputs>::default();
    begin(&mut outcome, &found, &plan);
    let unknown = Finding::texts(&found.errors);
    let observed = match mode {
        Mode::Plan => {
            outcome.changes = plan.ops.iter().map(Op::change).collect();
            found.observed
        }
        // A region that could not be read is not a region without clusters:
        // a create or removal planned from it waits for a complete view.
        Mode::Apply if !unknown.is_empty() => found.observed,
        Mode::Apply => {
            let applied = apply::execute(
                &rds,
                announcer,
                target,
                &found.api_region,
                &plan,
                &found.observed,
            )
            .await;
            let observed = if applied.changes.is_empty() {
                found.observed
            } else {
                // Read again for the outputs and for what is still on its way.
                match observe::observe(&rds, target, scope).await {
                    Ok(again) => {
                        outcome.pending = diff::diff(target, &want, &again.observed).pending;
                        again.observed
                    }
                    Err(e) => {
                        outcome.errors.push(Finding::failed(&found.api_region, &e));
                        found.observed
                    }
                }
            };
            merge(&mut outcome, applied);
            observed
        }
    };
    outcome.outputs = RdsOutputs {
        unknown,
        orphaned: plan.orphaned.clone(),
        failed_over_to: desired::failover_region(target, inputs)
            .filter(|r| desired::aurora(target).is_some_and(|a| a.primary_region != *r))
            .map(str::to_owned),
        ..outputs(target, &observed, &order)
    };
    Ok(outcome)
}

/// The unplanned failover the `globalapi.io/failover-to` annotation asks
/// for: observes the global cluster and the cluster in `to` and, unless the
/// writer is there already, fails over to it (`AllowDataLoss`), announced
/// first. A one-time act beside the reconcile, in Apply only: it is a
/// request, not drift, and `driftPolicy: Report` does not hold it back.
pub async fn failover(clients: &AwsClients, target: &Target, to: &str) -> Result<StepOutcome<()>> {
    let rds = |region: &str| clients.rds(region);
    let announcer = clients.announcer();
    let Some(aurora) = desired::aurora(target) else {
        return Ok(StepOutcome {
            errors: vec![Finding::in_region(
                to,
                format!(
                    "{to}: the globalapi.io/failover-to annotation asks for a failover, but spec.database.aurora is not set: remove the annotation"
                ),
            )],
            ..Default::default()
        });
    };
    if !target.spec.regions.iter().any(|r| r.name == to) {
        return Ok(StepOutcome {
            errors: vec![Finding::in_region(
                to,
                format!(
                    "{to}: the globalapi.io/failover-to annotation names {to}, which is not one of spec.regions: name the region whose cluster should take the writes"
                ),
            )],
            ..Default::default()
        });
    }
    // Called in the region that takes over: the writer's may be down.
    let regions = [to.to_owned()];
    let scope = observe::Scope {
        api_region: Some(to),
        global: Some(&aurora.global_cluster_identifier),
        remembered_global: None,
        regions: &regions,
    };
    let found = observe::observe(&rds, target, scope).await?;
    let plan = diff::failover(target, &found.observed, to);
    let mut outcome = StepOutcome::<()>::default();
    begin(&mut outcome, &found, &plan);
    if found.errors.is_empty() && !plan.ops.is_empty() {
        let applied = apply::execute(&rds, announcer, target, to, &plan, &found.observed).await;
        outcome.changes = applied.changes;
        outcome.pending.extend(applied.pending);
        outcome.errors.extend(applied.errors);
        outcome.conflicts.extend(applied.conflicts);
    }
    Ok(outcome)
}

/// What a step reports before it applies anything: the read errors, then
/// what the diff waits for, refuses and finds to be someone else's.
fn begin<O>(outcome: &mut StepOutcome<O>, found: &Observation, plan: &RdsDiff) {
    outcome.conflicts = plan.conflicts.clone();
    outcome.pending = plan.pending.clone();
    outcome.errors = found.errors.clone();
    outcome.errors.extend(plan.errors.iter().cloned());
}

/// A spec without `aurora` under `removal: Orphan`: what is ours is only
/// observed and reported.
async fn orphan(
    rds: &impl Fn(&str) -> Client,
    target: &Target,
    inputs: &RdsInputs,
) -> Result<StepOutcome<RdsOutputs>> {
    let regions = teardown_regions(target, inputs);
    let found = observe::observe(rds, target, teardown_scope(target, inputs, &regions)).await?;
    Ok(StepOutcome {
        errors: found.errors.clone(),
        outputs: RdsOutputs {
            unknown: Finding::texts(&found.errors),
            orphaned: diff::orphaned(target, &found.observed),
            ..outputs(target, &found.observed, &target.region_names())
        },
        ..Default::default()
    })
}

/// Where a teardown looks: the spec's regions and primary region, and
/// those the last status listed.
fn teardown_regions(target: &Target, inputs: &RdsInputs) -> Vec<String> {
    let mut regions = target.region_names();
    regions.extend(desired::aurora(target).map(|a| a.primary_region.clone()));
    regions.extend(inputs.previous_regions.iter().cloned());
    regions
}

fn teardown_scope<'a>(
    target: &'a Target,
    inputs: &'a RdsInputs,
    regions: &'a [String],
) -> observe::Scope<'a> {
    let spec = desired::aurora(target);
    observe::Scope {
        api_region: spec.map(|a| a.primary_region.as_str()),
        global: spec.map(|a| a.global_cluster_identifier.as_str()),
        remembered_global: inputs.previous_global_cluster(),
        regions,
    }
}

/// [`destroy`], also looking where the last status (`inputs`) reported a
/// cluster or global cluster.
pub async fn destroy_remembered(
    clients: &AwsClients,
    target: &Target,
    inputs: &RdsInputs,
    mode: Mode,
) -> Result<StepOutcome<()>> {
    let rds = |region: &str| clients.rds(region);
    Ok(teardown(&rds, clients.announcer(), target, inputs, mode)
        .await?
        .0)
}

/// The teardown, and the last observation (read again after changes).
async fn teardown(
    rds: &impl Fn(&str) -> Client,
    announcer: &Announcer,
    target: &Target,
    inputs: &RdsInputs,
    mode: Mode,
) -> Result<(StepOutcome<()>, Observed)> {
    let regions = teardown_regions(target, inputs);
    let scope = teardown_scope(target, inputs, &regions);
    let found = observe::observe(rds, target, scope).await?;
    let plan = diff::teardown(target, &found.observed, !found.errors.is_empty());
    let mut outcome = StepOutcome::<()>::default();
    begin(&mut outcome, &found, &plan);
    let observed = match mode {
        Mode::Plan => {
            outcome.changes = plan.ops.iter().map(Op::change).collect();
            found.observed
        }
        Mode::Apply => {
            let applied = apply::execute(
                rds,
                announcer,
                target,
                &found.api_region,
                &plan,
                &found.observed,
            )
            .await;
            let changed = !applied.changes.is_empty();
            merge(&mut outcome, applied);
            if changed {
                match observe::observe(rds, target, scope).await {
                    Ok(again) => again.observed,
                    Err(e) => {
                        outcome.errors.push(Finding::failed(&found.api_region, &e));
                        found.observed
                    }
                }
            } else {
                found.observed
            }
        }
    };
    Ok((outcome, observed))
}

fn merge<O>(outcome: &mut StepOutcome<O>, applied: Applied) {
    outcome.changes = applied.changes;
    outcome.conflicts.extend(applied.conflicts);
    outcome.errors.extend(applied.errors);
    for line in applied.pending {
        if !outcome.pending.contains(&line) {
            outcome.pending.push(line);
        }
    }
}

/// What exists of ours: the global cluster (when ours) and each of our
/// clusters, those of `order` first (the spec's regions), then any other
/// still on its way out, so that the status remembers it for the next pass.
fn outputs(target: &Target, observed: &Observed, order: &[String]) -> RdsOutputs {
    let global = observed
        .global
        .as_ref()
        .filter(|g| diff::global_ownership(target, g, observed).is_ok());
    let mut out = RdsOutputs {
        global_cluster_arn: global.map(|g| g.arn.clone()),
        writer_region: global
            .and_then(|_| observed.writer_region())
            .map(str::to_owned),
        ..Default::default()
    };
    let mut clusters: Vec<&ObservedCluster> = observed
        .clusters()
        .filter(|c| c.ownership.is_ours())
        .collect();
    clusters.sort_by_key(|c| {
        (
            order
                .iter()
                .position(|r| *r == c.region)
                .unwrap_or(usize::MAX),
            c.region.clone(),
        )
    });
    for cluster in clusters {
        let writer = global
            .and_then(|g| g.member(&cluster.region, &cluster.identifier))
            .is_some_and(|m| m.is_writer);
        // The secret stays with the cluster made as the first writer, also
        // after the writer moved.
        if cluster.master_user_secret_arn.is_some()
            && (writer || out.master_user_secret_arn.is_none())
        {
            out.master_user_secret_arn = cluster.master_user_secret_arn.clone();
        }
        out.endpoints.push(RdsEndpoint {
            region: cluster.region.clone(),
            writer: if writer {
                cluster.endpoint.clone()
            } else {
                None
            },
            reader: cluster.reader_endpoint.clone(),
        });
    }
    out
}

/// RDS's part of a pass: the Aurora global database, a cluster and its
/// instances per region.
pub struct AuroraDatabase;

impl ServiceStep for AuroraDatabase {
    const SERVICE: Service = Service::Rds;
    type Inputs = RdsInputs;
    type Outputs = RdsOutputs;
    /// The database's regions and global cluster as the last status saw them.
    type Remembered = RdsInputs;

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
        remembered: &Self::Remembered,
        mode: Mode,
    ) -> impl Future<Output = Result<StepOutcome<()>>> + Send {
        destroy_remembered(clients, target, remembered, mode)
    }
}
