//! GlobalApi manifests read from files, for the commands that work without
//! a cluster (`plan`, `apply`, `destroy`).

use std::path::Path;

use serde::Deserialize;

use crate::api::GlobalApi;
use crate::error::{Error, Result};
use crate::target::Target;

/// Reads every GlobalApi of a YAML file (documents separated by `---`);
/// documents of other kinds are skipped. A GlobalApi the API server would
/// refuse is refused here with the same field and message.
pub fn read(path: &Path, namespace: Option<&str>) -> Result<Vec<Target>> {
    let text = if path == Path::new("-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| Error::Invalid(format!("reading the manifest from stdin: {e}")))?;
        text
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| Error::Invalid(format!("reading {}: {e}", path.display())))?
    };
    parse(&text, namespace)
}

/// [`read`] from text.
pub fn parse(text: &str, namespace: Option<&str>) -> Result<Vec<Target>> {
    let mut targets = Vec::new();
    for (index, document) in serde_norway::Deserializer::from_str(text).enumerate() {
        let value = serde_norway::Value::deserialize(document)
            .map_err(|e| Error::Invalid(format!("document {}: {e}", index + 1)))?;
        if value.is_null()
            || value.get("kind").and_then(serde_norway::Value::as_str) != Some("GlobalApi")
        {
            continue;
        }
        let json = serde_json::to_value(&value)
            .map_err(|e| Error::Invalid(format!("document {}: {e}", index + 1)))?;
        let name = json
            .pointer("/metadata/name")
            .and_then(|n| n.as_str())
            .unwrap_or("(no name)");
        crate::validate::validate(&json).map_err(|e| {
            let problems = match e {
                Error::Invalid(problems) => problems,
                other => other.to_string(),
            };
            Error::Invalid(format!(
                "GlobalApi {name} (document {}):\n{problems}",
                index + 1
            ))
        })?;
        let mut object: GlobalApi = serde_norway::from_value(value)
            .map_err(|e| Error::Invalid(format!("document {}: {e}", index + 1)))?;
        if let Some(ns) = namespace {
            object.metadata.namespace = Some(ns.to_owned());
        }
        targets.push(Target::from_object(&object)?);
    }
    if targets.is_empty() {
        return Err(Error::Invalid("the manifest holds no GlobalApi".into()));
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_globalapis_and_skips_other_kinds() {
        let text = r#"
apiVersion: v1
kind: Namespace
metadata: {name: payments}
---
apiVersion: globalapi.io/v1alpha1
kind: GlobalApi
metadata: {name: exchange, namespace: payments}
spec:
  domain: api.example.com
  hostedZone: {name: example.com}
  routing: {policy: Latency}
  regions:
    - {name: us-east-1, backend: {httpUrl: "https://us.example.com"}}
"#;
        let targets = parse(text, None).expect("parses");
        assert_eq!(targets.len(), 1);
        assert_eq!(targets[0].owner(), "payments/exchange");
        // Defaults as the API server would apply them.
        assert_eq!(targets[0].spec.resync_seconds, 300);
        assert_eq!(targets[0].spec.api.stage_name, "v1");
        // Without a uid the same manifest always yields the same one.
        assert_eq!(targets[0].uid, parse(text, None).expect("parses")[0].uid);
    }

    #[test]
    fn unknown_enum_values_are_refused_naming_the_field() {
        let text = r#"
kind: GlobalApi
apiVersion: globalapi.io/v1alpha1
metadata: {name: x}
spec:
  domain: api.example.com
  hostedZone: {name: example.com}
  routing: {policy: Weighted}
  regions: [{name: us-east-1, backend: {httpUrl: "https://us.example.com"}}]
"#;
        let err = parse(text, None).expect_err("refused").to_string();
        assert!(
            err.contains("routing.policy") || err.contains("Weighted"),
            "{err}"
        );
    }
}
