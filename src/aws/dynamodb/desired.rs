//! The global tables a GlobalApi asks for (pure).

use crate::api::{BillingMode, KeySpec, KeyType, TableSpec};
use crate::target::Target;

/// How a table is billed, as DynamoDB compares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Billing {
    PayPerRequest,
    Provisioned { read: i64, write: i64 },
}

impl std::fmt::Display for Billing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Billing::PayPerRequest => f.write_str("PAY_PER_REQUEST"),
            Billing::Provisioned { read, write } => write!(f, "PROVISIONED {read}/{write}"),
        }
    }
}

/// A key attribute: name and scalar type (`S`, `N`, `B`).
pub(crate) type Key = (String, String);

/// One table, the same in every region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredTable {
    pub name: String,
    pub partition_key: Key,
    pub sort_key: Option<Key>,
    pub billing: Billing,
    pub point_in_time_recovery: bool,
    pub deletion_protection: bool,
}

/// Every table, and the regions each is replicated to (spec order: a new
/// table is made in the first, then replicated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    pub tables: Vec<DesiredTable>,
    pub regions: Vec<String>,
}

fn key(spec: &KeySpec) -> Key {
    let kind = match spec.kind {
        KeyType::String => "S",
        KeyType::Number => "N",
        KeyType::Binary => "B",
    };
    (spec.name.clone(), kind.to_owned())
}

fn table(spec: &TableSpec) -> DesiredTable {
    DesiredTable {
        name: spec.name.clone(),
        partition_key: key(&spec.partition_key),
        sort_key: spec.sort_key.as_ref().map(key),
        billing: match spec.billing_mode {
            BillingMode::PayPerRequest => Billing::PayPerRequest,
            BillingMode::Provisioned => Billing::Provisioned {
                read: i64::from(spec.read_capacity_units.unwrap_or(1)),
                write: i64::from(spec.write_capacity_units.unwrap_or(1)),
            },
        },
        point_in_time_recovery: spec.point_in_time_recovery,
        deletion_protection: spec.deletion_protection,
    }
}

/// The spec's tables; `None` without `database.dynamodb`.
pub fn desired(target: &Target) -> Option<Desired> {
    let dynamodb = target.spec.database.as_ref()?.dynamodb.as_ref()?;
    Some(Desired {
        tables: dynamodb.tables.iter().map(table).collect(),
        regions: target.region_names(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::fixtures::{LATENCY, target};

    #[test]
    fn tables_in_every_region_of_the_spec() {
        let t = target(&format!(
            "{LATENCY}database:\n  dynamodb:\n    tables:\n      - name: rates\n        partitionKey: {{name: pair, type: String}}\n        sortKey: {{name: at, type: Number}}\n        billingMode: Provisioned\n        readCapacityUnits: 5\n        writeCapacityUnits: 2\n"
        ));
        let d = desired(&t).expect("tables");
        assert_eq!(d.regions, ["us-east-1", "eu-west-1"]);
        assert_eq!(
            d.tables,
            [DesiredTable {
                name: "rates".into(),
                partition_key: ("pair".into(), "S".into()),
                sort_key: Some(("at".into(), "N".into())),
                billing: Billing::Provisioned { read: 5, write: 2 },
                point_in_time_recovery: true,
                deletion_protection: true,
            }]
        );
        assert_eq!(desired(&target(LATENCY)), None);
    }
}
