//! A database survives spec edits: taken out of the spec it is orphaned
//! (untouched, reported) until `database: {removal: Delete}` asks for its
//! deletion, and a Warning Event precedes every destructive database call.

use std::time::Duration;

use crate::common::{
    self, Setup, block,
    objects::{
        Manifest, REGIONS, apply, event_notes, merge_patch, object, observed, ready, reason,
        target_of,
    },
    operator::Operator,
    owned::rds_clusters,
};

const TIMEOUT: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread")]
async fn a_database_taken_out_of_the_spec_is_orphaned_until_removal_delete() {
    let Setup {
        env,
        clients,
        namespace,
        zone,
    } = common::setup("db-removal", "dbr").await;
    let suffix = common::unique_suffix();
    let name = "ledger";
    // One pass per change the test makes: no resync lands in between.
    let manifest = format!(
        "{}  database:\n    aurora: {{globalClusterIdentifier: gdb-{suffix}, engine: aurora-postgresql, engineVersion: \"16.4\", primaryRegion: us-east-1, instanceClass: db.r6g.large, deletionProtection: false, skipFinalSnapshot: true}}\n",
        Manifest::latency(&namespace, name, &zone)
            .yaml()
            .replace("resyncSeconds: 30", "resyncSeconds: 3600")
    );
    let operator = Operator::start(env, &namespace, "database-removal");
    apply(env, &manifest);
    operator.wait_ready(env, &namespace, name, TIMEOUT);
    let target = target_of(env, &namespace, name).await;
    let clusters = rds_clusters(&clients, &target, &REGIONS).await;
    assert_eq!(clusters.len(), REGIONS.len(), "{clusters:?}");

    // Out of the spec: left as it is, and said so.
    env.kubectl_ok(&[
        "patch",
        "globalapi",
        name,
        "-n",
        &namespace,
        "--type",
        "json",
        "-p",
        r#"[{"op": "remove", "path": "/spec/database"}]"#,
    ]);
    operator.wait_until("DatabaseReady=Orphaned", TIMEOUT, || {
        observed(env, &namespace, name).is_some_and(|o| reason(&o, "DatabaseReady") == "Orphaned")
    });
    let current = object(env, &namespace, name).expect("the object");
    assert!(ready(&current), "{current:#}");
    assert_eq!(rds_clusters(&clients, &target, &REGIONS).await, clusters);
    assert!(event_notes(env, &namespace, name, "DeletingDatabase").is_empty());

    // Asked for: deleted, each destructive call announced first.
    merge_patch(
        env,
        &namespace,
        name,
        r#"{"spec": {"database": {"removal": "Delete"}}}"#,
    );
    operator.wait_until("the clusters deleted", TIMEOUT, || {
        block(rds_clusters(&clients, &target, &REGIONS)).is_empty()
    });
    let warnings = event_notes(env, &namespace, name, "DeletingDatabase");
    for what in [
        "about to delete rds secondary cluster",
        "about to delete rds primary cluster",
        "about to delete rds instance",
    ] {
        assert!(
            warnings.iter().any(|w| w.contains(what)),
            "no Warning Event `{what}`: {warnings:#?}"
        );
    }
    operator.delete_and_wait_gone(env, &namespace, name, TIMEOUT);
}
