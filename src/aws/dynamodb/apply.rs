//! Changing tables. Nothing waits: a table that is not active yet makes
//! the next call fail as busy, which is a pending line.

use aws_sdk_dynamodb::{
    Client,
    types::{
        AttributeDefinition, BillingMode, CreateReplicationGroupMemberAction,
        DeleteReplicationGroupMemberAction, KeySchemaElement, KeyType,
        PointInTimeRecoverySpecification, ProvisionedThroughput, ReplicationGroupUpdate,
        ScalarAttributeType, StreamSpecification, StreamViewType, Tag,
    },
};

use crate::error::{Error, Result};
use crate::target::Target;

use super::desired::{Billing, DesiredTable, Key};
use super::diff::TableOp;

/// How one operation ended.
#[derive(Debug)]
pub enum Outcome {
    Done,
    /// Not made in this pass (the table is busy); a later pass will.
    Waiting(String),
    Failed(Error),
}

/// Carries out `op` with the client of each region from `dynamodb`.
pub async fn apply(dynamodb: &impl Fn(&str) -> Client, target: &Target, op: &TableOp) -> Outcome {
    let result = match op {
        TableOp::Create { region, table } => create(&dynamodb(region), target, table).await,
        TableOp::AddReplica { home, region, name } => {
            replica(&dynamodb(home), name, region, true).await
        }
        TableOp::RemoveReplica { home, region, name } => {
            replica(&dynamodb(home), name, region, false).await
        }
        TableOp::Tag { region, arn, .. } => dynamodb(region)
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(tags(target)))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::aws("dynamodb", "TagResource", e)),
        TableOp::SetDeletionProtection {
            region,
            name,
            desired,
            ..
        } => dynamodb(region)
            .update_table()
            .table_name(name)
            .deletion_protection_enabled(*desired)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::aws("dynamodb", "UpdateTable", e)),
        TableOp::SetPointInTimeRecovery {
            region,
            name,
            desired,
            ..
        } => point_in_time_recovery(&dynamodb(region), name, *desired).await,
        TableOp::SetBilling {
            region,
            name,
            desired,
            ..
        } => {
            let (mode, throughput) = billing(*desired);
            dynamodb(region)
                .update_table()
                .table_name(name)
                .billing_mode(mode)
                .set_provisioned_throughput(throughput)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| Error::aws("dynamodb", "UpdateTable", e))
        }
        TableOp::Delete { region, name } => {
            match dynamodb(region)
                .delete_table()
                .table_name(name)
                .send()
                .await
            {
                Ok(_) => Ok(()),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_not_found_exception()) =>
                {
                    Ok(())
                }
                Err(e) => Err(Error::aws("dynamodb", "DeleteTable", e)),
            }
        }
    };
    match result {
        Ok(()) => Outcome::Done,
        Err(e) if e.aws_code() == Some("ResourceInUseException") => {
            Outcome::Waiting(format!("{} waits: the table is busy ({e})", op.change()))
        }
        Err(e) => Outcome::Failed(e),
    }
}

fn tags(target: &Target) -> Vec<Tag> {
    target
        .tags()
        .into_iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

fn billing(billing: Billing) -> (BillingMode, Option<ProvisionedThroughput>) {
    match billing {
        Billing::PayPerRequest => (BillingMode::PayPerRequest, None),
        Billing::Provisioned { read, write } => (
            BillingMode::Provisioned,
            ProvisionedThroughput::builder()
                .read_capacity_units(read)
                .write_capacity_units(write)
                .build()
                .ok(),
        ),
    }
}

fn key(key: &Key, kind: KeyType) -> Result<(KeySchemaElement, AttributeDefinition)> {
    let invalid = |e: aws_sdk_dynamodb::error::BuildError| Error::Unexpected(e.to_string());
    let element = KeySchemaElement::builder()
        .attribute_name(&key.0)
        .key_type(kind)
        .build()
        .map_err(invalid)?;
    let definition = AttributeDefinition::builder()
        .attribute_name(&key.0)
        .attribute_type(ScalarAttributeType::from(key.1.as_str()))
        .build()
        .map_err(invalid)?;
    Ok((element, definition))
}

/// The first replica: keys, billing, a stream of new and old images (global
/// tables replicate through it), protection and our tags; then backups.
async fn create(client: &Client, target: &Target, table: &DesiredTable) -> Result<()> {
    let mut elements = vec![key(&table.partition_key, KeyType::Hash)?];
    if let Some(sort) = &table.sort_key {
        elements.push(key(sort, KeyType::Range)?);
    }
    let (mode, throughput) = billing(table.billing);
    let stream = StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(StreamViewType::NewAndOldImages)
        .build()
        .map_err(|e| Error::Unexpected(e.to_string()))?;
    client
        .create_table()
        .table_name(&table.name)
        .set_key_schema(Some(elements.iter().map(|(e, _)| e.clone()).collect()))
        .set_attribute_definitions(Some(elements.into_iter().map(|(_, d)| d).collect()))
        .billing_mode(mode)
        .set_provisioned_throughput(throughput)
        .stream_specification(stream)
        .deletion_protection_enabled(table.deletion_protection)
        .set_tags(Some(tags(target)))
        .send()
        .await
        .map_err(|e| Error::aws("dynamodb", "CreateTable", e))?;
    if table.point_in_time_recovery {
        point_in_time_recovery(client, &table.name, true).await?;
    }
    Ok(())
}

/// Adds (`join`) or removes the replica in `region` through the table's
/// home replica.
async fn replica(client: &Client, name: &str, region: &str, join: bool) -> Result<()> {
    let invalid = |e: aws_sdk_dynamodb::error::BuildError| Error::Unexpected(e.to_string());
    let update = if join {
        ReplicationGroupUpdate::builder()
            .create(
                CreateReplicationGroupMemberAction::builder()
                    .region_name(region)
                    .build()
                    .map_err(invalid)?,
            )
            .build()
    } else {
        ReplicationGroupUpdate::builder()
            .delete(
                DeleteReplicationGroupMemberAction::builder()
                    .region_name(region)
                    .build()
                    .map_err(invalid)?,
            )
            .build()
    };
    client
        .update_table()
        .table_name(name)
        .replica_updates(update)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| Error::aws("dynamodb", "UpdateTable", e))
}

async fn point_in_time_recovery(client: &Client, name: &str, enabled: bool) -> Result<()> {
    let spec = PointInTimeRecoverySpecification::builder()
        .point_in_time_recovery_enabled(enabled)
        .build()
        .map_err(|e| Error::Unexpected(e.to_string()))?;
    client
        .update_continuous_backups()
        .table_name(name)
        .point_in_time_recovery_specification(spec)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| Error::aws("dynamodb", "UpdateContinuousBackups", e))
}
