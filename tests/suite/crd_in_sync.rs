//! `crds/globalapi.yaml` is exactly what `globalapi crd` prints.

use std::process::Command;

#[test]
fn committed_crd_equals_generated_crd() {
    let out = Command::new(env!("CARGO_BIN_EXE_globalapi"))
        .arg("crd")
        .output()
        .expect("running globalapi crd");
    assert!(
        out.status.success(),
        "globalapi crd failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let generated = String::from_utf8(out.stdout).expect("utf-8 CRD");
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/crds/globalapi.yaml"))
            .expect("reading crds/globalapi.yaml");
    assert!(generated.contains("kind: CustomResourceDefinition"));
    assert_eq!(
        committed, generated,
        "crds/globalapi.yaml is stale: run `make crd` and commit the result"
    );
}
