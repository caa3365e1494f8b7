//! Access logs through the harsh front: a log group per region, ours by
//! tag, with the spec's retention, that the stage writes to; and, when the
//! spec stops asking for them while one region's groups cannot be read,
//! that region's group and stage settings are left exactly as they are
//! until they can be read, and only then removed.

use crate::common;

use std::time::Duration;

use aws_sdk_cloudwatchlogs::types::LogGroup;
use common::ground::{FAULTY, Ground, REGIONS};
use globalapi::aws::{AwsClients, logs::log_group_name};
use globalapi::target::UID_TAG;
use serde_json::json;

/// Apply passes until one converges.
async fn converge(ground: &mut Ground) {
    for _ in 0..30 {
        if ground.apply().await.converged() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("no convergence within 30 passes");
}

async fn group(clients: &AwsClients, region: &str, name: &str) -> Option<LogGroup> {
    clients
        .logs(region)
        .describe_log_groups()
        .log_group_name_prefix(name)
        .send()
        .await
        .expect("DescribeLogGroups")
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(name))
        .cloned()
}

/// The stage's access log destination in `region`.
async fn destination(ground: &Ground, region: &str) -> Option<String> {
    let clients = ground.view_clients().await;
    let id = common::owned::rest_api_ids(&clients, &ground.target, region)
        .await
        .pop()
        .expect("our REST API");
    clients
        .apigateway(region)
        .get_stage()
        .rest_api_id(id)
        .stage_name("v1")
        .send()
        .await
        .expect("GetStage")
        .access_log_settings()
        .and_then(|s| s.destination_arn())
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread")]
async fn access_logs_go_to_a_group_of_ours_per_region_and_leave_with_the_spec() {
    let mut ground = Ground::converged(false).await;
    let name = log_group_name(&ground.target);
    ground.target.spec.api.access_logs =
        Some(serde_norway::from_str("{retentionDays: 14}").expect("access logs"));
    converge(&mut ground).await;
    let view = ground.view_clients().await;
    for region in REGIONS {
        let found = group(&view, region, &name)
            .await
            .unwrap_or_else(|| panic!("no log group {name} in {region}"));
        assert_eq!(found.retention_in_days(), Some(14));
        let arn = found.arn().expect("arn").trim_end_matches(":*").to_owned();
        let tags = view
            .logs(region)
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .expect("ListTagsForResource");
        assert_eq!(
            tags.tags().and_then(|t| t.get(UID_TAG)),
            Some(&ground.target.uid)
        );
        assert_eq!(
            destination(&ground, region).await.as_deref(),
            Some(arn.as_str())
        );
    }
    assert!(ground.plan().await.plan.is_empty());

    // Retention changed by hand: put back.
    view.logs("us-east-1")
        .put_retention_policy()
        .log_group_name(&name)
        .retention_in_days(1)
        .send()
        .await
        .expect("changing the retention by hand");
    let drift = ground.plan().await;
    assert_eq!(
        drift
            .plan
            .changes
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        [format!(
            "update logs log group us-east-1 {name}: RetentionInDays 1 → 14"
        )]
    );
    converge(&mut ground).await;

    // Access logs off while the faulty region's groups cannot be read: that
    // region keeps its group and its stage's settings.
    ground.scope.rule(json!({
        "service": "logs", "region": FAULTY, "action": "unavailable", "times": 1000
    }));
    ground.target.spec.api.access_logs = None;
    let pass = ground.apply().await;
    assert!(
        pass.unknown.iter().any(|n| n.finding.text.contains(FAULTY)),
        "{:?}",
        pass.unknown
    );
    assert!(group(&view, "us-east-1", &name).await.is_none());
    assert_eq!(destination(&ground, "us-east-1").await, None);
    assert!(group(&view, FAULTY, &name).await.is_some());
    assert!(destination(&ground, FAULTY).await.is_some());

    // Readable again: removed there too.
    ground.scope.clear();
    converge(&mut ground).await;
    assert!(group(&view, FAULTY, &name).await.is_none());
    assert_eq!(destination(&ground, FAULTY).await, None);
    assert!(ground.plan().await.plan.is_empty());
}
