//! `GlobalApiPolicy`: what the GlobalApis of one namespace may ask of AWS,
//! written by the platform team (tenants get no RBAC on it).

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::spec::{DNS_NAME_RE, REGION_RE};

/// What a Lambda ARN pattern may hold: an ARN's characters and `*`.
pub(crate) const LAMBDA_PATTERN_RE: &str = "^[A-Za-z0-9_:$*.-]+$";
/// What a host pattern may hold: a host name's characters and `*`.
pub(crate) const HOST_PATTERN_RE: &str = "^[a-z0-9*.-]+$";

/// Limits for the GlobalApis of this policy's namespace. With tenancy
/// policies on (the chart's `tenancy.enabled`), a GlobalApi is admitted only
/// if every GlobalApiPolicy of its namespace allows it, and a namespace
/// without one may create none; the operator checks again before each pass
/// and touches no AWS resource of a GlobalApi a policy no longer allows.
/// Lists that grant (zones, Lambda accounts and functions, backend hosts)
/// grant nothing when absent; lists that narrow (domain suffixes, regions,
/// instance classes) narrow nothing when absent.
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "globalapi.io",
    version = "v1alpha1",
    kind = "GlobalApiPolicy",
    plural = "globalapipolicies",
    shortname = "gapipolicy",
    namespaced,
    doc = "What the GlobalApis of one namespace may ask of AWS: hosted zones and domain suffixes, Lambda functions and backend hosts, regions, databases. Written by the platform team; enforced at admission and by the operator when tenancy policies are on.",
    printcolumn = r#"{"name":"Zones","type":"string","jsonPath":".spec.hostedZones"}"#,
    printcolumn = r#"{"name":"Max-Regions","type":"integer","jsonPath":".spec.maxRegions"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct GlobalApiPolicySpec {
    /// Hosted zones the GlobalApis may write records in, each written as
    /// tenants refer to it in `spec.hostedZone`: a zone name such as
    /// `example.com` or a zone id such as `Z0123456789ABC` (list both to
    /// allow both). Absent or empty: no zone, so no GlobalApi.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(min = 1, max = 253)))]
    #[x_kube(validation = Rule::new(format!("self.all(z, z.matches('^[A-Z0-9]+$') || z.matches('{DNS_NAME_RE}'))"))
        .message("hostedZones: each entry must be a zone id such as Z0123456789ABC or a lower-case zone name such as example.com"))]
    pub hosted_zones: Vec<String>,

    /// DNS names the GlobalApis' names must lie under: `spec.domain` and
    /// `spec.edge.originDomain` must each be one of these or a name inside
    /// one, e.g. `team-a.example.com`. Absent: any name in an allowed zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), inner(length(min = 1, max = 253)))]
    #[x_kube(validation = Rule::new(format!("self.all(s, s.matches('{DNS_NAME_RE}'))"))
        .message("domainSuffixes: each entry must be a lower-case DNS name such as team-a.example.com"))]
    pub domain_suffixes: Option<Vec<String>>,

    /// AWS accounts (12 digits) whose Lambda functions may be region
    /// backends (`lambdaArn`) and edge functions. Absent or empty: none,
    /// unless `lambdaFunctions` allows the function.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(min = 12, max = 12)))]
    #[x_kube(validation = Rule::new("self.all(a, a.matches('^[0-9]{12}$'))")
        .message("lambdaAccounts: each entry must be a 12-digit AWS account id"))]
    pub lambda_accounts: Vec<String>,

    /// Lambda function ARNs that may be region backends and edge functions,
    /// as patterns in which `*` stands for any run of characters, e.g.
    /// `arn:aws:lambda:*:123456789012:function:team-a-*`. Absent or empty:
    /// none, unless `lambdaAccounts` allows the account.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(min = 1, max = 256)))]
    #[x_kube(validation = Rule::new(format!("self.all(p, p.matches('{LAMBDA_PATTERN_RE}'))"))
        .message("lambdaFunctions: each entry must be a Lambda ARN pattern (letters, digits, _ : $ . - and *)"))]
    pub lambda_functions: Vec<String>,

    /// Hosts that `httpUrl` backends may point at, as patterns in which `*`
    /// stands for any run of characters, e.g. `*.team-a.internal.example.com`.
    /// Absent or empty: no `httpUrl` backend.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(min = 1, max = 253)))]
    #[x_kube(validation = Rule::new(format!("self.all(p, p.matches('{HOST_PATTERN_RE}'))"))
        .message("backendHosts: each entry must be a lower-case host pattern such as *.team-a.internal.example.com"))]
    pub backend_hosts: Vec<String>,

    /// At most this many regions per GlobalApi. Absent: the GlobalApi's
    /// own bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 16))]
    pub max_regions: Option<u32>,

    /// The regions GlobalApis may use. Absent: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 32), inner(length(min = 9, max = 32)))]
    #[x_kube(validation = Rule::new(format!("self.all(r, r.matches('{REGION_RE}'))"))
        .message("regions: each entry must be an AWS region code such as us-east-1"))]
    pub regions: Option<Vec<String>>,

    /// Whether, and which, databases the GlobalApis may have. Absent: none
    /// (`spec.database.aurora` and `spec.database.dynamodb` are refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseAllowance>,
}

/// The databases a policy allows.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseAllowance {
    /// Instance classes allowed, e.g. `db.r6g.large`. Absent: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 32), inner(length(min = 1, max = 64)))]
    #[x_kube(validation = Rule::new("self.all(c, c.matches('^db[.][a-z0-9-]+[.][a-z0-9]+$'))")
        .message("database.instanceClasses: each entry must be an instance class such as db.r6g.large"))]
    pub instance_classes: Option<Vec<String>>,

    /// At most this many instances per region. Absent: the GlobalApi's own
    /// bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 15))]
    pub max_instances_per_region: Option<u32>,

    /// At most this many DynamoDB global tables per GlobalApi. Absent:
    /// none (`spec.database.dynamodb` is refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 20))]
    pub max_tables: Option<u32>,
}
