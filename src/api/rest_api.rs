//! The REST API built in every region.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The REST API that API Gateway serves in each region.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.stageName) || !has(self.healthCheck) || !has(self.healthCheck.path) || 1 + size(self.stageName) + size(self.healthCheck.path) <= 255")
        .message("'/' + stageName + healthCheck.path is the path Route 53 probes, which it limits to 255 characters: shorten stageName or healthCheck.path")
        .field_path(".healthCheck.path"),
)]
pub struct ApiSpec {
    /// The API Gateway stage, e.g. `v1`: letters, digits, `-` and `_`, at
    /// most 128 characters.
    #[serde(default = "default_stage_name")]
    #[schemars(length(min = 1, max = 128))]
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z0-9_-]+$')")
        .message("stageName may only hold letters, digits, '-' and '_' (API Gateway refuses anything else)"))]
    pub stage_name: String,

    /// The routes forwarded to the backend. Empty: one greedy route
    /// `/{proxy+}` for every method.
    #[serde(default)]
    #[schemars(length(max = 100))]
    pub routes: Vec<RouteSpec>,

    /// The health check Route 53 runs against each region's own endpoint.
    #[serde(default)]
    pub health_check: HealthCheckSpec,

    /// Turn on AWS X-Ray tracing on the stage.
    #[serde(default)]
    pub tracing: bool,

    /// Turn on CloudWatch detailed (per-method) metrics on the stage.
    #[serde(default)]
    pub metrics: bool,

    /// Execution logging of the stage to CloudWatch Logs (the log group
    /// `API-Gateway-Execution-Logs_{restApiId}/{stage}` that API Gateway
    /// writes): `Disabled`, `Error` or `Info`. AWS needs the account's API
    /// Gateway CloudWatch role set once per account and region
    /// (`aws apigateway update-account`); without it, it refuses and the
    /// Ready condition carries its message. Request and response bodies
    /// are never logged.
    #[serde(default)]
    pub execution_logging: ExecutionLogging,

    /// Limits for every method of the stage. Left out, the stage's
    /// limits are not managed: the account's apply unless set by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttling: Option<ThrottlingSpec>,

    /// Access logs of the stage, a line per request, to a CloudWatch Logs
    /// group in each region that the operator creates, tags and owns:
    /// `/aws/apigateway/gapi-<namespace>-<name>`. Taken out (or a region
    /// taken out of the spec), the group and its lines are deleted, as
    /// with the GlobalApi unless `deletionPolicy: Retain`. AWS needs the
    /// account's API Gateway CloudWatch role, as for execution logging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_logs: Option<AccessLogSpec>,
}

/// Where and how long the access log lines are kept.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AccessLogSpec {
    /// One line per request with `$context` variables; API Gateway needs
    /// `$context.requestId` or `$context.extendedRequestId` in it. Default:
    /// a JSON line with the request id, client address, time, method,
    /// path, status, latency and response length.
    #[serde(default = "default_access_log_format")]
    #[schemars(length(min = 1, max = 3000))]
    #[x_kube(validation = Rule::new("self.contains('$context.requestId') || self.contains('$context.extendedRequestId')")
        .message("accessLogs.format must contain $context.requestId or $context.extendedRequestId (API Gateway refuses a format without one)"))]
    pub format: String,

    /// Days CloudWatch Logs keeps the lines: 1, 3, 5, 7, 14, 30, 60, 90,
    /// 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    /// 3288 or 3653.
    #[serde(default = "default_retention_days")]
    #[x_kube(validation = Rule::new("self in [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]")
        .message("accessLogs.retentionDays must be one of the periods CloudWatch Logs offers: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653"))]
    pub retention_days: u32,
}

fn default_access_log_format() -> String {
    r#"{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","time":"$context.requestTime","method":"$context.httpMethod","path":"$context.path","status":"$context.status","latencyMs":"$context.responseLatency","length":"$context.responseLength"}"#.to_owned()
}

fn default_retention_days() -> u32 {
    30
}

/// How much API Gateway writes to the execution log.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ExecutionLogging {
    /// Nothing (AWS's `OFF`; not `Off`, which YAML reads as `false`).
    #[default]
    Disabled,
    /// Errors only.
    Error,
    /// Errors and information about every request.
    Info,
}

/// Request limits of API Gateway's token bucket for a method.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ThrottlingSpec {
    /// Steady requests per second, at most 10000 (the account's default
    /// limit per region; raising it is a quota request to AWS).
    #[schemars(range(min = 1, max = 10000))]
    pub rate_limit: u32,

    /// Requests allowed at once above the steady rate, at most 5000.
    #[schemars(range(min = 1, max = 5000))]
    pub burst_limit: u32,
}

impl Default for ApiSpec {
    fn default() -> Self {
        Self {
            stage_name: default_stage_name(),
            routes: Vec::new(),
            health_check: HealthCheckSpec::default(),
            tracing: false,
            metrics: false,
            execution_logging: ExecutionLogging::Disabled,
            throttling: None,
            access_logs: None,
        }
    }
}

fn default_stage_name() -> String {
    "v1".to_owned()
}

/// One route of the REST API.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RouteSpec {
    /// The resource path, starting with `/`, e.g. `/users` or `/users/{id}`.
    #[schemars(length(min = 1, max = 512))]
    #[x_kube(validation = Rule::new("self.startsWith('/')")
        .message("routes[].path must start with '/'"))]
    pub path: String,

    /// The HTTP methods of this route. `ANY` matches every method.
    #[schemars(length(min = 1, max = 8))]
    pub methods: Vec<HttpMethod>,

    /// Limits for each of this route's methods, in place of the stage's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttling: Option<ThrottlingSpec>,
}

/// An HTTP method API Gateway can route.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
    /// HEAD
    Head,
    /// OPTIONS
    Options,
    /// Every method.
    Any,
}

/// A Route 53 health check against each region's own execute-api endpoint,
/// `https://{restApiId}.execute-api.{region}.amazonaws.com/{stage}{path}`.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheckSpec {
    /// The path probed under the stage; starts with `/`.
    #[serde(default = "default_health_path")]
    #[schemars(length(min = 1, max = 255))]
    #[x_kube(validation = Rule::new("self.startsWith('/')")
        .message("healthCheck.path must start with '/'"))]
    pub path: String,

    /// Seconds between probes: 10 (fast) or 30 (standard), as Route 53 allows.
    #[serde(default = "default_interval_seconds")]
    #[x_kube(validation = Rule::new("self == 10 || self == 30")
        .message("healthCheck.intervalSeconds must be 10 or 30 (the only intervals Route 53 offers)"))]
    pub interval_seconds: u32,

    /// Consecutive failed probes before the region counts as unhealthy, 1 to 10.
    #[serde(default = "default_failure_threshold")]
    #[schemars(range(min = 1, max = 10))]
    pub failure_threshold: u32,

    /// A CloudWatch alarm per region on this health check, telling an SNS
    /// topic of yours when a region goes down and when it is back; each
    /// region's alarm state is in `status.regions[].alarmState`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm: Option<HealthAlarmSpec>,
}

/// Where a region's health alarm goes.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HealthAlarmSpec {
    /// The SNS topic told of every change of the alarm's state. In
    /// us-east-1: Route 53 publishes health check metrics there, so the
    /// alarms live there, and an alarm notifies topics of its own region.
    #[schemars(length(max = 512))]
    #[x_kube(validation = Rule::new("self.matches('^arn:aws[a-z-]*:sns:us-east-1:[0-9]{12}:[A-Za-z0-9_-]{1,256}$')")
        .message("alarm.topicArn must be an SNS topic ARN in us-east-1 such as arn:aws:sns:us-east-1:123456789012:api-alerts (the alarms live in us-east-1, where Route 53 publishes health check metrics)"))]
    pub topic_arn: String,

    /// Minutes in a row a region's health check must report it down before
    /// the alarm goes off, 1 to 10.
    #[serde(default = "default_alarm_minutes")]
    #[schemars(range(min = 1, max = 10))]
    pub minutes: u32,
}

fn default_alarm_minutes() -> u32 {
    1
}

impl Default for HealthCheckSpec {
    fn default() -> Self {
        Self {
            path: default_health_path(),
            interval_seconds: default_interval_seconds(),
            failure_threshold: default_failure_threshold(),
            alarm: None,
        }
    }
}

fn default_health_path() -> String {
    "/health".to_owned()
}

fn default_interval_seconds() -> u32 {
    30
}

fn default_failure_threshold() -> u32 {
    3
}
