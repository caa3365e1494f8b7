//! The CloudFront distribution in front of the regions.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::spec::DNS_NAME_RE;

/// The CloudFront edge. With it, `domain` aliases to CloudFront and the
/// regions are reached through `originDomain`.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EdgeSpec {
    /// Put a CloudFront distribution in front of the regions. Defaults to
    /// true when the `edge` block is present.
    #[serde(default = "default_true")]
    pub enabled: bool,

    /// The name CloudFront uses to reach the regions; it carries the latency
    /// or failover records. Default: `origin.` + `domain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 4, max = 253))]
    #[x_kube(
        validation = Rule::new(format!("self.matches('{DNS_NAME_RE}')"))
            .message("edge.originDomain must be a lower-case DNS name such as origin.api.example.com"),
        validation = Rule::new("size(self) <= 64")
            .message("edge.originDomain must be at most 64 characters: ACM refuses a certificate for a longer name")
    )]
    pub origin_domain: Option<String>,

    /// The CloudFront price class: which edge locations serve the API.
    #[serde(default)]
    pub price_class: PriceClass,

    /// Lambda@Edge functions attached to the default cache behaviour.
    #[serde(default)]
    #[schemars(length(max = 4))]
    #[x_kube(validation = Rule::new("self.all(a, self.exists_one(b, b.eventType == a.eventType))")
        .message("edge.lambdaAssociations may hold each eventType only once")
        .reason(Reason::FieldValueDuplicate))]
    pub lambda_associations: Vec<EdgeLambdaAssociation>,

    /// Countries allowed or refused by CloudFront.
    #[serde(default)]
    pub geo_restriction: GeoRestriction,
}

fn default_true() -> bool {
    true
}

/// Which CloudFront edge locations serve the distribution.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PriceClass {
    /// North America and Europe only.
    #[default]
    #[serde(rename = "PriceClass_100")]
    PriceClass100,
    /// Adds Asia, the Middle East and Africa.
    #[serde(rename = "PriceClass_200")]
    PriceClass200,
    /// Every edge location.
    #[serde(rename = "PriceClass_All")]
    PriceClassAll,
}

/// A Lambda@Edge function version attached to one CloudFront event.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EdgeLambdaAssociation {
    /// The CloudFront event that invokes the function.
    pub event_type: LambdaEventType,

    /// A numbered version of a us-east-1 function, e.g.
    /// `arn:aws:lambda:us-east-1:123456789012:function:rewrite:3`.
    #[schemars(length(max = 256))]
    #[x_kube(validation = Rule::new("self.matches('^arn:aws[a-z-]*:lambda:us-east-1:[0-9]{12}:function:[A-Za-z0-9_-]{1,64}:[0-9]+$')")
        .message("lambdaAssociations[].arn must be a numbered version of a us-east-1 Lambda function, e.g. arn:aws:lambda:us-east-1:123456789012:function:name:3"))]
    pub arn: String,
}

/// The CloudFront events a Lambda@Edge function can run on.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum LambdaEventType {
    /// Before CloudFront looks in its cache.
    ViewerRequest,
    /// Before CloudFront answers the viewer.
    ViewerResponse,
    /// Before CloudFront forwards to the origin.
    OriginRequest,
    /// After CloudFront receives the origin's answer.
    OriginResponse,
}

/// Geographic restriction of the distribution.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.type == 'none' ? size(self.locations) == 0 : size(self.locations) > 0")
    .message("geoRestriction.locations must list countries for whitelist and blacklist, and be empty for none")
    .field_path(".locations"))]
pub struct GeoRestriction {
    /// `none`, `whitelist` (only these countries) or `blacklist` (all but these).
    #[serde(rename = "type", default)]
    pub restriction_type: GeoRestrictionType,

    /// ISO 3166-1 alpha-2 country codes, e.g. `DE`, `US`.
    #[serde(default)]
    #[schemars(length(max = 250), inner(length(min = 2, max = 2)))]
    #[x_kube(validation = Rule::new("self.all(c, c.matches('^[A-Z]{2}$'))")
        .message("geoRestriction.locations must be ISO 3166-1 alpha-2 country codes such as US or DE"))]
    pub locations: Vec<String>,
}

/// The kind of geographic restriction.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum GeoRestrictionType {
    /// Every country may reach the API.
    #[default]
    None,
    /// Only the listed countries may reach the API.
    Whitelist,
    /// Every country but the listed ones may reach the API.
    Blacklist,
}
