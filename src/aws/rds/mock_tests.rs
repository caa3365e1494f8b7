//! The RDS paths the emulator does not imitate, against clients whose every
//! response is scripted: a primary that stays `creating` (its instances and
//! the secondaries wait), a secondary taken out of the global cluster and
//! deleted over several passes while AWS works (the primary waits), a
//! delete refused for deletion protection, and a protected global cluster
//! whose tags AWS keeps. An unexpected call panics the mock, so "no rule"
//! for a mutating operation asserts that it was not called.

use aws_sdk_rds::{
    Client,
    operation::{
        create_db_cluster::CreateDbClusterOutput, create_global_cluster::CreateGlobalClusterOutput,
        delete_db_cluster::DeleteDbClusterOutput, delete_db_instance::DeleteDbInstanceOutput,
        delete_global_cluster::DeleteGlobalClusterOutput,
        describe_db_clusters::DescribeDbClustersOutput,
        describe_db_instances::DescribeDbInstancesOutput,
        describe_global_clusters::DescribeGlobalClustersOutput,
        modify_global_cluster::ModifyGlobalClusterOutput,
        remove_from_global_cluster::RemoveFromGlobalClusterOutput,
    },
    types::{DbCluster, DbInstance, GlobalCluster, GlobalClusterMember, MasterUserSecret, Tag},
};
use aws_smithy_mocks::{Rule, mock};
use aws_smithy_runtime_api::{client::orchestrator::HttpResponse, http::StatusCode};
use aws_smithy_types::body::SdkBody;

use crate::plan::{Finding, Mode};
use crate::target::{Target, UID_TAG};

use super::desired::{cluster_identifier, final_snapshot_identifier, fixtures::with_database};
use super::diff::PROTECTED;
use super::{RdsInputs, destroy_remembered, run};
use crate::aws::AwsClients;

const US: &str = "us-east-1";
const EU: &str = "eu-west-1";

fn arn(region: &str, id: &str) -> String {
    format!("arn:aws:rds:{region}:123456789012:cluster:{id}")
}

/// Clients whose RDS in us-east-1 and eu-west-1 answers only by their rules.
fn regions(us: &[&Rule], eu: &[&Rule]) -> AwsClients {
    AwsClients::scripted()
        .answering("rds", US, AwsClients::answers(us))
        .answering("rds", EU, AwsClients::answers(eu))
}

/// An AWS error as RDS sends it (query protocol, XML).
fn aws_error(status: u16, code: &str, message: &str) -> HttpResponse {
    let body = format!(
        "<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\">\
         <Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\
         <RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
    );
    HttpResponse::new(
        StatusCode::try_from(status).expect("status code"),
        SdkBody::from(body),
    )
}

fn tags(t: &Target) -> Vec<Tag> {
    t.tags()
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn cluster(t: &Target, region: &str, status: &str) -> DbCluster {
    let id = cluster_identifier(t, region);
    DbCluster::builder()
        .db_cluster_identifier(&id)
        .db_cluster_arn(arn(region, &id))
        .db_cluster_resource_id(format!("cluster-{region}"))
        .status(status)
        .engine("aurora-postgresql")
        .engine_version("16.4")
        .deletion_protection(false)
        .global_cluster_identifier("exchange")
        .endpoint(format!("{id}.cluster-x.{region}.rds.amazonaws.com"))
        .reader_endpoint(format!("{id}.cluster-ro-x.{region}.rds.amazonaws.com"))
        .master_user_secret(
            MasterUserSecret::builder()
                .secret_arn("arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!x")
                .build(),
        )
        .set_tag_list(Some(tags(t)))
        .build()
}

fn instance(t: &Target, region: &str, number: u32, status: &str) -> DbInstance {
    let cluster = cluster_identifier(t, region);
    DbInstance::builder()
        .db_instance_identifier(format!("{cluster}-{number}"))
        .db_cluster_identifier(cluster)
        .db_instance_class("db.r6g.large")
        .db_instance_status(status)
        .set_tag_list(Some(tags(t)))
        .build()
}

/// The global cluster with members `(region, is_writer)` of ours.
fn global(t: &Target, members: &[(&str, bool)], protected: bool, tagged: bool) -> GlobalCluster {
    let mut g = GlobalCluster::builder()
        .global_cluster_identifier("exchange")
        .global_cluster_arn("arn:aws:rds::123456789012:global-cluster:exchange")
        .status("available")
        .engine("aurora-postgresql")
        .engine_version("16.4")
        .deletion_protection(protected);
    for (region, writer) in members {
        g = g.global_cluster_members(
            GlobalClusterMember::builder()
                .db_cluster_arn(arn(region, &cluster_identifier(t, region)))
                .is_writer(*writer)
                .build(),
        );
    }
    if tagged {
        g = g.set_tag_list(Some(tags(t)));
    }
    g.build()
}

fn clusters_answer(found: Vec<DbCluster>) -> DescribeDbClustersOutput {
    DescribeDbClustersOutput::builder()
        .set_db_clusters(Some(found))
        .build()
}

fn instances_answer(found: Vec<DbInstance>) -> DescribeDbInstancesOutput {
    DescribeDbInstancesOutput::builder()
        .set_db_instances(Some(found))
        .build()
}

fn globals_answer(found: Vec<GlobalCluster>) -> DescribeGlobalClustersOutput {
    DescribeGlobalClustersOutput::builder()
        .set_global_clusters(Some(found))
        .build()
}

/// `describe_db_clusters` answering `found` every time.
fn clusters(found: Vec<DbCluster>) -> Rule {
    mock!(Client::describe_db_clusters).then_output(move || clusters_answer(found.clone()))
}

fn instances(found: Vec<DbInstance>) -> Rule {
    mock!(Client::describe_db_instances).then_output(move || instances_answer(found.clone()))
}

fn globals(found: Vec<GlobalCluster>) -> Rule {
    mock!(Client::describe_global_clusters).then_output(move || globals_answer(found.clone()))
}

fn lines(changes: &[crate::plan::Change]) -> Vec<String> {
    changes.iter().map(ToString::to_string).collect()
}

#[tokio::test]
async fn a_primary_still_creating_holds_back_its_instances_and_the_secondaries() {
    let t = with_database("");
    let (primary, secondary) = (cluster_identifier(&t, US), cluster_identifier(&t, EU));

    // Before: nothing. After the creates: the global cluster lists the primary, still creating.
    let describe_global = mock!(Client::describe_global_clusters)
        .sequence()
        .http_response(|| {
            aws_error(
                404,
                "GlobalClusterNotFoundFault",
                "Global cluster exchange not found.",
            )
        })
        .output({
            let g = global(&t, &[(US, true)], true, true);
            move || globals_answer(vec![g.clone()])
        })
        .repeatedly()
        .build();
    let describe_primary = mock!(Client::describe_db_clusters)
        .sequence()
        .output(|| clusters_answer(vec![]))
        .output({
            let c = cluster(&t, US, "creating");
            move || clusters_answer(vec![c.clone()])
        })
        .repeatedly()
        .build();
    let uid = t.uid.clone();
    let create_global = mock!(Client::create_global_cluster)
        .match_requests(move |r| {
            r.global_cluster_identifier() == Some("exchange")
                && r.engine() == Some("aurora-postgresql")
                && r.engine_version() == Some("16.4")
                && r.deletion_protection() == Some(true)
                && r.tags()
                    .iter()
                    .any(|t| t.key() == Some(UID_TAG) && t.value() == Some(&uid))
        })
        .then_output(|| CreateGlobalClusterOutput::builder().build());
    let uid = t.uid.clone();
    let wanted = primary.clone();
    let create_primary = mock!(Client::create_db_cluster)
        .match_requests(move |r| {
            r.db_cluster_identifier() == Some(wanted.as_str())
                && r.global_cluster_identifier() == Some("exchange")
                && r.master_username() == Some("globalapi")
                && r.manage_master_user_password() == Some(true)
                && r.master_user_password().is_none()
                && r.deletion_protection() == Some(true)
                && r.tags()
                    .iter()
                    .any(|t| t.key() == Some(UID_TAG) && t.value() == Some(&uid))
        })
        .then_output({
            let c = cluster(&t, US, "creating");
            move || {
                CreateDbClusterOutput::builder()
                    .db_cluster(c.clone())
                    .build()
            }
        });
    let us_instances = instances(vec![]);
    let eu_clusters = clusters(vec![]);
    // No create rule in eu-west-1 and none for instances: calling one panics.
    let rds = regions(
        &[
            &describe_global,
            &describe_primary,
            &create_global,
            &create_primary,
            &us_instances,
        ],
        &[&eu_clusters],
    );

    let out = run(&rds, &t, &RdsInputs::default(), Mode::Apply)
        .await
        .expect("apply");
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(
        lines(&out.changes),
        [
            "create rds global cluster exchange".to_owned(),
            format!("create rds primary cluster {primary}"),
        ]
    );
    assert_eq!(
        Finding::texts(&out.pending),
        [
            format!("rds cluster {primary} in us-east-1 is creating"),
            format!(
                "rds instance {primary}-1 in us-east-1 is created once cluster {primary} is available"
            ),
            format!(
                "rds secondary cluster {secondary} in eu-west-1 is created once the primary cluster in us-east-1 is available"
            ),
        ]
    );
    assert_eq!(create_global.num_calls(), 1);
    assert_eq!(create_primary.num_calls(), 1);
    assert_eq!(out.outputs.writer_region.as_deref(), Some(US));
    assert_eq!(out.outputs.endpoints.len(), 1);
}

#[tokio::test]
async fn a_secondary_leaves_and_goes_before_the_primary_over_several_passes() {
    let t = with_database("    deletionProtection: false\n");
    let (primary, secondary) = (cluster_identifier(&t, US), cluster_identifier(&t, EU));
    let snapshot = final_snapshot_identifier(&t, &secondary, "cluster-eu-west-1");
    let held = [
        format!(
            "rds primary cluster {primary} in us-east-1 is deleted once the secondary clusters are gone"
        ),
        "rds global cluster exchange is deleted once its clusters are gone".to_owned(),
    ];
    // us-east-1 answers reads only in the first three passes: any mutation there panics.
    let us_reads = |members: &[(&str, bool)]| {
        vec![
            globals(vec![global(&t, members, false, true)]),
            clusters(vec![cluster(&t, US, "available")]),
            instances(vec![instance(&t, US, 1, "available")]),
        ]
    };

    // Pass 1: out of the global cluster, the instance deleted; AWS is still deleting it.
    let us = us_reads(&[(US, true), (EU, false)]);
    let eu_clusters = clusters(vec![cluster(&t, EU, "available")]);
    let eu_instances = mock!(Client::describe_db_instances)
        .sequence()
        .output({
            let i = instance(&t, EU, 1, "available");
            move || instances_answer(vec![i.clone()])
        })
        .output({
            let i = instance(&t, EU, 1, "deleting");
            move || instances_answer(vec![i.clone()])
        })
        .repeatedly()
        .build();
    let member = arn(EU, &secondary);
    let remove = mock!(Client::remove_from_global_cluster)
        .match_requests(move |r| {
            r.global_cluster_identifier() == Some("exchange")
                && r.db_cluster_identifier() == Some(member.as_str())
        })
        .then_output(|| RemoveFromGlobalClusterOutput::builder().build());
    let delete_instance =
        mock!(Client::delete_db_instance).then_output(|| DeleteDbInstanceOutput::builder().build());
    let rds = regions(
        &us.iter().collect::<Vec<_>>(),
        &[&eu_clusters, &eu_instances, &remove, &delete_instance],
    );
    let out = destroy_remembered(&rds, &t, &RdsInputs::default(), Mode::Apply)
        .await
        .expect("pass 1");
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(
        lines(&out.changes),
        [
            format!(
                "update rds secondary cluster {secondary}: GlobalClusterIdentifier exchange → (none)"
            ),
            format!("delete rds instance {secondary}-1"),
        ]
    );
    let mut pending = vec![format!(
        "rds cluster {secondary} in eu-west-1 is deleted once its instances are gone: {secondary}-1 (deleting)"
    )];
    pending.extend(held.iter().cloned());
    assert_eq!(Finding::texts(&out.pending), pending);
    assert_eq!((remove.num_calls(), delete_instance.num_calls()), (1, 1));

    // Pass 2: a standalone cluster without instances: deleted with its final snapshot.
    let us = us_reads(&[(US, true)]);
    let eu_clusters = mock!(Client::describe_db_clusters)
        .sequence()
        .output({
            let c = cluster(&t, EU, "available");
            move || clusters_answer(vec![c.clone()])
        })
        .output({
            let c = cluster(&t, EU, "deleting");
            move || clusters_answer(vec![c.clone()])
        })
        .repeatedly()
        .build();
    let eu_instances = instances(vec![]);
    let wanted = (secondary.clone(), snapshot.clone());
    let delete_cluster = mock!(Client::delete_db_cluster)
        .match_requests(move |r| {
            r.db_cluster_identifier() == Some(wanted.0.as_str())
                && r.skip_final_snapshot() == Some(false)
                && r.final_db_snapshot_identifier() == Some(wanted.1.as_str())
        })
        .then_output(|| DeleteDbClusterOutput::builder().build());
    let rds = regions(
        &us.iter().collect::<Vec<_>>(),
        &[&eu_clusters, &eu_instances, &delete_cluster],
    );
    let out = destroy_remembered(&rds, &t, &RdsInputs::default(), Mode::Apply)
        .await
        .expect("pass 2");
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(
        lines(&out.changes),
        [format!(
            "delete rds secondary cluster {secondary} (final snapshot {snapshot})"
        )]
    );
    let mut pending = vec![format!("rds cluster {secondary} in eu-west-1 is deleting")];
    pending.extend(held.iter().cloned());
    assert_eq!(Finding::texts(&out.pending), pending);
    assert_eq!(delete_cluster.num_calls(), 1);

    // Pass 3: still deleting: nothing is called but reads.
    let us = us_reads(&[(US, true)]);
    let eu_clusters = clusters(vec![cluster(&t, EU, "deleting")]);
    let eu_instances = instances(vec![]);
    let rds = regions(
        &us.iter().collect::<Vec<_>>(),
        &[&eu_clusters, &eu_instances],
    );
    let out = destroy_remembered(&rds, &t, &RdsInputs::default(), Mode::Apply)
        .await
        .expect("pass 3");
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert!(out.changes.is_empty(), "{:?}", lines(&out.changes));
    assert_eq!(Finding::texts(&out.pending), pending);

    // Pass 4: the secondary is gone: now the primary leaves and its instance goes.
    let us_global = globals(vec![global(&t, &[(US, true)], false, true)]);
    let us_clusters = clusters(vec![cluster(&t, US, "available")]);
    let us_instances = mock!(Client::describe_db_instances)
        .sequence()
        .output({
            let i = instance(&t, US, 1, "available");
            move || instances_answer(vec![i.clone()])
        })
        .output({
            let i = instance(&t, US, 1, "deleting");
            move || instances_answer(vec![i.clone()])
        })
        .repeatedly()
        .build();
    let remove_primary = mock!(Client::remove_from_global_cluster)
        .then_output(|| RemoveFromGlobalClusterOutput::builder().build());
    let delete_primary_instance =
        mock!(Client::delete_db_instance).then_output(|| DeleteDbInstanceOutput::builder().build());
    let eu_clusters = clusters(vec![]);
    let rds = regions(
        &[
            &us_global,
            &us_clusters,
            &us_instances,
            &remove_primary,
            &delete_primary_instance,
        ],
        &[&eu_clusters],
    );
    let out = destroy_remembered(&rds, &t, &RdsInputs::default(), Mode::Apply)
        .await
        .expect("pass 4");
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(
        lines(&out.changes),
        [
            format!(
                "update rds primary cluster {primary}: GlobalClusterIdentifier exchange → (none)"
            ),
            format!("delete rds instance {primary}-1"),
        ]
    );
    assert_eq!(
        Finding::texts(&out.pending),
        [
            format!(
                "rds cluster {primary} in us-east-1 is deleted once its instances are gone: {primary}-1 (deleting)"
            ),
            "rds global cluster exchange is deleted once its clusters are gone".to_owned(),
        ]
    );
}

#[tokio::test]
async fn deletion_protection_stops_deletion_with_awss_message_and_by_the_spec() {
    let mut t = with_database("    deletionProtection: false\n    skipFinalSnapshot: true\n");
    t.spec.regions.retain(|r| r.name == US);
    // Turned on by someone between our read and our delete.
    let delete = mock!(Client::delete_db_cluster)
        .match_requests(|r| r.skip_final_snapshot() == Some(true))
        .then_http_response(|| {
            aws_error(
                400,
                "InvalidParameterCombination",
                "Cannot delete protected Cluster, please disable deletion protection and try again.",
            )
        });
    let reads = [
        globals(vec![global(&t, &[], false, true)]),
        clusters(vec![cluster(&t, US, "available")]),
        instances(vec![]),
    ];
    let mut rules: Vec<&Rule> = reads.iter().collect();
    rules.push(&delete);
    let rds = regions(&rules, &[]);
    let out = destroy_remembered(&rds, &t, &RdsInputs::default(), Mode::Apply)
        .await
        .expect("destroy");
    assert!(out.changes.is_empty(), "{:?}", lines(&out.changes));
    assert_eq!(
        Finding::texts(&out.errors),
        [
            "us-east-1: rds DeleteDBCluster: InvalidParameterCombination: Cannot delete protected Cluster, please disable deletion protection and try again."
        ]
    );
    assert_eq!(
        Finding::texts(&out.pending),
        ["rds global cluster exchange is deleted once its clusters are gone"]
    );
    assert_eq!(delete.num_calls(), 1);

    // With the spec protecting it, nothing but reads happens.
    if let Some(a) = t.spec.database.as_mut().and_then(|d| d.aurora.as_mut()) {
        a.deletion_protection = true;
    }
    let rds = regions(&reads.iter().collect::<Vec<_>>(), &[]);
    let out = destroy_remembered(&rds, &t, &RdsInputs::default(), Mode::Apply)
        .await
        .expect("destroy");
    assert!(out.changes.is_empty());
    assert_eq!(Finding::texts(&out.errors), [PROTECTED]);
}

#[tokio::test]
async fn a_protected_global_cluster_tagged_as_ours_is_unprotected_then_deleted() {
    let mut t = with_database("    deletionProtection: false\n");
    t.spec.regions.retain(|r| r.name == US);
    // AWS keeps the global cluster's tags: ours by them, with no member left.
    let describe = globals(vec![global(&t, &[], true, true)]);
    let no_clusters = clusters(vec![]);
    let unprotect = mock!(Client::modify_global_cluster)
        .match_requests(|r| {
            r.global_cluster_identifier() == Some("exchange")
                && r.deletion_protection() == Some(false)
        })
        .then_output(|| ModifyGlobalClusterOutput::builder().build());
    let delete = mock!(Client::delete_global_cluster)
        .match_requests(|r| r.global_cluster_identifier() == Some("exchange"))
        .then_output(|| DeleteGlobalClusterOutput::builder().build());
    let rds = regions(&[&describe, &no_clusters, &unprotect, &delete], &[]);
    let out = destroy_remembered(&rds, &t, &RdsInputs::default(), Mode::Apply)
        .await
        .expect("destroy");
    assert!(out.errors.is_empty() && out.pending.is_empty(), "{out:?}");
    assert_eq!(
        lines(&out.changes),
        [
            "update rds global cluster exchange: DeletionProtection true → false",
            "delete rds global cluster exchange",
        ]
    );
    assert_eq!((unprotect.num_calls(), delete.num_calls()), (1, 1));

    // Someone else's tags: not ours, nothing happens.
    let mut other = t.clone();
    other.uid = "someone-else".into();
    let rds = regions(&[&describe, &no_clusters], &[]);
    let out = destroy_remembered(&rds, &other, &RdsInputs::default(), Mode::Apply)
        .await
        .expect("destroy");
    assert!(out.changes.is_empty() && out.errors.is_empty());
}

#[tokio::test]
async fn a_cluster_out_of_the_global_cluster_is_found_where_the_last_status_saw_it() {
    let mut t = with_database("    deletionProtection: false\n  removal: Delete\n");
    t.spec.regions.retain(|r| r.name == US);
    let secondary = cluster_identifier(&t, EU);
    let snapshot = final_snapshot_identifier(&t, &secondary, "cluster-eu-west-1");
    // The last pass took it out of the global cluster and deleted its instances.
    let us = [
        globals(vec![global(&t, &[(US, true)], false, true)]),
        clusters(vec![cluster(&t, US, "available")]),
        instances(vec![instance(&t, US, 1, "available")]),
    ];
    let us_rules: Vec<&Rule> = us.iter().collect();

    // Without the last status, eu-west-1 is not even read (its client has no rule).
    let rds = regions(&us_rules, &[]);
    let out = run(&rds, &t, &RdsInputs::default(), Mode::Plan)
        .await
        .expect("plan");
    assert!(out.changes.is_empty(), "{:?}", lines(&out.changes));

    let eu_clusters = mock!(Client::describe_db_clusters)
        .sequence()
        .output({
            let c = cluster(&t, EU, "available");
            move || clusters_answer(vec![c.clone()])
        })
        .output({
            let c = cluster(&t, EU, "deleting");
            move || clusters_answer(vec![c.clone()])
        })
        .repeatedly()
        .build();
    let eu_instances = instances(vec![]);
    let wanted = snapshot.clone();
    let delete = mock!(Client::delete_db_cluster)
        .match_requests(move |r| r.final_db_snapshot_identifier() == Some(wanted.as_str()))
        .then_output(|| DeleteDbClusterOutput::builder().build());
    let rds = regions(&us_rules, &[&eu_clusters, &eu_instances, &delete]);
    let inputs = RdsInputs {
        previous_regions: vec![US.into(), EU.into()],
        ..Default::default()
    };
    let out = run(&rds, &t, &inputs, Mode::Apply).await.expect("apply");
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(
        lines(&out.changes),
        [format!(
            "delete rds secondary cluster {secondary} (final snapshot {snapshot})"
        )]
    );
    assert_eq!(
        Finding::texts(&out.pending),
        [format!("rds cluster {secondary} in eu-west-1 is deleting")]
    );
    assert_eq!(delete.num_calls(), 1);
    // The status keeps the region while the cluster is there.
    assert_eq!(out.outputs.remembered().previous_regions, [US, EU]);
}
