//! Changes that replace what serves, on the harsh front's strict AWS: a
//! health check deleted by hand comes back under a fresh caller reference;
//! a region removed while its certificate is still in use leaves nothing;
//! the edge turned off and on again keeps the public name resolving at
//! every pass; a new `domain`, with the edge or without, resolves before the
//! old name goes, and nothing of the old name is left; a new origin name is
//! served before the distribution moves to it; a certificate the user
//! brings replaces ours (and back) with the edge serving at every pass.

use crate::common;

use std::time::Duration;

use globalapi::{
    aws::route53::{RecordValue, desired::set_identifier, observe},
    reconcile::Pass,
};

use common::ground::Ground;

/// Passes until one converges; every pass is handed to `each` first.
async fn converge(ground: &mut Ground, mut each: impl FnMut(&Pass)) -> Pass {
    for _ in 0..60 {
        let pass = ground.apply().await;
        each(&pass);
        if pass.converged() {
            return pass;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("no convergence within 60 passes");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_health_check_deleted_by_hand_comes_back() {
    let mut ground = Ground::converged(false).await;
    let clients = ground.view_clients().await;
    let records = observe::records(&clients.route53(), &ground.zone_id)
        .await
        .expect("records");
    let set_id = set_identifier(&ground.target, "eu-west-1");
    let check = records
        .iter()
        .find(|r| r.key.set_identifier.as_deref() == Some(set_id.as_str()))
        .and_then(|r| r.health_check_id.clone())
        .expect("the eu-west-1 record's health check");
    clients
        .route53()
        .delete_health_check()
        .health_check_id(&check)
        .send()
        .await
        .expect("deleting the health check by hand");

    converge(&mut ground, |_| {}).await;
    let records = observe::records(&clients.route53(), &ground.zone_id)
        .await
        .expect("records");
    let renewed = records
        .iter()
        .find(|r| r.key.set_identifier.as_deref() == Some(set_id.as_str()))
        .and_then(|r| r.health_check_id.clone())
        .expect("the eu-west-1 record has a health check again");
    assert_ne!(renewed, check);
    let (owned, _) = ground.owned().await;
    assert_eq!(
        owned
            .iter()
            .filter(|l| l.starts_with("route53 health-check"))
            .count(),
        2,
        "{owned:?}"
    );
    let refused = ground
        .scope
        .refused("route53:CreateHealthCheck:HealthCheckAlreadyExists");
    assert!(refused >= 1, "the old caller reference was never refused");
    assert!(ground.plan().await.plan.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_region_removed_while_its_certificate_is_in_use_leaves_nothing() {
    let mut ground = Ground::converged(false).await;
    ground.target.spec.regions.retain(|r| r.name != "eu-west-1");
    let mut in_use = false;
    converge(&mut ground, |pass| {
        in_use |= pass
            .pending
            .iter()
            .any(|n| n.finding.text.contains("still in use"));
    })
    .await;
    assert!(in_use, "the certificate was never refused as in use");
    let clients = ground.view_clients().await;
    let left = common::owned::owned(&clients, &ground.target, &["eu-west-1"]).await;
    let eu: Vec<&String> = left.iter().filter(|l| l.contains("eu-west-1")).collect();
    assert!(eu.is_empty(), "eu-west-1 still holds {eu:?}");
    let records = observe::records(&clients.route53(), &ground.zone_id)
        .await
        .expect("records");
    let set_id = set_identifier(&ground.target, "eu-west-1");
    assert!(
        !records
            .iter()
            .any(|r| r.key.set_identifier.as_deref() == Some(set_id.as_str()))
    );
    assert!(ground.plan().await.plan.is_empty());
}

/// The A records of the public name in the zone.
async fn public_a_records(ground: &Ground) -> Vec<String> {
    a_records(ground, &ground.target.spec.domain).await
}

/// The A records of `name` in the ground's zone.
async fn a_records(ground: &Ground, name: &str) -> Vec<String> {
    let clients = ground.view_clients().await;
    let domain = format!("{}.", name.trim_end_matches('.'));
    observe::records(&clients.route53(), &ground.zone_id)
        .await
        .expect("records")
        .into_iter()
        .filter(|r| r.key.record_type == "A")
        .filter(|r| format!("{}.", r.key.name.trim_end_matches('.')) == domain)
        .map(|r| r.key.to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_edge_off_and_on_again_keeps_the_public_name_resolving() {
    let mut ground = Ground::converged(true).await;
    assert!(!public_a_records(&ground).await.is_empty());
    for enabled in [false, true] {
        if let Some(edge) = ground.target.spec.edge.as_mut() {
            edge.enabled = enabled;
        }
        for _ in 0..80 {
            let pass = ground.apply().await;
            let serving = public_a_records(&ground).await;
            assert!(
                !serving.is_empty(),
                "with the edge turning {}, a pass left {} without A records: {}",
                if enabled { "on" } else { "off" },
                ground.target.spec.domain,
                pass.plan
            );
            let faults = edge_faults(&ground, &ground.target.spec.domain).await;
            assert!(
                faults.is_empty(),
                "a pass left the name resolving where CloudFront refuses it: {faults:?}; {}",
                pass.plan
            );
            if pass.converged() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let last = ground.apply().await;
        assert!(
            last.converged(),
            "edge {enabled}: errors {:?} pending {:?}",
            last.errors,
            last.pending
        );
        let serving = public_a_records(&ground).await;
        if enabled {
            assert_eq!(serving.len(), 1, "one alias to CloudFront: {serving:?}");
        } else {
            assert_eq!(
                serving.len(),
                2,
                "one latency record per region: {serving:?}"
            );
        }
    }
    let clients = ground.view_clients().await;
    let distributions =
        common::owned::distribution_ids(&clients.cloudfront(), &ground.target.uid).await;
    assert_eq!(distributions.len(), 1, "{distributions:?}");
    assert!(ground.plan().await.plan.is_empty());
}

/// What is wrong with how CloudFront serves `name`: each A record of
/// `name` that aliases a distribution must lead to an enabled one that
/// lists `name` among its alternate domain names (else CloudFront refuses
/// the viewer's request although the name resolves).
async fn edge_faults(ground: &Ground, name: &str) -> Vec<String> {
    let clients = ground.view_clients().await;
    let domain = format!("{}.", name.trim_end_matches('.'));
    let targets: Vec<String> = observe::records(&clients.route53(), &ground.zone_id)
        .await
        .expect("records")
        .into_iter()
        .filter(|r| r.key.record_type == "A")
        .filter(|r| format!("{}.", r.key.name.trim_end_matches('.')) == domain)
        .filter_map(|r| match r.value {
            RecordValue::Alias { dns_name, .. } => Some(dns_name),
            RecordValue::Values { .. } => None,
        })
        .map(|d| d.trim_end_matches('.').to_ascii_lowercase())
        .filter(|d| d.ends_with(".cloudfront.net"))
        .collect();
    if targets.is_empty() {
        return Vec::new();
    }
    let listed = clients
        .cloudfront()
        .list_distributions()
        .send()
        .await
        .expect("distributions");
    let summaries = listed
        .distribution_list()
        .map(|l| l.items().to_vec())
        .unwrap_or_default();
    let mut faults = Vec::new();
    for target in targets {
        match summaries.iter().find(|s| s.domain_name() == target) {
            None => faults.push(format!(
                "{name} leads to {target}, which is no distribution"
            )),
            Some(s) if !s.enabled() => faults.push(format!(
                "{name} leads to distribution {}, which is disabled",
                s.id()
            )),
            Some(s) => {
                let aliases = s.aliases().map(|a| a.items().to_vec()).unwrap_or_default();
                if !aliases.iter().any(|a| a.eq_ignore_ascii_case(name)) {
                    faults.push(format!(
                        "{name} leads to distribution {}, whose aliases are {aliases:?}",
                        s.id()
                    ));
                }
            }
        }
    }
    faults
}

/// The ground's `domain` becomes another name of its zone. At every pass one
/// of the two names resolves (behind the edge: and leads to a distribution
/// that accepts it), and once the new one does it keeps doing so;
/// at the end only the new name is served and nothing is left of the old.
async fn domain_change(edge: bool) {
    let mut ground = Ground::converged(edge).await;
    let old = ground.target.spec.domain.clone();
    let new = format!("www.{}", ground.zone);
    ground.target.spec.domain = new.clone();
    let mut new_served = false;
    let mut passes = 0;
    let last = loop {
        passes += 1;
        assert!(passes <= 120, "no convergence within 120 passes");
        let pass = ground.apply().await;
        let old_a = a_records(&ground, &old).await;
        let new_a = a_records(&ground, &new).await;
        assert!(
            !(old_a.is_empty() && new_a.is_empty()),
            "pass {passes} left neither {old} nor {new} resolving: {}",
            pass.plan
        );
        assert!(
            !(new_served && new_a.is_empty()),
            "{new} stopped resolving at pass {passes}: {}",
            pass.plan
        );
        if edge {
            let mut faults = edge_faults(&ground, &old).await;
            faults.extend(edge_faults(&ground, &new).await);
            assert!(
                faults.is_empty(),
                "pass {passes}: a name resolves but CloudFront would refuse it: {faults:?}; {}",
                pass.plan
            );
        }
        new_served |= !new_a.is_empty();
        if pass.converged() {
            break pass;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(last.errors.is_empty(), "{:?}", last.errors);
    assert!(
        a_records(&ground, &old).await.is_empty(),
        "{old} still resolves"
    );
    let serving = a_records(&ground, &new).await;
    assert_eq!(
        serving.len(),
        if edge { 1 } else { 2 },
        "{new}: {serving:?}"
    );
    let (owned, _) = ground.owned().await;
    assert!(
        !owned
            .iter()
            .any(|line| line.ends_with(&format!(" {old}")) || line.contains(&format!(".{old}"))),
        "something of {old} is left: {owned:?}"
    );
    assert!(ground.plan().await.plan.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_domain_resolves_before_the_old_one_goes() {
    domain_change(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_domain_behind_the_edge_resolves_before_the_old_one_goes() {
    domain_change(true).await;
}

/// Our distribution as CloudFront has it: (status, enabled, origin domain).
async fn distribution_state(ground: &Ground) -> (String, bool, String) {
    let clients = ground.view_clients().await;
    let cloudfront = clients.cloudfront();
    let ids = common::owned::distribution_ids(&cloudfront, &ground.target.uid).await;
    assert_eq!(ids.len(), 1, "one distribution: {ids:?}");
    let out = cloudfront
        .get_distribution()
        .id(&ids[0])
        .send()
        .await
        .expect("distribution");
    let distribution = out.distribution().expect("a distribution");
    let config = distribution
        .distribution_config()
        .expect("its configuration");
    let origin = config
        .origins()
        .and_then(|o| o.items().first())
        .map(|o| o.domain_name().to_owned())
        .unwrap_or_default();
    (distribution.status().to_owned(), config.enabled(), origin)
}

/// How long the harsh front keeps a changed distribution InProgress
/// (`HARSH_CLOUDFRONT_DEPLOY_SECONDS`).
const DEPLOY_SECONDS: f64 = 2.0;

/// Whether the ground's last record batch started after its last
/// distribution update had deployed, on the front's clock.
fn deployed_before_the_last_batch(ground: &Ground) -> bool {
    let journal = ground.scope.journal();
    let last = |op: &str| {
        journal
            .iter()
            .filter(|e| e.op == op)
            .map(|e| e.start)
            .fold(f64::MIN, f64::max)
    };
    last("route53:ChangeResourceRecordSets")
        >= last("cloudfront:UpdateDistribution") + DEPLOY_SECONDS
}

/// `edge.originDomain` moves to another name. At every pass the public name
/// leads to the distribution, and every origin the distribution may still
/// use (its current one and, until it is Deployed, the ones before) has its
/// records; at the end the old origin name is gone.
#[tokio::test(flavor = "multi_thread")]
async fn a_new_origin_domain_serves_before_the_edge_moves_to_it() {
    let mut ground = Ground::converged(true).await;
    let (_, _, old_origin) = distribution_state(&ground).await;
    let new_origin = format!("edge-origin.{}", ground.zone);
    if let Some(edge) = ground.target.spec.edge.as_mut() {
        edge.origin_domain = Some(new_origin.clone());
    }
    let mut maybe_in_use = vec![old_origin.clone()];
    let mut passes = 0;
    loop {
        passes += 1;
        assert!(passes <= 120, "no convergence within 120 passes");
        // What CloudFront has deployed before the pass is all it may use.
        let (status, _, origin) = distribution_state(&ground).await;
        if status == "Deployed" {
            maybe_in_use = vec![origin];
        }
        let pass = ground.apply().await;
        let faults = edge_faults(&ground, &ground.target.spec.domain).await;
        assert!(
            faults.is_empty() && !public_a_records(&ground).await.is_empty(),
            "pass {passes}: the public name is not served by the edge: {faults:?}; {}",
            pass.plan
        );
        let (status, enabled, origin) = distribution_state(&ground).await;
        assert!(enabled, "pass {passes}: the distribution is disabled");
        if !maybe_in_use.contains(&origin) {
            maybe_in_use.push(origin.clone());
        }
        for name in &maybe_in_use {
            // The distribution may have finished deploying during the pass,
            // before the pass read it: then the front's journal shows the
            // record batch came after the deploy time of the last update.
            let resolves = !a_records(&ground, name).await.is_empty();
            assert!(
                resolves || deployed_before_the_last_batch(&ground),
                "pass {passes}: the distribution ({status}, origin {origin}) may still use {name}, which no longer resolves: {}",
                pass.plan
            );
        }
        if pass.converged() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (status, _, origin) = distribution_state(&ground).await;
    assert_eq!(
        (status.as_str(), origin.as_str()),
        ("Deployed", new_origin.as_str())
    );
    assert!(
        a_records(&ground, &old_origin).await.is_empty(),
        "{old_origin} still resolves"
    );
    let (owned, _) = ground.owned().await;
    assert!(
        !owned.iter().any(|line| line.contains(&old_origin)),
        "something of {old_origin} is left: {owned:?}"
    );
    assert!(ground.plan().await.plan.is_empty());
}

/// The certificate our distribution serves.
async fn edge_certificate(ground: &Ground) -> String {
    let clients = ground.view_clients().await;
    let cloudfront = clients.cloudfront();
    let ids = common::owned::distribution_ids(&cloudfront, &ground.target.uid).await;
    assert_eq!(ids.len(), 1, "one distribution: {ids:?}");
    let out = cloudfront
        .get_distribution_config()
        .id(&ids[0])
        .send()
        .await
        .expect("distribution configuration");
    out.distribution_config()
        .and_then(|c| c.viewer_certificate())
        .and_then(|v| v.acm_certificate_arn())
        .expect("a viewer certificate from ACM")
        .to_owned()
}

/// Passes until one converges; after each, the public name is served by
/// the edge with a certificate that exists.
async fn converge_served_by_edge(ground: &mut Ground, what: &str) {
    for passes in 1..=120 {
        let pass = ground.apply().await;
        let faults = edge_faults(ground, &ground.target.spec.domain).await;
        assert!(
            faults.is_empty() && !public_a_records(ground).await.is_empty(),
            "{what}, pass {passes}: the public name is not served by the edge: {faults:?}; {}",
            pass.plan
        );
        let serving = edge_certificate(ground).await;
        let clients = ground.view_clients().await;
        let described = clients
            .acm("us-east-1")
            .describe_certificate()
            .certificate_arn(&serving)
            .send()
            .await;
        assert!(
            described.is_ok(),
            "{what}, pass {passes}: the distribution serves {serving}, which is gone: {described:?}"
        );
        if pass.converged() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("{what}: no convergence within 120 passes");
}

/// The user brings an edge certificate, then takes it back: at every pass
/// the edge serves with a certificate that exists; ours goes once released,
/// a new one of ours comes back, and the user's is never touched.
#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_brought_by_the_user_replaces_ours_and_back_without_a_gap() {
    let mut ground = Ground::converged(true).await;
    let ours = edge_certificate(&ground).await;
    let clients = ground.view_clients().await;
    let acm = clients.acm("us-east-1");
    let theirs = acm
        .request_certificate()
        .domain_name(&ground.target.spec.domain)
        .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
        .send()
        .await
        .expect("the user's certificate")
        .certificate_arn()
        .expect("an ARN")
        .to_owned();
    for _ in 0..60 {
        let status = acm
            .describe_certificate()
            .certificate_arn(&theirs)
            .send()
            .await
            .expect("the user's certificate")
            .certificate()
            .and_then(|c| c.status().cloned());
        if status == Some(aws_sdk_acm::types::CertificateStatus::Issued) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    ground.target.spec.certificate = Some(globalapi::api::CertificateSpec {
        arn: Some(theirs.clone()),
    });
    converge_served_by_edge(&mut ground, "the user's certificate in").await;
    assert_eq!(edge_certificate(&ground).await, theirs);
    let owned = common::owned::certificates(&clients, "us-east-1", &ground.target.uid).await;
    assert!(
        !owned.iter().any(|(arn, _)| *arn == ours),
        "our edge certificate {ours} is left: {owned:?}"
    );
    assert!(ground.plan().await.plan.is_empty());

    ground.target.spec.certificate = None;
    converge_served_by_edge(&mut ground, "the user's certificate out").await;
    let serving = edge_certificate(&ground).await;
    assert_ne!(serving, theirs);
    let owned = common::owned::certificates(&clients, "us-east-1", &ground.target.uid).await;
    assert!(
        owned.iter().any(|(arn, _)| *arn == serving),
        "the edge serves {serving}, not one of ours: {owned:?}"
    );
    acm.describe_certificate()
        .certificate_arn(&theirs)
        .send()
        .await
        .expect("the user's certificate is still there");
    assert!(ground.plan().await.plan.is_empty());
}
