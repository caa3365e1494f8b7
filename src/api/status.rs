//! What the operator reports: conditions, outputs per region, drift.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The observed state of a GlobalApi, written by the operator.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GlobalApiStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// The public URL of the API, e.g. `https://api.example.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,

    /// Regions serving out of regions in the spec, e.g. `2/3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_regions: Option<String>,

    /// A digest of the spec last applied to AWS without errors, leaving
    /// `driftPolicy` out: a spec that differs from it is applied even under
    /// `driftPolicy: Report`, and a change of `driftPolicy` alone applies
    /// nothing (so switching to Report during an incident keeps a fix made
    /// by hand).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_spec: Option<String>,

    /// A digest of the spec (`driftPolicy` left out) under which the object
    /// was last Ready: while the spec stays this one, every resource it
    /// needs existed, so one that would be created again was deleted
    /// outside the operator and is drift (reported, and under
    /// `driftPolicy: Report` not created again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_spec: Option<String>,

    /// The `globalapi.io/adopt-from` value whose resources this GlobalApi
    /// has taken over; adoption runs again only for another value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adopted_from: Option<String>,

    /// Ready, CertificatesReady, RegionalApisReady, DnsReady, EdgeReady,
    /// DatabaseReady, Drifted, Degraded, Conflict and Paused.
    #[serde(default)]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,

    /// The outputs of each region.
    #[serde(default)]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub regions: Vec<RegionStatus>,

    /// The outputs of the CloudFront distribution, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edge: Option<EdgeStatus>,

    /// The outputs of the database, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseStatus>,

    /// The differences between AWS and the spec found at the last observation.
    #[serde(default)]
    pub drift: Vec<DriftEntry>,

    /// What the spec no longer needs and AWS has not yet let the operator
    /// delete (a certificate still attached to a custom domain or a
    /// distribution); kept here until AWS confirms the deletion.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cleanup: Vec<CleanupEntry>,

    /// When AWS was last observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<Time>,
}

/// The outputs of one region.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RegionStatus {
    /// The region code.
    pub name: String,
    /// The id of the region's API Gateway REST API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rest_api_id: Option<String>,
    /// The deployed stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// The region's own execute-api URL of the stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoke_url: Option<String>,
    /// The region's API Gateway custom domain (the origin name its latency
    /// or failover record answers for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_domain: Option<String>,
    /// The name API Gateway gave the custom domain in this region
    /// (`d-….execute-api.<region>.amazonaws.com`), which the region's
    /// Route 53 alias record points at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regional_domain_name: Option<String>,
    /// The certificate of the regional custom domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_arn: Option<String>,
    /// The CloudWatch Logs group (ARN) of the stage's access logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_log_group: Option<String>,
    /// The state of the region's health alarm: `OK`, `ALARM` or
    /// `INSUFFICIENT_DATA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm_state: Option<String>,
    /// The Route 53 health check probing this region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_id: Option<String>,
    /// Whether the region is drained.
    #[serde(default)]
    pub maintenance: bool,
    /// Whether every part of this region matches the spec.
    #[serde(default)]
    pub ready: bool,
}

/// The outputs of the CloudFront distribution.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EdgeStatus {
    /// The distribution id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution_id: Option<String>,
    /// The distribution's own name, e.g. `d111111abcdef8.cloudfront.net`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<String>,
    /// The us-east-1 certificate the distribution serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_arn: Option<String>,
    /// CloudFront's state: `InProgress` or `Deployed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

/// The outputs of the Aurora Global Database.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseStatus {
    /// The ARN of the global cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_cluster_arn: Option<String>,
    /// The region of the writer cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer_region: Option<String>,
    /// The ARN of the Secrets Manager secret RDS keeps the master user's
    /// password in (`ManageMasterUserPassword`); read it from there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_user_secret_arn: Option<String>,
    /// The endpoints of each regional cluster.
    #[serde(default)]
    pub endpoints: Vec<DatabaseEndpoint>,
    /// The DynamoDB global tables and their replicas of this GlobalApi.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<TableStatus>,
}

/// A DynamoDB global table.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TableStatus {
    /// The table's name.
    pub name: String,
    /// Its replica in each region.
    #[serde(default)]
    pub replicas: Vec<TableReplicaStatus>,
}

/// One replica of a global table.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TableReplicaStatus {
    /// The region.
    pub region: String,
    /// The table's ARN there.
    pub arn: String,
    /// The ARN of its stream (new and old images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_arn: Option<String>,
    /// DynamoDB's status, e.g. `ACTIVE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// The endpoints of one regional Aurora cluster.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseEndpoint {
    /// The region of the cluster.
    pub region: String,
    /// The writer endpoint; only the primary region has one that accepts writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer: Option<String>,
    /// The reader endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reader: Option<String>,
}

/// One AWS resource waiting to be deleted.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
pub struct CleanupEntry {
    /// The AWS service: `acm`.
    pub service: String,
    /// The resource's ARN or id.
    pub resource: String,
    /// Why it is not deleted yet, in AWS's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One difference between AWS and the spec.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DriftEntry {
    /// The AWS service, e.g. `route53`.
    pub service: String,
    /// The resource, e.g. `origin.api.example.com A us-east-1`.
    pub resource: String,
    /// The field that differs, e.g. `AliasTarget.DNSName`.
    pub field: String,
    /// The value the spec asks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<String>,
    /// The value found in AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<String>,
    /// What the operator did about it.
    pub action: DriftAction,
    /// When the difference was first seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected_at: Option<Time>,
}

/// What the operator did about a difference.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriftAction {
    /// AWS was put back to the spec.
    Corrected,
    /// Only reported (`driftPolicy: Report`).
    Reported,
    /// Not changed because the resource is not owned by this GlobalApi.
    Conflict,
}
