//! Adoption: the `globalapi.io/adopt-from` annotation takes over what a
//! previous owner left in AWS — a GlobalApi deleted with `deletionPolicy:
//! Retain` and made again, or a stack made by `globalapi apply` — re-tagging
//! and re-claiming it instead of making twins; a previous owner that still
//! exists, or of another namespace, is refused, and nothing of it is touched.

use std::{process::Command, time::Duration};

use crate::common::{
    self, Setup, TestEnv,
    objects::{Manifest, apply, message, object, ready, reason, target_of},
    operator::Operator,
    owned::owned,
};
use globalapi::{
    api::GlobalApi,
    aws::{
        AwsClients,
        route53::{desired::set_identifier, observe, owner_record_name},
    },
    target::{OWNER_TAG, Target, UID_TAG},
};

const TIMEOUT: Duration = Duration::from_secs(180);
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

fn manifest(namespace: &str, name: &str, zone: &str, adopt_from: Option<&str>) -> String {
    let yaml = Manifest {
        extra: "  deletionPolicy: Retain\n",
        ..Manifest::latency(namespace, name, zone)
    }
    .yaml();
    match adopt_from {
        None => yaml,
        Some(previous) => yaml.replace(
            &format!("metadata: {{name: {name}, namespace: {namespace}}}"),
            &format!(
                "metadata: {{name: {name}, namespace: {namespace}, annotations: {{globalapi.io/adopt-from: {previous}}}}}"
            ),
        ),
    }
}

/// Every REST API and custom domain of `regions` whose owner tag is
/// `owner`, as "region kind id uid", sorted.
async fn held_by(clients: &AwsClients, owner: &str) -> Vec<String> {
    let mut found = Vec::new();
    for region in REGIONS {
        let client = clients.apigateway(region);
        let apis = client
            .get_rest_apis()
            .limit(500)
            .send()
            .await
            .expect("rest apis");
        for api in apis.items() {
            if api
                .tags()
                .and_then(|t| t.get(OWNER_TAG))
                .map(String::as_str)
                == Some(owner)
            {
                let uid = api
                    .tags()
                    .and_then(|t| t.get(UID_TAG))
                    .cloned()
                    .unwrap_or_default();
                found.push(format!(
                    "{region} rest-api {} {uid}",
                    api.id().unwrap_or_default()
                ));
            }
        }
        let domains = client
            .get_domain_names()
            .limit(500)
            .send()
            .await
            .expect("domains");
        for domain in domains.items() {
            if domain
                .tags()
                .and_then(|t| t.get(OWNER_TAG))
                .map(String::as_str)
                == Some(owner)
            {
                let uid = domain
                    .tags()
                    .and_then(|t| t.get(UID_TAG))
                    .cloned()
                    .unwrap_or_default();
                found.push(format!(
                    "{region} domain {} {uid}",
                    domain.domain_name().unwrap_or_default()
                ));
            }
        }
    }
    found.sort();
    found
}

/// `lines` with the uid (last word) replaced.
fn with_uid(lines: &[String], uid: &str) -> Vec<String> {
    lines
        .iter()
        .map(|l| match l.rsplit_once(' ') {
            Some((head, _)) => format!("{head} {uid}"),
            None => l.clone(),
        })
        .collect()
}

/// What the previous owner held before the heir came.
struct Left {
    previous: Target,
    /// [`held_by`] of the owner.
    held: Vec<String>,
    /// [`owned`] of the previous uid.
    owned: Vec<String>,
}

impl Left {
    async fn now(clients: &AwsClients, previous: Target, owner: &str) -> Self {
        let held = held_by(clients, owner).await;
        assert_eq!(
            held.len(),
            4,
            "a REST API and a domain per region: {held:?}"
        );
        let owned = owned(clients, &previous, &REGIONS).await;
        Self {
            previous,
            held,
            owned,
        }
    }
}

/// Waits until the object is Ready, then checks that what `previous` held is
/// now held, unchanged, by the object, and that nothing else was made.
async fn assert_adopted(
    env: &TestEnv,
    operator: &Operator,
    clients: &AwsClients,
    namespace: &str,
    name: &str,
    left: &Left,
) {
    operator.wait_ready(env, namespace, name, TIMEOUT);
    let heir = target_of(env, namespace, name).await;
    assert_ne!(heir.uid, left.previous.uid);
    let current = object(env, namespace, name).expect("the object");
    assert_eq!(
        current["status"]["adoptedFrom"],
        format!("{namespace}/{name}"),
        "{current:#}"
    );
    assert_eq!(
        held_by(clients, &format!("{namespace}/{name}")).await,
        with_uid(&left.held, &heir.uid),
        "the same REST APIs and domains, re-tagged, and no twin"
    );
    assert!(
        owned(clients, &left.previous, &REGIONS).await.is_empty(),
        "nothing is left under the previous uid"
    );
    assert_eq!(
        owned(clients, &heir, &REGIONS).await,
        left.owned,
        "the heir holds exactly what the previous owner held"
    );
    // DNS: the name is the heir's, with one latency record per region.
    let route53 = clients.route53();
    let zone_id = observe::zone_id(&route53, &heir).await.expect("the zone");
    let records = observe::records(&route53, &zone_id)
        .await
        .expect("the records");
    let domain = &heir.spec.domain;
    let latency: Vec<String> = records
        .iter()
        .filter(|r| r.key.name == *domain && r.key.record_type == "A")
        .filter_map(|r| r.key.set_identifier.clone())
        .collect();
    let mut expected: Vec<String> = REGIONS.iter().map(|r| set_identifier(&heir, r)).collect();
    expected.sort();
    let mut latency_sorted = latency.clone();
    latency_sorted.sort();
    assert_eq!(
        latency_sorted, expected,
        "one latency record per region, no twin"
    );
    let owner_record = records
        .iter()
        .find(|r| r.key.name == owner_record_name(domain))
        .expect("the ownership record");
    assert!(
        format!("{:?}", owner_record.value).contains(&heir.uid),
        "{owner_record:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn retained_then_made_again_is_adopted_without_twins() {
    let Setup {
        env,
        clients,
        namespace,
        zone,
    } = common::setup("adopt-retained", "adr").await;
    let name = "api";
    let owner = format!("{namespace}/{name}");
    let operator = Operator::start(env, &namespace, "adoption-test");
    apply(env, &manifest(&namespace, name, &zone, None));
    operator.wait_ready(env, &namespace, name, TIMEOUT);
    let left = Left::now(&clients, target_of(env, &namespace, name).await, &owner).await;

    // Retain: the object goes, AWS stays.
    operator.delete_and_wait_gone(env, &namespace, name, TIMEOUT);
    assert_eq!(
        held_by(&clients, &owner).await,
        left.held,
        "Retain kept everything"
    );

    // Made again, adopting its former self.
    apply(env, &manifest(&namespace, name, &zone, Some(&owner)));
    assert_adopted(env, &operator, &clients, &namespace, name, &left).await;
    let events = crate::common::objects::event_reasons(env, &namespace, name);
    assert!(
        events.iter().any(|r| r == "Updated"),
        "the re-tagging is told in Events: {events:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stack_of_the_command_line_is_adopted_by_the_operator() {
    let Setup {
        env,
        clients,
        namespace,
        zone,
    } = common::setup("adopt-cli", "adc").await;
    let name = "api";
    let owner = format!("{namespace}/{name}");
    let file = env
        .root
        .join("target")
        .join(format!("adopt-cli-{namespace}.yaml"));
    let plain = manifest(&namespace, name, &zone, None);
    std::fs::write(&file, &plain).expect("writing the manifest");
    let out = Command::new(env!("CARGO_BIN_EXE_globalapi"))
        .args(["apply", "--wait", "120", "-f"])
        .arg(&file)
        .envs(env.aws.iter())
        .output()
        .expect("running globalapi apply");
    assert!(
        out.status.success(),
        "globalapi apply: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stack: GlobalApi = serde_norway::from_str(&plain).expect("the manifest");
    let previous = Target::from_object(&stack).expect("the CLI's target");
    let left = Left::now(&clients, previous, &owner).await;

    let operator = Operator::start(env, &namespace, "adoption-test");
    apply(env, &manifest(&namespace, name, &zone, Some(&owner)));
    assert_adopted(env, &operator, &clients, &namespace, name, &left).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_previous_owner_that_still_exists_is_refused_and_untouched() {
    let Setup {
        env,
        clients,
        namespace,
        zone,
    } = common::setup("adopt-live", "adl").await;
    let operator = Operator::start(env, &namespace, "adoption-test");
    apply(env, &manifest(&namespace, "first", &zone, None));
    operator.wait_ready(env, &namespace, "first", TIMEOUT);
    let first = format!("{namespace}/first");
    let before = held_by(&clients, &first).await;

    let claim = manifest(&namespace, "second", &zone, Some(&first)).replace(
        &format!("domain: api.{zone}"),
        &format!("domain: www.{zone}"),
    );
    apply(env, &claim);
    operator.wait_until("the adoption refused", TIMEOUT, || {
        object(env, &namespace, "second").is_some_and(|o| reason(&o, "Ready") == "AdoptionRefused")
    });
    let second = object(env, &namespace, "second").expect("the object");
    let still = message(&second, "Ready");
    assert!(
        still.contains(&format!("GlobalApi {first} still exists")),
        "{still}"
    );
    assert!(!ready(&second));
    assert_eq!(
        held_by(&clients, &first).await,
        before,
        "the first keeps everything"
    );
    assert!(
        held_by(&clients, &format!("{namespace}/second"))
            .await
            .is_empty()
    );

    // Another namespace is another tenant: never adopted from.
    let foreign = manifest(&namespace, "third", &zone, Some("team-b/api")).replace(
        &format!("domain: api.{zone}"),
        &format!("domain: api3.{zone}"),
    );
    apply(env, &foreign);
    operator.wait_until("the foreign adoption refused", TIMEOUT, || {
        object(env, &namespace, "third").is_some_and(|o| reason(&o, "Ready") == "AdoptionRefused")
    });
    let third = object(env, &namespace, "third").expect("the object");
    let message = message(&third, "Ready");
    assert!(
        message.contains("adopts only from its own namespace"),
        "{message}"
    );
}
