//! Leader election of `globalapi run` against the real kube-apiserver and
//! moto: of two replicas sharing a Lease only the holder reconciles; when
//! the holder is killed (SIGKILL, so it cannot release the Lease) the other
//! takes over once the Lease expires and applies a spec change; a leader
//! whose Lease is taken away stops with an error; a replica stopped by
//! SIGTERM, waiting or leading, exits cleanly and a leader releases the Lease.

mod common;

use std::{
    fs::File,
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use globalapi::{
    api::GlobalApi,
    aws::{AwsClients, route53::observe},
    target::Target,
};
use kube::Api;
use serde_json::Value;

const LEASE: &str = "globalapi-leader-test";
/// The operator's Lease duration (15 s) plus polling and a generous margin.
const TAKEOVER_BOUND: Duration = Duration::from_secs(45);

/// One `globalapi run` replica, killed when dropped (also on panic).
struct Replica {
    name: String,
    child: Child,
    log: PathBuf,
    addr: String,
}

impl Replica {
    /// Starts a replica called `name` (its POD_NAME) watching `namespace`,
    /// electing over the Lease [`LEASE`] in that namespace.
    fn start(env: &common::TestEnv, namespace: &str, name: &str) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr = format!("127.0.0.1:{port}");
        let dir = env.root.join("target/leader-election-test");
        std::fs::create_dir_all(&dir).expect("log dir");
        let log = dir.join(format!("{namespace}-{name}.log"));
        let out = File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_globalapi"))
            .args([
                "run",
                "--namespace",
                namespace,
                "--metrics-addr",
                &addr,
                "--leader-election-namespace",
                namespace,
                "--leader-election-lease",
                LEASE,
            ])
            .env("KUBECONFIG", &env.kubeconfig)
            .env("POD_NAME", name)
            .envs(env.aws.iter())
            .env("RUST_LOG", "info,globalapi=debug")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("starting globalapi run");
        let replica = Self {
            name: name.to_owned(),
            child,
            log,
            addr,
        };
        replica.wait_until("/healthz answers 200", Duration::from_secs(30), || {
            replica.get("/healthz").0 == 200
        });
        replica
    }

    /// `GET path`: (status code, body); (0, "") when nothing answers.
    fn get(&self, path: &str) -> (u16, String) {
        let Ok(mut stream) = TcpStream::connect(&self.addr) else {
            return (0, String::new());
        };
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        if stream.write_all(request.as_bytes()).is_err() {
            return (0, String::new());
        }
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        let code = response
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (code, body)
    }

    /// The replica's /metrics page; panics when it does not answer.
    fn metrics(&self) -> String {
        let (code, body) = self.get("/metrics");
        assert_eq!(code, 200, "{}: /metrics\n{}", self.name, self.logs());
        body
    }

    /// The value of the unlabelled metric `name`.
    fn metric(&self, name: &str) -> u64 {
        let page = self.metrics();
        page.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{}: no metric {name} in\n{page}", self.name))
    }

    /// The AWS calls the replica made, as metric lines.
    fn aws_calls(&self) -> Vec<String> {
        self.metrics()
            .lines()
            .filter(|l| l.starts_with("globalapi_aws_calls_total{"))
            .map(str::to_owned)
            .collect()
    }

    fn leading(&self) -> bool {
        self.metric("globalapi_leader") == 1
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls `check` every second until it holds; panics with this
    /// replica's log after `timeout`.
    fn wait_until(&self, what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
        let start = Instant::now();
        while !check() {
            if start.elapsed() > timeout {
                let logs = self.logs();
                let tail: Vec<&str> = logs.lines().rev().take(80).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                panic!(
                    "{what}: not within {timeout:?}; log of {} ({}):\n{}",
                    self.name,
                    self.log.display(),
                    tail.join("\n")
                );
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    /// Waits (bounded) for the process to end by itself.
    fn exit_within(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        None
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args([signal, &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill {signal} {pid}");
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn manifest(namespace: &str, name: &str, zone: &str) -> String {
    format!(
        r#"apiVersion: globalapi.io/v1alpha1
kind: GlobalApi
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  domain: api.{zone}
  hostedZone: {{name: {zone}}}
  routing: {{policy: Latency}}
  regions:
    - {{name: us-east-1, backend: {{httpUrl: "https://us.backend.example.com"}}}}
    - {{name: eu-west-1, backend: {{httpUrl: "https://eu.backend.example.com"}}}}
  api:
    stageName: v1
    healthCheck: {{path: /health, intervalSeconds: 30, failureThreshold: 3}}
  edge: {{enabled: false}}
  resyncSeconds: 30
"#
    )
}

/// The Lease as JSON, or `None` while there is none.
fn lease(env: &common::TestEnv, namespace: &str) -> Option<Value> {
    let out = env.kubectl(&["get", "lease", LEASE, "-n", namespace, "-o", "json"]);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("NotFound"), "kubectl get lease failed: {err}");
        return None;
    }
    Some(serde_json::from_slice(&out.stdout).expect("lease json"))
}

/// The Lease's holder ("" when released).
fn holder(env: &common::TestEnv, namespace: &str) -> String {
    lease(env, namespace)
        .and_then(|l| l["spec"]["holderIdentity"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn object(env: &common::TestEnv, namespace: &str, name: &str) -> Option<Value> {
    let out = env.kubectl(&["get", "globalapi", name, "-n", namespace, "-o", "json"]);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("NotFound"), "kubectl get failed: {err}");
        return None;
    }
    Some(serde_json::from_slice(&out.stdout).expect("object json"))
}

/// Ready=True for the object's current generation.
fn ready(object: &Value) -> bool {
    let ready = object["status"]["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    });
    ready && object["status"]["observedGeneration"] == object["metadata"]["generation"]
}

async fn thresholds(clients: &AwsClients, target: &Target) -> Vec<i32> {
    observe::health_checks(&clients.route53(), target, &[])
        .await
        .expect("health checks")
        .into_iter()
        .map(|c| c.check.failure_threshold)
        .collect()
}

fn block<F: std::future::Future>(future: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(future))
}

#[test]
fn run_help_names_the_leader_election_flags() {
    let out = Command::new(env!("CARGO_BIN_EXE_globalapi"))
        .args(["run", "--help"])
        .output()
        .expect("globalapi run --help");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--leader-elect[=<BOOL>]",
        "--leader-election-namespace <NAMESPACE>",
        "--leader-election-lease <NAME>",
        "[default: globalapi-operator]",
    ] {
        assert!(help.contains(flag), "{flag} missing in\n{help}");
    }
    // A value that is no boolean is refused before anything starts.
    let out = Command::new(env!("CARGO_BIN_EXE_globalapi"))
        .args(["run", "--leader-elect=maybe"])
        .output()
        .expect("globalapi run --leader-elect=maybe");
    assert!(!out.status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn one_leader_reconciles_and_another_takes_over() {
    let env = common::env();
    env.install_crd();
    let clients = env.aws_clients().await;
    let namespace = env.namespace("leader");
    let zone = format!("le-{}.example.com", common::unique_suffix());
    clients
        .route53()
        .create_hosted_zone()
        .name(&zone)
        .caller_reference(format!("leader-{zone}"))
        .send()
        .await
        .expect("creating the zone");

    // Two replicas; the first to start creates the Lease and leads.
    let mut first = Replica::start(env, &namespace, "replica-a");
    first.wait_until("replica-a leads", Duration::from_secs(30), || {
        first.leading()
    });
    // A waiting replica stops cleanly on SIGTERM, leaving the Lease alone.
    let mut waiting = Replica::start(env, &namespace, "replica-w");
    waiting.wait_until("replica-w waits", Duration::from_secs(30), || {
        waiting.logs().contains("another replica leads")
    });
    waiting.signal("-TERM");
    let status = waiting.exit_within(Duration::from_secs(30));
    assert!(
        status.is_some_and(|s| s.success()),
        "SIGTERM while waiting: {status:?}\n{}",
        waiting.logs()
    );
    let mut second = Replica::start(env, &namespace, "replica-b");
    assert!(
        holder(env, &namespace).starts_with("replica-a-"),
        "{:#?}",
        lease(env, &namespace)
    );

    // A GlobalApi becomes Ready: reconciled by the leader alone.
    let name = "elected";
    let out = env.kubectl_with_input(
        &["apply", "-f", "-"],
        Some(&manifest(&namespace, name, &zone)),
    );
    assert!(
        out.status.success(),
        "kubectl apply: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    first.wait_until("Ready=True", Duration::from_secs(120), || {
        object(env, &namespace, name).is_some_and(|o| ready(&o))
    });
    let lease_now = lease(env, &namespace).expect("the Lease");
    assert!(
        lease_now["spec"]["holderIdentity"]
            .as_str()
            .is_some_and(|h| h.starts_with("replica-a-")),
        "{lease_now:#}"
    );
    assert_eq!(
        lease_now["spec"]["leaseDurationSeconds"], 15,
        "{lease_now:#}"
    );
    assert!(first.leading());
    assert!(first.metric("globalapi_reconciles_total") >= 1);
    assert!(!first.aws_calls().is_empty());
    assert!(!second.leading(), "{}", second.logs());
    assert_eq!(second.metric("globalapi_reconciles_total"), 0);
    assert_eq!(second.aws_calls(), Vec::<String>::new());
    assert!(
        second
            .logs()
            .contains("another replica leads; waiting for the lease"),
        "{}",
        second.logs()
    );

    // The leader dies without releasing the Lease: the other waits for it
    // to expire, then takes over.
    first.signal("-KILL");
    let killed = Instant::now();
    assert!(first.exit_within(Duration::from_secs(10)).is_some());
    second.wait_until("replica-b leads", TAKEOVER_BOUND, || second.leading());
    let takeover = killed.elapsed();
    // The dead leader renewed at most its renew deadline (10 s) before it
    // died, so the Lease cannot have expired sooner than 5 s after.
    assert!(
        takeover >= Duration::from_secs(5),
        "took over after {takeover:?}, before the Lease could have expired"
    );
    let lease_now = lease(env, &namespace).expect("the Lease");
    assert!(
        lease_now["spec"]["holderIdentity"]
            .as_str()
            .is_some_and(|h| h.starts_with("replica-b-")),
        "{lease_now:#}"
    );
    assert_eq!(lease_now["spec"]["leaseTransitions"], 1, "{lease_now:#}");
    eprintln!("replica-b took over {takeover:?} after replica-a was killed");

    // The new leader reconciles: a spec change reaches AWS.
    let api: Api<GlobalApi> = Api::namespaced(env.kube_client().await, &namespace);
    let target = Target::from_object(&api.get(name).await.expect("the GlobalApi")).expect("target");
    env.kubectl_ok(&[
        "patch",
        "globalapi",
        name,
        "-n",
        &namespace,
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"api":{"healthCheck":{"failureThreshold":5}}}}"#,
    ]);
    second.wait_until(
        "health checks with threshold 5",
        Duration::from_secs(120),
        || {
            let found = block(thresholds(&clients, &target));
            found.len() == 2 && found.iter().all(|t| *t == 5)
        },
    );
    second.wait_until(
        "Ready=True for generation 2",
        Duration::from_secs(120),
        || object(env, &namespace, name).is_some_and(|o| ready(&o)),
    );
    assert!(second.metric("globalapi_reconciles_total") >= 1);

    // The Lease taken away behind the leader's back: it stops with an error.
    env.kubectl_ok(&[
        "patch",
        "lease",
        LEASE,
        "-n",
        &namespace,
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"holderIdentity":"intruder","leaseDurationSeconds":3}}"#,
    ]);
    let status = second.exit_within(Duration::from_secs(30));
    assert!(
        status.is_some_and(|s| !s.success()),
        "a leader that lost its Lease must stop with an error: {status:?}\n{}",
        second.logs()
    );
    assert!(
        second.logs().contains("lost the leader lease"),
        "{}",
        second.logs()
    );

    // A third replica takes the abandoned Lease and finishes the deletion.
    let mut third = Replica::start(env, &namespace, "replica-c");
    third.wait_until("replica-c leads", TAKEOVER_BOUND, || third.leading());
    env.kubectl_ok(&[
        "delete",
        "globalapi",
        name,
        "-n",
        &namespace,
        "--wait=false",
    ]);
    third.wait_until("the GlobalApi is gone", Duration::from_secs(120), || {
        object(env, &namespace, name).is_none()
    });
    assert_eq!(block(thresholds(&clients, &target)), Vec::<i32>::new());

    // SIGTERM: a clean stop that releases the Lease.
    third.signal("-TERM");
    let status = third.exit_within(Duration::from_secs(30));
    assert!(
        status.is_some_and(|s| s.success()),
        "SIGTERM: {status:?}\n{}",
        third.logs()
    );
    assert_eq!(holder(env, &namespace), "", "{:#?}", lease(env, &namespace));
}
