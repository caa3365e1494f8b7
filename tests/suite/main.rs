//! The integration tests, one binary: every test runs against the real
//! servers of tests/env (kube-apiserver, etcd, moto behind the harsh front),
//! all of them side by side, each in its own namespace, zone and front scope.

// A failed step of a test is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod access_logs;
mod admission;
mod adoption;
mod alarms;
mod aws_acm;
mod aws_apigateway;
mod aws_cloudfront;
mod aws_dynamodb;
mod aws_rds;
mod aws_route53;
mod cli_end_to_end;
mod cli_validation;
mod crash_points;
mod crd_in_sync;
mod database_removal;
mod faults;
mod harsh_front;
mod helm;
mod leader_election;
mod leader_liveness;
mod logging;
mod operator;
mod ownership_race;
mod pause;
mod quotas;
mod reach_servers;
mod route53_throttling;
mod shared_listings;
mod tenancy;
mod transitions;
