//! The distribution a GlobalApi asks for (pure).

use crate::api::{GeoRestrictionType, LambdaEventType, PriceClass};
use crate::target::Target;

use super::distribution::{
    CacheBehavior, Distribution, GeoRestriction, LambdaAssociation, Origin, ViewerCertificate,
};

/// The id of the one origin: the regions behind their latency or failover name.
pub const ORIGIN_ID: &str = "globalapi-origin";
/// The managed cache policy `CachingDisabled`: an API's answers are not cached.
pub const CACHING_DISABLED_POLICY_ID: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
/// The managed origin request policy `AllViewerExceptHostHeader`: the origin
/// gets every header, query string and cookie, and its own Host name (API
/// Gateway routes custom domains by Host).
pub const ALL_VIEWER_EXCEPT_HOST_HEADER_POLICY_ID: &str = "b689b0a8-53d0-40ab-baf2-68738e2966ac";
/// CloudFront's limit on a distribution's comment.
const MAX_COMMENT: usize = 128;

const ALL_METHODS: [&str; 7] = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"];
const CACHED_METHODS: [&str; 2] = ["GET", "HEAD"];

/// What the services before CloudFront produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CloudFrontInputs {
    /// The issued us-east-1 certificate covering `domain`; `None` while it is
    /// still being validated.
    pub certificate_arn: Option<String>,
    /// DNS no longer leads to names the spec left: the distributions that
    /// served only those (an old `domain`) may go.
    pub retire_left_names: bool,
    /// The spec's origin name has its records (the record batch ran): an
    /// existing distribution may move its origin to it.
    pub origin_served: bool,
}

/// What the spec asks of CloudFront.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Desired {
    /// The edge is off: no distribution of ours may remain.
    Absent,
    /// The edge is on but its certificate is not issued yet: create nothing,
    /// and leave a distribution we already have as it is.
    AwaitingCertificate,
    /// This distribution.
    Present(Box<Distribution>),
}

/// The comment of our distribution, which names its owner.
pub fn comment(target: &Target) -> String {
    let mut comment = format!("globalapi {}", target.owner());
    if comment.len() > MAX_COMMENT {
        let mut end = MAX_COMMENT;
        while !comment.is_char_boundary(end) {
            end -= 1;
        }
        comment.truncate(end);
    }
    comment
}

/// The caller reference of our distribution for the spec's `domain`: the
/// same for every attempt, so that a create retried after a crash is
/// recognised instead of twinned, and another for each domain, so that a new
/// domain gets a distribution of its own beside the one still serving the
/// old name (CloudFront answers a known reference with its distribution).
pub fn caller_reference(target: &Target) -> String {
    let domain = target
        .spec
        .domain
        .trim_end_matches('.')
        .to_ascii_lowercase();
    target.token(&format!("cloudfront {domain}"), 64)
}

/// The distribution the spec asks for.
pub fn desired(target: &Target, inputs: &CloudFrontInputs) -> Desired {
    let Some(edge) = target.spec.edge.as_ref().filter(|_| target.edge_enabled()) else {
        return Desired::Absent;
    };
    let Some(certificate_arn) = &inputs.certificate_arn else {
        return Desired::AwaitingCertificate;
    };
    let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let distribution = Distribution {
        comment: comment(target),
        aliases: vec![target.spec.domain.clone()],
        viewer_certificate: ViewerCertificate {
            acm_certificate_arn: Some(certificate_arn.clone()),
            ssl_support_method: Some("sni-only".into()),
            minimum_protocol_version: Some("TLSv1.2_2021".into()),
        },
        origins: vec![Origin {
            id: ORIGIN_ID.into(),
            domain_name: target.origin_domain(),
            protocol_policy: Some("https-only".into()),
            ssl_protocols: vec!["TLSv1.2".into()],
            https_port: Some(443),
        }],
        default_cache_behavior: CacheBehavior {
            target_origin_id: ORIGIN_ID.into(),
            viewer_protocol_policy: "redirect-to-https".into(),
            allowed_methods: strings(&ALL_METHODS),
            cached_methods: strings(&CACHED_METHODS),
            cache_policy_id: Some(CACHING_DISABLED_POLICY_ID.into()),
            origin_request_policy_id: Some(ALL_VIEWER_EXCEPT_HOST_HEADER_POLICY_ID.into()),
            lambda_associations: edge
                .lambda_associations
                .iter()
                .map(|a| LambdaAssociation {
                    event_type: event_type(a.event_type).into(),
                    arn: a.arn.clone(),
                })
                .collect(),
        },
        cache_behaviors: Vec::new(),
        price_class: price_class(edge.price_class).into(),
        geo_restriction: GeoRestriction {
            restriction_type: geo_type(edge.geo_restriction.restriction_type).into(),
            locations: match edge.geo_restriction.restriction_type {
                GeoRestrictionType::None => Vec::new(),
                _ => edge.geo_restriction.locations.clone(),
            },
        },
        enabled: true,
        http_version: "http2and3".into(),
        ipv6_enabled: true,
    };
    Desired::Present(Box::new(distribution.normalized()))
}

fn price_class(class: PriceClass) -> &'static str {
    match class {
        PriceClass::PriceClass100 => "PriceClass_100",
        PriceClass::PriceClass200 => "PriceClass_200",
        PriceClass::PriceClassAll => "PriceClass_All",
    }
}

fn event_type(event: LambdaEventType) -> &'static str {
    match event {
        LambdaEventType::ViewerRequest => "viewer-request",
        LambdaEventType::ViewerResponse => "viewer-response",
        LambdaEventType::OriginRequest => "origin-request",
        LambdaEventType::OriginResponse => "origin-response",
    }
}

fn geo_type(kind: GeoRestrictionType) -> &'static str {
    match kind {
        GeoRestrictionType::None => "none",
        GeoRestrictionType::Whitelist => "whitelist",
        GeoRestrictionType::Blacklist => "blacklist",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::fixtures::{FAILOVER, LATENCY, target};

    const CERT: &str = "arn:aws:acm:us-east-1:123456789012:certificate/abc";

    fn inputs() -> CloudFrontInputs {
        CloudFrontInputs {
            certificate_arn: Some(CERT.into()),
            ..Default::default()
        }
    }

    fn present(desired: Desired) -> Distribution {
        match desired {
            Desired::Present(d) => *d,
            other => panic!("expected a distribution, got {other:?}"),
        }
    }

    #[test]
    fn the_edge_asks_for_one_distribution_in_front_of_the_origin_name() {
        let d = present(desired(&target(LATENCY), &inputs()));
        assert_eq!(d.comment, "globalapi payments/exchange");
        assert_eq!(d.aliases, ["api.example.com"]);
        assert_eq!(
            d.viewer_certificate,
            ViewerCertificate {
                acm_certificate_arn: Some(CERT.into()),
                ssl_support_method: Some("sni-only".into()),
                minimum_protocol_version: Some("TLSv1.2_2021".into()),
            }
        );
        assert_eq!(
            d.origins,
            [Origin {
                id: ORIGIN_ID.into(),
                domain_name: "origin.api.example.com".into(),
                protocol_policy: Some("https-only".into()),
                ssl_protocols: vec!["TLSv1.2".into()],
                https_port: Some(443),
            }]
        );
        let b = &d.default_cache_behavior;
        assert_eq!(b.target_origin_id, ORIGIN_ID);
        assert_eq!(b.viewer_protocol_policy, "redirect-to-https");
        assert_eq!(
            b.allowed_methods,
            ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]
        );
        assert_eq!(b.cached_methods, ["GET", "HEAD"]);
        assert_eq!(
            b.cache_policy_id.as_deref(),
            Some(CACHING_DISABLED_POLICY_ID)
        );
        assert_eq!(
            b.origin_request_policy_id.as_deref(),
            Some(ALL_VIEWER_EXCEPT_HOST_HEADER_POLICY_ID)
        );
        assert!(b.lambda_associations.is_empty());
        assert_eq!(d.price_class, "PriceClass_100");
        assert_eq!(
            d.geo_restriction,
            GeoRestriction {
                restriction_type: "none".into(),
                locations: vec![]
            }
        );
        assert!(d.enabled && d.ipv6_enabled);
        assert_eq!(d.http_version, "http2and3");
    }

    #[test]
    fn edge_options_come_from_the_spec() {
        let mut t = target(LATENCY);
        let edge: crate::api::EdgeSpec = serde_norway::from_str(
            r#"
originDomain: regions.api.example.com
priceClass: PriceClass_All
lambdaAssociations:
  - {eventType: viewer-request, arn: "arn:aws:lambda:us-east-1:123456789012:function:v:2"}
  - {eventType: origin-request, arn: "arn:aws:lambda:us-east-1:123456789012:function:o:7"}
geoRestriction: {type: whitelist, locations: [US, DE]}
"#,
        )
        .expect("edge spec parses");
        t.spec.edge = Some(edge);
        let d = present(desired(&t, &inputs()));
        assert_eq!(d.origins[0].domain_name, "regions.api.example.com");
        assert_eq!(d.price_class, "PriceClass_All");
        assert_eq!(
            d.default_cache_behavior.lambda_associations,
            [
                LambdaAssociation {
                    event_type: "origin-request".into(),
                    arn: "arn:aws:lambda:us-east-1:123456789012:function:o:7".into()
                },
                LambdaAssociation {
                    event_type: "viewer-request".into(),
                    arn: "arn:aws:lambda:us-east-1:123456789012:function:v:2".into()
                },
            ]
        );
        assert_eq!(
            d.geo_restriction,
            GeoRestriction {
                restriction_type: "whitelist".into(),
                locations: vec!["DE".into(), "US".into()]
            }
        );
    }

    #[test]
    fn no_edge_means_no_distribution_and_no_certificate_means_wait() {
        assert_eq!(desired(&target(FAILOVER), &inputs()), Desired::Absent);
        let mut off = target(LATENCY);
        if let Some(edge) = off.spec.edge.as_mut() {
            edge.enabled = false;
        }
        assert_eq!(desired(&off, &inputs()), Desired::Absent);
        assert_eq!(
            desired(&target(LATENCY), &CloudFrontInputs::default()),
            Desired::AwaitingCertificate
        );
    }

    #[test]
    fn the_comment_is_bounded_and_the_caller_reference_stable() {
        let mut t = target(LATENCY);
        t.name = "n".repeat(200);
        assert_eq!(comment(&t).len(), 128);
        assert!(comment(&t).starts_with("globalapi payments/nnn"));
        let t = target(LATENCY);
        assert_eq!(caller_reference(&t), caller_reference(&t.clone()));
        assert_eq!(caller_reference(&t).len(), 64);
    }
}
