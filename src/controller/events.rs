//! The Kubernetes Events a pass leads to: one per AWS mutation (capped per
//! pass), one per drift found, one when drift was put back, one per
//! conflict and one per AWS error. Which events to send is decided by a
//! pure function; sending goes through the operator's one
//! [`Recorder`](kube::runtime::events::Recorder).

use kube::runtime::events::{Event, EventType};

use k8s_openapi::api::core::v1::ObjectReference;

use super::Context;
use crate::{
    aws::Loss,
    plan::{Action, Change},
    reconcile::Pass,
};

/// At most this many `Created`/`Updated`/`Deleted` events per pass; the
/// rest are summed up in one more event.
pub(crate) const MAX_MUTATION_EVENTS: usize = 10;
/// At most this many events of each warning kind per pass.
pub(crate) const MAX_WARNINGS: usize = 5;
/// Event notes are limited to 1 kB.
const MAX_NOTE: usize = 1000;

/// One event to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Notice {
    /// Normal or Warning.
    pub warning: bool,
    /// `Created`, `DriftDetected`, … (the `Reason` column of `kubectl describe`).
    pub reason: &'static str,
    /// What the operator did, e.g. `UpdateStage`.
    pub action: String,
    /// For people: the change line or AWS's message.
    pub note: String,
}

/// The events of `pass`. `applied`: the pass made its changes (not a plan).
/// `drift`: the changes that are drift; `corrected` whether they were put back.
pub(crate) fn notices(
    pass: &Pass,
    applied: bool,
    drift: &[&Change],
    corrected: bool,
) -> Vec<Notice> {
    let mut out = Vec::new();
    if applied {
        for change in pass.plan.changes.iter().take(MAX_MUTATION_EVENTS) {
            out.push(Notice {
                warning: false,
                reason: match change.action {
                    Action::Create => "Created",
                    Action::Update => "Updated",
                    Action::Delete => "Deleted",
                },
                action: action_name(change),
                note: bounded(change.to_string()),
            });
        }
        let more = pass.plan.changes.len().saturating_sub(MAX_MUTATION_EVENTS);
        if more > 0 {
            out.push(Notice {
                warning: false,
                reason: "Changed",
                action: "Reconcile".into(),
                note: format!("and {more} more AWS change(s) in this pass"),
            });
        }
    }
    for change in drift.iter().take(MAX_WARNINGS) {
        out.push(Notice {
            warning: true,
            reason: "DriftDetected",
            action: "Observe".into(),
            note: bounded(match change.action {
                Action::Create => format!("deleted outside the operator: {change}"),
                _ => format!("changed outside the operator: {change}"),
            }),
        });
    }
    if corrected && !drift.is_empty() {
        out.push(Notice {
            warning: false,
            reason: "DriftCorrected",
            action: "Reconcile".into(),
            note: format!("{} drifted resource(s) put back to the spec", drift.len()),
        });
    }
    let conflicts = pass.conflicts.iter().take(MAX_WARNINGS);
    // An error warns under the category of its cause (a call deferred by the
    // budget is `AwsBudget`); the operator's own refusals read as AWS's.
    let errors = pass.errors.iter().take(MAX_WARNINGS);
    let warnings = conflicts
        .map(|note| ("Conflict", note))
        .chain(errors.map(|note| (note.finding.cause.unwrap_or("AwsError"), note)));
    out.extend(warnings.map(|(reason, note)| Notice {
        warning: true,
        reason,
        action: "Reconcile".into(),
        note: bounded(note.to_string()),
    }));
    out
}

/// Sends `notices` about the object `reference`; a failure is logged, not fatal.
pub(crate) async fn publish(ctx: &Context, reference: &ObjectReference, notices: Vec<Notice>) {
    let total = notices.len();
    let mut failed = 0;
    let mut first_error = None;
    for notice in notices {
        let event = Event {
            type_: if notice.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: notice.reason.to_owned(),
            note: Some(notice.note),
            action: notice.action,
            secondary: None,
        };
        if let Err(e) = ctx.recorder.publish(&event, reference).await {
            failed += 1;
            first_error.get_or_insert(e);
        }
    }
    if let Some(error) = first_error {
        ctx.metrics.events_failed(failed);
        // One line per pass, with the API server's message only: a missing
        // RBAC rule would otherwise log a Status dump for every event.
        let message = match &error {
            kube::Error::Api(status) => status.message.clone(),
            other => other.to_string(),
        };
        tracing::warn!(failed, of = total, error = %message, "publishing events failed");
    }
}

/// The Warning before a destructive database call. Its action names the
/// resource: Events of one object, reason and action are one series that
/// keeps the first note, and each of these must be read on its own.
pub(crate) fn about_to(loss: Loss, change: &Change) -> Notice {
    let action =
        crate::text::truncated(format!("{} {}", action_name(change), change.resource), 128);
    Notice {
        warning: true,
        reason: match loss {
            Loss::UnreplicatedWrites => "FailingOverDatabase",
            Loss::Deletion => "DeletingDatabase",
        },
        action,
        note: bounded(format!("about to {change}")),
    }
}

/// A change made because an annotation asked for it (a failover).
pub fn requested(change: &Change) -> Notice {
    Notice {
        warning: true,
        reason: "FailedOverDatabase",
        action: "FailoverGlobalCluster".into(),
        note: bounded(format!(
            "{change}, as the globalapi.io/failover-to annotation asks"
        )),
    }
}

/// A tenancy policy refuses the spec.
pub(crate) fn policy_violation(refusals: &[String]) -> Notice {
    Notice {
        warning: true,
        reason: "PolicyViolation",
        action: "CheckPolicy".into(),
        note: bounded(refusals.join("; ")),
    }
}

/// The adoption annotation cannot be followed.
pub(crate) fn adoption_refused(why: &str) -> Notice {
    Notice {
        warning: true,
        reason: "AdoptionRefused",
        action: "Adopt".into(),
        note: bounded(why.to_owned()),
    }
}

/// `CreateRestApi`, `UpdateStage`, …: the action and the kind, PascalCase.
fn action_name(change: &Change) -> String {
    let verb = match change.action {
        Action::Create => "Create",
        Action::Update => "Update",
        Action::Delete => "Delete",
    };
    let kind: String = change
        .kind
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect();
    format!("{verb}{kind}")
}

/// `note` cut to at most 1 kB (Event notes, error summaries), with `…`.
pub(super) fn bounded(note: String) -> String {
    crate::text::cut(note, MAX_NOTE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{FieldChange, Finding, Service};
    use crate::reconcile::Note;

    fn change(action: Action, n: usize) -> Change {
        Change::new(
            Service::ApiGateway,
            Some("us-east-1"),
            action,
            "rest api",
            format!("api-{n}"),
        )
    }

    #[test]
    fn mutations_are_capped_and_named() {
        let mut pass = Pass::default();
        pass.plan.extend((0..12).map(|n| change(Action::Create, n)));
        let out = notices(&pass, true, &[], true);
        assert_eq!(out.len(), MAX_MUTATION_EVENTS + 1);
        assert_eq!(out[0].reason, "Created");
        assert_eq!(out[0].action, "CreateRestApi");
        assert_eq!(out[0].note, "create apigateway rest api api-0");
        assert!(!out[0].warning);
        assert_eq!(out[10].note, "and 2 more AWS change(s) in this pass");
        // A plan changes nothing: no mutation events.
        assert!(notices(&pass, false, &[], false).is_empty());
    }

    #[test]
    fn drift_conflicts_and_errors_warn() {
        let drifted = Change::new(
            Service::ApiGateway,
            Some("eu-west-1"),
            Action::Update,
            "stage",
            "eu-west-1 v1",
        )
        .with_fields(vec![FieldChange::new(
            "TracingEnabled",
            Some("false".into()),
            Some("true".into()),
        )]);
        let mut pass = Pass::default();
        pass.plan.extend([drifted.clone()]);
        pass.conflicts.push(Note {
            service: Service::Route53,
            finding: Finding::global("record x belongs to someone else"),
        });
        pass.errors.push(Note {
            service: Service::Acm,
            finding: Finding::in_region(
                "us-east-1",
                "us-east-1: acm RequestCertificate: LimitExceededException: too many",
            ),
        });
        let out = notices(&pass, true, &[&drifted], true);
        let reasons: Vec<&str> = out.iter().map(|n| n.reason).collect();
        assert_eq!(
            reasons,
            [
                "Updated",
                "DriftDetected",
                "DriftCorrected",
                "Conflict",
                "AwsError"
            ]
        );
        assert!(out[1].warning && out[1].note.contains("TracingEnabled false → true"));
        assert!(out[4].note.contains("LimitExceededException: too many"));
        let reported = notices(&pass, false, &[&drifted], false);
        let reasons: Vec<&str> = reported.iter().map(|n| n.reason).collect();
        assert_eq!(reasons, ["DriftDetected", "Conflict", "AwsError"]);
        assert_eq!(bounded("é".repeat(600)).len(), 1000 + '…'.len_utf8());
    }

    #[test]
    fn an_error_warns_under_the_category_of_its_cause() {
        let mut pass = Pass::default();
        pass.errors.push(Note {
            service: Service::ApiGateway,
            finding: Finding::failed_whole(&crate::error::Error::Invalid(
                "hosted zone example.com does not hold api.example.org".into(),
            )),
        });
        pass.errors.push(Note {
            service: Service::Rds,
            finding: Finding::in_region("eu-west-1", "eu-west-1: deletion protection is on"),
        });
        // An answer the operator cannot use is no fault of the spec.
        pass.errors.push(Note {
            service: Service::ApiGateway,
            finding: Finding::failed_whole(&crate::error::Error::Unexpected(
                "CreateRestApi returned no id".into(),
            )),
        });
        let reasons: Vec<&str> = notices(&pass, true, &[], false)
            .iter()
            .map(|n| n.reason)
            .collect();
        assert_eq!(reasons, ["InvalidSpec", "AwsError", "Unexpected"]);
    }

    #[test]
    fn a_creation_that_is_drift_says_what_was_deleted() {
        let gone = change(Action::Create, 1);
        let out = notices(&Pass::default(), false, &[&gone], false);
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].note,
            "deleted outside the operator: create apigateway rest api api-1"
        );
    }
}
