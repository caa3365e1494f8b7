//! What must change in the global tables (pure): per table, the replica of
//! ours that serves as home (where a new table is made and replicas are
//! added from), replicas to add or remove one at a time (DynamoDB takes one
//! replica change per UpdateTable), and each replica's settings.

use std::collections::BTreeMap;

use crate::api::DatabaseRemoval;
use crate::aws::ownership::Ownership;
use crate::plan::{Action, Change, FieldChange, Finding, Service};

use super::desired::{Billing, DesiredTable};
use super::observe::ObservedTable;

/// The line a teardown reports while the spec protects a table.
pub const PROTECTED: &str = "spec.database.dynamodb.tables[].deletionProtection is true: set it to false to delete the table";

/// One change to a table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TableOp {
    /// The first replica, with streams (global tables need them) and our tags.
    Create { region: String, table: DesiredTable },
    /// `region` joins the global table of `home`.
    AddReplica {
        home: String,
        region: String,
        name: String,
    },
    /// `region` leaves the global table of `home` (its replica is deleted).
    RemoveReplica {
        home: String,
        region: String,
        name: String,
    },
    /// A replica DynamoDB made for us, which carries no tags.
    Tag {
        region: String,
        name: String,
        arn: String,
    },
    SetDeletionProtection {
        region: String,
        name: String,
        observed: bool,
        desired: bool,
    },
    SetPointInTimeRecovery {
        region: String,
        name: String,
        observed: bool,
        desired: bool,
    },
    SetBilling {
        region: String,
        name: String,
        observed: Billing,
        desired: Billing,
    },
    /// The last replica.
    Delete { region: String, name: String },
}

impl TableOp {
    pub fn change(&self) -> Change {
        let table = |region: &str, action, name: &str| {
            Change::new(
                Service::DynamoDb,
                Some(region),
                action,
                "table",
                format!("{region} {name}"),
            )
        };
        let flag = |field: &str, o: &bool, d: &bool| {
            vec![FieldChange::new(
                field,
                Some(o.to_string()),
                Some(d.to_string()),
            )]
        };
        match self {
            TableOp::Create { region, table: t } => table(region, Action::Create, &t.name),
            TableOp::AddReplica { region, name, .. } => Change::new(
                Service::DynamoDb,
                Some(region),
                Action::Create,
                "replica",
                format!("{region} {name}"),
            ),
            TableOp::RemoveReplica { region, name, .. } => Change::new(
                Service::DynamoDb,
                Some(region),
                Action::Delete,
                "replica",
                format!("{region} {name}"),
            ),
            TableOp::Tag { region, name, .. } => {
                table(region, Action::Update, name).with_fields(vec![FieldChange::new(
                    "Tags",
                    None,
                    Some("globalapi.io/uid, globalapi.io/owner".into()),
                )])
            }
            TableOp::SetDeletionProtection {
                region,
                name,
                observed,
                desired,
            } => table(region, Action::Update, name).with_fields(flag(
                "DeletionProtectionEnabled",
                observed,
                desired,
            )),
            TableOp::SetPointInTimeRecovery {
                region,
                name,
                observed,
                desired,
            } => table(region, Action::Update, name).with_fields(flag(
                "PointInTimeRecoveryEnabled",
                observed,
                desired,
            )),
            TableOp::SetBilling {
                region,
                name,
                observed,
                desired,
            } => table(region, Action::Update, name).with_fields(vec![FieldChange::new(
                "BillingMode",
                Some(observed.to_string()),
                Some(desired.to_string()),
            )]),
            TableOp::Delete { region, name } => table(region, Action::Delete, name),
        }
    }
}

/// The operations, and what they cannot cover.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TablesDiff {
    pub ops: Vec<TableOp>,
    pub pending: Vec<Finding>,
    pub conflicts: Vec<Finding>,
    pub errors: Vec<Finding>,
    /// Ours, no longer asked for, left as they are (`removal: Orphan`).
    pub orphaned: Vec<String>,
}

/// What was found of one table, by region (`None`: not there). Regions
/// whose read failed are left out by the caller, and nothing is decided
/// for the table then.
pub type Found = BTreeMap<String, Option<ObservedTable>>;

/// The replicas of ours: tagged with our uid, or untagged and in the
/// global table of one that is.
pub fn ours(found: &Found) -> Vec<&ObservedTable> {
    let tagged: Vec<&ObservedTable> = found
        .values()
        .flatten()
        .filter(|t| t.ownership.is_ours())
        .collect();
    found
        .values()
        .flatten()
        .filter(|t| {
            t.ownership.is_ours()
                || (t.ownership == Ownership::Untagged
                    && tagged
                        .iter()
                        .any(|o| o.replicas.contains(&t.region) || t.replicas.contains(&o.region)))
        })
        .collect()
}

/// One table of the spec against what was found in `regions` (the spec's,
/// in order, and those the last status listed).
pub(crate) fn diff(want: &DesiredTable, regions: &[String], found: &Found) -> TablesDiff {
    let mut d = TablesDiff::default();
    let name = &want.name;
    let ours = ours(found);
    foreign(&mut d, name, found, &ours);
    let Some(home) = regions
        .iter()
        .find_map(|r| ours.iter().find(|t| t.region == *r).copied())
    else {
        if d.conflicts.is_empty()
            && let Some(first) = regions.first()
        {
            d.ops.push(TableOp::Create {
                region: first.clone(),
                table: want.clone(),
            });
        }
        return d;
    };

    if home.partition_key.as_ref() != Some(&want.partition_key) || home.sort_key != want.sort_key {
        d.errors.push(Finding::in_region(
            &home.region,
            format!(
                "{}: dynamodb table {name} has keys {} but the spec asks for {}: a table's keys cannot change; a new name makes a new table; nothing was changed",
                home.region,
                keys(home.partition_key.as_ref(), home.sort_key.as_ref()),
                keys(Some(&want.partition_key), want.sort_key.as_ref()),
            ),
        ));
        return d;
    }
    replicas(&mut d, want, regions, found, &ours, home);
    d
}

/// The tables under the name in regions where they are not ours.
fn foreign(d: &mut TablesDiff, name: &str, found: &Found, ours: &[&ObservedTable]) {
    for table in found.values().flatten() {
        if !ours.iter().any(|o| o.region == table.region) {
            d.conflicts.push(Finding::in_region(
                &table.region,
                format!(
                    "dynamodb table {name} in {} exists and belongs to {}",
                    table.region,
                    table.ownership.describe()
                ),
            ));
        }
    }
}

/// A replica in each region of the spec, one new replica per pass and only
/// while every replica is active; the settings of each of ours.
fn replicas(
    d: &mut TablesDiff,
    want: &DesiredTable,
    regions: &[String],
    found: &Found,
    ours: &[&ObservedTable],
    home: &ObservedTable,
) {
    let name = &want.name;
    let mut replica_change = false;
    let busy = ours.iter().any(|t| !t.active());
    for table in ours {
        if !table.active() {
            d.pending.push(Finding::in_region(
                &table.region,
                format!(
                    "dynamodb table {name} in {} is {}",
                    table.region, table.status
                ),
            ));
        }
    }
    for region in regions {
        let Some(entry) = found.get(region) else {
            continue;
        };
        match entry {
            None => {
                if busy || replica_change {
                    d.pending.push(Finding::in_region(
                        region,
                        format!(
                            "dynamodb table {name} gets a replica in {region} once its replicas are active (one replica change at a time)"
                        ),
                    ));
                } else {
                    d.ops.push(TableOp::AddReplica {
                        home: home.region.clone(),
                        region: region.clone(),
                        name: name.clone(),
                    });
                    replica_change = true;
                }
            }
            Some(table) if ours.iter().any(|o| o.region == table.region) => {
                settings(d, want, table);
            }
            Some(_) => {}
        }
    }
}

/// Tags, protection, backups and billing of one replica of ours.
fn settings(d: &mut TablesDiff, want: &DesiredTable, table: &ObservedTable) {
    let (region, name) = (&table.region, &want.name);
    if table.ownership == Ownership::Untagged {
        d.ops.push(TableOp::Tag {
            region: region.clone(),
            name: name.clone(),
            arn: table.arn.clone(),
        });
    }
    if table.deletion_protection != want.deletion_protection {
        d.ops.push(TableOp::SetDeletionProtection {
            region: region.clone(),
            name: name.clone(),
            observed: table.deletion_protection,
            desired: want.deletion_protection,
        });
    }
    if let Some(pitr) = table.point_in_time_recovery
        && pitr != want.point_in_time_recovery
    {
        d.ops.push(TableOp::SetPointInTimeRecovery {
            region: region.clone(),
            name: name.clone(),
            observed: pitr,
            desired: want.point_in_time_recovery,
        });
    }
    if table.billing != want.billing {
        d.ops.push(TableOp::SetBilling {
            region: region.clone(),
            name: name.clone(),
            observed: table.billing,
            desired: want.billing,
        });
    }
}

/// Removes (under `Delete`) or reports (under `Orphan`) our replicas of a
/// table outside `keep` (the spec's regions; none: the whole table). One
/// replica at a time; the last one is deleted as a table. `protected`: the
/// spec (or, gone from it, the table itself) refuses deletion.
pub(crate) fn retire(
    name: &str,
    keep: &[String],
    found: &Found,
    removal: DatabaseRemoval,
    protected: bool,
) -> TablesDiff {
    let mut d = TablesDiff::default();
    let ours = ours(found);
    let leaving: Vec<&&ObservedTable> = ours.iter().filter(|t| !keep.contains(&t.region)).collect();
    if leaving.is_empty() {
        return d;
    }
    if removal == DatabaseRemoval::Orphan {
        for t in leaving {
            d.orphaned
                .push(format!("dynamodb table {name} in {}", t.region));
        }
        return d;
    }
    if protected {
        d.errors.push(Finding::in_region(
            &leaving[0].region,
            format!(
                "{}: {PROTECTED} ({name} in {})",
                leaving[0].region,
                leaving
                    .iter()
                    .map(|t| t.region.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
        return d;
    }
    if ours.iter().any(|t| !t.active()) {
        d.pending.push(Finding::global(format!(
            "dynamodb table {name} loses its replicas outside the spec once every replica is active"
        )));
        return d;
    }
    let leaving_one = leaving[0];
    if leaving_one.deletion_protection {
        d.ops.push(TableOp::SetDeletionProtection {
            region: leaving_one.region.clone(),
            name: name.to_owned(),
            observed: true,
            desired: false,
        });
    }
    let staying = ours.iter().find(|t| t.region != leaving_one.region);
    match staying {
        Some(home) => d.ops.push(TableOp::RemoveReplica {
            home: home.region.clone(),
            region: leaving_one.region.clone(),
            name: name.to_owned(),
        }),
        None => d.ops.push(TableOp::Delete {
            region: leaving_one.region.clone(),
            name: name.to_owned(),
        }),
    }
    if leaving.len() > 1 {
        d.pending.push(Finding::global(format!(
            "dynamodb table {name} loses its other replicas outside the spec in later passes"
        )));
    }
    d
}

fn keys(partition: Option<&(String, String)>, sort: Option<&(String, String)>) -> String {
    let one = |k: &(String, String)| format!("{} ({})", k.0, k.1);
    match (partition, sort) {
        (Some(p), Some(s)) => format!("{} + {}", one(p), one(s)),
        (Some(p), None) => one(p),
        (None, _) => "none".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want() -> DesiredTable {
        DesiredTable {
            name: "rates".into(),
            partition_key: ("pair".into(), "S".into()),
            sort_key: None,
            billing: Billing::PayPerRequest,
            point_in_time_recovery: true,
            deletion_protection: true,
        }
    }

    fn regions() -> Vec<String> {
        vec!["us-east-1".into(), "eu-west-1".into()]
    }

    fn table(region: &str, ownership: Ownership, replicas: &[&str]) -> ObservedTable {
        ObservedTable {
            region: region.into(),
            name: "rates".into(),
            arn: format!("arn:aws:dynamodb:{region}:123456789012:table/rates"),
            stream_arn: None,
            status: "ACTIVE".into(),
            partition_key: Some(("pair".into(), "S".into())),
            sort_key: None,
            billing: Billing::PayPerRequest,
            deletion_protection: true,
            replicas: replicas.iter().map(|r| (*r).to_owned()).collect(),
            ownership,
            point_in_time_recovery: Some(true),
        }
    }

    fn lines(d: &TablesDiff) -> Vec<String> {
        d.ops.iter().map(|o| o.change().to_string()).collect()
    }

    #[test]
    fn made_in_the_first_region_then_replicated_and_tagged() {
        let none: Found = regions().into_iter().map(|r| (r, None)).collect();
        assert_eq!(
            lines(&diff(&want(), &regions(), &none)),
            ["create dynamodb table us-east-1 rates"]
        );
        let mut found = none.clone();
        found.insert(
            "us-east-1".into(),
            Some(table("us-east-1", Ownership::Ours, &[])),
        );
        assert_eq!(
            lines(&diff(&want(), &regions(), &found)),
            ["create dynamodb replica eu-west-1 rates"]
        );
        found.insert(
            "us-east-1".into(),
            Some(table("us-east-1", Ownership::Ours, &["eu-west-1"])),
        );
        let mut replica = table("eu-west-1", Ownership::Untagged, &["us-east-1"]);
        replica.deletion_protection = false;
        replica.point_in_time_recovery = Some(false);
        found.insert("eu-west-1".into(), Some(replica));
        assert_eq!(
            lines(&diff(&want(), &regions(), &found)),
            [
                "update dynamodb table eu-west-1 rates: Tags (none) → globalapi.io/uid, globalapi.io/owner",
                "update dynamodb table eu-west-1 rates: DeletionProtectionEnabled false → true",
                "update dynamodb table eu-west-1 rates: PointInTimeRecoveryEnabled false → true",
            ]
        );
    }

    #[test]
    fn someone_elses_table_is_a_conflict_and_keys_never_change() {
        let mut found: Found = regions().into_iter().map(|r| (r, None)).collect();
        found.insert(
            "us-east-1".into(),
            Some(table(
                "us-east-1",
                Ownership::Foreign {
                    owner: Some("a/b".into()),
                },
                &[],
            )),
        );
        let d = diff(&want(), &regions(), &found);
        assert!(d.ops.is_empty());
        assert_eq!(d.conflicts.len(), 1, "{d:?}");
        // A standalone untagged table is not ours either.
        found.insert(
            "us-east-1".into(),
            Some(table("us-east-1", Ownership::Untagged, &[])),
        );
        assert!(diff(&want(), &regions(), &found).ops.is_empty());

        let mut other_keys = table("us-east-1", Ownership::Ours, &[]);
        other_keys.partition_key = Some(("id".into(), "N".into()));
        found.insert("us-east-1".into(), Some(other_keys));
        let d = diff(&want(), &regions(), &found);
        assert!(d.ops.is_empty());
        assert!(d.errors[0].text.contains("cannot change"), "{:?}", d.errors);
    }

    #[test]
    fn a_region_left_is_orphaned_or_removed_one_replica_at_a_time() {
        let found: Found = [
            (
                "us-east-1",
                table("us-east-1", Ownership::Ours, &["eu-west-1"]),
            ),
            (
                "eu-west-1",
                table("eu-west-1", Ownership::Ours, &["us-east-1"]),
            ),
        ]
        .into_iter()
        .map(|(r, t)| (r.to_owned(), Some(t)))
        .collect();
        let keep = vec!["us-east-1".to_owned()];
        let orphan = retire("rates", &keep, &found, DatabaseRemoval::Orphan, false);
        assert_eq!(orphan.orphaned, ["dynamodb table rates in eu-west-1"]);
        let protected = retire("rates", &keep, &found, DatabaseRemoval::Delete, true);
        assert!(protected.ops.is_empty() && protected.errors[0].text.contains(PROTECTED));
        assert_eq!(
            lines(&retire(
                "rates",
                &keep,
                &found,
                DatabaseRemoval::Delete,
                false
            )),
            [
                "update dynamodb table eu-west-1 rates: DeletionProtectionEnabled true → false",
                "delete dynamodb replica eu-west-1 rates",
            ]
        );
        // The whole table: a replica first, the last one as a table.
        let all = retire("rates", &[], &found, DatabaseRemoval::Delete, false);
        assert_eq!(all.ops.len(), 2);
        assert!(!all.pending.is_empty());
        let last: Found = [(
            "us-east-1".to_owned(),
            Some(table("us-east-1", Ownership::Ours, &[])),
        )]
        .into_iter()
        .collect();
        assert_eq!(
            lines(&retire("rates", &[], &last, DatabaseRemoval::Delete, false)),
            [
                "update dynamodb table us-east-1 rates: DeletionProtectionEnabled true → false",
                "delete dynamodb table us-east-1 rates",
            ]
        );
    }
}
