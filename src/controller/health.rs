//! What `/healthz` and `/readyz` answer from. Liveness is about this
//! process: it fails only when a reconcile has run past its bound (stuck;
//! a restart can help). An API server that is away is not this process's
//! fault (a restart cannot help): the watches' health goes to readiness and
//! the metrics, one entry per watched namespace.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio::time::Instant;

/// The watch over every namespace, in [`Health`]'s per-namespace entries.
pub(crate) const ALL_NAMESPACES: &str = "(all)";

#[derive(Debug)]
pub struct Health {
    ready: AtomicBool,
    /// By watched namespace: the last error, while the watch has not
    /// delivered since.
    watches: Mutex<BTreeMap<String, Option<String>>>,
    /// By `namespace/name`: when the reconcile in flight started.
    reconciles: Mutex<HashMap<String, Instant>>,
    /// A reconcile running longer than this is stuck.
    stuck_after: Duration,
}

impl Default for Health {
    fn default() -> Self {
        Self::new(Duration::from_secs(600))
    }
}

impl Health {
    /// Health where a reconcile is stuck after `stuck_after`.
    pub fn new(stuck_after: Duration) -> Self {
        Self {
            ready: AtomicBool::new(false),
            watches: Mutex::default(),
            reconciles: Mutex::default(),
            stuck_after,
        }
    }

    /// The operator reached the API server and runs its controller, or
    /// (another replica leading) stands by to take over.
    pub(crate) fn set_ready(&self) {
        self.ready.store(true, Ordering::Relaxed);
    }

    /// Whether [`Health::set_ready`] was called.
    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// The watch of `namespace` failed with `error` (it retries by itself).
    pub(crate) fn watch_failed(&self, namespace: &str, error: String) {
        if let Ok(mut w) = self.watches.lock() {
            w.insert(namespace.to_owned(), Some(error));
        }
    }

    /// The watch of `namespace` delivered.
    pub(crate) fn watch_ok(&self, namespace: &str) {
        if let Ok(mut w) = self.watches.lock() {
            w.insert(namespace.to_owned(), None);
        }
    }

    /// The failing watches: (namespace, last error).
    pub(crate) fn watch_errors(&self) -> Vec<(String, String)> {
        self.watches
            .lock()
            .map(|w| {
                w.iter()
                    .filter_map(|(ns, e)| e.clone().map(|e| (ns.clone(), e)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The watches known so far: (namespace, healthy).
    pub fn watches(&self) -> Vec<(String, bool)> {
        self.watches
            .lock()
            .map(|w| w.iter().map(|(ns, e)| (ns.clone(), e.is_none())).collect())
            .unwrap_or_default()
    }

    /// A reconcile of `key` starts; it counts as in flight until the
    /// returned guard is dropped (finished, failed or cancelled).
    pub(crate) fn reconcile_started(&self, key: &str) -> InFlight<'_> {
        if let Ok(mut r) = self.reconciles.lock() {
            r.insert(key.to_owned(), Instant::now());
        }
        InFlight {
            health: self,
            key: key.to_owned(),
        }
    }

    /// The reconciles in flight and how long each has run, longest first.
    pub(crate) fn in_flight(&self) -> Vec<(String, Duration)> {
        let now = Instant::now();
        let mut list: Vec<(String, Duration)> = self
            .reconciles
            .lock()
            .map(|r| {
                r.iter()
                    .map(|(k, t)| (k.clone(), now.saturating_duration_since(*t)))
                    .collect()
            })
            .unwrap_or_default();
        list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        list
    }

    /// The reconciles that have run past their bound.
    pub fn stuck(&self) -> Vec<(String, Duration)> {
        self.in_flight()
            .into_iter()
            .filter(|(_, d)| *d >= self.stuck_after)
            .collect()
    }

    /// See [`Health::new`].
    pub fn stuck_after(&self) -> Duration {
        self.stuck_after
    }
}

/// A reconcile in flight; dropping it ends it.
#[derive(Debug)]
pub(crate) struct InFlight<'a> {
    health: &'a Health,
    key: String,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Ok(mut r) = self.health.reconciles.lock() {
            r.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_reconcile_past_its_bound_is_stuck_until_it_ends() {
        let health = Health::new(Duration::from_secs(30));
        let guard = health.reconcile_started("payments/exchange");
        tokio::time::advance(Duration::from_secs(29)).await;
        assert!(health.stuck().is_empty());
        assert_eq!(health.in_flight().len(), 1);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(health.stuck()[0].0, "payments/exchange");
        drop(guard);
        assert!(health.stuck().is_empty());
        assert!(health.in_flight().is_empty());
    }

    #[test]
    fn each_namespace_keeps_its_own_watch_health() {
        let health = Health::default();
        health.watch_ok("apps");
        health.watch_failed("payments", "connection refused".into());
        assert_eq!(
            health.watch_errors(),
            [("payments".to_owned(), "connection refused".to_owned())]
        );
        health.watch_ok("payments");
        assert!(health.watch_errors().is_empty());
        assert_eq!(health.watches().len(), 2);
    }
}
