//! The `globalapi` command line.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context;
use clap::{Parser, Subcommand};
use globalapi::{
    aws::{Announcer, AwsClients, clients::AwsTimeouts},
    controller, manifest,
    plan::Mode,
    reconcile::{self, Memory, Pass},
    target::Target,
};

/// A multi-region API on AWS from one Kubernetes resource.
#[derive(Parser)]
#[command(name = "globalapi", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    bounds: Bounds,
    #[command(flatten)]
    rates: Rates,
    #[command(flatten)]
    logging: Logging,
}

/// How the process logs, on stderr. The filter is `RUST_LOG` (e.g.
/// `info,globalapi=debug`); without it, `run` logs at info and the other
/// commands at warn (their output is the plan on stdout).
#[derive(clap::Args)]
struct Logging {
    /// `text` (lines for people) or `json` (one object per line, for a log
    /// pipeline).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t = LogFormat::Text,
        env = "GLOBALAPI_LOG_FORMAT"
    )]
    log_format: LogFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Starts logging as `logging` and `RUST_LOG` say; a filter that does not
/// parse is refused with its error, not ignored.
fn start_logging(logging: &Logging, command: &Command) -> anyhow::Result<()> {
    let default = if matches!(command, Command::Run(_)) {
        "info"
    } else {
        "warn"
    };
    let filter = match std::env::var("RUST_LOG") {
        Ok(text) if !text.trim().is_empty() => tracing_subscriber::EnvFilter::try_new(&text)
            .with_context(|| {
                format!("RUST_LOG={text:?} is not a log filter: write levels such as info or directives such as info,globalapi=debug")
            })?,
        _ => tracing_subscriber::EnvFilter::new(default),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match logging.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
    Ok(())
}

/// The account's AWS request rates, which every call is paced into.
#[derive(clap::Args)]
struct Rates {
    /// A raised quota, replacing AWS's documented rate:
    /// SERVICE[:OPERATION]=REQUESTS/SECONDS[,BURST], e.g.
    /// `apigateway:CreateDomainName=2/30` (repeat the flag, or separate them
    /// with spaces in the variable).
    #[arg(
        long = "aws-rate",
        global = true,
        value_name = "RATE",
        env = "GLOBALAPI_AWS_RATES",
        value_delimiter = ' '
    )]
    aws_rates: Vec<globalapi::aws::budget::RateOverride>,
    /// This deployment's fraction of every rate: 1 / the number of operator
    /// deployments (label-selector shards) sharing the AWS account.
    #[arg(
        long,
        global = true,
        value_name = "FRACTION",
        default_value_t = 1.0,
        env = "GLOBALAPI_AWS_BUDGET_SHARE"
    )]
    aws_budget_share: f64,
    /// Every rate multiplied by this (an account whose quotas were all
    /// raised alike, or an AWS emulator).
    #[arg(
        long,
        global = true,
        value_name = "FACTOR",
        default_value_t = 1.0,
        env = "GLOBALAPI_AWS_RATE_SCALE"
    )]
    aws_rate_scale: f64,
}

impl Rates {
    fn budget(&self) -> globalapi::aws::budget::Budget {
        globalapi::aws::budget::Budget::new(globalapi::aws::budget::BudgetConfig {
            overrides: self.aws_rates.clone(),
            share: self.aws_budget_share,
            scale: self.aws_rate_scale,
            ..Default::default()
        })
    }
}

/// How long anything may take, so that an AWS region or service that stops
/// answering delays only what needs it.
#[derive(clap::Args)]
struct Bounds {
    /// Bound of one AWS request (one attempt).
    #[arg(
        long,
        global = true,
        value_name = "SECONDS",
        default_value_t = 20,
        env = "GLOBALAPI_AWS_ATTEMPT_TIMEOUT"
    )]
    aws_attempt_timeout: u64,
    /// Bound of one AWS operation, its retries included.
    #[arg(
        long,
        global = true,
        value_name = "SECONDS",
        default_value_t = 60,
        env = "GLOBALAPI_AWS_OPERATION_TIMEOUT"
    )]
    aws_operation_timeout: u64,
    /// Bound of one reconcile pass over every service; what it had not
    /// reached is reported unknown and left as it is.
    #[arg(
        long,
        global = true,
        value_name = "SECONDS",
        default_value_t = 300,
        env = "GLOBALAPI_PASS_TIMEOUT"
    )]
    pass_timeout: u64,
}

impl Bounds {
    fn timeouts(&self) -> AwsTimeouts {
        AwsTimeouts {
            attempt: Duration::from_secs(self.aws_attempt_timeout.max(1)),
            operation: Duration::from_secs(self.aws_operation_timeout.max(1)),
            pass: Duration::from_secs(self.pass_timeout.max(1)),
            ..AwsTimeouts::default()
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Print the GlobalApi CustomResourceDefinition as YAML.
    Crd,
    /// Show every change a reconcile (or, with --destroy, a destroy) would
    /// make against live AWS; change nothing. Exits 0 when AWS equals the
    /// manifest, 2 when there are changes, 1 on an error.
    Plan(PlanArgs),
    /// Reconcile AWS with the manifest once (or until converged with
    /// --wait). Exits 0 when converged, 2 when work is still pending
    /// (certificates issuing, distributions deploying), 1 on an error or a
    /// conflict.
    Apply(WaitArgs),
    /// Remove everything the manifest's GlobalApis own in AWS, and nothing
    /// else. Asks first when stdin is a terminal (--yes does not). Exits
    /// like apply.
    Destroy(DestroyArgs),
    /// Run the operator: watch GlobalApis and keep AWS equal to them, until
    /// SIGTERM or SIGINT. Uses the kubeconfig ($KUBECONFIG) or the in-cluster
    /// service account, and the standard AWS configuration chain.
    Run(RunArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// Watch only these namespaces: repeat the flag or separate them with
    /// commas (default: every namespace).
    #[arg(long = "namespace", value_name = "NAMESPACE", value_delimiter = ',')]
    namespaces: Vec<String>,
    /// Reconcile only GlobalApis whose labels match this selector
    /// (`shard=a`, `tier in (gold,silver)`), to split them among several
    /// operators; each must have its own leader Lease.
    #[arg(long, value_name = "LABEL_SELECTOR")]
    selector: Option<String>,
    /// Address of the HTTP endpoint serving /healthz, /readyz and /metrics.
    #[arg(long, default_value = "0.0.0.0:8080")]
    metrics_addr: SocketAddr,
    /// Reconcile only while holding the leader Lease, so that of several
    /// replicas one works at a time; `--leader-elect=false` for a single
    /// replica without the Lease.
    #[arg(
        long,
        value_name = "BOOL",
        default_value_t = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    leader_elect: bool,
    /// Namespace of the leader Lease [default: $POD_NAMESPACE, else the
    /// --namespace watched, else "default"].
    #[arg(long, value_name = "NAMESPACE")]
    leader_election_namespace: Option<String>,
    /// Name of the leader Lease; replicas sharing it elect one leader.
    #[arg(long, value_name = "NAME", default_value = controller::leader::DEFAULT_LEASE)]
    leader_election_lease: String,
    /// How long one account-wide listing (a hosted zone's records, health
    /// checks, and per region certificates, REST APIs and custom domains;
    /// distributions) serves every GlobalApi before it is listed again; 0
    /// lists for every object. A GlobalApi never uses a listing older than
    /// its own previous pass.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    shared_listing_seconds: u64,
    /// How many GlobalApis of one watched namespace (or of all, without
    /// --namespace) are reconciled at the same time; the others wait their
    /// turn. Bounds the bursts of AWS calls after a restart.
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    max_concurrent_reconciles: u16,
    /// After SIGTERM, how long reconciles in flight may finish before they
    /// are cut (a cut pass is safe; the next leader resumes). Keep the pod's
    /// terminationGracePeriodSeconds above it.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    shutdown_grace_seconds: u64,
    /// A reconcile running longer than this makes /healthz fail (stuck:
    /// a restart may help). Default: the pass bound plus what the status
    /// write and Events may take.
    #[arg(long, value_name = "SECONDS")]
    stuck_reconcile_seconds: Option<u64>,
    /// Check each GlobalApi against the GlobalApiPolicies of its namespace
    /// before every pass (the chart's `tenancy.enabled`): one that a policy
    /// does not allow, or in a namespace without a policy, gets no AWS call
    /// and a PolicyViolation condition. Deletion is never held back.
    #[arg(long, env = "GLOBALAPI_TENANCY_POLICIES")]
    tenancy_policies: bool,
}

impl RunArgs {
    /// The leader election asked for, if any.
    fn leader_election(&self) -> Option<controller::leader::LeaderConfig> {
        if !self.leader_elect {
            return None;
        }
        let namespace = self
            .leader_election_namespace
            .clone()
            .or_else(|| {
                std::env::var("POD_NAMESPACE")
                    .ok()
                    .filter(|n| !n.is_empty())
            })
            .or_else(|| self.namespaces.first().cloned())
            .unwrap_or_else(|| "default".to_owned());
        Some(controller::leader::LeaderConfig::new(
            namespace,
            self.leader_election_lease.clone(),
            controller::leader::identity(),
        ))
    }
}

#[derive(clap::Args)]
struct FileArgs {
    /// The manifest: the same YAML you would `kubectl apply`; `-` reads it
    /// from stdin.
    #[arg(short = 'f', long = "filename")]
    file: PathBuf,
    /// Namespace for GlobalApis that name none (it is part of the owner tag).
    #[arg(short, long)]
    namespace: Option<String>,
}

#[derive(clap::Args)]
struct PlanArgs {
    /// The manifest: the same YAML you would `kubectl apply`; `-` reads it
    /// from stdin.
    #[arg(short = 'f', long = "filename", required_unless_present = "object")]
    file: Option<PathBuf>,
    /// Namespace for GlobalApis that name none (it is part of the owner tag).
    #[arg(short, long)]
    namespace: Option<String>,
    /// Plan a GlobalApi of the cluster instead of a manifest:
    /// NAMESPACE/NAME, read with its uid (the one its resources are tagged
    /// with) and its last status, through the kubeconfig ($KUBECONFIG).
    #[arg(long, value_name = "NAMESPACE/NAME", conflicts_with = "file")]
    object: Option<String>,
    /// Plan the removal of what the GlobalApis own instead.
    #[arg(long)]
    destroy: bool,
    /// `text` for people, or `json`: one document,
    /// `{"apiVersion": "globalapi.io/plan/v1", "globalApis": [{"owner",
    /// "changes": [{"service", "region", "action", "kind", "resource",
    /// "fields": [{"field", "observed", "desired"}]}], "conflicts",
    /// "pending", "errors": [{"service", "message"}]}]}`.
    #[arg(short, long, value_enum, default_value_t = PlanOutput::Text)]
    output: PlanOutput,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum PlanOutput {
    Text,
    Json,
}

#[derive(clap::Args)]
struct DestroyArgs {
    #[command(flatten)]
    wait: WaitArgs,
    /// Do not ask, also on a terminal.
    #[arg(long, short = 'y')]
    yes: bool,
}

#[derive(clap::Args)]
struct WaitArgs {
    #[command(flatten)]
    file: FileArgs,
    /// Repeat passes until nothing is pending (certificates issuing,
    /// distributions deploying), for at most this many seconds.
    #[arg(long, value_name = "SECONDS")]
    wait: Option<u64>,
}

fn main() -> ExitCode {
    match run_cli() {
        Ok(code) => code,
        Err(err) => {
            // The chain of causes, without a backtrace: these are messages for people.
            eprintln!("globalapi: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The stack of each runtime thread.
const RUNTIME_STACK: usize = 16 * 1024 * 1024;

fn run_cli() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    start_logging(&cli.logging, &cli.command)?;
    if let Command::Crd = cli.command {
        let crds = globalapi::api::crds().context("building the CRDs")?;
        let texts = crds
            .iter()
            .map(serde_norway::to_string)
            .collect::<Result<Vec<_>, _>>()
            .context("rendering the CRDs")?;
        print!("{}", texts.join("---\n"));
        return Ok(ExitCode::SUCCESS);
    }
    // A reconcile pass is a deep future over every service; unoptimised
    // builds poll it with large frames, past the 2 MiB default.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(RUNTIME_STACK)
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run(cli.command, cli.bounds.timeouts(), cli.rates.budget()))
}

async fn run(
    command: Command,
    timeouts: AwsTimeouts,
    budget: globalapi::aws::budget::Budget,
) -> anyhow::Result<ExitCode> {
    if let Command::Run(args) = command {
        controller::run(controller::Config {
            timeouts,
            budget,
            leader_election: args.leader_election(),
            namespaces: args.namespaces,
            selector: args.selector,
            metrics_addr: args.metrics_addr,
            shared_listing_max_age: std::time::Duration::from_secs(args.shared_listing_seconds),
            max_concurrent_reconciles: args.max_concurrent_reconciles,
            shutdown_grace: std::time::Duration::from_secs(args.shutdown_grace_seconds),
            stuck_after: args
                .stuck_reconcile_seconds
                .map(|s| std::time::Duration::from_secs(s.max(1))),
            tenancy_policies: args.tenancy_policies,
        })
        .await
        .context("running the operator")?;
        return Ok(ExitCode::SUCCESS);
    }
    // Read the manifest before touching AWS: a bad one is refused first.
    let mut memories = Vec::new();
    let targets = match &command {
        Command::Crd | Command::Run(_) => Vec::new(),
        Command::Plan(PlanArgs {
            object: Some(key), ..
        }) => {
            let (target, memory) = cluster_object(key).await?;
            memories.push(memory);
            vec![target]
        }
        Command::Plan(args) => {
            let file = args.file.as_deref().context("-f/--filename is required")?;
            manifest::read(file, args.namespace.as_deref())?
        }
        Command::Apply(args) => read(&args.file)?,
        Command::Destroy(args) => read(&args.wait.file)?,
    };
    if let Command::Destroy(args) = &command
        && !args.yes
        && std::io::IsTerminal::is_terminal(&std::io::stdin())
        && !confirmed(&targets)?
    {
        eprintln!("globalapi: nothing was destroyed");
        return Ok(ExitCode::FAILURE);
    }
    let clients = AwsClients::from_env()
        .await
        .with_timeouts(timeouts)
        .with_budget(budget)
        .with_announcer(Announcer::new(|_, change| {
            Box::pin(async move { eprintln!("warning: about to {change}") })
        }));
    clients
        .check_credentials()
        .await
        .context("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or a web identity")?;
    let code = match command {
        Command::Crd | Command::Run(_) => ExitCode::SUCCESS,
        Command::Plan(args) => plan(&clients, &targets, &memories, &args).await,
        Command::Apply(args) => passes(&clients, &targets, args.wait, false).await,
        Command::Destroy(args) => passes(&clients, &targets, args.wait.wait, true).await,
    };
    // The summary goes beside the logs: stdout is the plan.
    eprint!("{}", clients.calls().snapshot());
    Ok(code)
}

/// `globalapi plan`: each target's plan (or its deletion's), as text or one
/// JSON document; exit 2 when something would change, 1 on an error.
async fn plan(
    clients: &AwsClients,
    targets: &[Target],
    memories: &[Memory],
    args: &PlanArgs,
) -> ExitCode {
    let mut changed = false;
    let mut failed = false;
    let mut documents = Vec::new();
    for (index, target) in targets.iter().enumerate() {
        let memory = memories.get(index).cloned().unwrap_or_default();
        let pass = if args.destroy {
            reconcile::destroy(clients, target, &memory, Mode::Plan).await
        } else {
            reconcile::reconcile(clients, target, &memory, Mode::Plan).await
        };
        match args.output {
            PlanOutput::Text => print_pass(target, &pass),
            PlanOutput::Json => documents.push(plan_document(target, &pass)),
        }
        changed |= !pass.plan.is_empty();
        failed |= !pass.errors.is_empty();
    }
    if args.output == PlanOutput::Json {
        let document = serde_json::json!({
            "apiVersion": PLAN_API_VERSION,
            "globalApis": documents,
        });
        println!("{document:#}");
    }
    if failed {
        ExitCode::FAILURE
    } else if changed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

/// Asks on the terminal whether to destroy what `targets` own.
fn confirmed(targets: &[Target]) -> anyhow::Result<bool> {
    let owners: Vec<String> = targets.iter().map(Target::owner).collect();
    eprint!(
        "Destroy every AWS resource that {} own(s)? Type yes: ",
        owners.join(", ")
    );
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .context("reading the answer")?;
    Ok(answer.trim() == "yes")
}

fn read(args: &FileArgs) -> anyhow::Result<Vec<Target>> {
    Ok(manifest::read(&args.file, args.namespace.as_deref())?)
}

/// The GlobalApi `namespace/name` of the cluster, and what its status
/// remembers.
async fn cluster_object(key: &str) -> anyhow::Result<(Target, Memory)> {
    let (namespace, name) = key
        .split_once('/')
        .context("--object takes NAMESPACE/NAME")?;
    let client = kube::Client::try_default()
        .await
        .context("connecting to the cluster ($KUBECONFIG)")?;
    let api: kube::Api<globalapi::api::GlobalApi> = kube::Api::namespaced(client, namespace);
    let object = api
        .get(name)
        .await
        .with_context(|| format!("reading GlobalApi {key}"))?;
    let target = Target::from_object(&object)?;
    let mut memory = Memory::from_status(object.status.as_ref());
    memory.database.failover_to = object.failover_to().map(str::to_owned);
    Ok((target, memory))
}

/// Apply or destroy passes for every GlobalApi of the file; with --wait,
/// repeated until nothing is pending or the time is up.
async fn passes(
    clients: &AwsClients,
    targets: &[Target],
    wait: Option<u64>,
    destroy: bool,
) -> ExitCode {
    let deadline = wait.map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    let (mut failed, mut pending) = (false, false);
    for target in targets {
        let mut memory = Memory::default();
        loop {
            let pass = if destroy {
                reconcile::destroy(clients, target, &memory, Mode::Apply).await
            } else {
                reconcile::reconcile(clients, target, &memory, Mode::Apply).await
            };
            print_pass(target, &pass);
            memory = remember(&memory, &pass);
            let settled = pass.pending.is_empty() || !pass.errors.is_empty();
            let waiting = deadline.is_some_and(|d| tokio::time::Instant::now() < d);
            if settled || !waiting {
                failed |= !pass.errors.is_empty() || !pass.conflicts.is_empty();
                pending |= !pass.pending.is_empty();
                break;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
    if failed {
        ExitCode::FAILURE
    } else if pending {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

/// What a pass made that the next pass must be able to find again.
fn remember(memory: &Memory, pass: &Pass) -> Memory {
    let mut next = memory.clone();
    for arn in pass.outputs.acm.arns() {
        if !next.certificate_arns.contains(&arn) {
            next.certificate_arns.push(arn);
        }
    }
    let database = pass.outputs.rds.remembered();
    if database.previous_global_cluster_arn.is_some() {
        next.database.previous_global_cluster_arn = database.previous_global_cluster_arn;
    }
    // Where the writer was seen, as the operator keeps it in status: with
    // routing.followDatabaseWriter the next pass's DNS follows it.
    if database.previous_writer_region.is_some() {
        next.database.previous_writer_region = database.previous_writer_region;
    }
    for region in database.previous_regions {
        if !next.database.previous_regions.contains(&region) {
            next.database.previous_regions.push(region);
        }
    }
    for region in pass.outputs.apigateway.regions.keys() {
        if !next.regions.contains(region) {
            next.regions.push(region.clone());
        }
    }
    for region in pass.outputs.logs.groups.keys() {
        if !next.log_group_regions.contains(region) {
            next.log_group_regions.push(region.clone());
        }
    }
    let tables = pass.outputs.dynamodb.remembered();
    for table in tables.previous_tables {
        if !next.tables.previous_tables.contains(&table) {
            next.tables.previous_tables.push(table);
        }
    }
    for region in tables.previous_regions {
        if !next.tables.previous_regions.contains(&region) {
            next.tables.previous_regions.push(region);
        }
    }
    next.alarms |= !pass.outputs.alarms.states.is_empty();
    next
}

/// The version of `plan -o json`'s shape; a change that is not an addition
/// gets a new one.
const PLAN_API_VERSION: &str = "globalapi.io/plan/v1";

/// One GlobalApi's part of `plan -o json`.
fn plan_document(target: &Target, pass: &Pass) -> serde_json::Value {
    let notes = |notes: &[reconcile::Note]| -> Vec<serde_json::Value> {
        notes
            .iter()
            .map(|n| serde_json::json!({"service": n.service.as_str(), "message": n.finding.text}))
            .collect()
    };
    let changes: Vec<serde_json::Value> = pass
        .plan
        .changes
        .iter()
        .map(|c| {
            serde_json::json!({
                "service": c.service.as_str(),
                "region": c.region,
                "action": c.action.to_string(),
                "kind": c.kind,
                "resource": c.resource,
                "fields": c.fields.iter().map(|f| serde_json::json!({
                    "field": f.field,
                    "observed": f.observed,
                    "desired": f.desired,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::json!({
        "owner": target.owner(),
        "changes": changes,
        "conflicts": notes(&pass.conflicts),
        "pending": notes(&pass.pending),
        "errors": notes(&pass.errors),
    })
}

fn print_pass(target: &Target, pass: &Pass) {
    println!("GlobalApi {}:", target.owner());
    for line in reconcile::report(pass).lines() {
        println!("  {line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_pass_of_apply_wait_remembers_where_the_writer_was_seen() {
        let mut pass = Pass::default();
        pass.outputs.rds.writer_region = Some("eu-west-1".into());
        let next = remember(&Memory::default(), &pass);
        assert_eq!(
            next.database.previous_writer_region.as_deref(),
            Some("eu-west-1")
        );
        // A pass that did not see the writer keeps what was remembered.
        let again = remember(&next, &Pass::default());
        assert_eq!(
            again.database.previous_writer_region.as_deref(),
            Some("eu-west-1")
        );
    }
}
