//! What must change in RDS (pure): operations on the global cluster, the
//! regional clusters and their instances, for a spec (`diff`) or for the
//! removal of everything we own (`teardown`), with the lines for what waits,
//! what belongs to someone else and what the operator refuses to do.

use std::collections::BTreeSet;

use crate::plan::{Action, Change, FieldChange, Service};
use crate::target::Target;

use crate::api::DatabaseRemoval;

use super::desired::{
    aurora, cluster_identifier, final_snapshot_identifier, instance_number, removal,
};
use super::model::{
    AVAILABLE, Desired, DesiredGlobalCluster, Member, Observed, ObservedCluster,
    ObservedGlobalCluster, Ownership, Role,
};

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

const DELETING: &str = "deleting";
const CREATING: &str = "creating";

/// The line a teardown reports while the spec protects the database.
pub const PROTECTED: &str =
    "spec.database.aurora.deletionProtection is true: set it to false to delete the database";

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
    fn new(stage: Stage, kind: OpKind) -> Self {
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

/// The operations, and what they cannot cover.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RdsDiff {
    pub ops: Vec<Op>,
    /// Things on their way (creating, modifying, deleting).
    pub pending: Vec<String>,
    /// Resources under our names that are not ours; never touched.
    pub conflicts: Vec<String>,
    /// What the operator refuses to do, each naming what the user can do.
    pub errors: Vec<String>,
    /// Stages that cannot finish in this pass whatever is done.
    pub held: BTreeSet<Stage>,
    /// Our resources the spec no longer asks for, left as they are
    /// (`spec.database.removal: Orphan`).
    pub orphaned: Vec<String>,
}

impl RdsDiff {
    fn push(&mut self, stage: Stage, kind: OpKind) {
        self.ops.push(Op::new(stage, kind));
    }

    fn wait(&mut self, line: String) {
        if !self.pending.contains(&line) {
            self.pending.push(line);
        }
    }
}

/// Whether the global cluster is ours. Its tags decide where AWS keeps
/// them; without tags (the emulator drops them) it is ours when its writer
/// is one of our clusters, or, without a writer, when it has no members at
/// all (what an interrupted create leaves behind, holding no data, under
/// the name the spec gives) or a member under one of our identifiers.
/// Otherwise the line says whose it is.
pub fn global_ownership(
    target: &Target,
    global: &ObservedGlobalCluster,
    observed: &Observed,
) -> Result<(), String> {
    let id = &global.identifier;
    match &global.ownership {
        Ownership::Ours => Ok(()),
        other @ Ownership::Foreign { .. } => Err(format!(
            "global cluster {id} belongs to {}",
            other.describe()
        )),
        Ownership::Untagged => {
            let ours = |m: &Member| {
                is_our_member(target, observed, m) || is_our_vanished_member(target, observed, m)
            };
            match global.writer() {
                Some(w) if ours(w) => Ok(()),
                Some(w) => Err(format!(
                    "global cluster {id} exists with writer {}, which is not a cluster of this GlobalApi",
                    w.arn
                )),
                None if global.members.is_empty() || global.members.iter().any(ours) => Ok(()),
                None => Err(format!(
                    "global cluster {id} exists with members {}, none of them a cluster of this GlobalApi",
                    arns(&global.members)
                )),
            }
        }
    }
}

/// Whether a member is one of our clusters (found and tagged with our uid).
fn is_our_member(target: &Target, observed: &Observed, member: &Member) -> bool {
    let (Some(region), Some(id)) = (&member.region, &member.cluster_identifier) else {
        return false;
    };
    *id == cluster_identifier(target, region)
        && matches!(observed.regions.get(region), Some(Some(c)) if c.identifier == *id && c.ownership.is_ours())
}

/// Whether a member carries one of our identifiers while its cluster is
/// gone: the emulator keeps members outside us-east-1 listed after their
/// deletion (AWS drops them).
fn is_our_vanished_member(target: &Target, observed: &Observed, member: &Member) -> bool {
    let (Some(region), Some(id)) = (&member.region, &member.cluster_identifier) else {
        return false;
    };
    *id == cluster_identifier(target, region) && matches!(observed.regions.get(region), Some(None))
}

fn arns(members: &[Member]) -> String {
    members
        .iter()
        .map(|m| m.arn.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Compares the spec's global database with what AWS has, in three
/// phases: the global cluster, each region of the spec, the regions the
/// spec left.
pub fn diff(target: &Target, desired: &Desired, observed: &Observed) -> RdsDiff {
    let mut d = RdsDiff::default();
    let Some(engine) = global_cluster(&mut d, target, desired, observed) else {
        return d;
    };
    for want in &desired.clusters {
        region_cluster(&mut d, desired, observed, want, &engine);
    }
    clusters_left(&mut d, target, desired, observed);
    d
}

/// The global cluster: made when missing, checked when found (owner,
/// engine, writer, deletion protection). The engine and version new
/// clusters take (those of the global cluster that exists), or `None` when
/// nothing more can be decided.
fn global_cluster(
    d: &mut RdsDiff,
    target: &Target,
    desired: &Desired,
    observed: &Observed,
) -> Option<(String, String)> {
    let g = &desired.global;
    let primary = desired.primary_region.as_str();
    match &observed.global {
        None => {
            let ours: Vec<&str> = observed
                .clusters()
                .filter(|c| c.ownership.is_ours())
                .map(|c| c.identifier.as_str())
                .collect();
            if !ours.is_empty() {
                d.errors.push(format!(
                    "{primary}: global cluster {} does not exist, but clusters {} of this GlobalApi do: a cluster cannot join a global database after its creation; delete them or create the global cluster from the primary one (create-global-cluster --source-db-cluster-identifier); nothing was changed",
                    g.identifier,
                    ours.join(", ")
                ));
                return None;
            }
            d.push(Stage::Global, OpKind::CreateGlobalCluster(g.clone()));
            Some((g.engine.clone(), g.engine_version.clone()))
        }
        Some(found) => {
            if let Err(line) = global_ownership(target, found, observed) {
                d.conflicts.push(line);
                return None;
            }
            if found.engine != g.engine {
                d.errors.push(format!(
                    "{primary}: spec.database.aurora.engine is {} but global cluster {} runs {}: the engine of a database cannot change; a new globalClusterIdentifier makes a new database; nothing was changed",
                    g.engine, g.identifier, found.engine
                ));
            } else if found.engine_version != g.engine_version {
                d.errors.push(format!(
                    "{primary}: spec.database.aurora.engineVersion change from {} to {} needs a manual upgrade of global cluster {} (modify-global-cluster --engine-version, with --allow-major-version-upgrade for a major one); nothing was changed",
                    found.engine_version, g.engine_version, g.identifier
                ));
            }
            if found.status != AVAILABLE {
                d.wait(format!(
                    "rds global cluster {} is {}",
                    found.identifier, found.status
                ));
            }
            if let Some(writer) = found.writer().and_then(|w| w.region.as_deref())
                && writer != primary
            {
                switch_writer(d, observed, found, writer, primary);
            }
            if found.deletion_protection != g.deletion_protection {
                d.push(
                    Stage::Regions,
                    OpKind::SetGlobalDeletionProtection {
                        identifier: g.identifier.clone(),
                        observed: found.deletion_protection,
                        desired: g.deletion_protection,
                    },
                );
            }
            Some((found.engine.clone(), found.engine_version.clone()))
        }
    }
}

/// One region of the spec: its cluster made, joined and kept, and its
/// instances.
fn region_cluster(
    d: &mut RdsDiff,
    desired: &Desired,
    observed: &Observed,
    want: &super::model::DesiredCluster,
    (engine, engine_version): &(String, String),
) {
    let g = &desired.global;
    let region = want.region.as_str();
    // A region whose observation failed: its error line is reported; nothing is decided.
    let Some(view) = observed.regions.get(region) else {
        return;
    };
    let Some(have) = view else {
        new_cluster(d, desired, observed, want, engine, engine_version);
        return;
    };
    if !have.ownership.is_ours() {
        d.conflicts.push(format!(
            "rds cluster {} in {region} exists and belongs to {}",
            have.identifier,
            have.ownership.describe()
        ));
        return;
    }
    if have.status == DELETING {
        d.wait(format!(
            "rds cluster {} in {region} is deleting; it is created again once it is gone",
            have.identifier
        ));
        return;
    }
    if observed.global.is_some() && !observed.is_member(have) {
        if have.status == CREATING {
            d.wait(format!(
                "rds cluster {} in {region} is creating and not yet a member of global cluster {}",
                have.identifier, g.identifier
            ));
        } else {
            d.errors.push(format!(
                "{region}: rds cluster {} is not a member of global cluster {} (removed from it by hand?): it is a standalone cluster that may hold its own writes; delete it, or take {region} out of spec.regions, to have a new member made; nothing was changed there",
                have.identifier, g.identifier
            ));
            return;
        }
    }
    if have.status != AVAILABLE {
        d.wait(format!(
            "rds cluster {} in {region} is {}",
            have.identifier, have.status
        ));
    }
    cluster_settings(d, desired, observed, want, have, engine);
}

/// A cluster for a region that has none (the primary when there is no
/// writer yet), and its instances.
fn new_cluster(
    d: &mut RdsDiff,
    desired: &Desired,
    observed: &Observed,
    want: &super::model::DesiredCluster,
    engine: &str,
    engine_version: &str,
) {
    let g = &desired.global;
    let region = want.region.as_str();
    let primary = desired.primary_region.as_str();
    let writer_region = observed.writer_region();
    let role = if writer_region.is_none() && region == primary {
        Role::Primary
    } else {
        Role::Secondary
    };
    d.push(
        Stage::Regions,
        OpKind::CreateCluster {
            region: region.to_owned(),
            identifier: want.identifier.clone(),
            role,
            global: g.identifier.clone(),
            engine: engine.to_owned(),
            engine_version: engine_version.to_owned(),
            deletion_protection: want.deletion_protection,
            write_forwarding: role == Role::Secondary && desired.write_forwarding,
        },
    );
    for instance in &want.instances {
        d.push(
            Stage::Regions,
            OpKind::CreateInstance {
                region: region.to_owned(),
                cluster: want.identifier.clone(),
                identifier: instance.identifier.clone(),
                class: instance.class.clone(),
                engine: engine.to_owned(),
            },
        );
    }
}

/// The instances and settings of a cluster of ours that is a member:
/// write forwarding on a secondary, deletion protection.
fn cluster_settings(
    d: &mut RdsDiff,
    desired: &Desired,
    observed: &Observed,
    want: &super::model::DesiredCluster,
    have: &ObservedCluster,
    engine: &str,
) {
    let region = want.region.as_str();
    let primary = desired.primary_region.as_str();
    let role = observed.role_of(have, Some(primary));
    instance_ops(d, want, have, engine);
    if role == Role::Secondary
        && observed.is_member(have)
        && have.write_forwarding != desired.write_forwarding
    {
        d.push(
            Stage::Regions,
            OpKind::SetWriteForwarding {
                region: region.to_owned(),
                identifier: have.identifier.clone(),
                observed: have.write_forwarding,
                desired: desired.write_forwarding,
            },
        );
    }
    if have.deletion_protection != want.deletion_protection {
        d.push(
            Stage::Regions,
            OpKind::SetDeletionProtection {
                region: region.to_owned(),
                identifier: have.identifier.clone(),
                role,
                observed: have.deletion_protection,
                desired: want.deletion_protection,
            },
        );
    }
}

/// Our clusters in regions the spec left (found through the members):
/// orphaned or retired, as `spec.database.removal` says.
fn clusters_left(d: &mut RdsDiff, target: &Target, desired: &Desired, observed: &Observed) {
    let g = &desired.global;
    let primary = desired.primary_region.as_str();
    let wanted: BTreeSet<&str> = desired.clusters.iter().map(|c| c.region.as_str()).collect();
    for have in observed.clusters() {
        let region = have.region.as_str();
        if wanted.contains(region) || !have.ownership.is_ours() {
            continue;
        }
        if removal(target) == DatabaseRemoval::Orphan {
            d.orphaned.push(format!(
                "rds cluster {} in {region} (a region no longer in spec.regions)",
                have.identifier
            ));
            continue;
        }
        if observed.role_of(have, Some(primary)) == Role::Primary && observed.is_member(have) {
            d.wait(format!(
                "rds cluster {} in {region} is the writer of global cluster {} and {region} is no longer in spec.regions: it is removed once the writer has moved to {primary}",
                have.identifier, g.identifier
            ));
            continue;
        }
        if g.deletion_protection {
            d.errors.push(format!(
                "{region}: spec.database.aurora.deletionProtection is true: set it to false to delete rds cluster {} of a region no longer in spec.regions",
                have.identifier
            ));
            continue;
        }
        let snapshot = (!desired.skip_final_snapshot).then(|| snapshot_of(target, have));
        retire(d, observed, have, Role::Secondary, Stage::Regions, snapshot);
    }
}

/// The writer is in `writer`, the spec wants it in `primary`: a planned
/// switchover once the global cluster and the cluster there are available
/// members; until then a line says what it waits for.
fn switch_writer(
    d: &mut RdsDiff,
    observed: &Observed,
    global: &ObservedGlobalCluster,
    writer: &str,
    primary: &str,
) {
    let id = &global.identifier;
    let target = match observed.regions.get(primary) {
        Some(Some(c)) if c.ownership.is_ours() && observed.is_member(c) => c,
        // Not read this pass: nothing is decided.
        None => return,
        _ => {
            d.wait(format!(
                "rds global cluster {id} switches its writer from {writer} to {primary} once the cluster in {primary} is a member"
            ));
            return;
        }
    };
    if global.status != AVAILABLE || target.status != AVAILABLE {
        d.wait(format!(
            "rds global cluster {id} switches its writer from {writer} to {primary} once it and the cluster in {primary} are available"
        ));
        return;
    }
    d.push(
        Stage::Global,
        OpKind::MoveWriter {
            identifier: id.clone(),
            from: Some(writer.to_owned()),
            to: primary.to_owned(),
            target_arn: target.arn.clone(),
            unplanned: false,
        },
    );
}

/// The unplanned failover the `globalapi.io/failover-to` annotation asks
/// for: the writer moves to `to`, accepting the loss of what was not yet
/// replicated there. Nothing when the writer is there already.
pub fn failover(target: &Target, observed: &Observed, to: &str) -> RdsDiff {
    let mut d = RdsDiff::default();
    let Some(global) = &observed.global else {
        d.errors.push(format!(
            "{to}: the globalapi.io/failover-to annotation asks for a failover, but there is no global cluster"
        ));
        return d;
    };
    if let Err(line) = global_ownership(target, global, observed) {
        d.conflicts.push(line);
        return d;
    }
    let writer = global.writer().and_then(|w| w.region.clone());
    if writer.as_deref() == Some(to) {
        return d;
    }
    let id = &global.identifier;
    let cluster = match observed.regions.get(to) {
        Some(Some(c)) if c.ownership.is_ours() && observed.is_member(c) => c,
        None => return d,
        _ => {
            d.errors.push(format!(
                "{to}: the globalapi.io/failover-to annotation names {to}, where global cluster {id} has no cluster of this GlobalApi: name a region of spec.regions whose cluster is a member"
            ));
            return d;
        }
    };
    if global.status != AVAILABLE {
        d.wait(format!(
            "rds global cluster {id} is {}; the failover to {to} waits for it",
            global.status
        ));
        return d;
    }
    d.push(
        Stage::Global,
        OpKind::MoveWriter {
            identifier: id.clone(),
            from: writer,
            to: to.to_owned(),
            target_arn: cluster.arn.clone(),
            unplanned: true,
        },
    );
    d
}

/// Creates missing instances, deletes extra ones (highest number first),
/// and puts the class back.
fn instance_ops(
    d: &mut RdsDiff,
    want: &super::model::DesiredCluster,
    have: &ObservedCluster,
    engine: &str,
) {
    let region = want.region.as_str();
    let ours: Vec<_> = have
        .instances
        .iter()
        .filter(|i| i.ownership.is_ours())
        .collect();
    let mut classes = Vec::new();
    for instance in &want.instances {
        match ours.iter().find(|o| o.identifier == instance.identifier) {
            None => d.push(
                Stage::Regions,
                OpKind::CreateInstance {
                    region: region.to_owned(),
                    cluster: want.identifier.clone(),
                    identifier: instance.identifier.clone(),
                    class: instance.class.clone(),
                    engine: engine.to_owned(),
                },
            ),
            Some(o) if o.status == DELETING => d.wait(format!(
                "rds instance {} in {region} is deleting; it is created again once it is gone",
                o.identifier
            )),
            Some(o) => {
                if o.status != AVAILABLE {
                    d.wait(format!(
                        "rds instance {} in {region} is {}",
                        o.identifier, o.status
                    ));
                }
                if o.class != instance.class {
                    classes.push(OpKind::SetInstanceClass {
                        region: region.to_owned(),
                        identifier: o.identifier.clone(),
                        observed: o.class.clone(),
                        desired: instance.class.clone(),
                    });
                }
            }
        }
    }
    let mut extra: Vec<_> = ours
        .iter()
        .filter(|o| !want.instances.iter().any(|w| w.identifier == o.identifier))
        .collect();
    extra.sort_by_key(|o| {
        std::cmp::Reverse(instance_number(&have.identifier, &o.identifier).unwrap_or(u32::MAX))
    });
    for o in extra {
        if o.status == DELETING {
            d.wait(format!(
                "rds instance {} in {region} is deleting",
                o.identifier
            ));
        } else {
            d.push(
                Stage::Regions,
                OpKind::DeleteInstance {
                    region: region.to_owned(),
                    cluster: have.identifier.clone(),
                    identifier: o.identifier.clone(),
                },
            );
        }
    }
    for kind in classes {
        d.push(Stage::Regions, kind);
    }
}

fn snapshot_of(target: &Target, cluster: &ObservedCluster) -> String {
    let incarnation = cluster.resource_id.as_deref().unwrap_or(&cluster.arn);
    final_snapshot_identifier(target, &cluster.identifier, incarnation)
}

/// The removal of one of our clusters: protection off (the spec allows it),
/// out of the global cluster, instances, then the cluster.
fn retire(
    d: &mut RdsDiff,
    observed: &Observed,
    have: &ObservedCluster,
    role: Role,
    stage: Stage,
    final_snapshot: Option<String>,
) {
    let region = have.region.as_str();
    if have.status == DELETING {
        d.wait(format!(
            "rds cluster {} in {region} is deleting",
            have.identifier
        ));
        d.held.insert(stage);
        return;
    }
    if have.deletion_protection {
        d.push(
            stage,
            OpKind::SetDeletionProtection {
                region: region.to_owned(),
                identifier: have.identifier.clone(),
                role,
                observed: true,
                desired: false,
            },
        );
    }
    if let Some(global) = &observed.global
        && observed.is_member(have)
    {
        d.push(
            stage,
            OpKind::RemoveFromGlobalCluster {
                region: region.to_owned(),
                identifier: have.identifier.clone(),
                arn: have.arn.clone(),
                role,
                global: global.identifier.clone(),
            },
        );
    }
    retire_instances(d, have, stage);
    d.push(
        stage,
        OpKind::DeleteCluster {
            region: region.to_owned(),
            identifier: have.identifier.clone(),
            role,
            final_snapshot,
        },
    );
}

/// The instances of a cluster being retired, highest number first; one
/// that is not ours holds the cluster back.
fn retire_instances(d: &mut RdsDiff, have: &ObservedCluster, stage: Stage) {
    let region = have.region.as_str();
    let mut ours: Vec<_> = Vec::new();
    for instance in &have.instances {
        if instance.status == DELETING {
            continue;
        }
        if instance.ownership.is_ours() {
            ours.push(instance);
        } else {
            d.conflicts.push(format!(
                "rds instance {} in cluster {} ({region}) belongs to {}: the cluster is deleted once that instance is gone",
                instance.identifier,
                have.identifier,
                instance.ownership.describe()
            ));
            d.held.insert(stage);
        }
    }
    ours.sort_by_key(|o| {
        std::cmp::Reverse(instance_number(&have.identifier, &o.identifier).unwrap_or(u32::MAX))
    });
    for instance in ours {
        d.push(
            stage,
            OpKind::DeleteInstance {
                region: region.to_owned(),
                cluster: have.identifier.clone(),
                identifier: instance.identifier.clone(),
            },
        );
    }
}

/// Everything of ours that a spec without `aurora` leaves in place under
/// `removal: Orphan`, one line each.
pub fn orphaned(target: &Target, observed: &Observed) -> Vec<String> {
    let mut lines: Vec<String> = observed
        .clusters()
        .filter(|c| c.ownership.is_ours())
        .map(|c| format!("rds cluster {} in {}", c.identifier, c.region))
        .collect();
    lines.sort();
    if let Some(g) = observed
        .global
        .as_ref()
        .filter(|g| global_ownership(target, g, observed).is_ok())
    {
        lines.push(format!("rds global cluster {}", g.identifier));
    }
    lines
}

/// The removal of everything this target owns in RDS: the secondaries,
/// then the writer, then the global cluster. Refused while the spec
/// protects the database, and while a cluster of ours is protected and the
/// spec no longer says whether it may go.
pub fn teardown(target: &Target, observed: &Observed, failed_regions: bool) -> RdsDiff {
    let mut d = RdsDiff::default();
    let spec = aurora(target);
    let ours: Vec<&ObservedCluster> = observed
        .clusters()
        .filter(|c| c.ownership.is_ours())
        .collect();
    let global = observed
        .global
        .as_ref()
        .filter(|g| global_ownership(target, g, observed).is_ok());
    if ours.is_empty() && global.is_none() {
        return d;
    }

    let refusals = protection_refusals(spec, &ours, global);
    if !refusals.is_empty() {
        d.errors = refusals;
        return d;
    }

    let skip_final = spec.is_some_and(|a| a.skip_final_snapshot);
    let primary = spec.map(|a| a.primary_region.as_str());
    if failed_regions {
        // A region we could not read may still hold a secondary.
        d.held.insert(Stage::Regions);
    }
    let mut by_stage: Vec<(Stage, Role, &ObservedCluster)> = ours
        .iter()
        .map(|c| match observed.role_of(c, primary) {
            Role::Primary => (Stage::Primary, Role::Primary, *c),
            Role::Secondary => (Stage::Regions, Role::Secondary, *c),
        })
        .collect();
    by_stage.sort_by_key(|(stage, _, c)| (*stage, c.region.clone()));
    for (stage, role, c) in by_stage {
        let snapshot = (!skip_final).then(|| snapshot_of(target, c));
        retire(&mut d, observed, c, role, stage, snapshot);
    }

    if let Some(g) = global {
        retire_global(&mut d, target, observed, g);
    }
    d
}

/// Why the database may not be deleted: the spec protects it, or (the
/// spec's database gone) clusters or the global cluster carry deletion
/// protection.
fn protection_refusals(
    spec: Option<&crate::api::AuroraSpec>,
    ours: &[&ObservedCluster],
    global: Option<&ObservedGlobalCluster>,
) -> Vec<String> {
    let mut errors = Vec::new();
    match spec {
        Some(a) if a.deletion_protection => {
            return vec![PROTECTED.to_owned()];
        }
        Some(_) => {}
        None => {
            for c in ours.iter().filter(|c| c.deletion_protection) {
                errors.push(format!(
                    "{}: rds cluster {} has DeletionProtection on and spec.database.aurora is gone: put the database back with deletionProtection: false (or turn the protection off by hand) to delete it",
                    c.region, c.identifier
                ));
            }
            if let Some(g) = global.filter(|g| g.deletion_protection) {
                errors.push(format!(
                    "rds global cluster {} has DeletionProtection on and spec.database.aurora is gone: put the database back with deletionProtection: false (or turn the protection off by hand) to delete it",
                    g.identifier
                ));
            }
        }
    }
    errors
}

/// The global cluster goes last, once no member is left; a member that is
/// not ours holds everything back.
fn retire_global(d: &mut RdsDiff, target: &Target, observed: &Observed, g: &ObservedGlobalCluster) {
    for m in &g.members {
        if is_our_member(target, observed, m) || is_our_vanished_member(target, observed, m) {
            continue;
        }
        d.conflicts.push(format!(
            "global cluster {} has member {}, which is not a cluster of this GlobalApi: remove it from the global cluster; the primary cluster and the global cluster are deleted after it",
            g.identifier, m.arn
        ));
        d.held.insert(Stage::Regions);
    }
    if g.status == DELETING {
        d.wait(format!("rds global cluster {} is deleting", g.identifier));
        return;
    }
    if g.deletion_protection {
        d.push(
            Stage::GlobalDelete,
            OpKind::SetGlobalDeletionProtection {
                identifier: g.identifier.clone(),
                observed: true,
                desired: false,
            },
        );
    }
    d.push(
        Stage::GlobalDelete,
        OpKind::DeleteGlobalCluster {
            identifier: g.identifier.clone(),
        },
    );
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::aws::rds::desired::{RdsInputs, desired, fixtures::with_database};
    use crate::aws::rds::model::{ObservedInstance, Ownership};

    const G_ARN: &str = "arn:aws:rds::123456789012:global-cluster:exchange";

    fn arn(region: &str, id: &str) -> String {
        format!("arn:aws:rds:{region}:123456789012:cluster:{id}")
    }

    /// AWS exactly as the spec wants it.
    fn converged(t: &Target) -> Observed {
        let want = desired(t, &RdsInputs::default()).expect("database wanted");
        let mut regions = BTreeMap::new();
        let mut members = Vec::new();
        for c in &want.clusters {
            members.push(Member::from_arn(
                &arn(&c.region, &c.identifier),
                c.role == Role::Primary,
            ));
            regions.insert(
                c.region.clone(),
                Some(ObservedCluster {
                    region: c.region.clone(),
                    identifier: c.identifier.clone(),
                    arn: arn(&c.region, &c.identifier),
                    status: AVAILABLE.into(),
                    engine: want.global.engine.clone(),
                    engine_version: want.global.engine_version.clone(),
                    deletion_protection: c.deletion_protection,
                    global_cluster_identifier: Some(want.global.identifier.clone()),
                    endpoint: Some(format!(
                        "{}.cluster-x.{}.rds.amazonaws.com",
                        c.identifier, c.region
                    )),
                    reader_endpoint: Some(format!(
                        "{}.cluster-ro-x.{}.rds.amazonaws.com",
                        c.identifier, c.region
                    )),
                    resource_id: Some(format!("cluster-{}", c.region)),
                    master_user_secret_arn: None,
                    write_forwarding: false,
                    ownership: Ownership::Ours,
                    instances: c
                        .instances
                        .iter()
                        .map(|i| ObservedInstance {
                            identifier: i.identifier.clone(),
                            class: i.class.clone(),
                            status: AVAILABLE.into(),
                            ownership: Ownership::Ours,
                        })
                        .collect(),
                }),
            );
        }
        Observed {
            global: Some(ObservedGlobalCluster {
                identifier: want.global.identifier.clone(),
                arn: G_ARN.into(),
                status: AVAILABLE.into(),
                engine: want.global.engine.clone(),
                engine_version: want.global.engine_version.clone(),
                deletion_protection: want.global.deletion_protection,
                members,
                ownership: Ownership::Untagged,
            }),
            regions,
        }
    }

    fn empty(t: &Target) -> Observed {
        Observed {
            global: None,
            regions: t.regions().map(|r| (r.name.clone(), None)).collect(),
        }
    }

    fn lines(d: &RdsDiff) -> Vec<String> {
        d.ops.iter().map(|op| op.change().to_string()).collect()
    }

    fn cluster<'a>(o: &'a mut Observed, region: &str) -> &'a mut ObservedCluster {
        o.regions
            .get_mut(region)
            .and_then(Option::as_mut)
            .expect("cluster observed")
    }

    /// `o` with the writer moved to `region`.
    fn writer_in(mut o: Observed, region: &str) -> Observed {
        if let Some(g) = o.global.as_mut() {
            for m in &mut g.members {
                m.is_writer = m.region.as_deref() == Some(region);
            }
        }
        o
    }

    #[test]
    fn a_new_primary_region_is_a_planned_switchover_once_both_are_available() {
        let mut t = with_database("");
        let now = converged(&t);
        if let Some(a) = t.spec.database.as_mut().and_then(|d| d.aurora.as_mut()) {
            a.primary_region = "eu-west-1".into();
        }
        let want = desired(&t, &RdsInputs::default()).expect("database");
        let d = diff(&t, &want, &now);
        assert_eq!(
            lines(&d),
            [
                "update rds global cluster exchange (switchover: no data loss): Writer us-east-1 → eu-west-1"
            ]
        );
        assert!(d.errors.is_empty(), "{:?}", d.errors);
        match &d.ops[0].kind {
            OpKind::MoveWriter {
                target_arn,
                unplanned,
                ..
            } => {
                assert_eq!(
                    target_arn,
                    &arn("eu-west-1", "gapi-payments-exchange-eu-west-1")
                );
                assert!(!unplanned);
            }
            other => panic!("not a writer move: {other:?}"),
        }

        // Under way: one line, no second request.
        let mut moving = now.clone();
        if let Some(g) = moving.global.as_mut() {
            g.status = "switching-over".into();
        }
        let d = diff(&t, &want, &moving);
        assert!(d.ops.is_empty(), "{:?}", lines(&d));
        assert!(
            d.pending
                .iter()
                .any(|p| p.contains("switches its writer from us-east-1 to eu-west-1")),
            "{:?}",
            d.pending
        );

        // Done: nothing left.
        let moved = writer_in(now, "eu-west-1");
        assert_eq!(diff(&t, &want, &moved), RdsDiff::default());
    }

    #[test]
    fn a_writer_moved_by_hand_is_switched_back_and_a_failover_request_stands_in() {
        let t = with_database("");
        let want = desired(&t, &RdsInputs::default()).expect("database");
        let moved = writer_in(converged(&t), "eu-west-1");
        assert_eq!(
            lines(&diff(&t, &want, &moved)),
            [
                "update rds global cluster exchange (switchover: no data loss): Writer eu-west-1 → us-east-1"
            ]
        );
        // Asked for by the annotation: eu-west-1 stands in for primaryRegion.
        let inputs = RdsInputs {
            failover_to: Some("eu-west-1".into()),
            ..Default::default()
        };
        let stand_in = desired(&t, &inputs).expect("database");
        assert_eq!(stand_in.primary_region, "eu-west-1");
        assert_eq!(diff(&t, &stand_in, &moved), RdsDiff::default());
        // A region outside the spec is no stand-in.
        let elsewhere = RdsInputs {
            failover_to: Some("ap-south-1".into()),
            ..Default::default()
        };
        assert_eq!(
            desired(&t, &elsewhere).expect("database").primary_region,
            "us-east-1"
        );
    }

    #[test]
    fn a_failover_request_moves_the_writer_accepting_data_loss() {
        let t = with_database("");
        let now = converged(&t);
        let d = failover(&t, &now, "eu-west-1");
        assert_eq!(
            lines(&d),
            [
                "update rds global cluster exchange (failover: writes not yet replicated to eu-west-1 are lost): Writer us-east-1 → eu-west-1"
            ]
        );
        assert!(matches!(
            d.ops[0].kind,
            OpKind::MoveWriter {
                unplanned: true,
                ..
            }
        ));
        // Already there: nothing.
        assert_eq!(
            failover(&t, &writer_in(now.clone(), "eu-west-1"), "eu-west-1"),
            RdsDiff::default()
        );
        // Busy: it waits.
        let mut busy = now.clone();
        if let Some(g) = busy.global.as_mut() {
            g.status = "failing-over".into();
        }
        let d = failover(&t, &busy, "eu-west-1");
        assert!(d.ops.is_empty() && d.pending.len() == 1, "{d:?}");
        // No cluster of ours there: an error naming the annotation.
        let mut without = now;
        without.regions.insert("eu-west-1".into(), None);
        let d = failover(&t, &without, "eu-west-1");
        assert!(d.ops.is_empty());
        assert!(
            d.errors[0].contains("globalapi.io/failover-to"),
            "{:?}",
            d.errors
        );
    }

    #[test]
    fn write_forwarding_is_set_on_the_secondaries_only() {
        let t = with_database("    writeForwarding: true\n");
        let want = desired(&t, &RdsInputs::default()).expect("database");
        assert!(want.write_forwarding);
        let d = diff(&t, &want, &converged(&t));
        assert_eq!(
            lines(&d),
            [
                "update rds secondary cluster gapi-payments-exchange-eu-west-1: GlobalWriteForwarding false → true"
            ]
        );
        // From nothing: the secondary is created forwarding, the primary not.
        let d = diff(&t, &want, &empty(&t));
        let forwarding: Vec<(&str, bool)> = d
            .ops
            .iter()
            .filter_map(|op| match &op.kind {
                OpKind::CreateCluster {
                    region,
                    write_forwarding,
                    ..
                } => Some((region.as_str(), *write_forwarding)),
                _ => None,
            })
            .collect();
        assert_eq!(forwarding, [("us-east-1", false), ("eu-west-1", true)]);
    }

    #[test]
    fn nothing_creates_everything_in_order_and_converged_nothing() {
        let t = with_database("");
        let want = desired(&t, &RdsInputs::default()).expect("wanted");
        let d = diff(&t, &want, &empty(&t));
        assert_eq!(
            lines(&d),
            [
                "create rds global cluster exchange",
                "create rds primary cluster gapi-payments-exchange-us-east-1",
                "create rds instance gapi-payments-exchange-us-east-1-1",
                "create rds secondary cluster gapi-payments-exchange-eu-west-1",
                "create rds instance gapi-payments-exchange-eu-west-1-1",
            ]
        );
        assert!(matches!(
            &d.ops[1].kind,
            OpKind::CreateCluster { role: Role::Primary, engine, engine_version, deletion_protection: true, .. }
                if engine == "aurora-postgresql" && engine_version == "16.4"
        ));
        assert_eq!(d.ops[0].stage, Stage::Global);
        assert_eq!(diff(&t, &want, &converged(&t)), RdsDiff::default());
    }

    #[test]
    fn deletion_protection_drift_is_one_update_per_resource() {
        let t = with_database("");
        let want = desired(&t, &RdsInputs::default()).expect("wanted");
        let mut o = converged(&t);
        cluster(&mut o, "us-east-1").deletion_protection = false;
        if let Some(g) = o.global.as_mut() {
            g.deletion_protection = false;
        }
        assert_eq!(
            lines(&diff(&t, &want, &o)),
            [
                "update rds global cluster exchange: DeletionProtection false → true",
                "update rds primary cluster gapi-payments-exchange-us-east-1: DeletionProtection false → true",
            ]
        );
    }

    #[test]
    fn instances_follow_the_count_and_class() {
        let t = with_database("    instancesPerRegion: 2\n");
        let want = desired(&t, &RdsInputs::default()).expect("wanted");
        let mut o = converged(&t);
        // One deleted by hand, one resized by hand.
        cluster(&mut o, "us-east-1").instances.remove(0);
        cluster(&mut o, "eu-west-1").instances[1].class = "db.r6g.xlarge".into();
        assert_eq!(
            lines(&diff(&t, &want, &o)),
            [
                "create rds instance gapi-payments-exchange-us-east-1-1",
                "update rds instance gapi-payments-exchange-eu-west-1-2: DBInstanceClass db.r6g.xlarge → db.r6g.large",
            ]
        );
        // Fewer instances: the highest numbers go first.
        let three = with_database("    instancesPerRegion: 3\n");
        let one = with_database("    instancesPerRegion: 1\n");
        let d = diff(
            &one,
            &desired(&one, &RdsInputs::default()).expect("wanted"),
            &converged(&three),
        );
        assert_eq!(
            lines(&d),
            [
                "delete rds instance gapi-payments-exchange-us-east-1-3",
                "delete rds instance gapi-payments-exchange-us-east-1-2",
                "delete rds instance gapi-payments-exchange-eu-west-1-3",
                "delete rds instance gapi-payments-exchange-eu-west-1-2",
            ]
        );
    }

    #[test]
    fn engine_changes_are_refused_with_a_line() {
        let t = with_database("");
        let want = desired(&t, &RdsInputs::default()).expect("wanted");
        let mut o = converged(&t);
        if let Some(g) = o.global.as_mut() {
            g.engine_version = "15.8".into();
        }
        let d = diff(&t, &want, &o);
        assert!(d.ops.is_empty(), "{:?}", lines(&d));
        assert_eq!(
            d.errors,
            [
                "us-east-1: spec.database.aurora.engineVersion change from 15.8 to 16.4 needs a manual upgrade of global cluster exchange (modify-global-cluster --engine-version, with --allow-major-version-upgrade for a major one); nothing was changed"
            ]
        );
    }

    #[test]
    fn statuses_other_than_available_are_pending() {
        let t = with_database("");
        let want = desired(&t, &RdsInputs::default()).expect("wanted");
        let mut o = converged(&t);
        cluster(&mut o, "eu-west-1").status = "creating".into();
        cluster(&mut o, "us-east-1").instances[0].status = "modifying".into();
        let d = diff(&t, &want, &o);
        assert!(d.ops.is_empty());
        assert_eq!(
            d.pending,
            [
                "rds instance gapi-payments-exchange-us-east-1-1 in us-east-1 is modifying",
                "rds cluster gapi-payments-exchange-eu-west-1 in eu-west-1 is creating",
            ]
        );
    }

    #[test]
    fn foreign_global_cluster_and_cluster_are_conflicts() {
        let t = with_database("");
        let want = desired(&t, &RdsInputs::default()).expect("wanted");
        let mut o = converged(&t);
        if let Some(g) = o.global.as_mut() {
            g.members[0] = Member::from_arn(&arn("us-east-1", "theirs"), true);
        }
        let d = diff(&t, &want, &o);
        assert!(d.ops.is_empty());
        assert_eq!(
            d.conflicts,
            [format!(
                "global cluster exchange exists with writer {}, which is not a cluster of this GlobalApi",
                arn("us-east-1", "theirs")
            )]
        );

        let mut o = empty(&t);
        o.global = converged(&t).global.map(|mut g| {
            g.members.clear();
            g
        });
        let mut theirs = converged(&t)
            .regions
            .remove("eu-west-1")
            .flatten()
            .expect("cluster");
        theirs.ownership = Ownership::Untagged;
        o.regions.insert("eu-west-1".into(), Some(theirs));
        let d = diff(&t, &want, &o);
        assert_eq!(
            d.conflicts,
            [
                "rds cluster gapi-payments-exchange-eu-west-1 in eu-west-1 exists and belongs to no GlobalApi"
            ]
        );
        // The empty global cluster is adopted; the primary is made.
        assert_eq!(
            lines(&d),
            [
                "create rds primary cluster gapi-payments-exchange-us-east-1",
                "create rds instance gapi-payments-exchange-us-east-1-1",
            ]
        );
    }

    #[test]
    fn a_region_left_is_orphaned_by_default() {
        let both = with_database("    deletionProtection: false\n");
        let mut one = both.clone();
        one.spec.regions.retain(|r| r.name == "us-east-1");
        let want = desired(&one, &RdsInputs::default()).expect("wanted");
        let d = diff(&one, &want, &converged(&both));
        assert!(d.ops.is_empty(), "{:?}", d.ops);
        assert!(d.errors.is_empty() && d.conflicts.is_empty(), "{d:?}");
        assert_eq!(
            d.orphaned,
            [
                "rds cluster gapi-payments-exchange-eu-west-1 in eu-west-1 (a region no longer in spec.regions)"
            ]
        );
    }

    #[test]
    fn a_database_left_is_orphaned_by_default() {
        let t = with_database("");
        let mut gone = t.clone();
        gone.spec.database = None;
        assert_eq!(
            orphaned(&gone, &converged(&t)),
            [
                "rds cluster gapi-payments-exchange-eu-west-1 in eu-west-1",
                "rds cluster gapi-payments-exchange-us-east-1 in us-east-1",
                "rds global cluster exchange",
            ]
        );
    }

    #[test]
    fn a_region_left_is_removed_from_the_global_cluster_then_deleted() {
        let both = with_database("    deletionProtection: false\n  removal: Delete\n");
        let mut one = both.clone();
        one.spec.regions.retain(|r| r.name == "us-east-1");
        let want = desired(&one, &RdsInputs::default()).expect("wanted");
        let d = diff(&one, &want, &converged(&both));
        assert_eq!(
            lines(&d),
            [
                "update rds secondary cluster gapi-payments-exchange-eu-west-1: GlobalClusterIdentifier exchange → (none)",
                "delete rds instance gapi-payments-exchange-eu-west-1-1",
                format!(
                    "delete rds secondary cluster gapi-payments-exchange-eu-west-1 (final snapshot {})",
                    final_snapshot_identifier(&one, "gapi-payments-exchange-eu-west-1", "cluster-eu-west-1")
                )
                .as_str(),
            ]
        );
        // Protected by the spec: refused with a line naming the field.
        let protected = with_database("  removal: Delete\n");
        let mut one = protected.clone();
        one.spec.regions.retain(|r| r.name == "us-east-1");
        let d = diff(
            &one,
            &desired(&one, &RdsInputs::default()).expect("wanted"),
            &converged(&protected),
        );
        assert!(d.ops.is_empty());
        assert_eq!(
            d.errors,
            [
                "eu-west-1: spec.database.aurora.deletionProtection is true: set it to false to delete rds cluster gapi-payments-exchange-eu-west-1 of a region no longer in spec.regions"
            ]
        );
    }

    #[test]
    fn teardown_is_refused_while_protected() {
        let t = with_database("");
        let d = teardown(&t, &converged(&t), false);
        assert!(d.ops.is_empty());
        assert_eq!(d.errors, [PROTECTED]);
        // Nothing of ours: nothing to refuse.
        assert_eq!(teardown(&t, &empty(&t), false), RdsDiff::default());
    }

    #[test]
    fn teardown_goes_secondaries_then_primary_then_global() {
        let t = with_database("    deletionProtection: false\n    skipFinalSnapshot: true\n");
        let mut o = converged(&t);
        // Protection turned on by hand is turned off first: the spec allows deletion.
        cluster(&mut o, "eu-west-1").deletion_protection = true;
        let d = teardown(&t, &o, false);
        let staged: Vec<(Stage, String)> = d
            .ops
            .iter()
            .map(|op| (op.stage, op.change().to_string()))
            .collect();
        let expected = [
            (
                Stage::Regions,
                "update rds secondary cluster gapi-payments-exchange-eu-west-1: DeletionProtection true → false",
            ),
            (
                Stage::Regions,
                "update rds secondary cluster gapi-payments-exchange-eu-west-1: GlobalClusterIdentifier exchange → (none)",
            ),
            (
                Stage::Regions,
                "delete rds instance gapi-payments-exchange-eu-west-1-1",
            ),
            (
                Stage::Regions,
                "delete rds secondary cluster gapi-payments-exchange-eu-west-1 (no final snapshot)",
            ),
            (
                Stage::Primary,
                "update rds primary cluster gapi-payments-exchange-us-east-1: GlobalClusterIdentifier exchange → (none)",
            ),
            (
                Stage::Primary,
                "delete rds instance gapi-payments-exchange-us-east-1-1",
            ),
            (
                Stage::Primary,
                "delete rds primary cluster gapi-payments-exchange-us-east-1 (no final snapshot)",
            ),
            (Stage::GlobalDelete, "delete rds global cluster exchange"),
        ];
        let expected: Vec<(Stage, String)> = expected
            .iter()
            .map(|(s, l)| (*s, (*l).to_owned()))
            .collect();
        assert_eq!(staged, expected);
        assert!(d.errors.is_empty() && d.held.is_empty());
    }

    #[test]
    fn teardown_waits_for_deleting_secondaries_and_foreign_members() {
        let t = with_database("    deletionProtection: false\n");
        let mut o = converged(&t);
        cluster(&mut o, "eu-west-1").status = DELETING.into();
        if let Some(g) = o.global.as_mut() {
            g.members
                .push(Member::from_arn(&arn("ap-south-1", "theirs"), false));
        }
        let d = teardown(&t, &o, false);
        assert_eq!(d.held, BTreeSet::from([Stage::Regions]));
        assert_eq!(
            d.pending,
            ["rds cluster gapi-payments-exchange-eu-west-1 in eu-west-1 is deleting"]
        );
        assert_eq!(d.conflicts.len(), 1, "{:?}", d.conflicts);
        assert!(d.conflicts[0].contains(&arn("ap-south-1", "theirs")));
    }

    #[test]
    fn without_the_spec_a_protected_cluster_is_left_with_a_line() {
        let t = with_database("");
        let o = converged(&t);
        let mut gone = t.clone();
        gone.spec.database = None;
        let d = teardown(&gone, &o, false);
        assert!(d.ops.is_empty());
        assert_eq!(d.errors.len(), 3, "{:?}", d.errors);
        assert!(d.errors[0].starts_with(
            "eu-west-1: rds cluster gapi-payments-exchange-eu-west-1 has DeletionProtection on"
        ));
    }
}
