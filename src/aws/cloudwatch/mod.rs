//! CloudWatch: an alarm per region on its Route 53 health check
//! (`AWS/Route53 HealthCheckStatus`, the minimum of each minute below 1),
//! telling the spec's SNS topic when a region goes down and when it is
//! back. Route 53 publishes these metrics in us-east-1 only, so every alarm
//! is there, named `gapi-<namespace>-<name>-<region>-health`, tagged and
//! owned; one of those names that is not ours is a conflict.
//!
//! Looked at only where the spec asks for alarms or the last status showed
//! one: objects without alarms cost no call. A region whose health check
//! could not be read keeps its alarm as it is.

pub mod apply;
pub mod desired;
pub mod diff;
pub mod observe;

use std::{
    collections::{BTreeMap, BTreeSet},
    future::Future,
};

use crate::aws::AwsClients;
use crate::aws::clients::GLOBAL_REGION;
use crate::aws::service::ServiceStep;
use crate::error::Result;
use crate::plan::{Finding, Mode, Service, StepOutcome};
use crate::target::Target;

pub use desired::{DesiredAlarm, alarm_name};
pub use diff::AlarmOp;
pub use observe::ObservedAlarm;

/// What the status shows of the alarms.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlarmOutputs {
    /// region -> the state of its alarm.
    pub states: BTreeMap<String, String>,
    /// The read failed, with AWS's error.
    pub unknown: Option<String>,
}

/// What the alarms need from Route 53.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct AlarmInputs {
    /// region -> the id of its health check.
    pub health_checks: BTreeMap<String, String>,
    /// Regions whose health check could not be read: their alarms stay.
    pub unread: BTreeSet<String>,
}

/// Makes (Apply) or plans (Plan) the alarms of the regions whose health
/// check is in `health_checks`; `unread`: regions whose health check could
/// not be read (their alarms stay).
pub async fn run(
    clients: &AwsClients,
    target: &Target,
    health_checks: &BTreeMap<String, String>,
    unread: &BTreeSet<String>,
    mode: Mode,
) -> Result<StepOutcome<AlarmOutputs>> {
    let client = clients.cloudwatch(GLOBAL_REGION);
    let wanted = desired::desired(target, health_checks);
    let found = observe::alarms(
        &client,
        &target.uid,
        &desired::name_prefix(target),
        &clients.listings().alarm_owners,
    )
    .await?;
    let kept: BTreeSet<String> = unread.iter().map(|r| alarm_name(target, r)).collect();
    let plan = diff::diff(&wanted, &found, |name| kept.contains(name));
    let mut outcome = StepOutcome::<AlarmOutputs> {
        conflicts: plan
            .conflicts
            .into_iter()
            .map(|c| Finding::in_region(GLOBAL_REGION, c))
            .collect(),
        ..Default::default()
    };
    let mut changed = false;
    for op in plan.ops {
        if mode == Mode::Plan {
            outcome.changes.push(op.change());
            continue;
        }
        match apply::apply(&client, target, &op).await {
            Ok(()) => {
                outcome.changes.push(op.change());
                changed = true;
            }
            Err(e) => outcome.errors.push(Finding::failed(GLOBAL_REGION, &e)),
        }
    }
    let found = if changed {
        observe::alarms(
            &client,
            &target.uid,
            &desired::name_prefix(target),
            &clients.listings().alarm_owners,
        )
        .await?
    } else {
        found
    };
    for region in target.region_names() {
        if let Some(alarm) = found
            .iter()
            .find(|a| a.name == alarm_name(target, &region) && a.ownership.is_ours())
        {
            outcome.outputs.states.insert(region, alarm.state.clone());
        }
    }
    Ok(outcome)
}

/// Deletes every alarm of ours.
pub async fn destroy(clients: &AwsClients, target: &Target, mode: Mode) -> Result<StepOutcome<()>> {
    let client = clients.cloudwatch(GLOBAL_REGION);
    let found = observe::alarms(
        &client,
        &target.uid,
        &desired::name_prefix(target),
        &clients.listings().alarm_owners,
    )
    .await?;
    let plan = diff::diff(&[], &found, |_| false);
    let mut outcome = StepOutcome::<()>::default();
    for op in plan.ops {
        if mode == Mode::Apply
            && let Err(e) = apply::apply(&client, target, &op).await
        {
            outcome.errors.push(Finding::failed(GLOBAL_REGION, &e));
            continue;
        }
        outcome.changes.push(op.change());
    }
    Ok(outcome)
}

/// CloudWatch's part of a pass: an alarm per region on its health check.
pub(crate) struct HealthAlarms;

impl ServiceStep for HealthAlarms {
    const SERVICE: Service = Service::CloudWatch;
    type Inputs = AlarmInputs;
    type Outputs = AlarmOutputs;
    /// Nothing: the alarms are found by their names and tags.
    type Remembered = ();

    fn run(
        clients: &AwsClients,
        target: &Target,
        inputs: &Self::Inputs,
        mode: Mode,
    ) -> impl Future<Output = Result<StepOutcome<Self::Outputs>>> + Send {
        run(clients, target, &inputs.health_checks, &inputs.unread, mode)
    }

    fn destroy(
        clients: &AwsClients,
        target: &Target,
        _: &Self::Remembered,
        mode: Mode,
    ) -> impl Future<Output = Result<StepOutcome<()>>> + Send {
        destroy(clients, target, mode)
    }
}
