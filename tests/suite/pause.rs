//! During an incident: the `globalapi.io/paused` annotation holds every AWS
//! write back (corrections, spec changes, deletion) until it is removed, and
//! a change that only sets `driftPolicy: Report` applies nothing, so a fix
//! made by hand stays.
//!
//! The objects resync once an hour: every pass here is one the test causes
//! (a spec or annotation change), so nothing lands between two steps.

use std::time::Duration;

use crate::common::{
    self, Setup,
    objects::{
        Manifest, REGIONS, apply, condition, drift_entry, event_notes, is_true, merge_patch,
        object, observed, ready, reason, rest_api_ids, target_of,
    },
    operator::Operator,
    owned::{disable_tracing, owned, thresholds, tracing_enabled},
};

const TIMEOUT: Duration = Duration::from_secs(120);

fn manifest(namespace: &str, name: &str, zone: &str) -> String {
    Manifest {
        tracing: true,
        ..Manifest::latency(namespace, name, zone)
    }
    .yaml()
    .replace("resyncSeconds: 30", "resyncSeconds: 3600")
}

fn set_paused(env: &common::TestEnv, namespace: &str, name: &str, paused: bool) {
    let annotation = if paused {
        "globalapi.io/paused=true".to_owned()
    } else {
        "globalapi.io/paused-".to_owned()
    };
    env.kubectl_ok(&["annotate", "globalapi", name, "-n", namespace, &annotation]);
}

#[tokio::test(flavor = "multi_thread")]
async fn switching_to_report_keeps_a_fix_made_by_hand() {
    let Setup {
        env,
        clients,
        namespace,
        zone,
    } = common::setup("report-switch", "rsw").await;
    let name = "switched";
    let operator = Operator::start(env, &namespace, "pause-test");
    apply(env, &manifest(&namespace, name, &zone));
    operator.wait_ready(env, &namespace, name, TIMEOUT);
    let ids = rest_api_ids(&object(env, &namespace, name).expect("the object"));
    let (region, api_id) = ids[0].clone();

    // A fix by hand, then driftPolicy: Report in the same breath.
    disable_tracing(&clients, &region, &api_id).await;
    merge_patch(
        env,
        &namespace,
        name,
        r#"{"spec": {"driftPolicy": "Report"}}"#,
    );
    operator.wait_until("the switch observed, drift reported", TIMEOUT, || {
        observed(env, &namespace, name).is_some_and(|o| reason(&o, "Drifted") == "DriftReported")
    });
    assert!(
        !tracing_enabled(&clients, &region, &api_id).await,
        "the fix made by hand stays"
    );
    let current = object(env, &namespace, name).expect("the object");
    assert!(
        drift_entry(&current, "TracingEnabled", "Reported"),
        "{current:#}"
    );

    // Back to Correct: the spec, unchanged otherwise, is put back.
    merge_patch(
        env,
        &namespace,
        name,
        r#"{"spec": {"driftPolicy": "Correct"}}"#,
    );
    operator.wait_until("corrected", TIMEOUT, || {
        observed(env, &namespace, name).is_some_and(|o| reason(&o, "Drifted") == "DriftCorrected")
    });
    assert!(tracing_enabled(&clients, &region, &api_id).await);
    operator.delete_and_wait_gone(env, &namespace, name, TIMEOUT);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paused_object_writes_nothing_to_aws_until_resumed() {
    let Setup {
        env,
        clients,
        namespace,
        zone,
    } = common::setup("paused", "psd").await;
    let name = "held";
    let operator = Operator::start(env, &namespace, "pause-test");
    apply(env, &manifest(&namespace, name, &zone));
    operator.wait_ready(env, &namespace, name, TIMEOUT);
    let target = target_of(env, &namespace, name).await;
    let ids = rest_api_ids(&object(env, &namespace, name).expect("the object"));
    let (region, api_id) = ids[0].clone();
    let before = thresholds(&clients, &target).await;
    assert!(before.iter().all(|(_, t)| *t == 3), "{before:?}");

    set_paused(env, &namespace, name, true);
    operator.wait_until("Paused=True", TIMEOUT, || {
        object(env, &namespace, name).is_some_and(|o| is_true(&o, "Paused"))
    });
    // A fix by hand and a spec change while paused: neither is acted on.
    disable_tracing(&clients, &region, &api_id).await;
    merge_patch(
        env,
        &namespace,
        name,
        r#"{"spec": {"api": {"healthCheck": {"failureThreshold": 5}}}}"#,
    );
    operator.wait_until("the change observed and held back", TIMEOUT, || {
        observed(env, &namespace, name).is_some_and(|o| reason(&o, "Ready") == "Paused")
    });
    let current = object(env, &namespace, name).expect("the object");
    let message = condition(&current, "Ready").expect("Ready")["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("health check"), "{message}");
    assert_eq!(thresholds(&clients, &target).await, before);
    assert!(!tracing_enabled(&clients, &region, &api_id).await);

    // Resumed: the spec is carried out.
    set_paused(env, &namespace, name, false);
    operator.wait_until("Ready again", TIMEOUT, || {
        object(env, &namespace, name).is_some_and(|o| ready(&o) && !is_true(&o, "Paused"))
    });
    let after = thresholds(&clients, &target).await;
    assert!(after.iter().all(|(_, t)| *t == 5), "{after:?}");
    assert!(tracing_enabled(&clients, &region, &api_id).await);

    // A deletion while paused removes nothing until resumed.
    set_paused(env, &namespace, name, true);
    operator.wait_until("Paused=True", TIMEOUT, || {
        object(env, &namespace, name).is_some_and(|o| is_true(&o, "Paused"))
    });
    env.kubectl_ok(&[
        "delete",
        "globalapi",
        name,
        "-n",
        &namespace,
        "--wait=false",
    ]);
    operator.wait_until("the deletion held back", TIMEOUT, || {
        object(env, &namespace, name).is_some_and(|o| reason(&o, "Ready") == "DeletionPaused")
    });
    assert!(!event_notes(env, &namespace, name, "DeletionPaused").is_empty());
    let kept = owned(&clients, &target, &REGIONS).await;
    assert!(
        kept.iter().any(|l| l.starts_with("apigateway rest-api")),
        "{kept:#?}"
    );
    set_paused(env, &namespace, name, false);
    operator.wait_until("the object is gone", TIMEOUT, || {
        object(env, &namespace, name).is_none()
    });
    assert_eq!(
        owned(&clients, &target, &REGIONS).await,
        Vec::<String>::new()
    );
}
