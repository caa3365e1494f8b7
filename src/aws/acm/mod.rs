//! ACM: the TLS certificates the API serves. Every region's API Gateway
//! regional custom domain needs a certificate for the origin name in its own
//! region (an ACM certificate cannot be used outside it), and CloudFront one
//! for the public name in us-east-1, unless the user brings it in
//! `spec.certificate.arn`. Certificates are requested with DNS validation;
//! their validation CNAMEs go to Route 53, and ISSUED is awaited by
//! requeueing while they are pending, never by sleeping.
//!
//! Certificates are ours when tagged with our uid; one for the same name
//! without it is someone else's and is left alone (we request our own).
//! Requests carry an IdempotencyToken derived from the uid, region and name,
//! so that a request retried after a crash returns the first certificate.
//! ACM remembers a token for an hour, also for a certificate deleted
//! meanwhile: the ARNs the last reconcile reported ([`AcmInputs`]) tell a
//! certificate deleted by hand, whose successor is requested with a token
//! naming it, and lead to the certificates of regions the spec left.

pub mod adopt;
pub mod apply;
pub mod certificate;
pub mod desired;
pub mod diff;
pub mod observe;
#[cfg(test)]
mod tests;

use std::{
    collections::{BTreeMap, BTreeSet},
    future::Future,
};

use aws_sdk_acm::Client;
use futures::future::{BoxFuture, FutureExt};

use crate::aws::AwsClients;
use crate::aws::clients::GLOBAL_REGION;
use crate::aws::regions::in_each_region;
use crate::aws::service::ServiceStep;
use crate::aws::shared::ListingView;
use crate::error::Result;
use crate::plan::{Change, Finding, Mode, Service, StepOutcome};
use crate::target::Target;

use apply::Deletion;
pub use certificate::{
    CertificateState, DesiredCertificate, ISSUED, ObservedCertificate, PENDING_VALIDATION, Purpose,
    ValidationRecord, region_of_arn,
};
pub use desired::{AcmInputs, Desired, ProvidedCertificate};
pub use diff::{CertificateOp, Verdict};
use observe::Candidates;

/// What later services need from ACM.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AcmOutputs {
    /// region -> the regional certificate of the origin name
    pub regional: BTreeMap<String, CertificateState>,
    /// the us-east-1 certificate CloudFront serves (requested or the user's)
    pub edge: Option<CertificateState>,
    /// CNAMEs Route 53 must hold for DNS validation
    pub validation_records: Vec<ValidationRecord>,
    /// Regions whose certificates could not be read, with the error.
    pub unknown: BTreeMap<String, String>,
    /// Certificates no longer needed that could not be deleted yet
    /// (ARN, why), to be remembered until they are.
    pub retiring: Vec<(String, String)>,
}

impl AcmOutputs {
    /// Every certificate ARN reported, for the next reconcile's
    /// [`AcmInputs::previous_arns`].
    pub fn arns(&self) -> Vec<String> {
        let mut arns: Vec<String> = self.regional.values().map(|c| c.arn.clone()).collect();
        arns.extend(self.edge.iter().map(|c| c.arn.clone()));
        arns
    }

    /// Whether every certificate reported is ISSUED.
    pub fn all_issued(&self) -> bool {
        self.regional
            .values()
            .chain(self.edge.iter())
            .all(|c| c.issued)
    }
}

/// Deletes every certificate tagged with our uid in the spec's regions and
/// us-east-1; when `previous_arns` (from status) are given, those and the
/// ones for the spec's names. A certificate still in use is a pending line
/// naming it.
pub async fn destroy(
    clients: &AwsClients,
    target: &Target,
    previous_arns: &[String],
    mode: Mode,
) -> Result<StepOutcome<()>> {
    let (acm, view) = (|region: &str| clients.acm(region), &clients.listing_view());
    let mut regions = target.region_names();
    if !regions.iter().any(|r| r == GLOBAL_REGION) {
        regions.push(GLOBAL_REGION.to_owned());
    }
    // The user's certificates, of every purpose, whatever the edge says.
    let mut provided = desired::desired(target).provided_arns();
    provided.extend(target.spec.certificate.as_ref().and_then(|c| c.arn.clone()));
    // With what a status reported, only certificates for our names or
    // reported earlier have their tags read: an account may hold thousands,
    // one call each. Without (the command line), every one is read, so that
    // one for a domain the spec no longer names is found too.
    let candidates = if previous_arns.is_empty() {
        Candidates::All
    } else {
        Candidates::Matching {
            domains: [target.origin_domain(), target.spec.domain.clone()]
                .into_iter()
                .collect(),
            arns: previous_arns.iter().cloned().collect(),
        }
    };

    let tasks = regions
        .iter()
        .map(|region| {
            let (client, view, target, region_name, provided, candidates) = (
                acm(region),
                view.clone(),
                target.clone(),
                region.clone(),
                provided.clone(),
                candidates.clone(),
            );
            let task = async move {
                destroy_region(
                    &client,
                    &view,
                    &target,
                    &region_name,
                    &provided,
                    &candidates,
                    mode,
                )
                .await
            };
            (region.clone(), task)
        })
        .collect();
    let outcomes = in_each_region(tasks)
        .await
        .into_iter()
        .map(|(region, outcome)| {
            outcome.unwrap_or_else(|e| RegionOutcome {
                errors: vec![Finding::in_region(
                    &region,
                    format!("{region}: acm destroy did not finish: {e}"),
                )],
                ..Default::default()
            })
        });
    let mut step = StepOutcome::<()>::default();
    for outcome in outcomes {
        step.changes.extend(outcome.changes);
        step.pending.extend(outcome.pending);
        step.errors.extend(outcome.errors);
    }
    Ok(step)
}

/// What one region (or the user's edge certificate) came to.
#[derive(Debug, Default)]
struct RegionOutcome {
    /// The region could not be read (`region`, error).
    unknown: Option<(String, String)>,
    /// Certificates to delete later (ARN, why).
    retiring: Vec<(String, String)>,
    changes: Vec<Change>,
    pending: Vec<Finding>,
    errors: Vec<Finding>,
    /// The certificate used for each desired one that has one.
    kept: Vec<(Purpose, ObservedCertificate)>,
}

/// Observes our certificates in every region concerned, requests the
/// missing ones, replaces failed ones and deletes those no longer needed
/// (Apply), and reports which are still pending validation.
pub async fn run(
    clients: &AwsClients,
    target: &Target,
    inputs: &AcmInputs,
    mode: Mode,
) -> Result<StepOutcome<AcmOutputs>> {
    let (acm, view) = (|region: &str| clients.acm(region), &clients.listing_view());

    let desired = desired::desired(target);
    let provided = desired.provided_arns();
    let previous: Vec<&String> = inputs
        .previous_arns
        .iter()
        .filter(|arn| !provided.contains(arn))
        .collect();

    // Regions an earlier reconcile used are visited too, to clean them up.
    let mut regions = desired.regions();
    for arn in &previous {
        if let Some(region) = region_of_arn(arn)
            && !regions.iter().any(|r| r == region)
        {
            regions.push(region.to_owned());
        }
    }

    let mut tasks: Vec<(String, BoxFuture<'static, RegionOutcome>)> = Vec::new();
    for region in &regions {
        let wanted: Vec<DesiredCertificate> = desired
            .certificates
            .iter()
            .filter(|c| c.region == *region)
            .cloned()
            .collect();
        let earlier: Vec<String> = previous
            .iter()
            .filter(|arn| region_of_arn(arn) == Some(region.as_str()))
            .map(|arn| (*arn).clone())
            .collect();
        let step = RegionStep {
            client: acm(region),
            view: view.clone(),
            target: target.clone(),
            region: region.clone(),
            wanted,
            previous: earlier,
            provided: provided.clone(),
            mode,
        };
        tasks.push((region.clone(), async move { step.run().await }.boxed()));
    }
    for brought in &desired.provided {
        let (client, brought) = (acm(&brought.region), brought.clone());
        let region = brought.region.clone();
        tasks.push((
            region,
            async move { provided_certificate(&client, &brought).await }.boxed(),
        ));
    }
    let outcomes = in_each_region(tasks)
        .await
        .into_iter()
        .map(|(region, outcome)| {
            outcome.unwrap_or_else(|e| {
                let error = format!("{region}: acm step did not finish: {e}");
                RegionOutcome {
                    errors: vec![Finding::in_region(&region, error.clone())],
                    unknown: Some((region, error)),
                    ..Default::default()
                }
            })
        });

    let mut step = StepOutcome::<AcmOutputs>::default();
    let mut records = BTreeSet::new();
    for outcome in outcomes {
        step.outputs.unknown.extend(outcome.unknown);
        step.outputs.retiring.extend(outcome.retiring);
        step.changes.extend(outcome.changes);
        step.pending.extend(outcome.pending);
        step.errors.extend(outcome.errors);
        for (purpose, cert) in outcome.kept {
            if cert.owned {
                records.extend(cert.validation_records.iter().cloned());
            }
            match purpose {
                Purpose::Regional => {
                    step.outputs
                        .regional
                        .insert(cert.region.clone(), cert.state());
                }
                Purpose::Edge => step.outputs.edge = Some(cert.state()),
            }
        }
    }
    step.outputs.validation_records = records.into_iter().collect();
    Ok(step)
}

/// The work of one region: observe, diff, apply, judge.
struct RegionStep {
    client: Client,
    view: ListingView,
    target: Target,
    region: String,
    /// The certificates the spec needs in this region (none for a region left).
    wanted: Vec<DesiredCertificate>,
    /// ARNs in this region an earlier reconcile reported.
    previous: Vec<String>,
    /// The user's certificates, never touched even if tagged as ours.
    provided: Vec<String>,
    mode: Mode,
}

impl RegionStep {
    async fn run(self) -> RegionOutcome {
        let mut out = RegionOutcome::default();
        let candidates = Candidates::Matching {
            domains: self.wanted.iter().map(|c| c.domain.clone()).collect(),
            arns: self.previous.iter().cloned().collect(),
        };
        let view = match listed_region(
            &self.client,
            &self.view,
            &self.region,
            &self.target,
            &candidates,
        )
        .await
        {
            Ok(view) => view,
            Err(e) => {
                let error = Finding::failed(&self.region, &e);
                out.unknown = Some((self.region.clone(), error.text.clone()));
                out.errors.push(error);
                return out;
            }
        };
        let ours: Vec<ObservedCertificate> = view
            .ours
            .into_iter()
            .filter(|c| !self.provided.contains(&c.arn))
            .collect();
        let gone: Vec<String> = self
            .previous
            .iter()
            .filter(|a| !view.listed.contains(*a))
            .cloned()
            .collect();

        let mut current: BTreeMap<String, ObservedCertificate> = self
            .wanted
            .iter()
            .filter_map(|w| diff::chosen(w, &ours).map(|c| (w.domain.clone(), c.clone())))
            .collect();
        let ops = diff::diff(&self.wanted, &ours);
        let changing = self.mode == Mode::Apply && !ops.is_empty();
        for op in ops {
            if self.mode == Mode::Plan {
                out.changes.push(op.change());
                continue;
            }
            match &op {
                CertificateOp::Request(want) => {
                    let token = if gone.is_empty() {
                        desired::request_token(&self.target, want)
                    } else {
                        desired::rerequest_token(&self.target, want, &gone)
                    };
                    match apply::request_and_describe(&self.client, &self.target, want, &token)
                        .await
                    {
                        Ok(cert) => {
                            out.changes.push(op.change());
                            current.insert(want.domain.clone(), cert);
                        }
                        Err(e) => out.errors.push(Finding::failed(&self.region, &e)),
                    }
                }
                CertificateOp::Replace { old, desired: want } => {
                    let token = desired::replacement_token(&self.target, want, &old.arn);
                    match apply::request_and_describe(&self.client, &self.target, want, &token)
                        .await
                    {
                        Ok(cert) => {
                            out.changes.push(op.change());
                            out.errors.push(Finding::in_region(
                                &self.region,
                                format!(
                                    "{}: certificate {} for {} is {}; a replacement was requested",
                                    self.region,
                                    old.arn,
                                    old.domain,
                                    old.status_text()
                                ),
                            ));
                            current.insert(want.domain.clone(), cert);
                            self.delete_unneeded(old, &mut out).await;
                        }
                        Err(e) => out.errors.push(Finding::failed(&self.region, &e)),
                    }
                }
                CertificateOp::Delete(old) => self.delete_unneeded(old, &mut out).await,
            }
        }

        if changing {
            // After the change: a listing under way meanwhile is waited for
            // and dropped too.
            self.view.listings.certificates.forget(&self.region).await;
        }
        for want in &self.wanted {
            let Some(cert) = current.remove(&want.domain) else {
                continue;
            };
            match diff::verdict(&cert) {
                Verdict::Issued => {}
                Verdict::Pending(line) => out.pending.push(Finding::in_region(&self.region, line)),
                Verdict::Error(line) => out.errors.push(Finding::in_region(
                    &self.region,
                    format!("{}: {line}", self.region),
                )),
            }
            out.kept.push((want.purpose, cert));
        }
        out
    }

    /// Deletes one of ours the spec no longer needs. One still in use (the
    /// API Gateway domain of a removed region goes in a later step) waits
    /// for the next reconcile.
    async fn delete_unneeded(&self, cert: &ObservedCertificate, out: &mut RegionOutcome) {
        let waiting = |why: String| {
            Finding::in_region(
                &cert.region,
                format!(
                    "certificate {} for {} in {} is still in use ({why}); it is deleted once released",
                    cert.arn, cert.domain, cert.region
                ),
            )
        };
        if !cert.in_use_by.is_empty() {
            let why = format!("in use by {}", cert.in_use_by.join(", "));
            out.pending.push(waiting(why.clone()));
            out.retiring.push((cert.arn.clone(), why));
            return;
        }
        match apply::delete(&self.client, &cert.arn).await {
            Ok(Deletion::Deleted | Deletion::Gone) => out
                .changes
                .push(CertificateOp::Delete(cert.clone()).change()),
            Ok(Deletion::InUse(e)) => {
                out.pending.push(waiting(e.to_string()));
                out.retiring.push((cert.arn.clone(), e.to_string()));
            }
            Err(e) => {
                out.errors.push(
                    Finding::in_region(
                        &self.region,
                        format!("{}: certificate {}: {e}", self.region, cert.arn),
                    )
                    .caused_by(&e),
                );
                out.retiring.push((cert.arn.clone(), e.to_string()));
            }
        }
    }
}

/// A certificate the user brings: described and checked (its region, that
/// it covers the name it serves, its status), never changed.
async fn provided_certificate(client: &Client, brought: &ProvidedCertificate) -> RegionOutcome {
    let mut out = RegionOutcome::default();
    let ProvidedCertificate {
        arn,
        region,
        domain,
        purpose,
        field,
    } = brought;
    if region_of_arn(arn) != Some(region.as_str()) {
        out.errors.push(Finding::in_region(
            region,
            format!(
                "{region}: {field}: certificate {arn} is not in {region}, where the {purpose} custom domain takes its certificate from"
            ),
        ));
        return out;
    }
    match observe::describe(client, region, arn, false).await {
        Ok(Some(cert)) if !cert.covers(domain) => out.errors.push(Finding::in_region(
            region,
            format!(
                "{region}: {field}: certificate {arn} is for {}, which does not cover {domain}: bring one for {domain} or a wildcard of its parent",
                cert_names(&cert)
            ),
        )),
        Ok(Some(cert)) => {
            match diff::verdict(&cert) {
                Verdict::Issued => {}
                Verdict::Pending(line) => out.pending.push(Finding::in_region(region, line)),
                Verdict::Error(line) => out
                    .errors
                    .push(Finding::in_region(region, format!("{region}: {field}: {line}"))),
            }
            out.kept.push((*purpose, cert));
        }
        Ok(None) => out.errors.push(Finding::in_region(
            region,
            format!("{region}: {field} {arn} was not found in ACM"),
        )),
        Err(e) => {
            let error = format!("{region}: {field} {arn}: {e}");
            out.unknown = Some((region.clone(), error.clone()));
            out.errors.push(Finding::in_region(region, error).caused_by(&e));
        }
    }
    out
}

/// `a.example.com, *.example.com`: the names a certificate is for.
fn cert_names(cert: &ObservedCertificate) -> String {
    let mut names = vec![cert.domain.clone()];
    names.extend(cert.names.iter().filter(|n| **n != cert.domain).cloned());
    names.join(", ")
}

async fn destroy_region(
    client: &Client,
    listing: &ListingView,
    target: &Target,
    region: &str,
    provided: &[String],
    candidates: &Candidates,
    mode: Mode,
) -> RegionOutcome {
    let mut out = RegionOutcome::default();
    let view = match listed_region(client, listing, region, target, candidates).await {
        Ok(view) => view,
        Err(e) => {
            out.errors.push(Finding::failed(region, &e));
            return out;
        }
    };
    let ours: Vec<ObservedCertificate> = view
        .ours
        .into_iter()
        .filter(|c| !provided.contains(&c.arn))
        .collect();
    deleting(client, &ours, region, mode, &mut out).await;
    if mode == Mode::Apply && !ours.is_empty() {
        listing.listings.certificates.forget(region).await;
    }
    out
}

/// Our certificates of `region`, from the shared listing of the region.
async fn listed_region(
    client: &Client,
    listing: &ListingView,
    region: &str,
    target: &Target,
    candidates: &Candidates,
) -> Result<observe::RegionView> {
    let listed = listing
        .listings
        .certificates
        .get(region, listing.fresher_than, || {
            observe::list_certificates(client)
        })
        .await?;
    observe::region(
        client,
        region,
        target,
        candidates,
        &listed,
        &listing.listings.certificate_owners,
    )
    .await
}

/// Deletes (Apply) or lists (Plan) `ours` in `region`.
async fn deleting(
    client: &Client,
    ours: &[ObservedCertificate],
    region: &str,
    mode: Mode,
    out: &mut RegionOutcome,
) {
    for cert in ours {
        let change = CertificateOp::Delete(cert.clone()).change();
        if mode == Mode::Plan {
            out.changes.push(change);
            continue;
        }
        match apply::delete(client, &cert.arn).await {
            Ok(Deletion::Deleted | Deletion::Gone) => out.changes.push(change),
            Ok(Deletion::InUse(e)) => {
                let by = if cert.in_use_by.is_empty() {
                    String::new()
                } else {
                    format!(" by {}", cert.in_use_by.join(", "))
                };
                // What uses it is being removed too (a distribution
                // deploying its disable): the next pass deletes it.
                out.pending.push(Finding::in_region(
                    region,
                    format!(
                        "{region}: certificate {} for {} is still in use{by}; it is deleted once released ({e})",
                        cert.arn, cert.domain
                    ),
                ));
            }
            Err(e) => out.errors.push(
                Finding::in_region(region, format!("{region}: certificate {}: {e}", cert.arn))
                    .caused_by(&e),
            ),
        }
    }
}

/// ACM's part of a pass: a certificate per region of the spec and one for
/// the edge, validated through Route 53.
pub struct Certificates;

impl ServiceStep for Certificates {
    const SERVICE: Service = Service::Acm;
    type Inputs = AcmInputs;
    type Outputs = AcmOutputs;
    /// Certificates the last status named, which the spec may no longer name.
    type Remembered = [String];

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
        remembered: &Self::Remembered,
        mode: Mode,
    ) -> impl Future<Output = Result<StepOutcome<()>>> + Send {
        destroy(clients, target, remembered, mode)
    }
}
