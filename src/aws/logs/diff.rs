//! What must change in one region's log group (pure).

use crate::plan::{Action, Change, FieldChange, Service};

use super::desired::DesiredLogGroup;
use super::observe::ObservedLogGroup;

/// One change to a log group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogGroupOp {
    Create(DesiredLogGroup),
    SetRetention {
        region: String,
        name: String,
        observed: Option<i32>,
        desired: i32,
    },
    Delete {
        region: String,
        name: String,
    },
}

impl LogGroupOp {
    pub fn change(&self) -> Change {
        let group = |region: &str, action, name: &str| {
            Change::new(
                Service::Logs,
                Some(region),
                action,
                "log group",
                format!("{region} {name}"),
            )
        };
        match self {
            LogGroupOp::Create(g) => group(&g.region, Action::Create, &g.name),
            LogGroupOp::SetRetention {
                region,
                name,
                observed,
                desired,
            } => group(region, Action::Update, name).with_fields(vec![FieldChange::new(
                "RetentionInDays",
                Some(observed.map_or_else(|| "never expire".to_owned(), |d| d.to_string())),
                Some(desired.to_string()),
            )]),
            LogGroupOp::Delete { region, name } => group(region, Action::Delete, name),
        }
    }
}

/// The operations for one region, and the line when the name is taken.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegionDiff {
    pub ops: Vec<LogGroupOp>,
    pub conflict: Option<String>,
}

/// `want` (none: the region wants no group) against what is there.
pub(crate) fn diff(
    region: &str,
    want: Option<&DesiredLogGroup>,
    found: Option<&ObservedLogGroup>,
) -> RegionDiff {
    let mut d = RegionDiff::default();
    match (want, found) {
        (Some(want), None) => d.ops.push(LogGroupOp::Create(want.clone())),
        (_, Some(found)) if !found.owned => {
            if want.is_some() {
                d.conflict = Some(format!(
                    "log group {} in {region} exists and belongs to {}",
                    found.name,
                    found
                        .owner
                        .as_deref()
                        .unwrap_or("someone else (no globalapi.io/owner tag)")
                ));
            }
        }
        (Some(want), Some(found)) if found.retention_days != Some(want.retention_days) => {
            d.ops.push(LogGroupOp::SetRetention {
                region: region.to_owned(),
                name: want.name.clone(),
                observed: found.retention_days,
                desired: want.retention_days,
            });
        }
        (Some(_), Some(_)) => {}
        (None, Some(found)) => d.ops.push(LogGroupOp::Delete {
            region: region.to_owned(),
            name: found.name.clone(),
        }),
        (None, None) => {}
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want() -> DesiredLogGroup {
        DesiredLogGroup {
            region: "eu-west-1".into(),
            name: "/aws/apigateway/gapi-a-b".into(),
            retention_days: 30,
        }
    }

    fn found(owned: bool, retention: Option<i32>) -> ObservedLogGroup {
        ObservedLogGroup {
            name: "/aws/apigateway/gapi-a-b".into(),
            arn: "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/apigateway/gapi-a-b".into(),
            retention_days: retention,
            owned,
            owner: (!owned).then(|| "team/other".to_owned()),
        }
    }

    fn lines(d: &RegionDiff) -> Vec<String> {
        d.ops.iter().map(|o| o.change().to_string()).collect()
    }

    #[test]
    fn created_kept_corrected_and_deleted() {
        assert_eq!(
            lines(&diff("eu-west-1", Some(&want()), None)),
            ["create logs log group eu-west-1 /aws/apigateway/gapi-a-b"]
        );
        assert_eq!(
            diff("eu-west-1", Some(&want()), Some(&found(true, Some(30)))),
            RegionDiff::default()
        );
        assert_eq!(
            lines(&diff("eu-west-1", Some(&want()), Some(&found(true, None)))),
            [
                "update logs log group eu-west-1 /aws/apigateway/gapi-a-b: RetentionInDays never expire → 30"
            ]
        );
        assert_eq!(
            lines(&diff("eu-west-1", None, Some(&found(true, Some(30))))),
            ["delete logs log group eu-west-1 /aws/apigateway/gapi-a-b"]
        );
    }

    #[test]
    fn someone_elses_group_is_a_conflict_and_never_deleted() {
        let d = diff("eu-west-1", Some(&want()), Some(&found(false, Some(1))));
        assert!(d.ops.is_empty());
        assert!(
            d.conflict
                .as_deref()
                .is_some_and(|c| c.contains("belongs to team/other")),
            "{d:?}"
        );
        assert_eq!(
            diff("eu-west-1", None, Some(&found(false, Some(1)))),
            RegionDiff::default()
        );
    }
}
