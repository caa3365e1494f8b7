//! AWS clients for every service and region, all sharing one configuration
//! (the standard `aws-config` chain, adaptive retry for throttling) and one
//! call counter.

use aws_config::{BehaviorVersion, Region, SdkConfig, retry::RetryConfig, timeout::TimeoutConfig};
// One type for every service: the SDK crates re-export it.
use aws_sdk_route53::config::retry::RetryPartition;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
#[cfg(test)]
use aws_smithy_runtime_api::client::interceptors::{Intercept, SharedInterceptor};

#[cfg(test)]
use std::collections::BTreeMap;
use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use super::announce::Announcer;
use super::budget::{Budget, Priority};
use super::calls::CallCounter;
use super::fence::Fence;
use super::outcomes::OutcomeRecorder;
use super::pace::{PacedHttpClient, Pacer};
use super::shared::{AccountListings, ListingView};

/// One service's client: this process's SDK config with its timeouts,
/// call counter, fence, retry partition, HTTP client and pacer, in `region`,
/// plus the builder calls given after it.
macro_rules! sdk_client {
    ($self:ident, $sdk:ident, $service:literal, $region:expr $(, $method:ident($arg:expr))*) => {{
        let region: &str = $region;
        let mut config = $sdk::config::Builder::from(&$self.sdk)
            .timeout_config($self.timeouts.config())
            .region(Region::new(region.to_owned()))
            .interceptor($self.calls.clone())
            .interceptor($self.outcomes.clone())
            .interceptor($self.fence.clone());
        config.set_retry_partition($self.partition($service, region));
        let config = config
            .http_client($self.http_client())
            .interceptor($self.pacer($service, region))
            $(.$method($arg))*;
        #[cfg(test)]
        let config = {
            let mut config = config;
            if let Some((_, answers)) = $self
                .answers
                .iter()
                .find(|((service, r), _)| *service == $service && r == region)
            {
                config.push_interceptor(answers.clone());
            }
            config
        };
        $sdk::Client::from_conf(config.build())
    }};
}

/// Route 53 and CloudFront are global; their API lives in us-east-1.
pub(crate) const GLOBAL_REGION: &str = "us-east-1";

/// Clients for one AWS account.
#[derive(Clone, Debug)]
pub struct AwsClients {
    sdk: SdkConfig,
    calls: CallCounter,
    outcomes: OutcomeRecorder,
    /// Checked before every attempt of every call: a replica that lost the
    /// leader Lease sends nothing.
    fence: Fence,
    listings: Arc<AccountListings>,
    timeouts: AwsTimeouts,
    /// Listings started before this are not used (the end of the reconciled
    /// object's previous pass).
    fresher_than: Option<SystemTime>,
    /// Prefix of the retry partitions (token bucket, adaptive rate limiter);
    /// `None` keeps the SDK's, one per service and region in the process.
    retry_partition: Option<String>,
    /// The account's request rates, shared by every object.
    budget: Budget,
    /// The object a pass serves (`namespace/name`): its long waits for a
    /// budget are deferred to a later pass.
    owner: Option<Arc<str>>,
    priority: Priority,
    /// One HTTP client (connection pool) for every service and region.
    http: SharedHttpClient,
    /// Told before every destructive database call.
    announcer: Announcer,
    /// What answers the calls of a service in a region in AWS's place:
    /// scripted answers in unit tests.
    #[cfg(test)]
    answers: Arc<BTreeMap<(&'static str, String), SharedInterceptor>>,
}

impl AwsClients {
    /// From the standard chain: environment, profile, web identity (IRSA,
    /// Pod Identity). `AWS_ENDPOINT_URL` points every client at an emulator.
    pub async fn from_env() -> Self {
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(retry_config())
            .load()
            .await;
        Self::new(sdk)
    }

    /// From a given configuration (tests build their own).
    pub fn new(sdk: SdkConfig) -> Self {
        let http = sdk.http_client().unwrap_or_else(default_http_client);
        Self {
            sdk,
            calls: CallCounter::default(),
            outcomes: OutcomeRecorder::default(),
            fence: Fence::default(),
            listings: Arc::default(),
            timeouts: AwsTimeouts::default(),
            fresher_than: None,
            retry_partition: None,
            budget: Budget::default(),
            owner: None,
            priority: Priority::Work,
            http,
            announcer: Announcer::default(),
            #[cfg(test)]
            answers: Arc::default(),
        }
    }

    /// Clients whose calls no server answers: each service and region
    /// given [`Self::answering`] answers by its script, any other call
    /// fails. Not retried, so that a scripted error is seen as it is.
    #[cfg(test)]
    pub(crate) fn scripted() -> Self {
        use aws_sdk_acm::config::{
            AsyncSleep, Credentials, SharedAsyncSleep, SharedCredentialsProvider, Sleep,
        };
        #[derive(Debug)]
        struct TokioSleep;
        impl AsyncSleep for TokioSleep {
            fn sleep(&self, duration: Duration) -> Sleep {
                Sleep::new(tokio::time::sleep(duration))
            }
        }
        let sdk = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(GLOBAL_REGION))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "test", "test", None, None, "test",
            )))
            .retry_config(RetryConfig::disabled())
            .sleep_impl(SharedAsyncSleep::new(TokioSleep))
            .http_client(aws_smithy_mocks::create_mock_http_client())
            .build();
        Self::new(sdk)
    }

    /// Answers by `rules`, each matched against any call in any order.
    #[cfg(test)]
    pub(crate) fn answers(
        rules: &[&aws_smithy_mocks::Rule],
    ) -> aws_smithy_mocks::MockResponseInterceptor {
        rules.iter().fold(
            aws_smithy_mocks::MockResponseInterceptor::new()
                .rule_mode(aws_smithy_mocks::RuleMode::MatchAny),
            |answers, rule| answers.with_rule(rule),
        )
    }

    /// The same clients, with the calls of `service` (its metrics name:
    /// `acm`, `rds`, …) in `region` answered by `answers` before they
    /// reach the network.
    #[cfg(test)]
    pub(crate) fn answering(
        mut self,
        service: &'static str,
        region: &str,
        answers: impl Intercept + 'static,
    ) -> Self {
        Arc::make_mut(&mut self.answers).insert(
            (service, region.to_owned()),
            SharedInterceptor::new(answers),
        );
        self
    }

    /// Calls paced into `budget` (the account's rates) instead of sent at once.
    pub fn with_budget(mut self, budget: Budget) -> Self {
        self.budget = budget;
        self
    }

    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    /// The same clients for the passes of one object: a call whose turn in
    /// the budget is far off is refused, and the object holds the turn
    /// (see [`Budget::ticket_of`]).
    pub(crate) fn for_object(&self, owner: &str, priority: Priority) -> Self {
        Self {
            owner: Some(Arc::from(owner)),
            priority,
            ..self.clone()
        }
    }

    /// The same clients, telling `announcer` before destructive calls.
    pub fn with_announcer(mut self, announcer: Announcer) -> Self {
        self.announcer = announcer;
        self
    }

    pub(crate) fn announcer(&self) -> &Announcer {
        &self.announcer
    }

    fn pacer(&self, service: &'static str, region: &str) -> Pacer {
        Pacer {
            budget: self.budget.clone(),
            service,
            region: region.to_owned(),
            owner: self.owner.clone(),
            priority: self.priority,
        }
    }

    fn http_client(&self) -> SharedHttpClient {
        SharedHttpClient::new(PacedHttpClient::new(self.http.clone(), self.fence.clone()))
    }

    /// Retry state of its own, apart from other clients of the same service
    /// and region in this process: throttling that slowed one account's
    /// clients does not slow another's (a process that serves several, as
    /// the tests do with one scope of the front each).
    pub fn with_retry_partition(mut self, name: &str) -> Self {
        self.retry_partition = Some(name.to_owned());
        self
    }

    fn partition(&self, service: &str, region: &str) -> Option<RetryPartition> {
        self.retry_partition
            .as_ref()
            .map(|name| RetryPartition::new(format!("{name}-{service}-{region}")))
    }

    /// Every call checks `fence` before it is sent (the leader's Lease).
    pub(crate) fn with_fence(mut self, fence: Fence) -> Self {
        self.fence = fence;
        self
    }

    /// Every call names `name` in its user agent (`app/<name>`), so that
    /// CloudTrail tells which replica made it. Characters AWS does not
    /// allow there become `-`; at most 50 are kept.
    pub(crate) fn with_app_name(mut self, name: &str) -> Self {
        let cleaned: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .take(50)
            .collect();
        match aws_config::AppName::new(cleaned) {
            Ok(app) => self.sdk = self.sdk.to_builder().app_name(app).build(),
            Err(e) => tracing::warn!(error = %e, "the replica's name cannot be the AWS app name"),
        }
        self
    }

    /// Other bounds for each AWS call than [`AwsTimeouts::default`].
    pub fn with_timeouts(mut self, timeouts: AwsTimeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    pub fn timeouts(&self) -> AwsTimeouts {
        self.timeouts
    }

    /// Account-wide listings kept for `max_age` and shared by every
    /// GlobalApi these clients serve (the operator); without this each step
    /// lists (see [`super::shared`]).
    pub fn with_shared_listings(mut self, max_age: Duration) -> Self {
        self.listings = Arc::new(AccountListings::new(max_age));
        self
    }

    /// The same clients for one pass of an object whose previous pass ended
    /// at `previous_pass`: no listing older than that serves it.
    pub fn observing_after(&self, previous_pass: Option<SystemTime>) -> Self {
        Self {
            fresher_than: previous_pass,
            ..self.clone()
        }
    }

    pub(crate) fn fresher_than(&self) -> Option<SystemTime> {
        self.fresher_than
    }

    /// Fails early, with the provider's reason, when no credentials can be had.
    pub async fn check_credentials(
        &self,
    ) -> Result<(), aws_credential_types::provider::error::CredentialsError> {
        use aws_credential_types::provider::ProvideCredentials;
        match self.sdk.credentials_provider() {
            Some(provider) => provider.provide_credentials().await.map(|_| ()),
            None => Err(
                aws_credential_types::provider::error::CredentialsError::not_loaded(
                    "no credentials provider is configured",
                ),
            ),
        }
    }

    /// How AWS answered: latency and error codes.
    pub fn outcomes(&self) -> &OutcomeRecorder {
        &self.outcomes
    }

    pub fn calls(&self) -> &CallCounter {
        &self.calls
    }

    pub fn listings(&self) -> &AccountListings {
        &self.listings
    }

    /// The shared listings and the asker's previous pass, to hand on.
    pub(crate) fn listing_view(&self) -> ListingView {
        ListingView {
            listings: self.listings.clone(),
            fresher_than: self.fresher_than,
        }
    }

    pub fn route53(&self) -> aws_sdk_route53::Client {
        sdk_client!(self, aws_sdk_route53, "route53", GLOBAL_REGION)
    }

    pub fn cloudfront(&self) -> aws_sdk_cloudfront::Client {
        sdk_client!(self, aws_sdk_cloudfront, "cloudfront", GLOBAL_REGION)
    }

    pub fn acm(&self, region: &str) -> aws_sdk_acm::Client {
        sdk_client!(self, aws_sdk_acm, "acm", region)
    }

    pub fn apigateway(&self, region: &str) -> aws_sdk_apigateway::Client {
        sdk_client!(
            self,
            aws_sdk_apigateway,
            "apigateway",
            region,
            retry_classifier(super::limits::HardLimitClassifier)
        )
    }

    pub fn lambda(&self, region: &str) -> aws_sdk_lambda::Client {
        sdk_client!(self, aws_sdk_lambda, "lambda", region)
    }

    pub fn cloudwatch(&self, region: &str) -> aws_sdk_cloudwatch::Client {
        sdk_client!(self, aws_sdk_cloudwatch, "cloudwatch", region)
    }

    pub fn dynamodb(&self, region: &str) -> aws_sdk_dynamodb::Client {
        sdk_client!(self, aws_sdk_dynamodb, "dynamodb", region)
    }

    pub fn logs(&self, region: &str) -> aws_sdk_cloudwatchlogs::Client {
        sdk_client!(self, aws_sdk_cloudwatchlogs, "logs", region)
    }

    pub fn rds(&self, region: &str) -> aws_sdk_rds::Client {
        sdk_client!(self, aws_sdk_rds, "rds", region)
    }
}

/// The SDK's default HTTPS client (rustls with aws-lc, the proxy from the
/// environment), made once: every service and region share its pool.
fn default_http_client() -> SharedHttpClient {
    use aws_smithy_http_client::{ConnectorBuilder, proxy::ProxyConfig, tls};
    aws_smithy_http_client::Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// The bounds of every AWS call: no call, and so no lock held across one,
/// waits for ever on a region or service that stopped answering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AwsTimeouts {
    /// Connecting to the endpoint.
    pub connect: Duration,
    /// One attempt (one HTTP request and its whole answer).
    pub attempt: Duration,
    /// The whole operation, retries and their backoff included.
    pub operation: Duration,
    /// One reconcile pass over every service.
    pub pass: Duration,
}

impl Default for AwsTimeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            attempt: Duration::from_secs(20),
            operation: Duration::from_secs(60),
            pass: Duration::from_secs(300),
        }
    }
}

impl AwsTimeouts {
    fn config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .read_timeout(self.attempt)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }
}

/// Throttling is retried with client-side rate limiting (adaptive mode).
pub fn retry_config() -> RetryConfig {
    RetryConfig::adaptive().with_max_attempts(8)
}
