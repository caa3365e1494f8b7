//! The status a reconcile pass leads to: a pure function of the object (its
//! spec and the status it had) and the pass, so that every condition and
//! drift entry can be tested from plain values.
//!
//! Conditions keep their `lastTransitionTime` while their status stays the
//! same. Drift is what a pass changed (or, with `driftPolicy: Report`, would
//! change) in resources that already existed while the spec did not change
//! since the last observation: updates and deletions. Creations are not
//! drift: they are the spec being carried out, also over several passes
//! while certificates are issued.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::{
    api::{
        ADOPT_ANNOTATION, CleanupEntry, ConditionType, DatabaseEndpoint, DatabaseStatus,
        DriftAction, DriftEntry, EdgeStatus, FAILOVER_ANNOTATION, GlobalApi, GlobalApiSpec,
        GlobalApiStatus, PAUSED_ANNOTATION, Reason, RegionStatus, TableReplicaStatus, TableStatus,
    },
    plan::{Action, Change, Service},
    reconcile::{Note, Pass},
};

/// `True` or `False`, as `status.conditions[].status` spells them (a
/// condition is never `Unknown`: what could not be read keeps its last
/// value and shows in `Degraded`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Truth {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
}

impl Truth {
    fn as_str(self) -> &'static str {
        match self {
            Truth::True => "True",
            Truth::False => "False",
        }
    }
}

/// Whether the spec is the one the last status described: the object has
/// been observed before and its generation has not moved since.
pub(crate) fn spec_unchanged(object: &GlobalApi) -> bool {
    let observed = object.status.as_ref().and_then(|s| s.observed_generation);
    observed.is_some() && observed == object.metadata.generation
}

/// A digest of what the spec asks of AWS: the spec without `driftPolicy`,
/// which only says how to treat drift.
pub(crate) fn spec_digest(spec: &GlobalApiSpec) -> String {
    use sha2::{Digest, Sha256};
    let mut spec = spec.clone();
    spec.drift_policy = Default::default();
    let text = serde_json::to_string(&spec).unwrap_or_default();
    Sha256::digest(text.as_bytes())
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The digest of what the object asks of AWS now: [`spec_digest`] of its
/// spec as DNS follows it, the database writer the last status saw
/// standing in for `routing.primaryRegion` under
/// `routing.followDatabaseWriter`; so that the writer moving is a change
/// to carry out, not drift to hold back.
pub(crate) fn effective_digest(object: &GlobalApi) -> String {
    let writer = object
        .status
        .as_ref()
        .and_then(|s| s.database.as_ref())
        .and_then(|d| d.writer_region.as_deref());
    match crate::target::following_the_writer(&object.spec, writer) {
        Some(followed) => spec_digest(&followed),
        None => spec_digest(&object.spec),
    }
}

/// Whether AWS was last made to follow this very spec (`driftPolicy` aside);
/// for a status from before `appliedSpec` was kept, whether the spec is the
/// one the last status described.
pub(crate) fn spec_applied(object: &GlobalApi) -> bool {
    match object.status.as_ref().and_then(|s| s.applied_spec.as_ref()) {
        Some(applied) => *applied == effective_digest(object),
        None => spec_unchanged(object),
    }
}

/// Whether every resource of this spec existed at some pass since the
/// spec was last changed: the object was Ready under it (`readySpec`; for
/// a status from before `readySpec` was kept, a `Ready=True` condition of
/// this generation).
pub(crate) fn spec_built(object: &GlobalApi) -> bool {
    let Some(status) = object.status.as_ref() else {
        return false;
    };
    match status.ready_spec.as_ref() {
        Some(ready) => *ready == effective_digest(object),
        None => {
            spec_unchanged(object)
                && spec_applied(object)
                && status
                    .conditions
                    .iter()
                    .any(|c| c.type_ == ConditionType::Ready.as_str() && c.status == "True")
        }
    }
}

/// The changes of `pass` that are drift, while the spec stayed the one last
/// applied: updates and deletions of existing resources and, once the spec
/// has been built, creations (what would be created again was deleted
/// outside the operator). Empty after a spec change.
pub(crate) fn drift_changes<'a>(object: &GlobalApi, pass: &'a Pass) -> Vec<&'a Change> {
    if !spec_applied(object) {
        return Vec::new();
    }
    let built = spec_built(object);
    pass.plan
        .changes
        .iter()
        .filter(|c| match c.action {
            Action::Update | Action::Delete => true,
            Action::Create => built,
        })
        .collect()
}

/// The status after `pass`. `drift_action` says what happened to the drift
/// the pass found: `Corrected` when the pass applied its changes,
/// `Reported` when it only planned them (`driftPolicy: Report`).
pub fn status(
    object: &GlobalApi,
    pass: &Pass,
    drift_action: DriftAction,
    now: &Time,
) -> GlobalApiStatus {
    let previous = object.status.as_ref();
    let spec = &object.spec;
    let regions = regions(object, pass);
    let ready_count = regions
        .iter()
        .filter(|r| r.ready && spec.regions.iter().any(|s| s.name == r.name))
        .count();
    let drift = drift_entries(object, pass, drift_action, now);
    let components = [
        certificates(object, pass),
        regional_apis(object, pass),
        dns(object, pass),
        edge(object, pass),
        database(object, pass),
    ];
    let reported = drift_action == DriftAction::Reported && !drift.is_empty();
    let ready = ready_verdict(
        object,
        pass,
        &components,
        reported.then_some(drift.len()),
        &regions,
    );
    let is_ready = ready.truth == Truth::True;
    let conditions = std::iter::once(ready)
        .chain(components)
        .chain([
            drifted(object, pass, drift_action, drift.is_empty()),
            degraded(object, pass),
            conflict(pass),
            paused(object),
        ])
        .map(|v| condition(object, v.kind, v.truth, v.reason, v.message, now))
        .collect();

    // Kept only when the pass applied the whole spec: after a failure, the
    // rest is still the spec being carried out, not drift.
    let previous_applied = previous.and_then(|s| s.applied_spec.clone());
    let applied_spec = if drift_action == DriftAction::Corrected && pass.errors.is_empty() {
        Some(effective_digest(object))
    } else {
        previous_applied
    };

    // Kept while the spec stays the one that was Ready; a spec change
    // drops it until the new spec is Ready in turn.
    let digest = effective_digest(object);
    let ready_spec = (is_ready || spec_built(object)).then_some(digest);

    GlobalApiStatus {
        observed_generation: object.metadata.generation,
        applied_spec,
        ready_spec,
        adopted_from: pass
            .outputs
            .adopted
            .clone()
            .or_else(|| previous.and_then(|s| s.adopted_from.clone())),
        endpoint: Some(format!("https://{}", spec.domain)),
        ready_regions: Some(format!("{}/{}", ready_count, spec.regions.len())),
        conditions,
        regions,
        edge: edge_status(object, pass),
        database: database_status(object, pass),
        drift,
        cleanup: cleanup(object, pass),
        last_sync_time: Some(now.clone()),
    }
}

/// Ready: the first of what stands in the way (a spec AWS refused, AWS's
/// errors, conflicts, the pause, reported drift — `reported_drift` fields —,
/// pending work, a part not ready), else the regions served.
fn ready_verdict(
    object: &GlobalApi,
    pass: &Pass,
    components: &[Verdict],
    reported_drift: Option<usize>,
    regions: &[RegionStatus],
) -> Verdict {
    let kind = ConditionType::Ready;
    let blocking = not_true(components);
    if pass.only_invalid() {
        Verdict::new(
            kind,
            Truth::False,
            Reason::InvalidSpec,
            format!(
                "the spec cannot be carried out: {}. Change the spec; nothing is retried until then except at each resync.",
                join(&pass.errors)
            ),
        )
    } else if pass.only_deferred() {
        Verdict::new(
            kind,
            Truth::False,
            Reason::AwsBudget,
            format!(
                "{}. Nothing to do: the operator comes back at this object's turn (if AWS raised the account's quotas, raise --aws-rate with them).",
                join(&pass.errors)
            ),
        )
    } else if !pass.errors.is_empty() {
        Verdict::new(
            kind,
            Truth::False,
            Reason::AwsError,
            format!(
                "AWS refused or failed: {}. Fix the cause named by AWS (permissions, quotas, the spec); the operator retries with backoff.",
                join(&pass.errors)
            ),
        )
    } else if !pass.conflicts.is_empty() {
        Verdict::new(
            kind,
            Truth::False,
            Reason::Conflict,
            "resources the spec needs belong to someone else; see the Conflict condition"
                .to_owned(),
        )
    } else if object.paused() && !pass.plan.changes.is_empty() {
        Verdict::new(kind, Truth::False, Reason::Paused, held_by_pause(pass))
    } else if let Some(fields) = reported_drift {
        Verdict::new(
            kind,
            Truth::False,
            Reason::DriftReported,
            format!(
                "AWS differs from the spec in {fields} field(s) and driftPolicy is Report, so nothing was changed; see status.drift. Set driftPolicy: Correct to put AWS back, or change the spec to accept the values."
            ),
        )
    } else if !pass.pending.is_empty() {
        Verdict::new(
            kind,
            Truth::False,
            Reason::Pending,
            format!(
                "waiting for AWS: {}. Nothing to do; the operator checks again in a few seconds.",
                join(&pass.pending)
            ),
        )
    } else if !blocking.is_empty() {
        Verdict::new(
            kind,
            Truth::False,
            Reason::NotReady,
            format!("not every part is ready: {}", blocking.join("; ")),
        )
    } else {
        Verdict::new(
            kind,
            Truth::True,
            Reason::Reconciled,
            serving(&object.spec, regions),
        )
    }
}

/// `DnsReady is False (Incomplete)` for each component that is not True.
fn not_true(components: &[Verdict]) -> Vec<String> {
    components
        .iter()
        .filter(|c| c.truth != Truth::True)
        .map(|c| format!("{} is {} ({})", c.kind, c.truth.as_str(), c.reason.as_str()))
        .collect()
}

/// The changes a pause held back, the first ten named.
fn held_by_pause(pass: &Pass) -> String {
    format!(
        "paused by the {PAUSED_ANNOTATION} annotation with {} AWS change(s) not made: {}. Remove the annotation to let the operator make them.",
        pass.plan.changes.len(),
        pass.plan
            .changes
            .iter()
            .take(10)
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    )
}

/// Drifted: what the pass found changed outside the operator, and what
/// became of it.
fn drifted(object: &GlobalApi, pass: &Pass, action: DriftAction, no_drift: bool) -> Verdict {
    let kind = ConditionType::Drifted;
    if no_drift {
        return Verdict::new(
            kind,
            Truth::False,
            Reason::NoDrift,
            "AWS matched the spec at the last observation".to_owned(),
        );
    }
    let lines: Vec<String> = drift_changes(object, pass)
        .iter()
        .map(|c| c.to_string())
        .collect();
    match action {
        DriftAction::Reported => Verdict::new(
            kind,
            Truth::True,
            Reason::DriftReported,
            format!(
                "changed or deleted outside the operator, left as found (driftPolicy: Report): {}",
                lines.join("; ")
            ),
        ),
        _ => Verdict::new(
            kind,
            Truth::True,
            Reason::DriftCorrected,
            format!(
                "changed or deleted outside the operator and put back to the spec: {}",
                lines.join("; ")
            ),
        ),
    }
}

/// Degraded: parts that could not be read, or regions that fail while
/// others serve.
fn degraded(object: &GlobalApi, pass: &Pass) -> Verdict {
    let kind = ConditionType::Degraded;
    let spec = &object.spec;
    let failing: Vec<&str> = spec
        .regions
        .iter()
        .map(|r| r.name.as_str())
        .filter(|r| pass.failures().any(|n| n.finding.concerns(r)))
        .collect();
    if !pass.unknown.is_empty() {
        Verdict::new(
            kind,
            Truth::True,
            Reason::ReadsFailing,
            format!(
                "could not read {} from AWS; what they serve (DNS records, health checks, the distribution) is left exactly as it was until they can be read again: {}",
                pass.unknown
                    .iter()
                    .map(|n| n.service.as_str())
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect::<Vec<_>>()
                    .join(", "),
                join(&pass.unknown)
            ),
        )
    } else if failing.is_empty() {
        Verdict::new(
            kind,
            Truth::False,
            Reason::NoRegionFailing,
            "no region reports an error".to_owned(),
        )
    } else if failing.len() == spec.regions.len() {
        Verdict::new(
            kind,
            Truth::False,
            Reason::AllRegionsFailing,
            format!(
                "every region fails ({}); see the Ready condition for AWS's messages",
                failing.join(", ")
            ),
        )
    } else {
        Verdict::new(
            kind,
            Truth::True,
            Reason::RegionsFailing,
            format!(
                "{} of {} regions fail: {}; the others keep serving. See the Ready condition for AWS's messages.",
                failing.len(),
                spec.regions.len(),
                failing.join(", ")
            ),
        )
    }
}

fn conflict(pass: &Pass) -> Verdict {
    let kind = ConditionType::Conflict;
    if pass.conflicts.is_empty() {
        Verdict::new(
            kind,
            Truth::False,
            Reason::NoConflict,
            "every resource the spec needs is free or ours".to_owned(),
        )
    } else {
        Verdict::new(
            kind,
            Truth::True,
            Reason::OwnedByOthers,
            format!(
                "left untouched because they belong to someone else: {}. Remove or hand them over, or change the spec to use other names.",
                join(&pass.conflicts)
            ),
        )
    }
}

fn paused(object: &GlobalApi) -> Verdict {
    let kind = ConditionType::Paused;
    if object.paused() {
        Verdict::new(
            kind,
            Truth::True,
            Reason::Annotation,
            format!(
                "{PAUSED_ANNOTATION} is \"true\": AWS is observed and nothing is written to it; remove the annotation to resume"
            ),
        )
    } else {
        Verdict::new(
            kind,
            Truth::False,
            Reason::NotPaused,
            "the operator makes AWS follow the spec".to_owned(),
        )
    }
}

/// What awaits deletion: the certificates ACM would not let go in this
/// pass, and those remembered from before in regions that could not be read.
fn cleanup(object: &GlobalApi, pass: &Pass) -> Vec<CleanupEntry> {
    let acm = &pass.outputs.acm;
    let mut entries: Vec<CleanupEntry> = acm
        .retiring
        .iter()
        .map(|(arn, why)| CleanupEntry {
            service: "acm".into(),
            resource: arn.clone(),
            reason: Some(why.clone()),
        })
        .collect();
    let unread = |arn: &str| {
        arn.split(':')
            .nth(3)
            .is_some_and(|region| acm.unknown.contains_key(region))
    };
    if let Some(before) = object.status.as_ref() {
        for entry in &before.cleanup {
            if entry.service == "acm"
                && unread(&entry.resource)
                && !entries.iter().any(|e| e.resource == entry.resource)
            {
                entries.push(entry.clone());
            }
        }
    }
    entries.sort();
    entries
}

/// The status while deletion is under way: the previous status with a
/// `Ready=False` condition saying what deletion waits for or what failed.
pub fn deleting(object: &GlobalApi, pass: &Pass, now: &Time) -> GlobalApiStatus {
    // Calls waiting for their turn in the budget are waits, not failures.
    let (reason, message) = if !pass.errors.is_empty() && !pass.only_deferred() {
        (
            Reason::DeletionFailed,
            format!(
                "deleting the AWS resources failed: {}. The finalizer stays until they are gone; fix the cause or set deletionPolicy: Retain to keep them.",
                join(&pass.errors)
            ),
        )
    } else {
        let waits: Vec<String> = pass
            .errors
            .iter()
            .chain(&pass.pending)
            .map(Note::to_string)
            .collect();
        (
            Reason::Deleting,
            format!(
                "deleting the AWS resources, waiting for: {}",
                waits.join("; ")
            ),
        )
    };
    not_ready(object, reason, message, now)
}

/// The status of a deletion held back by the pause annotation.
pub(crate) fn deletion_paused(object: &GlobalApi, now: &Time) -> GlobalApiStatus {
    not_ready(
        object,
        Reason::DeletionPaused,
        format!(
            "deleted, but {PAUSED_ANNOTATION} holds every AWS write back: nothing is removed from AWS and the finalizer stays until the annotation is removed"
        ),
        now,
    )
}

/// A tenancy policy refuses the spec: nothing was done in AWS.
pub(crate) fn refused_by_policy(
    object: &GlobalApi,
    refusals: &[String],
    now: &Time,
) -> GlobalApiStatus {
    not_ready(
        object,
        Reason::PolicyViolation,
        format!(
            "refused by tenancy policy, so nothing is done in AWS (what exists stays as it is): {}. Change the spec, or ask the platform team to change the namespace's GlobalApiPolicy.",
            refusals.join("; ")
        ),
        now,
    )
}

/// The adoption annotation cannot be followed: nothing was done in AWS.
pub(crate) fn adoption_refused(object: &GlobalApi, why: &str, now: &Time) -> GlobalApiStatus {
    not_ready(
        object,
        Reason::AdoptionRefused,
        format!(
            "{why}. Nothing is done in AWS until the {ADOPT_ANNOTATION} annotation is corrected or removed."
        ),
        now,
    )
}

/// The previous status with `Ready=False` for `reason` in front.
fn not_ready(object: &GlobalApi, reason: Reason, message: String, now: &Time) -> GlobalApiStatus {
    let mut status = object.status.clone().unwrap_or_default();
    let ready = condition(
        object,
        ConditionType::Ready,
        Truth::False,
        reason,
        message,
        now,
    );
    status
        .conditions
        .retain(|c| c.type_ != ConditionType::Ready.as_str());
    status.conditions.insert(0, ready);
    status.last_sync_time = Some(now.clone());
    status
}

/// Whether two statuses differ in more than `lastSyncTime`.
pub fn differs(old: Option<&GlobalApiStatus>, new: &GlobalApiStatus) -> bool {
    let Some(old) = old else {
        return true;
    };
    let mut a = old.clone();
    let mut b = new.clone();
    a.last_sync_time = None;
    b.last_sync_time = None;
    a != b
}

/// A condition of `kind`, keeping the previous transition time when its
/// status did not change.
fn condition(
    object: &GlobalApi,
    kind: ConditionType,
    truth: Truth,
    reason: Reason,
    message: String,
    now: &Time,
) -> Condition {
    let previous = object
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == kind.as_str()));
    let last_transition_time = match previous {
        Some(p) if p.status == truth.as_str() => p.last_transition_time.clone(),
        _ => now.clone(),
    };
    Condition {
        type_: kind.as_str().to_owned(),
        status: truth.as_str().to_owned(),
        reason: reason.as_str().to_owned(),
        message: bounded(message),
        observed_generation: object.metadata.generation,
        last_transition_time,
    }
}

/// Condition messages are limited to 32 KiB; ours stay far below.
fn bounded(message: String) -> String {
    crate::text::cut(message, 4096)
}

fn join(notes: &[Note]) -> String {
    Note::joined(notes)
}

fn of(notes: &[Note], service: Service) -> Vec<&Note> {
    notes.iter().filter(|n| n.service == service).collect()
}

/// Whether any of `notes` concerns `region`.
fn mentions(notes: &[Note], region: &str) -> bool {
    notes.iter().any(|n| n.finding.concerns(region))
}

/// One condition as a pass decides it, before it is stamped with times.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Verdict {
    kind: ConditionType,
    truth: Truth,
    reason: Reason,
    message: String,
}

impl Verdict {
    fn new(kind: ConditionType, truth: Truth, reason: Reason, message: String) -> Self {
        Self {
            kind,
            truth,
            reason,
            message,
        }
    }
}

/// The common part of a service's condition: its errors, then what it waits for.
fn service_notes(kind: ConditionType, pass: &Pass, service: Service) -> Option<Verdict> {
    let (deferred, errors): (Vec<&Note>, Vec<&Note>) = of(&pass.errors, service)
        .into_iter()
        .partition(|n| n.finding.is_deferred());
    if !errors.is_empty() {
        let text: Vec<&str> = errors.iter().map(|n| n.finding.text.as_str()).collect();
        return Some(Verdict::new(
            kind,
            Truth::False,
            Reason::AwsError,
            format!("{service}: {}", text.join("; ")),
        ));
    }
    // A call waiting for its turn in the budget is work on its way.
    let mut pending = deferred;
    pending.extend(of(&pass.pending, service));
    if !pending.is_empty() {
        let text: Vec<&str> = pending.iter().map(|n| n.finding.text.as_str()).collect();
        return Some(Verdict::new(
            kind,
            Truth::False,
            Reason::Pending,
            format!("{service}: {}", text.join("; ")),
        ));
    }
    None
}

fn certificates(object: &GlobalApi, pass: &Pass) -> Verdict {
    let kind = ConditionType::CertificatesReady;
    if let Some(c) = service_notes(kind, pass, Service::Acm) {
        return c;
    }
    let acm = &pass.outputs.acm;
    let mut missing: Vec<String> = object
        .spec
        .regions
        .iter()
        .filter(|r| !acm.regional.get(&r.name).is_some_and(|c| c.issued))
        .map(|r| r.name.clone())
        .collect();
    let edge_on = object.spec.edge.as_ref().is_some_and(|e| e.enabled);
    if edge_on && !acm.edge.as_ref().is_some_and(|c| c.issued) {
        missing.push("edge (us-east-1)".to_owned());
    }
    if missing.is_empty() {
        Verdict::new(
            kind,
            Truth::True,
            Reason::Issued,
            "every certificate is issued".to_owned(),
        )
    } else {
        Verdict::new(
            kind,
            Truth::False,
            Reason::NotIssued,
            format!("no issued certificate yet for: {}", missing.join(", ")),
        )
    }
}

fn regional_apis(object: &GlobalApi, pass: &Pass) -> Verdict {
    let kind = ConditionType::RegionalApisReady;
    if let Some(c) = service_notes(kind, pass, Service::ApiGateway) {
        return c;
    }
    let missing: Vec<&str> = object
        .spec
        .regions
        .iter()
        .filter(|r| {
            pass.outputs
                .apigateway
                .regions
                .get(&r.name)
                .is_none_or(|a| a.custom_domain.is_none())
        })
        .map(|r| r.name.as_str())
        .collect();
    if missing.is_empty() {
        Verdict::new(
            kind,
            Truth::True,
            Reason::Deployed,
            "every region has its REST API, stage and custom domain".to_owned(),
        )
    } else {
        Verdict::new(
            kind,
            Truth::False,
            Reason::Incomplete,
            format!(
                "no REST API with a custom domain yet in: {}",
                missing.join(", ")
            ),
        )
    }
}

fn dns(object: &GlobalApi, pass: &Pass) -> Verdict {
    let kind = ConditionType::DnsReady;
    if let Some(c) = service_notes(kind, pass, Service::Route53) {
        return c;
    }
    let missing: Vec<&str> = object
        .spec
        .regions
        .iter()
        .filter(|r| !pass.outputs.route53.health_check_ids.contains_key(&r.name))
        .map(|r| r.name.as_str())
        .collect();
    if missing.is_empty() {
        Verdict::new(
            kind,
            Truth::True,
            Reason::RecordsInPlace,
            "health checks and records are in place".to_owned(),
        )
    } else {
        Verdict::new(
            kind,
            Truth::False,
            Reason::Incomplete,
            format!("no health check yet for: {}", missing.join(", ")),
        )
    }
}

fn edge(object: &GlobalApi, pass: &Pass) -> Verdict {
    let kind = ConditionType::EdgeReady;
    if !object.spec.edge.as_ref().is_some_and(|e| e.enabled) {
        return Verdict::new(
            kind,
            Truth::True,
            Reason::NotRequested,
            "spec.edge.enabled is false; no CloudFront distribution is wanted".to_owned(),
        );
    }
    if let Some(c) = service_notes(kind, pass, Service::CloudFront) {
        return c;
    }
    let cloudfront = &pass.outputs.cloudfront;
    match (&cloudfront.distribution_id, cloudfront.status.as_deref()) {
        (Some(_), Some("Deployed")) => Verdict::new(
            kind,
            Truth::True,
            Reason::Deployed,
            "the CloudFront distribution is deployed".to_owned(),
        ),
        (Some(id), status) => Verdict::new(
            kind,
            Truth::False,
            Reason::Deploying,
            format!(
                "CloudFront distribution {id} is {}",
                status.unwrap_or("in an unknown state")
            ),
        ),
        (None, _) => Verdict::new(
            kind,
            Truth::False,
            Reason::Missing,
            "no CloudFront distribution yet".to_owned(),
        ),
    }
}

fn database(object: &GlobalApi, pass: &Pass) -> Verdict {
    let kind = ConditionType::DatabaseReady;
    let aurora = aurora(object, pass);
    if aurora.truth == Truth::False && aurora.reason == Reason::AwsError {
        return aurora;
    }
    if let Some(c) = service_notes(kind, pass, Service::DynamoDb) {
        return c;
    }
    let Some((ready, tables)) = tables(object, pass) else {
        return aurora;
    };
    if aurora.reason == Reason::NotRequested {
        let (truth, reason) = if ready {
            (Truth::True, Reason::Available)
        } else {
            (Truth::False, Reason::Missing)
        };
        return Verdict::new(kind, truth, reason, tables);
    }
    let (truth, reason) = match (aurora.truth, ready) {
        (Truth::True, true) => (Truth::True, aurora.reason),
        // Aurora is as it should be: what is missing is the tables.
        (Truth::True, false) => (Truth::False, Reason::Missing),
        _ => (Truth::False, aurora.reason),
    };
    Verdict::new(kind, truth, reason, format!("{}; {tables}", aurora.message))
}

/// Whether every table of the spec has a replica in every region of the
/// spec, and the line saying so; `None` without tables in the spec or in
/// AWS.
fn tables(object: &GlobalApi, pass: &Pass) -> Option<(bool, String)> {
    let found = &pass.outputs.dynamodb;
    let wanted: Vec<&str> = object
        .spec
        .database
        .as_ref()
        .and_then(|d| d.dynamodb.as_ref())
        .map(|d| d.tables.iter().map(|t| t.name.as_str()).collect())
        .unwrap_or_default();
    if wanted.is_empty() && found.tables.is_empty() && found.orphaned.is_empty() {
        return None;
    }
    let mut ready = true;
    let mut parts = Vec::new();
    for name in &wanted {
        let regions: Vec<&str> = found
            .tables
            .iter()
            .find(|t| t.name == *name)
            .map(|t| t.replicas.iter().map(|r| r.region.as_str()).collect())
            .unwrap_or_default();
        ready &= object
            .spec
            .regions
            .iter()
            .all(|r| regions.contains(&r.name.as_str()));
        parts.push(format!("{name} ({})", regions.join(", ")));
    }
    let mut line = if parts.is_empty() {
        "no DynamoDB table is wanted".to_owned()
    } else {
        format!("DynamoDB global tables {}", parts.join(", "))
    };
    if !found.orphaned.is_empty() {
        line.push_str(&format!(
            "; no longer in the spec and left as they are: {}. {ORPHAN_HINT}",
            found.orphaned.join(", ")
        ));
    }
    Some((ready, line))
}

/// The Aurora part of DatabaseReady.
fn aurora(object: &GlobalApi, pass: &Pass) -> Verdict {
    let kind = ConditionType::DatabaseReady;
    let orphaned = &pass.outputs.rds.orphaned;
    let no_aurora = object
        .spec
        .database
        .as_ref()
        .is_none_or(|d| d.aurora.is_none());
    if no_aurora && !orphaned.is_empty() {
        return Verdict::new(
            kind,
            Truth::True,
            Reason::Orphaned,
            format!(
                "no database is wanted; left as they are: {}. {ORPHAN_HINT}",
                orphaned.join(", ")
            ),
        );
    }
    if let Some(c) = service_notes(kind, pass, Service::Rds) {
        return c;
    }
    if no_aurora {
        return Verdict::new(
            kind,
            Truth::True,
            Reason::NotRequested,
            "spec.database.aurora is not set; no database is wanted".to_owned(),
        );
    }
    let rds = &pass.outputs.rds;
    let also = if orphaned.is_empty() {
        String::new()
    } else {
        format!(
            "; no longer in the spec and left as they are: {}. {ORPHAN_HINT}",
            orphaned.join(", ")
        )
    };
    match (&rds.global_cluster_arn, &rds.writer_region) {
        (Some(arn), Some(writer)) if rds.failed_over_to.as_ref() == Some(writer) => Verdict::new(
            kind,
            Truth::True,
            Reason::FailedOver,
            format!(
                "global cluster {arn} is available, writer in {writer} after the failover the {FAILOVER_ANNOTATION} annotation asked for; {writer} stands in for spec.database.aurora.primaryRegion: set primaryRegion to {writer} and remove the annotation (removing it alone switches the writer back){also}"
            ),
        ),
        (Some(arn), Some(writer)) => Verdict::new(
            kind,
            Truth::True,
            Reason::Available,
            format!("global cluster {arn} is available, writer in {writer}{also}"),
        ),
        _ => Verdict::new(
            kind,
            Truth::False,
            Reason::Missing,
            "the Aurora global database does not exist yet".to_owned(),
        ),
    }
}

const ORPHAN_HINT: &str = "spec.database.removal is Orphan: delete them by hand, or set it to Delete to have the operator delete them";

/// The database outputs of a pass: the Aurora part when it observed one
/// (else the last status's), the tables unless they could not be read.
fn database_status(object: &GlobalApi, pass: &Pass) -> Option<DatabaseStatus> {
    let previous = object
        .status
        .as_ref()
        .and_then(|s| s.database.clone())
        .unwrap_or_default();
    let rds = &pass.outputs.rds;
    let mut status = match &rds.global_cluster_arn {
        Some(_) => DatabaseStatus {
            global_cluster_arn: rds.global_cluster_arn.clone(),
            writer_region: rds.writer_region.clone(),
            master_user_secret_arn: rds.master_user_secret_arn.clone(),
            endpoints: rds
                .endpoints
                .iter()
                .map(|e| DatabaseEndpoint {
                    region: e.region.clone(),
                    writer: e.writer.clone(),
                    reader: e.reader.clone(),
                })
                .collect(),
            tables: Vec::new(),
        },
        None => DatabaseStatus {
            tables: Vec::new(),
            ..previous.clone()
        },
    };
    let dynamodb = &pass.outputs.dynamodb;
    status.tables = if dynamodb.unknown.is_empty() {
        dynamodb
            .tables
            .iter()
            .map(|t| TableStatus {
                name: t.name.clone(),
                replicas: t
                    .replicas
                    .iter()
                    .map(|r| TableReplicaStatus {
                        region: r.region.clone(),
                        arn: r.arn.clone(),
                        stream_arn: r.stream_arn.clone(),
                        status: Some(r.status.clone()),
                    })
                    .collect(),
            })
            .collect()
    } else {
        previous.tables
    };
    (status != DatabaseStatus::default()).then_some(status)
}

/// The Ready message: which regions answer for the domain. A region in
/// maintenance is ready (it matches the spec) but drained from DNS.
fn serving(spec: &GlobalApiSpec, regions: &[RegionStatus]) -> String {
    let ready = |r: &&RegionStatus| r.ready && spec.regions.iter().any(|s| s.name == r.name);
    let serving = regions
        .iter()
        .filter(ready)
        .filter(|r| !r.maintenance)
        .count();
    let drained: Vec<&str> = regions
        .iter()
        .filter(ready)
        .filter(|r| r.maintenance)
        .map(|r| r.name.as_str())
        .collect();
    let mut message = format!(
        "AWS matches the spec; {serving} of {} regions serve https://{}",
        spec.regions.len(),
        spec.domain
    );
    if !drained.is_empty() {
        message.push_str(&format!(
            " ({} in maintenance, drained from DNS)",
            drained.join(", ")
        ));
    }
    message
}

/// The spec's regions in spec order, then regions the pass still found
/// that the spec left (so that the next pass remembers to remove them).
fn regions(object: &GlobalApi, pass: &Pass) -> Vec<RegionStatus> {
    let outputs = &pass.outputs;
    let previous = |name: &str| previous_region(object, name);
    let mut list: Vec<RegionStatus> = object
        .spec
        .regions
        .iter()
        .map(
            |r| match (outputs.apigateway.unknown.get(&r.name), previous(&r.name)) {
                // Not read in this pass: what the last pass saw, not ready.
                (Some(_), Some(before)) => RegionStatus {
                    ready: false,
                    maintenance: r.maintenance,
                    ..before.clone()
                },
                _ => region_status(object, pass, &r.name, r.maintenance),
            },
        )
        .collect();
    let left_regions = outputs
        .apigateway
        .regions
        .keys()
        .chain(outputs.apigateway.unknown.keys())
        .chain(outputs.logs.unknown.keys());
    for name in left_regions {
        if !object.spec.regions.iter().any(|r| &r.name == name)
            && !list.iter().any(|r| &r.name == name)
        {
            let mut left = match (outputs.apigateway.unknown.get(name), previous(name)) {
                (Some(_), Some(before)) => before.clone(),
                _ => region_status(object, pass, name, false),
            };
            left.ready = false;
            list.push(left);
        }
    }
    list
}

/// The region `name` as the last status showed it.
fn previous_region<'a>(object: &'a GlobalApi, name: &str) -> Option<&'a RegionStatus> {
    object
        .status
        .as_ref()
        .and_then(|s| s.regions.iter().find(|r| r.name == name))
}

/// Region `name` as the pass found it; what could not be read is what the
/// last status showed.
fn region_status(object: &GlobalApi, pass: &Pass, name: &str, maintenance: bool) -> RegionStatus {
    let outputs = &pass.outputs;
    let troubled = mentions(&pass.errors, name) || mentions(&pass.pending, name);
    let previous = previous_region(object, name);
    let api = outputs.apigateway.regions.get(name);
    let custom_domain = api.and_then(|a| a.custom_domain.clone());
    RegionStatus {
        name: name.to_owned(),
        rest_api_id: api.map(|a| a.rest_api_id.clone()),
        stage: api.map(|a| a.stage.clone()),
        invoke_url: api.map(|a| a.invoke_url.clone()),
        ready: custom_domain.is_some() && !troubled,
        custom_domain,
        regional_domain_name: api
            .and_then(|a| a.endpoint.as_ref())
            .map(|e| e.regional_domain_name.clone()),
        certificate_arn: outputs.acm.regional.get(name).map(|c| c.arn.clone()),
        access_log_group: match outputs.logs.unknown.contains_key(name) {
            // Not read: what the last pass saw, to be looked at again.
            true => previous.and_then(|r| r.access_log_group.clone()),
            false => outputs.logs.groups.get(name).cloned(),
        },
        alarm_state: match outputs.alarms.unknown {
            Some(_) => previous.and_then(|r| r.alarm_state.clone()),
            None => outputs.alarms.states.get(name).cloned(),
        },
        health_check_id: outputs.route53.health_check_ids.get(name).cloned(),
        maintenance,
    }
}

fn edge_status(object: &GlobalApi, pass: &Pass) -> Option<EdgeStatus> {
    if pass
        .unknown
        .iter()
        .any(|n| n.service == Service::CloudFront)
    {
        // Not read in this pass: what the last pass saw.
        return object.status.as_ref().and_then(|s| s.edge.clone());
    }
    let cloudfront = &pass.outputs.cloudfront;
    let enabled = object.spec.edge.as_ref().is_some_and(|e| e.enabled);
    if !enabled && cloudfront.distribution_id.is_none() {
        return None;
    }
    Some(EdgeStatus {
        distribution_id: cloudfront.distribution_id.clone(),
        domain_name: cloudfront.domain_name.clone(),
        certificate_arn: cloudfront
            .certificate_arn
            .clone()
            .or_else(|| pass.outputs.acm.edge.as_ref().map(|c| c.arn.clone())),
        state: cloudfront.status.clone(),
    })
}

/// One entry per changed field of every drift change; a deletion is one
/// entry for the resource's existence. The first detection time of an
/// entry already listed is kept.
fn drift_entries(
    object: &GlobalApi,
    pass: &Pass,
    action: DriftAction,
    now: &Time,
) -> Vec<DriftEntry> {
    let previous: &[DriftEntry] = object
        .status
        .as_ref()
        .map(|s| s.drift.as_slice())
        .unwrap_or_default();
    let mut entries = Vec::new();
    for change in drift_changes(object, pass) {
        let resource = format!("{} {}", change.kind, change.resource);
        let fields: Vec<(String, Option<String>, Option<String>)> = match change.action {
            Action::Delete => vec![(
                "exists".to_owned(),
                Some("false".to_owned()),
                Some("true".to_owned()),
            )],
            Action::Create if change.fields.is_empty() => vec![(
                "exists".to_owned(),
                Some("true".to_owned()),
                Some("false".to_owned()),
            )],
            _ if change.fields.is_empty() => vec![("*".to_owned(), None, None)],
            _ => change
                .fields
                .iter()
                .map(|f| (f.field.clone(), f.desired.clone(), f.observed.clone()))
                .collect(),
        };
        for (field, desired, observed) in fields {
            let detected_at = previous
                .iter()
                .find(|p| {
                    p.service == change.service.as_str()
                        && p.resource == resource
                        && p.field == field
                })
                .and_then(|p| p.detected_at.clone())
                .unwrap_or_else(|| now.clone());
            entries.push(DriftEntry {
                service: change.service.as_str().to_owned(),
                resource: resource.clone(),
                field,
                desired,
                observed,
                action,
                detected_at: Some(detected_at),
            });
        }
    }
    entries
}

#[cfg(test)]
mod tests;
