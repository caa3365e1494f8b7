//! The safety valve: a record batch that would delete most of the records
//! serving a GlobalApi's names, while the spec still asks for each of them,
//! is not written. Inputs that are unknown already keep their records (see
//! `desired::holds`); the valve is the last line should anything else make a
//! pass want to take the API out of DNS.

use std::collections::BTreeSet;

use crate::target::Target;

use super::desired::set_identifier;
use super::diff::{RecordOp, owned_names};
use super::record::{Record, normalize_name};

/// Why the batch `ops` must not be written, or `None` when it may be.
pub fn refusal(target: &Target, ops: &[RecordOp], observed: &[Record]) -> Option<String> {
    let origin = normalize_name(&target.origin_domain());
    let domain = normalize_name(&target.spec.domain);
    let owned = owned_names(target, observed);
    let serving: Vec<&Record> = observed
        .iter()
        .filter(|r| r.key.name == origin || r.key.name == domain)
        .filter(|r| matches!(r.key.record_type.as_str(), "A" | "AAAA"))
        .filter(|r| owned.contains(r.key.name.as_str()))
        .collect();
    let wanted_ids: BTreeSet<String> = target
        .serving_regions()
        .iter()
        .map(|r| set_identifier(target, &r.name))
        .collect();
    let still_wanted = |r: &Record| {
        let region_record = r.key.name == origin
            && r.key.record_type == "A"
            && r.key
                .set_identifier
                .as_ref()
                .is_some_and(|id| wanted_ids.contains(id));
        let edge_alias =
            target.edge_enabled() && r.key.name == domain && r.key.set_identifier.is_none();
        region_record || edge_alias
    };
    let unexplained: Vec<String> = ops
        .iter()
        .filter_map(|op| match op {
            RecordOp::Delete(r) if serving.contains(&r) && still_wanted(r) => {
                Some(r.key.to_string())
            }
            _ => None,
        })
        .collect();
    if unexplained.is_empty() || unexplained.len() * 2 <= serving.len() {
        return None;
    }
    Some(format!(
        "safety valve: the record batch would delete {} of the {} records serving {} although the \
         spec still asks for them ({}); nothing was written",
        unexplained.len(),
        serving.len(),
        target.spec.domain,
        unexplained.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::aws::route53::desired::{self, Route53Inputs};
    use crate::aws::route53::diff;
    use crate::aws::route53::fixtures::endpoints;
    use crate::target::fixtures::{LATENCY, target};

    fn zone(t: &Target) -> Vec<Record> {
        let inputs = Route53Inputs::known(endpoints(), Some("d1.cloudfront.net".into()), vec![]);
        desired::records(t, &inputs, &BTreeMap::new(), &[])
    }

    #[test]
    fn deleting_most_serving_records_the_spec_still_wants_is_refused() {
        let t = target(LATENCY);
        let observed = zone(&t);
        // A pass that lost sight of everything would want only owner records.
        let ops = diff::records(&t, &[], &observed).ops;
        let why = refusal(&t, &ops, &observed).expect("refused");
        assert!(
            why.contains("4 of the 4 records serving api.example.com"),
            "{why}"
        );
        // One region of two (with the edge aliases still there) is not most.
        let lost_one: Vec<RecordOp> = ops
            .iter()
            .filter(|op| matches!(op, RecordOp::Delete(r) if r.key.set_identifier.as_deref() == Some("eu-west-1-0b1c2d3e")))
            .cloned()
            .collect();
        assert_eq!(lost_one.len(), 1);
        assert_eq!(refusal(&t, &lost_one, &observed), None);
    }

    #[test]
    fn removals_the_spec_asks_for_pass() {
        let mut t = target(LATENCY);
        let observed = zone(&t);
        for region in &mut t.spec.regions {
            region.maintenance = true;
        }
        if let Some(edge) = t.spec.edge.as_mut() {
            edge.enabled = false;
        }
        let ops = diff::records(&t, &[], &observed).ops;
        assert!(!ops.is_empty());
        assert_eq!(refusal(&t, &ops, &observed), None);
    }
}
