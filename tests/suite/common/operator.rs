//! `globalapi run` as a child process of a test: the environment's AWS
//! settings, its log in a file under `target/`, its HTTP endpoint on a free
//! port, and killed when dropped (also on panic).

use std::{
    fs::File,
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Mutex, MutexGuard},
    time::{Duration, Instant},
};

use super::{TestEnv, objects};

/// A port for an operator's HTTP endpoint, free when checked. Taken below
/// the kernel's ephemeral range (32768 and up by default): a port from
/// `bind(0)` could be given to one of the many outgoing connections between
/// the check and the operator's own bind ("Address already in use"); here
/// only the tests' own choices compete, and a counter keeps those apart.
fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const FIRST: u32 = 20_000;
    const SPAN: u32 = 12_000;
    let start = std::process::id().wrapping_mul(7919) % SPAN;
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = u16::try_from(FIRST + (start + n) % SPAN).expect("below 32768");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between {FIRST} and {}", FIRST + SPAN);
}

/// One `globalapi run` process.
pub struct Operator {
    child: Mutex<Child>,
    log: PathBuf,
    addr: String,
}

impl Operator {
    /// Spawns `globalapi run ARGS --metrics-addr 127.0.0.1:PORT` against
    /// `kubeconfig`, with the environment's AWS settings,
    /// `RUST_LOG=info,globalapi=debug`, every AWS rate ten times (see below)
    /// and `extra_env`, logging to
    /// `target/LOG_DIR/LOG_NAME.log`. Does not wait for it to answer.
    pub fn spawn(
        env: &TestEnv,
        kubeconfig: &Path,
        args: &[&str],
        extra_env: &[(&str, &str)],
        log_dir: &str,
        log_name: &str,
    ) -> Self {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let dir = env.root.join("target").join(log_dir);
        std::fs::create_dir_all(&dir).expect("log dir");
        let log = dir.join(format!("{log_name}.log"));
        let out = File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_globalapi"))
            .arg("run")
            .args(args)
            .args(["--metrics-addr", &addr])
            .env("KUBECONFIG", kubeconfig)
            .envs(env.aws.iter())
            .env("RUST_LOG", "info,globalapi=debug")
            // AWS's rates ten times over: the budgets pace as they do on
            // AWS, but a second custom domain in a region waits 3 s, not
            // 33 s (tests/suite/quotas.rs runs at the front's quotas).
            .env("GLOBALAPI_AWS_RATE_SCALE", "10")
            .envs(extra_env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("starting globalapi run");
        Self {
            child: Mutex::new(child),
            log,
            addr,
        }
    }

    /// Spawns the operator with the admin kubeconfig, watching `namespace`,
    /// and waits until /readyz answers.
    pub fn start(env: &TestEnv, namespace: &str, log_dir: &str) -> Self {
        let operator = Self::spawn(
            env,
            &env.kubeconfig,
            &["--namespace", namespace],
            &[],
            log_dir,
            namespace,
        );
        operator.wait_for_ok("/readyz", Duration::from_secs(30));
        operator
    }

    fn child(&self) -> MutexGuard<'_, Child> {
        self.child.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `GET path` on the operator's HTTP endpoint: (status code, body);
    /// (0, "") when nothing answers.
    pub fn get(&self, path: &str) -> (u16, String) {
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

    /// Waits until `GET path` answers 200.
    pub fn wait_for_ok(&self, path: &str, timeout: Duration) {
        self.wait_until(&format!("{path} answers 200"), timeout, || {
            self.get(path).0 == 200
        });
    }

    /// The /metrics page; panics when it does not answer.
    pub fn metrics(&self) -> String {
        let (code, body) = self.get("/metrics");
        assert_eq!(
            code,
            200,
            "/metrics of {}\n{}",
            self.log.display(),
            self.logs()
        );
        body
    }

    /// The value of the unlabelled metric `name`; panics when there is none.
    pub fn metric(&self, name: &str) -> u64 {
        let page = self.metrics();
        page.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{}: no metric {name} in\n{page}", self.log.display()))
    }

    /// The AWS calls the operator made, as metric lines.
    pub fn aws_calls(&self) -> Vec<String> {
        self.metrics()
            .lines()
            .filter(|l| l.starts_with("globalapi_aws_calls_total{"))
            .map(str::to_owned)
            .collect()
    }

    /// Whether this replica holds the leader Lease.
    pub fn leading(&self) -> bool {
        self.metric("globalapi_leader") == 1
    }

    /// Everything the process logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls `check` every second until it holds; panics with the tail of
    /// the operator's log when `timeout` has passed or the process has ended.
    pub fn wait_until(&self, what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
        let start = Instant::now();
        while !check() {
            let exited = self.try_wait();
            if start.elapsed() > timeout || exited.is_some() {
                let logs = self.logs();
                let tail: Vec<&str> = logs.lines().rev().take(80).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                panic!(
                    "{what}: not within {timeout:?} (exit: {exited:?}); operator log ({}):\n{}",
                    self.log.display(),
                    tail.join("\n")
                );
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    /// Waits until the GlobalApi is Ready=True for its current generation.
    pub fn wait_ready(&self, env: &TestEnv, namespace: &str, name: &str, timeout: Duration) {
        self.wait_until("Ready=True", timeout, || {
            objects::object(env, namespace, name).is_some_and(|o| objects::ready(&o))
        });
    }

    /// Deletes the GlobalApi without waiting, then waits until the operator
    /// has let it go (its finalizer removed once AWS is empty).
    pub fn delete_and_wait_gone(
        &self,
        env: &TestEnv,
        namespace: &str,
        name: &str,
        timeout: Duration,
    ) {
        env.kubectl_ok(&["delete", "globalapi", name, "-n", namespace, "--wait=false"]);
        self.wait_until("the object is gone", timeout, || {
            objects::object(env, namespace, name).is_none()
        });
    }

    /// The exit status, once the process has ended.
    pub fn try_wait(&self) -> Option<ExitStatus> {
        self.child().try_wait().expect("try_wait")
    }

    /// Waits (bounded) for the process to end by itself.
    pub fn exit_within(&self, timeout: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(status)) = self.child().try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        None
    }

    /// Sends `signal` (`-TERM`, `-KILL`) with kill(1).
    pub fn signal(&self, signal: &str) {
        let pid = self.child().id().to_string();
        let sent = Command::new("kill").args([signal, &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill {signal} {pid}");
    }

    /// Sends SIGTERM and waits (30 s at most) for the process to end.
    pub fn terminate(&self) -> Option<ExitStatus> {
        self.signal("-TERM");
        self.exit_within(Duration::from_secs(30))
    }

    /// SIGKILL, and the process reaped.
    pub fn kill(&self) {
        let mut child = self.child();
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(|e| e.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }
}
