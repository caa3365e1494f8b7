//! AWS: one module per service, each with the same four parts:
//! `desired` (pure), `observe`, `diff` (pure) and `apply`, and a `run`
//! step that chains them in Plan or Apply mode.

pub mod acm;
pub mod adoption;
pub mod announce;
pub mod apigateway;
pub mod budget;
pub mod calls;
pub mod clients;
pub mod cloudfront;
pub mod cloudwatch;
pub mod dynamodb;
pub mod fence;
pub mod limits;
pub mod listing;
pub mod logs;
pub mod observed;
pub mod outcomes;
pub mod ownership;
pub mod pace;
pub mod rds;
pub mod regions;
pub mod route53;
pub mod service;
pub mod shared;

pub use announce::{Announcer, Loss};
pub use calls::{CallCounter, CallCounts};
pub use clients::AwsClients;
pub use fence::Fence;
pub use observed::Observed;
