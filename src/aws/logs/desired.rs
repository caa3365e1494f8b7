//! The log groups a GlobalApi asks for (pure).

use crate::target::Target;

/// Room for the prefix in CloudWatch Logs' 512 characters, and more.
const STEM_MAX: usize = 200;

/// One region's access log group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredLogGroup {
    pub region: String,
    pub name: String,
    pub retention_days: i32,
}

/// `/aws/apigateway/gapi-<namespace>-<name>`: the same name in every region.
pub fn log_group_name(target: &Target) -> String {
    format!("/aws/apigateway/{}", target.resource_name(STEM_MAX))
}

/// A group in every region of the spec when it asks for access logs.
pub fn desired(target: &Target) -> Vec<DesiredLogGroup> {
    let Some(logs) = &target.spec.api.access_logs else {
        return Vec::new();
    };
    let name = log_group_name(target);
    target
        .regions()
        .map(|r| DesiredLogGroup {
            region: r.name.clone(),
            name: name.clone(),
            retention_days: i32::try_from(logs.retention_days).unwrap_or(i32::MAX),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::fixtures::{LATENCY, target};

    #[test]
    fn a_group_per_region_only_when_asked() {
        let mut t = target(LATENCY);
        assert!(desired(&t).is_empty());
        t.spec.api.access_logs = serde_norway::from_str("{retentionDays: 14}").expect("spec");
        let groups = desired(&t);
        assert_eq!(
            groups
                .iter()
                .map(|g| (g.region.as_str(), g.name.as_str(), g.retention_days))
                .collect::<Vec<_>>(),
            [
                ("us-east-1", "/aws/apigateway/gapi-payments-exchange", 14),
                ("eu-west-1", "/aws/apigateway/gapi-payments-exchange", 14),
            ]
        );
    }
}
