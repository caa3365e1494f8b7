//! Reading a table in one region: its shape, whose it is, its replicas and
//! its backups.

use aws_sdk_dynamodb::{
    Client,
    types::{BillingMode, KeyType, TableDescription},
};

use crate::aws::ownership::Ownership;
use crate::error::{Error, Result};

use super::desired::{Billing, Key};

/// A table found under one of the spec's names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedTable {
    pub region: String,
    pub name: String,
    pub arn: String,
    pub stream_arn: Option<String>,
    /// `CREATING`, `UPDATING`, `ACTIVE`, `DELETING`…
    pub status: String,
    pub partition_key: Option<Key>,
    pub sort_key: Option<Key>,
    pub billing: Billing,
    pub deletion_protection: bool,
    /// The other regions of its global table.
    pub replicas: Vec<String>,
    pub ownership: Ownership,
    /// Point-in-time recovery; `None` when not read (not ours).
    pub point_in_time_recovery: Option<bool>,
}

impl ObservedTable {
    pub fn active(&self) -> bool {
        self.status == "ACTIVE"
    }
}

/// The table `name` in the client's region, if any.
pub async fn table(
    client: &Client,
    region: &str,
    uid: &str,
    name: &str,
) -> Result<Option<ObservedTable>> {
    let described = match client.describe_table().table_name(name).send().await {
        Ok(out) => out,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(Error::aws("dynamodb", "DescribeTable", e)),
    };
    let Some(description) = described.table() else {
        return Ok(None);
    };
    let mut found = to_observed(region, name, description);
    let tags = client
        .list_tags_of_resource()
        .resource_arn(&found.arn)
        .send()
        .await
        .map_err(|e| Error::aws("dynamodb", "ListTagsOfResource", e))?;
    found.ownership = Ownership::from_tags(uid, tags.tags().iter().map(|t| (t.key(), t.value())));
    if !matches!(found.ownership, Ownership::Foreign { .. }) {
        let backups = client
            .describe_continuous_backups()
            .table_name(name)
            .send()
            .await
            .map_err(|e| Error::aws("dynamodb", "DescribeContinuousBackups", e))?;
        found.point_in_time_recovery = Some(
            backups
                .continuous_backups_description()
                .and_then(|d| d.point_in_time_recovery_description())
                .and_then(|p| p.point_in_time_recovery_status())
                .is_some_and(|s| s.as_str() == "ENABLED"),
        );
    }
    Ok(Some(found))
}

/// Our view of DescribeTable's answer (ownership and backups not yet read).
pub(crate) fn to_observed(region: &str, name: &str, t: &TableDescription) -> ObservedTable {
    let key_of = |kind: KeyType| -> Option<Key> {
        let attribute = t
            .key_schema()
            .iter()
            .find(|k| *k.key_type() == kind)?
            .attribute_name()
            .to_owned();
        let scalar = t
            .attribute_definitions()
            .iter()
            .find(|a| a.attribute_name() == attribute)
            .map(|a| a.attribute_type().as_str().to_owned())
            .unwrap_or_default();
        Some((attribute, scalar))
    };
    // AWS leaves the summary out for a table made provisioned.
    let on_demand = t
        .billing_mode_summary()
        .and_then(|b| b.billing_mode())
        .is_some_and(|m| *m == BillingMode::PayPerRequest);
    let billing = if on_demand {
        Billing::PayPerRequest
    } else {
        let throughput = t.provisioned_throughput();
        Billing::Provisioned {
            read: throughput
                .and_then(|p| p.read_capacity_units())
                .unwrap_or(0),
            write: throughput
                .and_then(|p| p.write_capacity_units())
                .unwrap_or(0),
        }
    };
    ObservedTable {
        region: region.to_owned(),
        name: name.to_owned(),
        arn: t.table_arn().unwrap_or_default().to_owned(),
        stream_arn: t.latest_stream_arn().map(str::to_owned),
        status: t
            .table_status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        partition_key: key_of(KeyType::Hash),
        sort_key: key_of(KeyType::Range),
        billing,
        deletion_protection: t.deletion_protection_enabled().unwrap_or(false),
        replicas: t
            .replicas()
            .iter()
            .filter_map(|r| r.region_name())
            .filter(|r| *r != region)
            .map(str::to_owned)
            .collect(),
        ownership: Ownership::Untagged,
        point_in_time_recovery: None,
    }
}
