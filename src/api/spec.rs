//! The top of the spec: the public name, its zone, routing and regions.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ApiSpec, DatabaseSpec, EdgeSpec, GlobalApiStatus};

/// A lower-case DNS name of two or more labels: no trailing dot, no wildcard,
/// labels of 1 to 63 characters. `[.]` instead of `\.` keeps CEL free of escapes.
pub(crate) const DNS_NAME_RE: &str =
    "^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?[.])+[a-z]([-a-z0-9]{0,61}[a-z0-9])?$";

/// AWS region codes: partition prefix, optional `-gov`, a direction, a number.
pub(crate) const REGION_RE: &str = "^(us|eu|ap|sa|ca|me|af|il|mx|cn)(-gov)?-(north|south|east|west|central|northeast|southeast|northwest|southwest)-[0-9]{1,2}$";

/// A multi-region API on AWS: regional API Gateway REST APIs behind Route 53
/// latency or failover records, optionally fronted by CloudFront and backed by
/// an Aurora Global Database.
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "globalapi.io",
    version = "v1alpha1",
    kind = "GlobalApi",
    plural = "globalapis",
    shortname = "gapi",
    namespaced,
    status = "GlobalApiStatus",
    doc = "A multi-region API on AWS from one manifest: API Gateway in every region, Route 53 latency or failover routing with health checks, an optional CloudFront edge and an optional Aurora Global Database.",
    printcolumn = r#"{"name":"Domain","type":"string","jsonPath":".spec.domain"}"#,
    printcolumn = r#"{"name":"Policy","type":"string","jsonPath":".spec.routing.policy"}"#,
    printcolumn = r#"{"name":"Regions","type":"string","jsonPath":".status.readyRegions"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Drifted","type":"string","jsonPath":".status.conditions[?(@.type==\"Drifted\")].status"}"#,
    printcolumn = r#"{"name":"Endpoint","type":"string","priority":1,"jsonPath":".status.endpoint"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.hostedZone.name) || self.domain == self.hostedZone.name || self.domain.endsWith('.' + self.hostedZone.name)")
        .message("domain must be hostedZone.name itself or a name inside it")
        .field_path(".domain"),
    validation = Rule::new("self.routing.policy != 'Failover' || has(self.routing.primaryRegion)")
        .message("routing.primaryRegion is required when routing.policy is Failover")
        .field_path(".routing.primaryRegion")
        .reason(Reason::FieldValueRequired),
    validation = Rule::new("!has(self.routing.primaryRegion) || self.regions.exists(r, r.name == self.routing.primaryRegion)")
        .message("routing.primaryRegion must be the name of one of spec.regions")
        .field_path(".routing.primaryRegion"),
    validation = Rule::new("!has(self.routing.followDatabaseWriter) || !self.routing.followDatabaseWriter || (self.routing.policy == 'Failover' && has(self.database) && has(self.database.aurora))")
        .message("routing.followDatabaseWriter needs Failover routing and database.aurora: the PRIMARY record follows the database writer")
        .field_path(".routing.followDatabaseWriter"),
    validation = Rule::new("self.routing.policy != 'Failover' || size(self.regions) == 2")
        .message("Failover routing needs exactly 2 regions: the primary and one secondary")
        .field_path(".regions"),
    validation = Rule::new("self.regions.exists(r, !has(r.maintenance) || !r.maintenance)")
        .message("at least one region must stay out of maintenance; draining every region would take the API offline")
        .field_path(".regions"),
    validation = Rule::new("!has(self.certificate) || !has(self.certificate.arn) || !has(self.edge) || !self.edge.enabled || self.certificate.arn.split(':')[3] == 'us-east-1'")
        .message("certificate.arn must be a us-east-1 certificate when edge.enabled is true: CloudFront only uses certificates from us-east-1")
        .field_path(".certificate.arn"),
    validation = Rule::new("!has(self.database) || !has(self.database.aurora) || self.regions.exists(r, r.name == self.database.aurora.primaryRegion)")
        .message("database.aurora.primaryRegion must be the name of one of spec.regions")
        .field_path(".database.aurora.primaryRegion"),
    validation = Rule::new("!has(self.edge) || !has(self.edge.originDomain) || self.edge.originDomain != self.domain")
        .message("edge.originDomain must differ from domain: the public name points at CloudFront, the origin name at the regions")
        .field_path(".edge.originDomain"),
    validation = Rule::new("!has(self.edge) || !has(self.edge.originDomain) || !has(self.hostedZone.name) || self.edge.originDomain == self.hostedZone.name || self.edge.originDomain.endsWith('.' + self.hostedZone.name)")
        .message("edge.originDomain must be inside hostedZone.name")
        .field_path(".edge.originDomain"),
    // ACM refuses a certificate whose first domain name is over 64 octets;
    // the regional certificates are for the origin name. Within 64, every
    // ownership TXT name (`_globalapi.` + a validation name) fits in 253.
    validation = Rule::new("!has(self.edge) || !self.edge.enabled || has(self.edge.originDomain) || size(self.domain) <= 57")
        .message("with the edge enabled the regional certificates are for 'origin.' + domain, and ACM limits a certificate's name to 64 characters: shorten domain to at most 57 characters or set edge.originDomain")
        .field_path(".domain"),
)]
pub struct GlobalApiSpec {
    /// The public DNS name of the API, e.g. `api.example.com`: lower case,
    /// no trailing dot, no wildcard, at most 64 characters (ACM's limit for
    /// a certificate's name; 57 with the edge enabled and no
    /// `edge.originDomain`, for `origin.` + domain). With the edge enabled
    /// it points at CloudFront; without it, it carries the latency or
    /// failover records.
    #[schemars(length(min = 4, max = 253))]
    #[x_kube(
        validation = Rule::new(format!("self.matches('{DNS_NAME_RE}')"))
            .message("domain must be a lower-case DNS name such as api.example.com: no upper case, trailing dot or wildcard, labels of at most 63 characters"),
        validation = Rule::new("size(self) <= 64")
            .message("domain must be at most 64 characters: ACM refuses a certificate for a longer name")
    )]
    pub domain: String,

    /// The Route 53 public hosted zone that holds `domain`, by id or by name.
    pub hosted_zone: HostedZoneRef,

    /// How Route 53 spreads traffic over the regions.
    pub routing: RoutingSpec,

    /// The regions the API runs in, each with its backend. 1 to 16 entries,
    /// each region at most once.
    #[schemars(length(min = 1, max = 16))]
    #[x_kube(
        validation = Rule::new("self.all(a, self.exists_one(b, b.name == a.name))")
            .message("regions must be unique: each region name may appear only once")
            .reason(Reason::FieldValueDuplicate),
        merge_strategy = ListMerge::Map(vec!["name".into()])
    )]
    pub regions: Vec<RegionSpec>,

    /// The REST API built in every region: stage, routes, health check and
    /// observability settings.
    #[serde(default)]
    pub api: ApiSpec,

    /// The TLS certificate. Leave empty to have the operator request ACM
    /// certificates validated through DNS in the hosted zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateSpec>,

    /// The CloudFront distribution in front of the regions. Omit it for the
    /// plain Route 53 + regional API Gateway design.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edge: Option<EdgeSpec>,

    /// An optional Aurora Global Database shared by the regions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseSpec>,

    /// What to do when AWS no longer matches this spec: `Correct` puts it
    /// back, `Report` only reports the difference and changes nothing.
    #[serde(default)]
    pub drift_policy: DriftPolicy,

    /// What happens to the AWS resources when this object is deleted:
    /// `Delete` removes them, `Retain` leaves them in place.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,

    /// Seconds between two observations of AWS when nothing is pending
    /// (AWS has no watch). At least 30.
    #[serde(default = "default_resync_seconds")]
    #[schemars(range(min = 30, max = 86400))]
    pub resync_seconds: u32,
}

fn default_resync_seconds() -> u32 {
    300
}

/// The Route 53 hosted zone, given by exactly one of `id` or `name`.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.id) != has(self.name)")
    .message("hostedZone needs exactly one of id or name"))]
pub struct HostedZoneRef {
    /// The hosted zone id, e.g. `Z0123456789ABC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 32))]
    #[x_kube(validation = Rule::new("self.matches('^[A-Z0-9]+$')")
        .message("hostedZone.id must be a Route 53 zone id such as Z0123456789ABC (upper-case letters and digits, without /hostedzone/)"))]
    pub id: Option<String>,

    /// The zone's DNS name, e.g. `example.com`, without the trailing dot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(validation = Rule::new(format!("self.matches('{DNS_NAME_RE}')"))
        .message("hostedZone.name must be a lower-case DNS name such as example.com, without a trailing dot"))]
    pub name: Option<String>,
}

/// Routing of traffic between regions.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.policy != 'Latency' || !has(self.primaryRegion)")
    .message("routing.primaryRegion is only used with Failover routing; remove it for Latency")
    .field_path(".primaryRegion")
    .reason(Reason::FieldValueForbidden))]
pub struct RoutingSpec {
    /// `Latency`: active-active, each client goes to the nearest healthy
    /// region. `Failover`: active-passive, the primary serves while healthy
    /// and the secondary takes over when it is not.
    pub policy: RoutingPolicy,

    /// The region that is PRIMARY under `Failover`. Required for `Failover`,
    /// forbidden for `Latency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub primary_region: Option<String>,

    /// With `Failover` and a database: the PRIMARY record follows the
    /// database writer's region (`status.database.writerRegion`) instead
    /// of `primaryRegion`, so that the API serves where writes are taken.
    /// It moves only once a switchover or failover has completed.
    #[serde(default)]
    pub follow_database_writer: bool,

    /// TTL of the records that are not aliases (certificate validation
    /// CNAMEs, ownership TXT records).
    #[serde(default = "default_ttl_seconds")]
    #[schemars(range(min = 0, max = 172800))]
    pub ttl_seconds: u32,
}

fn default_ttl_seconds() -> u32 {
    60
}

/// How Route 53 chooses between regions.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoutingPolicy {
    /// Active-active: the lowest-latency healthy region answers.
    Latency,
    /// Active-passive: the primary answers while healthy, else the secondary.
    Failover,
}

/// One region of the API and the backend its REST API forwards to.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.backend.lambdaArn) || self.backend.lambdaArn.split(':')[3] == self.name")
        .message("backend.lambdaArn must be a function in this entry's region")
        .field_path(".backend.lambdaArn"),
    validation = Rule::new("!has(self.certificateArn) || self.certificateArn.split(':')[3] == self.name")
        .message("certificateArn must be a certificate in this entry's region: API Gateway takes a regional custom domain's certificate only from its own region")
        .field_path(".certificateArn"),
)]
pub struct RegionSpec {
    /// The AWS region code, e.g. `us-east-1` or `ap-southeast-2`.
    #[schemars(length(min = 9, max = 32))]
    #[x_kube(validation = Rule::new(format!("self.matches('{REGION_RE}')"))
        .message("name must be an AWS region code such as us-east-1 or ap-southeast-2"))]
    pub name: String,

    /// Where the REST API of this region sends requests.
    pub backend: BackendSpec,

    /// An issued ACM certificate in this region for the origin name (the
    /// domain, or `edge.originDomain` / `origin.` + domain with the edge),
    /// or a wildcard covering it, that you bring: the region's custom
    /// domain serves it, and the operator never requests, tags, changes or
    /// deletes it. Empty: the operator requests one and validates it
    /// through DNS in the hosted zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    #[x_kube(validation = Rule::new("self.matches('^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[A-Za-z0-9-]+$')")
        .message("certificateArn must be an ACM certificate ARN such as arn:aws:acm:eu-west-1:123456789012:certificate/<id>"))]
    pub certificate_arn: Option<String>,

    /// Drain this region: Route 53 stops answering with it, even when its
    /// endpoint is failing anyway. Under Failover the other region becomes
    /// PRIMARY. Clearing the flag restores the spec.
    #[serde(default)]
    pub maintenance: bool,
}

/// The backend of a region: exactly one of `lambdaArn` or `httpUrl`.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.lambdaArn) != has(self.httpUrl)")
    .message("backend needs exactly one of lambdaArn or httpUrl"))]
pub struct BackendSpec {
    /// A Lambda function in the same region, invoked through a Lambda proxy
    /// integration, e.g. `arn:aws:lambda:us-east-1:123456789012:function:api`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    #[x_kube(validation = Rule::new("self.matches('^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]{1,128})?$')")
        .message("lambdaArn must be a Lambda function ARN such as arn:aws:lambda:us-east-1:123456789012:function:name"))]
    pub lambda_arn: Option<String>,

    /// An HTTPS endpoint (ALB, EC2, anything) reached through an HTTP proxy
    /// integration, e.g. `https://origin-us.internal.example.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    #[x_kube(validation = Rule::new("self.startsWith('https://') && isURL(self)")
        .message("httpUrl must be an https:// URL"))]
    pub http_url: Option<String>,
}

/// A certificate the user brings instead of the ones the operator requests.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct CertificateSpec {
    /// ARN of an issued ACM certificate covering the domain. With the edge
    /// enabled it must be in us-east-1. Empty: the operator requests
    /// certificates and validates them through DNS in the hosted zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    #[x_kube(validation = Rule::new("self.matches('^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[A-Za-z0-9-]+$')")
        .message("certificate.arn must be an ACM certificate ARN such as arn:aws:acm:us-east-1:123456789012:certificate/<id>"))]
    pub arn: Option<String>,
}

/// What to do about differences between AWS and the spec.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DriftPolicy {
    /// Put AWS back to the spec.
    #[default]
    Correct,
    /// Report differences in status and Events; change nothing in AWS.
    Report,
}

/// What happens to AWS resources when the GlobalApi is deleted.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DeletionPolicy {
    /// Delete every AWS resource the operator created for this object.
    #[default]
    Delete,
    /// Leave the AWS resources in place.
    Retain,
}
