//! What must change in Route 53 (pure): record operations filtered by
//! ownership, and health check operations.

use std::collections::{BTreeMap, BTreeSet};

use crate::plan::{Action, Change, FieldChange, FieldDiff, Service, differing_fields};
use crate::target::Target;

use super::desired::RecordHold;
use super::observe::ObservedHealthCheck;
use super::ownership::{is_owner_record_name, owner_record_name, parse_owner};
use super::record::{HealthCheck, Record, RecordValue, Routing};

/// Record types this operator writes at a name it owns; others are left alone.
const MANAGED_TYPES: [&str; 3] = ["A", "AAAA", "CNAME"];

/// One record operation of a ChangeResourceRecordSets batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordOp {
    /// Create or replace; `observed` is what was there.
    Upsert {
        record: Record,
        observed: Option<Record>,
    },
    /// Delete exactly this observed record.
    Delete(Record),
}

impl RecordOp {
    pub fn change(&self) -> Change {
        match self {
            RecordOp::Upsert {
                record,
                observed: None,
            } => Change::new(
                Service::Route53,
                None,
                Action::Create,
                "record",
                record.key.to_string(),
            ),
            RecordOp::Upsert {
                record,
                observed: Some(observed),
            } => Change::new(
                Service::Route53,
                None,
                Action::Update,
                "record",
                record.key.to_string(),
            )
            .with_fields(record_fields(observed, record)),
            RecordOp::Delete(record) => Change::new(
                Service::Route53,
                None,
                Action::Delete,
                "record",
                record.key.to_string(),
            ),
        }
    }
}

/// The record operations, and the names we may not touch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordDiff {
    pub ops: Vec<RecordOp>,
    /// One line per name that exists and is not ours.
    pub conflicts: Vec<String>,
}

/// Whether the records at `name` are exactly the desired ones (and no more).
fn served_by_theirs(name: &str, desired: &[Record], observed_at: &[&Record]) -> bool {
    let wanted: Vec<&Record> = desired.iter().filter(|r| r.key.name == name).collect();
    !wanted.is_empty()
        && wanted.len() == observed_at.len()
        && wanted.iter().all(|w| observed_at.contains(w))
}

/// Compares desired with observed records of the zone. Only names this
/// target owns (through its TXT record) or that are free are touched.
pub fn records(target: &Target, desired: &[Record], observed: &[Record]) -> RecordDiff {
    let owners: BTreeMap<&str, (String, String)> = observed
        .iter()
        .filter(|r| r.key.record_type == "TXT" && is_owner_record_name(&r.key.name))
        .filter_map(|r| parse_owner(r).map(|o| (r.key.name.as_str(), o)))
        .collect();
    let mut diff = RecordDiff::default();
    let wanted: BTreeSet<&str> = desired
        .iter()
        .filter(|r| !is_owner_record_name(&r.key.name))
        .map(|r| r.key.name.as_str())
        .collect();

    let mut deletes = Vec::new();
    let mut upserts = Vec::new();
    for name in &wanted {
        match claim(target, name, &owners, desired, observed) {
            Claim::Ours => name_ops(name, desired, observed, &mut deletes, &mut upserts),
            Claim::Taken(conflict) => diff.conflicts.push(conflict),
            Claim::ServedByTheirs => {}
        }
    }

    // Names we own that the spec no longer wants: remove them and their owner record.
    for (owner_name, (_, uid)) in &owners {
        let name = &owner_name["_globalapi.".len()..];
        if *uid != target.uid || wanted.contains(name) {
            continue;
        }
        deletes.extend(
            managed_at(observed, name)
                .into_iter()
                .cloned()
                .map(RecordOp::Delete),
        );
        deletes.extend(
            observed
                .iter()
                .filter(|r| r.key.name == *owner_name && r.key.record_type == "TXT")
                .cloned()
                .map(RecordOp::Delete),
        );
    }

    // Deletes first: a failover swap must not pass through two PRIMARY records.
    diff.ops = deletes;
    diff.ops.extend(upserts);
    diff
}

/// Whether a name the spec wants may be written.
enum Claim {
    /// Its ownership record names us, or it is free.
    Ours,
    /// Someone else has it: the conflict.
    Taken(String),
    /// Another's records that are exactly ours serve both: an ACM
    /// validation record is the same for every certificate of a domain in
    /// the account. Its owner keeps (and removes) it.
    ServedByTheirs,
}

fn claim(
    target: &Target,
    name: &str,
    owners: &BTreeMap<&str, (String, String)>,
    desired: &[Record],
    observed: &[Record],
) -> Claim {
    match owners.get(owner_record_name(name).as_str()) {
        Some((_, uid)) if *uid == target.uid => Claim::Ours,
        Some((owner, _)) => {
            if served_by_theirs(name, desired, &managed_at(observed, name)) {
                Claim::ServedByTheirs
            } else {
                Claim::Taken(format!("{name} is owned by GlobalApi {owner}"))
            }
        }
        None => {
            let existing = managed_at(observed, name);
            if existing.is_empty() {
                return Claim::Ours;
            }
            let types: BTreeSet<&str> = existing
                .iter()
                .map(|r| r.key.record_type.as_str())
                .collect();
            Claim::Taken(format!(
                "{name} already has {} records that no GlobalApi owns",
                types.into_iter().collect::<Vec<_>>().join("/")
            ))
        }
    }
}

/// The records of the types we manage at `name`.
fn managed_at<'a>(observed: &'a [Record], name: &str) -> Vec<&'a Record> {
    observed
        .iter()
        .filter(|r| r.key.name == name && MANAGED_TYPES.contains(&r.key.record_type.as_str()))
        .collect()
}

/// The writes that make `name` and its ownership record as desired.
fn name_ops(
    name: &str,
    desired: &[Record],
    observed: &[Record],
    deletes: &mut Vec<RecordOp>,
    upserts: &mut Vec<RecordOp>,
) {
    let owner_name = owner_record_name(name);
    let mine: Vec<&Record> = desired
        .iter()
        .filter(|r| r.key.name == name || r.key.name == owner_name)
        .collect();
    let theirs: Vec<&Record> = observed
        .iter()
        .filter(|r| {
            (r.key.name == name && MANAGED_TYPES.contains(&r.key.record_type.as_str()))
                || (r.key.name == owner_name && r.key.record_type == "TXT")
        })
        .collect();
    for record in &mine {
        match theirs.iter().find(|o| o.key == record.key) {
            Some(o) if **o == **record => {}
            found => upserts.push(RecordOp::Upsert {
                record: (*record).clone(),
                observed: found.map(|o| (*o).clone()),
            }),
        }
    }
    for o in &theirs {
        if !mine.iter().any(|r| r.key == o.key) {
            deletes.push(RecordOp::Delete((*o).clone()));
        }
    }
}

/// The names whose ownership record names `target`.
pub(crate) fn owned_names<'a>(target: &Target, observed: &'a [Record]) -> BTreeSet<&'a str> {
    observed
        .iter()
        .filter(|r| r.key.record_type == "TXT" && is_owner_record_name(&r.key.name))
        .filter(|r| parse_owner(r).is_some_and(|(_, uid)| uid == target.uid))
        .map(|r| &r.key.name["_globalapi.".len()..])
        .collect()
}

/// The observed records that `holds` keep as they are: only those at names
/// this target owns (a name someone else holds is never ours to keep).
pub(crate) fn held_records(
    target: &Target,
    holds: &[RecordHold],
    observed: &[Record],
) -> Vec<Record> {
    if holds.is_empty() {
        return Vec::new();
    }
    let owned_names = owned_names(target, observed);
    observed
        .iter()
        .filter(|r| MANAGED_TYPES.contains(&r.key.record_type.as_str()))
        .filter(|r| owned_names.contains(r.key.name.as_str()))
        .filter(|r| holds.iter().any(|h| h.holds(r)))
        .cloned()
        .collect()
}

fn record_fields(observed: &Record, desired: &Record) -> Vec<FieldChange> {
    let mut fields = FieldDiff::default();
    let mut push = |field: &str, o: Option<String>, d: Option<String>| fields.compare(field, o, d);
    push(
        "Routing",
        Some(routing_text(&observed.routing)),
        Some(routing_text(&desired.routing)),
    );
    push(
        "HealthCheckId",
        observed.health_check_id.clone(),
        desired.health_check_id.clone(),
    );
    match (&observed.value, &desired.value) {
        (
            RecordValue::Alias {
                zone_id: oz,
                dns_name: od,
                evaluate_target_health: oe,
            },
            RecordValue::Alias {
                zone_id: dz,
                dns_name: dd,
                evaluate_target_health: de,
            },
        ) => {
            push("AliasTarget.DNSName", Some(od.clone()), Some(dd.clone()));
            push(
                "AliasTarget.HostedZoneId",
                Some(oz.clone()),
                Some(dz.clone()),
            );
            push(
                "AliasTarget.EvaluateTargetHealth",
                Some(oe.to_string()),
                Some(de.to_string()),
            );
        }
        (
            RecordValue::Values {
                ttl: ot,
                values: ov,
            },
            RecordValue::Values {
                ttl: dt,
                values: dv,
            },
        ) => {
            push("TTL", Some(ot.to_string()), Some(dt.to_string()));
            push("ResourceRecords", Some(ov.join(" ")), Some(dv.join(" ")));
        }
        (o, d) => push("Value", Some(value_text(o)), Some(value_text(d))),
    }
    fields.into_fields()
}

fn routing_text(routing: &Routing) -> String {
    match routing {
        Routing::Simple => "simple".into(),
        Routing::Latency { region } => format!("latency {region}"),
        Routing::Failover(f) => format!("failover {}", f.as_str()),
    }
}

fn value_text(value: &RecordValue) -> String {
    match value {
        RecordValue::Alias { dns_name, .. } => format!("alias {dns_name}"),
        RecordValue::Values { values, .. } => values.join(" "),
    }
}

/// One health check operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HealthCheckOp {
    Create(HealthCheck),
    /// Change the fields Route 53 lets us change in place.
    Update {
        id: String,
        observed: HealthCheck,
        desired: HealthCheck,
    },
    /// Interval and type cannot change in place: create anew, then delete the old one.
    Replace {
        old_id: String,
        observed: HealthCheck,
        desired: HealthCheck,
    },
    Delete {
        id: String,
        observed: HealthCheck,
    },
    /// Tag one an interrupted run created but did not tag.
    Adopt {
        id: String,
        observed: HealthCheck,
    },
}

impl HealthCheckOp {
    /// The region the health check probes.
    pub fn region(&self) -> &str {
        match self {
            HealthCheckOp::Create(h)
            | HealthCheckOp::Update { desired: h, .. }
            | HealthCheckOp::Replace { desired: h, .. } => &h.region,
            HealthCheckOp::Delete { observed, .. } | HealthCheckOp::Adopt { observed, .. } => {
                &observed.region
            }
        }
    }

    pub fn change(&self) -> Change {
        let resource =
            |h: &HealthCheck| format!("{} (https://{}{})", h.region, h.fqdn, h.resource_path);
        match self {
            HealthCheckOp::Create(h) => Change::new(
                Service::Route53,
                None,
                Action::Create,
                "health check",
                resource(h),
            ),
            HealthCheckOp::Update {
                observed, desired, ..
            }
            | HealthCheckOp::Replace {
                observed, desired, ..
            } => {
                let action = if matches!(self, HealthCheckOp::Replace { .. }) {
                    Action::Create
                } else {
                    Action::Update
                };
                let kind = if action == Action::Create {
                    "health check (replacing)"
                } else {
                    "health check"
                };
                Change::new(Service::Route53, None, action, kind, resource(desired))
                    .with_fields(health_check_fields(observed, desired))
            }
            HealthCheckOp::Delete { observed, .. } => Change::new(
                Service::Route53,
                None,
                Action::Delete,
                "health check",
                resource(observed),
            ),
            HealthCheckOp::Adopt { observed, .. } => Change::new(
                Service::Route53,
                None,
                Action::Update,
                "health check",
                resource(observed),
            )
            .with_fields(vec![FieldChange::new(
                "Tags",
                None,
                Some("ownership tags".into()),
            )]),
        }
    }
}

fn health_check_fields(o: &HealthCheck, d: &HealthCheck) -> Vec<FieldChange> {
    differing_fields([
        (
            "FullyQualifiedDomainName",
            Some(o.fqdn.clone()),
            Some(d.fqdn.clone()),
        ),
        (
            "ResourcePath",
            Some(o.resource_path.clone()),
            Some(d.resource_path.clone()),
        ),
        (
            "RequestInterval",
            Some(o.request_interval.to_string()),
            Some(d.request_interval.to_string()),
        ),
        (
            "FailureThreshold",
            Some(o.failure_threshold.to_string()),
            Some(d.failure_threshold.to_string()),
        ),
    ])
}

/// Compares desired health checks with ours found in AWS.
pub fn health_checks(
    desired: &[HealthCheck],
    observed: &[ObservedHealthCheck],
) -> Vec<HealthCheckOp> {
    let mut ops = Vec::new();
    let mut used = BTreeSet::new();
    for want in desired {
        let candidates: Vec<&ObservedHealthCheck> = observed
            .iter()
            .filter(|o| o.check.region == want.region)
            .collect();
        // The same choice as `kept_health_checks`: exact, else changeable in place, else any.
        let chosen = candidates
            .iter()
            .find(|o| o.check == *want)
            .or_else(|| {
                candidates
                    .iter()
                    .find(|o| o.check.request_interval == want.request_interval)
            })
            .or_else(|| candidates.first());
        match chosen {
            None => ops.push(HealthCheckOp::Create(want.clone())),
            Some(found) => {
                let (id, have) = (&found.id, &found.check);
                used.insert(id.clone());
                if !found.tagged {
                    ops.push(HealthCheckOp::Adopt {
                        id: id.clone(),
                        observed: have.clone(),
                    });
                }
                if have == want {
                    continue;
                }
                if have.request_interval != want.request_interval {
                    ops.push(HealthCheckOp::Replace {
                        old_id: id.clone(),
                        observed: have.clone(),
                        desired: want.clone(),
                    });
                } else {
                    ops.push(HealthCheckOp::Update {
                        id: id.clone(),
                        observed: have.clone(),
                        desired: want.clone(),
                    });
                }
            }
        }
    }
    for found in observed {
        if !used.contains(&found.id) {
            ops.push(HealthCheckOp::Delete {
                id: found.id.clone(),
                observed: found.check.clone(),
            });
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::aws::route53::desired::{self, Route53Inputs};
    use crate::aws::route53::fixtures::endpoints;
    use crate::aws::route53::ownership::owner_record;
    use crate::aws::route53::record::RecordKey;
    use crate::target::fixtures::{LATENCY, target};

    fn inputs() -> Route53Inputs {
        Route53Inputs::known(endpoints(), Some("d1.cloudfront.net".into()), vec![])
    }

    fn foreign(name: &str, record_type: &str) -> Record {
        Record {
            key: RecordKey {
                name: name.into(),
                record_type: record_type.into(),
                set_identifier: None,
            },
            routing: Routing::Simple,
            health_check_id: None,
            value: RecordValue::Values {
                ttl: 300,
                values: vec!["192.0.2.1".into()],
            },
        }
    }

    #[test]
    fn empty_zone_creates_everything_and_equal_zone_nothing() {
        let t = target(LATENCY);
        let want = desired::records(&t, &inputs(), &BTreeMap::new(), &[]);
        let diff = records(&t, &want, &[]);
        assert!(diff.conflicts.is_empty());
        assert_eq!(diff.ops.len(), want.len());
        assert!(
            diff.ops
                .iter()
                .all(|op| matches!(op, RecordOp::Upsert { observed: None, .. }))
        );
        assert_eq!(records(&t, &want, &want), RecordDiff::default());
    }

    #[test]
    fn a_changed_alias_is_one_update_naming_the_field() {
        let t = target(LATENCY);
        let want = desired::records(&t, &inputs(), &BTreeMap::new(), &[]);
        let mut have = want.clone();
        if let RecordValue::Alias { dns_name, .. } = &mut have[0].value {
            *dns_name = "elsewhere.example.net".into();
        }
        let diff = records(&t, &want, &have);
        assert_eq!(diff.ops.len(), 1);
        assert_eq!(
            diff.ops[0].change().to_string(),
            "update route53 record origin.api.example.com A us-east-1-0b1c2d3e: AliasTarget.DNSName elsewhere.example.net → d-us-east-1.example.net"
        );
    }

    #[test]
    fn names_held_by_others_are_conflicts_and_left_alone() {
        let t = target(LATENCY);
        let want = desired::records(&t, &inputs(), &BTreeMap::new(), &[]);
        let mut other = t.clone();
        other.uid = "someone-else".into();
        other.name = "other".into();
        let have = vec![
            foreign("api.example.com", "A"),
            owner_record(&other, "origin.api.example.com", 60),
            foreign("unrelated.example.com", "A"),
        ];
        let diff = records(&t, &want, &have);
        assert_eq!(
            diff.conflicts,
            [
                "api.example.com already has A records that no GlobalApi owns",
                "origin.api.example.com is owned by GlobalApi payments/other"
            ]
        );
        assert!(diff.ops.is_empty(), "{:?}", diff.ops);
    }

    #[test]
    fn another_owners_record_exactly_ours_serves_both() {
        let t = target(LATENCY);
        let validation = crate::aws::acm::certificate::ValidationRecord {
            name: "_abc.origin.api.example.com.".into(),
            value: "_xyz.acm-validations.aws.".into(),
        };
        let with_validation = Route53Inputs::known(
            endpoints(),
            Some("d1.cloudfront.net".into()),
            vec![validation],
        );
        let want = desired::records(&t, &with_validation, &BTreeMap::new(), &[]);
        let cname = want
            .iter()
            .find(|r| r.key.record_type == "CNAME")
            .expect("the validation record")
            .clone();
        let mut other = t.clone();
        other.uid = "someone-else".into();
        other.name = "other".into();
        let theirs = owner_record(&other, &cname.key.name, 60);
        let diff = records(&t, &want, &[cname.clone(), theirs.clone()]);
        assert!(diff.conflicts.is_empty(), "{:?}", diff.conflicts);
        assert!(
            diff.ops.iter().all(|op| match op {
                RecordOp::Upsert { record, .. } =>
                    record.key.name != cname.key.name && record.key.name != theirs.key.name,
                RecordOp::Delete(_) => false,
            }),
            "{:?}",
            diff.ops
        );

        let mut differs = cname.clone();
        differs.value = RecordValue::Values {
            ttl: 300,
            values: vec!["_other.acm-validations.aws.".into()],
        };
        let diff = records(&t, &want, &[differs, theirs]);
        assert_eq!(
            diff.conflicts,
            ["_abc.origin.api.example.com is owned by GlobalApi payments/other"]
        );
    }

    #[test]
    fn owned_names_no_longer_wanted_are_deleted_with_their_owner_record() {
        let t = target(LATENCY);
        let have = desired::records(&t, &inputs(), &BTreeMap::new(), &[]);
        let mut unrelated = have.clone();
        unrelated.push(foreign("unrelated.example.com", "A"));
        let diff = records(&t, &[], &unrelated);
        assert_eq!(diff.ops.len(), have.len());
        assert!(
            diff.ops.iter().all(
                |op| matches!(op, RecordOp::Delete(r) if r.key.name != "unrelated.example.com")
            )
        );
    }

    fn check(region: &str, interval: i32, threshold: i32) -> HealthCheck {
        HealthCheck {
            region: region.into(),
            fqdn: format!("x.execute-api.{region}.amazonaws.com"),
            resource_path: "/v1/health".into(),
            request_interval: interval,
            failure_threshold: threshold,
        }
    }

    #[test]
    fn health_checks_update_in_place_or_replace() {
        let found = |id: &str, check: HealthCheck| ObservedHealthCheck {
            id: id.into(),
            check,
            tagged: true,
        };
        let observed = vec![
            found("hc-1", check("us-east-1", 30, 3)),
            found("hc-2", check("eu-west-1", 30, 3)),
            found("hc-3", check("ap-south-1", 30, 3)),
        ];
        let desired = vec![check("us-east-1", 30, 5), check("eu-west-1", 10, 3)];
        let ops = health_checks(&desired, &observed);
        let lines: Vec<String> = ops.iter().map(|o| o.change().to_string()).collect();
        assert_eq!(
            lines,
            [
                "update route53 health check us-east-1 (https://x.execute-api.us-east-1.amazonaws.com/v1/health): FailureThreshold 3 → 5",
                "create route53 health check (replacing) eu-west-1 (https://x.execute-api.eu-west-1.amazonaws.com/v1/health): RequestInterval 30 → 10",
                "delete route53 health check ap-south-1 (https://x.execute-api.ap-south-1.amazonaws.com/v1/health)",
            ]
        );
        assert!(health_checks(&desired[..1], &[found("hc-1", desired[0].clone())]).is_empty());
        let untagged = ObservedHealthCheck {
            tagged: false,
            ..found("hc-1", desired[0].clone())
        };
        assert!(matches!(
            health_checks(&desired[..1], &[untagged]).as_slice(),
            [HealthCheckOp::Adopt { .. }]
        ));
    }
}
