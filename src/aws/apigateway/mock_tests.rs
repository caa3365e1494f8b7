//! The API Gateway and Lambda paths the emulator does not imitate, against
//! clients whose every response is scripted: a certificate replaced in place
//! (`UpdateDomainName`) with a per-region hosted zone, `ConflictException` on
//! a custom domain, `ResourceConflictException` for a duplicate statement
//! id, 404s for things already gone, and paged listings.

use aws_sdk_apigateway::{
    Client as ApiGatewayClient,
    operation::{
        create_deployment::CreateDeploymentOutput, create_resource::CreateResourceOutput,
        create_rest_api::CreateRestApiOutput, create_stage::CreateStageOutput,
        get_base_path_mappings::GetBasePathMappingsOutput, get_deployment::GetDeploymentOutput,
        get_domain_names::GetDomainNamesOutput, get_resources::GetResourcesOutput,
        get_rest_apis::GetRestApisOutput, get_stages::GetStagesOutput,
        put_integration::PutIntegrationOutput, put_method::PutMethodOutput,
        update_domain_name::UpdateDomainNameOutput,
    },
    types::{
        BasePathMapping, DomainName, EndpointConfiguration, EndpointType,
        Integration as SdkIntegration, IntegrationType, Method as SdkMethod, Resource, RestApi,
        Stage,
    },
};
use aws_sdk_lambda::{
    Client as LambdaClient,
    operation::{add_permission::AddPermissionOutput, remove_permission::RemovePermissionOutput},
};
use aws_smithy_mocks::{Rule, mock};
use aws_smithy_runtime_api::{client::orchestrator::HttpResponse, http::StatusCode};
use aws_smithy_types::{DateTime, body::SdkBody};

use crate::aws::AwsClients;
use crate::plan::Mode;
use crate::target::fixtures::{FAILOVER, target};
use crate::target::{Target, UID_TAG};

use super::apply::{ApiState, add_permission, apply};
use super::desired::{self, ApiGatewayInputs, DesiredRegion, deployment_description};
use super::diff::{Op, OpKind};
use super::model::{Mapping, Method, Permission};
use super::observe::{self, Lookup};
use super::{RegionClients, reconcile_region};

const REGION: &str = "us-east-1";
const OLD_CERT: &str = "arn:aws:acm:us-east-1:123456789012:certificate/old";
const NEW_CERT: &str = "arn:aws:acm:us-east-1:123456789012:certificate/new";
/// API Gateway's regional hosted zone of us-east-1 (the emulator answers CloudFront's).
const ZONE: &str = "Z1UJRXOUMOOFQ8";

/// The clients of `REGION`, API Gateway and Lambda answering only by their rules.
fn clients(apigateway: &[&Rule], lambda: &[&Rule]) -> RegionClients {
    let clients = AwsClients::scripted()
        .answering("apigateway", REGION, AwsClients::answers(apigateway))
        .answering("lambda", REGION, AwsClients::answers(lambda));
    RegionClients::new(&clients, REGION)
}

/// An AWS error as API Gateway and Lambda send it (REST-JSON).
fn aws_error(status: u16, code: &'static str, message: &str) -> HttpResponse {
    let mut response = HttpResponse::new(
        StatusCode::try_from(status).expect("status code"),
        SdkBody::from(format!(r#"{{"message":"{message}"}}"#)),
    );
    response.headers_mut().insert("x-amzn-errortype", code);
    response
        .headers_mut()
        .insert("content-type", "application/json");
    response
}

fn wanted(t: &Target, certificate: Option<&str>) -> DesiredRegion {
    let inputs = ApiGatewayInputs {
        retire_old_domains: true,
        certificates: certificate
            .map(|c| (REGION.to_owned(), c.to_owned()))
            .into_iter()
            .collect(),
        previous_regions: vec![],
        ..Default::default()
    };
    desired::region(t, &t.spec.regions[0], &inputs).expect("valid region")
}

fn regional() -> EndpointConfiguration {
    EndpointConfiguration::builder()
        .types(EndpointType::Regional)
        .build()
}

fn sdk_method(verb: &str, method: &Method) -> SdkMethod {
    let integration = method.integration.as_ref().map(|i| {
        SdkIntegration::builder()
            .r#type(IntegrationType::from(i.kind.as_str()))
            .http_method(&i.http_method)
            .uri(&i.uri)
            .set_request_parameters(Some(i.request_parameters.clone().into_iter().collect()))
            .build()
    });
    SdkMethod::builder()
        .http_method(verb)
        .authorization_type(&method.authorization_type)
        .set_request_parameters(Some(
            method.request_parameters.clone().into_iter().collect(),
        ))
        .set_method_integration(integration)
        .build()
}

/// The read rules of a region holding exactly `d`, with our domain on `certificate`.
fn in_sync(t: &Target, d: &DesiredRegion, certificate: &'static str) -> Vec<Rule> {
    let (uid, name, stage, hash) = (
        t.uid.clone(),
        d.api_name.clone(),
        d.stage_name.clone(),
        d.api_hash.clone(),
    );
    let domain = d.domain.name.clone();
    let apis = mock!(ApiGatewayClient::get_rest_apis).then_output(move || {
        GetRestApisOutput::builder()
            .items(
                RestApi::builder()
                    .id("a1")
                    .name(&name)
                    .created_date(DateTime::from_secs(1))
                    .endpoint_configuration(regional())
                    .tags(UID_TAG, &uid)
                    .build(),
            )
            .build()
    });
    let uid = t.uid.clone();
    let domains = mock!(ApiGatewayClient::get_domain_names).then_output(move || {
        GetDomainNamesOutput::builder()
            .items(
                DomainName::builder()
                    .domain_name(&domain)
                    .regional_certificate_arn(certificate)
                    .regional_domain_name("d-abc.execute-api.us-east-1.amazonaws.com")
                    .regional_hosted_zone_id(ZONE)
                    .endpoint_configuration(regional())
                    .tags(UID_TAG, &uid)
                    .build(),
            )
            .build()
    });
    let mapping_stage = stage.clone();
    let mappings = mock!(ApiGatewayClient::get_base_path_mappings).then_output(move || {
        GetBasePathMappingsOutput::builder()
            .items(
                BasePathMapping::builder()
                    .base_path("(none)")
                    .rest_api_id("a1")
                    .stage(&mapping_stage)
                    .build(),
            )
            .build()
    });
    let routes = d.routes.clone();
    let resources = mock!(ApiGatewayClient::get_resources).then_output(move || {
        let mut out = GetResourcesOutput::builder();
        let mut paths: Vec<String> = desired::resource_paths(&routes).into_iter().collect();
        paths.insert(0, "/".into());
        for path in paths {
            let mut resource = Resource::builder().id(format!("id{path}")).path(&path);
            for (verb, method) in routes.get(&path).into_iter().flatten() {
                resource = resource.resource_methods(verb, sdk_method(verb, method));
            }
            out = out.items(resource.build());
        }
        out.build()
    });
    let stages = mock!(ApiGatewayClient::get_stages).then_output(move || {
        GetStagesOutput::builder()
            .item(
                Stage::builder()
                    .stage_name(&stage)
                    .deployment_id("dep1")
                    .build(),
            )
            .build()
    });
    let deployment = mock!(ApiGatewayClient::get_deployment)
        .match_requests(|r| r.deployment_id() == Some("dep1"))
        .then_output(move || {
            GetDeploymentOutput::builder()
                .id("dep1")
                .description(deployment_description(&hash))
                .build()
        });
    vec![apis, domains, mappings, resources, stages, deployment]
}

#[tokio::test]
async fn a_replaced_certificate_is_updated_in_place_and_the_zone_comes_from_aws() {
    let t = target(FAILOVER);
    let d = wanted(&t, Some(NEW_CERT));
    let reads = in_sync(&t, &d, OLD_CERT);
    let update = mock!(ApiGatewayClient::update_domain_name)
        .match_requests(|r| {
            r.domain_name() == Some("api.example.com")
                && r.patch_operations().iter().any(|p| {
                    p.path() == Some("/regionalCertificateArn") && p.value() == Some(NEW_CERT)
                })
        })
        .then_output(|| {
            UpdateDomainNameOutput::builder()
                .domain_name("api.example.com")
                .regional_certificate_arn(NEW_CERT)
                .regional_domain_name("d-abc.execute-api.us-east-1.amazonaws.com")
                .regional_hosted_zone_id(ZONE)
                .build()
        });
    let mut rules: Vec<&Rule> = reads.iter().collect();
    rules.push(&update);
    let c = clients(&rules, &[]);

    let expected = format!(
        "update apigateway custom domain {REGION} api.example.com: RegionalCertificateArn {OLD_CERT} → {NEW_CERT}"
    );
    let plan = reconcile_region(&c, &t, REGION, Some(&d), Mode::Plan).await;
    assert_eq!(plan.error, None);
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.changes[0].to_string(), expected);
    assert_eq!(update.num_calls(), 0, "Plan changes nothing");

    let applied = reconcile_region(&c, &t, REGION, Some(&d), Mode::Apply).await;
    assert_eq!(applied.error, None);
    assert_eq!(
        applied
            .changes
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        [expected]
    );
    assert_eq!(update.num_calls(), 1);
    let endpoint = applied.output.and_then(|o| o.endpoint).expect("endpoint");
    assert_eq!(endpoint.regional_zone_id, ZONE);
    assert_eq!(endpoint.rest_api_id, "a1");
}

#[tokio::test]
async fn a_domain_taken_elsewhere_fails_the_region_with_aws_words_after_the_api() {
    let t = target(FAILOVER);
    let d = wanted(&t, Some(NEW_CERT));
    let empty_apis =
        mock!(ApiGatewayClient::get_rest_apis).then_output(|| GetRestApisOutput::builder().build());
    let empty_domains = mock!(ApiGatewayClient::get_domain_names)
        .then_output(|| GetDomainNamesOutput::builder().build());
    let create_api = mock!(ApiGatewayClient::create_rest_api)
        .match_requests(|r| r.tags().and_then(|t| t.get(UID_TAG)).is_some())
        .then_output(|| {
            CreateRestApiOutput::builder()
                .id("a1")
                .root_resource_id("root")
                .build()
        });
    let create_resource = mock!(ApiGatewayClient::create_resource).then_compute_output(|r| {
        CreateResourceOutput::builder()
            .id(format!("id-{}", r.path_part().unwrap_or_default()))
            .build()
    });
    let put_method =
        mock!(ApiGatewayClient::put_method).then_output(|| PutMethodOutput::builder().build());
    let put_integration = mock!(ApiGatewayClient::put_integration)
        .then_output(|| PutIntegrationOutput::builder().build());
    let deploy = mock!(ApiGatewayClient::create_deployment)
        .then_output(|| CreateDeploymentOutput::builder().id("dep1").build());
    let stage = mock!(ApiGatewayClient::create_stage)
        .match_requests(|r| r.deployment_id() == Some("dep1"))
        .then_output(|| CreateStageOutput::builder().build());
    let domain = mock!(ApiGatewayClient::create_domain_name).then_http_response(|| {
        aws_error(
            409,
            "ConflictException",
            "The domain name you provided already exists.",
        )
    });
    let c = clients(
        &[
            &empty_apis,
            &empty_domains,
            &create_api,
            &create_resource,
            &put_method,
            &put_integration,
            &deploy,
            &stage,
            &domain,
        ],
        &[],
    );

    let outcome = reconcile_region(&c, &t, REGION, Some(&d), Mode::Apply).await;
    assert_eq!(
        outcome.error.as_ref().map(|e| e.text.as_str()),
        Some(
            "us-east-1: apigateway CreateDomainName: ConflictException: The domain name you provided already exists."
        )
    );
    let done: Vec<String> = outcome.changes.iter().map(ToString::to_string).collect();
    assert_eq!(
        done.first().map(String::as_str),
        Some("create apigateway rest api us-east-1 gapi-payments-exchange")
    );
    assert_eq!(
        done.last().map(String::as_str),
        Some("create apigateway stage us-east-1 gapi-payments-exchange/v1")
    );
    assert_eq!(
        (put_method.num_calls(), put_integration.num_calls()),
        (2, 2)
    );
    let output = outcome.output.expect("the API exists");
    assert_eq!(output.rest_api_id, "a1");
    assert_eq!(output.endpoint, None);
}

#[tokio::test]
async fn a_duplicate_statement_id_is_replaced() {
    let add = mock!(LambdaClient::add_permission)
        .sequence()
        .http_response(|| {
            aws_error(
                409,
                "ResourceConflictException",
                "The statement id (s) provided already exists. Please provide a new statement id, or remove the existing statement.",
            )
        })
        .output(|| AddPermissionOutput::builder().statement("{}").build())
        .build();
    let remove = mock!(LambdaClient::remove_permission)
        .match_requests(|r| r.statement_id() == Some("s"))
        .then_output(|| RemovePermissionOutput::builder().build());
    let c = clients(&[], &[&add, &remove]);
    add_permission(
        &c,
        "arn:aws:lambda:us-east-1:123456789012:function:f",
        "s",
        "arn:aws:execute-api:us-east-1:123456789012:a1/*",
    )
    .await
    .expect("replaced");
    assert_eq!((add.num_calls(), remove.num_calls()), (2, 1));

    let denied = mock!(LambdaClient::add_permission).then_http_response(|| {
        aws_error(
            403,
            "AccessDeniedException",
            "not authorized to perform: lambda:AddPermission",
        )
    });
    let c = clients(&[], &[&denied]);
    let err = add_permission(&c, "f", "s", "arn")
        .await
        .expect_err("denied");
    assert_eq!(err.aws_code(), Some("AccessDeniedException"));
    assert!(err.to_string().contains("not authorized"), "{err}");
}

#[tokio::test]
async fn deleting_what_is_already_gone_counts_as_done() {
    let not_found = |message: &'static str| move || aws_error(404, "NotFoundException", message);
    let mapping = mock!(ApiGatewayClient::delete_base_path_mapping)
        .then_http_response(not_found("Invalid base path mapping identifier specified"));
    let domain = mock!(ApiGatewayClient::delete_domain_name)
        .then_http_response(not_found("Invalid domain name identifier specified"));
    let api = mock!(ApiGatewayClient::delete_rest_api)
        .then_http_response(not_found("Invalid API identifier specified"));
    let permission = mock!(LambdaClient::remove_permission).then_http_response(|| {
        aws_error(
            404,
            "ResourceNotFoundException",
            "The resource you requested does not exist.",
        )
    });
    let c = clients(&[&mapping, &domain, &api], &[&permission]);
    let op = |kind| Op {
        region: REGION.into(),
        api: "gapi-payments-exchange".into(),
        kind,
    };
    let ops = [
        op(OpKind::DeleteMapping {
            domain: "api.example.com".into(),
            mapping: Mapping {
                base_path: String::new(),
                rest_api_id: "a1".into(),
                stage: Some("v1".into()),
            },
        }),
        op(OpKind::DeleteDomain {
            domain: "api.example.com".into(),
        }),
        op(OpKind::RemovePermission {
            permission: Permission {
                function: "arn:aws:lambda:us-east-1:123456789012:function:f".into(),
                statement_id: "s".into(),
                principal: None,
                action: None,
                source_arn: None,
            },
        }),
        op(OpKind::DeleteRestApi { id: "a1".into() }),
    ];
    let mut state = ApiState::default();
    let mut done = Vec::new();
    apply(&c, &mut state, &ops, &mut done)
        .await
        .expect("already gone is done");
    assert_eq!(done.len(), 4);

    // Other failures are not swallowed.
    let broken = mock!(ApiGatewayClient::delete_rest_api)
        .then_http_response(|| aws_error(400, "BadRequestException", "Active stages"));
    let c = clients(&[&broken], &[]);
    let mut done = Vec::new();
    let err = apply(&c, &mut state, &ops[3..], &mut done)
        .await
        .expect_err("a real failure");
    assert_eq!(err.aws_code(), Some("BadRequestException"));
    assert!(done.is_empty());
}

#[tokio::test]
async fn listings_are_read_page_by_page() {
    let t = target(FAILOVER);
    let uid = t.uid.clone();
    let first = mock!(ApiGatewayClient::get_rest_apis)
        .match_requests(|r| r.position().is_none())
        .then_output(|| {
            GetRestApisOutput::builder()
                .items(RestApi::builder().id("foreign").name("x").build())
                .position("p2")
                .build()
        });
    let second = mock!(ApiGatewayClient::get_rest_apis)
        .match_requests(|r| r.position() == Some("p2"))
        .then_output(move || {
            GetRestApisOutput::builder()
                .items(
                    RestApi::builder()
                        .id("a1")
                        .name("n")
                        .tags(UID_TAG, &uid)
                        .build(),
                )
                .build()
        });
    let domains = mock!(ApiGatewayClient::get_domain_names)
        .then_output(|| GetDomainNamesOutput::builder().build());
    let resources = mock!(ApiGatewayClient::get_resources).then_output(|| {
        GetResourcesOutput::builder()
            .items(Resource::builder().id("r").path("/").build())
            .build()
    });
    let stages =
        mock!(ApiGatewayClient::get_stages).then_output(|| GetStagesOutput::builder().build());
    let c = clients(&[&first, &second, &domains, &resources, &stages], &[]);
    let observed = observe::region(&c, &Lookup::new(&t, REGION))
        .await
        .expect("observed");
    assert_eq!(observed.api.map(|a| a.id).as_deref(), Some("a1"));
    assert!(observed.extra_apis.is_empty());
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
}
