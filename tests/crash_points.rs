//! Crash at every mutating call: a first `globalapi apply` is stopped right
//! after its k-th mutating AWS call went through, for every k of that apply
//! (the harsh front forwards the k-th call, then answers nothing more; the
//! test kills the process). Started again, the apply converges with exactly
//! one of each resource and nothing leaked: no twin REST API, custom domain,
//! certificate or health check, one latency record per region.

mod common;

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
        let env = common::env();
        let scope = HarshScope::new(label);
        let suffix = common::unique_suffix();
        let zone = format!("crash-{suffix}.example.com");
        // Made outside the case's scope, so that the scope counts only the apply.
        common::create_zone(&env.aws_clients().await, &zone).await;
        let text = manifest_text(&zone, &format!("c-{suffix}"), false);
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
    /// call through (and froze), and kills it there. `false` when the apply
    /// finished before making k mutating calls (a first apply's count varies
    /// a little with how soon certificates are issued).
    fn apply_killed_after(&self, k: u64) -> bool {
        self.scope.rule(json!({
            "mutating": true,
            "nth": k,
            "action": "pass_then_hang",
            "freeze": true,
        }));
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

    /// Every resource the GlobalApi has, twins and leaks included.
    async fn inventory(&self) -> Vec<String> {
        let clients = common::env().aws_clients().await;
        let mut found = common::owned::owned(&clients, &self.target, &REGIONS).await;
        found.extend(untagged_health_checks(&clients, &self.target).await);
        let zone_id = zone_id(&clients, &self.zone).await;
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
            .map(|line| line.replace(&self.zone, "ZONE"))
            .collect();
        found.sort();
        found
    }
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

    // Each kill point is its own GlobalApi in its own zone and scope, so a
    // few run side by side; each waits mostly on its apply process.
    let mut outcomes = Vec::new();
    let points: Vec<u64> = (1..=total).collect();
    for chunk in points.chunks(4) {
        let runs: Vec<_> = chunk
            .iter()
            .map(|&k| {
                tokio::spawn(async move {
                    let case = std::sync::Arc::new(Case::new(&format!("crash-{k}")).await);
                    let blocking = case.clone();
                    let (killed, out, plan) = tokio::task::spawn_blocking(move || {
                        let killed = blocking.apply_killed_after(k);
                        let out = blocking.apply();
                        let plan = blocking.command(&["plan"]).output().expect("plan");
                        (killed, out, plan)
                    })
                    .await
                    .expect("the kill and the second apply");
                    assert!(
                        out.status.success(),
                        "apply after a kill at mutating call {k} ({}) failed: {}",
                        path_of(&case.manifest),
                        text(&out)
                    );
                    (k, killed, case.inventory().await, plan)
                })
            })
            .collect();
        let runs = futures::future::join_all(runs)
            .await
            .into_iter()
            .map(|joined| joined.expect("a kill point's task"));
        for (k, killed, found, plan) in runs {
            assert_eq!(
                found, expected,
                "after a kill at mutating call {k}, AWS does not hold exactly one of each"
            );
            assert_eq!(
                plan.status.code(),
                Some(0),
                "plan after kill {k}: {}",
                text(&plan)
            );
            if killed {
                outcomes.push(k);
            }
        }
    }
    println!("killed and recovered at mutating calls 1..={total}: {outcomes:?}");
    assert!(
        outcomes.len() * 10 >= total as usize * 8,
        "only {} of {total} kill points were reached: {outcomes:?}",
        outcomes.len()
    );
}
