//! What a GlobalApi owns in moto, found by its uid tag, so that tests can
//! check for twins after a crash, leftovers after deletion and settings
//! the operator applied.

use globalapi::{
    aws::{AwsClients, route53::observe},
    target::{Target, UID_TAG},
};

/// The ids of the REST APIs tagged with the target's uid in `region`.
pub async fn rest_api_ids(clients: &AwsClients, target: &Target, region: &str) -> Vec<String> {
    let apis = clients
        .apigateway(region)
        .get_rest_apis()
        .limit(500)
        .send()
        .await
        .expect("rest apis");
    apis.items()
        .iter()
        .filter(|api| api.tags().and_then(|t| t.get(UID_TAG)) == Some(&target.uid))
        .filter_map(|api| api.id().map(str::to_owned))
        .collect()
}

/// The certificates of `region` tagged with `uid`: (ARN, domain), sorted.
pub async fn certificates(clients: &AwsClients, region: &str, uid: &str) -> Vec<(String, String)> {
    let acm = clients.acm(region);
    let listed = acm.list_certificates().send().await.expect("certificates");
    let mut found = Vec::new();
    for summary in listed.certificate_summary_list() {
        let arn = summary.certificate_arn().unwrap_or_default();
        // Tests share moto: another one may delete its certificate between
        // the listing and this read.
        let tags = match acm
            .list_tags_for_certificate()
            .certificate_arn(arn)
            .send()
            .await
        {
            Ok(tags) => tags,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                continue;
            }
            Err(e) => panic!("tags of {arn}: {e:?}"),
        };
        if tags
            .tags()
            .iter()
            .any(|t| t.key() == UID_TAG && t.value() == Some(uid))
        {
            let domain = summary.domain_name().unwrap_or_default();
            found.push((arn.to_owned(), domain.to_owned()));
        }
    }
    found.sort();
    found
}

/// The ids of the distributions tagged with `uid`, all pages.
pub async fn distribution_ids(client: &aws_sdk_cloudfront::Client, uid: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = client
            .list_distributions()
            .set_marker(marker.take())
            .send()
            .await
            .expect("list_distributions");
        let Some(list) = out.distribution_list() else {
            break;
        };
        for summary in list.items() {
            let tags = match client
                .list_tags_for_resource()
                .resource(summary.arn())
                .send()
                .await
            {
                Ok(tags) => tags,
                // Deleted by another test since the listing.
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_no_such_resource()) =>
                {
                    continue;
                }
                Err(e) => panic!("tags of {}: {e:?}", summary.arn()),
            };
            let ours = tags
                .tags()
                .map(|t| t.items())
                .unwrap_or_default()
                .iter()
                .any(|t| t.key() == UID_TAG && t.value() == Some(uid));
            if ours {
                ids.push(summary.id().to_owned());
            }
        }
        match (list.is_truncated(), list.next_marker()) {
            (true, Some(m)) if !m.is_empty() => marker = Some(m.to_owned()),
            _ => break,
        }
    }
    ids
}

/// Everything in moto that carries the target's uid, in the given regions and
/// the global services, as sorted "service kind region [domain]" lines.
pub async fn owned(clients: &AwsClients, target: &Target, regions: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let mut regions: Vec<&str> = regions.to_vec();
    regions.sort();
    for region in regions {
        for _ in rest_api_ids(clients, target, region).await {
            found.push(format!("apigateway rest-api {region}"));
        }
        let domains = clients
            .apigateway(region)
            .get_domain_names()
            .limit(500)
            .send()
            .await
            .expect("domains");
        for domain in domains.items() {
            if domain.tags().and_then(|t| t.get(UID_TAG)) == Some(&target.uid) {
                found.push(format!("apigateway domain {region}"));
            }
        }
        for (_, domain) in certificates(clients, region, &target.uid).await {
            found.push(format!("acm certificate {region} {domain}"));
        }
    }
    for _ in distribution_ids(&clients.cloudfront(), &target.uid).await {
        found.push("cloudfront distribution".to_owned());
    }
    let checks = observe::health_checks(&clients.route53(), target, &[])
        .await
        .expect("health checks");
    found.extend(
        checks
            .iter()
            .map(|c| format!("route53 health-check {}", c.check.region)),
    );
    found.sort();
    found
}

/// The failure thresholds of the target's health checks in moto, by region.
pub async fn thresholds(clients: &AwsClients, target: &Target) -> Vec<(String, i32)> {
    let mut found: Vec<(String, i32)> = observe::health_checks(&clients.route53(), target, &[])
        .await
        .expect("health checks")
        .into_iter()
        .map(|c| (c.check.region, c.check.failure_threshold))
        .collect();
    found.sort();
    found
}

/// Whether X-Ray tracing is on for stage `v1` of the REST API.
pub async fn tracing_enabled(clients: &AwsClients, region: &str, api_id: &str) -> bool {
    clients
        .apigateway(region)
        .get_stage()
        .rest_api_id(api_id)
        .stage_name("v1")
        .send()
        .await
        .expect("the stage")
        .tracing_enabled()
}

/// Turns X-Ray tracing off on stage `v1` of the REST API, as a person would.
pub async fn disable_tracing(clients: &AwsClients, region: &str, api_id: &str) {
    clients
        .apigateway(region)
        .update_stage()
        .rest_api_id(api_id)
        .stage_name("v1")
        .patch_operations(
            aws_sdk_apigateway::types::PatchOperation::builder()
                .op(aws_sdk_apigateway::types::Op::Replace)
                .path("/tracingEnabled")
                .value("false")
                .build(),
        )
        .send()
        .await
        .expect("stage setting by hand");
}

/// Our regional RDS clusters in `regions`, as "region identifier".
pub async fn rds_clusters(clients: &AwsClients, target: &Target, regions: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for region in regions {
        let clusters = clients
            .rds(region)
            .describe_db_clusters()
            .send()
            .await
            .expect("clusters");
        for cluster in clusters.db_clusters() {
            let ours = cluster
                .tag_list()
                .iter()
                .any(|t| t.key() == Some(UID_TAG) && t.value() == Some(target.uid.as_str()));
            if ours {
                found.push(format!(
                    "{region} {}",
                    cluster.db_cluster_identifier().unwrap_or_default()
                ));
            }
        }
    }
    found.sort();
    found
}
