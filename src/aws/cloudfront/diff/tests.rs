//! Tests of `diff.rs`: pure functions over plain values.

use super::*;
use crate::aws::cloudfront::desired::desired;
use crate::aws::cloudfront::distribution::LambdaAssociation;
use crate::target::fixtures::{LATENCY, target};

fn want(t: &Target) -> Distribution {
    match desired(
        t,
        &CloudFrontInputs {
            certificate_arn: Some("arn:aws:acm:us-east-1:123456789012:certificate/new".into()),
            ..Default::default()
        },
    ) {
        Desired::Present(d) => *d,
        other => panic!("expected a distribution, got {other:?}"),
    }
}

fn found(t: &Target, id: &str, current: Distribution) -> Found {
    Found {
        id: id.into(),
        arn: format!("arn:aws:cloudfront::123456789012:distribution/{id}"),
        domain_name: format!("{}.cloudfront.net", id.to_ascii_lowercase()),
        status: "Deployed".into(),
        etag: format!("ETAG-{id}"),
        caller_reference: caller_reference(t),
        current,
    }
}

/// Inputs of a pass after the record batch: the origin name is served.
fn served() -> CloudFrontInputs {
    CloudFrontInputs {
        origin_served: true,
        ..Default::default()
    }
}

fn lines(diff: &DistributionDiff) -> Vec<String> {
    diff.ops.iter().map(|op| op.change().to_string()).collect()
}

#[test]
fn nothing_found_creates_and_an_equal_one_changes_nothing() {
    let t = target(LATENCY);
    let d = want(&t);
    let created = diff(
        &t,
        &Desired::Present(Box::new(d.clone())),
        &[],
        &[],
        &served(),
    );
    assert_eq!(
        lines(&created),
        ["create cloudfront distribution api.example.com"]
    );
    let same = diff(
        &t,
        &Desired::Present(Box::new(d.clone())),
        &[found(&t, "E1", d)],
        &[],
        &served(),
    );
    assert_eq!(
        same,
        DistributionDiff {
            kept: Some("E1".into()),
            ..Default::default()
        }
    );
}

#[test]
fn drift_of_each_field_we_set_is_one_update_naming_the_fields() {
    let t = target(LATENCY);
    let d = want(&t);
    let mut have = d.clone();
    have.price_class = "PriceClass_All".into();
    have.origins[0].protocol_policy = Some("match-viewer".into());
    have.aliases = vec!["other.example.com".into()];
    have.viewer_certificate.acm_certificate_arn =
        Some("arn:aws:acm:us-east-1:123456789012:certificate/old".into());
    have.enabled = false;
    let out = diff(
        &t,
        &Desired::Present(Box::new(d.clone())),
        &[found(&t, "E1", have)],
        &[],
        &served(),
    );
    assert_eq!(
        lines(&out),
        ["update cloudfront distribution E1 (other.example.com): \
          Aliases other.example.com → api.example.com, \
          ViewerCertificate.ACMCertificateArn arn:aws:acm:us-east-1:123456789012:certificate/old → arn:aws:acm:us-east-1:123456789012:certificate/new, \
          Origin.OriginProtocolPolicy match-viewer → https-only, \
          PriceClass PriceClass_All → PriceClass_100, \
          Enabled false → true"]
    );
    assert!(matches!(&out.ops[0], DistributionOp::Update { etag, .. } if etag == "ETAG-E1"));
}

#[test]
fn lambda_associations_and_geo_restriction_are_compared() {
    let mut t = target(LATENCY);
    if let Some(edge) = t.spec.edge.as_mut() {
        edge.lambda_associations = vec![crate::api::EdgeLambdaAssociation {
            event_type: crate::api::LambdaEventType::OriginRequest,
            arn: "arn:aws:lambda:us-east-1:123456789012:function:f:3".into(),
        }];
        edge.geo_restriction.restriction_type = crate::api::GeoRestrictionType::Blacklist;
        edge.geo_restriction.locations = vec!["RU".into(), "KP".into()];
    }
    let d = want(&t);
    let mut have = d.clone();
    have.default_cache_behavior.lambda_associations.clear();
    have.geo_restriction.restriction_type = "none".into();
    have.geo_restriction.locations.clear();
    let out = diff(
        &t,
        &Desired::Present(Box::new(d.clone())),
        &[found(&t, "E1", have)],
        &[],
        &served(),
    );
    assert_eq!(
        lines(&out),
        ["update cloudfront distribution E1 (api.example.com): \
          DefaultCacheBehavior.LambdaFunctionAssociations (none) → origin-request=arn:aws:lambda:us-east-1:123456789012:function:f:3, \
          Restrictions.GeoRestriction none → blacklist KP,RU"]
    );
    // A new version of the function is an update too.
    let mut older = d.clone();
    older.default_cache_behavior.lambda_associations = vec![LambdaAssociation {
        event_type: "origin-request".into(),
        arn: "arn:aws:lambda:us-east-1:123456789012:function:f:2".into(),
    }];
    let out = diff(
        &t,
        &Desired::Present(Box::new(d.clone())),
        &[found(&t, "E1", older)],
        &[],
        &served(),
    );
    assert_eq!(out.ops.len(), 1);
    assert_eq!(
        out.ops[0].change().fields[0].field,
        "DefaultCacheBehavior.LambdaFunctionAssociations"
    );
    let same = diff(
        &t,
        &Desired::Present(Box::new(d.clone())),
        &[found(&t, "E1", d)],
        &[],
        &served(),
    );
    assert!(same.ops.is_empty());
}

#[test]
fn a_foreign_distribution_holding_the_domain_is_a_conflict_and_nothing_is_done() {
    let t = target(LATENCY);
    let d = want(&t);
    let foreign = [
        Foreign {
            id: "EFOREIGN".into(),
            aliases: vec!["api.example.com".into()],
            owner: None,
        },
        Foreign {
            id: "EOTHER".into(),
            aliases: vec!["api.example.com".into()],
            owner: Some("payments/other".into()),
        },
    ];
    let out = diff(&t, &Desired::Present(Box::new(d)), &[], &foreign, &served());
    assert!(out.ops.is_empty());
    assert_eq!(
        out.conflicts,
        [
            "api.example.com is an alternate domain name of CloudFront distribution EFOREIGN, which no GlobalApi owns",
            "api.example.com is an alternate domain name of CloudFront distribution EOTHER, owned by GlobalApi payments/other",
        ]
    );
}

#[test]
fn removal_disables_then_deletes_and_waits_while_deploying() {
    let t = target(LATENCY);
    let d = want(&t);
    let enabled = found(&t, "E1", d.clone());
    let mut disabled_deploying = found(
        &t,
        "E2",
        Distribution {
            enabled: false,
            ..d.clone()
        },
    );
    disabled_deploying.status = "InProgress".into();
    let disabled_deployed = found(
        &t,
        "E3",
        Distribution {
            enabled: false,
            ..d.clone()
        },
    );
    let out = diff(
        &t,
        &Desired::Absent,
        &[enabled, disabled_deploying, disabled_deployed],
        &[],
        &served(),
    );
    assert_eq!(
        lines(&out),
        [
            "update cloudfront distribution E1 (api.example.com): Enabled true → false",
            "delete cloudfront distribution E1 (api.example.com)",
            "delete cloudfront distribution E3 (api.example.com)",
        ]
    );
    assert_eq!(
        out.pending,
        [
            "distribution E2 is disabled and still deploying (InProgress); it is deleted once Deployed"
        ]
    );
    assert_eq!(out.kept, None);
}

#[test]
fn a_twin_is_removed_and_the_one_with_our_caller_reference_kept() {
    let t = target(LATENCY);
    let d = want(&t);
    let mut twin = found(&t, "E0", d.clone());
    twin.caller_reference = "someone-else".into();
    let original = found(&t, "E9", d.clone());
    let out = diff(
        &t,
        &Desired::Present(Box::new(d)),
        &[twin, original],
        &[],
        &served(),
    );
    assert_eq!(out.kept.as_deref(), Some("E9"));
    assert_eq!(
        lines(&out),
        [
            "update cloudfront distribution E0 (api.example.com): Enabled true → false",
            "delete cloudfront distribution E0 (api.example.com)",
        ]
    );
}

#[test]
fn a_new_domain_gets_its_own_distribution_and_the_old_one_waits_for_dns() {
    let old = target(LATENCY);
    let serving_old = found(&old, "E1", want(&old));
    let mut renamed = old.clone();
    renamed.spec.domain = "www.example.com".into();
    let d = want(&renamed);
    let out = diff(
        &renamed,
        &Desired::Present(Box::new(d.clone())),
        std::slice::from_ref(&serving_old),
        &[],
        &served(),
    );
    assert_eq!(
        lines(&out),
        ["create cloudfront distribution www.example.com"]
    );
    assert_eq!(out.kept, None);
    assert_eq!(out.retiring, ["E1"]);

    // Until the new certificate is issued, the old one serves untouched.
    let waiting = diff(
        &renamed,
        &Desired::AwaitingCertificate,
        std::slice::from_ref(&serving_old),
        &[],
        &served(),
    );
    assert!(waiting.ops.is_empty(), "{waiting:?}");
    assert_eq!(waiting.kept, None);

    // Once DNS moved off the old name, the old distribution goes.
    let serving_new = found(&renamed, "E2", d.clone());
    let out = diff(
        &renamed,
        &Desired::Present(Box::new(d)),
        &[serving_old, serving_new],
        &[],
        &CloudFrontInputs {
            retire_left_names: true,
            ..served()
        },
    );
    assert_eq!(out.kept.as_deref(), Some("E2"));
    assert!(out.retiring.is_empty());
    assert_eq!(
        lines(&out),
        [
            "update cloudfront distribution E1 (api.example.com): Enabled true → false",
            "delete cloudfront distribution E1 (api.example.com)",
        ]
    );
}

#[test]
fn a_new_origin_waits_until_its_name_is_served() {
    let t = target(LATENCY);
    let before = want(&t);
    let mut moved = t.clone();
    if let Some(edge) = moved.spec.edge.as_mut() {
        edge.origin_domain = Some("edge-origin.example.com".into());
    }
    let d = want(&moved);
    let live = [found(&moved, "E1", before)];
    let held = diff(
        &moved,
        &Desired::Present(Box::new(d.clone())),
        &live,
        &[],
        &CloudFrontInputs::default(),
    );
    assert!(held.ops.is_empty(), "{held:?}");
    assert!(held.origin_held);

    let out = diff(
        &moved,
        &Desired::Present(Box::new(d)),
        &live,
        &[],
        &served(),
    );
    assert!(!out.origin_held);
    assert_eq!(
        lines(&out),
        ["update cloudfront distribution E1 (api.example.com): \
          Origin.DomainName origin.api.example.com → edge-origin.example.com"]
    );
}

#[test]
fn a_distribution_serving_the_domain_is_kept_whatever_reference_made_it() {
    let t = target(LATENCY);
    let d = want(&t);
    let mut earlier = found(&t, "E1", d.clone());
    earlier.caller_reference = "gapi-made-by-an-older-version".into();
    let out = diff(
        &t,
        &Desired::Present(Box::new(d)),
        &[earlier],
        &[],
        &served(),
    );
    assert_eq!(out.kept.as_deref(), Some("E1"));
    assert!(out.ops.is_empty() && out.retiring.is_empty(), "{out:?}");
}

#[test]
fn without_a_certificate_nothing_is_created_or_changed() {
    let t = target(LATENCY);
    let none = diff(&t, &Desired::AwaitingCertificate, &[], &[], &served());
    assert!(none.ops.is_empty());
    assert_eq!(
        none.pending,
        [
            "the us-east-1 certificate for api.example.com is not issued yet; the distribution is created once it is"
        ]
    );
    let mut have = want(&t);
    have.price_class = "PriceClass_All".into();
    let kept = diff(
        &t,
        &Desired::AwaitingCertificate,
        &[found(&t, "E1", have)],
        &[],
        &served(),
    );
    assert!(kept.ops.is_empty());
    assert_eq!(kept.kept.as_deref(), Some("E1"));
}

#[test]
fn destroy_removes_every_distribution_of_ours() {
    let t = target(LATENCY);
    let d = want(&t);
    let out = removal_of_all(&[found(&t, "E1", d)]);
    assert_eq!(out.ops.len(), 2);
    assert!(matches!(out.ops[0], DistributionOp::Disable { .. }));
    assert!(matches!(out.ops[1], DistributionOp::Delete { .. }));
}
