//! The harsh front of moto (`tests/env/harsh_aws.py`) through the AWS SDK
//! for Rust: each injected fault reaches the SDK as the error code the real
//! service sends, rules fire exactly where they say, scopes do not see each
//! other, and the strict AWS behaviours refuse what AWS refuses.

use crate::common;

use std::{
    future::Future,
    time::{Duration, Instant},
};

use aws_config::{Region, SdkConfig, retry::RetryConfig, timeout::TimeoutConfig};
use aws_sdk_apigateway::types::{EndpointConfiguration, EndpointType};
use aws_sdk_cloudfront::types::{
    CustomOriginConfig, DefaultCacheBehavior, DistributionConfig, DistributionConfigWithTags,
    MinimumProtocolVersion, OriginProtocolPolicy, Origins, SslSupportMethod, Tag, Tags,
    ViewerCertificate, ViewerProtocolPolicy,
};
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, HealthCheckConfig, HealthCheckType,
    ResourceRecord, ResourceRecordSet, ResourceRecordSetRegion, RrType,
};
use aws_smithy_runtime_api::client::{orchestrator::HttpResponse, result::SdkError};
use aws_smithy_types::error::{display::DisplayErrorContext, metadata::ProvideErrorMetadata};
use common::harsh::HarshScope;
use globalapi::aws::AwsClients;
use serde_json::json;

/// An AWS error as the SDK reports it.
#[derive(Debug, PartialEq, Eq)]
struct Failure {
    code: String,
    status: u16,
    message: String,
}

/// `Ok(())`, or the AWS error of `result`; panics on any other failure
/// (no answer, timeout, unparsable answer).
fn outcome<O, E>(result: Result<O, SdkError<E, HttpResponse>>) -> Result<(), Failure>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let err = match result {
        Ok(_) => return Ok(()),
        Err(err) => err,
    };
    assert!(
        matches!(err, SdkError::ServiceError(_)),
        "not an AWS error: {}",
        DisplayErrorContext(&err)
    );
    let status = err.raw_response().map_or(0, |r| r.status().as_u16());
    let code = err
        .code()
        .unwrap_or_else(|| panic!("no error code in {}", DisplayErrorContext(&err)))
        .to_owned();
    let message = err.message().unwrap_or_default().to_owned();
    Err(Failure {
        code,
        status,
        message,
    })
}

/// The AWS error of `result`, which must have failed.
fn failure<O, E>(what: &str, result: Result<O, SdkError<E, HttpResponse>>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match outcome(result) {
        Ok(()) => panic!("{what}: succeeded, AWS refuses it"),
        Err(f) => f,
    }
}

/// Asserts `(code, status)` of an AWS error.
fn assert_refused(what: &str, got: &Failure, code: &str, status: u16) {
    assert_eq!(
        (got.code.as_str(), got.status),
        (code, status),
        "{what}: {got:?}"
    );
}

/// The SDK error of a call that must have failed without an AWS answer.
fn no_answer<O: std::fmt::Debug, E: std::fmt::Debug, R: std::fmt::Debug>(
    what: &str,
    result: Result<O, SdkError<E, R>>,
) -> SdkError<E, R> {
    match result {
        Ok(out) => panic!("{what}: answered {out:?}, expected no answer"),
        Err(SdkError::ServiceError(e)) => panic!("{what}: answered with an AWS error {e:?}"),
        Err(err) => err,
    }
}

/// For each `(rule, code, status)`: the rule fires once on `operation` of
/// `service` and the SDK reports `code`; the next call passes again.
async fn faults_reach_the_sdk<F, Fut>(
    scope: &HarshScope,
    service: &str,
    operation: &str,
    expected: &[(serde_json::Value, &str, u16)],
    call: F,
) where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), Failure>>,
{
    call()
        .await
        .unwrap_or_else(|f| panic!("{service}:{operation} without a rule: {f:?}"));
    for (rule, code, status) in expected {
        let mut rule = rule.clone();
        rule["service"] = json!(service);
        rule["operation"] = json!(operation);
        rule["times"] = json!(1);
        scope.rule(rule.clone());
        let got = call()
            .await
            .expect_err(&format!("{service}:{operation} with {rule}"));
        assert_eq!(
            (got.code.as_str(), got.status),
            (*code, *status),
            "{service}:{operation} with {rule}: {got:?}"
        );
        call()
            .await
            .unwrap_or_else(|f| panic!("{service}:{operation} after {rule} fired once: {f:?}"));
        let action = rule["action"].as_str().expect("action");
        assert_eq!(
            scope.injected(&format!("{service}:{operation}:{action}")),
            1,
            "{rule}: {}",
            scope.counters()
        );
        scope.clear();
    }
}

fn actions(
    throttle: (&'static str, u16),
    unavailable: (&'static str, u16),
    internal: (&'static str, u16),
    denied: (&'static str, u16),
) -> Vec<(serde_json::Value, &'static str, u16)> {
    vec![
        (json!({"action": "throttle"}), throttle.0, throttle.1),
        (
            json!({"action": "unavailable"}),
            unavailable.0,
            unavailable.1,
        ),
        (json!({"action": "internal"}), internal.0, internal.1),
        (json!({"action": "access_denied"}), denied.0, denied.1),
        (
            json!({"action": "error", "code": "HarshCustomError", "status": 418, "message": "custom"}),
            "HarshCustomError",
            418,
        ),
    ]
}

#[tokio::test]
async fn route53_faults_have_route53_codes() {
    let scope = HarshScope::new("r53-faults");
    let clients = scope.clients_without_retries().await;
    let c = &clients.route53();
    faults_reach_the_sdk(
        &scope,
        "route53",
        "ListHostedZones",
        &actions(
            ("Throttling", 400),
            ("ServiceUnavailable", 503),
            ("InternalFailure", 500),
            ("AccessDenied", 403),
        ),
        move || async move { outcome(c.list_hosted_zones().send().await) },
    )
    .await;
}

#[tokio::test]
async fn cloudfront_faults_have_cloudfront_codes() {
    let scope = HarshScope::new("cf-faults");
    let clients = scope.clients_without_retries().await;
    let c = &clients.cloudfront();
    faults_reach_the_sdk(
        &scope,
        "cloudfront",
        "ListDistributions",
        &actions(
            ("Throttling", 400),
            ("ServiceUnavailable", 503),
            ("InternalFailure", 500),
            ("AccessDenied", 403),
        ),
        move || async move { outcome(c.list_distributions().send().await) },
    )
    .await;
}

#[tokio::test]
async fn apigateway_faults_have_apigateway_codes() {
    let scope = HarshScope::new("apigw-faults");
    let clients = scope.clients_without_retries().await;
    let c = &clients.apigateway("eu-west-1");
    faults_reach_the_sdk(
        &scope,
        "apigateway",
        "GetRestApis",
        &actions(
            ("TooManyRequestsException", 429),
            ("ServiceUnavailableException", 503),
            ("InternalServerError", 500),
            ("AccessDeniedException", 403),
        ),
        move || async move { outcome(c.get_rest_apis().send().await) },
    )
    .await;
}

#[tokio::test]
async fn lambda_faults_have_lambda_codes() {
    let scope = HarshScope::new("lambda-faults");
    let clients = scope.clients_without_retries().await;
    let c = &clients.lambda("us-east-1");
    faults_reach_the_sdk(
        &scope,
        "lambda",
        "ListFunctions",
        &actions(
            ("TooManyRequestsException", 429),
            ("ServiceUnavailableException", 503),
            ("ServiceException", 500),
            ("AccessDeniedException", 403),
        ),
        move || async move { outcome(c.list_functions().send().await) },
    )
    .await;
}

#[tokio::test]
async fn acm_faults_have_acm_codes() {
    let scope = HarshScope::new("acm-faults");
    let clients = scope.clients_without_retries().await;
    let c = &clients.acm("ap-southeast-2");
    faults_reach_the_sdk(
        &scope,
        "acm",
        "ListCertificates",
        &actions(
            ("ThrottlingException", 400),
            ("ServiceUnavailable", 503),
            ("InternalFailure", 500),
            ("AccessDeniedException", 400),
        ),
        move || async move { outcome(c.list_certificates().send().await) },
    )
    .await;
}

#[tokio::test]
async fn rds_faults_have_rds_codes() {
    let scope = HarshScope::new("rds-faults");
    let clients = scope.clients_without_retries().await;
    let c = &clients.rds("eu-west-1");
    faults_reach_the_sdk(
        &scope,
        "rds",
        "DescribeDBClusters",
        &actions(
            ("Throttling", 400),
            ("ServiceUnavailable", 503),
            ("InternalFailure", 500),
            ("AccessDenied", 403),
        ),
        move || async move { outcome(c.describe_db_clusters().send().await) },
    )
    .await;
}

#[tokio::test]
async fn throttling_and_5xx_are_retried_by_the_operators_policy() {
    let scope = HarshScope::new("retried");
    // The operator's policy, with a backoff short enough for a test.
    let retry = globalapi::aws::clients::retry_config()
        .with_initial_backoff(Duration::from_millis(10))
        .with_max_backoff(Duration::from_millis(50));
    let clients = scope.clients_with(retry, None).await;
    scope.rule(json!({"service": "route53", "operation": "ListHostedZones", "action": "throttle", "times": 3}));
    clients
        .route53()
        .list_hosted_zones()
        .send()
        .await
        .expect("the fourth attempt goes through");
    assert_eq!(scope.injected("route53:ListHostedZones:throttle"), 3);
    assert_eq!(scope.passed("route53:ListHostedZones"), 1);

    scope.rule(json!({"service": "apigateway", "action": "unavailable", "times": 2}));
    clients
        .apigateway("us-east-1")
        .get_rest_apis()
        .send()
        .await
        .expect("the third attempt goes through");
    assert_eq!(scope.injected("apigateway:GetRestApis:unavailable"), 2);

    // Throttling that never ends: every attempt is throttled, and the SDK
    // reports AWS's code once the attempts are spent.
    scope.clear();
    let three = scope
        .clients_with(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(10))
                .with_max_backoff(Duration::from_millis(20)),
            None,
        )
        .await;
    scope.rule(json!({"service": "acm", "action": "throttle"}));
    let got = failure(
        "throttled for ever",
        three.acm("us-east-1").list_certificates().send().await,
    );
    assert_refused("throttled for ever", &got, "ThrottlingException", 400);
    assert_eq!(scope.injected("acm:ListCertificates:throttle"), 3);
}

#[tokio::test]
async fn nth_times_region_and_operation_match_exactly() {
    let scope = HarshScope::new("matching");
    let clients = scope.clients_without_retries().await;
    let eu = clients.apigateway("eu-west-1");
    let us = clients.apigateway("us-east-1");

    // nth: only the third GetRestApis of eu-west-1.
    let id = scope.rule(json!({
        "service": "apigateway", "region": "eu-west-1", "operation": "GetRestApis",
        "nth": 3, "action": "throttle"
    }));
    let mut seen = vec![];
    for i in 1..=5 {
        // Calls that do not match do not count.
        outcome(us.get_rest_apis().send().await).expect("other region passes");
        outcome(eu.get_domain_names().send().await).expect("other operation passes");
        seen.push((
            i,
            outcome(eu.get_rest_apis().send().await).map_err(|f| f.code),
        ));
    }
    assert_eq!(
        seen,
        [
            (1, Ok(())),
            (2, Ok(())),
            (3, Err("TooManyRequestsException".to_owned())),
            (4, Ok(())),
            (5, Ok(())),
        ]
    );
    let counters = scope.counters();
    assert_eq!(
        counters["rules"],
        json!([{"id": id, "action": "throttle", "seen": 5, "fired": 1}])
    );
    assert_eq!(counters["passed"]["apigateway:GetRestApis"], 9);
    scope.clear();

    // times: the first two matching calls only.
    scope.rule(json!({"service": "acm", "region": "us-east-1", "times": 2, "action": "internal"}));
    let acm = clients.acm("us-east-1");
    let mut got = vec![];
    for _ in 0..4 {
        got.push(outcome(acm.list_certificates().send().await).map_err(|f| f.code));
    }
    assert_eq!(
        got,
        [
            Err("InternalFailure".to_owned()),
            Err("InternalFailure".to_owned()),
            Ok(()),
            Ok(())
        ]
    );
    outcome(clients.acm("eu-west-1").list_certificates().send().await)
        .expect("acm in another region passes");
    scope.clear();

    // method and path: DELETE of health checks only.
    scope.rule(json!({"service": "route53", "method": "DELETE", "path": "^/2013-04-01/healthcheck/", "action": "access_denied"}));
    let r53 = clients.route53();
    outcome(r53.list_health_checks().send().await).expect("GET passes");
    let got = failure(
        "DELETE healthcheck",
        r53.delete_health_check()
            .health_check_id("00000000-0000-4000-8000-000000000000")
            .send()
            .await,
    );
    assert_refused("DELETE healthcheck", &got, "AccessDenied", 403);
}

#[tokio::test]
async fn mutating_rules_leave_reads_alone() {
    let scope = HarshScope::new("mutating");
    let clients = scope.clients_without_retries().await;
    let r53 = clients.route53();
    scope.rule(json!({"mutating": true, "action": "internal"}));
    outcome(r53.list_hosted_zones().send().await).expect("a read passes");
    outcome(r53.list_health_checks().send().await).expect("a read passes");
    let zone = format!("harsh-mut-{}.example.com", common::unique_suffix());
    let got = failure(
        "create zone",
        r53.create_hosted_zone()
            .name(&zone)
            .caller_reference(&zone)
            .send()
            .await,
    );
    assert_refused("create zone", &got, "InternalFailure", 500);
    let counters = scope.counters();
    assert_eq!(counters["mutating_passed"], 0, "{counters}");
    assert_eq!(counters["injected"]["route53:CreateHostedZone:internal"], 1);
}

#[tokio::test]
async fn reset_is_a_dispatch_failure() {
    let scope = HarshScope::new("reset");
    let clients = scope.clients_without_retries().await;
    scope.rule(json!({"service": "cloudfront", "action": "reset", "times": 1}));
    let err = no_answer(
        "reset",
        clients.cloudfront().list_distributions().send().await,
    );
    let SdkError::DispatchFailure(dispatch) = &err else {
        panic!(
            "a reset connection is a dispatch failure, got {}",
            DisplayErrorContext(&err)
        )
    };
    assert!(dispatch.is_io(), "{}", DisplayErrorContext(&err));
    assert_eq!(scope.injected("cloudfront:ListDistributions:reset"), 1);
    outcome(clients.cloudfront().list_distributions().send().await).expect("then it answers");
}

/// SDK settings of `scope` that never retry and give up after a second or two.
async fn hasty(scope: &HarshScope) -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .operation_attempt_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(8))
        .build();
    scope
        .sdk_config(RetryConfig::disabled(), Some(timeouts))
        .await
}

fn route53(sdk: &SdkConfig) -> aws_sdk_route53::Client {
    aws_sdk_route53::Client::new(sdk)
}

fn rds(sdk: &SdkConfig, region: &str) -> aws_sdk_rds::Client {
    let config = aws_sdk_rds::config::Builder::from(sdk)
        .region(Region::new(region.to_owned()))
        .build();
    aws_sdk_rds::Client::from_conf(config)
}

fn acm(sdk: &SdkConfig, region: &str) -> aws_sdk_acm::Client {
    let config = aws_sdk_acm::config::Builder::from(sdk)
        .region(Region::new(region.to_owned()))
        .build();
    aws_sdk_acm::Client::from_conf(config)
}

#[tokio::test]
async fn hang_runs_into_the_clients_timeout() {
    let scope = HarshScope::new("hang");
    let sdk = hasty(&scope).await;
    let rds = rds(&sdk, "us-east-1");
    scope.rule(json!({"service": "rds", "operation": "DescribeGlobalClusters", "action": "hang"}));
    let start = Instant::now();
    let err = no_answer("hang", rds.describe_global_clusters().send().await);
    assert!(
        matches!(err, SdkError::TimeoutError(_)),
        "{}",
        DisplayErrorContext(&err)
    );
    // Cut by the client's timeout, not by the end of the front's hang (600 s).
    assert!(start.elapsed() < Duration::from_secs(120));
    outcome(rds.describe_db_clusters().send().await).expect("another operation answers");
    scope.clear();
    outcome(rds.describe_global_clusters().send().await).expect("answers after clear");
}

#[tokio::test]
async fn pass_then_hang_makes_the_change_but_never_answers() {
    let scope = HarshScope::new("pth");
    let other = scope.view();
    let sdk = hasty(&scope).await;
    let zone = format!("harsh-pth-{}.example.com", common::unique_suffix());
    scope.rule(
        json!({"service": "route53", "mutating": true, "nth": 1, "action": "pass_then_hang"}),
    );
    let err = no_answer(
        "pass_then_hang",
        route53(&sdk)
            .create_hosted_zone()
            .name(&zone)
            .caller_reference(&zone)
            .send()
            .await,
    );
    assert!(
        matches!(err, SdkError::TimeoutError(_)),
        "{}",
        DisplayErrorContext(&err)
    );
    // The client gave up first; the front may still be making the zone.
    let r53_other = other.clients_without_retries().await.route53();
    let mut seen = None;
    for _ in 0..30 {
        let listed = r53_other
            .list_hosted_zones_by_name()
            .dns_name(&zone)
            .max_items(1)
            .send()
            .await
            .expect("listing from another scope");
        seen = listed.hosted_zones().first().map(|z| z.name().to_owned());
        if seen.as_deref() == Some(format!("{zone}.").as_str()) {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(
        seen,
        Some(format!("{zone}.")),
        "the zone was made although no answer came"
    );
    let counters = scope.counters();
    assert_eq!(counters["mutating_passed"], 1, "{counters}");
    assert_eq!(
        counters["injected"]["route53:CreateHostedZone:pass_then_hang"], 1,
        "{counters}"
    );
}

#[tokio::test]
async fn freeze_stops_every_answer_until_clear() {
    let scope = HarshScope::new("freeze");
    let sdk = hasty(&scope).await;
    let r53 = route53(&sdk);
    let reference = format!("harsh-freeze-{}", common::unique_suffix());
    // Stop right after the second mutating call, as a crash would.
    scope.rule(json!({"mutating": true, "nth": 2, "action": "pass_then_hang", "freeze": true}));
    let zone = format!("{reference}.example.com");
    r53.create_hosted_zone()
        .name(&zone)
        .caller_reference(&reference)
        .send()
        .await
        .expect("first mutating call");
    let err = no_answer(
        "second mutating call",
        r53.create_health_check()
            .caller_reference(&reference)
            .health_check_config(health_check_config("/freeze"))
            .send()
            .await,
    );
    assert!(matches!(err, SdkError::TimeoutError(_)), "{err:?}");
    for (what, result) in [
        (
            "route53 read",
            r53.list_hosted_zones()
                .send()
                .await
                .map(|_| ())
                .map_err(|e| format!("{e:?}")),
        ),
        (
            "acm read",
            acm(&sdk, "us-east-1")
                .list_certificates()
                .send()
                .await
                .map(|_| ())
                .map_err(|e| format!("{e:?}")),
        ),
    ] {
        let err = result.expect_err(what);
        assert!(err.contains("TimeoutError"), "{what}: {err}");
    }
    let counters = scope.counters();
    assert_eq!(counters["frozen"], true, "{counters}");
    assert_eq!(counters["mutating_passed"], 2, "{counters}");
    assert_eq!(counters["injected"]["route53:ListHostedZones:freeze"], 1);
    assert_eq!(counters["injected"]["acm:ListCertificates:freeze"], 1);
    // The health check was made before the front stopped answering.
    let checks = scope
        .view()
        .clients_without_retries()
        .await
        .route53()
        .list_health_checks()
        .send()
        .await
        .expect("listing from another scope");
    assert!(
        checks
            .health_checks()
            .iter()
            .any(|h| h.caller_reference() == reference)
    );

    scope.clear();
    assert_eq!(scope.counters()["frozen"], false);
    r53.list_hosted_zones()
        .send()
        .await
        .expect("answers after clear");
}

#[tokio::test]
async fn counters_name_each_operation() {
    let scope = HarshScope::new("counters");
    let clients = scope.clients_without_retries().await;
    let apigw = clients.apigateway("ap-southeast-2");
    for _ in 0..3 {
        apigw.get_rest_apis().send().await.expect("get_rest_apis");
    }
    let api = apigw
        .create_rest_api()
        .name(format!("harsh-counters-{}", common::unique_suffix()))
        .send()
        .await
        .expect("create_rest_api");
    apigw
        .get_resources()
        .rest_api_id(api.id().expect("id"))
        .send()
        .await
        .expect("get_resources");
    apigw
        .delete_rest_api()
        .rest_api_id(api.id().expect("id"))
        .send()
        .await
        .expect("delete_rest_api");
    let zone = create_zone(&clients).await;
    let r53 = clients.route53();
    r53.list_resource_record_sets()
        .hosted_zone_id(&zone.id)
        .send()
        .await
        .expect("list records");
    upsert_a(&clients, &zone.id, &format!("www.{}", zone.name), None).await;
    r53.get_hosted_zone()
        .id(&zone.id)
        .send()
        .await
        .expect("get zone");
    clients
        .rds("eu-west-1")
        .describe_global_clusters()
        .send()
        .await
        .expect("describe_global_clusters");
    clients
        .acm("eu-west-1")
        .list_certificates()
        .send()
        .await
        .expect("list_certificates");

    let counters = scope.counters();
    assert_eq!(
        counters["passed"],
        json!({
            "apigateway:GetRestApis": 3,
            "apigateway:CreateRestApi": 1,
            "apigateway:GetResources": 1,
            "apigateway:DeleteRestApi": 1,
            "route53:CreateHostedZone": 1,
            "route53:ListResourceRecordSets": 1,
            "route53:ChangeResourceRecordSets": 1,
            "route53:GetHostedZone": 1,
            "rds:DescribeGlobalClusters": 1,
            "acm:ListCertificates": 1,
        })
    );
    assert_eq!(counters["mutating_passed"], 4, "{counters}");
    assert_eq!(counters["injected"], json!({}));
    assert_eq!(counters["frozen"], false);
}

#[tokio::test]
async fn scopes_do_not_see_each_others_rules() {
    let a = HarshScope::new("scope-a");
    let b = HarshScope::new("scope-b");
    a.rule(json!({"action": "throttle"}));
    let a_clients = a.clients_without_retries().await;
    let b_clients = b.clients_without_retries().await;
    let got = failure(
        "scope a",
        a_clients.route53().list_hosted_zones().send().await,
    );
    assert_refused("scope a", &got, "Throttling", 400);
    outcome(b_clients.route53().list_hosted_zones().send().await).expect("scope b passes");
    outcome(
        b_clients
            .apigateway("us-east-1")
            .get_rest_apis()
            .send()
            .await,
    )
    .expect("scope b passes");
    let b_counters = b.counters();
    assert_eq!(b_counters["injected"], json!({}), "{b_counters}");
    assert_eq!(b_counters["rules"], json!([]), "{b_counters}");
    assert_eq!(b.passed("route53:ListHostedZones"), 1);
    assert_eq!(a.injected("route53:ListHostedZones:throttle"), 1);
    assert_eq!(a.passed("route53:ListHostedZones"), 0);

    // The same access key id is the same scope, in child processes too.
    let akid = a
        .aws_env()
        .into_iter()
        .find(|(k, _)| k == "AWS_ACCESS_KEY_ID")
        .map(|(_, v)| v);
    assert_eq!(akid.as_deref(), Some(a.akid.as_str()));
}

#[tokio::test]
async fn the_control_api_refuses_bad_rules() {
    let scope = HarshScope::new("control");
    for rule in [
        json!({"action": "explode"}),
        json!({"action": "throttle", "colour": "red"}),
        json!({"action": "throttle", "nth": 0}),
        json!({"action": "throttle", "path": "("}),
        json!({"service": "route53"}),
    ] {
        let (status, answer) = scope.try_rule(rule.clone());
        assert_eq!(status, 400, "{rule} was accepted: {answer}");
    }
    assert_eq!(scope.counters()["rules"], json!([]));
}

// ---------------------------------------------------------------------------
// Strict AWS
// ---------------------------------------------------------------------------

struct Zone {
    id: String,
    name: String,
}

async fn create_zone(clients: &AwsClients) -> Zone {
    let name = format!("harsh-{}.example.com", common::unique_suffix());
    let out = clients
        .route53()
        .create_hosted_zone()
        .name(&name)
        .caller_reference(&name)
        .send()
        .await
        .expect("creating the zone");
    let id = out
        .hosted_zone()
        .expect("zone")
        .id()
        .trim_start_matches("/hostedzone/")
        .to_owned();
    Zone { id, name }
}

fn health_check_config(path: &str) -> HealthCheckConfig {
    HealthCheckConfig::builder()
        .r#type(HealthCheckType::Https)
        .fully_qualified_domain_name("origin.example.net")
        .resource_path(path)
        .port(443)
        .request_interval(30)
        .failure_threshold(3)
        .build()
        .expect("health check config")
}

fn a_record(
    name: &str,
    ttl: i64,
    set_identifier: Option<&str>,
    health_check: Option<&str>,
) -> ResourceRecordSet {
    let mut set = ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::A)
        .ttl(ttl)
        .resource_records(
            ResourceRecord::builder()
                .value("192.0.2.1")
                .build()
                .expect("record"),
        )
        .set_health_check_id(health_check.map(str::to_owned));
    if let Some(id) = set_identifier {
        set = set
            .set_identifier(id)
            .region(ResourceRecordSetRegion::from(id));
    }
    set.build().expect("record set")
}

async fn batch(
    clients: &AwsClients,
    zone_id: &str,
    changes: Vec<(ChangeAction, ResourceRecordSet)>,
) -> Result<(), Failure> {
    let mut batch = ChangeBatch::builder();
    for (action, set) in changes {
        batch = batch.changes(
            Change::builder()
                .action(action)
                .resource_record_set(set)
                .build()
                .expect("change"),
        );
    }
    outcome(
        clients
            .route53()
            .change_resource_record_sets()
            .hosted_zone_id(zone_id)
            .change_batch(batch.build().expect("batch"))
            .send()
            .await,
    )
}

async fn upsert_a(clients: &AwsClients, zone_id: &str, name: &str, set_identifier: Option<&str>) {
    batch(
        clients,
        zone_id,
        vec![(
            ChangeAction::Upsert,
            a_record(name, 60, set_identifier, None),
        )],
    )
    .await
    .expect("upsert");
}

/// (name, type, set identifier) of the zone's A records.
async fn a_records(clients: &AwsClients, zone_id: &str) -> Vec<(String, Option<String>)> {
    let out = clients
        .route53()
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .send()
        .await
        .expect("listing records");
    let mut records: Vec<_> = out
        .resource_record_sets()
        .iter()
        .filter(|r| r.r#type() == &RrType::A)
        .map(|r| (r.name().to_owned(), r.set_identifier().map(str::to_owned)))
        .collect();
    records.sort();
    records
}

#[tokio::test]
async fn strict_route53_health_check_caller_references() {
    let scope = HarshScope::new("strict-hc");
    scope.set_strict(true);
    let clients = scope.clients_without_retries().await;
    let r53 = clients.route53();
    let reference = format!("harsh-hc-{}", common::unique_suffix());
    let create = |path: &'static str| {
        r53.create_health_check()
            .caller_reference(&reference)
            .health_check_config(health_check_config(path))
            .send()
    };
    let first = create("/health").await.expect("first create");
    let id = first.health_check().expect("check").id().to_owned();
    let again = create("/health")
        .await
        .expect("same reference, same settings");
    assert_eq!(
        again.health_check().expect("check").id(),
        id,
        "the existing check"
    );
    assert_eq!(
        again.location(),
        format!("https://route53.amazonaws.com/2013-04-01/healthcheck/{id}")
    );
    let got = failure("other settings", create("/other").await);
    assert_refused("other settings", &got, "HealthCheckAlreadyExists", 409);

    // In use by a record: not deleted.
    let zone = create_zone(&clients).await;
    let name = format!("api.{}", zone.name);
    batch(
        &clients,
        &zone.id,
        vec![(
            ChangeAction::Create,
            a_record(&name, 60, Some("us-east-1"), Some(&id)),
        )],
    )
    .await
    .expect("record with the check");
    r53.delete_health_check()
        .health_check_id(&id)
        .send()
        .await
        .expect("a check a record still names is deleted, as in AWS");
    batch(
        &clients,
        &zone.id,
        vec![(
            ChangeAction::Delete,
            a_record(&name, 60, Some("us-east-1"), Some(&id)),
        )],
    )
    .await
    .expect("record deleted");
    let got = failure(
        "delete again",
        r53.delete_health_check().health_check_id(&id).send().await,
    );
    assert_refused("delete again", &got, "NoSuchHealthCheck", 404);
    let got = failure("reference of a deleted check", create("/health").await);
    assert_refused(
        "reference of a deleted check",
        &got,
        "HealthCheckAlreadyExists",
        409,
    );
    assert_eq!(
        scope.refused("route53:CreateHealthCheck:HealthCheckAlreadyExists"),
        2
    );

    // Strict off: moto's behaviour, a new check for the deleted reference.
    let lenient = scope.view();
    lenient.set_strict(false);
    let made = lenient
        .clients_without_retries()
        .await
        .route53()
        .create_health_check()
        .caller_reference(&reference)
        .health_check_config(health_check_config("/health"))
        .send()
        .await
        .expect("moto makes another check");
    assert_ne!(made.health_check().expect("check").id(), id);
}

#[tokio::test]
async fn strict_route53_record_changes() {
    let scope = HarshScope::new("strict-rr");
    scope.set_strict(true);
    let clients = scope.clients_without_retries().await;
    let zone = create_zone(&clients).await;
    let api = format!("api.{}", zone.name);
    let other = format!("other.{}", zone.name);
    let api_dot = format!("{api}.");
    let other_dot = format!("{other}.");

    batch(
        &clients,
        &zone.id,
        vec![
            (
                ChangeAction::Create,
                a_record(&api, 60, Some("us-east-1"), None),
            ),
            (
                ChangeAction::Create,
                a_record(&api, 60, Some("eu-west-1"), None),
            ),
            (
                ChangeAction::Create,
                a_record(&other, 60, Some("us-east-1"), None),
            ),
        ],
    )
    .await
    .expect("three records");

    // CREATE of an existing record.
    let got = batch(
        &clients,
        &zone.id,
        vec![(
            ChangeAction::Create,
            a_record(&api, 60, Some("us-east-1"), None),
        )],
    )
    .await
    .expect_err("create of an existing record");
    assert_refused("create existing", &got, "InvalidChangeBatch", 400);
    assert_eq!(
        got.message,
        format!(
            "[Tried to create resource record set [name='{api_dot}', type='A', set-identifier='us-east-1'] but it already exists]"
        )
    );
    // The SDK's typed error.
    let typed = clients
        .route53()
        .change_resource_record_sets()
        .hosted_zone_id(&zone.id)
        .change_batch(
            ChangeBatch::builder()
                .changes(
                    Change::builder()
                        .action(ChangeAction::Create)
                        .resource_record_set(a_record(&api, 60, Some("us-east-1"), None))
                        .build()
                        .expect("change"),
                )
                .build()
                .expect("batch"),
        )
        .send()
        .await
        .expect_err("create of an existing record")
        .into_service_error();
    assert!(typed.is_invalid_change_batch(), "{typed:?}");

    // DELETE of a missing record, and with other values.
    let got = batch(
        &clients,
        &zone.id,
        vec![(
            ChangeAction::Delete,
            a_record(&format!("nope.{}", zone.name), 60, None, None),
        )],
    )
    .await
    .expect_err("delete of a missing record");
    assert_refused("delete missing", &got, "InvalidChangeBatch", 400);
    assert!(got.message.contains("but it was not found"), "{got:?}");
    let got = batch(
        &clients,
        &zone.id,
        vec![(
            ChangeAction::Delete,
            a_record(&api, 300, Some("us-east-1"), None),
        )],
    )
    .await
    .expect_err("delete with another TTL");
    assert!(
        got.message
            .contains("but the values provided do not match the current values"),
        "{got:?}"
    );

    // A failing change fails the whole batch.
    let got = batch(
        &clients,
        &zone.id,
        vec![
            (
                ChangeAction::Delete,
                a_record(&other, 60, Some("us-east-1"), None),
            ),
            (
                ChangeAction::Create,
                a_record(&api, 60, Some("eu-west-1"), None),
            ),
        ],
    )
    .await
    .expect_err("second change fails");
    assert_refused("batch", &got, "InvalidChangeBatch", 400);
    assert_eq!(
        a_records(&clients, &zone.id).await.len(),
        3,
        "nothing applied"
    );

    // DELETE with a SetIdentifier deletes that record only (moto deletes every
    // record with the identifier), names compare case-insensitively.
    batch(
        &clients,
        &zone.id,
        vec![(
            ChangeAction::Delete,
            a_record(&api.to_uppercase(), 60, Some("us-east-1"), None),
        )],
    )
    .await
    .expect("delete api us-east-1");
    assert_eq!(
        a_records(&clients, &zone.id).await,
        [
            (api_dot.clone(), Some("eu-west-1".to_owned())),
            (other_dot.clone(), Some("us-east-1".to_owned())),
        ]
    );

    // DELETE then CREATE of one record in one batch, and CREATE again after a DELETE.
    batch(
        &clients,
        &zone.id,
        vec![
            (
                ChangeAction::Delete,
                a_record(&api, 60, Some("eu-west-1"), None),
            ),
            (
                ChangeAction::Create,
                a_record(&api, 120, Some("eu-west-1"), None),
            ),
        ],
    )
    .await
    .expect("delete then create in one batch");
    let www = format!("www.{}", zone.name);
    for action in [
        ChangeAction::Create,
        ChangeAction::Delete,
        ChangeAction::Create,
    ] {
        batch(
            &clients,
            &zone.id,
            vec![(action.clone(), a_record(&www, 60, None, None))],
        )
        .await
        .unwrap_or_else(|f| panic!("{action:?} of www: {f:?}"));
    }

    // Alias records: the target must match to delete.
    let alias = |evaluate: bool, dns: &str| {
        ResourceRecordSet::builder()
            .name(format!("edge.{}", zone.name))
            .r#type(RrType::A)
            .alias_target(
                AliasTarget::builder()
                    .hosted_zone_id("Z2FDTNDATAQYW2")
                    .dns_name(dns)
                    .evaluate_target_health(evaluate)
                    .build()
                    .expect("alias"),
            )
            .build()
            .expect("alias record")
    };
    batch(
        &clients,
        &zone.id,
        vec![(
            ChangeAction::Create,
            alias(false, "d111111abcdef8.cloudfront.net"),
        )],
    )
    .await
    .expect("alias");
    let got = batch(
        &clients,
        &zone.id,
        vec![(
            ChangeAction::Delete,
            alias(true, "d111111abcdef8.cloudfront.net"),
        )],
    )
    .await
    .expect_err("alias with another EvaluateTargetHealth");
    assert!(got.message.contains("do not match"), "{got:?}");
    batch(
        &clients,
        &zone.id,
        vec![(
            ChangeAction::Delete,
            alias(false, "D111111ABCDEF8.cloudfront.net."),
        )],
    )
    .await
    .expect("alias DNS names compare without case and trailing dot");
    assert_eq!(
        scope.refused("route53:ChangeResourceRecordSets:InvalidChangeBatch"),
        6
    );

    // Strict off: moto adds a duplicate for a CREATE of an existing record.
    let lenient = scope.view();
    lenient.set_strict(false);
    let lenient_clients = lenient.clients_without_retries().await;
    batch(
        &lenient_clients,
        &zone.id,
        vec![(
            ChangeAction::Create,
            a_record(&other, 300, Some("us-east-1"), None),
        )],
    )
    .await
    .expect("moto accepts it");
    let others = a_records(&clients, &zone.id)
        .await
        .into_iter()
        .filter(|(n, _)| *n == other_dot)
        .count();
    assert_eq!(others, 2, "moto's duplicate");
}

fn distribution_config(reference: &str, certificate: &str, enabled: bool) -> DistributionConfig {
    let origin = aws_sdk_cloudfront::types::Origin::builder()
        .id("origin")
        .domain_name("origin.example.net")
        .custom_origin_config(
            CustomOriginConfig::builder()
                .http_port(80)
                .https_port(443)
                .origin_protocol_policy(OriginProtocolPolicy::HttpsOnly)
                .build()
                .expect("origin config"),
        )
        .build()
        .expect("origin");
    DistributionConfig::builder()
        .caller_reference(reference)
        .origins(
            Origins::builder()
                .quantity(1)
                .items(origin)
                .build()
                .expect("origins"),
        )
        .default_cache_behavior(
            DefaultCacheBehavior::builder()
                .target_origin_id("origin")
                .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
                .build()
                .expect("behaviour"),
        )
        .comment(format!("harsh {reference}"))
        .enabled(enabled)
        .viewer_certificate(
            ViewerCertificate::builder()
                .acm_certificate_arn(certificate)
                .ssl_support_method(SslSupportMethod::SniOnly)
                .minimum_protocol_version(MinimumProtocolVersion::TlSv122021)
                .build(),
        )
        .build()
        .expect("distribution config")
}

async fn status_of(client: &aws_sdk_cloudfront::Client, id: &str) -> (String, String) {
    let out = client
        .get_distribution()
        .id(id)
        .send()
        .await
        .expect("get_distribution");
    (
        out.distribution()
            .expect("distribution")
            .status()
            .to_owned(),
        out.e_tag().expect("etag").to_owned(),
    )
}

async fn wait_deployed(client: &aws_sdk_cloudfront::Client, id: &str) {
    let start = Instant::now();
    while status_of(client, id).await.0 != "Deployed" {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{id} not Deployed within 30s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn strict_cloudfront_etags_status_and_delete() {
    let scope = HarshScope::new("strict-cf");
    scope.set_strict(true);
    let clients = scope.clients_without_retries().await;
    let cf = clients.cloudfront();
    let reference = format!("harsh-cf-{}", common::unique_suffix());
    let cert =
        "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-4000-8000-0000000000cf";
    let created = cf
        .create_distribution()
        .distribution_config(distribution_config(&reference, cert, true))
        .send()
        .await
        .expect("create");
    let dist = created.distribution().expect("distribution");
    let id = dist.id().to_owned();
    let e0 = created.e_tag().expect("etag").to_owned();
    assert_eq!(dist.status(), "InProgress");
    assert_eq!(
        status_of(&cf, &id).await,
        ("InProgress".to_owned(), e0.clone())
    );
    let listed = cf.list_distributions().send().await.expect("list");
    let summary = listed
        .distribution_list()
        .expect("list")
        .items()
        .iter()
        .find(|s| s.id() == id)
        .expect("listed");
    assert_eq!(summary.status(), "InProgress");

    let got = failure(
        "delete enabled",
        cf.delete_distribution().id(&id).if_match(&e0).send().await,
    );
    assert_refused("delete enabled", &got, "DistributionNotDisabled", 409);
    let got = failure(
        "update with a stale ETag",
        cf.update_distribution()
            .id(&id)
            .if_match("ESTALE")
            .distribution_config(distribution_config(&reference, cert, false))
            .send()
            .await,
    );
    assert_refused("update stale", &got, "PreconditionFailed", 412);

    wait_deployed(&cf, &id).await;
    let config = cf
        .get_distribution_config()
        .id(&id)
        .send()
        .await
        .expect("config");
    assert_eq!(config.e_tag(), Some(e0.as_str()));
    let updated = cf
        .update_distribution()
        .id(&id)
        .if_match(&e0)
        .distribution_config(distribution_config(&reference, cert, false))
        .send()
        .await
        .expect("update with the current ETag");
    let at = Instant::now();
    let e1 = updated.e_tag().expect("etag").to_owned();
    assert_ne!(e1, e0, "an update gives a new ETag");
    assert_eq!(
        updated.distribution().expect("distribution").status(),
        "InProgress"
    );
    let refused = outcome(cf.delete_distribution().id(&id).if_match(&e1).send().await);
    if at.elapsed() < Duration::from_millis(1500) {
        let got = refused.expect_err("delete while InProgress");
        assert_refused("delete in progress", &got, "DistributionNotDisabled", 409);
    }
    let got = failure(
        "update with the old ETag",
        cf.update_distribution()
            .id(&id)
            .if_match(&e0)
            .distribution_config(distribution_config(&reference, cert, false))
            .send()
            .await,
    );
    assert_refused("update old", &got, "PreconditionFailed", 412);
    wait_deployed(&cf, &id).await;
    assert_eq!(
        status_of(&cf, &id).await,
        ("Deployed".to_owned(), e1.clone())
    );
    let got = failure(
        "delete with the old ETag",
        cf.delete_distribution().id(&id).if_match(&e0).send().await,
    );
    assert_refused("delete old", &got, "PreconditionFailed", 412);
    cf.delete_distribution()
        .id(&id)
        .if_match(&e1)
        .send()
        .await
        .expect("disabled, deployed, current ETag: deleted");
    assert_eq!(scope.passed("cloudfront:CreateDistribution"), 1);

    // Strict off: moto's behaviour, any If-Match and an enabled distribution deleted.
    let lenient = scope.view();
    lenient.set_strict(false);
    let lcf = lenient.clients_without_retries().await.cloudfront();
    let reference = format!("{reference}-lenient");
    let created = lcf
        .create_distribution()
        .distribution_config(distribution_config(&reference, cert, true))
        .send()
        .await
        .expect("create");
    let id = created
        .distribution()
        .expect("distribution")
        .id()
        .to_owned();
    lcf.update_distribution()
        .id(&id)
        .if_match("ESTALE")
        .distribution_config(distribution_config(&reference, cert, true))
        .send()
        .await
        .expect("moto takes any If-Match");
    lcf.delete_distribution()
        .id(&id)
        .if_match("ESTALE")
        .send()
        .await
        .expect("moto deletes an enabled distribution");
}

#[tokio::test]
async fn strict_acm_certificates_in_use() {
    let scope = HarshScope::new("strict-acm");
    scope.set_strict(true);
    let clients = scope.clients_without_retries().await;
    let suffix = common::unique_suffix();
    let us = clients.acm("us-east-1");
    let eu = clients.acm("eu-west-1");
    let edge_cert = us
        .request_certificate()
        .domain_name(format!("edge-{suffix}.example.com"))
        .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
        .send()
        .await
        .expect("us certificate")
        .certificate_arn()
        .expect("arn")
        .to_owned();
    let domain = format!("eu-{suffix}.example.com");
    let regional_cert = eu
        .request_certificate()
        .domain_name(&domain)
        .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
        .send()
        .await
        .expect("eu certificate")
        .certificate_arn()
        .expect("arn")
        .to_owned();
    let apigw = clients.apigateway("eu-west-1");
    apigw
        .create_domain_name()
        .domain_name(&domain)
        .regional_certificate_arn(&regional_cert)
        .endpoint_configuration(
            EndpointConfiguration::builder()
                .types(EndpointType::Regional)
                .build(),
        )
        .send()
        .await
        .expect("domain name");
    let cf = clients.cloudfront();
    let created = cf
        .create_distribution_with_tags()
        .distribution_config_with_tags(
            DistributionConfigWithTags::builder()
                .distribution_config(distribution_config(
                    &format!("harsh-acm-{suffix}"),
                    &edge_cert,
                    true,
                ))
                .tags(
                    Tags::builder()
                        .items(
                            Tag::builder()
                                .key("harsh")
                                .value(&suffix)
                                .build()
                                .expect("tag"),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("distribution");
    let dist = created.distribution().expect("distribution");
    let (dist_id, dist_arn) = (dist.id().to_owned(), dist.arn().to_owned());
    assert_eq!(scope.passed("cloudfront:CreateDistributionWithTags"), 1);

    let in_use_by =
        |out: aws_sdk_acm::operation::describe_certificate::DescribeCertificateOutput| {
            out.certificate().expect("certificate").in_use_by().to_vec()
        };
    let users = in_use_by(
        us.describe_certificate()
            .certificate_arn(&edge_cert)
            .send()
            .await
            .expect("describe"),
    );
    assert_eq!(users, [dist_arn]);
    let users = in_use_by(
        eu.describe_certificate()
            .certificate_arn(&regional_cert)
            .send()
            .await
            .expect("describe"),
    );
    assert_eq!(
        users,
        [format!(
            "arn:aws:apigateway:eu-west-1::/domainnames/{domain}"
        )]
    );
    for (client, arn) in [(&us, &edge_cert), (&eu, &regional_cert)] {
        let got = failure(
            "delete in use",
            client
                .delete_certificate()
                .certificate_arn(arn)
                .send()
                .await,
        );
        assert_refused("delete in use", &got, "ResourceInUseException", 400);
        assert_eq!(got.message, format!("Certificate {arn} is in use."));
    }

    apigw
        .delete_domain_name()
        .domain_name(&domain)
        .send()
        .await
        .expect("delete domain");
    eu.delete_certificate()
        .certificate_arn(&regional_cert)
        .send()
        .await
        .expect("no longer in use");
    let config = cf
        .get_distribution_config()
        .id(&dist_id)
        .send()
        .await
        .expect("config");
    let disabled = cf
        .update_distribution()
        .id(&dist_id)
        .if_match(config.e_tag().expect("etag"))
        .distribution_config(distribution_config(
            &format!("harsh-acm-{suffix}"),
            &edge_cert,
            false,
        ))
        .send()
        .await
        .expect("disable");
    wait_deployed(&cf, &dist_id).await;
    cf.delete_distribution()
        .id(&dist_id)
        .if_match(disabled.e_tag().expect("etag"))
        .send()
        .await
        .expect("delete distribution");
    us.delete_certificate()
        .certificate_arn(&edge_cert)
        .send()
        .await
        .expect("no longer in use");
}

#[tokio::test]
async fn strict_apigateway_conflicts() {
    let scope = HarshScope::new("strict-apigw");
    scope.set_strict(true);
    let clients = scope.clients_without_retries().await;
    let region = "ap-southeast-2";
    let c = clients.apigateway(region);
    let suffix = common::unique_suffix();
    let api = c
        .create_rest_api()
        .name(format!("harsh-{suffix}"))
        .endpoint_configuration(
            EndpointConfiguration::builder()
                .types(EndpointType::Regional)
                .build(),
        )
        .send()
        .await
        .expect("rest api");
    let api_id = api.id().expect("id").to_owned();
    let root = api.root_resource_id().expect("root").to_owned();
    let create_resource = || {
        c.create_resource()
            .rest_api_id(&api_id)
            .parent_id(&root)
            .path_part("{proxy+}")
            .send()
    };
    create_resource().await.expect("resource");
    let got = failure("same pathPart", create_resource().await);
    assert_refused("same pathPart", &got, "ConflictException", 409);
    assert_eq!(
        got.message,
        "Another resource with the same parent already has this name: {proxy+}"
    );

    let put_method = || {
        c.put_method()
            .rest_api_id(&api_id)
            .resource_id(&root)
            .http_method("ANY")
            .authorization_type("NONE")
            .send()
    };
    put_method().await.expect("method");
    let got = failure("same method", put_method().await);
    assert_refused("same method", &got, "ConflictException", 409);
    assert_eq!(got.message, "Method already exists for this resource");

    let domain = format!("harsh-{suffix}.example.com");
    let create_domain = || {
        c.create_domain_name()
            .domain_name(&domain)
            .regional_certificate_arn(format!(
                "arn:aws:acm:{region}:123456789012:certificate/00000000-0000-4000-8000-000000000a9e"
            ))
            .endpoint_configuration(
                EndpointConfiguration::builder()
                    .types(EndpointType::Regional)
                    .build(),
            )
            .send()
    };
    create_domain().await.expect("domain");
    let got = failure("same domain", create_domain().await);
    assert_refused("same domain", &got, "ConflictException", 409);
    assert_eq!(got.message, "The domain name you provided already exists.");

    let create_mapping = || {
        c.create_base_path_mapping()
            .domain_name(&domain)
            .rest_api_id(&api_id)
            .send()
    };
    create_mapping().await.expect("mapping");
    let got = failure("same base path", create_mapping().await);
    assert_refused("same base path", &got, "ConflictException", 409);
    assert_eq!(got.message, "Base path already exists for this domain name");
    assert_eq!(
        scope.counters()["strict"],
        json!({
            "apigateway:CreateResource:ConflictException": 1,
            "apigateway:PutMethod:ConflictException": 1,
            "apigateway:CreateDomainName:ConflictException": 1,
            "apigateway:CreateBasePathMapping:ConflictException": 1,
        })
    );

    // Strict off: moto's behaviour, a second resource with the same pathPart.
    let lenient = scope.view();
    lenient.set_strict(false);
    let lc = lenient.clients_without_retries().await.apigateway(region);
    lc.create_resource()
        .rest_api_id(&api_id)
        .parent_id(&root)
        .path_part("{proxy+}")
        .send()
        .await
        .expect("moto makes a second resource");
    let resources = c
        .get_resources()
        .rest_api_id(&api_id)
        .send()
        .await
        .expect("resources");
    let proxies = resources
        .items()
        .iter()
        .filter(|r| r.path_part() == Some("{proxy+}"))
        .count();
    assert_eq!(proxies, 2);
}

// ---------------------------------------------------------------------------
// Quota mode
// ---------------------------------------------------------------------------

fn apigateway(sdk: &SdkConfig, region: &str) -> aws_sdk_apigateway::Client {
    let config = aws_sdk_apigateway::config::Builder::from(sdk)
        .region(Region::new(region.to_owned()))
        .build();
    aws_sdk_apigateway::Client::from_conf(config)
}

/// A regional REST API of a name no other call uses.
async fn create_api(c: &aws_sdk_apigateway::Client) -> Result<(), Failure> {
    outcome(
        c.create_rest_api()
            .name(format!("harsh-quota-{}", common::unique_suffix()))
            .endpoint_configuration(
                EndpointConfiguration::builder()
                    .types(EndpointType::Regional)
                    .build(),
            )
            .send()
            .await,
    )
}

/// A regional custom domain name of a name no other call uses.
async fn create_domain(c: &aws_sdk_apigateway::Client, region: &str) -> Result<(), Failure> {
    outcome(
        c.create_domain_name()
            .domain_name(format!(
                "harsh-quota-{}.example.com",
                common::unique_suffix()
            ))
            .regional_certificate_arn(format!(
                "arn:aws:acm:{region}:123456789012:certificate/00000000-0000-4000-8000-000000000a9e"
            ))
            .endpoint_configuration(
                EndpointConfiguration::builder()
                    .types(EndpointType::Regional)
                    .build(),
            )
            .send()
            .await,
    )
}

/// The REST APIs moto holds in `region` for the account of `view`.
async fn rest_apis(view: &SdkConfig, region: &str) -> usize {
    apigateway(view, region)
        .get_rest_apis()
        .limit(500)
        .send()
        .await
        .expect("get_rest_apis through the view")
        .items()
        .len()
}

fn failed(code: &str, status: u16, message: &str) -> Failure {
    Failure {
        code: code.to_owned(),
        status,
        message: message.to_owned(),
    }
}

/// The table the front reads (`src/aws/quotas.json`).
fn quota_table() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/aws/quotas.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[tokio::test]
async fn quota_create_rest_api_is_one_every_three_seconds_per_region() {
    let scope = HarshScope::new("quota-rate");
    let state = scope.set_quotas(json!({"enabled": true, "scale": 1}));
    assert_eq!(state["enabled"], true, "{state}");
    assert_eq!(state["scale"], 1.0, "{state}");
    let sdk = hasty(&scope).await;
    let view = hasty(&scope.view()).await;
    let eu = apigateway(&sdk, "eu-west-1");
    let ap = apigateway(&sdk, "ap-southeast-2");

    // CreateRestApi: a bucket of one token, one more every 3 s, per region.
    create_api(&eu)
        .await
        .expect("the first CreateRestApi of eu-west-1");
    let got = create_api(&eu)
        .await
        .expect_err("a second CreateRestApi of eu-west-1 right after the first");
    assert_eq!(
        got,
        failed("TooManyRequestsException", 429, "Too Many Requests")
    );
    create_api(&ap)
        .await
        .expect("ap-southeast-2 has buckets of its own");

    scope.assert_quota_counts(json!({
        "passed": {"apigateway CreateRestApi": 2},
        "throttled": {"apigateway CreateRestApi": 1},
        "limited": {},
    }));
    let counters = scope.counters();
    assert_eq!(
        counters["quota"],
        json!({"apigateway:CreateRestApi:TooManyRequestsException": 1}),
        "{counters}"
    );
    assert_eq!(counters["passed"]["apigateway:CreateRestApi"], 2);
    // The throttled call never reached moto; the view's reads take no token.
    assert_eq!(rest_apis(&view, "eu-west-1").await, 1);
    assert_eq!(rest_apis(&view, "ap-southeast-2").await, 1);

    // The token taken by the first call is back 3 s after it was taken:
    // waiting longer than that is enough on any machine.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    create_api(&eu)
        .await
        .expect("CreateRestApi of eu-west-1 once the bucket refilled");
    assert_eq!(rest_apis(&view, "eu-west-1").await, 2);
    assert_eq!(
        scope.quotas()["passed"],
        json!({"apigateway CreateRestApi": 3})
    );
}

#[tokio::test]
async fn quota_route53_is_five_calls_at_once_per_account() {
    let scope = HarshScope::new("quota-r53");
    // Scale 0: no refill at all, so the burst is all the account gets and
    // the count below is exact however slowly the calls follow each other.
    scope.set_quotas(json!({"enabled": true, "scale": 0}));
    let sdk = hasty(&scope).await;
    let r53 = route53(&sdk);
    let mut got = vec![];
    for _ in 0..6 {
        got.push(outcome(r53.list_hosted_zones().send().await));
    }
    assert_eq!(
        got,
        [
            Ok(()),
            Ok(()),
            Ok(()),
            Ok(()),
            Ok(()),
            Err(failed("Throttling", 400, "Rate exceeded")),
        ]
    );
    scope.assert_quota_counts(json!({
        "passed": {"route53 ListHostedZones": 5},
        "throttled": {"route53 ListHostedZones": 1},
    }));

    // One bucket for every Route 53 operation of the account, whatever
    // region the client signs for.
    let got = failure(
        "ListHealthChecks after the burst",
        r53.list_health_checks().send().await,
    );
    assert_refused("ListHealthChecks after the burst", &got, "Throttling", 400);
    let elsewhere = aws_sdk_route53::Client::from_conf(
        aws_sdk_route53::config::Builder::from(&sdk)
            .region(Region::new("eu-west-1"))
            .build(),
    );
    let got = failure(
        "Route 53 signed for eu-west-1",
        elsewhere.list_hosted_zones().send().await,
    );
    assert_refused("Route 53 signed for eu-west-1", &got, "Throttling", 400);

    // The view key of the account reads without a token.
    let view = scope.view();
    for _ in 0..3 {
        outcome(
            route53(&hasty(&view).await)
                .list_hosted_zones()
                .send()
                .await,
        )
        .expect("the view is exempt");
    }
    scope.assert_quota_counts(json!({
        "passed": {"route53 ListHostedZones": 5},
        "throttled": {"route53 ListHostedZones": 2, "route53 ListHealthChecks": 1},
    }));

    // Setting quota mode again fills the buckets and zeroes the counters.
    let state = scope.set_quotas(json!({"enabled": true, "scale": 0}));
    assert_eq!(state["passed"], json!({}), "{state}");
    assert_eq!(state["throttled"], json!({}), "{state}");
    outcome(r53.list_hosted_zones().send().await).expect("a full bucket again");
}

#[tokio::test]
async fn quota_throttled_calls_take_no_token() {
    let scope = HarshScope::new("quota-notoken");
    scope.set_quotas(json!({"enabled": true, "scale": 0}));
    let c = apigateway(&hasty(&scope).await, "us-west-2");
    // CreateRestApi takes from its own bucket (1 token) and from the bucket
    // of every API Gateway call (40 tokens): 39 left there.
    create_api(&c).await.expect("first CreateRestApi");
    // Refused by its own bucket, it takes nothing from the other.
    let got = create_api(&c).await.expect_err("second CreateRestApi");
    assert_refused(
        "second CreateRestApi",
        &got,
        "TooManyRequestsException",
        429,
    );
    for i in 1..=39 {
        outcome(c.get_rest_apis().send().await)
            .unwrap_or_else(|f| panic!("GetRestApis {i} of the 39 tokens left: {f:?}"));
    }
    let got = failure("GetRestApis 40", c.get_rest_apis().send().await);
    assert_refused("GetRestApis 40", &got, "TooManyRequestsException", 429);
    scope.assert_quota_counts(json!({
        "passed": {"apigateway CreateRestApi": 1, "apigateway GetRestApis": 39},
        "throttled": {"apigateway CreateRestApi": 1, "apigateway GetRestApis": 1},
    }));
}

#[tokio::test]
async fn quota_rules_decide_before_the_buckets() {
    let scope = HarshScope::new("quota-rules");
    scope.set_quotas(json!({"enabled": true, "scale": 0}));
    scope.rule(json!({"service": "route53", "operation": "ListHostedZones", "action": "internal", "times": 1}));
    let r53 = route53(&hasty(&scope).await);
    let mut got = vec![];
    for _ in 0..7 {
        got.push(outcome(r53.list_hosted_zones().send().await).map_err(|f| (f.code, f.status)));
    }
    // The call the rule decided took no token: five pass after it.
    let throttled = Err(("Throttling".to_owned(), 400));
    assert_eq!(
        got,
        [
            Err(("InternalFailure".to_owned(), 500)),
            Ok(()),
            Ok(()),
            Ok(()),
            Ok(()),
            Ok(()),
            throttled,
        ]
    );
    scope.assert_quota_counts(json!({
        "passed": {"route53 ListHostedZones": 5},
        "throttled": {"route53 ListHostedZones": 1},
    }));
    let counters = scope.counters();
    assert_eq!(
        counters["injected"],
        json!({"route53:ListHostedZones:internal": 1}),
        "{counters}"
    );
    assert_eq!(
        counters["passed"],
        json!({"route53:ListHostedZones": 5}),
        "{counters}"
    );
}

#[tokio::test]
async fn quota_hard_limits_refuse_creates_at_the_max() {
    let scope = HarshScope::new("quota-limits");
    // Rates a million times the documented ones: every bucket is full again
    // by the next call, only the limits refuse.
    let state = scope.set_quotas(json!({
        "enabled": true, "scale": 1e6, "limits": {"rest_apis": 2, "domain_names": 1}
    }));
    assert_eq!(
        state["limits"],
        json!({"rest_apis": 2, "domain_names": 1}),
        "{state}"
    );
    let sdk = hasty(&scope).await;
    let view = hasty(&scope.view()).await;
    let region = "eu-central-1";
    let c = apigateway(&sdk, region);
    create_api(&c).await.expect("REST API 1 of 2");
    create_api(&c).await.expect("REST API 2 of 2");
    let got = create_api(&c).await.expect_err("REST API 3 of 2");
    assert_eq!(
        got,
        failed(
            "LimitExceededException",
            429,
            "Maximum number of regional REST APIs (2) for this account in this region has been reached."
        )
    );
    assert_eq!(rest_apis(&view, region).await, 2, "moto holds two");
    create_api(&apigateway(&sdk, "eu-west-2"))
        .await
        .expect("another region counts its own");

    create_domain(&c, region).await.expect("domain name 1 of 1");
    let got = create_domain(&c, region)
        .await
        .expect_err("domain name 2 of 1");
    assert_eq!(
        got,
        failed(
            "LimitExceededException",
            429,
            "Maximum number of custom domain names (1) for this account in this region has been reached."
        )
    );
    let domains = apigateway(&view, region)
        .get_domain_names()
        .send()
        .await
        .expect("get_domain_names through the view");
    assert_eq!(domains.items().len(), 1);

    scope.assert_quota_counts(json!({
        "passed": {"apigateway CreateRestApi": 3, "apigateway CreateDomainName": 1},
        "limited": {"apigateway CreateRestApi": 1, "apigateway CreateDomainName": 1},
        "throttled": {},
    }));
}

#[tokio::test]
async fn quotas_are_off_by_default() {
    let scope = HarshScope::new("quota-off");
    let health = common::harsh::health();
    let default = health["quotas_default"]
        .as_bool()
        .unwrap_or_else(|| panic!("no quotas_default in {health}"));
    let state = scope.quotas();
    assert_eq!(state["enabled"], default, "{state}");
    // The hard limits are the table's.
    let table = quota_table();
    let limits: serde_json::Map<String, serde_json::Value> = table["limits"]
        .as_array()
        .expect("limits of the table")
        .iter()
        .map(|l| {
            (
                l["counts"].as_str().expect("counts").to_owned(),
                l["max"].clone(),
            )
        })
        .collect();
    assert_eq!(
        state["limits"],
        serde_json::Value::Object(limits),
        "{state}"
    );
    if default {
        // The front was started with HARSH_QUOTAS=1: off for this account.
        scope.set_quotas(json!({"enabled": false}));
    }

    let sdk = hasty(&scope).await;
    let r53 = route53(&sdk);
    for i in 1..=6 {
        outcome(r53.list_hosted_zones().send().await)
            .unwrap_or_else(|f| panic!("ListHostedZones {i} without quotas: {f:?}"));
    }
    let c = apigateway(&sdk, "us-east-2");
    for i in 1..=2 {
        create_api(&c)
            .await
            .unwrap_or_else(|f| panic!("CreateRestApi {i} without quotas: {f:?}"));
    }
    let state = scope.quotas();
    assert_eq!(state["enabled"], false, "{state}");
    assert_eq!(
        state["passed"],
        json!({}),
        "nothing counted while off: {state}"
    );
    assert_eq!(state["throttled"], json!({}), "{state}");
    assert_eq!(scope.counters()["quota"], json!({}));
}

#[tokio::test]
async fn the_control_api_refuses_bad_quota_settings() {
    let scope = HarshScope::new("quota-control");
    for settings in [
        json!({}),
        json!({"enabled": "yes"}),
        json!({"enabled": true, "scale": -1}),
        json!({"enabled": true, "scale": "fast"}),
        json!({"enabled": true, "limits": {"lambdas": 3}}),
        json!({"enabled": true, "limits": {"rest_apis": -1}}),
        json!({"enabled": true, "limits": {"rest_apis": 1.5}}),
        json!({"enabled": true, "colour": "red"}),
        json!([true]),
    ] {
        let (status, answer) = scope.try_set_quotas(settings.clone());
        assert_eq!(status, 400, "{settings} was accepted: {answer}");
    }
    let default = common::harsh::health()["quotas_default"].clone();
    assert_eq!(scope.quotas()["enabled"], default);
}
