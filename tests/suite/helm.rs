//! The Helm chart (`charts/globalapi-operator`) and the plain manifests in
//! `deploy/`, against the real kube-apiserver and moto:
//!
//! - the chart's CRD is the repository's, byte for byte; `helm lint` passes;
//!   `helm template` renders the defaults and every documented option;
//!   values of the wrong type are refused by values.schema.json;
//! - `deploy/globalapi-operator.yaml` is the default render, and
//!   `deploy/iam-policy.json` grants every AWS action the code calls and no
//!   other (derived from the source and the SDK's own operation list), and
//!   every action of it that changes an existing resource requires the
//!   `globalapi.io/owner` tag on that resource or is listed, with the reason,
//!   in deploy/README.md under "What IAM cannot restrict";
//! - `helm install` creates every object, `helm uninstall` removes them and
//!   leaves the CRD;
//! - RBAC: `globalapi run` with nothing but a token of the chart's
//!   ServiceAccount reconciles a GlobalApi to Ready, writes status and
//!   Events and removes its finalizer; with the Events rules taken out of the
//!   ClusterRole it logs the forbidden verb and resource; in namespaced mode
//!   it manages the watched namespace and may not touch any other.

use crate::common;

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::Output,
    time::{Duration, Instant},
};

use common::{
    create_zone,
    objects::{Manifest, apply, event_reasons, object, ready, set_failure_threshold},
    operator::Operator,
};
use globalapi::target::OWNER_TAG;
use serde_json::Value;

const CHART: &str = "charts/globalapi-operator";
/// The release name and namespace `deploy/globalapi-operator.yaml` is rendered with.
const DEPLOY_RELEASE: &str = "globalapi-operator";
const DEPLOY_NAMESPACE: &str = "globalapi-system";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn chart() -> PathBuf {
    root().join(CHART)
}

fn helm(env: &common::TestEnv, args: &[&str]) -> Output {
    env.helm(args)
}

fn helm_ok(env: &common::TestEnv, args: &[&str]) -> String {
    env.helm_ok(args)
}

/// The documents of a multi-document YAML stream, as JSON values.
fn documents(yaml: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_norway::Deserializer::from_str(yaml)
        .filter_map(|doc| {
            let value = Value::deserialize(doc).expect("rendered YAML parses");
            (!value.is_null()).then_some(value)
        })
        .collect()
}

/// `helm template` of the chart as parsed documents.
fn render(env: &common::TestEnv, release: &str, namespace: &str, extra: &[&str]) -> Vec<Value> {
    let chart = chart();
    // What `helm install` creates: the `helm test` pod only runs on `helm test`.
    let mut args = vec![
        "template",
        release,
        common::path_str(&chart),
        "--namespace",
        namespace,
        "--skip-tests",
    ];
    args.extend_from_slice(extra);
    documents(&helm_ok(env, &args))
}

fn kinds(docs: &[Value]) -> BTreeSet<String> {
    docs.iter()
        .map(|d| d["kind"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in the render: {:#?}", names(docs)))
}

/// "Kind namespace/name" of every rendered object.
fn names(docs: &[Value]) -> BTreeSet<String> {
    docs.iter()
        .map(|d| {
            format!(
                "{} {}/{}",
                d["kind"].as_str().unwrap_or_default(),
                d["metadata"]["namespace"].as_str().unwrap_or_default(),
                d["metadata"]["name"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

/// The operator's rules as "group resource verb" lines (resourceNames ignored).
fn rule_lines(role: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for rule in role["rules"].as_array().expect("rules") {
        for group in rule["apiGroups"].as_array().expect("apiGroups") {
            for resource in rule["resources"].as_array().expect("resources") {
                for verb in rule["verbs"].as_array().expect("verbs") {
                    out.insert(format!(
                        "{} {} {}",
                        group.as_str().unwrap_or_default(),
                        resource.as_str().unwrap_or_default(),
                        verb.as_str().unwrap_or_default()
                    ));
                }
            }
        }
    }
    out
}

/// What the operator needs on GlobalApis and Events, and nothing more.
fn expected_operator_rules() -> BTreeSet<String> {
    [
        "globalapi.io globalapis get",
        "globalapi.io globalapis list",
        "globalapi.io globalapis watch",
        "globalapi.io globalapis patch",
        "globalapi.io globalapis update",
        "globalapi.io globalapis/status get",
        "globalapi.io globalapis/status patch",
        "globalapi.io globalapis/status update",
        "globalapi.io globalapis/finalizers update",
        "events.k8s.io events create",
        "events.k8s.io events patch",
        " events create",
        " events patch",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

fn container(deployment: &Value) -> &Value {
    &deployment["spec"]["template"]["spec"]["containers"][0]
}

fn args(deployment: &Value) -> Vec<String> {
    container(deployment)["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("string arg").to_owned())
        .collect()
}

fn env_var(deployment: &Value, name: &str) -> Option<String> {
    container(deployment)["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)
        .and_then(|e| e["value"].as_str().map(str::to_owned))
}

fn app_version() -> String {
    let chart: serde_norway::Value = serde_norway::from_str(
        &std::fs::read_to_string(chart().join("Chart.yaml")).expect("Chart.yaml"),
    )
    .expect("Chart.yaml parses");
    chart["appVersion"]
        .as_str()
        .expect("appVersion is a string")
        .to_owned()
}

#[test]
fn chart_crd_is_byte_identical_to_the_repository_crd() {
    let repo = std::fs::read(root().join("crds/globalapi.yaml")).expect("crds/globalapi.yaml");
    let chart = std::fs::read(chart().join("crds/globalapi.yaml"))
        .expect("charts/globalapi-operator/crds/globalapi.yaml");
    assert!(
        repo == chart,
        "the chart's CRD differs from crds/globalapi.yaml: run `make chart-crd`"
    );
}

#[test]
fn lint_and_render_defaults_and_every_option() {
    let env = common::env();
    let chart = chart();
    let chart = common::path_str(&chart);
    let lint = helm_ok(env, &["lint", "--strict", chart]);
    assert!(lint.contains("0 chart(s) failed"), "{lint}");

    // Defaults: every namespace, one replica, no ServiceMonitor, no PDB.
    let docs = render(env, "ga", "ops", &[]);
    assert_eq!(
        kinds(&docs),
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "Deployment",
            "Role",
            "RoleBinding",
            "Service",
            "ServiceAccount"
        ]
        .into_iter()
        .map(str::to_owned)
        .collect::<BTreeSet<_>>()
    );
    let cluster_role = find(&docs, "ClusterRole", "ga-globalapi-operator");
    assert_eq!(rule_lines(cluster_role), expected_operator_rules());
    let binding = find(&docs, "ClusterRoleBinding", "ga-globalapi-operator");
    assert_eq!(binding["subjects"][0]["name"], "ga-globalapi-operator");
    assert_eq!(binding["subjects"][0]["namespace"], "ops");
    let leases = find(&docs, "Role", "ga-globalapi-operator-leader-election");
    assert_eq!(leases["metadata"]["namespace"], "ops");
    assert_eq!(
        rule_lines(leases),
        [
            "coordination.k8s.io leases create",
            "coordination.k8s.io leases get",
            "coordination.k8s.io leases update"
        ]
        .into_iter()
        .map(str::to_owned)
        .collect::<BTreeSet<_>>()
    );
    let named: Vec<&Value> = leases["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter(|r| r["resourceNames"][0] == "globalapi-operator")
        .collect();
    assert_eq!(
        named.len(),
        1,
        "get/update are limited to the Lease: {leases:#}"
    );
    let sa = find(&docs, "ServiceAccount", "ga-globalapi-operator");
    assert!(sa["metadata"]["annotations"].is_null(), "{sa:#}");

    let deployment = find(&docs, "Deployment", "ga-globalapi-operator");
    assert_eq!(deployment["spec"]["replicas"], 1);
    let c = container(deployment);
    assert_eq!(
        c["image"],
        format!("ghcr.io/globalapi/globalapi-operator:{}", app_version())
    );
    assert_eq!(
        args(deployment),
        [
            "run",
            "--metrics-addr",
            "0.0.0.0:8080",
            "--shared-listing-seconds",
            "30",
            "--max-concurrent-reconciles",
            "10",
            "--shutdown-grace-seconds",
            "30",
            "--aws-budget-share",
            "1",
            "--leader-election-namespace",
            "ops",
            "--leader-election-lease",
            "globalapi-operator"
        ]
    );
    assert_eq!(deployment["spec"]["strategy"]["type"], "RollingUpdate");
    assert_eq!(env_var(deployment, "RUST_LOG").as_deref(), Some("info"));
    assert_eq!(
        env_var(deployment, "GLOBALAPI_LOG_FORMAT").as_deref(),
        Some("text")
    );
    assert_eq!(
        env_var(deployment, "AWS_REGION").as_deref(),
        Some("us-east-1")
    );
    assert_eq!(env_var(deployment, "AWS_ENDPOINT_URL"), None);
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["livenessProbe"]["httpGet"]["port"], "metrics");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["readinessProbe"]["httpGet"]["port"], "metrics");
    assert_eq!(c["ports"][0]["containerPort"], 8080);
    let security = &c["securityContext"];
    assert_eq!(security["runAsNonRoot"], true);
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"][0], "ALL");
    assert_eq!(security["seccompProfile"]["type"], "RuntimeDefault");
    assert!(c["resources"]["limits"]["memory"].is_string(), "{c:#}");
    let service = find(&docs, "Service", "ga-globalapi-operator-metrics");
    assert_eq!(service["spec"]["ports"][0]["port"], 8080);
    assert_eq!(
        service["spec"]["selector"],
        deployment["spec"]["selector"]["matchLabels"]
    );

    // Every documented option at once.
    let options = [
        "--set-json",
        r#"watchNamespaces=["team-a","team-b"]"#,
        "--set",
        "metrics.serviceMonitor.enabled=true",
        "--set",
        "metrics.serviceMonitor.labels.release=prometheus",
        "--set",
        "podDisruptionBudget.enabled=true",
        "--set",
        "serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::123456789012:role/globalapi",
        "--set",
        "aws.endpointUrl=http://moto.test:5000",
        "--set",
        "aws.region=eu-west-1",
        "--set",
        "logLevel=info\\,globalapi=debug",
        "--set",
        "logFormat=json",
        "--set",
        "replicas=2",
        "--set",
        "leaderElection.leaseName=ga-lease",
        "--set",
        "image.tag=1.2.3",
        "--set",
        "metrics.port=9090",
        "--set",
        "sharedListingSeconds=5",
        "--set",
        "maxConcurrentReconciles=3",
        "--set",
        "shutdownGraceSeconds=12",
        "--set",
        "labelSelector=shard in (a\\,b)",
    ];
    let mut lint_args = vec!["lint", "--strict", chart];
    lint_args.extend_from_slice(&options);
    helm_ok(env, &lint_args);
    let docs = render(env, "ga", "ops", &options);
    assert!(
        !kinds(&docs).contains("ClusterRole") && !kinds(&docs).contains("ClusterRoleBinding"),
        "namespaced mode has no cluster-wide RBAC: {:#?}",
        names(&docs)
    );
    for watched in ["team-a", "team-b"] {
        let role = docs
            .iter()
            .find(|d| d["kind"] == "Role" && d["metadata"]["namespace"] == watched)
            .expect("a Role in each watched namespace");
        assert_eq!(rule_lines(role), expected_operator_rules());
        let binding = docs
            .iter()
            .find(|d| d["kind"] == "RoleBinding" && d["metadata"]["namespace"] == watched)
            .expect("a RoleBinding in each watched namespace");
        assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
        assert_eq!(binding["subjects"][0]["namespace"], "ops");
    }
    let deployment = find(&docs, "Deployment", "ga-globalapi-operator");
    assert_eq!(
        args(deployment),
        [
            "run",
            "--metrics-addr",
            "0.0.0.0:9090",
            "--shared-listing-seconds",
            "5",
            "--max-concurrent-reconciles",
            "3",
            "--shutdown-grace-seconds",
            "12",
            "--aws-budget-share",
            "1",
            "--selector",
            "shard in (a,b)",
            "--namespace",
            "team-a,team-b",
            "--leader-election-namespace",
            "ops",
            "--leader-election-lease",
            "ga-lease"
        ]
    );
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(
        deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"], 27,
        "the pod outlives the shutdown grace"
    );
    assert_eq!(
        container(deployment)["image"],
        "ghcr.io/globalapi/globalapi-operator:1.2.3"
    );
    assert_eq!(
        env_var(deployment, "AWS_ENDPOINT_URL").as_deref(),
        Some("http://moto.test:5000")
    );
    assert_eq!(
        env_var(deployment, "AWS_REGION").as_deref(),
        Some("eu-west-1")
    );
    assert_eq!(
        env_var(deployment, "RUST_LOG").as_deref(),
        Some("info,globalapi=debug")
    );
    assert_eq!(
        env_var(deployment, "GLOBALAPI_LOG_FORMAT").as_deref(),
        Some("json")
    );
    let sa = find(&docs, "ServiceAccount", "ga-globalapi-operator");
    assert_eq!(
        sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        "arn:aws:iam::123456789012:role/globalapi"
    );
    let monitor = find(&docs, "ServiceMonitor", "ga-globalapi-operator");
    assert_eq!(monitor["metadata"]["labels"]["release"], "prometheus");
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], "metrics");
    assert_eq!(monitor["spec"]["endpoints"][0]["path"], "/metrics");
    let pdb = find(&docs, "PodDisruptionBudget", "ga-globalapi-operator");
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    let service = find(&docs, "Service", "ga-globalapi-operator-metrics");
    assert_eq!(service["spec"]["ports"][0]["port"], 9090);

    // minAvailable replaces maxUnavailable; an existing ServiceAccount is used as is.
    let docs = render(
        env,
        "ga",
        "ops",
        &[
            "--set",
            "podDisruptionBudget.enabled=true",
            "--set",
            "podDisruptionBudget.minAvailable=1",
            "--set",
            "serviceAccount.create=false",
            "--set",
            "serviceAccount.name=existing",
            "--set",
            "leaderElection.enabled=false",
        ],
    );
    let pdb = find(&docs, "PodDisruptionBudget", "ga-globalapi-operator");
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    assert!(pdb["spec"]["maxUnavailable"].is_null(), "{pdb:#}");
    assert!(!kinds(&docs).contains("ServiceAccount"));
    let deployment = find(&docs, "Deployment", "ga-globalapi-operator");
    assert_eq!(
        deployment["spec"]["template"]["spec"]["serviceAccountName"],
        "existing"
    );
    assert_eq!(
        args(deployment),
        [
            "run",
            "--metrics-addr",
            "0.0.0.0:8080",
            "--shared-listing-seconds",
            "30",
            "--max-concurrent-reconciles",
            "10",
            "--shutdown-grace-seconds",
            "30",
            "--aws-budget-share",
            "1",
            "--leader-elect=false"
        ]
    );
    assert_eq!(deployment["spec"]["strategy"]["type"], "Recreate");
}

#[test]
fn values_schema_refuses_wrong_types_and_more_than_one_namespace() {
    let env = common::env();
    let chart = chart();
    let chart = common::path_str(&chart);
    let cases: [(&[&str], &str); 8] = [
        (
            &["--set", "replicas=two"],
            "at '/replicas': got string, want integer",
        ),
        (
            &["--set-string", "metrics.serviceMonitor.enabled=yes"],
            "at '/metrics/serviceMonitor/enabled': got string, want boolean",
        ),
        (&["--set-string", "metrics.port=http"], "at '/metrics/port'"),
        (
            &["--set", "image.pullPolicy=Sometimes"],
            "at '/image/pullPolicy'",
        ),
        (
            &["--set-json", r#"watchNamespaces="a""#],
            "at '/watchNamespaces'",
        ),
        (
            &["--set", "replica=1"],
            "additional properties 'replica' not allowed",
        ),
        (&["--set", "image.digest=latest"], "at '/image/digest'"),
        (
            &[
                "--set",
                "replicas=3",
                "--set",
                "leaderElection.enabled=false",
            ],
            "at '/replicas': maximum: got 3, want 1",
        ),
    ];
    for (values, message) in cases {
        for command in ["lint", "template"] {
            let mut args = vec![command, chart];
            args.extend_from_slice(values);
            let out = helm(env, &args);
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                !out.status.success(),
                "helm {command} {values:?} succeeded:\n{text}"
            );
            assert!(
                text.contains("values don't meet the specifications of the schema")
                    && text.contains(message),
                "helm {command} {values:?} did not fail on the schema with {message:?}:\n{text}"
            );
        }
    }
}

/// The pod options of the chart, set all at once (the image pinned by a
/// digest of "a"s).
fn pod_options() -> Vec<String> {
    [
        "--set",
        &format!("image.digest=sha256:{}", "a".repeat(64)),
        "--set-string",
        "extraArgs[0]=--stuck-reconcile-seconds",
        "--set-string",
        "extraArgs[1]=300",
        "--set",
        "terminationGracePeriodSeconds=90",
        "--set-json",
        r#"topologySpreadConstraints=[{"maxSkew":1,"topologyKey":"topology.kubernetes.io/zone","whenUnsatisfiable":"ScheduleAnyway"}]"#,
        "--set",
        "containerSecurityContext.runAsUser=1000",
        "--set",
        "networkPolicy.enabled=true",
        "--set-json",
        r#"networkPolicy.metricsFrom=[{"namespaceSelector":{"matchLabels":{"name":"monitoring"}}}]"#,
        "--set",
        "enabled=true",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// The options beyond the operator's flags: a pinned digest, extra
/// arguments, spreading, the grace period, the container's security
/// context, the NetworkPolicy and a parent's `enabled`; rendered, then
/// applied to the real API server in a dry run.
#[test]
fn the_pod_options_render_and_the_api_server_takes_them() {
    let env = common::env();
    let chart = chart();
    let chart = common::path_str(&chart);
    let namespace = env.namespace("chart-options");
    let options = pod_options();
    let options: Vec<&str> = options.iter().map(String::as_str).collect();
    let mut lint_args = vec!["lint", "--strict", chart];
    lint_args.extend_from_slice(&options);
    helm_ok(env, &lint_args);
    let mut template = vec![
        "template",
        "ga",
        chart,
        "--namespace",
        namespace.as_str(),
        "--skip-tests",
    ];
    template.extend_from_slice(&options);
    let text = helm_ok(env, &template);
    let docs = documents(&text);
    let deployment = find(&docs, "Deployment", "ga-globalapi-operator");
    let c = container(deployment);
    assert_eq!(
        c["image"],
        format!(
            "ghcr.io/globalapi/globalapi-operator@sha256:{}",
            "a".repeat(64)
        )
    );
    let run_args = args(deployment);
    assert_eq!(
        run_args[run_args.len() - 2..],
        ["--stuck-reconcile-seconds", "300"]
    );
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["terminationGracePeriodSeconds"], 90);
    assert_eq!(pod["topologySpreadConstraints"][0]["maxSkew"], 1);
    assert_eq!(c["securityContext"]["runAsUser"], 1000);
    assert_eq!(
        c["securityContext"]["readOnlyRootFilesystem"], true,
        "the defaults stay beside an override"
    );
    let policy = find(&docs, "NetworkPolicy", "ga-globalapi-operator");
    assert_eq!(policy["spec"]["ingress"][0]["ports"][0]["port"], "metrics");
    assert_eq!(
        policy["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"]["name"],
        "monitoring"
    );
    assert_eq!(
        policy["spec"]["podSelector"]["matchLabels"],
        deployment["spec"]["selector"]["matchLabels"]
    );
    let dry_run = env.kubectl_with_input(
        &["apply", "--dry-run=server", "-n", &namespace, "-f", "-"],
        Some(&text),
    );
    assert!(
        dry_run.status.success(),
        "the API server refused the render: {}",
        String::from_utf8_lossy(&dry_run.stderr)
    );

    // A grace period the shutdown grace does not fit in is refused.
    let out = helm(
        env,
        &[
            "template",
            chart,
            "--set",
            "terminationGracePeriodSeconds=10",
        ],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("terminationGracePeriodSeconds must be above shutdownGraceSeconds"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn deploy_manifest_is_the_default_render() {
    let env = common::env();
    let chart = chart();
    let rendered = helm_ok(
        env,
        &[
            "template",
            DEPLOY_RELEASE,
            common::path_str(&chart),
            "--namespace",
            DEPLOY_NAMESPACE,
            "--include-crds",
            "--skip-tests",
        ],
    );
    let file = root().join("deploy/globalapi-operator.yaml");
    let kept = std::fs::read_to_string(&file).expect("deploy/globalapi-operator.yaml");
    assert!(
        kept == rendered,
        "deploy/globalapi-operator.yaml is not the default render of the chart; regenerate it:\n  \
         helm template {DEPLOY_RELEASE} {CHART} --namespace {DEPLOY_NAMESPACE} --include-crds --skip-tests > deploy/globalapi-operator.yaml"
    );
}

// ---------------------------------------------------------------------------
// The IAM policy against the AWS calls of the source.

/// The SDK crates the code uses, by the module of src/aws that owns them.
const SERVICES: [&str; 9] = [
    "acm",
    "apigateway",
    "cloudfront",
    "cloudwatch",
    "cloudwatchlogs",
    "dynamodb",
    "lambda",
    "rds",
    "route53",
];

/// The SDK crate (`aws-sdk-<service>`) of a module of src/aws.
fn service_of_module(module: &str) -> &str {
    match module {
        "logs" => "cloudwatchlogs",
        other => other,
    }
}

/// IAM actions that AWS authorizes in addition to the one an operation is
/// named after (documented per service): (required action, implied action, why).
const IMPLIED: &[(&str, &str, &str)] = &[
    (
        "acm:RequestCertificate",
        "acm:AddTagsToCertificate",
        "the request carries the ownership tags",
    ),
    (
        "logs:CreateLogGroup",
        "logs:TagResource",
        "CreateLogGroup with tags (tag-on-create)",
    ),
    (
        "cloudwatch:PutMetricAlarm",
        "cloudwatch:TagResource",
        "PutMetricAlarm with tags (tag-on-create)",
    ),
    (
        "dynamodb:CreateTable",
        "dynamodb:TagResource",
        "CreateTable with tags (tag-on-create)",
    ),
    (
        "dynamodb:UpdateTable",
        "dynamodb:CreateTableReplica",
        "UpdateTable with ReplicaUpdates Create (global tables 2019.11.21)",
    ),
    (
        "dynamodb:UpdateTable",
        "dynamodb:DeleteTableReplica",
        "UpdateTable with ReplicaUpdates Delete",
    ),
    (
        "dynamodb:UpdateTable",
        "iam:CreateServiceLinkedRole",
        "the first replica makes DynamoDB's replication role (replication.dynamodb.amazonaws.com)",
    ),
    (
        "apigateway:POST",
        "apigateway:PUT",
        "tag-on-create of REST APIs, stages and domain names (PUT /tags/{arn})",
    ),
    (
        "cloudfront:CreateDistribution",
        "lambda:GetFunction",
        "Lambda@Edge associations (spec.edge.lambdaAssociations)",
    ),
    (
        "cloudfront:CreateDistribution",
        "lambda:EnableReplication*",
        "Lambda@Edge associations",
    ),
    (
        "cloudfront:UpdateDistribution",
        "lambda:DisableReplication*",
        "removing a Lambda@Edge association",
    ),
    (
        "cloudfront:CreateDistribution",
        "iam:CreateServiceLinkedRole",
        "the Lambda@Edge replicator role, on first use in the account",
    ),
    (
        "rds:CreateDBCluster",
        "rds:AddTagsToResource",
        "clusters, instances and global clusters are created with tags",
    ),
    (
        "rds:DeleteDBCluster",
        "rds:CreateDBClusterSnapshot",
        "the final snapshot taken on delete",
    ),
    (
        "rds:CreateDBCluster",
        "secretsmanager:CreateSecret",
        "ManageMasterUserPassword: RDS keeps the password in Secrets Manager",
    ),
    (
        "rds:CreateDBCluster",
        "secretsmanager:TagResource",
        "ManageMasterUserPassword",
    ),
    (
        "rds:CreateDBCluster",
        "kms:DescribeKey",
        "ManageMasterUserPassword (the secret's KMS key)",
    ),
];

/// Operations whose IAM actions are not their own name.
fn actions_of(
    service: &str,
    operation: &str,
    http: &BTreeMap<String, (String, String)>,
) -> Vec<String> {
    match (service, operation) {
        ("apigateway", op) => {
            let (method, _) = http
                .get(op)
                .unwrap_or_else(|| panic!("no HTTP method found for apigateway {op}"));
            vec![format!("apigateway:{method}")]
        }
        ("cloudfront", "create_distribution_with_tags") => vec![
            "cloudfront:CreateDistribution".into(),
            "cloudfront:TagResource".into(),
        ],
        // CloudWatch Logs' IAM prefix is not its crate's name.
        ("cloudwatchlogs", op) => vec![format!("logs:{}", pascal(op))],
        (service, op) => vec![format!("{service}:{}", pascal(op))],
    }
}

fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(c) => c.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// Where cargo unpacked the SDK crate of `service` at the version Cargo.lock pins.
fn sdk_dir(service: &str) -> PathBuf {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).expect("Cargo.lock");
    let crate_name = format!("aws-sdk-{service}");
    let version = lock
        .split("[[package]]")
        .find(|p| {
            p.lines()
                .any(|l| l.trim() == format!("name = \"{crate_name}\""))
        })
        .and_then(|p| {
            p.lines()
                .find_map(|l| l.trim().strip_prefix("version = \""))
                .map(|v| v.trim_end_matches('"').to_owned())
        })
        .unwrap_or_else(|| panic!("{crate_name} is not in Cargo.lock"));
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .expect("CARGO_HOME or HOME");
    let registries = cargo_home.join("registry/src");
    let found = std::fs::read_dir(&registries)
        .unwrap_or_else(|e| panic!("{}: {e}", registries.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.path().join(format!("{crate_name}-{version}")))
        .find(|p| p.join("src/operation").is_dir());
    found.unwrap_or_else(|| {
        panic!(
            "the source of {crate_name} {version} is not under {}",
            registries.display()
        )
    })
}

/// The operations of an SDK crate, by their snake_case method name.
fn sdk_operations(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir.join("src/operation"))
        .expect("src/operation of the SDK")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// API Gateway: each operation's HTTP method and path, from the SDK's serializer.
fn apigateway_http(dir: &Path, ops: &BTreeSet<String>) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for op in ops {
        let file = dir.join(format!("src/operation/{op}.rs"));
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let method = text
            .split(".method(\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .map(str::to_owned);
        let path = text.split("write!(").skip(1).find_map(|s| {
            let rest = s.trim_start().strip_prefix("output,")?.trim_start();
            let literal = rest.strip_prefix('"')?;
            literal.split('"').next().map(str::to_owned)
        });
        if let (Some(method), Some(path)) = (method, path) {
            out.insert(op.clone(), (method, path));
        }
    }
    out
}

/// Rust source with comments and the contents of string and char literals
/// blanked out (so that braces and dots in them do not count).
fn code_only(src: &str) -> String {
    let chars: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r' && (next == Some('"') || next == Some('#')) {
            // Raw string r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= chars.len() {
                    break;
                }
                if chars[j] == '"' && (0..hashes).all(|k| chars.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if next == Some('\\') {
                let mut j = i + 2;
                while j < chars.len() && chars[j] != '\'' {
                    j += 1;
                }
                out.push_str("' '");
                i = j + 1;
            } else if chars.get(i + 2) == Some(&'\'') {
                out.push_str("' '");
                i += 3;
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// `code` without the items marked `#[cfg(test)]`; the names of the test
/// modules declared `mod name;` go to `test_modules`.
fn without_test_items(code: &str, test_modules: &mut BTreeSet<String>) -> String {
    const MARK: &str = "#[cfg(test)]";
    let mut out = String::new();
    let mut rest = code;
    while let Some(at) = rest.find(MARK) {
        out.push_str(&rest[..at]);
        let item = &rest[at + MARK.len()..];
        let semi = item.find(';');
        let brace = item.find('{');
        match (semi, brace) {
            (Some(s), b) if b.is_none_or(|b| s < b) => {
                let decl = item[..s].trim();
                if let Some(name) = decl.strip_prefix("mod ") {
                    test_modules.insert(name.trim().to_owned());
                }
                rest = &item[s + 1..];
            }
            (_, Some(b)) => {
                let mut depth = 0usize;
                let mut end = item.len();
                for (k, ch) in item[b..].char_indices() {
                    match ch {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = b + k + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                rest = &item[end..];
            }
            _ => panic!("a #[cfg(test)] without an item"),
        }
    }
    out.push_str(rest);
    out
}

/// Every `.name()` call in `code`.
fn zero_argument_calls(code: &str) -> Vec<String> {
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'.' {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                j += 1;
            }
            let start = j;
            while j < bytes.len()
                && (bytes[j].is_ascii_lowercase() || bytes[j].is_ascii_digit() || bytes[j] == b'_')
            {
                j += 1;
            }
            if j > start && code[j..].starts_with("()") {
                out.push(code[start..j].to_owned());
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir)
        .expect("source directory")
        .filter_map(|e| e.ok())
    {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// (service, operation) → the files calling it, for every SDK operation
/// called by non-test code under src/aws.
fn operations_called() -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut ops_by_service = BTreeMap::new();
    for service in SERVICES {
        ops_by_service.insert(service, sdk_operations(&sdk_dir(service)));
    }
    let aws = root().join("src/aws");
    let mut files = Vec::new();
    rust_files(&aws, &mut files);
    files.sort();
    // First pass: which files are test modules (`#[cfg(test)] mod x;`).
    let mut cleaned = Vec::new();
    let mut test_files = BTreeSet::new();
    for file in &files {
        let mut test_modules = BTreeSet::new();
        let code = without_test_items(
            &code_only(&std::fs::read_to_string(file).expect("source file")),
            &mut test_modules,
        );
        let dir = file.parent().expect("parent");
        for module in test_modules {
            test_files.insert(dir.join(format!("{module}.rs")));
            test_files.insert(dir.join(&module).join("mod.rs"));
        }
        cleaned.push((file.clone(), code));
    }
    let mut out: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (file, code) in cleaned {
        if test_files.contains(&file) {
            continue;
        }
        let relative = file.strip_prefix(&aws).expect("under src/aws");
        let module = relative
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .unwrap_or_default()
            .trim_end_matches(".rs")
            .to_owned();
        for call in zero_argument_calls(&code) {
            let candidates: Vec<&str> = SERVICES
                .iter()
                .copied()
                .filter(|s| ops_by_service[s].contains(&call))
                .collect();
            let service = match candidates.as_slice() {
                [] => continue,
                [one] => *one,
                many if many.contains(&service_of_module(&module)) => SERVICES
                    .iter()
                    .copied()
                    .find(|s| *s == service_of_module(&module))
                    .expect("module service"),
                many => panic!(
                    "{}: `.{call}()` is an operation of {many:?}; cannot tell which client calls it",
                    file.display()
                ),
            };
            out.entry((service.to_owned(), call))
                .or_default()
                .insert(relative.display().to_string());
        }
    }
    out
}

/// IAM wildcard match (`*` any run, `?` one character), case-sensitive.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().expect("a string").to_owned())
            .collect(),
        other => panic!("expected a string or a list of strings, got {other}"),
    }
}

fn iam_policy() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(root().join("deploy/iam-policy.json"))
            .expect("deploy/iam-policy.json"),
    )
    .expect("deploy/iam-policy.json is JSON")
}

#[test]
fn iam_policy_has_every_action_the_code_calls_and_no_other() {
    let called = operations_called();
    assert!(
        called.len() > 40,
        "too few AWS operations found in src/aws; the scan is broken: {called:#?}"
    );
    let apigateway = sdk_dir("apigateway");
    let http = apigateway_http(&apigateway, &sdk_operations(&apigateway));

    // action (lower case) → why it is needed
    let mut required: BTreeMap<String, (String, String)> = BTreeMap::new();
    for ((service, op), files) in &called {
        for action in actions_of(service, op, &http) {
            let files: Vec<&str> = files.iter().map(String::as_str).collect();
            required.entry(action.to_lowercase()).or_insert_with(|| {
                (
                    action.clone(),
                    format!("{service} {op} in {}", files.join(", ")),
                )
            });
        }
    }
    for (trigger, implied, why) in IMPLIED {
        if required.contains_key(&trigger.to_lowercase()) {
            required
                .entry(implied.to_lowercase())
                .or_insert_with(|| (implied.to_string(), format!("implied by {trigger}: {why}")));
        }
    }

    let policy = iam_policy();
    assert_eq!(policy["Version"], "2012-10-17");
    let statements = policy["Statement"].as_array().expect("Statement list");
    let mut granted: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut sids = BTreeSet::new();
    for statement in statements {
        assert_eq!(statement["Effect"], "Allow", "{statement:#}");
        let sid = statement["Sid"]
            .as_str()
            .expect("every statement has a Sid");
        assert!(sids.insert(sid.to_owned()), "duplicate Sid {sid}");
        assert!(statement.get("NotAction").is_none() && statement.get("NotResource").is_none());
        assert!(!strings(&statement["Resource"]).is_empty(), "{statement:#}");
        for action in strings(&statement["Action"]) {
            assert!(
                !action.ends_with(":*") && action != "*",
                "{sid}: {action} grants a whole service"
            );
            granted.insert(action.to_lowercase(), (action.clone(), sid.to_owned()));
        }
    }

    let missing: Vec<String> = required
        .iter()
        .filter(|(k, _)| !granted.contains_key(*k))
        .map(|(_, (action, why))| format!("{action} ({why})"))
        .collect();
    let extra: Vec<String> = granted
        .iter()
        .filter(|(k, _)| !required.contains_key(*k))
        .map(|(_, (action, sid))| format!("{action} (statement {sid})"))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "deploy/iam-policy.json does not match the AWS calls of src/aws.\n\
         missing:\n  {}\nnot called by the code:\n  {}",
        missing.join("\n  "),
        extra.join("\n  ")
    );

    // API Gateway actions are HTTP verbs on paths: each path the code calls
    // must be covered by a statement that grants its verb.
    for (service, op) in called.keys() {
        if service != "apigateway" {
            continue;
        }
        let (method, path) = &http[op];
        let mut concrete = String::new();
        let mut in_label = false;
        for ch in path.chars() {
            match ch {
                '{' => in_label = true,
                '}' => {
                    in_label = false;
                    concrete.push_str("x1");
                }
                c if !in_label => concrete.push(c),
                _ => {}
            }
        }
        let arn = format!("arn:aws:apigateway:us-east-1::{concrete}");
        let action = format!("apigateway:{method}");
        let covered = statements.iter().any(|s| {
            strings(&s["Action"]).contains(&action)
                && strings(&s["Resource"]).iter().any(|r| glob(r, &arn))
        });
        assert!(
            covered,
            "{op}: {action} on {arn} is granted by no statement"
        );
    }
}

/// How the policy keeps an action off what the operator does not own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Guard {
    /// Reads or lists: changes nothing.
    Read,
    /// Makes something new that cannot carry the owner tag; changes nothing that exists.
    Create,
    /// Makes something new: every statement granting it requires the owner tag in the
    /// request, or, for what is made inside an existing resource, on that resource.
    CreateTagged,
    /// Changes or deletes an existing resource: every statement granting it requires the
    /// owner tag on the resource, but one granting it only on `UNTAGGED_RESOURCES`.
    Owned,
    /// Changes an existing resource, and IAM cannot tell whose it is: deploy/README.md
    /// lists it under "What IAM cannot restrict" with the reason.
    Unrestricted,
}

/// Every action of deploy/iam-policy.json and how it is kept off what the operator does
/// not own (see deploy/README.md, "Scoping" and "What IAM cannot restrict").
const GUARDS: &[(&str, Guard)] = &[
    ("route53:ListHostedZonesByName", Guard::Read),
    ("route53:ListHealthChecks", Guard::Read),
    ("route53:GetHostedZone", Guard::Read),
    ("route53:ListResourceRecordSets", Guard::Read),
    ("route53:ListTagsForResource", Guard::Read),
    ("route53:ListTagsForResources", Guard::Read),
    ("route53:CreateHealthCheck", Guard::Create),
    ("route53:ChangeResourceRecordSets", Guard::Unrestricted),
    ("route53:UpdateHealthCheck", Guard::Unrestricted),
    ("route53:DeleteHealthCheck", Guard::Unrestricted),
    ("route53:ChangeTagsForResource", Guard::Unrestricted),
    ("acm:ListCertificates", Guard::Read),
    ("acm:DescribeCertificate", Guard::Read),
    ("acm:ListTagsForCertificate", Guard::Read),
    ("acm:RequestCertificate", Guard::CreateTagged),
    ("acm:AddTagsToCertificate", Guard::Unrestricted),
    ("acm:DeleteCertificate", Guard::Owned),
    ("apigateway:GET", Guard::Read),
    ("apigateway:POST", Guard::CreateTagged),
    ("apigateway:PUT", Guard::Owned),
    ("apigateway:PATCH", Guard::Owned),
    ("apigateway:DELETE", Guard::Owned),
    ("lambda:GetPolicy", Guard::Read),
    ("lambda:GetFunction", Guard::Read),
    ("lambda:AddPermission", Guard::Unrestricted),
    ("lambda:RemovePermission", Guard::Unrestricted),
    ("lambda:EnableReplication*", Guard::Unrestricted),
    ("lambda:DisableReplication*", Guard::Unrestricted),
    ("iam:CreateServiceLinkedRole", Guard::Create),
    ("cloudfront:ListDistributions", Guard::Read),
    ("cloudfront:GetDistribution", Guard::Read),
    ("cloudfront:ListTagsForResource", Guard::Read),
    ("cloudfront:CreateDistribution", Guard::CreateTagged),
    ("cloudfront:TagResource", Guard::Unrestricted),
    ("cloudfront:UpdateDistribution", Guard::Owned),
    ("cloudfront:DeleteDistribution", Guard::Owned),
    ("rds:DescribeGlobalClusters", Guard::Read),
    ("rds:DescribeDBClusters", Guard::Read),
    ("rds:DescribeDBInstances", Guard::Read),
    ("rds:CreateGlobalCluster", Guard::CreateTagged),
    ("rds:CreateDBCluster", Guard::CreateTagged),
    ("rds:CreateDBInstance", Guard::CreateTagged),
    ("rds:AddTagsToResource", Guard::Unrestricted),
    ("cloudwatch:DescribeAlarms", Guard::Read),
    ("cloudwatch:ListTagsForResource", Guard::Read),
    ("cloudwatch:PutMetricAlarm", Guard::Unrestricted),
    ("cloudwatch:TagResource", Guard::Unrestricted),
    ("cloudwatch:DeleteAlarms", Guard::Owned),
    ("dynamodb:DescribeTable", Guard::Read),
    ("dynamodb:ListTagsOfResource", Guard::Read),
    ("dynamodb:DescribeContinuousBackups", Guard::Read),
    ("dynamodb:CreateTable", Guard::CreateTagged),
    ("dynamodb:CreateTableReplica", Guard::Create),
    ("dynamodb:TagResource", Guard::Unrestricted),
    ("dynamodb:UpdateTable", Guard::Owned),
    ("dynamodb:UpdateContinuousBackups", Guard::Owned),
    ("dynamodb:DeleteTableReplica", Guard::Owned),
    ("dynamodb:DeleteTable", Guard::Owned),
    ("logs:DescribeLogGroups", Guard::Read),
    ("logs:ListTagsForResource", Guard::Read),
    ("logs:CreateLogGroup", Guard::CreateTagged),
    ("logs:TagResource", Guard::Unrestricted),
    ("logs:PutRetentionPolicy", Guard::Owned),
    ("logs:DeleteLogGroup", Guard::Owned),
    ("rds:ModifyGlobalCluster", Guard::Owned),
    ("rds:SwitchoverGlobalCluster", Guard::Owned),
    ("rds:FailoverGlobalCluster", Guard::Owned),
    ("rds:ModifyDBCluster", Guard::Owned),
    ("rds:ModifyDBInstance", Guard::Owned),
    ("rds:RemoveFromGlobalCluster", Guard::Owned),
    ("rds:DeleteDBInstance", Guard::Owned),
    ("rds:DeleteDBCluster", Guard::Owned),
    ("rds:DeleteGlobalCluster", Guard::Owned),
    ("rds:CreateDBClusterSnapshot", Guard::Owned),
    ("secretsmanager:CreateSecret", Guard::Create),
    ("secretsmanager:TagResource", Guard::Unrestricted),
    ("kms:DescribeKey", Guard::Read),
];

/// (action, resource): a statement granting an `Owned` action on such resources alone
/// needs no owner tag, the resource being new and untagged (the final snapshot of a
/// cluster) or taking no condition keys (API Gateway's `/tags/*`). deploy/README.md
/// lists each of these actions under "What IAM cannot restrict".
const UNTAGGED_RESOURCES: &[(&str, &str)] = &[
    ("rds:DeleteDBCluster", "arn:aws:rds:*:*:cluster-snapshot:*"),
    (
        "rds:CreateDBClusterSnapshot",
        "arn:aws:rds:*:*:cluster-snapshot:*",
    ),
    ("apigateway:PUT", "arn:aws:apigateway:*::/tags/*"),
];

/// The condition keys of `statement` that it requires to be present: `Null` tested for
/// "false", or a positive string comparison (a negated one, an `...IfExists` or a set
/// operator passes a missing key, so it does not count).
fn required_keys(statement: &Value) -> Vec<String> {
    let mut keys = Vec::new();
    let Some(conditions) = statement.get("Condition").and_then(Value::as_object) else {
        return keys;
    };
    for (operator, tests) in conditions {
        let Some(tests) = tests.as_object() else {
            continue;
        };
        for (key, value) in tests {
            let required = if operator == "Null" {
                value.as_str() == Some("false") || value.as_bool() == Some(false)
            } else {
                operator.starts_with("String")
                    && !operator.contains("Not")
                    && !operator.ends_with("IfExists")
            };
            if required {
                keys.push(key.clone());
            }
        }
    }
    keys
}

/// The rows (actions, why, what protects instead) of the table under the heading
/// "What IAM cannot restrict" of deploy/README.md.
fn cannot_restrict_rows(readme: &str) -> Vec<(String, String, String)> {
    let mut lines = readme
        .lines()
        .skip_while(|l| !(l.starts_with('#') && l.contains("What IAM cannot restrict")));
    assert!(
        lines.next().is_some(),
        "deploy/README.md has no section \"What IAM cannot restrict\""
    );
    lines
        .take_while(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let inner = l.trim().strip_prefix('|')?.strip_suffix('|')?;
            let cells: Vec<&str> = inner.split('|').map(str::trim).collect();
            match cells.as_slice() {
                [actions, why, instead] => {
                    Some((actions.to_string(), why.to_string(), instead.to_string()))
                }
                _ => None,
            }
        })
        .collect()
}

/// Every action of deploy/iam-policy.json is classified in `GUARDS`, and none changes
/// or deletes an existing resource the operator does not own unless IAM cannot stop it:
/// every statement granting a change (`Owned`) requires the `globalapi.io/owner` tag on
/// the resource (`aws:ResourceTag/`, `rds:cluster-tag/` or `rds:db-tag/` key), but one
/// granting it only on a new or tagless resource (`UNTAGGED_RESOURCES`); every statement
/// granting a tagged create requires the tag in the request (or on the resource it is
/// made in); and each change IAM cannot restrict (`Unrestricted`, or in
/// `UNTAGGED_RESOURCES`) is listed with its reason and its other protection in
/// deploy/README.md under "What IAM cannot restrict".
#[test]
fn iam_policy_changes_only_what_carries_the_owner_tag_or_says_why_not() {
    let on_resource_keys = [
        format!("aws:ResourceTag/{OWNER_TAG}"),
        format!("rds:cluster-tag/{OWNER_TAG}"),
        format!("rds:db-tag/{OWNER_TAG}"),
    ];
    let owner_keys = on_resource_keys.join(" or ");
    let in_request_key = format!("aws:RequestTag/{OWNER_TAG}");
    let guards: BTreeMap<String, Guard> = GUARDS
        .iter()
        .map(|(action, guard)| (action.to_lowercase(), *guard))
        .collect();
    assert_eq!(guards.len(), GUARDS.len(), "an action is twice in GUARDS");
    for (action, resource) in UNTAGGED_RESOURCES {
        assert_eq!(
            guards.get(&action.to_lowercase()),
            Some(&Guard::Owned),
            "UNTAGGED_RESOURCES: {action} on {resource} is not an Owned action of GUARDS"
        );
    }

    let policy = iam_policy();
    let statements = policy["Statement"].as_array().expect("Statement list");
    let mut granted = BTreeSet::new();
    let mut failures = Vec::new();
    for statement in statements {
        let sid = statement["Sid"].as_str().unwrap_or("(no Sid)");
        let keys = required_keys(statement);
        let on_resource = keys
            .iter()
            .any(|k| on_resource_keys.iter().any(|o| k.eq_ignore_ascii_case(o)));
        let in_request = keys.iter().any(|k| k.eq_ignore_ascii_case(&in_request_key));
        let resources = strings(&statement["Resource"]);
        for action in strings(&statement["Action"]) {
            granted.insert(action.to_lowercase());
            match guards.get(&action.to_lowercase()).copied() {
                None => failures.push(format!(
                    "{sid}: {action} is not in GUARDS; say how it is kept off what the \
                     operator does not own"
                )),
                Some(Guard::Read | Guard::Create | Guard::Unrestricted) => {}
                Some(Guard::CreateTagged) => {
                    if !in_request && !on_resource {
                        failures.push(format!(
                            "{sid}: {action} creates, but the statement does not require \
                             {in_request_key} (or the owner tag on the resource)"
                        ));
                    }
                }
                Some(Guard::Owned) => {
                    let untagged = resources.iter().all(|r| {
                        UNTAGGED_RESOURCES
                            .iter()
                            .any(|(a, u)| a.eq_ignore_ascii_case(&action) && r.as_str() == *u)
                    });
                    if !on_resource && !untagged {
                        failures.push(format!(
                            "{sid}: {action} changes existing resources on {resources:?} \
                             without requiring {owner_keys}; add the condition, or list \
                             the action under \"What IAM cannot restrict\" in \
                             deploy/README.md and classify it Unrestricted"
                        ));
                    }
                }
            }
        }
    }
    for (action, _) in GUARDS {
        if !granted.contains(&action.to_lowercase()) {
            failures.push(format!(
                "GUARDS classifies {action}, which deploy/iam-policy.json does not grant"
            ));
        }
    }

    let readme =
        std::fs::read_to_string(root().join("deploy/README.md")).expect("deploy/README.md");
    let rows = cannot_restrict_rows(&readme);
    let unrestricted = GUARDS
        .iter()
        .filter(|(_, guard)| *guard == Guard::Unrestricted)
        .map(|(action, _)| *action)
        .chain(UNTAGGED_RESOURCES.iter().map(|(action, _)| *action));
    for action in unrestricted {
        let named = format!("`{action}`");
        let listed = rows.iter().any(|(actions, why, instead)| {
            actions.contains(&named)
                && !why.is_empty()
                && !why.starts_with('-')
                && !instead.is_empty()
                && !instead.starts_with('-')
        });
        if !listed {
            failures.push(format!(
                "{action} changes existing resources without an owner-tag condition, but \
                 deploy/README.md does not list it under \"What IAM cannot restrict\" with \
                 why and what protects it instead"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "deploy/iam-policy.json lets the operator change what it may not own:\n  {}",
        failures.join("\n  ")
    );
}

// ---------------------------------------------------------------------------
// Installing the chart into the real API server.

/// A release installed into a fresh namespace; uninstalled when dropped.
struct Release<'a> {
    env: &'a common::TestEnv,
    name: String,
    namespace: String,
    uninstalled: bool,
}

impl<'a> Release<'a> {
    fn install(env: &'a common::TestEnv, prefix: &str, values: &[&str]) -> Self {
        env.install_crd();
        let namespace = env.namespace(prefix);
        let name = format!("{prefix}-{}", common::unique_suffix());
        let chart = chart();
        let mut args = vec![
            "install",
            &name,
            common::path_str(&chart),
            "--namespace",
            &namespace,
            "--timeout",
            "2m",
        ];
        args.extend_from_slice(values);
        helm_ok(env, &args);
        Self {
            env,
            name,
            namespace,
            uninstalled: false,
        }
    }

    fn fullname(&self) -> String {
        format!("{}-globalapi-operator", self.name)
    }

    fn uninstall(&mut self) {
        helm_ok(
            self.env,
            &[
                "uninstall",
                &self.name,
                "--namespace",
                &self.namespace,
                "--wait",
            ],
        );
        self.uninstalled = true;
    }
}

impl Drop for Release<'_> {
    fn drop(&mut self) {
        if !self.uninstalled {
            let _ = helm(
                self.env,
                &["uninstall", &self.name, "--namespace", &self.namespace],
            );
        }
        let _ = self
            .env
            .kubectl(&["delete", "namespace", &self.namespace, "--wait=false"]);
    }
}

/// "Kind namespace/name" of the objects of `release` in the API server.
fn installed(env: &common::TestEnv, release: &Release, namespaces: &[&str]) -> BTreeSet<String> {
    let selector = format!("app.kubernetes.io/instance={}", release.name);
    let mut found = BTreeSet::new();
    let mut lists = vec![env.kubectl_ok(&[
        "get",
        "clusterroles,clusterrolebindings",
        "-l",
        &selector,
        "-o",
        "json",
    ])];
    for ns in namespaces {
        lists.push(env.kubectl_ok(&[
            "get",
            "serviceaccounts,deployments,services,roles,rolebindings,poddisruptionbudgets,networkpolicies",
            "-n",
            ns,
            "-l",
            &selector,
            "-o",
            "json",
        ]));
    }
    for list in lists {
        let list: Value = serde_json::from_str(&list).expect("kubectl json");
        for item in list["items"].as_array().expect("items") {
            found.insert(format!(
                "{} {}/{}",
                item["kind"].as_str().unwrap_or_default(),
                item["metadata"]["namespace"].as_str().unwrap_or_default(),
                item["metadata"]["name"].as_str().unwrap_or_default()
            ));
        }
    }
    found
}

#[test]
fn install_creates_every_object_and_uninstall_removes_them_but_not_the_crd() {
    let env = common::env();
    // The pod options too: installed, not only rendered.
    let mut values = vec![
        "--set".to_owned(),
        "podDisruptionBudget.enabled=true".to_owned(),
        "--set".to_owned(),
        "serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::123456789012:role/globalapi".to_owned(),
    ];
    values.extend(pod_options());
    let values: Vec<&str> = values.iter().map(String::as_str).collect();
    let mut release = Release::install(env, "helm-install", &values);
    let expected = names(&render(env, &release.name, &release.namespace, &values));
    let namespace = release.namespace.clone();
    assert_eq!(installed(env, &release, &[&namespace]), expected);
    let status = helm_ok(
        env,
        &["status", &release.name, "-n", &namespace, "-o", "json"],
    );
    let status: Value = serde_json::from_str(&status).expect("helm status json");
    assert_eq!(status["info"]["status"], "deployed");
    let notes = status["info"]["notes"].as_str().unwrap_or_default();
    assert!(
        notes.contains("deploy/iam-policy.json") && notes.contains("every namespace"),
        "{notes}"
    );
    let annotation = env.kubectl_ok(&[
        "get",
        "serviceaccount",
        &release.fullname(),
        "-n",
        &namespace,
        "-o",
        "jsonpath={.metadata.annotations.eks\\.amazonaws\\.com/role-arn}",
    ]);
    assert_eq!(annotation, "arn:aws:iam::123456789012:role/globalapi");
    let deployment: Value = serde_json::from_str(&env.kubectl_ok(&[
        "get",
        "deployment",
        &release.fullname(),
        "-n",
        &namespace,
        "-o",
        "json",
    ]))
    .expect("the Deployment as json");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["terminationGracePeriodSeconds"], 90);
    assert_eq!(
        pod["topologySpreadConstraints"][0]["topologyKey"],
        "topology.kubernetes.io/zone"
    );
    assert_eq!(pod["containers"][0]["securityContext"]["runAsUser"], 1000);
    assert!(
        pod["containers"][0]["image"]
            .as_str()
            .is_some_and(|i| i.ends_with(&"a".repeat(64))),
        "{pod:#}"
    );

    release.uninstall();
    assert_eq!(installed(env, &release, &[&namespace]), BTreeSet::new());
    env.kubectl_ok(&["get", "crd", "globalapis.globalapi.io"]);
}

// ---------------------------------------------------------------------------
// The operator with nothing but the chart's ServiceAccount.

/// A kubeconfig holding only a token of `serviceaccount` (server and CA
/// from the admin kubeconfig).
fn service_account_kubeconfig(
    env: &common::TestEnv,
    namespace: &str,
    serviceaccount: &str,
) -> PathBuf {
    let token = env.kubectl_ok(&[
        "create",
        "token",
        serviceaccount,
        "-n",
        namespace,
        "--duration=1h",
    ]);
    let admin: serde_norway::Value = serde_norway::from_str(
        &std::fs::read_to_string(&env.kubeconfig).expect("admin kubeconfig"),
    )
    .expect("admin kubeconfig parses");
    let cluster = &admin["clusters"][0]["cluster"];
    let server = cluster["server"].as_str().expect("server");
    let ca = cluster["certificate-authority-data"]
        .as_str()
        .expect("certificate-authority-data");
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": {"server": server, "certificate-authority-data": ca}}],
        "users": [{"name": serviceaccount, "user": {"token": token.trim()}}],
        "contexts": [{"name": "sa", "context": {"cluster": "test", "user": serviceaccount, "namespace": namespace}}],
        "current-context": "sa",
    });
    let dir = env.root.join("target/helm-test");
    std::fs::create_dir_all(&dir).expect("target/helm-test");
    let path = dir.join(format!("{namespace}-{serviceaccount}.kubeconfig"));
    std::fs::write(&path, serde_norway::to_string(&config).expect("yaml")).expect("kubeconfig");
    path
}

/// `globalapi run` with `kubeconfig`, logging to target/helm-test/LOG_NAME.log.
fn spawn_operator(
    env: &common::TestEnv,
    kubeconfig: &Path,
    args: &[&str],
    log_name: &str,
) -> Operator {
    Operator::spawn(
        env,
        kubeconfig,
        args,
        &[("NO_COLOR", "1")],
        "helm-test",
        log_name,
    )
}

/// Starts the operator watching `namespace` and waits until /readyz answers.
/// The Lease is the chart's: default name, in the release namespace.
fn start_operator(
    env: &common::TestEnv,
    kubeconfig: &Path,
    namespace: &str,
    lease_namespace: &str,
) -> Operator {
    let operator = spawn_operator(
        env,
        kubeconfig,
        &[
            "--namespace",
            namespace,
            "--leader-election-namespace",
            lease_namespace,
        ],
        namespace,
    );
    operator.wait_for_ok("/readyz", Duration::from_secs(60));
    operator
}

/// `kubectl auth can-i` as `user`.
fn can_i(env: &common::TestEnv, user: &str, args: &[&str]) -> bool {
    let mut all = vec!["auth", "can-i", "--as", user];
    all.extend_from_slice(args);
    let out = env.kubectl(&all);
    String::from_utf8_lossy(&out.stdout).trim() == "yes"
}

/// Applies a GlobalApi and waits until the operator has made it Ready, with
/// status, the finalizer and Events written by the ServiceAccount.
fn reconciles_to_ready(
    env: &common::TestEnv,
    operator: &Operator,
    namespace: &str,
    name: &str,
    zone: &str,
) {
    apply(env, &Manifest::latency(namespace, name, zone).yaml());
    operator.wait_ready(env, namespace, name, Duration::from_secs(180));
    let current = object(env, namespace, name).expect("the object");
    assert_eq!(current["metadata"]["finalizers"][0], "globalapi.io/cleanup");
    assert_eq!(current["status"]["readyRegions"], "2/2", "{current:#}");
    operator.wait_until("Created events", Duration::from_secs(30), || {
        event_reasons(env, namespace, name)
            .iter()
            .any(|r| r == "Created")
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn operator_with_the_chart_rbac_reconciles_and_reports_a_missing_rule() {
    let env = common::env();
    let mut release = Release::install(env, "helm-rbac", &[]);
    let namespace = release.namespace.clone();
    let sa = release.fullname();
    let user = format!("system:serviceaccount:{namespace}:{sa}");
    // A namespace of GlobalApis, other than the operator's own.
    let apps = env.namespace("helm-rbac-apps");
    assert!(can_i(
        env,
        &user,
        &["list", "globalapis.globalapi.io", "--all-namespaces"]
    ));
    assert!(can_i(
        env,
        &user,
        &["patch", "globalapis.globalapi.io/status", "-n", &apps]
    ));
    assert!(!can_i(
        env,
        &user,
        &["delete", "globalapis.globalapi.io", "-n", &apps]
    ));
    assert!(!can_i(env, &user, &["get", "secrets", "-n", &namespace]));
    assert!(can_i(
        env,
        &user,
        &[
            "update",
            "leases.coordination.k8s.io/globalapi-operator",
            "-n",
            &namespace
        ]
    ));
    assert!(!can_i(
        env,
        &user,
        &[
            "update",
            "leases.coordination.k8s.io/other",
            "-n",
            &namespace
        ]
    ));

    let zone = format!("helm-{}.example.com", common::unique_suffix());
    create_zone(&env.aws_clients().await, &zone).await;
    let kubeconfig = service_account_kubeconfig(env, &namespace, &sa);
    // Cluster-wide RBAC; --namespace keeps the operator off other tests' objects.
    let operator = start_operator(env, &kubeconfig, &apps, &namespace);
    let name = "payments";
    reconciles_to_ready(env, &operator, &apps, name, &zone);
    // It leads through the chart's Lease, in the release namespace.
    let holder = env.kubectl_ok(&[
        "get",
        "lease",
        "globalapi-operator",
        "-n",
        &namespace,
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ]);
    assert!(!holder.trim().is_empty(), "the Lease names no holder");

    // Take the Events rules out of the ClusterRole.
    let role = env.kubectl_ok(&["get", "clusterrole", &sa, "-o", "json"]);
    let mut role: Value = serde_json::from_str(&role).expect("clusterrole json");
    let rules = role["rules"].as_array_mut().expect("rules");
    rules.retain(|r| {
        !r["resources"]
            .as_array()
            .is_some_and(|res| res.iter().any(|x| x == "events"))
    });
    let out = env.kubectl_with_input(&["replace", "-f", "-"], Some(&role.to_string()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::wait_until(Duration::from_secs(30), || {
        !can_i(env, &user, &["create", "events.events.k8s.io", "-n", &apps])
    });

    // A spec change makes an AWS change, hence an Event the operator may not create.
    set_failure_threshold(env, &apps, name, 5);
    operator.wait_until(
        "a log line naming the forbidden verb and resource",
        Duration::from_secs(120),
        || {
            operator.logs().lines().any(|l| {
                let l = l.replace('\\', "");
                l.contains("publishing events failed")
                    && l.contains(r#"cannot create resource "events" in API group "events.k8s.io""#)
            })
        },
    );
    assert!(
        operator.metric("globalapi_event_publish_failures_total") > 0,
        "the refused Events are counted"
    );
    // The missing permission costs the Events only: status is still written.
    operator.wait_until(
        "Ready=True for generation 2",
        Duration::from_secs(120),
        || object(env, &apps, name).is_some_and(|o| ready(&o) && o["metadata"]["generation"] == 2),
    );
    operator.delete_and_wait_gone(env, &apps, name, Duration::from_secs(180));
    drop(operator);
    release.uninstall();
    let _ = env.kubectl(&["delete", "namespace", &apps, "--wait=false"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn namespaced_mode_manages_the_watched_namespace_only() {
    let env = common::env();
    env.install_crd();
    let watched = env.namespace("helm-watched");
    let other = env.namespace("helm-other");
    let watch_values = format!(r#"watchNamespaces=["{watched}"]"#);
    let release = Release::install(env, "helm-ns", &["--set-json", &watch_values]);
    let namespace = release.namespace.clone();
    let sa = release.fullname();
    let user = format!("system:serviceaccount:{namespace}:{sa}");
    assert!(can_i(
        env,
        &user,
        &["watch", "globalapis.globalapi.io", "-n", &watched]
    ));
    assert!(can_i(
        env,
        &user,
        &["create", "events.events.k8s.io", "-n", &watched]
    ));
    assert!(!can_i(
        env,
        &user,
        &["list", "globalapis.globalapi.io", "-n", &other]
    ));
    assert!(!can_i(
        env,
        &user,
        &["list", "globalapis.globalapi.io", "--all-namespaces"]
    ));
    assert!(!can_i(
        env,
        &user,
        &["create", "events.events.k8s.io", "-n", &other]
    ));
    let deployment = env.kubectl_ok(&["get", "deployment", &sa, "-n", &namespace, "-o", "json"]);
    let deployment: Value = serde_json::from_str(&deployment).expect("deployment json");
    assert_eq!(
        args(&deployment),
        [
            "run",
            "--metrics-addr",
            "0.0.0.0:8080",
            "--shared-listing-seconds",
            "30",
            "--max-concurrent-reconciles",
            "10",
            "--shutdown-grace-seconds",
            "30",
            "--aws-budget-share",
            "1",
            "--namespace",
            watched.as_str(),
            "--leader-election-namespace",
            namespace.as_str(),
            "--leader-election-lease",
            "globalapi-operator"
        ]
    );

    let kubeconfig = service_account_kubeconfig(env, &namespace, &sa);
    // Without --namespace the operator may not list every namespace: it says so and stops.
    let wide = spawn_operator(
        env,
        &kubeconfig,
        &["--leader-election-namespace", &namespace],
        &format!("{namespace}-cluster-wide"),
    );
    let start = Instant::now();
    let status = loop {
        if let Some(status) = wide.try_wait() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "globalapi run without --namespace kept running with namespaced RBAC:\n{}",
            wide.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let logs = wide.logs();
    assert!(!status.success(), "{logs}");
    assert!(
        logs.contains("forbidden") && logs.contains("cannot list resource \"globalapis\""),
        "{logs}"
    );
    drop(wide);

    let suffix = common::unique_suffix();
    let zone = format!("helm-ns-{suffix}.example.com");
    let other_zone = format!("helm-other-{suffix}.example.com");
    create_zone(&env.aws_clients().await, &zone).await;
    create_zone(&env.aws_clients().await, &other_zone).await;
    let operator = start_operator(env, &kubeconfig, &watched, &namespace);
    apply(
        env,
        &Manifest::latency(&other, "ignored", &other_zone).yaml(),
    );
    reconciles_to_ready(env, &operator, &watched, "managed", &zone);
    // By the time the watched one is Ready, the other one is untouched.
    let ignored = object(env, &other, "ignored").expect("the other object");
    assert!(ignored["status"].is_null(), "{ignored:#}");
    assert!(ignored["metadata"]["finalizers"].is_null(), "{ignored:#}");
    assert!(event_reasons(env, &other, "ignored").is_empty());
    operator.delete_and_wait_gone(env, &watched, "managed", Duration::from_secs(180));
    for ns in [&watched, &other] {
        let _ = env.kubectl(&["delete", "namespace", ns, "--wait=false"]);
    }
}

#[test]
fn tenancy_brings_the_admission_policy_the_flag_and_the_rbac_together() {
    let env = common::env();
    let kinds = |docs: &[Value]| -> Vec<String> {
        docs.iter()
            .filter_map(|d| d["kind"].as_str().map(str::to_owned))
            .collect()
    };
    let args_of = |docs: &[Value]| -> Vec<String> {
        docs.iter()
            .find(|d| d["kind"] == "Deployment")
            .and_then(|d| {
                d["spec"]["template"]["spec"]["containers"][0]["args"]
                    .as_array()
                    .cloned()
            })
            .unwrap_or_default()
            .iter()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect()
    };
    let grants_policies = |docs: &[Value]| {
        docs.iter()
            .filter(|d| d["kind"] == "ClusterRole" || d["kind"] == "Role")
            .flat_map(|d| d["rules"].as_array().cloned().unwrap_or_default())
            .any(|r| {
                r["resources"]
                    .as_array()
                    .is_some_and(|res| res.iter().any(|x| x == "globalapipolicies"))
            })
    };

    let off = render(env, "tn", "ops", &[]);
    assert!(
        !kinds(&off)
            .iter()
            .any(|k| k.starts_with("ValidatingAdmissionPolicy"))
    );
    assert!(!args_of(&off).iter().any(|a| a == "--tenancy-policies"));
    assert!(!grants_policies(&off));

    let on = render(env, "tn", "ops", &["--set", "tenancy.enabled=true"]);
    let on_kinds = kinds(&on);
    assert!(
        on_kinds.iter().any(|k| k == "ValidatingAdmissionPolicy"),
        "{on_kinds:?}"
    );
    assert!(
        on_kinds
            .iter()
            .any(|k| k == "ValidatingAdmissionPolicyBinding"),
        "{on_kinds:?}"
    );
    assert!(args_of(&on).iter().any(|a| a == "--tenancy-policies"));
    assert!(
        grants_policies(&on),
        "the operator may read the policies it checks"
    );
    let binding = on
        .iter()
        .find(|d| d["kind"] == "ValidatingAdmissionPolicyBinding")
        .expect("the binding");
    assert_eq!(
        binding["spec"]["paramRef"]["parameterNotFoundAction"],
        "Deny"
    );
}

/// The metric families the operator serves, as `/metrics` names them
/// (a histogram's samples too).
fn served_metric_names() -> BTreeSet<String> {
    use globalapi::controller::metrics::{Metrics, ObjectState, Readings};
    let served = Metrics::default();
    // Families without a series are not on the page: give each one.
    served.set_crd_current(true);
    served.object("ns", "name", ObjectState::default());
    served.failed("AwsError");
    let mut readings = Readings::default();
    let key = ("s".to_owned(), "o".to_owned());
    readings.calls.0.insert(key.clone(), 1);
    readings.outcomes.latency.insert(key, Default::default());
    readings
        .outcomes
        .errors
        .insert(("s".into(), "o".into(), "c".into()), 1);
    readings
        .admissions
        .push((("s".into(), "o".into(), "now"), 1));
    readings.watches.push(("ns".into(), true));
    let text = served.encode(readings);
    let mut names = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let (name, kind) = (parts.next().unwrap_or_default(), parts.next());
            names.insert(name.to_owned());
            if kind == Some("histogram") {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{suffix}"));
                }
            }
        }
    }
    names
}

/// The `globalapi_…` metric names a PromQL expression reads, after
/// checking that it parses.
fn metrics_of(expr: &str) -> BTreeSet<String> {
    if let Err(e) = promql_parser::parser::parse(expr) {
        panic!("{expr:?} is not PromQL: {e}");
    }
    let mut names = BTreeSet::new();
    let mut rest = expr;
    while let Some(at) = rest.find("globalapi_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

/// The alert rules and the dashboard parse as PromQL and read only metrics
/// the operator serves; each alert says what to do.
#[test]
fn alert_rules_and_dashboard_are_valid_promql_on_the_operators_metrics() {
    let env = common::env();
    let served = served_metric_names();
    let docs = render(
        env,
        "ga",
        "ops",
        &[
            "--set",
            "metrics.prometheusRule.enabled=true",
            "--set",
            "metrics.dashboard.enabled=true",
        ],
    );
    let rule = find(&docs, "PrometheusRule", "ga-globalapi-operator");
    let rules = rule["spec"]["groups"][0]["rules"]
        .as_array()
        .expect("rules");
    let alerts: BTreeSet<&str> = rules.iter().filter_map(|r| r["alert"].as_str()).collect();
    for wanted in [
        "GlobalApiOperatorDown",
        "GlobalApiNotReady",
        "GlobalApiDriftedTooLong",
        "GlobalApiDegraded",
        "GlobalApiReconcileErrorsRising",
        "GlobalApiAwsBudgetDeferring",
        "GlobalApiAwsThrottling",
    ] {
        assert!(alerts.contains(wanted), "no {wanted}: {alerts:?}");
    }
    for r in rules {
        let expr = r["expr"].as_str().expect("expr");
        let names = metrics_of(expr);
        assert!(!names.is_empty(), "{expr} reads no operator metric");
        for name in names {
            assert!(
                served.contains(&name),
                "{expr}: the operator serves no {name}"
            );
        }
        assert!(
            r["annotations"]["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{r}"
        );
    }

    let config_map = find(&docs, "ConfigMap", "ga-globalapi-operator-dashboard");
    assert_eq!(config_map["metadata"]["labels"]["grafana_dashboard"], "1");
    let dashboard: Value = serde_json::from_str(
        config_map["data"]["globalapi-operator.json"]
            .as_str()
            .expect("the dashboard"),
    )
    .expect("the dashboard is JSON");
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(panels.len() >= 8);
    for panel in panels {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            for name in metrics_of(expr) {
                assert!(
                    served.contains(&name),
                    "{expr}: the operator serves no {name}"
                );
            }
        }
    }
}

/// The keys of values.yaml, as dotted paths: every mapping key at any depth.
fn value_paths(value: &serde_norway::Value, prefix: &str, out: &mut BTreeSet<String>) {
    if let serde_norway::Value::Mapping(map) = value {
        for (key, child) in map {
            let Some(key) = key.as_str() else { continue };
            let path = if prefix.is_empty() {
                key.to_owned()
            } else {
                format!("{prefix}.{key}")
            };
            out.insert(path.clone());
            value_paths(child, &path, out);
        }
    }
}

/// The keys of values.yaml that carry a `# --` comment, in file order,
/// with that comment as one line. Plain `#` comments are not documentation.
fn documented_values(text: &str) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut comment: Option<String> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim();
        if let Some(start) = trimmed.strip_prefix("# --") {
            comment = Some(start.trim().to_owned());
            continue;
        }
        if let Some(more) = trimmed.strip_prefix('#') {
            if let Some(c) = comment.as_mut() {
                c.push(' ');
                c.push_str(more.trim());
            }
            continue;
        }
        let key = trimmed
            .split_once(':')
            .map(|(k, _)| k)
            .filter(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        let Some(key) = key else {
            comment = None;
            continue;
        };
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        stack.push((indent, key.to_owned()));
        if let Some(c) = comment.take() {
            let path: Vec<&str> = stack.iter().map(|(_, k)| k.as_str()).collect();
            rows.push((path.join("."), c));
        }
    }
    rows
}

/// A schema's type for the table: `A`/`B` for an enum, a range when bounded.
fn schema_type(schema: &Value) -> String {
    if let Some(values) = schema["enum"].as_array() {
        let names: Vec<String> = values
            .iter()
            .map(|v| {
                v.as_str()
                    .map_or_else(|| v.to_string(), |s| format!("`{s}`"))
            })
            .collect();
        return names.join("/");
    }
    let kind = match &schema["type"] {
        Value::String(s) => s.clone(),
        Value::Array(kinds) => kinds
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => String::new(),
    };
    match (schema["minimum"].as_f64(), schema["maximum"].as_f64()) {
        (Some(min), Some(max)) => format!("{kind} {min}–{max}"),
        (Some(min), None) => format!("{kind} ≥ {min}"),
        _ if schema["exclusiveMinimum"].is_number() => format!(
            "{kind} ({}, {}]",
            schema["exclusiveMinimum"], schema["maximum"]
        ),
        _ => kind,
    }
}

/// The chart README's values table, made from values.yaml: a row per key
/// with a `# --` comment (its default, its type in values.schema.json).
fn values_table(values_text: &str, schema: &Value) -> String {
    let values: Value = serde_norway::from_str(values_text).expect("values.yaml parses");
    let mut table =
        String::from("| key | type | default | description |\n| --- | --- | --- | --- |\n");
    for (path, comment) in documented_values(values_text) {
        let mut value = &values;
        let mut node = schema;
        for key in path.split('.') {
            value = &value[key];
            node = &node["properties"][key];
        }
        let default = serde_json::to_string(value).expect("a default");
        table.push_str(&format!(
            "| `{path}` | {} | `{default}` | {} |\n",
            schema_type(node),
            comment.replace('|', "\\|")
        ));
    }
    table
}

const TABLE_START: &str = "<!-- values table: made from values.yaml by `make chart-docs` -->\n";
const TABLE_END: &str = "<!-- end of values table -->";

/// The chart README's values table is made from values.yaml's `# --`
/// comments, and every value is documented (itself or through a documented
/// parent, for maps such as `resources`). `make chart-docs` writes it.
#[test]
fn the_values_table_is_made_from_values_yaml_and_documents_every_value() {
    let chart = chart();
    let values_text = std::fs::read_to_string(chart.join("values.yaml")).expect("values.yaml");
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(chart.join("values.schema.json")).expect("the schema"),
    )
    .expect("the schema parses");
    let values: serde_norway::Value =
        serde_norway::from_str(&values_text).expect("values.yaml parses");
    let mut paths = BTreeSet::new();
    value_paths(&values, "", &mut paths);
    let documented: BTreeSet<String> = documented_values(&values_text)
        .into_iter()
        .map(|(path, _)| path)
        .collect();
    let covered = |path: &str| {
        documented.contains(path)
            || documented
                .iter()
                .any(|d| path.starts_with(&format!("{d}.")))
    };
    let undocumented: Vec<&String> = paths
        .iter()
        .filter(|p| !covered(p) && !documented.iter().any(|d| d.starts_with(&format!("{p}."))))
        .collect();
    assert!(
        undocumented.is_empty(),
        "values.yaml keys without a `# --` comment (on them or a parent): {undocumented:?}"
    );

    let table = values_table(&values_text, &schema);
    let readme_path = chart.join("README.md");
    let readme = std::fs::read_to_string(&readme_path).expect("README.md");
    let (before, rest) = readme
        .split_once(TABLE_START)
        .expect("the table's start marker");
    let (_, after) = rest.split_once(TABLE_END).expect("the table's end marker");
    let made = format!("{before}{TABLE_START}{table}{TABLE_END}{after}");
    if std::env::var_os("WRITE_VALUES_TABLE").is_some() {
        std::fs::write(&readme_path, &made).expect("writing README.md");
    } else {
        assert!(
            made == readme,
            "the chart README's values table differs from values.yaml: run `make chart-docs`\n{table}"
        );
    }
}

/// `helm test`'s pod asks the operator's /readyz through the Service (Ready
/// means the CRD is served and watched with the chart's RBAC); the API
/// server takes it (dry run: this environment has no kubelet to run it).
#[test]
fn helm_test_asks_the_operator_for_readyz_through_its_service() {
    let env = common::env();
    let chart = chart();
    let namespace = env.namespace("chart-test");
    let text = helm_ok(
        env,
        &[
            "template",
            "ga",
            common::path_str(&chart),
            "--namespace",
            &namespace,
            "--show-only",
            "templates/tests/readyz.yaml",
        ],
    );
    let docs = documents(&text);
    let pod = find(&docs, "Pod", "ga-globalapi-operator-test-readyz");
    assert_eq!(pod["metadata"]["annotations"]["helm.sh/hook"], "test");
    let command = pod["spec"]["containers"][0]["command"]
        .as_array()
        .expect("command");
    assert_eq!(
        command.last().and_then(Value::as_str),
        Some(format!("http://ga-globalapi-operator-metrics.{namespace}.svc:8080/readyz").as_str())
    );
    let service = render(env, "ga", &namespace, &[])
        .into_iter()
        .find(|d| d["kind"] == "Service")
        .expect("the metrics Service");
    assert_eq!(service["metadata"]["name"], "ga-globalapi-operator-metrics");
    // What a cluster's controller-manager would have made.
    env.kubectl_ok(&["create", "serviceaccount", "default", "-n", &namespace]);
    let dry_run = env.kubectl_with_input(
        &["apply", "--dry-run=server", "-n", &namespace, "-f", "-"],
        Some(&text),
    );
    assert!(
        dry_run.status.success(),
        "{}",
        String::from_utf8_lossy(&dry_run.stderr)
    );
}
