//! RDS's operations: what each does, the stage it belongs to, and the line
//! a plan prints for it.

use crate::plan::{Action, Change, FieldChange, Service};

use super::model::{DesiredGlobalCluster, Role};

/// The order of the work. An operation runs only when every earlier stage
/// finished in the same pass; a stage left unfinished (something still
/// creating or deleting) holds the later ones until a later pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// The global cluster: made, or its writer moved.
    Global,
    /// Every region in a reconcile; the secondary clusters in a teardown.
    Regions,
    /// The writer's removal, once the secondaries are gone.
    Primary,
    /// The global cluster's deletion, once it has no members.
    GlobalDelete,
}

/// One operation, in the stage it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    pub stage: Stage,
    pub kind: OpKind,
}

/// What an operation does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpKind {
    CreateGlobalCluster(DesiredGlobalCluster),
    SetGlobalDeletionProtection {
        identifier: String,
        observed: bool,
        desired: bool,
    },
    DeleteGlobalCluster {
        identifier: String,
    },
    /// The writer moves to `to`: planned (`SwitchoverGlobalCluster`, no data
    /// loss) or, on request, unplanned (`FailoverGlobalCluster` with
    /// `AllowDataLoss`, for a writer region that is down).
    MoveWriter {
        identifier: String,
        from: Option<String>,
        to: String,
        target_arn: String,
        unplanned: bool,
    },
    /// Global write forwarding of a cluster that is not the writer.
    SetWriteForwarding {
        region: String,
        identifier: String,
        observed: bool,
        desired: bool,
    },
    /// A primary (with the master user) or a secondary (joins the writer).
    CreateCluster {
        region: String,
        identifier: String,
        role: Role,
        global: String,
        engine: String,
        engine_version: String,
        deletion_protection: bool,
        /// For a secondary: forward its writes to the writer.
        write_forwarding: bool,
    },
    SetDeletionProtection {
        region: String,
        identifier: String,
        role: Role,
        observed: bool,
        desired: bool,
    },
    RemoveFromGlobalCluster {
        region: String,
        identifier: String,
        arn: String,
        role: Role,
        global: String,
    },
    DeleteCluster {
        region: String,
        identifier: String,
        role: Role,
        /// `None`: skip the final snapshot.
        final_snapshot: Option<String>,
    },
    CreateInstance {
        region: String,
        cluster: String,
        identifier: String,
        class: String,
        engine: String,
    },
    SetInstanceClass {
        region: String,
        identifier: String,
        observed: String,
        desired: String,
    },
    DeleteInstance {
        region: String,
        cluster: String,
        identifier: String,
    },
}

impl Op {
    pub(super) fn new(stage: Stage, kind: OpKind) -> Self {
        Self { stage, kind }
    }

    /// The region of the regional resource; `None` for the global cluster.
    pub fn region(&self) -> Option<&str> {
        match &self.kind {
            OpKind::CreateGlobalCluster(_)
            | OpKind::SetGlobalDeletionProtection { .. }
            | OpKind::DeleteGlobalCluster { .. }
            | OpKind::MoveWriter { .. } => None,
            OpKind::CreateCluster { region, .. }
            | OpKind::SetWriteForwarding { region, .. }
            | OpKind::SetDeletionProtection { region, .. }
            | OpKind::RemoveFromGlobalCluster { region, .. }
            | OpKind::DeleteCluster { region, .. }
            | OpKind::CreateInstance { region, .. }
            | OpKind::SetInstanceClass { region, .. }
            | OpKind::DeleteInstance { region, .. } => Some(region),
        }
    }

    /// The operation as one line, e.g.
    /// `update rds primary cluster gapi-payments-exchange-us-east-1: DeletionProtection false → true`.
    pub fn change(&self) -> Change {
        let region = self.region();
        let change = |action, kind, resource: &str| {
            Change::new(Service::Rds, region, action, kind, resource)
        };
        let flag = |field: &str, o: bool, d: bool| {
            vec![FieldChange::new(
                field,
                Some(o.to_string()),
                Some(d.to_string()),
            )]
        };
        match &self.kind {
            OpKind::CreateGlobalCluster(g) => {
                change(Action::Create, "global cluster", &g.identifier)
            }
            OpKind::SetGlobalDeletionProtection {
                identifier,
                observed,
                desired,
            } => change(Action::Update, "global cluster", identifier).with_fields(flag(
                "DeletionProtection",
                *observed,
                *desired,
            )),
            OpKind::DeleteGlobalCluster { identifier } => {
                change(Action::Delete, "global cluster", identifier)
            }
            OpKind::MoveWriter {
                identifier,
                from,
                to,
                unplanned,
                ..
            } => {
                let resource = if *unplanned {
                    format!("{identifier} (failover: writes not yet replicated to {to} are lost)")
                } else {
                    format!("{identifier} (switchover: no data loss)")
                };
                change(Action::Update, "global cluster", &resource).with_fields(vec![
                    FieldChange::new("Writer", from.clone(), Some(to.clone())),
                ])
            }
            OpKind::SetWriteForwarding {
                identifier,
                observed,
                desired,
                ..
            } => change(Action::Update, Role::Secondary.kind(), identifier).with_fields(flag(
                "GlobalWriteForwarding",
                *observed,
                *desired,
            )),
            OpKind::CreateCluster {
                identifier, role, ..
            } => change(Action::Create, role.kind(), identifier),
            OpKind::SetDeletionProtection {
                identifier,
                role,
                observed,
                desired,
                ..
            } => change(Action::Update, role.kind(), identifier).with_fields(flag(
                "DeletionProtection",
                *observed,
                *desired,
            )),
            OpKind::RemoveFromGlobalCluster {
                identifier,
                role,
                global,
                ..
            } => {
                change(Action::Update, role.kind(), identifier).with_fields(vec![FieldChange::new(
                    "GlobalClusterIdentifier",
                    Some(global.clone()),
                    None,
                )])
            }
            OpKind::DeleteCluster {
                identifier,
                role,
                final_snapshot,
                ..
            } => {
                let resource = match final_snapshot {
                    Some(snapshot) => format!("{identifier} (final snapshot {snapshot})"),
                    None => format!("{identifier} (no final snapshot)"),
                };
                change(Action::Delete, role.kind(), &resource)
            }
            OpKind::CreateInstance { identifier, .. } => {
                change(Action::Create, "instance", identifier)
            }
            OpKind::SetInstanceClass {
                identifier,
                observed,
                desired,
                ..
            } => {
                change(Action::Update, "instance", identifier).with_fields(vec![FieldChange::new(
                    "DBInstanceClass",
                    Some(observed.clone()),
                    Some(desired.clone()),
                )])
            }
            OpKind::DeleteInstance { identifier, .. } => {
                change(Action::Delete, "instance", identifier)
            }
        }
    }
}
