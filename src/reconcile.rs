//! One pass over every service, in dependency order: ACM → API Gateway →
//! CloudFront → Route 53 (which needs the regional domains and the
//! distribution's name) → RDS. Deletion runs the other way round.
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
    cloudwatch::{self, AlarmOutputs},
    dynamodb::{self, DynamoInputs, DynamoOutputs},
    logs::{self, LogsOutputs},
    rds::{self, RdsInputs, RdsOutputs},
    route53::{self, Route53Inputs, Route53Outputs},
};
use crate::error::Result;
use crate::plan::{Mode, Plan, Service, StepOutcome};
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

/// A line of a pass's report, attributed to its service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub service: Service,
    pub text: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.service, self.text)
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
    /// Every error is a spec error (see [`Self::invalid`]).
    pub fn only_invalid(&self) -> bool {
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
            text: error.to_owned(),
        });
    }

    /// Folds one step's outcome in; a failed step becomes an error note.
    fn absorb<O: Default>(&mut self, service: Service, step: Result<StepOutcome<O>>) -> O {
        self.absorb_known(service, step).unwrap_or_default()
    }

    /// [`Self::absorb`], saying whether the step's outputs are known: `Err`
    /// with the error when the step failed as a whole.
    fn absorb_known<O>(
        &mut self,
        service: Service,
        step: Result<StepOutcome<O>>,
    ) -> Result<O, String> {
        match step {
            Ok(outcome) => {
                self.plan.extend(outcome.changes);
                let note = |text: String| Note { service, text };
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
                    text: text.clone(),
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
        text: text.clone(),
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
    let mut pass = Pass::default();
    let followed = following_the_writer(target, memory);
    let target = followed.as_ref().unwrap_or(target);

    if let Some(previous) = &memory.adopt {
        // Until the previous owner's resources are the heir's, the pass
        // would take them for someone else's and make twins.
        match in_flight
            .step(Service::Route53, || {
                adoption::run(clients, target, previous, mode)
            })
            .await
        {
            Ok(changes) => {
                pass.plan.extend(changes);
                if mode == Mode::Apply {
                    pass.outputs.adopted = Some(previous.annotation());
                }
            }
            Err((service, error)) => {
                pass.absorb::<()>(service, Err(error));
                return pass;
            }
        }
    }

    let acm_inputs = AcmInputs {
        previous_arns: memory.certificate_arns.clone(),
    };
    let acm = pass
        .absorb_known(
            Service::Acm,
            in_flight
                .step(Service::Acm, || {
                    acm::run(clients, target, &acm_inputs, mode)
                })
                .await,
        )
        .unwrap_or_else(|error| AcmOutputs {
            unknown: target
                .region_names()
                .into_iter()
                .map(|r| (r, error.clone()))
                .collect(),
            ..Default::default()
        });

    // Without access logs in the spec or a group in the last status there
    // is nothing to look at: no calls.
    let logs = if target.spec.api.access_logs.is_some() || !memory.log_group_regions.is_empty() {
        pass.absorb_known(
            Service::Logs,
            in_flight
                .step(Service::Logs, || {
                    logs::run(clients, target, &memory.log_group_regions, mode)
                })
                .await,
        )
        .unwrap_or_else(|error| LogsOutputs {
            unknown: target
                .region_names()
                .into_iter()
                .chain(memory.log_group_regions.iter().cloned())
                .map(|r| (r, error.clone()))
                .collect(),
            ..Default::default()
        })
    } else {
        LogsOutputs::default()
    };
    for error in logs.unknown.values() {
        pass.unknown(Service::Logs, error);
    }

    let api_inputs = ApiGatewayInputs {
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
    };
    let api = pass
        .absorb_known(
            Service::ApiGateway,
            in_flight
                .step(Service::ApiGateway, || {
                    apigateway::run(clients, target, &api_inputs, mode)
                })
                .await,
        )
        .unwrap_or_else(|error| ApiGatewayOutputs::unknown_in(&target.region_names(), &error));

    let edge_inputs = CloudFrontInputs {
        certificate_arn: acm
            .edge
            .as_ref()
            .filter(|c| c.issued)
            .map(|c| c.arn.clone()),
        retire_left_names: false,
        origin_served: false,
    };
    for error in acm.unknown.values() {
        pass.unknown(Service::Acm, error);
    }
    for error in api.unknown.values() {
        pass.unknown(Service::ApiGateway, error);
    }

    // Without the edge, a distribution of ours is removed only after the
    // record batch has moved the public name off it (below).
    let edge = if target.edge_enabled() {
        pass.absorb_known(
            Service::CloudFront,
            in_flight
                .step(Service::CloudFront, || {
                    cloudfront::run(clients, target, &edge_inputs, mode)
                })
                .await,
        )
    } else {
        Ok(CloudFrontOutputs::default())
    };
    let cloudfront_domain = match &edge {
        // The public name moves to a distribution only once it serves.
        Ok(edge) if edge.status.as_deref() == Some("Deployed") => {
            Observed::from_option(edge.domain_name.clone())
        }
        Ok(_) => Observed::Absent,
        Err(error) => {
            pass.unknown(Service::CloudFront, error);
            Observed::Unknown(error.clone())
        }
    };
    let edge = edge.unwrap_or_default();

    let edge_settled = edge.status.as_deref() == Some("Deployed") && !edge.origin_held;
    let dns_inputs = Route53Inputs {
        endpoints: api.endpoints(),
        hold_left_names: target.edge_enabled() && !edge_settled,
        cloudfront_domain,
        validation_records: match acm.unknown.values().next() {
            Some(error) => Observed::Unknown(error.clone()),
            None => Observed::Known(acm.validation_records.clone()),
        },
    };
    let dns = pass.absorb_known(
        Service::Route53,
        in_flight
            .step(Service::Route53, || {
                route53::run(clients, target, &dns_inputs, mode)
            })
            .await,
    );
    let dns_written = dns.as_ref().is_ok_and(|d| !d.valve_closed);
    let dns_switched = dns_written
        && !dns_inputs.hold_left_names
        && route53::switch::public_name_complete(target, &dns_inputs);
    let dns = dns.unwrap_or_default();

    let edge = if target.edge_enabled() {
        edge
    } else if dns_switched {
        pass.absorb(
            Service::CloudFront,
            in_flight
                .step(Service::CloudFront, || {
                    cloudfront::run(clients, target, &edge_inputs, mode)
                })
                .await,
        )
    } else {
        // Only look: what a removal would do waits for DNS to move.
        let planned = in_flight
            .step(Service::CloudFront, || {
                cloudfront::run(clients, target, &edge_inputs, Mode::Plan)
            })
            .await;
        if let Ok(planned) = planned
            && !planned.changes.is_empty()
        {
            pass.pending.push(Note {
                service: Service::CloudFront,
                text: format!(
                    "the distribution of {} stays until DNS no longer leads to it",
                    target.spec.domain
                ),
            });
        }
        edge
    };

    // After the record batch, in the same pass and in one CloudFront step:
    // the distribution moves to a new origin name once the batch has given
    // that name its records (the old name's stay until it has deployed), and
    // the distribution of a name the spec left (an old `domain`) goes once
    // DNS has moved off it.
    let move_origin =
        edge.origin_held && dns_written && route53::switch::regions_complete(target, &dns_inputs);
    let retire = !edge.retiring.is_empty() && dns_switched && mode == Mode::Apply;
    if move_origin || retire {
        let after_dns = CloudFrontInputs {
            origin_served: move_origin,
            retire_left_names: retire,
            ..edge_inputs.clone()
        };
        pass.absorb(
            Service::CloudFront,
            in_flight
                .step(Service::CloudFront, || {
                    cloudfront::run(clients, target, &after_dns, mode)
                })
                .await,
        );
    }
    if edge.origin_held && !move_origin {
        pass.pending.push(Note {
            service: Service::CloudFront,
            text: format!(
                "the distribution moves to origin {} once every region serves it",
                target.origin_domain()
            ),
        });
    }
    if !retire {
        for id in &edge.retiring {
            pass.pending.push(Note {
                service: Service::CloudFront,
                text: format!(
                    "distribution {id}, serving a name the spec left, stays until DNS no longer leads to it"
                ),
            });
        }
    }

    // Custom domains for a name the spec left go only once DNS has moved
    // off them: after the record batch, in the same pass.
    if !api.retained_domains.is_empty() {
        if dns_switched && mode == Mode::Apply {
            let retire = ApiGatewayInputs {
                retire_old_domains: true,
                ..api_inputs.clone()
            };
            pass.absorb(
                Service::ApiGateway,
                in_flight
                    .step(Service::ApiGateway, || {
                        apigateway::run(clients, target, &retire, mode)
                    })
                    .await,
            );
        } else {
            for (region, name) in &api.retained_domains {
                pass.pending.push(Note {
                    service: Service::ApiGateway,
                    text: format!(
                        "{region}: custom domain {name} stays until DNS no longer leads to it"
                    ),
                });
            }
        }
    }

    // Health alarms, where the spec asks for them or the last status had one.
    let alarms = if target.spec.api.health_check.alarm.is_some() || memory.alarms {
        let checks = dns.health_check_ids.clone();
        let unread: std::collections::BTreeSet<String> = target
            .region_names()
            .into_iter()
            .filter(|r| !checks.contains_key(r))
            .collect();
        pass.absorb_known(
            Service::CloudWatch,
            in_flight
                .step(Service::CloudWatch, || {
                    cloudwatch::run(clients, target, &checks, &unread, mode)
                })
                .await,
        )
        .unwrap_or_else(|error| AlarmOutputs {
            unknown: Some(error),
            ..Default::default()
        })
    } else {
        AlarmOutputs::default()
    };
    if let Some(error) = &alarms.unknown {
        pass.unknown(Service::CloudWatch, error);
    }

    // Without a database in the spec or in the last status there is nothing
    // to observe: skip the reads.
    // (A database section with only DynamoDB tables asks nothing of RDS.)
    let rds_wanted = target
        .spec
        .database
        .as_ref()
        .is_some_and(|d| d.aurora.is_some() || d.dynamodb.is_none());
    let database = if rds_wanted || memory.database != RdsInputs::default() {
        match pass.absorb_known(
            Service::Rds,
            in_flight
                .step(Service::Rds, || {
                    rds::run(clients, target, &memory.database, mode)
                })
                .await,
        ) {
            Ok(database) => database,
            Err(error) => RdsOutputs {
                unknown: vec![error],
                ..RdsOutputs::default()
            },
        }
    } else {
        RdsOutputs::default()
    };
    for error in &database.unknown {
        pass.unknown(Service::Rds, error);
    }

    // Tables in the spec or the last status: otherwise no calls.
    let wants_tables = target
        .spec
        .database
        .as_ref()
        .is_some_and(|d| d.dynamodb.is_some());
    let tables = if wants_tables || !memory.tables.is_empty() {
        match pass.absorb_known(
            Service::DynamoDb,
            in_flight
                .step(Service::DynamoDb, || {
                    dynamodb::run(clients, target, &memory.tables, mode)
                })
                .await,
        ) {
            Ok(tables) => tables,
            Err(error) => DynamoOutputs {
                unknown: vec![error],
                ..DynamoOutputs::default()
            },
        }
    } else {
        DynamoOutputs::default()
    };
    for error in &tables.unknown {
        pass.unknown(Service::DynamoDb, error);
    }

    pass.outputs = Outputs {
        acm,
        logs,
        apigateway: api,
        cloudfront: edge,
        route53: dns,
        alarms,
        rds: database,
        dynamodb: tables,
        adopted: pass.outputs.adopted.take(),
    };
    pass
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
    let mut pass = Pass::default();
    let wants_tables = target
        .spec
        .database
        .as_ref()
        .is_some_and(|d| d.dynamodb.is_some());
    if wants_tables || !memory.tables.is_empty() {
        pass.absorb(
            Service::DynamoDb,
            in_flight
                .step(Service::DynamoDb, || {
                    dynamodb::destroy(clients, target, &memory.tables, mode)
                })
                .await,
        );
    }
    pass.absorb(
        Service::Rds,
        in_flight
            .step(Service::Rds, || {
                rds::destroy_with(
                    |region| clients.rds(region),
                    clients.announcer(),
                    target,
                    &memory.database,
                    mode,
                )
            })
            .await,
    );
    pass.absorb(
        Service::Route53,
        in_flight
            .step(Service::Route53, || route53::destroy(clients, target, mode))
            .await,
    );
    pass.absorb(
        Service::CloudFront,
        in_flight
            .step(Service::CloudFront, || {
                cloudfront::destroy(clients, target, mode)
            })
            .await,
    );
    let mut regions = target.region_names();
    regions.extend(
        memory
            .regions
            .iter()
            .filter(|r| !regions.contains(r))
            .cloned()
            .collect::<Vec<_>>(),
    );
    pass.absorb(
        Service::ApiGateway,
        in_flight
            .step(Service::ApiGateway, || {
                apigateway::destroy_regions(clients, target, &regions, mode)
            })
            .await,
    );
    pass.absorb(
        Service::Acm,
        in_flight
            .step(Service::Acm, || {
                acm::destroy(clients, target, &memory.certificate_arns, mode)
            })
            .await,
    );
    if target.spec.api.health_check.alarm.is_some() || memory.alarms {
        pass.absorb(
            Service::CloudWatch,
            in_flight
                .step(Service::CloudWatch, || {
                    cloudwatch::destroy(clients, target, mode)
                })
                .await,
        );
    }
    // Access log groups: where the spec or the last status has one.
    let mut log_regions = memory.log_group_regions.clone();
    if target.spec.api.access_logs.is_some() {
        log_regions.extend(regions.iter().cloned());
    }
    if !log_regions.is_empty() {
        pass.absorb(
            Service::Logs,
            in_flight
                .step(Service::Logs, || {
                    logs::destroy(clients, target, &log_regions, mode)
                })
                .await,
        );
    }
    pass
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
