//! Unknown is not absent: one service failing in one region, in every way
//! the harsh front can make it fail, leaves DNS exactly as it was, the other
//! regions keep converging, the pass ends on its own and names the fault;
//! once the fault is gone one pass converges and a plan finds nothing.
//!
//! Each case converges a fresh GlobalApi in a fresh zone through its own
//! scope of the harsh front, changes one thing by hand in the healthy region
//! (so that "the other regions converge" is something to do), then makes
//! every call of one service in one region fail.

mod common;

use std::time::Duration;

use aws_sdk_apigateway::types::{Op, PatchOperation};
use globalapi::{
    aws::{AwsClients, clients::AwsTimeouts, route53::observe},
    manifest,
    plan::{Mode, Service},
    reconcile::{self, Memory, Pass},
    target::{Target, UID_TAG},
};
use serde_json::json;

use common::harsh::HarshScope;

const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
/// The region that fails; us-east-1 stays healthy.
const FAULTY: &str = "eu-west-1";

fn manifest_text(zone: &str, name: &str, edge: bool) -> String {
    let regions: String = REGIONS
        .iter()
        .map(|r| {
            format!(
                "    - {{name: {r}, backend: {{httpUrl: \"https://{r}.backend.example.com\"}}}}\n"
            )
        })
        .collect();
    format!(
        r#"apiVersion: globalapi.io/v1alpha1
kind: GlobalApi
metadata: {{name: {name}, namespace: faults}}
spec:
  domain: api.{zone}
  hostedZone: {{name: {zone}}}
  routing: {{policy: Latency}}
  regions:
{regions}  api:
    stageName: v1
    tracing: true
    healthCheck: {{path: /health, intervalSeconds: 30, failureThreshold: 3}}
  edge: {{enabled: {edge}}}
"#
    )
}

/// Short bounds, so that a hang costs seconds.
fn timeouts() -> AwsTimeouts {
    AwsTimeouts {
        connect: Duration::from_secs(2),
        attempt: Duration::from_secs(2),
        operation: Duration::from_secs(5),
        pass: Duration::from_secs(90),
    }
}

/// A converged GlobalApi behind its own scope of the harsh front.
struct Ground {
    scope: HarshScope,
    clients: AwsClients,
    target: Target,
    zone_id: String,
    memory: Memory,
}

impl Ground {
    async fn converged(edge: bool) -> Self {
        let env = common::env();
        let scope = HarshScope::new("fault");
        let clients = scope.clients().await.with_timeouts(timeouts());
        let suffix = common::unique_suffix();
        let zone = format!("fault-{suffix}.example.com");
        let zone_id = clients
            .route53()
            .create_hosted_zone()
            .name(&zone)
            .caller_reference(format!("fault-{zone}"))
            .send()
            .await
            .expect("creating the zone")
            .hosted_zone()
            .map(|z| z.id().trim_start_matches("/hostedzone/").to_owned())
            .expect("zone id");
        let _ = env;
        let target = manifest::parse(&manifest_text(&zone, &format!("f-{suffix}"), edge), None)
            .expect("manifest")
            .remove(0);
        let mut ground = Self {
            scope,
            clients,
            target,
            zone_id,
            memory: Memory::default(),
        };
        for _ in 0..40 {
            let pass = ground.apply().await;
            if pass.converged() {
                return ground;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        panic!("the GlobalApi did not converge without faults");
    }

    async fn apply(&mut self) -> Pass {
        let pass =
            reconcile::reconcile(&self.clients, &self.target, &self.memory, Mode::Apply).await;
        for arn in pass.outputs.acm.arns() {
            if !self.memory.certificate_arns.contains(&arn) {
                self.memory.certificate_arns.push(arn);
            }
        }
        for region in pass.outputs.apigateway.regions.keys() {
            if !self.memory.regions.contains(region) {
                self.memory.regions.push(region.clone());
            }
        }
        pass
    }

    async fn plan(&self) -> Pass {
        reconcile::reconcile(&self.clients, &self.target, &self.memory, Mode::Plan).await
    }

    /// The zone's records, in a stable order (read without faults).
    async fn dns(&self) -> Vec<String> {
        let clean = common::env().aws_clients().await;
        let mut records: Vec<String> = observe::records(&clean.route53(), &self.zone_id)
            .await
            .expect("reading the zone")
            .iter()
            .map(|r| format!("{r:?}"))
            .collect();
        records.sort();
        records
    }

    /// What the GlobalApi owns in AWS, health checks with their settings.
    async fn owned(&self) -> (Vec<String>, Vec<(String, i32)>) {
        let clean = common::env().aws_clients().await;
        (
            common::owned::owned(&clean, &self.target, &REGIONS).await,
            common::owned::thresholds(&clean, &self.target).await,
        )
    }

    /// The healthy region's stage loses its tracing by hand.
    async fn drift_in_healthy_region(&self) -> String {
        let clean = common::env().aws_clients().await;
        let api = clean.apigateway("us-east-1");
        let id = common::owned::rest_api_ids(&clean, &self.target, "us-east-1")
            .await
            .pop()
            .expect("the us-east-1 REST API");
        api.update_stage()
            .rest_api_id(&id)
            .stage_name("v1")
            .patch_operations(
                PatchOperation::builder()
                    .op(Op::Replace)
                    .path("/tracingEnabled")
                    .value("false")
                    .build(),
            )
            .send()
            .await
            .expect("turning tracing off by hand");
        id
    }

    async fn tracing(&self, rest_api_id: &str) -> bool {
        let clean = common::env().aws_clients().await;
        clean
            .apigateway("us-east-1")
            .get_stage()
            .rest_api_id(rest_api_id)
            .stage_name("v1")
            .send()
            .await
            .expect("the stage")
            .tracing_enabled()
    }
}

/// The service whose calls fail, as the front names it.
#[derive(Clone, Copy)]
enum Faulty {
    Acm,
    ApiGateway,
    Route53,
    CloudFront,
}

impl Faulty {
    fn front_name(self) -> &'static str {
        match self {
            Faulty::Acm => "acm",
            Faulty::ApiGateway => "apigateway",
            Faulty::Route53 => "route53",
            Faulty::CloudFront => "cloudfront",
        }
    }

    fn service(self) -> Service {
        match self {
            Faulty::Acm => Service::Acm,
            Faulty::ApiGateway => Service::ApiGateway,
            Faulty::Route53 => Service::Route53,
            Faulty::CloudFront => Service::CloudFront,
        }
    }

    /// Route 53 and CloudFront are global: their one region is the fault's.
    fn rule(self, action: &str) -> serde_json::Value {
        match self {
            Faulty::Acm | Faulty::ApiGateway => {
                json!({"service": self.front_name(), "region": FAULTY, "action": action, "hang_seconds": 30})
            }
            Faulty::Route53 | Faulty::CloudFront => {
                json!({"service": self.front_name(), "action": action, "hang_seconds": 30})
            }
        }
    }
}

async fn fault_case(faulty: Faulty, action: &str) {
    let mut ground = Ground::converged(matches!(faulty, Faulty::CloudFront)).await;
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
        !pass.errors.iter().any(|n| n.text.contains("was cut off")),
        "the pass hit its bound instead of ending on its own: {:?}",
        pass.errors
    );
    assert!(
        pass.errors.iter().any(|n| n.service == faulty.service()),
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
    if matches!(
        faulty,
        Faulty::Acm | Faulty::ApiGateway | Faulty::CloudFront
    ) {
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
}
