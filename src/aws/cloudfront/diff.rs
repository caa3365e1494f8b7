//! What must change in CloudFront (pure): create or update the one
//! distribution the spec asks for, remove every other distribution of ours
//! (disable first, delete once Deployed; one still serving an old `domain`
//! only once DNS moved off it), and never touch another's.
//!
//! Every field we set is compared strictly, `LambdaFunctionAssociations`
//! included: a live distribution without the associations the spec lists is
//! drift. (The emulator the integration tests use drops associations on
//! every write, so those tests use none and the unit tests below cover them.)

use crate::plan::{Action, Change, FieldChange, FieldDiff, Service};
use crate::target::Target;

use super::desired::{CloudFrontInputs, Desired, caller_reference};
use super::distribution::{Distribution, Origin};
use super::observe::{Foreign, Found};

/// One operation on one distribution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DistributionOp {
    Create(Distribution),
    /// Bring the fields we set to `desired`; `etag` guards against a change
    /// made since we read `observed`.
    Update {
        id: String,
        etag: String,
        observed: Box<Distribution>,
        desired: Box<Distribution>,
    },
    /// The first step of removal: CloudFront deletes only disabled distributions.
    Disable {
        id: String,
        etag: String,
        observed: Distribution,
    },
    /// Delete a disabled distribution once its status is Deployed.
    Delete {
        id: String,
        etag: String,
        observed: Distribution,
    },
}

impl DistributionOp {
    /// The one line `plan`, events and drift reports show for this operation.
    pub fn change(&self) -> Change {
        let existing = |action, id: &str, d: &Distribution| {
            Change::new(
                Service::CloudFront,
                None,
                action,
                "distribution",
                format!("{id} ({})", d.label()),
            )
        };
        match self {
            DistributionOp::Create(d) => Change::new(
                Service::CloudFront,
                None,
                Action::Create,
                "distribution",
                d.label().to_owned(),
            ),
            DistributionOp::Update {
                id,
                observed,
                desired,
                ..
            } => existing(Action::Update, id, observed).with_fields(fields(observed, desired)),
            DistributionOp::Disable { id, observed, .. } => existing(Action::Update, id, observed)
                .with_fields(vec![FieldChange::new(
                    "Enabled",
                    Some("true".into()),
                    Some("false".into()),
                )]),
            DistributionOp::Delete { id, observed, .. } => existing(Action::Delete, id, observed),
        }
    }

    /// The distribution the operation is about, `None` for a create.
    pub fn id(&self) -> Option<&str> {
        match self {
            DistributionOp::Create(_) => None,
            DistributionOp::Update { id, .. }
            | DistributionOp::Disable { id, .. }
            | DistributionOp::Delete { id, .. } => Some(id),
        }
    }
}

/// The operations, the names we may not take, and what must wait.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DistributionDiff {
    pub ops: Vec<DistributionOp>,
    /// One line per foreign distribution holding one of our names.
    pub conflicts: Vec<String>,
    /// What cannot be done in this pass.
    pub pending: Vec<String>,
    /// The distribution of ours that serves the spec, if one exists.
    pub kept: Option<String>,
    /// Distributions of ours serving only names the spec left, kept as they
    /// are until DNS no longer leads to them.
    pub retiring: Vec<String>,
    /// The kept distribution stays on its current origin, which the spec
    /// left, until the new origin name has its records.
    pub origin_held: bool,
}

/// Compares the desired distribution with ours and the foreign ones found.
///
/// A distribution of ours that serves only names the spec left (an old
/// `domain`, made under that name's caller reference) is the old chain of a
/// domain change: it stays as it is while DNS may still lead to it, and is
/// removed with the others only when `inputs.retire_left_names` says DNS
/// moved off. A distribution keeps its origin until `inputs.origin_served`
/// says the spec's origin name has its records.
pub fn diff(
    target: &Target,
    desired: &Desired,
    ours: &[Found],
    foreign: &[Foreign],
    inputs: &CloudFrontInputs,
) -> DistributionDiff {
    let mut diff = DistributionDiff::default();
    let Sorted {
        retiring,
        kept,
        twins: others,
    } = sort_ours(target, desired, ours);
    diff.kept = kept.map(|f| f.id.clone());
    if inputs.retire_left_names {
        for f in &retiring {
            let (ops, pending) = removal(f);
            diff.ops.extend(ops);
            diff.pending.extend(pending);
        }
    } else {
        diff.retiring = retiring.iter().map(|f| f.id.clone()).collect();
    }

    match desired {
        Desired::Absent => {}
        Desired::AwaitingCertificate => diff.pending.push(match kept {
            Some(f) => format!(
                "the us-east-1 certificate for {} is not issued yet; distribution {} is left as it is",
                target.spec.domain, f.id
            ),
            None => format!(
                "the us-east-1 certificate for {} is not issued yet; the distribution is created once it is",
                target.spec.domain
            ),
        }),
        Desired::Present(want) => {
            let want = match kept {
                Some(f) if !inputs.origin_served => held_origin(f, want, &mut diff),
                _ => want.clone(),
            };
            diff.conflicts.extend(alias_conflicts(&want, foreign));
            // CloudFront refuses an alias another distribution holds.
            if diff.conflicts.is_empty() {
                match kept {
                    None => diff.ops.push(DistributionOp::Create(*want)),
                    Some(f) if f.current != *want => diff.ops.push(DistributionOp::Update {
                        id: f.id.clone(),
                        etag: f.etag.clone(),
                        observed: Box::new(f.current.clone()),
                        desired: want,
                    }),
                    Some(_) => {}
                }
            }
        }
    }

    for f in others {
        let (ops, pending) = removal(f);
        diff.ops.extend(ops);
        diff.pending.extend(pending);
    }
    diff
}

/// Our distributions sorted out.
struct Sorted<'a> {
    /// Serving a name the spec left (an old `domain`).
    retiring: Vec<&'a Found>,
    /// The one that serves the spec: the one serving the domain, else the
    /// one our caller reference made.
    kept: Option<&'a Found>,
    /// Any other of ours.
    twins: Vec<&'a Found>,
}

fn sort_ours<'a>(target: &Target, desired: &Desired, ours: &'a [Found]) -> Sorted<'a> {
    let reference = caller_reference(target);
    let by_reference = |f: &Found| Target::is_renewal_of(&f.caller_reference, &reference);
    let serves_domain = |f: &Found| {
        f.current
            .aliases
            .iter()
            .any(|a| a.eq_ignore_ascii_case(&target.spec.domain))
    };
    let left_behind = |f: &Found| {
        !matches!(desired, Desired::Absent)
            && !f.current.aliases.is_empty()
            && !serves_domain(f)
            && !by_reference(f)
    };
    let (retiring, mut ours): (Vec<&Found>, Vec<&Found>) =
        ours.iter().partition(|f| left_behind(f));
    ours.sort_by_key(|f| (!serves_domain(f), !by_reference(f), f.id.clone()));
    let (kept, twins) = match desired {
        Desired::Absent => (None, ours),
        _ => {
            let mut rest = ours.into_iter();
            (rest.next(), rest.collect())
        }
    };
    Sorted {
        retiring,
        kept,
        twins,
    }
}

/// The aliases `want` needs that another distribution holds.
fn alias_conflicts(want: &Distribution, foreign: &[Foreign]) -> Vec<String> {
    let mut conflicts = Vec::new();
    for other in foreign {
        for alias in other.aliases.iter().filter(|a| want.aliases.contains(a)) {
            conflicts.push(match &other.owner {
                Some(owner) => format!(
                    "{alias} is an alternate domain name of CloudFront distribution {}, owned by GlobalApi {owner}",
                    other.id
                ),
                None => format!(
                    "{alias} is an alternate domain name of CloudFront distribution {}, which no GlobalApi owns",
                    other.id
                ),
            });
        }
    }
    conflicts
}

/// `want` with `f`'s current origin names where they differ: CloudFront
/// would forward to a name that does not resolve yet.
fn held_origin(f: &Found, want: &Distribution, diff: &mut DistributionDiff) -> Box<Distribution> {
    let mut held = want.clone();
    for origin in &mut held.origins {
        let Some(current) = f.current.origins.iter().find(|o| o.id == origin.id) else {
            continue;
        };
        if current.domain_name != origin.domain_name {
            diff.origin_held = true;
            origin.domain_name = current.domain_name.clone();
        }
    }
    Box::new(held)
}

/// Removes every distribution of ours (destroy).
pub fn removal_of_all(ours: &[Found]) -> DistributionDiff {
    let mut diff = DistributionDiff::default();
    for f in ours {
        let (ops, pending) = removal(f);
        diff.ops.extend(ops);
        diff.pending.extend(pending);
    }
    diff
}

fn removal(f: &Found) -> (Vec<DistributionOp>, Option<String>) {
    let delete = DistributionOp::Delete {
        id: f.id.clone(),
        etag: f.etag.clone(),
        observed: f.current.clone(),
    };
    if f.current.enabled {
        let disable = DistributionOp::Disable {
            id: f.id.clone(),
            etag: f.etag.clone(),
            observed: f.current.clone(),
        };
        (vec![disable, delete], None)
    } else if f.deployed() {
        (vec![delete], None)
    } else {
        (vec![], Some(deletion_pending(&f.id, &f.status)))
    }
}

/// Why a disabled distribution is not deleted yet.
pub fn deletion_pending(id: &str, status: &str) -> String {
    format!(
        "distribution {id} is disabled and still deploying ({status}); it is deleted once Deployed"
    )
}

fn list(items: &[String]) -> Option<String> {
    (!items.is_empty()).then(|| items.join(","))
}

fn origins_text(origins: &[Origin]) -> Option<String> {
    let items: Vec<String> = origins
        .iter()
        .map(|o| format!("{}={}", o.id, o.domain_name))
        .collect();
    list(&items)
}

/// The fields we set that differ, named as CloudFront names them.
pub fn fields(o: &Distribution, d: &Distribution) -> Vec<FieldChange> {
    let mut fields = FieldDiff::default();
    fields.compare("Comment", text(&o.comment), text(&d.comment));
    fields.compare("Aliases", list(&o.aliases), list(&d.aliases));
    viewer_certificate(&mut fields, o, d);
    origins(&mut fields, o, d);
    default_cache_behavior(
        &mut fields,
        &o.default_cache_behavior,
        &d.default_cache_behavior,
    );
    fields.compare(
        "CacheBehaviors",
        list(&o.cache_behaviors),
        list(&d.cache_behaviors),
    );
    fields.compare("PriceClass", text(&o.price_class), text(&d.price_class));
    let geo = |g: &super::distribution::GeoRestriction| match list(&g.locations) {
        Some(l) => format!("{} {l}", g.restriction_type),
        None => g.restriction_type.clone(),
    };
    fields.compare(
        "Restrictions.GeoRestriction",
        Some(geo(&o.geo_restriction)),
        Some(geo(&d.geo_restriction)),
    );
    fields.compare("Enabled", flag(o.enabled), flag(d.enabled));
    fields.compare("HttpVersion", text(&o.http_version), text(&d.http_version));
    fields.compare("IsIPV6Enabled", flag(o.ipv6_enabled), flag(d.ipv6_enabled));
    fields.into_fields()
}

fn text(s: &str) -> Option<String> {
    Some(s.to_owned())
}

fn flag(b: bool) -> Option<String> {
    Some(b.to_string())
}

fn viewer_certificate(fields: &mut FieldDiff, o: &Distribution, d: &Distribution) {
    let (oc, dc) = (&o.viewer_certificate, &d.viewer_certificate);
    fields.compare(
        "ViewerCertificate.ACMCertificateArn",
        oc.acm_certificate_arn.clone(),
        dc.acm_certificate_arn.clone(),
    );
    fields.compare(
        "ViewerCertificate.SSLSupportMethod",
        oc.ssl_support_method.clone(),
        dc.ssl_support_method.clone(),
    );
    fields.compare(
        "ViewerCertificate.MinimumProtocolVersion",
        oc.minimum_protocol_version.clone(),
        dc.minimum_protocol_version.clone(),
    );
}

/// The list of origins by id, then the settings of each origin kept.
fn origins(fields: &mut FieldDiff, o: &Distribution, d: &Distribution) {
    let ids = |origins: &[Origin]| origins.iter().map(|x| x.id.clone()).collect::<Vec<_>>();
    if ids(&o.origins) != ids(&d.origins) {
        fields.compare(
            "Origins",
            origins_text(&o.origins),
            origins_text(&d.origins),
        );
    }
    for want in &d.origins {
        let Some(have) = o.origins.iter().find(|x| x.id == want.id) else {
            continue;
        };
        fields.compare(
            "Origin.DomainName",
            text(&have.domain_name),
            text(&want.domain_name),
        );
        fields.compare(
            "Origin.OriginProtocolPolicy",
            have.protocol_policy.clone(),
            want.protocol_policy.clone(),
        );
        fields.compare(
            "Origin.OriginSslProtocols",
            list(&have.ssl_protocols),
            list(&want.ssl_protocols),
        );
        fields.compare(
            "Origin.HTTPSPort",
            have.https_port.map(|p| p.to_string()),
            want.https_port.map(|p| p.to_string()),
        );
    }
}

fn default_cache_behavior(
    fields: &mut FieldDiff,
    ob: &super::distribution::CacheBehavior,
    db: &super::distribution::CacheBehavior,
) {
    fields.compare(
        "DefaultCacheBehavior.TargetOriginId",
        text(&ob.target_origin_id),
        text(&db.target_origin_id),
    );
    fields.compare(
        "DefaultCacheBehavior.ViewerProtocolPolicy",
        text(&ob.viewer_protocol_policy),
        text(&db.viewer_protocol_policy),
    );
    fields.compare(
        "DefaultCacheBehavior.AllowedMethods",
        list(&ob.allowed_methods),
        list(&db.allowed_methods),
    );
    fields.compare(
        "DefaultCacheBehavior.CachedMethods",
        list(&ob.cached_methods),
        list(&db.cached_methods),
    );
    fields.compare(
        "DefaultCacheBehavior.CachePolicyId",
        ob.cache_policy_id.clone(),
        db.cache_policy_id.clone(),
    );
    fields.compare(
        "DefaultCacheBehavior.OriginRequestPolicyId",
        ob.origin_request_policy_id.clone(),
        db.origin_request_policy_id.clone(),
    );
    let lambdas = |b: &super::distribution::CacheBehavior| {
        let items: Vec<String> = b
            .lambda_associations
            .iter()
            .map(|a| format!("{}={}", a.event_type, a.arn))
            .collect();
        list(&items)
    };
    fields.compare(
        "DefaultCacheBehavior.LambdaFunctionAssociations",
        lambdas(ob),
        lambdas(db),
    );
}

#[cfg(test)]
mod tests {
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
}
