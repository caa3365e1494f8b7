//! API Gateway: in every region of the spec a REGIONAL REST API with the
//! spec's routes (or one greedy `/{proxy+}` route) and the health route,
//! integrated with the region's Lambda function or HTTP backend; a
//! deployment and the stage serving it (X-Ray tracing, detailed metrics);
//! the regional custom domain carrying the origin name with the region's
//! certificate, mapped to the stage; and the Lambda permission that lets
//! API Gateway invoke the function. Route 53 aliases the origin name to the
//! custom domains and probes each region's own invoke URL.
//!
//! REST APIs and custom domains are found by the uid tag they carry from
//! their creation (the only tags the emulator keeps, and `get_rest_apis`
//! and `get_domain_names` return them); the Lambda statement has a
//! deterministic id. A new deployment is made only when the routes change
//! (their hash is kept in the deployment's description) or were changed by
//! hand; stage settings are patched in place. Regions are handled
//! independently and concurrently.

pub mod adopt;
pub mod apply;
pub mod desired;
pub mod diff;
pub mod model;
pub mod observe;
pub mod ops;

#[cfg(test)]
mod mock_tests;

use std::{
    collections::{BTreeMap, BTreeSet},
    future::Future,
};

use crate::aws::regions::in_each_region;

use crate::aws::service::ServiceStep;
use crate::aws::shared::ListingView;
use crate::aws::{AwsClients, Observed};
use crate::error::Result;
use crate::plan::{Change, Finding, Mode, Service, StepOutcome};
use crate::target::Target;

pub use apply::ApiState;
pub use desired::{ApiGatewayInputs, DesiredDomain, DesiredRegion};
pub use diff::{Op, OpKind, RegionDiff};
pub use model::{
    DomainInfo, Integration, Mapping, Method, Permission, RegionEndpoint, Routes, StageSettings,
};
pub use observe::{Lookup, ObservedRegion};

/// What API Gateway made in one region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionApi {
    /// The custom domain's alias target for Route 53; `None` until the
    /// custom domain exists.
    pub endpoint: Option<RegionEndpoint>,
    pub rest_api_id: String,
    pub stage: String,
    /// `https://{restApiId}.execute-api.{region}.amazonaws.com/{stage}`.
    pub invoke_url: String,
    /// The custom domain's name, once it exists.
    pub custom_domain: Option<String>,
}

/// What later services need from API Gateway.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApiGatewayOutputs {
    /// By region; a region whose REST API does not exist (yet) is absent.
    pub regions: BTreeMap<String, RegionApi>,
    /// Regions that could not be read, with the error: nothing is known of
    /// them in this pass.
    pub unknown: BTreeMap<String, String>,
    /// (region, name) of custom domains kept until DNS no longer leads to them.
    pub retained_domains: Vec<(String, String)>,
}

impl ApiGatewayOutputs {
    /// Every region's endpoint for Route 53: known, absent, or unknown.
    pub fn endpoints(&self) -> BTreeMap<String, Observed<RegionEndpoint>> {
        let mut endpoints: BTreeMap<String, Observed<RegionEndpoint>> = self
            .regions
            .iter()
            .map(|(region, api)| (region.clone(), Observed::from_option(api.endpoint.clone())))
            .collect();
        for (region, error) in &self.unknown {
            endpoints.insert(region.clone(), Observed::Unknown(error.clone()));
        }
        endpoints
    }

    /// Every output unknown: the step itself failed.
    pub fn unknown_in(regions: &[String], error: &str) -> Self {
        Self {
            regions: BTreeMap::new(),
            retained_domains: Vec::new(),
            unknown: regions
                .iter()
                .map(|r| (r.clone(), error.to_owned()))
                .collect(),
        }
    }
}

/// The clients of one region.
#[derive(Clone, Debug)]
pub struct RegionClients {
    pub apigateway: aws_sdk_apigateway::Client,
    pub lambda: aws_sdk_lambda::Client,
    /// Where the region's REST APIs and custom domains are listed.
    pub listing: ListingView,
}

impl RegionClients {
    /// The clients of `region`, sharing the call counter and the listings
    /// of `clients`.
    pub fn new(clients: &AwsClients, region: &str) -> Self {
        Self {
            apigateway: clients.apigateway(region),
            lambda: clients.lambda(region),
            listing: clients.listing_view(),
        }
    }
}

/// What one region came to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RegionOutcome {
    pub region: String,
    pub changes: Vec<Change>,
    pub pending: Vec<Finding>,
    pub conflicts: Vec<Finding>,
    /// `<region>: <error>` when the region failed.
    pub error: Option<Finding>,
    /// The region could not be read: its outputs are unknown.
    pub unknown: bool,
    /// Custom domains kept until DNS no longer leads to them.
    pub retained_domains: Vec<String>,
    pub output: Option<RegionApi>,
}

/// Observes, diffs and (in Apply mode) applies every region of the spec,
/// and empties the regions of `inputs.previous_regions` the spec left.
pub async fn run(
    clients: &AwsClients,
    target: &Target,
    inputs: &ApiGatewayInputs,
    mode: Mode,
) -> Result<StepOutcome<ApiGatewayOutputs>> {
    let mut work: Vec<(String, Option<Result<DesiredRegion>>)> = desired::regions(target, inputs)
        .into_iter()
        .map(|(region, d)| (region, Some(d)))
        .collect();
    let spec: BTreeSet<String> = target.region_names().into_iter().collect();
    let mut retired = BTreeSet::new();
    for region in &inputs.previous_regions {
        if !spec.contains(region) && retired.insert(region.clone()) {
            work.push((region.clone(), None));
        }
    }

    let outcomes = run_regions(clients, target, work, mode).await;
    let mut step = StepOutcome::<ApiGatewayOutputs>::default();
    for outcome in outcomes {
        if let Some(output) = outcome.output {
            step.outputs.regions.insert(outcome.region.clone(), output);
        }
        if outcome.unknown {
            let error = outcome
                .error
                .as_ref()
                .map(|e| e.text.clone())
                .unwrap_or_default();
            step.outputs.unknown.insert(outcome.region.clone(), error);
        }
        for name in &outcome.retained_domains {
            step.outputs
                .retained_domains
                .push((outcome.region.clone(), name.clone()));
        }
        merge(
            &mut step,
            outcome.changes,
            outcome.pending,
            outcome.conflicts,
            outcome.error,
        );
    }
    Ok(step)
}

/// Removes everything this target owns in API Gateway (and its Lambda
/// statements) in the spec's regions.
pub async fn destroy(clients: &AwsClients, target: &Target, mode: Mode) -> Result<StepOutcome<()>> {
    destroy_regions(clients, target, &target.region_names(), mode).await
}

/// Removes everything this target owns in the given regions (the spec's and
/// those of `status.regions`, for a spec that dropped a region before).
pub async fn destroy_regions(
    clients: &AwsClients,
    target: &Target,
    regions: &[String],
    mode: Mode,
) -> Result<StepOutcome<()>> {
    let mut seen = BTreeSet::new();
    let work = regions
        .iter()
        .filter(|r| seen.insert(r.as_str()))
        .map(|r| (r.clone(), None))
        .collect();
    let outcomes = run_regions(clients, target, work, mode).await;
    let mut step = StepOutcome::<()>::default();
    for outcome in outcomes {
        merge(
            &mut step,
            outcome.changes,
            outcome.pending,
            outcome.conflicts,
            outcome.error,
        );
    }
    Ok(step)
}

fn merge<O>(
    step: &mut StepOutcome<O>,
    changes: Vec<Change>,
    pending: Vec<Finding>,
    conflicts: Vec<Finding>,
    error: Option<Finding>,
) {
    step.changes.extend(changes);
    step.pending.extend(pending);
    step.conflicts.extend(conflicts);
    step.errors.extend(error);
}

/// Runs regions concurrently; outcomes come back in the order of `work`.
async fn run_regions(
    clients: &AwsClients,
    target: &Target,
    work: Vec<(String, Option<Result<DesiredRegion>>)>,
    mode: Mode,
) -> Vec<RegionOutcome> {
    let tasks = work
        .into_iter()
        .map(|(region, desired)| {
            let region_clients = RegionClients::new(clients, &region);
            let target = target.clone();
            let task_region = region.clone();
            let task = async move {
                let region = task_region;
                match desired {
                    Some(Err(e)) => RegionOutcome {
                        error: Some(Finding::failed(&region, &e)),
                        unknown: true,
                        region,
                        ..Default::default()
                    },
                    Some(Ok(d)) => {
                        reconcile_region(&region_clients, &target, &region, Some(&d), mode).await
                    }
                    None => reconcile_region(&region_clients, &target, &region, None, mode).await,
                }
            };
            (region, task)
        })
        .collect();
    in_each_region(tasks)
        .await
        .into_iter()
        .map(|(region, outcome)| {
            outcome.unwrap_or_else(|e| {
                tracing::error!(error = %e, "an API Gateway region task failed");
                RegionOutcome {
                    error: Some(Finding::in_region(
                        &region,
                        format!("{region}: the region's task did not finish"),
                    )),
                    unknown: true,
                    region,
                    ..Default::default()
                }
            })
        })
        .collect()
}

/// One region: observe, diff, and in Apply mode apply. `desired` `None`
/// empties the region of everything the target owns.
pub async fn reconcile_region(
    clients: &RegionClients,
    target: &Target,
    region: &str,
    desired: Option<&DesiredRegion>,
    mode: Mode,
) -> RegionOutcome {
    let lookup = Lookup::new(target, region);
    let mut outcome = RegionOutcome {
        region: region.to_owned(),
        ..Default::default()
    };
    let observed = match observe::region(clients, &lookup).await {
        Ok(observed) => observed,
        Err(e) => {
            outcome.error = Some(Finding::failed(region, &e));
            outcome.unknown = true;
            return outcome;
        }
    };
    let diff = diff::diff(desired, &observed);
    let here = |lines: Vec<String>| {
        lines
            .into_iter()
            .map(|line| Finding::in_region(region, line))
            .collect()
    };
    outcome.pending = here(diff.pending);
    outcome.conflicts = here(diff.conflicts);
    outcome.retained_domains = diff.retained_domains;
    let mut state = ApiState::observed(&observed, &lookup.domain_name);
    match mode {
        Mode::Plan => outcome.changes = diff.ops.iter().map(Op::change).collect(),
        Mode::Apply => {
            if let Err(e) = apply::apply(clients, &mut state, &diff.ops, &mut outcome.changes).await
            {
                outcome.error = Some(Finding::failed(region, &e));
            }
            if !diff.ops.is_empty() {
                let listings = &clients.listing.listings;
                listings.rest_apis.forget(region).await;
                listings.domain_names.forget(region).await;
            }
        }
    }
    outcome.output = desired.and_then(|d| output(d, &state));
    outcome
}

/// The outputs of a region from what exists (observed, or made by apply).
pub fn output(desired: &DesiredRegion, state: &ApiState) -> Option<RegionApi> {
    let rest_api_id = state.rest_api_id.clone()?;
    let endpoint = state.domain.as_ref().and_then(|d| {
        Some(RegionEndpoint {
            region: desired.region.clone(),
            rest_api_id: rest_api_id.clone(),
            regional_domain_name: d.regional_domain_name.clone()?,
            regional_zone_id: d.regional_zone_id.clone()?,
        })
    });
    Some(RegionApi {
        endpoint,
        invoke_url: desired::invoke_url(&rest_api_id, &desired.region, &desired.stage_name),
        rest_api_id,
        stage: desired.stage_name.clone(),
        custom_domain: state.domain.as_ref().map(|d| d.name.clone()),
    })
}

/// API Gateway's part of a pass: a REST API, stage and regional custom
/// domain per region (and the Lambda permission of its backend).
pub struct RestApis;

impl ServiceStep for RestApis {
    const SERVICE: Service = Service::ApiGateway;
    type Inputs = ApiGatewayInputs;
    type Outputs = ApiGatewayOutputs;
    /// Every region to clean: the spec's and those the last status listed.
    type Remembered = [String];

    fn run(
        clients: &AwsClients,
        target: &Target,
        inputs: &Self::Inputs,
        mode: Mode,
    ) -> impl Future<Output = Result<StepOutcome<Self::Outputs>>> + Send {
        run(clients, target, inputs, mode)
    }

    fn destroy(
        clients: &AwsClients,
        target: &Target,
        remembered: &Self::Remembered,
        mode: Mode,
    ) -> impl Future<Output = Result<StepOutcome<()>>> + Send {
        destroy_regions(clients, target, remembered, mode)
    }
}
