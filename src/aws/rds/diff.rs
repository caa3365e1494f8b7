//! What must change in RDS (pure): operations on the global cluster, the
//! regional clusters and their instances, for a spec (`diff`) or for the
//! removal of everything we own (`teardown`), with the lines for what waits,
//! what belongs to someone else and what the operator refuses to do.

use std::collections::BTreeSet;

use crate::plan::Finding;
use crate::target::Target;

use crate::api::DatabaseRemoval;

use super::desired::{aurora, cluster_identifier, final_snapshot_identifier, instance_number};
use super::model::{
    AVAILABLE, Desired, Member, Observed, ObservedCluster, ObservedGlobalCluster, Ownership, Role,
};
pub use super::ops::{Op, OpKind, Stage};

const DELETING: &str = "deleting";
const CREATING: &str = "creating";

/// The line a teardown reports while the spec protects the database.
pub const PROTECTED: &str =
    "spec.database.aurora.deletionProtection is true: set it to false to delete the database";

/// The operations, and what they cannot cover.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RdsDiff {
    pub ops: Vec<Op>,
    /// Things on their way (creating, modifying, deleting).
    pub pending: Vec<Finding>,
    /// Resources under our names that are not ours; never touched.
    pub conflicts: Vec<Finding>,
    /// What the operator refuses to do, each naming what the user can do.
    pub errors: Vec<Finding>,
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

    fn wait(&mut self, finding: Finding) {
        if !self.pending.contains(&finding) {
            self.pending.push(finding);
        }
    }
}

/// Whether the global cluster is ours. Its tags decide where AWS keeps
/// them; without tags (the emulator drops them) it is ours when its writer
/// is one of our clusters, or, without a writer, when it has no members at
/// all (what an interrupted create leaves behind, holding no data, under
/// the name the spec gives) or a member under one of our identifiers.
/// Otherwise the line says whose it is.
pub(crate) fn global_ownership(
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
pub(crate) fn diff(target: &Target, desired: &Desired, observed: &Observed) -> RdsDiff {
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
                d.errors.push(Finding::in_region(primary, format!(
                    "{primary}: global cluster {} does not exist, but clusters {} of this GlobalApi do: a cluster cannot join a global database after its creation; delete them or create the global cluster from the primary one (create-global-cluster --source-db-cluster-identifier); nothing was changed",
                    g.identifier,
                    ours.join(", ")
                )));
                return None;
            }
            d.push(Stage::Global, OpKind::CreateGlobalCluster(g.clone()));
            Some((g.engine.clone(), g.engine_version.clone()))
        }
        Some(found) => {
            if let Err(line) = global_ownership(target, found, observed) {
                d.conflicts.push(Finding::global(line));
                return None;
            }
            if found.engine != g.engine {
                d.errors.push(Finding::in_region(primary, format!(
                    "{primary}: spec.database.aurora.engine is {} but global cluster {} runs {}: the engine of a database cannot change; a new globalClusterIdentifier makes a new database; nothing was changed",
                    g.engine, g.identifier, found.engine
                )));
            } else if found.engine_version != g.engine_version {
                d.errors.push(Finding::in_region(primary, format!(
                    "{primary}: spec.database.aurora.engineVersion change from {} to {} needs a manual upgrade of global cluster {} (modify-global-cluster --engine-version, with --allow-major-version-upgrade for a major one); nothing was changed",
                    found.engine_version, g.engine_version, g.identifier
                )));
            }
            if found.status != AVAILABLE {
                d.wait(Finding::global(format!(
                    "rds global cluster {} is {}",
                    found.identifier, found.status
                )));
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
        d.conflicts.push(Finding::in_region(
            region,
            format!(
                "rds cluster {} in {region} exists and belongs to {}",
                have.identifier,
                have.ownership.describe()
            ),
        ));
        return;
    }
    if have.status == DELETING {
        d.wait(Finding::in_region(
            region,
            format!(
                "rds cluster {} in {region} is deleting; it is created again once it is gone",
                have.identifier
            ),
        ));
        return;
    }
    if observed.global.is_some() && !observed.is_member(have) {
        if have.status == CREATING {
            d.wait(Finding::in_region(region, format!(
                "rds cluster {} in {region} is creating and not yet a member of global cluster {}",
                have.identifier, g.identifier
            )));
        } else {
            d.errors.push(Finding::in_region(region, format!(
                "{region}: rds cluster {} is not a member of global cluster {} (removed from it by hand?): it is a standalone cluster that may hold its own writes; delete it, or take {region} out of spec.regions, to have a new member made; nothing was changed there",
                have.identifier, g.identifier
            )));
            return;
        }
    }
    if have.status != AVAILABLE {
        d.wait(Finding::in_region(
            region,
            format!(
                "rds cluster {} in {region} is {}",
                have.identifier, have.status
            ),
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
        if target.database_removal() == DatabaseRemoval::Orphan {
            d.orphaned.push(format!(
                "rds cluster {} in {region} (a region no longer in spec.regions)",
                have.identifier
            ));
            continue;
        }
        if observed.role_of(have, Some(primary)) == Role::Primary && observed.is_member(have) {
            d.wait(Finding::in_region(region, format!(
                "rds cluster {} in {region} is the writer of global cluster {} and {region} is no longer in spec.regions: it is removed once the writer has moved to {primary}",
                have.identifier, g.identifier
            )));
            continue;
        }
        if g.deletion_protection {
            d.errors.push(Finding::in_region(region, format!(
                "{region}: spec.database.aurora.deletionProtection is true: set it to false to delete rds cluster {} of a region no longer in spec.regions",
                have.identifier
            )));
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
            d.wait(Finding::in_regions(&[writer, primary], format!(
                "rds global cluster {id} switches its writer from {writer} to {primary} once the cluster in {primary} is a member"
            )));
            return;
        }
    };
    if global.status != AVAILABLE || target.status != AVAILABLE {
        d.wait(Finding::in_regions(&[writer, primary], format!(
            "rds global cluster {id} switches its writer from {writer} to {primary} once it and the cluster in {primary} are available"
        )));
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
        d.errors.push(Finding::in_region(to, format!(
            "{to}: the globalapi.io/failover-to annotation asks for a failover, but there is no global cluster"
        )));
        return d;
    };
    if let Err(line) = global_ownership(target, global, observed) {
        d.conflicts.push(Finding::global(line));
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
            d.errors.push(Finding::in_region(to, format!(
                "{to}: the globalapi.io/failover-to annotation names {to}, where global cluster {id} has no cluster of this GlobalApi: name a region of spec.regions whose cluster is a member"
            )));
            return d;
        }
    };
    if global.status != AVAILABLE {
        d.wait(Finding::in_region(
            to,
            format!(
                "rds global cluster {id} is {}; the failover to {to} waits for it",
                global.status
            ),
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
            Some(o) if o.status == DELETING => d.wait(Finding::in_region(
                region,
                format!(
                    "rds instance {} in {region} is deleting; it is created again once it is gone",
                    o.identifier
                ),
            )),
            Some(o) => {
                if o.status != AVAILABLE {
                    d.wait(Finding::in_region(
                        region,
                        format!("rds instance {} in {region} is {}", o.identifier, o.status),
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
            d.wait(Finding::in_region(
                region,
                format!("rds instance {} in {region} is deleting", o.identifier),
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
        d.wait(Finding::in_region(
            region,
            format!("rds cluster {} in {region} is deleting", have.identifier),
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
            d.conflicts.push(Finding::in_region(region, format!(
                "rds instance {} in cluster {} ({region}) belongs to {}: the cluster is deleted once that instance is gone",
                instance.identifier,
                have.identifier,
                instance.ownership.describe()
            )));
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
pub(crate) fn teardown(target: &Target, observed: &Observed, failed_regions: bool) -> RdsDiff {
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
) -> Vec<Finding> {
    let mut errors = Vec::new();
    match spec {
        Some(a) if a.deletion_protection => {
            return vec![Finding::global(PROTECTED)];
        }
        Some(_) => {}
        None => {
            for c in ours.iter().filter(|c| c.deletion_protection) {
                errors.push(Finding::in_region(&c.region, format!(
                    "{}: rds cluster {} has DeletionProtection on and spec.database.aurora is gone: put the database back with deletionProtection: false (or turn the protection off by hand) to delete it",
                    c.region, c.identifier
                )));
            }
            if let Some(g) = global.filter(|g| g.deletion_protection) {
                errors.push(Finding::global(format!(
                    "rds global cluster {} has DeletionProtection on and spec.database.aurora is gone: put the database back with deletionProtection: false (or turn the protection off by hand) to delete it",
                    g.identifier
                )));
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
        d.conflicts.push(Finding::global(format!(
            "global cluster {} has member {}, which is not a cluster of this GlobalApi: remove it from the global cluster; the primary cluster and the global cluster are deleted after it",
            g.identifier, m.arn
        )));
        d.held.insert(Stage::Regions);
    }
    if g.status == DELETING {
        d.wait(Finding::global(format!(
            "rds global cluster {} is deleting",
            g.identifier
        )));
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
mod tests;
