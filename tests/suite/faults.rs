//! Unknown is not absent: one service failing in one region, in every way
//! the harsh front can make it fail, leaves DNS exactly as it was, the other
//! regions keep converging, the pass ends on its own and names the fault;
//! once the fault is gone one pass converges and a plan finds nothing.
//!
//! Each case converges a fresh GlobalApi in a fresh zone through its own
//! scope of the harsh front, changes one thing by hand in the healthy region
//! (so that "the other regions converge" is something to do), then makes
//! every call of one service in one region fail: ACM, API Gateway and the
//! Aurora Global Database's secondary and the Lambda function behind the API
//! in eu-west-1, Route 53 and CloudFront (global) everywhere.

use crate::common;

use std::time::Duration;

use globalapi::{plan::Service, target::UID_TAG};
use serde_json::json;

use common::ground::{FAULTY, Ground, Shape};

/// The service whose calls fail, as the front names it.
#[derive(Clone, Copy)]
enum Faulty {
    Acm,
    ApiGateway,
    Route53,
    CloudFront,
    /// The Aurora Global Database's secondary region.
    Rds,
    /// The function behind the API in [`FAULTY`]: its invoke permission is
    /// part of the API Gateway step.
    Lambda,
}

impl Faulty {
    fn front_name(self) -> &'static str {
        match self {
            Faulty::Acm => "acm",
            Faulty::ApiGateway => "apigateway",
            Faulty::Route53 => "route53",
            Faulty::CloudFront => "cloudfront",
            Faulty::Rds => "rds",
            Faulty::Lambda => "lambda",
        }
    }

    fn service(self) -> Service {
        match self {
            Faulty::Acm => Service::Acm,
            Faulty::ApiGateway => Service::ApiGateway,
            Faulty::Route53 => Service::Route53,
            Faulty::CloudFront => Service::CloudFront,
            Faulty::Rds => Service::Rds,
            Faulty::Lambda => Service::ApiGateway,
        }
    }

    /// Route 53 and CloudFront are global: their one region is the fault's.
    fn rule(self, action: &str) -> serde_json::Value {
        match self {
            Faulty::Acm | Faulty::ApiGateway | Faulty::Rds | Faulty::Lambda => {
                json!({"service": self.front_name(), "region": FAULTY, "action": action, "hang_seconds": 30})
            }
            Faulty::Route53 | Faulty::CloudFront => {
                json!({"service": self.front_name(), "action": action, "hang_seconds": 30})
            }
        }
    }
}

async fn fault_case(faulty: Faulty, action: &str) {
    let mut ground = Ground::converged_with(Shape {
        edge: matches!(faulty, Faulty::CloudFront),
        database: matches!(faulty, Faulty::Rds),
        lambda: matches!(faulty, Faulty::Lambda),
    })
    .await;
    let dns_before = ground.dns().await;
    let owned_before = ground.owned().await;
    let healthy_api = ground.drift_in_healthy_region().await;

    ground.scope.rule(faulty.rule(action));
    let pass = ground.apply().await;
    let counters = ground.scope.counters();
    assert!(
        counters["injected"]
            .as_object()
            .is_some_and(|m| m.keys().any(|k| k.starts_with(faulty.front_name()))),
        "the fault was never injected: {counters}"
    );

    assert_eq!(
        ground.dns().await,
        dns_before,
        "DNS changed under a {action} of {}",
        faulty.front_name()
    );
    assert_eq!(
        ground.owned().await,
        owned_before,
        "resources changed under the fault"
    );
    assert!(
        !pass
            .errors
            .iter()
            .any(|n| n.finding.text.contains("was cut off")),
        "the pass hit its bound instead of ending on its own: {:?}",
        pass.errors
    );
    // The answers AWS gave are in the error metrics, by AWS's code.
    if action != "hang" {
        let errors = ground.clients.outcomes().snapshot().errors;
        let service = faulty.front_name().replace('-', "");
        assert!(
            errors
                .keys()
                .any(|(s, _, code)| *s == service && !code.is_empty()),
            "no {action} of {service} among the recorded AWS errors: {errors:?}"
        );
    }
    assert!(
        pass.errors.iter().any(|n| n.service == faulty.service()
            && n.finding.text.to_lowercase().contains(faulty.front_name())),
        "no error names {}: {:?}",
        faulty.front_name(),
        pass.errors
    );
    if !matches!(faulty, Faulty::Route53) {
        assert!(
            pass.unknown.iter().any(|n| n.service == faulty.service()),
            "the failed reads are not reported unknown: {:?}",
            pass.unknown
        );
    }
    if !matches!(faulty, Faulty::Route53) {
        assert!(
            ground.tracing(&healthy_api).await,
            "the healthy region was not put back while {} failed in {FAULTY}",
            faulty.front_name()
        );
    }

    ground.scope.clear();
    let mut recovered = ground.apply().await;
    for _ in 0..10 {
        if recovered.converged() {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        recovered = ground.apply().await;
    }
    assert!(
        recovered.converged(),
        "no convergence after the fault cleared: errors {:?}, pending {:?}, plan {}",
        recovered.errors,
        recovered.pending,
        recovered.plan
    );
    assert!(ground.tracing(&healthy_api).await);
    let plan = ground.plan().await;
    assert!(plan.plan.is_empty(), "plan after recovery: {}", plan.plan);
    assert_eq!(
        ground.owned().await.0,
        owned_before.0,
        "a twin or a leak after recovery"
    );
    let _ = UID_TAG;
}

macro_rules! fault_cases {
    ($($name:ident: $service:expr, $action:expr;)*) => {
        $(
            #[tokio::test(flavor = "multi_thread")]
            async fn $name() {
                fault_case($service, $action).await;
            }
        )*
    };
}

fault_cases! {
    acm_throttled: Faulty::Acm, "throttle";
    acm_unavailable: Faulty::Acm, "unavailable";
    acm_access_denied: Faulty::Acm, "access_denied";
    acm_hangs: Faulty::Acm, "hang";
    apigateway_throttled: Faulty::ApiGateway, "throttle";
    apigateway_unavailable: Faulty::ApiGateway, "unavailable";
    apigateway_access_denied: Faulty::ApiGateway, "access_denied";
    apigateway_hangs: Faulty::ApiGateway, "hang";
    route53_throttled: Faulty::Route53, "throttle";
    route53_unavailable: Faulty::Route53, "unavailable";
    route53_access_denied: Faulty::Route53, "access_denied";
    route53_hangs: Faulty::Route53, "hang";
    cloudfront_throttled: Faulty::CloudFront, "throttle";
    cloudfront_unavailable: Faulty::CloudFront, "unavailable";
    cloudfront_access_denied: Faulty::CloudFront, "access_denied";
    cloudfront_hangs: Faulty::CloudFront, "hang";
    rds_throttled: Faulty::Rds, "throttle";
    rds_unavailable: Faulty::Rds, "unavailable";
    rds_access_denied: Faulty::Rds, "access_denied";
    rds_hangs: Faulty::Rds, "hang";
    lambda_throttled: Faulty::Lambda, "throttle";
    lambda_unavailable: Faulty::Lambda, "unavailable";
    lambda_access_denied: Faulty::Lambda, "access_denied";
    lambda_hangs: Faulty::Lambda, "hang";
}
