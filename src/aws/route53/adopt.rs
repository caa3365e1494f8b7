//! Adoption in Route 53: the ownership records of the spec's names and the
//! health checks that the previous owner holds. An ownership record is
//! re-claimed by deleting the previous owner's and creating the heir's in
//! one batch, so that it fails if anyone changed it meanwhile.

use crate::aws::AwsClients;
use crate::aws::adoption::model::{Handle, Inherited, Previous};
use crate::error::Result;
use crate::plan::Service;
use crate::target::{OWNER_TAG, Target, UID_TAG};

use super::diff::RecordOp;
use super::ownership::{owned_name, owner_record, parse_owner};
use super::record::{Record, RecordValue};

/// The previous owner's ownership records (of the spec's names and the
/// names under them) and health checks.
pub async fn find(
    clients: &AwsClients,
    heir: &Target,
    previous: &Previous,
) -> Result<Vec<Inherited>> {
    let client = clients.route53();
    let shared = &clients.listings().route53;
    let zone_id = super::zone_id(clients, heir).await?;
    let names = [heir.spec.domain.clone(), heir.origin_domain()];
    let ours = |name: &str| {
        names
            .iter()
            .any(|n| name == n || name.ends_with(&format!(".{n}")))
    };
    let mut found = Vec::new();
    {
        let zone = shared.zone_records(&client, &zone_id, None).await?;
        for record in zone.records() {
            let Some(name) = owned_name(record) else {
                continue;
            };
            let Some((owner, uid)) = parse_owner(record) else {
                continue;
            };
            if ours(name) && previous.owned(heir, Some(&owner), Some(&uid)) {
                found.push(Inherited {
                    service: Service::Route53,
                    region: None,
                    kind: "record",
                    resource: format!("{} TXT", record.key.name),
                    owner: Some(owner),
                    uid,
                    handle: Handle::OwnershipRecord {
                        zone_id: zone_id.clone(),
                        record: record.clone(),
                    },
                });
            }
        }
    }
    let listing = shared.health_checks(&client, None).await?;
    for check in listing.checks() {
        let owner = check.tags.get(OWNER_TAG).map(String::as_str);
        let uid = check.tags.get(UID_TAG).map(String::as_str);
        if previous.owned(heir, owner, uid) {
            found.push(Inherited {
                service: Service::Route53,
                region: None,
                kind: "health-check",
                resource: check.id.clone(),
                owner: owner.map(str::to_owned),
                uid: uid.unwrap_or_default().to_owned(),
                handle: Handle::HealthCheck {
                    id: check.id.clone(),
                },
            });
        }
    }
    Ok(found)
}

/// Replaces the previous owner's ownership record `old` with the heir's.
pub(crate) async fn reclaim(
    clients: &AwsClients,
    heir: &Target,
    zone_id: &str,
    old: &Record,
) -> Result<()> {
    let Some(name) = owned_name(old) else {
        return Ok(());
    };
    let ttl = match &old.value {
        RecordValue::Values { ttl, .. } => *ttl,
        RecordValue::Alias { .. } => 300,
    };
    let ops = [
        RecordOp::Delete(old.clone()),
        RecordOp::Upsert {
            record: owner_record(heir, name, ttl),
            observed: None,
        },
    ];
    let client = clients.route53();
    let mut zone = clients
        .listings()
        .route53
        .zone_records(&client, zone_id, None)
        .await?;
    super::write_records(&client, &mut zone, zone_id, &ops).await
}

/// Tags the health check as the heir's (its region tag stays).
pub(crate) async fn retag_health_check(
    clients: &AwsClients,
    heir: &Target,
    id: &str,
) -> Result<()> {
    super::apply::add_health_check_tags(&clients.route53(), id, heir.tags()).await?;
    clients.listings().route53.forget_health_checks().await;
    Ok(())
}
