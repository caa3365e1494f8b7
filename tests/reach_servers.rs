//! The Rust code reaches both real servers: the kube-apiserver through a
//! `kube::Client`, and moto through the AWS SDK for Rust.

mod common;

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
