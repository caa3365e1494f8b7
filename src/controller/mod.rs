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
//! process restarts as a candidate (see [`leader`]); its AWS calls are
//! fenced off from the renew deadline on, before the Lease can expire for
//! the others.
//!
//! On SIGTERM the reconciles in flight may finish for the shutdown grace;
//! what is still running then is cut (a pass is safe to cut anywhere), and
//! the Lease is released so that the next leader starts at once.

pub mod crd_check;
mod events;
pub mod health;
pub mod http;
pub mod leader;
pub mod metrics;
pub mod queue;
mod reconciler;

use std::{
    collections::{HashMap, HashSet},
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use futures::{FutureExt, StreamExt, TryStreamExt};
use kube::{
    Api, Client, ResourceExt,
    api::ListParams,
    runtime::{
        Controller, Predicate, WatchStreamExt, controller, events::Recorder, predicates, reflector,
        reflector::ObjectRef, watcher,
    },
};

use crate::{
    api::{GlobalApi, GlobalApiPolicy},
    aws::{AwsClients, Fence},
    error::{Error, Result},
};

use health::{ALL_NAMESPACES, Health};
use reconciler::key_of;

pub use reconciler::{backoff, error_policy, reconcile};

/// The finalizer that keeps a GlobalApi until its AWS resources are gone.
pub(crate) const FINALIZER: &str = "globalapi.io/cleanup";
/// The field manager of status writes and the reporter of Events.
pub(crate) const MANAGER: &str = "globalapi-operator";

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
    /// The account's request rates, shared by every GlobalApi.
    pub budget: crate::aws::budget::Budget,
    /// How long reconciles in flight may finish after SIGTERM.
    pub shutdown_grace: Duration,
    /// A reconcile running longer than this fails `/healthz`; `None`: the
    /// pass bound plus what its status write and Events may take.
    pub stuck_after: Option<Duration>,
    /// Check every GlobalApi against the GlobalApiPolicies of its
    /// namespace before each pass.
    pub tenancy_policies: bool,
}

impl Config {
    /// See [`Config::stuck_after`].
    pub(crate) fn stuck_bound(&self) -> Duration {
        self.stuck_after
            .unwrap_or(self.timeouts.pass + 2 * KUBE_READ_TIMEOUT + Duration::from_secs(30))
    }
}

/// How long one Kubernetes API response may take. Watches are asked to end
/// well before it ([`WATCH_SECONDS`]), so only a server that stopped
/// answering trips it.
const KUBE_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the API server keeps one watch request open.
const WATCH_SECONDS: u32 = 45;

/// The Kubernetes configuration (kubeconfig or in-cluster).
async fn kube_config() -> Result<kube::Config> {
    kube::Config::infer()
        .await
        .map_err(|e| Error::Kube(kube::Error::InferConfig(e)))
}

/// The client of the watches, status writes and Events, with every call bounded.
fn kube_client(config: &kube::Config) -> Result<Client> {
    let mut config = config.clone();
    config.connect_timeout = Some(Duration::from_secs(10));
    config.read_timeout = Some(KUBE_READ_TIMEOUT);
    config.write_timeout = Some(Duration::from_secs(30));
    config.reset_reader_on_write = true;
    Ok(Client::try_from(config)?)
}

/// The Lease's own client: no retries and timeouts well inside the renew
/// deadline, so that a slow API server costs one round, not the deadline,
/// and status writes queued on the main client never delay a renewal.
fn lease_client(config: &kube::Config, leader: &leader::LeaderConfig) -> Result<Client> {
    let mut config = config.clone();
    let bound = (leader.renew_deadline / 2).max(Duration::from_secs(1));
    config.connect_timeout = Some(bound);
    config.read_timeout = Some(bound);
    config.write_timeout = Some(bound);
    config.default_retry = false;
    Ok(Client::try_from(config)?)
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
    /// When each object's next pass is due (the queue in the metrics).
    pub queue: queue::Queue,
    /// Consecutive failures per `namespace/name`, for the backoff.
    failures: Mutex<HashMap<String, u32>>,
    /// Pending passes in a row per `namespace/name`, with the generation
    /// they were for, for the pending requeue.
    pending: Mutex<HashMap<String, (i64, u32)>>,
    /// SIGTERM came: no new reconcile starts.
    stopping: AtomicBool,
    /// Resyncs of Ready objects take one of these besides their reconcile
    /// slot: they never fill every slot, so first passes, spec changes and
    /// deletions always find one (1000 objects resyncing every minute would
    /// otherwise keep new objects waiting for a slot).
    pub(crate) resync_slots: Arc<tokio::sync::Semaphore>,
    /// Tenancy policies are checked before each pass.
    pub tenancy_policies: bool,
}

/// Half of the reconcile slots, at least one.
fn resync_slots(concurrency: u16) -> usize {
    usize::from(concurrency / 2).max(1)
}

impl Context {
    /// A context over the given clients.
    pub fn new(client: Client, aws: AwsClients) -> Self {
        Self::with_health(client, aws, Health::default())
    }

    /// A context over the given clients, with this health.
    pub(crate) fn with_health(client: Client, aws: AwsClients, health: Health) -> Self {
        Self {
            recorder: Recorder::new(client.clone(), MANAGER.into()),
            client,
            aws,
            metrics: metrics::Metrics::default(),
            health,
            queue: queue::Queue::default(),
            failures: Mutex::default(),
            pending: Mutex::default(),
            stopping: AtomicBool::new(false),
            resync_slots: Arc::new(tokio::sync::Semaphore::new(resync_slots(10))),
            tenancy_policies: false,
        }
    }

    /// Checks every GlobalApi against the GlobalApiPolicies of its
    /// namespace before each pass.
    pub(crate) fn with_tenancy_policies(mut self, on: bool) -> Self {
        self.tenancy_policies = on;
        self
    }

    /// Resyncs take at most half of `concurrency` reconcile slots at once.
    pub(crate) fn with_concurrency(mut self, concurrency: u16) -> Self {
        self.resync_slots = Arc::new(tokio::sync::Semaphore::new(resync_slots(concurrency)));
        self
    }

    /// From now on reconciles return at once (the operator is stopping).
    fn stop_taking_work(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    /// Whether [`Context::stop_taking_work`] was called.
    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    /// Forgets the failures of objects that are gone (of those under the
    /// key prefix `scope`, or all), so that objects deleted while failing
    /// leave nothing behind.
    fn forget_failures_except(&self, scope: Option<&str>, live: &HashSet<String>) {
        let keep = |key: &String| scope.is_some_and(|s| !key.starts_with(s)) || live.contains(key);
        if let Ok(mut f) = self.failures.lock() {
            f.retain(|key, _| keep(key));
        }
        if let Ok(mut p) = self.pending.lock() {
            p.retain(|key, _| keep(key));
        }
    }

    /// Records a pass of `key` for `generation` without errors; returns
    /// how many in a row (for this generation) had something pending, 0
    /// when this one had nothing.
    fn pending_pass(&self, key: &str, generation: i64, pending: bool) -> u32 {
        let Ok(mut p) = self.pending.lock() else {
            return 1;
        };
        if !pending {
            p.remove(key);
            return 0;
        }
        let entry = p.entry(key.to_owned()).or_insert((generation, 0));
        if entry.0 != generation {
            *entry = (generation, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        entry.1
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
/// and metrics and, while this replica leads (or without leader election),
/// the controllers. Returns an error only when it cannot start or may not
/// take part in the election (no permission on Leases).
pub async fn run(config: Config) -> Result<()> {
    let kube = kube_config().await?;
    let client = kube_client(&kube)?;
    // With leader election nothing reaches AWS before the Lease is held.
    let fence = match config.leader_election {
        Some(_) => Fence::closed(),
        None => Fence::default(),
    };
    let identity = config
        .leader_election
        .as_ref()
        .map_or_else(|| MANAGER.to_owned(), |l| l.identity.clone());
    let aws = AwsClients::from_env()
        .await
        .with_timeouts(config.timeouts)
        .with_budget(config.budget.clone())
        .with_shared_listings(config.shared_listing_max_age)
        .with_fence(fence.clone())
        .with_app_name(&identity);
    let apis = watched(&client, &config).await?;
    let crd = crd_check::check(&client).await;

    let listener = http::bind(config.metrics_addr).await?;
    let health = Health::new(config.stuck_bound());
    let ctx = Arc::new(
        Context::with_health(client.clone(), aws, health)
            .with_concurrency(config.max_concurrent_reconciles)
            .with_tenancy_policies(config.tenancy_policies),
    );
    let server = tokio::spawn(http::serve(listener, ctx.clone()));
    tracing::info!(
        namespaces = %if config.namespaces.is_empty() {
            ALL_NAMESPACES.to_owned()
        } else {
            config.namespaces.join(",")
        },
        selector = config.selector.as_deref().unwrap_or("(none)"),
        metrics = %config.metrics_addr,
        leader_election = config.leader_election.is_some(),
        identity = %identity,
        "operator started"
    );
    report_crd(&crd, &ctx.metrics);
    // A waiting replica is ready too: it is up and can take over.
    ctx.health.set_ready();
    let stopping = shutdown_signal().boxed().shared();
    let result = match &config.leader_election {
        None => {
            ctx.metrics.set_leader(true);
            lead(&config, &apis, &ctx, &stopping).await;
            Ok(())
        }
        Some(leader_config) => {
            let lease = lease_client(&kube, leader_config)?;
            elect_and_lead(
                &config,
                leader_config,
                lease,
                &fence,
                &apis,
                &ctx,
                &stopping,
            )
            .await
        }
    };
    ctx.metrics.set_leader(false);
    server.abort();
    tracing::info!("operator stopped");
    result
}

/// The GlobalApis to watch: one watch per namespace (a namespaced
/// operator may not list the others), or one over every namespace. Fails
/// early, with the API server's message, when the CRD is not installed, the
/// operator may not list GlobalApis there, or the selector is malformed.
async fn watched(client: &Client, config: &Config) -> Result<Vec<(String, Api<GlobalApi>)>> {
    let apis: Vec<(String, Api<GlobalApi>)> = if config.namespaces.is_empty() {
        vec![(ALL_NAMESPACES.to_owned(), Api::all(client.clone()))]
    } else {
        config
            .namespaces
            .iter()
            .map(|ns| (ns.clone(), Api::namespaced(client.clone(), ns)))
            .collect()
    };
    let mut probe = ListParams::default().limit(1);
    if let Some(selector) = &config.selector {
        probe = probe.labels(selector);
    }
    for (_, api) in &apis {
        api.list(&probe).await?;
    }
    Ok(apis)
}

/// What the comparison of the served CRD with this operator's found, in
/// the metrics and the log.
fn report_crd(crd: &crd_check::CrdCheck, metrics: &metrics::Metrics) {
    match crd {
        crd_check::CrdCheck::Current => metrics.set_crd_current(true),
        crd_check::CrdCheck::Older(missing) => {
            metrics.set_crd_current(false);
            tracing::warn!(
                missing = %missing.join(", "),
                "the installed GlobalApi CRD is older than this operator: the API server drops these fields from every write; apply this version's CRD (kubectl apply --server-side -f crds/globalapi.yaml), which Helm does not upgrade"
            );
        }
        crd_check::CrdCheck::Unread(why) => {
            tracing::info!(%why, "the served GlobalApi schema could not be compared with this operator's");
        }
    }
}

type Stopping = futures::future::Shared<futures::future::BoxFuture<'static, ()>>;

/// Leads whenever this replica holds the Lease, until SIGTERM. A leader
/// that loses the Lease steps down (its AWS calls fenced off, its
/// reconciles dropped) and is a candidate again: an API server that is
/// away for a while costs a new election, not a restart loop.
async fn elect_and_lead(
    config: &Config,
    leader_config: &leader::LeaderConfig,
    lease: Client,
    fence: &Fence,
    apis: &[(String, Api<GlobalApi>)],
    ctx: &Arc<Context>,
    stopping: &Stopping,
) -> Result<()> {
    loop {
        let mut elector =
            leader::LeaderElector::new(lease.clone(), leader_config.clone(), fence.clone());
        tracing::info!(identity = %elector.identity(), "waiting to become the leader");
        let renewed = tokio::select! {
            acquired = elector.acquire() => acquired?,
            () = stopping.clone() => {
                tracing::info!("stopped while not leading");
                return Ok(());
            }
        };
        ctx.metrics.set_leader(true);
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let mut holder = tokio::spawn(elector.hold(renewed, stopped));
        tokio::select! {
            () = lead(config, apis, ctx, stopping) => {
                // Every reconcile ended or was cut: no AWS call of ours
                // from here; release the Lease for the next leader.
                fence.close();
                let _ = stop.send(());
                return joined(holder.await).and_then(|held| held);
            }
            held = &mut holder => {
                // Lost: the fence is closed, and every reconcile in flight
                // is dropped with the controllers here.
                ctx.metrics.set_leader(false);
                let error = joined(held)
                    .and_then(|held| held)
                    .err()
                    .unwrap_or_else(|| Error::LeaseLost("the lease keeper ended".into()));
                tracing::error!(error = %error, "stepping down; a candidate again");
            }
        }
    }
}

/// The controllers over `apis` until SIGTERM; after it they take no new
/// work and let what is in flight finish, and the grace cuts what has not.
async fn lead(
    config: &Config,
    apis: &[(String, Api<GlobalApi>)],
    ctx: &Arc<Context>,
    stopping: &Stopping,
) {
    let mut watch = watcher::Config::default().timeout(WATCH_SECONDS);
    if let Some(selector) = &config.selector {
        watch = watch.labels(selector);
    }
    let controllers = futures::future::join_all(apis.iter().map(|(namespace, api)| {
        run_controller(
            api.clone(),
            namespace.clone(),
            watch.clone(),
            ctx.clone(),
            config.max_concurrent_reconciles,
        )
    }));
    let drained = async {
        stopping.clone().await;
        ctx.stop_taking_work();
        let grace = config.shutdown_grace;
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let in_flight = ctx.health.in_flight();
            if in_flight.is_empty() {
                tracing::info!("every reconcile in flight finished");
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                let keys: Vec<&str> = in_flight.iter().map(|(k, _)| k.as_str()).collect();
                tracing::warn!(
                    grace_seconds = grace.as_secs(),
                    reconciles = %keys.join(","),
                    "reconciles still running after the shutdown grace were cut"
                );
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::select! {
        _ = controllers => {}
        () = drained => {}
    }
}

/// How often the failure counts of objects that are gone are dropped.
const FORGET_EVERY: Duration = Duration::from_secs(60);

/// Wakes the controller when the pause, adoption or failover annotation is set,
/// changed or removed (an annotation moves no generation).
fn annotations_predicate(object: &GlobalApi) -> Option<u64> {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut hasher = DefaultHasher::new();
    (object.paused(), object.adopt_from(), object.failover_to()).hash(&mut hasher);
    Some(hasher.finish())
}

/// The controller over `api` (the GlobalApis of `namespace`), until it is
/// dropped.
async fn run_controller(
    api: Api<GlobalApi>,
    namespace: String,
    watch: watcher::Config,
    ctx: Arc<Context>,
    concurrency: u16,
) {
    let (reader, writer) = reflector::store();
    let store = reader.clone();
    let changes = watcher(api, watch)
        .default_backoff()
        // Nothing reads them, and with many objects they are a good part
        // of the cache.
        .modify(|o| o.managed_fields_mut().clear())
        .reflect(writer)
        .applied_objects()
        .predicate_filter(
            predicates::generation
                .combine(predicates::finalizers)
                .combine(annotations_predicate),
            Default::default(),
        )
        .inspect_ok({
            let ctx = ctx.clone();
            move |o| ctx.queue.changed(&key_of(o))
        });
    let scope = (namespace != ALL_NAMESPACES).then(|| format!("{namespace}/"));
    let mut forgotten_at = tokio::time::Instant::now();
    let mut controller = Controller::for_stream(changes, reader)
        .with_config(controller::Config::default().concurrency(concurrency));
    if ctx.tenancy_policies {
        controller = watch_policies(controller, &namespace, &store, &ctx);
    }
    controller
        .run(reconcile, error_policy, ctx.clone())
        .for_each(|result| {
            match result {
                Err(controller::Error::QueueError(e)) => {
                    tracing::warn!(namespace = %namespace, error = %e, "watching GlobalApis failed");
                    ctx.health.watch_failed(&namespace, e.to_string());
                }
                Err(e) => {
                    ctx.health.watch_ok(&namespace);
                    tracing::debug!(error = %e, "reconcile failed");
                }
                Ok(_) => ctx.health.watch_ok(&namespace),
            }
            if forgotten_at.elapsed() >= FORGET_EVERY {
                forgotten_at = tokio::time::Instant::now();
                forget_the_gone(&ctx, &store, scope.as_deref());
            }
            futures::future::ready(())
        })
        .await;
}

/// A policy changed: every GlobalApi of its namespace is checked again
/// now, not at its next resync.
fn watch_policies(
    controller: Controller<GlobalApi>,
    namespace: &str,
    store: &reflector::Store<GlobalApi>,
    ctx: &Arc<Context>,
) -> Controller<GlobalApi> {
    let policies: Api<GlobalApiPolicy> = if namespace == ALL_NAMESPACES {
        Api::all(ctx.client.clone())
    } else {
        Api::namespaced(ctx.client.clone(), namespace)
    };
    let objects = store.clone();
    let queue_ctx = ctx.clone();
    controller.watches(
        policies,
        watcher::Config::default().timeout(WATCH_SECONDS),
        move |policy| {
            let governed = policy.namespace();
            objects
                .state()
                .iter()
                .filter(|o| o.namespace() == governed)
                .map(|o| {
                    queue_ctx.queue.changed(&key_of(o));
                    ObjectRef::from_obj(o.as_ref())
                })
                .collect::<Vec<_>>()
        },
    )
}

/// Drops what is kept per object (queue entries, failure counts) for the
/// objects of `scope` (a namespace's `ns/`, or every one) that are gone.
fn forget_the_gone(ctx: &Context, store: &reflector::Store<GlobalApi>, scope: Option<&str>) {
    let live: HashSet<String> = store.state().iter().map(|o| key_of(o)).collect();
    ctx.queue
        .retain(|key| scope.is_some_and(|s| !key.starts_with(s)) || live.contains(key));
    ctx.forget_failures_except(scope, &live);
}

/// The outcome of a joined task, a panic or cancellation turned into an error.
fn joined<T>(result: std::result::Result<T, tokio::task::JoinError>) -> Result<T> {
    result.map_err(|e| Error::LeaseLost(format!("the lease keeper failed: {e}")))
}

/// Resolves on SIGTERM or SIGINT.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn failure_counts_of_objects_that_are_gone_are_dropped() {
        let url = "http://127.0.0.1:9".parse().expect("a URL");
        let client = Client::try_from(kube::Config::new(url)).expect("a client");
        let aws = AwsClients::new(aws_config::SdkConfig::builder().build());
        let ctx = Context::new(client, aws);
        for key in ["apps/a", "apps/gone", "other/c"] {
            assert_eq!(ctx.failed(key), 1);
        }
        assert_eq!(ctx.failed("apps/a"), 2);
        let live: HashSet<String> = ["apps/a".to_owned()].into();
        // The watch of "apps" knows only its own namespace's objects.
        ctx.forget_failures_except(Some("apps/"), &live);
        let mut left: Vec<String> = ctx.failures.lock().expect("lock").keys().cloned().collect();
        left.sort();
        assert_eq!(left, ["apps/a", "other/c"]);
        // The watch of every namespace knows every object.
        ctx.forget_failures_except(None, &live);
        assert_eq!(ctx.failures.lock().expect("lock").len(), 1);
        assert_eq!(ctx.failed("apps/a"), 3);
    }
}
