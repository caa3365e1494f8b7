//! The real API server serves the GlobalApi CRD, explains it, accepts every
//! example and refuses every bad input with a message that names the field.

mod common;

use serde_json::{Value, json};

use common::env;

/// A valid latency GlobalApi with edge and database; each bad case breaks one thing.
fn valid() -> Value {
    json!({
        "apiVersion": "globalapi.io/v1alpha1",
        "kind": "GlobalApi",
        "metadata": {"name": "base"},
        "spec": {
            "domain": "api.example.com",
            "hostedZone": {"name": "example.com"},
            "routing": {"policy": "Latency"},
            "regions": [
                {"name": "us-east-1", "backend": {"lambdaArn": "arn:aws:lambda:us-east-1:123456789012:function:api"}},
                {"name": "eu-west-1", "backend": {"httpUrl": "https://eu.internal.example.com"}}
            ],
            "api": {"stageName": "v1", "healthCheck": {"path": "/health", "intervalSeconds": 30, "failureThreshold": 3}},
            "edge": {"enabled": true},
            "database": {"aurora": {
                "globalClusterIdentifier": "exchange", "engine": "aurora-postgresql", "engineVersion": "16.4",
                "primaryRegion": "us-east-1", "instanceClass": "db.r6g.large"
            }},
            "resyncSeconds": 300
        }
    })
}

fn failover() -> Value {
    let mut v = valid();
    v["spec"]["routing"] = json!({"policy": "Failover", "primaryRegion": "us-east-1"});
    v
}

fn regions(n: usize) -> Value {
    const CODES: [&str; 17] = [
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-central-1",
        "eu-north-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-south-1",
        "sa-east-1",
        "ca-central-1",
        "me-south-1",
    ];
    Value::Array(
        CODES[..n]
            .iter()
            .map(|r| json!({"name": r, "backend": {"httpUrl": "https://b.example.com"}}))
            .collect(),
    )
}

/// One bad input: how to break the valid manifest, and what the refusal must say.
struct Bad {
    what: &'static str,
    manifest: Value,
    /// The field path the API server's message must name.
    field: &'static str,
    /// A fragment of the explanation.
    says: &'static str,
}

/// Sets the field at `pointer`, adding it to its parent object when absent.
fn with(mut base: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').expect("a JSON pointer");
    match base
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("no {parent} in manifest"))
    {
        Value::Object(map) => {
            map.insert(key.to_owned(), value);
        }
        Value::Array(items) => items[key.parse::<usize>().expect("an index")] = value,
        other => panic!("{parent} is {other}, not an object or array"),
    }
    base
}

fn without(mut base: Value, parent: &str, key: &str) -> Value {
    base.pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("no {parent} in manifest"))
        .remove(key);
    base
}

fn bad_inputs() -> Vec<Bad> {
    let long_label = format!("{}.example.com", "a".repeat(64));
    let long_name = format!("{}example.com", "abcdefghi.".repeat(25));
    let mut dup = valid();
    dup["spec"]["regions"][1]["name"] = json!("us-east-1");
    dup["spec"]["regions"][1]["backend"] = json!({"httpUrl": "https://x.example.com"});
    let mut all_maintenance = valid();
    all_maintenance["spec"]["regions"][0]["maintenance"] = json!(true);
    all_maintenance["spec"]["regions"][1]["maintenance"] = json!(true);
    let mut three_failover = failover();
    three_failover["spec"]["regions"] = regions(3);
    three_failover["spec"]["database"]["aurora"]["primaryRegion"] = json!("us-east-1");
    let mut edge_cert_elsewhere = valid();
    edge_cert_elsewhere["spec"]["certificate"] =
        json!({"arn": "arn:aws:acm:eu-west-1:123456789012:certificate/abcd-1234"});

    vec![
        Bad {
            what: "upper-case domain",
            manifest: with(valid(), "/spec/domain", json!("Api.example.com")),
            field: "spec.domain",
            says: "lower-case DNS name",
        },
        Bad {
            what: "trailing dot",
            manifest: with(valid(), "/spec/domain", json!("api.example.com.")),
            field: "spec.domain",
            says: "lower-case DNS name",
        },
        Bad {
            what: "wildcard",
            manifest: with(valid(), "/spec/domain", json!("*.example.com")),
            field: "spec.domain",
            says: "lower-case DNS name",
        },
        Bad {
            what: "label over 63",
            manifest: with(valid(), "/spec/domain", json!(long_label)),
            field: "spec.domain",
            says: "lower-case DNS name",
        },
        Bad {
            what: "name over 253",
            manifest: with(valid(), "/spec/domain", json!(long_name)),
            field: "spec.domain",
            says: "253",
        },
        Bad {
            what: "domain outside the zone",
            manifest: with(valid(), "/spec/domain", json!("api.example.org")),
            field: "spec.domain",
            says: "inside it",
        },
        Bad {
            what: "zone with id and name",
            manifest: with(
                valid(),
                "/spec/hostedZone",
                json!({"id": "Z123", "name": "example.com"}),
            ),
            field: "spec.hostedZone",
            says: "exactly one of id or name",
        },
        Bad {
            what: "zone with neither",
            manifest: with(valid(), "/spec/hostedZone", json!({})),
            field: "spec.hostedZone",
            says: "exactly one of id or name",
        },
        Bad {
            what: "no regions",
            manifest: with(valid(), "/spec/regions", json!([])),
            field: "spec.regions",
            says: "at least 1",
        },
        Bad {
            what: "17 regions",
            manifest: with(valid(), "/spec/regions", regions(17)),
            field: "spec.regions",
            says: "at most 16",
        },
        Bad {
            what: "same region twice",
            manifest: dup,
            field: "spec.regions[1]",
            says: "Duplicate value",
        },
        Bad {
            what: "bad region code",
            manifest: with(valid(), "/spec/regions/1/name", json!("europe-1")),
            field: "spec.regions[1].name",
            says: "AWS region code",
        },
        Bad {
            what: "Failover without primaryRegion",
            manifest: without(failover(), "/spec/routing", "primaryRegion"),
            field: "spec.routing.primaryRegion",
            says: "required when routing.policy is Failover",
        },
        Bad {
            what: "primaryRegion not a region",
            manifest: with(
                failover(),
                "/spec/routing/primaryRegion",
                json!("us-west-2"),
            ),
            field: "spec.routing.primaryRegion",
            says: "one of spec.regions",
        },
        Bad {
            what: "Failover with 3 regions",
            manifest: three_failover,
            field: "spec.regions",
            says: "exactly 2 regions",
        },
        Bad {
            what: "primaryRegion with Latency",
            manifest: with(valid(), "/spec/routing/primaryRegion", json!("us-east-1")),
            field: "spec.routing.primaryRegion",
            says: "only used with Failover",
        },
        Bad {
            what: "backend with both",
            manifest: with(
                valid(),
                "/spec/regions/1/backend/lambdaArn",
                json!("arn:aws:lambda:eu-west-1:123456789012:function:api"),
            ),
            field: "spec.regions[1].backend",
            says: "exactly one of lambdaArn or httpUrl",
        },
        Bad {
            what: "backend with neither",
            manifest: with(valid(), "/spec/regions/1/backend", json!({})),
            field: "spec.regions[1].backend",
            says: "exactly one of lambdaArn or httpUrl",
        },
        Bad {
            what: "lambdaArn not a function ARN",
            manifest: with(
                valid(),
                "/spec/regions/0/backend/lambdaArn",
                json!("arn:aws:s3:::bucket"),
            ),
            field: "spec.regions[0].backend.lambdaArn",
            says: "Lambda function ARN",
        },
        Bad {
            what: "lambdaArn in another region",
            manifest: with(
                valid(),
                "/spec/regions/0/backend/lambdaArn",
                json!("arn:aws:lambda:eu-west-1:123456789012:function:api"),
            ),
            field: "spec.regions[0].backend.lambdaArn",
            says: "this entry's region",
        },
        Bad {
            what: "httpUrl not https",
            manifest: with(
                valid(),
                "/spec/regions/1/backend/httpUrl",
                json!("http://eu.internal.example.com"),
            ),
            field: "spec.regions[1].backend.httpUrl",
            says: "https://",
        },
        Bad {
            what: "interval 20",
            manifest: with(valid(), "/spec/api/healthCheck/intervalSeconds", json!(20)),
            field: "spec.api.healthCheck.intervalSeconds",
            says: "10 or 30",
        },
        Bad {
            what: "threshold 0",
            manifest: with(valid(), "/spec/api/healthCheck/failureThreshold", json!(0)),
            field: "spec.api.healthCheck.failureThreshold",
            says: "greater than or equal to 1",
        },
        Bad {
            what: "threshold 11",
            manifest: with(valid(), "/spec/api/healthCheck/failureThreshold", json!(11)),
            field: "spec.api.healthCheck.failureThreshold",
            says: "less than or equal to 10",
        },
        Bad {
            what: "health path without slash",
            manifest: with(valid(), "/spec/api/healthCheck/path", json!("health")),
            field: "spec.api.healthCheck.path",
            says: "start with '/'",
        },
        Bad {
            what: "stage name AWS refuses",
            manifest: with(valid(), "/spec/api/stageName", json!("v 1!")),
            field: "spec.api.stageName",
            says: "letters, digits",
        },
        Bad {
            what: "certificate not an ACM ARN",
            manifest: with(
                valid(),
                "/spec/certificate",
                json!({"arn": "arn:aws:iam::123456789012:server-certificate/x"}),
            ),
            field: "spec.certificate.arn",
            says: "ACM certificate ARN",
        },
        Bad {
            what: "edge certificate outside us-east-1",
            manifest: edge_cert_elsewhere,
            field: "spec.certificate.arn",
            says: "us-east-1",
        },
        Bad {
            what: "database primary not a region",
            manifest: with(
                valid(),
                "/spec/database/aurora/primaryRegion",
                json!("us-west-2"),
            ),
            field: "spec.database.aurora.primaryRegion",
            says: "one of spec.regions",
        },
        Bad {
            what: "resync under 30",
            manifest: with(valid(), "/spec/resyncSeconds", json!(10)),
            field: "spec.resyncSeconds",
            says: "greater than or equal to 30",
        },
        Bad {
            what: "unknown driftPolicy",
            manifest: with(valid(), "/spec/driftPolicy", json!("Ignore")),
            field: "spec.driftPolicy",
            says: "Unsupported value",
        },
        Bad {
            what: "unknown deletionPolicy",
            manifest: with(valid(), "/spec/deletionPolicy", json!("Orphan")),
            field: "spec.deletionPolicy",
            says: "Unsupported value",
        },
        Bad {
            what: "unknown routing policy",
            manifest: with(valid(), "/spec/routing/policy", json!("Weighted")),
            field: "spec.routing.policy",
            says: "Unsupported value",
        },
        Bad {
            what: "every region in maintenance",
            manifest: all_maintenance,
            field: "spec.regions",
            says: "at least one region must stay out of maintenance",
        },
    ]
}

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
