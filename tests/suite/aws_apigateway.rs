//! API Gateway (and the Lambda permission) against the emulator: create in
//! two regions, no-op plan, drift found and corrected (stage tracing, a
//! method and a base path mapping removed by hand, the REST API deleted),
//! one deployment per route change, a region leaving the spec, a pending
//! certificate, a foreign custom domain, a Lambda backend and its
//! permission, and destroy that leaves a foreign REST API alone.

use crate::common;

use aws_sdk_apigateway::types::{Op, PatchOperation, RestApi};
use globalapi::api::GlobalApiSpec;
use globalapi::aws::AwsClients;
use globalapi::aws::apigateway::{
    self, ApiGatewayInputs, ApiGatewayOutputs, desired::statement_id,
};
use globalapi::plan::{Finding, Mode, StepOutcome};
use globalapi::target::{Target, UID_TAG};

const US: &str = "us-east-1";
const EU: &str = "eu-west-1";

fn cert(region: &str) -> String {
    format!("arn:aws:acm:{region}:123456789012:certificate/00000000-0000-4000-8000-000000000001")
}

fn target(suffix: &str, regions: &str, api: &str) -> Target {
    let spec: GlobalApiSpec = serde_norway::from_str(&format!(
        r#"
domain: api-{suffix}.example.com
hostedZone: {{name: example.com}}
routing: {{policy: Latency}}
regions: {regions}
api: {api}
edge: {{enabled: true}}
"#
    ))
    .expect("spec parses");
    Target {
        namespace: format!("apigw-{suffix}"),
        name: "shop".into(),
        uid: format!("{suffix:0>8}-0000-4000-8000-000000000001"),
        spec,
    }
}

fn http_regions() -> String {
    format!(
        r#"[{{name: {US}, backend: {{httpUrl: "https://us.backend.example.com"}}}},
            {{name: {EU}, backend: {{httpUrl: "https://eu.backend.example.com/"}}}}]"#
    )
}

fn inputs(regions: &[&str], previous: &[&str]) -> ApiGatewayInputs {
    ApiGatewayInputs {
        retire_old_domains: true,
        certificates: regions.iter().map(|r| ((*r).to_owned(), cert(r))).collect(),
        previous_regions: previous.iter().map(|r| (*r).to_owned()).collect(),
        ..Default::default()
    }
}

fn lines<O>(outcome: &StepOutcome<O>) -> Vec<String> {
    outcome.changes.iter().map(ToString::to_string).collect()
}

/// Runs one step and checks its mutating calls: none in Plan or when nothing changed.
async fn run(
    clients: &AwsClients,
    t: &Target,
    inputs: &ApiGatewayInputs,
    mode: Mode,
) -> StepOutcome<ApiGatewayOutputs> {
    let before = clients.calls().snapshot();
    let outcome = apigateway::run(clients, t, inputs, mode)
        .await
        .unwrap_or_else(|e| panic!("apigateway {mode:?} failed: {e}"));
    let calls = clients.calls().snapshot().since(&before);
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    if mode == Mode::Plan || outcome.changes.is_empty() {
        assert_eq!(
            calls.mutating(),
            0,
            "{mode:?} without changes must not mutate:\n{calls}"
        );
    }
    outcome
}

/// Plan after Apply: nothing left to do.
async fn assert_converged(clients: &AwsClients, t: &Target, inputs: &ApiGatewayInputs) {
    let plan = run(clients, t, inputs, Mode::Plan).await;
    assert!(
        plan.changes.is_empty(),
        "plan after apply: {:#?}",
        lines(&plan)
    );
}

async fn ours(clients: &AwsClients, region: &str, uid: &str) -> Vec<RestApi> {
    let out = clients
        .apigateway(region)
        .get_rest_apis()
        .send()
        .await
        .expect("GetRestApis");
    out.items()
        .iter()
        .filter(|a| a.tags().and_then(|t| t.get(UID_TAG)).map(String::as_str) == Some(uid))
        .cloned()
        .collect()
}

async fn our_api(clients: &AwsClients, region: &str, uid: &str) -> String {
    let apis = ours(clients, region, uid).await;
    assert_eq!(
        apis.len(),
        1,
        "exactly one REST API of ours in {region}: {apis:?}"
    );
    apis[0].id().expect("id").to_owned()
}

async fn deployments(clients: &AwsClients, region: &str, rest_api_id: &str) -> usize {
    let out = clients
        .apigateway(region)
        .get_deployments()
        .rest_api_id(rest_api_id)
        .send()
        .await
        .expect("GetDeployments");
    out.items().len()
}

async fn resource_id(clients: &AwsClients, region: &str, rest_api_id: &str, path: &str) -> String {
    let out = clients
        .apigateway(region)
        .get_resources()
        .rest_api_id(rest_api_id)
        .send()
        .await
        .expect("GetResources");
    out.items()
        .iter()
        .find(|r| r.path() == Some(path))
        .and_then(|r| r.id())
        .unwrap_or_else(|| panic!("no resource {path}"))
        .to_owned()
}

fn replace(path: &str, value: &str) -> PatchOperation {
    PatchOperation::builder()
        .op(Op::Replace)
        .path(path)
        .value(value)
        .build()
}

#[tokio::test]
async fn regional_apis_follow_the_spec_and_only_ours_are_touched() {
    let env = common::env();
    let clients = env.aws_clients().await;
    let s = common::unique_suffix();
    let api = "{stageName: v1, tracing: true, metrics: true}";
    let t = target(&s, &http_regions(), api);
    let both = inputs(&[US, EU], &[]);
    let name = t.resource_name(128);
    let origin = t.origin_domain();

    // Someone else's REST API, with our very name but without our tags.
    let foreign = clients
        .apigateway(US)
        .create_rest_api()
        .name(&name)
        .send()
        .await
        .expect("foreign REST API");
    let foreign_id = foreign.id().expect("id").to_owned();

    // Plan from nothing: everything would be created, nothing is.
    let plan = run(&clients, &t, &both, Mode::Plan).await;
    let plan_lines = lines(&plan);
    for region in [US, EU] {
        for line in [
            format!("create apigateway rest api {region} {name}"),
            format!("create apigateway resource {region} {name} /{{proxy+}}"),
            format!("create apigateway method {region} {name} ANY /{{proxy+}}"),
            format!("create apigateway method {region} {name} ANY /"),
            format!("create apigateway stage {region} {name}/v1"),
            format!("create apigateway custom domain {region} {origin}"),
            format!("create apigateway base path mapping {region} {origin}/(none)"),
        ] {
            assert!(
                plan_lines.contains(&line),
                "{line} missing from {plan_lines:#?}"
            );
        }
    }
    assert!(plan.outputs.regions.is_empty());
    assert!(ours(&clients, US, &t.uid).await.is_empty());

    // Apply creates both regions.
    let applied = run(&clients, &t, &both, Mode::Apply).await;
    assert_eq!(
        lines(&applied).len(),
        plan_lines.len(),
        "{:#?}",
        lines(&applied)
    );
    assert!(applied.pending.is_empty() && applied.conflicts.is_empty());
    for region in [US, EU] {
        let id = our_api(&clients, region, &t.uid).await;
        let out = &applied.outputs.regions[region];
        assert_eq!(out.rest_api_id, id);
        assert_eq!(out.stage, "v1");
        assert_eq!(
            out.invoke_url,
            format!("https://{id}.execute-api.{region}.amazonaws.com/v1")
        );
        assert_eq!(out.custom_domain.as_deref(), Some(origin.as_str()));
        let endpoint = out
            .endpoint
            .as_ref()
            .expect("endpoint with the custom domain");
        assert_eq!(endpoint.region, region);
        assert_eq!(endpoint.rest_api_id, id);

        let c = clients.apigateway(region);
        let rest = c
            .get_rest_api()
            .rest_api_id(&id)
            .send()
            .await
            .expect("GetRestApi");
        assert_eq!(rest.name(), Some(name.as_str()));
        let types: Vec<&str> = rest
            .endpoint_configuration()
            .expect("endpoint")
            .types()
            .iter()
            .map(|t| t.as_str())
            .collect();
        assert_eq!(types, ["REGIONAL"]);

        let proxy = resource_id(&clients, region, &id, "/{proxy+}").await;
        let integration = c
            .get_integration()
            .rest_api_id(&id)
            .resource_id(&proxy)
            .http_method("ANY")
            .send()
            .await
            .expect("GetIntegration");
        let base = if region == US {
            "https://us.backend.example.com"
        } else {
            "https://eu.backend.example.com"
        };
        assert_eq!(integration.r#type().map(|t| t.as_str()), Some("HTTP_PROXY"));
        assert_eq!(integration.http_method(), Some("ANY"));
        assert_eq!(
            integration.uri(),
            Some(format!("{base}/{{proxy}}").as_str())
        );
        assert_eq!(
            integration
                .request_parameters()
                .and_then(|p| p.get("integration.request.path.proxy"))
                .map(String::as_str),
            Some("method.request.path.proxy")
        );

        let stage = c
            .get_stage()
            .rest_api_id(&id)
            .stage_name("v1")
            .send()
            .await
            .expect("GetStage");
        assert!(stage.tracing_enabled());
        assert!(
            stage
                .method_settings()
                .and_then(|m| m.get("*/*"))
                .is_some_and(|s| s.metrics_enabled())
        );
        assert_eq!(deployments(&clients, region, &id).await, 1);

        let domain = c
            .get_domain_name()
            .domain_name(&origin)
            .send()
            .await
            .expect("GetDomainName");
        assert_eq!(
            domain.regional_certificate_arn(),
            Some(cert(region).as_str())
        );
        assert_eq!(domain.tags().and_then(|t| t.get(UID_TAG)), Some(&t.uid));
        assert_eq!(
            domain.regional_domain_name(),
            Some(endpoint.regional_domain_name.as_str())
        );
        let mappings = c
            .get_base_path_mappings()
            .domain_name(&origin)
            .send()
            .await
            .expect("mappings");
        let m: Vec<(Option<&str>, Option<&str>, Option<&str>)> = mappings
            .items()
            .iter()
            .map(|m| (m.base_path(), m.rest_api_id(), m.stage()))
            .collect();
        assert_eq!(m, [(Some("(none)"), Some(id.as_str()), Some("v1"))]);
    }

    // Nothing to do, with zero mutating calls, in Plan and in Apply.
    assert_converged(&clients, &t, &both).await;
    let again = run(&clients, &t, &both, Mode::Apply).await;
    assert!(again.changes.is_empty(), "{:#?}", lines(&again));
    assert_eq!(again.outputs, applied.outputs);

    // Tracing switched off by hand: exactly that drift, corrected without a deployment.
    let us_id = our_api(&clients, US, &t.uid).await;
    clients
        .apigateway(US)
        .update_stage()
        .rest_api_id(&us_id)
        .stage_name("v1")
        .patch_operations(replace("/tracingEnabled", "false"))
        .send()
        .await
        .expect("tracing off by hand");
    let plan = run(&clients, &t, &both, Mode::Plan).await;
    assert_eq!(
        lines(&plan),
        [format!(
            "update apigateway stage {US} {name}/v1: TracingEnabled false → true"
        )]
    );
    let fixed = run(&clients, &t, &both, Mode::Apply).await;
    assert_eq!(lines(&fixed), lines(&plan));
    let stage = clients
        .apigateway(US)
        .get_stage()
        .rest_api_id(&us_id)
        .stage_name("v1")
        .send()
        .await
        .expect("stage");
    assert!(stage.tracing_enabled());
    assert_eq!(
        deployments(&clients, US, &us_id).await,
        1,
        "a stage setting is not a deployment"
    );
    assert_converged(&clients, &t, &both).await;

    // A method and the base path mapping removed by hand in eu-west-1.
    let eu_id = our_api(&clients, EU, &t.uid).await;
    let eu = clients.apigateway(EU);
    let root = resource_id(&clients, EU, &eu_id, "/").await;
    eu.delete_method()
        .rest_api_id(&eu_id)
        .resource_id(&root)
        .http_method("ANY")
        .send()
        .await
        .expect("delete method");
    eu.delete_base_path_mapping()
        .domain_name(&origin)
        .base_path("(none)")
        .send()
        .await
        .expect("delete mapping");
    let plan = run(&clients, &t, &both, Mode::Plan).await;
    let plan_lines = lines(&plan);
    assert_eq!(plan_lines.len(), 3, "{plan_lines:#?}");
    assert_eq!(
        plan_lines[0],
        format!("create apigateway method {EU} {name} ANY /")
    );
    assert!(
        plan_lines[1].starts_with(&format!("create apigateway deployment {EU} {name}/v1")),
        "{plan_lines:#?}"
    );
    assert_eq!(
        plan_lines[2],
        format!("create apigateway base path mapping {EU} {origin}/(none)")
    );
    run(&clients, &t, &both, Mode::Apply).await;
    assert_eq!(deployments(&clients, EU, &eu_id).await, 2);
    assert_converged(&clients, &t, &both).await;

    // One more route in the spec: one resource, one method, one deployment per region.
    let t2 = target(
        &s,
        &http_regions(),
        "{stageName: v1, tracing: true, metrics: true, routes: [{path: '/{proxy+}', methods: [ANY]}, {path: /, methods: [ANY]}, {path: /orders, methods: [GET]}]}",
    );
    let before = [
        deployments(&clients, US, &us_id).await,
        deployments(&clients, EU, &eu_id).await,
    ];
    let added = run(&clients, &t2, &both, Mode::Apply).await;
    let added_lines = lines(&added);
    assert_eq!(added_lines.len(), 6, "{added_lines:#?}");
    for region in [US, EU] {
        assert!(added_lines.contains(&format!(
            "create apigateway resource {region} {name} /orders"
        )));
        assert!(added_lines.contains(&format!(
            "create apigateway method {region} {name} GET /orders"
        )));
    }
    let after = [
        deployments(&clients, US, &us_id).await,
        deployments(&clients, EU, &eu_id).await,
    ];
    assert_eq!(
        after,
        [before[0] + 1, before[1] + 1],
        "exactly one new deployment per region"
    );
    let orders = resource_id(&clients, US, &us_id, "/orders").await;
    let integration = clients
        .apigateway(US)
        .get_integration()
        .rest_api_id(&us_id)
        .resource_id(&orders)
        .http_method("GET")
        .send()
        .await
        .expect("integration");
    assert_eq!(
        integration.uri(),
        Some("https://us.backend.example.com/orders")
    );
    assert_converged(&clients, &t2, &both).await;

    // The REST API deleted by hand is recreated, and the mapping follows it.
    eu.delete_rest_api()
        .rest_api_id(&eu_id)
        .send()
        .await
        .expect("delete by hand");
    let plan = run(&clients, &t2, &both, Mode::Plan).await;
    let plan_lines = lines(&plan);
    assert_eq!(
        plan_lines[0],
        format!("create apigateway rest api {EU} {name}")
    );
    assert!(
        plan_lines.contains(&format!(
            "update apigateway base path mapping {EU} {origin}/(none): RestApiId {eu_id} → (new REST API)"
        )),
        "{plan_lines:#?}"
    );
    let recreated = run(&clients, &t2, &both, Mode::Apply).await;
    let new_eu = our_api(&clients, EU, &t2.uid).await;
    assert_ne!(new_eu, eu_id);
    assert_eq!(recreated.outputs.regions[EU].rest_api_id, new_eu);
    let mapping = eu
        .get_base_path_mapping()
        .domain_name(&origin)
        .base_path("(none)")
        .send()
        .await
        .expect("mapping");
    assert_eq!(mapping.rest_api_id(), Some(new_eu.as_str()));
    assert_converged(&clients, &t2, &both).await;

    // eu-west-1 leaves the spec: its API and domain go, us-east-1 stays.
    let us_only = target(
        &s,
        &format!(r#"[{{name: {US}, backend: {{httpUrl: "https://us.backend.example.com"}}}}]"#),
        "{stageName: v1, tracing: true, metrics: true, routes: [{path: '/{proxy+}', methods: [ANY]}, {path: /, methods: [ANY]}, {path: /orders, methods: [GET]}]}",
    );
    let shrink = inputs(&[US], &[US, EU]);
    let shrunk = run(&clients, &us_only, &shrink, Mode::Apply).await;
    assert_eq!(
        lines(&shrunk),
        [
            format!("delete apigateway base path mapping {EU} {origin}/(none)"),
            format!("delete apigateway custom domain {EU} {origin}"),
            format!("delete apigateway rest api {EU} {name} ({new_eu})"),
        ]
    );
    assert!(ours(&clients, EU, &t.uid).await.is_empty());
    assert!(
        eu.get_domain_name()
            .domain_name(&origin)
            .send()
            .await
            .is_err()
    );
    assert_eq!(shrunk.outputs.regions.keys().collect::<Vec<_>>(), [US]);
    assert_converged(&clients, &us_only, &shrink).await;

    // Destroy: planned without a mutating call, then everything of ours goes; the foreign API stays.
    let before = clients.calls().snapshot();
    let planned = apigateway::destroy(&clients, &t, Mode::Plan)
        .await
        .expect("destroy plan");
    assert_eq!(clients.calls().snapshot().since(&before).mutating(), 0);
    assert_eq!(
        lines(&planned),
        [
            format!("delete apigateway base path mapping {US} {origin}/(none)"),
            format!("delete apigateway custom domain {US} {origin}"),
            format!("delete apigateway rest api {US} {name} ({us_id})"),
        ]
    );
    let destroyed = apigateway::destroy(&clients, &t, Mode::Apply)
        .await
        .expect("destroy");
    assert!(destroyed.errors.is_empty(), "{:?}", destroyed.errors);
    assert_eq!(lines(&destroyed), lines(&planned));
    for region in [US, EU] {
        assert!(ours(&clients, region, &t.uid).await.is_empty(), "{region}");
        assert!(
            clients
                .apigateway(region)
                .get_domain_name()
                .domain_name(&origin)
                .send()
                .await
                .is_err()
        );
    }
    let kept = clients
        .apigateway(US)
        .get_rest_api()
        .rest_api_id(&foreign_id)
        .send()
        .await
        .expect("foreign API kept");
    assert_eq!(kept.name(), Some(name.as_str()));
    let again = apigateway::destroy(&clients, &t, Mode::Apply)
        .await
        .expect("destroy again");
    assert!(
        again.changes.is_empty() && again.errors.is_empty(),
        "{:?}",
        again
    );

    clients
        .apigateway(US)
        .delete_rest_api()
        .rest_api_id(&foreign_id)
        .send()
        .await
        .expect("cleanup");
}

#[tokio::test]
async fn a_pending_certificate_and_a_foreign_domain_leave_the_domain_alone() {
    let env = common::env();
    let clients = env.aws_clients().await;
    let s = common::unique_suffix();
    let region = "ap-southeast-2";
    let t = target(
        &s,
        &format!(r#"[{{name: {region}, backend: {{httpUrl: "https://ap.backend.example.com"}}}}]"#),
        "{stageName: prod}",
    );
    let origin = t.origin_domain();

    // No certificate yet: the API is built, the custom domain waits.
    let waiting = inputs(&[], &[]);
    let first = run(&clients, &t, &waiting, Mode::Apply).await;
    assert_eq!(
        Finding::texts(&first.pending),
        [format!(
            "{region}: custom domain {origin} waits for its certificate"
        )]
    );
    let out = &first.outputs.regions[region];
    assert!(out.endpoint.is_none() && out.custom_domain.is_none());
    assert!(
        out.invoke_url
            .ends_with(".execute-api.ap-southeast-2.amazonaws.com/prod"),
        "{}",
        out.invoke_url
    );
    assert!(
        clients
            .apigateway(region)
            .get_domain_name()
            .domain_name(&origin)
            .send()
            .await
            .is_err()
    );
    assert_converged(&clients, &t, &waiting).await;

    // Meanwhile someone else takes the name: a conflict, never touched.
    let c = clients.apigateway(region);
    c.create_domain_name()
        .domain_name(&origin)
        .regional_certificate_arn("arn:aws:acm:ap-southeast-2:123456789012:certificate/theirs")
        .send()
        .await
        .expect("foreign domain");
    let issued = inputs(&[region], &[]);
    let second = run(&clients, &t, &issued, Mode::Apply).await;
    assert!(second.changes.is_empty(), "{:#?}", lines(&second));
    assert_eq!(
        Finding::texts(&second.conflicts),
        [format!(
            "{region}: custom domain {origin} exists and is not owned by this GlobalApi"
        )]
    );
    assert!(second.outputs.regions[region].endpoint.is_none());
    let theirs = c
        .get_domain_name()
        .domain_name(&origin)
        .send()
        .await
        .expect("still there");
    assert_eq!(
        theirs.regional_certificate_arn(),
        Some("arn:aws:acm:ap-southeast-2:123456789012:certificate/theirs")
    );

    // Destroy removes our API and leaves their domain.
    let destroyed = apigateway::destroy(&clients, &t, Mode::Apply)
        .await
        .expect("destroy");
    assert!(destroyed.errors.is_empty(), "{:?}", destroyed.errors);
    assert!(ours(&clients, region, &t.uid).await.is_empty());
    assert!(
        c.get_domain_name()
            .domain_name(&origin)
            .send()
            .await
            .is_ok()
    );
    c.delete_domain_name()
        .domain_name(&origin)
        .send()
        .await
        .expect("cleanup");
}

async fn statement(
    clients: &AwsClients,
    region: &str,
    function: &str,
    sid: &str,
) -> Option<serde_json::Value> {
    let policy = clients
        .lambda(region)
        .get_policy()
        .function_name(function)
        .send()
        .await
        .ok()?;
    let doc: serde_json::Value = serde_json::from_str(policy.policy()?).expect("policy JSON");
    doc["Statement"]
        .as_array()?
        .iter()
        .find(|s| s["Sid"] == sid)
        .cloned()
}

#[tokio::test]
async fn a_lambda_backend_gets_its_invoke_permission_and_loses_it_with_the_backend() {
    let env = common::env();
    let clients = env.aws_clients().await;
    let s = common::unique_suffix();
    let region = "us-west-2";
    let backend =
        common::lambda::LambdaBackend::create(&clients, "testing", region, &format!("orders-{s}"))
            .await;
    let arn = backend.arn.clone();
    let api = "{stageName: v1, routes: [{path: /orders, methods: [GET, POST]}]}";
    let lambda = target(
        &s,
        &format!(r#"[{{name: {region}, backend: {{lambdaArn: "{arn}"}}}}]"#),
        api,
    );
    let http = target(
        &s,
        &format!(r#"[{{name: {region}, backend: {{httpUrl: "https://orders.example.com"}}}}]"#),
        api,
    );
    let sid = statement_id(&lambda, region);
    let name = lambda.resource_name(128);
    let certs = inputs(&[region], &[]);

    let applied = run(&clients, &lambda, &certs, Mode::Apply).await;
    let id = our_api(&clients, region, &lambda.uid).await;
    let found = statement(&clients, region, &arn, &sid)
        .await
        .expect("our statement");
    assert_eq!(found["Principal"]["Service"], "apigateway.amazonaws.com");
    assert_eq!(found["Action"], "lambda:InvokeFunction");
    assert_eq!(
        found["Condition"]["ArnLike"]["AWS:SourceArn"],
        format!("arn:aws:execute-api:{region}:123456789012:{id}/*")
    );
    assert!(lines(&applied).contains(&format!(
        "create apigateway lambda permission {region} {arn} {sid}: SourceArn (none) → arn:aws:execute-api:{region}:123456789012:(new REST API)/*"
    )));
    // The health route is added beside the spec's routes, integrated the same way.
    let health = resource_id(&clients, region, &id, "/health").await;
    let integration = clients
        .apigateway(region)
        .get_integration()
        .rest_api_id(&id)
        .resource_id(&health)
        .http_method("GET")
        .send()
        .await
        .expect("health integration");
    assert_eq!(integration.r#type().map(|t| t.as_str()), Some("AWS_PROXY"));
    assert_eq!(integration.http_method(), Some("POST"));
    assert_eq!(
        integration.uri(),
        Some(
            format!(
                "arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations"
            )
            .as_str()
        )
    );
    assert_converged(&clients, &lambda, &certs).await;

    // The statement removed by hand is drift, and comes back.
    clients
        .lambda(region)
        .remove_permission()
        .function_name(&arn)
        .statement_id(&sid)
        .send()
        .await
        .expect("remove by hand");
    let plan = run(&clients, &lambda, &certs, Mode::Plan).await;
    assert_eq!(
        lines(&plan),
        [format!(
            "create apigateway lambda permission {region} {arn} {sid}: SourceArn (none) → arn:aws:execute-api:{region}:123456789012:{id}/*"
        )]
    );
    run(&clients, &lambda, &certs, Mode::Apply).await;
    assert!(statement(&clients, region, &arn, &sid).await.is_some());
    assert_converged(&clients, &lambda, &certs).await;

    // Switching to an HTTP backend takes the permission away and deploys once.
    let before = deployments(&clients, region, &id).await;
    let switched = run(&clients, &http, &certs, Mode::Apply).await;
    assert!(lines(&switched).contains(&format!(
        "delete apigateway lambda permission {region} {arn} {sid}"
    )));
    assert_eq!(
        lines(&switched)
            .iter()
            .filter(|l| l.starts_with("update apigateway integration"))
            .count(),
        3,
        "{:#?}",
        lines(&switched)
    );
    assert!(statement(&clients, region, &arn, &sid).await.is_none());
    assert_eq!(deployments(&clients, region, &id).await, before + 1);
    assert_converged(&clients, &http, &certs).await;

    // Back to Lambda, then destroy: the statement goes with the API.
    run(&clients, &lambda, &certs, Mode::Apply).await;
    assert!(statement(&clients, region, &arn, &sid).await.is_some());
    let destroyed = apigateway::destroy(&clients, &lambda, Mode::Apply)
        .await
        .expect("destroy");
    assert!(destroyed.errors.is_empty(), "{:?}", destroyed.errors);
    assert!(lines(&destroyed).contains(&format!(
        "delete apigateway lambda permission {region} {arn} {sid}"
    )));
    assert!(lines(&destroyed).contains(&format!(
        "delete apigateway rest api {region} {name} ({id})"
    )));
    assert!(statement(&clients, region, &arn, &sid).await.is_none());
    assert!(ours(&clients, region, &lambda.uid).await.is_empty());
    backend.delete(&clients, region).await;
}

/// The method settings of `stage` by key, as (loggingLevel, rate, burst).
async fn method_settings(
    clients: &AwsClients,
    region: &str,
    rest_api_id: &str,
    stage: &str,
) -> std::collections::BTreeMap<String, (Option<String>, f64, i32)> {
    let found = clients
        .apigateway(region)
        .get_stage()
        .rest_api_id(rest_api_id)
        .stage_name(stage)
        .send()
        .await
        .expect("GetStage");
    found
        .method_settings()
        .into_iter()
        .flatten()
        .map(|(key, s)| {
            let level = s.logging_level().map(str::to_owned);
            (
                key.clone(),
                (level, s.throttling_rate_limit(), s.throttling_burst_limit()),
            )
        })
        .collect()
}

#[tokio::test]
async fn execution_logging_and_throttling_follow_the_spec() {
    let env = common::env();
    let clients = env.aws_clients().await;
    let suffix = common::unique_suffix();
    let regions =
        format!(r#"[{{name: {US}, backend: {{httpUrl: "https://us.backend.example.com"}}}}]"#);
    let t = target(
        &suffix,
        &regions,
        r#"{executionLogging: Info, throttling: {rateLimit: 100, burstLimit: 200},
            routes: [{path: /users, methods: [GET], throttling: {rateLimit: 5, burstLimit: 10}},
                     {path: /health, methods: [GET]}]}"#,
    );
    let inputs = inputs(&[US], &[]);

    let created = run(&clients, &t, &inputs, Mode::Apply).await;
    assert!(
        lines(&created).contains(&format!(
            "create apigateway stage {US} {}/v1",
            t.resource_name(128)
        )),
        "{:#?}",
        lines(&created)
    );
    assert_converged(&clients, &t, &inputs).await;
    let id = our_api(&clients, US, &t.uid).await;
    let settings = method_settings(&clients, US, &id, "v1").await;
    assert_eq!(
        settings["*/*"],
        (Some("INFO".into()), 100.0, 200),
        "{settings:?}"
    );
    assert_eq!(settings["~1users/GET"].1, 5.0, "{settings:?}");
    assert_eq!(settings["~1users/GET"].2, 10, "{settings:?}");

    // Changed by hand: found and put back; a limit the spec does not set stays.
    clients
        .apigateway(US)
        .update_stage()
        .rest_api_id(&id)
        .stage_name("v1")
        .patch_operations(replace("/*/*/logging/loglevel", "OFF"))
        .patch_operations(replace("/~1users/GET/throttling/rateLimit", "50"))
        .patch_operations(replace("/~1health/GET/throttling/rateLimit", "7"))
        .send()
        .await
        .expect("changing the stage by hand");
    let drift = run(&clients, &t, &inputs, Mode::Plan).await;
    assert_eq!(
        lines(&drift),
        [format!(
            "update apigateway stage {US} {}/v1: LoggingLevel OFF → INFO, Throttling ~1users/GET 50/s burst 10 → 5/s burst 10",
            t.resource_name(128)
        )]
    );
    let fixed = run(&clients, &t, &inputs, Mode::Apply).await;
    assert_eq!(lines(&fixed), lines(&drift));
    assert_converged(&clients, &t, &inputs).await;
    let settings = method_settings(&clients, US, &id, "v1").await;
    assert_eq!(settings["*/*"].0.as_deref(), Some("INFO"));
    assert_eq!(settings["~1users/GET"].1, 5.0);
    assert_eq!(settings["~1health/GET"].1, 7.0, "{settings:?}");

    let destroyed = apigateway::destroy(&clients, &t, Mode::Apply)
        .await
        .expect("destroy");
    assert!(destroyed.errors.is_empty(), "{:?}", destroyed.errors);
    assert!(ours(&clients, US, &t.uid).await.is_empty());
}
