//! Crash at every mutating call: a first `globalapi apply`, and an
//! operator's first reconcile of a new GlobalApi, are stopped right after
//! their k-th mutating AWS call went through, for every k of that first
//! convergence (the harsh front forwards the k-th call, then answers nothing
//! more; the test kills the process). Started again, the apply (or a new
//! operator) converges with exactly one of each resource and nothing leaked:
//! no twin REST API, custom domain, certificate or health check, one latency
//! record per region.

use crate::common;

use std::{
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use globalapi::{
    aws::{AwsClients, route53::observe},
    manifest,
    target::Target,
};
use serde_json::json;

use common::{
    ground::{REGIONS, manifest_text},
    harsh::HarshScope,
    objects::{self, Manifest},
    operator::Operator,
};

/// One GlobalApi in its own zone, applied through its own scope.
struct Case {
    scope: HarshScope,
    manifest: PathBuf,
    target: Target,
    zone: String,
}

impl Case {
    async fn new(label: &str) -> Self {
        Self::with_edge(label, false).await
    }

    /// A case whose GlobalApi has CloudFront in front when `edge`.
    async fn with_edge(label: &str, edge: bool) -> Self {
        let env = common::env();
        let scope = HarshScope::new(label);
        let suffix = common::unique_suffix();
        let zone = format!("crash-{suffix}.example.com");
        // Made outside the case's scope, so that the scope counts only the apply.
        common::create_zone(&scope.view().clients().await, &zone).await;
        let text = manifest_text(&zone, &format!("c-{suffix}"), edge);
        let dir = env.root.join("target/crash");
        std::fs::create_dir_all(&dir).expect("manifest dir");
        let manifest = dir.join(format!("{suffix}.yaml"));
        std::fs::write(&manifest, &text).expect("writing the manifest");
        let target = manifest::parse(&text, None).expect("manifest").remove(0);
        Self {
            scope,
            manifest,
            target,
            zone,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_globalapi"));
        command.args(args).arg("-f").arg(&self.manifest);
        command.envs(self.scope.aws_env());
        // A frozen front answers nothing: give up on each call quickly.
        command.env("GLOBALAPI_AWS_ATTEMPT_TIMEOUT", "3");
        command.env("GLOBALAPI_AWS_OPERATION_TIMEOUT", "8");
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        command
    }

    fn apply(&self) -> Output {
        self.command(&["apply", "--wait", "90"])
            .output()
            .expect("running globalapi apply")
    }

    /// Starts an apply, waits until the front has let its k-th mutating
    /// call (of `service`, as the front names it, when given) through (and
    /// froze), and kills it there. `false` when the apply finished before
    /// making k such calls (a first apply's count varies a little with how
    /// soon certificates are issued).
    fn apply_killed_after_call_of(&self, service: Option<&str>, k: u64) -> bool {
        let mut rule = json!({
            "mutating": true,
            "nth": k,
            "action": "pass_then_hang",
            "freeze": true,
        });
        if let Some(service) = service {
            rule["service"] = json!(service);
        }
        self.scope.rule(rule);
        let mut child = self
            .command(&["apply", "--wait", "90"])
            .spawn()
            .expect("starting globalapi apply");
        let start = Instant::now();
        loop {
            let counters = self.scope.counters();
            let fired = counters["rules"][0]["fired"].as_u64().unwrap_or(0);
            if fired > 0 {
                break;
            }
            if let Some(status) = child.try_wait().expect("polling apply") {
                assert!(
                    status.success(),
                    "apply failed before its mutating call {k}: {counters}"
                );
                self.scope.clear();
                return false;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "mutating call {k} never came: {counters}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        child.kill().expect("killing apply");
        let _ = child.wait();
        self.scope.clear();
        true
    }

    async fn inventory(&self) -> Vec<String> {
        inventory(&self.scope, &self.target, &self.zone).await
    }
}

/// Every resource the GlobalApi has in its scope's account, twins and leaks
/// included, its zone written ZONE.
async fn inventory(scope: &HarshScope, target: &Target, zone: &str) -> Vec<String> {
    let clients = scope.view().clients().await;
    let mut found = common::owned::owned(&clients, target, &REGIONS).await;
    found.extend(untagged_health_checks(&clients, target).await);
    let zone_id = zone_id(&clients, zone).await;
    let records = observe::records(&clients.route53(), &zone_id)
        .await
        .expect("records");
    for record in records {
        if matches!(record.key.record_type.as_str(), "NS" | "SOA") {
            continue;
        }
        // Validation names carry a token of their own; the rest is stable.
        let label = match record.key.name.split('.').next().unwrap_or_default() {
            l if l.starts_with('_') && l != "_globalapi" => "_validation",
            l => l,
        };
        found.push(format!(
            "route53 record {label} {} {}",
            record.key.record_type,
            record
                .key
                .set_identifier
                .as_deref()
                .map(|s| &s[..9])
                .unwrap_or("-")
        ));
    }
    // Each case has a zone of its own; the inventories compare without it.
    let mut found: Vec<String> = found
        .into_iter()
        .map(|line| line.replace(zone, "ZONE"))
        .collect();
    found.sort();
    found
}

/// Health checks probing one of the target's REST APIs that do not carry
/// its tags (a create whose tagging never happened).
async fn untagged_health_checks(clients: &AwsClients, target: &Target) -> Vec<String> {
    let mut ids = Vec::new();
    for region in REGIONS {
        ids.extend(common::owned::rest_api_ids(clients, target, region).await);
    }
    let tagged: Vec<String> = observe::health_checks(&clients.route53(), target, &[])
        .await
        .expect("health checks")
        .into_iter()
        .map(|c| c.id)
        .collect();
    let listed = clients
        .route53()
        .list_health_checks()
        .send()
        .await
        .expect("listing health checks");
    listed
        .health_checks()
        .iter()
        .filter(|h| !tagged.contains(&h.id().to_owned()))
        .filter(|h| {
            h.health_check_config()
                .and_then(|c| c.fully_qualified_domain_name())
                .is_some_and(|fqdn| ids.iter().any(|id| fqdn.starts_with(&format!("{id}."))))
        })
        .map(|h| format!("route53 untagged health-check {}", h.id()))
        .collect()
}

async fn zone_id(clients: &AwsClients, zone: &str) -> String {
    let zones = clients
        .route53()
        .list_hosted_zones_by_name()
        .dns_name(zone)
        .send()
        .await
        .expect("zones");
    zones
        .hosted_zones()
        .iter()
        .find(|z| z.name().trim_end_matches('.') == zone)
        .map(|z| z.id().trim_start_matches("/hostedzone/").to_owned())
        .expect("the test's zone")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn path_of(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_apply_killed_after_any_mutating_call_converges_with_one_of_each() {
    // The apply without a crash: how many mutating calls it makes, and what it leaves.
    let clean = Case::new("crash-ref").await;
    let out = clean.apply();
    assert!(out.status.success(), "clean apply: {}", text(&out));
    let total = clean.scope.counters()["mutating_passed"]
        .as_u64()
        .expect("mutating_passed");
    assert!(
        total >= 10,
        "a first apply makes more than {total} mutating calls"
    );
    let expected = clean.inventory().await;
    assert_eq!(
        expected.iter().filter(|l| l.contains("rest-api")).count(),
        REGIONS.len(),
        "{expected:?}"
    );

    let outcomes = cli_kill_points(total, false, None, &expected).await;
    println!("killed and recovered at mutating calls 1..={total}: {outcomes:?}");
    assert!(
        outcomes.len() * 10 >= total as usize * 8,
        "only {} of {total} kill points were reached: {outcomes:?}",
        outcomes.len()
    );
}

/// Runs a first apply killed after its k-th mutating call (of `service`
/// only, when given) for every k in 1..=total, each in a case of its own
/// (with the edge when `edge`), then applies again: asserts that it
/// succeeds, that AWS holds `expected` and that a plan finds nothing. The
/// kill points reached (an apply may finish before a k-th call).
async fn cli_kill_points(
    total: u64,
    edge: bool,
    service: Option<&'static str>,
    expected: &[String],
) -> Vec<u64> {
    let label = service.unwrap_or("all");
    let mut outcomes = Vec::new();
    let points: Vec<u64> = (1..=total).collect();
    // Each kill point is its own GlobalApi in its own zone and scope, so a
    // few run side by side; each waits mostly on its apply process.
    for chunk in points.chunks(4) {
        let runs: Vec<_> = chunk
            .iter()
            .map(|&k| {
                tokio::spawn(async move {
                    let case = std::sync::Arc::new(
                        Case::with_edge(&format!("crash-{label}-{k}"), edge).await,
                    );
                    let blocking = case.clone();
                    let (killed, out, plan) = tokio::task::spawn_blocking(move || {
                        let killed = blocking.apply_killed_after_call_of(service, k);
                        let out = blocking.apply();
                        let plan = blocking.command(&["plan"]).output().expect("plan");
                        (killed, out, plan)
                    })
                    .await
                    .expect("the kill and the second apply");
                    assert!(
                        out.status.success(),
                        "apply after a kill at mutating call {k} of {label} ({}) failed: {}",
                        path_of(&case.manifest),
                        text(&out)
                    );
                    (k, killed, case.inventory().await, plan)
                })
            })
            .collect();
        for joined in futures::future::join_all(runs).await {
            let (k, killed, found, plan) = joined.expect("a kill point's task");
            assert_eq!(
                found, expected,
                "after a kill at mutating call {k} of {label}, AWS does not hold exactly one of each"
            );
            assert_eq!(
                plan.status.code(),
                Some(0),
                "plan after kill {k} of {label}: {}",
                text(&plan)
            );
            if killed {
                outcomes.push(k);
            }
        }
    }
    outcomes
}

/// Behind the edge: the first apply killed right after each of its mutating
/// CloudFront calls, then applied again, holds one distribution and one of
/// everything else.
#[tokio::test(flavor = "multi_thread")]
async fn a_first_apply_behind_the_edge_killed_after_any_cloudfront_call_converges_with_one_of_each()
{
    let clean = Case::with_edge("crash-edge-ref", true).await;
    let out = clean.apply();
    assert!(out.status.success(), "clean apply: {}", text(&out));
    let total = clean.scope.counters()["mutating_by_service"]["cloudfront"]
        .as_u64()
        .unwrap_or(0);
    assert!(
        total >= 1,
        "no mutating CloudFront call: {}",
        clean.scope.counters()
    );
    let expected = clean.inventory().await;
    assert_eq!(
        expected
            .iter()
            .filter(|l| l.as_str() == "cloudfront distribution")
            .count(),
        1,
        "{expected:?}"
    );
    let outcomes = cli_kill_points(total, true, Some("cloudfront"), &expected).await;
    println!("killed and recovered at CloudFront calls 1..={total}: {outcomes:?}");
    assert_eq!(
        outcomes.len() as u64,
        total,
        "CloudFront kill points not reached: {outcomes:?} of 1..={total}"
    );
}

/// The GlobalApi of an operator case; each case has a namespace of its own.
const NAME: &str = "crash";

/// One GlobalApi in its own namespace and zone, reconciled by operators of
/// its own through its own scope.
struct OperatorCase {
    scope: HarshScope,
    namespace: String,
    zone: String,
    manifest: String,
}

impl OperatorCase {
    async fn new(label: &str) -> Self {
        let env = common::env();
        env.install_crd();
        let scope = HarshScope::new(label);
        let namespace = env.namespace("crash");
        let zone = format!("crash-op-{}.example.com", common::unique_suffix());
        // Made outside the case's scope, so that the scope counts only the operator.
        common::create_zone(&scope.view().clients().await, &zone).await;
        let manifest = Manifest {
            tracing: true,
            ..Manifest::latency(&namespace, NAME, &zone)
        }
        .yaml();
        Self {
            scope,
            namespace,
            zone,
            manifest,
        }
    }

    /// `globalapi run` watching the case's namespace through its scope, once
    /// it answers /readyz; `life` names its log. One replica, so no Lease:
    /// a restarted operator starts at once instead of waiting out the
    /// killed one's.
    fn operator(&self, life: &str) -> Operator {
        let env = common::env();
        let mut vars = self.scope.aws_env();
        // A frozen front answers nothing: give up on each call quickly.
        vars.push(("GLOBALAPI_AWS_ATTEMPT_TIMEOUT".into(), "3".into()));
        vars.push(("GLOBALAPI_AWS_OPERATION_TIMEOUT".into(), "8".into()));
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let operator = Operator::spawn(
            env,
            &env.kubeconfig,
            &["--namespace", &self.namespace, "--leader-elect=false"],
            &vars,
            "crash-operator",
            &format!("{}-{life}", self.namespace),
        );
        operator.wait_for_ok("/readyz", Duration::from_secs(60));
        operator
    }

    fn ready(&self) -> bool {
        objects::object(common::env(), &self.namespace, NAME).is_some_and(|o| objects::ready(&o))
    }

    /// Creates the GlobalApi under an operator that is killed as soon as the
    /// front has let its k-th mutating call through (and froze). `false`
    /// when the object became Ready before a k-th mutating call.
    fn created_and_killed_after(&self, k: u64) -> bool {
        self.scope.rule(json!({
            "mutating": true,
            "nth": k,
            "action": "pass_then_hang",
            "freeze": true,
        }));
        let operator = self.operator("killed");
        objects::apply(common::env(), &self.manifest);
        let start = Instant::now();
        let mut polls = 0u32;
        let killed = loop {
            let counters = self.scope.counters();
            if counters["rules"][0]["fired"].as_u64().unwrap_or(0) > 0 {
                break true;
            }
            polls += 1;
            if polls.is_multiple_of(20) && self.ready() {
                break false;
            }
            assert!(
                start.elapsed() < Duration::from_secs(180),
                "mutating call {k} never came: {counters}\n{}",
                operator.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        operator.kill();
        self.scope.clear();
        killed
    }

    async fn inventory(&self) -> Vec<String> {
        let target = objects::target_of(common::env(), &self.namespace, NAME).await;
        inventory(&self.scope, &target, &self.zone).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operator_killed_after_any_mutating_call_of_a_new_object_converges_with_one_of_each() {
    let env = common::env();
    // The first reconcile without a crash: its mutating calls until Ready, what it leaves.
    let reference = OperatorCase::new("crash-op-ref").await;
    let total = {
        let operator = reference.operator("reference");
        objects::apply(env, &reference.manifest);
        operator.wait_ready(env, &reference.namespace, NAME, Duration::from_secs(180));
        reference.scope.counters()["mutating_passed"]
            .as_u64()
            .expect("mutating_passed")
    };
    assert!(
        total >= 10,
        "a first reconcile makes more than {total} mutating calls"
    );
    let expected = reference.inventory().await;
    assert_eq!(
        expected.iter().filter(|l| l.contains("rest-api")).count(),
        REGIONS.len(),
        "{expected:?}"
    );

    let mut outcomes = Vec::new();
    let points: Vec<u64> = (1..=total).collect();
    for chunk in points.chunks(4) {
        let runs: Vec<_> = chunk
            .iter()
            .map(|&k| {
                tokio::spawn(async move {
                    let case =
                        std::sync::Arc::new(OperatorCase::new(&format!("crash-op-{k}")).await);
                    let blocking = case.clone();
                    let killed = tokio::task::spawn_blocking(move || {
                        let killed = blocking.created_and_killed_after(k);
                        let operator = blocking.operator("restarted");
                        operator.wait_ready(
                            common::env(),
                            &blocking.namespace,
                            NAME,
                            Duration::from_secs(180),
                        );
                        killed
                    })
                    .await
                    .expect("the kill and the restart");
                    (k, killed, case.inventory().await)
                })
            })
            .collect();
        let runs = futures::future::join_all(runs)
            .await
            .into_iter()
            .map(|joined| joined.expect("a kill point's task"));
        for (k, killed, found) in runs {
            assert_eq!(
                found, expected,
                "after the operator was killed at mutating call {k}, AWS does not hold exactly one of each"
            );
            if killed {
                outcomes.push(k);
            }
        }
    }
    println!("operator killed and restarted at mutating calls 1..={total}: {outcomes:?}");
    assert!(
        outcomes.len() * 10 >= total as usize * 8,
        "only {} of {total} kill points were reached: {outcomes:?}",
        outcomes.len()
    );
}
