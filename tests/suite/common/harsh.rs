//! The harsh front of moto (`tests/env/harsh_aws.py`): a scope of one's own
//! (an access key id that no other test uses), its fault rules, counters and
//! strict switch, and AWS clients and child-process settings that use it.
//!
//! Everything goes through the front: `AWS_ENDPOINT_URL` of `aws.env` is the
//! front, which hands what it does not answer itself to moto in the same
//! process. Rules and counters are per access key id, so tests in parallel
//! do not see each other's faults; the AWS data is shared (one account).

use std::{
    io::{Read, Write},
    net::TcpStream,
    time::Duration,
};

use aws_config::{SdkConfig, retry::RetryConfig, timeout::TimeoutConfig};
use serde_json::{Value, json};

use super::{env, unique_suffix};

/// One scope of the front: the rules, counters and strict switch of one
/// access key id.
pub struct HarshScope {
    pub akid: String,
}

impl HarshScope {
    /// A scope with a fresh access key id `harsh-{prefix}-{unique}`; panics
    /// when the front does not answer.
    pub fn new(prefix: &str) -> Self {
        let (status, health) = control("GET", "/_harsh/health", None);
        assert_eq!(
            status,
            200,
            "the harsh front at {} does not answer /_harsh/health: {health}",
            env().aws_endpoint()
        );
        Self {
            akid: format!("harsh-{prefix}-{}", unique_suffix()),
        }
    }

    /// The view of this scope: the same AWS account (a scope has one of its
    /// own, see `account_of` in tests/env/harsh_aws.py) through another
    /// access key id, so with none of this scope's rules, freeze or counters
    /// and a strict switch of its own. What a test reads "from outside" the
    /// faults it injects.
    pub fn view(&self) -> Self {
        Self {
            akid: format!("{}-view", self.akid),
        }
    }

    fn path(&self, what: &str) -> String {
        format!("/_harsh/scopes/{}/{what}", self.akid)
    }

    /// Adds a rule (see `tests/env/harsh_aws.py`); returns its id.
    pub fn rule(&self, rule: Value) -> u64 {
        let (status, answer) = self.try_rule(rule.clone());
        assert_eq!(status, 200, "rule {rule} refused: {answer}");
        answer["id"]
            .as_u64()
            .unwrap_or_else(|| panic!("no rule id in {answer}"))
    }

    /// Adds a rule; the front's status code and answer, refused or not.
    pub fn try_rule(&self, rule: Value) -> (u16, Value) {
        control("POST", &self.path("rules"), Some(&rule))
    }

    /// Removes every rule, un-freezes the scope and ends its hangs.
    pub fn clear(&self) {
        let (status, answer) = control("DELETE", &self.path("rules"), None);
        assert_eq!(status, 200, "clearing the rules of {}: {answer}", self.akid);
    }

    /// `{"passed": {"service:Operation": n}, "injected":
    /// {"service:Operation:action": n}, "strict": {"service:Operation:Code":
    /// n}, "quota": {"service:Operation:Code": n} (refused by the account's
    /// quota mode), "mutating_passed": n, "mutating_by_service":
    /// {"service": n}, "frozen": bool, "strict_enabled": bool,
    /// "rules": [{"id", "action", "seen", "fired"}]}`.
    pub fn counters(&self) -> Value {
        let (status, answer) = control("GET", &self.path("counters"), None);
        assert_eq!(status, 200, "counters of {}: {answer}", self.akid);
        answer
    }

    /// Calls of `service:Operation` handed to moto (or answered by a strict
    /// check) in this scope.
    pub fn passed(&self, key: &str) -> u64 {
        self.counters()["passed"][key].as_u64().unwrap_or(0)
    }

    /// Faults of `service:Operation:action` injected in this scope.
    pub fn injected(&self, key: &str) -> u64 {
        self.counters()["injected"][key].as_u64().unwrap_or(0)
    }

    /// Strict refusals `service:Operation:Code` in this scope.
    pub fn refused(&self, key: &str) -> u64 {
        self.counters()["strict"][key].as_u64().unwrap_or(0)
    }

    /// Turns the strict AWS behaviours of this scope on or off.
    pub fn set_strict(&self, enabled: bool) {
        let (status, answer) = control(
            "POST",
            &self.path("strict"),
            Some(&json!({ "enabled": enabled })),
        );
        assert_eq!(status, 200, "strict {enabled} for {}: {answer}", self.akid);
    }

    /// The quota mode of this scope's account (every key id of the account,
    /// this scope's view too): `{"enabled": bool, "scale": n, "limits":
    /// {"rest_apis": n, "domain_names": n}, "passed": {"service Operation":
    /// n}, "throttled": {..}, "limited": {..}}`, counted since quota mode was
    /// last set.
    pub fn quotas(&self) -> Value {
        let (status, answer) = control("GET", &self.path("quotas"), None);
        assert_eq!(status, 200, "quotas of {}: {answer}", self.akid);
        answer
    }

    /// Sets the quota mode of this scope's account: `{"enabled": bool,
    /// "scale": n (optional: the front's default), "limits": {"rest_apis":
    /// n, "domain_names": n} (optional: the table's max)}`. Fills its
    /// buckets and zeroes its quota counters; returns the new state, as
    /// [`Self::quotas`].
    pub fn set_quotas(&self, settings: Value) -> Value {
        let (status, answer) = self.try_set_quotas(settings.clone());
        assert_eq!(status, 200, "quotas {settings} refused: {answer}");
        answer
    }

    /// Asserts the account's quota counters named in `expected`
    /// (`{"passed": {...}, "throttled": {...}, "limited": {...}}`, each
    /// key optional) equal the front's.
    pub fn assert_quota_counts(&self, expected: Value) {
        let quotas = self.quotas();
        for (kind, want) in expected.as_object().expect("an object of counters") {
            assert_eq!(&quotas[kind], want, "{kind}: {quotas}");
        }
    }

    /// Sets the quota mode; the front's status code and answer, refused or
    /// not.
    pub fn try_set_quotas(&self, settings: Value) -> (u16, Value) {
        control("POST", &self.path("quotas"), Some(&settings))
    }

    /// The calls the front answered for this scope, oldest first (see
    /// `journal` in tests/env/harsh_aws.py).
    pub fn journal(&self) -> Vec<JournalEntry> {
        let (status, value) = control("GET", &self.path("journal"), None);
        assert_eq!(status, 200, "journal of {}: {value}", self.akid);
        serde_json::from_value(value).expect("journal entries")
    }

    /// The lines of `aws.env` with this scope's access key id, for child
    /// processes (`globalapi run`, `apply`).
    pub fn aws_env(&self) -> Vec<(String, String)> {
        env()
            .aws
            .iter()
            .map(|(k, v)| {
                let v = if k == "AWS_ACCESS_KEY_ID" {
                    self.akid.clone()
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect()
    }

    /// Clients of this scope with the operator's retry policy, like
    /// `TestEnv::aws_clients`.
    pub async fn clients(&self) -> globalapi::aws::AwsClients {
        self.clients_with(globalapi::aws::clients::retry_config(), None)
            .await
    }

    /// Clients of this scope that never retry.
    pub async fn clients_without_retries(&self) -> globalapi::aws::AwsClients {
        self.clients_with(RetryConfig::disabled(), None).await
    }

    /// Clients of this scope with the given retry policy (and timeouts in
    /// the shared configuration; `AwsClients` may set its own per client).
    /// Their retry state is the scope's own: throttling injected here never
    /// slows another test's clients in this process.
    pub async fn clients_with(
        &self,
        retry: RetryConfig,
        timeout: Option<TimeoutConfig>,
    ) -> globalapi::aws::AwsClients {
        globalapi::aws::AwsClients::new(self.sdk_config(retry, timeout).await)
            .with_retry_partition(&self.akid)
    }

    /// The SDK configuration of this scope: the front's endpoint, the region
    /// of `aws.env`, this access key id, `retry` and `timeout`.
    pub async fn sdk_config(
        &self,
        retry: RetryConfig,
        timeout: Option<TimeoutConfig>,
    ) -> SdkConfig {
        use aws_config::{BehaviorVersion, Region};
        let env = env();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(env.aws_endpoint())
            .region(Region::new(env.aws["AWS_REGION"].clone()))
            .credentials_provider(aws_sdk_route53::config::Credentials::new(
                self.akid.clone(),
                env.aws["AWS_SECRET_ACCESS_KEY"].clone(),
                None,
                None,
                "harsh scope",
            ))
            .retry_config(retry);
        if let Some(timeout) = timeout {
            loader = loader.timeout_config(timeout);
        }
        loader.load().await
    }
}

impl Drop for HarshScope {
    /// Ends the scope's hangs, so that no request of a finished test stays
    /// held in the front.
    fn drop(&mut self) {
        let _ = try_control("DELETE", &self.path("rules"), None);
    }
}

/// The front's `/_harsh/health`: `{"ok", "strict_default",
/// "quotas_default", "quota_scale_default", "quota_table_error"}`.
pub fn health() -> Value {
    let (status, answer) = control("GET", "/_harsh/health", None);
    assert_eq!(status, 200, "health of the harsh front: {answer}");
    answer
}

/// A request to the front's control API: (status code, JSON answer).
/// Panics when the front cannot be reached.
pub fn control(method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    try_control(method, path, body).unwrap_or_else(|e| {
        panic!(
            "the harsh front at {} does not answer {method} {path}: {e}",
            env().aws_endpoint()
        )
    })
}

/// HTTP/1.1 over a plain TcpStream, one request per connection.
fn try_control(method: &str, path: &str, body: Option<&Value>) -> std::io::Result<(u16, Value)> {
    let endpoint = env().aws_endpoint();
    let addr = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let text = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    let value = serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()));
    Ok((status, value))
}

/// One call the front answered.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct JournalEntry {
    /// `service:Operation`.
    pub op: String,
    pub mutating: bool,
    /// The `app/<name>` of the caller's user agent: the replica's identity.
    pub app: Option<String>,
    /// Seconds since the epoch on the front's clock.
    pub start: f64,
    pub end: f64,
}
