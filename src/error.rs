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

    /// A resource the spec needs exists and belongs to someone else.
    #[error("conflict: {0}")]
    Conflict(String),

    /// The manifest is not a valid GlobalApi.
    #[error("invalid GlobalApi: {0}")]
    Invalid(String),

    /// The Kubernetes API failed.
    #[error("kubernetes: {0}")]
    Kube(#[from] kube::Error),
}

impl Error {
    /// An AWS SDK error, keeping AWS's error code and message.
    pub fn aws<E>(service: &'static str, operation: &'static str, err: E) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error,
    {
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

    /// The AWS error code, when this is an AWS error.
    pub fn aws_code(&self) -> Option<&str> {
        match self {
            Error::Aws { code, .. } => Some(code),
            _ => None,
        }
    }

    /// A short, bounded category for metrics labels and Event reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Error::Aws { .. } => "AwsError",
            Error::Conflict(_) => "Conflict",
            Error::Invalid(_) => "InvalidSpec",
            Error::Kube(_) => "KubernetesError",
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
