//! The `GlobalApi` v1alpha1 API: the contract users write and read.
//!
//! Every check the API server can make lives in the schema of these types
//! (OpenAPI bounds and CEL rules), so that a bad manifest is refused at
//! `kubectl apply` with a message naming the field.

mod conditions;
mod crd;
mod database;
mod edge;
mod policy;
mod rest_api;
mod spec;
mod status;

pub use conditions::{ConditionType, Reason};
pub use crd::{crd, crds};
pub use database::{
    AuroraEngine, AuroraSpec, BillingMode, DatabaseRemoval, DatabaseSpec, DynamoDbSpec, KeySpec,
    KeyType, TableSpec,
};
pub use edge::{
    EdgeLambdaAssociation, EdgeSpec, GeoRestriction, GeoRestrictionType, LambdaEventType,
    PriceClass,
};
pub use policy::{DatabaseAllowance, GlobalApiPolicy, GlobalApiPolicySpec};
pub use rest_api::{
    AccessLogSpec, ApiSpec, ExecutionLogging, HealthAlarmSpec, HealthCheckSpec, HttpMethod,
    RouteSpec, ThrottlingSpec,
};
pub use spec::{
    BackendSpec, CertificateSpec, DeletionPolicy, DriftPolicy, GlobalApi, GlobalApiSpec,
    HostedZoneRef, RegionSpec, RoutingPolicy, RoutingSpec,
};
pub use status::{
    CleanupEntry, DatabaseEndpoint, DatabaseStatus, DriftAction, DriftEntry, EdgeStatus,
    GlobalApiStatus, RegionStatus, TableReplicaStatus, TableStatus,
};

/// The API group of every resource this operator serves.
pub(crate) const GROUP: &str = "globalapi.io";

/// The version of the API this operator serves.
pub(crate) const VERSION: &str = "v1alpha1";

/// The annotation that pauses a GlobalApi: with the value `"true"` the
/// operator observes AWS and reports what it would change, in status and
/// Events, and writes nothing to AWS (no correction, no spec change, no
/// deletion) until the annotation is removed. For incidents: a hand-made
/// fix stays as it is.
pub(crate) const PAUSED_ANNOTATION: &str = "globalapi.io/paused";

/// The annotation that adopts what a previous owner left in AWS: its value
/// names the previous GlobalApi as `namespace/name` (its owner tag, whatever
/// its uid) or by its uid. Before its next pass the operator re-tags (and
/// re-claims in DNS) every resource of the spec's names and regions that
/// the previous owner holds, then reconciles as usual; what anyone else
/// owns stays a conflict. Done once per value (`status.adoptedFrom`).
pub(crate) const ADOPT_ANNOTATION: &str = "globalapi.io/adopt-from";

/// The annotation that asks for an unplanned failover of the Aurora global
/// database: its value names the region whose cluster becomes the writer
/// (`FailoverGlobalCluster` with `AllowDataLoss`: writes not yet replicated
/// there are lost). For a writer region that is down; a planned move
/// without data loss is a change of `spec.database.aurora.primaryRegion`.
/// An annotation rather than a field: it is a one-time act, not a desired
/// state that a re-applied manifest should repeat, and the API server's
/// audit log records who set it. While it names the writer's region, that
/// region stands in for `primaryRegion` (nothing is switched back); set
/// `primaryRegion` to it and remove the annotation.
pub(crate) const FAILOVER_ANNOTATION: &str = "globalapi.io/failover-to";

impl GlobalApi {
    /// The region [`FAILOVER_ANNOTATION`] names, if set.
    pub fn failover_to(&self) -> Option<&str> {
        self.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(FAILOVER_ANNOTATION))
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The value of [`ADOPT_ANNOTATION`], if set.
    pub fn adopt_from(&self) -> Option<&str> {
        self.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(ADOPT_ANNOTATION))
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Whether [`PAUSED_ANNOTATION`] holds AWS writes back.
    pub fn paused(&self) -> bool {
        self.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(PAUSED_ANNOTATION))
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    }
}
