//! The CloudFront paths the emulator does not imitate, against a client
//! whose every response is scripted: stale ETags, a lasting InProgress
//! status, DistributionNotDisabled, CNAMEAlreadyExists, and Lambda@Edge
//! associations that round-trip.

use aws_sdk_cloudfront::{
    Client,
    operation::{
        create_distribution_with_tags::CreateDistributionWithTagsOutput,
        get_distribution::GetDistributionOutput, list_distributions::ListDistributionsOutput,
        list_tags_for_resource::ListTagsForResourceOutput,
        update_distribution::UpdateDistributionOutput,
    },
    types::{
        Distribution as SdkDistribution, DistributionConfig, DistributionList, DistributionSummary,
        Tag, Tags,
    },
};
use aws_smithy_mocks::{Rule, mock};
use aws_smithy_runtime_api::{client::orchestrator::HttpResponse, http::StatusCode};
use aws_smithy_types::{DateTime, body::SdkBody};

use crate::aws::{AwsClients, clients::GLOBAL_REGION};
use crate::plan::{Finding, Mode, StepOutcome};
use crate::target::Target;
use crate::target::fixtures::{LATENCY, target};

use super::apply::to_config;
use super::desired::{CloudFrontInputs, Desired, caller_reference, desired};
use super::distribution::Distribution;

const CERT: &str = "arn:aws:acm:us-east-1:123456789012:certificate/c";

/// Clients whose CloudFront answers only by `rules`.
fn client(rules: &[&Rule]) -> AwsClients {
    AwsClients::scripted().answering("cloudfront", GLOBAL_REGION, AwsClients::answers(rules))
}

fn inputs() -> CloudFrontInputs {
    CloudFrontInputs {
        certificate_arn: Some(CERT.into()),
        ..Default::default()
    }
}

fn edge_target() -> Target {
    let mut t = target(LATENCY);
    if let Some(edge) = t.spec.edge.as_mut() {
        edge.lambda_associations = vec![crate::api::EdgeLambdaAssociation {
            event_type: crate::api::LambdaEventType::OriginRequest,
            arn: "arn:aws:lambda:us-east-1:123456789012:function:rewrite:3".into(),
        }];
    }
    t
}

fn want(t: &Target) -> Distribution {
    match desired(t, &inputs()) {
        Desired::Present(d) => *d,
        other => panic!("expected a distribution, got {other:?}"),
    }
}

fn config(t: &Target, d: &Distribution) -> DistributionConfig {
    to_config(d, &caller_reference(t), None).expect("configuration builds")
}

fn arn(id: &str) -> String {
    format!("arn:aws:cloudfront::123456789012:distribution/{id}")
}

fn sdk_distribution(id: &str, status: &str, config: DistributionConfig) -> SdkDistribution {
    SdkDistribution::builder()
        .id(id)
        .arn(arn(id))
        .status(status)
        .last_modified_time(DateTime::from_secs(0))
        .in_progress_invalidation_batches(0)
        .domain_name(format!("{}.cloudfront.net", id.to_ascii_lowercase()))
        .distribution_config(config)
        .build()
        .expect("distribution builds")
}

fn summary(id: &str, status: &str, config: &DistributionConfig) -> DistributionSummary {
    DistributionSummary::builder()
        .id(id)
        .arn(arn(id))
        .status(status)
        .last_modified_time(DateTime::from_secs(0))
        .domain_name(format!("{}.cloudfront.net", id.to_ascii_lowercase()))
        .set_aliases(config.aliases().cloned())
        .comment(config.comment())
        .set_price_class(config.price_class().cloned())
        .enabled(config.enabled())
        .web_acl_id("")
        .set_http_version(config.http_version().cloned())
        .is_ipv6_enabled(config.is_ipv6_enabled().unwrap_or(true))
        .staging(false)
        .build()
        .expect("summary builds")
}

/// An AWS error as CloudFront sends it (REST-XML).
fn aws_error(status: u16, code: &str, message: &str) -> HttpResponse {
    let body = format!(
        "<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\">\
         <Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\
         <RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
    );
    HttpResponse::new(
        StatusCode::try_from(status).expect("status code"),
        SdkBody::from(body),
    )
}

/// The read rules for one distribution of ours in the given state.
fn observed(
    t: &Target,
    id: &str,
    status: &str,
    etag: &str,
    config: DistributionConfig,
) -> Vec<Rule> {
    let list = DistributionList::builder()
        .marker("")
        .max_items(100)
        .is_truncated(false)
        .quantity(1)
        .items(summary(id, status, &config))
        .build()
        .expect("list builds");
    let tags: Vec<Tag> = t
        .tags()
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().expect("tag builds"))
        .collect();
    let distribution = sdk_distribution(id, status, config);
    let etag = etag.to_owned();
    let wanted = id.to_owned();
    vec![
        mock!(Client::list_distributions).then_output(move || {
            ListDistributionsOutput::builder()
                .distribution_list(list.clone())
                .build()
        }),
        mock!(Client::list_tags_for_resource).then_output(move || {
            ListTagsForResourceOutput::builder()
                .tags(Tags::builder().set_items(Some(tags.clone())).build())
                .build()
        }),
        mock!(Client::get_distribution)
            .match_requests(move |req| req.id() == Some(wanted.as_str()))
            .then_output(move || {
                GetDistributionOutput::builder()
                    .distribution(distribution.clone())
                    .e_tag(etag.clone())
                    .build()
            }),
    ]
}

fn all<'a>(reads: &'a [Rule], more: &[&'a Rule]) -> Vec<&'a Rule> {
    reads.iter().chain(more.iter().copied()).collect()
}

fn lines(changes: &[crate::plan::Change]) -> Vec<String> {
    changes.iter().map(ToString::to_string).collect()
}

async fn run(
    clients: &AwsClients,
    t: &Target,
    inputs: &CloudFrontInputs,
    mode: Mode,
) -> crate::error::Result<StepOutcome<super::CloudFrontOutputs>> {
    super::run(clients, t, inputs, mode).await
}

async fn destroy(
    clients: &AwsClients,
    t: &Target,
    mode: Mode,
) -> crate::error::Result<StepOutcome<()>> {
    super::destroy(clients, t, mode).await
}

#[tokio::test]
async fn a_stale_etag_fails_the_update_with_precondition_failed() {
    let t = edge_target();
    let mut drifted = want(&t);
    drifted.price_class = "PriceClass_All".into();
    let reads = observed(&t, "E1", "Deployed", "ETAG-READ", config(&t, &drifted));
    let update = mock!(Client::update_distribution)
        .match_requests(|req| req.id() == Some("E1") && req.if_match() == Some("ETAG-READ"))
        .then_http_response(|| {
            aws_error(
                412,
                "PreconditionFailed",
                "The precondition given in one or more of the request-header fields evaluated to false.",
            )
        });
    let client = client(&all(&reads, &[&update]));

    let err = run(&client, &t, &inputs(), Mode::Apply)
        .await
        .expect_err("a refused precondition fails the step");
    assert_eq!(err.aws_code(), Some("PreconditionFailed"));
    let text = err.to_string();
    assert!(
        text.contains("UpdateDistribution") && text.contains("PreconditionFailed"),
        "{text}"
    );
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test]
async fn destroy_disables_first_and_waits_for_deployed_before_deleting() {
    let t = edge_target();
    let d = want(&t);

    // Pass 1: enabled → disabled, CloudFront starts deploying; no delete yet.
    let reads = observed(&t, "E1", "Deployed", "ETAG-1", config(&t, &d));
    let disabled_config = config(
        &t,
        &Distribution {
            enabled: false,
            ..d.clone()
        },
    );
    let response = sdk_distribution("E1", "InProgress", disabled_config.clone());
    let disable = mock!(Client::update_distribution)
        .match_requests(|req| {
            req.if_match() == Some("ETAG-1")
                && req.distribution_config().is_some_and(|c| !c.enabled())
        })
        .then_output(move || {
            UpdateDistributionOutput::builder()
                .distribution(response.clone())
                .e_tag("ETAG-2")
                .build()
        });
    let out = destroy(&client(&all(&reads, &[&disable])), &t, Mode::Apply)
        .await
        .expect("destroy pass 1");
    assert_eq!(
        lines(&out.changes),
        ["update cloudfront distribution E1 (api.example.com): Enabled true → false"]
    );
    assert_eq!(
        Finding::texts(&out.pending),
        [
            "distribution E1 is disabled and still deploying (InProgress); it is deleted once Deployed"
        ]
    );
    assert_eq!(disable.num_calls(), 1);

    // Pass 2: still InProgress: nothing to do but wait.
    let reads = observed(&t, "E1", "InProgress", "ETAG-2", disabled_config.clone());
    let out = destroy(&client(&all(&reads, &[])), &t, Mode::Apply)
        .await
        .expect("destroy pass 2");
    assert!(out.changes.is_empty());
    assert_eq!(out.pending.len(), 1);

    // Pass 3: Deployed: deleted with the latest ETag.
    let reads = observed(&t, "E1", "Deployed", "ETAG-2", disabled_config);
    let delete = mock!(Client::delete_distribution)
        .match_requests(|req| req.id() == Some("E1") && req.if_match() == Some("ETAG-2"))
        .then_output(|| {
            aws_sdk_cloudfront::operation::delete_distribution::DeleteDistributionOutput::builder()
                .build()
        });
    let out = destroy(&client(&all(&reads, &[&delete])), &t, Mode::Apply)
        .await
        .expect("destroy pass 3");
    assert_eq!(
        lines(&out.changes),
        ["delete cloudfront distribution E1 (api.example.com)"]
    );
    assert!(out.pending.is_empty());
    assert_eq!(delete.num_calls(), 1);
}

#[tokio::test]
async fn distribution_not_disabled_is_pending_not_a_failure() {
    let t = edge_target();
    let disabled = Distribution {
        enabled: false,
        ..want(&t)
    };
    let reads = observed(&t, "E1", "Deployed", "ETAG-3", config(&t, &disabled));
    let delete = mock!(Client::delete_distribution).then_http_response(|| {
        aws_error(
            409,
            "DistributionNotDisabled",
            "The distribution you are trying to delete has not been disabled.",
        )
    });
    let out = destroy(&client(&all(&reads, &[&delete])), &t, Mode::Apply)
        .await
        .expect("DistributionNotDisabled is not an error");
    assert!(out.changes.is_empty());
    assert_eq!(
        Finding::texts(&out.pending),
        ["distribution E1 is not disabled yet (DistributionNotDisabled); it is deleted once it is"]
    );
    assert_eq!(delete.num_calls(), 1);
}

#[tokio::test]
async fn turning_the_edge_off_disables_our_distribution() {
    let t = edge_target();
    let reads = observed(&t, "E1", "Deployed", "ETAG-1", config(&t, &want(&t)));
    let disable = mock!(Client::update_distribution)
        .match_requests(|req| req.distribution_config().is_some_and(|c| !c.enabled()))
        .then_http_response(|| aws_error(412, "PreconditionFailed", "stale"));
    let mut off = t.clone();
    if let Some(edge) = off.spec.edge.as_mut() {
        edge.enabled = false;
    }
    let plan = run(
        &client(&all(&reads, &[&disable])),
        &off,
        &inputs(),
        Mode::Plan,
    )
    .await
    .expect("plan");
    assert_eq!(
        lines(&plan.changes),
        [
            "update cloudfront distribution E1 (api.example.com): Enabled true → false",
            "delete cloudfront distribution E1 (api.example.com)",
        ]
    );
    assert_eq!(plan.outputs, Default::default());
    assert_eq!(disable.num_calls(), 0, "Plan makes no mutating call");
    // And a refused disable is an error too, never swallowed.
    let err = run(
        &client(&all(&reads, &[&disable])),
        &off,
        &inputs(),
        Mode::Apply,
    )
    .await
    .expect_err("stale ETag on disable");
    assert_eq!(err.aws_code(), Some("PreconditionFailed"));
}

#[tokio::test]
async fn create_carries_tags_and_caller_reference_and_reports_in_progress() {
    let t = edge_target();
    let d = want(&t);
    let empty = DistributionList::builder()
        .marker("")
        .max_items(100)
        .is_truncated(false)
        .quantity(0)
        .build()
        .expect("list builds");
    let list = mock!(Client::list_distributions).then_output(move || {
        ListDistributionsOutput::builder()
            .distribution_list(empty.clone())
            .build()
    });
    let reference = caller_reference(&t);
    let uid = t.uid.clone();
    let created = sdk_distribution("ENEW", "InProgress", config(&t, &d));
    let create = mock!(Client::create_distribution_with_tags)
        .match_requests(move |req| {
            let Some(with_tags) = req.distribution_config_with_tags() else {
                return false;
            };
            let tagged = with_tags.tags().is_some_and(|tags| {
                tags.items()
                    .iter()
                    .any(|t| t.key() == "globalapi.io/uid" && t.value() == Some(&uid))
            });
            let config = with_tags.distribution_config();
            let lambdas = config
                .and_then(|c| c.default_cache_behavior())
                .and_then(|b| b.lambda_function_associations())
                .map(|l| l.quantity());
            tagged
                && config.is_some_and(|c| c.caller_reference() == reference)
                && lambdas == Some(1)
        })
        .then_output(move || {
            CreateDistributionWithTagsOutput::builder()
                .distribution(created.clone())
                .e_tag("ETAG-NEW")
                .build()
        });
    let out = run(&client(&[&list, &create]), &t, &inputs(), Mode::Apply)
        .await
        .expect("create");
    assert_eq!(
        lines(&out.changes),
        ["create cloudfront distribution api.example.com"]
    );
    assert_eq!(
        Finding::texts(&out.pending),
        ["distribution ENEW of api.example.com is deploying (InProgress)"]
    );
    assert_eq!(out.outputs.distribution_id.as_deref(), Some("ENEW"));
    assert_eq!(
        out.outputs.domain_name.as_deref(),
        Some("enew.cloudfront.net")
    );
    assert_eq!(out.outputs.certificate_arn.as_deref(), Some(CERT));
    assert_eq!(create.num_calls(), 1);
}

#[tokio::test]
async fn lambda_associations_that_round_trip_cause_no_update() {
    let t = edge_target();
    let reads = observed(&t, "E1", "Deployed", "ETAG-1", config(&t, &want(&t)));
    // No update rule: an update would panic the mock.
    let out = run(&client(&all(&reads, &[])), &t, &inputs(), Mode::Apply)
        .await
        .expect("no changes");
    assert!(out.changes.is_empty() && out.pending.is_empty() && out.conflicts.is_empty());
    assert_eq!(out.outputs.status.as_deref(), Some("Deployed"));
}

#[tokio::test]
async fn an_alias_held_in_another_account_is_a_conflict() {
    let t = edge_target();
    let empty = DistributionList::builder()
        .marker("")
        .max_items(100)
        .is_truncated(false)
        .quantity(0)
        .build()
        .expect("list builds");
    let list = mock!(Client::list_distributions).then_output(move || {
        ListDistributionsOutput::builder()
            .distribution_list(empty.clone())
            .build()
    });
    let create = mock!(Client::create_distribution_with_tags).then_http_response(|| {
        aws_error(
            409,
            "CNAMEAlreadyExists",
            "One or more of the CNAMEs you provided are already associated with a different resource.",
        )
    });
    let out = run(&client(&[&list, &create]), &t, &inputs(), Mode::Apply)
        .await
        .expect("a conflict is not an error");
    assert!(out.changes.is_empty());
    assert_eq!(out.conflicts.len(), 1);
    assert!(
        out.conflicts[0].text.contains("CNAMEAlreadyExists"),
        "{:?}",
        out.conflicts
    );
}
