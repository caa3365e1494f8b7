//! The account's AWS control-plane budgets: each documented request rate
//! (`quotas.json`) as a token bucket that this process paces its calls into,
//! instead of learning the rate from AWS's throttling.
//!
//! A call is *admitted* at the earliest instant every bucket that covers it
//! has a token (a reservation: the buckets are charged at once, so callers
//! are served in the order they asked). A short wait is waited where the
//! call is made; a long one (a `CreateDomainName` queue of 1 per 30 s) is
//! not: the call is refused with [`Deferred`], the slot stays reserved for
//! the object that asked (a *ticket*), and the object is requeued for the
//! instant its ticket comes due, without holding a reconcile slot.
//!
//! Resyncs of Ready objects may use at most [`BudgetConfig::resync_share`]
//! of each rate (a second, slower bucket they also take from), so first
//! passes and spec changes always find the rest.
//!
//! Several operator deployments (label-selector shards) of one account each
//! take their `share` of every rate and burst: their sum stays inside AWS's.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde::Deserialize;
use tokio::time::Instant;

/// The table of rates and limits, shared with the local AWS front.
const TABLE: &str = include_str!("quotas.json");

/// Whom a bucket is per.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// One bucket per account (Route 53: its API is global).
    Account,
    /// One bucket per account and region.
    Region,
}

/// One documented rate.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct BucketSpec {
    /// The SigV4 signing name: `apigateway`, `route53`, …
    pub service: String,
    pub scope: Scope,
    /// `"*"` or a list of operation names.
    #[serde(deserialize_with = "operations")]
    pub operations: Option<Vec<String>>,
    /// With `"*"`: operations that have buckets of their own only.
    #[serde(default)]
    pub except: Vec<String>,
    pub requests: f64,
    pub per_seconds: f64,
    pub burst: f64,
    #[serde(default)]
    pub source: String,
}

fn operations<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Ops {
        All(String),
        Only(Vec<String>),
    }
    match Ops::deserialize(d)? {
        Ops::All(s) if s == "*" => Ok(None),
        Ops::All(s) => Ok(Some(vec![s])),
        Ops::Only(v) => Ok(Some(v)),
    }
}

impl BucketSpec {
    fn covers(&self, service: &str, operation: &str) -> bool {
        self.service == service
            && match &self.operations {
                None => !self.except.iter().any(|e| e == operation),
                Some(ops) => ops.iter().any(|o| o == operation),
            }
    }

    /// Time between two tokens.
    fn interval(&self) -> Duration {
        Duration::from_secs_f64((self.per_seconds / self.requests.max(1e-9)).max(1e-6))
    }

    /// How far ahead of the steady rate a burst may run.
    fn tolerance(&self) -> Duration {
        self.interval().mul_f64((self.burst - 1.0).max(0.0))
    }

    /// `"1 per 30 s"`, `"10/s (burst 40)"`.
    pub(crate) fn rate_text(&self) -> String {
        let rate = if (self.per_seconds - 1.0).abs() < 1e-9 {
            format!("{}/s", trim(self.requests))
        } else {
            format!("{} per {} s", trim(self.requests), trim(self.per_seconds))
        };
        if self.burst > self.requests + 1e-9 {
            format!("{rate} (burst {})", trim(self.burst))
        } else {
            rate
        }
    }
}

fn trim(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[derive(Deserialize)]
struct TableFile {
    buckets: Vec<BucketSpec>,
}

/// AWS's documented rates (the defaults).
pub fn documented() -> Vec<BucketSpec> {
    // The table is compiled in and checked by a unit test.
    serde_json::from_str::<TableFile>(TABLE)
        .map(|t| t.buckets)
        .unwrap_or_default()
}

/// A rate given on the command line for a raised quota:
/// `SERVICE[:OPERATION]=REQUESTS/SECONDS[,BURST]`, e.g.
/// `apigateway:CreateDomainName=2/30` or `route53=10/1,20`.
#[derive(Clone, Debug, PartialEq)]
pub struct RateOverride {
    pub service: String,
    pub operation: Option<String>,
    pub requests: f64,
    pub per_seconds: f64,
    pub burst: Option<f64>,
}

impl std::str::FromStr for RateOverride {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = || {
            format!(
                "`{s}`: expected SERVICE[:OPERATION]=REQUESTS/SECONDS[,BURST], e.g. apigateway:CreateDomainName=2/30"
            )
        };
        let (key, value) = s.split_once('=').ok_or_else(usage)?;
        let (service, operation) = match key.split_once(':') {
            Some((s, o)) => (s.trim(), Some(o.trim().to_owned())),
            None => (key.trim(), None),
        };
        let (rate, burst) = match value.split_once(',') {
            Some((r, b)) => (r, Some(b.trim().parse::<f64>().map_err(|_| usage())?)),
            None => (value, None),
        };
        let (requests, per_seconds) = rate.split_once('/').ok_or_else(usage)?;
        let requests: f64 = requests.trim().parse().map_err(|_| usage())?;
        let per_seconds: f64 = per_seconds
            .trim()
            .trim_end_matches('s')
            .parse()
            .map_err(|_| usage())?;
        if service.is_empty()
            || requests <= 0.0
            || per_seconds <= 0.0
            || burst.is_some_and(|b| b < 1.0)
        {
            return Err(usage());
        }
        Ok(Self {
            service: service.to_owned(),
            operation,
            requests,
            per_seconds,
            burst,
        })
    }
}

/// How the process uses the account's budgets.
#[derive(Clone, Debug)]
pub struct BudgetConfig {
    /// Raised quotas, replacing the documented rate of the same service
    /// and operation (or adding one).
    pub overrides: Vec<RateOverride>,
    /// This process's fraction of every rate and burst (several shards of
    /// one account: 1 / shards).
    pub share: f64,
    /// Every rate multiplied by this (an account whose quotas are all
    /// raised alike, or an emulator run faster).
    pub scale: f64,
    /// The longest wait a call waits where it is made; a longer one defers
    /// the object's pass.
    pub max_inline_wait: Duration,
    /// The fraction of each rate that resyncs of Ready objects may use.
    pub resync_share: f64,
    /// The fraction of each rate this process aims at: calls paced at
    /// exactly AWS's rate arrive closer together than it now and then (the
    /// network's jitter) and are throttled. Below 1, one token of every burst
    /// of two or more is kept in reserve for the same reason: a burst sent
    /// whole meets AWS's bucket exactly empty.
    pub headroom: f64,
    /// The least time between two calls of a bucket of one token beyond
    /// its rate, when `headroom` is below 1: the network's jitter does not
    /// shrink with the interval, and a call that overtakes the one before
    /// it on the way finds the bucket empty.
    pub jitter: Duration,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self {
            overrides: Vec::new(),
            share: 1.0,
            scale: 1.0,
            max_inline_wait: Duration::from_secs(5),
            resync_share: 0.5,
            headroom: 0.9,
            jitter: Duration::from_millis(500),
        }
    }
}

impl BudgetConfig {
    /// The buckets in force: the documented ones with overrides, scale and share applied.
    pub fn buckets(&self) -> Vec<BucketSpec> {
        let mut buckets = documented();
        for o in &self.overrides {
            let found = buckets.iter_mut().find(|b| {
                b.service == o.service
                    && match (&o.operation, &b.operations) {
                        (None, None) => true,
                        (Some(op), Some(ops)) => ops.len() == 1 && ops[0] == *op,
                        _ => false,
                    }
            });
            let burst = o.burst.unwrap_or(o.requests.max(1.0));
            match found {
                Some(b) => {
                    b.requests = o.requests;
                    b.per_seconds = o.per_seconds;
                    b.burst = burst;
                    b.source = "--aws-rate".into();
                }
                None => buckets.push(BucketSpec {
                    service: o.service.clone(),
                    scope: Scope::Region,
                    operations: o.operation.clone().map(|op| vec![op]),
                    except: Vec::new(),
                    requests: o.requests,
                    per_seconds: o.per_seconds,
                    burst,
                    source: "--aws-rate".into(),
                }),
            }
        }
        let share = self.share.clamp(1e-3, 1.0);
        let headroom = self.headroom.clamp(0.1, 1.0);
        let reserve = if headroom < 1.0 { 1.0 } else { 0.0 };
        for b in &mut buckets {
            b.requests *= self.scale.max(1e-3) * share * headroom;
            b.burst = (b.burst * share - reserve).max(1.0);
            if headroom < 1.0 && b.burst <= 1.0 {
                let spaced = b.interval().as_secs_f64() * headroom + self.jitter.as_secs_f64();
                b.requests = b.requests.min(b.per_seconds / spaced);
            }
        }
        buckets
    }
}

/// Who is asking: resyncs of Ready objects come after everything else.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Priority {
    /// First passes, spec changes, pending work, deletions.
    #[default]
    Work,
    /// A periodic pass over an object that was Ready for its spec.
    Resync,
}

/// A call refused for now: its turn in the budget comes at `at`, kept for
/// the object that asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deferred {
    pub service: String,
    pub region: String,
    pub operation: String,
    /// The scarcest bucket's rate, for people.
    pub rate: String,
    pub wait: Duration,
    pub at: Instant,
}

impl fmt::Display for Deferred {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "waiting for the account's {} {} budget in {} ({}): this object's turn comes in {} s",
            self.service,
            self.operation,
            self.region,
            self.rate,
            self.wait.as_secs().max(1)
        )
    }
}

impl std::error::Error for Deferred {}

/// What happened to one call, for the metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Sent at once.
    Now,
    /// Sent after a short wait.
    Waited(Duration),
    /// Refused; the object comes back for its ticket.
    Deferred,
}

#[derive(Debug, Default)]
struct State {
    /// Theoretical arrival time per (bucket, region key); absent = full.
    tat: HashMap<(usize, String), Instant>,
    /// The same for the resync share.
    resync_tat: HashMap<(usize, String), Instant>,
    /// Reserved slots of deferred calls: (owner, service, region, operation).
    tickets: HashMap<(String, String, String, String), Instant>,
    /// Admissions by (service, operation, outcome).
    counts: HashMap<(String, String, &'static str), u64>,
}

/// The process's budgets for one account. `Budget::default()` paces
/// nothing (tests of single calls, the CLI without a budget).
#[derive(Clone, Debug, Default)]
pub struct Budget {
    inner: Option<Arc<Inner>>,
}

#[derive(Debug)]
struct Inner {
    buckets: Vec<BucketSpec>,
    config: BudgetConfig,
    state: Mutex<State>,
}

/// Tickets not claimed this long after they came due are dropped (their
/// object was deleted, or its pass no longer needed the call).
const TICKET_GRACE: Duration = Duration::from_secs(600);

impl Budget {
    pub fn new(config: BudgetConfig) -> Self {
        Self {
            inner: Some(Arc::new(Inner {
                buckets: config.buckets(),
                config,
                state: Mutex::default(),
            })),
        }
    }

    pub(crate) fn is_paced(&self) -> bool {
        self.inner.is_some()
    }

    /// The buckets in force (empty when nothing is paced).
    pub fn buckets(&self) -> &[BucketSpec] {
        self.inner.as_ref().map_or(&[], |i| &i.buckets)
    }

    /// When the call may be sent: `Ok(at)` (now or after a short wait) or
    /// `Err` when its turn is further away than the inline wait and an
    /// `owner` can come back for it. Without an owner the caller waits.
    pub(crate) fn admit(
        &self,
        call: &Call<'_>,
        owner: Option<&str>,
        priority: Priority,
        now: Instant,
    ) -> Result<Instant, Box<Deferred>> {
        let Some(inner) = &self.inner else {
            return Ok(now);
        };
        let Ok(mut state) = inner.state.lock() else {
            return Ok(now);
        };
        let max_wait = inner.config.max_inline_wait;
        let ticket_key = owner.map(|o| {
            (
                o.to_owned(),
                call.service.to_owned(),
                call.region.to_owned(),
                call.operation.to_owned(),
            )
        });
        if let Some(key) = &ticket_key
            && let Some(at) = state.tickets.get(key).copied()
        {
            if at <= now + max_wait {
                state.tickets.remove(key);
                state.count(call, "ticket");
                return Ok(at.max(now));
            }
            return Err(Box::new(inner.deferred(call, at, now)));
        }
        state.tickets.retain(|_, at| *at + TICKET_GRACE > now);

        let Some(at) = inner.reserve(&mut state, call, priority, now) else {
            return Ok(now);
        };
        if at <= now + max_wait {
            state.count(call, if at > now { "waited" } else { "now" });
            return Ok(at);
        }
        match ticket_key {
            Some(key) => {
                state.tickets.insert(key, at);
                state.count(call, "deferred");
                Err(Box::new(inner.deferred(call, at, now)))
            }
            None => {
                state.count(call, "waited");
                Ok(at)
            }
        }
    }

    /// The soonest ticket `owner` holds: when its deferred pass should run.
    pub(crate) fn ticket_of(&self, owner: &str) -> Option<Instant> {
        let inner = self.inner.as_ref()?;
        let state = inner.state.lock().ok()?;
        state
            .tickets
            .iter()
            .filter(|((o, ..), _)| o == owner)
            .map(|(_, at)| *at)
            .min()
    }

    /// Admissions so far by (service, operation, outcome): `now`,
    /// `waited`, `deferred`, `ticket`.
    pub fn counts(&self) -> Vec<((String, String, &'static str), u64)> {
        let Some(inner) = &self.inner else {
            return Vec::new();
        };
        let Ok(state) = inner.state.lock() else {
            return Vec::new();
        };
        let mut counts: Vec<_> = state.counts.iter().map(|(k, n)| (k.clone(), *n)).collect();
        counts.sort();
        counts
    }
}

/// The earliest instant a bucket whose theoretical arrival time is `tat`
/// takes one more call.
fn earliest(tat: Option<&Instant>, tolerance: Duration, now: Instant) -> Instant {
    tat.and_then(|t| t.checked_sub(tolerance))
        .map_or(now, |t| t.max(now))
}

impl State {
    fn count(&mut self, call: &Call<'_>, outcome: &'static str) {
        *self
            .counts
            .entry((call.service.to_owned(), call.operation.to_owned(), outcome))
            .or_default() += 1;
    }
}

impl Inner {
    /// Reserves the call's turn in every bucket that covers it (and, for a
    /// resync, in its share): when it may be sent, or `None` when no bucket
    /// covers it.
    fn reserve(
        &self,
        state: &mut State,
        call: &Call<'_>,
        priority: Priority,
        now: Instant,
    ) -> Option<Instant> {
        let covering: Vec<usize> = self
            .buckets
            .iter()
            .enumerate()
            .filter(|(_, b)| b.covers(call.service, call.operation))
            .map(|(i, _)| i)
            .collect();
        if covering.is_empty() {
            return None;
        }
        let region_key = |b: &BucketSpec| match b.scope {
            Scope::Account => String::new(),
            Scope::Region => call.region.to_owned(),
        };
        let resync_share = self.config.resync_share.clamp(0.01, 1.0);
        // Each bucket is charged at the instant it alone would allow the
        // call, not at the slowest bucket's: a CreateDomainName reserved
        // 30 s ahead must not hold the region's reads back for 30 s.
        let mut charges = Vec::new();
        let mut at = now;
        for &i in &covering {
            let b = &self.buckets[i];
            let key = (i, region_key(b));
            let allowed = earliest(state.tat.get(&key), b.tolerance(), now);
            at = at.max(allowed);
            charges.push((false, key.clone(), allowed, b.interval()));
            if priority == Priority::Resync {
                let tolerance = b.tolerance().div_f64(resync_share);
                let allowed = earliest(state.resync_tat.get(&key), tolerance, now);
                at = at.max(allowed);
                charges.push((true, key, allowed, b.interval().div_f64(resync_share)));
            }
        }
        for (resync, key, allowed, interval) in charges {
            let tats = if resync {
                &mut state.resync_tat
            } else {
                &mut state.tat
            };
            let tat = tats.get(&key).copied().unwrap_or(allowed).max(allowed);
            tats.insert(key, tat + interval);
        }
        Some(at)
    }

    fn deferred(&self, call: &Call<'_>, at: Instant, now: Instant) -> Deferred {
        let rate = self
            .buckets
            .iter()
            .filter(|b| b.covers(call.service, call.operation))
            .max_by(|a, b| a.interval().cmp(&b.interval()))
            .map(BucketSpec::rate_text)
            .unwrap_or_default();
        Deferred {
            service: call.service.to_owned(),
            region: call.region.to_owned(),
            operation: call.operation.to_owned(),
            rate,
            wait: at.saturating_duration_since(now),
            at,
        }
    }
}

/// One AWS call, as the budgets see it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Call<'a> {
    /// The SigV4 signing name.
    pub service: &'a str,
    pub region: &'a str,
    pub operation: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call<'a>(service: &'a str, region: &'a str, operation: &'a str) -> Call<'a> {
        Call {
            service,
            region,
            operation,
        }
    }

    fn secs(d: Duration) -> f64 {
        (d.as_secs_f64() * 1000.0).round() / 1000.0
    }

    /// Seconds from `t0` until the call may go, for a caller that waits.
    fn wait_of(budget: &Budget, service: &str, region: &str, operation: &str, t0: Instant) -> f64 {
        let at = budget
            .admit(&call(service, region, operation), None, Priority::Work, t0)
            .expect("admitted");
        secs(at - t0)
    }

    #[test]
    fn the_table_parses_and_every_bucket_cites_its_source() {
        let buckets = documented();
        assert!(buckets.len() >= 15, "{buckets:?}");
        for b in &buckets {
            assert!(
                b.source.starts_with("https://docs.aws.amazon.com/"),
                "{b:?}"
            );
            assert!(
                b.requests > 0.0 && b.per_seconds > 0.0 && b.burst >= 1.0,
                "{b:?}"
            );
        }
        let domain = buckets
            .iter()
            .find(|b| b.covers("apigateway", "CreateDomainName") && b.operations.is_some())
            .expect("CreateDomainName");
        assert_eq!(domain.rate_text(), "1 per 30 s");
        let all = buckets
            .iter()
            .find(|b| b.covers("apigateway", "GetRestApis"))
            .expect("apigateway *");
        assert_eq!(all.rate_text(), "10/s (burst 40)");
        // Lambda's GetPolicy has its own rate, apart from the control plane's.
        assert_eq!(
            buckets
                .iter()
                .filter(|b| b.covers("lambda", "GetPolicy"))
                .count(),
            1
        );
    }

    #[test]
    fn a_burst_passes_then_calls_follow_the_rate() {
        let budget = Budget::new(BudgetConfig {
            max_inline_wait: Duration::from_secs(60),
            ..exact()
        });
        let t0 = Instant::now();
        // Route 53: burst 5, then one every 200 ms.
        let waits: Vec<f64> = (0..8)
            .map(|_| wait_of(&budget, "route53", "us-east-1", "GetHostedZone", t0))
            .collect();
        assert_eq!(waits, [0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 0.4, 0.6]);
    }

    #[test]
    fn an_operation_takes_from_its_own_bucket_and_the_services() {
        let budget = Budget::new(BudgetConfig {
            max_inline_wait: Duration::from_secs(600),
            ..exact()
        });
        let t0 = Instant::now();
        let create = |region| wait_of(&budget, "apigateway", region, "CreateRestApi", t0);
        assert_eq!(
            [
                create("eu-west-1"),
                create("eu-west-1"),
                create("eu-west-1")
            ],
            [0.0, 3.0, 6.0]
        );
        // Another region has buckets of its own.
        assert_eq!(create("us-west-2"), 0.0);
        // Reads of the region were charged to the service's bucket: 40 burst - 3.
        let reads: Vec<f64> = (0..38)
            .map(|_| wait_of(&budget, "apigateway", "eu-west-1", "GetRestApis", t0))
            .collect();
        assert_eq!(reads[..37].iter().filter(|w| **w == 0.0).count(), 37);
        assert_eq!(reads[37], 0.1);
    }

    #[test]
    fn a_long_wait_defers_the_owner_who_then_holds_the_slot() {
        let budget = Budget::default_paced();
        let t0 = Instant::now();
        let domain = call("apigateway", "eu-west-1", "CreateDomainName");
        assert_eq!(
            budget.admit(&domain, Some("ns/a"), Priority::Work, t0),
            Ok(t0)
        );
        let deferred = budget
            .admit(&domain, Some("ns/b"), Priority::Work, t0)
            .expect_err("b waits 30 s");
        assert_eq!(deferred.at, t0 + Duration::from_secs(30));
        assert!(
            deferred
                .to_string()
                .contains("CreateDomainName budget in eu-west-1 (1 per 30 s)"),
            "{deferred}"
        );
        assert_eq!(budget.ticket_of("ns/b"), Some(t0 + Duration::from_secs(30)));
        // c asks later and queues behind b's ticket.
        let c = budget
            .admit(
                &domain,
                Some("ns/c"),
                Priority::Work,
                t0 + Duration::from_secs(1),
            )
            .expect_err("c waits");
        assert_eq!(c.at, t0 + Duration::from_secs(60));
        // b asking again early is told the same turn, without a new reservation.
        let again = budget
            .admit(
                &domain,
                Some("ns/b"),
                Priority::Work,
                t0 + Duration::from_secs(10),
            )
            .expect_err("not yet");
        assert_eq!(again.at, t0 + Duration::from_secs(30));
        // Back at its turn, b is admitted on its ticket, which is used up.
        let back = t0 + Duration::from_secs(29);
        assert_eq!(
            budget.admit(&domain, Some("ns/b"), Priority::Work, back),
            Ok(t0 + Duration::from_secs(30))
        );
        assert_eq!(budget.ticket_of("ns/b"), None);
    }

    #[test]
    fn resyncs_get_at_most_their_share() {
        let budget = Budget::default_paced();
        let t0 = Instant::now();
        let read = call("rds", "eu-west-1", "DescribeDBClusters");
        // RDS: 12/s, burst 300. A resync share of one half: burst 600 → at
        // half the rate the tolerance doubles, so resyncs alone run 12/s
        // for the burst, then 6/s.
        let mut last = t0;
        for _ in 0..900 {
            last = budget
                .admit(&read, None, Priority::Resync, t0)
                .unwrap_or(last);
        }
        // 900 resync reads: the first 300 are the burst; the resync bucket's
        // own rate (6/s) decides the rest.
        assert!(last - t0 >= Duration::from_secs(90), "{:?}", last - t0);
        // Work is not held behind the resync bucket, only behind the shared one.
        let work = budget.admit(&read, None, Priority::Work, t0).expect("work");
        assert!(
            work - t0 < last - t0,
            "work {:?} resync {:?}",
            work - t0,
            last - t0
        );
    }

    #[test]
    fn shards_split_rates_and_overrides_replace_them() {
        let config = BudgetConfig {
            share: 0.5,
            headroom: 1.0,
            overrides: vec![
                "apigateway:CreateDomainName=2/30"
                    .parse()
                    .expect("override"),
            ],
            ..Default::default()
        };
        let buckets = config.buckets();
        let domain = buckets
            .iter()
            .find(|b| b.operations.as_deref() == Some(&["CreateDomainName".to_owned()][..]))
            .expect("domain bucket");
        assert_eq!(domain.rate_text(), "1 per 30 s");
        let route53 = buckets
            .iter()
            .find(|b| b.service == "route53")
            .expect("route53");
        assert_eq!(route53.rate_text(), "2.5/s");
        assert_eq!(route53.burst, 2.5);
        assert!("apigateway=0/1".parse::<RateOverride>().is_err());
        assert!("apigateway".parse::<RateOverride>().is_err());
        assert_eq!(
            "route53=10/1s,20".parse::<RateOverride>(),
            Ok(RateOverride {
                service: "route53".into(),
                operation: None,
                requests: 10.0,
                per_seconds: 1.0,
                burst: Some(20.0),
            })
        );
    }

    #[test]
    fn no_budget_paces_nothing() {
        let budget = Budget::default();
        let t0 = Instant::now();
        for _ in 0..100 {
            assert_eq!(
                budget.admit(
                    &call("route53", "us-east-1", "GetHostedZone"),
                    Some("x"),
                    Priority::Work,
                    t0
                ),
                Ok(t0)
            );
        }
    }

    /// AWS's rates without headroom, for round numbers.
    fn exact() -> BudgetConfig {
        BudgetConfig {
            headroom: 1.0,
            ..Default::default()
        }
    }

    impl Budget {
        fn default_paced() -> Self {
            Budget::new(exact())
        }
    }

    #[test]
    fn headroom_slows_every_rate_a_little() {
        let buckets = BudgetConfig::default().buckets();
        let domain = buckets
            .iter()
            .find(|b| b.operations.as_deref() == Some(&["CreateDomainName".to_owned()][..]))
            .expect("domain bucket");
        assert_eq!(domain.interval().as_secs(), 33);
        assert_eq!(domain.burst, 1.0);
        // Ten times faster, the same jitter is a larger part of the interval.
        let fast = BudgetConfig {
            scale: 10.0,
            ..Default::default()
        }
        .buckets();
        let interval = |name: &str| {
            fast.iter()
                .find(|b| b.operations.as_deref() == Some(&[name.to_owned()][..]))
                .map(|b| b.interval().as_millis())
        };
        assert_eq!(interval("CreateDomainName"), Some(3500));
        assert_eq!(interval("CreateRestApi"), Some(800));
        let route53 = buckets
            .iter()
            .find(|b| b.service == "route53")
            .expect("route53");
        assert_eq!(route53.burst, 4.0);
    }
}
