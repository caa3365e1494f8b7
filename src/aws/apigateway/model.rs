//! The REST API, its stage, custom domain and Lambda permission as plain
//! values, independent of the SDK's types, so that desired and observed
//! state compare with `==`.

use std::collections::BTreeMap;
use std::fmt;

/// Lambda proxy integration type.
pub const AWS_PROXY: &str = "AWS_PROXY";
/// HTTP proxy integration type.
pub const HTTP_PROXY: &str = "HTTP_PROXY";
/// The only authorization the operator configures: the backend decides.
pub const AUTHORIZATION_NONE: &str = "NONE";
/// The principal of the Lambda permission.
pub const APIGATEWAY_PRINCIPAL: &str = "apigateway.amazonaws.com";
/// The action of the Lambda permission.
pub const INVOKE_ACTION: &str = "lambda:InvokeFunction";

/// Methods by resource path (`/`, `/users/{id}`) and HTTP verb (`GET`, `ANY`).
pub type Routes = BTreeMap<String, BTreeMap<String, Method>>;

/// How API Gateway forwards the requests of one method.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Integration {
    /// `AWS_PROXY` or `HTTP_PROXY` (anything else is drift).
    pub kind: String,
    /// The method API Gateway uses towards the backend.
    pub http_method: String,
    pub uri: String,
    /// `integration.request.path.X` → `method.request.path.X`.
    pub request_parameters: BTreeMap<String, String>,
}

/// One method of one resource.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Method {
    pub authorization_type: String,
    /// `method.request.path.X` → required.
    pub request_parameters: BTreeMap<String, bool>,
    /// `None` when the method has no integration (drift: it cannot be deployed).
    pub integration: Option<Integration>,
}

/// The stage settings the spec decides.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StageSettings {
    /// X-Ray tracing (`tracingEnabled`).
    pub tracing: bool,
    /// CloudWatch detailed metrics (`methodSettings["*/*"].metricsEnabled`).
    pub metrics: bool,
}

/// A base path mapping of a custom domain. The empty base path is the one
/// AWS shows as `(none)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    pub base_path: String,
    pub rest_api_id: String,
    pub stage: Option<String>,
}

impl Mapping {
    /// The base path as API Gateway's URLs spell it.
    pub fn base_path_key(&self) -> &str {
        base_path_key(&self.base_path)
    }
}

/// The base path as API Gateway's URLs spell it: `(none)` for the empty one.
pub fn base_path_key(base_path: &str) -> &str {
    if base_path.is_empty() {
        "(none)"
    } else {
        base_path
    }
}

/// One statement of a Lambda function's resource policy, as far as the
/// operator reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permission {
    /// The function (ARN, as the spec names it).
    pub function: String,
    pub statement_id: String,
    pub principal: Option<String>,
    pub action: Option<String>,
    pub source_arn: Option<String>,
}

/// A custom domain of ours, with what Route 53 needs from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainInfo {
    pub name: String,
    pub regional_domain_name: Option<String>,
    pub regional_zone_id: Option<String>,
}

/// Text of a string map for change lines: `k=v k2=v2`, or `(none)`.
pub fn map_text<V: fmt::Display>(map: &BTreeMap<String, V>) -> String {
    if map.is_empty() {
        return "(none)".into();
    }
    map.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}
