//! Certificates as plain values, independent of the SDK's types, so that
//! desired and observed state compare with `==`.

use std::fmt;

/// A DNS validation record ACM asks for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ValidationRecord {
    pub name: String,
    pub value: String,
}

/// ACM's status of a certificate that is ready for use.
pub const ISSUED: &str = "ISSUED";
/// ACM's status while the DNS validation record is awaited.
pub const PENDING_VALIDATION: &str = "PENDING_VALIDATION";

/// What a certificate is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Purpose {
    /// The origin name, served by the region's API Gateway custom domain.
    Regional,
    /// The public name, served by CloudFront (always in us-east-1).
    Edge,
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Purpose::Regional => "regional",
            Purpose::Edge => "edge",
        })
    }
}

/// One certificate the spec needs: a domain name in a region. Region and
/// domain identify it; two certificates of one target never share both.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DesiredCertificate {
    pub region: String,
    pub domain: String,
    pub purpose: Purpose,
}

impl DesiredCertificate {
    /// `origin.api.example.com in eu-west-1`, as changes and pending lines name it.
    pub fn describe(&self) -> String {
        format!("{} in {}", self.domain, self.region)
    }
}

/// A certificate found in ACM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedCertificate {
    pub arn: String,
    pub region: String,
    pub domain: String,
    /// Every name it is for (its subject alternative names, the domain
    /// among them), wildcards as `*.example.com`.
    pub names: Vec<String>,
    /// ACM's status, e.g. `PENDING_VALIDATION`, `ISSUED`, `FAILED`.
    pub status: String,
    /// Why ACM failed it (`CAA_ERROR`, `DOMAIN_NOT_ALLOWED`...), when it did.
    pub failure_reason: Option<String>,
    /// The CNAMEs that prove control of the domain.
    pub validation_records: Vec<ValidationRecord>,
    /// ARNs of the resources using it (load balancers, CloudFront, API Gateway).
    pub in_use_by: Vec<String>,
    /// Tagged with the target's uid.
    pub owned: bool,
}

impl ObservedCertificate {
    /// Ready for use.
    pub fn issued(&self) -> bool {
        self.status == ISSUED
    }

    /// Waiting for its DNS validation record.
    pub fn pending(&self) -> bool {
        self.status == PENDING_VALIDATION
    }

    /// Failed for good: only a new request gives a usable certificate.
    pub(crate) fn replaceable(&self) -> bool {
        matches!(self.status.as_str(), "FAILED" | "VALIDATION_TIMED_OUT")
    }

    /// Whether it serves `name`: one of its names, or a wildcard of one
    /// label (`*.example.com` serves `api.example.com`, not
    /// `a.api.example.com`), compared without case as DNS does.
    pub(crate) fn covers(&self, name: &str) -> bool {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        std::iter::once(&self.domain)
            .chain(&self.names)
            .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
            .any(|n| match n.strip_prefix("*.") {
                Some(parent) => name
                    .split_once('.')
                    .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
                None => n == name,
            })
    }

    /// The status with ACM's failure reason, e.g. `FAILED (CAA_ERROR)`.
    pub(crate) fn status_text(&self) -> String {
        match &self.failure_reason {
            Some(reason) => format!("{} ({reason})", self.status),
            None => self.status.clone(),
        }
    }

    /// How good a choice this is among certificates for the same name, lower
    /// first: issued, then pending, then the unusable; in use before unused.
    pub(crate) fn rank(&self) -> (u8, bool, &str) {
        let status = if self.issued() {
            0
        } else if self.pending() {
            1
        } else if self.replaceable() {
            3
        } else {
            2
        };
        (status, self.in_use_by.is_empty(), self.arn.as_str())
    }

    /// The state later services and the status see.
    pub fn state(&self) -> CertificateState {
        CertificateState {
            arn: self.arn.clone(),
            domain: self.domain.clone(),
            status: self.status.clone(),
            issued: self.issued(),
            owned: self.owned,
        }
    }
}

/// A certificate as later services and the status see it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CertificateState {
    pub arn: String,
    pub domain: String,
    /// ACM's status, e.g. `ISSUED`.
    pub status: String,
    /// Ready for use (`ISSUED`).
    pub issued: bool,
    /// Requested by this GlobalApi (false for `spec.certificate.arn`).
    pub owned: bool,
}

/// The region of an ACM certificate ARN (`arn:aws:acm:<region>:<account>:certificate/<id>`).
pub fn region_of_arn(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    let (_arn, _partition, service, region) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    (service == "acm" && !region.is_empty()).then_some(region)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(arn: &str, status: &str, in_use: bool) -> ObservedCertificate {
        ObservedCertificate {
            arn: arn.into(),
            region: "eu-west-1".into(),
            domain: "origin.api.example.com".into(),
            names: vec!["origin.api.example.com".into()],
            status: status.into(),
            failure_reason: None,
            validation_records: vec![],
            in_use_by: if in_use {
                vec!["arn:aws:apigateway:x".into()]
            } else {
                vec![]
            },
            owned: true,
        }
    }

    #[test]
    fn ranking_prefers_issued_then_pending_then_in_use() {
        let mut certs = [
            cert("a", "FAILED", true),
            cert("b", "PENDING_VALIDATION", false),
            cert("c", "ISSUED", false),
            cert("d", "ISSUED", true),
            cert("e", "EXPIRED", false),
        ];
        certs.sort_by(|x, y| x.rank().cmp(&y.rank()));
        let order: Vec<&str> = certs.iter().map(|c| c.arn.as_str()).collect();
        assert_eq!(order, ["d", "c", "b", "e", "a"]);
    }

    #[test]
    fn arn_regions() {
        assert_eq!(
            region_of_arn("arn:aws:acm:eu-west-1:123456789012:certificate/abc"),
            Some("eu-west-1")
        );
        assert_eq!(region_of_arn("arn:aws:lambda:eu-west-1:1:function:f"), None);
        assert_eq!(region_of_arn("nonsense"), None);
    }

    #[test]
    fn status_text_carries_the_failure_reason() {
        let mut c = cert("a", "FAILED", false);
        c.failure_reason = Some("CAA_ERROR".into());
        assert_eq!(c.status_text(), "FAILED (CAA_ERROR)");
        assert!(c.replaceable() && !c.issued());
    }

    #[test]
    fn a_certificate_covers_its_names_and_one_label_under_a_wildcard() {
        let mut c = cert("a", "ISSUED", false);
        c.names = vec!["origin.api.example.com".into(), "*.Example.com".into()];
        assert!(c.covers("origin.api.example.com"));
        assert!(c.covers("ORIGIN.api.example.com."));
        assert!(c.covers("api.example.com"));
        assert!(!c.covers("example.com"));
        assert!(!c.covers("a.api.example.com.evil"));
        assert!(!c.covers("deep.api.example.com"));
    }
}
