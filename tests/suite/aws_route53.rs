//! Route 53 against moto: records, health checks and ownership, created,
//! found equal, drifted, corrected, drained, refused and destroyed.

use crate::common;

use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, HealthCheckConfig, HealthCheckType,
    ResourceRecord, ResourceRecordSet, RrType,
};
use globalapi::{
    api::GlobalApiSpec,
    aws::{
        AwsClients,
        acm::certificate::ValidationRecord,
        apigateway::model::RegionEndpoint,
        route53::{self, Route53Inputs, apply::caller_reference, observe},
    },
    plan::Mode,
    target::Target,
};

/// A uid unique to this run, so that nothing left by an earlier run is taken for ours.
fn uid(prefix: &str) -> String {
    format!(
        "{prefix}{:0>8}-0000-4000-8000-000000000000",
        common::unique_suffix()
    )
}

fn target(zone: &str, uid: &str) -> Target {
    let spec: GlobalApiSpec = serde_norway::from_str(&format!(
        r#"
domain: api.{zone}
hostedZone: {{name: {zone}}}
routing: {{policy: Latency}}
regions:
  - {{name: us-east-1, backend: {{httpUrl: "https://us.example.com"}}}}
  - {{name: eu-west-1, backend: {{httpUrl: "https://eu.example.com"}}}}
api: {{healthCheck: {{path: /health, intervalSeconds: 30, failureThreshold: 3}}}}
edge: {{enabled: true}}
"#
    ))
    .expect("spec parses");
    Target {
        namespace: "r53".into(),
        name: format!("t-{}", &uid[..8]),
        uid: uid.into(),
        spec,
    }
}

fn inputs(zone: &str) -> Route53Inputs {
    inputs_for(zone, "api")
}

fn inputs_for(zone: &str, label: &str) -> Route53Inputs {
    Route53Inputs::known(
        ["us-east-1", "eu-west-1"]
            .iter()
            .map(|r| RegionEndpoint {
                region: (*r).into(),
                rest_api_id: format!("api{}", &r[..2]),
                regional_domain_name: format!("d-{r}.execute-api.{r}.amazonaws.com"),
                regional_zone_id: "ZREGIONAL123".into(),
            })
            .collect(),
        Some("d111111abcdef8.cloudfront.net".into()),
        vec![ValidationRecord {
            name: format!("_abc.origin.{label}.{zone}."),
            value: "_xyz.acm-validations.aws.".into(),
        }],
    )
}

async fn zone_with_foreign_records(clients: &AwsClients, zone: &str) -> String {
    let client = clients.route53();
    let created = client
        .create_hosted_zone()
        .name(zone)
        .caller_reference(format!("test-{zone}"))
        .send()
        .await
        .expect("creating the zone");
    let id = created
        .hosted_zone()
        .expect("zone")
        .id()
        .trim_start_matches("/hostedzone/")
        .to_owned();
    let foreign = ResourceRecordSet::builder()
        .name(format!("www.{zone}"))
        .r#type(RrType::A)
        .ttl(300)
        .resource_records(
            ResourceRecord::builder()
                .value("192.0.2.10")
                .build()
                .expect("record"),
        )
        .build()
        .expect("record set");
    change(clients, &id, ChangeAction::Upsert, foreign).await;
    id
}

async fn change(clients: &AwsClients, zone_id: &str, action: ChangeAction, set: ResourceRecordSet) {
    clients
        .route53()
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(
            ChangeBatch::builder()
                .changes(
                    Change::builder()
                        .action(action)
                        .resource_record_set(set)
                        .build()
                        .expect("change"),
                )
                .build()
                .expect("batch"),
        )
        .send()
        .await
        .expect("changing records directly");
}

/// The target's latency record of `region`, pointed elsewhere by hand.
fn aliased_elsewhere(
    t: &Target,
    zone: &str,
    region: &str,
    health_check: Option<&str>,
) -> ResourceRecordSet {
    ResourceRecordSet::builder()
        .name(format!("origin.api.{zone}"))
        .r#type(RrType::A)
        .set_identifier(route53::desired::set_identifier(t, region))
        .region(aws_sdk_route53::types::ResourceRecordSetRegion::from(
            region,
        ))
        .set_health_check_id(health_check.map(str::to_owned))
        .alias_target(
            AliasTarget::builder()
                .hosted_zone_id("ZREGIONAL123")
                .dns_name("somewhere-else.example.net")
                .evaluate_target_health(true)
                .build()
                .expect("alias"),
        )
        .build()
        .expect("record set")
}

async fn zone_records(clients: &AwsClients, zone_id: &str) -> Vec<route53::Record> {
    observe::records(&clients.route53(), zone_id)
        .await
        .expect("listing records")
}

#[tokio::test]
async fn records_and_health_checks_converge_drift_is_corrected_and_destroy_leaves_foreign_records()
{
    let env = common::env();
    let clients = env.aws_clients().await;
    let zone = format!("r53-{}.example.com", common::unique_suffix());
    let zone_id = zone_with_foreign_records(&clients, &zone).await;
    let t = target(&zone, &uid("5e1f"));

    let created = route53::run(&clients, &t, &inputs(&zone), Mode::Apply)
        .await
        .expect("first apply");
    assert!(created.conflicts.is_empty(), "{:?}", created.conflicts);
    // 2 health checks, 2 latency records, A + AAAA to CloudFront, 1 validation CNAME, 3 owner TXT.
    let lines: Vec<String> = created.changes.iter().map(ToString::to_string).collect();
    assert_eq!(created.changes.len(), 10, "{lines:#?}");
    assert_eq!(created.outputs.health_check_ids.len(), 2);

    // Equal state: no changes, and the plan made no mutating call.
    let before = clients.calls().snapshot();
    let again = route53::run(&clients, &t, &inputs(&zone), Mode::Plan)
        .await
        .expect("plan");
    assert!(again.changes.is_empty(), "{:#?}", again.changes);
    let calls = clients.calls().snapshot().since(&before);
    assert_eq!(calls.mutating(), 0, "{calls}");
    assert!(calls.total() > 0, "the plan observed nothing");

    // Drift: an alias target and a health check threshold changed by hand.
    let hc_us = created.outputs.health_check_ids["us-east-1"].clone();
    let tampered = aliased_elsewhere(&t, &zone, "us-east-1", Some(&hc_us));
    change(&clients, &zone_id, ChangeAction::Upsert, tampered).await;
    clients
        .route53()
        .update_health_check()
        .health_check_id(&hc_us)
        .failure_threshold(7)
        .send()
        .await
        .expect("changing the threshold by hand");

    let drift = route53::run(&clients, &t, &inputs(&zone), Mode::Plan)
        .await
        .expect("plan drift");
    let lines: Vec<String> = drift.changes.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("health check us-east-1") && l.contains("FailureThreshold 7 → 3")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("AliasTarget.DNSName somewhere-else.example.net → d-us-east-1")),
        "{lines:#?}"
    );
    route53::run(&clients, &t, &inputs(&zone), Mode::Apply)
        .await
        .expect("correcting");
    let settled = route53::run(&clients, &t, &inputs(&zone), Mode::Plan)
        .await
        .expect("plan after correction");
    assert!(settled.changes.is_empty(), "{:#?}", settled.changes);

    // Maintenance drains us-east-1 from the latency set, and clearing it restores it.
    let mut drained = t.clone();
    drained.spec.regions[0].maintenance = true;
    route53::run(&clients, &drained, &inputs(&zone), Mode::Apply)
        .await
        .expect("draining");
    let latency: Vec<String> = zone_records(&clients, &zone_id)
        .await
        .into_iter()
        .filter(|r| r.key.name == format!("origin.api.{zone}") && r.key.record_type == "A")
        .filter_map(|r| r.key.set_identifier)
        .collect();
    assert_eq!(latency.len(), 1, "{latency:?}");
    assert!(latency[0].starts_with("eu-west-1"), "{latency:?}");
    route53::run(&clients, &t, &inputs(&zone), Mode::Apply)
        .await
        .expect("undraining");
    let restored = zone_records(&clients, &zone_id).await;
    assert_eq!(
        restored
            .iter()
            .filter(|r| r.key.name == format!("origin.api.{zone}") && r.key.record_type == "A")
            .count(),
        2
    );

    // Another GlobalApi claiming the same names gets conflicts and changes nothing there.
    let rival = target(&zone, &uid("7a7a"));
    let before_rival = zone_records(&clients, &zone_id).await;
    let refused = route53::run(&clients, &rival, &inputs(&zone), Mode::Apply)
        .await
        .expect("rival apply");
    assert!(
        refused.conflicts.iter().any(|c| c
            .text
            .contains(&format!("api.{zone} is owned by GlobalApi r53/{}", t.name))),
        "{:?}",
        refused.conflicts
    );
    let after_rival: Vec<_> = zone_records(&clients, &zone_id).await;
    assert_eq!(
        before_rival, after_rival,
        "the rival changed records it does not own"
    );
    route53::destroy(&clients, &rival, Mode::Apply)
        .await
        .expect("rival destroy");

    // Destroy removes everything of ours and nothing else.
    route53::destroy(&clients, &t, Mode::Apply)
        .await
        .expect("destroy");
    let left: Vec<String> = zone_records(&clients, &zone_id)
        .await
        .into_iter()
        .map(|r| format!("{} {}", r.key.name, r.key.record_type))
        .collect();
    let mut left_sorted = left.clone();
    left_sorted.sort();
    assert_eq!(
        left_sorted,
        [
            format!("{zone} NS"),
            format!("{zone} SOA"),
            format!("www.{zone} A")
        ],
        "{left:?}"
    );
    let checks = observe::health_checks(&clients.route53(), &t, &[])
        .await
        .expect("listing checks");
    assert!(checks.is_empty(), "{checks:?}");
    let rival_checks = observe::health_checks(&clients.route53(), &rival, &[])
        .await
        .expect("listing checks");
    assert!(rival_checks.is_empty(), "{rival_checks:?}");
}

#[tokio::test]
async fn a_health_check_created_before_a_crash_is_adopted_not_duplicated() {
    let env = common::env();
    let clients = env.aws_clients().await;
    let zone = format!("r53-{}.example.com", common::unique_suffix());
    zone_with_foreign_records(&clients, &zone).await;
    let t = target(&zone, &uid("c4a5"));

    // What an apply killed between CreateHealthCheck and tagging leaves behind.
    let wanted = route53::desired::health_checks(&t, &inputs(&zone));
    let orphan = &wanted[0];
    let config = HealthCheckConfig::builder()
        .r#type(HealthCheckType::Https)
        .fully_qualified_domain_name(&orphan.fqdn)
        .resource_path(&orphan.resource_path)
        .port(443)
        .request_interval(orphan.request_interval)
        .failure_threshold(orphan.failure_threshold)
        .build()
        .expect("config");
    let made = clients
        .route53()
        .create_health_check()
        .caller_reference(caller_reference(&t, orphan))
        .health_check_config(config)
        .send()
        .await
        .expect("creating the orphan");
    let orphan_id = made.health_check().expect("check").id().to_owned();

    let outcome = route53::run(&clients, &t, &inputs(&zone), Mode::Apply)
        .await
        .expect("apply after crash");
    assert_eq!(
        outcome.outputs.health_check_ids.get(&orphan.region),
        Some(&orphan_id)
    );
    let checks = observe::health_checks(&clients.route53(), &t, &[])
        .await
        .expect("listing checks");
    assert_eq!(checks.len(), 2, "{checks:?}");
    assert!(checks.iter().all(|c| c.tagged));
    route53::destroy(&clients, &t, Mode::Apply)
        .await
        .expect("destroy");
    assert!(
        observe::health_checks(&clients.route53(), &t, &[])
            .await
            .expect("list")
            .is_empty()
    );
}

/// The failover records of the origin name: (set identifier's region, role).
async fn failover_roles(clients: &AwsClients, zone_id: &str, zone: &str) -> Vec<(String, String)> {
    let mut roles: Vec<(String, String)> = zone_records(clients, zone_id)
        .await
        .into_iter()
        .filter(|r| r.key.name == format!("origin.api.{zone}") && r.key.record_type == "A")
        .map(|r| {
            let region = r.key.set_identifier.clone().unwrap_or_default();
            let region = region
                .rsplit_once('-')
                .map(|(r, _)| r.to_owned())
                .unwrap_or(region);
            let role = match r.routing {
                route53::Routing::Failover(f) => f.as_str().to_owned(),
                other => format!("{other:?}"),
            };
            (region, role)
        })
        .collect();
    roles.sort();
    roles
}

#[tokio::test]
async fn failover_maintenance_on_the_primary_promotes_the_secondary_and_clearing_restores() {
    let env = common::env();
    let clients = env.aws_clients().await;
    let zone = format!("r53-{}.example.com", common::unique_suffix());
    let zone_id = zone_with_foreign_records(&clients, &zone).await;
    let mut t = target(&zone, &uid("fa11"));
    t.spec.routing.policy = globalapi::api::RoutingPolicy::Failover;
    t.spec.routing.primary_region = Some("us-east-1".into());

    let created = route53::run(&clients, &t, &inputs(&zone), Mode::Apply)
        .await
        .expect("apply");
    assert!(created.conflicts.is_empty(), "{:?}", created.conflicts);
    let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(
        failover_roles(&clients, &zone_id, &zone).await,
        [pair("eu-west-1", "SECONDARY"), pair("us-east-1", "PRIMARY")]
    );

    // Draining the primary: eu-west-1 becomes PRIMARY and us-east-1 is never answered.
    let mut drained = t.clone();
    drained.spec.regions[0].maintenance = true;
    route53::run(&clients, &drained, &inputs(&zone), Mode::Apply)
        .await
        .expect("drain");
    assert_eq!(
        failover_roles(&clients, &zone_id, &zone).await,
        [pair("eu-west-1", "PRIMARY")]
    );
    let settled = route53::run(&clients, &drained, &inputs(&zone), Mode::Plan)
        .await
        .expect("plan");
    assert!(settled.changes.is_empty(), "{:#?}", settled.changes);

    // Clearing the flag restores the spec's primary.
    route53::run(&clients, &t, &inputs(&zone), Mode::Apply)
        .await
        .expect("undrain");
    assert_eq!(
        failover_roles(&clients, &zone_id, &zone).await,
        [pair("eu-west-1", "SECONDARY"), pair("us-east-1", "PRIMARY")]
    );
    route53::destroy(&clients, &t, Mode::Apply)
        .await
        .expect("destroy");
}

/// Calls of one operation, whatever the service is called.
fn calls_of(calls: &globalapi::aws::CallCounts, operation: &str) -> u64 {
    calls
        .0
        .iter()
        .filter(|((_, op), _)| op == operation)
        .map(|(_, n)| n)
        .sum()
}

#[tokio::test]
async fn objects_of_one_zone_share_one_listing_and_see_each_others_writes() {
    let env = common::env();
    let clients = env
        .aws_clients()
        .await
        .with_shared_listings(std::time::Duration::from_secs(600));
    let zone = format!("share-{}.example.com", common::unique_suffix());
    let zone_id = zone_with_foreign_records(&clients, &zone).await;
    let first = target(&zone, &uid("5a1e"));
    let mut second = target(&zone, &uid("5a2e"));
    second.spec.domain = format!("api2.{zone}");
    let first_inputs = inputs(&zone);
    let second_inputs = inputs_for(&zone, "api2");

    let start = clients.calls().snapshot();
    for (t, i) in [(&first, &first_inputs), (&second, &second_inputs)] {
        let created = route53::run(&clients, t, i, Mode::Apply)
            .await
            .expect("apply");
        assert!(created.conflicts.is_empty(), "{:?}", created.conflicts);
        assert_eq!(created.outputs.health_check_ids.len(), 2);
    }
    let converged = clients.calls().snapshot().since(&start);
    assert_eq!(
        calls_of(&converged, "ListResourceRecordSets"),
        1,
        "one listing of the zone serves both objects: {converged}"
    );

    // Both equal to the spec, seen through the kept listing patched with
    // their own writes: no Route 53 read at all, nothing to change.
    let before = clients.calls().snapshot();
    for (t, i) in [(&first, &first_inputs), (&second, &second_inputs)] {
        let plan = route53::run(&clients, t, i, Mode::Plan)
            .await
            .expect("plan");
        assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    }
    let steady = clients.calls().snapshot().since(&before);
    assert_eq!(steady.total(), 0, "{steady}");
    // The patched listing is what Route 53 holds: a fresh view agrees.
    let unshared = env.aws_clients().await;
    for (t, i) in [(&first, &first_inputs), (&second, &second_inputs)] {
        let plan = route53::run(&unshared, t, i, Mode::Plan)
            .await
            .expect("unshared plan");
        assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    }

    // A third object claiming the first one's domain is refused from the
    // same listing, and writes nothing.
    let before = clients.calls().snapshot();
    let rival = target(&zone, &uid("5a3e"));
    let refused = route53::run(&clients, &rival, &first_inputs, Mode::Apply)
        .await
        .expect("rival");
    assert!(
        refused.conflicts.iter().any(|c| c
            .text
            .contains(&format!("api.{zone} is owned by GlobalApi"))),
        "{:?}",
        refused.conflicts
    );
    let rival_calls = clients.calls().snapshot().since(&before);
    assert_eq!(
        calls_of(&rival_calls, "ChangeResourceRecordSets"),
        0,
        "{rival_calls}"
    );
    route53::destroy(&clients, &rival, Mode::Apply)
        .await
        .expect("rival destroy");

    // A change by hand: a listing kept from before it still serves an
    // object whose last pass was earlier; one whose last pass ended after
    // the change lists again and sees it.
    let tampered = aliased_elsewhere(&first, &zone, "eu-west-1", None);
    change(&clients, &zone_id, ChangeAction::Upsert, tampered).await;
    let kept = route53::run(&clients, &first, &first_inputs, Mode::Plan)
        .await
        .expect("plan from the kept listing");
    assert!(kept.changes.is_empty(), "{:#?}", kept.changes);
    let after_change = clients.observing_after(Some(std::time::SystemTime::now()));
    let before = clients.calls().snapshot();
    let drift = route53::run(&after_change, &first, &first_inputs, Mode::Plan)
        .await
        .expect("plan after the change");
    let lines: Vec<String> = drift.changes.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].contains("somewhere-else.example.net"),
        "{lines:#?}"
    );
    let relisted = clients.calls().snapshot().since(&before);
    assert_eq!(
        calls_of(&relisted, "ListResourceRecordSets"),
        1,
        "{relisted}"
    );

    for t in [&first, &second] {
        route53::destroy(&clients, t, Mode::Apply)
            .await
            .expect("destroy");
    }
    let mut left: Vec<String> = zone_records(&clients, &zone_id)
        .await
        .into_iter()
        .map(|r| format!("{} {}", r.key.name, r.key.record_type))
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            format!("{zone} NS"),
            format!("{zone} SOA"),
            format!("www.{zone} A")
        ]
    );
    for t in [&first, &second] {
        let checks = observe::health_checks(&clients.route53(), t, &[])
            .await
            .expect("listing checks");
        assert!(checks.is_empty(), "{checks:?}");
    }
}
