//! The real API server serves the GlobalApi CRD, explains it, accepts every
//! example and refuses every bad input with a message that names the field.

use crate::common;

use serde_json::{Value, json};

use common::{
    bad_inputs::{bad_inputs, failover, valid},
    env,
};

#[test]
fn every_bad_input_is_refused_naming_the_field() {
    let env = env();
    env.install_crd();
    let ns = env.namespace("bad-input");
    // The base manifest itself is valid, so each refusal below is the one change's doing.
    let ok = env.kubectl_with_input(
        &["create", "--dry-run=server", "-n", &ns, "-f", "-"],
        Some(&valid().to_string()),
    );
    assert!(
        ok.status.success(),
        "the valid base manifest was refused: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let ok = env.kubectl_with_input(
        &["create", "--dry-run=server", "-n", &ns, "-f", "-"],
        Some(&failover().to_string()),
    );
    assert!(
        ok.status.success(),
        "the valid failover manifest was refused: {}",
        String::from_utf8_lossy(&ok.stderr)
    );

    let mut failures = Vec::new();
    for (i, bad) in bad_inputs().into_iter().enumerate() {
        let name = format!("bad-{i}");
        let mut manifest = bad.manifest;
        manifest["metadata"]["name"] = json!(name);
        let out = env.kubectl_with_input(
            &["create", "-n", &ns, "-f", "-"],
            Some(&manifest.to_string()),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            failures.push(format!("{}: accepted", bad.what));
        } else if !stderr.contains(&format!("{}:", bad.field)) || !stderr.contains(bad.says) {
            failures.push(format!(
                "{}: refused, but the message does not name `{}` and say `{}`:\n    {}",
                bad.what,
                bad.field,
                bad.says,
                stderr.trim()
            ));
        }
        // Refused means nothing was stored.
        let get = env.kubectl(&["get", "gapi", "-n", &ns, &name]);
        if get.status.success() {
            failures.push(format!("{}: the object exists after the refusal", bad.what));
        }
    }
    env.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
    assert!(
        failures.is_empty(),
        "{} bad inputs misbehaved:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_example_is_accepted_and_defaulted() {
    let env = env();
    env.install_crd();
    let ns = env.namespace("examples");
    let dir = env.root.join("examples");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("reading examples/") {
        let path = entry.expect("examples entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        env.kubectl_ok(&["create", "-n", &ns, "-f", common::path_str(&path)]);
        names.push(path);
    }
    assert!(
        names.len() >= 3,
        "expected at least three examples, found {names:?}"
    );
    let listed: Value =
        serde_json::from_str(&env.kubectl_ok(&["get", "gapi", "-n", &ns, "-o", "json"]))
            .expect("kubectl get -o json");
    let items = listed["items"].as_array().expect("items");
    assert_eq!(items.len(), names.len());
    let policies: Vec<&str> = items
        .iter()
        .filter_map(|i| i["spec"]["routing"]["policy"].as_str())
        .collect();
    assert!(
        policies.contains(&"Latency") && policies.contains(&"Failover"),
        "{policies:?}"
    );
    assert!(
        items.iter().any(|i| i["spec"]["edge"].is_null()),
        "no example without the edge"
    );
    assert!(
        items
            .iter()
            .any(|i| i["spec"]["database"]["aurora"].is_object()),
        "no example with a database"
    );
    for item in items {
        // Defaults are applied by the API server, visible to `kubectl get -o yaml`.
        assert_eq!(item["spec"]["resyncSeconds"], json!(300), "{item}");
        assert!(item["spec"]["driftPolicy"].is_string(), "{item}");
        assert!(
            item["spec"]["api"]["healthCheck"]["failureThreshold"].is_number(),
            "{item}"
        );
        assert_eq!(item["spec"]["routing"]["ttlSeconds"], json!(60), "{item}");
    }
    env.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

#[test]
fn kubectl_explain_shows_the_field_docs() {
    let env = env();
    env.install_crd();
    let routing = env.kubectl_ok(&["explain", "globalapi.spec.routing"]);
    assert!(
        routing.contains("How Route 53 spreads traffic over the regions"),
        "{routing}"
    );
    assert!(routing.contains("primaryRegion"), "{routing}");
    assert!(routing.contains("active-passive"), "{routing}");
    let maintenance = env.kubectl_ok(&["explain", "globalapi.spec.regions.maintenance"]);
    assert!(maintenance.contains("Drain this region"), "{maintenance}");
    let status = env.kubectl_ok(&["explain", "gapi.status.drift"]);
    assert!(
        status.contains("differences between AWS and the spec"),
        "{status}"
    );
}

#[test]
fn kubectl_get_shows_the_printer_columns() {
    let env = env();
    env.install_crd();
    let ns = env.namespace("columns");
    let example = env.root.join("examples/failover.yaml");
    env.kubectl_ok(&["create", "-n", &ns, "-f", common::path_str(&example)]);
    // Status as the operator writes it, so that every column has a value to show.
    let status = json!({"status": {
        "readyRegions": "2/2",
        "endpoint": "https://pay.example.com",
        "conditions": [
            {"type": "Ready", "status": "True", "reason": "Reconciled", "message": "all regions serve", "lastTransitionTime": "2026-01-01T00:00:00Z"},
            {"type": "Drifted", "status": "False", "reason": "InSync", "message": "AWS equals the spec", "lastTransitionTime": "2026-01-01T00:00:00Z"}
        ]
    }});
    env.kubectl_ok(&[
        "patch",
        "gapi",
        "payments",
        "-n",
        &ns,
        "--subresource=status",
        "--type=merge",
        "-p",
        &status.to_string(),
    ]);
    let table = env.kubectl_ok(&["get", "gapi", "-n", &ns]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "NAME", "DOMAIN", "POLICY", "REGIONS", "READY", "DRIFTED", "AGE"
        ],
        "{table}"
    );
    let row: Vec<&str> = table
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        row[..6],
        [
            "payments",
            "pay.example.com",
            "Failover",
            "2/2",
            "True",
            "False"
        ],
        "{table}"
    );
    let wide = env.kubectl_ok(&["get", "gapi", "-n", &ns, "-o", "wide"]);
    assert!(
        wide.lines().next().unwrap_or_default().contains("ENDPOINT"),
        "{wide}"
    );
    assert!(wide.contains("https://pay.example.com"), "{wide}");
    env.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}
