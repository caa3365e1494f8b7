//! The API server's validation of a GlobalApi, run without a cluster: the
//! CRD's own schema is the single source, so a manifest the command line
//! refuses is one `kubectl apply` refuses, naming the same field.
//!
//! Two halves, as in the API server: the OpenAPI bounds (types, enums,
//! lengths, ranges, item counts) and the CEL rules (`x-kubernetes-validations`).

use serde_json::Value;

use crate::error::{Error, Result};

/// Checks a manifest object (as JSON) against the CRD's schema, with the
/// schema's defaults applied first as the API server does. Every problem is
/// one line `spec.field: message`.
pub fn validate(object: &Value) -> Result<()> {
    let crd = crate::api::crd().map_err(|e| Error::Invalid(format!("building the CRD: {e}")))?;
    let schema = crd
        .spec
        .versions
        .first()
        .and_then(|v| v.schema.as_ref())
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .ok_or_else(|| Error::Invalid("the CRD has no schema".into()))?;
    let schema =
        serde_json::to_value(schema).map_err(|e| Error::Invalid(format!("the CRD schema: {e}")))?;

    let mut problems = Vec::new();
    if let Some(spec) = object.get("spec") {
        let spec_schema = &schema["properties"]["spec"];
        let defaulted = kube::core::cel::apply_defaults(spec_schema, spec);
        bounds(spec_schema, &defaulted, "spec", &mut problems);
    } else {
        problems.push("spec: Required value".to_owned());
    }
    // Like the API server, the CEL rules run even when a bound failed, so
    // that every problem is reported at once.
    if let Err(errors) = kube::core::cel::Validator::new().validate(&schema, object, None) {
        problems.extend(errors.into_vec().into_iter().map(|e| e.to_string()));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(problems.join("\n")))
    }
}

/// The OpenAPI part: required fields, types, enums, lengths, ranges, counts.
fn bounds(schema: &Value, value: &Value, path: &str, problems: &mut Vec<String>) {
    let mut problem = |text: String| problems.push(format!("{path}: {text}"));
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let list: Vec<String> = allowed.iter().map(|a| a.to_string()).collect();
        problem(format!(
            "Unsupported value: {value}: supported values: {}",
            list.join(", ")
        ));
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => {
            let Some(map) = value.as_object() else {
                return problem(format!("Invalid value: {value}: must be an object"));
            };
            for required in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(key) = required.as_str()
                    && !map.contains_key(key)
                {
                    problems.push(format!("{path}.{key}: Required value"));
                }
            }
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (key, child) in map {
                    if let Some(child_schema) = properties.get(key) {
                        bounds(child_schema, child, &format!("{path}.{key}"), problems);
                    }
                }
            }
        }
        Some("array") => {
            let Some(items) = value.as_array() else {
                return problem(format!("Invalid value: {value}: must be an array"));
            };
            if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
                && items.len() as u64 > max
            {
                problem(format!(
                    "Too many: {}: must have at most {max} items",
                    items.len()
                ));
            }
            if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
                && (items.len() as u64) < min
            {
                problem(format!(
                    "Invalid value: {}: should have at least {min} items",
                    items.len()
                ));
            }
            if schema.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("map") {
                let keys: Vec<&str> = schema
                    .get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|k| k.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let key_of = |item: &Value| -> Vec<Value> {
                    keys.iter().map(|k| item[*k].clone()).collect()
                };
                for (i, item) in items.iter().enumerate() {
                    if items[..i]
                        .iter()
                        .any(|earlier| key_of(earlier) == key_of(item))
                    {
                        let shown: serde_json::Map<String, Value> = keys
                            .iter()
                            .map(|k| ((*k).to_owned(), item[*k].clone()))
                            .collect();
                        problems.push(format!(
                            "{path}[{i}]: Duplicate value: {}",
                            Value::Object(shown)
                        ));
                    }
                }
            }
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    bounds(item_schema, item, &format!("{path}[{i}]"), problems);
                }
            }
        }
        Some("string") => {
            let Some(text) = value.as_str() else {
                return problem(format!("Invalid value: {value}: must be a string"));
            };
            let length = text.len() as u64;
            if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
                && length > max
            {
                problem(format!("Too long: may not be more than {max} bytes"));
            }
            if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
                && length < min
            {
                problem(format!(
                    "Invalid value: {value}: should be at least {min} chars long"
                ));
            }
        }
        Some("integer") | Some("number") => {
            let Some(number) = value.as_f64() else {
                return problem(format!("Invalid value: {value}: must be a number"));
            };
            if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
                && number > max
            {
                problem(format!(
                    "Invalid value: {value}: should be less than or equal to {max}"
                ));
            }
            if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
                && number < min
            {
                problem(format!(
                    "Invalid value: {value}: should be greater than or equal to {min}"
                ));
            }
        }
        Some("boolean") if !value.is_boolean() => {
            problem(format!("Invalid value: {value}: must be a boolean"))
        }
        _ => {}
    }
}
