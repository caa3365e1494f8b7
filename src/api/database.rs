//! The optional Aurora Global Database.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::spec::REGION_RE;

/// A database shared by the regions.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseSpec {
    /// An Aurora Global Database: one writer region, a reader in every region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aurora: Option<AuroraSpec>,

    /// What a spec edit does to clusters it stops asking for (a region
    /// taken out of `spec.regions`, or `aurora` taken out of this section):
    /// `Orphan` (the default) leaves them exactly as they are and says so in
    /// the DatabaseReady condition; `Delete` deletes them (final snapshot
    /// unless `skipFinalSnapshot`, refused while `deletionProtection`). To
    /// delete the whole database, keep `database: {removal: Delete}` and
    /// take out `aurora`. Removing `database` altogether orphans. Deleting
    /// the GlobalApi follows `deletionPolicy`, orphaned clusters included.
    #[serde(default)]
    pub removal: DatabaseRemoval,
}

/// What becomes of clusters the spec stops asking for.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DatabaseRemoval {
    /// Leave them untouched and report them.
    #[default]
    Orphan,
    /// Delete them.
    Delete,
}

/// An Aurora Global Database spanning the regions of the API.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AuroraSpec {
    /// The global cluster identifier: a letter, then letters, digits or
    /// single hyphens, at most 63 characters.
    #[schemars(length(min = 1, max = 63))]
    #[x_kube(validation = Rule::new("self.matches('^[a-zA-Z](-?[a-zA-Z0-9])*$')")
        .message("globalClusterIdentifier must start with a letter and hold only letters, digits and single hyphens"))]
    pub global_cluster_identifier: String,

    /// The Aurora engine.
    pub engine: AuroraEngine,

    /// The engine version, e.g. `16.4` (one that supports global databases).
    #[schemars(length(min = 1, max = 64))]
    pub engine_version: String,

    /// The region of the writer cluster; one of `spec.regions`. A change
    /// is a planned switchover of the global cluster (no data loss): the
    /// writer moves once the new region has caught up, step by step in the
    /// DatabaseReady condition. For an unplanned failover see the
    /// `globalapi.io/failover-to` annotation.
    #[schemars(length(min = 9, max = 32))]
    #[x_kube(validation = Rule::new(format!("self.matches('{REGION_RE}')"))
        .message("database.aurora.primaryRegion must be an AWS region code such as us-east-1"))]
    pub primary_region: String,

    /// The DB instance class of every instance, e.g. `db.r6g.large`.
    #[schemars(length(min = 1, max = 64))]
    #[x_kube(validation = Rule::new("self.matches('^db[.][a-z0-9-]+[.][a-z0-9]+$')")
        .message("instanceClass must be a DB instance class such as db.r6g.large"))]
    pub instance_class: String,

    /// DB instances in each regional cluster, 1 to 15.
    #[serde(default = "default_instances")]
    #[schemars(range(min = 1, max = 15))]
    pub instances_per_region: u32,

    /// Refuse deletion of the clusters while true.
    #[serde(default = "default_true")]
    pub deletion_protection: bool,

    /// Skip the final snapshot when the database is deleted. By default a
    /// final snapshot is kept.
    #[serde(default)]
    pub skip_final_snapshot: bool,

    /// Let the secondary clusters take writes and forward them to the
    /// writer (Aurora's global write forwarding: read local, write global).
    /// Set on every cluster that is not the writer, also after a
    /// switchover; the engine version must support it.
    #[serde(default)]
    pub write_forwarding: bool,
}

fn default_instances() -> u32 {
    1
}

fn default_true() -> bool {
    true
}

/// The Aurora engines that support global databases.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum AuroraEngine {
    /// Aurora PostgreSQL.
    AuroraPostgresql,
    /// Aurora MySQL.
    AuroraMysql,
}
