//! Whether the CRD the API server serves knows every field this operator
//! writes. An older CRD (Helm installs `crds/` on the first install only)
//! silently drops the fields it does not know from every status write; the
//! operator says so at start, with the fix, and in a metric.
//!
//! The served schema is read from the API server's OpenAPI v3 document of
//! the group, which every authenticated client may read: no RBAC of its own.

use std::collections::BTreeSet;

use serde_json::Value;

/// The field paths of an OpenAPI schema: `spec.domain`,
/// `status.regions[].alarmState`, …
pub(crate) fn field_paths(schema: &Value) -> BTreeSet<String> {
    let mut paths = BTreeSet::new();
    walk(schema, "", &mut paths);
    paths
}

fn walk(schema: &Value, prefix: &str, paths: &mut BTreeSet<String>) {
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, child) in properties {
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            paths.insert(path.clone());
            walk(child, &path, paths);
        }
    }
    if let Some(items) = schema.get("items") {
        walk(items, &format!("{prefix}[]"), paths);
    }
}

/// The fields of `ours` (spec and status) that `served` lacks.
pub(crate) fn missing_fields(ours: &Value, served: &Value) -> Vec<String> {
    let served = field_paths(served);
    field_paths(ours)
        .into_iter()
        .filter(|p| p.starts_with("spec") || p.starts_with("status"))
        .filter(|p| !served.contains(p))
        .collect()
}

/// The schema of kind `kind` in an OpenAPI v3 document of its group.
pub(crate) fn served_schema<'a>(document: &'a Value, kind: &str) -> Option<&'a Value> {
    document
        .get("components")?
        .get("schemas")?
        .as_object()?
        .iter()
        .find(|(name, _)| name.rsplit('.').next() == Some(kind))
        .map(|(_, schema)| schema)
}

/// What the operator found of the served CRD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CrdCheck {
    /// Every field is served.
    Current,
    /// These fields are not: the CRD is older than the operator.
    Older(Vec<String>),
    /// The served schema could not be read, with why.
    Unread(String),
}

/// Compares the served GlobalApi schema with this operator's.
pub async fn check(client: &kube::Client) -> CrdCheck {
    let ours = match crate::api::crd() {
        Ok(crd) => crd
            .spec
            .versions
            .first()
            .and_then(|v| v.schema.as_ref())
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .and_then(|s| serde_json::to_value(s).ok()),
        Err(e) => return CrdCheck::Unread(format!("building this operator's CRD: {e}")),
    };
    let Some(ours) = ours else {
        return CrdCheck::Unread("this operator's CRD has no schema".into());
    };
    let path = format!(
        "/openapi/v3/apis/{}/{}",
        crate::api::GROUP,
        crate::api::VERSION
    );
    let request = match http::Request::get(&path).body(Vec::new()) {
        Ok(request) => request,
        Err(e) => return CrdCheck::Unread(e.to_string()),
    };
    let document: Value = match client.request_text(request).await {
        Ok(text) => match serde_json::from_str(&text) {
            Ok(document) => document,
            Err(e) => return CrdCheck::Unread(format!("{path}: {e}")),
        },
        Err(e) => return CrdCheck::Unread(format!("{path}: {e}")),
    };
    match served_schema(&document, "GlobalApi") {
        Some(served) => match missing_fields(&ours, served) {
            missing if missing.is_empty() => CrdCheck::Current,
            missing => CrdCheck::Older(missing),
        },
        None => CrdCheck::Unread(format!("{path} has no GlobalApi schema")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(status_fields: &[&str]) -> Value {
        let properties: serde_json::Map<String, Value> = status_fields
            .iter()
            .map(|f| ((*f).to_owned(), json!({"type": "string"})))
            .collect();
        json!({"properties": {
            "spec": {"properties": {"domain": {"type": "string"}}},
            "status": {"properties": {"regions": {"items": {"properties": properties}}}},
        }})
    }

    #[test]
    fn an_older_crd_lacks_fields_and_the_same_one_lacks_none() {
        let ours = schema(&["name", "alarmState"]);
        assert!(missing_fields(&ours, &ours).is_empty());
        assert_eq!(
            missing_fields(&ours, &schema(&["name"])),
            ["status.regions[].alarmState"]
        );
        // What the served one has beyond ours (a newer CRD) is no problem.
        assert!(missing_fields(&schema(&["name"]), &ours).is_empty());
    }

    #[test]
    fn the_kind_is_found_in_the_group_document() {
        let document = json!({"components": {"schemas": {
            "io.globalapi.v1alpha1.GlobalApiPolicy": {"properties": {}},
            "io.globalapi.v1alpha1.GlobalApi": {"properties": {"spec": {}}},
        }}});
        assert!(
            served_schema(&document, "GlobalApi")
                .is_some_and(|s| s["properties"].get("spec").is_some())
        );
        assert!(served_schema(&document, "Other").is_none());
    }
}
