//! CloudFront: the distribution in front of the regions when the edge is
//! enabled. It serves `domain` (its alternate domain name) with the us-east-1
//! certificate, redirects viewers to HTTPS, forwards every method uncached
//! over HTTPS to the origin name that carries the latency or failover
//! records, and runs the spec's Lambda@Edge functions and geo restriction.
//!
//! Updates are guarded by the ETag read with the configuration, so a change
//! made by someone else in between fails the pass instead of being lost.
//! A changed `domain` gets a distribution of its own (the old one keeps its
//! alias and certificate, so the old name serves until DNS moves off it).
//! Removal (edge turned off, or destroy) disables the distribution first and
//! deletes it in a later pass once CloudFront reports it Deployed; nothing
//! here waits, it reports what is pending and the reconcile requeues.

pub mod adopt;
pub mod apply;
pub mod desired;
pub mod diff;
mod distribution;
pub mod observe;

#[cfg(test)]
mod mock_tests;

use std::future::Future;

use aws_sdk_cloudfront::Client;

use crate::aws::service::ServiceStep;
use crate::error::Result;
use crate::plan::{Finding, Mode, Service, StepOutcome};
use crate::target::Target;

use super::AwsClients;
use super::shared::ListingView;

pub use apply::Live;
pub use desired::{
    ALL_VIEWER_EXCEPT_HOST_HEADER_POLICY_ID, CACHING_DISABLED_POLICY_ID, CloudFrontInputs, Desired,
    ORIGIN_ID,
};
pub use diff::{DistributionDiff, DistributionOp};
pub use distribution::{
    CacheBehavior, Distribution, GeoRestriction, LambdaAssociation, Origin, ViewerCertificate,
};
pub use observe::{Foreign, Found, Observation};

/// What later services (Route 53's alias, the status) need from CloudFront.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CloudFrontOutputs {
    pub distribution_id: Option<String>,
    /// `dxxxx.cloudfront.net`, the target of the Route 53 alias of `domain`.
    pub domain_name: Option<String>,
    /// `InProgress` or `Deployed`.
    pub status: Option<String>,
    /// The certificate the distribution serves.
    pub certificate_arn: Option<String>,
    /// Distributions of ours serving only names the spec left (an old
    /// `domain`), kept while DNS may lead to them.
    pub retiring: Vec<String>,
    /// The distribution stays on an origin name the spec left until the new
    /// one has its records; DNS keeps the old one meanwhile.
    pub origin_held: bool,
}

impl From<&Live> for CloudFrontOutputs {
    fn from(live: &Live) -> Self {
        Self {
            distribution_id: Some(live.id.clone()),
            domain_name: Some(live.domain_name.clone()),
            status: Some(live.status.clone()),
            certificate_arn: live.certificate_arn.clone(),
            retiring: Vec::new(),
            origin_held: false,
        }
    }
}

impl From<&Found> for Live {
    fn from(found: &Found) -> Self {
        Self {
            id: found.id.clone(),
            domain_name: found.domain_name.clone(),
            status: found.status.clone(),
            certificate_arn: found.current.viewer_certificate.acm_certificate_arn.clone(),
        }
    }
}

/// Observes, diffs and (in Apply) corrects the distribution of `target`.
pub async fn run(
    clients: &AwsClients,
    target: &Target,
    inputs: &CloudFrontInputs,
    mode: Mode,
) -> Result<StepOutcome<CloudFrontOutputs>> {
    let (client, listing) = (&clients.cloudfront(), &clients.listing_view());
    let want = desired::desired(target, inputs);
    let observation = observe::distributions(client, listing, target).await?;
    let plan = diff::diff(
        target,
        &want,
        &observation.ours,
        &observation.foreign,
        inputs,
    );
    let kept = plan
        .kept
        .as_ref()
        .and_then(|id| observation.ours.iter().find(|f| f.id == *id))
        .map(Live::from);

    let mut outcome = StepOutcome {
        conflicts: global(&plan.conflicts),
        pending: global(&plan.pending),
        ..Default::default()
    };
    let live = match mode {
        Mode::Plan => {
            outcome.changes = plan.ops.iter().map(DistributionOp::change).collect();
            kept
        }
        Mode::Apply => {
            let applied = executed(client, listing, target, &plan.ops, &observation).await?;
            outcome.changes = applied.changes;
            outcome.pending.extend(global(&applied.pending));
            outcome.conflicts.extend(global(&applied.conflicts));
            applied.live.or(kept)
        }
    };
    if let Some(live) = &live {
        if live.status != "Deployed" {
            outcome.pending.push(Finding::global(format!(
                "distribution {} of {} is deploying ({})",
                live.id, target.spec.domain, live.status
            )));
        }
        outcome.outputs = CloudFrontOutputs::from(live);
    }
    outcome.outputs.retiring = plan.retiring.clone();
    outcome.outputs.origin_held = plan.origin_held;
    Ok(outcome)
}

/// Removes every distribution this target owns: disables each, and deletes
/// it once CloudFront reports the disabled distribution Deployed.
pub async fn destroy(clients: &AwsClients, target: &Target, mode: Mode) -> Result<StepOutcome<()>> {
    let (client, listing) = (&clients.cloudfront(), &clients.listing_view());
    let observation = observe::distributions(client, listing, target).await?;
    let plan = diff::removal_of_all(&observation.ours);
    let mut outcome = StepOutcome {
        pending: global(&plan.pending),
        ..Default::default()
    };
    match mode {
        Mode::Plan => outcome.changes = plan.ops.iter().map(DistributionOp::change).collect(),
        Mode::Apply => {
            let applied = executed(client, listing, target, &plan.ops, &observation).await?;
            outcome.changes = applied.changes;
            outcome.pending.extend(global(&applied.pending));
        }
    }
    Ok(outcome)
}

/// CloudFront is global: what it finds concerns no region.
fn global(lines: &[String]) -> Vec<Finding> {
    lines.iter().map(Finding::global).collect()
}

/// [`apply::execute`], then the distribution listing is dropped if
/// anything was (or may have been) changed.
async fn executed(
    client: &Client,
    listing: &ListingView,
    target: &Target,
    ops: &[DistributionOp],
    observation: &Observation,
) -> Result<apply::Applied> {
    let applied = apply::execute(client, target, ops, observation).await;
    if !ops.is_empty() {
        listing
            .listings
            .distributions
            .forget(observe::LISTING_KEY)
            .await;
    }
    applied
}

/// CloudFront's part of a pass: the distribution in front of the regions.
pub struct Edge;

impl ServiceStep for Edge {
    const SERVICE: Service = Service::CloudFront;
    type Inputs = CloudFrontInputs;
    type Outputs = CloudFrontOutputs;
    /// Nothing: the distributions are found by their tags.
    type Remembered = ();

    fn run(
        clients: &AwsClients,
        target: &Target,
        inputs: &Self::Inputs,
        mode: Mode,
    ) -> impl Future<Output = Result<StepOutcome<Self::Outputs>>> + Send {
        run(clients, target, inputs, mode)
    }

    fn destroy(
        clients: &AwsClients,
        target: &Target,
        _: &Self::Remembered,
        mode: Mode,
    ) -> impl Future<Output = Result<StepOutcome<()>>> + Send {
        destroy(clients, target, mode)
    }
}
