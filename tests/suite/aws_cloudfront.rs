//! CloudFront against the emulator: create, no-op plan, drift found and
//! corrected (price class, origin protocol policy, aliases, certificate,
//! disabled by hand, deleted by hand), conflicts, an interrupted create
//! adopted, and destroy that leaves foreign distributions alone.

use crate::common;

use aws_sdk_cloudfront::{
    Client,
    types::{
        Aliases, CustomOriginConfig, DefaultCacheBehavior, DistributionConfig,
        OriginProtocolPolicy, Origins, PriceClass, Tag, Tags, ViewerCertificate,
        ViewerProtocolPolicy, builders::DistributionConfigBuilder,
    },
};
use globalapi::api::GlobalApiSpec;
use globalapi::aws::AwsClients;
use globalapi::aws::cloudfront::{
    self, CloudFrontInputs, CloudFrontOutputs, desired::caller_reference,
};
use globalapi::plan::{Finding, Mode, StepOutcome};
use globalapi::target::Target;

const CERT: &str =
    "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-4000-8000-000000000001";
const OTHER_CERT: &str =
    "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-4000-8000-000000000002";

fn target(suffix: &str) -> Target {
    let spec: GlobalApiSpec = serde_norway::from_str(&format!(
        r#"
domain: api-{suffix}.example.com
hostedZone: {{name: example.com}}
routing: {{policy: Latency}}
regions:
  - {{name: us-east-1, backend: {{httpUrl: "https://us.example.com"}}}}
  - {{name: eu-west-1, backend: {{httpUrl: "https://eu.example.com"}}}}
edge: {{enabled: true, priceClass: PriceClass_100, geoRestriction: {{type: blacklist, locations: [KP]}}}}
"#
    ))
    .expect("spec parses");
    Target {
        namespace: format!("cf-{suffix}"),
        name: "exchange".into(),
        uid: format!("00000000-0000-4000-8000-{suffix:0>12}"),
        spec,
    }
}

fn inputs(cert: &str) -> CloudFrontInputs {
    CloudFrontInputs {
        certificate_arn: Some(cert.into()),
        ..Default::default()
    }
}

fn lines(outcome: &StepOutcome<impl Sized>) -> Vec<String> {
    outcome.changes.iter().map(ToString::to_string).collect()
}

/// Runs one step and checks its mutating calls.
async fn run(
    clients: &AwsClients,
    t: &Target,
    cert: &str,
    mode: Mode,
) -> StepOutcome<CloudFrontOutputs> {
    let before = clients.calls().snapshot();
    let outcome = cloudfront::run(clients, t, &inputs(cert), mode)
        .await
        .unwrap_or_else(|e| panic!("cloudfront {mode:?} failed: {e}"));
    let calls = clients.calls().snapshot().since(&before);
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    if mode == Mode::Plan || outcome.changes.is_empty() {
        assert_eq!(
            calls.mutating(),
            0,
            "{mode:?} without changes must not mutate:\n{calls}"
        );
    }
    outcome
}

/// A plan that must show exactly `expected`, then an apply that makes it, then a plan that is empty.
async fn correct(
    clients: &AwsClients,
    t: &Target,
    expected: &[String],
) -> StepOutcome<CloudFrontOutputs> {
    let plan = run(clients, t, CERT, Mode::Plan).await;
    assert_eq!(lines(&plan), expected, "plan");
    let applied = run(clients, t, CERT, Mode::Apply).await;
    assert_eq!(lines(&applied), expected, "apply");
    let again = settled(clients, t).await;
    assert!(again.changes.is_empty(), "after apply: {:?}", lines(&again));
    assert!(again.pending.is_empty(), "after apply: {:?}", again.pending);
    applied
}

/// A plan once CloudFront has deployed the last change (a created or
/// updated distribution is InProgress for a while, as in AWS).
async fn settled(clients: &AwsClients, t: &Target) -> StepOutcome<CloudFrontOutputs> {
    let mut plan = run(clients, t, CERT, Mode::Plan).await;
    for _ in 0..60 {
        if plan.pending.is_empty() {
            break;
        }
        assert!(
            plan.pending[0].text.contains("is deploying"),
            "{:?}",
            plan.pending
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        plan = run(clients, t, CERT, Mode::Plan).await;
    }
    plan
}

/// A builder holding the fields the emulator keeps, to change one by hand.
fn copy(base: &DistributionConfig) -> DistributionConfigBuilder {
    DistributionConfig::builder()
        .caller_reference(base.caller_reference())
        .set_aliases(base.aliases().cloned())
        .set_origins(base.origins().cloned())
        .set_default_cache_behavior(base.default_cache_behavior().cloned())
        .set_cache_behaviors(base.cache_behaviors().cloned())
        .comment(base.comment())
        .set_price_class(base.price_class().cloned())
        .enabled(base.enabled())
        .set_viewer_certificate(base.viewer_certificate().cloned())
        .set_restrictions(base.restrictions().cloned())
        .set_http_version(base.http_version().cloned())
        .set_is_ipv6_enabled(base.is_ipv6_enabled())
}

/// Changes a distribution by hand, as someone in the console would.
async fn edit(
    client: &Client,
    id: &str,
    change: impl FnOnce(&DistributionConfig) -> DistributionConfig,
) {
    let out = client
        .get_distribution_config()
        .id(id)
        .send()
        .await
        .expect("get_distribution_config");
    let config = out.distribution_config().expect("config");
    client
        .update_distribution()
        .id(id)
        .if_match(out.e_tag().expect("etag"))
        .distribution_config(change(config))
        .send()
        .await
        .expect("update_distribution by hand");
}

/// A distribution made outside the operator, without tags.
async fn foreign(client: &Client, suffix: &str, alias: &str) -> (String, DistributionConfig) {
    let origin = aws_sdk_cloudfront::types::Origin::builder()
        .id("theirs")
        .domain_name("their-origin.example.net")
        .custom_origin_config(
            CustomOriginConfig::builder()
                .http_port(80)
                .https_port(443)
                .origin_protocol_policy(OriginProtocolPolicy::MatchViewer)
                .build()
                .expect("origin config"),
        )
        .build()
        .expect("origin");
    let config = DistributionConfig::builder()
        .caller_reference(format!("foreign-{suffix}-{alias}"))
        .aliases(
            Aliases::builder()
                .quantity(1)
                .items(alias)
                .build()
                .expect("aliases"),
        )
        .origins(
            Origins::builder()
                .quantity(1)
                .items(origin)
                .build()
                .expect("origins"),
        )
        .default_cache_behavior(
            DefaultCacheBehavior::builder()
                .target_origin_id("theirs")
                .viewer_protocol_policy(ViewerProtocolPolicy::AllowAll)
                .build()
                .expect("behaviour"),
        )
        .comment(format!("not ours {suffix}"))
        .enabled(true)
        .price_class(PriceClass::PriceClassAll)
        .viewer_certificate(
            ViewerCertificate::builder()
                .cloud_front_default_certificate(true)
                .build(),
        )
        .build()
        .expect("config");
    let out = client
        .create_distribution()
        .distribution_config(config)
        .send()
        .await
        .expect("create foreign distribution");
    let id = out.distribution().expect("distribution").id().to_owned();
    let config = client
        .get_distribution_config()
        .id(&id)
        .send()
        .await
        .expect("foreign config")
        .distribution_config()
        .cloned()
        .expect("foreign config");
    (id, config)
}

/// The ids of the distributions tagged with `uid`.
async fn tagged_with(client: &Client, uid: &str) -> Vec<String> {
    common::owned::distribution_ids(client, uid).await
}

#[tokio::test]
async fn distribution_lifecycle_drift_and_destroy() {
    let env = common::env();
    let clients = env.aws_clients().await;
    let client = clients.cloudfront();
    let suffix = common::unique_suffix();
    let t = target(&suffix);
    let domain = t.spec.domain.clone();
    let (foreign_id, foreign_before) =
        foreign(&client, &suffix, &format!("foreign-{suffix}.example.com")).await;

    // Without a certificate nothing is made.
    let before = clients.calls().snapshot();
    let waiting = cloudfront::run(&clients, &t, &CloudFrontInputs::default(), Mode::Apply)
        .await
        .expect("run without certificate");
    assert!(waiting.changes.is_empty());
    assert_eq!(waiting.pending.len(), 1, "{:?}", waiting.pending);
    assert_eq!(clients.calls().snapshot().since(&before).mutating(), 0);

    // Create.
    let created = run(&clients, &t, CERT, Mode::Apply).await;
    assert_eq!(
        lines(&created),
        [format!("create cloudfront distribution {domain}")]
    );
    let id = created
        .outputs
        .distribution_id
        .clone()
        .expect("distribution id");
    let dns = created.outputs.domain_name.clone().expect("domain name");
    assert!(dns.ends_with(".cloudfront.net"), "{dns}");
    assert_eq!(created.outputs.certificate_arn.as_deref(), Some(CERT));
    assert_eq!(
        tagged_with(&client, &t.uid).await,
        std::slice::from_ref(&id)
    );

    // What was created is what the spec asks.
    let config = client
        .get_distribution_config()
        .id(&id)
        .send()
        .await
        .expect("config")
        .distribution_config()
        .cloned()
        .expect("config");
    assert_eq!(config.caller_reference(), caller_reference(&t));
    assert_eq!(config.comment(), format!("globalapi cf-{suffix}/exchange"));
    let origin = &config.origins().expect("origins").items()[0];
    assert_eq!(origin.domain_name(), format!("origin.{domain}"));
    let custom = origin.custom_origin_config().expect("custom origin");
    assert_eq!(
        custom.origin_protocol_policy(),
        &OriginProtocolPolicy::HttpsOnly
    );
    assert_eq!(custom.https_port(), 443);
    let behavior = config.default_cache_behavior().expect("behaviour");
    assert_eq!(
        behavior.viewer_protocol_policy(),
        &ViewerProtocolPolicy::RedirectToHttps
    );
    assert_eq!(
        behavior.cache_policy_id(),
        Some(cloudfront::CACHING_DISABLED_POLICY_ID)
    );
    assert_eq!(
        behavior.origin_request_policy_id(),
        Some(cloudfront::ALL_VIEWER_EXCEPT_HOST_HEADER_POLICY_ID)
    );
    assert_eq!(behavior.allowed_methods().expect("methods").quantity(), 7);
    let viewer = config.viewer_certificate().expect("certificate");
    assert_eq!(viewer.acm_certificate_arn(), Some(CERT));
    assert_eq!(
        viewer.ssl_support_method().map(|m| m.as_str()),
        Some("sni-only")
    );
    assert_eq!(
        viewer.minimum_protocol_version().map(|m| m.as_str()),
        Some("TLSv1.2_2021")
    );

    // Plan: nothing to do, nothing mutated; the outputs stay. CloudFront
    // reports a new distribution InProgress for a while: pending until Deployed.
    let plan = settled(&clients, &t).await;
    assert!(plan.changes.is_empty(), "{:?}", lines(&plan));
    assert!(plan.pending.is_empty(), "{:?}", plan.pending);
    assert_eq!(plan.outputs.distribution_id.as_deref(), Some(id.as_str()));
    assert_eq!(plan.outputs.domain_name.as_deref(), Some(dns.as_str()));
    assert_eq!(plan.outputs.status.as_deref(), Some("Deployed"));

    let update = |fields: &str| format!("update cloudfront distribution {id} ({domain}): {fields}");

    // Price class changed by hand.
    edit(&client, &id, |c| {
        copy(c)
            .price_class(PriceClass::PriceClassAll)
            .build()
            .expect("config")
    })
    .await;
    correct(
        &clients,
        &t,
        &[update("PriceClass PriceClass_All → PriceClass_100")],
    )
    .await;

    // Origin protocol policy changed by hand.
    edit(&client, &id, |c| {
        let origin = &c.origins().expect("origins").items()[0];
        let custom = origin.custom_origin_config().expect("custom");
        let changed = aws_sdk_cloudfront::types::Origin::builder()
            .id(origin.id())
            .domain_name(origin.domain_name())
            .custom_origin_config(
                CustomOriginConfig::builder()
                    .http_port(custom.http_port())
                    .https_port(custom.https_port())
                    .origin_protocol_policy(OriginProtocolPolicy::MatchViewer)
                    .set_origin_ssl_protocols(custom.origin_ssl_protocols().cloned())
                    .build()
                    .expect("custom"),
            )
            .build()
            .expect("origin");
        copy(c)
            .origins(
                Origins::builder()
                    .quantity(1)
                    .items(changed)
                    .build()
                    .expect("origins"),
            )
            .build()
            .expect("config")
    })
    .await;
    correct(
        &clients,
        &t,
        &[update(
            "Origin.OriginProtocolPolicy match-viewer → https-only",
        )],
    )
    .await;

    // An alias and the certificate changed by hand.
    edit(&client, &id, |c| {
        copy(c)
            .aliases(
                Aliases::builder()
                    .quantity(1)
                    .items(format!("elsewhere-{suffix}.example.com"))
                    .build()
                    .expect("aliases"),
            )
            .viewer_certificate(
                ViewerCertificate::builder()
                    .cloud_front_default_certificate(false)
                    .acm_certificate_arn(OTHER_CERT)
                    .ssl_support_method(aws_sdk_cloudfront::types::SslSupportMethod::SniOnly)
                    .minimum_protocol_version(
                        aws_sdk_cloudfront::types::MinimumProtocolVersion::TlSv122021,
                    )
                    .build(),
            )
            .build()
            .expect("config")
    })
    .await;
    let resource =
        format!("update cloudfront distribution {id} (elsewhere-{suffix}.example.com): ");
    correct(
        &clients,
        &t,
        &[format!(
            "{resource}Aliases elsewhere-{suffix}.example.com → {domain}, ViewerCertificate.ACMCertificateArn {OTHER_CERT} → {CERT}"
        )],
    )
    .await;

    // Disabled by hand.
    edit(&client, &id, |c| {
        copy(c).enabled(false).build().expect("config")
    })
    .await;
    correct(&clients, &t, &[update("Enabled false → true")]).await;

    // A new certificate from ACM is rolled out.
    let plan = run(&clients, &t, OTHER_CERT, Mode::Plan).await;
    assert_eq!(
        lines(&plan),
        [update(&format!(
            "ViewerCertificate.ACMCertificateArn {CERT} → {OTHER_CERT}"
        ))]
    );

    // Deleted by hand, the way CloudFront allows it (disabled, deployed,
    // then deleted): created anew, under a fresh caller reference if the
    // old one is refused.
    let current = client
        .get_distribution_config()
        .id(&id)
        .send()
        .await
        .expect("config");
    let disabled = copy(current.distribution_config().expect("config"))
        .enabled(false)
        .build()
        .expect("disabled config");
    let mut etag = client
        .update_distribution()
        .id(&id)
        .if_match(current.e_tag().expect("etag"))
        .distribution_config(disabled)
        .send()
        .await
        .expect("disable by hand")
        .e_tag()
        .map(str::to_owned)
        .expect("etag");
    for _ in 0..60 {
        let got = client.get_distribution().id(&id).send().await.expect("get");
        etag = got.e_tag().map(str::to_owned).expect("etag");
        if got.distribution().map(|d| d.status()) == Some("Deployed") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    client
        .delete_distribution()
        .id(&id)
        .if_match(etag)
        .send()
        .await
        .expect("delete by hand");
    let recreated = correct(
        &clients,
        &t,
        &[format!("create cloudfront distribution {domain}")],
    )
    .await;
    let new_id = recreated.outputs.distribution_id.clone().expect("new id");
    assert_ne!(new_id, id);
    assert_eq!(
        tagged_with(&client, &t.uid).await,
        std::slice::from_ref(&new_id)
    );

    // Destroy: plan, then apply; ours gone, the foreign one untouched.
    let before = clients.calls().snapshot();
    let plan = cloudfront::destroy(&clients, &t, Mode::Plan)
        .await
        .expect("destroy plan");
    assert_eq!(clients.calls().snapshot().since(&before).mutating(), 0);
    assert_eq!(
        lines(&plan),
        [
            format!("update cloudfront distribution {new_id} ({domain}): Enabled true → false"),
            format!("delete cloudfront distribution {new_id} ({domain})"),
        ]
    );
    // Disabled in the first pass, deleted once CloudFront deployed the disable.
    let mut done = Vec::new();
    for _ in 0..60 {
        let destroyed = cloudfront::destroy(&clients, &t, Mode::Apply)
            .await
            .expect("destroy");
        done.extend(lines(&destroyed));
        if destroyed.pending.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert_eq!(done, lines(&plan));
    let gone = client.get_distribution().id(&new_id).send().await;
    assert!(
        gone.as_ref()
            .err()
            .and_then(|e| e.as_service_error())
            .is_some_and(|e| e.is_no_such_distribution()),
        "our distribution must be gone: {gone:?}"
    );
    let again = cloudfront::destroy(&clients, &t, Mode::Apply)
        .await
        .expect("destroy again");
    assert!(again.changes.is_empty() && again.pending.is_empty());

    let foreign_after = client
        .get_distribution_config()
        .id(&foreign_id)
        .send()
        .await
        .expect("the foreign distribution is still there");
    assert_eq!(foreign_after.distribution_config(), Some(&foreign_before));
}

#[tokio::test]
async fn a_foreign_distribution_serving_our_domain_is_a_conflict_and_left_alone() {
    let env = common::env();
    let clients = env.aws_clients().await;
    let client = clients.cloudfront();
    let suffix = common::unique_suffix();
    let t = target(&suffix);
    let (foreign_id, foreign_before) = foreign(&client, &suffix, &t.spec.domain).await;

    let applied = run(&clients, &t, CERT, Mode::Apply).await;
    assert!(applied.changes.is_empty(), "{:?}", lines(&applied));
    assert_eq!(
        Finding::texts(&applied.conflicts),
        [format!(
            "{} is an alternate domain name of CloudFront distribution {foreign_id}, which no GlobalApi owns",
            t.spec.domain
        )]
    );
    assert_eq!(applied.outputs, CloudFrontOutputs::default());
    assert!(tagged_with(&client, &t.uid).await.is_empty());

    let destroyed = cloudfront::destroy(&clients, &t, Mode::Apply)
        .await
        .expect("destroy");
    assert!(destroyed.changes.is_empty());
    let after = client
        .get_distribution_config()
        .id(&foreign_id)
        .send()
        .await
        .expect("the foreign distribution is still there");
    assert_eq!(after.distribution_config(), Some(&foreign_before));
}

#[tokio::test]
async fn an_interrupted_create_is_adopted_not_twinned() {
    let env = common::env();
    let clients = env.aws_clients().await;
    let client = clients.cloudfront();
    let suffix = common::unique_suffix();
    let t = target(&suffix);

    // A distribution our caller reference made, whose comment and aliases were
    // since changed by hand, so that the listing's pre-filter passes it by.
    let (_, theirs) = foreign(&client, &suffix, &format!("renamed-{suffix}.example.com")).await;
    let config = copy(&theirs)
        .caller_reference(caller_reference(&t))
        .comment("renamed by hand")
        .build()
        .expect("config");
    let tags: Vec<Tag> = t
        .tags()
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().expect("tag"))
        .collect();
    let made = client
        .create_distribution_with_tags()
        .distribution_config_with_tags(
            aws_sdk_cloudfront::types::DistributionConfigWithTags::builder()
                .distribution_config(config)
                .tags(Tags::builder().set_items(Some(tags)).build())
                .build(),
        )
        .send()
        .await
        .expect("create ours by hand");
    let id = made.distribution().expect("distribution").id().to_owned();

    let applied = run(&clients, &t, CERT, Mode::Apply).await;
    assert_eq!(applied.changes.len(), 1, "{:?}", lines(&applied));
    assert!(
        lines(&applied)[0].starts_with(&format!(
            "update cloudfront distribution {id} (renamed-{suffix}.example.com): Comment"
        )),
        "{:?}",
        lines(&applied)
    );
    assert_eq!(
        applied.outputs.distribution_id.as_deref(),
        Some(id.as_str())
    );
    assert_eq!(
        tagged_with(&client, &t.uid).await,
        std::slice::from_ref(&id)
    );

    let plan = run(&clients, &t, CERT, Mode::Plan).await;
    assert!(plan.changes.is_empty(), "{:?}", lines(&plan));

    // Disabled first; deleted by a later pass once CloudFront has deployed the disable.
    let mut changes = Vec::new();
    for _ in 0..60 {
        let destroyed = cloudfront::destroy(&clients, &t, Mode::Apply)
            .await
            .expect("destroy");
        changes.extend(lines(&destroyed));
        if destroyed.pending.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert!(changes[0].contains("Enabled true → false"), "{changes:?}");
    assert!(
        changes[1].starts_with("delete cloudfront distribution"),
        "{changes:?}"
    );
    assert!(tagged_with(&client, &t.uid).await.is_empty());
}
