//! CloudWatch Logs: the log group each region's stage writes its access
//! logs to, `/aws/apigateway/gapi-<namespace>-<name>`, created, tagged and
//! owned by the GlobalApi (a group under that name without our uid tag is a
//! conflict and left alone), with the spec's retention. A region without
//! access logs in the spec, or no longer in the spec, loses its group.
//!
//! Regions are looked at only where the spec wants access logs or the last
//! status reported a group: objects without access logs cost no call.

pub mod apply;
pub mod desired;
pub mod diff;
pub mod observe;

use std::{
    collections::{BTreeMap, BTreeSet},
    future::Future,
};

use crate::aws::AwsClients;
use crate::aws::service::ServiceStep;
use crate::error::Result;
use crate::plan::{Finding, Mode, Service, StepOutcome};
use crate::target::Target;

pub use desired::{DesiredLogGroup, log_group_name};
pub use diff::LogGroupOp;
pub use observe::ObservedLogGroup;

/// What the stages need from this step.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogsOutputs {
    /// region -> the ARN of its log group (without `:*`), where it exists.
    pub groups: BTreeMap<String, String>,
    /// Regions whose group could not be read, with the error: their
    /// stages' access log settings are left as they are.
    pub unknown: BTreeMap<String, String>,
}

/// Makes (Apply) or plans (Plan) the log groups of the spec's regions, and
/// removes ours from `previous` regions that no longer want one.
pub async fn run(
    clients: &AwsClients,
    target: &Target,
    previous: &[String],
    mode: Mode,
) -> Result<StepOutcome<LogsOutputs>> {
    let wanted = desired::desired(target);
    let mut regions: BTreeSet<String> = wanted.iter().map(|g| g.region.clone()).collect();
    regions.extend(previous.iter().cloned());
    let mut outcome = StepOutcome::<LogsOutputs>::default();
    let name = log_group_name(target);
    for region in regions {
        let want = wanted.iter().find(|g| g.region == region);
        let client = clients.logs(&region);
        let found = match observe::log_group(&client, &region, &target.uid, &name).await {
            Ok(found) => found,
            Err(e) => {
                let error = Finding::failed(&region, &e);
                outcome
                    .outputs
                    .unknown
                    .insert(region.clone(), error.text.clone());
                outcome.errors.push(error);
                continue;
            }
        };
        let step = diff::diff(&region, want, found.as_ref());
        outcome
            .conflicts
            .extend(step.conflict.map(|c| Finding::in_region(&region, c)));
        if let Some(group) = found.as_ref().filter(|g| g.owned && want.is_some()) {
            outcome
                .outputs
                .groups
                .insert(region.clone(), group.arn.clone());
        }
        for op in step.ops {
            if mode == Mode::Plan {
                outcome.changes.push(op.change());
                continue;
            }
            match apply::apply(&client, target, &op).await {
                Ok(arn) => {
                    outcome.changes.push(op.change());
                    if let Some(arn) = arn {
                        outcome.outputs.groups.insert(region.clone(), arn);
                    }
                }
                Err(e) => outcome.errors.push(Finding::failed(&region, &e)),
            }
        }
    }
    Ok(outcome)
}

/// Deletes our log group in each of `regions` (the spec's and the last
/// status's).
pub async fn destroy(
    clients: &AwsClients,
    target: &Target,
    regions: &[String],
    mode: Mode,
) -> Result<StepOutcome<()>> {
    let name = log_group_name(target);
    let mut outcome = StepOutcome::<()>::default();
    let regions: BTreeSet<&String> = regions.iter().collect();
    for region in regions {
        let client = clients.logs(region);
        let found = match observe::log_group(&client, region, &target.uid, &name).await {
            Ok(found) => found,
            Err(e) => {
                outcome.errors.push(Finding::failed(region, &e));
                continue;
            }
        };
        let step = diff::diff(region, None, found.as_ref());
        for op in step.ops {
            if mode == Mode::Apply
                && let Err(e) = apply::apply(&client, target, &op).await
            {
                outcome.errors.push(Finding::failed(region, &e));
                continue;
            }
            outcome.changes.push(op.change());
        }
    }
    Ok(outcome)
}

/// CloudWatch Logs' part of a pass: a log group per region for the stages'
/// access logs.
pub(crate) struct AccessLogs;

impl ServiceStep for AccessLogs {
    const SERVICE: Service = Service::Logs;
    type Inputs = [String];
    type Outputs = LogsOutputs;
    /// Regions whose group the last status showed.
    type Remembered = [String];

    fn run(
        clients: &AwsClients,
        target: &Target,
        previous: &Self::Inputs,
        mode: Mode,
    ) -> impl Future<Output = Result<StepOutcome<Self::Outputs>>> + Send {
        run(clients, target, previous, mode)
    }

    fn destroy(
        clients: &AwsClients,
        target: &Target,
        remembered: &Self::Remembered,
        mode: Mode,
    ) -> impl Future<Output = Result<StepOutcome<()>>> + Send {
        destroy(clients, target, remembered, mode)
    }
}
