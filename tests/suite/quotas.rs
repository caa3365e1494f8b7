//! The operator against AWS's control-plane quotas (the front's quota mode):
//! it paces its calls inside the documented rates, and a hard limit becomes
//! a condition on the object instead of a storm of retries.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{
    self,
    harsh::HarshScope,
    objects::{self, Manifest},
    operator::Operator,
};

/// The front's per-account counter `kind` ("passed", "throttled",
/// "limited"), summed over the keys that start with `prefix`.
fn quota_count(quotas: &Value, kind: &str, prefix: &str) -> u64 {
    quotas[kind]
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| k.starts_with(prefix))
                .filter_map(|(_, v)| v.as_u64())
                .sum()
        })
        .unwrap_or(0)
}

/// `globalapi run` for `namespace` through `scope`, with `extra` variables.
fn operator(scope: &HarshScope, namespace: &str, extra: &[(&str, &str)], log: &str) -> Operator {
    let env = common::env();
    let mut vars = scope.aws_env();
    vars.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let operator = Operator::spawn(
        env,
        &env.kubeconfig,
        &["--namespace", namespace, "--leader-elect=false"],
        &vars,
        "quotas-operator",
        log,
    );
    operator.wait_for_ok("/readyz", Duration::from_secs(60));
    operator
}

fn wait_until(what: &str, timeout: Duration, operator: &Operator, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < timeout,
            "{what}: not within {timeout:?}\n{}",
            operator.logs()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn three_objects_in_the_same_regions_converge_inside_the_quotas_with_one_of_each() {
    let env = common::env();
    env.install_crd();
    let scope = HarshScope::new("quota-pace");
    // Every rate three times AWS's, for the front and the operator alike:
    // CreateDomainName is one per 10 s in each region, so three objects in
    // the same two regions queue for it.
    scope.set_quotas(json!({"enabled": true, "scale": 3}));
    let namespace = env.namespace("quota-pace");
    let suffix = common::unique_suffix();
    let operator = operator(
        &scope,
        &namespace,
        &[("GLOBALAPI_AWS_RATE_SCALE", "3")],
        &namespace,
    );
    let names = ["one", "two", "three"];
    // A zone (and so a domain) each.
    let zones: Vec<String> = names
        .iter()
        .map(|n| format!("quota-{n}-{suffix}.example.com"))
        .collect();
    for zone in &zones {
        common::create_zone(&scope.view().clients().await, zone).await;
    }
    for (name, zone) in names.iter().zip(&zones) {
        objects::apply(env, &Manifest::latency(&namespace, name, zone).yaml());
    }
    wait_until(
        "all three Ready",
        Duration::from_secs(240),
        &operator,
        || {
            names
                .iter()
                .all(|n| objects::object(env, &namespace, n).is_some_and(|o| objects::ready(&o)))
        },
    );

    let quotas = scope.quotas();
    let passed = quota_count(&quotas, "passed", "");
    let throttled = quota_count(&quotas, "throttled", "");
    assert_eq!(quota_count(&quotas, "limited", ""), 0, "{quotas}");
    // Paced at 90 % of each rate, the operator is throttled at most now and
    // then (network jitter), never as a way of finding the rate.
    assert!(
        throttled * 50 <= passed,
        "{throttled} of {passed} calls throttled: {quotas}\n{}",
        operator.metrics()
    );
    // One REST API and one custom domain per object and region, nothing twice.
    let view = scope.view().clients().await;
    for region in objects::SERVING.iter().map(|(r, _)| *r) {
        let client = view.apigateway(region);
        let apis = client
            .get_rest_apis()
            .limit(500)
            .send()
            .await
            .expect("apis");
        assert_eq!(apis.items().len(), names.len(), "REST APIs in {region}");
        let domains = client
            .get_domain_names()
            .limit(500)
            .send()
            .await
            .expect("domains");
        assert_eq!(
            domains.items().len(),
            names.len(),
            "custom domains in {region}"
        );
    }
    // The domains of one region waited for their turns (one per ~11 s here).
    let metrics = operator.metrics();
    assert!(
        metrics.lines().any(|l| l.starts_with(
            "globalapi_aws_budget_admissions_total{service=\"apigateway\",operation=\"CreateDomainName\""
        ) && !l.contains("outcome=\"now\"")),
        "no CreateDomainName waited for its turn:\n{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hard_limit_is_a_condition_naming_it_not_a_storm_of_retries() {
    let env = common::env();
    env.install_crd();
    let scope = HarshScope::new("quota-limit");
    // Rates out of the way; one REST API per region for the account.
    scope.set_quotas(json!({"enabled": true, "scale": 1000, "limits": {"rest_apis": 1}}));
    let namespace = env.namespace("quota-limit");
    let zone = format!("quota-limit-{}.example.com", common::unique_suffix());
    common::create_zone(&scope.view().clients().await, &zone).await;
    let operator = operator(
        &scope,
        &namespace,
        &[("GLOBALAPI_AWS_RATE_SCALE", "1000")],
        &namespace,
    );
    objects::apply(env, &Manifest::latency(&namespace, "first", &zone).yaml());
    wait_until("first Ready", Duration::from_secs(120), &operator, || {
        objects::object(env, &namespace, "first").is_some_and(|o| objects::ready(&o))
    });

    objects::apply(env, &Manifest::latency(&namespace, "second", &zone).yaml());
    let mut message = String::new();
    wait_until(
        "second names the limit",
        Duration::from_secs(120),
        &operator,
        || {
            message = objects::object(env, &namespace, "second")
                .and_then(|o| {
                    objects::condition(&o, "Ready")
                        .and_then(|c| c["message"].as_str().map(str::to_owned))
                })
                .unwrap_or_default();
            message.contains("Maximum number of regional REST APIs (1)")
        },
    );
    assert!(message.contains("LimitExceededException"), "{message}");
    // The pass that met the limit sent one CreateRestApi per region, not
    // the SDK's eight attempts each; a second pass may have begun since.
    let limited = quota_count(&scope.quotas(), "limited", "apigateway CreateRestApi");
    assert!(
        (2..=4).contains(&limited),
        "{limited} CreateRestApi refused: {}",
        scope.quotas()
    );
    // The first object is untouched by the second's failure.
    let first = objects::object(env, &namespace, "first").expect("first");
    assert!(objects::ready(&first), "{first}");
}
