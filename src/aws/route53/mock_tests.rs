//! What the emulator does not imitate: a health check deleted between the
//! listing and the reading of its tags, which makes AWS fail the whole
//! `ListTagsForResources` batch.

use aws_sdk_route53::{
    Client,
    operation::{
        list_health_checks::ListHealthChecksOutput,
        list_tags_for_resource::ListTagsForResourceOutput,
    },
    types::{
        HealthCheck as SdkHealthCheck, HealthCheckConfig, HealthCheckType, ResourceTagSet, Tag,
        TagResourceType,
    },
};
use aws_smithy_mocks::mock;
use aws_smithy_runtime_api::{client::orchestrator::HttpResponse, http::StatusCode};
use aws_smithy_types::body::SdkBody;

use crate::aws::{AwsClients, clients::GLOBAL_REGION};
use crate::target::UID_TAG;

use super::observe::{self, REGION_TAG};

fn no_such_health_check() -> HttpResponse {
    HttpResponse::new(
        StatusCode::try_from(404).expect("status code"),
        SdkBody::from(
            r#"<?xml version="1.0"?>
<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type><Code>NoSuchHealthCheck</Code><Message>A health check with id hc-gone does not exist.</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"#,
        ),
    )
}

fn health_check(id: &str) -> SdkHealthCheck {
    SdkHealthCheck::builder()
        .id(id)
        .caller_reference(format!("gapi-{id}"))
        .health_check_config(
            HealthCheckConfig::builder()
                .r#type(HealthCheckType::Https)
                .fully_qualified_domain_name("abc.execute-api.eu-west-1.amazonaws.com")
                .resource_path("/prod/health")
                .request_interval(30)
                .failure_threshold(3)
                .build()
                .expect("config"),
        )
        .health_check_version(1)
        .build()
        .expect("health check")
}

#[tokio::test]
async fn a_health_check_deleted_during_the_listing_is_left_out_not_an_error() {
    let list = mock!(Client::list_health_checks).then_output(|| {
        ListHealthChecksOutput::builder()
            .health_checks(health_check("hc-kept"))
            .health_checks(health_check("hc-gone"))
            .marker("")
            .is_truncated(false)
            .max_items(100)
            .build()
            .expect("output")
    });
    let batch = mock!(Client::list_tags_for_resources).then_http_response(no_such_health_check);
    let kept = mock!(Client::list_tags_for_resource)
        .match_requests(|r| r.resource_id() == Some("hc-kept"))
        .then_output(|| {
            ListTagsForResourceOutput::builder()
                .resource_tag_set(
                    ResourceTagSet::builder()
                        .resource_type(TagResourceType::Healthcheck)
                        .resource_id("hc-kept")
                        .tags(Tag::builder().key(UID_TAG).value("uid-1").build())
                        .tags(Tag::builder().key(REGION_TAG).value("eu-west-1").build())
                        .build(),
                )
                .build()
        });
    let gone = mock!(Client::list_tags_for_resource)
        .match_requests(|r| r.resource_id() == Some("hc-gone"))
        .then_http_response(no_such_health_check);
    let client = AwsClients::scripted()
        .answering(
            "route53",
            GLOBAL_REGION,
            AwsClients::answers(&[&list, &batch, &kept, &gone]),
        )
        .route53();

    let listed = observe::listed_health_checks(&client)
        .await
        .expect("a deleted health check is not an error");
    let ids: Vec<&str> = listed.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(ids, ["hc-kept"]);
    assert_eq!(
        listed[0].tags.get(UID_TAG).map(String::as_str),
        Some("uid-1")
    );
    assert_eq!(listed[0].failure_threshold, 3);
    assert_eq!(batch.num_calls(), 1);
    assert_eq!((kept.num_calls(), gone.num_calls()), (1, 1));
}
