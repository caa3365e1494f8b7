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
