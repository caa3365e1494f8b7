//! The GlobalApi being reconciled, with the names and tokens derived from it.

use sha2::{Digest, Sha256};

use crate::api::{GlobalApi, GlobalApiSpec, RegionSpec, RoutingPolicy};
use crate::error::{Error, Result};

/// Tag keys that mark what the operator owns.
pub const OWNER_TAG: &str = "globalapi.io/owner";
pub const UID_TAG: &str = "globalapi.io/uid";

/// One GlobalApi as a reconcile sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub namespace: String,
    pub name: String,
    /// The object's uid; from a file without one, derived from namespace and
    /// name so that repeated runs on the same manifest agree.
    pub uid: String,
    pub spec: GlobalApiSpec,
}

/// How many fresh caller references a create tries before it gives up.
pub(crate) const RENEWALS: u32 = 8;

/// The spec as DNS follows it: with `routing.followDatabaseWriter` under
/// Failover, `routing.primaryRegion` becomes the database `writer`'s
/// region (one of the spec's). `None` when that changes nothing.
pub(crate) fn following_the_writer(
    spec: &GlobalApiSpec,
    writer: Option<&str>,
) -> Option<GlobalApiSpec> {
    let routing = &spec.routing;
    let writer = writer?;
    let follow = routing.follow_database_writer
        && routing.policy == RoutingPolicy::Failover
        && routing.primary_region.as_deref() != Some(writer)
        && spec.regions.iter().any(|r| r.name == writer);
    follow.then(|| {
        let mut followed = spec.clone();
        followed.routing.primary_region = Some(writer.to_owned());
        followed
    })
}

impl Target {
    /// The target of a GlobalApi object (from the cluster or a file).
    pub fn from_object(object: &GlobalApi) -> Result<Self> {
        let name = object
            .metadata
            .name
            .clone()
            .ok_or_else(|| Error::Invalid("metadata.name is required".into()))?;
        let namespace = object
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        let uid = match &object.metadata.uid {
            Some(uid) => uid.clone(),
            None => derived_uid(&namespace, &name),
        };
        Ok(Self {
            namespace,
            name,
            uid,
            spec: object.spec.clone(),
        })
    }

    /// The first eight letters and digits of the uid: enough to tell apart
    /// the GlobalApis that share a name AWS keys by (a record's set
    /// identifier, a Lambda statement id).
    pub(crate) fn short_uid(&self) -> String {
        self.uid
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(8)
            .collect()
    }

    /// `namespace/name`, the value of the owner tag.
    pub fn owner(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The ownership tags every created resource carries.
    pub fn tags(&self) -> Vec<(String, String)> {
        vec![
            (OWNER_TAG.to_owned(), self.owner()),
            (UID_TAG.to_owned(), self.uid.clone()),
        ]
    }

    /// What a spec edit does to database resources (Aurora clusters,
    /// DynamoDB tables and replicas) the spec stops asking for.
    pub(crate) fn database_removal(&self) -> crate::api::DatabaseRemoval {
        self.spec
            .database
            .as_ref()
            .map(|d| d.removal)
            .unwrap_or_default()
    }

    pub(crate) fn edge_enabled(&self) -> bool {
        self.spec.edge.as_ref().is_some_and(|e| e.enabled)
    }

    /// The name that carries the latency or failover records: the origin
    /// domain behind the edge, or the public domain without it.
    pub fn origin_domain(&self) -> String {
        match &self.spec.edge {
            Some(edge) if edge.enabled => edge
                .origin_domain
                .clone()
                .unwrap_or_else(|| format!("origin.{}", self.spec.domain)),
            _ => self.spec.domain.clone(),
        }
    }

    pub fn regions(&self) -> impl Iterator<Item = &RegionSpec> {
        self.spec.regions.iter()
    }

    pub(crate) fn region_names(&self) -> Vec<String> {
        self.spec.regions.iter().map(|r| r.name.clone()).collect()
    }

    /// The regions Route 53 may answer with, in spec order, after draining.
    /// For Failover the first is PRIMARY: the spec's primary unless drained.
    pub(crate) fn serving_regions(&self) -> Vec<&RegionSpec> {
        let mut serving: Vec<&RegionSpec> = self
            .spec
            .regions
            .iter()
            .filter(|r| !r.maintenance)
            .collect();
        if self.spec.routing.policy == RoutingPolicy::Failover {
            let primary = self.spec.routing.primary_region.as_deref();
            serving.sort_by_key(|r| Some(r.name.as_str()) != primary);
        }
        serving
    }

    /// A deterministic token for one purpose, so that a retried create after
    /// a crash is recognised by AWS instead of creating a twin. `max` bounds
    /// its length (ACM allows 32 characters, Route 53 and CloudFront more).
    pub fn token(&self, purpose: &str, max: usize) -> String {
        let digest = Sha256::digest(format!("{}\n{}", self.uid, purpose).as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        let prefix = "gapi";
        let mut token = format!("{prefix}{hex}");
        token.truncate(max.max(prefix.len() + 8));
        token
    }

    /// The `renewal`-th fresh form of an idempotency `token` (0: the token
    /// itself). AWS remembers the caller reference of a deleted health check
    /// or distribution and refuses it, so a resource deleted by hand is made
    /// again under the next one; still deterministic, so a create retried
    /// after a crash finds what it made instead of making a twin.
    pub fn renewed(token: &str, renewal: u32) -> String {
        if renewal == 0 {
            return token.to_owned();
        }
        let stem: String = token.chars().take(token.len().min(56)).collect();
        format!("{stem}-r{renewal}")
    }

    /// Whether `reference` is `token` or one of its [`Self::renewed`] forms.
    pub(crate) fn is_renewal_of(reference: &str, token: &str) -> bool {
        (0..=RENEWALS).any(|n| reference == Self::renewed(token, n))
    }

    /// A short, stable, AWS-safe name stem for resources that need a name
    /// (REST APIs, clusters): `gapi-<namespace>-<name>`, trimmed.
    pub fn resource_name(&self, max: usize) -> String {
        let mut stem: String = format!("gapi-{}-{}", self.namespace, self.name)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        stem.truncate(max);
        stem.trim_end_matches('-').to_owned()
    }
}

/// A uid for a manifest that has none: stable for the same namespace and name.
fn derived_uid(namespace: &str, name: &str) -> String {
    let digest = Sha256::digest(format!("{namespace}/{name}").as_bytes());
    let h: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    /// A target from YAML spec text, as a test fixture.
    pub fn target(spec_yaml: &str) -> Target {
        let spec: GlobalApiSpec = serde_norway::from_str(spec_yaml).expect("fixture spec parses");
        Target {
            namespace: "payments".into(),
            name: "exchange".into(),
            uid: "0b1c2d3e-0000-4000-8000-000000000001".into(),
            spec,
        }
    }

    pub const LATENCY: &str = r#"
domain: api.example.com
hostedZone: {name: example.com}
routing: {policy: Latency}
regions:
  - {name: us-east-1, backend: {lambdaArn: "arn:aws:lambda:us-east-1:123456789012:function:f"}}
  - {name: eu-west-1, backend: {httpUrl: "https://eu.example.com"}}
edge: {enabled: true}
"#;

    pub const FAILOVER: &str = r#"
domain: api.example.com
hostedZone: {id: Z123}
routing: {policy: Failover, primaryRegion: eu-west-1}
regions:
  - {name: us-east-1, backend: {httpUrl: "https://us.example.com"}}
  - {name: eu-west-1, backend: {httpUrl: "https://eu.example.com"}}
"#;
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;

    #[test]
    fn origin_domain_follows_the_edge() {
        assert_eq!(target(LATENCY).origin_domain(), "origin.api.example.com");
        assert_eq!(target(FAILOVER).origin_domain(), "api.example.com");
    }

    #[test]
    fn failover_puts_the_primary_first_unless_drained() {
        let t = target(FAILOVER);
        let names: Vec<&str> = t
            .serving_regions()
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(names, ["eu-west-1", "us-east-1"]);
        let mut drained = t.clone();
        drained.spec.regions[1].maintenance = true;
        let names: Vec<&str> = drained
            .serving_regions()
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(names, ["us-east-1"]);
    }

    #[test]
    fn tokens_are_stable_bounded_and_distinct() {
        let t = target(LATENCY);
        assert_eq!(t.token("hc us-east-1", 32), t.token("hc us-east-1", 32));
        assert_ne!(t.token("hc us-east-1", 32), t.token("hc eu-west-1", 32));
        assert_eq!(t.token("x", 32).len(), 32);
    }
}
