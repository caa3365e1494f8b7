//! Tests of `diff.rs`: pure functions over plain values.

use std::collections::BTreeMap;

use super::*;
use crate::aws::rds::desired::{RdsInputs, desired, fixtures::with_database};
use crate::aws::rds::model::{ObservedInstance, Ownership};

const G_ARN: &str = "arn:aws:rds::123456789012:global-cluster:exchange";

fn arn(region: &str, id: &str) -> String {
    format!("arn:aws:rds:{region}:123456789012:cluster:{id}")
}

/// AWS exactly as the spec wants it.
fn converged(t: &Target) -> Observed {
    let want = desired(t, &RdsInputs::default()).expect("database wanted");
    let mut regions = BTreeMap::new();
    let mut members = Vec::new();
    for c in &want.clusters {
        members.push(Member::from_arn(
            &arn(&c.region, &c.identifier),
            c.role == Role::Primary,
        ));
        regions.insert(
            c.region.clone(),
            Some(ObservedCluster {
                region: c.region.clone(),
                identifier: c.identifier.clone(),
                arn: arn(&c.region, &c.identifier),
                status: AVAILABLE.into(),
                engine: want.global.engine.clone(),
                engine_version: want.global.engine_version.clone(),
                deletion_protection: c.deletion_protection,
                global_cluster_identifier: Some(want.global.identifier.clone()),
                endpoint: Some(format!(
                    "{}.cluster-x.{}.rds.amazonaws.com",
                    c.identifier, c.region
                )),
                reader_endpoint: Some(format!(
                    "{}.cluster-ro-x.{}.rds.amazonaws.com",
                    c.identifier, c.region
                )),
                resource_id: Some(format!("cluster-{}", c.region)),
                master_user_secret_arn: None,
                write_forwarding: false,
                ownership: Ownership::Ours,
                instances: c
                    .instances
                    .iter()
                    .map(|i| ObservedInstance {
                        identifier: i.identifier.clone(),
                        class: i.class.clone(),
                        status: AVAILABLE.into(),
                        ownership: Ownership::Ours,
                    })
                    .collect(),
            }),
        );
    }
    Observed {
        global: Some(ObservedGlobalCluster {
            identifier: want.global.identifier.clone(),
            arn: G_ARN.into(),
            status: AVAILABLE.into(),
            engine: want.global.engine.clone(),
            engine_version: want.global.engine_version.clone(),
            deletion_protection: want.global.deletion_protection,
            members,
            ownership: Ownership::Untagged,
        }),
        regions,
    }
}

fn empty(t: &Target) -> Observed {
    Observed {
        global: None,
        regions: t.regions().map(|r| (r.name.clone(), None)).collect(),
    }
}

fn lines(d: &RdsDiff) -> Vec<String> {
    d.ops.iter().map(|op| op.change().to_string()).collect()
}

fn cluster<'a>(o: &'a mut Observed, region: &str) -> &'a mut ObservedCluster {
    o.regions
        .get_mut(region)
        .and_then(Option::as_mut)
        .expect("cluster observed")
}

/// `o` with the writer moved to `region`.
fn writer_in(mut o: Observed, region: &str) -> Observed {
    if let Some(g) = o.global.as_mut() {
        for m in &mut g.members {
            m.is_writer = m.region.as_deref() == Some(region);
        }
    }
    o
}

#[test]
fn a_new_primary_region_is_a_planned_switchover_once_both_are_available() {
    let mut t = with_database("");
    let now = converged(&t);
    if let Some(a) = t.spec.database.as_mut().and_then(|d| d.aurora.as_mut()) {
        a.primary_region = "eu-west-1".into();
    }
    let want = desired(&t, &RdsInputs::default()).expect("database");
    let d = diff(&t, &want, &now);
    assert_eq!(
        lines(&d),
        [
            "update rds global cluster exchange (switchover: no data loss): Writer us-east-1 → eu-west-1"
        ]
    );
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    match &d.ops[0].kind {
        OpKind::MoveWriter {
            target_arn,
            unplanned,
            ..
        } => {
            assert_eq!(
                target_arn,
                &arn("eu-west-1", "gapi-payments-exchange-eu-west-1")
            );
            assert!(!unplanned);
        }
        other => panic!("not a writer move: {other:?}"),
    }

    // Under way: one line, no second request.
    let mut moving = now.clone();
    if let Some(g) = moving.global.as_mut() {
        g.status = "switching-over".into();
    }
    let d = diff(&t, &want, &moving);
    assert!(d.ops.is_empty(), "{:?}", lines(&d));
    assert!(
        d.pending.iter().any(|p| p
            .text
            .contains("switches its writer from us-east-1 to eu-west-1")),
        "{:?}",
        d.pending
    );

    // Done: nothing left.
    let moved = writer_in(now, "eu-west-1");
    assert_eq!(diff(&t, &want, &moved), RdsDiff::default());
}

#[test]
fn a_writer_moved_by_hand_is_switched_back_and_a_failover_request_stands_in() {
    let t = with_database("");
    let want = desired(&t, &RdsInputs::default()).expect("database");
    let moved = writer_in(converged(&t), "eu-west-1");
    assert_eq!(
        lines(&diff(&t, &want, &moved)),
        [
            "update rds global cluster exchange (switchover: no data loss): Writer eu-west-1 → us-east-1"
        ]
    );
    // Asked for by the annotation: eu-west-1 stands in for primaryRegion.
    let inputs = RdsInputs {
        failover_to: Some("eu-west-1".into()),
        ..Default::default()
    };
    let stand_in = desired(&t, &inputs).expect("database");
    assert_eq!(stand_in.primary_region, "eu-west-1");
    assert_eq!(diff(&t, &stand_in, &moved), RdsDiff::default());
    // A region outside the spec is no stand-in.
    let elsewhere = RdsInputs {
        failover_to: Some("ap-south-1".into()),
        ..Default::default()
    };
    assert_eq!(
        desired(&t, &elsewhere).expect("database").primary_region,
        "us-east-1"
    );
}

#[test]
fn a_failover_request_moves_the_writer_accepting_data_loss() {
    let t = with_database("");
    let now = converged(&t);
    let d = failover(&t, &now, "eu-west-1");
    assert_eq!(
        lines(&d),
        [
            "update rds global cluster exchange (failover: writes not yet replicated to eu-west-1 are lost): Writer us-east-1 → eu-west-1"
        ]
    );
    assert!(matches!(
        d.ops[0].kind,
        OpKind::MoveWriter {
            unplanned: true,
            ..
        }
    ));
    // Already there: nothing.
    assert_eq!(
        failover(&t, &writer_in(now.clone(), "eu-west-1"), "eu-west-1"),
        RdsDiff::default()
    );
    // Busy: it waits.
    let mut busy = now.clone();
    if let Some(g) = busy.global.as_mut() {
        g.status = "failing-over".into();
    }
    let d = failover(&t, &busy, "eu-west-1");
    assert!(d.ops.is_empty() && d.pending.len() == 1, "{d:?}");
    // No cluster of ours there: an error naming the annotation.
    let mut without = now;
    without.regions.insert("eu-west-1".into(), None);
    let d = failover(&t, &without, "eu-west-1");
    assert!(d.ops.is_empty());
    assert!(
        d.errors[0].text.contains("globalapi.io/failover-to"),
        "{:?}",
        d.errors
    );
}

#[test]
fn write_forwarding_is_set_on_the_secondaries_only() {
    let t = with_database("    writeForwarding: true\n");
    let want = desired(&t, &RdsInputs::default()).expect("database");
    assert!(want.write_forwarding);
    let d = diff(&t, &want, &converged(&t));
    assert_eq!(
        lines(&d),
        [
            "update rds secondary cluster gapi-payments-exchange-eu-west-1: GlobalWriteForwarding false → true"
        ]
    );
    // From nothing: the secondary is created forwarding, the primary not.
    let d = diff(&t, &want, &empty(&t));
    let forwarding: Vec<(&str, bool)> = d
        .ops
        .iter()
        .filter_map(|op| match &op.kind {
            OpKind::CreateCluster {
                region,
                write_forwarding,
                ..
            } => Some((region.as_str(), *write_forwarding)),
            _ => None,
        })
        .collect();
    assert_eq!(forwarding, [("us-east-1", false), ("eu-west-1", true)]);
}

#[test]
fn nothing_creates_everything_in_order_and_converged_nothing() {
    let t = with_database("");
    let want = desired(&t, &RdsInputs::default()).expect("wanted");
    let d = diff(&t, &want, &empty(&t));
    assert_eq!(
        lines(&d),
        [
            "create rds global cluster exchange",
            "create rds primary cluster gapi-payments-exchange-us-east-1",
            "create rds instance gapi-payments-exchange-us-east-1-1",
            "create rds secondary cluster gapi-payments-exchange-eu-west-1",
            "create rds instance gapi-payments-exchange-eu-west-1-1",
        ]
    );
    assert!(matches!(
        &d.ops[1].kind,
        OpKind::CreateCluster { role: Role::Primary, engine, engine_version, deletion_protection: true, .. }
            if engine == "aurora-postgresql" && engine_version == "16.4"
    ));
    assert_eq!(d.ops[0].stage, Stage::Global);
    assert_eq!(diff(&t, &want, &converged(&t)), RdsDiff::default());
}

#[test]
fn deletion_protection_drift_is_one_update_per_resource() {
    let t = with_database("");
    let want = desired(&t, &RdsInputs::default()).expect("wanted");
    let mut o = converged(&t);
    cluster(&mut o, "us-east-1").deletion_protection = false;
    if let Some(g) = o.global.as_mut() {
        g.deletion_protection = false;
    }
    assert_eq!(
        lines(&diff(&t, &want, &o)),
        [
            "update rds global cluster exchange: DeletionProtection false → true",
            "update rds primary cluster gapi-payments-exchange-us-east-1: DeletionProtection false → true",
        ]
    );
}

#[test]
fn instances_follow_the_count_and_class() {
    let t = with_database("    instancesPerRegion: 2\n");
    let want = desired(&t, &RdsInputs::default()).expect("wanted");
    let mut o = converged(&t);
    // One deleted by hand, one resized by hand.
    cluster(&mut o, "us-east-1").instances.remove(0);
    cluster(&mut o, "eu-west-1").instances[1].class = "db.r6g.xlarge".into();
    assert_eq!(
        lines(&diff(&t, &want, &o)),
        [
            "create rds instance gapi-payments-exchange-us-east-1-1",
            "update rds instance gapi-payments-exchange-eu-west-1-2: DBInstanceClass db.r6g.xlarge → db.r6g.large",
        ]
    );
    // Fewer instances: the highest numbers go first.
    let three = with_database("    instancesPerRegion: 3\n");
    let one = with_database("    instancesPerRegion: 1\n");
    let d = diff(
        &one,
        &desired(&one, &RdsInputs::default()).expect("wanted"),
        &converged(&three),
    );
    assert_eq!(
        lines(&d),
        [
            "delete rds instance gapi-payments-exchange-us-east-1-3",
            "delete rds instance gapi-payments-exchange-us-east-1-2",
            "delete rds instance gapi-payments-exchange-eu-west-1-3",
            "delete rds instance gapi-payments-exchange-eu-west-1-2",
        ]
    );
}

#[test]
fn engine_changes_are_refused_with_a_line() {
    let t = with_database("");
    let want = desired(&t, &RdsInputs::default()).expect("wanted");
    let mut o = converged(&t);
    if let Some(g) = o.global.as_mut() {
        g.engine_version = "15.8".into();
    }
    let d = diff(&t, &want, &o);
    assert!(d.ops.is_empty(), "{:?}", lines(&d));
    assert_eq!(
        Finding::texts(&d.errors),
        [
            "us-east-1: spec.database.aurora.engineVersion change from 15.8 to 16.4 needs a manual upgrade of global cluster exchange (modify-global-cluster --engine-version, with --allow-major-version-upgrade for a major one); nothing was changed"
        ]
    );
}

#[test]
fn statuses_other_than_available_are_pending() {
    let t = with_database("");
    let want = desired(&t, &RdsInputs::default()).expect("wanted");
    let mut o = converged(&t);
    cluster(&mut o, "eu-west-1").status = "creating".into();
    cluster(&mut o, "us-east-1").instances[0].status = "modifying".into();
    let d = diff(&t, &want, &o);
    assert!(d.ops.is_empty());
    assert_eq!(
        Finding::texts(&d.pending),
        [
            "rds instance gapi-payments-exchange-us-east-1-1 in us-east-1 is modifying",
            "rds cluster gapi-payments-exchange-eu-west-1 in eu-west-1 is creating",
        ]
    );
}

#[test]
fn foreign_global_cluster_and_cluster_are_conflicts() {
    let t = with_database("");
    let want = desired(&t, &RdsInputs::default()).expect("wanted");
    let mut o = converged(&t);
    if let Some(g) = o.global.as_mut() {
        g.members[0] = Member::from_arn(&arn("us-east-1", "theirs"), true);
    }
    let d = diff(&t, &want, &o);
    assert!(d.ops.is_empty());
    assert_eq!(
        Finding::texts(&d.conflicts),
        [format!(
            "global cluster exchange exists with writer {}, which is not a cluster of this GlobalApi",
            arn("us-east-1", "theirs")
        )]
    );

    let mut o = empty(&t);
    o.global = converged(&t).global.map(|mut g| {
        g.members.clear();
        g
    });
    let mut theirs = converged(&t)
        .regions
        .remove("eu-west-1")
        .flatten()
        .expect("cluster");
    theirs.ownership = Ownership::Untagged;
    o.regions.insert("eu-west-1".into(), Some(theirs));
    let d = diff(&t, &want, &o);
    assert_eq!(
        Finding::texts(&d.conflicts),
        [
            "rds cluster gapi-payments-exchange-eu-west-1 in eu-west-1 exists and belongs to no GlobalApi"
        ]
    );
    // The empty global cluster is adopted; the primary is made.
    assert_eq!(
        lines(&d),
        [
            "create rds primary cluster gapi-payments-exchange-us-east-1",
            "create rds instance gapi-payments-exchange-us-east-1-1",
        ]
    );
}

#[test]
fn a_region_left_is_orphaned_by_default() {
    let both = with_database("    deletionProtection: false\n");
    let mut one = both.clone();
    one.spec.regions.retain(|r| r.name == "us-east-1");
    let want = desired(&one, &RdsInputs::default()).expect("wanted");
    let d = diff(&one, &want, &converged(&both));
    assert!(d.ops.is_empty(), "{:?}", d.ops);
    assert!(d.errors.is_empty() && d.conflicts.is_empty(), "{d:?}");
    assert_eq!(
        d.orphaned,
        [
            "rds cluster gapi-payments-exchange-eu-west-1 in eu-west-1 (a region no longer in spec.regions)"
        ]
    );
}

#[test]
fn a_database_left_is_orphaned_by_default() {
    let t = with_database("");
    let mut gone = t.clone();
    gone.spec.database = None;
    assert_eq!(
        orphaned(&gone, &converged(&t)),
        [
            "rds cluster gapi-payments-exchange-eu-west-1 in eu-west-1",
            "rds cluster gapi-payments-exchange-us-east-1 in us-east-1",
            "rds global cluster exchange",
        ]
    );
}

#[test]
fn a_region_left_is_removed_from_the_global_cluster_then_deleted() {
    let both = with_database("    deletionProtection: false\n  removal: Delete\n");
    let mut one = both.clone();
    one.spec.regions.retain(|r| r.name == "us-east-1");
    let want = desired(&one, &RdsInputs::default()).expect("wanted");
    let d = diff(&one, &want, &converged(&both));
    assert_eq!(
        lines(&d),
        [
            "update rds secondary cluster gapi-payments-exchange-eu-west-1: GlobalClusterIdentifier exchange → (none)",
            "delete rds instance gapi-payments-exchange-eu-west-1-1",
            format!(
                "delete rds secondary cluster gapi-payments-exchange-eu-west-1 (final snapshot {})",
                final_snapshot_identifier(
                    &one,
                    "gapi-payments-exchange-eu-west-1",
                    "cluster-eu-west-1"
                )
            )
            .as_str(),
        ]
    );
    // Protected by the spec: refused with a line naming the field.
    let protected = with_database("  removal: Delete\n");
    let mut one = protected.clone();
    one.spec.regions.retain(|r| r.name == "us-east-1");
    let d = diff(
        &one,
        &desired(&one, &RdsInputs::default()).expect("wanted"),
        &converged(&protected),
    );
    assert!(d.ops.is_empty());
    assert_eq!(
        Finding::texts(&d.errors),
        [
            "eu-west-1: spec.database.aurora.deletionProtection is true: set it to false to delete rds cluster gapi-payments-exchange-eu-west-1 of a region no longer in spec.regions"
        ]
    );
}

#[test]
fn teardown_is_refused_while_protected() {
    let t = with_database("");
    let d = teardown(&t, &converged(&t), false);
    assert!(d.ops.is_empty());
    assert_eq!(Finding::texts(&d.errors), [PROTECTED]);
    // Nothing of ours: nothing to refuse.
    assert_eq!(teardown(&t, &empty(&t), false), RdsDiff::default());
}

#[test]
fn teardown_goes_secondaries_then_primary_then_global() {
    let t = with_database("    deletionProtection: false\n    skipFinalSnapshot: true\n");
    let mut o = converged(&t);
    // Protection turned on by hand is turned off first: the spec allows deletion.
    cluster(&mut o, "eu-west-1").deletion_protection = true;
    let d = teardown(&t, &o, false);
    let staged: Vec<(Stage, String)> = d
        .ops
        .iter()
        .map(|op| (op.stage, op.change().to_string()))
        .collect();
    let expected = [
        (
            Stage::Regions,
            "update rds secondary cluster gapi-payments-exchange-eu-west-1: DeletionProtection true → false",
        ),
        (
            Stage::Regions,
            "update rds secondary cluster gapi-payments-exchange-eu-west-1: GlobalClusterIdentifier exchange → (none)",
        ),
        (
            Stage::Regions,
            "delete rds instance gapi-payments-exchange-eu-west-1-1",
        ),
        (
            Stage::Regions,
            "delete rds secondary cluster gapi-payments-exchange-eu-west-1 (no final snapshot)",
        ),
        (
            Stage::Primary,
            "update rds primary cluster gapi-payments-exchange-us-east-1: GlobalClusterIdentifier exchange → (none)",
        ),
        (
            Stage::Primary,
            "delete rds instance gapi-payments-exchange-us-east-1-1",
        ),
        (
            Stage::Primary,
            "delete rds primary cluster gapi-payments-exchange-us-east-1 (no final snapshot)",
        ),
        (Stage::GlobalDelete, "delete rds global cluster exchange"),
    ];
    let expected: Vec<(Stage, String)> = expected
        .iter()
        .map(|(s, l)| (*s, (*l).to_owned()))
        .collect();
    assert_eq!(staged, expected);
    assert!(d.errors.is_empty() && d.held.is_empty());
}

#[test]
fn teardown_waits_for_deleting_secondaries_and_foreign_members() {
    let t = with_database("    deletionProtection: false\n");
    let mut o = converged(&t);
    cluster(&mut o, "eu-west-1").status = DELETING.into();
    if let Some(g) = o.global.as_mut() {
        g.members
            .push(Member::from_arn(&arn("ap-south-1", "theirs"), false));
    }
    let d = teardown(&t, &o, false);
    assert_eq!(d.held, BTreeSet::from([Stage::Regions]));
    assert_eq!(
        Finding::texts(&d.pending),
        ["rds cluster gapi-payments-exchange-eu-west-1 in eu-west-1 is deleting"]
    );
    assert_eq!(d.conflicts.len(), 1, "{:?}", d.conflicts);
    assert!(d.conflicts[0].text.contains(&arn("ap-south-1", "theirs")));
}

#[test]
fn without_the_spec_a_protected_cluster_is_left_with_a_line() {
    let t = with_database("");
    let o = converged(&t);
    let mut gone = t.clone();
    gone.spec.database = None;
    let d = teardown(&gone, &o, false);
    assert!(d.ops.is_empty());
    assert_eq!(d.errors.len(), 3, "{:?}", d.errors);
    assert!(d.errors[0].text.starts_with(
        "eu-west-1: rds cluster gapi-payments-exchange-eu-west-1 has DeletionProtection on"
    ));
}
