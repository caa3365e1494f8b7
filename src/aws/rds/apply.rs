//! Changing RDS: the operations of a diff in order, each region on its own.
//! Nothing here waits: what must wait for a status (a secondary for an
//! available writer, a cluster's deletion for its instances' deletion, the
//! global cluster's deletion for its members) becomes a pending line and
//! the next pass picks it up.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_rds::{Client, types::Tag};

use crate::aws::{Announcer, Loss};
use crate::error::Error;
use crate::plan::Finding;
use crate::target::Target;

use super::diff::{Op, OpKind, RdsDiff, Stage};
use super::model::{AVAILABLE, MASTER_USERNAME, Observed, Role};
use super::observe;

/// The key that blocks the global cluster's operations.
const GLOBAL: &str = "global";

/// What applying a diff did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub changes: Vec<crate::plan::Change>,
    pub pending: Vec<Finding>,
    /// `<region>: <error>`
    pub errors: Vec<Finding>,
    pub conflicts: Vec<Finding>,
}

/// How one operation ended.
#[derive(Debug)]
enum Outcome {
    Done,
    /// Made, but the resource is still on its way (a cluster deleting).
    DoneWaiting(String),
    /// Already as wanted ("not found" for a delete): nothing was done.
    Gone,
    /// Not made in this pass; a later pass will.
    Waiting(String),
    Conflict(String),
    Failed(Error),
}

/// What the pass knows beyond the observation.
struct State {
    /// region -> whether its cluster is available.
    ready: BTreeMap<String, bool>,
    writer: Option<String>,
    /// Regions (or the global cluster) whose remaining operations are skipped.
    blocked: BTreeSet<String>,
    /// Stages that did not finish: later stages wait for the next pass.
    unsettled: BTreeSet<Stage>,
}

/// Executes the operations of `diff` in order. `api_region` is where the
/// global cluster's API is called.
pub async fn execute(
    rds: &impl Fn(&str) -> Client,
    announcer: &Announcer,
    target: &Target,
    api_region: &str,
    diff: &RdsDiff,
    observed: &Observed,
) -> Applied {
    let mut state = State {
        ready: observed
            .regions
            .iter()
            .filter_map(|(r, c)| c.as_ref().map(|c| (r.clone(), c.status == AVAILABLE)))
            .collect(),
        writer: observed.writer_region().map(str::to_owned),
        blocked: BTreeSet::new(),
        unsettled: diff.held.clone(),
    };
    let calls = Calls {
        rds,
        target,
        api_region,
    };
    let mut applied = Applied::default();
    for op in &diff.ops {
        if state.unsettled.iter().any(|s| *s < op.stage) {
            if let Some(line) = held_back(op) {
                push_once(&mut applied.pending, about(op, line));
            }
            continue;
        }
        let key = op.region().unwrap_or(GLOBAL).to_owned();
        if state.blocked.contains(&key) {
            continue;
        }
        if let Some(loss) = loss(op) {
            announcer.warn(loss, op.change()).await;
        }
        let outcome = step(&calls, op, &mut state).await;
        let mut block = true;
        match outcome {
            Outcome::Done => {
                applied.changes.push(op.change());
                block = false;
            }
            Outcome::Gone => block = false,
            Outcome::DoneWaiting(line) => {
                applied.changes.push(op.change());
                push_once(&mut applied.pending, about(op, line));
            }
            Outcome::Waiting(line) => push_once(&mut applied.pending, about(op, line)),
            Outcome::Conflict(line) => applied.conflicts.push(about(op, line)),
            Outcome::Failed(e) => {
                let region = op.region().unwrap_or(api_region);
                applied.errors.push(Finding::failed(region, &e));
            }
        }
        if block {
            state.blocked.insert(key);
            state.unsettled.insert(op.stage);
        }
    }
    applied
}

/// Whether `op` deletes a database resource, takes a cluster out of the
/// global database (it becomes a standalone cluster with its own writes)
/// or fails over (what was not yet replicated is lost).
/// What `op` can lose, when it is destructive.
fn loss(op: &Op) -> Option<Loss> {
    match op.kind {
        OpKind::MoveWriter {
            unplanned: true, ..
        } => Some(Loss::UnreplicatedWrites),
        OpKind::DeleteCluster { .. }
        | OpKind::DeleteInstance { .. }
        | OpKind::DeleteGlobalCluster { .. }
        | OpKind::RemoveFromGlobalCluster { .. } => Some(Loss::Deletion),
        _ => None,
    }
}

fn push_once(findings: &mut Vec<Finding>, finding: Finding) {
    if !findings.contains(&finding) {
        findings.push(finding);
    }
}

/// `line` about the region of `op`: none for the global cluster's, both
/// for a writer moving.
fn about(op: &Op, line: String) -> Finding {
    match (&op.kind, op.region()) {
        (OpKind::MoveWriter { from, to, .. }, _) => {
            let regions: Vec<&str> = from
                .iter()
                .map(String::as_str)
                .chain([to.as_str()])
                .collect();
            Finding::in_regions(&regions, line)
        }
        (_, Some(region)) => Finding::in_region(region, line),
        (_, None) => Finding::global(line),
    }
}

/// The line for a deletion that waits for an earlier stage.
fn held_back(op: &Op) -> Option<String> {
    match &op.kind {
        OpKind::DeleteCluster {
            identifier,
            region,
            role: Role::Primary,
            ..
        } => Some(format!(
            "rds primary cluster {identifier} in {region} is deleted once the secondary clusters are gone"
        )),
        OpKind::DeleteGlobalCluster { identifier } => Some(format!(
            "rds global cluster {identifier} is deleted once its clusters are gone"
        )),
        _ => None,
    }
}

fn tags(target: &Target) -> Vec<Tag> {
    target
        .tags()
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// A change to something that exists, as its call ended: done, or AWS's
/// error of `operation` sorted by [`classify`].
fn changed<T, E>(
    result: std::result::Result<T, E>,
    operation: &'static str,
    busy: impl FnOnce(&Error) -> String,
) -> Outcome
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    match result {
        Ok(_) => Outcome::Done,
        Err(e) => classify(Error::aws("rds", operation, e), busy),
    }
}

/// Sorts an AWS error of a change to something that exists: gone (done),
/// busy (a later pass), or a failure.
fn classify(e: Error, busy: impl FnOnce(&Error) -> String) -> Outcome {
    match e.aws_code().unwrap_or_default() {
        "DBClusterNotFoundFault" | "DBInstanceNotFound" | "GlobalClusterNotFoundFault" => {
            Outcome::Gone
        }
        _ => waiting_or_failed(e, busy),
    }
}

/// Busy (a later pass) or a failure: for creates, where "not found" (a
/// global cluster or cluster to join) is a failure.
fn waiting_or_failed(e: Error, busy: impl FnOnce(&Error) -> String) -> Outcome {
    match e.aws_code().unwrap_or_default() {
        "InvalidDBClusterStateFault"
        | "InvalidDBInstanceState"
        | "InvalidGlobalClusterStateFault" => Outcome::Waiting(busy(&e)),
        _ => Outcome::Failed(e),
    }
}

/// What every operation's call needs.
struct Calls<'a, R> {
    rds: &'a R,
    target: &'a Target,
    /// Where the global cluster's API is called.
    api_region: &'a str,
}

/// The cluster a `CreateCluster` makes.
struct NewCluster<'a> {
    region: &'a str,
    identifier: &'a str,
    role: Role,
    global: &'a str,
    engine: &'a str,
    engine_version: &'a str,
    deletion_protection: bool,
    write_forwarding: bool,
}

async fn step<R: Fn(&str) -> Client>(calls: &Calls<'_, R>, op: &Op, state: &mut State) -> Outcome {
    match &op.kind {
        OpKind::CreateGlobalCluster(g) => calls.create_global_cluster(g).await,
        OpKind::SetGlobalDeletionProtection {
            identifier,
            desired,
            ..
        } => {
            if op.stage == Stage::GlobalDelete
                && let Some(wait) = calls.global_not_empty(identifier).await
            {
                return wait;
            }
            calls
                .set_global_deletion_protection(identifier, *desired)
                .await
        }
        OpKind::DeleteGlobalCluster { identifier } => {
            match calls.global_not_empty(identifier).await {
                Some(wait) => wait,
                None => calls.delete_global_cluster(identifier).await,
            }
        }
        OpKind::CreateCluster {
            region,
            identifier,
            role,
            global,
            engine,
            engine_version,
            deletion_protection,
            write_forwarding,
        } => {
            let cluster = NewCluster {
                region,
                identifier,
                role: *role,
                global,
                engine,
                engine_version,
                deletion_protection: *deletion_protection,
                write_forwarding: *write_forwarding,
            };
            calls.create_cluster(&cluster, state).await
        }
        OpKind::MoveWriter {
            identifier,
            from,
            to,
            target_arn,
            unplanned,
        } => {
            let from = from.as_deref().unwrap_or("nowhere");
            calls
                .move_writer(identifier, from, to, target_arn, *unplanned, state)
                .await
        }
        OpKind::SetWriteForwarding {
            region,
            identifier,
            desired,
            ..
        } => {
            let request = (calls.rds)(region)
                .modify_db_cluster()
                .enable_global_write_forwarding(*desired);
            modify_cluster(request, region, identifier, "GlobalWriteForwarding").await
        }
        OpKind::SetDeletionProtection {
            region,
            identifier,
            desired,
            ..
        } => {
            let request = (calls.rds)(region)
                .modify_db_cluster()
                .deletion_protection(*desired);
            modify_cluster(request, region, identifier, "DeletionProtection").await
        }
        OpKind::RemoveFromGlobalCluster {
            region,
            identifier,
            arn,
            global,
            ..
        } => {
            calls
                .remove_from_global_cluster(region, identifier, arn, global)
                .await
        }
        OpKind::DeleteCluster {
            region,
            identifier,
            final_snapshot,
            ..
        } => {
            calls
                .delete_cluster(region, identifier, final_snapshot.as_deref())
                .await
        }
        OpKind::CreateInstance {
            region,
            cluster,
            identifier,
            class,
            engine,
        } => {
            if !state.ready.get(region).copied().unwrap_or(false) {
                return Outcome::Waiting(format!(
                    "rds instance {identifier} in {region} is created once cluster {cluster} is available"
                ));
            }
            calls
                .create_instance(region, cluster, identifier, class, engine)
                .await
        }
        OpKind::SetInstanceClass {
            region,
            identifier,
            desired,
            ..
        } => calls.set_instance_class(region, identifier, desired).await,
        OpKind::DeleteInstance {
            region, identifier, ..
        } => calls.delete_instance(region, identifier).await,
    }
}

impl<R: Fn(&str) -> Client> Calls<'_, R> {
    async fn create_global_cluster(&self, g: &super::model::DesiredGlobalCluster) -> Outcome {
        let result = (self.rds)(self.api_region)
            .create_global_cluster()
            .global_cluster_identifier(&g.identifier)
            .engine(&g.engine)
            .engine_version(&g.engine_version)
            .deletion_protection(g.deletion_protection)
            .set_tags(Some(tags(self.target)))
            .send()
            .await;
        match result {
            Ok(_) => Outcome::Done,
            Err(e) => {
                let e = Error::aws("rds", "CreateGlobalCluster", e);
                if e.aws_code() == Some("GlobalClusterAlreadyExistsFault") {
                    Outcome::Waiting(format!(
                        "rds global cluster {} appeared meanwhile; the next pass examines whose it is",
                        g.identifier
                    ))
                } else {
                    Outcome::Failed(e)
                }
            }
        }
    }

    async fn set_global_deletion_protection(&self, identifier: &str, desired: bool) -> Outcome {
        let result = (self.rds)(self.api_region)
            .modify_global_cluster()
            .global_cluster_identifier(identifier)
            .deletion_protection(desired)
            .send()
            .await;
        changed(result, "ModifyGlobalCluster", |e| {
            format!(
                "rds global cluster {identifier} is busy ({e}); DeletionProtection is set in a later pass"
            )
        })
    }

    async fn delete_global_cluster(&self, identifier: &str) -> Outcome {
        let result = (self.rds)(self.api_region)
            .delete_global_cluster()
            .global_cluster_identifier(identifier)
            .send()
            .await;
        changed(result, "DeleteGlobalCluster", |e| {
            format!("rds global cluster {identifier} cannot be deleted yet ({e})")
        })
    }

    async fn create_cluster(&self, cluster: &NewCluster<'_>, state: &mut State) -> Outcome {
        let NewCluster {
            region, identifier, ..
        } = *cluster;
        if cluster.role == Role::Secondary {
            let writer_ready = state
                .writer
                .as_ref()
                .is_some_and(|w| state.ready.get(w).copied().unwrap_or(false));
            if !writer_ready {
                let writer = state.writer.as_deref().unwrap_or("its region");
                return Outcome::Waiting(format!(
                    "rds secondary cluster {identifier} in {region} is created once the primary cluster in {writer} is available"
                ));
            }
        }
        let client = (self.rds)(region);
        let mut request = client
            .create_db_cluster()
            .db_cluster_identifier(identifier)
            .global_cluster_identifier(cluster.global)
            .engine(cluster.engine)
            .engine_version(cluster.engine_version)
            .deletion_protection(cluster.deletion_protection)
            .set_tags(Some(tags(self.target)));
        if cluster.role == Role::Primary {
            // RDS makes the password and keeps it in Secrets Manager.
            request = request
                .master_username(MASTER_USERNAME)
                .manage_master_user_password(true);
        }
        if cluster.write_forwarding {
            request = request.enable_global_write_forwarding(true);
        }
        if let Err(e) = request.send().await {
            let e = Error::aws("rds", "CreateDBCluster", e);
            return match e.aws_code() {
                Some("DBClusterAlreadyExistsFault") => Outcome::Waiting(format!(
                    "rds cluster {identifier} in {region} appeared meanwhile; the next pass examines whose it is"
                )),
                _ => waiting_or_failed(e, |e| {
                    format!("rds cluster {identifier} in {region} cannot be created yet ({e})")
                }),
            };
        }
        if cluster.role == Role::Primary {
            state.writer = Some(region.to_owned());
        }
        // A fresh read: RDS answers `creating` for a while, the emulator at once `available`.
        let ready = matches!(
            observe::cluster_status(&client, identifier).await,
            Ok(Some(status)) if status == AVAILABLE
        );
        state.ready.insert(region.to_owned(), ready);
        Outcome::Done
    }

    /// A planned switchover, or an unplanned failover (what was not yet
    /// replicated is lost).
    async fn move_writer(
        &self,
        identifier: &str,
        from: &str,
        to: &str,
        target_arn: &str,
        unplanned: bool,
        state: &mut State,
    ) -> Outcome {
        let client = (self.rds)(self.api_region);
        let (result, operation) = if unplanned {
            let result = client
                .failover_global_cluster()
                .global_cluster_identifier(identifier)
                .target_db_cluster_identifier(target_arn)
                .allow_data_loss(true)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| Error::aws("rds", "FailoverGlobalCluster", e));
            (result, "failing over")
        } else {
            let result = client
                .switchover_global_cluster()
                .global_cluster_identifier(identifier)
                .target_db_cluster_identifier(target_arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| Error::aws("rds", "SwitchoverGlobalCluster", e));
            (result, "switching over")
        };
        match result {
            Ok(()) => {
                // The writer is on its way: nothing that needs it runs in this pass.
                state.writer = None;
                Outcome::DoneWaiting(format!(
                    "rds global cluster {identifier} is {operation} its writer from {from} to {to}"
                ))
            }
            Err(e) => waiting_or_failed(e, |e| {
                format!(
                    "rds global cluster {identifier} cannot move its writer from {from} to {to} yet ({e})"
                )
            }),
        }
    }

    async fn remove_from_global_cluster(
        &self,
        region: &str,
        identifier: &str,
        arn: &str,
        global: &str,
    ) -> Outcome {
        let result = (self.rds)(region)
            .remove_from_global_cluster()
            .global_cluster_identifier(global)
            .db_cluster_identifier(arn)
            .send()
            .await;
        changed(result, "RemoveFromGlobalCluster", |e| {
            format!(
                "rds cluster {identifier} in {region} cannot leave global cluster {global} yet ({e})"
            )
        })
    }

    /// A cluster goes only after its instances; they take minutes in AWS.
    async fn delete_cluster(
        &self,
        region: &str,
        identifier: &str,
        final_snapshot: Option<&str>,
    ) -> Outcome {
        let client = (self.rds)(region);
        match observe::instances(&client, &self.target.uid, identifier).await {
            Ok(left) if !left.is_empty() => {
                let names: Vec<String> = left
                    .iter()
                    .map(|i| format!("{} ({})", i.identifier, i.status))
                    .collect();
                return Outcome::Waiting(format!(
                    "rds cluster {identifier} in {region} is deleted once its instances are gone: {}",
                    names.join(", ")
                ));
            }
            Ok(_) => {}
            Err(e) => return Outcome::Failed(e),
        }
        let request = client.delete_db_cluster().db_cluster_identifier(identifier);
        let request = match final_snapshot {
            Some(snapshot) => request
                .skip_final_snapshot(false)
                .final_db_snapshot_identifier(snapshot),
            None => request.skip_final_snapshot(true),
        };
        if let Err(e) = request.send().await {
            return classify(Error::aws("rds", "DeleteDBCluster", e), |e| {
                format!("rds cluster {identifier} in {region} cannot be deleted yet ({e})")
            });
        }
        match observe::cluster_status(&client, identifier).await {
            Ok(None) => Outcome::Done,
            Ok(Some(status)) => {
                Outcome::DoneWaiting(format!("rds cluster {identifier} in {region} is {status}"))
            }
            Err(e) => Outcome::Failed(e),
        }
    }

    async fn create_instance(
        &self,
        region: &str,
        cluster: &str,
        identifier: &str,
        class: &str,
        engine: &str,
    ) -> Outcome {
        let result = (self.rds)(region)
            .create_db_instance()
            .db_instance_identifier(identifier)
            .db_cluster_identifier(cluster)
            .db_instance_class(class)
            .engine(engine)
            .set_tags(Some(tags(self.target)))
            .send()
            .await;
        match result {
            Ok(_) => Outcome::Done,
            Err(e) => {
                let e = Error::aws("rds", "CreateDBInstance", e);
                match e.aws_code() {
                    Some("DBInstanceAlreadyExists") => Outcome::Conflict(format!(
                        "rds instance {identifier} in {region} exists outside cluster {cluster}: the name is taken by someone else"
                    )),
                    _ => waiting_or_failed(e, |e| {
                        format!("rds instance {identifier} in {region} cannot be created yet ({e})")
                    }),
                }
            }
        }
    }

    async fn set_instance_class(&self, region: &str, identifier: &str, desired: &str) -> Outcome {
        let result = (self.rds)(region)
            .modify_db_instance()
            .db_instance_identifier(identifier)
            .db_instance_class(desired)
            .apply_immediately(true)
            .send()
            .await;
        changed(result, "ModifyDBInstance", |e| {
            format!(
                "rds instance {identifier} in {region} is busy ({e}); its class is set in a later pass"
            )
        })
    }

    async fn delete_instance(&self, region: &str, identifier: &str) -> Outcome {
        let result = (self.rds)(region)
            .delete_db_instance()
            .db_instance_identifier(identifier)
            .send()
            .await;
        changed(result, "DeleteDBInstance", |e| {
            format!("rds instance {identifier} in {region} cannot be deleted yet ({e})")
        })
    }

    /// `Some` (wait, or gone) while the global cluster still lists members.
    async fn global_not_empty(&self, identifier: &str) -> Option<Outcome> {
        match observe::global_cluster(&(self.rds)(self.api_region), &self.target.uid, identifier)
            .await
        {
            Ok(None) => Some(Outcome::Gone),
            Ok(Some(g)) if !g.members.is_empty() => {
                let arns: Vec<&str> = g.members.iter().map(|m| m.arn.as_str()).collect();
                Some(Outcome::Waiting(format!(
                    "rds global cluster {identifier} is deleted once it has no members; it still lists {}",
                    arns.join(", ")
                )))
            }
            Ok(Some(_)) => None,
            Err(e) => Some(Outcome::Failed(e)),
        }
    }
}

/// Sends one ModifyDBCluster of `identifier`, which sets `field`, at once.
async fn modify_cluster(
    request: aws_sdk_rds::operation::modify_db_cluster::builders::ModifyDBClusterFluentBuilder,
    region: &str,
    identifier: &str,
    field: &str,
) -> Outcome {
    let result = request
        .db_cluster_identifier(identifier)
        .apply_immediately(true)
        .send()
        .await;
    changed(result, "ModifyDBCluster", |e| {
        format!(
            "rds cluster {identifier} in {region} is busy ({e}); {field} is set in a later pass"
        )
    })
}
