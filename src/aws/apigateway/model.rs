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
pub(crate) const AUTHORIZATION_NONE: &str = "NONE";
/// The principal of the Lambda permission.
pub(crate) const APIGATEWAY_PRINCIPAL: &str = "apigateway.amazonaws.com";
/// The action of the Lambda permission.
pub(crate) const INVOKE_ACTION: &str = "lambda:InvokeFunction";

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

/// The method settings key of every method of a stage.
pub(crate) const STAGE_METHODS: &str = "*/*";

/// The stage settings the spec decides.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StageSettings {
    /// X-Ray tracing (`tracingEnabled`).
    pub tracing: bool,
    /// CloudWatch detailed metrics (`methodSettings["*/*"].metricsEnabled`).
    pub metrics: bool,
    /// Execution logging (`methodSettings["*/*"].loggingLevel`).
    pub logging: LogLevel,
    /// Throttling by method settings key: `*/*` for every method of the
    /// stage, `~1users/GET` for one route's method. Desired: only the keys
    /// the spec sets; observed: every key AWS shows.
    pub throttling: BTreeMap<String, Throttle>,
    /// Where access logs go (`accessLogSettings`); `None`: nowhere.
    pub access_log: Option<AccessLog>,
    /// Desired only: whether `access_log` is decided. Not while the log
    /// group could not be read or is not made yet: the stage's settings
    /// are left as they are.
    pub access_log_decided: bool,
}

/// A stage's access log settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessLog {
    /// The log group's ARN (without `:*`).
    pub destination_arn: String,
    pub format: String,
}

impl StageSettings {
    /// Whether `observed` already has everything these desired settings
    /// ask for (keys the spec does not set are left as they are).
    pub(crate) fn met_by(&self, observed: &StageSettings) -> bool {
        self.tracing == observed.tracing
            && self.metrics == observed.metrics
            && self.logging == observed.logging
            && self.throttling_changes(observed).is_empty()
            && !self.access_log_changes(observed)
    }

    /// Whether the access log settings must change to these.
    pub(crate) fn access_log_changes(&self, observed: &StageSettings) -> bool {
        self.access_log_decided && self.access_log != observed.access_log
    }

    /// The throttling keys whose observed limits differ from these.
    pub(crate) fn throttling_changes<'a>(
        &'a self,
        observed: &'a StageSettings,
    ) -> Vec<(&'a str, Option<&'a Throttle>, &'a Throttle)> {
        self.throttling
            .iter()
            .filter(|(key, want)| observed.throttling.get(*key) != Some(want))
            .map(|(key, want)| (key.as_str(), observed.throttling.get(key), want))
            .collect()
    }
}

/// Execution logging of a stage, as `loggingLevel` spells it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogLevel {
    #[default]
    Off,
    Error,
    Info,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Off => "OFF",
            LogLevel::Error => "ERROR",
            LogLevel::Info => "INFO",
        }
    }

    /// AWS's value; absent (no `*/*` settings yet) is `OFF`.
    pub fn parse(value: Option<&str>) -> Self {
        match value {
            Some("ERROR") => LogLevel::Error,
            Some("INFO") => LogLevel::Info,
            _ => LogLevel::Off,
        }
    }
}

/// A method's throttling limits: steady requests per second (AWS keeps a
/// double; written as text so that settings compare with `==`) and burst.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Throttle {
    pub rate: String,
    pub burst: i32,
}

impl Throttle {
    pub fn new(rate: f64, burst: i32) -> Self {
        Self {
            rate: rate.to_string(),
            burst,
        }
    }
}

impl std::fmt::Display for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/s burst {}", self.rate, self.burst)
    }
}

/// The method settings key of one route's method: the resource path as a
/// JSON Pointer segment (`~` written `~0`, `/` written `~1`), then the
/// method (`/users/{id}` GET → `~1users~1{id}/GET`), as UpdateStage's patch
/// paths address it.
pub(crate) fn method_key(path: &str, verb: &str) -> String {
    format!("{}/{verb}", path.replace('~', "~0").replace('/', "~1"))
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
    pub(crate) fn base_path_key(&self) -> &str {
        base_path_key(&self.base_path)
    }
}

/// The base path as API Gateway's URLs spell it: `(none)` for the empty one.
pub(crate) fn base_path_key(base_path: &str) -> &str {
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
pub(crate) fn map_text<V: fmt::Display>(map: &BTreeMap<String, V>) -> String {
    if map.is_empty() {
        return "(none)".into();
    }
    map.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What API Gateway made in one region, as Route 53 needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionEndpoint {
    pub region: String,
    pub rest_api_id: String,
    /// The regional custom domain's own name, the alias target.
    pub regional_domain_name: String,
    pub regional_zone_id: String,
}
