//! Changing the alarms.

use aws_sdk_cloudwatch::{
    Client,
    types::{ComparisonOperator, Dimension, StandardUnit, Statistic, Tag},
};

use crate::error::{Error, Result};
use crate::target::Target;

use super::desired::{DIMENSION, METRIC, NAMESPACE};
use super::diff::{AlarmOp, COMPARISON, PERIOD, STATISTIC, THRESHOLD};

pub async fn apply(client: &Client, target: &Target, op: &AlarmOp) -> Result<()> {
    match op {
        AlarmOp::Put { alarm, exists, .. } => {
            let tags: Vec<Tag> = target
                .tags()
                .into_iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect();
            let mut request = client
                .put_metric_alarm()
                .alarm_name(&alarm.name)
                .alarm_description(format!(
                    "The Route 53 health check of {} in {} reports the region down",
                    target.spec.domain, alarm.region
                ))
                .namespace(NAMESPACE)
                .metric_name(METRIC)
                .dimensions(
                    Dimension::builder()
                        .name(DIMENSION)
                        .value(&alarm.health_check_id)
                        .build(),
                )
                .statistic(Statistic::from(STATISTIC))
                .period(PERIOD)
                .evaluation_periods(alarm.minutes)
                .threshold(THRESHOLD)
                .comparison_operator(ComparisonOperator::from(COMPARISON))
                .unit(StandardUnit::None)
                .alarm_actions(&alarm.topic_arn)
                .ok_actions(&alarm.topic_arn);
            // Tags count only when the alarm is made.
            if !exists {
                request = request.set_tags(Some(tags));
            }
            request
                .send()
                .await
                .map_err(|e| Error::aws("cloudwatch", "PutMetricAlarm", e))?;
            Ok(())
        }
        AlarmOp::Delete { name } => {
            client
                .delete_alarms()
                .alarm_names(name)
                .send()
                .await
                .map_err(|e| Error::aws("cloudwatch", "DeleteAlarms", e))?;
            Ok(())
        }
    }
}
