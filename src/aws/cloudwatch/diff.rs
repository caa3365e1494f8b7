//! What must change in the health alarms (pure).

use crate::plan::{Action, Change, FieldChange, FieldDiff, Service};

use super::desired::{DIMENSION, DesiredAlarm, METRIC, NAMESPACE};
use super::observe::{ObservedAlarm, shape};

/// Route 53's health check metric is published every minute.
pub(crate) const PERIOD: i32 = 60;
pub(crate) const STATISTIC: &str = "Minimum";
pub(crate) const COMPARISON: &str = "LessThanThreshold";
pub(crate) const THRESHOLD: f64 = 1.0;

/// One change to an alarm (all in us-east-1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AlarmOp {
    /// PutMetricAlarm, which makes or overwrites; `fields` say what differs.
    Put {
        alarm: DesiredAlarm,
        exists: bool,
        fields: Vec<FieldChange>,
    },
    Delete {
        name: String,
    },
}

impl AlarmOp {
    pub fn change(&self) -> Change {
        let alarm = |action, name: &str| {
            Change::new(Service::CloudWatch, None, action, "alarm", name.to_owned())
        };
        match self {
            AlarmOp::Put {
                alarm: a,
                exists: false,
                ..
            } => alarm(Action::Create, &a.name),
            AlarmOp::Put {
                alarm: a,
                exists: true,
                fields,
            } => alarm(Action::Update, &a.name).with_fields(fields.clone()),
            AlarmOp::Delete { name } => alarm(Action::Delete, name),
        }
    }
}

/// What the alarm the spec wants looks like, as [`ObservedAlarm::shape`] says it.
pub(crate) fn wanted_shape() -> String {
    shape(NAMESPACE, METRIC, STATISTIC, PERIOD, THRESHOLD, COMPARISON)
}

/// The operations, and the alarms under our names that are someone else's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct AlarmsDiff {
    pub ops: Vec<AlarmOp>,
    pub conflicts: Vec<String>,
}

/// `wanted` against the alarms found. `keep(name)`: an alarm of ours to
/// leave alone though not wanted (its region's health check could not be
/// read this pass).
pub(crate) fn diff(
    wanted: &[DesiredAlarm],
    found: &[ObservedAlarm],
    keep: impl Fn(&str) -> bool,
) -> AlarmsDiff {
    let mut d = AlarmsDiff::default();
    for want in wanted {
        match found.iter().find(|f| f.name == want.name) {
            None => d.ops.push(AlarmOp::Put {
                alarm: want.clone(),
                exists: false,
                fields: Vec::new(),
            }),
            Some(have) if !have.ownership.is_ours() => d.conflicts.push(format!(
                "alarm {} exists and belongs to {}",
                have.name,
                have.ownership.describe()
            )),
            Some(have) => {
                let fields = differences(want, have);
                if !fields.is_empty() {
                    d.ops.push(AlarmOp::Put {
                        alarm: want.clone(),
                        exists: true,
                        fields,
                    });
                }
            }
        }
    }
    for have in found {
        if have.ownership.is_ours()
            && !wanted.iter().any(|w| w.name == have.name)
            && !keep(&have.name)
        {
            d.ops.push(AlarmOp::Delete {
                name: have.name.clone(),
            });
        }
    }
    d
}

fn differences(want: &DesiredAlarm, have: &ObservedAlarm) -> Vec<FieldChange> {
    let mut fields = FieldDiff::default();
    let mut differ = |field: &str, observed: String, desired: String| {
        fields.compare(field, Some(observed), Some(desired))
    };
    differ("Metric", have.shape.clone(), wanted_shape());
    differ(
        DIMENSION,
        have.health_check_id.clone().unwrap_or_default(),
        want.health_check_id.clone(),
    );
    differ(
        "EvaluationPeriods",
        have.minutes.to_string(),
        want.minutes.to_string(),
    );
    differ(
        "AlarmActions",
        have.alarm_actions.join(","),
        want.topic_arn.clone(),
    );
    differ(
        "OKActions",
        have.ok_actions.join(","),
        want.topic_arn.clone(),
    );
    fields.into_fields()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::ownership::Ownership;

    fn want(region: &str) -> DesiredAlarm {
        DesiredAlarm {
            region: region.into(),
            name: format!("gapi-a-b-{region}-health"),
            health_check_id: format!("hc-{region}"),
            topic_arn: "arn:aws:sns:us-east-1:123456789012:alerts".into(),
            minutes: 1,
        }
    }

    fn have(want: &DesiredAlarm, ownership: Ownership) -> ObservedAlarm {
        ObservedAlarm {
            name: want.name.clone(),
            arn: format!("arn:aws:cloudwatch:us-east-1:1:alarm:{}", want.name),
            shape: wanted_shape(),
            health_check_id: Some(want.health_check_id.clone()),
            minutes: want.minutes,
            alarm_actions: vec![want.topic_arn.clone()],
            ok_actions: vec![want.topic_arn.clone()],
            state: "OK".into(),
            ownership,
        }
    }

    fn lines(d: &AlarmsDiff) -> Vec<String> {
        d.ops.iter().map(|o| o.change().to_string()).collect()
    }

    #[test]
    fn made_kept_corrected_and_removed() {
        let wanted = [want("us-east-1"), want("eu-west-1")];
        assert_eq!(
            lines(&diff(&wanted, &[], |_| false)),
            [
                "create cloudwatch alarm gapi-a-b-us-east-1-health",
                "create cloudwatch alarm gapi-a-b-eu-west-1-health",
            ]
        );
        let mut found: Vec<ObservedAlarm> =
            wanted.iter().map(|w| have(w, Ownership::Ours)).collect();
        assert_eq!(diff(&wanted, &found, |_| false), AlarmsDiff::default());
        found[1].health_check_id = Some("hc-old".into());
        found[1].alarm_actions = vec![];
        assert_eq!(
            lines(&diff(&wanted, &found, |_| false)),
            [
                "update cloudwatch alarm gapi-a-b-eu-west-1-health: HealthCheckId hc-old → hc-eu-west-1, AlarmActions  → arn:aws:sns:us-east-1:123456789012:alerts"
            ]
        );
        // eu-west-1 leaves: its alarm goes, unless its region was unreadable.
        assert_eq!(
            lines(&diff(&wanted[..1], &found, |_| false)),
            ["delete cloudwatch alarm gapi-a-b-eu-west-1-health"]
        );
        assert!(
            diff(&wanted[..1], &found, |n| n.contains("eu-west-1"))
                .ops
                .is_empty()
        );
    }

    #[test]
    fn someone_elses_alarm_is_a_conflict_and_never_deleted() {
        let wanted = [want("us-east-1")];
        let theirs = have(&wanted[0], Ownership::Foreign { owner: None });
        let d = diff(&wanted, std::slice::from_ref(&theirs), |_| false);
        assert!(d.ops.is_empty());
        assert_eq!(d.conflicts.len(), 1);
        assert!(diff(&[], &[theirs], |_| false).ops.is_empty());
    }
}
