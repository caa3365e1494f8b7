//! Every AWS call counted by service and operation: the instrument for the
//! cost of a reconcile and the source of the AWS-call metrics.

use std::{
    collections::BTreeMap,
    fmt,
    sync::{Arc, Mutex},
};

use aws_smithy_runtime_api::{
    box_error::BoxError,
    client::{
        interceptors::{Intercept, context::BeforeTransmitInterceptorContextRef},
        orchestrator::Metadata,
        runtime_components::RuntimeComponents,
    },
};
use aws_smithy_types::config_bag::ConfigBag;

/// The SDK's service name as a metric label: lower case, no spaces
/// (`API Gateway` → `apigateway`, `Route 53` → `route53`).
pub(crate) fn service_id(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Counts of AWS requests sent (retries included), by service and operation.
#[derive(Clone, Debug, Default)]
pub struct CallCounter {
    counts: Arc<Mutex<BTreeMap<(String, String), u64>>>,
}

impl CallCounter {
    fn record(&self, service: &str, operation: &str) {
        if let Ok(mut counts) = self.counts.lock() {
            *counts
                .entry((service_id(service), operation.to_owned()))
                .or_default() += 1;
        }
    }

    /// A copy of the counts so far.
    pub fn snapshot(&self) -> CallCounts {
        CallCounts(self.counts.lock().map(|c| c.clone()).unwrap_or_default())
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(metadata) = cfg.load::<Metadata>() {
            self.record(metadata.service(), metadata.name());
        }
        Ok(())
    }
}

/// A snapshot of call counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallCounts(pub BTreeMap<(String, String), u64>);

/// Operations that change nothing in AWS.
fn is_read(operation: &str) -> bool {
    ["Get", "List", "Describe"]
        .iter()
        .any(|p| operation.starts_with(p))
}

impl CallCounts {
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// Calls that change AWS (everything but Get*, List*, Describe*).
    pub fn mutating(&self) -> u64 {
        self.0
            .iter()
            .filter(|((_, op), _)| !is_read(op))
            .map(|(_, n)| n)
            .sum()
    }

    /// The calls made since `earlier`.
    pub fn since(&self, earlier: &CallCounts) -> CallCounts {
        CallCounts(
            self.0
                .iter()
                .filter_map(|(k, n)| {
                    let before = earlier.0.get(k).copied().unwrap_or(0);
                    (*n > before).then(|| (k.clone(), n - before))
                })
                .collect(),
        )
    }
}

impl fmt::Display for CallCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "AWS calls: {} ({} mutating)",
            self.total(),
            self.mutating()
        )?;
        for ((service, operation), n) in &self.0 {
            writeln!(f, "  {service:<12} {operation:<40} {n}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_mutations_are_told_apart() {
        let counter = CallCounter::default();
        counter.record("Route 53", "ListResourceRecordSets");
        counter.record("Route 53", "ListResourceRecordSets");
        counter.record("Route 53", "ChangeResourceRecordSets");
        let before = counter.snapshot();
        counter.record("ACM", "DescribeCertificate");
        let counts = counter.snapshot();
        assert_eq!(counts.total(), 4);
        assert_eq!(counts.mutating(), 1);
        assert_eq!(counts.since(&before).total(), 1);
    }
}
