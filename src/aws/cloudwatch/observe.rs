//! Reading our alarms (all in us-east-1) and whose they are.

use aws_sdk_cloudwatch::Client;

use crate::aws::listing::KeptAnswers;
use crate::aws::ownership::Ownership;
use crate::error::{Error, Result};

use super::desired::DIMENSION;

/// An alarm found under the target's name prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedAlarm {
    pub name: String,
    pub arn: String,
    /// What it watches: namespace, metric, statistic, period, threshold,
    /// comparison; compared as one line.
    pub shape: String,
    pub health_check_id: Option<String>,
    pub minutes: i32,
    pub alarm_actions: Vec<String>,
    pub ok_actions: Vec<String>,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: String,
    pub ownership: Ownership,
}

/// The line that says what an alarm watches and when it goes off.
pub fn shape(
    namespace: &str,
    metric: &str,
    statistic: &str,
    period: i32,
    threshold: f64,
    comparison: &str,
) -> String {
    format!("{statistic}({namespace}/{metric}, {period}s) {comparison} {threshold}")
}

/// Every alarm whose name starts with `prefix`, with its owner: read from
/// its tags, or kept in `owners` from an earlier read that found it ours.
/// An alarm's ARN is its name, so the same ARN can be someone else's alarm
/// made again under that name: the kept answer is keyed by the ARN and the
/// time its configuration last changed, which every `PutMetricAlarm` sets.
pub async fn alarms(
    client: &Client,
    uid: &str,
    prefix: &str,
    owners: &KeptAnswers,
) -> Result<Vec<ObservedAlarm>> {
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .describe_alarms()
            .alarm_name_prefix(prefix)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| Error::aws("cloudwatch", "DescribeAlarms", e))?;
        for alarm in page.metric_alarms() {
            let arn = alarm.alarm_arn().unwrap_or_default().to_owned();
            let kept = alarm
                .alarm_configuration_updated_timestamp()
                .map(|at| format!("{arn}@{at}"));
            let ownership = match &kept {
                Some(key) if owners.get(key).flatten().as_deref() == Some(uid) => Ownership::Ours,
                _ => {
                    let ownership = owner(client, uid, &arn).await?;
                    if let Some(key) = &kept
                        && ownership.is_ours()
                    {
                        owners.found(key, Some(uid.to_owned()));
                    }
                    ownership
                }
            };
            found.push(ObservedAlarm {
                name: alarm.alarm_name().unwrap_or_default().to_owned(),
                arn,
                shape: shape(
                    alarm.namespace().unwrap_or_default(),
                    alarm.metric_name().unwrap_or_default(),
                    alarm.statistic().map(|s| s.as_str()).unwrap_or_default(),
                    alarm.period().unwrap_or_default(),
                    alarm.threshold().unwrap_or_default(),
                    alarm
                        .comparison_operator()
                        .map(|c| c.as_str())
                        .unwrap_or_default(),
                ),
                health_check_id: alarm
                    .dimensions()
                    .iter()
                    .find(|d| d.name() == Some(DIMENSION))
                    .and_then(|d| d.value())
                    .map(str::to_owned),
                minutes: alarm.evaluation_periods().unwrap_or_default(),
                alarm_actions: alarm.alarm_actions().to_vec(),
                ok_actions: alarm.ok_actions().to_vec(),
                state: alarm
                    .state_value()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                ownership,
            });
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(found);
        }
    }
}

async fn owner(client: &Client, uid: &str, arn: &str) -> Result<Ownership> {
    let tags = client
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|e| Error::aws("cloudwatch", "ListTagsForResource", e))?;
    Ok(Ownership::from_tags(
        uid,
        tags.tags()
            .iter()
            .filter_map(|t| Some((t.key()?, t.value()?))),
    ))
}
