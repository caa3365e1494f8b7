//! What must change in ACM (pure): certificates to request, to replace and
//! to delete, and what the state of the kept ones means for the reconcile.

use crate::plan::{Action, Change, FieldChange, Service};

use super::certificate::{DesiredCertificate, ISSUED, ObservedCertificate};

/// One certificate operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertificateOp {
    /// None of ours exists for this name in this region.
    Request(DesiredCertificate),
    /// Ours failed for good (FAILED, VALIDATION_TIMED_OUT): request a new
    /// one, then delete the old one.
    Replace {
        old: ObservedCertificate,
        desired: DesiredCertificate,
    },
    /// Ours and not needed: no longer in the spec, or a twin of the one kept.
    Delete(ObservedCertificate),
}

impl CertificateOp {
    /// The region the operation acts in.
    pub fn region(&self) -> &str {
        match self {
            CertificateOp::Request(d) | CertificateOp::Replace { desired: d, .. } => &d.region,
            CertificateOp::Delete(o) => &o.region,
        }
    }

    /// The operation as one human line.
    pub fn change(&self) -> Change {
        match self {
            CertificateOp::Request(d) => Change::new(
                Service::Acm,
                Some(&d.region),
                Action::Create,
                "certificate",
                d.describe(),
            ),
            CertificateOp::Replace { old, desired } => Change::new(
                Service::Acm,
                Some(&desired.region),
                Action::Create,
                "certificate (replacing)",
                desired.describe(),
            )
            .with_fields(vec![
                FieldChange::new("CertificateArn", Some(old.arn.clone()), None),
                FieldChange::new("Status", Some(old.status_text()), Some(ISSUED.into())),
            ]),
            CertificateOp::Delete(o) => Change::new(
                Service::Acm,
                Some(&o.region),
                Action::Delete,
                "certificate",
                format!("{} in {} ({})", o.domain, o.region, o.arn),
            ),
        }
    }
}

/// The certificate kept for a desired one among ours: the best by status,
/// then one in use, then the first by ARN (so every run picks the same).
pub(crate) fn chosen<'a>(
    want: &DesiredCertificate,
    observed: &'a [ObservedCertificate],
) -> Option<&'a ObservedCertificate> {
    observed
        .iter()
        .filter(|o| o.owned && o.region == want.region && o.domain == want.domain)
        .min_by(|a, b| a.rank().cmp(&b.rank()))
}

/// Compares the certificates the spec needs with ours found in ACM.
/// Certificates not tagged as ours never appear in an operation.
pub(crate) fn diff(
    desired: &[DesiredCertificate],
    observed: &[ObservedCertificate],
) -> Vec<CertificateOp> {
    let mut ops = Vec::new();
    let mut kept: Vec<&str> = Vec::new();
    for want in desired {
        match chosen(want, observed) {
            None => ops.push(CertificateOp::Request(want.clone())),
            Some(found) => {
                kept.push(&found.arn);
                if found.replaceable() {
                    ops.push(CertificateOp::Replace {
                        old: found.clone(),
                        desired: want.clone(),
                    });
                }
            }
        }
    }
    for found in observed.iter().filter(|o| o.owned) {
        if !kept.contains(&found.arn.as_str()) {
            ops.push(CertificateOp::Delete(found.clone()));
        }
    }
    ops
}

/// What a kept certificate's state means for the reconcile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Ready for use.
    Issued,
    /// Still on its way: a line for `pending`.
    Pending(String),
    /// Unusable until someone acts: a line for `errors` (without the region).
    Error(String),
}

/// Judges a certificate the target uses.
pub(crate) fn verdict(cert: &ObservedCertificate) -> Verdict {
    if cert.issued() {
        Verdict::Issued
    } else if cert.pending() {
        let mut line = format!(
            "certificate for {} in {} is {}",
            cert.domain, cert.region, cert.status
        );
        if cert.owned && cert.validation_records.is_empty() {
            line.push_str("; its validation record is not published yet");
        }
        Verdict::Pending(line)
    } else {
        Verdict::Error(format!(
            "certificate {} for {} is {}",
            cert.arn,
            cert.domain,
            cert.status_text()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::acm::certificate::Purpose;
    use crate::aws::acm::certificate::ValidationRecord;
    use crate::aws::acm::desired::desired;
    use crate::target::fixtures::{LATENCY, target};

    fn found(want: &DesiredCertificate, id: &str, status: &str) -> ObservedCertificate {
        ObservedCertificate {
            arn: format!("arn:aws:acm:{}:123456789012:certificate/{id}", want.region),
            region: want.region.clone(),
            domain: want.domain.clone(),
            names: vec![want.domain.clone()],
            status: status.into(),
            failure_reason: None,
            validation_records: vec![ValidationRecord {
                name: format!("_{id}.{}.", want.domain),
                value: format!("_{id}.acm-validations.aws."),
            }],
            in_use_by: vec![],
            owned: true,
        }
    }

    fn lines(ops: &[CertificateOp]) -> Vec<String> {
        ops.iter().map(|o| o.change().to_string()).collect()
    }

    #[test]
    fn nothing_requests_all_and_all_requests_nothing() {
        let want = desired(&target(LATENCY)).certificates;
        assert_eq!(
            lines(&diff(&want, &[])),
            [
                "create acm certificate origin.api.example.com in us-east-1",
                "create acm certificate origin.api.example.com in eu-west-1",
                "create acm certificate api.example.com in us-east-1",
            ]
        );
        let have: Vec<ObservedCertificate> = want
            .iter()
            .enumerate()
            .map(|(i, w)| found(w, &i.to_string(), "PENDING_VALIDATION"))
            .collect();
        assert!(diff(&want, &have).is_empty());
        let issued: Vec<ObservedCertificate> = have
            .into_iter()
            .map(|c| ObservedCertificate {
                status: "ISSUED".into(),
                ..c
            })
            .collect();
        assert!(diff(&want, &issued).is_empty());
    }

    #[test]
    fn a_deleted_certificate_is_requested_again() {
        let want = desired(&target(LATENCY)).certificates;
        let have = vec![
            found(&want[0], "a", "ISSUED"),
            found(&want[2], "c", "ISSUED"),
        ];
        assert_eq!(
            lines(&diff(&want, &have)),
            ["create acm certificate origin.api.example.com in eu-west-1"]
        );
    }

    #[test]
    fn the_edge_and_regional_certificates_in_us_east_1_are_kept_apart() {
        let want = desired(&target(LATENCY)).certificates;
        assert_eq!(want[2].purpose, Purpose::Edge);
        // Only the edge certificate exists in us-east-1: the regional one is still missing.
        let have = vec![
            found(&want[2], "edge", "ISSUED"),
            found(&want[1], "eu", "ISSUED"),
        ];
        assert_eq!(
            lines(&diff(&want, &have)),
            ["create acm certificate origin.api.example.com in us-east-1"]
        );
    }

    #[test]
    fn a_removed_region_and_twins_are_deleted_foreign_ones_never() {
        let t = target(LATENCY);
        let mut want = desired(&t).certificates;
        let eu = want.remove(1);
        let mut foreign = found(&want[0], "foreign", "ISSUED");
        foreign.owned = false;
        let have = vec![
            found(&want[0], "b-twin", "PENDING_VALIDATION"),
            found(&want[0], "a-kept", "ISSUED"),
            found(&eu, "eu", "ISSUED"),
            found(&want[1], "edge", "ISSUED"),
            foreign,
        ];
        assert_eq!(
            lines(&diff(&want, &have)),
            [
                "delete acm certificate origin.api.example.com in us-east-1 (arn:aws:acm:us-east-1:123456789012:certificate/b-twin)",
                "delete acm certificate origin.api.example.com in eu-west-1 (arn:aws:acm:eu-west-1:123456789012:certificate/eu)",
            ]
        );
    }

    #[test]
    fn failed_and_timed_out_are_replaced_revoked_and_expired_are_not() {
        let want = desired(&target(LATENCY)).certificates;
        let mut failed = found(&want[0], "f", "FAILED");
        failed.failure_reason = Some("CAA_ERROR".into());
        let have = vec![
            failed.clone(),
            found(&want[1], "t", "VALIDATION_TIMED_OUT"),
            found(&want[2], "r", "REVOKED"),
        ];
        let ops = diff(&want, &have);
        assert_eq!(
            lines(&ops),
            [
                "create acm certificate (replacing) origin.api.example.com in us-east-1: CertificateArn arn:aws:acm:us-east-1:123456789012:certificate/f → (none), Status FAILED (CAA_ERROR) → ISSUED",
                "create acm certificate (replacing) origin.api.example.com in eu-west-1: CertificateArn arn:aws:acm:eu-west-1:123456789012:certificate/t → (none), Status VALIDATION_TIMED_OUT → ISSUED",
            ]
        );
        // Once the replacement exists the failed one is only a twin to delete.
        let replacement = found(&want[0], "new", "PENDING_VALIDATION");
        let ops = diff(&want[..1], &[failed, replacement]);
        assert_eq!(
            lines(&ops),
            [
                "delete acm certificate origin.api.example.com in us-east-1 (arn:aws:acm:us-east-1:123456789012:certificate/f)"
            ]
        );
    }

    #[test]
    fn verdicts_name_status_and_reason() {
        let want = desired(&target(LATENCY)).certificates;
        assert_eq!(verdict(&found(&want[1], "a", "ISSUED")), Verdict::Issued);
        assert_eq!(
            verdict(&found(&want[1], "a", "PENDING_VALIDATION")),
            Verdict::Pending(
                "certificate for origin.api.example.com in eu-west-1 is PENDING_VALIDATION".into()
            )
        );
        let mut unpublished = found(&want[1], "a", "PENDING_VALIDATION");
        unpublished.validation_records.clear();
        assert!(
            matches!(verdict(&unpublished), Verdict::Pending(l) if l.ends_with("not published yet"))
        );
        let mut failed = found(&want[1], "a", "FAILED");
        failed.failure_reason = Some("DOMAIN_NOT_ALLOWED".into());
        assert_eq!(
            verdict(&failed),
            Verdict::Error(
                "certificate arn:aws:acm:eu-west-1:123456789012:certificate/a for origin.api.example.com is FAILED (DOMAIN_NOT_ALLOWED)"
                    .into()
            )
        );
        assert!(
            matches!(verdict(&found(&want[1], "a", "EXPIRED")), Verdict::Error(l) if l.ends_with("is EXPIRED"))
        );
    }
}
