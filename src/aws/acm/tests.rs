//! `run` and `destroy` against ACM answers the emulator cannot give:
//! validation that never completes, FAILED certificates, certificates in
//! use, throttling, and a user's certificate that does not exist.

use std::sync::{Arc, Mutex};

use aws_sdk_acm::{
    Client,
    error::ErrorMetadata,
    operation::{
        delete_certificate::{DeleteCertificateError, DeleteCertificateOutput},
        describe_certificate::{DescribeCertificateError, DescribeCertificateOutput},
        list_certificates::{ListCertificatesError, ListCertificatesOutput},
        list_tags_for_certificate::ListTagsForCertificateOutput,
        request_certificate::RequestCertificateOutput,
    },
    types::{
        CertificateDetail, CertificateStatus, CertificateSummary, DomainValidation, FailureReason,
        RecordType, ResourceRecord, Tag,
        error::{ResourceInUseException, ResourceNotFoundException},
    },
};
use aws_smithy_mocks::{MockResponse, MockResponseInterceptor, Rule, mock};

use super::*;
use crate::target::UID_TAG;
use crate::target::fixtures::{LATENCY, target};

/// One certificate in the fake ACM of a region.
#[derive(Clone, Debug)]
struct Fake {
    arn: String,
    domain: String,
    status: CertificateStatus,
    failure: Option<FailureReason>,
    uid: Option<String>,
}

/// The fake ACM of one region: its certificates, what was requested and
/// deleted, and how a delete answers.
#[derive(Clone, Default)]
struct FakeAcm {
    region: String,
    certs: Arc<Mutex<Vec<Fake>>>,
    requests: Arc<Mutex<Vec<(String, String)>>>,
    deleted: Arc<Mutex<Vec<String>>>,
    delete_in_use: bool,
    throttled: bool,
}

fn arn(region: &str, id: &str) -> String {
    format!("arn:aws:acm:{region}:123456789012:certificate/{id}")
}

fn meta(code: &str, message: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

fn not_found(arn: &str) -> ResourceNotFoundException {
    let message = format!("Certificate with arn {arn} not found");
    ResourceNotFoundException::builder()
        .message(&message)
        .meta(meta("ResourceNotFoundException", &message))
        .build()
}

impl FakeAcm {
    fn new(region: &str) -> Self {
        Self {
            region: region.into(),
            ..Default::default()
        }
    }

    fn with(self, id: &str, domain: &str, status: CertificateStatus, uid: Option<&str>) -> Self {
        self.certs.lock().unwrap().push(Fake {
            arn: arn(&self.region, id),
            domain: domain.into(),
            status,
            failure: None,
            uid: uid.map(str::to_owned),
        });
        self
    }

    fn failed(self, id: &str, domain: &str, reason: FailureReason, uid: &str) -> Self {
        self.certs.lock().unwrap().push(Fake {
            arn: arn(&self.region, id),
            domain: domain.into(),
            status: CertificateStatus::Failed,
            failure: Some(reason),
            uid: Some(uid.into()),
        });
        self
    }

    fn requests(&self) -> Vec<(String, String)> {
        self.requests.lock().unwrap().clone()
    }

    fn deleted(&self) -> Vec<String> {
        self.deleted.lock().unwrap().clone()
    }

    fn rules(&self) -> Vec<Rule> {
        let certs = self.certs.clone();
        let throttled = self.throttled;
        let list = mock!(Client::list_certificates).then_compute_response(move |_| {
            if throttled {
                return MockResponse::Error(ListCertificatesError::generic(meta(
                    "ThrottlingException",
                    "Rate exceeded",
                )));
            }
            let summaries = certs
                .lock()
                .unwrap()
                .iter()
                .map(|c| {
                    CertificateSummary::builder()
                        .certificate_arn(&c.arn)
                        .domain_name(&c.domain)
                        .status(c.status.clone())
                        .build()
                })
                .collect();
            MockResponse::Output(
                ListCertificatesOutput::builder()
                    .set_certificate_summary_list(Some(summaries))
                    .build(),
            )
        });

        let certs = self.certs.clone();
        let tags = mock!(Client::list_tags_for_certificate).then_compute_output(move |req| {
            let certs = certs.lock().unwrap();
            let found = certs
                .iter()
                .find(|c| Some(c.arn.as_str()) == req.certificate_arn());
            let tags = found
                .and_then(|c| c.uid.clone())
                .map(|uid| vec![Tag::builder().key(UID_TAG).value(uid).build().unwrap()]);
            ListTagsForCertificateOutput::builder()
                .set_tags(tags)
                .build()
        });

        let certs = self.certs.clone();
        let describe = mock!(Client::describe_certificate).then_compute_response(move |req| {
            let arn = req.certificate_arn().unwrap_or_default().to_owned();
            let certs = certs.lock().unwrap();
            let Some(c) = certs.iter().find(|c| c.arn == arn) else {
                return MockResponse::Error(DescribeCertificateError::ResourceNotFoundException(
                    not_found(&arn),
                ));
            };
            let record = ResourceRecord::builder()
                .name(format!(
                    "_{}.{}.",
                    c.arn.rsplit('/').next().unwrap_or_default(),
                    c.domain
                ))
                .r#type(RecordType::Cname)
                .value("_x.acm-validations.aws.")
                .build()
                .unwrap();
            let option = DomainValidation::builder()
                .domain_name(&c.domain)
                .resource_record(record)
                .build()
                .unwrap();
            let detail = CertificateDetail::builder()
                .certificate_arn(&c.arn)
                .domain_name(&c.domain)
                .status(c.status.clone())
                .set_failure_reason(c.failure.clone())
                .domain_validation_options(option)
                .build();
            MockResponse::Output(
                DescribeCertificateOutput::builder()
                    .certificate(detail)
                    .build(),
            )
        });

        let (certs, requests, region) = (
            self.certs.clone(),
            self.requests.clone(),
            self.region.clone(),
        );
        let request = mock!(Client::request_certificate).then_compute_output(move |req| {
            let token = req.idempotency_token().unwrap_or_default().to_owned();
            let domain = req.domain_name().unwrap_or_default().to_owned();
            let uid = req
                .tags()
                .iter()
                .find(|t| t.key() == UID_TAG)
                .and_then(|t| t.value());
            let new_arn = arn(&region, &format!("new-{token}"));
            requests.lock().unwrap().push((domain.clone(), token));
            certs.lock().unwrap().push(Fake {
                arn: new_arn.clone(),
                domain,
                status: CertificateStatus::PendingValidation,
                failure: None,
                uid: uid.map(str::to_owned),
            });
            RequestCertificateOutput::builder()
                .certificate_arn(new_arn)
                .build()
        });

        let (certs, deleted, in_use) =
            (self.certs.clone(), self.deleted.clone(), self.delete_in_use);
        let delete = mock!(Client::delete_certificate).then_compute_response(move |req| {
            let arn = req.certificate_arn().unwrap_or_default().to_owned();
            if in_use {
                let message = format!("Certificate {arn} is in use by arn:aws:cloudfront::123456789012:distribution/E1");
                return MockResponse::Error(DeleteCertificateError::ResourceInUseException(
                    ResourceInUseException::builder()
                        .message(&message)
                        .meta(meta("ResourceInUseException", &message))
                        .build(),
                ));
            }
            let mut certs = certs.lock().unwrap();
            let before = certs.len();
            certs.retain(|c| c.arn != arn);
            if certs.len() == before {
                return MockResponse::Error(DeleteCertificateError::ResourceNotFoundException(not_found(&arn)));
            }
            deleted.lock().unwrap().push(arn);
            MockResponse::Output(DeleteCertificateOutput::builder().build())
        });
        vec![list, tags, describe, request, delete]
    }

    fn answers(&self) -> MockResponseInterceptor {
        AwsClients::answers(&self.rules().iter().collect::<Vec<_>>())
    }
}

/// Clients whose ACM answers from `fakes`, and from an empty fake in the
/// other region the tests use.
fn clients(fakes: &[&FakeAcm]) -> AwsClients {
    let mut clients = AwsClients::scripted();
    for fake in fakes {
        clients = clients.answering("acm", &fake.region, fake.answers());
    }
    for region in ["us-east-1", "eu-west-1"] {
        if !fakes.iter().any(|f| f.region == region) {
            clients = clients.answering("acm", region, FakeAcm::new(region).answers());
        }
    }
    clients
}

const ORIGIN: &str = "origin.api.example.com";
const PUBLIC: &str = "api.example.com";

/// [`super::run`] over the fakes.
async fn run(
    acms: &[&FakeAcm],
    t: &Target,
    inputs: &AcmInputs,
    mode: Mode,
) -> crate::error::Result<StepOutcome<AcmOutputs>> {
    super::run(&clients(acms), t, inputs, mode).await
}

/// [`super::destroy`] over the fakes.
async fn destroy(
    acms: &[&FakeAcm],
    t: &Target,
    previous_arns: &[String],
    mode: Mode,
) -> crate::error::Result<StepOutcome<()>> {
    super::destroy(&clients(acms), t, previous_arns, mode).await
}

#[tokio::test]
async fn pending_validation_is_pending_not_a_change() {
    let t = target(LATENCY);
    let uid = Some(t.uid.as_str());
    let us = FakeAcm::new("us-east-1")
        .with("o", ORIGIN, CertificateStatus::PendingValidation, uid)
        .with("e", PUBLIC, CertificateStatus::PendingValidation, uid);
    let eu = FakeAcm::new("eu-west-1").with("o", ORIGIN, CertificateStatus::PendingValidation, uid);
    for mode in [Mode::Plan, Mode::Apply] {
        let out = run(&[&us, &eu], &t, &AcmInputs::default(), mode)
            .await
            .unwrap();
        assert!(out.changes.is_empty(), "{:?}", out.changes);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert_eq!(
            Finding::texts(&out.pending),
            [
                "certificate for origin.api.example.com in us-east-1 is PENDING_VALIDATION",
                "certificate for api.example.com in us-east-1 is PENDING_VALIDATION",
                "certificate for origin.api.example.com in eu-west-1 is PENDING_VALIDATION",
            ]
        );
        assert_eq!(out.outputs.regional.len(), 2);
        assert!(!out.outputs.all_issued());
        let edge = out.outputs.edge.as_ref().unwrap();
        assert_eq!(
            (edge.arn.as_str(), edge.owned),
            (arn("us-east-1", "e").as_str(), true)
        );
        // ACM gives one account the same record for the same name in every region.
        assert_eq!(out.outputs.validation_records.len(), 2);
    }
    assert!(us.requests().is_empty() && eu.requests().is_empty());
}

#[tokio::test]
async fn missing_certificates_are_requested_with_acm_tokens() {
    let t = target(LATENCY);
    let (us, eu) = (FakeAcm::new("us-east-1"), FakeAcm::new("eu-west-1"));
    let plan = run(&[&us, &eu], &t, &AcmInputs::default(), Mode::Plan)
        .await
        .unwrap();
    assert_eq!(plan.changes.len(), 3);
    assert!(plan.pending.is_empty() && us.requests().is_empty());

    let out = run(&[&us, &eu], &t, &AcmInputs::default(), Mode::Apply)
        .await
        .unwrap();
    assert_eq!(out.changes, plan.changes);
    assert_eq!(out.pending.len(), 3);
    let want = desired::desired(&t).certificates;
    assert_eq!(
        us.requests(),
        [
            (ORIGIN.to_owned(), desired::request_token(&t, &want[0])),
            (PUBLIC.to_owned(), desired::request_token(&t, &want[2])),
        ]
    );
    assert_eq!(
        eu.requests(),
        [(ORIGIN.to_owned(), desired::request_token(&t, &want[1]))]
    );
    assert!(
        us.requests()
            .iter()
            .all(|(_, token)| desired::valid_token(token))
    );

    // Deleted by hand: an earlier reconcile's ARN is gone, so the new request
    // names it in its token instead of reusing one ACM may still remember.
    let previous = AcmInputs {
        previous_arns: out.outputs.arns(),
    };
    let gone = out.outputs.regional["eu-west-1"].arn.clone();
    eu.certs.lock().unwrap().clear();
    let again = run(&[&us, &eu], &t, &previous, Mode::Apply).await.unwrap();
    assert_eq!(
        again
            .changes
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["create acm certificate origin.api.example.com in eu-west-1"]
    );
    assert_eq!(
        eu.requests()[1],
        (
            ORIGIN.to_owned(),
            desired::rerequest_token(&t, &want[1], &[gone])
        )
    );
}

#[tokio::test]
async fn a_failed_certificate_is_an_error_then_replaced_and_deleted() {
    let t = target(LATENCY);
    let uid = t.uid.clone();
    let us = FakeAcm::new("us-east-1")
        .with("o", ORIGIN, CertificateStatus::Issued, Some(&uid))
        .with("e", PUBLIC, CertificateStatus::Issued, Some(&uid));
    let eu = FakeAcm::new("eu-west-1").failed("bad", ORIGIN, FailureReason::CaaError, &uid);

    let plan = run(&[&us, &eu], &t, &AcmInputs::default(), Mode::Plan)
        .await
        .unwrap();
    assert_eq!(
        Finding::texts(&plan.errors),
        [
            "eu-west-1: certificate arn:aws:acm:eu-west-1:123456789012:certificate/bad for origin.api.example.com is FAILED (CAA_ERROR)"
        ]
    );
    assert_eq!(plan.changes.len(), 1);
    assert!(
        plan.changes[0]
            .to_string()
            .starts_with("create acm certificate (replacing) origin.api.example.com in eu-west-1")
    );
    assert!(eu.requests().is_empty() && eu.deleted().is_empty());

    let out = run(&[&us, &eu], &t, &AcmInputs::default(), Mode::Apply)
        .await
        .unwrap();
    let want = &desired::desired(&t).certificates[1];
    let old = arn("eu-west-1", "bad");
    assert_eq!(
        eu.requests(),
        [(
            ORIGIN.to_owned(),
            desired::replacement_token(&t, want, &old)
        )]
    );
    assert_ne!(eu.requests()[0].1, desired::request_token(&t, want));
    assert_eq!(eu.deleted(), std::slice::from_ref(&old));
    let lines: Vec<String> = out.changes.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[1],
        format!("delete acm certificate origin.api.example.com in eu-west-1 ({old})")
    );
    assert_eq!(
        Finding::texts(&out.errors),
        [format!(
            "eu-west-1: certificate {old} for origin.api.example.com is FAILED (CAA_ERROR); a replacement was requested"
        )]
    );
    assert_eq!(
        Finding::texts(&out.pending),
        ["certificate for origin.api.example.com in eu-west-1 is PENDING_VALIDATION"]
    );
    assert_ne!(out.outputs.regional["eu-west-1"].arn, old);
}

#[tokio::test]
async fn revoked_is_an_error_and_not_replaced() {
    let t = target(LATENCY);
    let uid = Some(t.uid.as_str());
    let us = FakeAcm::new("us-east-1")
        .with("o", ORIGIN, CertificateStatus::Issued, uid)
        .with("e", PUBLIC, CertificateStatus::Revoked, uid);
    let eu = FakeAcm::new("eu-west-1").with("o", ORIGIN, CertificateStatus::Issued, uid);
    let out = run(&[&us, &eu], &t, &AcmInputs::default(), Mode::Apply)
        .await
        .unwrap();
    assert!(out.changes.is_empty());
    assert_eq!(
        Finding::texts(&out.errors),
        [format!(
            "us-east-1: certificate {} for api.example.com is REVOKED",
            arn("us-east-1", "e")
        )]
    );
    assert!(us.requests().is_empty());
}

#[tokio::test]
async fn throttling_in_one_region_leaves_the_others_going() {
    let t = target(LATENCY);
    let uid = Some(t.uid.as_str());
    let us = FakeAcm::new("us-east-1")
        .with("o", ORIGIN, CertificateStatus::Issued, uid)
        .with("e", PUBLIC, CertificateStatus::Issued, uid);
    let eu = FakeAcm {
        throttled: true,
        ..FakeAcm::new("eu-west-1")
    };
    let out = run(&[&us, &eu], &t, &AcmInputs::default(), Mode::Apply)
        .await
        .unwrap();
    assert_eq!(
        Finding::texts(&out.errors),
        ["eu-west-1: acm ListCertificates: ThrottlingException: Rate exceeded"]
    );
    assert!(out.changes.is_empty());
    assert_eq!(
        out.outputs.regional.keys().collect::<Vec<_>>(),
        ["us-east-1"]
    );
    assert!(out.outputs.edge.as_ref().is_some_and(|e| e.issued));
}

#[tokio::test]
async fn a_removed_region_in_use_waits_and_foreign_certificates_stay() {
    let mut t = target(LATENCY);
    let uid = Some(t.uid.clone());
    let us = FakeAcm::new("us-east-1")
        .with("o", ORIGIN, CertificateStatus::Issued, uid.as_deref())
        .with("e", PUBLIC, CertificateStatus::Issued, uid.as_deref())
        .with("theirs", ORIGIN, CertificateStatus::Issued, None);
    let eu = FakeAcm {
        delete_in_use: true,
        ..FakeAcm::new("eu-west-1").with("o", ORIGIN, CertificateStatus::Issued, uid.as_deref())
    };
    t.spec.regions.retain(|r| r.name != "eu-west-1");
    let inputs = AcmInputs {
        previous_arns: vec![
            arn("us-east-1", "o"),
            arn("us-east-1", "e"),
            arn("eu-west-1", "o"),
        ],
    };
    let plan = run(&[&us, &eu], &t, &inputs, Mode::Plan).await.unwrap();
    assert_eq!(
        plan.changes
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        [format!(
            "delete acm certificate origin.api.example.com in eu-west-1 ({})",
            arn("eu-west-1", "o")
        )]
    );
    let out = run(&[&us, &eu], &t, &inputs, Mode::Apply).await.unwrap();
    assert!(out.changes.is_empty() && out.errors.is_empty(), "{out:?}");
    assert_eq!(out.pending.len(), 1);
    assert!(
        out.pending[0]
            .text
            .contains("is still in use (acm DeleteCertificate: ResourceInUseException")
    );
    assert!(us.deleted().is_empty() && us.requests().is_empty());
}

#[tokio::test]
async fn destroy_names_a_certificate_in_use_and_spares_foreign_ones() {
    let t = target(LATENCY);
    let uid = Some(t.uid.as_str());
    let us = FakeAcm {
        delete_in_use: true,
        ..FakeAcm::new("us-east-1").with("e", PUBLIC, CertificateStatus::Issued, uid)
    };
    let eu = FakeAcm::new("eu-west-1")
        .with("o", ORIGIN, CertificateStatus::Issued, uid)
        .with("theirs", ORIGIN, CertificateStatus::Issued, None)
        .with(
            "other",
            ORIGIN,
            CertificateStatus::Issued,
            Some("another-uid"),
        )
        .with(
            "old-domain",
            "old.example.com",
            CertificateStatus::Issued,
            uid,
        );

    let plan = destroy(&[&us, &eu], &t, &[], Mode::Plan).await.unwrap();
    assert_eq!(plan.changes.len(), 3);
    assert!(eu.deleted().is_empty());

    let out = destroy(&[&us, &eu], &t, &[], Mode::Apply).await.unwrap();
    assert_eq!(
        eu.deleted(),
        [arn("eu-west-1", "o"), arn("eu-west-1", "old-domain")]
    );
    assert_eq!(out.changes.len(), 2);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.pending.len(), 1);
    let line = &out.pending[0];
    assert!(line.text.starts_with(&format!(
        "us-east-1: certificate {} for api.example.com is still in use",
        arn("us-east-1", "e")
    )));
    assert!(line.text.contains("ResourceInUseException"), "{line}");
}

#[tokio::test]
async fn the_users_edge_certificate_is_described_never_requested() {
    let mut t = target(LATENCY);
    let theirs = arn("us-east-1", "users");
    t.spec.certificate = Some(crate::api::CertificateSpec {
        arn: Some(theirs.clone()),
    });
    let uid = Some(t.uid.as_str());
    let us = FakeAcm::new("us-east-1")
        .with("o", ORIGIN, CertificateStatus::Issued, uid)
        .with("users", PUBLIC, CertificateStatus::Issued, None);
    let eu = FakeAcm::new("eu-west-1").with("o", ORIGIN, CertificateStatus::Issued, uid);
    let out = run(&[&us, &eu], &t, &AcmInputs::default(), Mode::Apply)
        .await
        .unwrap();
    assert!(
        out.changes.is_empty() && out.errors.is_empty() && out.pending.is_empty(),
        "{out:?}"
    );
    let edge = out.outputs.edge.unwrap();
    assert_eq!(
        (edge.arn.as_str(), edge.owned, edge.issued),
        (theirs.as_str(), false, true)
    );
    let names: Vec<&str> = out
        .outputs
        .validation_records
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["_o.origin.api.example.com."],
        "only our certificates' records"
    );

    us.certs.lock().unwrap().retain(|c| c.arn != theirs);
    let out = run(&[&us, &eu], &t, &AcmInputs::default(), Mode::Apply)
        .await
        .unwrap();
    assert_eq!(
        Finding::texts(&out.errors),
        [format!(
            "us-east-1: spec.certificate.arn {theirs} was not found in ACM"
        )]
    );
    assert!(out.outputs.edge.is_none() && us.requests().is_empty());
    let destroyed = destroy(&[&us, &eu], &t, &[], Mode::Plan).await.unwrap();
    assert_eq!(destroyed.changes.len(), 2);
}

#[tokio::test]
async fn destroy_with_reported_arns_reads_only_certificates_for_our_names_or_reported() {
    let t = target(LATENCY);
    let uid = Some(t.uid.as_str());
    let eu = FakeAcm::new("eu-west-1")
        .with("o", ORIGIN, CertificateStatus::Issued, uid)
        .with(
            "reported",
            "old.example.com",
            CertificateStatus::Issued,
            uid,
        )
        .with(
            "unreported",
            "older.example.com",
            CertificateStatus::Issued,
            uid,
        )
        .with(
            "elsewhere",
            "shop.example.net",
            CertificateStatus::Issued,
            Some("x"),
        );
    let us = FakeAcm::new("us-east-1");

    let out = super::destroy(
        &clients(&[&us, &eu]),
        &t,
        &[arn("eu-west-1", "reported")],
        Mode::Apply,
    )
    .await
    .unwrap();
    assert!(out.errors.is_empty(), "{out:?}");
    // A certificate of ours for a name the spec and the status no longer
    // mention is not looked for: that is what the status is kept for.
    assert_eq!(
        eu.deleted(),
        [arn("eu-west-1", "o"), arn("eu-west-1", "reported")]
    );
}
