//! The Aurora Global Database against the emulator: create (global cluster,
//! primary in us-east-1 with its instance, a secondary), a no-op plan,
//! drift found and corrected (deletion protection, a deleted instance, the
//! instance count, a region added and removed), refusals (engine version,
//! deletion protection on destroy), conflicts with someone else's global
//! cluster, and destroy, which leaves foreign clusters alone.
//!
//! The emulator keeps global clusters in us-east-1 only and cannot remove
//! a member outside us-east-1 from its global cluster: such a member stays
//! listed after its deletion, and the global cluster can then never be
//! deleted. The tests assert exactly that leftover where a secondary was
//! involved, and a complete deletion where there was none.

use crate::common;

use aws_sdk_rds::{Client, types::Tag};
use globalapi::api::GlobalApiSpec;
use globalapi::aws::AwsClients;
use globalapi::aws::rds::{
    self, PROTECTED, RdsInputs, RdsOutputs, cluster_identifier, instance_identifier,
};
use globalapi::plan::{Finding, Mode, StepOutcome};
use globalapi::target::{Target, UID_TAG};

const ACCOUNT: &str = "123456789012";

fn target(suffix: &str, regions: &[&str], aurora: &str) -> Target {
    let regions: String = regions
        .iter()
        .map(|r| format!("  - {{name: {r}, backend: {{httpUrl: \"https://{r}.example.com\"}}}}\n"))
        .collect();
    let spec: GlobalApiSpec = serde_norway::from_str(&format!(
        r#"
domain: api-{suffix}.example.com
hostedZone: {{name: example.com}}
routing: {{policy: Latency}}
regions:
{regions}database:
  aurora:
    globalClusterIdentifier: gdb-{suffix}
    engine: aurora-postgresql
    engineVersion: "16.4"
    primaryRegion: us-east-1
    instanceClass: db.r6g.large
{aurora}"#
    ))
    .expect("spec parses");
    Target {
        namespace: format!("rds-{suffix}"),
        name: "exchange".into(),
        uid: format!("00000000-0000-4000-8000-{suffix:0>12}"),
        spec,
    }
}

fn aurora_mut(t: &mut Target) -> &mut globalapi::api::AuroraSpec {
    t.spec
        .database
        .as_mut()
        .and_then(|d| d.aurora.as_mut())
        .expect("aurora spec")
}

fn lines<O>(outcome: &StepOutcome<O>) -> Vec<String> {
    outcome.changes.iter().map(ToString::to_string).collect()
}

/// One run; a Plan (or an Apply that changes nothing) must not mutate.
async fn run(clients: &AwsClients, t: &Target, mode: Mode) -> StepOutcome<RdsOutputs> {
    let before = clients.calls().snapshot();
    let outcome = rds::run(clients, t, &RdsInputs::default(), mode)
        .await
        .unwrap_or_else(|e| panic!("rds {mode:?} failed: {e}"));
    let calls = clients.calls().snapshot().since(&before);
    if mode == Mode::Plan || outcome.changes.is_empty() {
        assert_eq!(
            calls.mutating(),
            0,
            "{mode:?} without changes must not mutate:\n{calls}"
        );
    }
    outcome
}

/// A run that must report no error, conflict or pending line.
async fn clean(clients: &AwsClients, t: &Target, mode: Mode) -> StepOutcome<RdsOutputs> {
    let outcome = run(clients, t, mode).await;
    assert!(outcome.errors.is_empty(), "errors: {:?}", outcome.errors);
    assert!(
        outcome.conflicts.is_empty(),
        "conflicts: {:?}",
        outcome.conflicts
    );
    assert!(outcome.pending.is_empty(), "pending: {:?}", outcome.pending);
    outcome
}

/// Plan shows exactly `expected`, Apply makes it, and the next Plan is empty.
async fn correct(clients: &AwsClients, t: &Target, expected: &[String]) {
    let plan = clean(clients, t, Mode::Plan).await;
    assert_eq!(lines(&plan), expected, "plan");
    let applied = clean(clients, t, Mode::Apply).await;
    assert_eq!(lines(&applied), expected, "apply");
    let again = clean(clients, t, Mode::Plan).await;
    assert!(again.changes.is_empty(), "after apply: {:?}", lines(&again));
}

async fn destroy(clients: &AwsClients, t: &Target, mode: Mode) -> StepOutcome<()> {
    let before = clients.calls().snapshot();
    let outcome = rds::destroy(clients, t, mode)
        .await
        .unwrap_or_else(|e| panic!("rds destroy {mode:?} failed: {e}"));
    let calls = clients.calls().snapshot().since(&before);
    if mode == Mode::Plan || outcome.changes.is_empty() {
        assert_eq!(calls.mutating(), 0, "{mode:?} destroy mutated:\n{calls}");
    }
    outcome
}

fn cluster_arn(region: &str, id: &str) -> String {
    format!("arn:aws:rds:{region}:{ACCOUNT}:cluster:{id}")
}

/// The cluster `id` in the client's region, if it exists.
async fn find_cluster(client: &Client, id: &str) -> Option<aws_sdk_rds::types::DbCluster> {
    match client
        .describe_db_clusters()
        .db_cluster_identifier(id)
        .send()
        .await
    {
        Ok(out) => out.db_clusters().first().cloned(),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_db_cluster_not_found_fault()) =>
        {
            None
        }
        Err(e) => panic!("describe_db_clusters {id}: {e:?}"),
    }
}

async fn instance_ids(client: &Client, cluster: &str) -> Vec<String> {
    let out = client
        .describe_db_instances()
        .filters(
            aws_sdk_rds::types::Filter::builder()
                .name("db-cluster-id")
                .values(cluster)
                .build(),
        )
        .send()
        .await
        .expect("describe_db_instances");
    let mut ids: Vec<String> = out
        .db_instances()
        .iter()
        .filter_map(|i| i.db_instance_identifier().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

/// The global cluster `id` (the emulator ignores the identifier filter).
async fn find_global(client: &Client, id: &str) -> Option<aws_sdk_rds::types::GlobalCluster> {
    client
        .describe_global_clusters()
        .send()
        .await
        .expect("describe_global_clusters")
        .global_clusters()
        .iter()
        .find(|g| g.global_cluster_identifier() == Some(id))
        .cloned()
}

fn member_arns(g: &aws_sdk_rds::types::GlobalCluster) -> Vec<(String, bool)> {
    g.global_cluster_members()
        .iter()
        .map(|m| {
            (
                m.db_cluster_arn().unwrap_or_default().to_owned(),
                m.is_writer().unwrap_or(false),
            )
        })
        .collect()
}

async fn set_protection(client: &Client, id: &str, on: bool) {
    client
        .modify_db_cluster()
        .db_cluster_identifier(id)
        .deletion_protection(on)
        .apply_immediately(true)
        .send()
        .await
        .expect("modify_db_cluster by hand");
}

async fn snapshots(client: &Client, cluster: &str) -> Vec<String> {
    client
        .describe_db_cluster_snapshots()
        .db_cluster_identifier(cluster)
        .send()
        .await
        .expect("describe_db_cluster_snapshots")
        .db_cluster_snapshots()
        .iter()
        .filter_map(|s| s.db_cluster_snapshot_identifier().map(str::to_owned))
        .filter(|s| !s.starts_with("rds:"))
        .collect()
}

/// A cluster made outside the operator, in the client's region.
async fn foreign_cluster(client: &Client, id: &str, global: Option<&str>) {
    client
        .create_db_cluster()
        .db_cluster_identifier(id)
        .engine("aurora-postgresql")
        .engine_version("16.4")
        .master_username("someone")
        .manage_master_user_password(true)
        .set_global_cluster_identifier(global.map(str::to_owned))
        .tags(Tag::builder().key("team").value("theirs").build())
        .send()
        .await
        .expect("create foreign cluster");
}

#[tokio::test]
async fn global_database_lifecycle_drift_and_destroy() {
    let env = common::env();
    let clients = env.aws_clients().await;
    let (use1, euw1) = (clients.rds("us-east-1"), clients.rds("eu-west-1"));
    let suffix = common::unique_suffix();
    let mut t = target(&suffix, &["us-east-1", "eu-west-1"], "");
    let global = format!("gdb-{suffix}");
    let primary = cluster_identifier(&t, "us-east-1");
    let secondary = cluster_identifier(&t, "eu-west-1");
    assert_eq!(primary, format!("gapi-rds-{suffix}-exchange-us-east-1"));
    let foreign = format!("foreign-{suffix}");
    foreign_cluster(&use1, &foreign, None).await;

    // Create from nothing, in one pass: the emulator reports `available` at once.
    let created = clean(&clients, &t, Mode::Apply).await;
    assert_eq!(
        lines(&created),
        [
            format!("create rds global cluster {global}"),
            format!("create rds primary cluster {primary}"),
            format!("create rds instance {primary}-1"),
            format!("create rds secondary cluster {secondary}"),
            format!("create rds instance {secondary}-1"),
        ]
    );
    let out = &created.outputs;
    assert_eq!(
        out.global_cluster_arn.as_deref(),
        Some(format!("arn:aws:rds::{ACCOUNT}:global-cluster:{global}").as_str())
    );
    assert_eq!(out.writer_region.as_deref(), Some("us-east-1"));
    assert_eq!(out.endpoints.len(), 2, "{:?}", out.endpoints);
    assert_eq!(out.endpoints[0].region, "us-east-1");
    assert!(
        out.endpoints[0]
            .writer
            .as_deref()
            .is_some_and(|w| w.starts_with(&format!("{primary}.cluster-"))),
        "{:?}",
        out.endpoints
    );
    assert!(out.endpoints[0].reader.is_some());
    assert_eq!(out.endpoints[1].region, "eu-west-1");
    assert_eq!(out.endpoints[1].writer, None);
    assert!(
        out.endpoints[1]
            .reader
            .as_deref()
            .is_some_and(|r| r.contains(".cluster-ro-") && r.contains("eu-west-1")),
        "{:?}",
        out.endpoints
    );
    assert!(out.master_user_secret_arn.is_some());

    // What was made is what the spec asks.
    let g = find_global(&use1, &global).await.expect("global cluster");
    assert_eq!(g.engine(), Some("aurora-postgresql"));
    assert_eq!(g.engine_version(), Some("16.4"));
    assert_eq!(g.deletion_protection(), Some(true));
    assert_eq!(
        member_arns(&g),
        [
            (cluster_arn("us-east-1", &primary), true),
            (cluster_arn("eu-west-1", &secondary), false)
        ]
    );
    let p = find_cluster(&use1, &primary).await.expect("primary");
    assert_eq!(p.master_username(), Some(rds::MASTER_USERNAME));
    assert!(
        p.master_user_secret()
            .and_then(|s| s.secret_arn())
            .is_some()
    );
    assert_eq!(p.deletion_protection(), Some(true));
    assert!(
        p.tag_list()
            .iter()
            .any(|tag| tag.key() == Some(UID_TAG) && tag.value() == Some(t.uid.as_str()))
    );
    let s = find_cluster(&euw1, &secondary).await.expect("secondary");
    assert_eq!(s.master_username(), None);
    assert_eq!(s.deletion_protection(), Some(true));
    assert_eq!(
        instance_ids(&use1, &primary).await,
        [format!("{primary}-1")]
    );
    assert_eq!(
        instance_ids(&euw1, &secondary).await,
        [format!("{secondary}-1")]
    );

    // Again: nothing to do, nothing mutated, the same outputs.
    let plan = clean(&clients, &t, Mode::Plan).await;
    assert!(plan.changes.is_empty(), "{:?}", lines(&plan));
    assert_eq!(plan.outputs, created.outputs);
    let again = clean(&clients, &t, Mode::Apply).await;
    assert!(again.changes.is_empty(), "{:?}", lines(&again));

    // Deletion protection turned off by hand on the primary.
    set_protection(&use1, &primary, false).await;
    correct(
        &clients,
        &t,
        &[format!(
            "update rds primary cluster {primary}: DeletionProtection false → true"
        )],
    )
    .await;
    assert_eq!(
        find_cluster(&use1, &primary)
            .await
            .expect("primary")
            .deletion_protection(),
        Some(true)
    );

    // An instance deleted by hand is made again.
    euw1.delete_db_instance()
        .db_instance_identifier(format!("{secondary}-1"))
        .send()
        .await
        .expect("delete instance by hand");
    correct(
        &clients,
        &t,
        &[format!("create rds instance {secondary}-1")],
    )
    .await;

    // More instances, then fewer: the highest number goes.
    aurora_mut(&mut t).instances_per_region = 2;
    correct(
        &clients,
        &t,
        &[
            format!("create rds instance {primary}-2"),
            format!("create rds instance {secondary}-2"),
        ],
    )
    .await;
    assert_eq!(
        instance_ids(&use1, &primary).await,
        [
            instance_identifier(&primary, 1),
            instance_identifier(&primary, 2)
        ]
    );
    aurora_mut(&mut t).instances_per_region = 1;
    correct(
        &clients,
        &t,
        &[
            format!("delete rds instance {primary}-2"),
            format!("delete rds instance {secondary}-2"),
        ],
    )
    .await;
    assert_eq!(
        instance_ids(&euw1, &secondary).await,
        [format!("{secondary}-1")]
    );

    // An engine version change is refused, with what to do instead.
    let mut upgraded = t.clone();
    aurora_mut(&mut upgraded).engine_version = "16.6".into();
    let refused = run(&clients, &upgraded, Mode::Apply).await;
    assert!(refused.changes.is_empty(), "{:?}", lines(&refused));
    assert_eq!(
        Finding::texts(&refused.errors),
        [format!(
            "us-east-1: spec.database.aurora.engineVersion change from 16.4 to 16.6 needs a manual upgrade of global cluster {global} (modify-global-cluster --engine-version, with --allow-major-version-upgrade for a major one); nothing was changed"
        )]
    );

    // Destroy while the spec protects the database: refused, nothing touched.
    for mode in [Mode::Plan, Mode::Apply] {
        let refused = destroy(&clients, &t, mode).await;
        assert!(refused.changes.is_empty(), "{:?}", lines(&refused));
        assert_eq!(Finding::texts(&refused.errors), [PROTECTED]);
    }
    assert!(find_cluster(&use1, &primary).await.is_some());
    assert!(find_cluster(&euw1, &secondary).await.is_some());

    // Allowed: secondaries first, then the primary, then the global cluster.
    aurora_mut(&mut t).deletion_protection = false;
    let snapshot = |cluster: &str, c: &aws_sdk_rds::types::DbCluster| {
        rds::final_snapshot_identifier(
            &t,
            cluster,
            c.db_cluster_resource_id().expect("resource id"),
        )
    };
    let p_snapshot = snapshot(
        &primary,
        &find_cluster(&use1, &primary).await.expect("primary"),
    );
    let s_snapshot = snapshot(
        &secondary,
        &find_cluster(&euw1, &secondary).await.expect("secondary"),
    );
    let expected = [
        format!("update rds secondary cluster {secondary}: DeletionProtection true → false"),
        format!(
            "update rds secondary cluster {secondary}: GlobalClusterIdentifier {global} → (none)"
        ),
        format!("delete rds instance {secondary}-1"),
        format!("delete rds secondary cluster {secondary} (final snapshot {s_snapshot})"),
        format!("update rds primary cluster {primary}: DeletionProtection true → false"),
        format!("update rds primary cluster {primary}: GlobalClusterIdentifier {global} → (none)"),
        format!("delete rds instance {primary}-1"),
        format!("delete rds primary cluster {primary} (final snapshot {p_snapshot})"),
        format!("update rds global cluster {global}: DeletionProtection true → false"),
        format!("delete rds global cluster {global}"),
    ];
    let plan = destroy(&clients, &t, Mode::Plan).await;
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    assert_eq!(lines(&plan), expected);

    // The eu-west-1 member leaves the global cluster in its own region (moto
    // alone cannot do that; the harsh front corrects it, as AWS behaves):
    // everything goes, the global cluster last, the final snapshots stay.
    let mut done = Vec::new();
    for _ in 0..5 {
        let removed = destroy(&clients, &t, Mode::Apply).await;
        assert!(removed.errors.is_empty(), "{:?}", removed.errors);
        assert!(removed.conflicts.is_empty(), "{:?}", removed.conflicts);
        done.extend(lines(&removed));
        if removed.pending.is_empty() {
            break;
        }
    }
    assert_eq!(done, expected);
    assert!(find_cluster(&euw1, &secondary).await.is_none());
    assert!(find_cluster(&use1, &primary).await.is_none());
    assert!(instance_ids(&use1, &primary).await.is_empty());
    assert_eq!(snapshots(&use1, &primary).await, [p_snapshot]);
    assert_eq!(snapshots(&euw1, &secondary).await, [s_snapshot]);
    assert!(find_global(&use1, &global).await.is_none());
    // The foreign cluster is untouched.
    let theirs = find_cluster(&use1, &foreign)
        .await
        .expect("foreign cluster");
    assert_eq!(theirs.status(), Some("available"));

    // Later passes find nothing to do.
    let later = destroy(&clients, &t, Mode::Apply).await;
    assert!(later.changes.is_empty(), "{:?}", lines(&later));
    assert!(later.pending.is_empty(), "{:?}", later.pending);
}

#[tokio::test]
async fn a_single_region_database_is_deleted_entirely() {
    let env = common::env();
    let clients = env.aws_clients().await;
    let use1 = clients.rds("us-east-1");
    let suffix = common::unique_suffix();
    let t = target(
        &suffix,
        &["us-east-1"],
        "    deletionProtection: false\n    skipFinalSnapshot: true\n",
    );
    let global = format!("gdb-{suffix}");
    let primary = cluster_identifier(&t, "us-east-1");
    // Someone else's global database beside ours.
    let their_global = format!("gdb-theirs-{suffix}");
    let their_cluster = format!("theirs-{suffix}");
    use1.create_global_cluster()
        .global_cluster_identifier(&their_global)
        .engine("aurora-postgresql")
        .engine_version("16.4")
        .send()
        .await
        .expect("foreign global cluster");
    foreign_cluster(&use1, &their_cluster, Some(&their_global)).await;

    let created = clean(&clients, &t, Mode::Apply).await;
    assert_eq!(
        lines(&created),
        [
            format!("create rds global cluster {global}"),
            format!("create rds primary cluster {primary}"),
            format!("create rds instance {primary}-1"),
        ]
    );
    let g = find_global(&use1, &global).await.expect("global cluster");
    assert_eq!(g.deletion_protection(), Some(false));

    // Deletion protection turned on by hand while the spec says false.
    set_protection(&use1, &primary, true).await;
    correct(
        &clients,
        &t,
        &[format!(
            "update rds primary cluster {primary}: DeletionProtection true → false"
        )],
    )
    .await;

    let removed = destroy(&clients, &t, Mode::Apply).await;
    assert!(removed.errors.is_empty(), "{:?}", removed.errors);
    assert!(removed.pending.is_empty(), "{:?}", removed.pending);
    assert_eq!(
        lines(&removed),
        [
            format!(
                "update rds primary cluster {primary}: GlobalClusterIdentifier {global} → (none)"
            ),
            format!("delete rds instance {primary}-1"),
            format!("delete rds primary cluster {primary} (no final snapshot)"),
            format!("delete rds global cluster {global}"),
        ]
    );
    assert!(find_global(&use1, &global).await.is_none());
    assert!(find_cluster(&use1, &primary).await.is_none());
    assert!(snapshots(&use1, &primary).await.is_empty());

    // Nothing left: nothing to do.
    let again = destroy(&clients, &t, Mode::Apply).await;
    assert!(again.changes.is_empty() && again.errors.is_empty() && again.pending.is_empty());

    // Theirs is untouched.
    let theirs = find_global(&use1, &their_global)
        .await
        .expect("foreign global");
    assert_eq!(
        member_arns(&theirs),
        [(cluster_arn("us-east-1", &their_cluster), true)]
    );
    assert!(find_cluster(&use1, &their_cluster).await.is_some());
}

#[tokio::test]
async fn a_region_added_then_removed() {
    let env = common::env();
    let clients = env.aws_clients().await;
    let suffix = common::unique_suffix();
    let aurora = "    deletionProtection: false\n";
    let one = target(&suffix, &["us-east-1"], aurora);
    let two = target(&suffix, &["us-east-1", "ap-southeast-2"], aurora);
    let global = format!("gdb-{suffix}");
    let primary = cluster_identifier(&one, "us-east-1");
    let secondary = cluster_identifier(&two, "ap-southeast-2");
    let apse2 = clients.rds("ap-southeast-2");

    clean(&clients, &one, Mode::Apply).await;
    correct(
        &clients,
        &two,
        &[
            format!("create rds secondary cluster {secondary}"),
            format!("create rds instance {secondary}-1"),
        ],
    )
    .await;
    let outputs = clean(&clients, &two, Mode::Plan).await.outputs;
    assert_eq!(
        outputs
            .endpoints
            .iter()
            .map(|e| (e.region.as_str(), e.writer.is_some()))
            .collect::<Vec<_>>(),
        [("us-east-1", true), ("ap-southeast-2", false)]
    );

    let resource_id = find_cluster(&apse2, &secondary)
        .await
        .expect("secondary")
        .db_cluster_resource_id()
        .expect("resource id")
        .to_owned();
    // Out of spec.regions: orphaned, untouched, reported.
    let orphaning = clean(&clients, &one, Mode::Apply).await;
    assert!(orphaning.changes.is_empty(), "{:?}", orphaning.changes);
    assert_eq!(
        orphaning.outputs.orphaned,
        [format!(
            "rds cluster {secondary} in ap-southeast-2 (a region no longer in spec.regions)"
        )]
    );
    assert!(find_cluster(&apse2, &secondary).await.is_some());

    // With removal: Delete, deleted.
    let deleting = target(
        &suffix,
        &["us-east-1"],
        "    deletionProtection: false\n  removal: Delete\n",
    );
    let snapshot = rds::final_snapshot_identifier(&one, &secondary, &resource_id);
    correct(
        &clients,
        &deleting,
        &[
            format!("update rds secondary cluster {secondary}: GlobalClusterIdentifier {global} → (none)"),
            format!("delete rds instance {secondary}-1"),
            format!("delete rds secondary cluster {secondary} (final snapshot {snapshot})"),
        ],
    )
    .await;
    assert!(find_cluster(&apse2, &secondary).await.is_none());
    assert_eq!(snapshots(&apse2, &secondary).await, [snapshot]);
    assert!(
        find_cluster(&clients.rds("us-east-1"), &primary)
            .await
            .is_some()
    );
}

#[tokio::test]
async fn someone_elses_global_cluster_or_cluster_is_a_conflict() {
    let env = common::env();
    let clients = env.aws_clients().await;
    let use1 = clients.rds("us-east-1");
    let suffix = common::unique_suffix();
    let t = target(
        &suffix,
        &["us-east-1", "eu-west-1"],
        "    deletionProtection: false\n",
    );
    let global = format!("gdb-{suffix}");
    let theirs = format!("theirs-{suffix}");
    use1.create_global_cluster()
        .global_cluster_identifier(&global)
        .engine("aurora-postgresql")
        .engine_version("16.4")
        .send()
        .await
        .expect("their global cluster");
    foreign_cluster(&use1, &theirs, Some(&global)).await;

    for mode in [Mode::Plan, Mode::Apply] {
        let out = run(&clients, &t, mode).await;
        assert!(out.changes.is_empty(), "{:?}", lines(&out));
        assert_eq!(
            Finding::texts(&out.conflicts),
            [format!(
                "global cluster {global} exists with writer {}, which is not a cluster of this GlobalApi",
                cluster_arn("us-east-1", &theirs)
            )]
        );
        assert_eq!(out.outputs, RdsOutputs::default());
    }
    let nothing = destroy(&clients, &t, Mode::Apply).await;
    assert!(nothing.changes.is_empty() && nothing.errors.is_empty());
    assert!(find_cluster(&use1, &theirs).await.is_some());

    // A cluster under our identifier that we did not make.
    let mut elsewhere = t.clone();
    aurora_mut(&mut elsewhere).global_cluster_identifier = format!("gdb-ours-{suffix}");
    let taken = cluster_identifier(&t, "eu-west-1");
    let euw1 = clients.rds("eu-west-1");
    foreign_cluster(&euw1, &taken, None).await;
    let out = run(&clients, &elsewhere, Mode::Plan).await;
    assert_eq!(
        Finding::texts(&out.conflicts),
        [format!(
            "rds cluster {taken} in eu-west-1 exists and belongs to no GlobalApi"
        )]
    );
    let primary = cluster_identifier(&t, "us-east-1");
    assert_eq!(
        lines(&out),
        [
            format!("create rds global cluster gdb-ours-{suffix}"),
            format!("create rds primary cluster {primary}"),
            format!("create rds instance {primary}-1"),
        ]
    );
}

#[tokio::test]
async fn an_interrupted_create_is_taken_up() {
    let env = common::env();
    let clients = env.aws_clients().await;
    let use1 = clients.rds("us-east-1");
    let suffix = common::unique_suffix();
    let t = target(&suffix, &["us-east-1"], "    deletionProtection: false\n");
    let global = format!("gdb-{suffix}");
    let primary = cluster_identifier(&t, "us-east-1");
    // The global cluster was made and the pass stopped: the emulator drops its tags.
    use1.create_global_cluster()
        .global_cluster_identifier(&global)
        .engine("aurora-postgresql")
        .engine_version("16.4")
        .deletion_protection(false)
        .send()
        .await
        .expect("global cluster");
    let out = clean(&clients, &t, Mode::Apply).await;
    assert_eq!(
        lines(&out),
        [
            format!("create rds primary cluster {primary}"),
            format!("create rds instance {primary}-1"),
        ]
    );
    assert_eq!(out.outputs.writer_region.as_deref(), Some("us-east-1"));
    let removed = destroy(&clients, &t, Mode::Apply).await;
    assert!(removed.pending.is_empty() && removed.errors.is_empty());
    assert!(find_global(&use1, &global).await.is_none());
}

#[tokio::test]
async fn the_database_leaves_the_spec() {
    let env = common::env();
    let clients = env.aws_clients().await;
    let use1 = clients.rds("us-east-1");
    let suffix = common::unique_suffix();
    let t = target(&suffix, &["us-east-1"], "    deletionProtection: false\n");
    let global = format!("gdb-{suffix}");
    let primary = cluster_identifier(&t, "us-east-1");
    let created = clean(&clients, &t, Mode::Apply).await;
    let remembered = created.outputs.remembered();
    assert_eq!(remembered.previous_regions, ["us-east-1"]);

    // Taken out of the spec: orphaned, untouched, reported.
    let mut dropped = t.clone();
    dropped.spec.database = None;
    let before = clients.calls().snapshot();
    let orphaned = rds::run(&clients, &dropped, &remembered, Mode::Apply)
        .await
        .expect("run without a database");
    assert_eq!(clients.calls().snapshot().since(&before).mutating(), 0);
    assert!(orphaned.changes.is_empty(), "{:?}", orphaned.changes);
    assert_eq!(
        orphaned.outputs.orphaned,
        [
            format!("rds cluster {primary} in us-east-1"),
            format!("rds global cluster {global}"),
        ]
    );
    assert!(find_cluster(&use1, &primary).await.is_some());

    // database: {removal: Delete} without aurora deletes it.
    let mut gone = t.clone();
    gone.spec.database = Some(globalapi::api::DatabaseSpec {
        aurora: None,
        dynamodb: None,
        removal: globalapi::api::DatabaseRemoval::Delete,
    });
    let step = |mode| {
        let (clients, gone, remembered) = (&clients, &gone, &remembered);
        async move {
            let before = clients.calls().snapshot();
            let out = rds::run(clients, gone, remembered, mode)
                .await
                .expect("run without a database");
            if mode == Mode::Plan {
                assert_eq!(clients.calls().snapshot().since(&before).mutating(), 0);
            }
            out
        }
    };
    let snapshot = rds::final_snapshot_identifier(
        &t,
        &primary,
        find_cluster(&use1, &primary)
            .await
            .expect("primary")
            .db_cluster_resource_id()
            .expect("resource id"),
    );
    let expected = [
        format!("update rds primary cluster {primary}: GlobalClusterIdentifier {global} → (none)"),
        format!("delete rds instance {primary}-1"),
        format!("delete rds primary cluster {primary} (final snapshot {snapshot})"),
        format!("delete rds global cluster {global}"),
    ];
    let plan = step(Mode::Plan).await;
    assert_eq!(lines(&plan), expected);
    assert_eq!(plan.outputs, created.outputs);
    let applied = step(Mode::Apply).await;
    assert!(
        applied.errors.is_empty() && applied.pending.is_empty(),
        "{applied:?}"
    );
    assert_eq!(lines(&applied), expected);
    assert_eq!(applied.outputs, RdsOutputs::default());
    assert!(find_global(&use1, &global).await.is_none());
    assert!(find_cluster(&use1, &primary).await.is_none());
    assert_eq!(snapshots(&use1, &primary).await, [snapshot]);
    let again = step(Mode::Apply).await;
    assert!(again.changes.is_empty(), "{:?}", lines(&again));
}

/// Apply with `inputs` until a pass has nothing pending (at most a minute);
/// every change of every pass, in order.
async fn converge_with(clients: &AwsClients, t: &Target, inputs: &RdsInputs) -> Vec<String> {
    let mut changes = Vec::new();
    for _ in 0..60 {
        let out = rds::run(clients, t, inputs, Mode::Apply)
            .await
            .expect("apply");
        assert!(out.errors.is_empty(), "errors: {:?}", out.errors);
        assert!(out.conflicts.is_empty(), "conflicts: {:?}", out.conflicts);
        changes.extend(lines(&out));
        if out.pending.is_empty() && out.changes.is_empty() {
            return changes;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    panic!("not converged within a minute: {changes:?}");
}

#[tokio::test]
async fn the_writer_moves_by_switchover_and_by_requested_failover() {
    let env = common::env();
    let clients = env.aws_clients().await;
    let suffix = common::unique_suffix();
    let mut t = target(
        &suffix,
        &["us-east-1", "eu-west-1"],
        "    deletionProtection: false\n    skipFinalSnapshot: true\n    writeForwarding: true\n",
    );
    let global = format!("gdb-{suffix}");
    let us = cluster_identifier(&t, "us-east-1");
    let eu = cluster_identifier(&t, "eu-west-1");
    let none = RdsInputs::default();
    converge_with(&clients, &t, &none).await;
    let out = clean(&clients, &t, Mode::Plan).await;
    assert_eq!(out.outputs.writer_region.as_deref(), Some("us-east-1"));
    assert!(out.outputs.master_user_secret_arn.is_some());
    let forwarding = |id: String, region: &'static str| {
        let client = clients.rds(region);
        async move {
            find_cluster(&client, &id)
                .await
                .and_then(|c| c.global_write_forwarding_requested())
                .unwrap_or(false)
        }
    };
    assert!(
        forwarding(eu.clone(), "eu-west-1").await,
        "the secondary forwards writes"
    );
    assert!(!forwarding(us.clone(), "us-east-1").await);

    // A new primaryRegion: a planned switchover, under way for a while, then
    // the old writer is a secondary that forwards writes too.
    aurora_mut(&mut t).primary_region = "eu-west-1".into();
    let started = run(&clients, &t, Mode::Apply).await;
    assert_eq!(
        lines(&started),
        [format!(
            "update rds global cluster {global} (switchover: no data loss): Writer us-east-1 → eu-west-1"
        )]
    );
    assert!(
        started.pending.iter().any(|p| p
            .text
            .contains("switching over its writer from us-east-1 to eu-west-1")),
        "{:?}",
        started.pending
    );
    let rest = converge_with(&clients, &t, &none).await;
    assert_eq!(
        rest,
        [format!(
            "update rds secondary cluster {us}: GlobalWriteForwarding false → true"
        )]
    );
    let out = clean(&clients, &t, Mode::Plan).await;
    assert_eq!(out.outputs.writer_region.as_deref(), Some("eu-west-1"));
    assert!(
        out.outputs.master_user_secret_arn.is_some(),
        "the secret stays in status"
    );
    assert!(out.changes.is_empty(), "{:?}", lines(&out));

    // An unplanned failover on request, back to us-east-1: made once, and
    // us-east-1 stands in for primaryRegion while the request stays.
    let failed_over = rds::failover(&clients, &t, "us-east-1")
        .await
        .expect("failover");
    assert!(failed_over.errors.is_empty(), "{:?}", failed_over.errors);
    assert_eq!(
        lines(&failed_over),
        [format!(
            "update rds global cluster {global} (failover: writes not yet replicated to us-east-1 are lost): Writer eu-west-1 → us-east-1"
        )]
    );
    let request = RdsInputs {
        failover_to: Some("us-east-1".into()),
        ..Default::default()
    };
    // eu-west-1 kept the forwarding it had as a secondary before.
    let after = converge_with(&clients, &t, &request).await;
    assert!(after.is_empty(), "{after:?}");
    assert!(forwarding(eu.clone(), "eu-west-1").await);
    let held = rds::run(&clients, &t, &request, Mode::Plan)
        .await
        .expect("plan");
    assert!(held.changes.is_empty(), "{:?}", lines(&held));
    assert_eq!(held.outputs.writer_region.as_deref(), Some("us-east-1"));
    assert_eq!(held.outputs.failed_over_to.as_deref(), Some("us-east-1"));
    let again = rds::failover(&clients, &t, "us-east-1")
        .await
        .expect("second failover");
    assert!(again.changes.is_empty(), "done once: {:?}", lines(&again));
    // Without the request the spec's primaryRegion wins again.
    let back = clean(&clients, &t, Mode::Plan).await;
    assert_eq!(
        lines(&back),
        [format!(
            "update rds global cluster {global} (switchover: no data loss): Writer us-east-1 → eu-west-1"
        )]
    );

    for _ in 0..10 {
        let removed = destroy(&clients, &t, Mode::Apply).await;
        assert!(removed.errors.is_empty(), "{:?}", removed.errors);
        if removed.pending.is_empty() {
            break;
        }
    }
    assert!(
        find_global(&clients.rds("us-east-1"), &global)
            .await
            .is_none()
    );
}
