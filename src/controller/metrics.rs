//! The operator's metrics in the Prometheus text format: reconciles, their
//! errors by category and duration, drift found and corrected, and every
//! AWS call by service and operation. Labels only take bounded values
//! (error categories, AWS service and operation names).

use std::{
    collections::BTreeMap,
    fmt::Write,
    sync::{
        Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use crate::aws::CallCounts;

/// Upper bounds of the reconcile duration histogram, in seconds.
const BUCKETS: [f64; 10] = [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];

/// Counters shared by every reconcile.
#[derive(Debug, Default)]
pub struct Metrics {
    leader: AtomicBool,
    /// Whether the served CRD has every field: `None` until compared.
    crd_current: Mutex<Option<bool>>,
    reconciles: AtomicU64,
    drift_found: AtomicU64,
    drift_corrected: AtomicU64,
    events_failed: AtomicU64,
    errors: Mutex<BTreeMap<&'static str, u64>>,
    duration: Mutex<Histogram>,
    /// The last status of each GlobalApi, by (namespace, name).
    objects: Mutex<BTreeMap<(String, String), ObjectState>>,
}

/// A per-object gauge: its name, help text and value.
type ObjectGauge = (&'static str, &'static str, fn(&ObjectState) -> i64);

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

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Metrics {
    /// This replica now holds (or no longer holds) the leader Lease.
    pub fn set_leader(&self, leading: bool) {
        self.leader.store(leading, Ordering::Relaxed);
    }

    /// Whether the served CRD has every field this operator writes.
    pub fn set_crd_current(&self, current: bool) {
        if let Ok(mut crd) = self.crd_current.lock() {
            *crd = Some(current);
        }
    }

    /// One reconcile finished after `elapsed`.
    pub fn reconciled(&self, elapsed: Duration) {
        self.reconciles.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut h) = self.duration.lock() {
            let seconds = elapsed.as_secs_f64();
            for (i, bound) in BUCKETS.iter().enumerate() {
                if seconds <= *bound {
                    h.counts[i] += 1;
                }
            }
            h.count += 1;
            h.sum += seconds;
        }
    }

    /// A reconcile ended in an error of `category` (see [`crate::Error::category`]).
    pub fn failed(&self, category: &'static str) {
        if let Ok(mut errors) = self.errors.lock() {
            *errors.entry(category).or_default() += 1;
        }
    }

    /// `n` drifted fields were found; `corrected` says whether they were put back.
    pub fn drift(&self, n: usize, corrected: bool) {
        self.drift_found.fetch_add(n as u64, Ordering::Relaxed);
        if corrected {
            self.drift_corrected.fetch_add(n as u64, Ordering::Relaxed);
        }
    }

    /// The status just written for `namespace/name`.
    pub fn object(&self, namespace: &str, name: &str, state: ObjectState) {
        if let Ok(mut objects) = self.objects.lock() {
            objects.insert((namespace.to_owned(), name.to_owned()), state);
        }
    }

    /// `namespace/name` is gone: its series go too.
    pub fn forget_object(&self, namespace: &str, name: &str) {
        if let Ok(mut objects) = self.objects.lock() {
            objects.remove(&(namespace.to_owned(), name.to_owned()));
        }
    }

    /// `n` Events could not be sent to the API server.
    pub fn events_failed(&self, n: usize) {
        self.events_failed.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// The metrics as Prometheus text, with the AWS call counts `calls`.
    pub fn render(&self, calls: &CallCounts) -> String {
        let mut out = String::new();
        header(
            &mut out,
            "globalapi_leader",
            "1 while this replica holds the leader Lease and reconciles, else 0.",
            "gauge",
        );
        let _ = writeln!(
            out,
            "globalapi_leader {}",
            u8::from(self.leader.load(Ordering::Relaxed))
        );
        if let Some(current) = self.crd_current.lock().ok().and_then(|c| *c) {
            header(
                &mut out,
                "globalapi_crd_current",
                "1 when the served GlobalApi CRD has every field this operator writes, 0 when it is older (apply this version's CRD).",
                "gauge",
            );
            let _ = writeln!(out, "globalapi_crd_current {}", u8::from(current));
        }
        counter(
            &mut out,
            "globalapi_reconciles_total",
            "Reconciles run, successful or not.",
            self.reconciles.load(Ordering::Relaxed),
        );
        header(
            &mut out,
            "globalapi_reconcile_errors_total",
            "Reconciles that ended in an error, by error category.",
            "counter",
        );
        if let Ok(errors) = self.errors.lock() {
            for (category, n) in errors.iter() {
                let _ = writeln!(
                    out,
                    "globalapi_reconcile_errors_total{{category=\"{}\"}} {n}",
                    escape(category)
                );
            }
        }
        header(
            &mut out,
            "globalapi_reconcile_duration_seconds",
            "How long reconciles take.",
            "histogram",
        );
        if let Ok(h) = self.duration.lock() {
            for (bound, n) in BUCKETS.iter().zip(h.counts.iter()) {
                let _ = writeln!(
                    out,
                    "globalapi_reconcile_duration_seconds_bucket{{le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "globalapi_reconcile_duration_seconds_bucket{{le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "globalapi_reconcile_duration_seconds_sum {}", h.sum);
            let _ = writeln!(
                out,
                "globalapi_reconcile_duration_seconds_count {}",
                h.count
            );
        }
        counter(
            &mut out,
            "globalapi_drift_found_total",
            "Fields found changed in AWS outside the operator.",
            self.drift_found.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "globalapi_drift_corrected_total",
            "Drifted fields put back to the spec.",
            self.drift_corrected.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "globalapi_event_publish_failures_total",
            "Kubernetes Events the API server did not take (RBAC, quota, …).",
            self.events_failed.load(Ordering::Relaxed),
        );
        if let Ok(objects) = self.objects.lock() {
            let gauges: [ObjectGauge; 5] = [
                (
                    "globalapi_object_ready",
                    "1 while the GlobalApi's Ready condition is True.",
                    |s| i64::from(s.ready),
                ),
                (
                    "globalapi_object_drifted",
                    "1 while the GlobalApi's Drifted condition is True.",
                    |s| i64::from(s.drifted),
                ),
                (
                    "globalapi_object_degraded",
                    "1 while the GlobalApi's Degraded condition is True.",
                    |s| i64::from(s.degraded),
                ),
                (
                    "globalapi_object_conflict",
                    "1 while resources the GlobalApi needs belong to someone else.",
                    |s| i64::from(s.conflict),
                ),
                (
                    "globalapi_object_last_sync_timestamp_seconds",
                    "When a pass last wrote the GlobalApi's status (Unix seconds).",
                    |s| s.last_sync,
                ),
            ];
            for (name, help, value) in gauges {
                header(&mut out, name, help, "gauge");
                for ((namespace, object), state) in objects.iter() {
                    let _ = writeln!(
                        out,
                        "{name}{{namespace=\"{}\",name=\"{}\"}} {}",
                        escape(namespace),
                        escape(object),
                        value(state)
                    );
                }
            }
        }
        header(
            &mut out,
            "globalapi_aws_calls_total",
            "AWS requests sent (retries included), by service and operation.",
            "counter",
        );
        for ((service, operation), n) in &calls.0 {
            let _ = writeln!(
                out,
                "globalapi_aws_calls_total{{service=\"{}\",operation=\"{}\"}} {n}",
                escape(service),
                escape(operation)
            );
        }
        out
    }
}

/// The build, and the process as Linux's /proc shows it: resident memory,
/// CPU time, open file descriptors and start time (the conventional
/// `process_*` names); what cannot be read is left out.
pub fn process() -> String {
    let mut out = String::new();
    header(
        &mut out,
        "globalapi_build_info",
        "The operator's version, as a label; always 1.",
        "gauge",
    );
    let _ = writeln!(
        out,
        "globalapi_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    // /proc reports times in USER_HZ, 100 on Linux.
    const TICKS: f64 = 100.0;
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(kb) = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
    {
        header(
            &mut out,
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            "gauge",
        );
        let _ = writeln!(out, "process_resident_memory_bytes {}", kb * 1024);
    }
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
    if let (Some(user), Some(system)) = (field(14), field(15)) {
        header(
            &mut out,
            "process_cpu_seconds_total",
            "User and system CPU time in seconds.",
            "counter",
        );
        let _ = writeln!(out, "process_cpu_seconds_total {}", (user + system) / TICKS);
    }
    let boot = std::fs::read_to_string("/proc/stat")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse::<f64>().ok());
    if let (Some(boot), Some(start)) = (boot, field(22)) {
        header(
            &mut out,
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch in seconds.",
            "gauge",
        );
        let _ = writeln!(out, "process_start_time_seconds {}", boot + start / TICKS);
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        header(
            &mut out,
            "process_open_fds",
            "Open file descriptors.",
            "gauge",
        );
        let _ = writeln!(out, "process_open_fds {}", fds.count());
    }
    out
}

/// How AWS answered: each attempt's latency and the failed ones by AWS's
/// error code (see [`crate::aws::outcomes`]).
pub fn outcomes(outcomes: &crate::aws::outcomes::Outcomes) -> String {
    use crate::aws::outcomes::LATENCY_BUCKETS;
    let mut out = String::new();
    header(
        &mut out,
        "globalapi_aws_call_duration_seconds",
        "How long AWS took to answer an attempt, by service and operation.",
        "histogram",
    );
    for ((service, operation), latency) in &outcomes.latency {
        let (service, operation) = (escape(service), escape(operation));
        for (bound, n) in LATENCY_BUCKETS.iter().zip(latency.buckets.iter()) {
            let _ = writeln!(
                out,
                "globalapi_aws_call_duration_seconds_bucket{{service=\"{service}\",operation=\"{operation}\",le=\"{bound}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "globalapi_aws_call_duration_seconds_bucket{{service=\"{service}\",operation=\"{operation}\",le=\"+Inf\"}} {}",
            latency.count
        );
        let _ = writeln!(
            out,
            "globalapi_aws_call_duration_seconds_sum{{service=\"{service}\",operation=\"{operation}\"}} {}",
            latency.sum
        );
        let _ = writeln!(
            out,
            "globalapi_aws_call_duration_seconds_count{{service=\"{service}\",operation=\"{operation}\"}} {}",
            latency.count
        );
    }
    header(
        &mut out,
        "globalapi_aws_errors_total",
        "AWS attempts that failed, by service, operation and AWS's error code (http-<status> where the code is only in the body).",
        "counter",
    );
    for ((service, operation, code), n) in &outcomes.errors {
        let _ = writeln!(
            out,
            "globalapi_aws_errors_total{{service=\"{}\",operation=\"{}\",code=\"{}\"}} {n}",
            escape(service),
            escape(operation),
            escape(code)
        );
    }
    out
}

/// The budgets' admissions: how often calls went at once, waited for their
/// turn, were deferred to a later pass, or came back on a held turn.
pub fn budget(budget: &crate::aws::budget::Budget) -> String {
    let mut out = String::new();
    header(
        &mut out,
        "globalapi_aws_budget_admissions_total",
        "AWS call attempts by how the account's budget admitted them: now, waited, deferred (to the object's next pass), ticket (on a turn held since).",
        "counter",
    );
    for ((service, operation, outcome), n) in budget.counts() {
        let _ = writeln!(
            out,
            "globalapi_aws_budget_admissions_total{{service=\"{}\",operation=\"{}\",outcome=\"{outcome}\"}} {n}",
            escape(&service),
            escape(&operation)
        );
    }
    out
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    header(out, name, help, "counter");
    let _ = writeln!(out, "{name} {value}");
}

/// A label value as the text format wants it.
pub(super) fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histogram_and_aws_calls() {
        let metrics = Metrics::default();
        assert!(
            metrics
                .render(&CallCounts::default())
                .contains("\nglobalapi_leader 0\n")
        );
        metrics.set_leader(true);
        metrics.reconciled(Duration::from_millis(300));
        metrics.reconciled(Duration::from_secs(3));
        metrics.failed("AwsError");
        metrics.drift(2, true);
        metrics.drift(1, false);
        let mut calls = CallCounts::default();
        calls
            .0
            .insert(("apigateway".into(), "GetRestApis".into()), 4);
        let text = metrics.render(&calls);
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
            "globalapi_aws_calls_total{service=\"apigateway\",operation=\"GetRestApis\"} 4",
            "# TYPE globalapi_reconcile_duration_seconds histogram",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn the_process_reads_itself_from_proc() {
        let text = process();
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
    }
}
