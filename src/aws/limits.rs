//! A hard limit reached (600 regional REST APIs, 120 custom domains in a
//! region) is not throttling: no retry can pass it until something is
//! deleted or the quota raised. API Gateway answers both with
//! `LimitExceededException`, which the SDK retries as throttling; this
//! classifier forbids the retry when the message says a maximum number was
//! reached, so the error reaches the object's status at once.

use aws_smithy_runtime_api::client::{
    interceptors::context::InterceptorContext,
    retries::classifiers::{ClassifyRetry, RetryAction, RetryClassifierPriority},
};

/// See the module documentation.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct HardLimitClassifier;

/// The start of API Gateway's message for a resource count at its limit.
const MAXIMUM_REACHED: &[u8] = b"Maximum number of";

impl ClassifyRetry for HardLimitClassifier {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let Some(response) = ctx.response() else {
            return RetryAction::NoActionIndicated;
        };
        let limit_error = response
            .headers()
            .get("x-amzn-errortype")
            .is_some_and(|t| t.starts_with("LimitExceededException"));
        let maximum = response.body().bytes().is_some_and(|b| {
            b.windows(MAXIMUM_REACHED.len())
                .any(|w| w == MAXIMUM_REACHED)
        });
        if limit_error && maximum {
            RetryAction::RetryForbidden
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "HardLimit"
    }

    fn priority(&self) -> RetryClassifierPriority {
        // After the AWS error-code classifier, to overrule its "throttling".
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}
