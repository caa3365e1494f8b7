//! Listings kept for a while and shared by every GlobalApi one process
//! reconciles, and answers kept between passes: the generic part, which
//! knows no service (each service's listings are in `shared.rs`).
//!
//! Many GlobalApis usually live in one account. Each pass of each object
//! would otherwise list every certificate, REST API, custom domain and
//! distribution of the account to find its own, so that one resync round
//! costs the square of the number of objects. Instead, a listing is kept
//! for a short while and serves every object whose pass comes by.
//!
//! A kept listing is used only when it is younger than `max_age` and was
//! started after the asking object's previous pass ended, so sharing never
//! hides from an object a change it would have seen on its own. An object
//! that changes something a listing shows drops that listing (or, for the
//! Route 53 zone, writes its change into it), so its next pass sees its own
//! work. With a `max_age` of zero (the command line) every step lists.

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use tokio::sync::Mutex as AsyncMutex;

use crate::error::Result;

/// One listing and when it was started.
#[derive(Debug)]
pub(crate) struct Listing<T> {
    pub started: SystemTime,
    pub items: T,
}

impl<T> Listing<T> {
    /// Young enough, and newer than what the asking object saw last.
    pub(crate) fn usable(
        &self,
        max_age: Duration,
        fresher_than: Option<SystemTime>,
        now: SystemTime,
    ) -> bool {
        let young = now
            .duration_since(self.started)
            .is_ok_and(|age| age < max_age);
        young && fresher_than.is_none_or(|t| self.started >= t)
    }
}

/// A listing's place: empty, or the last listing.
pub(crate) type Slot<T> = Arc<AsyncMutex<Option<Listing<T>>>>;

/// Listings of one kind, one per key (a region).
#[derive(Debug)]
pub struct SharedListing<T> {
    max_age: Duration,
    slots: Mutex<HashMap<String, Slot<Arc<T>>>>,
}

impl<T> SharedListing<T> {
    pub fn new(max_age: Duration) -> Self {
        Self {
            max_age,
            slots: Mutex::default(),
        }
    }

    fn slot(&self, key: &str) -> Slot<Arc<T>> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.entry(key.to_owned()).or_default().clone()
    }

    /// The listing of `key`: the kept one if usable, else `list()`'s. One
    /// listing at a time per key: others asking meanwhile wait for it.
    pub async fn get<F, Fut>(
        &self,
        key: &str,
        fresher_than: Option<SystemTime>,
        list: F,
    ) -> Result<Arc<T>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let slot = self.slot(key);
        let mut kept = slot.lock().await;
        let now = SystemTime::now();
        if let Some(listing) = kept.as_ref()
            && listing.usable(self.max_age, fresher_than, now)
        {
            return Ok(listing.items.clone());
        }
        *kept = None;
        let items = Arc::new(list().await?);
        if !self.max_age.is_zero() {
            *kept = Some(Listing {
                started: now,
                items: items.clone(),
            });
        }
        Ok(items)
    }

    /// We changed what the listing of `key` shows: the next asker lists.
    pub(crate) async fn forget(&self, key: &str) {
        *self.slot(key).lock().await = None;
    }
}

/// Answers that do not change once given, by key, as last read, and read
/// again after `keep` (in case they did): the uid tag of each certificate
/// and of each of our alarms (our tags are set when they are created), and
/// the spec hash in the description of each deployment (a deployment is a
/// snapshot). A kept answer saves a `ListTagsForCertificate`, a
/// `ListTagsForResource` or a `GetDeployment` per object, region and pass.
#[derive(Debug)]
pub struct KeptAnswers {
    keep: Duration,
    owners: Mutex<HashMap<String, (SystemTime, Option<String>)>>,
}

impl KeptAnswers {
    pub fn new(keep: Duration) -> Self {
        Self {
            keep,
            owners: Mutex::default(),
        }
    }

    /// The answer for `key` (`None` inside: there was none), if read recently.
    pub fn get(&self, key: &str) -> Option<Option<String>> {
        let owners = self.owners.lock().ok()?;
        let (read, owner) = owners.get(key)?;
        let young = SystemTime::now()
            .duration_since(*read)
            .is_ok_and(|age| age < self.keep);
        young.then(|| owner.clone())
    }

    /// The answer for `key` was just read.
    pub fn found(&self, key: &str, owner: Option<String>) {
        if self.keep.is_zero() {
            return;
        }
        if let Ok(mut owners) = self.owners.lock() {
            let now = SystemTime::now();
            owners.retain(|_, (read, _)| now.duration_since(*read).is_ok_and(|a| a < self.keep));
            owners.insert(key.to_owned(), (now, owner));
        }
    }
}

/// Kept answers are read again after this many listing ages: an hour with
/// the default 30 s listings, longer than any usual resync. (Ten ages, 300 s,
/// ran out just before each resync at the default `resyncSeconds: 300`, so
/// that every resync read every tag and deployment again: the N = 1000
/// bench measured 2 `ListTagsForCertificate` and 2 `GetDeployment` per
/// object and resync, and 0.4 `ListTagsForResources`.)
pub(crate) const TAG_REREAD_FACTOR: u32 = 120;

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn a_listing_serves_while_young_and_newer_than_the_asker_last_saw() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let listing = Listing {
            started: t0,
            items: (),
        };
        let max_age = Duration::from_secs(30);
        let at = |s| t0 + Duration::from_secs(s);
        assert!(listing.usable(max_age, None, at(29)));
        assert!(!listing.usable(max_age, None, at(30)), "too old");
        assert!(
            listing.usable(max_age, Some(at(0)), at(10)),
            "started when the asker's last pass ended"
        );
        assert!(
            !listing.usable(max_age, Some(at(1)), at(10)),
            "the asker's last pass ended after it started"
        );
        assert!(!listing.usable(Duration::ZERO, None, t0), "keeping is off");
    }

    #[tokio::test]
    async fn one_listing_serves_until_forgotten_or_outdated_for_the_asker() {
        let shared: SharedListing<u32> = SharedListing::new(Duration::from_secs(600));
        let calls = AtomicU32::new(0);
        let list = || async { Ok(calls.fetch_add(1, Ordering::SeqCst) + 1) };
        assert_eq!(*shared.get("eu-west-1", None, list).await.unwrap(), 1);
        assert_eq!(*shared.get("eu-west-1", None, list).await.unwrap(), 1);
        assert_eq!(*shared.get("us-east-1", None, list).await.unwrap(), 2);
        shared.forget("eu-west-1").await;
        assert_eq!(*shared.get("eu-west-1", None, list).await.unwrap(), 3);
        let later = SystemTime::now() + Duration::from_secs(1);
        assert_eq!(
            *shared.get("eu-west-1", Some(later), list).await.unwrap(),
            4
        );

        let off: SharedListing<u32> = SharedListing::new(Duration::ZERO);
        let owners = KeptAnswers::new(Duration::from_secs(300));
        assert_eq!(owners.get("arn:1"), None);
        owners.found("arn:1", Some("uid".into()));
        owners.found("arn:2", None);
        assert_eq!(owners.get("arn:1"), Some(Some("uid".into())));
        assert_eq!(owners.get("arn:2"), Some(None));
        let forgetful = KeptAnswers::new(Duration::ZERO);
        forgetful.found("arn:1", Some("uid".into()));
        assert_eq!(forgetful.get("arn:1"), None);
        assert_eq!(*off.get("eu-west-1", None, list).await.unwrap(), 5);
        assert_eq!(*off.get("eu-west-1", None, list).await.unwrap(), 6);
    }
}
