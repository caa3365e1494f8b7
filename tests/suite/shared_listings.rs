//! Two GlobalApis of one account reconciled by one process against moto:
//! the account-wide listings (certificates, REST APIs and custom domains per
//! region, distributions, the zone's records, health checks) are listed once
//! and serve both, their own writes are seen at once, and what a listing
//! kept from before a pass shows never hides a change from an object whose
//! previous pass came later.

use crate::common;

use std::time::{Duration, SystemTime};

use globalapi::{
    api::GlobalApiSpec,
    aws::{AwsClients, CallCounts},
    plan::Mode,
    reconcile::{self, Memory, Pass},
    target::Target,
};

const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

fn target(zone: &str, name: &str, uid_prefix: &str) -> Target {
    let spec: GlobalApiSpec = serde_norway::from_str(&format!(
        r#"
domain: {name}.{zone}
hostedZone: {{name: {zone}}}
routing: {{policy: Latency}}
regions:
  - {{name: us-east-1, backend: {{httpUrl: "https://us.example.com"}}}}
  - {{name: eu-west-1, backend: {{httpUrl: "https://eu.example.com"}}}}
edge: {{enabled: true}}
"#
    ))
    .expect("spec parses");
    Target {
        namespace: "shared".into(),
        name: name.into(),
        // Distinct first 8 characters: they make the record set identifiers.
        uid: format!(
            "{uid_prefix}{:0>8}-0000-4000-8000-000000000000",
            common::unique_suffix()
        ),
        spec,
    }
}

/// Calls of one operation, whatever the service is called.
fn calls_of(calls: &CallCounts, operation: &str) -> u64 {
    calls
        .0
        .iter()
        .filter(|((_, op), _)| op == operation)
        .map(|(_, n)| n)
        .sum()
}

/// Apply passes until both converge (certificates take a few seconds in moto).
async fn converge(clients: &AwsClients, targets: &[&Target]) {
    for _ in 0..20 {
        let mut all = true;
        for t in targets {
            let pass = reconcile::reconcile(clients, t, &Memory::default(), Mode::Apply).await;
            assert!(pass.errors.is_empty(), "{}", reconcile::report(&pass));
            assert!(pass.conflicts.is_empty(), "{}", reconcile::report(&pass));
            all &= pass.converged();
        }
        if all {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    panic!("the two GlobalApis did not converge within 20 passes");
}

/// A Plan pass of `t` as the operator runs it after a pass that ended at `previous`.
async fn plan_after(clients: &AwsClients, t: &Target, previous: SystemTime) -> Pass {
    let memory = Memory {
        last_sync: Some(previous),
        ..Memory::default()
    };
    reconcile::reconcile(clients, t, &memory, Mode::Plan).await
}

#[tokio::test]
async fn one_listing_per_region_serves_every_object_and_never_hides_a_later_change() {
    let env = common::env();
    let clients = env
        .aws_clients()
        .await
        .with_shared_listings(Duration::from_secs(600));
    let zone = format!("shared-{}.example.com", common::unique_suffix());
    common::create_zone(&clients, &zone).await;
    let first = target(&zone, "first", "f1a5");
    let second = target(&zone, "second", "5ec0");
    converge(&clients, &[&first, &second]).await;
    // What each deployment deploys was kept when it was made: no pass asked.
    let converging = clients.calls().snapshot();
    assert_eq!(calls_of(&converging, "GetDeployment"), 0, "{converging}");

    // A resync round: both objects' previous passes ended before now, so the
    // first lists afresh and the second is served by the same listings.
    let round = SystemTime::now();
    let before = clients.calls().snapshot();
    for t in [&first, &second] {
        let pass = plan_after(&clients, t, round).await;
        assert!(pass.converged(), "{}", reconcile::report(&pass));
    }
    let steady = clients.calls().snapshot().since(&before);
    assert_eq!(steady.mutating(), 0, "{steady}");
    for (operation, listings) in [
        ("ListCertificates", REGIONS.len()),
        ("GetRestApis", REGIONS.len()),
        ("GetDomainNames", REGIONS.len()),
        ("ListDistributions", 1),
        ("ListResourceRecordSets", 1),
        ("ListHealthChecks", 1),
        // Our certificates' owners were read while converging, and kept.
        ("ListTagsForCertificate", 0),
    ] {
        assert_eq!(
            calls_of(&steady, operation),
            listings as u64,
            "{operation}: listings for both objects\n{steady}"
        );
    }

    // A REST API name changed by hand after the round: an object
    // whose previous pass ended after the change does not take the kept
    // listing and sees the drift.
    let region = "eu-west-1";
    let api_id = common::owned::rest_api_ids(&clients, &first, region)
        .await
        .pop()
        .expect("the first object's REST API");
    clients
        .apigateway(region)
        .update_rest_api()
        .rest_api_id(&api_id)
        .patch_operations(
            aws_sdk_apigateway::types::PatchOperation::builder()
                .op(aws_sdk_apigateway::types::Op::Replace)
                .path("/name")
                .value("changed-by-hand")
                .build(),
        )
        .send()
        .await
        .expect("changing the name by hand");
    let kept = plan_after(&clients, &first, round).await;
    let after_change = plan_after(&clients, &first, SystemTime::now()).await;
    let kept_lines = reconcile::report(&kept);
    let after_lines = reconcile::report(&after_change);
    assert!(
        after_lines.contains("changed-by-hand"),
        "the later pass sees the change:\n{after_lines}"
    );
    assert!(
        !kept_lines.contains("changed-by-hand"),
        "a pass whose previous pass came before the change may use the kept listing:\n{kept_lines}"
    );

    // Destroy both through the shared listings: nothing of either is left.
    for t in [&first, &second] {
        for _ in 0..10 {
            let pass = reconcile::destroy(&clients, t, &Memory::default(), Mode::Apply).await;
            assert!(pass.errors.is_empty(), "{}", reconcile::report(&pass));
            if pass.pending.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let left = common::owned::owned(&clients, t, &REGIONS).await;
        assert!(left.is_empty(), "{} left {left:#?}", t.name);
    }
}
