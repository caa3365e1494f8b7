//! The `GlobalApi` v1alpha1 API: the contract users write and read.
//!
//! Every check the API server can make lives in the schema of these types
//! (OpenAPI bounds and CEL rules), so that a bad manifest is refused at
//! `kubectl apply` with a message naming the field.

mod conditions;
mod crd;
mod database;
mod edge;
mod rest_api;
mod spec;
mod status;

pub use conditions::ConditionType;
pub use crd::crd;
pub use database::{AuroraEngine, AuroraSpec, DatabaseSpec};
pub use edge::{
    EdgeLambdaAssociation, EdgeSpec, GeoRestriction, GeoRestrictionType, LambdaEventType,
    PriceClass,
};
pub use rest_api::{ApiSpec, HealthCheckSpec, HttpMethod, RouteSpec};
pub use spec::{
    BackendSpec, CertificateSpec, DeletionPolicy, DriftPolicy, GlobalApi, GlobalApiSpec,
    HostedZoneRef, RegionSpec, RoutingPolicy, RoutingSpec,
};
pub use status::{
    CleanupEntry, DatabaseEndpoint, DatabaseStatus, DriftAction, DriftEntry, EdgeStatus,
    GlobalApiStatus, RegionStatus,
};

/// The API group of every resource this operator serves.
pub const GROUP: &str = "globalapi.io";
