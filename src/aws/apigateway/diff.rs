//! What must change in one region (pure): operations on the REST API, its
//! resources, methods and integrations, the deployment and stage, the custom
//! domain and its base path mapping, and the Lambda permission.

use std::collections::BTreeSet;

use super::desired::{DesiredRegion, resource_paths, source_arn};
use super::model::{APIGATEWAY_PRINCIPAL, INVOKE_ACTION};
use super::observe::{ObservedApi, ObservedDomain, ObservedRegion};
pub use super::ops::{Op, OpKind, REGIONAL};

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
pub(crate) fn diff(desired: Option<&DesiredRegion>, observed: &ObservedRegion) -> RegionDiff {
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
mod tests;
