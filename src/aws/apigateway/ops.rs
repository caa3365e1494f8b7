//! API Gateway's operations: what each does in one region, and the line a
//! plan prints for it.

use std::collections::BTreeMap;

use crate::plan::{Action, Change, FieldChange, Service, differing_fields};

use super::desired::source_arn;
use super::model::{Integration, Mapping, Method, Permission, StageSettings, map_text};

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
    pub(super) fn new(region: &str, api: &str, kind: OpKind) -> Self {
        Self {
            region: region.to_owned(),
            api: api.to_owned(),
            kind,
        }
    }

    /// Whether the operation changes what a deployment captures.
    pub(crate) fn changes_api(&self) -> bool {
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
