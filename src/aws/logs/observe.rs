//! Reading a log group and whose it is.

use aws_sdk_cloudwatchlogs::Client;

use crate::error::{Error, Result};
use crate::target::{OWNER_TAG, UID_TAG};

/// A log group found under our name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedLogGroup {
    pub name: String,
    /// Without the `:*` DescribeLogGroups adds: what a stage's access log
    /// settings and the tagging calls take.
    pub arn: String,
    pub retention_days: Option<i32>,
    /// Tagged with the target's uid.
    pub owned: bool,
    /// The owner tag of someone else's group, when it has one.
    pub owner: Option<String>,
}

/// The group named exactly `name` in the client's region, if any.
pub(crate) async fn log_group(
    client: &Client,
    region: &str,
    uid: &str,
    name: &str,
) -> Result<Option<ObservedLogGroup>> {
    let listed = client
        .describe_log_groups()
        .log_group_name_prefix(name)
        .send()
        .await
        .map_err(|e| Error::aws("logs", "DescribeLogGroups", e))?;
    let Some(group) = listed
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(name))
    else {
        return Ok(None);
    };
    let arn = group
        .arn()
        .map(|a| a.trim_end_matches(":*").to_owned())
        .unwrap_or_else(|| format!("arn:aws:logs:{region}::log-group:{name}"));
    let tags = client
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .map_err(|e| Error::aws("logs", "ListTagsForResource", e))?;
    let tags = tags.tags();
    let tag = |key: &str| tags.and_then(|t| t.get(key)).cloned();
    Ok(Some(ObservedLogGroup {
        name: name.to_owned(),
        arn,
        retention_days: group.retention_in_days(),
        owned: tag(UID_TAG).as_deref() == Some(uid),
        owner: tag(OWNER_TAG),
    }))
}
