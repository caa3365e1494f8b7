//! Changing API Gateway and Lambda in one region, one operation at a time,
//! in the order diff put them.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_apigateway::types::{
    EndpointConfiguration, EndpointType, IntegrationType, Op as PatchOp, PatchOperation,
    SecurityPolicy,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::error::{Error, Result};
use crate::plan::Change;
use crate::target::OWNER_TAG;

use super::RegionClients;
use super::desired::{deployment_description, parent_path, path_part, source_arn};
use super::diff::{Op, OpKind, REGIONAL};
use super::model::{
    APIGATEWAY_PRINCIPAL, AUTHORIZATION_NONE, DomainInfo, INVOKE_ACTION, Integration,
    STAGE_METHODS, StageSettings, base_path_key,
};
use super::observe::ObservedRegion;

/// What apply knows of the region: ids observed, and those it made.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApiState {
    pub rest_api_id: Option<String>,
    /// Resource ids by path, the root `/` included.
    pub resources: BTreeMap<String, String>,
    /// The deployment made in this pass, for a stage created after it.
    pub deployment_id: Option<String>,
    /// Our custom domain of the spec's name.
    pub domain: Option<DomainInfo>,
}

impl ApiState {
    /// The state as observed.
    pub fn observed(observed: &ObservedRegion, domain_name: &str) -> Self {
        let api = observed.api.as_ref();
        let mut resources = BTreeMap::new();
        for r in api.map(|a| a.resources.as_slice()).unwrap_or_default() {
            resources
                .entry(r.path.clone())
                .or_insert_with(|| r.id.clone());
        }
        Self {
            rest_api_id: api.map(|a| a.id.clone()),
            resources,
            deployment_id: None,
            domain: observed
                .domains
                .iter()
                .find(|d| d.name == domain_name)
                .map(|d| DomainInfo {
                    name: d.name.clone(),
                    regional_domain_name: d.regional_domain_name.clone(),
                    regional_zone_id: d.regional_zone_id.clone(),
                }),
        }
    }

    fn rest_api_id(&self, explicit: &Option<String>) -> Result<String> {
        explicit
            .clone()
            .or_else(|| self.rest_api_id.clone())
            .ok_or_else(|| {
                Error::Unexpected("no REST API to change: it was neither found nor created".into())
            })
    }

    fn resource_id(&self, path: &str) -> Result<String> {
        self.resources
            .get(path)
            .cloned()
            .ok_or_else(|| Error::Unexpected(format!("no resource {path} in the REST API")))
    }
}

/// Runs the operations in order, pushing each one's change line once it is
/// done; stops at the first failure.
pub async fn apply(
    clients: &RegionClients,
    state: &mut ApiState,
    ops: &[Op],
    done: &mut Vec<Change>,
) -> Result<()> {
    for op in ops {
        one(clients, state, op).await?;
        done.push(op.change());
    }
    Ok(())
}

fn is_code<E: ProvideErrorMetadata>(e: &E, code: &str) -> bool {
    e.code() == Some(code)
}

/// A delete of something already gone counts as done.
fn gone<T, E>(result: std::result::Result<T, E>, operation: &'static str) -> Result<()>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(e) if is_code(&e, "NotFoundException") => Ok(()),
        Err(e) => Err(Error::aws("apigateway", operation, e)),
    }
}

fn replace(path: impl Into<String>, value: impl Into<String>) -> PatchOperation {
    PatchOperation::builder()
        .op(PatchOp::Replace)
        .path(path)
        .value(value)
        .build()
}

fn regional() -> EndpointConfiguration {
    EndpointConfiguration::builder()
        .types(EndpointType::Regional)
        .build()
}

fn hash_map(map: &BTreeMap<String, String>) -> HashMap<String, String> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Patches turning the observed endpoint types into REGIONAL.
fn endpoint_patches(observed: &[String]) -> Vec<PatchOperation> {
    match observed.iter().find(|t| t.as_str() != REGIONAL) {
        Some(old) if observed.len() == 1 => vec![replace(
            format!("/endpointConfiguration/types/{old}"),
            REGIONAL,
        )],
        _ => Vec::new(),
    }
}

async fn one(clients: &RegionClients, state: &mut ApiState, op: &Op) -> Result<()> {
    let c = &clients.apigateway;
    match &op.kind {
        OpKind::CreateRestApi { tags } => create_rest_api(c, state, &op.api, tags).await,
        OpKind::UpdateRestApi {
            id, observed_types, ..
        } => update_rest_api(c, &op.api, id, observed_types).await,
        OpKind::DeleteRestApi { id } => delete_rest_api(c, state, id).await,
        OpKind::CreateResource { path } => create_resource(c, state, path).await,
        OpKind::DeleteResource { path, id } => delete_resource(c, state, path, id).await,
        OpKind::PutMethod { path, verb, method } => {
            put_method(clients, state, path, verb, &method.request_parameters).await?;
            match &method.integration {
                Some(integration) => put_integration(clients, state, path, verb, integration).await,
                None => Ok(()),
            }
        }
        OpKind::ReplaceMethod {
            path,
            verb,
            desired,
            ..
        } => {
            delete_method(clients, state, path, verb).await?;
            put_method(clients, state, path, verb, &desired.request_parameters).await?;
            match &desired.integration {
                Some(integration) => put_integration(clients, state, path, verb, integration).await,
                None => Ok(()),
            }
        }
        OpKind::PutIntegration {
            path,
            verb,
            desired,
            ..
        } => put_integration(clients, state, path, verb, desired).await,
        OpKind::DeleteMethod { path, verb } => delete_method(clients, state, path, verb).await,
        OpKind::CreateDeployment {
            stage,
            desired_hash,
            stage_exists,
            ..
        } => {
            create_deployment(c, state, stage, desired_hash, *stage_exists).await?;
            // What it deploys is known: the next pass need not ask.
            if let (Some(rest), Some(id)) = (&state.rest_api_id, &state.deployment_id) {
                let key = super::observe::deployment_key(&op.region, rest, id);
                let hashes = &clients.listing.listings.deployment_hashes;
                hashes.found(&key, Some(desired_hash.clone()));
            }
            Ok(())
        }
        OpKind::CreateStage {
            stage,
            settings,
            tags,
        } => create_stage(clients, state, stage, settings, tags).await,
        OpKind::UpdateStage {
            stage,
            observed,
            desired,
        } => {
            let rest = state.rest_api_id(&None)?;
            update_stage(clients, &rest, stage, stage_patches(observed, desired)).await
        }
        OpKind::DeleteStage { stage } => {
            let rest = state.rest_api_id(&None)?;
            gone(
                c.delete_stage()
                    .rest_api_id(rest)
                    .stage_name(stage)
                    .send()
                    .await,
                "DeleteStage",
            )
        }
        OpKind::CreateDomain {
            domain,
            certificate_arn,
            tags,
        } => create_domain(c, state, domain, certificate_arn, tags).await,
        OpKind::UpdateDomain {
            domain,
            observed_certificate,
            desired_certificate,
            observed_types,
        } => {
            let certificate = desired_certificate
                .as_ref()
                .filter(|c| Some(*c) != observed_certificate.as_ref());
            update_domain(c, state, domain, certificate, observed_types).await
        }
        OpKind::DeleteDomain { domain } => delete_domain(c, state, domain).await,
        OpKind::CreateMapping {
            domain,
            rest_api_id,
            stage,
        } => c
            .create_base_path_mapping()
            .domain_name(domain)
            .rest_api_id(state.rest_api_id(rest_api_id)?)
            .stage(stage)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::aws("apigateway", "CreateBasePathMapping", e)),
        OpKind::UpdateMapping {
            domain,
            observed,
            rest_api_id,
            stage,
        } => c
            .update_base_path_mapping()
            .domain_name(domain)
            .base_path(observed.base_path_key())
            .patch_operations(replace("/restapiId", state.rest_api_id(rest_api_id)?))
            .patch_operations(replace("/stage", stage))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::aws("apigateway", "UpdateBasePathMapping", e)),
        OpKind::DeleteMapping { domain, mapping } => gone(
            c.delete_base_path_mapping()
                .domain_name(domain)
                .base_path(base_path_key(&mapping.base_path))
                .send()
                .await,
            "DeleteBasePathMapping",
        ),
        OpKind::AddPermission {
            function,
            statement_id,
            rest_api_id,
        } => {
            let arn = source_arn(function, &op.region, &state.rest_api_id(rest_api_id)?);
            add_permission(clients, function, statement_id, &arn).await
        }
        OpKind::RemovePermission { permission } => {
            remove_permission(clients, &permission.function, &permission.statement_id).await
        }
    }
}

type ApiClient = aws_sdk_apigateway::Client;

async fn create_rest_api(
    c: &ApiClient,
    state: &mut ApiState,
    name: &str,
    tags: &BTreeMap<String, String>,
) -> Result<()> {
    let owner = tags.get(OWNER_TAG).map(String::as_str).unwrap_or_default();
    let out = c
        .create_rest_api()
        .name(name)
        .description(format!("GlobalApi {owner}"))
        .endpoint_configuration(regional())
        .set_tags(Some(hash_map(tags)))
        .send()
        .await
        .map_err(|e| Error::aws("apigateway", "CreateRestApi", e))?;
    let id = out
        .id()
        .ok_or_else(|| Error::Unexpected("CreateRestApi returned no id".into()))?
        .to_owned();
    state.resources.clear();
    let root = match out.root_resource_id() {
        Some(root) => root.to_owned(),
        None => root_resource(c, &id).await?,
    };
    state.resources.insert("/".into(), root);
    state.rest_api_id = Some(id);
    Ok(())
}

async fn update_rest_api(
    c: &ApiClient,
    name: &str,
    id: &str,
    observed_types: &[String],
) -> Result<()> {
    let mut patches = vec![replace("/name", name)];
    patches.extend(endpoint_patches(observed_types));
    c.update_rest_api()
        .rest_api_id(id)
        .set_patch_operations(Some(patches))
        .send()
        .await
        .map_err(|e| Error::aws("apigateway", "UpdateRestApi", e))?;
    Ok(())
}

async fn delete_rest_api(c: &ApiClient, state: &mut ApiState, id: &str) -> Result<()> {
    gone(
        c.delete_rest_api().rest_api_id(id).send().await,
        "DeleteRestApi",
    )?;
    if state.rest_api_id.as_deref() == Some(id) {
        state.rest_api_id = None;
        state.resources.clear();
    }
    Ok(())
}

async fn create_resource(c: &ApiClient, state: &mut ApiState, path: &str) -> Result<()> {
    let rest = state.rest_api_id(&None)?;
    let parent = state.resource_id(parent_path(path))?;
    let out = c
        .create_resource()
        .rest_api_id(rest)
        .parent_id(parent)
        .path_part(path_part(path))
        .send()
        .await
        .map_err(|e| Error::aws("apigateway", "CreateResource", e))?;
    let id = out
        .id()
        .ok_or_else(|| Error::Unexpected(format!("CreateResource {path} returned no id")))?;
    state.resources.insert(path.to_owned(), id.to_owned());
    Ok(())
}

async fn delete_resource(c: &ApiClient, state: &mut ApiState, path: &str, id: &str) -> Result<()> {
    let rest = state.rest_api_id(&None)?;
    gone(
        c.delete_resource()
            .rest_api_id(rest)
            .resource_id(id)
            .send()
            .await,
        "DeleteResource",
    )?;
    if state.resources.get(path).map(String::as_str) == Some(id) {
        state.resources.remove(path);
    }
    Ok(())
}

/// A deployment of the REST API as it is now, and the stage moved to it
/// when the stage exists (a new stage is made on it next).
async fn create_deployment(
    c: &ApiClient,
    state: &mut ApiState,
    stage: &str,
    desired_hash: &str,
    stage_exists: bool,
) -> Result<()> {
    let rest = state.rest_api_id(&None)?;
    let out = c
        .create_deployment()
        .rest_api_id(&rest)
        .description(deployment_description(desired_hash))
        .send()
        .await
        .map_err(|e| Error::aws("apigateway", "CreateDeployment", e))?;
    let id = out
        .id()
        .ok_or_else(|| Error::Unexpected("CreateDeployment returned no id".into()))?
        .to_owned();
    if stage_exists {
        c.update_stage()
            .rest_api_id(&rest)
            .stage_name(stage)
            .patch_operations(replace("/deploymentId", &id))
            .send()
            .await
            .map_err(|e| Error::aws("apigateway", "UpdateStage", e))?;
    }
    state.deployment_id = Some(id);
    Ok(())
}

async fn create_stage(
    clients: &RegionClients,
    state: &mut ApiState,
    stage: &str,
    settings: &StageSettings,
    tags: &BTreeMap<String, String>,
) -> Result<()> {
    let rest = state.rest_api_id(&None)?;
    let deployment = state
        .deployment_id
        .clone()
        .ok_or_else(|| Error::Unexpected(format!("stage {stage} needs a deployment first")))?;
    clients
        .apigateway
        .create_stage()
        .rest_api_id(&rest)
        .stage_name(stage)
        .deployment_id(deployment)
        .tracing_enabled(settings.tracing)
        .set_tags(Some(hash_map(tags)))
        .send()
        .await
        .map_err(|e| Error::aws("apigateway", "CreateStage", e))?;
    // A new stage has AWS's defaults; what differs from them, in one call.
    let fresh = StageSettings {
        tracing: settings.tracing,
        ..StageSettings::default()
    };
    let patches = stage_patches(&fresh, settings);
    if !patches.is_empty() {
        update_stage(clients, &rest, stage, patches).await?;
    }
    Ok(())
}

async fn create_domain(
    c: &ApiClient,
    state: &mut ApiState,
    domain: &str,
    certificate_arn: &str,
    tags: &BTreeMap<String, String>,
) -> Result<()> {
    let out = c
        .create_domain_name()
        .domain_name(domain)
        .regional_certificate_arn(certificate_arn)
        .endpoint_configuration(regional())
        .security_policy(SecurityPolicy::Tls12)
        .set_tags(Some(hash_map(tags)))
        .send()
        .await
        .map_err(|e| Error::aws("apigateway", "CreateDomainName", e))?;
    state.domain = Some(DomainInfo {
        name: domain.to_owned(),
        regional_domain_name: out.regional_domain_name().map(str::to_owned),
        regional_zone_id: out.regional_hosted_zone_id().map(str::to_owned),
    });
    Ok(())
}

/// The custom domain's certificate (when `certificate` differs) and its
/// endpoint type.
async fn update_domain(
    c: &ApiClient,
    state: &mut ApiState,
    domain: &str,
    certificate: Option<&String>,
    observed_types: &[String],
) -> Result<()> {
    let mut patches = Vec::new();
    if let Some(certificate) = certificate {
        patches.push(replace("/regionalCertificateArn", certificate));
    }
    patches.extend(endpoint_patches(observed_types));
    let out = c
        .update_domain_name()
        .domain_name(domain)
        .set_patch_operations(Some(patches))
        .send()
        .await
        .map_err(|e| Error::aws("apigateway", "UpdateDomainName", e))?;
    state.domain = Some(DomainInfo {
        name: domain.to_owned(),
        regional_domain_name: out.regional_domain_name().map(str::to_owned),
        regional_zone_id: out.regional_hosted_zone_id().map(str::to_owned),
    });
    Ok(())
}

async fn delete_domain(c: &ApiClient, state: &mut ApiState, domain: &str) -> Result<()> {
    gone(
        c.delete_domain_name().domain_name(domain).send().await,
        "DeleteDomainName",
    )?;
    if state.domain.as_ref().is_some_and(|d| d.name == domain) {
        state.domain = None;
    }
    Ok(())
}

async fn root_resource(c: &ApiClient, rest_api_id: &str) -> Result<String> {
    let out = c
        .get_resources()
        .rest_api_id(rest_api_id)
        .send()
        .await
        .map_err(|e| Error::aws("apigateway", "GetResources", e))?;
    out.items()
        .iter()
        .find(|r| r.path() == Some("/"))
        .and_then(|r| r.id())
        .map(str::to_owned)
        .ok_or_else(|| Error::Unexpected(format!("REST API {rest_api_id} has no root resource")))
}

/// The UpdateStage operations that take a stage from `observed` to
/// `desired`: only what differs (throttling: only the keys `desired` sets).
fn stage_patches(observed: &StageSettings, desired: &StageSettings) -> Vec<PatchOperation> {
    let mut patches = Vec::new();
    if observed.tracing != desired.tracing {
        patches.push(replace("/tracingEnabled", desired.tracing.to_string()));
    }
    if observed.metrics != desired.metrics {
        patches.push(replace(
            format!("/{STAGE_METHODS}/metrics/enabled"),
            desired.metrics.to_string(),
        ));
    }
    if observed.logging != desired.logging {
        patches.push(replace(
            format!("/{STAGE_METHODS}/logging/loglevel"),
            desired.logging.as_str(),
        ));
    }
    if desired.access_log_changes(observed) {
        match &desired.access_log {
            Some(log) => {
                patches.push(replace(
                    "/accessLogSettings/destinationArn",
                    log.destination_arn.clone(),
                ));
                patches.push(replace("/accessLogSettings/format", log.format.clone()));
            }
            None => patches.push(
                PatchOperation::builder()
                    .op(PatchOp::Remove)
                    .path("/accessLogSettings")
                    .build(),
            ),
        }
    }
    for (key, _, limits) in desired.throttling_changes(observed) {
        patches.push(replace(
            format!("/{key}/throttling/rateLimit"),
            limits.rate.clone(),
        ));
        patches.push(replace(
            format!("/{key}/throttling/burstLimit"),
            limits.burst.to_string(),
        ));
    }
    patches
}

async fn update_stage(
    clients: &RegionClients,
    rest_api_id: &str,
    stage: &str,
    patches: Vec<PatchOperation>,
) -> Result<()> {
    clients
        .apigateway
        .update_stage()
        .rest_api_id(rest_api_id)
        .stage_name(stage)
        .set_patch_operations(Some(patches))
        .send()
        .await
        .map_err(|e| Error::aws("apigateway", "UpdateStage", e))?;
    Ok(())
}

async fn put_method(
    clients: &RegionClients,
    state: &ApiState,
    path: &str,
    verb: &str,
    request_parameters: &BTreeMap<String, bool>,
) -> Result<()> {
    let params: HashMap<String, bool> = request_parameters
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    clients
        .apigateway
        .put_method()
        .rest_api_id(state.rest_api_id(&None)?)
        .resource_id(state.resource_id(path)?)
        .http_method(verb)
        .authorization_type(AUTHORIZATION_NONE)
        .set_request_parameters((!params.is_empty()).then_some(params))
        .send()
        .await
        .map_err(|e| Error::aws("apigateway", "PutMethod", e))?;
    Ok(())
}

async fn put_integration(
    clients: &RegionClients,
    state: &ApiState,
    path: &str,
    verb: &str,
    integration: &Integration,
) -> Result<()> {
    let params = hash_map(&integration.request_parameters);
    clients
        .apigateway
        .put_integration()
        .rest_api_id(state.rest_api_id(&None)?)
        .resource_id(state.resource_id(path)?)
        .http_method(verb)
        .r#type(IntegrationType::from(integration.kind.as_str()))
        .integration_http_method(&integration.http_method)
        .uri(&integration.uri)
        .set_request_parameters((!params.is_empty()).then_some(params))
        .send()
        .await
        .map_err(|e| Error::aws("apigateway", "PutIntegration", e))?;
    Ok(())
}

async fn delete_method(
    clients: &RegionClients,
    state: &ApiState,
    path: &str,
    verb: &str,
) -> Result<()> {
    gone(
        clients
            .apigateway
            .delete_method()
            .rest_api_id(state.rest_api_id(&None)?)
            .resource_id(state.resource_id(path)?)
            .http_method(verb)
            .send()
            .await,
        "DeleteMethod",
    )
}

/// Adds our statement. AWS refuses a statement id that exists (the
/// emulator stores a twin): one found there after observation is replaced.
pub(crate) async fn add_permission(
    clients: &RegionClients,
    function: &str,
    statement_id: &str,
    source_arn: &str,
) -> Result<()> {
    let add = || {
        clients
            .lambda
            .add_permission()
            .function_name(function)
            .statement_id(statement_id)
            .action(INVOKE_ACTION)
            .principal(APIGATEWAY_PRINCIPAL)
            .source_arn(source_arn)
            .send()
    };
    match add().await {
        Ok(_) => Ok(()),
        Err(e) if is_code(&e, "ResourceConflictException") => {
            remove_permission(clients, function, statement_id).await?;
            add()
                .await
                .map_err(|e| Error::aws("lambda", "AddPermission", e))?;
            Ok(())
        }
        Err(e) => Err(Error::aws("lambda", "AddPermission", e)),
    }
}

/// Removes our statement; a statement or function already gone counts as removed.
pub async fn remove_permission(
    clients: &RegionClients,
    function: &str,
    statement_id: &str,
) -> Result<()> {
    match clients
        .lambda
        .remove_permission()
        .function_name(function)
        .statement_id(statement_id)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_code(&e, "ResourceNotFoundException") => Ok(()),
        Err(e) => Err(Error::aws("lambda", "RemovePermission", e)),
    }
}
