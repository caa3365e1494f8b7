//! Make before break at the public name: when what serves `domain` changes
//! its shape (the edge turned on or off: a CloudFront alias becomes latency
//! or failover records, or back), the new records are written only once all
//! of them can be, and until then the old ones stay, together with every
//! name of ours they still lead to (the old origin name, an old domain).
//! Route 53 cannot hold a plain record beside latency records of the same
//! name and type, so the switch is one batch or nothing. Names left also
//! stay while the distribution may still use them (`hold_left_names`: it is
//! deploying, or waits to move to a new origin name).

use std::collections::BTreeSet;

use crate::target::Target;

use super::desired::Route53Inputs;
use super::diff::owned_names;
use super::ownership::{is_owner_record_name, owner_record};
use super::record::{Record, Routing, normalize_name};

/// Whether every serving region's endpoint is known: the origin name (the
/// public one without the edge) can have all its records.
pub(crate) fn regions_complete(target: &Target, inputs: &Route53Inputs) -> bool {
    target
        .serving_regions()
        .iter()
        .all(|r| inputs.endpoint(&r.name).is_some())
}

/// Whether the new chain can serve the public name in this pass: every
/// serving region's endpoint is known and, with the edge, the distribution
/// is known and deployed.
pub(crate) fn public_name_complete(target: &Target, inputs: &Route53Inputs) -> bool {
    regions_complete(target, inputs)
        && (!target.edge_enabled() || inputs.cloudfront_domain.is_known())
}

/// `wanted` with the old chain kept while the new one is incomplete.
pub(crate) fn make_before_break(
    target: &Target,
    inputs: &Route53Inputs,
    mut wanted: Vec<Record>,
    observed: &[Record],
) -> Vec<Record> {
    let complete = public_name_complete(target, inputs);
    if complete && !inputs.hold_left_names {
        return wanted;
    }
    let owned = owned_names(target, observed);
    if complete {
        return with_names_left(target, wanted, observed, &owned);
    }
    let public = normalize_name(&target.spec.domain);
    let serving = |r: &Record| matches!(r.key.record_type.as_str(), "A" | "AAAA");
    let old: Vec<&Record> = observed
        .iter()
        .filter(|r| r.key.name == public && serving(r) && owned.contains(r.key.name.as_str()))
        .collect();
    let new_kind: BTreeSet<&'static str> = wanted
        .iter()
        .filter(|r| r.key.name == public && serving(r))
        .map(|r| kind(&r.routing))
        .collect();
    let old_kind: BTreeSet<&'static str> = old.iter().map(|r| kind(&r.routing)).collect();
    if old.is_empty() {
        // The public name is new (`domain` changed) and cannot be served
        // yet: what serves the names of ours the spec left stays until it can.
        return with_names_left(target, wanted, observed, &owned);
    }
    if old_kind == new_kind {
        // The shape stays: per-record holds suffice, beside the names the
        // distribution may still use.
        return if inputs.hold_left_names {
            with_names_left(target, wanted, observed, &owned)
        } else {
            wanted
        };
    }
    wanted.retain(|r| !(r.key.name == public && serving(r)));
    wanted.extend(old.into_iter().cloned());
    with_names_left(target, wanted, observed, &owned)
}

/// `wanted` with the serving records of the names of ours it no longer has
/// (the old origin name, an old domain), and their owner records.
fn with_names_left(
    target: &Target,
    mut wanted: Vec<Record>,
    observed: &[Record],
    owned: &BTreeSet<&str>,
) -> Vec<Record> {
    let wanted_names: BTreeSet<String> = wanted.iter().map(|r| r.key.name.clone()).collect();
    let kept: Vec<Record> = observed
        .iter()
        .filter(|r| owned.contains(r.key.name.as_str()) && !wanted_names.contains(&r.key.name))
        .filter(|r| !is_owner_record_name(&r.key.name))
        .filter(|r| matches!(r.key.record_type.as_str(), "A" | "AAAA" | "CNAME"))
        .cloned()
        .collect();
    wanted.extend(kept);
    let ttl = i64::from(target.spec.routing.ttl_seconds);
    let names: BTreeSet<String> = wanted
        .iter()
        .filter(|r| !is_owner_record_name(&r.key.name))
        .map(|r| r.key.name.clone())
        .collect();
    for name in names {
        let owner = owner_record(target, &name, ttl);
        if !wanted.iter().any(|r| r.key == owner.key) {
            wanted.push(owner);
        }
    }
    wanted
}

fn kind(routing: &Routing) -> &'static str {
    match routing {
        Routing::Simple => "simple",
        Routing::Latency { .. } => "latency",
        Routing::Failover(_) => "failover",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::aws::Observed;
    use crate::aws::route53::desired;
    use crate::aws::route53::diff::{self, RecordOp};
    use crate::aws::route53::fixtures::endpoints;
    use crate::target::fixtures::{LATENCY, target};

    /// The zone as the edge left it: aliases to CloudFront, origin records.
    fn edge_zone(t: &Target) -> Vec<Record> {
        let inputs = Route53Inputs::known(endpoints(), Some("d1.cloudfront.net".into()), vec![]);
        desired::records(t, &inputs, &BTreeMap::new(), &[])
    }

    fn deleted(ops: &[RecordOp]) -> Vec<String> {
        ops.iter()
            .filter_map(|op| match op {
                RecordOp::Delete(r) => Some(r.key.to_string()),
                RecordOp::Upsert { .. } => None,
            })
            .collect()
    }

    #[test]
    fn turning_the_edge_off_keeps_the_cloudfront_chain_until_the_regions_serve_the_name() {
        let mut t = target(LATENCY);
        let zone = edge_zone(&t);
        if let Some(edge) = t.spec.edge.as_mut() {
            edge.enabled = false;
        }
        // The custom domains for the public name are not there yet.
        let mut inputs = Route53Inputs::known(vec![], None, vec![]);
        for r in ["us-east-1", "eu-west-1"] {
            inputs.endpoints.insert(r.into(), Observed::Absent);
        }
        let wanted = desired::records(&t, &inputs, &BTreeMap::new(), &[]);
        let wanted = make_before_break(&t, &inputs, wanted, &zone);
        let ops = diff::records(&t, &wanted, &zone).ops;
        assert_eq!(deleted(&ops), Vec::<String>::new(), "{ops:?}");

        // Once every region serves the name, the switch is one batch.
        let mut switched = endpoints();
        for e in &mut switched {
            e.regional_domain_name = format!("d-new-{}.example.net", e.region);
        }
        let inputs = Route53Inputs::known(switched, None, vec![]);
        let wanted = desired::records(&t, &inputs, &BTreeMap::new(), &[]);
        let wanted = make_before_break(&t, &inputs, wanted, &zone);
        let ops = diff::records(&t, &wanted, &zone).ops;
        let gone = deleted(&ops);
        assert!(gone.contains(&"api.example.com A".to_owned()), "{gone:?}");
        assert!(gone.contains(&"origin.api.example.com A us-east-1-0b1c2d3e".to_owned()));
        assert!(
            ops.iter()
                .any(|op| matches!(op, RecordOp::Upsert { record, .. }
            if record.key.name == "api.example.com" && record.key.set_identifier.is_some()))
        );
    }

    #[test]
    fn turning_the_edge_on_keeps_the_latency_records_until_the_distribution_serves() {
        let mut plain = target(LATENCY);
        if let Some(edge) = plain.spec.edge.as_mut() {
            edge.enabled = false;
        }
        let zone = desired::records(
            &plain,
            &Route53Inputs::known(endpoints(), None, vec![]),
            &BTreeMap::new(),
            &[],
        );
        let edged = target(LATENCY);
        // Regions known for the origin name, the distribution still deploying.
        let inputs = Route53Inputs::known(endpoints(), None, vec![]);
        let wanted = desired::records(&edged, &inputs, &BTreeMap::new(), &[]);
        let wanted = make_before_break(&edged, &inputs, wanted, &zone);
        let ops = diff::records(&edged, &wanted, &zone).ops;
        assert_eq!(deleted(&ops), Vec::<String>::new(), "{ops:?}");
        // The origin records are made meanwhile, so CloudFront can reach them.
        assert!(
            ops.iter()
                .any(|op| matches!(op, RecordOp::Upsert { record, .. }
            if record.key.name == "origin.api.example.com"))
        );
    }

    #[test]
    fn a_changed_domain_keeps_the_old_name_until_the_new_one_can_be_served() {
        let mut old = target(LATENCY);
        if let Some(edge) = old.spec.edge.as_mut() {
            edge.enabled = false;
        }
        let zone = desired::records(
            &old,
            &Route53Inputs::known(endpoints(), None, vec![]),
            &BTreeMap::new(),
            &[],
        );
        let mut renamed = old.clone();
        renamed.spec.domain = "www.example.com".into();
        // The custom domains for the new name are not there yet.
        let mut inputs = Route53Inputs::known(vec![], None, vec![]);
        for r in ["us-east-1", "eu-west-1"] {
            inputs.endpoints.insert(r.into(), Observed::Absent);
        }
        let wanted = desired::records(&renamed, &inputs, &BTreeMap::new(), &[]);
        let wanted = make_before_break(&renamed, &inputs, wanted, &zone);
        let ops = diff::records(&renamed, &wanted, &zone).ops;
        assert_eq!(deleted(&ops), Vec::<String>::new(), "{ops:?}");

        // Once the new name can be served, the old one goes in the same batch.
        let inputs = Route53Inputs::known(endpoints(), None, vec![]);
        let wanted = desired::records(&renamed, &inputs, &BTreeMap::new(), &[]);
        let wanted = make_before_break(&renamed, &inputs, wanted, &zone);
        let ops = diff::records(&renamed, &wanted, &zone).ops;
        let gone = deleted(&ops);
        assert!(
            gone.iter().any(|k| k.starts_with("api.example.com A")),
            "{gone:?}"
        );
        assert!(
            ops.iter()
                .any(|op| matches!(op, RecordOp::Upsert { record, .. }
            if record.key.name == "www.example.com" && record.key.set_identifier.is_some()))
        );
    }

    #[test]
    fn an_old_origin_name_stays_while_the_distribution_may_use_it() {
        let old = target(LATENCY);
        let zone = edge_zone(&old);
        let mut moved = old.clone();
        if let Some(edge) = moved.spec.edge.as_mut() {
            edge.origin_domain = Some("edge-origin.example.com".into());
        }
        let mut inputs =
            Route53Inputs::known(endpoints(), Some("d1.cloudfront.net".into()), vec![]);
        inputs.hold_left_names = true;
        let wanted = desired::records(&moved, &inputs, &BTreeMap::new(), &[]);
        let wanted = make_before_break(&moved, &inputs, wanted, &zone);
        let ops = diff::records(&moved, &wanted, &zone).ops;
        assert_eq!(deleted(&ops), Vec::<String>::new(), "{ops:?}");
        assert!(
            ops.iter()
                .any(|op| matches!(op, RecordOp::Upsert { record, .. }
            if record.key.name == "edge-origin.example.com"))
        );

        // Once the distribution has deployed the new origin, the old name goes.
        inputs.hold_left_names = false;
        let wanted = desired::records(&moved, &inputs, &BTreeMap::new(), &[]);
        let wanted = make_before_break(&moved, &inputs, wanted, &zone);
        let gone = deleted(&diff::records(&moved, &wanted, &zone).ops);
        assert!(
            gone.iter()
                .any(|k| k.starts_with("origin.api.example.com A")),
            "{gone:?}"
        );
    }
}
