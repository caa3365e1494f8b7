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
//!
//! With leader election (the default), only the replica holding the Lease
//! runs the controller; the others serve health and metrics and wait. A
//! leader that loses the Lease stops at once with an error, so that its
//! process restarts as a candidate (see [`leader`]).

mod events;
pub mod http;
pub mod leader;
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

use futures::{FutureExt, StreamExt};
use kube::{
    Api, Client,
    api::ListParams,
    runtime::{
        Controller, Predicate, WatchStreamExt, controller, events::Recorder, predicates, reflector,
        watcher,
    },
};

use crate::{
    api::GlobalApi,
    aws::AwsClients,
    error::{Error, Result},
};

pub use reconciler::{backoff, error_policy, reconcile};

/// The finalizer that keeps a GlobalApi until its AWS resources are gone.
pub const FINALIZER: &str = "globalapi.io/cleanup";
/// The field manager of status writes and the reporter of Events.
pub const MANAGER: &str = "globalapi-operator";

/// What `globalapi run` was asked for.
#[derive(Clone, Debug)]
pub struct Config {
    /// Watch only these namespaces; all namespaces when empty.
    pub namespaces: Vec<String>,
    /// Watch only GlobalApis whose labels match this selector.
    pub selector: Option<String>,
    /// Where `/healthz`, `/readyz` and `/metrics` are served.
    pub metrics_addr: SocketAddr,
    /// The Lease to hold while reconciling; `None` reconciles without
    /// leader election (one replica only).
    pub leader_election: Option<leader::LeaderConfig>,
    /// How long one account-wide listing serves every GlobalApi.
    pub shared_listing_max_age: std::time::Duration,
    /// At most this many reconciles run at once.
    pub max_concurrent_reconciles: u16,
    /// The bounds of AWS calls and of one pass.
    pub timeouts: crate::aws::clients::AwsTimeouts,
}

/// How long one Kubernetes API response may take. Watches are asked to end
/// well before it ([`WATCH_SECONDS`]), so only a server that stopped
/// answering trips it.
const KUBE_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
/// How long the API server keeps one watch request open.
const WATCH_SECONDS: u32 = 45;

/// The Kubernetes client (kubeconfig or in-cluster), with every call bounded.
async fn kube_client() -> Result<Client> {
    let mut config = kube::Config::infer()
        .await
        .map_err(|e| Error::Kube(kube::Error::InferConfig(e)))?;
    config.connect_timeout = Some(std::time::Duration::from_secs(10));
    config.read_timeout = Some(KUBE_READ_TIMEOUT);
    config.write_timeout = Some(std::time::Duration::from_secs(30));
    config.reset_reader_on_write = true;
    Ok(Client::try_from(config)?)
}

/// What `/healthz` and `/readyz` answer from.
#[derive(Debug, Default)]
pub struct Health {
    ready: AtomicBool,
    watch_error: Mutex<Option<String>>,
}

impl Health {
    /// The operator reached the API server and runs its controller, or
    /// (another replica leading) stands by to take over.
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

/// Runs the operator until SIGTERM or SIGINT: the HTTP endpoint for health
/// and metrics and, once this replica leads (or without leader election),
/// the controller. Returns an error when the leader Lease is lost.
pub async fn run(config: Config) -> Result<()> {
    let client = kube_client().await?;
    let aws = AwsClients::from_env()
        .await
        .with_timeouts(config.timeouts)
        .with_shared_listings(config.shared_listing_max_age);
    // One watch per namespace (a namespaced operator may not list the
    // others), or one over every namespace.
    let apis: Vec<Api<GlobalApi>> = if config.namespaces.is_empty() {
        vec![Api::all(client.clone())]
    } else {
        config
            .namespaces
            .iter()
            .map(|ns| Api::namespaced(client.clone(), ns))
            .collect()
    };
    // Fails early, with the API server's message, when the CRD is not
    // installed, the operator may not list GlobalApis there, or the
    // selector is malformed.
    let mut probe = ListParams::default().limit(1);
    if let Some(selector) = &config.selector {
        probe = probe.labels(selector);
    }
    for api in &apis {
        api.list(&probe).await?;
    }

    let listener = http::bind(config.metrics_addr).await?;
    let ctx = Arc::new(Context::new(client.clone(), aws));
    let server = tokio::spawn(http::serve(listener, ctx.clone()));
    tracing::info!(
        namespaces = %if config.namespaces.is_empty() {
            "(all)".to_owned()
        } else {
            config.namespaces.join(",")
        },
        selector = config.selector.as_deref().unwrap_or("(none)"),
        metrics = %config.metrics_addr,
        leader_election = config.leader_election.is_some(),
        "operator started"
    );
    // A waiting replica is ready too: it is up and can take over.
    ctx.health.set_ready();

    let holding = match config.leader_election {
        Some(leader_config) => {
            let mut elector = leader::LeaderElector::new(client, leader_config);
            tracing::info!(identity = %elector.identity(), "waiting to become the leader");
            let acquired = tokio::select! {
                acquired = elector.acquire() => acquired,
                () = shutdown_signal() => {
                    server.abort();
                    tracing::info!("operator stopped before leading");
                    return Ok(());
                }
            };
            if let Err(e) = acquired {
                server.abort();
                return Err(e);
            }
            ctx.metrics.set_leader(true);
            let (stop, stopped) = tokio::sync::oneshot::channel();
            Some((stop, tokio::spawn(elector.hold(stopped))))
        }
        None => {
            ctx.metrics.set_leader(true);
            None
        }
    };

    let mut watch = watcher::Config::default().timeout(WATCH_SECONDS);
    if let Some(selector) = &config.selector {
        watch = watch.labels(selector);
    }
    let controllers = apis.into_iter().map(|api| {
        run_controller(
            api,
            watch.clone(),
            ctx.clone(),
            config.max_concurrent_reconciles,
        )
    });
    let controller = futures::future::join_all(controllers).map(|_| ());
    let result = match holding {
        None => {
            controller.await;
            Ok(())
        }
        Some((stop, mut holder)) => {
            tokio::select! {
                () = controller => {
                    // Stopped by a signal: release the Lease for the next leader.
                    let _ = stop.send(());
                    joined(holder.await).and_then(|held| held)
                }
                held = &mut holder => {
                    // Lost: the controller (and every reconcile in flight)
                    // is dropped here, before anyone else may lead.
                    ctx.metrics.set_leader(false);
                    let error = joined(held)
                        .and_then(|held| held)
                        .err()
                        .unwrap_or_else(|| Error::LeaseLost("the lease keeper ended".into()));
                    tracing::error!(error = %error, "stopping");
                    Err(error)
                }
            }
        }
    };
    ctx.metrics.set_leader(false);
    server.abort();
    tracing::info!("operator stopped");
    result
}

/// The controller over `api`, until SIGTERM or SIGINT.
async fn run_controller(
    api: Api<GlobalApi>,
    watch: watcher::Config,
    ctx: Arc<Context>,
    concurrency: u16,
) {
    let (reader, writer) = reflector::store();
    let changes = watcher(api, watch)
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .predicate_filter(
            predicates::generation.combine(predicates::finalizers),
            Default::default(),
        );
    Controller::for_stream(changes, reader)
        .with_config(controller::Config::default().concurrency(concurrency))
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
}

/// The outcome of a joined task, a panic or cancellation turned into an error.
fn joined<T>(result: std::result::Result<T, tokio::task::JoinError>) -> Result<T> {
    result.map_err(|e| Error::LeaseLost(format!("the lease keeper failed: {e}")))
}

/// Resolves on SIGTERM or SIGINT (used while waiting for the Lease; the
/// controller has its own handling once it runs).
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c().map(|_| ());
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                () = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; only SIGINT stops the wait");
            ctrl_c.await;
        }
    }
}
