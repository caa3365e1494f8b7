//! One pass over every service, in dependency order: ACM → CloudWatch Logs
//! → API Gateway → CloudFront → Route 53 (which needs the regional domains
//! and the distribution's name) → what waits for DNS to move (CloudFront,
//! API Gateway) → CloudWatch alarms (on Route 53's health checks) → RDS →
//! DynamoDB. Deletion runs the other way round.
//!
//! A service that fails does not stop the others: its error is recorded and
//! the services after it work with what they have.

use std::{
    fmt,
    future::Future,
    sync::Mutex,
    time::{Duration, SystemTime},
};

use crate::api::GlobalApiStatus;
use crate::aws::{
    AwsClients, Observed,
    acm::{self, AcmInputs, AcmOutputs},
    adoption::{self, Previous},
    apigateway::{self, ApiGatewayInputs, ApiGatewayOutputs},
    clients::GLOBAL_REGION,
    cloudfront::{self, CloudFrontInputs, CloudFrontOutputs},
    cloudwatch::{self, AlarmInputs, AlarmOutputs},
    dynamodb::{self, DynamoInputs, DynamoOutputs},
    logs::{self, LogsOutputs},
    rds::{self, RdsInputs, RdsOutputs},
    route53::{self, Route53Inputs, Route53Outputs},
    service::ServiceStep,
};
use crate::error::Result;
use crate::plan::{Finding, Mode, Plan, Service, StepOutcome};
use crate::target::Target;

/// What the previous pass left in status that the next one needs to find
/// what the spec no longer names (a dropped region, a replaced certificate).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Memory {
    pub certificate_arns: Vec<String>,
    pub regions: Vec<String>,
    /// Regions whose access log group the last status showed.
    pub log_group_regions: Vec<String>,
    /// Whether the last status showed a health alarm.
    pub alarms: bool,
    /// The database's regions and global cluster, from `status.database`.
    pub database: RdsInputs,
    /// The DynamoDB tables and their regions, from `status.database.tables`.
    pub tables: DynamoInputs,
    /// When the previous pass ended (`status.lastSyncTime`).
    pub last_sync: Option<SystemTime>,
    /// A previous owner whose resources the pass adopts first.
    pub adopt: Option<Previous>,
}

impl Memory {
    pub fn from_status(status: Option<&GlobalApiStatus>) -> Self {
        let Some(status) = status else {
            return Self::default();
        };
        let mut certificate_arns: Vec<String> = status
            .regions
            .iter()
            .filter_map(|r| r.certificate_arn.clone())
            .collect();
        certificate_arns.extend(status.edge.as_ref().and_then(|e| e.certificate_arn.clone()));
        certificate_arns.extend(
            status
                .cleanup
                .iter()
                .filter(|c| c.service == "acm")
                .map(|c| c.resource.clone()),
        );
        let database = status.database.as_ref().map(|d| RdsInputs {
            previous_regions: d.endpoints.iter().map(|e| e.region.clone()).collect(),
            previous_global_cluster_arn: d.global_cluster_arn.clone(),
            previous_writer_region: d.writer_region.clone(),
            failover_to: None,
        });
        Self {
            certificate_arns,
            regions: status.regions.iter().map(|r| r.name.clone()).collect(),
            log_group_regions: status
                .regions
                .iter()
                .filter(|r| r.access_log_group.is_some())
                .map(|r| r.name.clone())
                .collect(),
            alarms: status.regions.iter().any(|r| r.alarm_state.is_some()),
            database: database.unwrap_or_default(),
            tables: status
                .database
                .as_ref()
                .map(|d| DynamoInputs {
                    previous_tables: d.tables.iter().map(|t| t.name.clone()).collect(),
                    previous_regions: d
                        .tables
                        .iter()
                        .flat_map(|t| t.replicas.iter().map(|r| r.region.clone()))
                        .collect::<std::collections::BTreeSet<_>>()
                        .into_iter()
                        .collect(),
                })
                .unwrap_or_default(),
            last_sync: status
                .last_sync_time
                .as_ref()
                .map(|t| SystemTime::from(t.0)),
            adopt: None,
        }
    }
}

/// The outputs of every service after a pass.
#[derive(Clone, Debug, Default)]
pub struct Outputs {
    pub acm: AcmOutputs,
    pub logs: LogsOutputs,
    pub apigateway: ApiGatewayOutputs,
    pub cloudfront: CloudFrontOutputs,
    pub route53: Route53Outputs,
    pub alarms: AlarmOutputs,
    pub rds: RdsOutputs,
    pub dynamodb: DynamoOutputs,
    /// The adoption the pass completed (Apply), as the annotation named it.
    pub adopted: Option<String>,
}

/// A line of a pass's report: what a service found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub service: Service,
    pub finding: Finding,
}

impl Note {
    /// The notes as one line, `; ` between them.
    pub fn joined(notes: &[Note]) -> String {
        notes
            .iter()
            .map(Note::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.service, self.finding)
    }
}

/// What one pass found and did.
#[derive(Clone, Debug, Default)]
pub struct Pass {
    /// Changes made (Apply) or to be made (Plan), in order.
    pub plan: Plan,
    /// Resources that exist and are not ours; never touched.
    pub conflicts: Vec<Note>,
    /// What is on its way; the next pass should come soon.
    pub pending: Vec<Note>,
    /// Failures, with AWS's code and message.
    pub errors: Vec<Note>,
    /// Parts that could not be read, with AWS's error: what they serve was
    /// left as it is. Each is an error as well.
    pub unknown: Vec<Note>,
    /// Errors in the spec that only AWS could tell (a hosted zone that does
    /// not hold the domain): retrying cannot help until the spec changes.
    /// Each is an error as well.
    pub invalid: Vec<Note>,
    pub outputs: Outputs,
}

impl Pass {
    /// Every error is a call the budget deferred: work waiting for its
    /// turn, not a failure.
    pub(crate) fn only_deferred(&self) -> bool {
        !self.errors.is_empty() && self.errors.iter().all(|n| n.finding.is_deferred())
    }

    /// The errors that are failures, not calls waiting for their turn.
    pub(crate) fn failures(&self) -> impl Iterator<Item = &Note> {
        self.errors.iter().filter(|n| !n.finding.is_deferred())
    }

    /// Every error is a spec error (see [`Self::invalid`]).
    pub(crate) fn only_invalid(&self) -> bool {
        !self.errors.is_empty() && self.errors.len() == self.invalid.len()
    }

    /// AWS equals the spec and nothing is on its way.
    pub fn converged(&self) -> bool {
        self.plan.is_empty()
            && self.pending.is_empty()
            && self.errors.is_empty()
            && self.conflicts.is_empty()
    }

    fn unknown(&mut self, service: Service, error: &str) {
        self.unknown.push(Note {
            service,
            finding: Finding::global(error),
        });
    }

    /// Folds one step's outcome in, saying whether the step's outputs are
    /// known: `Err` with the error when the step failed as a whole (an
    /// error note).
    fn absorb_known<O>(
        &mut self,
        service: Service,
        step: Result<StepOutcome<O>>,
    ) -> Result<O, String> {
        match step {
            Ok(outcome) => {
                self.plan.extend(outcome.changes);
                let note = |finding: Finding| Note { service, finding };
                self.conflicts
                    .extend(outcome.conflicts.into_iter().map(note));
                self.pending.extend(outcome.pending.into_iter().map(note));
                self.errors.extend(outcome.errors.into_iter().map(note));
                Ok(outcome.outputs)
            }
            Err(err) => {
                let text = err.to_string();
                let note = Note {
                    service,
                    finding: Finding::failed_whole(&err),
                };
                if matches!(err, crate::error::Error::Invalid(_)) {
                    self.invalid.push(note.clone());
                }
                self.errors.push(note);
                Err(text)
            }
        }
    }
}

/// One pass that makes AWS equal to the spec (Apply) or says how it differs
/// (Plan), within the pass bound of `clients`.
pub async fn reconcile(clients: &AwsClients, target: &Target, memory: &Memory, mode: Mode) -> Pass {
    // Boxed: a pass over five services is a large future; on the heap it
    // cannot overflow the stack of the thread that polls it.
    let in_flight = InFlight::default();
    let pass = Box::pin(reconcile_unbounded(
        clients, target, memory, mode, &in_flight,
    ));
    bounded(clients, target, memory, &in_flight, pass).await
}

/// The service a pass is waiting on, so that a pass cut off can say where.
#[derive(Debug, Default)]
struct InFlight(Mutex<Option<Service>>);

impl InFlight {
    /// Runs one service's step, made by `make` here and boxed: the steps
    /// are large futures, and made in the caller they would each take room
    /// in its (unoptimised) stack frame.
    async fn step<T, F: Future<Output = T>>(
        &self,
        service: Service,
        make: impl FnOnce() -> F,
    ) -> T {
        if let Ok(mut current) = self.0.lock() {
            *current = Some(service);
        }
        Box::pin(make()).await
    }

    fn current(&self) -> Option<Service> {
        self.0.lock().ok().and_then(|current| *current)
    }
}

/// A pass cut off at the bound of `clients`: one error naming the step it
/// was waiting on, and every part unknown, so that status keeps what the
/// last pass saw (regions, edge, certificates awaiting deletion) and
/// nothing is removed because of it. The calls it had made stand; the next
/// pass observes them.
async fn bounded(
    clients: &AwsClients,
    target: &Target,
    memory: &Memory,
    in_flight: &InFlight,
    pass: impl Future<Output = Pass>,
) -> Pass {
    let bound = clients.timeouts().pass;
    match tokio::time::timeout(bound, pass).await {
        Ok(pass) => pass,
        Err(_) => cut_off(target, memory, in_flight.current(), bound),
    }
}

pub(crate) fn cut_off(
    target: &Target,
    memory: &Memory,
    waiting_on: Option<Service>,
    bound: Duration,
) -> Pass {
    let text = format!(
        "the pass did not finish within {} s and was cut off; nothing was removed because of it",
        bound.as_secs()
    );
    let mut pass = Pass::default();
    pass.errors.push(Note {
        service: waiting_on.unwrap_or(Service::Acm),
        finding: Finding::global(text.clone()),
    });
    for service in [
        Service::Acm,
        Service::Logs,
        Service::ApiGateway,
        Service::CloudFront,
        Service::Route53,
        Service::CloudWatch,
        Service::Rds,
        Service::DynamoDb,
    ] {
        pass.unknown(service, &text);
    }
    pass.outputs.alarms.unknown = Some(text.clone());
    let mut regions = target.region_names();
    for region in memory.regions.iter().chain([&GLOBAL_REGION.to_owned()]) {
        if !regions.contains(region) {
            regions.push(region.clone());
        }
    }
    pass.outputs.acm.unknown = regions.iter().map(|r| (r.clone(), text.clone())).collect();
    pass.outputs.apigateway = ApiGatewayOutputs::unknown_in(&regions, &text);
    pass.outputs.logs.unknown = memory
        .log_group_regions
        .iter()
        .chain(target.spec.api.access_logs.iter().flat_map(|_| &regions))
        .map(|r| (r.clone(), text.clone()))
        .collect();
    pass.outputs.rds.unknown = vec![text];
    pass
}

/// With `routing.followDatabaseWriter`, the target whose PRIMARY region is
/// the database writer's as the last status saw it (a switchover or
/// failover moves DNS once it has completed); `None`: the spec's as it is.
fn following_the_writer(target: &Target, memory: &Memory) -> Option<Target> {
    let writer = memory.database.previous_writer_region.as_deref();
    let spec = crate::target::following_the_writer(&target.spec, writer)?;
    Some(Target {
        spec,
        ..target.clone()
    })
}

async fn reconcile_unbounded(
    clients: &AwsClients,
    target: &Target,
    memory: &Memory,
    mode: Mode,
    in_flight: &InFlight,
) -> Pass {
    let clients = &clients.observing_after(memory.last_sync);
    let followed = following_the_writer(target, memory);
    let target = followed.as_ref().unwrap_or(target);
    let mut steps = Steps {
        clients,
        target,
        memory,
        mode,
        in_flight,
        pass: Pass::default(),
    };
    if !steps.adoption().await {
        return steps.pass;
    }
    let acm = steps.certificates().await;
    let logs = steps.access_logs().await;
    let api_inputs = rest_api_inputs(&acm, &logs, memory);
    let api = steps.rest_apis(&api_inputs).await;
    let edge_inputs = CloudFrontInputs {
        certificate_arn: acm
            .edge
            .as_ref()
            .filter(|c| c.issued)
            .map(|c| c.arn.clone()),
        ..CloudFrontInputs::default()
    };
    steps.unknown_regions(Service::Acm, acm.unknown.values());
    steps.unknown_regions(Service::ApiGateway, api.unknown.values());
    let (edge, cloudfront_domain) = steps.distribution(&edge_inputs).await;
    let dns_inputs = record_inputs(target, &acm, &api, &edge, cloudfront_domain);
    let dns = steps.records(&dns_inputs).await;
    let edge = steps
        .distribution_after_dns(edge, &edge_inputs, &dns_inputs, &dns)
        .await;
    steps
        .custom_domains_after_dns(&api, &api_inputs, dns.switched)
        .await;
    let alarms = steps.alarms(&dns.outputs).await;
    let database = steps.aurora().await;
    let tables = steps.tables().await;

    let mut pass = steps.pass;
    pass.outputs = Outputs {
        acm,
        logs,
        apigateway: api,
        cloudfront: edge,
        route53: dns.outputs,
        alarms,
        rds: database,
        dynamodb: tables,
        adopted: pass.outputs.adopted.take(),
    };
    pass
}

/// What API Gateway needs: the access log groups, the issued regional
/// certificates, the regions the last status listed.
fn rest_api_inputs(acm: &AcmOutputs, logs: &LogsOutputs, memory: &Memory) -> ApiGatewayInputs {
    ApiGatewayInputs {
        log_groups: logs.groups.clone(),
        log_groups_unknown: logs.unknown.keys().cloned().collect(),
        certificates: acm
            .regional
            .iter()
            .filter(|(_, c)| c.issued)
            .map(|(region, c)| (region.clone(), c.arn.clone()))
            .collect(),
        previous_regions: memory.regions.clone(),
        retire_old_domains: false,
    }
}

/// What Route 53 needs: the regional endpoints, the distribution's name
/// (and whether the names it leaves must wait for it), the validation
/// records.
fn record_inputs(
    target: &Target,
    acm: &AcmOutputs,
    api: &ApiGatewayOutputs,
    edge: &CloudFrontOutputs,
    cloudfront_domain: Observed<String>,
) -> Route53Inputs {
    let edge_settled = edge.status.as_deref() == Some("Deployed") && !edge.origin_held;
    Route53Inputs {
        endpoints: api.endpoints(),
        hold_left_names: target.edge_enabled() && !edge_settled,
        cloudfront_domain,
        validation_records: match acm.unknown.values().next() {
            Some(error) => Observed::Unknown(error.clone()),
            None => Observed::Known(acm.validation_records.clone()),
        },
    }
}

/// The record batch's step, and what it did for the steps after it.
struct DnsStep {
    outputs: Route53Outputs,
    /// The batch was written (its safety valve did not hold it back).
    written: bool,
    /// The public name has moved to what the spec asks for.
    switched: bool,
}

/// One Apply or Plan pass in the making: what every service's step needs,
/// and what they found so far.
struct Steps<'a> {
    clients: &'a AwsClients,
    target: &'a Target,
    memory: &'a Memory,
    mode: Mode,
    in_flight: &'a InFlight,
    pass: Pass,
}

impl Steps<'_> {
    /// Runs service `S`'s step (see [`InFlight::step`]) and folds its
    /// outcome into the pass: `Err` with the error when it failed as a whole.
    async fn step<S: ServiceStep>(&mut self, inputs: &S::Inputs) -> Result<S::Outputs, String> {
        let (clients, target, mode) = (self.clients, self.target, self.mode);
        let outcome = self
            .in_flight
            .step(S::SERVICE, || S::run(clients, target, inputs, mode))
            .await;
        self.pass.absorb_known(S::SERVICE, outcome)
    }

    /// Service `S`'s deletion step, folded into the pass.
    async fn destroy<S: ServiceStep>(&mut self, remembered: &S::Remembered) {
        let (clients, target, mode) = (self.clients, self.target, self.mode);
        let outcome = self
            .in_flight
            .step(S::SERVICE, || S::destroy(clients, target, remembered, mode))
            .await;
        let _ = self.pass.absorb_known(S::SERVICE, outcome);
    }

    /// Adopts what a previous owner left, when the memory names one. Until
    /// its resources are the heir's, the pass would take them for someone
    /// else's and make twins: `false` when adoption failed and the pass
    /// stops here.
    async fn adoption(&mut self) -> bool {
        let Some(previous) = &self.memory.adopt else {
            return true;
        };
        let (clients, target, mode) = (self.clients, self.target, self.mode);
        match self
            .in_flight
            .step(Service::Route53, || {
                adoption::run(clients, target, previous, mode)
            })
            .await
        {
            Ok(changes) => {
                self.pass.plan.extend(changes);
                if mode == Mode::Apply {
                    self.pass.outputs.adopted = Some(previous.annotation());
                }
                true
            }
            Err((service, error)) => {
                let _ = self.pass.absorb_known::<()>(service, Err(error));
                false
            }
        }
    }

    async fn certificates(&mut self) -> AcmOutputs {
        let target = self.target;
        let inputs = AcmInputs {
            previous_arns: self.memory.certificate_arns.clone(),
        };
        self.step::<acm::Certificates>(&inputs)
            .await
            .unwrap_or_else(|error| AcmOutputs {
                unknown: target
                    .region_names()
                    .into_iter()
                    .map(|r| (r, error.clone()))
                    .collect(),
                ..Default::default()
            })
    }

    async fn access_logs(&mut self) -> LogsOutputs {
        let target = self.target;
        let previous = &self.memory.log_group_regions;
        // Without access logs in the spec or a group in the last status
        // there is nothing to look at: no calls.
        let logs = if target.spec.api.access_logs.is_some() || !previous.is_empty() {
            self.step::<logs::AccessLogs>(previous)
                .await
                .unwrap_or_else(|error| LogsOutputs {
                    unknown: target
                        .region_names()
                        .into_iter()
                        .chain(previous.iter().cloned())
                        .map(|r| (r, error.clone()))
                        .collect(),
                    ..Default::default()
                })
        } else {
            LogsOutputs::default()
        };
        self.unknown_regions(Service::Logs, logs.unknown.values());
        logs
    }

    async fn rest_apis(&mut self, inputs: &ApiGatewayInputs) -> ApiGatewayOutputs {
        let target = self.target;
        self.step::<apigateway::RestApis>(inputs)
            .await
            .unwrap_or_else(|error| ApiGatewayOutputs::unknown_in(&target.region_names(), &error))
    }

    /// The distribution with the edge on, and the name it offers DNS.
    /// Without the edge, a distribution of ours is removed only after the
    /// record batch has moved the public name off it
    /// ([`Self::distribution_after_dns`]).
    async fn distribution(
        &mut self,
        inputs: &CloudFrontInputs,
    ) -> (CloudFrontOutputs, Observed<String>) {
        let target = self.target;
        let edge = if target.edge_enabled() {
            self.step::<cloudfront::Edge>(inputs).await
        } else {
            Ok(CloudFrontOutputs::default())
        };
        let domain = match &edge {
            // The public name moves to a distribution only once it serves.
            Ok(edge) if edge.status.as_deref() == Some("Deployed") => {
                Observed::from_option(edge.domain_name.clone())
            }
            Ok(_) => Observed::Absent,
            Err(error) => {
                self.pass.unknown(Service::CloudFront, error);
                Observed::Unknown(error.clone())
            }
        };
        (edge.unwrap_or_default(), domain)
    }

    async fn records(&mut self, inputs: &Route53Inputs) -> DnsStep {
        let target = self.target;
        let dns = self.step::<route53::Dns>(inputs).await;
        let written = dns.as_ref().is_ok_and(|d| !d.valve_closed);
        DnsStep {
            switched: written
                && !inputs.hold_left_names
                && route53::switch::public_name_complete(target, inputs),
            written,
            outputs: dns.unwrap_or_default(),
        }
    }

    /// What of CloudFront waits for the record batch: without the edge, our
    /// distribution goes once DNS has moved off it; with it, the
    /// distribution moves to a new origin name once the batch has given
    /// that name its records (the old name's stay until it has deployed),
    /// and the distribution of a name the spec left (an old `domain`) goes
    /// once DNS has moved off it.
    async fn distribution_after_dns(
        &mut self,
        edge: CloudFrontOutputs,
        inputs: &CloudFrontInputs,
        dns_inputs: &Route53Inputs,
        dns: &DnsStep,
    ) -> CloudFrontOutputs {
        let (clients, target, mode) = (self.clients, self.target, self.mode);
        let edge = if target.edge_enabled() {
            edge
        } else if dns.switched {
            self.step::<cloudfront::Edge>(inputs)
                .await
                .unwrap_or_default()
        } else {
            // Only look: what a removal would do waits for DNS to move.
            let planned = self
                .in_flight
                .step(Service::CloudFront, || {
                    cloudfront::run(clients, target, inputs, Mode::Plan)
                })
                .await;
            if let Ok(planned) = planned
                && !planned.changes.is_empty()
            {
                self.pending(
                    Service::CloudFront,
                    Finding::global(format!(
                        "the distribution of {} stays until DNS no longer leads to it",
                        target.spec.domain
                    )),
                );
            }
            edge
        };

        let move_origin = edge.origin_held
            && dns.written
            && route53::switch::regions_complete(target, dns_inputs);
        let retire = !edge.retiring.is_empty() && dns.switched && mode == Mode::Apply;
        if move_origin || retire {
            let after_dns = CloudFrontInputs {
                origin_served: move_origin,
                retire_left_names: retire,
                ..inputs.clone()
            };
            let _ = self.step::<cloudfront::Edge>(&after_dns).await;
        }
        if edge.origin_held && !move_origin {
            self.pending(
                Service::CloudFront,
                Finding::global(format!(
                    "the distribution moves to origin {} once every region serves it",
                    target.origin_domain()
                )),
            );
        }
        if !retire {
            for id in &edge.retiring {
                self.pending(
                    Service::CloudFront,
                    Finding::global(format!(
                        "distribution {id}, serving a name the spec left, stays until DNS no longer leads to it"
                    )),
                );
            }
        }
        edge
    }

    /// Custom domains for a name the spec left go only once DNS has moved
    /// off them: after the record batch, in the same pass.
    async fn custom_domains_after_dns(
        &mut self,
        api: &ApiGatewayOutputs,
        inputs: &ApiGatewayInputs,
        dns_switched: bool,
    ) {
        if api.retained_domains.is_empty() {
            return;
        }
        let mode = self.mode;
        if dns_switched && mode == Mode::Apply {
            let retire = ApiGatewayInputs {
                retire_old_domains: true,
                ..inputs.clone()
            };
            let _ = self.step::<apigateway::RestApis>(&retire).await;
        } else {
            for (region, name) in &api.retained_domains {
                self.pending(
                    Service::ApiGateway,
                    Finding::in_region(
                        region,
                        format!(
                            "{region}: custom domain {name} stays until DNS no longer leads to it"
                        ),
                    ),
                );
            }
        }
    }

    /// Health alarms, where the spec asks for them or the last status had one.
    async fn alarms(&mut self, dns: &Route53Outputs) -> AlarmOutputs {
        let target = self.target;
        let alarms = if target.spec.api.health_check.alarm.is_some() || self.memory.alarms {
            let inputs = AlarmInputs {
                unread: target
                    .region_names()
                    .into_iter()
                    .filter(|r| !dns.health_check_ids.contains_key(r))
                    .collect(),
                health_checks: dns.health_check_ids.clone(),
            };
            self.step::<cloudwatch::HealthAlarms>(&inputs)
                .await
                .unwrap_or_else(|error| AlarmOutputs {
                    unknown: Some(error),
                    ..Default::default()
                })
        } else {
            AlarmOutputs::default()
        };
        if let Some(error) = &alarms.unknown {
            self.pass.unknown(Service::CloudWatch, error);
        }
        alarms
    }

    /// The Aurora database, when the spec or the last status has one (a
    /// database section with only DynamoDB tables asks nothing of RDS).
    async fn aurora(&mut self) -> RdsOutputs {
        let target = self.target;
        let wanted = target
            .spec
            .database
            .as_ref()
            .is_some_and(|d| d.aurora.is_some() || d.dynamodb.is_none());
        let previous = &self.memory.database;
        let database = if wanted || *previous != RdsInputs::default() {
            self.step::<rds::AuroraDatabase>(previous)
                .await
                .unwrap_or_else(|error| RdsOutputs {
                    unknown: vec![error],
                    ..RdsOutputs::default()
                })
        } else {
            RdsOutputs::default()
        };
        self.unknown_regions(Service::Rds, database.unknown.iter());
        database
    }

    /// DynamoDB tables, when the spec or the last status has some.
    async fn tables(&mut self) -> DynamoOutputs {
        let target = self.target;
        let wanted = target
            .spec
            .database
            .as_ref()
            .is_some_and(|d| d.dynamodb.is_some());
        let previous = &self.memory.tables;
        let tables = if wanted || !previous.is_empty() {
            self.step::<dynamodb::GlobalTables>(previous)
                .await
                .unwrap_or_else(|error| DynamoOutputs {
                    unknown: vec![error],
                    ..DynamoOutputs::default()
                })
        } else {
            DynamoOutputs::default()
        };
        self.unknown_regions(Service::DynamoDb, tables.unknown.iter());
        tables
    }

    /// Each of `errors` as an unknown part of `service`.
    fn unknown_regions<'e>(&mut self, service: Service, errors: impl Iterator<Item = &'e String>) {
        for error in errors {
            self.pass.unknown(service, error);
        }
    }

    fn pending(&mut self, service: Service, finding: Finding) {
        self.pass.pending.push(Note { service, finding });
    }
}

/// One pass that removes everything the target owns, in reverse order.
/// Parts that AWS removes slowly (a distribution being disabled, a
/// database deleting) are left pending for the next pass.
pub async fn destroy(clients: &AwsClients, target: &Target, memory: &Memory, mode: Mode) -> Pass {
    let in_flight = InFlight::default();
    let pass = Box::pin(destroy_unbounded(clients, target, memory, mode, &in_flight));
    bounded(clients, target, memory, &in_flight, pass).await
}

async fn destroy_unbounded(
    clients: &AwsClients,
    target: &Target,
    memory: &Memory,
    mode: Mode,
    in_flight: &InFlight,
) -> Pass {
    let mut steps = Steps {
        clients,
        target,
        memory,
        mode,
        in_flight,
        pass: Pass::default(),
    };
    let wants_tables = target
        .spec
        .database
        .as_ref()
        .is_some_and(|d| d.dynamodb.is_some());
    if wants_tables || !memory.tables.is_empty() {
        steps
            .destroy::<dynamodb::GlobalTables>(&memory.tables)
            .await;
    }
    steps.destroy::<rds::AuroraDatabase>(&memory.database).await;
    steps.destroy::<route53::Dns>(&()).await;
    steps.destroy::<cloudfront::Edge>(&()).await;
    let mut regions = target.region_names();
    regions.extend(
        memory
            .regions
            .iter()
            .filter(|r| !regions.contains(r))
            .cloned()
            .collect::<Vec<_>>(),
    );
    steps.destroy::<apigateway::RestApis>(&regions).await;
    steps
        .destroy::<acm::Certificates>(&memory.certificate_arns)
        .await;
    if target.spec.api.health_check.alarm.is_some() || memory.alarms {
        steps.destroy::<cloudwatch::HealthAlarms>(&()).await;
    }
    // Access log groups: where the spec or the last status has one.
    let mut log_regions = memory.log_group_regions.clone();
    if target.spec.api.access_logs.is_some() {
        log_regions.extend(regions.iter().cloned());
    }
    if !log_regions.is_empty() {
        steps.destroy::<logs::AccessLogs>(&log_regions).await;
    }
    steps.pass
}

/// Everything a pass has to say, for people: changes grouped by service
/// and region, then conflicts, pending work and errors.
pub fn report(pass: &Pass) -> String {
    let mut out = pass.plan.to_string();
    for (title, notes) in [
        ("conflicts (not ours, left untouched)", &pass.conflicts),
        ("pending", &pass.pending),
        ("errors", &pass.errors),
    ] {
        if !notes.is_empty() {
            out.push_str(&format!("{title}:\n"));
            for note in notes {
                out.push_str(&format!("  {note}\n"));
            }
        }
    }
    out
}
