//! The operator's metrics, kept in `prometheus-client` types and served in
//! the Prometheus text format: reconciles, their errors by category and
//! duration, drift found and corrected, each GlobalApi's conditions, and
//! (read at each scrape, see [`Readings`]) every AWS call by service and
//! operation, the budgets, the watches, the queue and the process.
//! Labels only take bounded values (error categories, AWS service and
//! operation names, AWS error codes, the objects that exist).

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric, NoLabelSet},
    metrics::{
        MetricType,
        counter::{ConstCounter, Counter},
        family::Family,
        gauge::{ConstGauge, Gauge},
        histogram::Histogram,
        info::Info,
    },
    registry::Registry,
};

use crate::{
    aws::{
        CallCounts,
        outcomes::{LATENCY_BUCKETS, Outcomes},
    },
    reconcile::Pass,
};

/// The `Content-Type` of what [`Metrics::encode`] returns.
pub(crate) const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Upper bounds of the reconcile duration histogram, in seconds.
const BUCKETS: [f64; 10] = [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];

/// The labels of a per-object series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ObjectLabels {
    namespace: String,
    name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CategoryLabels {
    category: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FindingLabels {
    service: &'static str,
    /// `conflict`, `pending` or `error`.
    kind: &'static str,
    /// The category of the error behind it; `none` without one.
    cause: &'static str,
    /// AWS's error code, for an error AWS answered; `none` otherwise.
    code: String,
}

/// What the last status of one GlobalApi said.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ObjectState {
    pub ready: bool,
    pub drifted: bool,
    pub degraded: bool,
    pub conflict: bool,
    /// Unix seconds of the last pass that wrote its status.
    pub last_sync: i64,
}

/// What a per-object gauge reads from an [`ObjectState`].
type ObjectValue = fn(&ObjectState) -> i64;

/// One per-object gauge.
#[derive(Debug)]
struct ObjectGauge {
    family: Family<ObjectLabels, Gauge>,
    value: ObjectValue,
}

/// The metrics this process keeps; everything else is read at each scrape.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    leader: Gauge,
    /// Whether the served CRD has every field: `None` until compared.
    crd_current: Arc<Mutex<Option<bool>>>,
    reconciles: Counter,
    errors: Family<CategoryLabels, Counter>,
    duration: Histogram,
    drift_found: Counter,
    drift_corrected: Counter,
    findings: Family<FindingLabels, Counter>,
    events_failed: Counter,
    objects: Vec<ObjectGauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let leader = Gauge::default();
        registry.register(
            "globalapi_leader",
            "1 while this replica holds the leader Lease and reconciles, else 0",
            leader.clone(),
        );
        let crd_current = Arc::new(Mutex::new(None));
        registry.register_collector(Box::new(CrdCurrent(crd_current.clone())));
        let reconciles = Counter::default();
        registry.register(
            "globalapi_reconciles",
            "Reconciles run, successful or not",
            reconciles.clone(),
        );
        let errors = Family::default();
        registry.register(
            "globalapi_reconcile_errors",
            "Reconciles that ended in an error, by error category",
            errors.clone(),
        );
        let duration = Histogram::new(BUCKETS);
        registry.register(
            "globalapi_reconcile_duration_seconds",
            "How long reconciles take",
            duration.clone(),
        );
        let drift_found = Counter::default();
        registry.register(
            "globalapi_drift_found",
            "Resources found changed or deleted in AWS outside the operator (one per resource, whatever its fields)",
            drift_found.clone(),
        );
        let drift_corrected = Counter::default();
        registry.register(
            "globalapi_drift_corrected",
            "Drifted resources put back to the spec",
            drift_corrected.clone(),
        );
        let findings = Family::default();
        registry.register(
            "globalapi_pass_findings",
            "What passes found besides changes (conflicts, pending work, errors), by service, kind, cause and AWS error code: the errors that stopped work after the SDK's retries",
            findings.clone(),
        );
        let events_failed = Counter::default();
        registry.register(
            "globalapi_event_publish_failures",
            "Kubernetes Events the API server did not take (RBAC, quota, …)",
            events_failed.clone(),
        );
        let objects = object_gauges(&mut registry);
        Self {
            registry,
            leader,
            crd_current,
            reconciles,
            errors,
            duration,
            drift_found,
            drift_corrected,
            findings,
            events_failed,
            objects,
        }
    }
}

/// The per-object gauges, registered in `registry`.
fn object_gauges(registry: &mut Registry) -> Vec<ObjectGauge> {
    let gauges: [(&str, &str, ObjectValue); 5] = [
        (
            "globalapi_object_ready",
            "1 while the GlobalApi's Ready condition is True",
            |s| i64::from(s.ready),
        ),
        (
            "globalapi_object_drifted",
            "1 while the GlobalApi's Drifted condition is True",
            |s| i64::from(s.drifted),
        ),
        (
            "globalapi_object_degraded",
            "1 while the GlobalApi's Degraded condition is True",
            |s| i64::from(s.degraded),
        ),
        (
            "globalapi_object_conflict",
            "1 while resources the GlobalApi needs belong to someone else",
            |s| i64::from(s.conflict),
        ),
        (
            "globalapi_object_last_sync_timestamp_seconds",
            "When a pass last wrote the GlobalApi's status (Unix seconds)",
            |s| s.last_sync,
        ),
    ];
    gauges
        .into_iter()
        .map(|(name, help, value)| {
            let family = Family::default();
            registry.register(name, help, family.clone());
            ObjectGauge { family, value }
        })
        .collect()
}

impl Metrics {
    /// This replica now holds (or no longer holds) the leader Lease.
    pub(crate) fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// Whether the served CRD has every field this operator writes.
    pub fn set_crd_current(&self, current: bool) {
        if let Ok(mut crd) = self.crd_current.lock() {
            *crd = Some(current);
        }
    }

    /// One reconcile finished after `elapsed`.
    pub fn reconciled(&self, elapsed: Duration) {
        self.reconciles.inc();
        self.duration.observe(elapsed.as_secs_f64());
    }

    /// A reconcile ended in an error of `category` (see [`crate::Error::category`]).
    pub fn failed(&self, category: &'static str) {
        self.errors
            .get_or_create(&CategoryLabels { category })
            .inc();
    }

    /// `n` drifted resources were found; `corrected` says whether they were put back.
    pub fn drift(&self, n: usize, corrected: bool) {
        self.drift_found.inc_by(n as u64);
        if corrected {
            self.drift_corrected.inc_by(n as u64);
        }
    }

    /// What a pass found besides its changes.
    pub(crate) fn findings(&self, pass: &Pass) {
        for (kind, notes) in [
            ("conflict", &pass.conflicts),
            ("pending", &pass.pending),
            ("error", &pass.errors),
        ] {
            for note in notes {
                let labels = FindingLabels {
                    service: note.service.as_str(),
                    kind,
                    cause: note.finding.cause.unwrap_or("none"),
                    code: note.finding.code.clone().unwrap_or_else(|| "none".into()),
                };
                self.findings.get_or_create(&labels).inc();
            }
        }
    }

    /// The status just written for `namespace/name`.
    pub fn object(&self, namespace: &str, name: &str, state: ObjectState) {
        let labels = object_labels(namespace, name);
        for gauge in &self.objects {
            gauge
                .family
                .get_or_create(&labels)
                .set((gauge.value)(&state));
        }
    }

    /// `namespace/name` is gone: its series go too.
    pub(crate) fn forget_object(&self, namespace: &str, name: &str) {
        let labels = object_labels(namespace, name);
        for gauge in &self.objects {
            gauge.family.remove(&labels);
        }
    }

    /// `n` Events could not be sent to the API server.
    pub(crate) fn events_failed(&self, n: usize) {
        self.events_failed.inc_by(n as u64);
    }

    /// The whole page: this process's metrics, then `readings` and the
    /// process as /proc shows it.
    pub fn encode(&self, readings: Readings) -> String {
        let mut read = Registry::default();
        read.register_collector(Box::new(readings));
        read.register_collector(Box::new(Process));
        let mut out = String::new();
        for registry in [&self.registry, &read] {
            // Writing to a String cannot fail.
            let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, registry);
        }
        out
    }
}

fn object_labels(namespace: &str, name: &str) -> ObjectLabels {
    ObjectLabels {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    }
}

/// `globalapi_crd_current`, shown once the served CRD was compared.
#[derive(Debug)]
struct CrdCurrent(Arc<Mutex<Option<bool>>>);

impl Collector for CrdCurrent {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(current) = self.0.lock().ok().and_then(|c| *c) else {
            return Ok(());
        };
        gauge(
            &mut encoder,
            "globalapi_crd_current",
            "1 when the served GlobalApi CRD has every field this operator writes, 0 when it is older (apply this version's CRD)",
            i64::from(current),
        )
    }
}

/// What a scrape reads from the rest of the operator: snapshots taken
/// when the page is asked for.
#[derive(Clone, Debug, Default)]
pub struct Readings {
    /// AWS requests sent, by (service, operation).
    pub calls: CallCounts,
    /// How AWS answered them.
    pub outcomes: Outcomes,
    /// The budgets' admissions by (service, operation, outcome).
    pub admissions: Vec<((String, String, &'static str), u64)>,
    /// Each watched namespace and whether its watch delivers.
    pub watches: Vec<(String, bool)>,
    /// Reconciles running now, and how long the longest has run.
    pub in_flight: usize,
    pub oldest_reconcile: Duration,
    /// Objects whose pass is due and has not started (waiting for a
    /// reconcile slot), and how long the first of them has waited.
    pub queued: usize,
    pub longest_queued: Duration,
    /// Objects with a pass scheduled, due or not.
    pub scheduled: usize,
}

impl Collector for Readings {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        self.encode_aws(&mut encoder)?;
        self.encode_reconciles(&mut encoder)
    }
}

impl Readings {
    /// AWS calls, their latency and errors, and the budgets' admissions.
    fn encode_aws(&self, e: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let mut family = encoder_for(
            e,
            "globalapi_aws_calls",
            "AWS requests sent (retries included), by service and operation",
            MetricType::Counter,
        )?;
        for ((service, operation), n) in &self.calls.0 {
            let labels = [
                ("service", service.as_str()),
                ("operation", operation.as_str()),
            ];
            ConstCounter::new(*n).encode(family.encode_family(&labels)?)?;
        }
        let mut family = encoder_for(
            e,
            "globalapi_aws_call_duration_seconds",
            "How long AWS took to answer an attempt, by service and operation",
            MetricType::Histogram,
        )?;
        for ((service, operation), latency) in &self.outcomes.latency {
            let labels = [
                ("service", service.as_str()),
                ("operation", operation.as_str()),
            ];
            // The record counts each attempt in every bucket it fits; the
            // encoder wants each bucket's own count.
            let mut below = 0;
            let buckets: Vec<(f64, u64)> = LATENCY_BUCKETS
                .iter()
                .zip(latency.buckets.iter())
                .map(|(bound, cumulative)| {
                    let own = cumulative.saturating_sub(below);
                    below = *cumulative;
                    (*bound, own)
                })
                .collect();
            family
                .encode_family(&labels)?
                .encode_histogram::<NoLabelSet>(latency.sum, latency.count, &buckets, None)?;
        }
        let mut family = encoder_for(
            e,
            "globalapi_aws_errors",
            "AWS attempts that failed, by service, operation and AWS's error code (http-<status> where the code is only in the body)",
            MetricType::Counter,
        )?;
        for ((service, operation, code), n) in &self.outcomes.errors {
            let labels = [
                ("service", service.as_str()),
                ("operation", operation.as_str()),
                ("code", code.as_str()),
            ];
            ConstCounter::new(*n).encode(family.encode_family(&labels)?)?;
        }
        let mut family = encoder_for(
            e,
            "globalapi_aws_budget_admissions",
            "AWS call attempts by how the account's budget admitted them: now, waited, deferred (to the object's next pass), ticket (on a turn held since)",
            MetricType::Counter,
        )?;
        for ((service, operation, outcome), n) in &self.admissions {
            let labels = [
                ("service", service.as_str()),
                ("operation", operation.as_str()),
                ("outcome", *outcome),
            ];
            ConstCounter::new(*n).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }

    /// The watches, the reconciles in flight and the queue.
    fn encode_reconciles(&self, e: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let mut family = encoder_for(
            e,
            "globalapi_watch_healthy",
            "1 while the watch of GlobalApis in the namespace delivers, else 0",
            MetricType::Gauge,
        )?;
        for (namespace, healthy) in &self.watches {
            let labels = [("namespace", namespace.as_str())];
            ConstGauge::new(i64::from(*healthy)).encode(family.encode_family(&labels)?)?;
        }
        gauge(
            e,
            "globalapi_reconciles_in_flight",
            "Reconciles running now",
            self.in_flight as i64,
        )?;
        gauge(
            e,
            "globalapi_oldest_reconcile_seconds",
            "How long the longest running reconcile has run",
            self.oldest_reconcile.as_secs_f64(),
        )?;
        gauge(
            e,
            "globalapi_queue_depth",
            "GlobalApis whose pass is due (a change seen or its requeue time reached) and has not started: waiting for a reconcile slot",
            self.queued as i64,
        )?;
        gauge(
            e,
            "globalapi_queue_longest_wait_seconds",
            "How long the GlobalApi that has waited longest for a reconcile slot has waited",
            self.longest_queued.as_secs_f64(),
        )?;
        gauge(
            e,
            "globalapi_queue_scheduled",
            "GlobalApis with a pass scheduled, due or not",
            self.scheduled as i64,
        )
    }
}

/// The build, and the process as Linux's /proc shows it: resident memory,
/// CPU time, open file descriptors and start time (the conventional
/// `process_*` names); what cannot be read is left out.
#[derive(Debug)]
struct Process;

impl Collector for Process {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let build = Info::new([("version", env!("CARGO_PKG_VERSION"))]);
        build.encode(encoder.encode_descriptor(
            "globalapi_build",
            "The operator's version, as a label; always 1",
            None,
            build.metric_type(),
        )?)?;
        // /proc reports times in USER_HZ, 100 on Linux.
        const TICKS: f64 = 100.0;
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        if let Some(kb) = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
        {
            gauge(
                &mut encoder,
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                kb * 1024,
            )?;
        }
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        // The fields after the command name, which may hold spaces.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
        if let (Some(user), Some(system)) = (field(14), field(15)) {
            let cpu = ConstCounter::new((user + system) / TICKS);
            cpu.encode(encoder.encode_descriptor(
                "process_cpu_seconds",
                "User and system CPU time in seconds",
                None,
                cpu.metric_type(),
            )?)?;
        }
        let boot = std::fs::read_to_string("/proc/stat")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<f64>().ok());
        if let (Some(boot), Some(start)) = (boot, field(22)) {
            gauge(
                &mut encoder,
                "process_start_time_seconds",
                "Start time of the process since the Unix epoch in seconds",
                boot + start / TICKS,
            )?;
        }
        if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
            gauge(
                &mut encoder,
                "process_open_fds",
                "Open file descriptors",
                fds.count() as i64,
            )?;
        }
        Ok(())
    }
}

/// A family's descriptor; its series follow through `encode_family`.
fn encoder_for<'a>(
    encoder: &'a mut DescriptorEncoder<'_>,
    name: &'a str,
    help: &str,
    kind: MetricType,
) -> Result<prometheus_client::encoding::MetricEncoder<'a>, std::fmt::Error> {
    encoder.encode_descriptor(name, help, None, kind)
}

/// One gauge without labels.
fn gauge<N>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: N,
) -> Result<(), std::fmt::Error>
where
    ConstGauge<N>: EncodeMetric,
{
    let gauge = ConstGauge::new(value);
    gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Finding, Service};

    fn lines(text: &str) -> Vec<&str> {
        text.lines().collect()
    }

    #[test]
    fn renders_counters_histogram_and_aws_calls() {
        let metrics = Metrics::default();
        assert!(
            lines(&metrics.encode(Readings::default())).contains(&"globalapi_leader 0"),
            "{}",
            metrics.encode(Readings::default())
        );
        metrics.set_leader(true);
        metrics.reconciled(Duration::from_millis(300));
        metrics.reconciled(Duration::from_secs(3));
        metrics.failed("AwsError");
        metrics.drift(2, true);
        metrics.drift(1, false);
        let mut pass = Pass::default();
        let paced = crate::error::Error::deferred(
            "acm",
            "RequestCertificate",
            "eu-west-1",
            "5 per s",
            Duration::from_secs(20),
        );
        let note = |service, finding| crate::reconcile::Note { service, finding };
        pass.errors
            .push(note(Service::Acm, Finding::failed("eu-west-1", &paced)));
        pass.pending.push(note(
            Service::CloudFront,
            Finding::global("distribution E1 is deploying"),
        ));
        pass.pending.push(note(
            Service::CloudFront,
            Finding::global("distribution E2 is deploying"),
        ));
        pass.errors.push(note(
            Service::Rds,
            Finding::failed(
                "eu-west-1",
                &crate::error::Error::Aws {
                    service: "rds",
                    operation: "DeleteDBCluster",
                    code: "InvalidDBClusterStateFault".into(),
                    message: "busy".into(),
                },
            ),
        ));
        metrics.findings(&pass);
        let mut readings = Readings::default();
        readings
            .calls
            .0
            .insert(("apigateway".into(), "GetRestApis".into()), 4);
        let text = metrics.encode(readings);
        for line in [
            "globalapi_leader 1",
            "# TYPE globalapi_leader gauge",
            "globalapi_reconciles_total 2",
            "globalapi_reconcile_errors_total{category=\"AwsError\"} 1",
            "globalapi_reconcile_duration_seconds_bucket{le=\"0.25\"} 0",
            "globalapi_reconcile_duration_seconds_bucket{le=\"0.5\"} 1",
            "globalapi_reconcile_duration_seconds_bucket{le=\"5\"} 2",
            "globalapi_reconcile_duration_seconds_bucket{le=\"+Inf\"} 2",
            "globalapi_reconcile_duration_seconds_count 2",
            "globalapi_drift_found_total 3",
            "globalapi_drift_corrected_total 2",
            "globalapi_pass_findings_total{service=\"acm\",kind=\"error\",cause=\"AwsBudget\",code=\"none\"} 1",
            "globalapi_pass_findings_total{service=\"cloudfront\",kind=\"pending\",cause=\"none\",code=\"none\"} 2",
            "globalapi_pass_findings_total{service=\"rds\",kind=\"error\",cause=\"AwsError\",code=\"InvalidDBClusterStateFault\"} 1",
            "globalapi_aws_calls_total{service=\"apigateway\",operation=\"GetRestApis\"} 4",
            "# TYPE globalapi_reconcile_duration_seconds histogram",
        ] {
            assert!(lines(&text).contains(&line), "missing {line:?} in\n{text}");
        }
    }

    #[test]
    fn objects_have_their_series_until_they_go() {
        let metrics = Metrics::default();
        let state = ObjectState {
            ready: true,
            last_sync: 1_700_000_000,
            ..Default::default()
        };
        metrics.object("apps", "a\"b", state);
        let text = metrics.encode(Readings::default());
        // The library escapes label values.
        for line in [
            "globalapi_object_ready{namespace=\"apps\",name=\"a\\\"b\"} 1",
            "globalapi_object_drifted{namespace=\"apps\",name=\"a\\\"b\"} 0",
            "globalapi_object_last_sync_timestamp_seconds{namespace=\"apps\",name=\"a\\\"b\"} 1700000000",
        ] {
            assert!(lines(&text).contains(&line), "missing {line:?} in\n{text}");
        }
        metrics.forget_object("apps", "a\"b");
        let text = metrics.encode(Readings::default());
        assert!(!text.contains("namespace=\"apps\""), "{text}");
    }

    #[test]
    fn aws_latency_buckets_count_up_to_each_bound() {
        let mut readings = Readings::default();
        let mut latency = crate::aws::outcomes::Latency::default();
        // Two attempts: 0.07 s and 0.3 s, counted in every bucket they fit.
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            latency.buckets[i] = u64::from(*bound >= 0.07) + u64::from(*bound >= 0.3);
        }
        latency.count = 2;
        latency.sum = 0.37;
        readings
            .outcomes
            .latency
            .insert(("route53".into(), "ListHostedZones".into()), latency);
        let text = Metrics::default().encode(readings);
        let series = "globalapi_aws_call_duration_seconds_bucket{service=\"route53\",operation=\"ListHostedZones\"";
        for (le, n) in [
            ("0.05", 0),
            ("0.1", 1),
            ("0.25", 1),
            ("0.5", 2),
            ("+Inf", 2),
        ] {
            let line = format!("{series},le=\"{le}\"}} {n}");
            assert!(
                lines(&text).contains(&line.as_str()),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn the_process_reads_itself_from_proc() {
        let text = Metrics::default().encode(Readings::default());
        assert!(text.contains(&format!(
            "globalapi_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )));
        let rss: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
            .and_then(|v| v.parse().ok())
            .expect("the resident memory");
        assert!(rss > 1024 * 1024, "{rss}");
        assert!(text.contains("process_open_fds "), "{text}");
        assert!(text.contains("process_cpu_seconds_total "), "{text}");
    }
}
