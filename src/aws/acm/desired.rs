//! The certificates a GlobalApi asks for, and the idempotency tokens of
//! their requests (pure).

use crate::aws::clients::GLOBAL_REGION;
use crate::target::Target;

use super::certificate::{DesiredCertificate, Purpose};

/// ACM's longest IdempotencyToken.
pub(crate) const MAX_TOKEN: usize = 32;

/// What the reconcile knows before ACM runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AcmInputs {
    /// Certificate ARNs an earlier reconcile reported (`status.regions[].certificateArn`,
    /// `status.edge.certificateArn`). They are observed too, so that a
    /// certificate the spec no longer needs (region removed, domain changed,
    /// edge disabled) is found and deleted, and so that a certificate deleted
    /// by hand is requested again with a fresh token. May be empty.
    pub previous_arns: Vec<String>,
}

/// Every certificate a target needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Desired {
    /// The certificates to request and keep, in spec order, the edge one last.
    pub certificates: Vec<DesiredCertificate>,
    /// The user's certificates (`spec.regions[].certificateArn`,
    /// `spec.certificate.arn` for the edge): used, never requested, owned
    /// or deleted.
    pub provided: Vec<ProvidedCertificate>,
}

/// A certificate the user brings for one purpose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvidedCertificate {
    pub arn: String,
    /// Where it must be: the region's own (regional), us-east-1 (edge).
    pub region: String,
    /// The name it must cover.
    pub domain: String,
    pub purpose: Purpose,
    /// The spec field it comes from, as messages name it.
    pub field: String,
}

impl Desired {
    /// Every ARN the user brings.
    pub(crate) fn provided_arns(&self) -> Vec<String> {
        self.provided.iter().map(|p| p.arn.clone()).collect()
    }
}

impl Desired {
    /// The regions with a certificate to request, in order, each once.
    pub fn regions(&self) -> Vec<String> {
        let mut regions: Vec<String> = Vec::new();
        for cert in &self.certificates {
            if !regions.contains(&cert.region) {
                regions.push(cert.region.clone());
            }
        }
        regions
    }
}

/// One certificate for the origin name in every region, plus the public
/// name in us-east-1 for CloudFront, except where the user brings one.
pub fn desired(target: &Target) -> Desired {
    let origin = target.origin_domain();
    let mut certificates = Vec::new();
    let mut provided = Vec::new();
    for (index, region) in target.regions().enumerate() {
        match &region.certificate_arn {
            Some(arn) => provided.push(ProvidedCertificate {
                arn: arn.clone(),
                region: region.name.clone(),
                domain: origin.clone(),
                purpose: Purpose::Regional,
                field: format!("spec.regions[{index}].certificateArn"),
            }),
            None => certificates.push(DesiredCertificate {
                region: region.name.clone(),
                domain: origin.clone(),
                purpose: Purpose::Regional,
            }),
        }
    }
    if target.edge_enabled() {
        match target.spec.certificate.as_ref().and_then(|c| c.arn.clone()) {
            Some(arn) => provided.push(ProvidedCertificate {
                arn,
                region: GLOBAL_REGION.to_owned(),
                domain: target.spec.domain.clone(),
                purpose: Purpose::Edge,
                field: "spec.certificate.arn".to_owned(),
            }),
            None => certificates.push(DesiredCertificate {
                region: GLOBAL_REGION.to_owned(),
                domain: target.spec.domain.clone(),
                purpose: Purpose::Edge,
            }),
        }
    }
    Desired {
        certificates,
        provided,
    }
}

/// The token of the first request for a certificate: a request retried after
/// a crash gets the certificate the first one made.
pub(crate) fn request_token(target: &Target, cert: &DesiredCertificate) -> String {
    target.token(&format!("acm {} {}", cert.region, cert.domain), MAX_TOKEN)
}

/// The token of a request made after earlier certificates of ours for this
/// region disappeared (deleted by hand): ACM remembers a token for an hour
/// and would answer with the deleted certificate.
pub(crate) fn rerequest_token(
    target: &Target,
    cert: &DesiredCertificate,
    gone: &[String],
) -> String {
    target.token(
        &format!(
            "acm {} {} after {}",
            cert.region,
            cert.domain,
            gone.join(" ")
        ),
        MAX_TOKEN,
    )
}

/// The token of the request replacing a failed certificate; naming the old
/// one keeps ACM from answering with it.
pub(crate) fn replacement_token(
    target: &Target,
    cert: &DesiredCertificate,
    old_arn: &str,
) -> String {
    target.token(
        &format!("acm {} {} replacing {old_arn}", cert.region, cert.domain),
        MAX_TOKEN,
    )
}

/// ACM accepts 1 to 32 word characters (`\w+`).
pub(crate) fn valid_token(token: &str) -> bool {
    (1..=MAX_TOKEN).contains(&token.len())
        && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::fixtures::{FAILOVER, LATENCY, target};

    fn keys(d: &Desired) -> Vec<(String, String, Purpose)> {
        d.certificates
            .iter()
            .map(|c| (c.region.clone(), c.domain.clone(), c.purpose))
            .collect()
    }

    #[test]
    fn edge_needs_the_origin_everywhere_and_the_public_name_in_us_east_1() {
        let d = desired(&target(LATENCY));
        assert_eq!(
            keys(&d),
            [
                (
                    "us-east-1".into(),
                    "origin.api.example.com".into(),
                    Purpose::Regional
                ),
                (
                    "eu-west-1".into(),
                    "origin.api.example.com".into(),
                    Purpose::Regional
                ),
                ("us-east-1".into(), "api.example.com".into(), Purpose::Edge),
            ]
        );
        assert!(d.provided.is_empty());
        assert_eq!(d.regions(), ["us-east-1", "eu-west-1"]);
    }

    #[test]
    fn without_the_edge_the_public_name_is_regional() {
        let d = desired(&target(FAILOVER));
        assert_eq!(
            keys(&d),
            [
                (
                    "us-east-1".into(),
                    "api.example.com".into(),
                    Purpose::Regional
                ),
                (
                    "eu-west-1".into(),
                    "api.example.com".into(),
                    Purpose::Regional
                ),
            ]
        );
    }

    #[test]
    fn a_given_certificate_serves_the_edge_and_regions_are_still_requested() {
        let mut t = target(LATENCY);
        let arn = "arn:aws:acm:us-east-1:123456789012:certificate/mine";
        t.spec.certificate = Some(crate::api::CertificateSpec {
            arn: Some(arn.into()),
        });
        if let Some(edge) = t.spec.edge.as_mut() {
            edge.origin_domain = Some("o.api.example.com".into());
        }
        let d = desired(&t);
        assert_eq!(d.provided_arns(), [arn]);
        assert_eq!(d.provided[0].purpose, Purpose::Edge);
        assert_eq!(d.provided[0].domain, "api.example.com");
        assert_eq!(
            keys(&d),
            [
                (
                    "us-east-1".into(),
                    "o.api.example.com".into(),
                    Purpose::Regional
                ),
                (
                    "eu-west-1".into(),
                    "o.api.example.com".into(),
                    Purpose::Regional
                ),
            ]
        );
    }

    #[test]
    fn a_region_with_its_own_certificate_requests_none_there() {
        let mut t = target(LATENCY);
        let arn = "arn:aws:acm:eu-west-1:123456789012:certificate/theirs";
        t.spec.regions[1].certificate_arn = Some(arn.into());
        let d = desired(&t);
        assert_eq!(
            keys(&d),
            [
                (
                    "us-east-1".into(),
                    "origin.api.example.com".into(),
                    Purpose::Regional
                ),
                ("us-east-1".into(), "api.example.com".into(), Purpose::Edge),
            ]
        );
        assert_eq!(
            d.provided,
            [ProvidedCertificate {
                arn: arn.into(),
                region: "eu-west-1".into(),
                domain: "origin.api.example.com".into(),
                purpose: Purpose::Regional,
                field: "spec.regions[1].certificateArn".into(),
            }]
        );
        assert_eq!(d.regions(), ["us-east-1"]);
    }

    #[test]
    fn tokens_are_valid_for_acm_and_distinct() {
        let t = target(LATENCY);
        let d = desired(&t);
        let mut tokens: Vec<String> = d
            .certificates
            .iter()
            .map(|c| request_token(&t, c))
            .collect();
        let c = &d.certificates[0];
        tokens.push(replacement_token(
            &t,
            c,
            "arn:aws:acm:us-east-1:1:certificate/x",
        ));
        tokens.push(rerequest_token(
            &t,
            c,
            &["arn:aws:acm:us-east-1:1:certificate/x".into()],
        ));
        for token in &tokens {
            assert!(valid_token(token), "{token}");
        }
        let unique: std::collections::BTreeSet<&String> = tokens.iter().collect();
        assert_eq!(unique.len(), tokens.len());
        assert_eq!(request_token(&t, c), request_token(&t, c));
        assert!(!valid_token("has-dash"));
        assert!(!valid_token(&"a".repeat(33)));
    }
}
