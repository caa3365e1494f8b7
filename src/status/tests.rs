//! Tests of `status.rs`: pure functions over plain values.

use k8s_openapi::jiff::Timestamp;

use super::*;
use crate::{
    api::GlobalApiSpec,
    aws::{acm::CertificateState, apigateway::RegionApi, cloudfront::CloudFrontOutputs},
    plan::{FieldChange, Finding},
};

const SPEC: &str = r#"
domain: api.example.com
hostedZone: {name: example.com}
routing: {policy: Latency}
regions:
  - {name: us-east-1, backend: {httpUrl: "https://us.example.com"}}
  - {name: eu-west-1, backend: {httpUrl: "https://eu.example.com"}}
edge: {enabled: true}
resyncSeconds: 30
"#;

fn object(generation: i64, status: Option<GlobalApiStatus>) -> GlobalApi {
    let spec: GlobalApiSpec = serde_norway::from_str(SPEC).expect("spec");
    let mut object = GlobalApi::new("exchange", spec);
    object.metadata.namespace = Some("payments".into());
    object.metadata.generation = Some(generation);
    object.status = status;
    object
}

fn at(seconds: i64) -> Time {
    Time(Timestamp::from_second(seconds).expect("timestamp"))
}

fn certificate(region: &str) -> CertificateState {
    CertificateState {
        arn: format!("arn:aws:acm:{region}:123456789012:certificate/{region}"),
        domain: "origin.api.example.com".into(),
        status: "ISSUED".into(),
        issued: true,
        owned: true,
    }
}

/// A pass that converged on both regions and the edge.
fn converged() -> Pass {
    let mut pass = Pass::default();
    for region in ["us-east-1", "eu-west-1"] {
        pass.outputs
            .acm
            .regional
            .insert(region.into(), certificate(region));
        pass.outputs.apigateway.regions.insert(
            region.into(),
            RegionApi {
                endpoint: None,
                rest_api_id: format!("api-{region}"),
                stage: "v1".into(),
                invoke_url: format!("https://api-{region}.execute-api.{region}.amazonaws.com/v1"),
                custom_domain: Some("origin.api.example.com".into()),
            },
        );
        pass.outputs
            .route53
            .health_check_ids
            .insert(region.into(), format!("hc-{region}"));
    }
    pass.outputs.acm.edge = Some(certificate("us-east-1"));
    pass.outputs.cloudfront = CloudFrontOutputs {
        distribution_id: Some("E123".into()),
        domain_name: Some("d111.cloudfront.net".into()),
        status: Some("Deployed".into()),
        certificate_arn: None,
        retiring: Vec::new(),
        origin_held: false,
    };
    pass
}

#[test]
fn a_region_in_maintenance_is_ready_but_named_as_drained() {
    let mut object = object(1, None);
    object.spec.regions[0].maintenance = true;
    let status = status(&object, &converged(), DriftAction::Corrected, &at(100));
    assert_eq!(status.ready_regions.as_deref(), Some("2/2"));
    let ready = get(&status, ConditionType::Ready);
    assert_eq!(ready.status, "True");
    assert_eq!(
        ready.message,
        "AWS matches the spec; 1 of 2 regions serve https://api.example.com (us-east-1 in maintenance, drained from DNS)"
    );
    assert!(status.regions[0].maintenance);
    assert!(!status.regions[1].maintenance);
}

#[test]
fn unknown_parts_are_degraded_keep_their_last_status_and_are_no_correction() {
    let before = status(
        &object(1, None),
        &converged(),
        DriftAction::Corrected,
        &at(100),
    );
    let object = object(1, Some(before.clone()));
    let mut pass = converged();
    pass.outputs.apigateway.regions.remove("eu-west-1");
    let error = "eu-west-1: apigateway GetRestApis: AccessDeniedException: not allowed";
    pass.outputs
        .apigateway
        .unknown
        .insert("eu-west-1".into(), error.into());
    pass.errors
        .push(note_in(Service::ApiGateway, "eu-west-1", error));
    pass.unknown.push(note(Service::ApiGateway, error));
    let after = status(&object, &pass, DriftAction::Corrected, &at(200));
    let degraded = get(&after, ConditionType::Degraded);
    assert_eq!(degraded.status, "True");
    assert_eq!(degraded.reason, "ReadsFailing");
    assert!(
        degraded
            .message
            .contains("AccessDeniedException: not allowed")
    );
    assert!(degraded.message.contains("left exactly as it was"));
    assert_eq!(get(&after, ConditionType::Drifted).status, "False");
    assert!(after.drift.is_empty());
    let eu = &after.regions[1];
    assert_eq!(eu.name, "eu-west-1");
    assert!(!eu.ready);
    assert_eq!(eu.rest_api_id, before.regions[1].rest_api_id);
    assert_eq!(eu.health_check_id, before.regions[1].health_check_id);
}

#[test]
fn a_pass_cut_off_keeps_what_the_last_one_saw() {
    let mut before = status(
        &object(1, None),
        &converged(),
        DriftAction::Corrected,
        &at(100),
    );
    let pending = CleanupEntry {
        service: "acm".into(),
        resource: "arn:aws:acm:eu-west-1:123456789012:certificate/replaced".into(),
        reason: Some("ResourceInUseException".into()),
    };
    before.cleanup = vec![pending.clone()];
    let object = object(1, Some(before.clone()));
    let target = crate::target::Target::from_object(&object).expect("target");
    let memory = crate::reconcile::Memory::from_status(object.status.as_ref());
    let pass = crate::reconcile::cut_off(
        &target,
        &memory,
        Some(Service::ApiGateway),
        std::time::Duration::from_secs(300),
    );
    assert_eq!(pass.errors[0].service, Service::ApiGateway);
    let after = status(&object, &pass, DriftAction::Corrected, &at(200));
    assert_eq!(get(&after, ConditionType::Ready).status, "False");
    assert!(
        get(&after, ConditionType::Ready)
            .message
            .contains("was cut off")
    );
    assert_eq!(get(&after, ConditionType::Degraded).reason, "ReadsFailing");
    for (was, is) in before.regions.iter().zip(&after.regions) {
        assert_eq!(is.rest_api_id, was.rest_api_id);
        assert_eq!(is.certificate_arn, was.certificate_arn);
        assert_eq!(is.health_check_id, was.health_check_id);
        assert!(!is.ready);
    }
    assert_eq!(after.edge, before.edge);
    assert_eq!(after.cleanup, [pending]);
    assert!(after.drift.is_empty());
}

fn get(status: &GlobalApiStatus, kind: ConditionType) -> &Condition {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == kind.as_str())
        .expect("condition present")
}

fn note(service: Service, text: &str) -> Note {
    Note {
        service,
        finding: Finding::global(text),
    }
}

/// A note about `region`, as services make them.
fn note_in(service: Service, region: &str, text: &str) -> Note {
    Note {
        service,
        finding: Finding::in_region(region, text),
    }
}

fn stage_drift() -> Change {
    Change::new(
        Service::ApiGateway,
        Some("eu-west-1"),
        Action::Update,
        "stage",
        "eu-west-1 v1",
    )
    .with_fields(vec![FieldChange::new(
        "TracingEnabled",
        Some("false".into()),
        Some("true".into()),
    )])
}

#[test]
fn tables_are_in_the_database_status_and_kept_while_unreadable() {
    use crate::aws::dynamodb::{Replica, TableReplicas};
    let mut spec_object = object(1, None);
    spec_object.spec.database = serde_norway::from_str(
        "{dynamodb: {tables: [{name: rates, partitionKey: {name: pair, type: String}}]}}",
    )
    .expect("database");
    let mut pass = converged();
    pass.outputs.dynamodb.tables = vec![TableReplicas {
        name: "rates".into(),
        replicas: ["us-east-1", "eu-west-1"]
            .iter()
            .map(|r| Replica {
                region: (*r).into(),
                arn: format!("arn:aws:dynamodb:{r}:1:table/rates"),
                stream_arn: Some(format!("arn:aws:dynamodb:{r}:1:table/rates/stream/x")),
                status: "ACTIVE".into(),
            })
            .collect(),
    }];
    let seen = status(&spec_object, &pass, DriftAction::Corrected, &at(1));
    let database = seen.database.clone().expect("database status");
    assert_eq!(database.tables.len(), 1);
    assert_eq!(database.tables[0].replicas.len(), 2);
    let c = get(&seen, ConditionType::DatabaseReady);
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("True", "Available")
    );
    assert!(
        c.message.contains("rates (us-east-1, eu-west-1)"),
        "{}",
        c.message
    );

    // Unreadable this pass: the last status's tables stay.
    let mut unread = converged();
    unread.outputs.dynamodb.unknown = vec!["eu-west-1: throttled".into()];
    let later = status(
        &object(1, Some(seen)),
        &unread,
        DriftAction::Corrected,
        &at(2),
    );
    assert_eq!(later.database.expect("kept").tables, database.tables);
}

#[test]
fn tables_still_missing_beside_an_aurora_that_is_fine_are_the_reason() {
    let mut spec_object = object(1, None);
    spec_object.spec.database = serde_norway::from_str(
        "{dynamodb: {tables: [{name: rates, partitionKey: {name: pair, type: String}}]}}",
    )
    .expect("database");
    let mut pass = converged();
    // A cluster of an Aurora the spec no longer has, left as it is.
    pass.outputs.rds.orphaned = vec!["rds cluster old-us-east-1 in us-east-1".into()];
    let seen = status(&spec_object, &pass, DriftAction::Corrected, &at(1));
    let c = get(&seen, ConditionType::DatabaseReady);
    assert_eq!((c.status.as_str(), c.reason.as_str()), ("False", "Missing"));
    assert!(c.message.contains("rates"), "{}", c.message);
}

#[test]
fn a_converged_pass_is_ready_with_every_output() {
    let status = status(
        &object(3, None),
        &converged(),
        DriftAction::Corrected,
        &at(100),
    );
    assert_eq!(status.observed_generation, Some(3));
    assert_eq!(status.endpoint.as_deref(), Some("https://api.example.com"));
    assert_eq!(status.ready_regions.as_deref(), Some("2/2"));
    let kinds: Vec<&str> = status.conditions.iter().map(|c| c.type_.as_str()).collect();
    assert_eq!(kinds.len(), ConditionType::ALL.len());
    for kind in ConditionType::ALL {
        let c = get(&status, kind);
        let expected = match kind {
            ConditionType::Drifted
            | ConditionType::Degraded
            | ConditionType::Conflict
            | ConditionType::Paused => "False",
            _ => "True",
        };
        assert_eq!(c.status, expected, "{kind}: {c:?}");
        assert!(!c.message.is_empty() && !c.reason.is_empty());
        assert_eq!(c.observed_generation, Some(3));
        assert_eq!(c.last_transition_time, at(100));
    }
    assert_eq!(
        get(&status, ConditionType::DatabaseReady).reason,
        "NotRequested"
    );
    let us = &status.regions[0];
    assert_eq!(us.name, "us-east-1");
    assert_eq!(us.rest_api_id.as_deref(), Some("api-us-east-1"));
    assert_eq!(us.stage.as_deref(), Some("v1"));
    assert_eq!(us.health_check_id.as_deref(), Some("hc-us-east-1"));
    assert_eq!(
        us.certificate_arn.as_deref(),
        Some("arn:aws:acm:us-east-1:123456789012:certificate/us-east-1")
    );
    assert!(us.ready && !us.maintenance);
    let edge = status.edge.expect("edge status");
    assert_eq!(edge.distribution_id.as_deref(), Some("E123"));
    assert_eq!(edge.state.as_deref(), Some("Deployed"));
    assert_eq!(
        edge.certificate_arn.as_deref(),
        Some("arn:aws:acm:us-east-1:123456789012:certificate/us-east-1")
    );
    assert!(status.drift.is_empty());
    assert_eq!(status.last_sync_time, Some(at(100)));
}

#[test]
fn transition_times_stay_while_the_status_stays() {
    let first = status(
        &object(1, None),
        &converged(),
        DriftAction::Corrected,
        &at(100),
    );
    let mut pending = converged();
    pending
        .pending
        .push(note(Service::CloudFront, "distribution E123 is InProgress"));
    let second = status(
        &object(1, Some(first.clone())),
        &pending,
        DriftAction::Corrected,
        &at(200),
    );
    assert_eq!(get(&second, ConditionType::Ready).status, "False");
    assert_eq!(get(&second, ConditionType::Ready).reason, "Pending");
    assert_eq!(
        get(&second, ConditionType::Ready).last_transition_time,
        at(200)
    );
    assert_eq!(get(&second, ConditionType::EdgeReady).status, "False");
    assert_eq!(
        get(&second, ConditionType::DnsReady).last_transition_time,
        at(100)
    );
    assert!(!differs(Some(&first), &{
        let mut again = first.clone();
        again.last_sync_time = Some(at(999));
        again
    }));
    assert!(differs(Some(&first), &second));
    assert!(differs(None, &first));
}

#[test]
fn a_change_of_drift_policy_alone_is_not_a_spec_change() {
    let before = status(
        &object(1, None),
        &converged(),
        DriftAction::Corrected,
        &at(1),
    );
    assert_eq!(
        before.applied_spec,
        Some(spec_digest(&object(1, None).spec))
    );
    let mut reporting = object(2, Some(before.clone()));
    reporting.spec.drift_policy = crate::api::DriftPolicy::Report;
    assert!(!spec_unchanged(&reporting), "the generation moved");
    assert!(
        spec_applied(&reporting),
        "but AWS already follows this spec"
    );
    let mut respecified = object(2, Some(before));
    respecified.spec.resync_seconds += 1;
    assert!(!spec_applied(&respecified));
}

#[test]
fn a_paused_object_reports_what_it_would_change_and_keeps_the_applied_spec() {
    let before = status(
        &object(1, None),
        &converged(),
        DriftAction::Corrected,
        &at(1),
    );
    let mut paused = object(2, Some(before.clone()));
    paused.spec.resync_seconds += 1;
    paused.metadata.annotations = Some(
        [(PAUSED_ANNOTATION.to_owned(), "true".to_owned())]
            .into_iter()
            .collect(),
    );
    let mut pass = converged();
    pass.plan.extend([stage_drift()]);
    let held = status(&paused, &pass, DriftAction::Reported, &at(2));
    let ready = get(&held, ConditionType::Ready);
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "Paused")
    );
    assert!(
        ready.message.contains("1 AWS change(s) not made"),
        "{}",
        ready.message
    );
    assert_eq!(get(&held, ConditionType::Paused).status, "True");
    assert_eq!(
        held.applied_spec, before.applied_spec,
        "nothing was applied"
    );

    let mut resumed = paused.clone();
    resumed.metadata.annotations = None;
    resumed.status = Some(held);
    assert!(!resumed.paused());
    assert!(
        !spec_applied(&resumed),
        "the change made while paused is still to apply"
    );
}

#[test]
fn drift_needs_an_unchanged_spec_and_existing_resources() {
    let mut pass = converged();
    pass.plan.extend([
        stage_drift(),
        Change::new(Service::Route53, None, Action::Create, "record", "new A"),
        Change::new(
            Service::Route53,
            None,
            Action::Delete,
            "health check",
            "stale",
        ),
    ]);
    // The spec changed since the last observation: no drift.
    let before = status(
        &object(1, None),
        &converged(),
        DriftAction::Corrected,
        &at(1),
    );
    let mut respecified = object(2, Some(before.clone()));
    respecified.spec.resync_seconds += 1;
    let changed = status(&respecified, &pass, DriftAction::Corrected, &at(2));
    assert!(changed.drift.is_empty());
    assert_eq!(get(&changed, ConditionType::Drifted).status, "False");

    // Same generation, the spec built: the update, the creation (of what
    // was deleted) and the deletion are drift.
    let drifted = status(
        &object(1, Some(before.clone())),
        &pass,
        DriftAction::Corrected,
        &at(3),
    );
    assert_eq!(
        drifted.drift,
        vec![
            DriftEntry {
                service: "apigateway".into(),
                resource: "stage eu-west-1 v1".into(),
                field: "TracingEnabled".into(),
                desired: Some("true".into()),
                observed: Some("false".into()),
                action: DriftAction::Corrected,
                detected_at: Some(at(3)),
            },
            DriftEntry {
                service: "route53".into(),
                resource: "record new A".into(),
                field: "exists".into(),
                desired: Some("true".into()),
                observed: Some("false".into()),
                action: DriftAction::Corrected,
                detected_at: Some(at(3)),
            },
            DriftEntry {
                service: "route53".into(),
                resource: "health check stale".into(),
                field: "exists".into(),
                desired: Some("false".into()),
                observed: Some("true".into()),
                action: DriftAction::Corrected,
                detected_at: Some(at(3)),
            },
        ]
    );
    let c = get(&drifted, ConditionType::Drifted);
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("True", "DriftCorrected")
    );
    assert!(
        c.message.contains("TracingEnabled false → true"),
        "{}",
        c.message
    );

    // Seen again: the first detection time stays.
    let again = status(
        &object(1, Some(drifted)),
        &pass,
        DriftAction::Corrected,
        &at(4),
    );
    assert_eq!(again.drift[0].detected_at, Some(at(3)));
}

#[test]
fn a_creation_is_drift_once_the_spec_was_ready_until_the_spec_changes() {
    let recreate = || {
        let mut pass = converged();
        pass.plan.extend([Change::new(
            Service::Route53,
            None,
            Action::Create,
            "health check",
            "eu-west-1",
        )]);
        pass
    };
    // Still being built (a certificate pending): creations are the spec
    // being carried out.
    let mut pending = converged();
    pending
        .pending
        .push(note(Service::Acm, "certificate pending"));
    let building = status(&object(1, None), &pending, DriftAction::Corrected, &at(1));
    assert_eq!(building.ready_spec, None);
    let carried_out = status(
        &object(1, Some(building)),
        &recreate(),
        DriftAction::Corrected,
        &at(2),
    );
    assert!(carried_out.drift.is_empty(), "{:?}", carried_out.drift);

    // Ready once: the same creation is a deletion made by hand, and stays
    // drift while it is only reported (Ready=False).
    let ready = status(
        &object(1, None),
        &converged(),
        DriftAction::Corrected,
        &at(3),
    );
    assert_eq!(ready.ready_spec, Some(spec_digest(&object(1, None).spec)));
    let reported = status(
        &object(1, Some(ready)),
        &recreate(),
        DriftAction::Reported,
        &at(4),
    );
    assert_eq!(get(&reported, ConditionType::Ready).status, "False");
    assert_eq!(
        reported.ready_spec,
        Some(spec_digest(&object(1, None).spec))
    );
    let entry = DriftEntry {
        service: "route53".into(),
        resource: "health check eu-west-1".into(),
        field: "exists".into(),
        desired: Some("true".into()),
        observed: Some("false".into()),
        action: DriftAction::Reported,
        detected_at: Some(at(4)),
    };
    assert_eq!(reported.drift, vec![entry.clone()]);
    let still = status(
        &object(1, Some(reported.clone())),
        &recreate(),
        DriftAction::Reported,
        &at(5),
    );
    assert_eq!(still.drift, vec![entry]);

    // A spec change: what it creates is the new spec being carried out.
    let mut respecified = object(2, Some(reported));
    respecified.spec.resync_seconds += 1;
    let changed = status(&respecified, &recreate(), DriftAction::Corrected, &at(6));
    assert!(changed.drift.is_empty());
    assert_eq!(changed.ready_spec, Some(spec_digest(&respecified.spec)));
}

#[test]
fn a_status_from_before_ready_spec_counts_its_ready_condition() {
    let mut ready = status(
        &object(1, None),
        &converged(),
        DriftAction::Corrected,
        &at(1),
    );
    ready.ready_spec = None;
    assert!(spec_built(&object(1, Some(ready.clone()))));
    ready
        .conditions
        .iter_mut()
        .filter(|c| c.type_ == ConditionType::Ready.as_str())
        .for_each(|c| c.status = "False".into());
    assert!(!spec_built(&object(1, Some(ready))));
}

#[test]
fn reported_drift_is_not_ready() {
    let before = status(
        &object(1, None),
        &converged(),
        DriftAction::Corrected,
        &at(1),
    );
    let mut plan = converged();
    plan.plan.extend([stage_drift()]);
    let reported = status(
        &object(1, Some(before)),
        &plan,
        DriftAction::Reported,
        &at(2),
    );
    assert_eq!(reported.drift.len(), 1);
    assert_eq!(reported.drift[0].action, DriftAction::Reported);
    let drifted = get(&reported, ConditionType::Drifted);
    assert_eq!(drifted.reason, "DriftReported");
    let ready = get(&reported, ConditionType::Ready);
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "DriftReported")
    );
}

/// A call of eu-west-1 the account's budget deferred to its turn.
fn deferred_in_eu() -> Note {
    let paced = crate::error::Error::deferred(
        "apigateway",
        "CreateDeployment",
        "eu-west-1",
        "1 per 5 s",
        std::time::Duration::from_secs(30),
    );
    Note {
        service: Service::ApiGateway,
        finding: Finding::failed("eu-west-1", &paced),
    }
}

#[test]
fn a_pass_waiting_only_for_the_budget_is_waiting_not_failing() {
    let mut pass = converged();
    pass.errors.push(deferred_in_eu());
    let status = status(&object(1, None), &pass, DriftAction::Corrected, &at(1));
    let ready = get(&status, ConditionType::Ready);
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "AwsBudget")
    );
    assert!(ready.message.contains("this object's turn comes in 30 s"));
    // The region's work is not done, but nothing failed there.
    assert!(!status.regions[1].ready);
    let degraded = get(&status, ConditionType::Degraded);
    assert_eq!(
        (degraded.status.as_str(), degraded.reason.as_str()),
        ("False", "NoRegionFailing")
    );
    let apis = get(&status, ConditionType::RegionalApisReady);
    assert_eq!(
        (apis.status.as_str(), apis.reason.as_str()),
        ("False", "Pending")
    );

    // Beside a failure it is listed with it, and the failure decides.
    pass.errors.push(note_in(
        Service::ApiGateway,
        "us-east-1",
        "us-east-1: apigateway GetStages: AccessDeniedException: no",
    ));
    let status = super::status(&object(1, None), &pass, DriftAction::Corrected, &at(1));
    assert_eq!(get(&status, ConditionType::Ready).reason, "AwsError");

    let deleting = deleting(
        &object(2, None),
        &Pass {
            errors: vec![deferred_in_eu()],
            ..Pass::default()
        },
        &at(5),
    );
    let ready = get(&deleting, ConditionType::Ready);
    assert_eq!(ready.reason, "Deleting");
    assert!(ready.message.contains("waiting for"), "{}", ready.message);
}

#[test]
fn one_failing_region_degrades_and_is_named() {
    let mut pass = converged();
    pass.errors.push(note_in(
        Service::ApiGateway,
        "eu-west-1",
        "eu-west-1: apigateway CreateDeployment: TooManyRequestsException: slow down",
    ));
    let status = status(&object(1, None), &pass, DriftAction::Corrected, &at(1));
    assert_eq!(status.ready_regions.as_deref(), Some("1/2"));
    assert!(status.regions[0].ready);
    assert!(!status.regions[1].ready);
    let degraded = get(&status, ConditionType::Degraded);
    assert_eq!(degraded.status, "True");
    assert!(degraded.message.contains("eu-west-1"));
    let ready = get(&status, ConditionType::Ready);
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "AwsError")
    );
    assert!(
        ready
            .message
            .contains("TooManyRequestsException: slow down")
    );
    let apis = get(&status, ConditionType::RegionalApisReady);
    assert_eq!(
        (apis.status.as_str(), apis.reason.as_str()),
        ("False", "AwsError")
    );

    let mut both = pass.clone();
    both.errors
        .push(note_in(Service::ApiGateway, "us-east-1", "us-east-1: boom"));
    let status = super::status(&object(1, None), &both, DriftAction::Corrected, &at(1));
    assert_eq!(get(&status, ConditionType::Degraded).status, "False");
    assert_eq!(
        get(&status, ConditionType::Degraded).reason,
        "AllRegionsFailing"
    );
}

#[test]
fn conflicts_are_listed_and_block_ready() {
    let mut pass = converged();
    pass.conflicts.push(note(
        Service::Route53,
        "record api.example.com A belongs to someone else",
    ));
    let status = status(&object(1, None), &pass, DriftAction::Corrected, &at(1));
    let conflict = get(&status, ConditionType::Conflict);
    assert_eq!(conflict.status, "True");
    assert!(
        conflict
            .message
            .contains("api.example.com A belongs to someone else")
    );
    assert_eq!(get(&status, ConditionType::Ready).reason, "Conflict");
}

#[test]
fn edge_off_and_nothing_yet() {
    let mut object = object(1, None);
    if let Some(edge) = object.spec.edge.as_mut() {
        edge.enabled = false;
    }
    let status = status(&object, &Pass::default(), DriftAction::Corrected, &at(1));
    let edge = get(&status, ConditionType::EdgeReady);
    assert_eq!(
        (edge.status.as_str(), edge.reason.as_str()),
        ("True", "NotRequested")
    );
    assert!(status.edge.is_none());
    assert_eq!(status.ready_regions.as_deref(), Some("0/2"));
    assert_eq!(get(&status, ConditionType::Ready).status, "False");
    assert_eq!(
        get(&status, ConditionType::CertificatesReady).status,
        "False"
    );
    assert_eq!(
        get(&status, ConditionType::RegionalApisReady).status,
        "False"
    );
}

#[test]
fn regions_the_spec_left_stay_listed_until_removed() {
    let mut pass = converged();
    let mut left = pass.outputs.apigateway.regions["eu-west-1"].clone();
    left.rest_api_id = "api-ap".into();
    pass.outputs
        .apigateway
        .regions
        .insert("ap-southeast-2".into(), left);
    let status = status(&object(1, None), &pass, DriftAction::Corrected, &at(1));
    let names: Vec<&str> = status.regions.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["us-east-1", "eu-west-1", "ap-southeast-2"]);
    assert!(!status.regions[2].ready);
    assert_eq!(status.ready_regions.as_deref(), Some("2/2"));
}

#[test]
fn deletion_status_says_what_it_waits_for() {
    let before = status(
        &object(1, None),
        &converged(),
        DriftAction::Corrected,
        &at(1),
    );
    let mut pass = Pass::default();
    pass.pending.push(note(
        Service::CloudFront,
        "distribution E123 is being disabled",
    ));
    let deleting = deleting(&object(2, Some(before)), &pass, &at(5));
    let ready = get(&deleting, ConditionType::Ready);
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "Deleting")
    );
    assert!(ready.message.contains("being disabled"));
    assert_eq!(deleting.conditions.len(), ConditionType::ALL.len());
    assert_eq!(deleting.regions.len(), 2);
}
