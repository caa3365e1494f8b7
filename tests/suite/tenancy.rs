//! Tenancy policies: the chart's ValidatingAdmissionPolicy admits a
//! GlobalApi only if the GlobalApiPolicies of its namespace allow it (and
//! none without a policy), and the operator, started with
//! `--tenancy-policies`, refuses with the same words when a policy is
//! tightened after admission, without touching AWS; deletion still cleans up.
//!
//! Each test renders the admission policy with `helm template` for its own
//! namespaces only, so other tests never meet it.

use std::time::Duration;

use crate::common::{
    self, Setup, TestEnv,
    objects::{Manifest, apply, event_notes, message, object, observed, reason, target_of},
    operator::Operator,
    owned::owned,
    unique_suffix, wait_until,
};
use globalapi::{api::GlobalApi, tenancy};

const TIMEOUT: Duration = Duration::from_secs(120);

/// The admission policy and binding of release `release`, bound to `namespaces`.
fn admission_policy(env: &TestEnv, release: &str, namespaces: &[&str]) -> String {
    let watched = format!("watchNamespaces={{{}}}", namespaces.join(","));
    env.helm_ok(&[
        "template",
        release,
        "charts/globalapi-operator",
        "--set",
        "tenancy.enabled=true",
        "--set",
        &watched,
        "--show-only",
        "templates/tenancy.yaml",
    ])
}

/// Installs the admission policy for `namespaces`; removed when dropped.
struct AdmissionPolicy<'a> {
    env: &'a TestEnv,
    yaml: String,
}

impl<'a> AdmissionPolicy<'a> {
    fn install(env: &'a TestEnv, namespaces: &[&str]) -> Self {
        let release = format!("tenancy-{}", unique_suffix());
        let yaml = admission_policy(env, &release, namespaces);
        let out = env.kubectl_with_input(&["apply", "-f", "-"], Some(&yaml));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self { env, yaml }
    }
}

impl Drop for AdmissionPolicy<'_> {
    fn drop(&mut self) {
        let _ = self.env.kubectl_with_input(
            &["delete", "--ignore-not-found", "-f", "-"],
            Some(&self.yaml),
        );
    }
}

/// The policy of the tests: the zone, `api.` names in it, HTTP backends
/// under `backend.example.com`, Lambda functions of one account or named
/// `team-a-*` in another, two regions of three, small databases.
fn policy(namespace: &str, zone: &str, backend_hosts: &str) -> String {
    format!(
        r#"apiVersion: globalapi.io/v1alpha1
kind: GlobalApiPolicy
metadata: {{name: team-a, namespace: {namespace}}}
spec:
  hostedZones: [{zone}]
  domainSuffixes: [api.{zone}]
  lambdaAccounts: ["123456789012"]
  lambdaFunctions: ["arn:aws:lambda:*:210987654321:function:team-a-*"]
  backendHosts: [{backend_hosts}]
  maxRegions: 2
  regions: [us-east-1, eu-west-1, ap-southeast-2]
  database: {{instanceClasses: [db.r6g.large], maxInstancesPerRegion: 2, maxTables: 1}}
"#
    )
}

/// `kubectl apply --dry-run=server` of `manifest`: `Ok` when admitted,
/// `Err` with the API server's message when refused.
fn admitted(env: &TestEnv, manifest: &str) -> Result<(), String> {
    let out = env.kubectl_with_input(&["apply", "--dry-run=server", "-f", "-"], Some(manifest));
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn spec_of(manifest: &str) -> globalapi::api::GlobalApiSpec {
    serde_norway::from_str::<GlobalApi>(manifest)
        .expect("a GlobalApi manifest")
        .spec
}

#[tokio::test(flavor = "multi_thread")]
async fn admission_and_the_operator_refuse_the_same_specs_with_the_same_words() {
    let Setup {
        env,
        namespace,
        zone,
        ..
    } = common::setup("tenancy-admission", "tad").await;
    let bare = env.namespace("tenancy-bare");
    let _admission = AdmissionPolicy::install(env, &[&namespace, &bare]);
    apply(env, &policy(&namespace, &zone, "\"*.backend.example.com\""));
    let base = Manifest::latency(&namespace, "api", &zone).yaml();

    // The binding takes a moment to see the policy: a refused name shows it works.
    let other_name = base.replace(
        &format!("domain: api.{zone}"),
        &format!("domain: www.{zone}"),
    );
    wait_until(Duration::from_secs(60), || {
        admitted(env, &other_name).is_err()
    });

    let http = "httpUrl: \"https://eu-west-1.backend.example.com\"";
    let cases: Vec<(&str, String)> = vec![
        ("allowed", base.clone()),
        ("a name outside the suffixes", other_name.clone()),
        (
            "another zone",
            base.replace(&format!("domain: api.{zone}"), "domain: api.other-zone.example.net")
                .replace(&format!("hostedZone: {{name: {zone}}}"), "hostedZone: {name: other-zone.example.net}"),
        ),
        (
            "an edge origin outside the suffixes",
            base.replace("edge: {enabled: false}", &format!("edge: {{enabled: true, originDomain: origin.{zone}}}")),
        ),
        (
            "three regions",
            base.replace("  api:\n", "    - {name: ap-southeast-2, backend: {httpUrl: \"https://ap.backend.example.com\"}}\n  api:\n"),
        ),
        (
            "a region outside the list",
            base.replace("name: eu-west-1, backend", "name: eu-central-1, backend"),
        ),
        (
            "a backend host outside the patterns",
            base.replace(http, "httpUrl: \"https://backend.example.org\""),
        ),
        (
            "a Lambda function of the allowed account",
            base.replace(http, "lambdaArn: \"arn:aws:lambda:eu-west-1:123456789012:function:any\""),
        ),
        (
            "a Lambda function matching the pattern",
            base.replace(http, "lambdaArn: \"arn:aws:lambda:eu-west-1:210987654321:function:team-a-orders\""),
        ),
        (
            "a Lambda function of another account",
            base.replace(http, "lambdaArn: \"arn:aws:lambda:eu-west-1:210987654321:function:team-b-orders\""),
        ),
        (
            "an edge function of another account",
            base.replace(
                "edge: {enabled: false}",
                "edge: {enabled: true, lambdaAssociations: [{eventType: viewer-request, arn: \"arn:aws:lambda:us-east-1:999999999999:function:rewrite:3\"}]}",
            ),
        ),
        (
            "an allowed database",
            format!("{base}  database: {{aurora: {{globalClusterIdentifier: orders, engine: aurora-postgresql, engineVersion: \"16.4\", primaryRegion: us-east-1, instanceClass: db.r6g.large, instancesPerRegion: 2}}}}\n"),
        ),
        (
            "a database of another class",
            format!("{base}  database: {{aurora: {{globalClusterIdentifier: orders, engine: aurora-postgresql, engineVersion: \"16.4\", primaryRegion: us-east-1, instanceClass: db.r5.24xlarge}}}}\n"),
        ),
        (
            "an allowed table",
            format!("{base}  database: {{dynamodb: {{tables: [{{name: rates, partitionKey: {{name: pair, type: String}}}}]}}}}\n"),
        ),
        (
            "a table too many",
            format!("{base}  database: {{dynamodb: {{tables: [{{name: rates, partitionKey: {{name: pair, type: String}}}}, {{name: fees, partitionKey: {{name: id, type: String}}}}]}}}}\n"),
        ),
        (
            "a database with too many instances",
            format!("{base}  database: {{aurora: {{globalClusterIdentifier: orders, engine: aurora-postgresql, engineVersion: \"16.4\", primaryRegion: us-east-1, instanceClass: db.r6g.large, instancesPerRegion: 5}}}}\n"),
        ),
    ];
    let policies: Vec<globalapi::api::GlobalApiPolicy> = {
        let api: kube::Api<globalapi::api::GlobalApiPolicy> =
            kube::Api::namespaced(env.kube_client().await, &namespace);
        api.list(&Default::default())
            .await
            .expect("listing policies")
            .items
    };
    let mut refused = 0;
    for (what, manifest) in &cases {
        let ours = tenancy::refusals(&namespace, &policies, &spec_of(manifest));
        match admitted(env, manifest) {
            Ok(()) => assert!(
                ours.is_empty(),
                "{what}: admitted, but the operator refuses: {ours:?}"
            ),
            Err(message) => {
                assert!(
                    message.contains("ValidatingAdmissionPolicy")
                        && message.contains("denied request"),
                    "{what}: refused, but not by the tenancy policy: {message}"
                );
                let first = ours.first().unwrap_or_else(|| {
                    panic!("{what}: refused at admission, allowed by the operator: {message}")
                });
                assert!(
                    message.contains(first.as_str()),
                    "{what}: the API server says\n  {message}\nthe operator says\n  {first}"
                );
                assert!(
                    message.contains(&format!("GlobalApiPolicy {namespace}/team-a")),
                    "{message}"
                );
                refused += 1;
            }
        }
    }
    assert_eq!(
        refused, 11,
        "every case but the five allowed ones is refused"
    );

    // A namespace without a policy gets nothing, at admission and in the operator.
    let in_bare = Manifest::latency(&bare, "api", &zone).yaml();
    let message = admitted(env, &in_bare).expect_err("no policy: refused");
    assert!(message.contains("no params found"), "{message}");
    let ours = tenancy::refusals(&bare, &[], &spec_of(&in_bare));
    assert!(
        ours[0].contains(&format!("namespace {bare} has no GlobalApiPolicy")),
        "{ours:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_tightened_after_admission_stops_the_operator_before_aws_but_not_deletion() {
    let Setup {
        env,
        clients,
        namespace,
        zone,
    } = common::setup("tenancy-operator", "top").await;
    let _admission = AdmissionPolicy::install(env, &[&namespace]);
    apply(env, &policy(&namespace, &zone, "\"*.backend.example.com\""));
    let name = "api";
    let manifest = Manifest::latency(&namespace, name, &zone).yaml();
    wait_until(Duration::from_secs(60), || admitted(env, &manifest).is_ok());
    let operator = Operator::spawn(
        env,
        &env.kubeconfig,
        &["--namespace", &namespace, "--tenancy-policies"],
        &[],
        "tenancy-test",
        &namespace,
    );
    operator.wait_for_ok("/readyz", Duration::from_secs(30));
    apply(env, &manifest);
    operator.wait_ready(env, &namespace, name, TIMEOUT);
    let target = target_of(env, &namespace, name).await;
    let regions = ["us-east-1", "eu-west-1"];
    let made = owned(&clients, &target, &regions).await;
    assert!(!made.is_empty());

    // The platform team moves the backends elsewhere: the GlobalApi, admitted
    // before, is refused by the operator at once (the policy watch), naming
    // the policy and the field, and AWS is left exactly as it was.
    apply(
        env,
        &policy(&namespace, &zone, "\"*.new-backends.example.com\""),
    );
    operator.wait_until("the refusal in status", TIMEOUT, || {
        object(env, &namespace, name).is_some_and(|o| reason(&o, "Ready") == "PolicyViolation")
    });
    let refused = observed(env, &namespace, name).expect("the object");
    let message = message(&refused, "Ready");
    assert!(
        message.contains("spec.regions[].backend.httpUrl")
            && message.contains(&format!("GlobalApiPolicy {namespace}/team-a")),
        "{message}"
    );
    let notes = event_notes(env, &namespace, name, "PolicyViolation");
    assert!(
        notes
            .iter()
            .any(|n| n.contains("spec.regions[].backend.httpUrl")),
        "{notes:?}"
    );
    let calls = operator.aws_calls();
    // Another look (the policy touched again) still makes no AWS call.
    // (A second later, so that lastSyncTime, in seconds, shows the pass.)
    std::thread::sleep(Duration::from_millis(1100));
    env.kubectl_ok(&[
        "label",
        "globalapipolicy",
        "team-a",
        "-n",
        &namespace,
        "touched=yes",
    ]);
    let synced = refused["status"]["lastSyncTime"].clone();
    operator.wait_until("a second refusing pass", TIMEOUT, || {
        object(env, &namespace, name).is_some_and(|o| o["status"]["lastSyncTime"] != synced)
    });
    assert_eq!(
        operator.aws_calls(),
        calls,
        "a refused GlobalApi costs no AWS call"
    );
    assert_eq!(
        owned(&clients, &target, &regions).await,
        made,
        "AWS unchanged"
    );

    // Deletion is never held back: what the GlobalApi owns is removed.
    operator.delete_and_wait_gone(env, &namespace, name, TIMEOUT);
    assert!(
        owned(&clients, &target, &regions).await.is_empty(),
        "nothing left behind"
    );
}
