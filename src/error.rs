//! The crate's error type.

use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// What can go wrong in a reconcile.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// AWS refused or failed a call; carries AWS's own code and message.
    #[error("{service} {operation}: {code}: {message}")]
    Aws {
        service: &'static str,
        operation: &'static str,
        code: String,
        message: String,
    },

    /// A call whose turn in the account's budget is far off: the object is
    /// requeued for its turn (see [`crate::aws::budget`]).
    #[error("{service} {operation}: {deferred}")]
    Paced {
        service: &'static str,
        operation: &'static str,
        deferred: Box<crate::aws::budget::Deferred>,
    },

    /// A resource the spec needs exists and belongs to someone else.
    #[error("conflict: {0}")]
    Conflict(String),

    /// The manifest is not a valid GlobalApi.
    #[error("invalid GlobalApi: {0}")]
    Invalid(String),

    /// AWS answered in a way the operator cannot use (an answer without
    /// the id it must carry), or a request could not be built: not the
    /// spec's fault, retried with backoff.
    #[error("unexpected: {0}")]
    Unexpected(String),

    /// The Kubernetes API failed.
    #[error("kubernetes: {0}")]
    Kube(#[from] kube::Error),

    /// A reconcile pass ended with errors; status says which. Retried with backoff.
    #[error("reconcile incomplete: {0}")]
    Incomplete(String),

    /// Deletion is under way in AWS (a distribution being disabled); the
    /// finalizer stays until it is done. Retried soon, without backoff.
    #[error("deletion not finished: {0}")]
    CleanupPending(String),

    /// Adding or removing the finalizer, or the step behind it, failed.
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),

    /// This replica no longer holds the leader Lease (taken over, not
    /// renewed in time, or its keeper failed); it stops so that no two
    /// replicas reconcile at once.
    #[error(
        "lost the leader lease ({0}); its AWS calls stopped so that no two replicas reconcile at once"
    )]
    LeaseLost(String),

    /// The operator's own HTTP endpoint or runtime failed.
    #[error("{context}: {source}")]
    Io {
        context: &'static str,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// An AWS SDK error, keeping AWS's error code and message.
    pub fn aws<E>(service: &'static str, operation: &'static str, err: E) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        if let Some(deferred) = deferred_in(&err) {
            return Error::Paced {
                service,
                operation,
                deferred,
            };
        }
        let code = err.code().unwrap_or("Unknown").to_owned();
        let message = match err.message() {
            Some(m) => m.to_owned(),
            None => aws_smithy_types::error::display::DisplayErrorContext(&err).to_string(),
        };
        Error::Aws {
            service,
            operation,
            code,
            message,
        }
    }

    /// The error of the reconcile step itself, looking through the finalizer's wrapping.
    pub fn inner(&self) -> &Error {
        match self {
            Error::Finalizer(inner) => match inner.as_ref() {
                kube::runtime::finalizer::Error::ApplyFailed(e)
                | kube::runtime::finalizer::Error::CleanupFailed(e) => e.inner(),
                _ => self,
            },
            _ => self,
        }
    }

    /// The AWS error code, when this is an AWS error.
    pub fn aws_code(&self) -> Option<&str> {
        match self {
            Error::Aws { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The category of a call the account's budget deferred.
    pub(crate) const DEFERRED: &'static str = "AwsBudget";

    /// A short, bounded category for metrics labels and Event reasons.
    pub(crate) fn category(&self) -> &'static str {
        match self {
            Error::Aws { .. } => "AwsError",
            Error::Paced { .. } => Self::DEFERRED,
            Error::Conflict(_) => "Conflict",
            Error::Invalid(_) => "InvalidSpec",
            Error::Unexpected(_) => "Unexpected",
            Error::Kube(_) => "KubernetesError",
            Error::Incomplete(_) => "ReconcileIncomplete",
            Error::CleanupPending(_) => "CleanupPending",
            Error::Finalizer(inner) => match inner.as_ref() {
                kube::runtime::finalizer::Error::ApplyFailed(e)
                | kube::runtime::finalizer::Error::CleanupFailed(e) => e.category(),
                _ => "FinalizerError",
            },
            Error::Io { .. } => "IoError",
            Error::LeaseLost(_) => "LeaseLost",
        }
    }
}

#[cfg(test)]
impl Error {
    /// `service` `operation` in `region`, refused by the budget at `rate`
    /// until `wait` from now: the error a pass gets for it.
    pub(crate) fn deferred(
        service: &'static str,
        operation: &'static str,
        region: &str,
        rate: &str,
        wait: std::time::Duration,
    ) -> Self {
        Error::Paced {
            service,
            operation,
            deferred: Box::new(crate::aws::budget::Deferred {
                service: service.into(),
                region: region.into(),
                operation: operation.into(),
                rate: rate.into(),
                wait,
                at: tokio::time::Instant::now(),
            }),
        }
    }
}

/// The budget's refusal somewhere in `err`'s chain of causes.
fn deferred_in(
    err: &(dyn std::error::Error + 'static),
) -> Option<Box<crate::aws::budget::Deferred>> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cause {
        if let Some(d) = e.downcast_ref::<crate::aws::budget::Deferred>() {
            return Some(Box::new(d.clone()));
        }
        cause = e.source();
    }
    None
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
