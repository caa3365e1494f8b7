//! The GlobalApi operator: one Kubernetes resource, a multi-region API on AWS.

pub mod api;
