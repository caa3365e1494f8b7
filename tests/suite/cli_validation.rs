//! The command line refuses every bad input the API server refuses, naming
//! the same field: both read the one schema of the CRD.

use crate::common;

use common::bad_inputs::{bad_inputs, failover, valid};
use globalapi::validate::validate;

#[test]
fn valid_manifests_pass() {
    validate(&valid()).expect("the valid latency manifest");
    validate(&failover()).expect("the valid failover manifest");
    for entry in
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/examples")).expect("examples/")
    {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("reading an example");
        let object: serde_json::Value = serde_norway::from_str(&text).expect("YAML");
        validate(&object).unwrap_or_else(|e| panic!("{} refused: {e}", path.display()));
    }
}

#[test]
fn every_bad_input_is_refused_naming_the_field() {
    let mut failures = Vec::new();
    for bad in bad_inputs() {
        match validate(&bad.manifest) {
            Ok(()) => failures.push(format!("{}: accepted", bad.what)),
            Err(err) => {
                let text = err.to_string();
                let named = text
                    .lines()
                    .any(|l| l.contains(&format!("{}:", bad.field)) && l.contains(bad.says));
                if !named {
                    failures.push(format!(
                        "{}: `{}` / `{}` not in:\n    {text}",
                        bad.what, bad.field, bad.says
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} bad inputs misbehaved:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_command_has_help() {
    for command in ["crd", "plan", "apply", "destroy", "run"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_globalapi"))
            .args([command, "--help"])
            .output()
            .expect("globalapi --help");
        assert!(
            out.status.success(),
            "{command} --help: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
