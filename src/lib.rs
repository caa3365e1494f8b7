//! The GlobalApi operator: one Kubernetes resource, a multi-region API on AWS.

pub mod api;
pub mod aws;
pub mod controller;
pub mod error;
pub mod manifest;
pub mod plan;
pub mod reconcile;
pub mod status;
pub mod target;
pub mod tenancy;
pub mod text;
pub mod validate;

pub use error::{Error, Result};
