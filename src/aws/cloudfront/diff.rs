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
pub(crate) fn diff(
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
pub(crate) fn removal_of_all(ours: &[Found]) -> DistributionDiff {
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
pub(crate) fn deletion_pending(id: &str, status: &str) -> String {
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
mod tests;
