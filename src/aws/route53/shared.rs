//! Route 53 listings shared by every GlobalApi one process reconciles.
//!
//! Many GlobalApis usually live in one hosted zone. Listing the zone's
//! records and the account's health checks once per object and pass would
//! cost each object as many reads as the zone has pages; instead each zone's
//! listing (and the health check listing) is kept for a short while and
//! serves every object whose pass comes by, and the operator's own writes
//! are applied to the kept listing as they succeed.
//!
//! A kept listing is used only when it is younger than `max_age` and was
//! started after the object's previous pass ended, so that sharing never
//! hides from an object a change it would have seen on its own. With a
//! `max_age` of zero (the command line) every step lists afresh.
//!
//! The zone's lock is held from reading its records until its batch is
//! written, so two objects of one process never decide on the same names
//! at once (two GlobalApis claiming one domain: the second sees the
//! first's ownership record).

use std::{
    collections::{BTreeMap, HashMap},
    sync::Mutex,
    time::{Duration, SystemTime},
};

use aws_sdk_route53::Client;
use tokio::sync::OwnedMutexGuard;

use crate::aws::listing::{Listing, SharedListing, Slot, TAG_REREAD_FACTOR};
use crate::error::Result;

use super::diff::RecordOp;
use super::observe::{self, ListedHealthCheck};
use super::record::Record;

/// The Route 53 listings of one process.
#[derive(Debug)]
pub struct Route53Listings {
    max_age: Duration,
    /// Hosted zone ids by zone name.
    pub zone_ids: SharedListing<String>,
    zones: Mutex<HashMap<String, Slot<Vec<Record>>>>,
    health_checks: Slot<Vec<ListedHealthCheck>>,
    /// When every health check's tags were last read from AWS.
    tags_read: Mutex<Option<SystemTime>>,
}

impl Route53Listings {
    /// Listings kept for `max_age`; zero keeps none.
    pub fn new(max_age: Duration) -> Self {
        Self {
            max_age,
            zone_ids: SharedListing::new(max_age),
            zones: Mutex::default(),
            health_checks: Slot::default(),
            tags_read: Mutex::default(),
        }
    }

    /// The records of `zone_id`, locked for the caller until the returned
    /// value is dropped; listed afresh unless a kept listing is usable.
    pub async fn zone_records(
        &self,
        client: &Client,
        zone_id: &str,
        fresher_than: Option<SystemTime>,
    ) -> Result<ZoneRecords> {
        let slot = {
            let mut zones = self.zones.lock().unwrap_or_else(|e| e.into_inner());
            zones.entry(zone_id.to_owned()).or_default().clone()
        };
        let mut guard = slot.lock_owned().await;
        let usable = guard
            .as_ref()
            .is_some_and(|l| l.usable(self.max_age, fresher_than, SystemTime::now()));
        if !usable {
            *guard = None;
            let started = SystemTime::now();
            let items = observe::records(client, zone_id).await?;
            *guard = Some(Listing { started, items });
        }
        Ok(ZoneRecords { guard })
    }

    /// Every health check that could be ours, locked for the caller until
    /// the returned value is dropped; listed afresh unless a kept listing
    /// is usable.
    pub async fn health_checks(
        &self,
        client: &Client,
        fresher_than: Option<SystemTime>,
    ) -> Result<HealthCheckListing> {
        let mut guard = self.health_checks.clone().lock_owned().await;
        let now = SystemTime::now();
        let usable = guard
            .as_ref()
            .is_some_and(|l| l.usable(self.max_age, fresher_than, now));
        if !usable {
            // Tags are ours and change only through us (and then the kept
            // listing is patched): they are read again only now and then.
            let tags_young = self
                .tags_read
                .lock()
                .ok()
                .and_then(|t| *t)
                .is_some_and(|t| {
                    now.duration_since(t)
                        .is_ok_and(|age| age < self.max_age * TAG_REREAD_FACTOR)
                });
            let known: HashMap<String, BTreeMap<String, String>> = match guard.take() {
                Some(listing) if tags_young => {
                    listing.items.into_iter().map(|h| (h.id, h.tags)).collect()
                }
                _ => HashMap::new(),
            };
            let items = observe::listed_health_checks_knowing(client, &known).await?;
            if known.is_empty()
                && let Ok(mut t) = self.tags_read.lock()
            {
                *t = Some(now);
            }
            *guard = Some(Listing {
                started: now,
                items,
            });
        }
        Ok(HealthCheckListing { guard })
    }

    /// The health checks' tags changed: the next asker lists them afresh.
    pub(crate) async fn forget_health_checks(&self) {
        *self.health_checks.lock().await = None;
    }

    /// Health checks deleted by us (`ok`), or a delete that failed half way
    /// (`!ok`: the listing is dropped).
    pub(crate) async fn health_checks_deleted(&self, ids: &[String], ok: bool) {
        let mut guard = self.health_checks.lock().await;
        match guard.as_mut() {
            Some(listing) if ok => listing.items.retain(|h| !ids.contains(&h.id)),
            _ => *guard = None,
        }
    }
}

/// A zone's records, held under the zone's lock.
pub struct ZoneRecords {
    guard: OwnedMutexGuard<Option<Listing<Vec<Record>>>>,
}

impl ZoneRecords {
    pub fn records(&self) -> &[Record] {
        self.guard.as_ref().map_or(&[], |l| l.items.as_slice())
    }

    /// A batch we wrote went through: the listing now holds it too.
    pub fn written(&mut self, ops: &[RecordOp]) {
        if let Some(listing) = self.guard.as_mut() {
            apply_ops(&mut listing.items, ops);
        }
    }

    /// A write failed or was cut short: what the zone holds is unknown.
    pub(crate) fn forget(&mut self) {
        *self.guard = None;
    }
}

/// The health checks that could be ours, held under the listing's lock.
pub struct HealthCheckListing {
    guard: OwnedMutexGuard<Option<Listing<Vec<ListedHealthCheck>>>>,
}

impl HealthCheckListing {
    pub fn checks(&self) -> &[ListedHealthCheck] {
        self.guard.as_ref().map_or(&[], |l| l.items.as_slice())
    }

    pub fn get(&self, id: &str) -> Option<&ListedHealthCheck> {
        self.checks().iter().find(|h| h.id == id)
    }

    /// We created or changed `check`: the listing now shows it so.
    pub fn written(&mut self, check: ListedHealthCheck) {
        if let Some(listing) = self.guard.as_mut() {
            listing.items.retain(|h| h.id != check.id);
            listing.items.push(check);
        }
    }

    /// A write failed or was cut short: what exists is unknown.
    pub(crate) fn forget(&mut self) {
        *self.guard = None;
    }
}

/// `records` after a batch of `ops` went through (pure). Applying a batch
/// that the listing already shows changes nothing.
pub(crate) fn apply_ops(records: &mut Vec<Record>, ops: &[RecordOp]) {
    for op in ops {
        match op {
            RecordOp::Upsert { record, .. } => {
                match records.iter_mut().find(|r| r.key == record.key) {
                    Some(existing) => *existing = record.clone(),
                    None => records.push(record.clone()),
                }
            }
            RecordOp::Delete(record) => records.retain(|r| r.key != record.key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::route53::{RecordKey, RecordValue, Routing};

    fn record(name: &str, value: &str) -> Record {
        Record {
            key: RecordKey {
                name: name.into(),
                record_type: "CNAME".into(),
                set_identifier: None,
            },
            routing: Routing::Simple,
            health_check_id: None,
            value: RecordValue::Values {
                ttl: 60,
                values: vec![value.into()],
            },
        }
    }

    #[test]
    fn written_batches_patch_the_listing_and_repeat_harmlessly() {
        let mut records = vec![record("a.example.com", "x"), record("b.example.com", "y")];
        let ops = vec![
            RecordOp::Upsert {
                record: record("a.example.com", "x2"),
                observed: Some(record("a.example.com", "x")),
            },
            RecordOp::Upsert {
                record: record("c.example.com", "z"),
                observed: None,
            },
            RecordOp::Delete(record("b.example.com", "y")),
        ];
        apply_ops(&mut records, &ops);
        let expected = vec![record("a.example.com", "x2"), record("c.example.com", "z")];
        assert_eq!(records, expected);
        apply_ops(&mut records, &ops);
        assert_eq!(records, expected, "a listing that already shows the batch");
    }
}
