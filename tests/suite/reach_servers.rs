//! The Rust code reaches both real servers: the kube-apiserver through a
//! `kube::Client`, and moto through the AWS SDK for Rust.

use crate::common;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_route53::config::Credentials;
use globalapi::api::GlobalApi;
use kube::{Api, api::ListParams};

use common::env;

#[tokio::test]
async fn kube_client_lists_globalapis() {
    let env = env();
    env.install_crd();
    let ns = env.namespace("reach");
    let example = env.root.join("examples/latency-no-edge.yaml");
    env.kubectl_ok(&["create", "-n", &ns, "-f", common::path_str(&example)]);

    let client = env.kube_client().await;
    let api: Api<GlobalApi> = Api::namespaced(client, &ns);
    let list = api
        .list(&ListParams::default())
        .await
        .expect("listing GlobalApis");
    assert_eq!(list.items.len(), 1);
    let gapi = &list.items[0];
    assert_eq!(gapi.spec.domain, "catalog.example.com");
    assert_eq!(gapi.spec.regions.len(), 2);
    assert!(
        gapi.spec.regions[1]
            .certificate_arn
            .as_deref()
            .is_some_and(|arn| arn.starts_with("arn:aws:acm:eu-central-1:"))
    );
    // Defaults the API server filled in reach the typed spec.
    assert_eq!(gapi.spec.resync_seconds, 300);
    assert_eq!(gapi.spec.api.health_check.interval_seconds, 30);
    env.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

#[tokio::test]
async fn route53_hosted_zone_round_trips_through_moto() {
    let env = env();
    let aws = &env.aws;
    let config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(env.aws_endpoint())
        .region(Region::new(aws["AWS_REGION"].clone()))
        .credentials_provider(Credentials::new(
            aws["AWS_ACCESS_KEY_ID"].clone(),
            aws["AWS_SECRET_ACCESS_KEY"].clone(),
            None,
            None,
            "aws.env",
        ))
        .load()
        .await;
    let route53 = aws_sdk_route53::Client::new(&config);
    let name = format!("reach-{}.example.com", common::unique_suffix());
    let created = route53
        .create_hosted_zone()
        .name(&name)
        .caller_reference(format!("reach-{name}"))
        .send()
        .await
        .expect("creating a hosted zone in moto");
    let zone = created.hosted_zone().expect("the created zone");
    let id = zone.id().to_owned();

    let read = route53
        .get_hosted_zone()
        .id(&id)
        .send()
        .await
        .expect("reading the zone back");
    assert_eq!(
        read.hosted_zone().map(|z| z.name()),
        Some(format!("{name}.").as_str())
    );

    let listed = route53
        .list_hosted_zones_by_name()
        .dns_name(&name)
        .send()
        .await
        .expect("listing zones");
    assert!(
        listed.hosted_zones().iter().any(|z| z.id() == id),
        "{listed:?}"
    );

    route53
        .delete_hosted_zone()
        .id(&id)
        .send()
        .await
        .expect("deleting the zone");
    let gone = route53.get_hosted_zone().id(&id).send().await;
    assert!(gone.is_err(), "the zone still exists after delete");
}

#[test]
fn rbac_is_enforced_and_token_request_works() {
    let env = env();
    env.install_crd();
    let ns = env.namespace("rbac");
    env.kubectl_ok(&["create", "serviceaccount", "reader", "-n", &ns]);
    // TokenRequest needs the service-account signing key the API server was given.
    let token = env.kubectl_ok(&["create", "token", "reader", "-n", &ns, "--duration=10m"]);
    let token = token.trim();
    assert_eq!(token.split('.').count(), 3, "not a JWT: {token}");

    let as_reader = |args: &[&str]| {
        let mut all = vec!["--token", token];
        all.extend_from_slice(args);
        env.kubectl(&all)
    };
    // With RBAC on, a fresh service account may not read GlobalApis...
    let denied = as_reader(&["get", "gapi", "-n", &ns]);
    assert!(!denied.status.success());
    let stderr = String::from_utf8_lossy(&denied.stderr);
    assert!(
        stderr.contains("forbidden")
            && stderr.contains(&format!("system:serviceaccount:{ns}:reader")),
        "{stderr}"
    );

    // ...until a Role grants it.
    env.kubectl_ok(&[
        "create",
        "role",
        "gapi-reader",
        "-n",
        &ns,
        "--verb=get,list",
        "--resource=globalapis.globalapi.io",
    ]);
    env.kubectl_ok(&[
        "create",
        "rolebinding",
        "gapi-reader",
        "-n",
        &ns,
        "--role=gapi-reader",
        &format!("--serviceaccount={ns}:reader"),
    ]);
    common::wait_until(std::time::Duration::from_secs(30), || {
        as_reader(&["get", "gapi", "-n", &ns]).status.success()
    });
    env.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

#[test]
fn helm_reaches_the_api_server() {
    let env = env();
    let out = std::process::Command::new(env.bin.join("helm"))
        .args(["list", "--all-namespaces", "--output", "json"])
        .env("KUBECONFIG", &env.kubeconfig)
        .env("HELM_CACHE_HOME", env.root.join("target/env/helm/cache"))
        .env("HELM_CONFIG_HOME", env.root.join("target/env/helm/config"))
        .env("HELM_DATA_HOME", env.root.join("target/env/helm/data"))
        .output()
        .expect("running helm");
    assert!(
        out.status.success(),
        "helm list failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let releases: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("helm list prints JSON");
    assert!(releases.is_array(), "{releases}");
    let version = std::process::Command::new(env.bin.join("helm"))
        .args(["version", "--short"])
        .output()
        .expect("helm version");
    assert!(
        String::from_utf8_lossy(&version.stdout).starts_with("v3."),
        "{version:?}"
    );
}
