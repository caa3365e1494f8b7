//! Reading API Gateway and Lambda in one region: our REST APIs and custom
//! domains (found by the uid tag that `get_rest_apis` / `get_domain_names`
//! return), the chosen API's resources, methods and stages, the base path
//! mappings, and our statement in the functions' resource policies.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_apigateway::types::{
    DomainName as SdkDomainName, EndpointConfiguration, Method as SdkMethod, RestApi,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde_json::Value;

use crate::aws::listing::KeptAnswers;
use crate::error::{Error, Result};
use crate::target::{Target, UID_TAG};

use super::RegionClients;
use super::desired::{Backend, hash_of_description, lambda_of_uri, statement_id};
use super::model::{
    AccessLog, Integration, LogLevel, Mapping, Method, Permission, STAGE_METHODS, StageSettings,
    Throttle,
};

/// The largest page API Gateway serves.
const PAGE: i32 = 500;

/// What to look for in one region, all derived from the target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookup {
    pub region: String,
    pub uid: String,
    pub stage_name: String,
    pub domain_name: String,
    pub statement_id: String,
    /// Functions whose policy may hold our statement besides those the
    /// REST API integrates with: the spec's backend of this region.
    pub functions: Vec<String>,
}

impl Lookup {
    /// What to look for in `region` for `target`.
    pub fn new(target: &Target, region: &str) -> Self {
        let functions = target
            .regions()
            .filter(|r| r.name == region)
            .filter_map(|r| match Backend::of(r) {
                Ok(Backend::Lambda(arn)) => Some(arn.to_owned()),
                _ => None,
            })
            .collect();
        Self {
            region: region.to_owned(),
            uid: target.uid.clone(),
            stage_name: target.spec.api.stage_name.clone(),
            domain_name: target.origin_domain(),
            statement_id: statement_id(target, region),
            functions,
        }
    }
}

/// A resource of a REST API with its methods.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedResource {
    pub id: String,
    pub path: String,
    pub methods: BTreeMap<String, Method>,
}

/// A stage of a REST API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedStage {
    pub name: String,
    pub deployment_id: Option<String>,
    pub settings: StageSettings,
    /// The API hash of the deployment the stage serves, when the operator
    /// made that deployment.
    pub api_hash: Option<String>,
}

/// A REST API tagged with our uid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedApi {
    pub id: String,
    pub name: String,
    pub endpoint_types: Vec<String>,
    /// Seconds since the epoch; the oldest of several twins is kept.
    pub created: i64,
    /// Read only for the API in use; empty for twins about to be deleted.
    pub resources: Vec<ObservedResource>,
    pub stages: Vec<ObservedStage>,
}

impl ObservedApi {
    /// The resource at a path (the first, should API Gateway hold twins).
    pub fn resource(&self, path: &str) -> Option<&ObservedResource> {
        self.resources.iter().find(|r| r.path == path)
    }

    /// The stage of that name.
    pub fn stage(&self, name: &str) -> Option<&ObservedStage> {
        self.stages.iter().find(|s| s.name == name)
    }

    /// The Lambda functions the API's integrations invoke.
    pub(crate) fn lambda_functions(&self) -> BTreeSet<String> {
        self.resources
            .iter()
            .flat_map(|r| r.methods.values())
            .filter_map(|m| m.integration.as_ref())
            .filter_map(|i| lambda_of_uri(&i.uri))
            .collect()
    }
}

/// A custom domain tagged with our uid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedDomain {
    pub name: String,
    pub certificate_arn: Option<String>,
    pub endpoint_types: Vec<String>,
    pub regional_domain_name: Option<String>,
    pub regional_zone_id: Option<String>,
    pub mappings: Vec<Mapping>,
}

/// Everything of ours in one region.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedRegion {
    pub region: String,
    /// The REST API in use.
    pub api: Option<ObservedApi>,
    /// Further REST APIs with our uid (twins of a create that raced).
    pub extra_apis: Vec<ObservedApi>,
    pub domains: Vec<ObservedDomain>,
    /// Custom domains in the region that are not ours.
    pub foreign_domains: BTreeSet<String>,
    /// Statements with our statement id, on every function looked at.
    pub permissions: Vec<Permission>,
}

/// Reads one region.
pub async fn region(clients: &RegionClients, lookup: &Lookup) -> Result<ObservedRegion> {
    let client = &clients.apigateway;
    let (listings, fresher_than) = (&clients.listing.listings, clients.listing.fresher_than);
    let mut apis: Vec<ObservedApi> = listings
        .rest_apis
        .get(&lookup.region, fresher_than, || rest_apis(client))
        .await?
        .iter()
        .filter(|api| tag(api.tags(), UID_TAG) == Some(lookup.uid.as_str()))
        .filter_map(to_api)
        .collect();

    let mut domains = Vec::new();
    let mut foreign_domains = BTreeSet::new();
    let listed_domains = listings
        .domain_names
        .get(&lookup.region, fresher_than, || domain_names(client))
        .await?;
    for domain in listed_domains.iter() {
        let Some(name) = domain.domain_name() else {
            continue;
        };
        if tag(domain.tags(), UID_TAG) != Some(lookup.uid.as_str()) {
            foreign_domains.insert(name.to_owned());
            continue;
        }
        let mappings = base_path_mappings(client, name).await?;
        domains.push(to_domain(domain, mappings));
    }

    let chosen = choose_api(&apis, &domains, &lookup.domain_name);
    let mut api = chosen.map(|i| apis.remove(i));
    if let Some(api) = &mut api {
        api.resources = resources(client, &api.id).await?;
        let hashes = &listings.deployment_hashes;
        api.stages = stages(client, hashes, lookup, &api.id).await?;
    }

    let mut functions: BTreeSet<String> = lookup.functions.iter().cloned().collect();
    if let Some(api) = &api {
        functions.extend(api.lambda_functions());
    }
    let mut permissions = Vec::new();
    for function in &functions {
        permissions.extend(statements_of(clients, function, &lookup.statement_id).await?);
    }

    Ok(ObservedRegion {
        region: lookup.region.clone(),
        api,
        extra_apis: apis,
        domains,
        foreign_domains,
        permissions,
    })
}

/// Which of several REST APIs of ours is the one in use: the one our
/// domain maps to, else the oldest.
pub(crate) fn choose_api(
    apis: &[ObservedApi],
    domains: &[ObservedDomain],
    domain_name: &str,
) -> Option<usize> {
    let mapped = domains
        .iter()
        .filter(|d| d.name == domain_name)
        .flat_map(|d| d.mappings.iter())
        .find(|m| m.base_path.is_empty())
        .and_then(|m| apis.iter().position(|a| a.id == m.rest_api_id));
    mapped.or_else(|| {
        apis.iter()
            .enumerate()
            .min_by(|(_, a), (_, b)| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)))
            .map(|(i, _)| i)
    })
}

fn tag<'a>(tags: Option<&'a HashMap<String, String>>, key: &str) -> Option<&'a str> {
    tags.and_then(|t| t.get(key)).map(String::as_str)
}

fn endpoint_types(config: Option<&EndpointConfiguration>) -> Vec<String> {
    config
        .map(|c| c.types().iter().map(|t| t.as_str().to_owned()).collect())
        .unwrap_or_default()
}

fn to_api(api: &RestApi) -> Option<ObservedApi> {
    Some(ObservedApi {
        id: api.id()?.to_owned(),
        name: api.name().unwrap_or_default().to_owned(),
        endpoint_types: endpoint_types(api.endpoint_configuration()),
        created: api.created_date().map(|d| d.secs()).unwrap_or_default(),
        resources: Vec::new(),
        stages: Vec::new(),
    })
}

fn to_domain(domain: &SdkDomainName, mappings: Vec<Mapping>) -> ObservedDomain {
    ObservedDomain {
        name: domain.domain_name().unwrap_or_default().to_owned(),
        certificate_arn: domain.regional_certificate_arn().map(str::to_owned),
        endpoint_types: endpoint_types(domain.endpoint_configuration()),
        regional_domain_name: domain.regional_domain_name().map(str::to_owned),
        regional_zone_id: domain.regional_hosted_zone_id().map(str::to_owned),
        mappings,
    }
}

/// Our view of an SDK method.
pub(crate) fn to_method(method: &SdkMethod) -> Method {
    Method {
        authorization_type: method.authorization_type().unwrap_or_default().to_owned(),
        request_parameters: method
            .request_parameters()
            .map(|p| p.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default(),
        integration: method.method_integration().map(|i| Integration {
            kind: i
                .r#type()
                .map(|t| t.as_str().to_owned())
                .unwrap_or_default(),
            http_method: i.http_method().unwrap_or_default().to_owned(),
            uri: i.uri().unwrap_or_default().to_owned(),
            request_parameters: i
                .request_parameters()
                .map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        }),
    }
}

/// Pages through a listing: `fetch(position)` returns a page and the next
/// position. A position seen before ends the loop (an emulator may repeat one).
async fn all_pages<T, F, Fut>(mut fetch: F) -> Result<Vec<T>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, Option<String>)>>,
{
    let mut items = Vec::new();
    let mut seen = BTreeSet::new();
    let mut position = None;
    loop {
        let (page, next) = fetch(position).await?;
        items.extend(page);
        match next {
            Some(p) if seen.insert(p.clone()) => position = Some(p),
            _ => return Ok(items),
        }
    }
}

pub(crate) async fn rest_apis(client: &aws_sdk_apigateway::Client) -> Result<Vec<RestApi>> {
    all_pages(|position| async move {
        let out = client
            .get_rest_apis()
            .limit(PAGE)
            .set_position(position)
            .send()
            .await
            .map_err(|e| Error::aws("apigateway", "GetRestApis", e))?;
        Ok((out.items().to_vec(), out.position().map(str::to_owned)))
    })
    .await
}

pub(crate) async fn domain_names(
    client: &aws_sdk_apigateway::Client,
) -> Result<Vec<SdkDomainName>> {
    all_pages(|position| async move {
        let out = client
            .get_domain_names()
            .limit(PAGE)
            .set_position(position)
            .send()
            .await
            .map_err(|e| Error::aws("apigateway", "GetDomainNames", e))?;
        Ok((out.items().to_vec(), out.position().map(str::to_owned)))
    })
    .await
}

async fn base_path_mappings(
    client: &aws_sdk_apigateway::Client,
    domain: &str,
) -> Result<Vec<Mapping>> {
    all_pages(|position| async move {
        let out = client
            .get_base_path_mappings()
            .domain_name(domain)
            .limit(PAGE)
            .set_position(position)
            .send()
            .await
            .map_err(|e| Error::aws("apigateway", "GetBasePathMappings", e))?;
        let page = out
            .items()
            .iter()
            .map(|m| Mapping {
                base_path: match m.base_path() {
                    None | Some("(none)") => String::new(),
                    Some(p) => p.to_owned(),
                },
                rest_api_id: m.rest_api_id().unwrap_or_default().to_owned(),
                stage: m.stage().map(str::to_owned),
            })
            .collect();
        Ok((page, out.position().map(str::to_owned)))
    })
    .await
}

async fn resources(
    client: &aws_sdk_apigateway::Client,
    rest_api_id: &str,
) -> Result<Vec<ObservedResource>> {
    all_pages(|position| async move {
        let out = client
            .get_resources()
            .rest_api_id(rest_api_id)
            .embed("methods")
            .limit(PAGE)
            .set_position(position)
            .send()
            .await
            .map_err(|e| Error::aws("apigateway", "GetResources", e))?;
        let page = out
            .items()
            .iter()
            .filter_map(|r| {
                Some(ObservedResource {
                    id: r.id()?.to_owned(),
                    path: r.path()?.to_owned(),
                    methods: r
                        .resource_methods()
                        .map(|m| {
                            m.iter()
                                .map(|(verb, method)| (verb.clone(), to_method(method)))
                                .collect()
                        })
                        .unwrap_or_default(),
                })
            })
            .collect();
        Ok((page, out.position().map(str::to_owned)))
    })
    .await
}

async fn stages(
    client: &aws_sdk_apigateway::Client,
    hashes: &KeptAnswers,
    lookup: &Lookup,
    rest_api_id: &str,
) -> Result<Vec<ObservedStage>> {
    let stage_name = lookup.stage_name.as_str();
    let out = client
        .get_stages()
        .rest_api_id(rest_api_id)
        .send()
        .await
        .map_err(|e| Error::aws("apigateway", "GetStages", e))?;
    let mut stages = Vec::new();
    for stage in out.item() {
        let Some(name) = stage.stage_name() else {
            continue;
        };
        let deployment_id = stage.deployment_id().map(str::to_owned);
        // Only the spec's stage needs to know what it deploys; others go.
        let api_hash = match (&deployment_id, name == stage_name) {
            (Some(id), true) => {
                let key = deployment_key(&lookup.region, rest_api_id, id);
                match hashes.get(&key) {
                    Some(hash) => hash,
                    None => {
                        let hash = deployment_hash(client, rest_api_id, id).await?;
                        if let Some(found) = &hash {
                            hashes.found(&key, Some(found.clone()));
                        }
                        hash
                    }
                }
            }
            _ => None,
        };
        stages.push(ObservedStage {
            name: name.to_owned(),
            deployment_id,
            settings: stage_settings(stage),
            api_hash,
        });
    }
    Ok(stages)
}

/// What a stage shows of the settings the spec decides.
fn stage_settings(stage: &aws_sdk_apigateway::types::Stage) -> StageSettings {
    let settings = stage.method_settings();
    let all = settings.and_then(|s| s.get(STAGE_METHODS));
    StageSettings {
        tracing: stage.tracing_enabled(),
        metrics: all.is_some_and(|s| s.metrics_enabled()),
        logging: LogLevel::parse(all.and_then(|s| s.logging_level())),
        throttling: settings
            .into_iter()
            .flatten()
            .map(|(key, s)| {
                let limits = Throttle::new(s.throttling_rate_limit(), s.throttling_burst_limit());
                (key.clone(), limits)
            })
            .collect(),
        access_log: stage.access_log_settings().and_then(|s| {
            s.destination_arn().map(|arn| AccessLog {
                destination_arn: arn.to_owned(),
                format: s.format().unwrap_or_default().to_owned(),
            })
        }),
        access_log_decided: true,
    }
}

/// The key of a deployment's hash among the kept answers.
pub(crate) fn deployment_key(region: &str, rest_api_id: &str, deployment_id: &str) -> String {
    format!("{region}/{rest_api_id}/{deployment_id}")
}

async fn deployment_hash(
    client: &aws_sdk_apigateway::Client,
    rest_api_id: &str,
    id: &str,
) -> Result<Option<String>> {
    match client
        .get_deployment()
        .rest_api_id(rest_api_id)
        .deployment_id(id)
        .send()
        .await
    {
        Ok(out) => Ok(out.description().and_then(hash_of_description)),
        Err(e) if e.code() == Some("NotFoundException") => Ok(None),
        Err(e) => Err(Error::aws("apigateway", "GetDeployment", e)),
    }
}

/// The statements with our id in a function's resource policy. A function
/// without a policy, or gone, has none.
async fn statements_of(
    clients: &RegionClients,
    function: &str,
    sid: &str,
) -> Result<Vec<Permission>> {
    match clients
        .lambda
        .get_policy()
        .function_name(function)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .policy()
            .map(|p| statements(function, p, sid))
            .unwrap_or_default()),
        Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(Vec::new()),
        Err(e) => Err(Error::aws("lambda", "GetPolicy", e)),
    }
}

/// The statements with id `sid` in a resource policy document.
pub fn statements(function: &str, policy: &str, sid: &str) -> Vec<Permission> {
    let Ok(doc) = serde_json::from_str::<Value>(policy) else {
        return Vec::new();
    };
    let list = match doc.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => Vec::new(),
    };
    list.iter()
        .filter(|s| s.get("Sid").and_then(Value::as_str) == Some(sid))
        .map(|s| Permission {
            function: function.to_owned(),
            statement_id: sid.to_owned(),
            principal: match s.get("Principal") {
                Some(Value::String(p)) => Some(p.clone()),
                Some(p) => p.get("Service").and_then(first_string),
                None => None,
            },
            action: s.get("Action").and_then(first_string),
            source_arn: s
                .get("Condition")
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|c| c.values())
                .filter_map(Value::as_object)
                .flat_map(|m| m.iter())
                .find(|(k, _)| k.eq_ignore_ascii_case("aws:SourceArn"))
                .and_then(|(_, v)| first_string(v)),
        })
        .collect()
}

fn first_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Array(list) => list.iter().find_map(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_read_from_the_aws_policy_document() {
        let policy = r#"{"Version":"2012-10-17","Id":"default","Statement":[
            {"Sid":"other","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction"},
            {"Sid":"globalapi-0b1c2d3e-us-east-1","Effect":"Allow","Principal":{"Service":"apigateway.amazonaws.com"},
             "Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f",
             "Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:execute-api:us-east-1:123456789012:abc/*"}}}]}"#;
        let found = statements("arn:f", policy, "globalapi-0b1c2d3e-us-east-1");
        assert_eq!(
            found,
            [Permission {
                function: "arn:f".into(),
                statement_id: "globalapi-0b1c2d3e-us-east-1".into(),
                principal: Some("apigateway.amazonaws.com".into()),
                action: Some("lambda:InvokeFunction".into()),
                source_arn: Some("arn:aws:execute-api:us-east-1:123456789012:abc/*".into()),
            }]
        );
        assert!(statements("arn:f", policy, "missing").is_empty());
        assert!(statements("arn:f", "not json", "x").is_empty());
        let single = r#"{"Statement":{"Sid":"x","Principal":"apigateway.amazonaws.com","Action":["lambda:InvokeFunction"]}}"#;
        let found = statements("arn:f", single, "x");
        assert_eq!(
            found[0].principal.as_deref(),
            Some("apigateway.amazonaws.com")
        );
        assert_eq!(found[0].action.as_deref(), Some("lambda:InvokeFunction"));
        assert_eq!(found[0].source_arn, None);
    }

    fn api(id: &str, created: i64) -> ObservedApi {
        ObservedApi {
            id: id.into(),
            name: "n".into(),
            endpoint_types: vec!["REGIONAL".into()],
            created,
            resources: vec![],
            stages: vec![],
        }
    }

    #[test]
    fn the_mapped_api_wins_over_the_oldest() {
        let apis = [api("b", 10), api("a", 20), api("c", 10)];
        assert_eq!(choose_api(&apis, &[], "x.example.com"), Some(0));
        let domain = ObservedDomain {
            name: "x.example.com".into(),
            certificate_arn: None,
            endpoint_types: vec![],
            regional_domain_name: None,
            regional_zone_id: None,
            mappings: vec![Mapping {
                base_path: String::new(),
                rest_api_id: "a".into(),
                stage: Some("v1".into()),
            }],
        };
        assert_eq!(
            choose_api(&apis, std::slice::from_ref(&domain), "x.example.com"),
            Some(1)
        );
        assert_eq!(choose_api(&apis, &[domain], "y.example.com"), Some(0));
        assert_eq!(choose_api(&[], &[], "x"), None);
    }
}
