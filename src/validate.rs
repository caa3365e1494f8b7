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
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let list: Vec<String> = allowed.iter().map(|a| a.to_string()).collect();
        problems.push(format!(
            "{path}: Unsupported value: {value}: supported values: {}",
            list.join(", ")
        ));
    }
    let kind = schema.get("type").and_then(Value::as_str);
    let wrong_type = |what: &str| format!("{path}: Invalid value: {value}: must be {what}");
    match kind {
        Some("object") => match value.as_object() {
            Some(map) => object_bounds(schema, map, path, problems),
            None => problems.push(wrong_type("an object")),
        },
        Some("array") => match value.as_array() {
            Some(items) => array_bounds(schema, items, path, problems),
            None => problems.push(wrong_type("an array")),
        },
        Some("string") => match value.as_str() {
            Some(text) => string_bounds(schema, value, text, path, problems),
            None => problems.push(wrong_type("a string")),
        },
        Some("integer") | Some("number") => match value.as_f64() {
            Some(number) => number_bounds(schema, value, number, path, problems),
            None => problems.push(wrong_type("a number")),
        },
        Some("boolean") if !value.is_boolean() => problems.push(wrong_type("a boolean")),
        _ => {}
    }
}

fn object_bounds(
    schema: &Value,
    map: &serde_json::Map<String, Value>,
    path: &str,
    problems: &mut Vec<String>,
) {
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

fn array_bounds(schema: &Value, items: &[Value], path: &str, problems: &mut Vec<String>) {
    if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
        && items.len() as u64 > max
    {
        problems.push(format!(
            "{path}: Too many: {}: must have at most {max} items",
            items.len()
        ));
    }
    if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
        && (items.len() as u64) < min
    {
        problems.push(format!(
            "{path}: Invalid value: {}: should have at least {min} items",
            items.len()
        ));
    }
    if schema.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("map") {
        let keys: Vec<&str> = schema
            .get("x-kubernetes-list-map-keys")
            .and_then(Value::as_array)
            .map(|k| k.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let key_of =
            |item: &Value| -> Vec<Value> { keys.iter().map(|k| item[*k].clone()).collect() };
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

fn string_bounds(
    schema: &Value,
    value: &Value,
    text: &str,
    path: &str,
    problems: &mut Vec<String>,
) {
    let length = text.len() as u64;
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
        && length > max
    {
        problems.push(format!(
            "{path}: Too long: may not be more than {max} bytes"
        ));
    }
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
        && length < min
    {
        problems.push(format!(
            "{path}: Invalid value: {value}: should be at least {min} chars long"
        ));
    }
}

fn number_bounds(
    schema: &Value,
    value: &Value,
    number: f64,
    path: &str,
    problems: &mut Vec<String>,
) {
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
        && number > max
    {
        problems.push(format!(
            "{path}: Invalid value: {value}: should be less than or equal to {max}"
        ));
    }
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
        && number < min
    {
        problems.push(format!(
            "{path}: Invalid value: {value}: should be greater than or equal to {min}"
        ));
    }
}
