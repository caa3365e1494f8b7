//! Throttling, which moto does not produce: Route 53's answer "Rate
//! exceeded" is retried with backoff until the call goes through.

use aws_sdk_route53::{
    Client,
    config::retry::RetryPartition,
    operation::list_resource_record_sets::ListResourceRecordSetsOutput,
    types::{ResourceRecord, ResourceRecordSet, RrType},
};
use std::time::Duration;

use aws_smithy_mocks::{RuleMode, mock, mock_client};
use globalapi::aws::{clients::retry_config, route53::observe};

const THROTTLED: &str = r#"<?xml version="1.0"?>
<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"#;

fn listing() -> ListResourceRecordSetsOutput {
    let record = ResourceRecordSet::builder()
        .name("www.example.com.")
        .r#type(RrType::A)
        .ttl(60)
        .resource_records(
            ResourceRecord::builder()
                .value("192.0.2.1")
                .build()
                .expect("record"),
        )
        .build()
        .expect("record set");
    ListResourceRecordSetsOutput::builder()
        .resource_record_sets(record)
        .is_truncated(false)
        .max_items(300)
        .build()
        .expect("output")
}

#[tokio::test]
async fn throttled_listing_is_retried_then_succeeds() {
    let rule = mock!(Client::list_resource_record_sets)
        .sequence()
        .http_status(400, Some(THROTTLED.to_owned()))
        .times(2)
        .output(listing)
        .build();
    let client = mock_client!(aws_sdk_route53, RuleMode::Sequential, [&rule], |config| {
        // The operator's adaptive policy, with a backoff short enough for a
        // test, and a rate limiter of its own: the process-wide one of Route 53
        // may have been slowed by the throttling other tests inject.
        config
            .retry_config(
                retry_config()
                    .with_initial_backoff(Duration::from_millis(1))
                    .with_max_backoff(Duration::from_millis(5)),
            )
            .retry_partition(RetryPartition::custom("throttling-test").build())
    });

    let records = observe::records(&client, "ZTEST")
        .await
        .expect("the third attempt succeeds");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].key.name, "www.example.com");
    assert_eq!(
        rule.num_calls(),
        3,
        "two throttled attempts and one success"
    );
}

#[tokio::test]
async fn throttling_that_never_ends_is_an_error_with_aws_code() {
    let rule = mock!(Client::list_resource_record_sets)
        .sequence()
        .http_status(400, Some(THROTTLED.to_owned()))
        .repeatedly()
        .build();
    // The operator's number of attempts, in standard mode with a tiny backoff:
    // adaptive mode's client-side rate limiting would only slow the test down.
    let policy = retry_config();
    let client = mock_client!(aws_sdk_route53, RuleMode::Sequential, [&rule], |config| {
        config
            .retry_config(
                aws_config::retry::RetryConfig::standard()
                    .with_max_attempts(policy.max_attempts())
                    .with_initial_backoff(Duration::from_millis(1))
                    .with_max_backoff(Duration::from_millis(5)),
            )
            .retry_partition(RetryPartition::custom("endless-throttling-test").build())
    });

    let err = observe::records(&client, "ZTEST")
        .await
        .expect_err("gives up after the attempts");
    assert_eq!(err.aws_code(), Some("Throttling"));
    assert!(err.to_string().contains("Rate exceeded"), "{err}");
    assert_eq!(rule.num_calls(), policy.max_attempts() as usize);
}
