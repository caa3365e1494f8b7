//! `globalapi run` against the real kube-apiserver and moto: a GlobalApi
//! becomes Ready, a spec change reaches AWS, drift made by hand is reported
//! in an Event and put back, deletion removes everything behind the
//! finalizer, `deletionPolicy: Retain` keeps the REST APIs and
//! `driftPolicy: Report` leaves drift as found. A region added to the spec
//! gets its REST API, health check and latency record, and status lists it;
//! `maintenance: true` takes a region out of latency DNS or promotes the
//! failover secondary, and clearing it restores the records. The operator's
//! HTTP endpoint answers /healthz and /metrics, and SIGTERM stops it cleanly.

use crate::common;

use std::time::Duration;

use common::{
    Setup, block, create_zone,
    objects::{
        Manifest, REGIONS, SERVING, apply, condition, drift_entry, event_notes, is_true, object,
        ready, rest_api_ids, set_failure_threshold, target_of,
    },
    operator::Operator,
    owned::{disable_tracing, thresholds, tracing_enabled},
    setup,
};
use globalapi::{
    aws::{
        AwsClients,
        route53::{Record, RecordValue, Routing, desired::set_identifier, observe},
    },
    target::{Target, UID_TAG},
};

/// `globalapi run` watching `namespace`, logging under target/operator-test.
fn start_operator(env: &common::TestEnv, namespace: &str) -> Operator {
    Operator::start(env, namespace, "operator-test")
}

fn manifest(namespace: &str, name: &str, zone: &str, extra: &str) -> String {
    manifest_with(namespace, name, zone, LATENCY, &SERVING, extra)
}

const LATENCY: &str = "{policy: Latency}";

/// A GlobalApi over `regions` (name, in maintenance) with `routing` as YAML,
/// CloudFront in front, tracing on the stage and a 30-second resync.
fn manifest_with(
    namespace: &str,
    name: &str,
    zone: &str,
    routing: &str,
    regions: &[(&str, bool)],
    extra: &str,
) -> String {
    Manifest {
        routing,
        regions,
        edge: true,
        tracing: true,
        extra,
        ..Manifest::latency(namespace, name, zone)
    }
    .yaml()
}

/// The REST API `id` of `region` in moto; panics when it is not there,
/// `missing` saying what that means.
async fn rest_api(
    clients: &AwsClients,
    region: &str,
    id: &str,
    missing: &str,
) -> aws_sdk_apigateway::operation::get_rest_api::GetRestApiOutput {
    clients
        .apigateway(region)
        .get_rest_api()
        .rest_api_id(id)
        .send()
        .await
        .unwrap_or_else(|e| panic!("REST API {id} of {region} {missing}: {e:?}"))
}

/// What a Ready GlobalApi of [`manifest_with`] owns in moto over `regions`,
/// as [`common::owned::owned`] lists it: one of each, no twins.
fn owned_when_ready(zone: &str, regions: &[&str]) -> Vec<String> {
    let mut expected = vec![
        format!("acm certificate us-east-1 api.{zone}"),
        "cloudfront distribution".to_owned(),
    ];
    for region in regions {
        expected.push(format!("acm certificate {region} origin.api.{zone}"));
        expected.push(format!("apigateway domain {region}"));
        expected.push(format!("apigateway rest-api {region}"));
        expected.push(format!("route53 health-check {region}"));
    }
    expected.sort();
    expected
}

/// The alias records of the origin name in the zone, by set identifier.
async fn origin_records(clients: &AwsClients, zone_id: &str, zone: &str) -> Vec<Record> {
    let mut found: Vec<Record> = observe::records(&clients.route53(), zone_id)
        .await
        .expect("records")
        .into_iter()
        .filter(|r| r.key.name == format!("origin.api.{zone}") && r.key.record_type == "A")
        .collect();
    found.sort_by(|a, b| a.key.cmp(&b.key));
    found
}

/// How Route 53 answers for the origin name, as "region routing" lines
/// sorted by region: "eu-west-1 latency", "us-east-1 PRIMARY".
async fn origin_routing(clients: &AwsClients, target: &Target, zone_id: &str) -> Vec<String> {
    let zone = target.spec.hosted_zone.name.as_deref().expect("zone name");
    // The set identifier is the region, then a part of the uid.
    let uid_part = set_identifier(target, "");
    let mut lines: Vec<String> = origin_records(clients, zone_id, zone)
        .await
        .into_iter()
        .map(|r| {
            let id = r.key.set_identifier.clone().unwrap_or_default();
            let region = id.strip_suffix(&uid_part).unwrap_or(&id).to_owned();
            match &r.routing {
                Routing::Latency { region: latency } => {
                    assert_eq!(*latency, region, "{r:?}");
                    format!("{region} latency")
                }
                Routing::Failover(role) => format!("{region} {}", role.as_str()),
                Routing::Simple => format!("{region} simple"),
            }
        })
        .collect();
    lines.sort();
    lines
}

/// The zone id of the target's hosted zone.
async fn zone_id_of(clients: &AwsClients, target: &Target) -> String {
    observe::zone_id(&clients.route53(), target)
        .await
        .expect("the zone id")
}

#[tokio::test(flavor = "multi_thread")]
async fn ready_then_spec_change_drift_and_deletion() {
    let Setup {
        env,
        clients,
        namespace,
        zone,
    } = setup("operator", "op").await;
    let name = "exchange";
    let operator = start_operator(env, &namespace);
    let (code, body) = operator.get("/healthz");
    assert_eq!(code, 200, "{body}");

    // (1) Applied with kubectl → Ready, with the regions' REST APIs in moto.
    apply(env, &manifest(&namespace, name, &zone, ""));
    let timeout = Duration::from_secs(120);
    operator.wait_ready(env, &namespace, name, timeout);
    let current = object(env, &namespace, name).expect("the object");
    assert_eq!(
        current["metadata"]["finalizers"][0], "globalapi.io/cleanup",
        "{current:#}"
    );
    assert_eq!(current["status"]["readyRegions"], "2/2", "{current:#}");
    assert_eq!(current["status"]["endpoint"], format!("https://api.{zone}"));
    assert!(!is_true(&current, "Drifted"), "{current:#}");
    let ids = rest_api_ids(&current);
    assert_eq!(ids.len(), 2, "{current:#}");
    for (region, id) in &ids {
        rest_api(&clients, region, id, "is not in moto").await;
    }
    let table = env.kubectl_ok(&["get", "gapi", name, "-n", &namespace]);
    let mut lines = table.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let row: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let column = header
        .iter()
        .position(|h| *h == "READY")
        .expect("a READY column");
    assert_eq!(row.get(column), Some(&"True"), "{table}");

    let target = target_of(env, &namespace, name).await;
    assert_eq!(
        thresholds(&clients, &target).await,
        [("eu-west-1".to_owned(), 3), ("us-east-1".to_owned(), 3)]
    );

    // The command line plans the object itself, under its real uid: nothing to do.
    let key = format!("{namespace}/{name}");
    let plan = std::process::Command::new(env!("CARGO_BIN_EXE_globalapi"))
        .args(["plan", "--object", &key])
        .env("KUBECONFIG", &env.kubeconfig)
        .envs(env.aws.iter())
        .output()
        .expect("globalapi plan --object");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&plan.stdout),
        String::from_utf8_lossy(&plan.stderr)
    );
    assert_eq!(plan.status.code(), Some(0), "{said}");
    assert!(said.contains("no changes"), "{said}");

    // (2) A spec change reaches the health checks.
    set_failure_threshold(env, &namespace, name, 5);
    operator.wait_until("health checks with threshold 5", timeout, || {
        block(thresholds(&clients, &target))
            .iter()
            .all(|(_, t)| *t == 5)
    });
    operator.wait_ready(env, &namespace, name, timeout);
    let current = object(env, &namespace, name).expect("the object");
    assert!(
        !is_true(&current, "Drifted"),
        "a spec change is no drift: {current:#}"
    );

    // (3) A stage setting changed by hand is found, reported and put back.
    let (region, api_id) = ids[0].clone();
    disable_tracing(&clients, &region, &api_id).await;
    operator.wait_until("a DriftDetected event", timeout, || {
        event_notes(env, &namespace, name, "DriftDetected")
            .iter()
            .any(|n| n.contains("TracingEnabled false → true"))
    });
    operator.wait_until("tracing enabled again", timeout, || {
        block(tracing_enabled(&clients, &region, &api_id))
    });
    operator.wait_until("a DriftCorrected event", timeout, || {
        !event_notes(env, &namespace, name, "DriftCorrected").is_empty()
    });
    let current = object(env, &namespace, name).expect("the object");
    assert!(
        drift_entry(&current, "TracingEnabled", "Corrected"),
        "{current:#}"
    );

    let (code, metrics) = operator.get("/metrics");
    assert_eq!(code, 200);
    assert!(
        operator.metric("globalapi_reconciles_total") >= 3,
        "{metrics}"
    );
    // The build and the process.
    for family in [
        "globalapi_build_info{version=",
        "process_resident_memory_bytes ",
        "process_cpu_seconds_total ",
        "process_start_time_seconds ",
        "process_open_fds ",
    ] {
        assert!(metrics.contains(family), "no {family}: {metrics}");
    }
    // The queue: the Ready object's next resync is scheduled.
    assert!(
        operator.metric("globalapi_queue_scheduled") >= 1,
        "{metrics}"
    );
    assert!(metrics.contains("\nglobalapi_queue_depth "), "{metrics}");
    // How long AWS took, by service and operation.
    assert!(
        metrics.contains(
            "globalapi_aws_call_duration_seconds_count{service=\"apigateway\",operation=\"GetRestApis\"}"
        ),
        "{metrics}"
    );
    // Per object: Ready, and when it was last compared with AWS.
    assert!(
        metrics.contains(&format!(
            "globalapi_object_ready{{namespace=\"{namespace}\",name=\"{name}\"}} 1"
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "globalapi_object_last_sync_timestamp_seconds{{namespace=\"{namespace}\",name=\"{name}\"}}"
        )),
        "{metrics}"
    );
    // The served CRD is this version's: every field it writes is served.
    assert!(
        metrics.lines().any(|l| l == "globalapi_crd_current 1"),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("globalapi_drift_corrected_total ") && !l.ends_with(" 0")),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "globalapi_aws_calls_total{service=\"apigateway\",operation=\"GetRestApis\"}"
        ),
        "{metrics}"
    );

    // (4) Deleted → the finalizer goes once AWS is empty.
    operator.delete_and_wait_gone(env, &namespace, name, Duration::from_secs(180));
    assert_eq!(
        common::owned::owned(&clients, &target, &REGIONS).await,
        Vec::<String>::new()
    );

    let status = operator.terminate();
    assert!(
        status.is_some_and(|s| s.success()),
        "SIGTERM: {status:?}\n{}",
        operator.logs()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn report_leaves_drift_and_retain_keeps_the_rest_apis() {
    let Setup {
        env,
        clients,
        namespace,
        zone,
    } = setup("operator-retain", "opr").await;
    let name = "kept";
    let operator = start_operator(env, &namespace);
    apply(
        env,
        &manifest(
            &namespace,
            name,
            &zone,
            "  driftPolicy: Report\n  deletionPolicy: Retain\n",
        ),
    );
    let timeout = Duration::from_secs(120);
    operator.wait_ready(env, &namespace, name, timeout);
    let current = object(env, &namespace, name).expect("the object");
    let ids = rest_api_ids(&current);
    assert_eq!(ids.len(), 2, "{current:#}");
    let target = target_of(env, &namespace, name).await;

    // Report is a policy over one observation: a resync that finds nothing
    // to change reads each region's stage once (a plan, then an apply
    // pass, would read it twice).
    let quiet = || {
        let page = operator.metrics();
        let value = |prefix: &str| -> u64 {
            page.lines()
                .find_map(|l| l.strip_prefix(prefix))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0)
        };
        let stage_reads =
            value("globalapi_aws_calls_total{service=\"apigateway\",operation=\"GetStages\"}");
        (value("globalapi_reconciles_in_flight ") == 0)
            .then(|| (value("globalapi_reconciles_total "), stage_reads))
    };
    let mut start = None;
    operator.wait_until("no reconcile in flight", timeout, || {
        start = quiet();
        start.is_some()
    });
    let (passes, reads) = start.expect("a quiet moment");
    let mut end = None;
    operator.wait_until("a resync under Report", timeout, || {
        end = quiet().filter(|(p, _)| *p > passes);
        end.is_some()
    });
    let (passes_after, reads_after) = end.expect("a resync");
    assert_eq!(
        reads_after - reads,
        2 * (passes_after - passes),
        "GetStages per pass under Report, two regions: {} passes, {} reads",
        passes_after - passes,
        reads_after - reads
    );

    // Report: drift is listed, AWS keeps the value found.
    let (region, api_id) = ids[1].clone();
    disable_tracing(&clients, &region, &api_id).await;
    operator.wait_until("Drifted=True, reported", timeout, || {
        object(env, &namespace, name).is_some_and(|o| {
            condition(&o, "Drifted").is_some_and(|c| c["reason"] == "DriftReported")
        })
    });
    let current = object(env, &namespace, name).expect("the object");
    assert!(is_true(&current, "Drifted"), "{current:#}");
    assert!(!is_true(&current, "Ready"), "{current:#}");
    let drift = current["status"]["drift"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        drift.iter().any(|d| d["field"] == "TracingEnabled"
            && d["action"] == "Reported"
            && d["observed"] == "false"
            && d["desired"] == "true"),
        "{current:#}"
    );
    assert!(!event_notes(env, &namespace, name, "DriftDetected").is_empty());
    assert!(!tracing_enabled(&clients, &region, &api_id).await);

    // Report, a deletion: a health check deleted by hand is drift, and is
    // not created again.
    let checks = |listed: Vec<String>| {
        listed
            .into_iter()
            .filter(|l| l.starts_with("route53 health-check"))
            .collect::<Vec<_>>()
    };
    let before = checks(common::owned::owned(&clients, &target, &REGIONS).await);
    assert_eq!(before.len(), 2, "{before:?}");
    let deleted = current["status"]["regions"]
        .as_array()
        .and_then(|regions| regions.iter().find(|r| r["name"] == region.as_str()))
        .and_then(|r| r["healthCheckId"].as_str())
        .expect("the region's healthCheckId")
        .to_owned();
    clients
        .route53()
        .delete_health_check()
        .health_check_id(&deleted)
        .send()
        .await
        .expect("deleting the health check by hand");
    let deletion_reported = |o: &serde_json::Value| {
        o["status"]["drift"].as_array().is_some_and(|drift| {
            drift.iter().any(|d| {
                d["service"] == "route53"
                    && d["resource"]
                        .as_str()
                        .is_some_and(|r| r.starts_with("health check"))
                    && d["field"] == "exists"
                    && d["desired"] == "true"
                    && d["observed"] == "false"
                    && d["action"] == "Reported"
            })
        })
    };
    operator.wait_until("the deleted health check reported", timeout, || {
        object(env, &namespace, name).is_some_and(|o| deletion_reported(&o))
    });
    let seen = object(env, &namespace, name).expect("the object");
    let seen_at = seen["status"]["lastSyncTime"].clone();
    operator.wait_until("one more pass", timeout, || {
        object(env, &namespace, name).is_some_and(|o| o["status"]["lastSyncTime"] != seen_at)
    });
    let current = object(env, &namespace, name).expect("the object");
    assert!(deletion_reported(&current), "{current:#}");
    assert!(!is_true(&current, "Ready"), "{current:#}");
    let after = checks(common::owned::owned(&clients, &target, &REGIONS).await);
    assert_eq!(
        after.len(),
        1,
        "a health check was created again: {after:?}"
    );

    // Retain: the object goes, the REST APIs stay.
    operator.delete_and_wait_gone(env, &namespace, name, timeout);
    let left = common::owned::owned(&clients, &target, &REGIONS).await;
    for region in REGIONS {
        assert!(
            left.contains(&format!("apigateway rest-api {region}")),
            "{left:#?}"
        );
    }
    for (region, id) in &ids {
        rest_api(&clients, region, id, "was removed").await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_record_is_a_conflict_and_an_operator_killed_mid_way_converges_without_twins() {
    // (1) The origin name already has a record nobody's GlobalApi owns.
    let Setup {
        env,
        clients,
        namespace,
        zone: taken_zone,
    } = setup("conflict", "taken").await;
    let zone_id = globalapi::aws::route53::observe::zone_id(
        &clients.route53(),
        &Target {
            namespace: namespace.clone(),
            name: "lookup".into(),
            uid: "lookup".into(),
            spec: serde_norway::from_str(&format!(
                "{{domain: api.{taken_zone}, hostedZone: {{name: {taken_zone}}}, routing: {{policy: Latency}}, regions: [{{name: us-east-1, backend: {{httpUrl: \"https://x.example.com\"}}}}]}}"
            ))
            .expect("spec"),
        },
    )
    .await
    .expect("the zone id");
    let foreign = aws_sdk_route53::types::ResourceRecordSet::builder()
        .name(format!("origin.api.{taken_zone}"))
        .r#type(aws_sdk_route53::types::RrType::A)
        .ttl(300)
        .resource_records(
            aws_sdk_route53::types::ResourceRecord::builder()
                .value("192.0.2.9")
                .build()
                .expect("record"),
        )
        .build()
        .expect("record set");
    clients
        .route53()
        .change_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .change_batch(
            aws_sdk_route53::types::ChangeBatch::builder()
                .changes(
                    aws_sdk_route53::types::Change::builder()
                        .action(aws_sdk_route53::types::ChangeAction::Upsert)
                        .resource_record_set(foreign)
                        .build()
                        .expect("change"),
                )
                .build()
                .expect("batch"),
        )
        .send()
        .await
        .expect("the foreign record");

    let operator = start_operator(env, &namespace);
    apply(env, &manifest(&namespace, "taken", &taken_zone, ""));
    operator.wait_until("Conflict=True", Duration::from_secs(120), || {
        object(env, &namespace, "taken").is_some_and(|o| is_true(&o, "Conflict"))
    });
    let taken = object(env, &namespace, "taken").expect("the object");
    let message = condition(&taken, "Conflict")
        .map(|c| c["message"].to_string())
        .unwrap_or_default();
    assert!(
        message.contains(&format!("origin.api.{taken_zone}")),
        "{taken:#}"
    );
    assert!(!ready(&taken), "{taken:#}");
    let records = globalapi::aws::route53::observe::records(&clients.route53(), &zone_id)
        .await
        .expect("records");
    let origin: Vec<_> = records
        .iter()
        .filter(|r| r.key.name == format!("origin.api.{taken_zone}"))
        .collect();
    assert_eq!(origin.len(), 1, "{origin:#?}");
    assert_eq!(
        origin[0].value,
        globalapi::aws::route53::RecordValue::Values {
            ttl: 300,
            values: vec!["192.0.2.9".into()]
        },
        "the foreign record was changed"
    );
    drop(operator);

    // (2) An operator killed (SIGKILL) while it builds, started again: one of each.
    let zone = format!("killed-{}.example.com", common::unique_suffix());
    create_zone(&clients, &zone).await;
    let first = start_operator(env, &namespace);
    apply(env, &manifest(&namespace, "fresh", &zone, ""));
    first.wait_until("a first REST API", Duration::from_secs(60), || {
        object(env, &namespace, "fresh").is_some_and(|o| !o["status"]["regions"].is_null())
    });
    first.kill();
    let second = start_operator(env, &namespace);
    second.wait_ready(env, &namespace, "fresh", Duration::from_secs(120));
    let target = target_of(env, &namespace, "fresh").await;
    let found = common::owned::owned(&clients, &target, &REGIONS).await;
    assert_eq!(
        found,
        owned_when_ready(&zone, &REGIONS),
        "twins or gaps after the restart"
    );
    env.kubectl_ok(&[
        "delete",
        "gapi",
        "fresh",
        "taken",
        "-n",
        &namespace,
        "--wait=true",
        "--timeout=120s",
    ]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_region_added_to_the_spec_is_built_routed_and_reported() {
    const ADDED: &str = "ap-southeast-2";
    let Setup {
        env,
        clients,
        namespace,
        zone,
    } = setup("operator-grow", "grow").await;
    let name = "grown";
    let operator = start_operator(env, &namespace);
    let timeout = Duration::from_secs(120);

    // (1) Two regions, latency routing → Ready.
    let two = REGIONS.map(|r| (r, false));
    apply(
        env,
        &manifest_with(&namespace, name, &zone, LATENCY, &two, ""),
    );
    operator.wait_ready(env, &namespace, name, timeout);
    let target = target_of(env, &namespace, name).await;
    let zone_id = zone_id_of(&clients, &target).await;
    assert_eq!(
        origin_routing(&clients, &target, &zone_id).await,
        ["eu-west-1 latency", "us-east-1 latency"]
    );

    // (2) The changed manifest adds a third region.
    let three = [(REGIONS[0], false), (REGIONS[1], false), (ADDED, false)];
    apply(
        env,
        &manifest_with(&namespace, name, &zone, LATENCY, &three, ""),
    );
    operator.wait_until("Ready=True for generation 2", timeout, || {
        object(env, &namespace, name).is_some_and(|o| ready(&o) && o["metadata"]["generation"] == 2)
    });

    // Status: three regions with their outputs, all ready.
    let current = object(env, &namespace, name).expect("the object");
    assert_eq!(
        current["status"]["observedGeneration"], current["metadata"]["generation"],
        "{current:#}"
    );
    assert_eq!(current["status"]["readyRegions"], "3/3", "{current:#}");
    assert!(is_true(&current, "Ready"), "{current:#}");
    assert!(
        !is_true(&current, "Drifted"),
        "a new region is no drift: {current:#}"
    );
    let regions = current["status"]["regions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = regions.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names, ["us-east-1", "eu-west-1", ADDED], "{current:#}");
    for region in &regions {
        for output in [
            "restApiId",
            "invokeUrl",
            "customDomain",
            "certificateArn",
            "healthCheckId",
        ] {
            assert!(
                region[output].as_str().is_some_and(|v| !v.is_empty()),
                "{output} missing: {region:#}"
            );
        }
        assert_eq!(region["stage"], "v1", "{region:#}");
        assert_eq!(region["ready"], true, "{region:#}");
        assert_eq!(region["maintenance"], false, "{region:#}");
    }
    let added = &regions[2];
    let rest_api_id = added["restApiId"].as_str().expect("restApiId");
    let health_check_id = added["healthCheckId"].as_str().expect("healthCheckId");
    assert!(
        added["invokeUrl"]
            .as_str()
            .is_some_and(|u| u.contains(&format!("{rest_api_id}.execute-api.{ADDED}."))),
        "{added:#}"
    );

    // AWS: the new region's REST API, tagged with the object's uid.
    let api = rest_api(&clients, ADDED, rest_api_id, "is not in moto").await;
    assert_eq!(
        api.tags().and_then(|t| t.get(UID_TAG)),
        Some(&target.uid),
        "{api:?}"
    );
    // Its health check, probing the new region's own endpoint.
    let checks = observe::health_checks(&clients.route53(), &target, &[])
        .await
        .expect("health checks");
    let check = checks
        .iter()
        .find(|c| c.check.region == ADDED)
        .unwrap_or_else(|| panic!("no health check for {ADDED}: {checks:#?}"));
    assert_eq!(check.id, health_check_id, "{checks:#?}");
    assert_eq!(
        check.check.fqdn,
        format!("{rest_api_id}.execute-api.{ADDED}.amazonaws.com")
    );
    // Its latency alias record, to its custom domain, with its health check;
    // the other two regions keep theirs.
    assert_eq!(
        origin_routing(&clients, &target, &zone_id).await,
        [
            format!("{ADDED} latency"),
            "eu-west-1 latency".to_owned(),
            "us-east-1 latency".to_owned()
        ]
    );
    let records = origin_records(&clients, &zone_id, &zone).await;
    let record = records
        .iter()
        .find(|r| r.key.set_identifier.as_deref() == Some(&set_identifier(&target, ADDED)))
        .unwrap_or_else(|| panic!("no record for {ADDED}: {records:#?}"));
    assert_eq!(record.health_check_id.as_deref(), Some(health_check_id));
    // status.customDomain is the custom domain's own name; the record
    // aliases to the regional name API Gateway gave it.
    assert_eq!(added["customDomain"], format!("origin.api.{zone}"));
    let domain = clients
        .apigateway(ADDED)
        .get_domain_name()
        .domain_name(format!("origin.api.{zone}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("the custom domain of {ADDED} is not in moto: {e:?}"));
    assert_eq!(
        domain.tags().and_then(|t| t.get(UID_TAG)),
        Some(&target.uid),
        "{domain:?}"
    );
    let regional = domain.regional_domain_name().expect("regional domain name");
    assert!(
        matches!(&record.value, RecordValue::Alias { dns_name, evaluate_target_health: true, .. }
            if dns_name == regional),
        "{record:#?} does not point at {regional}"
    );
    // One of each in every region, no twins.
    let three_regions = [REGIONS[0], REGIONS[1], ADDED];
    assert_eq!(
        common::owned::owned(&clients, &target, &three_regions).await,
        owned_when_ready(&zone, &three_regions)
    );

    // (3) Deleted → nothing tagged with the uid is left, nor any record.
    operator.delete_and_wait_gone(env, &namespace, name, Duration::from_secs(180));
    assert_eq!(
        common::owned::owned(&clients, &target, &three_regions).await,
        Vec::<String>::new()
    );
    assert_eq!(
        origin_records(&clients, &zone_id, &zone).await,
        Vec::<Record>::new()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn maintenance_drains_a_region_from_latency_and_failover_dns_and_clearing_restores_it() {
    const FAILOVER: &str = "{policy: Failover, primaryRegion: us-east-1}";
    let Setup {
        env,
        clients,
        namespace,
        zone: latency_zone,
    } = setup("operator-drain", "drain-lat").await;
    let failover_zone = format!("drain-fo-{}.example.com", common::unique_suffix());
    create_zone(&clients, &failover_zone).await;
    // One GlobalApi per routing policy, each in its own zone, one operator.
    let objects = [
        ("latency", latency_zone, LATENCY),
        ("failover", failover_zone, FAILOVER),
    ];
    let operator = start_operator(env, &namespace);
    let timeout = Duration::from_secs(120);
    // us-east-1 (the failover primary) drained or not.
    let apply_all = |drained: bool| {
        let regions = [(REGIONS[0], drained), (REGIONS[1], false)];
        for (name, zone, routing) in &objects {
            apply(
                env,
                &manifest_with(&namespace, name, zone, routing, &regions, ""),
            );
        }
    };
    let all_ready = |generation: i64| {
        objects.iter().all(|(name, _, _)| {
            object(env, &namespace, name)
                .is_some_and(|o| ready(&o) && o["metadata"]["generation"] == generation)
        })
    };
    let routing_of =
        |target: &Target, zone_id: &str| block(origin_routing(&clients, target, zone_id));

    apply_all(false);
    operator.wait_until("both Ready=True", timeout, || all_ready(1));
    let latency = target_of(env, &namespace, "latency").await;
    let latency_zone = zone_id_of(&clients, &latency).await;
    let failover = target_of(env, &namespace, "failover").await;
    let failover_zone = zone_id_of(&clients, &failover).await;
    let serving = ["eu-west-1 latency", "us-east-1 latency"];
    let roles = ["eu-west-1 SECONDARY", "us-east-1 PRIMARY"];
    assert_eq!(routing_of(&latency, &latency_zone), serving);
    assert_eq!(routing_of(&failover, &failover_zone), roles);

    // (1) us-east-1 in maintenance: its latency record leaves the set, and
    // the failover secondary becomes the only answer, as PRIMARY.
    apply_all(true);
    operator.wait_until("us-east-1 drained from DNS", timeout, || {
        routing_of(&latency, &latency_zone) == ["eu-west-1 latency"]
            && routing_of(&failover, &failover_zone) == ["eu-west-1 PRIMARY"]
    });
    operator.wait_until("both Ready=True for generation 2", timeout, || all_ready(2));
    for (name, _, _) in &objects {
        let current = object(env, &namespace, name).expect("the object");
        let regions = &current["status"]["regions"];
        assert_eq!(regions[0]["name"], "us-east-1", "{current:#}");
        assert_eq!(regions[0]["maintenance"], true, "{current:#}");
        assert_eq!(regions[1]["name"], "eu-west-1", "{current:#}");
        assert_eq!(regions[1]["maintenance"], false, "{current:#}");
        // Drained, not removed: the region keeps its REST API and health
        // check, matches the spec and counts as ready.
        assert!(
            regions[0]["restApiId"].is_string() && regions[0]["healthCheckId"].is_string(),
            "{current:#}"
        );
        assert_eq!(regions[0]["ready"], true, "{current:#}");
        assert_eq!(current["status"]["readyRegions"], "2/2", "{current:#}");
        let ready = condition(&current, "Ready").expect("a Ready condition");
        let message = ready["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("1 of 2 regions serve")
                && message.contains("(us-east-1 in maintenance, drained from DNS)"),
            "the Ready message names the drained region: {message}"
        );
        assert!(
            !is_true(&current, "Drifted"),
            "maintenance is no drift: {current:#}"
        );
    }
    for target in [&latency, &failover] {
        let mut regions: Vec<String> = observe::health_checks(&clients.route53(), target, &[])
            .await
            .expect("health checks")
            .into_iter()
            .map(|c| c.check.region)
            .collect();
        regions.sort();
        assert_eq!(regions, ["eu-west-1", "us-east-1"], "{}", target.name);
    }
    let drained_record = format!(
        "delete route53 record origin.api.{} A {}",
        objects[0].1,
        set_identifier(&latency, "us-east-1")
    );
    assert!(
        event_notes(env, &namespace, "latency", "Deleted")
            .iter()
            .any(|n| n.contains(&drained_record)),
        "no Deleted event for {drained_record}: {:#?}",
        event_notes(env, &namespace, "latency", "Deleted")
    );

    // (2) Maintenance cleared: the records of the spec come back.
    apply_all(false);
    operator.wait_until("us-east-1 back in DNS", timeout, || {
        routing_of(&latency, &latency_zone) == serving
            && routing_of(&failover, &failover_zone) == roles
    });
    operator.wait_until("both Ready=True for generation 3", timeout, || all_ready(3));
    for (name, _, _) in &objects {
        let current = object(env, &namespace, name).expect("the object");
        let regions = current["status"]["regions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            regions.len() == 2 && regions.iter().all(|r| r["maintenance"] == false),
            "{current:#}"
        );
    }

    for (name, _, _) in &objects {
        env.kubectl_ok(&[
            "delete",
            "globalapi",
            name,
            "-n",
            &namespace,
            "--wait=false",
        ]);
    }
    operator.wait_until("both objects are gone", Duration::from_secs(180), || {
        objects
            .iter()
            .all(|(name, _, _)| object(env, &namespace, name).is_none())
    });
    for target in [&latency, &failover] {
        assert_eq!(
            common::owned::owned(&clients, target, &REGIONS).await,
            Vec::<String>::new(),
            "{}",
            target.name
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_label_selector_limits_the_operator_to_its_shard() {
    let Setup {
        env,
        clients,
        namespace,
        zone,
    } = setup("operator-shard", "shard").await;
    let other_zone = format!("other.{zone}");
    create_zone(&clients, &other_zone).await;
    let timeout = Duration::from_secs(120);
    apply(
        env,
        &Manifest::latency(&namespace, "in-shard", &zone).yaml(),
    );
    apply(
        env,
        &Manifest::latency(&namespace, "elsewhere", &other_zone).yaml(),
    );
    env.kubectl_ok(&[
        "label",
        "globalapi",
        "in-shard",
        "-n",
        &namespace,
        "shard=a",
    ]);
    let operator = Operator::spawn(
        env,
        &env.kubeconfig,
        &["--namespace", &namespace, "--selector", "shard=a"],
        &[],
        "operator-test",
        &format!("{namespace}-shard-a"),
    );
    operator.wait_for_ok("/readyz", Duration::from_secs(30));

    operator.wait_ready(env, &namespace, "in-shard", timeout);
    // By now the operator has listed the namespace: the unselected object
    // has neither the finalizer nor a status, and nothing of it is in AWS.
    let elsewhere = object(env, &namespace, "elsewhere").expect("the other object");
    assert!(
        elsewhere["metadata"]["finalizers"].is_null() && elsewhere["status"].is_null(),
        "an object outside the selector was touched: {elsewhere:#}"
    );
    let target = target_of(env, &namespace, "elsewhere").await;
    let owned = common::owned::owned(&clients, &target, &REGIONS).await;
    assert!(owned.is_empty(), "{owned:#?}");

    // Labelled into the shard, it is picked up like any other.
    env.kubectl_ok(&[
        "label",
        "globalapi",
        "elsewhere",
        "-n",
        &namespace,
        "shard=a",
    ]);
    operator.wait_ready(env, &namespace, "elsewhere", timeout);
    for name in ["in-shard", "elsewhere"] {
        operator.delete_and_wait_gone(env, &namespace, name, timeout);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_operator_watches_the_namespaces_it_is_given_and_no_other() {
    let Setup {
        env,
        clients,
        namespace: first,
        zone,
    } = setup("operator-ns-a", "nsab").await;
    let second = env.namespace("operator-ns-b");
    let unwatched = env.namespace("operator-ns-c");
    let zones = [zone.clone(), format!("b.{zone}"), format!("c.{zone}")];
    for extra in &zones[1..] {
        create_zone(&clients, extra).await;
    }
    for (namespace, zone) in [&first, &second, &unwatched].into_iter().zip(&zones) {
        apply(env, &Manifest::latency(namespace, "api", zone).yaml());
    }
    let operator = Operator::spawn(
        env,
        &env.kubeconfig,
        &["--namespace", &format!("{first},{second}")],
        &[],
        "operator-test",
        &first,
    );
    operator.wait_for_ok("/readyz", Duration::from_secs(30));
    let timeout = Duration::from_secs(120);
    for namespace in [&first, &second] {
        operator.wait_ready(env, namespace, "api", timeout);
    }
    let untouched = object(env, &unwatched, "api").expect("the unwatched object");
    assert!(
        untouched["metadata"]["finalizers"].is_null() && untouched["status"].is_null(),
        "an object in an unwatched namespace was touched: {untouched:#}"
    );
    for namespace in [&first, &second] {
        operator.delete_and_wait_gone(env, namespace, "api", timeout);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_requested_failover_moves_the_database_writer_and_dns_follows_it() {
    const FOLLOWING: &str =
        "{policy: Failover, primaryRegion: us-east-1, followDatabaseWriter: true}";
    const DATABASE: &str = "  database:\n    aurora:\n      globalClusterIdentifier: DB\n      engine: aurora-postgresql\n      engineVersion: \"16.4\"\n      primaryRegion: us-east-1\n      instanceClass: db.r6g.large\n      deletionProtection: false\n      skipFinalSnapshot: true\n      writeForwarding: true\n";
    let Setup {
        env,
        clients,
        namespace,
        zone,
    } = setup("operator-failover", "dbfo").await;
    let name = "ledger";
    let database = DATABASE.replace("DB", &format!("gdb-{}", common::unique_suffix()));
    let operator = start_operator(env, &namespace);
    apply(
        env,
        &manifest_with(&namespace, name, &zone, FOLLOWING, &SERVING, &database),
    );
    let timeout = Duration::from_secs(180);
    operator.wait_ready(env, &namespace, name, timeout);
    let current = object(env, &namespace, name).expect("the object");
    let db = &current["status"]["database"];
    assert_eq!(db["writerRegion"], "us-east-1", "{current:#}");
    assert!(
        db["masterUserSecretArn"]
            .as_str()
            .is_some_and(|a| a.starts_with("arn:aws:secretsmanager:")),
        "{current:#}"
    );
    let target = target_of(env, &namespace, name).await;
    let zone_id = zone_id_of(&clients, &target).await;
    assert_eq!(
        origin_routing(&clients, &target, &zone_id).await,
        ["eu-west-1 SECONDARY", "us-east-1 PRIMARY"]
    );

    // The annotation: the writer fails over to eu-west-1, the PRIMARY record
    // follows once it has, and nothing switches the writer back.
    env.kubectl_ok(&[
        "annotate",
        "globalapi",
        name,
        "-n",
        &namespace,
        "globalapi.io/failover-to=eu-west-1",
    ]);
    operator.wait_until("the writer in eu-west-1", timeout, || {
        object(env, &namespace, name).is_some_and(|o| {
            o["status"]["database"]["writerRegion"] == "eu-west-1"
                && condition(&o, "DatabaseReady").is_some_and(|c| c["reason"] == "FailedOver")
        })
    });
    operator.wait_until("DNS PRIMARY in eu-west-1", timeout, || {
        block(origin_routing(&clients, &target, &zone_id))
            == ["eu-west-1 PRIMARY", "us-east-1 SECONDARY"]
    });
    operator.wait_ready(env, &namespace, name, timeout);
    let current = object(env, &namespace, name).expect("the object");
    assert!(!is_true(&current, "Drifted"), "{current:#}");
    assert_eq!(current["status"]["database"]["writerRegion"], "eu-west-1");
    let told = event_notes(env, &namespace, name, "FailedOverDatabase");
    assert!(
        told.iter()
            .any(|n| n.contains("Writer us-east-1 → eu-west-1") && n.contains("failover-to")),
        "{told:?}"
    );
    assert!(!event_notes(env, &namespace, name, "FailingOverDatabase").is_empty());

    operator.delete_and_wait_gone(env, &namespace, name, timeout);
}
