//! What the integration tests share: the local environment (real
//! kube-apiserver + etcd, moto), kubectl, and clients pointed at them;
//! `operator` runs `globalapi run` as a child process, `objects` applies and
//! reads GlobalApis through kubectl, `owned` finds what one owns in moto,
//! `harsh` gives a test its own scope of the fault-injecting front of moto.
//!
//! The environment is started by `tests/env/env.sh up` the first time a test
//! asks for it; a server that cannot start fails the test with its log.

#![allow(dead_code)]

pub mod bad_inputs;
pub mod ground;
pub mod harsh;
pub mod lambda;
pub mod objects;
pub mod operator;
pub mod owned;
pub mod tcp_front;

use std::{
    collections::HashMap,
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

/// Paths and settings of the running local environment.
pub struct TestEnv {
    pub root: PathBuf,
    pub kubeconfig: PathBuf,
    pub bin: PathBuf,
    /// The lines of `target/env/aws.env`: endpoint, region and dummy credentials.
    pub aws: HashMap<String, String>,
}

static ENV: OnceLock<TestEnv> = OnceLock::new();
static CRD: OnceLock<()> = OnceLock::new();

/// The local environment, started on first use.
pub fn env() -> &'static TestEnv {
    ENV.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let out = Command::new("bash")
            .arg(root.join("tests/env/env.sh"))
            .arg("up")
            .output()
            .expect("running tests/env/env.sh up");
        assert!(
            out.status.success(),
            "the local environment did not start:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let env_dir = root.join("target/env");
        let aws_env = std::fs::read_to_string(env_dir.join("aws.env"))
            .expect("target/env/aws.env is missing after env.sh up");
        let aws = aws_env
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        TestEnv {
            kubeconfig: env_dir.join("kubeconfig"),
            bin: env_dir.join("bin"),
            root,
            aws,
        }
    })
}

impl TestEnv {
    /// `kubectl` of the environment against its API server.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_with_input(args, None)
    }

    /// `kubectl` with `input` on its standard input.
    pub fn kubectl_with_input(&self, args: &[&str], input: Option<&str>) -> Output {
        let mut child = Command::new(self.bin.join("kubectl"))
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting kubectl");
        if let Some(input) = input {
            child
                .stdin
                .take()
                .expect("kubectl stdin")
                .write_all(input.as_bytes())
                .expect("writing to kubectl");
        }
        child.wait_with_output().expect("waiting for kubectl")
    }

    /// `kubectl` that must succeed; returns its standard output.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `helm` of the environment, with its homes under target/env/helm.
    pub fn helm(&self, args: &[&str]) -> Output {
        let homes = self.root.join("target/env/helm");
        Command::new(self.bin.join("helm"))
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HELM_CACHE_HOME", homes.join("cache"))
            .env("HELM_CONFIG_HOME", homes.join("config"))
            .env("HELM_DATA_HOME", homes.join("data"))
            .stdin(Stdio::null())
            .output()
            .expect("running helm")
    }

    /// `helm` that must succeed; returns its standard output.
    pub fn helm_ok(&self, args: &[&str]) -> String {
        let out = self.helm(args);
        assert!(
            out.status.success(),
            "helm {} failed:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Applies the CRDs from `crds/` once and waits until they are served.
    pub fn install_crd(&self) {
        CRD.get_or_init(|| {
            let crd = self.root.join("crds/globalapi.yaml");
            self.kubectl_ok(&["apply", "--server-side", "-f", path_str(&crd)]);
            self.kubectl_ok(&[
                "wait",
                "--for=condition=Established",
                "--timeout=60s",
                "crd/globalapis.globalapi.io",
                "crd/globalapipolicies.globalapi.io",
            ]);
            // Discovery, and the OpenAPI document `kubectl explain` reads,
            // can lag behind Established for a moment.
            wait_until(Duration::from_secs(30), || {
                self.kubectl(&["get", "globalapis", "-A"]).status.success()
                    && self
                        .kubectl(&["get", "globalapipolicies", "-A"])
                        .status
                        .success()
                    && self
                        .kubectl(&["explain", "globalapis.spec"])
                        .status
                        .success()
            });
        });
    }

    /// A fresh namespace named after the test.
    pub fn namespace(&self, prefix: &str) -> String {
        let name = format!("{prefix}-{}", unique_suffix());
        self.kubectl_ok(&["create", "namespace", &name]);
        name
    }

    /// A `kube::Client` for the environment's admin kubeconfig.
    pub async fn kube_client(&self) -> kube::Client {
        let kubeconfig =
            kube::config::Kubeconfig::read_from(&self.kubeconfig).expect("reading the kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .expect("loading the kubeconfig");
        kube::Client::try_from(config).expect("building a kube client")
    }

    /// AWS clients pointed at the emulator, with the dummy credentials of aws.env.
    pub async fn aws_clients(&self) -> globalapi::aws::AwsClients {
        use aws_config::{BehaviorVersion, Region};
        let config = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(self.aws_endpoint())
            .region(Region::new(self.aws["AWS_REGION"].clone()))
            .credentials_provider(aws_sdk_route53::config::Credentials::new(
                self.aws["AWS_ACCESS_KEY_ID"].clone(),
                self.aws["AWS_SECRET_ACCESS_KEY"].clone(),
                None,
                None,
                "aws.env",
            ))
            .retry_config(globalapi::aws::clients::retry_config())
            .load()
            .await;
        globalapi::aws::AwsClients::new(config)
    }

    /// The AWS endpoint of the emulator.
    pub fn aws_endpoint(&self) -> &str {
        self.aws
            .get("AWS_ENDPOINT_URL")
            .expect("AWS_ENDPOINT_URL in aws.env")
    }
}

/// What an operator test starts from: the environment with the CRD
/// installed, AWS clients, a fresh namespace and a fresh hosted zone.
pub struct Setup {
    pub env: &'static TestEnv,
    pub clients: globalapi::aws::AwsClients,
    pub namespace: String,
    /// `{zone_prefix}-{unique suffix}.example.com`, created in moto.
    pub zone: String,
}

/// The [`Setup`] of a test: namespace `{namespace_prefix}-…`, zone
/// `{zone_prefix}-….example.com`.
pub async fn setup(namespace_prefix: &str, zone_prefix: &str) -> Setup {
    let env = env();
    env.install_crd();
    let clients = env.aws_clients().await;
    let namespace = env.namespace(namespace_prefix);
    let zone = format!("{zone_prefix}-{}.example.com", unique_suffix());
    create_zone(&clients, &zone).await;
    Setup {
        env,
        clients,
        namespace,
        zone,
    }
}

/// Creates the public hosted zone `zone` in moto.
pub async fn create_zone(clients: &globalapi::aws::AwsClients, zone: &str) {
    clients
        .route53()
        .create_hosted_zone()
        .name(zone)
        .caller_reference(format!("test-{zone}"))
        .send()
        .await
        .expect("creating the zone in moto");
}

/// Blocks the async test thread on a future, from inside a polling closure.
pub fn block<F: std::future::Future>(future: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(future))
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Polls `check` every 200 ms until it holds; panics after `timeout`.
pub fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < timeout,
            "condition not met within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A short suffix unique within this machine and run.
pub fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{:x}{n}", (nanos ^ std::process::id()) & 0xfffff)
}
