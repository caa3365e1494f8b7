//! The condition types a GlobalApi reports.

use std::fmt;

/// A condition type of `status.conditions`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConditionType {
    /// Everything matches the spec and serves traffic.
    Ready,
    /// Every certificate is issued.
    CertificatesReady,
    /// Every regional REST API, stage and custom domain exists.
    RegionalApisReady,
    /// Health checks and records are in place.
    DnsReady,
    /// The CloudFront distribution is deployed (or not wanted).
    EdgeReady,
    /// The database is available (or not wanted).
    DatabaseReady,
    /// AWS differs from the spec.
    Drifted,
    /// Some regions fail while others serve.
    Degraded,
    /// Something the spec needs belongs to someone else.
    Conflict,
    /// The `globalapi.io/paused` annotation holds every AWS write back.
    Paused,
}

impl ConditionType {
    /// Every condition type, in the order status lists them.
    pub const ALL: [ConditionType; 10] = [
        ConditionType::Ready,
        ConditionType::CertificatesReady,
        ConditionType::RegionalApisReady,
        ConditionType::DnsReady,
        ConditionType::EdgeReady,
        ConditionType::DatabaseReady,
        ConditionType::Drifted,
        ConditionType::Degraded,
        ConditionType::Conflict,
        ConditionType::Paused,
    ];

    /// The name used in `status.conditions[].type`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionType::Ready => "Ready",
            ConditionType::CertificatesReady => "CertificatesReady",
            ConditionType::RegionalApisReady => "RegionalApisReady",
            ConditionType::DnsReady => "DnsReady",
            ConditionType::EdgeReady => "EdgeReady",
            ConditionType::DatabaseReady => "DatabaseReady",
            ConditionType::Drifted => "Drifted",
            ConditionType::Degraded => "Degraded",
            ConditionType::Conflict => "Conflict",
            ConditionType::Paused => "Paused",
        }
    }
}

impl fmt::Display for ConditionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a condition is as it is: the bounded set of `status.conditions[].reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Ready: every part matches the spec and serves.
    Reconciled,
    /// The spec cannot be carried out (AWS said so); it must change.
    InvalidSpec,
    /// AWS refused or failed a call.
    AwsError,
    /// Calls wait for their turn in the account's AWS rate budget.
    AwsBudget,
    /// Resources the spec needs belong to someone else.
    Conflict,
    /// The pause annotation holds changes back.
    Paused,
    /// AWS differs from the spec and driftPolicy is Report.
    DriftReported,
    /// AWS differed from the spec and was put back.
    DriftCorrected,
    /// Waiting for AWS (a certificate, a deployment, a database).
    Pending,
    /// Some part is not ready yet.
    NotReady,
    /// AWS matched the spec.
    NoDrift,
    /// Some parts could not be read from AWS; what they serve is left as it was.
    ReadsFailing,
    /// No region reports an error.
    NoRegionFailing,
    /// Every region reports an error.
    AllRegionsFailing,
    /// Some regions fail while the others serve.
    RegionsFailing,
    /// Everything the spec needs is free or ours.
    NoConflict,
    /// Resources the spec needs belong to someone else.
    OwnedByOthers,
    /// The pause annotation is set.
    Annotation,
    /// The operator makes AWS follow the spec.
    NotPaused,
    /// Deleting failed; it is retried.
    DeletionFailed,
    /// The AWS resources are being removed.
    Deleting,
    /// The pause annotation holds the deletion back.
    DeletionPaused,
    /// A tenancy policy does not allow the spec.
    PolicyViolation,
    /// The adoption annotation cannot be followed.
    AdoptionRefused,
    /// Every certificate is issued.
    Issued,
    /// Some certificate is not issued yet.
    NotIssued,
    /// Deployed.
    Deployed,
    /// Some region lacks its part yet.
    Incomplete,
    /// Health checks and records are in place.
    RecordsInPlace,
    /// The spec does not ask for it.
    NotRequested,
    /// The distribution is deploying.
    Deploying,
    /// It does not exist yet.
    Missing,
    /// No longer in the spec; left as it is.
    Orphaned,
    /// The database writer moved by a requested failover.
    FailedOver,
    /// Available.
    Available,
}

impl Reason {
    /// The name used in `status.conditions[].reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Reconciled => "Reconciled",
            Reason::InvalidSpec => "InvalidSpec",
            Reason::AwsError => "AwsError",
            Reason::AwsBudget => "AwsBudget",
            Reason::Conflict => "Conflict",
            Reason::Paused => "Paused",
            Reason::DriftReported => "DriftReported",
            Reason::DriftCorrected => "DriftCorrected",
            Reason::Pending => "Pending",
            Reason::NotReady => "NotReady",
            Reason::NoDrift => "NoDrift",
            Reason::ReadsFailing => "ReadsFailing",
            Reason::NoRegionFailing => "NoRegionFailing",
            Reason::AllRegionsFailing => "AllRegionsFailing",
            Reason::RegionsFailing => "RegionsFailing",
            Reason::NoConflict => "NoConflict",
            Reason::OwnedByOthers => "OwnedByOthers",
            Reason::Annotation => "Annotation",
            Reason::NotPaused => "NotPaused",
            Reason::DeletionFailed => "DeletionFailed",
            Reason::Deleting => "Deleting",
            Reason::DeletionPaused => "DeletionPaused",
            Reason::PolicyViolation => "PolicyViolation",
            Reason::AdoptionRefused => "AdoptionRefused",
            Reason::Issued => "Issued",
            Reason::NotIssued => "NotIssued",
            Reason::Deployed => "Deployed",
            Reason::Incomplete => "Incomplete",
            Reason::RecordsInPlace => "RecordsInPlace",
            Reason::NotRequested => "NotRequested",
            Reason::Deploying => "Deploying",
            Reason::Missing => "Missing",
            Reason::Orphaned => "Orphaned",
            Reason::FailedOver => "FailedOver",
            Reason::Available => "Available",
        }
    }
}
