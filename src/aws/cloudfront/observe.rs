//! Reading CloudFront: our distributions (found by tag), the distributions
//! of others that claim our domain, and their configurations as plain values.

use std::collections::BTreeMap;

use aws_sdk_cloudfront::{
    Client,
    types::{DistributionConfig, DistributionSummary},
};

use crate::aws::shared::ListingView;
use crate::error::{Error, Result};
use crate::target::{OWNER_TAG, Target, UID_TAG};

use super::desired::comment;
use super::distribution::{
    CacheBehavior, Distribution, GeoRestriction, LambdaAssociation, Origin, ViewerCertificate,
};

/// A page of `ListDistributions`.
const PAGE: i32 = 100;

/// A distribution of ours, as AWS has it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub id: String,
    pub arn: String,
    /// `dxxxx.cloudfront.net`.
    pub domain_name: String,
    /// `InProgress` or `Deployed`.
    pub status: String,
    /// The version an update or delete must name in `IfMatch`.
    pub etag: String,
    pub caller_reference: String,
    pub current: Distribution,
}

impl Found {
    /// Whether CloudFront has finished deploying its last change.
    pub fn deployed(&self) -> bool {
        self.status == "Deployed"
    }
}

/// A distribution that is not ours and serves one of our names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Foreign {
    pub id: String,
    /// Lower case.
    pub aliases: Vec<String>,
    /// The GlobalApi owning it, from its owner tag, if any.
    pub owner: Option<String>,
}

/// What CloudFront holds that concerns one GlobalApi.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observation {
    pub ours: Vec<Found>,
    pub foreign: Vec<Foreign>,
    /// Our distributions' whole configurations, by id: an update replaces
    /// the whole configuration, so what we do not set is carried over.
    pub configs: BTreeMap<String, DistributionConfig>,
}

/// Finds our distributions and the foreign ones that use our domain.
///
/// Only distributions whose comment names this GlobalApi, or whose aliases
/// include its domain, have their tags read; the uid tag decides.
pub async fn distributions(
    client: &Client,
    listing: &ListingView,
    target: &Target,
) -> Result<Observation> {
    let our_comment = comment(target);
    let domain = target.spec.domain.to_ascii_lowercase();
    let listed = listing
        .listings
        .distributions
        .get(LISTING_KEY, listing.fresher_than, || {
            list_distributions(client)
        })
        .await?;
    let candidates: Vec<&DistributionSummary> = listed
        .iter()
        .filter(|s| s.comment() == our_comment || aliases_of(s).contains(&domain))
        .collect();

    let mut observation = Observation::default();
    for summary in candidates {
        let tags = tags(client, summary.arn()).await?;
        if tags.get(UID_TAG).map(String::as_str) == Some(target.uid.as_str()) {
            if let Some((found, config)) = get(client, summary.id(), summary.arn()).await? {
                observation.configs.insert(found.id.clone(), config);
                observation.ours.push(found);
            }
        } else {
            observation.foreign.push(Foreign {
                id: summary.id().to_owned(),
                aliases: aliases_of(summary),
                owner: tags.get(OWNER_TAG).cloned(),
            });
        }
    }
    Ok(observation)
}

/// The key of the account's one distribution listing (CloudFront is global).
pub(crate) const LISTING_KEY: &str = "global";

/// Every distribution of the account, all pages.
pub(crate) async fn list_distributions(client: &Client) -> Result<Vec<DistributionSummary>> {
    let mut summaries: Vec<DistributionSummary> = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = client
            .list_distributions()
            .set_marker(marker.take())
            .max_items(PAGE)
            .send()
            .await
            .map_err(|e| Error::aws("cloudfront", "ListDistributions", e))?;
        let Some(list) = out.distribution_list() else {
            break;
        };
        summaries.extend(list.items().iter().cloned());
        match (list.is_truncated(), list.next_marker()) {
            (true, Some(m)) if !m.is_empty() => marker = Some(m.to_owned()),
            _ => break,
        }
    }
    Ok(summaries)
}

/// One distribution by id, if it exists and carries our uid tag.
pub(crate) async fn ours_by_id(
    client: &Client,
    target: &Target,
    id: &str,
) -> Result<Option<(Found, DistributionConfig)>> {
    let Some((found, config)) = get(client, id, "").await? else {
        return Ok(None);
    };
    let tags = tags(client, &found.arn).await?;
    Ok(
        (tags.get(UID_TAG).map(String::as_str) == Some(target.uid.as_str()))
            .then_some((found, config)),
    )
}

fn aliases_of(summary: &DistributionSummary) -> Vec<String> {
    summary
        .aliases()
        .map(|a| a.items().iter().map(|s| s.to_ascii_lowercase()).collect())
        .unwrap_or_default()
}

pub(crate) async fn tags(client: &Client, arn: &str) -> Result<BTreeMap<String, String>> {
    match client.list_tags_for_resource().resource(arn).send().await {
        Ok(out) => Ok(out
            .tags()
            .map(|t| t.items())
            .unwrap_or_default()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().unwrap_or_default().to_owned()))
            .collect()),
        // Deleted between the listing and now.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_resource()) =>
        {
            Ok(BTreeMap::new())
        }
        Err(e) => Err(Error::aws("cloudfront", "ListTagsForResource", e)),
    }
}

/// The distribution, its configuration and its ETag, in one consistent read.
async fn get(client: &Client, id: &str, arn: &str) -> Result<Option<(Found, DistributionConfig)>> {
    let out = match client.get_distribution().id(id).send().await {
        Ok(out) => out,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_distribution()) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(Error::aws("cloudfront", "GetDistribution", e)),
    };
    let missing =
        |what: &str| Error::Unexpected(format!("GetDistribution {id} returned no {what}"));
    let distribution = out.distribution().ok_or_else(|| missing("distribution"))?;
    let config = distribution
        .distribution_config()
        .ok_or_else(|| missing("configuration"))?;
    let etag = out.e_tag().ok_or_else(|| missing("ETag"))?;
    let found = Found {
        id: distribution.id().to_owned(),
        arn: if distribution.arn().is_empty() {
            arn.to_owned()
        } else {
            distribution.arn().to_owned()
        },
        domain_name: distribution.domain_name().to_owned(),
        status: distribution.status().to_owned(),
        etag: etag.to_owned(),
        caller_reference: config.caller_reference().to_owned(),
        current: plain(config),
    };
    Ok(Some((found, config.clone())))
}

/// The fields we set, read from an SDK configuration.
pub fn plain(config: &DistributionConfig) -> Distribution {
    let geo = config.restrictions().and_then(|r| r.geo_restriction());
    Distribution {
        comment: config.comment().to_owned(),
        aliases: config
            .aliases()
            .map(|a| a.items().to_vec())
            .unwrap_or_default(),
        viewer_certificate: viewer_certificate(config),
        origins: origins(config),
        default_cache_behavior: default_cache_behavior(config),
        cache_behaviors: config
            .cache_behaviors()
            .map(|c| {
                c.items()
                    .iter()
                    .map(|b| b.path_pattern().to_owned())
                    .collect()
            })
            .unwrap_or_default(),
        price_class: config
            .price_class()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
        geo_restriction: GeoRestriction {
            restriction_type: geo
                .map(|g| g.restriction_type().as_str().to_owned())
                .unwrap_or_else(|| "none".into()),
            locations: geo.map(|g| g.items().to_vec()).unwrap_or_default(),
        },
        enabled: config.enabled(),
        http_version: config
            .http_version()
            .map(|v| v.as_str().to_owned())
            .unwrap_or_default(),
        ipv6_enabled: config.is_ipv6_enabled().unwrap_or(false),
    }
    .normalized()
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_owned)
}

fn viewer_certificate(config: &DistributionConfig) -> ViewerCertificate {
    let certificate = config.viewer_certificate();
    ViewerCertificate {
        acm_certificate_arn: non_empty(certificate.and_then(|c| c.acm_certificate_arn())),
        ssl_support_method: certificate
            .and_then(|c| c.ssl_support_method())
            .map(|m| m.as_str().to_owned()),
        minimum_protocol_version: certificate
            .and_then(|c| c.minimum_protocol_version())
            .map(|v| v.as_str().to_owned()),
    }
}

fn origins(config: &DistributionConfig) -> Vec<Origin> {
    config
        .origins()
        .map(|o| o.items())
        .unwrap_or_default()
        .iter()
        .map(|o| {
            let custom = o.custom_origin_config();
            Origin {
                id: o.id().to_owned(),
                domain_name: o.domain_name().to_owned(),
                protocol_policy: custom.map(|c| c.origin_protocol_policy().as_str().to_owned()),
                ssl_protocols: custom
                    .and_then(|c| c.origin_ssl_protocols())
                    .map(|p| p.items().iter().map(|s| s.as_str().to_owned()).collect())
                    .unwrap_or_default(),
                https_port: custom.map(|c| c.https_port()),
            }
        })
        .collect()
}

fn default_cache_behavior(config: &DistributionConfig) -> CacheBehavior {
    let behavior = config.default_cache_behavior();
    let allowed = behavior.and_then(|b| b.allowed_methods());
    CacheBehavior {
        target_origin_id: behavior
            .map(|b| b.target_origin_id().to_owned())
            .unwrap_or_default(),
        viewer_protocol_policy: behavior
            .map(|b| b.viewer_protocol_policy().as_str().to_owned())
            .unwrap_or_default(),
        allowed_methods: allowed
            .map(|m| m.items().iter().map(|m| m.as_str().to_owned()).collect())
            .unwrap_or_default(),
        cached_methods: allowed
            .and_then(|m| m.cached_methods())
            .map(|m| m.items().iter().map(|m| m.as_str().to_owned()).collect())
            .unwrap_or_default(),
        cache_policy_id: non_empty(behavior.and_then(|b| b.cache_policy_id())),
        origin_request_policy_id: non_empty(behavior.and_then(|b| b.origin_request_policy_id())),
        lambda_associations: behavior
            .and_then(|b| b.lambda_function_associations())
            .map(|l| l.items())
            .unwrap_or_default()
            .iter()
            .map(|a| LambdaAssociation {
                event_type: a.event_type().as_str().to_owned(),
                arn: a.lambda_function_arn().to_owned(),
            })
            .collect(),
    }
}
