//! What must change in one region (pure): operations on the REST API, its
//! resources, methods and integrations, the deployment and stage, the custom
//! domain and its base path mapping, and the Lambda permission.

use std::collections::{BTreeMap, BTreeSet};

use crate::plan::{Action, Change, FieldChange, Service, differing_fields};

use super::desired::{DesiredRegion, resource_paths, source_arn};
use super::model::{
    APIGATEWAY_PRINCIPAL, INVOKE_ACTION, Integration, Mapping, Method, Permission, StageSettings,
    map_text,
};
use super::observe::{ObservedApi, ObservedDomain, ObservedRegion};

/// The endpoint type of everything the operator makes.
pub const REGIONAL: &str = "REGIONAL";

/// One operation in one region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    pub region: String,
    /// The REST API's name, for change lines.
    pub api: String,
    pub kind: OpKind,
}

/// What an operation does. Ids that do not exist yet (a REST API about to
/// be created) are `None` here and taken from what apply made before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpKind {
    CreateRestApi {
        tags: BTreeMap<String, String>,
    },
    /// Put the name and the REGIONAL endpoint type back.
    UpdateRestApi {
        id: String,
        observed_name: String,
        observed_types: Vec<String>,
    },
    DeleteRestApi {
        id: String,
    },
    CreateResource {
        path: String,
    },
    DeleteResource {
        path: String,
        id: String,
    },
    /// A new method with its integration.
    PutMethod {
        path: String,
        verb: String,
        method: Method,
    },
    /// Method settings differ: delete and put it again, with its integration.
    ReplaceMethod {
        path: String,
        verb: String,
        observed: Method,
        desired: Method,
    },
    /// Only the integration differs (or is missing): put it again.
    PutIntegration {
        path: String,
        verb: String,
        observed: Option<Integration>,
        desired: Integration,
    },
    DeleteMethod {
        path: String,
        verb: String,
    },
    /// Deploy the API and point the stage (if it exists) at the deployment.
    CreateDeployment {
        stage: String,
        observed_hash: Option<String>,
        desired_hash: String,
        stage_exists: bool,
    },
    CreateStage {
        stage: String,
        settings: StageSettings,
        tags: BTreeMap<String, String>,
    },
    UpdateStage {
        stage: String,
        observed: StageSettings,
        desired: StageSettings,
    },
    DeleteStage {
        stage: String,
    },
    CreateDomain {
        domain: String,
        certificate_arn: String,
        tags: BTreeMap<String, String>,
    },
    /// Certificate and/or endpoint type; `desired_certificate` `None` keeps it.
    UpdateDomain {
        domain: String,
        observed_certificate: Option<String>,
        desired_certificate: Option<String>,
        observed_types: Vec<String>,
    },
    DeleteDomain {
        domain: String,
    },
    /// The empty base path to the REST API's stage.
    CreateMapping {
        domain: String,
        rest_api_id: Option<String>,
        stage: String,
    },
    UpdateMapping {
        domain: String,
        observed: Mapping,
        rest_api_id: Option<String>,
        stage: String,
    },
    DeleteMapping {
        domain: String,
        mapping: Mapping,
    },
    AddPermission {
        function: String,
        statement_id: String,
        rest_api_id: Option<String>,
    },
    RemovePermission {
        permission: Permission,
    },
}

impl Op {
    fn new(region: &str, api: &str, kind: OpKind) -> Self {
        Self {
            region: region.to_owned(),
            api: api.to_owned(),
            kind,
        }
    }

    /// Whether the operation changes what a deployment captures.
    pub fn changes_api(&self) -> bool {
        matches!(
            self.kind,
            OpKind::CreateRestApi { .. }
                | OpKind::CreateResource { .. }
                | OpKind::DeleteResource { .. }
                | OpKind::PutMethod { .. }
                | OpKind::ReplaceMethod { .. }
                | OpKind::PutIntegration { .. }
                | OpKind::DeleteMethod { .. }
        )
    }

    /// The change line of this operation.
    pub fn change(&self) -> Change {
        let (region, api) = (self.region.as_str(), self.api.as_str());
        let new = |action, kind, resource: String| {
            Change::new(Service::ApiGateway, Some(region), action, kind, resource)
        };
        let on_api = |rest: &str| format!("{region} {api}{rest}");
        match &self.kind {
            OpKind::CreateRestApi { .. } => new(Action::Create, "rest api", on_api("")),
            OpKind::UpdateRestApi {
                observed_name,
                observed_types,
                ..
            } => new(Action::Update, "rest api", on_api("")).with_fields(differing_fields([
                ("Name", Some(observed_name.clone()), Some(api.to_owned())),
                (
                    "EndpointType",
                    Some(observed_types.join(",")),
                    Some(REGIONAL.into()),
                ),
            ])),
            OpKind::DeleteRestApi { id } => {
                new(Action::Delete, "rest api", on_api(&format!(" ({id})")))
            }
            OpKind::CreateResource { path } => {
                new(Action::Create, "resource", on_api(&format!(" {path}")))
            }
            OpKind::DeleteResource { path, .. } => {
                new(Action::Delete, "resource", on_api(&format!(" {path}")))
            }
            OpKind::PutMethod { path, verb, .. } => {
                new(Action::Create, "method", on_api(&format!(" {verb} {path}")))
            }
            OpKind::ReplaceMethod {
                path,
                verb,
                observed,
                desired,
            } => new(Action::Update, "method", on_api(&format!(" {verb} {path}")))
                .with_fields(method_fields(observed, desired)),
            OpKind::PutIntegration {
                path,
                verb,
                observed: None,
                ..
            } => new(
                Action::Create,
                "integration",
                on_api(&format!(" {verb} {path}")),
            ),
            OpKind::PutIntegration {
                path,
                verb,
                observed: Some(observed),
                desired,
            } => new(
                Action::Update,
                "integration",
                on_api(&format!(" {verb} {path}")),
            )
            .with_fields(integration_fields(Some(observed), Some(desired))),
            OpKind::DeleteMethod { path, verb } => {
                new(Action::Delete, "method", on_api(&format!(" {verb} {path}")))
            }
            OpKind::CreateDeployment {
                stage,
                observed_hash,
                desired_hash,
                ..
            } => new(Action::Create, "deployment", on_api(&format!("/{stage}"))).with_fields(
                differing_fields([("ApiHash", observed_hash.clone(), Some(desired_hash.clone()))]),
            ),
            OpKind::CreateStage { stage, .. } => {
                new(Action::Create, "stage", on_api(&format!("/{stage}")))
            }
            OpKind::UpdateStage {
                stage,
                observed,
                desired,
            } => new(Action::Update, "stage", on_api(&format!("/{stage}")))
                .with_fields(stage_fields(observed, desired)),
            OpKind::DeleteStage { stage } => {
                new(Action::Delete, "stage", on_api(&format!("/{stage}")))
            }
            OpKind::CreateDomain { domain, .. } => new(
                Action::Create,
                "custom domain",
                format!("{region} {domain}"),
            ),
            OpKind::UpdateDomain {
                domain,
                observed_certificate,
                desired_certificate,
                observed_types,
            } => new(
                Action::Update,
                "custom domain",
                format!("{region} {domain}"),
            )
            .with_fields(differing_fields([
                (
                    "RegionalCertificateArn",
                    observed_certificate.clone(),
                    desired_certificate
                        .clone()
                        .or_else(|| observed_certificate.clone()),
                ),
                (
                    "EndpointType",
                    Some(observed_types.join(",")),
                    Some(REGIONAL.into()),
                ),
            ])),
            OpKind::DeleteDomain { domain } => new(
                Action::Delete,
                "custom domain",
                format!("{region} {domain}"),
            ),
            OpKind::CreateMapping { domain, .. } => new(
                Action::Create,
                "base path mapping",
                format!("{region} {domain}/(none)"),
            ),
            OpKind::UpdateMapping {
                domain,
                observed,
                rest_api_id,
                stage,
            } => new(
                Action::Update,
                "base path mapping",
                format!("{region} {domain}/(none)"),
            )
            .with_fields(differing_fields([
                (
                    "RestApiId",
                    Some(observed.rest_api_id.clone()),
                    Some(api_id_text(rest_api_id)),
                ),
                ("Stage", observed.stage.clone(), Some(stage.clone())),
            ])),
            OpKind::DeleteMapping { domain, mapping } => new(
                Action::Delete,
                "base path mapping",
                format!("{region} {domain}/{}", mapping.base_path_key()),
            ),
            OpKind::AddPermission {
                function,
                statement_id,
                rest_api_id,
            } => {
                let arn = source_arn(function, region, &api_id_text(rest_api_id));
                new(
                    Action::Create,
                    "lambda permission",
                    format!("{region} {function} {statement_id}"),
                )
                .with_fields(differing_fields([("SourceArn", None, Some(arn))]))
            }
            OpKind::RemovePermission { permission } => new(
                Action::Delete,
                "lambda permission",
                format!(
                    "{region} {} {}",
                    permission.function, permission.statement_id
                ),
            ),
        }
    }
}

fn api_id_text(id: &Option<String>) -> String {
    id.clone().unwrap_or_else(|| "(new REST API)".into())
}

fn stage_fields(observed: &StageSettings, desired: &StageSettings) -> Vec<FieldChange> {
    let mut changes = differing_fields([
        (
            "TracingEnabled",
            Some(observed.tracing.to_string()),
            Some(desired.tracing.to_string()),
        ),
        (
            "MetricsEnabled",
            Some(observed.metrics.to_string()),
            Some(desired.metrics.to_string()),
        ),
        (
            "LoggingLevel",
            Some(observed.logging.as_str().to_owned()),
            Some(desired.logging.as_str().to_owned()),
        ),
    ]);
    if desired.access_log_changes(observed) {
        let arn = |s: &StageSettings| s.access_log.as_ref().map(|l| l.destination_arn.clone());
        let format = |s: &StageSettings| s.access_log.as_ref().map(|l| l.format.clone());
        changes.extend(differing_fields([
            ("AccessLogDestination", arn(observed), arn(desired)),
            ("AccessLogFormat", format(observed), format(desired)),
        ]));
    }
    changes.extend(
        desired
            .throttling_changes(observed)
            .into_iter()
            .map(|(key, found, want)| {
                FieldChange::new(
                    format!("Throttling {key}"),
                    found.map(ToString::to_string),
                    Some(want.to_string()),
                )
            }),
    );
    changes
}

fn method_fields(observed: &Method, desired: &Method) -> Vec<FieldChange> {
    let mut changes = differing_fields([
        (
            "AuthorizationType",
            Some(observed.authorization_type.clone()),
            Some(desired.authorization_type.clone()),
        ),
        (
            "RequestParameters",
            Some(map_text(&observed.request_parameters)),
            Some(map_text(&desired.request_parameters)),
        ),
    ]);
    changes.extend(integration_fields(
        observed.integration.as_ref(),
        desired.integration.as_ref(),
    ));
    changes
}

fn integration_fields(
    observed: Option<&Integration>,
    desired: Option<&Integration>,
) -> Vec<FieldChange> {
    let part = |i: Option<&Integration>, f: fn(&Integration) -> String| i.map(f);
    differing_fields([
        (
            "Integration.Type",
            part(observed, |i| i.kind.clone()),
            part(desired, |i| i.kind.clone()),
        ),
        (
            "Integration.HttpMethod",
            part(observed, |i| i.http_method.clone()),
            part(desired, |i| i.http_method.clone()),
        ),
        (
            "Integration.Uri",
            part(observed, |i| i.uri.clone()),
            part(desired, |i| i.uri.clone()),
        ),
        (
            "Integration.RequestParameters",
            part(observed, |i| map_text(&i.request_parameters)),
            part(desired, |i| map_text(&i.request_parameters)),
        ),
    ])
}

/// The operations of one region, and what cannot be done yet or at all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegionDiff {
    /// In the order they must run.
    pub ops: Vec<Op>,
    /// What waits for something else (the certificate), one sentence each.
    pub pending: Vec<String>,
    /// What exists and is not ours, one sentence each.
    pub conflicts: Vec<String>,
    /// Our custom domains for a name the spec no longer uses, kept until
    /// DNS no longer leads to them.
    pub retained_domains: Vec<String>,
}

/// Compares a region's desired state with ours found in AWS. `None`
/// desired (region left the spec, or destroy) removes everything of ours.
pub fn diff(desired: Option<&DesiredRegion>, observed: &ObservedRegion) -> RegionDiff {
    match desired {
        Some(desired) => converge(desired, observed),
        None => teardown(observed),
    }
}

fn teardown(observed: &ObservedRegion) -> RegionDiff {
    let region = observed.region.as_str();
    let api = observed
        .api
        .as_ref()
        .map(|a| a.name.as_str())
        .unwrap_or("(no REST API)");
    let mut ops = Vec::new();
    for domain in &observed.domains {
        ops.extend(delete_domain(region, api, domain));
    }
    ops.extend(observed.permissions.iter().map(|p| {
        Op::new(
            region,
            api,
            OpKind::RemovePermission {
                permission: p.clone(),
            },
        )
    }));
    for extra in observed.api.iter().chain(&observed.extra_apis) {
        ops.push(Op::new(
            region,
            &extra.name,
            OpKind::DeleteRestApi {
                id: extra.id.clone(),
            },
        ));
    }
    RegionDiff {
        ops,
        ..Default::default()
    }
}

fn delete_domain(region: &str, api: &str, domain: &ObservedDomain) -> Vec<Op> {
    // AWS deletes mappings with their domain; the emulator keeps them, so
    // they go first, explicitly.
    let mut ops: Vec<Op> = domain
        .mappings
        .iter()
        .map(|m| {
            Op::new(
                region,
                api,
                OpKind::DeleteMapping {
                    domain: domain.name.clone(),
                    mapping: m.clone(),
                },
            )
        })
        .collect();
    ops.push(Op::new(
        region,
        api,
        OpKind::DeleteDomain {
            domain: domain.name.clone(),
        },
    ));
    ops
}

fn converge(d: &DesiredRegion, observed: &ObservedRegion) -> RegionDiff {
    let region = d.region.as_str();
    let op = |kind| Op::new(region, &d.api_name, kind);
    let mut out = RegionDiff::default();
    let api = observed.api.as_ref();
    let api_id = api.map(|a| a.id.clone());

    match api {
        None => out.ops.push(op(OpKind::CreateRestApi {
            tags: d.tags.clone(),
        })),
        Some(a) if a.name != d.api_name || a.endpoint_types != [REGIONAL] => {
            out.ops.push(op(OpKind::UpdateRestApi {
                id: a.id.clone(),
                observed_name: a.name.clone(),
                observed_types: a.endpoint_types.clone(),
            }))
        }
        Some(_) => {}
    }
    out.ops.extend(routes(d, api).into_iter().map(op));
    let api_changed = out.ops.iter().any(Op::changes_api);

    // The permission before the deployment: the API answers as soon as it is deployed.
    out.ops.extend(
        permissions(d, observed, api_id.as_deref())
            .into_iter()
            .map(op),
    );
    out.ops.extend(
        deployment_and_stage(d, api, api_changed)
            .into_iter()
            .map(op),
    );
    custom_domain(d, observed, api_id.as_deref(), &mut out);
    leftovers(d, observed, &mut out);
    out
}

/// A deployment when the API changed or the stage serves another one, and
/// the stage made or set to the spec.
fn deployment_and_stage(
    d: &DesiredRegion,
    api: Option<&ObservedApi>,
    api_changed: bool,
) -> Vec<OpKind> {
    let mut kinds = Vec::new();
    let stage = api.and_then(|a| a.stage(&d.stage_name));
    let deployed_hash = stage.and_then(|s| s.api_hash.clone());
    if api_changed || deployed_hash.as_deref() != Some(d.api_hash.as_str()) {
        kinds.push(OpKind::CreateDeployment {
            stage: d.stage_name.clone(),
            observed_hash: deployed_hash,
            desired_hash: d.api_hash.clone(),
            stage_exists: stage.is_some(),
        });
    }
    match stage {
        None => kinds.push(OpKind::CreateStage {
            stage: d.stage_name.clone(),
            settings: d.stage.clone(),
            tags: d.tags.clone(),
        }),
        Some(s) if !d.stage.met_by(&s.settings) => kinds.push(OpKind::UpdateStage {
            stage: d.stage_name.clone(),
            observed: s.settings.clone(),
            desired: d.stage.clone(),
        }),
        Some(_) => {}
    }
    kinds
}

/// The custom domain of the spec's name and its mapping: made once the
/// certificate is issued, kept, or a conflict when someone else has it.
fn custom_domain(
    d: &DesiredRegion,
    observed: &ObservedRegion,
    api_id: Option<&str>,
    out: &mut RegionDiff,
) {
    let region = d.region.as_str();
    let op = |kind| Op::new(region, &d.api_name, kind);
    let name = &d.domain.name;
    match observed.domains.iter().find(|x| x.name == *name) {
        Some(domain) => {
            let certificate_differs = d.domain.certificate_arn.is_some()
                && domain.certificate_arn != d.domain.certificate_arn;
            if certificate_differs || domain.endpoint_types != [REGIONAL] {
                out.ops.push(op(OpKind::UpdateDomain {
                    domain: name.clone(),
                    observed_certificate: domain.certificate_arn.clone(),
                    desired_certificate: d.domain.certificate_arn.clone(),
                    observed_types: domain.endpoint_types.clone(),
                }));
            }
            out.ops
                .extend(mappings(d, domain, api_id).into_iter().map(op));
        }
        None if observed.foreign_domains.contains(name) => out.conflicts.push(format!(
            "{region}: custom domain {name} exists and is not owned by this GlobalApi"
        )),
        None => match &d.domain.certificate_arn {
            Some(certificate) => {
                out.ops.push(op(OpKind::CreateDomain {
                    domain: name.clone(),
                    certificate_arn: certificate.clone(),
                    tags: d.tags.clone(),
                }));
                out.ops.push(op(OpKind::CreateMapping {
                    domain: name.clone(),
                    rest_api_id: api_id.map(str::to_owned),
                    stage: d.stage_name.clone(),
                }));
            }
            None => out.pending.push(format!(
                "{region}: custom domain {name} waits for its certificate"
            )),
        },
    }
}

/// What the spec no longer names: other stages (once no mapping of ours
/// uses them), custom domains of a name the spec left (only once DNS has
/// moved off them), and extra REST APIs of ours.
fn leftovers(d: &DesiredRegion, observed: &ObservedRegion, out: &mut RegionDiff) {
    let region = d.region.as_str();
    let op = |kind| Op::new(region, &d.api_name, kind);
    if let Some(a) = observed.api.as_ref() {
        for s in a.stages.iter().filter(|s| s.name != d.stage_name) {
            out.ops.push(op(OpKind::DeleteStage {
                stage: s.name.clone(),
            }));
        }
    }
    for domain in observed.domains.iter().filter(|x| x.name != d.domain.name) {
        if d.retire_old_domains {
            out.ops.extend(delete_domain(region, &d.api_name, domain));
        } else {
            out.retained_domains.push(domain.name.clone());
        }
    }
    for extra in &observed.extra_apis {
        out.ops.push(op(OpKind::DeleteRestApi {
            id: extra.id.clone(),
        }));
    }
}

/// Resource and method operations: creates parents first, deletes children first.
fn routes(d: &DesiredRegion, api: Option<&ObservedApi>) -> Vec<OpKind> {
    let wanted = resource_paths(&d.routes);
    let mut ops = Vec::new();
    let resource = |path: &str| api.and_then(|a| a.resource(path));

    for path in &wanted {
        if resource(path).is_none() {
            ops.push(OpKind::CreateResource { path: path.clone() });
        }
    }
    for (path, methods) in &d.routes {
        for (verb, want) in methods {
            let (path, verb) = (path.clone(), verb.clone());
            match resource(&path).and_then(|r| r.methods.get(&verb)) {
                None => ops.push(OpKind::PutMethod {
                    path,
                    verb,
                    method: want.clone(),
                }),
                Some(have) if have == want => {}
                Some(have)
                    if have.authorization_type != want.authorization_type
                        || have.request_parameters != want.request_parameters =>
                {
                    ops.push(OpKind::ReplaceMethod {
                        path,
                        verb,
                        observed: have.clone(),
                        desired: want.clone(),
                    })
                }
                Some(have) => {
                    if let Some(desired) = &want.integration {
                        ops.push(OpKind::PutIntegration {
                            path,
                            verb,
                            observed: have.integration.clone(),
                            desired: desired.clone(),
                        })
                    }
                }
            }
        }
    }

    let Some(api) = api else { return ops };
    let mut seen = BTreeSet::new();
    let mut unwanted = Vec::new();
    for r in &api.resources {
        let kept = r.path == "/" || wanted.contains(&r.path);
        if !kept || !seen.insert(r.path.clone()) {
            unwanted.push(r);
            continue;
        }
        for verb in r.methods.keys() {
            if !d.routes.get(&r.path).is_some_and(|m| m.contains_key(verb)) {
                ops.push(OpKind::DeleteMethod {
                    path: r.path.clone(),
                    verb: verb.clone(),
                });
            }
        }
    }
    // Deepest first: the emulator leaves children of a deleted resource dangling.
    unwanted.sort_by_key(|r| std::cmp::Reverse(r.path.matches('/').count()));
    ops.extend(unwanted.into_iter().map(|r| OpKind::DeleteResource {
        path: r.path.clone(),
        id: r.id.clone(),
    }));
    ops
}

fn mappings(d: &DesiredRegion, domain: &ObservedDomain, api_id: Option<&str>) -> Vec<OpKind> {
    let mut ops = Vec::new();
    let stage = d.stage_name.clone();
    match domain.mappings.iter().find(|m| m.base_path.is_empty()) {
        None => ops.push(OpKind::CreateMapping {
            domain: domain.name.clone(),
            rest_api_id: api_id.map(str::to_owned),
            stage,
        }),
        Some(m)
            if Some(m.rest_api_id.as_str()) == api_id
                && m.stage.as_deref() == Some(stage.as_str()) => {}
        Some(m) => ops.push(OpKind::UpdateMapping {
            domain: domain.name.clone(),
            observed: m.clone(),
            rest_api_id: api_id.map(str::to_owned),
            stage,
        }),
    }
    for m in domain.mappings.iter().filter(|m| !m.base_path.is_empty()) {
        ops.push(OpKind::DeleteMapping {
            domain: domain.name.clone(),
            mapping: m.clone(),
        });
    }
    ops
}

/// Our statement must exist once, on the spec's function, for this REST API;
/// every other statement with our id goes (removals before the add, since
/// they share the id).
fn permissions(d: &DesiredRegion, observed: &ObservedRegion, api_id: Option<&str>) -> Vec<OpKind> {
    let mut ops = Vec::new();
    let mut kept = false;
    for p in &observed.permissions {
        let right = match (&d.lambda_function, api_id) {
            (Some(function), Some(id)) => {
                p.function == *function
                    && p.source_arn.as_deref() == Some(source_arn(function, &d.region, id).as_str())
                    && p.principal.as_deref() == Some(APIGATEWAY_PRINCIPAL)
                    && p.action.as_deref() == Some(INVOKE_ACTION)
            }
            _ => false,
        };
        if right && !kept {
            kept = true;
        } else {
            ops.push(OpKind::RemovePermission {
                permission: p.clone(),
            });
        }
    }
    if let (Some(function), false) = (&d.lambda_function, kept) {
        ops.push(OpKind::AddPermission {
            function: function.clone(),
            statement_id: d.statement_id.clone(),
            rest_api_id: api_id.map(str::to_owned),
        });
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::apigateway::desired::{self, ApiGatewayInputs, DesiredRegion};
    use crate::aws::apigateway::observe::{ObservedResource, ObservedStage};
    use crate::target::fixtures::{FAILOVER, LATENCY, target};

    const CERT: &str = "arn:aws:acm:us-east-1:123456789012:certificate/c1";

    fn wanted(spec: &str) -> DesiredRegion {
        let inputs = ApiGatewayInputs {
            retire_old_domains: true,
            certificates: [("us-east-1".to_owned(), CERT.to_owned())]
                .into_iter()
                .collect(),
            previous_regions: vec![],
            ..Default::default()
        };
        desired::regions(&target(spec), &inputs)
            .remove(0)
            .1
            .expect("valid region")
    }

    /// AWS exactly as `d` asks, as observe would read it.
    fn in_sync(d: &DesiredRegion) -> ObservedRegion {
        let mut resources = vec![ObservedResource {
            id: "root".into(),
            path: "/".into(),
            methods: d.routes.get("/").cloned().unwrap_or_default(),
        }];
        for path in desired::resource_paths(&d.routes) {
            resources.push(ObservedResource {
                id: format!("id{path}"),
                methods: d.routes.get(&path).cloned().unwrap_or_default(),
                path,
            });
        }
        let permissions = d
            .lambda_function
            .iter()
            .map(|f| Permission {
                function: f.clone(),
                statement_id: d.statement_id.clone(),
                principal: Some(APIGATEWAY_PRINCIPAL.into()),
                action: Some(INVOKE_ACTION.into()),
                source_arn: Some(source_arn(f, &d.region, "api1")),
            })
            .collect();
        ObservedRegion {
            region: d.region.clone(),
            api: Some(ObservedApi {
                id: "api1".into(),
                name: d.api_name.clone(),
                endpoint_types: vec![REGIONAL.into()],
                created: 1,
                resources,
                stages: vec![ObservedStage {
                    name: d.stage_name.clone(),
                    deployment_id: Some("dep1".into()),
                    settings: d.stage.clone(),
                    api_hash: Some(d.api_hash.clone()),
                }],
            }),
            extra_apis: vec![],
            domains: vec![ObservedDomain {
                name: d.domain.name.clone(),
                certificate_arn: d.domain.certificate_arn.clone(),
                endpoint_types: vec![REGIONAL.into()],
                regional_domain_name: Some("d-1.execute-api.us-east-1.amazonaws.com".into()),
                regional_zone_id: Some("Z1UJRXOUMOOFQ8".into()),
                mappings: vec![Mapping {
                    base_path: String::new(),
                    rest_api_id: "api1".into(),
                    stage: Some(d.stage_name.clone()),
                }],
            }],
            foreign_domains: BTreeSet::new(),
            permissions,
        }
    }

    fn lines(diff: &RegionDiff) -> Vec<String> {
        diff.ops.iter().map(|o| o.change().to_string()).collect()
    }

    fn api_mut(o: &mut ObservedRegion) -> &mut ObservedApi {
        o.api.as_mut().expect("api observed")
    }

    #[test]
    fn nothing_observed_creates_everything_in_order() {
        let d = wanted(LATENCY);
        let diff = diff(
            Some(&d),
            &ObservedRegion {
                region: "us-east-1".into(),
                ..Default::default()
            },
        );
        assert_eq!(
            lines(&diff),
            [
                "create apigateway rest api us-east-1 gapi-payments-exchange",
                "create apigateway resource us-east-1 gapi-payments-exchange /{proxy+}",
                "create apigateway method us-east-1 gapi-payments-exchange ANY /",
                "create apigateway method us-east-1 gapi-payments-exchange ANY /{proxy+}",
                "create apigateway lambda permission us-east-1 arn:aws:lambda:us-east-1:123456789012:function:f globalapi-0b1c2d3e-us-east-1: SourceArn (none) → arn:aws:execute-api:us-east-1:123456789012:(new REST API)/*",
                &format!(
                    "create apigateway deployment us-east-1 gapi-payments-exchange/v1: ApiHash (none) → {}",
                    d.api_hash
                ),
                "create apigateway stage us-east-1 gapi-payments-exchange/v1",
                "create apigateway custom domain us-east-1 origin.api.example.com",
                "create apigateway base path mapping us-east-1 origin.api.example.com/(none)",
            ]
        );
        assert!(diff.pending.is_empty() && diff.conflicts.is_empty());
    }

    #[test]
    fn in_sync_means_no_operation() {
        for spec in [LATENCY, FAILOVER] {
            let d = wanted(spec);
            assert_eq!(diff(Some(&d), &in_sync(&d)), RegionDiff::default());
        }
    }

    #[test]
    fn stage_drift_is_one_update_without_a_deployment() {
        let d = wanted(FAILOVER);
        let mut o = in_sync(&d);
        api_mut(&mut o).stages[0].settings.tracing = true;
        assert_eq!(
            lines(&diff(Some(&d), &o)),
            [
                "update apigateway stage us-east-1 gapi-payments-exchange/v1: TracingEnabled true → false"
            ]
        );
        let mut t = target(FAILOVER);
        t.spec.api.metrics = true;
        let d2 =
            desired::region(&t, &t.spec.regions[0], &ApiGatewayInputs::default()).expect("valid");
        let o = in_sync(&d);
        assert_eq!(
            lines(&diff(Some(&d2), &o))[0],
            "update apigateway stage us-east-1 gapi-payments-exchange/v1: MetricsEnabled false → true"
        );
    }

    #[test]
    fn logging_and_throttling_follow_the_spec_and_other_limits_stay() {
        let mut t = target(FAILOVER);
        t.spec.api.execution_logging = crate::api::ExecutionLogging::Error;
        t.spec.api.throttling = Some(crate::api::ThrottlingSpec {
            rate_limit: 100,
            burst_limit: 200,
        });
        t.spec.api.routes = vec![crate::api::RouteSpec {
            path: "/users/{id}".into(),
            methods: vec![crate::api::HttpMethod::Get],
            throttling: Some(crate::api::ThrottlingSpec {
                rate_limit: 5,
                burst_limit: 10,
            }),
        }];
        let d =
            desired::region(&t, &t.spec.regions[0], &ApiGatewayInputs::default()).expect("valid");
        assert_eq!(
            d.stage.throttling.keys().collect::<Vec<_>>(),
            ["*/*", "~1users~1{id}/GET"]
        );
        let mut o = in_sync(&d);
        // A limit the spec does not set (someone's override) is left alone.
        api_mut(&mut o).stages[0].settings.throttling.insert(
            "~1other/POST".into(),
            crate::aws::apigateway::model::Throttle::new(1.0, 1),
        );
        assert_eq!(diff(Some(&d), &o), RegionDiff::default());

        let stage = &mut api_mut(&mut o).stages[0].settings;
        stage.logging = crate::aws::apigateway::model::LogLevel::Off;
        stage.throttling.remove("~1users~1{id}/GET");
        stage.throttling.insert(
            "*/*".into(),
            crate::aws::apigateway::model::Throttle::new(10000.0, 5000),
        );
        assert_eq!(
            lines(&diff(Some(&d), &o)),
            [
                "update apigateway stage us-east-1 gapi-payments-exchange/v1: LoggingLevel OFF → ERROR, Throttling */* 10000/s burst 5000 → 100/s burst 200, Throttling ~1users~1{id}/GET (none) → 5/s burst 10"
            ]
        );
    }

    #[test]
    fn route_drift_is_corrected_and_redeployed() {
        let d = wanted(FAILOVER);
        let mut o = in_sync(&d);
        {
            let api = api_mut(&mut o);
            let proxy = api
                .resources
                .iter_mut()
                .find(|r| r.path == "/{proxy+}")
                .expect("proxy");
            let integration = proxy
                .methods
                .get_mut("ANY")
                .and_then(|m| m.integration.as_mut())
                .expect("integration");
            integration.uri = "https://evil.example.com/{proxy}".into();
            let root = api
                .resources
                .iter_mut()
                .find(|r| r.path == "/")
                .expect("root");
            root.methods.remove("ANY");
            root.methods
                .insert("DELETE".into(), d.routes["/"]["ANY"].clone());
            api.resources.push(ObservedResource {
                id: "x".into(),
                path: "/extra".into(),
                methods: BTreeMap::new(),
            });
            api.resources.push(ObservedResource {
                id: "y".into(),
                path: "/extra/deeper".into(),
                methods: BTreeMap::new(),
            });
        }
        assert_eq!(
            lines(&diff(Some(&d), &o)),
            [
                "create apigateway method us-east-1 gapi-payments-exchange ANY /",
                "update apigateway integration us-east-1 gapi-payments-exchange ANY /{proxy+}: Integration.Uri https://evil.example.com/{proxy} → https://us.example.com/{proxy}",
                "delete apigateway method us-east-1 gapi-payments-exchange DELETE /",
                "delete apigateway resource us-east-1 gapi-payments-exchange /extra/deeper",
                "delete apigateway resource us-east-1 gapi-payments-exchange /extra",
                "create apigateway deployment us-east-1 gapi-payments-exchange/v1",
            ]
        );
    }

    #[test]
    fn a_method_setting_change_replaces_the_method() {
        let d = wanted(FAILOVER);
        let mut o = in_sync(&d);
        let proxy = api_mut(&mut o)
            .resources
            .iter_mut()
            .find(|r| r.path == "/{proxy+}")
            .expect("proxy");
        let method = proxy.methods.get_mut("ANY").expect("method");
        method.authorization_type = "AWS_IAM".into();
        method.integration = None;
        let l = lines(&diff(Some(&d), &o));
        assert!(
            l[0].starts_with(
                "update apigateway method us-east-1 gapi-payments-exchange ANY /{proxy+}: AuthorizationType AWS_IAM → NONE, Integration.Type (none) → HTTP_PROXY"
            ),
            "{l:?}"
        );
        assert!(l[1].starts_with("create apigateway deployment"));
    }

    #[test]
    fn a_new_route_is_created_and_deployed_once() {
        let d = wanted(FAILOVER);
        let o = in_sync(&d);
        let mut t = target(FAILOVER);
        t.spec.api.routes = serde_norway::from_str("[{path: '/{proxy+}', methods: [ANY]}, {path: /, methods: [ANY]}, {path: '/users/{id}', methods: [GET]}]")
            .expect("routes parse");
        let d2 = desired::region(
            &t,
            &t.spec.regions[0],
            &ApiGatewayInputs {
                retire_old_domains: true,
                certificates: [("us-east-1".to_owned(), CERT.to_owned())]
                    .into_iter()
                    .collect(),
                previous_regions: vec![],
                ..Default::default()
            },
        )
        .expect("valid");
        let diff = diff(Some(&d2), &o);
        let l = lines(&diff);
        assert_eq!(
            l[..3],
            [
                "create apigateway resource us-east-1 gapi-payments-exchange /users",
                "create apigateway resource us-east-1 gapi-payments-exchange /users/{id}",
                "create apigateway method us-east-1 gapi-payments-exchange GET /users/{id}",
            ]
        );
        assert_eq!(l.len(), 4);
        assert!(matches!(
            diff.ops[3].kind,
            OpKind::CreateDeployment {
                stage_exists: true,
                ..
            }
        ));
    }

    #[test]
    fn a_stage_serving_another_deployment_is_redeployed() {
        let d = wanted(FAILOVER);
        let mut o = in_sync(&d);
        api_mut(&mut o).stages[0].api_hash = None;
        assert_eq!(
            lines(&diff(Some(&d), &o)),
            [format!(
                "create apigateway deployment us-east-1 gapi-payments-exchange/v1: ApiHash (none) → {}",
                d.api_hash
            )]
        );
    }

    #[test]
    fn domain_drift_certificate_mapping_and_pending() {
        let d = wanted(FAILOVER);
        let mut o = in_sync(&d);
        o.domains[0].certificate_arn =
            Some("arn:aws:acm:us-east-1:123456789012:certificate/old".into());
        o.domains[0].mappings[0].stage = Some("v0".into());
        o.domains[0].mappings.push(Mapping {
            base_path: "extra".into(),
            rest_api_id: "api1".into(),
            stage: None,
        });
        assert_eq!(
            lines(&diff(Some(&d), &o)),
            [
                "update apigateway custom domain us-east-1 api.example.com: RegionalCertificateArn arn:aws:acm:us-east-1:123456789012:certificate/old → arn:aws:acm:us-east-1:123456789012:certificate/c1",
                "update apigateway base path mapping us-east-1 api.example.com/(none): Stage v0 → v1",
                "delete apigateway base path mapping us-east-1 api.example.com/extra",
            ]
        );

        // Without a certificate an existing domain is kept as it is; a missing one waits.
        let mut no_cert = d.clone();
        no_cert.domain.certificate_arn = None;
        assert_eq!(diff(Some(&no_cert), &in_sync(&d)), RegionDiff::default());
        let mut o = in_sync(&d);
        o.domains.clear();
        let waiting = diff(Some(&no_cert), &o);
        assert!(waiting.ops.is_empty());
        assert_eq!(
            waiting.pending,
            ["us-east-1: custom domain api.example.com waits for its certificate"]
        );
    }

    #[test]
    fn a_foreign_domain_is_a_conflict_and_left_alone() {
        let d = wanted(FAILOVER);
        let mut o = in_sync(&d);
        o.domains.clear();
        o.foreign_domains.insert("api.example.com".into());
        let diff = diff(Some(&d), &o);
        assert!(diff.ops.is_empty(), "{:?}", diff.ops);
        assert_eq!(
            diff.conflicts,
            ["us-east-1: custom domain api.example.com exists and is not owned by this GlobalApi"]
        );
    }

    #[test]
    fn a_deleted_api_is_recreated_and_everything_follows_it() {
        let d = wanted(LATENCY);
        let mut o = in_sync(&d);
        o.api = None;
        let l = lines(&diff(Some(&d), &o));
        assert_eq!(
            l[0],
            "create apigateway rest api us-east-1 gapi-payments-exchange"
        );
        assert!(l.contains(
            &"delete apigateway lambda permission us-east-1 arn:aws:lambda:us-east-1:123456789012:function:f globalapi-0b1c2d3e-us-east-1".to_owned()
        ));
        assert!(
            l.contains(&"create apigateway stage us-east-1 gapi-payments-exchange/v1".to_owned())
        );
        assert!(l.contains(
            &"update apigateway base path mapping us-east-1 origin.api.example.com/(none): RestApiId api1 → (new REST API)".to_owned()
        ));
        let remove = l
            .iter()
            .position(|x| x.starts_with("delete apigateway lambda permission"));
        let add = l
            .iter()
            .position(|x| x.starts_with("create apigateway lambda permission"));
        assert!(remove < add, "{l:?}");
    }

    #[test]
    fn a_backend_switch_moves_the_permission_away() {
        let lambda = wanted(LATENCY);
        let mut http = lambda.clone();
        http.lambda_function = None;
        let l = lines(&diff(Some(&http), &in_sync(&lambda)));
        assert_eq!(
            l[0],
            "delete apigateway lambda permission us-east-1 arn:aws:lambda:us-east-1:123456789012:function:f globalapi-0b1c2d3e-us-east-1"
        );
    }

    #[test]
    fn teardown_removes_mappings_domains_permissions_and_apis() {
        let d = wanted(LATENCY);
        let mut o = in_sync(&d);
        o.extra_apis.push(ObservedApi {
            id: "twin".into(),
            name: d.api_name.clone(),
            endpoint_types: vec![REGIONAL.into()],
            created: 2,
            resources: vec![],
            stages: vec![],
        });
        assert_eq!(
            lines(&diff(None, &o)),
            [
                "delete apigateway base path mapping us-east-1 origin.api.example.com/(none)",
                "delete apigateway custom domain us-east-1 origin.api.example.com",
                "delete apigateway lambda permission us-east-1 arn:aws:lambda:us-east-1:123456789012:function:f globalapi-0b1c2d3e-us-east-1",
                "delete apigateway rest api us-east-1 gapi-payments-exchange (api1)",
                "delete apigateway rest api us-east-1 gapi-payments-exchange (twin)",
            ]
        );
        assert_eq!(
            diff(
                None,
                &ObservedRegion {
                    region: "us-east-1".into(),
                    ..Default::default()
                }
            ),
            RegionDiff::default()
        );
    }

    #[test]
    fn a_new_domain_name_replaces_our_old_domain() {
        let d = wanted(FAILOVER);
        let mut o = in_sync(&d);
        o.domains[0].name = "old.example.com".into();
        assert_eq!(
            lines(&diff(Some(&d), &o)),
            [
                "create apigateway custom domain us-east-1 api.example.com",
                "create apigateway base path mapping us-east-1 api.example.com/(none)",
                "delete apigateway base path mapping us-east-1 old.example.com/(none)",
                "delete apigateway custom domain us-east-1 old.example.com",
            ]
        );
    }

    #[test]
    fn renamed_stage_moves_the_mapping_then_deletes_the_old_stage() {
        let d = wanted(FAILOVER);
        let mut o = in_sync(&d);
        api_mut(&mut o).stages[0].name = "v0".into();
        o.domains[0].mappings[0].stage = Some("v0".into());
        let l = lines(&diff(Some(&d), &o));
        assert_eq!(
            l,
            [
                format!("create apigateway deployment us-east-1 gapi-payments-exchange/v1: ApiHash (none) → {}", d.api_hash),
                "create apigateway stage us-east-1 gapi-payments-exchange/v1".into(),
                "update apigateway base path mapping us-east-1 api.example.com/(none): Stage v0 → v1".into(),
                "delete apigateway stage us-east-1 gapi-payments-exchange/v0".into(),
            ]
        );
    }
}
