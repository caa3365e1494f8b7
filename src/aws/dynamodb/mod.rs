//! DynamoDB: global tables (version 2019.11.21) replicated to every region
//! of the spec. A new table is made in the first region, with a stream of
//! new and old images and our tags, then replicated one region at a time
//! (DynamoDB takes one replica change per UpdateTable); the replicas it
//! makes carry no tags and are tagged next. Each replica's deletion
//! protection and point-in-time recovery follow the spec, and so does the
//! billing mode. A table of the spec's name that is not ours (tagged by
//! someone else, or untagged outside our global table) is a conflict.
//!
//! Replicas in regions the spec left, and tables the spec no longer names
//! (found through the last status), follow `database.removal`: `Orphan`
//! leaves and reports them, `Delete` removes them one replica at a time,
//! refused while their deletion protection is on.

pub mod apply;
pub mod desired;
pub mod diff;
pub mod observe;

use std::{collections::BTreeSet, future::Future};

use aws_sdk_dynamodb::Client;

use crate::api::DatabaseRemoval;
use crate::aws::AwsClients;
use crate::aws::service::ServiceStep;
use crate::error::Result;
use crate::plan::{Finding, Mode, Service, StepOutcome};
use crate::target::Target;

pub use desired::{Billing, Desired, DesiredTable};
pub use diff::{Found, PROTECTED, TableOp, TablesDiff};
pub use observe::ObservedTable;

/// What the last status listed: the tables and the regions they were in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DynamoInputs {
    pub previous_tables: Vec<String>,
    pub previous_regions: Vec<String>,
}

impl DynamoInputs {
    pub fn is_empty(&self) -> bool {
        self.previous_tables.is_empty()
    }
}

/// One replica, for the status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Replica {
    pub region: String,
    pub arn: String,
    pub stream_arn: Option<String>,
    pub status: String,
}

/// One table and its replicas of ours, for the status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableReplicas {
    pub name: String,
    pub replicas: Vec<Replica>,
}

/// What the status shows of the tables.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DynamoOutputs {
    pub tables: Vec<TableReplicas>,
    /// Reads that failed, with AWS's error: nothing was decided for those tables.
    pub unknown: Vec<String>,
    /// Ours, no longer asked for, left as they are.
    pub orphaned: Vec<String>,
}

impl DynamoOutputs {
    /// What the next reconcile takes from these outputs (once in the status).
    pub fn remembered(&self) -> DynamoInputs {
        let mut regions: Vec<String> = Vec::new();
        for table in &self.tables {
            for replica in &table.replicas {
                if !regions.contains(&replica.region) {
                    regions.push(replica.region.clone());
                }
            }
        }
        DynamoInputs {
            previous_tables: self.tables.iter().map(|t| t.name.clone()).collect(),
            previous_regions: regions,
        }
    }
}

/// Every table of the spec or of the last status, and where to look.
fn scope(target: &Target, inputs: &DynamoInputs) -> (Vec<String>, Vec<String>) {
    let mut names: Vec<String> = desired::desired(target)
        .map(|d| d.tables.iter().map(|t| t.name.clone()).collect())
        .unwrap_or_default();
    for name in &inputs.previous_tables {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    let mut regions = target.region_names();
    for region in &inputs.previous_regions {
        if !regions.contains(region) {
            regions.push(region.clone());
        }
    }
    (names, regions)
}

/// Reads table `name` in every region of `regions`; the errors of those
/// that could not be read.
async fn find(
    dynamodb: &impl Fn(&str) -> Client,
    target: &Target,
    name: &str,
    regions: &[String],
) -> (Found, Vec<Finding>) {
    let mut found = Found::new();
    let mut errors = Vec::new();
    for region in regions {
        match observe::table(&dynamodb(region), region, &target.uid, name).await {
            Ok(table) => {
                found.insert(region.clone(), table);
            }
            Err(e) => errors.push(Finding::failed(region, &e)),
        }
    }
    (found, errors)
}

/// Observes the tables, diffs them with the spec and, in Apply, makes it so.
pub async fn run(
    clients: &AwsClients,
    target: &Target,
    inputs: &DynamoInputs,
    mode: Mode,
) -> Result<StepOutcome<DynamoOutputs>> {
    tables(clients, target, inputs, mode, false).await
}

/// Removes every table this target owns (the spec's and the last status's),
/// one replica per pass, refused while protected.
pub async fn destroy(
    clients: &AwsClients,
    target: &Target,
    inputs: &DynamoInputs,
    mode: Mode,
) -> Result<StepOutcome<()>> {
    let outcome = tables(clients, target, inputs, mode, true).await?;
    Ok(StepOutcome {
        changes: outcome.changes,
        conflicts: outcome.conflicts,
        pending: outcome.pending,
        errors: outcome.errors,
        outputs: (),
    })
}

/// [`run`], or with `teardown` [`destroy`].
async fn tables(
    clients: &AwsClients,
    target: &Target,
    inputs: &DynamoInputs,
    mode: Mode,
    teardown: bool,
) -> Result<StepOutcome<DynamoOutputs>> {
    let dynamodb = |region: &str| clients.dynamodb(region);
    let want = desired::desired(target);
    let (names, regions) = scope(target, inputs);
    let mut outcome = StepOutcome::<DynamoOutputs>::default();
    for name in names {
        let spec = want
            .as_ref()
            .and_then(|d| d.tables.iter().find(|t| t.name == name));
        let (found, errors) = find(&dynamodb, target, &name, &regions).await;
        if !errors.is_empty() {
            // A partial view decides nothing for this table.
            outcome
                .outputs
                .unknown
                .extend(errors.iter().map(|e| e.text.clone()));
            outcome.errors.extend(errors);
            continue;
        }
        let plan = table_plan(target, &name, spec, &found, teardown);
        outcome.pending.extend(plan.pending.iter().cloned());
        outcome.conflicts.extend(plan.conflicts.iter().cloned());
        outcome.errors.extend(plan.errors.iter().cloned());
        outcome
            .outputs
            .orphaned
            .extend(plan.orphaned.iter().cloned());
        let changed = carry_out(&dynamodb, target, &plan, mode, &mut outcome).await;
        let found = if changed {
            find(&dynamodb, target, &name, &regions).await.0
        } else {
            found
        };
        let replicas: Vec<Replica> = diff::ours(&found)
            .into_iter()
            .map(|t| Replica {
                region: t.region.clone(),
                arn: t.arn.clone(),
                stream_arn: t.stream_arn.clone(),
                status: t.status.clone(),
            })
            .collect();
        if !replicas.is_empty() {
            outcome
                .outputs
                .tables
                .push(TableReplicas { name, replicas });
        }
    }
    Ok(outcome)
}

/// What to do with one table: follow its spec (and retire the replicas of
/// regions the spec left), or, without a spec or in a teardown, retire it
/// as the removal policy says.
fn table_plan(
    target: &Target,
    name: &str,
    spec: Option<&DesiredTable>,
    found: &Found,
    teardown: bool,
) -> TablesDiff {
    match (spec, teardown) {
        (Some(table), false) => {
            let spec_regions = target.region_names();
            let mut plan = diff::diff(table, &spec_regions, found);
            let left = diff::retire(
                name,
                &spec_regions,
                found,
                target.database_removal(),
                table.deletion_protection,
            );
            merge(&mut plan, left);
            plan
        }
        (spec, _) => {
            let protected = match spec {
                Some(table) => table.deletion_protection,
                None => diff::ours(found).iter().any(|t| t.deletion_protection),
            };
            let policy = if teardown {
                DatabaseRemoval::Delete
            } else {
                target.database_removal()
            };
            diff::retire(name, &[], found, policy, protected)
        }
    }
}

/// Applies the plan's operations in order (Plan: lists them), up to the
/// first that waits or fails; whether anything changed.
async fn carry_out(
    dynamodb: &impl Fn(&str) -> Client,
    target: &Target,
    plan: &TablesDiff,
    mode: Mode,
    outcome: &mut StepOutcome<DynamoOutputs>,
) -> bool {
    let mut changed = false;
    for op in &plan.ops {
        if mode == Mode::Plan {
            outcome.changes.push(op.change());
            continue;
        }
        match apply::apply(dynamodb, target, op).await {
            apply::Outcome::Done => {
                outcome.changes.push(op.change());
                changed = true;
            }
            apply::Outcome::Waiting(line) => {
                let region = op.change().region.unwrap_or_default();
                outcome.pending.push(Finding::in_region(&region, line));
                break;
            }
            apply::Outcome::Failed(e) => {
                let region = op.change().region.unwrap_or_default();
                outcome.errors.push(Finding::failed(&region, &e));
                break;
            }
        }
    }
    changed
}

fn merge(into: &mut TablesDiff, more: TablesDiff) {
    into.ops.extend(more.ops);
    into.pending.extend(more.pending);
    into.conflicts.extend(more.conflicts);
    into.errors.extend(more.errors);
    into.orphaned.extend(more.orphaned);
    let mut seen = BTreeSet::new();
    into.pending.retain(|line| seen.insert(line.text.clone()));
}

/// DynamoDB's part of a pass: the global tables and their replicas.
pub(crate) struct GlobalTables;

impl ServiceStep for GlobalTables {
    const SERVICE: Service = Service::DynamoDb;
    type Inputs = DynamoInputs;
    type Outputs = DynamoOutputs;
    /// The tables and regions the last status listed.
    type Remembered = DynamoInputs;

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
        destroy(clients, target, remembered, mode)
    }
}
