//! Leader election over a `coordination.k8s.io/v1` Lease, so that of
//! several replicas of the operator exactly one reconciles at a time.
//!
//! The protocol is the one of client-go's `leaderelection` package, with
//! plain get / create / replace calls; the Lease's `resourceVersion` makes
//! every write optimistic, so two candidates never both win a round:
//!
//! - A candidate reads the Lease. None exists: it creates one naming
//!   itself. The Lease names nobody (released): it takes it. The Lease
//!   names someone else: it takes it only once the Lease has stayed
//!   unchanged for the Lease's duration, measured on the candidate's own
//!   monotonic clock from when it first saw that version (so clock skew
//!   between machines does not matter). Otherwise it polls again after
//!   [`RETRY_PERIOD`].
//! - The holder renews every [`RENEW_PERIOD`]. When it has not managed to
//!   renew for [`RENEW_DEADLINE`] (shorter than the Lease's duration), or
//!   finds the Lease held by someone else, it has lost the lease and must
//!   stop reconciling before anyone else may start.
//! - A renewal counts from when its request was sent, never from when the
//!   answer came, and each round is cut at what is left of the deadline; so
//!   the holder gives up at most [`RENEW_DEADLINE`] after the last write the
//!   others can have seen, [`LEASE_DURATION`] − [`RENEW_DEADLINE`] before
//!   any of them may take over. Until then the [`Fence`] lets its AWS calls
//!   through, and not a moment longer.
//! - The Lease has a client of its own: short timeouts, no retries, so a
//!   slow API server costs a round, never the deadline.
//! - On a clean shutdown the holder releases the Lease (empty holder), so
//!   that a waiting replica takes over at its next poll.
//!
//! The decisions are pure functions ([`decide`], [`claimed`],
//! [`released`], [`Observer`]); [`LeaderElector`] only does the calls.

use std::time::Duration;

use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta},
    jiff::Timestamp,
};
use kube::{
    Api, Client,
    api::{PostParams, ResourceExt},
};
use tokio::{sync::oneshot, time::Instant};

use crate::aws::Fence;
use crate::error::{Error, Result};

/// The default name of the Lease.
pub const DEFAULT_LEASE: &str = "globalapi-operator";
/// How long a Lease stays valid after its last renewal.
pub(crate) const LEASE_DURATION: Duration = Duration::from_secs(15);
/// How often the holder renews the Lease.
pub(crate) const RENEW_PERIOD: Duration = Duration::from_secs(5);
/// How long the holder keeps leading without a successful renewal; shorter
/// than [`LEASE_DURATION`], so it stops before another replica may start.
pub const RENEW_DEADLINE: Duration = Duration::from_secs(10);
/// How often a waiting replica polls the Lease, and how soon a failed
/// renewal is tried again.
pub(crate) const RETRY_PERIOD: Duration = Duration::from_secs(2);

/// Where the Lease lives, who this replica is, and the timings.
#[derive(Clone, Debug)]
pub struct LeaderConfig {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease.
    pub lease: String,
    /// This replica's identity, written as `holderIdentity`.
    pub identity: String,
    /// Written as `leaseDurationSeconds`.
    pub lease_duration: Duration,
    /// See [`RENEW_PERIOD`].
    pub renew_period: Duration,
    /// See [`RENEW_DEADLINE`].
    pub renew_deadline: Duration,
    /// See [`RETRY_PERIOD`].
    pub retry_period: Duration,
}

impl LeaderConfig {
    /// The Lease `namespace/lease` with the default timings, for `identity`.
    pub fn new(namespace: impl Into<String>, lease: impl Into<String>, identity: String) -> Self {
        Self {
            namespace: namespace.into(),
            lease: lease.into(),
            identity,
            lease_duration: LEASE_DURATION,
            renew_period: RENEW_PERIOD,
            renew_deadline: RENEW_DEADLINE,
            retry_period: RETRY_PERIOD,
        }
    }
}

/// This replica's identity: `$POD_NAME` (or the host name) and a random
/// suffix, so that two processes on one host, or a restarted pod, are never
/// taken for one another.
pub fn identity() -> String {
    let base = std::env::var("POD_NAME")
        .ok()
        .filter(|n| !n.trim().is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
        })
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "globalapi".to_owned());
    format!("{}-{}", base.trim(), random_suffix())
}

/// Eight hex digits from the standard library's randomly seeded hasher,
/// mixed with the time and the process id.
fn random_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    hasher.write_u128(nanos);
    hasher.write_u32(std::process::id());
    format!("{:08x}", hasher.finish() & 0xffff_ffff)
}

/// What a candidate does after reading the Lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// There is no Lease: create it, naming this replica.
    Create,
    /// This replica holds the Lease: renew it.
    Renew,
    /// The Lease is free (released) or expired: take it.
    Acquire,
    /// Someone else holds a valid Lease: wait (`remaining` at most).
    Wait {
        /// The current holder.
        holder: String,
        /// How much longer the Lease is valid, as far as this replica knows.
        remaining: Duration,
    },
}

/// The Lease's `leaseDurationSeconds`, or `default` when missing or not positive.
pub(crate) fn lease_duration(spec: &LeaseSpec, default: Duration) -> Duration {
    spec.lease_duration_seconds
        .and_then(|s| u64::try_from(s).ok())
        .filter(|s| *s > 0)
        .map_or(default, Duration::from_secs)
}

/// The holder named by the Lease, if any (an empty name is nobody).
pub fn holder(spec: &LeaseSpec) -> Option<&str> {
    spec.holder_identity.as_deref().filter(|h| !h.is_empty())
}

/// The decision of `identity` about the Lease `lease` (`None`: there is
/// none), which this replica has seen unchanged for `unchanged_for`.
/// `default_duration` applies when the Lease states no duration.
pub(crate) fn decide(
    lease: Option<&LeaseSpec>,
    identity: &str,
    unchanged_for: Duration,
    default_duration: Duration,
) -> Decision {
    let Some(spec) = lease else {
        return Decision::Create;
    };
    match holder(spec) {
        None => Decision::Acquire,
        Some(h) if h == identity => Decision::Renew,
        Some(h) => {
            let duration = lease_duration(spec, default_duration);
            if unchanged_for >= duration {
                Decision::Acquire
            } else {
                Decision::Wait {
                    holder: h.to_owned(),
                    remaining: duration - unchanged_for,
                }
            }
        }
    }
}

/// The Lease spec after `identity` claims (acquires or renews) `current` at
/// `now`: holder, duration and renew time set; the acquire time and the
/// transition count move only when the holder changes.
pub(crate) fn claimed(
    current: Option<&LeaseSpec>,
    identity: &str,
    duration: Duration,
    now: Timestamp,
) -> LeaseSpec {
    let previous = current.cloned().unwrap_or_default();
    let renewing = holder(&previous) == Some(identity);
    let transitions = previous.lease_transitions.unwrap_or(0);
    let seconds = i32::try_from(duration.as_secs()).unwrap_or(i32::MAX).max(1);
    LeaseSpec {
        holder_identity: Some(identity.to_owned()),
        lease_duration_seconds: Some(seconds),
        acquire_time: if renewing && previous.acquire_time.is_some() {
            previous.acquire_time.clone()
        } else {
            Some(MicroTime(now))
        },
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(if renewing || current.is_none() {
            transitions
        } else {
            transitions.saturating_add(1)
        }),
        ..previous
    }
}

/// The Lease spec after its holder lets it go at `now`: nobody holds it, so
/// that a waiting replica takes it at once.
pub fn released(current: &LeaseSpec, now: Timestamp) -> LeaseSpec {
    LeaseSpec {
        holder_identity: None,
        lease_duration_seconds: Some(1),
        renew_time: Some(MicroTime(now)),
        ..current.clone()
    }
}

/// How long the Lease has stayed unchanged, on this replica's own clock:
/// the time since it first saw the Lease's current `resourceVersion`. Every
/// renewal writes the Lease, so an unchanged version means a silent holder.
#[derive(Debug, Default)]
pub(crate) struct Observer {
    last: Option<(String, Instant)>,
}

impl Observer {
    /// The Lease was read at `version` at `now`: how long it has been at
    /// that version (zero when the version is new).
    pub fn see(&mut self, version: &str, now: Instant) -> Duration {
        match &self.last {
            Some((seen, since)) if seen == version => now.saturating_duration_since(*since),
            _ => {
                self.last = Some((version.to_owned(), now));
                Duration::ZERO
            }
        }
    }
}

/// The result of one round of [`LeaderElector::try_acquire_or_renew`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Round {
    /// This replica holds the Lease.
    Leading,
    /// Someone else holds it.
    Waiting {
        /// The holder.
        holder: String,
    },
    /// Another replica wrote the Lease between the read and the write; read again.
    Raced,
}

/// One replica's side of the election.
pub(crate) struct LeaderElector {
    api: Api<Lease>,
    config: LeaderConfig,
    observer: Observer,
    fence: Fence,
}

impl LeaderElector {
    /// An elector for the Lease `config` names, over `client` (which should
    /// be the Lease's own: see [`lease_client`]); it opens `fence` while
    /// this replica may write and closes it when it may not.
    pub fn new(client: Client, config: LeaderConfig, fence: Fence) -> Self {
        Self {
            api: Api::namespaced(client, &config.namespace),
            config,
            observer: Observer::default(),
            fence,
        }
    }

    /// This replica's identity.
    pub fn identity(&self) -> &str {
        &self.config.identity
    }

    /// One round: read the Lease, decide, and create, take or renew it.
    pub(crate) async fn try_acquire_or_renew(&mut self) -> Result<Round> {
        let current = self.api.get_opt(&self.config.lease).await?;
        let unchanged_for = match &current {
            Some(lease) => self.observer.see(
                &lease.resource_version().unwrap_or_default(),
                Instant::now(),
            ),
            None => Duration::ZERO,
        };
        let empty = LeaseSpec::default();
        let spec = current.as_ref().map(|l| l.spec.as_ref().unwrap_or(&empty));
        let decision = decide(
            spec,
            &self.config.identity,
            unchanged_for,
            self.config.lease_duration,
        );
        let new_spec = claimed(
            spec,
            &self.config.identity,
            self.config.lease_duration,
            Timestamp::now(),
        );
        let previous = spec.and_then(holder).unwrap_or("(nobody)").to_owned();
        let written = match (decision, current) {
            (Decision::Wait { holder, .. }, _) => return Ok(Round::Waiting { holder }),
            (Decision::Create, _) | (_, None) => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.config.lease.clone()),
                        namespace: Some(self.config.namespace.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(new_spec),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
            (decision @ (Decision::Renew | Decision::Acquire), Some(mut lease)) => {
                if decision == Decision::Acquire {
                    tracing::info!(
                        lease = %self.config.lease,
                        previous = %previous,
                        "taking over the leader lease"
                    );
                }
                // The resourceVersion read above stays in the metadata: the
                // replace fails with 409 if anyone wrote in between.
                lease.spec = Some(new_spec);
                self.api
                    .replace(&self.config.lease, &PostParams::default(), &lease)
                    .await
            }
        };
        match written {
            Ok(lease) => {
                // Our own write is not a sign of life of another holder.
                if let Some(version) = lease.resource_version() {
                    self.observer.see(&version, Instant::now());
                }
                Ok(Round::Leading)
            }
            Err(kube::Error::Api(status)) if status.is_conflict() || status.is_already_exists() => {
                Ok(Round::Raced)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Polls until this replica holds the Lease; returns when the winning
    /// request was sent (the renewal time). Errors of the API server are
    /// logged and retried, except a refusal (401/403): without the
    /// permission to write Leases this replica could never lead.
    pub(crate) async fn acquire(&mut self) -> Result<Instant> {
        let mut waiting_for: Option<String> = None;
        loop {
            let sent = Instant::now();
            let round =
                tokio::time::timeout(self.config.renew_deadline, self.try_acquire_or_renew()).await;
            match round {
                Ok(Ok(Round::Leading)) => {
                    self.fence.open_until(sent + self.config.renew_deadline);
                    tracing::info!(
                        identity = %self.config.identity,
                        lease = %format!("{}/{}", self.config.namespace, self.config.lease),
                        "became the leader"
                    );
                    return Ok(sent);
                }
                Ok(Ok(Round::Waiting { holder })) => {
                    if waiting_for.as_deref() != Some(holder.as_str()) {
                        tracing::info!(holder = %holder, "another replica leads; waiting for the lease");
                        waiting_for = Some(holder);
                    }
                }
                Ok(Ok(Round::Raced)) => {}
                Ok(Err(Error::Kube(kube::Error::Api(status))))
                    if status.is_forbidden() || status.code == 401 =>
                {
                    return Err(Error::Kube(kube::Error::Api(status)));
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "reading the leader lease failed"),
                Err(_) => tracing::warn!("reading the leader lease timed out"),
            }
            tokio::time::sleep(self.config.retry_period).await;
        }
    }

    /// Keeps the Lease renewed, `renewed` being when the last successful
    /// round was sent. Returns `Ok` after `stop` fires (or its sender is
    /// dropped), having released the Lease; returns an error as soon as the
    /// Lease is lost: held by someone else, or not renewed within the renew
    /// deadline. Either way the fence is closed first.
    pub async fn hold(mut self, renewed: Instant, stop: oneshot::Receiver<()>) -> Result<()> {
        let mut deadline = renewed + self.config.renew_deadline;
        let mut wait = self.config.renew_period;
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => {
                    self.fence.close();
                    self.release().await;
                    return Ok(());
                }
                () = tokio::time::sleep_until((Instant::now() + wait).min(deadline)) => {}
            }
            let sent = Instant::now();
            let round = tokio::time::timeout_at(deadline, self.try_acquire_or_renew()).await;
            match round {
                Ok(Ok(Round::Leading)) => {
                    deadline = sent + self.config.renew_deadline;
                    self.fence.open_until(deadline);
                    wait = self.config.renew_period;
                }
                Ok(Ok(Round::Waiting { holder })) => {
                    self.fence.close();
                    return Err(lost(format!("the lease is now held by {holder}")));
                }
                Ok(Ok(Round::Raced)) => wait = self.config.retry_period,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "renewing the leader lease failed");
                    wait = self.config.retry_period;
                }
                Err(_) => tracing::warn!("renewing the leader lease did not finish in time"),
            }
            if Instant::now() >= deadline {
                self.fence.close();
                return Err(lost(format!(
                    "not renewed within {}s",
                    self.config.renew_deadline.as_secs()
                )));
            }
        }
    }

    /// Gives the Lease up if this replica still holds it; a failure is
    /// only logged (the Lease then expires by itself).
    pub async fn release(&mut self) {
        let result = async {
            let Some(mut lease) = self.api.get_opt(&self.config.lease).await? else {
                return Ok::<bool, Error>(false);
            };
            let Some(spec) = lease.spec.as_ref() else {
                return Ok(false);
            };
            if holder(spec) != Some(self.config.identity.as_str()) {
                return Ok(false);
            }
            lease.spec = Some(released(spec, Timestamp::now()));
            self.api
                .replace(&self.config.lease, &PostParams::default(), &lease)
                .await?;
            Ok(true)
        }
        .await;
        match result {
            Ok(true) => tracing::info!(lease = %self.config.lease, "released the leader lease"),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "releasing the leader lease failed"),
        }
    }
}

/// The error that ends a replica that lost the lease.
fn lost(why: String) -> Error {
    Error::LeaseLost(why)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn held_by(holder: &str, seconds: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.to_owned()),
            lease_duration_seconds: Some(seconds),
            lease_transitions: Some(3),
            acquire_time: Some(MicroTime(Timestamp::UNIX_EPOCH)),
            renew_time: Some(MicroTime(Timestamp::UNIX_EPOCH)),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn no_lease_is_created_and_a_free_one_is_taken() {
        assert_eq!(decide(None, "me", Duration::ZERO, 15 * S), Decision::Create);
        let free = LeaseSpec::default();
        assert_eq!(
            decide(Some(&free), "me", Duration::ZERO, 15 * S),
            Decision::Acquire
        );
        let released = released(&held_by("other", 15), Timestamp::UNIX_EPOCH);
        assert_eq!(
            decide(Some(&released), "me", Duration::ZERO, 15 * S),
            Decision::Acquire
        );
        let empty_name = LeaseSpec {
            holder_identity: Some(String::new()),
            ..LeaseSpec::default()
        };
        assert_eq!(
            decide(Some(&empty_name), "me", Duration::ZERO, 15 * S),
            Decision::Acquire
        );
    }

    #[test]
    fn my_own_lease_is_renewed_even_when_late() {
        let mine = held_by("me", 15);
        assert_eq!(decide(Some(&mine), "me", 60 * S, 15 * S), Decision::Renew);
    }

    #[test]
    fn another_holder_is_waited_for_until_expiry() {
        let theirs = held_by("other", 15);
        assert_eq!(
            decide(Some(&theirs), "me", 4 * S, 15 * S),
            Decision::Wait {
                holder: "other".into(),
                remaining: 11 * S
            }
        );
        assert_eq!(
            decide(Some(&theirs), "me", 15 * S, 15 * S),
            Decision::Acquire
        );
        // The Lease's own duration counts, not the candidate's default.
        let long = held_by("other", 60);
        assert!(matches!(
            decide(Some(&long), "me", 30 * S, 15 * S),
            Decision::Wait { .. }
        ));
        // Without a (positive) duration the default applies.
        let mut none = held_by("other", 0);
        assert_eq!(decide(Some(&none), "me", 15 * S, 15 * S), Decision::Acquire);
        none.lease_duration_seconds = None;
        assert!(matches!(
            decide(Some(&none), "me", 14 * S, 15 * S),
            Decision::Wait { .. }
        ));
    }

    #[test]
    fn unchanged_time_counts_from_the_first_sight_of_a_version() {
        let mut observer = Observer::default();
        let t0 = Instant::now();
        assert_eq!(observer.see("1", t0), Duration::ZERO);
        assert_eq!(observer.see("1", t0 + 7 * S), 7 * S);
        // A renewal (new version) restarts the count.
        assert_eq!(observer.see("2", t0 + 8 * S), Duration::ZERO);
        assert_eq!(observer.see("2", t0 + 23 * S), 15 * S);
    }

    #[test]
    fn claiming_sets_the_holder_and_counts_transitions() {
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().expect("timestamp");
        let created = claimed(None, "me", 15 * S, now);
        assert_eq!(created.holder_identity.as_deref(), Some("me"));
        assert_eq!(created.lease_duration_seconds, Some(15));
        assert_eq!(created.lease_transitions, Some(0));
        assert_eq!(created.acquire_time, Some(MicroTime(now)));
        assert_eq!(created.renew_time, Some(MicroTime(now)));

        let renewed = claimed(Some(&held_by("me", 15)), "me", 15 * S, now);
        assert_eq!(
            renewed.acquire_time,
            Some(MicroTime(Timestamp::UNIX_EPOCH)),
            "renewing keeps the acquire time"
        );
        assert_eq!(renewed.renew_time, Some(MicroTime(now)));
        assert_eq!(renewed.lease_transitions, Some(3));

        let taken = claimed(Some(&held_by("other", 15)), "me", 15 * S, now);
        assert_eq!(taken.holder_identity.as_deref(), Some("me"));
        assert_eq!(taken.acquire_time, Some(MicroTime(now)));
        assert_eq!(taken.lease_transitions, Some(4));
    }

    #[test]
    fn releasing_names_nobody() {
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().expect("timestamp");
        let spec = released(&held_by("me", 15), now);
        assert_eq!(holder(&spec), None);
        assert_eq!(spec.lease_duration_seconds, Some(1));
        assert_eq!(spec.renew_time, Some(MicroTime(now)));
        assert_eq!(spec.lease_transitions, Some(3));
    }

    #[test]
    fn identities_differ_per_process_start() {
        let a = identity();
        let b = identity();
        assert_ne!(a, b);
        let suffix = a.rsplit('-').next().unwrap_or_default();
        assert_eq!(suffix.len(), 8, "{a}");
        assert!(suffix.chars().all(|c| c.is_ascii_hexdigit()), "{a}");
    }

    #[test]
    fn the_renew_deadline_ends_before_the_lease() {
        let config = LeaderConfig::new("ns", DEFAULT_LEASE, "me".into());
        assert!(config.renew_period < config.renew_deadline);
        assert!(config.renew_deadline < config.lease_duration);
        assert!(config.retry_period < config.renew_period);
    }
}
