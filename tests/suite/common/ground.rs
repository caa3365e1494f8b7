//! A GlobalApi converged through its own scope of the harsh front, driven
//! pass by pass in the test's process: what the fault and transition tests
//! start from.

use std::time::Duration;

use aws_sdk_apigateway::types::{Op, PatchOperation};
use globalapi::{
    aws::{AwsClients, clients::AwsTimeouts, route53::observe},
    manifest,
    plan::Mode,
    reconcile::{self, Memory, Pass},
    target::Target,
};

use super::{harsh::HarshScope, lambda::LambdaBackend};

pub const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
/// The region that fails; us-east-1 stays healthy.
pub const FAULTY: &str = "eu-west-1";

pub fn manifest_text(zone: &str, name: &str, edge: bool) -> String {
    manifest_with_backend(zone, name, edge, None)
}

/// [`manifest_text`], with the Lambda function `lambda` (an ARN) as the
/// backend of [`FAULTY`] when given.
fn manifest_with_backend(zone: &str, name: &str, edge: bool, lambda: Option<&str>) -> String {
    let regions: String = REGIONS
        .iter()
        .map(|r| match lambda {
            Some(arn) if *r == FAULTY => {
                format!("    - {{name: {r}, backend: {{lambdaArn: \"{arn}\"}}}}\n")
            }
            _ => format!(
                "    - {{name: {r}, backend: {{httpUrl: \"https://{r}.backend.example.com\"}}}}\n"
            ),
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
pub fn timeouts() -> AwsTimeouts {
    AwsTimeouts {
        connect: Duration::from_secs(2),
        attempt: Duration::from_secs(2),
        operation: Duration::from_secs(5),
        pass: Duration::from_secs(90),
    }
}

/// What a ground holds beside its two regions' APIs and DNS.
#[derive(Clone, Copy, Default)]
pub struct Shape {
    /// CloudFront in front.
    pub edge: bool,
    /// An Aurora Global Database over both regions.
    pub database: bool,
    /// [`FAULTY`]'s backend is a Lambda function of the scope's account
    /// (the other region's stays an HTTP URL).
    pub lambda: bool,
}

/// A converged GlobalApi behind its own scope of the harsh front.
pub struct Ground {
    pub scope: HarshScope,
    pub clients: AwsClients,
    pub target: Target,
    pub zone_id: String,
    pub zone: String,
    pub memory: Memory,
}

/// An Aurora Global Database for [`manifest_text`]: primary in the healthy
/// region, a secondary in [`FAULTY`].
fn database_text(suffix: &str) -> String {
    format!(
        r#"  database:
    aurora:
      globalClusterIdentifier: g-{suffix}
      engine: aurora-postgresql
      engineVersion: "16.4"
      primaryRegion: us-east-1
      instanceClass: db.r6g.large
      instancesPerRegion: 1
      deletionProtection: false
"#
    )
}

impl Ground {
    pub async fn converged(edge: bool) -> Self {
        Self::converged_with(Shape {
            edge,
            ..Shape::default()
        })
        .await
    }

    /// [`Ground::converged`], holding what `shape` asks for.
    pub async fn converged_with(shape: Shape) -> Self {
        let scope = HarshScope::new("fault");
        let clients = scope.clients().await.with_timeouts(timeouts());
        let suffix = super::unique_suffix();
        let zone = format!("fault-{suffix}.example.com");
        // Through the view, with the SDK's patience: not counted in the scope,
        // and not cut short while the front is busy.
        let zone_id = scope
            .view()
            .clients()
            .await
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
        let lambda = if shape.lambda {
            let view = scope.view();
            let backend = LambdaBackend::create(
                &view.clients().await,
                &view.akid,
                FAULTY,
                &format!("fault-{suffix}"),
            )
            .await;
            Some(backend.arn)
        } else {
            None
        };
        let mut text =
            manifest_with_backend(&zone, &format!("f-{suffix}"), shape.edge, lambda.as_deref());
        if shape.database {
            text.push_str(&database_text(&suffix));
        }
        let target = manifest::parse(&text, None).expect("manifest").remove(0);
        let mut ground = Self {
            scope,
            clients,
            target,
            zone_id,
            zone,
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

    /// Clients reading the ground's account without its faults.
    pub async fn view_clients(&self) -> AwsClients {
        self.scope.view().clients().await
    }

    pub async fn apply(&mut self) -> Pass {
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
        self.memory.alarms |= !pass.outputs.alarms.states.is_empty();
        for region in pass.outputs.logs.groups.keys() {
            if !self.memory.log_group_regions.contains(region) {
                self.memory.log_group_regions.push(region.clone());
            }
        }
        pass
    }

    pub async fn plan(&self) -> Pass {
        reconcile::reconcile(&self.clients, &self.target, &self.memory, Mode::Plan).await
    }

    /// The zone's records, in a stable order (read without faults).
    pub async fn dns(&self) -> Vec<String> {
        let clean = self.view_clients().await;
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
    pub async fn owned(&self) -> (Vec<String>, Vec<(String, i32)>) {
        let clean = self.view_clients().await;
        (
            super::owned::owned(&clean, &self.target, &REGIONS).await,
            super::owned::thresholds(&clean, &self.target).await,
        )
    }

    /// The healthy region's stage loses its tracing by hand.
    pub async fn drift_in_healthy_region(&self) -> String {
        let clean = self.view_clients().await;
        let api = clean.apigateway("us-east-1");
        let id = super::owned::rest_api_ids(&clean, &self.target, "us-east-1")
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

    pub async fn tracing(&self, rest_api_id: &str) -> bool {
        let clean = self.view_clients().await;
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
