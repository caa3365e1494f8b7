//! The operator: a kube-runtime controller over GlobalApis. Each reconcile
//! runs one pass over AWS behind the `globalapi.io/cleanup` finalizer,
//! writes the status by server-side apply, sends Events and requeues:
//! after `spec.resyncSeconds` when converged, after a few seconds while
//! something is pending, with backoff after errors.
//!
//! The watch only wakes the controller for changes of the spec (the
//! generation, which also moves when deletion starts) and of the
//! finalizers, not for the operator's own status writes; re-observing AWS
//! is driven by the requeues.

mod events;
pub mod http;
pub mod metrics;
mod reconciler;

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use futures::StreamExt;
use kube::{
    Api, Client,
    api::ListParams,
    runtime::{
        Controller, Predicate, WatchStreamExt, controller, events::Recorder, predicates, reflector,
        watcher,
    },
};

use crate::{api::GlobalApi, aws::AwsClients, error::Result};

pub use reconciler::{backoff, error_policy, reconcile};

/// The finalizer that keeps a GlobalApi until its AWS resources are gone.
pub const FINALIZER: &str = "globalapi.io/cleanup";
/// The field manager of status writes and the reporter of Events.
pub const MANAGER: &str = "globalapi-operator";

/// What `globalapi run` was asked for.
#[derive(Clone, Debug)]
pub struct Config {
    /// Watch only this namespace; all namespaces when `None`.
    pub namespace: Option<String>,
    /// Where `/healthz`, `/readyz` and `/metrics` are served.
    pub metrics_addr: SocketAddr,
}

/// What `/healthz` and `/readyz` answer from.
#[derive(Debug, Default)]
pub struct Health {
    ready: AtomicBool,
    watch_error: Mutex<Option<String>>,
}

impl Health {
    /// The operator reached the API server and its controller runs.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Relaxed);
    }

    /// Whether [`Health::set_ready`] was called.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// The watch on GlobalApis failed with `error` (it retries by itself).
    pub fn watch_failed(&self, error: String) {
        if let Ok(mut e) = self.watch_error.lock() {
            *e = Some(error);
        }
    }

    /// The watch delivered again.
    pub fn watch_ok(&self) {
        if let Ok(mut e) = self.watch_error.lock() {
            *e = None;
        }
    }

    /// The last watch error, while the watch has not recovered from it.
    pub fn watch_error(&self) -> Option<String> {
        self.watch_error.lock().ok().and_then(|e| e.clone())
    }
}

/// What every reconcile shares.
pub struct Context {
    /// The Kubernetes client.
    pub client: Client,
    /// AWS clients; their call counter feeds the metrics.
    pub aws: AwsClients,
    /// The one Event recorder of the operator.
    pub recorder: Recorder,
    /// Reconcile, drift and error counters.
    pub metrics: metrics::Metrics,
    /// Health and readiness.
    pub health: Health,
    /// Consecutive failures per `namespace/name`, for the backoff.
    failures: Mutex<HashMap<String, u32>>,
}

impl Context {
    /// A context over the given clients.
    pub fn new(client: Client, aws: AwsClients) -> Self {
        Self {
            recorder: Recorder::new(client.clone(), MANAGER.into()),
            client,
            aws,
            metrics: metrics::Metrics::default(),
            health: Health::default(),
            failures: Mutex::default(),
        }
    }

    /// Counts one more failure of `key`; returns how many in a row.
    fn failed(&self, key: &str) -> u32 {
        self.failures
            .lock()
            .map(|mut f| {
                let n = f.entry(key.to_owned()).or_default();
                *n = n.saturating_add(1);
                *n
            })
            .unwrap_or(1)
    }

    /// `key` reconciled without error.
    fn succeeded(&self, key: &str) {
        if let Ok(mut f) = self.failures.lock() {
            f.remove(key);
        }
    }
}

/// Runs the operator until SIGTERM or SIGINT: the controller, and the HTTP
/// endpoint for health and metrics.
pub async fn run(config: Config) -> Result<()> {
    let client = Client::try_default().await?;
    let aws = AwsClients::from_env().await;
    let api: Api<GlobalApi> = match &config.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    // Fails early, with the API server's message, when the CRD is not
    // installed or the operator may not list GlobalApis.
    api.list(&ListParams::default().limit(1)).await?;

    let listener = http::bind(config.metrics_addr).await?;
    let ctx = Arc::new(Context::new(client, aws));
    let server = tokio::spawn(http::serve(listener, ctx.clone()));
    tracing::info!(
        namespace = config.namespace.as_deref().unwrap_or("(all)"),
        metrics = %config.metrics_addr,
        "operator started"
    );

    let (reader, writer) = reflector::store();
    let changes = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .predicate_filter(
            predicates::generation.combine(predicates::finalizers),
            Default::default(),
        );
    ctx.health.set_ready();
    Controller::for_stream(changes, reader)
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx.clone())
        .for_each(|result| {
            match result {
                Err(controller::Error::QueueError(e)) => {
                    tracing::warn!(error = %e, "watching GlobalApis failed");
                    ctx.health.watch_failed(e.to_string());
                }
                Err(e) => {
                    ctx.health.watch_ok();
                    tracing::debug!(error = %e, "reconcile failed");
                }
                Ok(_) => ctx.health.watch_ok(),
            }
            futures::future::ready(())
        })
        .await;
    server.abort();
    tracing::info!("operator stopped");
    Ok(())
}
