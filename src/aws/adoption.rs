//! Adoption: a GlobalApi takes over what a previous owner left in AWS (a
//! GlobalApi deleted with `deletionPolicy: Retain` and made again, restored
//! from a backup, moved to another cluster, or a stack of `globalapi
//! apply`). Every resource whose owner tags (or ownership record) name the
//! previous owner is re-tagged (re-claimed) for the heir; what anyone else
//! owns is left alone and stays a conflict. Then the pass goes on as usual,
//! finding everything as its own.
//!
//! Each service finds the previous owner's resources (`find`) and re-tags
//! one (`retag`) in its own `adopt` module; this one chains them: find
//! everywhere first, check that the previous owner is one identity, then
//! re-tag. Re-tagging is idempotent, so a pass cut half way is finished by
//! the next one.

use std::{collections::BTreeSet, fmt};

use crate::error::{Error, Result};
use crate::plan::{Action, Change, FieldChange, Mode, Service};
use crate::target::{OWNER_TAG, Target, UID_TAG};

use super::AwsClients;
use super::route53::Record;

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

/// Finds what `previous` holds wherever the spec reaches, then (Apply)
/// re-tags it for `heir`. The changes are those made or, in Plan mode, to
/// be made. A failure names its service.
pub async fn run(
    clients: &AwsClients,
    heir: &Target,
    previous: &Previous,
    mode: Mode,
) -> std::result::Result<Vec<Change>, (Service, Error)> {
    let mut found = Vec::new();
    found.extend(
        super::acm::adopt::find(clients, heir, previous)
            .await
            .map_err(|e| (Service::Acm, e))?,
    );
    found.extend(
        super::apigateway::adopt::find(clients, heir, previous)
            .await
            .map_err(|e| (Service::ApiGateway, e))?,
    );
    found.extend(
        super::route53::adopt::find(clients, heir, previous)
            .await
            .map_err(|e| (Service::Route53, e))?,
    );
    found.extend(
        super::cloudfront::adopt::find(clients, heir, previous)
            .await
            .map_err(|e| (Service::CloudFront, e))?,
    );
    found.extend(
        super::rds::adopt::find(clients, heir, previous)
            .await
            .map_err(|e| (Service::Rds, e))?,
    );
    if let Some(refused) = refusal(heir, previous, &found) {
        return Err((Service::Route53, Error::Invalid(refused)));
    }
    let mut changes = Vec::new();
    for item in &found {
        if mode == Mode::Apply {
            retag(clients, heir, item)
                .await
                .map_err(|e| (item.service, e))?;
        }
        changes.push(item.change(heir));
    }
    Ok(changes)
}

async fn retag(clients: &AwsClients, heir: &Target, item: &Inherited) -> Result<()> {
    match &item.handle {
        Handle::Certificate { region, arn } => {
            super::acm::adopt::retag(clients, heir, region, arn).await
        }
        Handle::ApiGateway { region, arn } => {
            super::apigateway::adopt::retag(clients, heir, region, arn).await
        }
        Handle::Distribution { arn } => super::cloudfront::adopt::retag(clients, heir, arn).await,
        Handle::HealthCheck { id } => {
            super::route53::adopt::retag_health_check(clients, heir, id).await
        }
        Handle::OwnershipRecord { zone_id, record } => {
            super::route53::adopt::reclaim(clients, heir, zone_id, record).await
        }
        Handle::Rds { region, arn } => super::rds::adopt::retag(clients, heir, region, arn).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::fixtures::{LATENCY, target};

    fn item(owner: &str, uid: &str) -> Inherited {
        Inherited {
            service: Service::Acm,
            region: Some("us-east-1".into()),
            kind: "certificate",
            resource: "arn:c".into(),
            owner: Some(owner.into()),
            uid: uid.into(),
            handle: Handle::Certificate {
                region: "us-east-1".into(),
                arn: "arn:c".into(),
            },
        }
    }

    #[test]
    fn the_annotation_names_an_owner_or_a_uid() {
        assert_eq!(
            Previous::parse("apps/api"),
            Ok(Previous::Owner("apps/api".into()))
        );
        assert_eq!(
            Previous::parse(" 0b6f-11ee-be56 "),
            Ok(Previous::Uid("0b6f-11ee-be56".into()))
        );
        for bad in ["", "a/b/c", "Apps/api", "/api", "a b"] {
            let refused = Previous::parse(bad).expect_err(bad);
            assert!(refused.contains("globalapi.io/adopt-from"), "{refused}");
        }
    }

    #[test]
    fn only_the_previous_owner_is_adopted_never_the_heir_or_others() {
        let heir = target(LATENCY);
        let by_owner = Previous::Owner(heir.owner());
        assert!(by_owner.owned(&heir, Some(&heir.owner()), Some("old-uid")));
        assert!(!by_owner.owned(&heir, Some(&heir.owner()), Some(&heir.uid)));
        assert!(!by_owner.owned(&heir, Some("other/api"), Some("old-uid")));
        assert!(!by_owner.owned(&heir, Some(&heir.owner()), None));
        let by_uid = Previous::Uid("old-uid".into());
        assert!(by_uid.owned(&heir, Some("moved/api"), Some("old-uid")));
        assert!(!by_uid.owned(&heir, Some(&heir.owner()), Some("another-uid")));
    }

    #[test]
    fn two_previous_identities_are_refused_naming_both() {
        let heir = target(LATENCY);
        let previous = Previous::Owner(heir.owner());
        let found = [item(&heir.owner(), "u1"), item(&heir.owner(), "u2")];
        let refused = refusal(&heir, &previous, &found).expect("refused");
        assert!(refused.contains("u1, u2"), "{refused}");
        assert_eq!(refusal(&heir, &previous, &found[..1]), None);
    }

    #[test]
    fn another_namespace_is_never_adopted() {
        let heir = target(LATENCY);
        let previous = Previous::Uid("u1".into());
        let refused = refusal(&heir, &previous, &[item("team-b/api", "u1")]).expect("refused");
        assert!(refused.contains("own namespace"), "{refused}");
        let own = format!("{}/old", heir.namespace);
        assert_eq!(refusal(&heir, &previous, &[item(&own, "u1")]), None);
    }

    #[test]
    fn a_change_shows_both_tags_moving() {
        let heir = target(LATENCY);
        let owner = format!("{}/old", heir.namespace);
        let line = item(&owner, "u1").change(&heir).to_string();
        assert!(line.contains(&owner) && line.contains(&heir.uid), "{line}");
    }
}
