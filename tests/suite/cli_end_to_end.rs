//! The command line end to end against moto: `apply` a three-region latency
//! manifest with the edge, `plan` finds nothing, drift made by hand is listed
//! exactly and corrected, an apply killed mid-way leaves no twins, and
//! `destroy` removes everything it made while a foreign record survives.

use crate::common;

use std::{
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::Duration,
};

use aws_sdk_apigateway::types::{Op, PatchOperation};
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet,
    ResourceRecordSetRegion, RrType,
};
use globalapi::{
    aws::{
        AwsClients,
        route53::{desired::set_identifier, observe},
    },
    manifest,
    target::UID_TAG,
};

const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-2"];

fn manifest_text(zone: &str, name: &str) -> String {
    manifest_with(zone, name, "")
}

/// The manifest with `extra` appended to its spec.
fn manifest_with(zone: &str, name: &str, extra: &str) -> String {
    let regions: String = REGIONS
        .iter()
        .map(|r| {
            format!(
                "    - {{name: {r}, backend: {{httpUrl: \"https://{r}.backend.example.com\"}}}}\n"
            )
        })
        .collect();
    format!(
        r#"apiVersion: globalapi.io/v1alpha1
kind: GlobalApi
metadata: {{name: {name}, namespace: e2e}}
spec:
  domain: api.{zone}
  hostedZone: {{name: {zone}}}
  routing: {{policy: Latency}}
  regions:
{regions}  api:
    stageName: v1
    tracing: true
    healthCheck: {{path: /health, intervalSeconds: 30, failureThreshold: 3}}
  edge: {{enabled: true}}
{extra}"#
    )
}

struct Cli<'a> {
    env: &'a common::TestEnv,
    manifest: PathBuf,
}

impl Cli<'_> {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_globalapi"));
        command.args(args).arg("-f").arg(&self.manifest);
        command.envs(self.env.aws.iter());
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("running globalapi")
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The change lines of a plan's output (indented four spaces under a scope).
fn change_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            let l = l.trim_start();
            l.starts_with("create ") || l.starts_with("update ") || l.starts_with("delete ")
        })
        .map(|l| l.trim().to_owned())
        .collect()
}

async fn create_zone(clients: &AwsClients, zone: &str) -> String {
    let route53 = clients.route53();
    let made = route53
        .create_hosted_zone()
        .name(zone)
        .caller_reference(format!("e2e-{zone}"))
        .send()
        .await
        .expect("creating the zone");
    let id = made
        .hosted_zone()
        .expect("zone")
        .id()
        .trim_start_matches("/hostedzone/")
        .to_owned();
    let foreign = ResourceRecordSet::builder()
        .name(format!("legacy.{zone}"))
        .r#type(RrType::A)
        .ttl(300)
        .resource_records(
            ResourceRecord::builder()
                .value("192.0.2.7")
                .build()
                .expect("record"),
        )
        .build()
        .expect("record set");
    upsert(clients, &id, foreign).await;
    id
}

async fn upsert(clients: &AwsClients, zone_id: &str, set: ResourceRecordSet) {
    clients
        .route53()
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(
            ChangeBatch::builder()
                .changes(
                    Change::builder()
                        .action(ChangeAction::Upsert)
                        .resource_record_set(set)
                        .build()
                        .expect("change"),
                )
                .build()
                .expect("batch"),
        )
        .send()
        .await
        .expect("changing a record by hand");
}

fn write_manifest(dir: &Path, zone: &str, name: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("manifest dir");
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, manifest_text(zone, name)).expect("writing the manifest");
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_plan_drift_correct_destroy() {
    let env = common::env();
    let clients = env.aws_clients().await;
    let suffix = common::unique_suffix();
    let zone = format!("e2e-{suffix}.example.com");
    let zone_id = create_zone(&clients, &zone).await;
    let name = format!("exchange-{suffix}");
    let cli = Cli {
        env,
        manifest: write_manifest(&env.root.join("target/e2e"), &zone, &name),
    };
    let target = manifest::read(&cli.manifest, None)
        .expect("manifest")
        .remove(0);

    let applied = cli.run(&["apply", "--wait", "120"]);
    assert!(
        applied.status.success(),
        "apply failed:\n{}",
        text(&applied)
    );

    let expected: Vec<String> = {
        let mut v = vec![
            "cloudfront distribution".to_owned(),
            format!("acm certificate us-east-1 api.{zone}"),
        ];
        for r in REGIONS {
            v.push(format!("acm certificate {r} origin.api.{zone}"));
            v.push(format!("apigateway domain {r}"));
            v.push(format!("apigateway rest-api {r}"));
            v.push(format!("route53 health-check {r}"));
        }
        v.sort();
        v
    };
    assert_eq!(
        common::owned::owned(&clients, &target, &REGIONS).await,
        expected
    );

    let plan = cli.run(&["plan"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    assert!(text(&plan).contains("no changes"), "{}", text(&plan));
    // The call summary is beside the logs, not in the plan.
    let (stdout, stderr) = (
        String::from_utf8_lossy(&plan.stdout),
        String::from_utf8_lossy(&plan.stderr),
    );
    assert!(stderr.contains("(0 mutating)"), "{stderr}");
    assert!(!stdout.contains("AWS calls"), "{stdout}");

    // The same manifest from stdin; a destroy planned changes nothing.
    let mut piped = Command::new(env!("CARGO_BIN_EXE_globalapi"));
    piped
        .args(["plan", "--destroy", "-f", "-"])
        .envs(env.aws.iter())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = piped.spawn().expect("globalapi plan --destroy -f -");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(&std::fs::read(&cli.manifest).expect("manifest"))
            .expect("writing the manifest");
    }
    let destroy_plan = child.wait_with_output().expect("plan --destroy");
    assert_eq!(
        destroy_plan.status.code(),
        Some(2),
        "{}",
        text(&destroy_plan)
    );
    let deletions = change_lines(&destroy_plan);
    for kind in [
        "delete acm certificate",
        "delete apigateway rest api",
        "delete route53 health check",
        "delete cloudfront distribution",
    ] {
        assert!(
            deletions.iter().any(|l| l.starts_with(kind)),
            "no {kind}: {deletions:#?}"
        );
    }
    assert!(
        deletions.iter().all(|l| !l.starts_with("create ")),
        "{deletions:#?}"
    );
    assert!(
        String::from_utf8_lossy(&destroy_plan.stderr).contains("(0 mutating)"),
        "{}",
        text(&destroy_plan)
    );
    assert_eq!(
        common::owned::owned(&clients, &target, &REGIONS).await,
        expected
    );
    // The same as JSON, in its versioned shape.
    let json = cli.run(&["plan", "--destroy", "-o", "json"]);
    assert_eq!(json.status.code(), Some(2), "{}", text(&json));
    let document: serde_json::Value =
        serde_json::from_slice(&json.stdout).expect("plan -o json is one JSON document");
    assert_eq!(document["apiVersion"], "globalapi.io/plan/v1");
    let object = &document["globalApis"][0];
    assert_eq!(object["owner"], target.owner());
    let changes = object["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), deletions.len(), "{document:#}");
    let health_check = changes
        .iter()
        .find(|c| c["service"] == "route53" && c["kind"] == "health check")
        .expect("a health check deletion");
    assert_eq!(health_check["action"], "delete");
    assert!(health_check["region"].is_null(), "{health_check}");
    let disable = changes
        .iter()
        .find(|c| c["service"] == "cloudfront" && c["action"] == "update")
        .expect("the distribution disabled first");
    assert_eq!(disable["fields"][0]["field"], "Enabled");
    assert_eq!(disable["fields"][0]["observed"], "true");
    assert_eq!(disable["fields"][0]["desired"], "false");
    assert!(object["errors"].as_array().is_some_and(Vec::is_empty));

    // Three changes behind the operator's back: a record, a health check threshold, a stage setting.
    let records = observe::records(&clients.route53(), &zone_id)
        .await
        .expect("records");
    let set_id = set_identifier(&target, "eu-west-1");
    let original = records
        .iter()
        .find(|r| r.key.set_identifier.as_deref() == Some(set_id.as_str()))
        .expect("the eu-west-1 latency record");
    let tampered = ResourceRecordSet::builder()
        .name(&original.key.name)
        .r#type(RrType::A)
        .set_identifier(&set_id)
        .region(ResourceRecordSetRegion::EuWest1)
        .set_health_check_id(original.health_check_id.clone())
        .alias_target(
            AliasTarget::builder()
                .hosted_zone_id("Z2FDTNDATAQYW2")
                .dns_name("hijacked.example.net")
                .evaluate_target_health(true)
                .build()
                .expect("alias"),
        )
        .build()
        .expect("record set");
    upsert(&clients, &zone_id, tampered).await;
    let check_id = original
        .health_check_id
        .clone()
        .expect("a health check on the record");
    clients
        .route53()
        .update_health_check()
        .health_check_id(&check_id)
        .failure_threshold(9)
        .send()
        .await
        .expect("threshold by hand");
    let apigw = clients.apigateway("ap-southeast-2");
    let apis = apigw.get_rest_apis().send().await.expect("rest apis");
    let api_id = apis
        .items()
        .iter()
        .find(|a| a.tags().and_then(|t| t.get(UID_TAG)) == Some(&target.uid))
        .and_then(|a| a.id())
        .expect("our REST API in ap-southeast-2")
        .to_owned();
    apigw
        .update_stage()
        .rest_api_id(&api_id)
        .stage_name("v1")
        .patch_operations(
            PatchOperation::builder()
                .op(Op::Replace)
                .path("/tracingEnabled")
                .value("false")
                .build(),
        )
        .send()
        .await
        .expect("stage setting by hand");

    let drift = cli.run(&["plan"]);
    assert_eq!(drift.status.code(), Some(2), "{}", text(&drift));
    let lines = change_lines(&drift);
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("update route53 record") && l.contains("hijacked.example.net")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("update route53 health check eu-west-1")
                && l.contains("FailureThreshold 9 → 3")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("update apigateway stage ap-southeast-2")
                && l.contains("TracingEnabled false → true")),
        "{lines:#?}"
    );

    let corrected = cli.run(&["apply"]);
    assert!(corrected.status.success(), "{}", text(&corrected));
    let settled = cli.run(&["plan"]);
    assert_eq!(settled.status.code(), Some(0), "{}", text(&settled));

    let destroyed = cli.run(&["destroy", "--wait", "120"]);
    assert!(destroyed.status.success(), "{}", text(&destroyed));
    assert_eq!(
        common::owned::owned(&clients, &target, &REGIONS).await,
        Vec::<String>::new()
    );
    let mut left: Vec<String> = observe::records(&clients.route53(), &zone_id)
        .await
        .expect("records")
        .into_iter()
        .map(|r| format!("{} {}", r.key.name, r.key.record_type))
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            format!("{zone} NS"),
            format!("{zone} SOA"),
            format!("legacy.{zone} A")
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_apply_killed_mid_way_and_run_again_leaves_one_of_each() {
    let env = common::env();
    let clients = env.aws_clients().await;
    let suffix = common::unique_suffix();
    let zone = format!("kill-{suffix}.example.com");
    create_zone(&clients, &zone).await;
    let name = format!("killed-{suffix}");
    let cli = Cli {
        env,
        manifest: write_manifest(&env.root.join("target/e2e"), &zone, &name),
    };
    let target = manifest::read(&cli.manifest, None)
        .expect("manifest")
        .remove(0);

    // Killed at several points of the first passes, then run to the end.
    for delay_ms in [300, 700, 1500] {
        let mut child = cli
            .command(&["apply", "--wait", "120"])
            .spawn()
            .expect("starting apply");
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        child.kill().expect("killing apply");
        child.wait().expect("reaping apply");
    }
    let finished = cli.run(&["apply", "--wait", "120"]);
    assert!(finished.status.success(), "{}", text(&finished));

    let found = common::owned::owned(&clients, &target, &REGIONS).await;
    let mut unique = found.clone();
    unique.dedup();
    assert_eq!(found, unique, "twins were created: {found:#?}");
    assert_eq!(found.len(), 1 + 1 + 4 * REGIONS.len(), "{found:#?}");

    let destroyed = cli.run(&["destroy", "--wait", "120"]);
    assert!(destroyed.status.success(), "{}", text(&destroyed));
    assert_eq!(
        common::owned::owned(&clients, &target, &REGIONS).await,
        Vec::<String>::new()
    );
}

/// Our DB clusters in every region of the manifest, as "region identifier".
#[tokio::test(flavor = "multi_thread")]
async fn three_regions_with_edge_and_a_database_written_in_eu_west_1_converge_and_destroy() {
    let env = common::env();
    let clients = env.aws_clients().await;
    let suffix = common::unique_suffix();
    let zone = format!("db-{suffix}.example.com");
    create_zone(&clients, &zone).await;
    let name = format!("ledger-{suffix}");
    let database = format!(
        "  database:\n    aurora: {{globalClusterIdentifier: gdb-{suffix}, engine: aurora-postgresql, engineVersion: \"16.4\", primaryRegion: eu-west-1, instanceClass: db.r6g.large, deletionProtection: false, skipFinalSnapshot: true}}\n"
    );
    let dir = env.root.join("target/e2e");
    std::fs::create_dir_all(&dir).expect("manifest dir");
    let manifest = dir.join(format!("{name}.yaml"));
    std::fs::write(&manifest, manifest_with(&zone, &name, &database))
        .expect("writing the manifest");
    let cli = Cli { env, manifest };
    let target = manifest::read(&cli.manifest, None)
        .expect("manifest")
        .remove(0);

    // One pass from nothing leaves certificates issuing: pending, exit 2.
    let first = cli.run(&["apply"]);
    assert_eq!(first.status.code(), Some(2), "{}", text(&first));
    let applied = cli.run(&["apply", "--wait", "120"]);
    assert!(
        applied.status.success(),
        "apply failed:\n{}",
        text(&applied)
    );
    assert_eq!(
        common::owned::rds_clusters(&clients, &target, &REGIONS)
            .await
            .len(),
        REGIONS.len()
    );
    let plan = cli.run(&["plan"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));

    // The writer in eu-west-1: its cluster leaves the global cluster in its
    // own region (moto alone only manages that in us-east-1; the harsh front
    // corrects it, see docs/moto-behaviour.md), then the global cluster goes.
    let destroyed = cli.run(&["destroy", "--wait", "60"]);
    assert!(destroyed.status.success(), "destroy:\n{}", text(&destroyed));
    // Every destructive database call was announced before it was made.
    let warnings = String::from_utf8_lossy(&destroyed.stderr);
    for what in [
        format!("delete rds global cluster gdb-{suffix}"),
        "delete rds primary cluster".to_owned(),
        "delete rds secondary cluster".to_owned(),
        "delete rds instance".to_owned(),
    ] {
        assert!(
            warnings.contains(&format!("warning: about to {what}")),
            "no warning before `{what}`:\n{warnings}"
        );
    }
    let globals = clients
        .rds("us-east-1")
        .describe_global_clusters()
        .send()
        .await
        .expect("global clusters");
    assert!(
        !globals
            .global_clusters()
            .iter()
            .any(|g| g.global_cluster_identifier() == Some(format!("gdb-{suffix}").as_str())),
        "the global cluster is left"
    );
    assert_eq!(
        common::owned::owned(&clients, &target, &REGIONS).await,
        Vec::<String>::new()
    );
    assert_eq!(
        common::owned::rds_clusters(&clients, &target, &REGIONS).await,
        Vec::<String>::new()
    );
}
