//! How the binary logs: a filter that does not parse is refused at start,
//! naming RUST_LOG; the operator logs at info without RUST_LOG; and
//! `--log-format json` writes one JSON object per line.

use crate::common;

use std::process::Command;
use std::time::Duration;

use common::{env, operator::Operator};

#[test]
fn a_log_filter_that_does_not_parse_is_refused_at_start() {
    let out = Command::new(env!("CARGO_BIN_EXE_globalapi"))
        .arg("crd")
        .env("RUST_LOG", "info,globalapi=loud")
        .output()
        .expect("running globalapi");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("RUST_LOG=\"info,globalapi=loud\" is not a log filter"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing else was done");
}

#[test]
fn the_operator_logs_at_info_by_default_and_json_when_asked() {
    let env = env();
    env.install_crd();
    let namespace = env.namespace("logging");
    let operator = Operator::spawn(
        env,
        &env.kubeconfig,
        &["--namespace", &namespace, "--log-format", "json"],
        // No RUST_LOG of the test's: the default.
        &[("RUST_LOG", "")],
        "logging-test",
        &namespace,
    );
    operator.wait_for_ok("/readyz", Duration::from_secs(30));
    let logs = operator.logs();
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(!lines.is_empty(), "nothing logged at info:\n{logs}");
    assert!(
        lines
            .iter()
            .all(|l| l["level"].is_string() && l["fields"].is_object()),
        "{logs}"
    );
    assert!(lines.iter().any(|l| l["level"] == "INFO"), "{logs}");
    assert!(
        lines.iter().all(|l| l["level"] != "DEBUG"),
        "debug lines without RUST_LOG:\n{logs}"
    );
}
