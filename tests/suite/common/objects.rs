//! GlobalApi objects in the API server, through kubectl: the manifests the
//! operator tests apply, the objects as JSON, their conditions and Events.

use globalapi::{api::GlobalApi, target::Target};
use kube::Api;
use serde_json::Value;

use super::TestEnv;

/// The two regions of the tests' GlobalApis.
pub const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

/// [`REGIONS`], none in maintenance.
pub const SERVING: [(&str, bool); 2] = [(REGIONS[0], false), (REGIONS[1], false)];

/// A GlobalApi manifest: one HTTP backend per region, named after it, a
/// health check on /health every 30 s with threshold 3, stage `v1`, a
/// 30-second resync.
pub struct Manifest<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    /// The hosted zone; the domain is `api.{zone}`.
    pub zone: &'a str,
    /// `spec.routing`, as YAML.
    pub routing: &'a str,
    /// (region, in maintenance), in spec order.
    pub regions: &'a [(&'a str, bool)],
    /// CloudFront in front.
    pub edge: bool,
    /// X-Ray on the stage.
    pub tracing: bool,
    /// More lines of `spec`.
    pub extra: &'a str,
}

impl<'a> Manifest<'a> {
    /// [`REGIONS`] with latency routing, no edge, no tracing.
    pub fn latency(namespace: &'a str, name: &'a str, zone: &'a str) -> Self {
        Self {
            namespace,
            name,
            zone,
            routing: "{policy: Latency}",
            regions: &SERVING,
            edge: false,
            tracing: false,
            extra: "",
        }
    }

    pub fn yaml(&self) -> String {
        let Self {
            namespace,
            name,
            zone,
            routing,
            extra,
            ..
        } = self;
        let regions: String = self
            .regions
            .iter()
            .map(|(r, maintenance)| {
                let drained = if *maintenance {
                    ", maintenance: true"
                } else {
                    ""
                };
                format!(
                    "    - {{name: {r}, backend: {{httpUrl: \"https://{r}.backend.example.com\"}}{drained}}}\n"
                )
            })
            .collect();
        let tracing = if self.tracing {
            "    tracing: true\n"
        } else {
            ""
        };
        let edge = self.edge;
        format!(
            r#"apiVersion: globalapi.io/v1alpha1
kind: GlobalApi
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  domain: api.{zone}
  hostedZone: {{name: {zone}}}
  routing: {routing}
  regions:
{regions}  api:
    stageName: v1
{tracing}    healthCheck: {{path: /health, intervalSeconds: 30, failureThreshold: 3}}
  edge: {{enabled: {edge}}}
  resyncSeconds: 30
{extra}"#
        )
    }
}

/// `kubectl apply -f -` of `manifest`, which must succeed.
pub fn apply(env: &TestEnv, manifest: &str) {
    let out = env.kubectl_with_input(&["apply", "-f", "-"], Some(manifest));
    assert!(
        out.status.success(),
        "kubectl apply: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether `status.drift` lists `field` with `action` (`Corrected`, `Reported`).
pub fn drift_entry(object: &Value, field: &str, action: &str) -> bool {
    object["status"]["drift"].as_array().is_some_and(|d| {
        d.iter()
            .any(|e| e["field"] == field && e["action"] == action)
    })
}

/// A JSON merge patch of the GlobalApi, which must be accepted.
pub fn merge_patch(env: &TestEnv, namespace: &str, name: &str, patch: &str) {
    env.kubectl_ok(&[
        "patch",
        "globalapi",
        name,
        "-n",
        namespace,
        "--type",
        "merge",
        "-p",
        patch,
    ]);
}

/// A spec change the operator carries to AWS: the health checks' failure
/// threshold.
pub fn set_failure_threshold(env: &TestEnv, namespace: &str, name: &str, threshold: u32) {
    let patch =
        format!(r#"{{"spec":{{"api":{{"healthCheck":{{"failureThreshold":{threshold}}}}}}}}}"#);
    merge_patch(env, namespace, name, &patch);
}

/// `kubectl get KIND NAME -n NAMESPACE -o json`, or `None` once it is gone.
pub fn get_json(env: &TestEnv, kind: &str, namespace: &str, name: &str) -> Option<Value> {
    let out = env.kubectl(&["get", kind, name, "-n", namespace, "-o", "json"]);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("NotFound"), "kubectl get {kind} failed: {err}");
        return None;
    }
    Some(serde_json::from_slice(&out.stdout).expect("kubectl json"))
}

/// The GlobalApi as JSON, or `None` once it is gone.
pub fn object(env: &TestEnv, namespace: &str, name: &str) -> Option<Value> {
    get_json(env, "globalapi", namespace, name)
}

/// The condition of type `kind` in the object's status.
pub fn condition<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

/// Whether the condition of type `kind` is True.
pub fn is_true(object: &Value, kind: &str) -> bool {
    condition(object, kind).is_some_and(|c| c["status"] == "True")
}

/// Ready=True for the object's current generation.
pub fn ready(object: &Value) -> bool {
    is_true(object, "Ready")
        && object["status"]["observedGeneration"] == object["metadata"]["generation"]
}

/// The reconcile target of the GlobalApi as the API server has it (uid included).
pub async fn target_of(env: &TestEnv, namespace: &str, name: &str) -> Target {
    let api: Api<GlobalApi> = Api::namespaced(env.kube_client().await, namespace);
    let object = api.get(name).await.expect("the GlobalApi");
    Target::from_object(&object).expect("target")
}

/// The events.k8s.io Events about `name`.
pub fn events(env: &TestEnv, namespace: &str, name: &str) -> Vec<Value> {
    let out = env.kubectl_ok(&[
        "get",
        "events.v1.events.k8s.io",
        "-n",
        namespace,
        "-o",
        "json",
    ]);
    let list: Value = serde_json::from_str(&out).expect("events json");
    list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter(|e| e["regarding"]["name"] == name)
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// The notes of the Events about `name` with `reason`.
pub fn event_notes(env: &TestEnv, namespace: &str, name: &str, reason: &str) -> Vec<String> {
    events(env, namespace, name)
        .iter()
        .filter(|e| e["reason"] == reason)
        .map(|e| e["note"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The reasons of the Events about `name`.
pub fn event_reasons(env: &TestEnv, namespace: &str, name: &str) -> Vec<String> {
    events(env, namespace, name)
        .iter()
        .filter_map(|e| e["reason"].as_str().map(str::to_owned))
        .collect()
}

/// The REST API ids the status reports, by region.
pub fn rest_api_ids(object: &Value) -> Vec<(String, String)> {
    object["status"]["regions"]
        .as_array()
        .map(|regions| {
            regions
                .iter()
                .filter_map(|r| {
                    Some((
                        r["name"].as_str()?.to_owned(),
                        r["restApiId"].as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The object once its status describes its current generation.
pub fn observed(env: &TestEnv, namespace: &str, name: &str) -> Option<Value> {
    object(env, namespace, name).filter(|o| {
        !o["status"]["observedGeneration"].is_null()
            && o["status"]["observedGeneration"] == o["metadata"]["generation"]
    })
}

/// The message of the condition of type `kind` ("" without one).
pub fn message(object: &Value, kind: &str) -> String {
    condition(object, kind)
        .and_then(|c| c["message"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// The reason of the condition of type `kind` ("" without one).
pub fn reason(object: &Value, kind: &str) -> String {
    condition(object, kind)
        .and_then(|c| c["reason"].as_str())
        .unwrap_or_default()
        .to_owned()
}
