//! Changing a log group.

use aws_sdk_cloudwatchlogs::Client;

use crate::error::{Error, Result};
use crate::target::Target;

use super::diff::LogGroupOp;
use super::observe;

/// Carries out `op`; for a create, the new group's ARN.
pub async fn apply(client: &Client, target: &Target, op: &LogGroupOp) -> Result<Option<String>> {
    match op {
        LogGroupOp::Create(want) => {
            let created = client
                .create_log_group()
                .log_group_name(&want.name)
                .set_tags(Some(target.tags().into_iter().collect()))
                .send()
                .await;
            if let Err(e) = created {
                let e = Error::aws("logs", "CreateLogGroup", e);
                // A create retried after a crash: the group is there.
                if e.aws_code() != Some("ResourceAlreadyExistsException") {
                    return Err(e);
                }
            }
            set_retention(client, &want.name, want.retention_days).await?;
            let found = observe::log_group(client, &want.region, &target.uid, &want.name).await?;
            Ok(found.filter(|g| g.owned).map(|g| g.arn))
        }
        LogGroupOp::SetRetention { name, desired, .. } => {
            set_retention(client, name, *desired).await?;
            Ok(None)
        }
        LogGroupOp::Delete { name, .. } => {
            let deleted = client.delete_log_group().log_group_name(name).send().await;
            match deleted {
                Ok(_) => Ok(None),
                Err(e) => {
                    let e = Error::aws("logs", "DeleteLogGroup", e);
                    if e.aws_code() == Some("ResourceNotFoundException") {
                        Ok(None)
                    } else {
                        Err(e)
                    }
                }
            }
        }
    }
}

async fn set_retention(client: &Client, name: &str, days: i32) -> Result<()> {
    client
        .put_retention_policy()
        .log_group_name(name)
        .retention_in_days(days)
        .send()
        .await
        .map_err(|e| Error::aws("logs", "PutRetentionPolicy", e))?;
    Ok(())
}
