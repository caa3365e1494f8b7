//! Claimants racing for one free name (two operators of two shards, the
//! CLI beside them): the ownership record is CREATEd in the same batch as
//! the records, so exactly one wins and the others report a conflict.

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use globalapi::{
    api::GlobalApiSpec,
    aws::{
        AwsClients,
        apigateway::model::RegionEndpoint,
        route53::{self, Route53Inputs},
    },
    plan::Mode,
    target::Target,
};

use crate::common::{self, harsh::HarshScope, objects, operator::Operator, owned};

fn claimant(zone: &str, label: &str, name: &str, uid_prefix: &str) -> Target {
    let spec: GlobalApiSpec = serde_norway::from_str(&format!(
        r#"
domain: {label}.{zone}
hostedZone: {{name: {zone}}}
routing: {{policy: Latency}}
regions:
  - {{name: us-east-1, backend: {{httpUrl: "https://us.example.com"}}}}
  - {{name: eu-west-1, backend: {{httpUrl: "https://eu.example.com"}}}}
"#
    ))
    .expect("spec parses");
    Target {
        namespace: "race".into(),
        name: name.into(),
        // Distinct first 8 characters: they make the record set identifiers.
        uid: format!(
            "{uid_prefix}{:0>4}-0000-4000-8000-000000000000",
            common::unique_suffix()
        ),
        spec,
    }
}

fn inputs() -> Route53Inputs {
    Route53Inputs::known(
        ["us-east-1", "eu-west-1"]
            .iter()
            .map(|r| RegionEndpoint {
                region: (*r).into(),
                rest_api_id: format!("api{}", &r[..2]),
                regional_domain_name: format!("d-{r}.execute-api.{r}.amazonaws.com"),
                regional_zone_id: "ZREGIONAL123".into(),
            })
            .collect(),
        None,
        Vec::new(),
    )
}

/// (name, type, set identifier, value) of every record at `name` and at its
/// ownership record's name, read afresh.
async fn records_at(
    clients: &AwsClients,
    zone_id: &str,
    name: &str,
) -> Vec<(String, String, String, String)> {
    let owner = format!("_globalapi.{name}.");
    let plain = format!("{name}.");
    let listed = clients
        .route53()
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .send()
        .await
        .expect("listing the zone");
    listed
        .resource_record_sets()
        .iter()
        .filter(|r| r.name() == owner || r.name() == plain)
        .map(|r| {
            let value = r
                .alias_target()
                .map(|a| a.dns_name().to_owned())
                .unwrap_or_else(|| {
                    r.resource_records()
                        .iter()
                        .map(|v| v.value().to_owned())
                        .collect::<Vec<_>>()
                        .join(" ")
                });
            (
                r.name().to_owned(),
                r.r#type().as_str().to_owned(),
                r.set_identifier().unwrap_or_default().to_owned(),
                value,
            )
        })
        .collect()
}

/// Three claimants, each with listings of its own (three processes), all
/// read the zone while the name is free; then each applies, in every order.
/// The first writer wins; the batch of each later one fails on Route 53's
/// CREATE of the ownership record, is decided again on a fresh listing and
/// ends as a conflict. Never two owners, never a loser's record at the name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_claimants_racing_for_a_free_name_exactly_one_wins() {
    let scope = HarshScope::new("race");
    let view = scope.view().clients_without_retries().await;
    let zone = format!("race-{}.example.com", common::unique_suffix());
    let zone_id = view
        .route53()
        .create_hosted_zone()
        .name(&zone)
        .caller_reference(format!("race-{zone}"))
        .send()
        .await
        .expect("creating the zone")
        .hosted_zone()
        .expect("zone")
        .id()
        .trim_start_matches("/hostedzone/")
        .to_owned();
    let orders: [[usize; 3]; 6] = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    let refused_before = scope.refused("route53:ChangeResourceRecordSets:InvalidChangeBatch");
    for (round, order) in orders.iter().enumerate() {
        let label = format!("api{round}");
        let claimants: Vec<Target> = ["aaaa", "bbbb", "cccc"]
            .iter()
            .enumerate()
            .map(|(i, prefix)| claimant(&zone, &label, &format!("claimant-{i}-{round}"), prefix))
            .collect();
        let mut processes = Vec::new();
        for _ in &claimants {
            processes.push(
                scope
                    .clients()
                    .await
                    .with_shared_listings(Duration::from_secs(600)),
            );
        }
        for (t, clients) in claimants.iter().zip(&processes) {
            let plan = route53::run(clients, t, &inputs(), Mode::Plan)
                .await
                .expect("plan");
            assert!(
                plan.conflicts.is_empty(),
                "round {round}: the name is free: {:?}",
                plan.conflicts
            );
        }
        let winner = &claimants[order[0]];
        for (turn, &i) in order.iter().enumerate() {
            let applied = route53::run(&processes[i], &claimants[i], &inputs(), Mode::Apply)
                .await
                .expect("apply");
            if turn == 0 {
                assert!(
                    applied.conflicts.is_empty(),
                    "round {round}: {:?}",
                    applied.conflicts
                );
            } else {
                assert!(
                    applied.conflicts.iter().any(|c| c
                        .text
                        .contains(&format!("is owned by GlobalApi race/{}", winner.name))),
                    "round {round}, turn {turn}: the loser reports the winner: {:?}",
                    applied.conflicts
                );
            }
        }

        let name = format!("{label}.{zone}");
        let found = records_at(&view, &zone_id, &name).await;
        let owners: Vec<&(String, String, String, String)> =
            found.iter().filter(|r| r.1 == "TXT").collect();
        assert_eq!(
            owners.len(),
            1,
            "round {round}: one ownership record: {found:#?}"
        );
        assert!(
            owners[0].3.contains(&winner.uid),
            "round {round}: the winner owns the name: {found:#?}"
        );
        let aliases: Vec<&(String, String, String, String)> =
            found.iter().filter(|r| r.1 != "TXT").collect();
        assert!(
            !aliases.is_empty(),
            "round {round}: the winner's records: {found:#?}"
        );
        assert!(
            aliases.iter().all(|r| r.2.contains(&winner.uid[..8])),
            "round {round}: only the winner's records at the name: {found:#?}"
        );
        // The winner is converged; the losers would change nothing there.
        let fresh = scope.clients().await;
        for t in &claimants {
            let plan = route53::run(&fresh, t, &inputs(), Mode::Plan)
                .await
                .expect("plan");
            let at_name: Vec<_> = plan
                .changes
                .iter()
                .filter(|c| c.to_string().contains(&name))
                .collect();
            assert!(at_name.is_empty(), "round {round}, {}: {at_name:?}", t.name);
            assert_eq!(
                plan.conflicts.is_empty(),
                t.uid == winner.uid,
                "round {round}, {}: {:?}",
                t.name,
                plan.conflicts
            );
        }
    }
    assert_eq!(
        scope.refused("route53:ChangeResourceRecordSets:InvalidChangeBatch") - refused_before,
        2 * orders.len() as u64,
        "each loser's batch was refused once, then decided again"
    );
}

/// Two operators of two shards and `globalapi apply` beside them, each
/// with a GlobalApi for one free name, started at once: one of the three
/// owns the name and serves it, the two others report the conflict, and
/// once all are deleted nothing of any of them is left in AWS.
#[tokio::test(flavor = "multi_thread")]
async fn two_shards_and_the_cli_claiming_one_name_leave_one_owner() {
    let common::Setup {
        env,
        clients,
        namespace,
        zone,
    } = common::setup("race", "race").await;
    let timeout = Duration::from_secs(240);
    for shard in ["a", "b"] {
        let name = format!("shard-{shard}");
        objects::apply(
            env,
            &objects::Manifest::latency(&namespace, &name, &zone).yaml(),
        );
        env.kubectl_ok(&[
            "label",
            "globalapi",
            &name,
            "-n",
            &namespace,
            &format!("shard={shard}"),
        ]);
    }
    let dir = env.root.join("target").join("ownership-race");
    std::fs::create_dir_all(&dir).expect("dir");
    let manifest = dir.join(format!("{namespace}.yaml"));
    std::fs::write(
        &manifest,
        objects::Manifest::latency("cli", &namespace, &zone).yaml(),
    )
    .expect("manifest");
    let cli_target =
        globalapi::manifest::parse(&std::fs::read_to_string(&manifest).expect("manifest"), None)
            .expect("the CLI's manifest")
            .remove(0);

    let operators: Vec<Operator> = ["a", "b"]
        .iter()
        .map(|shard| {
            Operator::spawn(
                env,
                &env.kubeconfig,
                &[
                    "--namespace",
                    &namespace,
                    "--selector",
                    &format!("shard={shard}"),
                    "--leader-elect=false",
                ],
                &[],
                "ownership-race",
                &format!("{namespace}-{shard}"),
            )
        })
        .collect();
    let cli = Command::new(env!("CARGO_BIN_EXE_globalapi"))
        .args(["apply", "--wait", "180", "-f"])
        .arg(&manifest)
        .envs(env.aws.iter())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("globalapi apply");

    let settled = |name: &str| {
        objects::object(env, &namespace, name).is_some_and(|o| {
            objects::ready(&o)
                || objects::condition(&o, "Ready").is_some_and(|c| c["reason"] == "Conflict")
        })
    };
    operators[0].wait_until("both objects Ready or in conflict", timeout, || {
        settled("shard-a") && settled("shard-b")
    });
    let cli = cli.wait_with_output().expect("globalapi apply ends");
    let cli_text = format!(
        "{}{}",
        String::from_utf8_lossy(&cli.stdout),
        String::from_utf8_lossy(&cli.stderr)
    );

    let mut claimants = vec![(cli_target.clone(), cli.status.success())];
    for name in ["shard-a", "shard-b"] {
        let object = objects::object(env, &namespace, name).expect("the object");
        claimants.push((
            objects::target_of(env, &namespace, name).await,
            objects::ready(&object),
        ));
    }
    let winners: Vec<&Target> = claimants
        .iter()
        .filter(|(_, won)| *won)
        .map(|(t, _)| t)
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one claimant serves the name: {:?}; CLI: {cli_text}",
        claimants
            .iter()
            .map(|(t, won)| (&t.name, won))
            .collect::<Vec<_>>()
    );
    let winner = winners[0].clone();
    if winner.uid != cli_target.uid {
        assert!(
            cli_text.contains("owned by"),
            "the CLI reports the conflict: {cli_text}"
        );
    }
    let zone_id = zone_id_of(&clients, &zone).await;
    let name = format!("api.{zone}");
    let found = records_at(&clients, &zone_id, &name).await;
    let owners: Vec<_> = found.iter().filter(|r| r.1 == "TXT").collect();
    assert_eq!(owners.len(), 1, "one ownership record: {found:#?}");
    assert!(owners[0].3.contains(&winner.uid), "{found:#?}");
    assert!(
        found
            .iter()
            .filter(|r| r.1 != "TXT")
            .all(|r| r.2.contains(&winner.uid[..8])),
        "only the winner's records at the name: {found:#?}"
    );

    for name in ["shard-a", "shard-b"] {
        env.kubectl_ok(&[
            "delete",
            "globalapi",
            name,
            "-n",
            &namespace,
            "--wait=false",
        ]);
    }
    operators[0].wait_until("both objects gone", timeout, || {
        objects::object(env, &namespace, "shard-a").is_none()
            && objects::object(env, &namespace, "shard-b").is_none()
    });
    let destroyed = Command::new(env!("CARGO_BIN_EXE_globalapi"))
        .args(["destroy", "--wait", "180", "-f"])
        .arg(&manifest)
        .envs(env.aws.iter())
        .output()
        .expect("globalapi destroy");
    assert!(
        destroyed.status.success(),
        "{}{}",
        String::from_utf8_lossy(&destroyed.stdout),
        String::from_utf8_lossy(&destroyed.stderr)
    );
    for (target, _) in &claimants {
        assert_eq!(
            owned::owned(&clients, target, &objects::REGIONS).await,
            Vec::<String>::new(),
            "nothing of {} is left",
            target.name
        );
    }
    let left: Vec<_> = clients
        .route53()
        .list_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .send()
        .await
        .expect("listing the zone")
        .resource_record_sets()
        .iter()
        .filter(|r| !matches!(r.r#type().as_str(), "NS" | "SOA"))
        .map(|r| format!("{} {}", r.name(), r.r#type().as_str()))
        .collect();
    assert!(left.is_empty(), "no record is left in the zone: {left:?}");
}

async fn zone_id_of(clients: &AwsClients, zone: &str) -> String {
    clients
        .route53()
        .list_hosted_zones_by_name()
        .dns_name(zone)
        .send()
        .await
        .expect("listing zones")
        .hosted_zones()
        .iter()
        .find(|z| z.name().trim_end_matches('.') == zone)
        .expect("the zone")
        .id()
        .trim_start_matches("/hostedzone/")
        .to_owned()
}
