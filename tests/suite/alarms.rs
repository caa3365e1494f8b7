//! Health alarms through the harsh front (which answers CloudWatch's CBOR
//! protocol from moto's backend): one alarm per region in us-east-1 on the
//! region's Route 53 health check, notifying the spec's topic, ours by tag;
//! a change by hand put back; alarms off, they go; someone else's alarm
//! under our name is a conflict and left alone.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::ground::{Ground, REGIONS};
use globalapi::aws::{AwsClients, cloudwatch, cloudwatch::alarm_name};
use globalapi::plan::Mode;
use globalapi::target::{Target, UID_TAG};

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:api-alerts";

async fn converge(ground: &mut Ground) {
    for _ in 0..30 {
        if ground.apply().await.converged() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("no convergence within 30 passes");
}

async fn alarm(clients: &AwsClients, name: &str) -> Option<aws_sdk_cloudwatch::types::MetricAlarm> {
    clients
        .cloudwatch("us-east-1")
        .describe_alarms()
        .alarm_names(name)
        .send()
        .await
        .expect("DescribeAlarms")
        .metric_alarms()
        .first()
        .cloned()
}

/// The tag reads of one planning look at the alarms.
async fn owner_reads(
    clients: &AwsClients,
    target: &Target,
    health_checks: &BTreeMap<String, String>,
) -> u64 {
    let before = clients.calls().snapshot();
    let outcome = cloudwatch::run(clients, target, health_checks, &BTreeSet::new(), Mode::Plan)
        .await
        .expect("planning the alarms");
    assert!(outcome.conflicts.is_empty(), "{outcome:?}");
    let calls = clients.calls().snapshot().since(&before);
    calls
        .0
        .get(&("cloudwatch".to_owned(), "ListTagsForResource".to_owned()))
        .copied()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn each_region_gets_an_alarm_on_its_health_check() {
    let mut ground = Ground::converged(false).await;
    ground.target.spec.api.health_check.alarm = Some(
        serde_norway::from_str(&format!("{{topicArn: \"{TOPIC}\", minutes: 2}}")).expect("alarm"),
    );
    converge(&mut ground).await;
    let pass = ground.plan().await;
    assert!(pass.plan.is_empty(), "{:?}", pass.plan.changes);
    let view = ground.view_clients().await;
    for region in REGIONS {
        let name = alarm_name(&ground.target, region);
        let found = alarm(&view, &name)
            .await
            .unwrap_or_else(|| panic!("no alarm {name}"));
        let check = &pass.outputs.route53.health_check_ids[region];
        assert_eq!(found.namespace(), Some("AWS/Route53"));
        assert_eq!(found.metric_name(), Some("HealthCheckStatus"));
        assert_eq!(
            found.dimensions()[0].value(),
            Some(check.as_str()),
            "{found:?}"
        );
        assert_eq!(found.evaluation_periods(), Some(2));
        assert_eq!(found.alarm_actions(), [TOPIC]);
        assert_eq!(found.ok_actions(), [TOPIC]);
        let tags = view
            .cloudwatch("us-east-1")
            .list_tags_for_resource()
            .resource_arn(found.alarm_arn().expect("arn"))
            .send()
            .await
            .expect("tags");
        assert!(
            tags.tags()
                .iter()
                .any(|t| t.key() == Some(UID_TAG) && t.value() == Some(ground.target.uid.as_str())),
            "{tags:?}"
        );
        assert!(
            pass.outputs.alarms.states.contains_key(region),
            "{:?}",
            pass.outputs.alarms
        );
    }

    // Our alarms' owners are read once and kept, as the operator's shared
    // listings keep them.
    let kept = ground
        .view_clients()
        .await
        .with_shared_listings(Duration::from_secs(600));
    let checks = &pass.outputs.route53.health_check_ids;
    assert_eq!(
        owner_reads(&kept, &ground.target, checks).await,
        REGIONS.len() as u64
    );
    assert_eq!(owner_reads(&kept, &ground.target, checks).await, 0);

    // Changed by hand: put back.
    let eu = alarm_name(&ground.target, "eu-west-1");
    view.cloudwatch("us-east-1")
        .put_metric_alarm()
        .alarm_name(&eu)
        .namespace("AWS/Route53")
        .metric_name("HealthCheckStatus")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Minimum)
        .period(60)
        .evaluation_periods(9)
        .threshold(1.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::LessThanThreshold)
        .send()
        .await
        .expect("changing the alarm by hand");
    // Put again, by anyone: its owner is read again.
    assert_eq!(owner_reads(&kept, &ground.target, checks).await, 1);
    let drift = ground.plan().await;
    let lines: Vec<String> = drift.plan.changes.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!("update cloudwatch alarm {eu}:")),
        "{lines:?}"
    );
    assert!(lines[0].contains("EvaluationPeriods 9 → 2"), "{lines:?}");
    converge(&mut ground).await;
    assert_eq!(
        alarm(&view, &eu).await.and_then(|a| a.evaluation_periods()),
        Some(2)
    );

    // Alarms off: they go.
    ground.target.spec.api.health_check.alarm = None;
    converge(&mut ground).await;
    for region in REGIONS {
        assert!(
            alarm(&view, &alarm_name(&ground.target, region))
                .await
                .is_none()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn someone_elses_alarm_under_our_name_is_a_conflict() {
    let mut ground = Ground::converged(false).await;
    let view = ground.view_clients().await;
    let name = alarm_name(&ground.target, "us-east-1");
    view.cloudwatch("us-east-1")
        .put_metric_alarm()
        .alarm_name(&name)
        .namespace("Custom")
        .metric_name("Theirs")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
        .period(300)
        .evaluation_periods(1)
        .threshold(5.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .expect("their alarm");
    ground.target.spec.api.health_check.alarm =
        Some(serde_norway::from_str(&format!("{{topicArn: \"{TOPIC}\"}}")).expect("alarm"));
    let pass = ground.apply().await;
    assert!(
        pass.conflicts
            .iter()
            .any(|c| c.finding.text.contains(&name)),
        "{:?}",
        pass.conflicts
    );
    let theirs = alarm(&view, &name).await.expect("their alarm stays");
    assert_eq!(theirs.metric_name(), Some("Theirs"));
}
