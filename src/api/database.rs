//! The optional data layer: an Aurora Global Database and DynamoDB global
//! tables.

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

    /// DynamoDB global tables, each replicated to every region of the spec
    /// (global tables version 2019.11.21: every replica takes writes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamodb: Option<DynamoDbSpec>,

    /// What a spec edit does to clusters and tables it stops asking for (a
    /// region taken out of `spec.regions`, `aurora` or a table taken out of
    /// this section):
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

/// DynamoDB global tables.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DynamoDbSpec {
    /// The tables, each name once.
    #[schemars(length(min = 1, max = 20))]
    #[x_kube(
        validation = Rule::new("self.all(a, self.exists_one(b, b.name == a.name))")
            .message("dynamodb.tables must be unique: each table name may appear only once")
            .reason(Reason::FieldValueDuplicate),
        merge_strategy = ListMerge::Map(vec!["name".into()])
    )]
    pub tables: Vec<TableSpec>,
}

/// One table, the same in every region.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.billingMode != 'Provisioned' || (has(self.readCapacityUnits) && has(self.writeCapacityUnits))")
        .message("readCapacityUnits and writeCapacityUnits are required with billingMode Provisioned")
        .field_path(".billingMode")
        .reason(Reason::FieldValueRequired),
    validation = Rule::new("self.billingMode == 'Provisioned' || (!has(self.readCapacityUnits) && !has(self.writeCapacityUnits))")
        .message("readCapacityUnits and writeCapacityUnits are only for billingMode Provisioned; remove them for PayPerRequest")
        .field_path(".billingMode")
        .reason(Reason::FieldValueForbidden),
    validation = Rule::new("!has(self.sortKey) || self.sortKey.name != self.partitionKey.name")
        .message("sortKey must be another attribute than partitionKey")
        .field_path(".sortKey.name"),
)]
pub struct TableSpec {
    /// The table's name in every region: 3 to 255 letters, digits, `_`,
    /// `-` or `.`. A table of that name that is not this GlobalApi's is a
    /// conflict, left alone.
    #[schemars(length(min = 3, max = 255))]
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z0-9_.-]+$')")
        .message("a table name may only hold letters, digits, '_', '-' and '.'"))]
    pub name: String,

    /// The partition (hash) key. Keys cannot change once the table exists.
    pub partition_key: KeySpec,

    /// The sort (range) key, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_key: Option<KeySpec>,

    /// `PayPerRequest` (on demand, the default) or `Provisioned` with
    /// `readCapacityUnits` and `writeCapacityUnits` for every replica.
    #[serde(default)]
    pub billing_mode: BillingMode,

    /// Read capacity units of every replica (Provisioned only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 40000))]
    pub read_capacity_units: Option<u32>,

    /// Write capacity units of every replica (Provisioned only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 40000))]
    pub write_capacity_units: Option<u32>,

    /// Continuous backups with point-in-time recovery in every region.
    #[serde(default = "default_true")]
    pub point_in_time_recovery: bool,

    /// Refuse deletion of the replicas while true.
    #[serde(default = "default_true")]
    pub deletion_protection: bool,
}

/// A key attribute.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KeySpec {
    /// The attribute name.
    #[schemars(length(min = 1, max = 255))]
    pub name: String,
    /// `String`, `Number` or `Binary` (DynamoDB's `S`, `N`, `B`; spelt out
    /// because YAML reads a bare `N` as `false`).
    #[serde(rename = "type")]
    pub kind: KeyType,
}

/// The scalar types a key can have.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    /// A string (`S`).
    String,
    /// A number (`N`).
    Number,
    /// Binary data (`B`).
    Binary,
}

/// How a table is billed.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BillingMode {
    /// On demand: per request.
    #[default]
    PayPerRequest,
    /// Capacity units set in the spec.
    Provisioned,
}
