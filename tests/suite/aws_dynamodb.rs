//! DynamoDB global tables against the emulator, whose missing replicas the
//! harsh front supplies (UpdateTable ReplicaUpdates, DescribeTable
//! Replicas): a table made in the first region and replicated to the
//! second, its replica tagged and set like the spec, backups put back
//! after a change by hand, someone else's table left alone, a region taken
//! out (removal: Delete) losing its replica, and destroy refused while
//! protected, then complete.

use crate::common;

use std::time::Duration;

use globalapi::api::GlobalApiSpec;
use globalapi::aws::AwsClients;
use globalapi::aws::dynamodb::{self, DynamoInputs, DynamoOutputs, PROTECTED};
use globalapi::plan::{Mode, StepOutcome};
use globalapi::target::{Target, UID_TAG};

fn target(suffix: &str, regions: &[&str], protection: bool) -> Target {
    let regions: String = regions
        .iter()
        .map(|r| format!("  - {{name: {r}, backend: {{httpUrl: \"https://{r}.example.com\"}}}}\n"))
        .collect();
    let spec: GlobalApiSpec = serde_norway::from_str(&format!(
        r#"
domain: api-{suffix}.example.com
hostedZone: {{name: example.com}}
routing: {{policy: Latency}}
regions:
{regions}database:
  removal: Delete
  dynamodb:
    tables:
      - name: rates-{suffix}
        partitionKey: {{name: pair, type: String}}
        sortKey: {{name: at, type: Number}}
        deletionProtection: {protection}
"#
    ))
    .expect("spec parses");
    Target {
        namespace: format!("ddb-{suffix}"),
        name: "exchange".into(),
        uid: format!("00000000-0000-4000-8000-{suffix:0>12}"),
        spec,
    }
}

fn lines<O>(outcome: &StepOutcome<O>) -> Vec<String> {
    outcome.changes.iter().map(ToString::to_string).collect()
}

/// Apply until a pass changes nothing and waits for nothing; every change.
async fn converge(clients: &AwsClients, t: &Target, inputs: &mut DynamoInputs) -> Vec<String> {
    let mut changes = Vec::new();
    for _ in 0..20 {
        let out = dynamodb::run(clients, t, inputs, Mode::Apply)
            .await
            .expect("apply");
        assert!(out.errors.is_empty(), "errors: {:?}", out.errors);
        assert!(out.conflicts.is_empty(), "conflicts: {:?}", out.conflicts);
        changes.extend(lines(&out));
        remember(inputs, &out.outputs);
        if out.changes.is_empty() && out.pending.is_empty() {
            return changes;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    panic!("not converged: {changes:?}");
}

/// What the status would carry to the next pass.
fn remember(inputs: &mut DynamoInputs, outputs: &DynamoOutputs) {
    let seen = outputs.remembered();
    for table in seen.previous_tables {
        if !inputs.previous_tables.contains(&table) {
            inputs.previous_tables.push(table);
        }
    }
    for region in seen.previous_regions {
        if !inputs.previous_regions.contains(&region) {
            inputs.previous_regions.push(region);
        }
    }
}

async fn replicas(clients: &AwsClients, region: &str, name: &str) -> Option<Vec<String>> {
    let out = clients
        .dynamodb(region)
        .describe_table()
        .table_name(name)
        .send()
        .await
        .ok()?;
    Some(
        out.table()?
            .replicas()
            .iter()
            .filter_map(|r| r.region_name().map(str::to_owned))
            .collect(),
    )
}

#[tokio::test]
async fn a_global_table_is_made_replicated_kept_and_removed() {
    let env = common::env();
    let clients = env.aws_clients().await;
    let suffix = common::unique_suffix();
    let name = format!("rates-{suffix}");
    let both = ["us-east-1", "eu-west-1"];
    let t = target(&suffix, &both, false);
    let mut inputs = DynamoInputs::default();

    assert_eq!(
        converge(&clients, &t, &mut inputs).await,
        [
            format!("create dynamodb table us-east-1 {name}"),
            format!("create dynamodb replica eu-west-1 {name}"),
            format!(
                "update dynamodb table eu-west-1 {name}: Tags (none) → globalapi.io/uid, globalapi.io/owner"
            ),
            format!(
                "update dynamodb table eu-west-1 {name}: PointInTimeRecoveryEnabled false → true"
            ),
        ]
    );
    assert_eq!(
        replicas(&clients, "us-east-1", &name).await,
        Some(vec!["eu-west-1".to_owned()])
    );
    assert_eq!(
        replicas(&clients, "eu-west-1", &name).await,
        Some(vec!["us-east-1".to_owned()])
    );
    let out = dynamodb::run(&clients, &t, &inputs, Mode::Plan)
        .await
        .expect("plan");
    assert!(out.changes.is_empty(), "{:?}", lines(&out));
    let table = &out.outputs.tables[0];
    assert_eq!(table.name, name);
    assert_eq!(
        table
            .replicas
            .iter()
            .map(|r| r.region.as_str())
            .collect::<Vec<_>>(),
        ["eu-west-1", "us-east-1"]
    );
    assert!(
        table.replicas.iter().all(|r| r.stream_arn.is_some()),
        "{table:?}"
    );
    for region in both {
        let arn = &table
            .replicas
            .iter()
            .find(|r| r.region == region)
            .expect("replica")
            .arn;
        let tags = clients
            .dynamodb(region)
            .list_tags_of_resource()
            .resource_arn(arn)
            .send()
            .await
            .expect("tags");
        assert!(
            tags.tags()
                .iter()
                .any(|tag| tag.key() == UID_TAG && tag.value() == t.uid),
            "{region}: {tags:?}"
        );
    }

    // Backups turned off by hand: put back.
    clients
        .dynamodb("us-east-1")
        .update_continuous_backups()
        .table_name(&name)
        .point_in_time_recovery_specification(
            aws_sdk_dynamodb::types::PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(false)
                .build()
                .expect("spec"),
        )
        .send()
        .await
        .expect("turning backups off by hand");
    assert_eq!(
        converge(&clients, &t, &mut inputs).await,
        [format!(
            "update dynamodb table us-east-1 {name}: PointInTimeRecoveryEnabled false → true"
        )]
    );

    // eu-west-1 leaves the spec (removal: Delete): its replica goes.
    let shrunk = target(&suffix, &["us-east-1"], false);
    assert_eq!(
        converge(&clients, &shrunk, &mut inputs).await,
        [format!("delete dynamodb replica eu-west-1 {name}")]
    );
    assert_eq!(replicas(&clients, "eu-west-1", &name).await, None);
    assert_eq!(replicas(&clients, "us-east-1", &name).await, Some(vec![]));

    // Protected, destroy refuses; unprotected, it deletes.
    let protected = target(&suffix, &["us-east-1"], true);
    converge(&clients, &protected, &mut inputs).await;
    let refused = dynamodb::destroy(&clients, &protected, &inputs, Mode::Apply)
        .await
        .expect("destroy");
    assert!(refused.changes.is_empty());
    assert!(
        refused.errors.iter().any(|e| e.text.contains(PROTECTED)),
        "{:?}",
        refused.errors
    );
    converge(&clients, &shrunk, &mut inputs).await;
    let destroyed = dynamodb::destroy(&clients, &shrunk, &inputs, Mode::Apply)
        .await
        .expect("destroy");
    assert!(destroyed.errors.is_empty(), "{:?}", destroyed.errors);
    assert_eq!(
        lines(&destroyed),
        [format!("delete dynamodb table us-east-1 {name}")]
    );
    assert_eq!(replicas(&clients, "us-east-1", &name).await, None);
}

#[tokio::test]
async fn someone_elses_table_of_the_same_name_is_a_conflict_and_untouched() {
    let env = common::env();
    let clients = env.aws_clients().await;
    let suffix = common::unique_suffix();
    let name = format!("rates-{suffix}");
    clients
        .dynamodb("us-east-1")
        .create_table()
        .table_name(&name)
        .key_schema(
            aws_sdk_dynamodb::types::KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
                .build()
                .expect("key"),
        )
        .attribute_definitions(
            aws_sdk_dynamodb::types::AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                .build()
                .expect("attribute"),
        )
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .send()
        .await
        .expect("someone else's table");
    let t = target(&suffix, &["us-east-1", "eu-west-1"], false);
    let out = dynamodb::run(&clients, &t, &DynamoInputs::default(), Mode::Apply)
        .await
        .expect("apply");
    assert!(out.changes.is_empty(), "{:?}", lines(&out));
    assert_eq!(out.conflicts.len(), 1, "{:?}", out.conflicts);
    assert!(out.conflicts[0].text.contains(&name));
    assert_eq!(replicas(&clients, "us-east-1", &name).await, Some(vec![]));
    assert_eq!(replicas(&clients, "eu-west-1", &name).await, None);
    clients
        .dynamodb("us-east-1")
        .delete_table()
        .table_name(&name)
        .send()
        .await
        .expect("cleaning up");
}
