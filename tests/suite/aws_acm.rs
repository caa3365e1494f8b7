//! ACM against moto: certificates requested in every region and for the
//! edge, awaited without sleeping in the step, kept idempotent, re-requested
//! after a hand deletion, cleaned up when a region leaves, and destroyed
//! without touching a certificate that is not ours.

use crate::common;

use std::time::{Duration, Instant};

use globalapi::aws::AwsClients;
use globalapi::aws::acm::{self, AcmInputs, AcmOutputs};
use globalapi::plan::{Finding, Mode, StepOutcome};
use globalapi::target::Target;

const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

fn target(suffix: &str) -> Target {
    let spec = format!(
        r#"
domain: api-{suffix}.acm.example.com
hostedZone: {{name: acm.example.com}}
routing: {{policy: Latency}}
regions:
  - {{name: us-east-1, backend: {{httpUrl: "https://us.example.com"}}}}
  - {{name: eu-west-1, backend: {{httpUrl: "https://eu.example.com"}}}}
edge: {{enabled: true}}
"#
    );
    Target {
        namespace: "acm-test".into(),
        name: format!("api-{suffix}"),
        uid: format!("acm-test-{suffix}"),
        spec: serde_norway::from_str(&spec).expect("test spec parses"),
    }
}

/// The ARNs in `region` tagged with `uid`, read straight from ACM.
async fn tagged(clients: &AwsClients, region: &str, uid: &str) -> Vec<String> {
    common::owned::certificates(clients, region, uid)
        .await
        .into_iter()
        .map(|(arn, _)| arn)
        .collect()
}

async fn all_tagged(clients: &AwsClients, uid: &str) -> Vec<String> {
    let mut arns = Vec::new();
    for region in REGIONS {
        arns.extend(tagged(clients, region, uid).await);
    }
    arns
}

fn lines(out: &StepOutcome<AcmOutputs>) -> Vec<String> {
    out.changes.iter().map(ToString::to_string).collect()
}

fn clean(out: &StepOutcome<AcmOutputs>) {
    assert!(out.errors.is_empty(), "errors: {:?}", out.errors);
    assert!(out.conflicts.is_empty(), "conflicts: {:?}", out.conflicts);
}

/// Runs Plan until every certificate is ISSUED, at most `timeout`; the
/// step itself never waits.
async fn plan_until_issued(
    clients: &AwsClients,
    target: &Target,
    inputs: &AcmInputs,
    timeout: Duration,
) -> StepOutcome<AcmOutputs> {
    let start = Instant::now();
    loop {
        let before = clients.calls().snapshot();
        let out = acm::run(clients, target, inputs, Mode::Plan)
            .await
            .expect("plan");
        let calls = clients.calls().snapshot().since(&before);
        assert_eq!(calls.mutating(), 0, "Plan changed something:\n{calls}");
        clean(&out);
        if out.pending.is_empty() {
            return out;
        }
        assert!(
            start.elapsed() < timeout,
            "still pending after {timeout:?}: {:?}",
            out.pending
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn certificates_follow_the_spec_and_only_ours_are_touched() {
    let env = common::env();
    let clients = env.aws_clients().await;
    let suffix = common::unique_suffix();
    let t = target(&suffix);
    let origin = t.origin_domain();
    let public = t.spec.domain.clone();
    assert_eq!(origin, format!("origin.{public}"));

    // Someone else's certificate for the same origin name: no tags.
    let foreign = clients
        .acm("eu-west-1")
        .request_certificate()
        .domain_name(&origin)
        .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
        .send()
        .await
        .expect("foreign RequestCertificate")
        .certificate_arn()
        .expect("foreign ARN")
        .to_owned();

    // From nothing: three certificates, each pending with its record.
    let inputs = AcmInputs::default();
    let created = acm::run(&clients, &t, &inputs, Mode::Apply)
        .await
        .expect("first apply");
    clean(&created);
    assert_eq!(
        lines(&created),
        [
            format!("create acm certificate {origin} in us-east-1"),
            format!("create acm certificate {public} in us-east-1"),
            format!("create acm certificate {origin} in eu-west-1"),
        ]
    );
    // ACM (and moto) gives an account one validation record per name, so the
    // two regional certificates of the origin name share theirs.
    let records = &created.outputs.validation_records;
    assert_eq!(records.len(), 2, "{records:?}");
    assert!(
        records
            .iter()
            .any(|r| r.name.ends_with(&format!(".{origin}.")))
    );
    assert!(
        records
            .iter()
            .any(|r| r.name.ends_with(&format!(".{public}.")) && !r.name.contains("origin"))
    );
    assert!(records.iter().all(|r| r.value.contains("acm-validations")));
    assert_eq!(created.pending.len(), 3, "{:?}", created.pending);
    assert!(Finding::texts(&created.pending).contains(&format!(
        "certificate for {origin} in eu-west-1 is PENDING_VALIDATION"
    )));
    let edge = created.outputs.edge.clone().expect("edge certificate");
    assert!(edge.owned && !edge.issued && edge.arn.contains(":us-east-1:"));
    assert_eq!(edge.domain, public);
    assert_eq!(created.outputs.regional.len(), 2);
    assert_ne!(created.outputs.regional["eu-west-1"].arn, foreign);
    assert_eq!(all_tagged(&clients, &t.uid).await.len(), 3);

    // Validation completes on its own: Plan then has nothing to do.
    let issued = plan_until_issued(&clients, &t, &inputs, Duration::from_secs(30)).await;
    assert!(issued.changes.is_empty(), "{:?}", lines(&issued));
    assert!(issued.outputs.all_issued(), "{:?}", issued.outputs);
    assert_eq!(issued.outputs.arns(), created.outputs.arns());
    assert_eq!(
        issued.outputs.validation_records,
        created.outputs.validation_records
    );

    // Apply twice more: still the same three certificates.
    for _ in 0..2 {
        let again = acm::run(&clients, &t, &inputs, Mode::Apply)
            .await
            .expect("repeated apply");
        clean(&again);
        assert!(again.changes.is_empty(), "{:?}", lines(&again));
        assert!(again.pending.is_empty());
    }
    let ours = all_tagged(&clients, &t.uid).await;
    assert_eq!(ours.len(), 3, "{ours:?}");

    // Drift: our eu-west-1 certificate deleted by hand.
    let previous = AcmInputs {
        previous_arns: issued.outputs.arns(),
    };
    let deleted = issued.outputs.regional["eu-west-1"].arn.clone();
    clients
        .acm("eu-west-1")
        .delete_certificate()
        .certificate_arn(&deleted)
        .send()
        .await
        .expect("deleting by hand");
    let before = clients.calls().snapshot();
    let drift = acm::run(&clients, &t, &previous, Mode::Plan)
        .await
        .expect("plan after deletion");
    assert_eq!(clients.calls().snapshot().since(&before).mutating(), 0);
    clean(&drift);
    assert_eq!(
        lines(&drift),
        [format!("create acm certificate {origin} in eu-west-1")]
    );

    let fixed = acm::run(&clients, &t, &previous, Mode::Apply)
        .await
        .expect("apply after deletion");
    clean(&fixed);
    assert_eq!(lines(&fixed), lines(&drift));
    let replacement = fixed.outputs.regional["eu-west-1"].arn.clone();
    assert_ne!(replacement, deleted);
    assert_ne!(replacement, foreign);
    assert_eq!(
        Finding::texts(&fixed.pending),
        [format!(
            "certificate for {origin} in eu-west-1 is PENDING_VALIDATION"
        )]
    );
    let settled = plan_until_issued(
        &clients,
        &t,
        &AcmInputs {
            previous_arns: fixed.outputs.arns(),
        },
        Duration::from_secs(30),
    )
    .await;
    assert!(settled.changes.is_empty(), "{:?}", lines(&settled));
    assert_eq!(all_tagged(&clients, &t.uid).await.len(), 3);

    // A region leaves the spec: its certificate is found through the ARN the
    // last reconcile reported, and deleted.
    let mut shrunk = t.clone();
    shrunk.spec.regions.retain(|r| r.name != "eu-west-1");
    let after_shrink = AcmInputs {
        previous_arns: settled.outputs.arns(),
    };
    let plan = acm::run(&clients, &shrunk, &after_shrink, Mode::Plan)
        .await
        .expect("plan without eu-west-1");
    clean(&plan);
    assert_eq!(
        lines(&plan),
        [format!(
            "delete acm certificate {origin} in eu-west-1 ({replacement})"
        )]
    );
    let shrunk_out = acm::run(&clients, &shrunk, &after_shrink, Mode::Apply)
        .await
        .expect("apply without eu-west-1");
    clean(&shrunk_out);
    assert_eq!(lines(&shrunk_out), lines(&plan));
    assert!(tagged(&clients, "eu-west-1", &t.uid).await.is_empty());
    assert_eq!(
        shrunk_out.outputs.regional.keys().collect::<Vec<_>>(),
        ["us-east-1"]
    );

    // Destroy: Plan lists ours and changes nothing; Apply removes them.
    let before = clients.calls().snapshot();
    let destroy_plan = acm::destroy(&clients, &t, &[], Mode::Plan)
        .await
        .expect("destroy plan");
    assert_eq!(clients.calls().snapshot().since(&before).mutating(), 0);
    assert!(destroy_plan.errors.is_empty(), "{:?}", destroy_plan.errors);
    assert_eq!(destroy_plan.changes.len(), 2, "{:?}", destroy_plan.changes);
    let destroyed = acm::destroy(&clients, &t, &[], Mode::Apply)
        .await
        .expect("destroy");
    assert!(destroyed.errors.is_empty(), "{:?}", destroyed.errors);
    assert_eq!(destroyed.changes, destroy_plan.changes);
    assert!(all_tagged(&clients, &t.uid).await.is_empty());
    let again = acm::destroy(&clients, &t, &[], Mode::Apply)
        .await
        .expect("second destroy");
    assert!(again.changes.is_empty() && again.errors.is_empty());

    // The foreign certificate is still there, untouched.
    let theirs = clients
        .acm("eu-west-1")
        .describe_certificate()
        .certificate_arn(&foreign)
        .send()
        .await
        .expect("the foreign certificate survives");
    assert_eq!(
        theirs.certificate().and_then(|c| c.domain_name()),
        Some(origin.as_str())
    );
    clean_up(&clients, "eu-west-1", &foreign).await;
}

/// Deletes a certificate a test made itself. Not what the test checks, so
/// a transient failure of the emulator is retried (and printed) before it
/// fails the test.
async fn clean_up(clients: &AwsClients, region: &str, arn: &str) {
    for attempt in 1..=5 {
        match clients
            .acm(region)
            .delete_certificate()
            .certificate_arn(arn)
            .send()
            .await
        {
            Ok(_) => return,
            Err(e) if attempt < 5 => {
                eprintln!("cleaning up {arn} (attempt {attempt}): {e:?}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => panic!("cleaning up {arn}: {e:?}"),
        }
    }
}

#[tokio::test]
async fn a_users_certificate_serves_the_edge_and_is_never_touched() {
    let env = common::env();
    let clients = env.aws_clients().await;
    let suffix = common::unique_suffix();
    let mut t = target(&suffix);
    let users = clients
        .acm("us-east-1")
        .request_certificate()
        .domain_name(&t.spec.domain)
        .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
        .send()
        .await
        .expect("the user's RequestCertificate")
        .certificate_arn()
        .expect("ARN")
        .to_owned();
    t.spec.certificate = Some(globalapi::api::CertificateSpec {
        arn: Some(users.clone()),
    });

    let out = acm::run(&clients, &t, &AcmInputs::default(), Mode::Apply)
        .await
        .expect("apply");
    clean(&out);
    // Regional certificates are still ours to request; the edge is the user's.
    assert_eq!(out.changes.len(), 2, "{:?}", lines(&out));
    assert!(lines(&out).iter().all(|l| l.contains(&t.origin_domain())));
    let edge = out.outputs.edge.clone().expect("edge certificate");
    assert_eq!((edge.arn.as_str(), edge.owned), (users.as_str(), false));
    let records = &out.outputs.validation_records;
    assert_eq!(
        records.len(),
        1,
        "only the origin name's record: {records:?}"
    );
    assert!(
        records[0]
            .name
            .ends_with(&format!(".{}.", t.origin_domain()))
    );

    let settled =
        plan_until_issued(&clients, &t, &AcmInputs::default(), Duration::from_secs(30)).await;
    assert!(settled.changes.is_empty() && settled.outputs.all_issued());

    let destroyed = acm::destroy(&clients, &t, &[], Mode::Apply)
        .await
        .expect("destroy");
    assert!(destroyed.errors.is_empty(), "{:?}", destroyed.errors);
    assert_eq!(destroyed.changes.len(), 2);
    assert!(all_tagged(&clients, &t.uid).await.is_empty());
    clients
        .acm("us-east-1")
        .describe_certificate()
        .certificate_arn(&users)
        .send()
        .await
        .expect("the user's certificate survives destroy");

    // A user's certificate that does not exist is an error, not a request.
    clients
        .acm("us-east-1")
        .delete_certificate()
        .certificate_arn(&users)
        .send()
        .await
        .expect("deleting the user's certificate");
    let missing = acm::run(&clients, &t, &AcmInputs::default(), Mode::Plan)
        .await
        .expect("plan");
    assert_eq!(
        Finding::texts(&missing.errors),
        [format!(
            "us-east-1: spec.certificate.arn {users} was not found in ACM"
        )]
    );
    assert!(missing.outputs.edge.is_none());
}

#[tokio::test]
async fn a_users_regional_certificate_replaces_ours_and_is_never_touched() {
    let env = common::env();
    let clients = env.aws_clients().await;
    let suffix = common::unique_suffix();
    let mut t = target(&suffix);
    let origin = t.origin_domain();
    let request = |domain: String| {
        let clients = clients.clone();
        async move {
            clients
                .acm("eu-west-1")
                .request_certificate()
                .domain_name(domain)
                .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
                .send()
                .await
                .expect("the user's RequestCertificate")
                .certificate_arn()
                .expect("ARN")
                .to_owned()
        }
    };
    let users = request(origin.clone()).await;
    let elsewhere = request(format!("other.{}", t.spec.domain)).await;

    // Ours first, then the user brings one for eu-west-1: ours there goes.
    let ours = acm::run(&clients, &t, &AcmInputs::default(), Mode::Apply)
        .await
        .expect("first apply");
    clean(&ours);
    let replaced = ours.outputs.regional["eu-west-1"].arn.clone();
    t.spec.regions[1].certificate_arn = Some(users.clone());
    let inputs = AcmInputs {
        previous_arns: ours.outputs.arns(),
    };
    let switched = acm::run(&clients, &t, &inputs, Mode::Apply)
        .await
        .expect("apply with the user's certificate");
    clean(&switched);
    assert_eq!(
        lines(&switched),
        [format!(
            "delete acm certificate {origin} in eu-west-1 ({replaced})"
        )]
    );
    let theirs = switched.outputs.regional["eu-west-1"].clone();
    assert_eq!((theirs.arn.as_str(), theirs.owned), (users.as_str(), false));
    assert!(tagged(&clients, "eu-west-1", &t.uid).await.is_empty());
    let inputs = AcmInputs {
        previous_arns: switched.outputs.arns(),
    };
    let settled = plan_until_issued(&clients, &t, &inputs, Duration::from_secs(30)).await;
    assert!(settled.changes.is_empty(), "{:?}", lines(&settled));
    assert_eq!(settled.outputs.regional["eu-west-1"].arn, users);

    // One for another name is refused, naming the field and the name.
    let mut wrong = t.clone();
    wrong.spec.regions[1].certificate_arn = Some(elsewhere.clone());
    let refused = acm::run(&clients, &wrong, &inputs, Mode::Plan)
        .await
        .expect("plan");
    assert_eq!(refused.errors.len(), 1, "{:?}", refused.errors);
    assert!(
        refused.errors[0].text.starts_with(&format!(
            "eu-west-1: spec.regions[1].certificateArn: certificate {elsewhere} is for other."
        )) && refused.errors[0]
            .text
            .contains(&format!("does not cover {origin}")),
        "{:?}",
        refused.errors
    );
    assert!(!refused.outputs.regional.contains_key("eu-west-1"));

    // Destroy removes ours and leaves the user's.
    let destroyed = acm::destroy(&clients, &t, &[], Mode::Apply)
        .await
        .expect("destroy");
    assert!(destroyed.errors.is_empty(), "{:?}", destroyed.errors);
    assert!(all_tagged(&clients, &t.uid).await.is_empty());
    for arn in [&users, &elsewhere] {
        clients
            .acm("eu-west-1")
            .describe_certificate()
            .certificate_arn(arn)
            .send()
            .await
            .expect("the user's certificates survive");
        clean_up(&clients, "eu-west-1", arn).await;
    }
}
