//! The REST API, stage, custom domain and Lambda permission a GlobalApi asks
//! for in each region (pure).

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use crate::api::{ApiSpec, ExecutionLogging, HttpMethod, RegionSpec, ThrottlingSpec};
use crate::error::{Error, Result};
use crate::target::Target;

use super::model::{
    AUTHORIZATION_NONE, AWS_PROXY, AccessLog, HTTP_PROXY, Integration, LogLevel, Method, Routes,
    STAGE_METHODS, StageSettings, Throttle, method_key,
};

/// Longest REST API name the operator chooses.
pub(crate) const API_NAME_MAX: usize = 128;

/// The prefix of the description of every deployment the operator makes;
/// the rest is the hash of the API it deployed.
const DEPLOYMENT_PREFIX: &str = "globalapi api ";

/// What the services before API Gateway produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApiGatewayInputs {
    /// The ISSUED ACM certificate of each region, by region. A region
    /// without one gets everything but its custom domain (reported pending).
    pub certificates: BTreeMap<String, String>,
    /// The access log group of each region that has one (ARN).
    pub log_groups: BTreeMap<String, String>,
    /// Regions whose log group could not be read: their stages' access log
    /// settings are left as they are.
    pub log_groups_unknown: BTreeSet<String>,
    /// Regions where an earlier reconcile built something (the regions of
    /// `status.regions`). Those no longer in the spec are emptied.
    pub previous_regions: Vec<String>,
    /// Whether custom domains of ours for a name the spec no longer uses
    /// may go: only once DNS no longer leads to them (make before break).
    pub retire_old_domains: bool,
}

/// The regional custom domain a region wants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredDomain {
    pub name: String,
    /// `None` while the region's certificate is not issued.
    pub certificate_arn: Option<String>,
}

/// Everything one region of a GlobalApi asks of API Gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredRegion {
    pub region: String,
    pub api_name: String,
    pub tags: BTreeMap<String, String>,
    pub routes: Routes,
    /// The hash of `routes`, kept in the description of the deployment that
    /// serves them, so that a stage running an older API is recognised.
    pub api_hash: String,
    pub stage_name: String,
    pub stage: StageSettings,
    pub domain: DesiredDomain,
    /// Whether custom domains for other names are deleted (see
    /// [`ApiGatewayInputs::retire_old_domains`]); otherwise they are kept.
    pub retire_old_domains: bool,
    /// The Lambda backend that API Gateway must be allowed to invoke.
    pub lambda_function: Option<String>,
    pub statement_id: String,
}

/// The desired state of every region of the spec, each on its own: one
/// region's invalid backend does not stop the others.
pub fn regions(target: &Target, inputs: &ApiGatewayInputs) -> Vec<(String, Result<DesiredRegion>)> {
    target
        .regions()
        .map(|spec| (spec.name.clone(), region(target, spec, inputs)))
        .collect()
}

/// The desired state of one region.
pub fn region(
    target: &Target,
    spec: &RegionSpec,
    inputs: &ApiGatewayInputs,
) -> Result<DesiredRegion> {
    let api = &target.spec.api;
    let backend = Backend::of(spec)?;
    let routes = routes(target, &spec.name, &backend);
    Ok(DesiredRegion {
        region: spec.name.clone(),
        api_name: target.resource_name(API_NAME_MAX),
        tags: target.tags().into_iter().collect(),
        api_hash: api_hash(&routes),
        routes,
        stage_name: api.stage_name.clone(),
        stage: stage_settings(api, &spec.name, inputs),
        domain: DesiredDomain {
            name: target.origin_domain(),
            certificate_arn: inputs.certificates.get(&spec.name).cloned(),
        },
        retire_old_domains: inputs.retire_old_domains,
        lambda_function: match backend {
            Backend::Lambda(arn) => Some(arn.to_owned()),
            Backend::Http(_) => None,
        },
        statement_id: statement_id(target, &spec.name),
    })
}

/// Where a region's REST API sends requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend<'a> {
    Lambda(&'a str),
    Http(&'a str),
}

impl<'a> Backend<'a> {
    /// The backend of a region; exactly one of the two must be given.
    pub fn of(spec: &'a RegionSpec) -> Result<Self> {
        match (&spec.backend.lambda_arn, &spec.backend.http_url) {
            (Some(arn), None) => Ok(Backend::Lambda(arn)),
            (None, Some(url)) => Ok(Backend::Http(url)),
            _ => Err(Error::Invalid(format!(
                "regions[{}].backend needs exactly one of lambdaArn or httpUrl",
                spec.name
            ))),
        }
    }
}

/// The methods of the REST API: the spec's routes (or the greedy default),
/// plus GET on the health path unless a route already answers it.
pub fn routes(target: &Target, region: &str, backend: &Backend<'_>) -> Routes {
    let api = &target.spec.api;
    let spec_routes: Vec<(String, Vec<&'static str>)> = if api.routes.is_empty() {
        // The root answers too, so that `/{stage}` itself reaches the backend.
        vec![("/{proxy+}".into(), vec!["ANY"]), ("/".into(), vec!["ANY"])]
    } else {
        api.routes
            .iter()
            .map(|r| {
                (
                    normalize_path(&r.path),
                    r.methods.iter().map(|m| verb(*m)).collect(),
                )
            })
            .collect()
    };
    let mut routes = Routes::new();
    for (path, verbs) in &spec_routes {
        for verb in verbs {
            routes
                .entry(path.clone())
                .or_default()
                .insert((*verb).to_owned(), method(region, backend, path, verb));
        }
    }
    let health = normalize_path(&api.health_check.path);
    let covered = routes.iter().any(|(path, methods)| {
        (methods.contains_key("GET") || methods.contains_key("ANY")) && path_matches(path, &health)
    });
    if !covered {
        routes
            .entry(health.clone())
            .or_default()
            .insert("GET".into(), method(region, backend, &health, "GET"));
    }
    routes
}

/// The stage's settings: tracing, metrics, execution logging and the
/// throttling the spec sets (for the stage, and for each route's methods).
pub(crate) fn stage_settings(
    api: &ApiSpec,
    region: &str,
    inputs: &ApiGatewayInputs,
) -> StageSettings {
    let limits = |t: &ThrottlingSpec| {
        Throttle::new(
            f64::from(t.rate_limit),
            i32::try_from(t.burst_limit).unwrap_or(i32::MAX),
        )
    };
    let mut throttling = BTreeMap::new();
    if let Some(stage) = &api.throttling {
        throttling.insert(STAGE_METHODS.to_owned(), limits(stage));
    }
    for route in &api.routes {
        if let Some(route_limits) = &route.throttling {
            let path = normalize_path(&route.path);
            for m in &route.methods {
                throttling.insert(method_key(&path, verb(*m)), limits(route_limits));
            }
        }
    }
    StageSettings {
        tracing: api.tracing,
        metrics: api.metrics,
        logging: match api.execution_logging {
            ExecutionLogging::Disabled => LogLevel::Off,
            ExecutionLogging::Error => LogLevel::Error,
            ExecutionLogging::Info => LogLevel::Info,
        },
        throttling,
        access_log: match &api.access_logs {
            Some(logs) => inputs.log_groups.get(region).map(|arn| AccessLog {
                destination_arn: arn.clone(),
                format: logs.format.clone(),
            }),
            None => None,
        },
        // Until the group is made (or while it cannot be read), what the
        // stage has stays.
        access_log_decided: !inputs.log_groups_unknown.contains(region)
            && (api.access_logs.is_none() || inputs.log_groups.contains_key(region)),
    }
}

/// One method, integrated with the backend.
pub fn method(region: &str, backend: &Backend<'_>, path: &str, verb: &str) -> Method {
    let params = path_parameters(path);
    let integration = match backend {
        Backend::Lambda(arn) => Integration {
            kind: AWS_PROXY.into(),
            // Lambda is always invoked with POST, whatever the client used.
            http_method: "POST".into(),
            uri: lambda_uri(region, arn),
            request_parameters: BTreeMap::new(),
        },
        Backend::Http(url) => Integration {
            kind: HTTP_PROXY.into(),
            http_method: verb.to_owned(),
            uri: http_uri(url, path),
            request_parameters: params
                .iter()
                .map(|p| {
                    (
                        format!("integration.request.path.{p}"),
                        format!("method.request.path.{p}"),
                    )
                })
                .collect(),
        },
    };
    Method {
        authorization_type: AUTHORIZATION_NONE.into(),
        request_parameters: params
            .iter()
            .map(|p| (format!("method.request.path.{p}"), true))
            .collect(),
        integration: Some(integration),
    }
}

/// The verb API Gateway uses for a spec method.
pub fn verb(method: HttpMethod) -> &'static str {
    match method {
        HttpMethod::Get => "GET",
        HttpMethod::Post => "POST",
        HttpMethod::Put => "PUT",
        HttpMethod::Patch => "PATCH",
        HttpMethod::Delete => "DELETE",
        HttpMethod::Head => "HEAD",
        HttpMethod::Options => "OPTIONS",
        HttpMethod::Any => "ANY",
    }
}

/// `/a//b/` → `/a/b`; the root stays `/`.
pub(crate) fn normalize_path(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    format!("/{}", segments.join("/"))
}

/// Every resource path the routes need, parents included, root excluded,
/// in an order where each parent comes before its children.
pub(crate) fn resource_paths(routes: &Routes) -> BTreeSet<String> {
    let mut paths = BTreeSet::new();
    for path in routes.keys() {
        let mut prefix = String::new();
        for segment in path.split('/').filter(|s| !s.is_empty()) {
            prefix.push('/');
            prefix.push_str(segment);
            paths.insert(prefix.clone());
        }
    }
    paths
}

/// The parent of a resource path; the root's children have `/`.
pub(crate) fn parent_path(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// The last segment of a resource path (API Gateway's `pathPart`).
pub fn path_part(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The names of the path parameters: `/users/{id}/{proxy+}` → `id`, `proxy`.
pub(crate) fn path_parameters(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(|p| p.trim_end_matches('+').to_owned())
        .collect()
}

/// Whether a route path (with `{x}` and `{x+}` parameters) answers a concrete path.
pub(crate) fn path_matches(route: &str, concrete: &str) -> bool {
    let route: Vec<&str> = route.split('/').filter(|s| !s.is_empty()).collect();
    let concrete: Vec<&str> = concrete.split('/').filter(|s| !s.is_empty()).collect();
    for (i, segment) in route.iter().enumerate() {
        if segment.starts_with('{') && segment.ends_with("+}") {
            return concrete.len() > i;
        }
        match concrete.get(i) {
            Some(c) if segment.starts_with('{') && segment.ends_with('}') || c == segment => {}
            _ => return false,
        }
    }
    route.len() == concrete.len()
}

/// The backend URL of an HTTP proxy method: the base URL and the path, with
/// greedy parameters passed on as plain ones (`{proxy+}` → `{proxy}`).
pub(crate) fn http_uri(base: &str, path: &str) -> String {
    let path: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| s.replace("+}", "}"))
        .collect();
    format!("{}/{}", base.trim_end_matches('/'), path.join("/"))
}

/// The partition of an ARN (`aws`, `aws-cn`, `aws-us-gov`).
fn partition(arn: &str) -> &str {
    arn.split(':')
        .nth(1)
        .filter(|p| !p.is_empty())
        .unwrap_or("aws")
}

/// The integration URI of a Lambda proxy method.
pub(crate) fn lambda_uri(region: &str, function_arn: &str) -> String {
    format!(
        "arn:{}:apigateway:{region}:lambda:path/2015-03-31/functions/{function_arn}/invocations",
        partition(function_arn)
    )
}

/// The function a Lambda integration URI invokes.
pub(crate) fn lambda_of_uri(uri: &str) -> Option<String> {
    let (_, rest) = uri.split_once(":lambda:path/2015-03-31/functions/")?;
    rest.strip_suffix("/invocations").map(str::to_owned)
}

/// The statement id of the Lambda permission of a region: stable, and
/// distinct for every GlobalApi that shares a function.
pub fn statement_id(target: &Target, region: &str) -> String {
    format!("globalapi-{}-{region}", target.short_uid())
}

/// The SourceArn of the Lambda permission: every method of every stage of
/// the REST API, in the function's account.
pub(crate) fn source_arn(function_arn: &str, region: &str, rest_api_id: &str) -> String {
    let account = function_arn.split(':').nth(4).unwrap_or_default();
    format!(
        "arn:{}:execute-api:{region}:{account}:{rest_api_id}/*",
        partition(function_arn)
    )
}

/// The region's own invoke URL of a stage.
pub fn invoke_url(rest_api_id: &str, region: &str, stage: &str) -> String {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://{rest_api_id}.execute-api.{region}.{suffix}/{stage}")
}

/// A short hash of everything a deployment captures of the routes.
pub(crate) fn api_hash(routes: &Routes) -> String {
    let mut hasher = Sha256::new();
    for (path, methods) in routes {
        for (verb, method) in methods {
            hasher.update(format!(
                "{path} {verb} {} {:?}\n",
                method.authorization_type, method.request_parameters
            ));
            if let Some(i) = &method.integration {
                hasher.update(format!(
                    "  {} {} {} {:?}\n",
                    i.kind, i.http_method, i.uri, i.request_parameters
                ));
            }
        }
    }
    hasher
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The description of a deployment of the API with this hash.
pub(crate) fn deployment_description(api_hash: &str) -> String {
    format!("{DEPLOYMENT_PREFIX}{api_hash}")
}

/// The API hash a deployment description carries, if the operator made it.
pub(crate) fn hash_of_description(description: &str) -> Option<String> {
    description
        .strip_prefix(DEPLOYMENT_PREFIX)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::fixtures::{FAILOVER, LATENCY, target};

    fn inputs() -> ApiGatewayInputs {
        ApiGatewayInputs {
            retire_old_domains: true,
            certificates: [(
                "us-east-1".to_owned(),
                "arn:aws:acm:us-east-1:123456789012:certificate/c1".to_owned(),
            )]
            .into_iter()
            .collect(),
            previous_regions: vec![],
            ..Default::default()
        }
    }

    fn desired(spec: &str) -> Vec<DesiredRegion> {
        regions(&target(spec), &inputs())
            .into_iter()
            .map(|(_, d)| d.expect("valid region"))
            .collect()
    }

    fn keys(routes: &Routes) -> Vec<String> {
        routes
            .iter()
            .flat_map(|(path, methods)| methods.keys().map(move |v| format!("{v} {path}")))
            .collect()
    }

    #[test]
    fn default_routes_are_greedy_proxy_and_root_with_lambda_proxy() {
        let d = desired(LATENCY);
        let us = &d[0];
        assert_eq!(us.region, "us-east-1");
        assert_eq!(us.api_name, "gapi-payments-exchange");
        assert_eq!(
            keys(&us.routes),
            ["ANY /", "ANY /{proxy+}"],
            "the greedy route covers /health"
        );
        let proxy = &us.routes["/{proxy+}"]["ANY"];
        assert_eq!(proxy.authorization_type, "NONE");
        assert_eq!(
            proxy.request_parameters,
            [("method.request.path.proxy".to_owned(), true)]
                .into_iter()
                .collect()
        );
        let integration = proxy.integration.as_ref().expect("integrated");
        assert_eq!(integration.kind, "AWS_PROXY");
        assert_eq!(integration.http_method, "POST");
        assert_eq!(
            integration.uri,
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:f/invocations"
        );
        assert_eq!(
            us.lambda_function.as_deref(),
            Some("arn:aws:lambda:us-east-1:123456789012:function:f")
        );
        assert_eq!(us.statement_id, "globalapi-0b1c2d3e-us-east-1");
        assert_eq!(us.domain.name, "origin.api.example.com");
        assert_eq!(
            us.domain.certificate_arn.as_deref(),
            Some("arn:aws:acm:us-east-1:123456789012:certificate/c1")
        );
        assert_eq!(
            d[1].domain.certificate_arn, None,
            "eu-west-1 has no certificate yet"
        );
        assert_eq!(
            us.tags.get("globalapi.io/uid").map(String::as_str),
            Some(t_uid().as_str())
        );
    }

    fn t_uid() -> String {
        target(LATENCY).uid
    }

    #[test]
    fn http_backends_forward_the_path_and_the_method() {
        let d = desired(FAILOVER);
        let eu = &d[1];
        assert_eq!(eu.lambda_function, None);
        let proxy = eu.routes["/{proxy+}"]["ANY"]
            .integration
            .clone()
            .expect("integrated");
        assert_eq!(proxy.kind, "HTTP_PROXY");
        assert_eq!(proxy.http_method, "ANY");
        assert_eq!(proxy.uri, "https://eu.example.com/{proxy}");
        assert_eq!(
            proxy.request_parameters,
            [(
                "integration.request.path.proxy".to_owned(),
                "method.request.path.proxy".to_owned()
            )]
            .into_iter()
            .collect()
        );
        let root = eu.routes["/"]["ANY"]
            .integration
            .clone()
            .expect("integrated");
        assert_eq!(root.uri, "https://eu.example.com/");
        assert!(root.request_parameters.is_empty());
        assert_eq!(
            eu.domain.name, "api.example.com",
            "no edge: the regional domains use the domain"
        );
    }

    #[test]
    fn explicit_routes_get_the_health_route_added() {
        let mut t = target(FAILOVER);
        t.spec.api.routes = serde_norway::from_str(
            "[{path: /users, methods: [GET, POST]}, {path: '/users/{id}/', methods: [GET]}]",
        )
        .expect("routes parse");
        let backend = Backend::Http("https://us.example.com/");
        let routes = routes(&t, "us-east-1", &backend);
        assert_eq!(
            keys(&routes),
            [
                "GET /health",
                "GET /users",
                "POST /users",
                "GET /users/{id}"
            ]
        );
        let by_id = routes["/users/{id}"]["GET"]
            .integration
            .clone()
            .expect("integrated");
        assert_eq!(by_id.uri, "https://us.example.com/users/{id}");
        assert_eq!(by_id.http_method, "GET");
        assert_eq!(
            resource_paths(&routes).into_iter().collect::<Vec<_>>(),
            ["/health", "/users", "/users/{id}"]
        );

        t.spec.api.routes =
            serde_norway::from_str("[{path: /health, methods: [ANY]}]").expect("routes parse");
        assert_eq!(
            keys(&super::routes(&t, "us-east-1", &backend)),
            ["ANY /health"]
        );
        t.spec.api.routes =
            serde_norway::from_str("[{path: /health, methods: [POST]}]").expect("routes parse");
        assert_eq!(
            keys(&super::routes(&t, "us-east-1", &backend)),
            ["GET /health", "POST /health"]
        );
    }

    #[test]
    fn paths_match_parameters_and_greedy_tails() {
        assert!(path_matches("/{proxy+}", "/health"));
        assert!(path_matches("/{proxy+}", "/a/b"));
        assert!(!path_matches("/{proxy+}", "/"));
        assert!(path_matches("/{id}", "/health"));
        assert!(!path_matches("/{id}", "/a/b"));
        assert!(path_matches("/api/{proxy+}", "/api/health"));
        assert!(!path_matches("/api/{proxy+}", "/health"));
        assert!(path_matches("/health", "/health"));
        assert_eq!(parent_path("/users/{id}"), "/users");
        assert_eq!(parent_path("/users"), "/");
        assert_eq!(path_part("/users/{id}"), "{id}");
        assert_eq!(normalize_path("//a//b/"), "/a/b");
        assert_eq!(normalize_path("/"), "/");
    }

    #[test]
    fn arns_and_urls_follow_the_function_and_region() {
        let f = "arn:aws-cn:lambda:cn-north-1:123456789012:function:f:live";
        assert_eq!(
            lambda_uri("cn-north-1", f),
            "arn:aws-cn:apigateway:cn-north-1:lambda:path/2015-03-31/functions/arn:aws-cn:lambda:cn-north-1:123456789012:function:f:live/invocations"
        );
        assert_eq!(
            lambda_of_uri(&lambda_uri("cn-north-1", f)).as_deref(),
            Some(f)
        );
        assert_eq!(lambda_of_uri("https://example.com/x"), None);
        assert_eq!(
            source_arn(f, "cn-north-1", "abc123"),
            "arn:aws-cn:execute-api:cn-north-1:123456789012:abc123/*"
        );
        assert_eq!(
            invoke_url("abc123", "eu-west-1", "v1"),
            "https://abc123.execute-api.eu-west-1.amazonaws.com/v1"
        );
        assert_eq!(
            hash_of_description(&deployment_description("00ff")).as_deref(),
            Some("00ff")
        );
        assert_eq!(hash_of_description("by hand"), None);
    }

    #[test]
    fn the_api_hash_follows_the_routes_only() {
        let d = desired(FAILOVER);
        let mut t = target(FAILOVER);
        t.spec.api.tracing = true;
        let again = regions(&t, &inputs());
        assert_eq!(
            again[0].1.as_ref().expect("valid").api_hash,
            d[0].api_hash,
            "stage settings are not deployed"
        );
        t.spec.api.routes =
            serde_norway::from_str("[{path: /x, methods: [GET]}]").expect("routes parse");
        let changed = regions(&t, &inputs());
        assert_ne!(
            changed[0].1.as_ref().expect("valid").api_hash,
            d[0].api_hash
        );
        assert_ne!(
            d[0].api_hash, d[1].api_hash,
            "another backend is another API"
        );
    }

    #[test]
    fn a_region_without_a_backend_is_invalid_alone() {
        let mut t = target(FAILOVER);
        t.spec.regions[0].backend.http_url = None;
        let all = regions(&t, &inputs());
        assert!(matches!(all[0].1, Err(Error::Invalid(_))));
        assert!(all[1].1.is_ok());
    }
}
