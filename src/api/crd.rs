//! The CustomResourceDefinitions served for GlobalApi and GlobalApiPolicy.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use serde_json::Value;

use super::{GlobalApi, GlobalApiPolicy};

/// Every CRD of the project, as `globalapi crd` prints them and
/// `crds/globalapi.yaml` holds them: GlobalApi, then GlobalApiPolicy.
pub fn crds() -> Result<Vec<CustomResourceDefinition>, serde_json::Error> {
    Ok(vec![
        crd()?,
        served(serde_json::to_value(GlobalApiPolicy::crd())?)?,
    ])
}

/// The GlobalApi CRD.
pub fn crd() -> Result<CustomResourceDefinition, serde_json::Error> {
    served(serde_json::to_value(GlobalApi::crd())?)
}

/// A CRD as served. Optional fields are made non-nullable: the API server then drops an
/// explicit `null` (as in `arn: null`) instead of keeping it, so CEL rules
/// that ask `has(...)` see an absent field rather than a null one. Keys of
/// schema values (defaults) are sorted, so the text does not depend on
/// whether some dependency turned on serde_json's `preserve_order`.
fn served(mut value: Value) -> Result<CustomResourceDefinition, serde_json::Error> {
    if let Some(versions) = value
        .pointer_mut("/spec/versions")
        .and_then(Value::as_array_mut)
    {
        for version in versions {
            if let Some(schema) = version.get_mut("schema") {
                drop_nullable(schema);
            }
        }
    }
    serde_json::from_value(value)
}

fn drop_nullable(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("nullable");
            map.sort_keys();
            map.values_mut().for_each(drop_nullable);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nullable),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_field_is_nullable() {
        let crd = serde_json::to_string(&crd().expect("the CRD renders")).expect("serializes");
        assert!(!crd.contains("nullable"));
        // The rule that needs it: an explicit null certificate ARN is dropped, not checked.
        assert!(crd.contains("certificate.arn must be an ACM certificate ARN"));
    }
}
