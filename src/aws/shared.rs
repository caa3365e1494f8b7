//! Every account-wide listing of one process, by service (see
//! [`super::listing`] for how a listing is kept and shared).

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use aws_sdk_acm::types::CertificateSummary;
use aws_sdk_apigateway::types::{DomainName, RestApi};
use aws_sdk_cloudfront::types::DistributionSummary;

use super::listing::{KeptAnswers, SharedListing, TAG_REREAD_FACTOR};
use super::route53::Route53Listings;

/// Every shared listing of one process, by service; the key is the region.
#[derive(Debug)]
pub struct AccountListings {
    pub route53: Route53Listings,
    pub certificates: SharedListing<Vec<CertificateSummary>>,
    pub certificate_owners: KeptAnswers,
    /// Keyed `alarm-arn@configuration-updated-time`; only our own alarms are kept.
    pub alarm_owners: KeptAnswers,
    pub rest_apis: SharedListing<Vec<RestApi>>,
    pub domain_names: SharedListing<Vec<DomainName>>,
    pub distributions: SharedListing<Vec<DistributionSummary>>,
    /// Keyed `region/rest-api-id/deployment-id`.
    pub deployment_hashes: KeptAnswers,
}

impl AccountListings {
    /// Listings kept for `max_age`; zero keeps none.
    pub fn new(max_age: Duration) -> Self {
        Self {
            route53: Route53Listings::new(max_age),
            certificates: SharedListing::new(max_age),
            certificate_owners: KeptAnswers::new(max_age * TAG_REREAD_FACTOR),
            alarm_owners: KeptAnswers::new(max_age * TAG_REREAD_FACTOR),
            rest_apis: SharedListing::new(max_age),
            domain_names: SharedListing::new(max_age),
            distributions: SharedListing::new(max_age),
            deployment_hashes: KeptAnswers::new(max_age * TAG_REREAD_FACTOR),
        }
    }
}

impl Default for AccountListings {
    fn default() -> Self {
        Self::new(Duration::ZERO)
    }
}

/// The shared listings as one pass of one object sees them.
#[derive(Clone, Debug, Default)]
pub struct ListingView {
    pub listings: Arc<AccountListings>,
    /// The end of the object's previous pass: older listings are not used.
    pub fresher_than: Option<SystemTime>,
}
