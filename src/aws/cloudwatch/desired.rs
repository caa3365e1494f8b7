//! The health alarms a GlobalApi asks for (pure).

use std::collections::BTreeMap;

use crate::target::Target;

/// Room for `-<region>-health` in CloudWatch's 255 characters, and more.
const STEM_MAX: usize = 200;

/// Route 53's metric of a health check: 1 healthy, 0 not.
pub const NAMESPACE: &str = "AWS/Route53";
pub(crate) const METRIC: &str = "HealthCheckStatus";
pub(crate) const DIMENSION: &str = "HealthCheckId";

/// One region's alarm on its health check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredAlarm {
    pub region: String,
    pub name: String,
    pub health_check_id: String,
    pub topic_arn: String,
    /// Minutes in a row below 1 before ALARM (EvaluationPeriods of 60 s).
    pub minutes: i32,
}

/// `gapi-<namespace>-<name>-`: what every alarm name of the target starts with.
pub(crate) fn name_prefix(target: &Target) -> String {
    format!("{}-", target.resource_name(STEM_MAX))
}

/// `gapi-<namespace>-<name>-<region>-health`.
pub fn alarm_name(target: &Target, region: &str) -> String {
    format!("{}{region}-health", name_prefix(target))
}

/// An alarm for each region of the spec whose health check is known, when
/// the spec asks for alarms.
pub fn desired(target: &Target, health_checks: &BTreeMap<String, String>) -> Vec<DesiredAlarm> {
    let Some(alarm) = &target.spec.api.health_check.alarm else {
        return Vec::new();
    };
    target
        .regions()
        .filter_map(|r| {
            health_checks.get(&r.name).map(|id| DesiredAlarm {
                region: r.name.clone(),
                name: alarm_name(target, &r.name),
                health_check_id: id.clone(),
                topic_arn: alarm.topic_arn.clone(),
                minutes: i32::try_from(alarm.minutes).unwrap_or(1),
            })
        })
        .collect()
}
