//! Changing CloudFront: create with tags, update and disable under the
//! ETag read with the configuration (`IfMatch`), delete once disabled and
//! Deployed. Nothing waits: what must wait is returned as pending.

use std::collections::BTreeMap;

use aws_sdk_cloudfront::{
    Client,
    error::BuildError,
    types::{
        Aliases, AllowedMethods, CacheBehaviors, CachedMethods, CustomOriginConfig,
        DefaultCacheBehavior, Distribution as SdkDistribution, DistributionConfig,
        DistributionConfigWithTags, EventType, GeoRestriction, GeoRestrictionType, HttpVersion,
        LambdaFunctionAssociation, LambdaFunctionAssociations, Method, MinimumProtocolVersion,
        Origin as SdkOrigin, OriginProtocolPolicy, OriginSslProtocols, Origins, PriceClass,
        Restrictions, SslProtocol, SslSupportMethod, Tag, Tags, ViewerCertificate,
        ViewerProtocolPolicy, builders::DistributionConfigBuilder,
    },
};

use crate::error::{Error, Result};
use crate::plan::Change;
use crate::target::Target;

use super::desired::caller_reference;
use super::diff::{DistributionOp, deletion_pending};
use super::distribution::{Distribution, Origin};
use super::observe::{self, Observation};

/// The distribution serving the spec, as the last call left it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Live {
    pub id: String,
    pub domain_name: String,
    pub status: String,
    pub certificate_arn: Option<String>,
}

impl Live {
    fn of(distribution: &SdkDistribution) -> Self {
        Self {
            id: distribution.id().to_owned(),
            domain_name: distribution.domain_name().to_owned(),
            status: distribution.status().to_owned(),
            certificate_arn: distribution
                .distribution_config()
                .and_then(|c| c.viewer_certificate())
                .and_then(|v| v.acm_certificate_arn())
                .filter(|a| !a.is_empty())
                .map(str::to_owned),
        }
    }
}

/// What applying the operations did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// The changes made.
    pub changes: Vec<Change>,
    /// What must wait for a later pass (a distribution still deploying).
    pub pending: Vec<String>,
    /// Names CloudFront refused because another distribution holds them.
    pub conflicts: Vec<String>,
    /// The distribution serving the spec, when this pass created or updated it.
    pub live: Option<Live>,
}

/// What we know of a distribution being removed.
struct Removal {
    etag: String,
    status: String,
    enabled: bool,
}

/// Applies the operations in order. A refused precondition (someone changed
/// the distribution since we read it) is an error: the next pass reads again.
pub async fn execute(
    client: &Client,
    target: &Target,
    ops: &[DistributionOp],
    observation: &Observation,
) -> Result<Applied> {
    let mut applied = Applied::default();
    let mut removals: BTreeMap<String, Removal> = observation
        .ours
        .iter()
        .map(|f| {
            let removal = Removal {
                etag: f.etag.clone(),
                status: f.status.clone(),
                enabled: f.current.enabled,
            };
            (f.id.clone(), removal)
        })
        .collect();

    for op in ops {
        match op {
            DistributionOp::Create(want) => create(client, target, want, op, &mut applied).await?,
            DistributionOp::Update {
                id, etag, desired, ..
            } => {
                let base = base_config(observation, id)?;
                let distribution = update(
                    client,
                    id,
                    etag,
                    to_config(desired, base.caller_reference(), Some(base))?,
                )
                .await?;
                applied.changes.push(op.change());
                applied.live = Some(Live::of(&distribution));
            }
            DistributionOp::Disable { id, etag, .. } => {
                let base = base_config(observation, id)?;
                match disable(client, id, etag, base).await? {
                    Some(removal) => {
                        applied.changes.push(op.change());
                        removals.insert(id.clone(), removal);
                    }
                    None => {
                        removals.remove(id);
                    }
                }
            }
            DistributionOp::Delete { id, .. } => {
                // Gone already, or not disabled because the disable failed.
                let Some(state) = removals.get(id) else {
                    continue;
                };
                delete(client, id, state, op, &mut applied).await?;
            }
        }
    }
    Ok(applied)
}

/// Disables distribution `id` (the step before its deletion): what is known
/// of it after, or `None` when it is gone already.
async fn disable(
    client: &Client,
    id: &str,
    etag: &str,
    base: &DistributionConfig,
) -> Result<Option<Removal>> {
    let config = builder_from(base)
        .enabled(false)
        .build()
        .map_err(|e| invalid(id, e))?;
    match client
        .update_distribution()
        .id(id)
        .if_match(etag)
        .distribution_config(config)
        .send()
        .await
    {
        Ok(out) => {
            let status = out
                .distribution()
                .map(|d| d.status().to_owned())
                .unwrap_or_default();
            Ok(Some(Removal {
                etag: out.e_tag().unwrap_or(etag).to_owned(),
                status,
                enabled: false,
            }))
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_distribution()) =>
        {
            Ok(None)
        }
        Err(e) => Err(Error::aws("cloudfront", "UpdateDistribution", e)),
    }
}

/// Deletes distribution `id` once it is disabled and deployed; until then a
/// pending line says what it waits for.
async fn delete(
    client: &Client,
    id: &str,
    state: &Removal,
    op: &DistributionOp,
    applied: &mut Applied,
) -> Result<()> {
    if state.enabled {
        return Ok(());
    }
    if state.status != "Deployed" {
        applied.pending.push(deletion_pending(id, &state.status));
        return Ok(());
    }
    match client
        .delete_distribution()
        .id(id)
        .if_match(&state.etag)
        .send()
        .await
    {
        Ok(_) => applied.changes.push(op.change()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_distribution()) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_distribution_not_disabled()) =>
        {
            applied.pending.push(format!(
                "distribution {id} is not disabled yet (DistributionNotDisabled); it is deleted once it is"
            ));
        }
        Err(e) => return Err(Error::aws("cloudfront", "DeleteDistribution", e)),
    }
    Ok(())
}

/// Creates the distribution; when CloudFront says our caller reference
/// belongs to a distribution that is gone, tries the reference's renewals.
async fn create(
    client: &Client,
    target: &Target,
    want: &Distribution,
    op: &DistributionOp,
    applied: &mut Applied,
) -> Result<()> {
    for renewal in 0..=crate::target::RENEWALS {
        let reference = Target::renewed(&caller_reference(target), renewal);
        if create_under(client, target, want, op, applied, &reference).await? {
            return Ok(());
        }
        tracing::info!(
            reference,
            "the distribution's caller reference belongs to a deleted distribution; trying a fresh one"
        );
    }
    Err(Error::Unexpected(format!(
        "every caller reference tried for the distribution of {} belongs to a deleted distribution",
        target.spec.domain
    )))
}

/// One create under `reference`; `false` when the reference belongs to a
/// distribution that no longer exists (nothing was made).
async fn create_under(
    client: &Client,
    target: &Target,
    want: &Distribution,
    op: &DistributionOp,
    applied: &mut Applied,
    reference: &str,
) -> Result<bool> {
    let tags = target
        .tags()
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid("tags", e))?;
    let config = DistributionConfigWithTags::builder()
        .distribution_config(to_config(want, reference, None)?)
        .tags(Tags::builder().set_items(Some(tags)).build())
        .build();
    let err = match client
        .create_distribution_with_tags()
        .distribution_config_with_tags(config)
        .send()
        .await
    {
        Ok(out) => {
            let distribution = out.distribution().ok_or_else(|| {
                Error::Unexpected("CreateDistributionWithTags returned no distribution".into())
            })?;
            applied.changes.push(op.change());
            applied.live = Some(Live::of(distribution));
            return Ok(true);
        }
        Err(e) => e,
    };
    let Some(service) = err.as_service_error() else {
        return Err(Error::aws("cloudfront", "CreateDistributionWithTags", err));
    };
    if service.is_cname_already_exists() {
        let error = Error::aws("cloudfront", "CreateDistributionWithTags", err);
        applied.conflicts.push(format!(
            "{} is an alternate domain name of another CloudFront distribution: {error}",
            want.label()
        ));
        return Ok(true);
    }
    if service.is_distribution_already_exists() {
        // Our caller reference made it earlier (a pass interrupted, or the
        // comment and aliases changed by hand so the listing missed it).
        let error = Error::aws("cloudfront", "CreateDistributionWithTags", err);
        return take_back(client, target, want, existing_id(&error), applied).await;
    }
    Err(Error::aws("cloudfront", "CreateDistributionWithTags", err))
}

/// The distribution our caller reference made earlier (`id`, as CloudFront
/// named it), taken back and set to `want`; `false` when it is gone
/// (deleted by hand), so that the next renewal of the reference is tried.
async fn take_back(
    client: &Client,
    target: &Target,
    want: &Distribution,
    id: Option<&str>,
    applied: &mut Applied,
) -> Result<bool> {
    let Some((found, base)) = (match id {
        Some(id) => observe::ours_by_id(client, target, id).await?,
        None => None,
    }) else {
        // The distribution that reference made is gone (deleted by hand).
        return Ok(false);
    };
    if found.current == *want {
        applied.live = Some(Live {
            id: found.id.clone(),
            domain_name: found.domain_name.clone(),
            status: found.status.clone(),
            certificate_arn: found.current.viewer_certificate.acm_certificate_arn.clone(),
        });
        return Ok(true);
    }
    let adopt = DistributionOp::Update {
        id: found.id.clone(),
        etag: found.etag.clone(),
        observed: Box::new(found.current.clone()),
        desired: Box::new(want.clone()),
    };
    let distribution = update(
        client,
        &found.id,
        &found.etag,
        to_config(want, base.caller_reference(), Some(&base))?,
    )
    .await?;
    applied.changes.push(adopt.change());
    applied.live = Some(Live::of(&distribution));
    Ok(true)
}

/// The id CloudFront names in `DistributionAlreadyExists` ("… Already exists: E123").
fn existing_id(error: &Error) -> Option<&str> {
    let Error::Aws { message, .. } = error else {
        return None;
    };
    let id = message
        .rsplit(|c: char| c.is_whitespace() || c == ':')
        .next()?;
    let id = id.trim_end_matches('.');
    (!id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric())).then_some(id)
}

async fn update(
    client: &Client,
    id: &str,
    etag: &str,
    config: DistributionConfig,
) -> Result<SdkDistribution> {
    let out = client
        .update_distribution()
        .id(id)
        .if_match(etag)
        .distribution_config(config)
        .send()
        .await
        .map_err(|e| Error::aws("cloudfront", "UpdateDistribution", e))?;
    out.distribution()
        .cloned()
        .ok_or_else(|| Error::Unexpected("UpdateDistribution returned no distribution".into()))
}

fn base_config<'a>(observation: &'a Observation, id: &str) -> Result<&'a DistributionConfig> {
    observation.configs.get(id).ok_or_else(|| {
        Error::Unexpected(format!("no configuration was read for distribution {id}"))
    })
}

fn invalid(what: &str, e: BuildError) -> Error {
    Error::Unexpected(format!("distribution {what}: {e}"))
}

/// A builder holding every field of `base`, to change some and keep the rest.
fn builder_from(base: &DistributionConfig) -> DistributionConfigBuilder {
    DistributionConfig::builder()
        .caller_reference(base.caller_reference())
        .set_aliases(base.aliases().cloned())
        .set_default_root_object(base.default_root_object().map(str::to_owned))
        .set_origins(base.origins().cloned())
        .set_origin_groups(base.origin_groups().cloned())
        .set_default_cache_behavior(base.default_cache_behavior().cloned())
        .set_cache_behaviors(base.cache_behaviors().cloned())
        .set_custom_error_responses(base.custom_error_responses().cloned())
        .comment(base.comment())
        .set_logging(base.logging().cloned())
        .set_price_class(base.price_class().cloned())
        .enabled(base.enabled())
        .set_viewer_certificate(base.viewer_certificate().cloned())
        .set_restrictions(base.restrictions().cloned())
        .set_web_acl_id(base.web_acl_id().map(str::to_owned))
        .set_http_version(base.http_version().cloned())
        .set_is_ipv6_enabled(base.is_ipv6_enabled())
        .set_continuous_deployment_policy_id(
            base.continuous_deployment_policy_id().map(str::to_owned),
        )
        .set_staging(base.staging())
        .set_anycast_ip_list_id(base.anycast_ip_list_id().map(str::to_owned))
        .set_tenant_config(base.tenant_config().cloned())
        .set_connection_mode(base.connection_mode().cloned())
        .set_viewer_mtls_config(base.viewer_mtls_config().cloned())
        .set_connection_function_association(base.connection_function_association().cloned())
}

/// The SDK configuration for `want`: every field we set from `want`, every
/// other field from `base` (the live configuration) when there is one.
pub(crate) fn to_config(
    want: &Distribution,
    caller_reference: &str,
    base: Option<&DistributionConfig>,
) -> Result<DistributionConfig> {
    let builder = match base {
        Some(base) => builder_from(base),
        None => DistributionConfig::builder().caller_reference(caller_reference),
    };
    let aliases = Aliases::builder()
        .quantity(want.aliases.len() as i32)
        .set_items(non_empty(want.aliases.clone()))
        .build()
        .map_err(|e| invalid("aliases", e))?;
    let viewer_certificate = to_viewer_certificate(&want.viewer_certificate);
    let origins = to_origins(want, base)?;
    let behavior = to_default_behavior(want, base.and_then(|b| b.default_cache_behavior()))?;
    let geo = &want.geo_restriction;
    let restrictions = Restrictions::builder()
        .geo_restriction(
            GeoRestriction::builder()
                .restriction_type(GeoRestrictionType::from(geo.restriction_type.as_str()))
                .quantity(geo.locations.len() as i32)
                .set_items(non_empty(geo.locations.clone()))
                .build()
                .map_err(|e| invalid("geo restriction", e))?,
        )
        .build();
    builder
        .comment(&want.comment)
        .aliases(aliases)
        .viewer_certificate(viewer_certificate)
        .origins(origins)
        .default_cache_behavior(behavior)
        .cache_behaviors(
            CacheBehaviors::builder()
                .quantity(0)
                .build()
                .map_err(|e| invalid("cache behaviours", e))?,
        )
        .price_class(PriceClass::from(want.price_class.as_str()))
        .restrictions(restrictions)
        .enabled(want.enabled)
        .http_version(HttpVersion::from(want.http_version.as_str()))
        .is_ipv6_enabled(want.ipv6_enabled)
        .build()
        .map_err(|e| invalid("configuration", e))
}

/// The viewer certificate: ours from ACM, or CloudFront's default.
fn to_viewer_certificate(
    certificate: &super::distribution::ViewerCertificate,
) -> ViewerCertificate {
    match &certificate.acm_certificate_arn {
        Some(arn) => ViewerCertificate::builder()
            .cloud_front_default_certificate(false)
            .acm_certificate_arn(arn)
            .set_ssl_support_method(
                certificate
                    .ssl_support_method
                    .as_deref()
                    .map(SslSupportMethod::from),
            )
            .set_minimum_protocol_version(
                certificate
                    .minimum_protocol_version
                    .as_deref()
                    .map(MinimumProtocolVersion::from),
            )
            .build(),
        None => ViewerCertificate::builder()
            .cloud_front_default_certificate(true)
            .build(),
    }
}

/// Our origins, each keeping what we do not set from the live one.
fn to_origins(want: &Distribution, base: Option<&DistributionConfig>) -> Result<Origins> {
    let base_origins = base
        .and_then(|b| b.origins())
        .map(|o| o.items())
        .unwrap_or_default();
    let origins = want
        .origins
        .iter()
        .map(|o| to_origin(o, base_origins.iter().find(|b| b.id() == o.id)))
        .collect::<Result<Vec<_>>>()?;
    Origins::builder()
        .quantity(origins.len() as i32)
        .set_items(Some(origins))
        .build()
        .map_err(|e| invalid("origins", e))
}

fn non_empty(items: Vec<String>) -> Option<Vec<String>> {
    (!items.is_empty()).then_some(items)
}

/// Our origin, keeping what we do not set (timeouts, headers, shield) from the live one.
fn to_origin(want: &Origin, base: Option<&SdkOrigin>) -> Result<SdkOrigin> {
    let base_custom = base.and_then(|b| b.custom_origin_config());
    let protocols = want
        .ssl_protocols
        .iter()
        .map(|p| SslProtocol::from(p.as_str()))
        .collect::<Vec<_>>();
    let custom = CustomOriginConfig::builder()
        .http_port(base_custom.map(|c| c.http_port()).unwrap_or(80))
        .https_port(want.https_port.unwrap_or(443))
        .origin_protocol_policy(OriginProtocolPolicy::from(
            want.protocol_policy.as_deref().unwrap_or("https-only"),
        ))
        .origin_ssl_protocols(
            OriginSslProtocols::builder()
                .quantity(protocols.len() as i32)
                .set_items(Some(protocols))
                .build()
                .map_err(|e| invalid("origin SSL protocols", e))?,
        )
        .set_origin_read_timeout(base_custom.and_then(|c| c.origin_read_timeout()))
        .set_origin_keepalive_timeout(base_custom.and_then(|c| c.origin_keepalive_timeout()))
        .set_ip_address_type(base_custom.and_then(|c| c.ip_address_type()).cloned())
        .set_origin_mtls_config(base_custom.and_then(|c| c.origin_mtls_config()).cloned())
        .build()
        .map_err(|e| invalid("custom origin", e))?;
    SdkOrigin::builder()
        .id(&want.id)
        .domain_name(&want.domain_name)
        .custom_origin_config(custom)
        .set_origin_path(base.and_then(|b| b.origin_path()).map(str::to_owned))
        .set_custom_headers(base.and_then(|b| b.custom_headers()).cloned())
        .set_connection_attempts(base.and_then(|b| b.connection_attempts()))
        .set_connection_timeout(base.and_then(|b| b.connection_timeout()))
        .set_response_completion_timeout(base.and_then(|b| b.response_completion_timeout()))
        .set_origin_shield(base.and_then(|b| b.origin_shield()).cloned())
        .build()
        .map_err(|e| invalid("origin", e))
}

/// Our default cache behaviour. The legacy `ForwardedValues` and TTLs are
/// dropped: a cache policy replaces them and CloudFront refuses both at once.
fn to_default_behavior(
    want: &Distribution,
    base: Option<&DefaultCacheBehavior>,
) -> Result<DefaultCacheBehavior> {
    let b = &want.default_cache_behavior;
    let methods = |items: &[String]| {
        items
            .iter()
            .map(|m| Method::from(m.as_str()))
            .collect::<Vec<_>>()
    };
    let cached = methods(&b.cached_methods);
    let allowed = methods(&b.allowed_methods);
    let allowed = AllowedMethods::builder()
        .quantity(allowed.len() as i32)
        .set_items(Some(allowed))
        .cached_methods(
            CachedMethods::builder()
                .quantity(cached.len() as i32)
                .set_items(Some(cached))
                .build()
                .map_err(|e| invalid("cached methods", e))?,
        )
        .build()
        .map_err(|e| invalid("allowed methods", e))?;
    let base_lambdas = base
        .and_then(|d| d.lambda_function_associations())
        .map(|l| l.items())
        .unwrap_or_default();
    let lambdas = b
        .lambda_associations
        .iter()
        .map(|a| {
            let include_body = base_lambdas
                .iter()
                .find(|l| l.event_type().as_str() == a.event_type)
                .and_then(|l| l.include_body());
            LambdaFunctionAssociation::builder()
                .lambda_function_arn(&a.arn)
                .event_type(EventType::from(a.event_type.as_str()))
                .set_include_body(include_body)
                .build()
                .map_err(|e| invalid("Lambda@Edge association", e))
        })
        .collect::<Result<Vec<_>>>()?;
    let lambdas = LambdaFunctionAssociations::builder()
        .quantity(lambdas.len() as i32)
        .set_items((!lambdas.is_empty()).then_some(lambdas))
        .build()
        .map_err(|e| invalid("Lambda@Edge associations", e))?;
    DefaultCacheBehavior::builder()
        .target_origin_id(&b.target_origin_id)
        .viewer_protocol_policy(ViewerProtocolPolicy::from(
            b.viewer_protocol_policy.as_str(),
        ))
        .allowed_methods(allowed)
        .set_cache_policy_id(b.cache_policy_id.clone())
        .set_origin_request_policy_id(b.origin_request_policy_id.clone())
        .lambda_function_associations(lambdas)
        .set_trusted_signers(base.and_then(|d| d.trusted_signers()).cloned())
        .set_trusted_key_groups(base.and_then(|d| d.trusted_key_groups()).cloned())
        .set_smooth_streaming(base.and_then(|d| d.smooth_streaming()))
        .set_compress(base.and_then(|d| d.compress()))
        .set_function_associations(base.and_then(|d| d.function_associations()).cloned())
        .set_field_level_encryption_id(
            base.and_then(|d| d.field_level_encryption_id())
                .map(str::to_owned),
        )
        .set_realtime_log_config_arn(
            base.and_then(|d| d.realtime_log_config_arn())
                .map(str::to_owned),
        )
        .set_response_headers_policy_id(
            base.and_then(|d| d.response_headers_policy_id())
                .map(str::to_owned),
        )
        .set_grpc_config(base.and_then(|d| d.grpc_config()).cloned())
        .build()
        .map_err(|e| invalid("default cache behaviour", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::cloudfront::desired::{CloudFrontInputs, Desired, desired};
    use crate::aws::cloudfront::observe::plain;
    use crate::target::fixtures::{LATENCY, target};

    fn want() -> Distribution {
        let mut t = target(LATENCY);
        if let Some(edge) = t.spec.edge.as_mut() {
            edge.lambda_associations = vec![crate::api::EdgeLambdaAssociation {
                event_type: crate::api::LambdaEventType::OriginRequest,
                arn: "arn:aws:lambda:us-east-1:123456789012:function:f:3".into(),
            }];
            edge.geo_restriction.restriction_type = crate::api::GeoRestrictionType::Whitelist;
            edge.geo_restriction.locations = vec!["US".into()];
        }
        match desired(
            &t,
            &CloudFrontInputs {
                certificate_arn: Some("arn:aws:acm:us-east-1:123456789012:certificate/c".into()),
                ..Default::default()
            },
        ) {
            Desired::Present(d) => *d,
            other => panic!("expected a distribution, got {other:?}"),
        }
    }

    #[test]
    fn the_sdk_configuration_reads_back_as_the_same_distribution() {
        let want = want();
        let config = to_config(&want, "ref", None).expect("builds");
        assert_eq!(config.caller_reference(), "ref");
        assert_eq!(plain(&config), want);
    }

    #[test]
    fn an_update_keeps_what_we_do_not_set() {
        let want = want();
        let live = builder_from(&to_config(&want, "original-ref", None).expect("builds"))
            .default_root_object("index.html")
            .web_acl_id("arn:aws:wafv2:us-east-1:123456789012:global/webacl/x")
            .build()
            .expect("builds");
        let mut changed = want.clone();
        changed.price_class = "PriceClass_All".into();
        let updated = to_config(&changed, "ignored", Some(&live)).expect("builds");
        assert_eq!(updated.caller_reference(), "original-ref");
        assert_eq!(updated.default_root_object(), Some("index.html"));
        assert!(updated.web_acl_id().is_some());
        assert_eq!(plain(&updated), changed);
    }

    #[test]
    fn the_id_is_read_from_already_exists() {
        let error = Error::Aws {
            service: "cloudfront",
            operation: "CreateDistributionWithTags",
            code: "DistributionAlreadyExists".into(),
            message: "The caller reference that you are using to create a distribution is associated with another distribution. Already exists: E2QWRUHAPOMQZL".into(),
        };
        assert_eq!(existing_id(&error), Some("E2QWRUHAPOMQZL"));
    }
}
