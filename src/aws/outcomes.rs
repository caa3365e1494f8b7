//! How AWS answered every attempt: its latency and, when it failed, AWS's
//! error code, by service and operation (the source of the AWS latency
//! and error metrics). The code is AWS's `x-amzn-ErrorType` header where
//! the protocol sends one (the JSON protocols: ACM, API Gateway, Lambda,
//! DynamoDB, CloudWatch Logs); the XML ones (Route 53, CloudFront, RDS)
//! carry it in the body, read later by the SDK, so they count as
//! `http-<status>`.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use aws_smithy_runtime_api::{
    box_error::BoxError,
    client::{
        interceptors::{
            Intercept,
            context::{
                BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
            },
        },
        orchestrator::Metadata,
        runtime_components::RuntimeComponents,
    },
};
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

use super::calls::service_id;

/// Upper bounds of the AWS call latency histogram, in seconds.
pub(crate) const LATENCY_BUCKETS: [f64; 9] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0];

/// One (service, operation)'s latencies.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Latency {
    /// Attempts at or under each of [`LATENCY_BUCKETS`].
    pub buckets: [u64; LATENCY_BUCKETS.len()],
    pub count: u64,
    pub sum: f64,
}

/// What was recorded so far.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcomes {
    pub latency: BTreeMap<(String, String), Latency>,
    /// (service, operation, code) → failed attempts.
    pub errors: BTreeMap<(String, String, String), u64>,
}

/// The interceptor; clones share the record.
#[derive(Clone, Debug, Default)]
pub struct OutcomeRecorder {
    record: Arc<Mutex<Outcomes>>,
}

#[derive(Clone, Copy, Debug)]
struct AttemptStart(Instant);

impl Storable for AttemptStart {
    type Storer = StoreReplace<Self>;
}

impl OutcomeRecorder {
    pub fn snapshot(&self) -> Outcomes {
        self.record.lock().map(|r| r.clone()).unwrap_or_default()
    }

    fn answered(&self, service: &str, operation: &str, took: Duration, error: Option<String>) {
        let Ok(mut record) = self.record.lock() else {
            return;
        };
        let key = (service_id(service), operation.to_owned());
        let seconds = took.as_secs_f64();
        let latency = record.latency.entry(key.clone()).or_default();
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                latency.buckets[i] += 1;
            }
        }
        latency.count += 1;
        latency.sum += seconds;
        if let Some(code) = error {
            *record.errors.entry((key.0, key.1, code)).or_default() += 1;
        }
    }
}

/// AWS's error code of a failed answer: `x-amzn-ErrorType` without its
/// namespace and suffix, else the HTTP status.
pub(crate) fn error_code(status: u16, error_type: Option<&str>) -> Option<String> {
    if status < 400 {
        return None;
    }
    let code = error_type
        .map(|t| t.split(':').next().unwrap_or(t))
        .map(|t| t.rsplit('#').next().unwrap_or(t).trim().to_owned())
        .filter(|t| !t.is_empty());
    Some(code.unwrap_or_else(|| format!("http-{status}")))
}

impl Intercept for OutcomeRecorder {
    fn name(&self) -> &'static str {
        "OutcomeRecorder"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state()
            .store_put(AttemptStart(Instant::now()));
        Ok(())
    }

    fn read_after_transmit(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response();
        let error = error_code(
            response.status().as_u16(),
            response.headers().get("x-amzn-errortype"),
        );
        if let (Some(metadata), Some(start)) = (cfg.load::<Metadata>(), cfg.load::<AttemptStart>())
        {
            self.answered(
                metadata.service(),
                metadata.name(),
                start.0.elapsed(),
                error,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_come_from_the_header_or_the_status() {
        assert_eq!(error_code(200, None), None);
        assert_eq!(
            error_code(400, Some("ThrottlingException:http://internal.amazon.com/")),
            Some("ThrottlingException".to_owned())
        );
        assert_eq!(
            error_code(409, Some("com.amazonaws.apigateway#ConflictException")),
            Some("ConflictException".to_owned())
        );
        assert_eq!(error_code(503, None), Some("http-503".to_owned()));
    }

    #[test]
    fn latency_lands_in_every_bucket_above_it_and_errors_by_code() {
        let recorder = OutcomeRecorder::default();
        recorder.answered("API Gateway", "GetStage", Duration::from_millis(300), None);
        recorder.answered(
            "API Gateway",
            "GetStage",
            Duration::from_millis(30),
            Some("TooManyRequestsException".into()),
        );
        let seen = recorder.snapshot();
        let latency = &seen.latency[&("apigateway".into(), "GetStage".into())];
        assert_eq!(latency.count, 2);
        assert_eq!(latency.buckets[0], 1, "30 ms is under 50 ms");
        assert_eq!(latency.buckets[3], 2, "both are under 500 ms");
        assert_eq!(
            seen.errors[&(
                "apigateway".into(),
                "GetStage".into(),
                "TooManyRequestsException".into()
            )],
            1
        );
    }
}
