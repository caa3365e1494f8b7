//! Route 53: health checks per region, latency or failover alias records for
//! the origin name, aliases of the public name to CloudFront, certificate
//! validation records, and the TXT records that mark what we own.

pub mod apply;
pub mod desired;
pub mod diff;
pub mod observe;
mod ownership;
mod record;

pub use desired::{RegionEndpoint, Route53Inputs, ValidationRecord};
pub use diff::{HealthCheckOp, RecordOp};
pub use ownership::owner_record_name;
pub use record::{Failover, HealthCheck, Record, RecordKey, RecordValue, Routing};

/// The hosted zone id of every CloudFront distribution, for alias records.
pub const CLOUDFRONT_ZONE_ID: &str = "Z2FDTNDATAQYW2";
