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

pub mod model;

use crate::error::{Error, Result};
use crate::plan::{Change, Mode, Service};
use crate::target::Target;

use super::AwsClients;
pub use model::{Handle, Inherited, Previous, refusal};

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
