//! Records and health checks as plain values, independent of the SDK's
//! types, so that desired and observed state compare with `==`.

use std::fmt;

/// How Route 53 chooses this record among others of the same name and type.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Routing {
    Simple,
    /// A latency record for one region.
    Latency {
        region: String,
    },
    /// A failover record.
    Failover(Failover),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Failover {
    Primary,
    Secondary,
}

impl Failover {
    pub fn as_str(self) -> &'static str {
        match self {
            Failover::Primary => "PRIMARY",
            Failover::Secondary => "SECONDARY",
        }
    }
}

/// What a record answers with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordValue {
    /// An alias to an AWS endpoint (API Gateway domain, CloudFront).
    Alias {
        zone_id: String,
        dns_name: String,
        evaluate_target_health: bool,
    },
    /// Plain values with a TTL (CNAME, TXT).
    Values { ttl: i64, values: Vec<String> },
}

/// The identity of a record set: name, type and set identifier.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordKey {
    /// Lower case, without the trailing dot.
    pub name: String,
    pub record_type: String,
    pub set_identifier: Option<String>,
}

impl fmt::Display for RecordKey {
    /// `origin.api.example.com A us-east-1`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.record_type)?;
        if let Some(id) = &self.set_identifier {
            write!(f, " {id}")?;
        }
        Ok(())
    }
}

/// One record set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub key: RecordKey,
    pub routing: Routing,
    pub health_check_id: Option<String>,
    pub value: RecordValue,
}

/// A DNS name as Route 53 compares it: lower case, no trailing dot.
pub(crate) fn normalize_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// A Route 53 health check, as far as the spec decides it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthCheck {
    /// The region it probes.
    pub region: String,
    /// The region's own endpoint, `{restApiId}.execute-api.{region}.amazonaws.com`.
    pub fqdn: String,
    /// `/{stage}{healthPath}`.
    pub resource_path: String,
    pub request_interval: i32,
    pub failure_threshold: i32,
}
