//! A distribution as plain values, independent of the SDK's types, so that
//! desired and observed state compare with `==`. Only the fields this
//! operator sets are here; everything else on a live distribution is carried
//! over untouched by an update.

/// The distribution settings the operator decides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Distribution {
    /// `globalapi <namespace>/<name>`: names the owner at a glance.
    pub comment: String,
    /// Alternate domain names, lower case, sorted.
    pub aliases: Vec<String>,
    pub viewer_certificate: ViewerCertificate,
    /// Sorted by id.
    pub origins: Vec<Origin>,
    pub default_cache_behavior: CacheBehavior,
    /// Path patterns of additional cache behaviours; the operator sets none.
    pub cache_behaviors: Vec<String>,
    pub price_class: String,
    pub geo_restriction: GeoRestriction,
    pub enabled: bool,
    pub http_version: String,
    pub ipv6_enabled: bool,
}

/// The certificate viewers see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewerCertificate {
    /// `None` when the distribution uses CloudFront's default certificate.
    pub acm_certificate_arn: Option<String>,
    pub ssl_support_method: Option<String>,
    pub minimum_protocol_version: Option<String>,
}

/// One origin, as far as the operator decides it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub id: String,
    pub domain_name: String,
    /// `None` for an origin that is not a custom origin (S3, VPC).
    pub protocol_policy: Option<String>,
    /// Sorted.
    pub ssl_protocols: Vec<String>,
    pub https_port: Option<i32>,
}

/// The default cache behaviour.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheBehavior {
    pub target_origin_id: String,
    pub viewer_protocol_policy: String,
    /// Sorted.
    pub allowed_methods: Vec<String>,
    /// Sorted.
    pub cached_methods: Vec<String>,
    pub cache_policy_id: Option<String>,
    pub origin_request_policy_id: Option<String>,
    /// Sorted by event type.
    pub lambda_associations: Vec<LambdaAssociation>,
}

/// A Lambda@Edge function version run on one event.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LambdaAssociation {
    /// `viewer-request`, `origin-request`, ...
    pub event_type: String,
    /// A numbered version ARN.
    pub arn: String,
}

/// Which countries may reach the distribution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeoRestriction {
    /// `none`, `whitelist` or `blacklist`.
    pub restriction_type: String,
    /// ISO 3166-1 alpha-2 codes, sorted.
    pub locations: Vec<String>,
}

impl Distribution {
    /// Brings lists into the order comparisons expect.
    pub(crate) fn normalized(mut self) -> Self {
        for alias in &mut self.aliases {
            *alias = alias.trim_end_matches('.').to_ascii_lowercase();
        }
        self.aliases.sort();
        self.aliases.dedup();
        for origin in &mut self.origins {
            origin.ssl_protocols.sort();
        }
        self.origins.sort_by(|a, b| a.id.cmp(&b.id));
        let behavior = &mut self.default_cache_behavior;
        behavior.allowed_methods.sort();
        behavior.cached_methods.sort();
        behavior.lambda_associations.sort();
        self.cache_behaviors.sort();
        self.geo_restriction.locations.sort();
        self
    }

    /// The name people know the distribution by: its first alias, or its comment.
    pub fn label(&self) -> &str {
        self.aliases
            .first()
            .map(String::as_str)
            .unwrap_or(&self.comment)
    }
}
