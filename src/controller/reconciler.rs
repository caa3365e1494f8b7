//! One reconcile of one GlobalApi: the finalizer split into apply and
//! cleanup, the drift policy, the status write, Events and the requeue.
//!
//! `driftPolicy: Report` works like this: while the spec is the one the
//! last status described, a Plan pass runs first; when it would update or
//! delete resources that exist, or create again what existed once the spec
//! was Ready (drift, see [`status::drift_changes`]), nothing is applied and
//! the drift is reported (status `Drifted=True` with entries `Reported`,
//! `Ready=False`, `DriftDetected` Events). Otherwise (nothing drifted, only
//! resources the spec is still being built with — a first pass,
//! certificates issued since — or a changed spec) the Apply pass runs as
//! under `Correct`: a spec change is the user asking for AWS to follow it.
//! A plan with nothing to change at all is the pass: a resync of a Ready
//! object observes AWS once, whatever the drift policy.
//! "The spec" leaves `driftPolicy` out (see `status.appliedSpec`):
//! switching to Report applies nothing.
//!
//! The `globalapi.io/paused` annotation makes every pass a Plan pass, also
//! a deletion: what would change is reported, nothing is written to AWS.

use std::{sync::Arc, time::Duration};

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use kube::{
    Api, Resource, ResourceExt,
    api::{ListParams, Patch, PatchParams},
    runtime::{controller::Action, finalizer},
};
use tracing::Instrument;

use super::{Context, FINALIZER, MANAGER, events};
use crate::{
    api::{
        DeletionPolicy, DriftAction, DriftPolicy, GlobalApi, GlobalApiPolicy, GlobalApiStatus,
        PAUSED_ANNOTATION,
    },
    aws::{Announcer, adoption::Previous, budget::Priority},
    error::{Error, Result},
    plan::{Finding, Mode, Service},
    reconcile::{self, Memory, Note, Pass},
    status,
    target::Target,
    tenancy,
};

/// How soon a pass with pending work is followed by the next one.
pub(crate) const PENDING_REQUEUE: Duration = Duration::from_secs(5);
/// The first retry after an error; doubled per failure in a row.
const FIRST_RETRY: Duration = Duration::from_secs(5);
/// When a resync that found every resync slot taken comes back.
const RESYNC_POSTPONED: Duration = Duration::from_secs(5);
/// The longest wait between retries.
const MAX_RETRY: Duration = Duration::from_secs(300);

/// Reconciles one GlobalApi (the controller's reconcile function).
pub async fn reconcile(object: Arc<GlobalApi>, ctx: Arc<Context>) -> Result<Action> {
    let namespace = object.namespace().unwrap_or_default();
    let name = object.name_any();
    let span = tracing::info_span!(
        "reconcile",
        namespace = %namespace,
        name = %name,
        generation = object.metadata.generation.unwrap_or_default()
    );
    let key = format!("{namespace}/{name}");
    ctx.queue.started(&key);
    if ctx.is_stopping() {
        // Stopping: what is in flight may finish, nothing new starts.
        return Ok(Action::await_change());
    }
    let resync_slot =
        if priority(&object) == Priority::Resync && object.metadata.deletion_timestamp.is_none() {
            match ctx.resync_slots.clone().try_acquire_owned() {
                Ok(slot) => Some(slot),
                Err(_) => {
                    // Every resync slot is taken: the slot this pass holds goes
                    // to work that is not a resync; the resync comes back soon.
                    return Ok(ctx.queue.requeue(&key, jittered(RESYNC_POSTPONED, &key, 1)));
                }
            }
        } else {
            None
        };
    async move {
        let _resync_slot = resync_slot;
        let _in_flight = ctx.health.reconcile_started(&key);
        let started = std::time::Instant::now();
        let api: Api<GlobalApi> = Api::namespaced(ctx.client.clone(), &namespace);
        let ctx_ref = &ctx;
        let api_ref = &api;
        let result = finalizer(&api, FINALIZER, object, |event| async move {
            match event {
                finalizer::Event::Apply(object) => apply(&object, ctx_ref, api_ref).await,
                finalizer::Event::Cleanup(object) => cleanup(&object, ctx_ref, api_ref).await,
            }
        })
        .await
        .map_err(|e| Error::Finalizer(Box::new(e)));
        ctx.metrics.reconciled(started.elapsed());
        match &result {
            Ok(_) => ctx.succeeded(&key),
            Err(e) => {
                ctx.metrics.failed(e.category());
                tracing::warn!(error = %e, "reconcile failed");
            }
        }
        result
    }
    .instrument(span)
    .await
}

/// What to do after a failed reconcile: soon while a deletion is under
/// way, otherwise with backoff per object.
pub fn error_policy(object: Arc<GlobalApi>, error: &Error, ctx: Arc<Context>) -> Action {
    let key = key_of(&object);
    if object.paused() && matches!(error.inner(), Error::CleanupPending(_)) {
        // Removing the annotation wakes the controller; until then a look
        // now and then keeps status current.
        return ctx.queue.requeue(
            &key,
            Duration::from_secs(u64::from(object.spec.resync_seconds)),
        );
    }
    let turn = ctx.aws.budget().ticket_of(&key).map(until);
    match error.inner() {
        // A deletion under way, perhaps waiting for its turn in the budget.
        Error::CleanupPending(_) => ctx.queue.requeue(&key, turn.unwrap_or(PENDING_REQUEUE)),
        _ => {
            let failures = ctx.failed(&key);
            let wait = jittered(backoff(failures), &key, failures);
            // A turn held in the budget is not given away by waiting longer.
            ctx.queue.requeue(&key, turn.map_or(wait, |t| t.min(wait)))
        }
    }
}

/// `wait` moved by up to ±20 %, the same for one object and failure count,
/// different across objects: objects that failed together (one AWS outage)
/// do not all retry in the same second.
pub(crate) fn jittered(wait: Duration, key: &str, failures: u32) -> Duration {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut hasher = DefaultHasher::new();
    (key, failures).hash(&mut hasher);
    // A fraction in [0.8, 1.2).
    let spread = 0.8 + 0.4 * (hasher.finish() % 1000) as f64 / 1000.0;
    wait.mul_f64(spread)
}

/// The wait before retry number `failures` (1 for the first): 5 s, 10 s,
/// 20 s, … up to 5 minutes.
pub fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    FIRST_RETRY.saturating_mul(1u32 << doublings).min(MAX_RETRY)
}

/// When the next pass is due after a pass without errors, the
/// `pending_passes`-th in a row with something on its way.
fn requeue_after(object: &GlobalApi, pass: &Pass, pending_passes: u32) -> Duration {
    if pass.pending.is_empty() {
        Duration::from_secs(u64::from(object.spec.resync_seconds))
    } else {
        pending_requeue(&pass.pending, pending_passes)
    }
}

/// Passes in a row that requeue after [`PENDING_REQUEUE`] before the wait grows.
const QUICK_PENDING_PASSES: u32 = 6;

/// The wait after a pending pass: [`PENDING_REQUEUE`] for the first half
/// minute, then doubling up to what the soonest awaited thing is worth:
/// a certificate's DNS validation takes minutes (up to 72 hours), an
/// Aurora create or modify tens of minutes, a distribution's deploy a few
/// minutes; the rest (records in sync, a domain or mapping moving) seconds.
fn pending_requeue(pending: &[Note], passes: u32) -> Duration {
    let cap = pending
        .iter()
        .map(|n| match n.service {
            Service::Acm => Duration::from_secs(300),
            Service::Rds => Duration::from_secs(120),
            Service::DynamoDb => Duration::from_secs(30),
            Service::CloudFront => Duration::from_secs(60),
            Service::Logs | Service::ApiGateway | Service::Route53 | Service::CloudWatch => {
                Duration::from_secs(15)
            }
        })
        .min()
        .unwrap_or(PENDING_REQUEUE);
    let doublings = passes.saturating_sub(QUICK_PENDING_PASSES).min(16);
    PENDING_REQUEUE
        .saturating_mul(1u32 << doublings)
        .min(cap)
        .max(PENDING_REQUEUE)
}

fn now() -> Time {
    Time(Timestamp::now())
}

/// The spec is live: make AWS follow it (or report how it drifted).
async fn apply(object: &GlobalApi, ctx: &Arc<Context>, api: &Api<GlobalApi>) -> Result<Action> {
    let target = Target::from_object(object)?;
    let mut memory = match admitted(object, ctx).await? {
        Ok(memory) => memory,
        Err(refusal) => return refused(object, ctx, api, refusal).await,
    };
    let key = key_of(object);
    let aws = &ctx
        .aws
        .for_object(&key, priority(object))
        .with_announcer(warnings_to_events(ctx, object));
    memory.database.failover_to = object.failover_to().map(str::to_owned);
    let failover = requested_failover(object, ctx, aws, &target).await;
    let (mut pass, applied) = pass_under_drift_policy(object, aws, &target, &memory).await;
    if let Some(failover) = failover {
        // What the request could not do shows beside the pass; its change
        // is not drift, so it stays out of the plan.
        let note = |finding: Finding| Note {
            service: Service::Rds,
            finding,
        };
        pass.errors.extend(failover.errors.into_iter().map(note));
        pass.pending.extend(failover.pending.into_iter().map(note));
        pass.conflicts
            .extend(failover.conflicts.into_iter().map(note));
    }
    report(object, ctx, api, &pass, applied).await?;
    next_pass(object, ctx, &key, &pass)
}

/// The memory of the last status for this pass, or why the object may not
/// have one: tenancy policies that refuse its spec, or an adoption that
/// cannot be followed.
async fn admitted(
    object: &GlobalApi,
    ctx: &Arc<Context>,
) -> Result<std::result::Result<Memory, Refusal>> {
    if ctx.tenancy_policies {
        let refusals = policy_refusals(object, ctx).await?;
        if !refusals.is_empty() {
            return Ok(Err(Refusal::Policy(refusals)));
        }
    }
    let mut memory = Memory::from_status(object.status.as_ref());
    if let Some(value) = object.adopt_from()
        && object
            .status
            .as_ref()
            .and_then(|s| s.adopted_from.as_deref())
            != Some(value)
    {
        match previous_owner(object, ctx, value).await? {
            Ok(previous) => memory.adopt = Some(previous),
            Err(why) => return Ok(Err(Refusal::Adoption(why))),
        }
    }
    Ok(Ok(memory))
}

/// The pass, and whether it was applied: paused, or under `driftPolicy:
/// Report` with drift found, it is only a plan. Report is a policy over
/// the plan's observation: without drift, what the plan would change (the
/// spec being carried out) is applied by a second pass, and a plan with
/// nothing to change is the pass.
async fn pass_under_drift_policy(
    object: &GlobalApi,
    aws: &crate::aws::AwsClients,
    target: &Target,
    memory: &Memory,
) -> (Pass, bool) {
    let paused = object.paused();
    let report_only =
        paused || (object.spec.drift_policy == DriftPolicy::Report && status::spec_applied(object));
    if !report_only {
        return (
            reconcile::reconcile(aws, target, memory, Mode::Apply).await,
            true,
        );
    }
    let planned = reconcile::reconcile(aws, target, memory, Mode::Plan).await;
    if paused || !status::drift_changes(object, &planned).is_empty() {
        return (planned, false);
    }
    if stands_for_pass(&planned) {
        return (planned, true);
    }
    (
        reconcile::reconcile(aws, target, memory, Mode::Apply).await,
        true,
    )
}

/// A plan with nothing to change and nothing on its way stands for the
/// pass, so that a resync under Report observes AWS once, as under Correct.
/// Pending work may be what only Apply carries out (a custom domain or a
/// distribution retired once DNS has moved), so it takes an Apply pass.
fn stands_for_pass(planned: &Pass) -> bool {
    planned.plan.is_empty() && planned.pending.is_empty()
}

/// Drift in the metrics and the log, the pass's Events, and the status.
async fn report(
    object: &GlobalApi,
    ctx: &Arc<Context>,
    api: &Api<GlobalApi>,
    pass: &Pass,
    applied: bool,
) -> Result<()> {
    ctx.metrics.findings(pass);
    let drift = status::drift_changes(object, pass);
    if !drift.is_empty() {
        ctx.metrics.drift(drift.len(), applied);
        tracing::info!(changes = drift.len(), corrected = applied, "drift found");
    }
    let reference = object.object_ref(&());
    events::publish(
        ctx,
        &reference,
        events::notices(pass, applied, &drift, applied),
    )
    .await;
    let action = if applied {
        DriftAction::Corrected
    } else {
        DriftAction::Reported
    };
    let new = status::status(object, pass, action, &now());
    write_status(ctx, api, object, &new).await?;
    Ok(())
}

/// When the next pass comes, by what the pass left: a spec to fix, a turn
/// in the budget, errors (backoff), pending work or nothing (resync).
fn next_pass(object: &GlobalApi, ctx: &Arc<Context>, key: &str, pass: &Pass) -> Result<Action> {
    if pass.only_invalid() {
        // Status says what to fix; retrying sooner cannot help.
        tracing::info!(errors = %summary(&pass.errors), "the spec needs a change");
        return Ok(ctx.queue.requeue(key, requeue_after(object, pass, 0)));
    }
    if pass.only_deferred()
        && let Some(turn) = ctx.aws.budget().ticket_of(key)
    {
        // Not a failure: the object comes back when its turn in the
        // account's budget is due.
        tracing::info!(errors = %summary(&pass.errors), "waiting for the AWS budget");
        ctx.succeeded(key);
        return Ok(ctx.queue.requeue(key, until(turn)));
    }
    if !pass.errors.is_empty() {
        return Err(Error::Incomplete(summary(&pass.errors)));
    }
    let pending_passes = ctx.pending_pass(
        key,
        object.metadata.generation.unwrap_or_default(),
        !pass.pending.is_empty(),
    );
    Ok(ctx
        .queue
        .requeue(key, requeue_after(object, pass, pending_passes)))
}

/// The unplanned failover the `globalapi.io/failover-to` annotation asks
/// for, made before the pass unless paused or the last status shows the
/// writer there already; `None` when nothing was asked or done. Its change
/// is told in an Event (the announcement before it is a Warning).
async fn requested_failover(
    object: &GlobalApi,
    ctx: &Arc<Context>,
    aws: &crate::aws::AwsClients,
    target: &Target,
) -> Option<crate::plan::StepOutcome<()>> {
    let to = object.failover_to()?;
    let writer = object
        .status
        .as_ref()
        .and_then(|s| s.database.as_ref())
        .and_then(|d| d.writer_region.as_deref());
    if object.paused() || writer == Some(to) {
        return None;
    }
    let outcome = match crate::aws::rds::failover(aws, target, to).await {
        Ok(outcome) => outcome,
        Err(e) => crate::plan::StepOutcome {
            errors: vec![Finding::failed(to, &e)],
            ..Default::default()
        },
    };
    if !outcome.changes.is_empty() {
        let done: Vec<&crate::plan::Change> = outcome.changes.iter().collect();
        tracing::warn!(to, "failing over the database as the annotation asks");
        events::publish(
            ctx,
            &object.object_ref(&()),
            done.iter().map(|c| events::requested(c)).collect(),
        )
        .await;
    }
    Some(outcome)
}

/// What the metrics show of a status just written.
fn object_state(status: &GlobalApiStatus) -> super::metrics::ObjectState {
    let holds = |kind: &str| {
        status
            .conditions
            .iter()
            .any(|c| c.type_ == kind && c.status == "True")
    };
    super::metrics::ObjectState {
        ready: holds("Ready"),
        drifted: holds("Drifted"),
        degraded: holds("Degraded"),
        conflict: holds("Conflict"),
        last_sync: status
            .last_sync_time
            .as_ref()
            .map_or(0, |t| t.0.as_second()),
    }
}

/// Why the tenancy policies of the object's namespace refuse its spec
/// (empty: they allow it), read afresh from the API server.
async fn policy_refusals(object: &GlobalApi, ctx: &Arc<Context>) -> Result<Vec<String>> {
    let namespace = object.namespace().unwrap_or_default();
    let policies: Api<GlobalApiPolicy> = Api::namespaced(ctx.client.clone(), &namespace);
    let listed = policies.list(&ListParams::default()).await?;
    Ok(tenancy::refusals(&namespace, &listed.items, &object.spec))
}

/// The previous owner the adoption annotation names, or why it may not be
/// adopted: a malformed value, or a GlobalApi of that name that still
/// exists (two owners would fight over the resources).
async fn previous_owner(
    object: &GlobalApi,
    ctx: &Arc<Context>,
    value: &str,
) -> Result<std::result::Result<Previous, String>> {
    let previous = match Previous::parse(value) {
        Ok(previous) => previous,
        Err(why) => return Ok(Err(why)),
    };
    let own_namespace = object.namespace().unwrap_or_default();
    if let Previous::Owner(owner) = &previous
        && !owner.starts_with(&format!("{own_namespace}/"))
    {
        return Ok(Err(format!(
            "{owner} is of another namespace: a GlobalApi adopts only from its own namespace ({own_namespace})"
        )));
    }
    if let Previous::Owner(owner) = &previous
        && *owner != key_of(object)
        && let Some((namespace, name)) = owner.split_once('/')
    {
        let other: Api<GlobalApi> = Api::namespaced(ctx.client.clone(), namespace);
        match other.get_opt(name).await {
            Ok(Some(_)) => {
                return Ok(Err(format!(
                    "GlobalApi {owner} still exists and owns its resources: delete it with deletionPolicy: Retain first"
                )));
            }
            // Gone, or in a namespace this operator may not read.
            Ok(None) | Err(kube::Error::Api(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Ok(previous))
}

/// Why a pass is not made at all.
enum Refusal {
    /// Tenancy policies refuse the spec, one line per broken rule.
    Policy(Vec<String>),
    /// The adoption annotation cannot be followed.
    Adoption(String),
}

/// No AWS call: status and a Warning Event say why; checked again when a
/// policy, the spec or the annotations change, and at each resync.
async fn refused(
    object: &GlobalApi,
    ctx: &Arc<Context>,
    api: &Api<GlobalApi>,
    refusal: Refusal,
) -> Result<Action> {
    let (new, notice) = match &refusal {
        Refusal::Policy(refusals) => {
            tracing::info!(refusals = %refusals.join("; "), "a tenancy policy refuses the spec");
            (
                status::refused_by_policy(object, refusals, &now()),
                events::policy_violation(refusals),
            )
        }
        Refusal::Adoption(why) => {
            tracing::info!(why = %why, "the adoption is refused");
            (
                status::adoption_refused(object, why, &now()),
                events::adoption_refused(why),
            )
        }
    };
    if status::differs(object.status.as_ref(), &new) {
        let reference = object.object_ref(&());
        events::publish(ctx, &reference, vec![notice]).await;
    }
    write_status(ctx, api, object, &new).await?;
    let key = key_of(object);
    ctx.succeeded(&key);
    Ok(ctx.queue.requeue(
        &key,
        Duration::from_secs(u64::from(object.spec.resync_seconds)),
    ))
}

/// A Warning Event on the object before each destructive database call.
fn warnings_to_events(ctx: &Arc<Context>, object: &GlobalApi) -> Announcer {
    let ctx = ctx.clone();
    let reference = object.object_ref(&());
    Announcer::new(move |loss, change| {
        let ctx = ctx.clone();
        let reference = reference.clone();
        Box::pin(async move {
            events::publish(&ctx, &reference, vec![events::about_to(loss, &change)]).await;
        })
    })
}

pub(super) fn key_of(object: &GlobalApi) -> String {
    format!(
        "{}/{}",
        object.namespace().unwrap_or_default(),
        object.name_any()
    )
}

/// A pass over an object that is Ready for its current spec is a resync:
/// it yields the AWS budget to first passes and changes.
fn priority(object: &GlobalApi) -> Priority {
    let ready = object
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True");
    if ready && status::spec_unchanged(object) {
        Priority::Resync
    } else {
        Priority::Work
    }
}

/// From now until `turn` (a little after it, so that the turn has come).
fn until(turn: tokio::time::Instant) -> Duration {
    turn.saturating_duration_since(tokio::time::Instant::now()) + Duration::from_millis(100)
}

/// The object is being deleted: remove what it owns in AWS (unless
/// `deletionPolicy: Retain`). Returning `Ok` lets the finalizer go.
async fn cleanup(object: &GlobalApi, ctx: &Arc<Context>, api: &Api<GlobalApi>) -> Result<Action> {
    let reference = object.object_ref(&());
    let forget = || {
        ctx.metrics
            .forget_object(&object.namespace().unwrap_or_default(), &object.name_any());
    };
    if object.spec.deletion_policy == DeletionPolicy::Retain {
        forget();
        let notice = events::Notice {
            warning: false,
            reason: "Retained",
            action: "Cleanup".into(),
            note: "deletionPolicy is Retain: the AWS resources stay as they are".into(),
        };
        events::publish(ctx, &reference, vec![notice]).await;
        return Ok(Action::await_change());
    }
    if object.paused() {
        let notice = events::Notice {
            warning: true,
            reason: "DeletionPaused",
            action: "Cleanup".into(),
            note: format!(
                "{PAUSED_ANNOTATION} is \"true\": nothing is removed from AWS until the annotation is removed"
            ),
        };
        events::publish(ctx, &reference, vec![notice]).await;
        write_status(ctx, api, object, &status::deletion_paused(object, &now())).await?;
        return Err(Error::CleanupPending(format!(
            "paused by {PAUSED_ANNOTATION}"
        )));
    }
    let target = Target::from_object(object)?;
    let memory = Memory::from_status(object.status.as_ref());
    // As its own owner: a deletion queued behind others (DeleteDomainName
    // is 1 per 30 s a region) holds its turn instead of waiting in the call.
    let aws = ctx
        .aws
        .for_object(&key_of(object), Priority::Work)
        .with_announcer(warnings_to_events(ctx, object));
    let pass = reconcile::destroy(&aws, &target, &memory, Mode::Apply).await;
    events::publish(ctx, &reference, events::notices(&pass, true, &[], false)).await;
    if pass.errors.is_empty() && pass.pending.is_empty() {
        tracing::info!("every AWS resource removed");
        forget();
        return Ok(Action::await_change());
    }
    write_status(ctx, api, object, &status::deleting(object, &pass, &now())).await?;
    if pass.errors.is_empty() {
        Err(Error::CleanupPending(summary(&pass.pending)))
    } else if pass.only_deferred() {
        // Waiting for a turn in the budget is a deletion under way, not a failure.
        Err(Error::CleanupPending(summary(&pass.errors)))
    } else {
        Err(Error::Incomplete(summary(&pass.errors)))
    }
}

/// Writes `new` as the whole status by server-side apply, as the one
/// field manager of the operator. The write is made on every pass, so that
/// `lastSyncTime` tells when AWS was last observed; the watch ignores
/// status-only changes, so the write does not wake the controller.
/// Writes `new` as the object's status, and the object's gauges with it, so
/// that the metrics say what status says on every path.
async fn write_status(
    ctx: &Context,
    api: &Api<GlobalApi>,
    object: &GlobalApi,
    new: &GlobalApiStatus,
) -> Result<()> {
    if status::differs(object.status.as_ref(), new) {
        tracing::info!("status changed");
    }
    let patch = serde_json::json!({
        "apiVersion": GlobalApi::api_version(&()),
        "kind": GlobalApi::kind(&()),
        "status": new,
    });
    api.patch_status(
        &object.name_any(),
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    ctx.metrics.object(
        &object.namespace().unwrap_or_default(),
        &object.name_any(),
        object_state(new),
    );
    Ok(())
}

fn summary(notes: &[Note]) -> String {
    events::bounded(Note::joined(notes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::GlobalApiSpec;

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        let waits: Vec<u64> = (1..=9).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(backoff(0).as_secs(), 5);
        assert_eq!(backoff(u32::MAX).as_secs(), 300);
    }

    #[test]
    fn retries_are_spread_within_a_fifth_and_stable_per_object() {
        let wait = Duration::from_secs(100);
        let waits: Vec<Duration> = (0..50)
            .map(|i| jittered(wait, &format!("payments/api-{i}"), 3))
            .collect();
        assert!(
            waits
                .iter()
                .all(|w| *w >= Duration::from_secs(80) && *w < Duration::from_secs(120)),
            "{waits:?}"
        );
        let distinct: std::collections::BTreeSet<Duration> = waits.iter().copied().collect();
        assert!(distinct.len() > 40, "{} distinct of 50", distinct.len());
        assert_eq!(
            jittered(wait, "payments/api-7", 3),
            jittered(wait, "payments/api-7", 3)
        );
    }

    #[test]
    fn requeue_follows_resync_unless_pending() {
        let spec: GlobalApiSpec = serde_norway::from_str(
            r#"
domain: api.example.com
hostedZone: {name: example.com}
routing: {policy: Latency}
regions: [{name: us-east-1, backend: {httpUrl: "https://us.example.com"}}]
resyncSeconds: 45
"#,
        )
        .expect("spec");
        let object = GlobalApi::new("x", spec);
        let mut pass = Pass::default();
        assert_eq!(requeue_after(&object, &pass, 0), Duration::from_secs(45));
        pass.pending.push(Note {
            service: Service::Acm,
            finding: Finding::global("certificate pending validation"),
        });
        assert_eq!(requeue_after(&object, &pass, 1), PENDING_REQUEUE);
    }

    #[test]
    fn a_plan_stands_for_the_pass_only_with_nothing_to_change_or_on_its_way() {
        let mut planned = Pass::default();
        assert!(stands_for_pass(&planned));
        // What waits for DNS to move is retired by Apply alone.
        planned.pending.push(Note {
            service: Service::ApiGateway,
            finding: Finding::in_region(
                "eu-west-1",
                "eu-west-1: custom domain old.example.com stays until DNS no longer leads to it",
            ),
        });
        assert!(!stands_for_pass(&planned));
    }

    #[test]
    fn a_pass_held_back_only_by_the_budget_is_told_by_the_cause_of_its_errors() {
        let paced = Error::deferred(
            "apigateway",
            "CreateRestApi",
            "eu-west-1",
            "1 per 3 s",
            Duration::from_secs(40),
        );
        let note = |finding| Note {
            service: Service::ApiGateway,
            finding,
        };
        let mut pass = Pass {
            errors: vec![note(Finding::failed("eu-west-1", &paced))],
            ..Pass::default()
        };
        assert!(pass.only_deferred());
        // The same words without the cause are not a deferral.
        let words = pass.errors[0].finding.text.clone();
        pass.errors
            .push(note(Finding::in_region("us-east-1", words)));
        assert!(!pass.only_deferred());
        assert!(!Pass::default().only_deferred());
    }

    #[test]
    fn pending_waits_grow_to_what_is_awaited() {
        let note = |service| Note {
            service,
            finding: Finding::global("on its way"),
        };
        let waits = |pending: &[Note]| -> Vec<u64> {
            [1, 6, 7, 8, 9, 10, 12, 20]
                .iter()
                .map(|n| pending_requeue(pending, *n).as_secs())
                .collect()
        };
        assert_eq!(
            waits(&[note(Service::Acm)]),
            [5, 5, 10, 20, 40, 80, 300, 300]
        );
        assert_eq!(
            waits(&[note(Service::Rds)]),
            [5, 5, 10, 20, 40, 80, 120, 120]
        );
        assert_eq!(
            waits(&[note(Service::CloudFront)]),
            [5, 5, 10, 20, 40, 60, 60, 60]
        );
        // The soonest awaited thing decides.
        assert_eq!(
            waits(&[note(Service::Acm), note(Service::Route53)]),
            [5, 5, 10, 15, 15, 15, 15, 15]
        );
    }
}
