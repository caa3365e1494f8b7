//! Tests of `diff.rs`: pure functions over plain values.

use std::collections::BTreeMap;

use super::*;
use crate::aws::apigateway::desired::{self, ApiGatewayInputs, DesiredRegion};
use crate::aws::apigateway::model::{Mapping, Permission};
use crate::aws::apigateway::observe::{ObservedResource, ObservedStage};
use crate::target::fixtures::{FAILOVER, LATENCY, target};

const CERT: &str = "arn:aws:acm:us-east-1:123456789012:certificate/c1";

fn wanted(spec: &str) -> DesiredRegion {
    let inputs = ApiGatewayInputs {
        retire_old_domains: true,
        certificates: [("us-east-1".to_owned(), CERT.to_owned())]
            .into_iter()
            .collect(),
        previous_regions: vec![],
        ..Default::default()
    };
    desired::regions(&target(spec), &inputs)
        .remove(0)
        .1
        .expect("valid region")
}

/// AWS exactly as `d` asks, as observe would read it.
fn in_sync(d: &DesiredRegion) -> ObservedRegion {
    let mut resources = vec![ObservedResource {
        id: "root".into(),
        path: "/".into(),
        methods: d.routes.get("/").cloned().unwrap_or_default(),
    }];
    for path in desired::resource_paths(&d.routes) {
        resources.push(ObservedResource {
            id: format!("id{path}"),
            methods: d.routes.get(&path).cloned().unwrap_or_default(),
            path,
        });
    }
    let permissions = d
        .lambda_function
        .iter()
        .map(|f| Permission {
            function: f.clone(),
            statement_id: d.statement_id.clone(),
            principal: Some(APIGATEWAY_PRINCIPAL.into()),
            action: Some(INVOKE_ACTION.into()),
            source_arn: Some(source_arn(f, &d.region, "api1")),
        })
        .collect();
    ObservedRegion {
        region: d.region.clone(),
        api: Some(ObservedApi {
            id: "api1".into(),
            name: d.api_name.clone(),
            endpoint_types: vec![REGIONAL.into()],
            created: 1,
            resources,
            stages: vec![ObservedStage {
                name: d.stage_name.clone(),
                deployment_id: Some("dep1".into()),
                settings: d.stage.clone(),
                api_hash: Some(d.api_hash.clone()),
            }],
        }),
        extra_apis: vec![],
        domains: vec![ObservedDomain {
            name: d.domain.name.clone(),
            certificate_arn: d.domain.certificate_arn.clone(),
            endpoint_types: vec![REGIONAL.into()],
            regional_domain_name: Some("d-1.execute-api.us-east-1.amazonaws.com".into()),
            regional_zone_id: Some("Z1UJRXOUMOOFQ8".into()),
            mappings: vec![Mapping {
                base_path: String::new(),
                rest_api_id: "api1".into(),
                stage: Some(d.stage_name.clone()),
            }],
        }],
        foreign_domains: BTreeSet::new(),
        permissions,
    }
}

fn lines(diff: &RegionDiff) -> Vec<String> {
    diff.ops.iter().map(|o| o.change().to_string()).collect()
}

fn api_mut(o: &mut ObservedRegion) -> &mut ObservedApi {
    o.api.as_mut().expect("api observed")
}

#[test]
fn nothing_observed_creates_everything_in_order() {
    let d = wanted(LATENCY);
    let diff = diff(
        Some(&d),
        &ObservedRegion {
            region: "us-east-1".into(),
            ..Default::default()
        },
    );
    assert_eq!(
        lines(&diff),
        [
            "create apigateway rest api us-east-1 gapi-payments-exchange",
            "create apigateway resource us-east-1 gapi-payments-exchange /{proxy+}",
            "create apigateway method us-east-1 gapi-payments-exchange ANY /",
            "create apigateway method us-east-1 gapi-payments-exchange ANY /{proxy+}",
            "create apigateway lambda permission us-east-1 arn:aws:lambda:us-east-1:123456789012:function:f globalapi-0b1c2d3e-us-east-1: SourceArn (none) → arn:aws:execute-api:us-east-1:123456789012:(new REST API)/*",
            &format!(
                "create apigateway deployment us-east-1 gapi-payments-exchange/v1: ApiHash (none) → {}",
                d.api_hash
            ),
            "create apigateway stage us-east-1 gapi-payments-exchange/v1",
            "create apigateway custom domain us-east-1 origin.api.example.com",
            "create apigateway base path mapping us-east-1 origin.api.example.com/(none)",
        ]
    );
    assert!(diff.pending.is_empty() && diff.conflicts.is_empty());
}

#[test]
fn in_sync_means_no_operation() {
    for spec in [LATENCY, FAILOVER] {
        let d = wanted(spec);
        assert_eq!(diff(Some(&d), &in_sync(&d)), RegionDiff::default());
    }
}

#[test]
fn stage_drift_is_one_update_without_a_deployment() {
    let d = wanted(FAILOVER);
    let mut o = in_sync(&d);
    api_mut(&mut o).stages[0].settings.tracing = true;
    assert_eq!(
        lines(&diff(Some(&d), &o)),
        [
            "update apigateway stage us-east-1 gapi-payments-exchange/v1: TracingEnabled true → false"
        ]
    );
    let mut t = target(FAILOVER);
    t.spec.api.metrics = true;
    let d2 = desired::region(&t, &t.spec.regions[0], &ApiGatewayInputs::default()).expect("valid");
    let o = in_sync(&d);
    assert_eq!(
        lines(&diff(Some(&d2), &o))[0],
        "update apigateway stage us-east-1 gapi-payments-exchange/v1: MetricsEnabled false → true"
    );
}

#[test]
fn logging_and_throttling_follow_the_spec_and_other_limits_stay() {
    let mut t = target(FAILOVER);
    t.spec.api.execution_logging = crate::api::ExecutionLogging::Error;
    t.spec.api.throttling = Some(crate::api::ThrottlingSpec {
        rate_limit: 100,
        burst_limit: 200,
    });
    t.spec.api.routes = vec![crate::api::RouteSpec {
        path: "/users/{id}".into(),
        methods: vec![crate::api::HttpMethod::Get],
        throttling: Some(crate::api::ThrottlingSpec {
            rate_limit: 5,
            burst_limit: 10,
        }),
    }];
    let d = desired::region(&t, &t.spec.regions[0], &ApiGatewayInputs::default()).expect("valid");
    assert_eq!(
        d.stage.throttling.keys().collect::<Vec<_>>(),
        ["*/*", "~1users~1{id}/GET"]
    );
    let mut o = in_sync(&d);
    // A limit the spec does not set (someone's override) is left alone.
    api_mut(&mut o).stages[0].settings.throttling.insert(
        "~1other/POST".into(),
        crate::aws::apigateway::model::Throttle::new(1.0, 1),
    );
    assert_eq!(diff(Some(&d), &o), RegionDiff::default());

    let stage = &mut api_mut(&mut o).stages[0].settings;
    stage.logging = crate::aws::apigateway::model::LogLevel::Off;
    stage.throttling.remove("~1users~1{id}/GET");
    stage.throttling.insert(
        "*/*".into(),
        crate::aws::apigateway::model::Throttle::new(10000.0, 5000),
    );
    assert_eq!(
        lines(&diff(Some(&d), &o)),
        [
            "update apigateway stage us-east-1 gapi-payments-exchange/v1: LoggingLevel OFF → ERROR, Throttling */* 10000/s burst 5000 → 100/s burst 200, Throttling ~1users~1{id}/GET (none) → 5/s burst 10"
        ]
    );
}

#[test]
fn route_drift_is_corrected_and_redeployed() {
    let d = wanted(FAILOVER);
    let mut o = in_sync(&d);
    {
        let api = api_mut(&mut o);
        let proxy = api
            .resources
            .iter_mut()
            .find(|r| r.path == "/{proxy+}")
            .expect("proxy");
        let integration = proxy
            .methods
            .get_mut("ANY")
            .and_then(|m| m.integration.as_mut())
            .expect("integration");
        integration.uri = "https://evil.example.com/{proxy}".into();
        let root = api
            .resources
            .iter_mut()
            .find(|r| r.path == "/")
            .expect("root");
        root.methods.remove("ANY");
        root.methods
            .insert("DELETE".into(), d.routes["/"]["ANY"].clone());
        api.resources.push(ObservedResource {
            id: "x".into(),
            path: "/extra".into(),
            methods: BTreeMap::new(),
        });
        api.resources.push(ObservedResource {
            id: "y".into(),
            path: "/extra/deeper".into(),
            methods: BTreeMap::new(),
        });
    }
    assert_eq!(
        lines(&diff(Some(&d), &o)),
        [
            "create apigateway method us-east-1 gapi-payments-exchange ANY /",
            "update apigateway integration us-east-1 gapi-payments-exchange ANY /{proxy+}: Integration.Uri https://evil.example.com/{proxy} → https://us.example.com/{proxy}",
            "delete apigateway method us-east-1 gapi-payments-exchange DELETE /",
            "delete apigateway resource us-east-1 gapi-payments-exchange /extra/deeper",
            "delete apigateway resource us-east-1 gapi-payments-exchange /extra",
            "create apigateway deployment us-east-1 gapi-payments-exchange/v1",
        ]
    );
}

#[test]
fn a_method_setting_change_replaces_the_method() {
    let d = wanted(FAILOVER);
    let mut o = in_sync(&d);
    let proxy = api_mut(&mut o)
        .resources
        .iter_mut()
        .find(|r| r.path == "/{proxy+}")
        .expect("proxy");
    let method = proxy.methods.get_mut("ANY").expect("method");
    method.authorization_type = "AWS_IAM".into();
    method.integration = None;
    let l = lines(&diff(Some(&d), &o));
    assert!(
        l[0].starts_with(
            "update apigateway method us-east-1 gapi-payments-exchange ANY /{proxy+}: AuthorizationType AWS_IAM → NONE, Integration.Type (none) → HTTP_PROXY"
        ),
        "{l:?}"
    );
    assert!(l[1].starts_with("create apigateway deployment"));
}

#[test]
fn a_new_route_is_created_and_deployed_once() {
    let d = wanted(FAILOVER);
    let o = in_sync(&d);
    let mut t = target(FAILOVER);
    t.spec.api.routes = serde_norway::from_str("[{path: '/{proxy+}', methods: [ANY]}, {path: /, methods: [ANY]}, {path: '/users/{id}', methods: [GET]}]")
        .expect("routes parse");
    let d2 = desired::region(
        &t,
        &t.spec.regions[0],
        &ApiGatewayInputs {
            retire_old_domains: true,
            certificates: [("us-east-1".to_owned(), CERT.to_owned())]
                .into_iter()
                .collect(),
            previous_regions: vec![],
            ..Default::default()
        },
    )
    .expect("valid");
    let diff = diff(Some(&d2), &o);
    let l = lines(&diff);
    assert_eq!(
        l[..3],
        [
            "create apigateway resource us-east-1 gapi-payments-exchange /users",
            "create apigateway resource us-east-1 gapi-payments-exchange /users/{id}",
            "create apigateway method us-east-1 gapi-payments-exchange GET /users/{id}",
        ]
    );
    assert_eq!(l.len(), 4);
    assert!(matches!(
        diff.ops[3].kind,
        OpKind::CreateDeployment {
            stage_exists: true,
            ..
        }
    ));
}

#[test]
fn a_stage_serving_another_deployment_is_redeployed() {
    let d = wanted(FAILOVER);
    let mut o = in_sync(&d);
    api_mut(&mut o).stages[0].api_hash = None;
    assert_eq!(
        lines(&diff(Some(&d), &o)),
        [format!(
            "create apigateway deployment us-east-1 gapi-payments-exchange/v1: ApiHash (none) → {}",
            d.api_hash
        )]
    );
}

#[test]
fn domain_drift_certificate_mapping_and_pending() {
    let d = wanted(FAILOVER);
    let mut o = in_sync(&d);
    o.domains[0].certificate_arn =
        Some("arn:aws:acm:us-east-1:123456789012:certificate/old".into());
    o.domains[0].mappings[0].stage = Some("v0".into());
    o.domains[0].mappings.push(Mapping {
        base_path: "extra".into(),
        rest_api_id: "api1".into(),
        stage: None,
    });
    assert_eq!(
        lines(&diff(Some(&d), &o)),
        [
            "update apigateway custom domain us-east-1 api.example.com: RegionalCertificateArn arn:aws:acm:us-east-1:123456789012:certificate/old → arn:aws:acm:us-east-1:123456789012:certificate/c1",
            "update apigateway base path mapping us-east-1 api.example.com/(none): Stage v0 → v1",
            "delete apigateway base path mapping us-east-1 api.example.com/extra",
        ]
    );

    // Without a certificate an existing domain is kept as it is; a missing one waits.
    let mut no_cert = d.clone();
    no_cert.domain.certificate_arn = None;
    assert_eq!(diff(Some(&no_cert), &in_sync(&d)), RegionDiff::default());
    let mut o = in_sync(&d);
    o.domains.clear();
    let waiting = diff(Some(&no_cert), &o);
    assert!(waiting.ops.is_empty());
    assert_eq!(
        waiting.pending,
        ["us-east-1: custom domain api.example.com waits for its certificate"]
    );
}

#[test]
fn a_foreign_domain_is_a_conflict_and_left_alone() {
    let d = wanted(FAILOVER);
    let mut o = in_sync(&d);
    o.domains.clear();
    o.foreign_domains.insert("api.example.com".into());
    let diff = diff(Some(&d), &o);
    assert!(diff.ops.is_empty(), "{:?}", diff.ops);
    assert_eq!(
        diff.conflicts,
        ["us-east-1: custom domain api.example.com exists and is not owned by this GlobalApi"]
    );
}

#[test]
fn a_deleted_api_is_recreated_and_everything_follows_it() {
    let d = wanted(LATENCY);
    let mut o = in_sync(&d);
    o.api = None;
    let l = lines(&diff(Some(&d), &o));
    assert_eq!(
        l[0],
        "create apigateway rest api us-east-1 gapi-payments-exchange"
    );
    assert!(l.contains(
        &"delete apigateway lambda permission us-east-1 arn:aws:lambda:us-east-1:123456789012:function:f globalapi-0b1c2d3e-us-east-1".to_owned()
    ));
    assert!(l.contains(&"create apigateway stage us-east-1 gapi-payments-exchange/v1".to_owned()));
    assert!(l.contains(
        &"update apigateway base path mapping us-east-1 origin.api.example.com/(none): RestApiId api1 → (new REST API)".to_owned()
    ));
    let remove = l
        .iter()
        .position(|x| x.starts_with("delete apigateway lambda permission"));
    let add = l
        .iter()
        .position(|x| x.starts_with("create apigateway lambda permission"));
    assert!(remove < add, "{l:?}");
}

#[test]
fn a_backend_switch_moves_the_permission_away() {
    let lambda = wanted(LATENCY);
    let mut http = lambda.clone();
    http.lambda_function = None;
    let l = lines(&diff(Some(&http), &in_sync(&lambda)));
    assert_eq!(
        l[0],
        "delete apigateway lambda permission us-east-1 arn:aws:lambda:us-east-1:123456789012:function:f globalapi-0b1c2d3e-us-east-1"
    );
}

#[test]
fn teardown_removes_mappings_domains_permissions_and_apis() {
    let d = wanted(LATENCY);
    let mut o = in_sync(&d);
    o.extra_apis.push(ObservedApi {
        id: "twin".into(),
        name: d.api_name.clone(),
        endpoint_types: vec![REGIONAL.into()],
        created: 2,
        resources: vec![],
        stages: vec![],
    });
    assert_eq!(
        lines(&diff(None, &o)),
        [
            "delete apigateway base path mapping us-east-1 origin.api.example.com/(none)",
            "delete apigateway custom domain us-east-1 origin.api.example.com",
            "delete apigateway lambda permission us-east-1 arn:aws:lambda:us-east-1:123456789012:function:f globalapi-0b1c2d3e-us-east-1",
            "delete apigateway rest api us-east-1 gapi-payments-exchange (api1)",
            "delete apigateway rest api us-east-1 gapi-payments-exchange (twin)",
        ]
    );
    assert_eq!(
        diff(
            None,
            &ObservedRegion {
                region: "us-east-1".into(),
                ..Default::default()
            }
        ),
        RegionDiff::default()
    );
}

#[test]
fn a_new_domain_name_replaces_our_old_domain() {
    let d = wanted(FAILOVER);
    let mut o = in_sync(&d);
    o.domains[0].name = "old.example.com".into();
    assert_eq!(
        lines(&diff(Some(&d), &o)),
        [
            "create apigateway custom domain us-east-1 api.example.com",
            "create apigateway base path mapping us-east-1 api.example.com/(none)",
            "delete apigateway base path mapping us-east-1 old.example.com/(none)",
            "delete apigateway custom domain us-east-1 old.example.com",
        ]
    );
}

#[test]
fn renamed_stage_moves_the_mapping_then_deletes_the_old_stage() {
    let d = wanted(FAILOVER);
    let mut o = in_sync(&d);
    api_mut(&mut o).stages[0].name = "v0".into();
    o.domains[0].mappings[0].stage = Some("v0".into());
    let l = lines(&diff(Some(&d), &o));
    assert_eq!(
        l,
        [
            format!(
                "create apigateway deployment us-east-1 gapi-payments-exchange/v1: ApiHash (none) → {}",
                d.api_hash
            ),
            "create apigateway stage us-east-1 gapi-payments-exchange/v1".into(),
            "update apigateway base path mapping us-east-1 api.example.com/(none): Stage v0 → v1"
                .into(),
            "delete apigateway stage us-east-1 gapi-payments-exchange/v0".into(),
        ]
    );
}
