//! What adoption is about: the previous owner an annotation names, a
//! resource found of it and how to re-tag it. Each service's `adopt`
//! module finds and re-tags its own with these.

use std::{collections::BTreeSet, fmt};

use crate::plan::{Action, Change, FieldChange, Service};
use crate::target::{OWNER_TAG, Target, UID_TAG};

use crate::aws::route53::Record;

/// Whose resources a GlobalApi adopts, as its annotation names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Previous {
    /// The previous GlobalApi's uid (its `globalapi.io/uid` tag).
    Uid(String),
    /// The previous GlobalApi's `namespace/name` (its `globalapi.io/owner`
    /// tag), whatever its uid, other than the heir's own.
    Owner(String),
}

impl Previous {
    /// The annotation's value: `namespace/name`, or a uid.
    pub fn parse(value: &str) -> std::result::Result<Self, String> {
        let value = value.trim();
        let valid_name = |s: &str| {
            !s.is_empty()
                && s.len() <= 253
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        };
        match value.split_once('/') {
            Some((namespace, name)) if valid_name(namespace) && valid_name(name) => {
                Ok(Previous::Owner(value.to_owned()))
            }
            None if !value.is_empty()
                && value.len() <= 64
                && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') =>
            {
                Ok(Previous::Uid(value.to_owned()))
            }
            _ => Err(format!(
                "the {} annotation must name the previous owner as namespace/name or by its uid, not {value:?}",
                crate::api::ADOPT_ANNOTATION
            )),
        }
    }

    /// The annotation's value this was read from.
    pub fn annotation(&self) -> String {
        match self {
            Previous::Uid(value) | Previous::Owner(value) => value.clone(),
        }
    }

    /// Whether a resource tagged `owner` and `uid` was the previous owner's
    /// (never the heir's own).
    pub fn owned(&self, heir: &Target, owner: Option<&str>, uid: Option<&str>) -> bool {
        let Some(uid) = uid else {
            return false;
        };
        if uid == heir.uid {
            return false;
        }
        match self {
            Previous::Uid(previous) => uid == previous,
            Previous::Owner(previous) => owner == Some(previous.as_str()),
        }
    }
}

impl fmt::Display for Previous {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Previous::Uid(uid) => write!(f, "uid {uid}"),
            Previous::Owner(owner) => write!(f, "GlobalApi {owner}"),
        }
    }
}

/// How to re-tag one inherited resource.
#[derive(Clone, Debug, PartialEq)]
pub enum Handle {
    Certificate {
        region: String,
        arn: String,
    },
    ApiGateway {
        region: String,
        arn: String,
    },
    Distribution {
        arn: String,
    },
    HealthCheck {
        id: String,
    },
    /// The ownership TXT record, rewritten in one batch (delete the old,
    /// create ours): if it changed meanwhile, the batch fails.
    OwnershipRecord {
        zone_id: String,
        record: Record,
    },
    Rds {
        region: String,
        arn: String,
    },
}

/// One resource the previous owner holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Inherited {
    pub service: Service,
    pub region: Option<String>,
    /// What it is, e.g. `certificate`, `rest-api`.
    pub kind: &'static str,
    /// Its id, ARN or name, for people.
    pub resource: String,
    pub owner: Option<String>,
    pub uid: String,
    pub handle: Handle,
}

impl Inherited {
    /// The change that re-tags it.
    pub fn change(&self, heir: &Target) -> Change {
        Change::new(
            self.service,
            self.region.as_deref(),
            Action::Update,
            self.kind,
            self.resource.clone(),
        )
        .with_fields(vec![
            FieldChange::new(OWNER_TAG, self.owner.clone(), Some(heir.owner())),
            FieldChange::new(UID_TAG, Some(self.uid.clone()), Some(heir.uid.clone())),
        ])
    }
}

/// Why what was found cannot be adopted as a whole (pure): the previous
/// owner must be one identity of the heir's own namespace (a namespace is
/// a tenant: no one adopts another's resources), and a database keeps the
/// names of the GlobalApi that made it.
pub fn refusal(heir: &Target, previous: &Previous, found: &[Inherited]) -> Option<String> {
    let elsewhere = found.iter().find_map(|i| {
        i.owner
            .as_deref()
            .filter(|o| !o.starts_with(&format!("{}/", heir.namespace)))
    });
    if let Some(other) = elsewhere {
        return Some(format!(
            "{previous} is GlobalApi {other}, of another namespace: a GlobalApi adopts only from its own namespace ({})",
            heir.namespace
        ));
    }
    let uids: BTreeSet<&str> = found.iter().map(|i| i.uid.as_str()).collect();
    if uids.len() > 1 {
        return Some(format!(
            "{previous} left resources under {} uids ({}): set {} to the uid to adopt",
            uids.len(),
            uids.into_iter().collect::<Vec<_>>().join(", "),
            crate::api::ADOPT_ANNOTATION
        ));
    }
    let has_database = heir
        .spec
        .database
        .as_ref()
        .is_some_and(|d| d.aurora.is_some());
    let other_name = found
        .iter()
        .find_map(|i| i.owner.as_deref().filter(|o| *o != heir.owner()));
    if has_database && let Some(other) = other_name {
        return Some(format!(
            "the database clusters of {other} are named after it: adopt them with a GlobalApi named {other}"
        ));
    }
    None
}
