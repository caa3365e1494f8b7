//! One writer at a time, and liveness that means something, with the API
//! server slow, partitioned or away. The operator under test reaches the
//! kube-apiserver through a TCP front run by the test (pass, delay, hold,
//! reset) and AWS through its own scope of the harsh front, whose journal
//! names the replica of every call (the SDK's `app/<identity>` user agent)
//! with the front's start and end times: the overlap of two leaders is
//! measured on the AWS side.

use crate::common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{
    block,
    harsh::{HarshScope, JournalEntry},
    objects::{self, Manifest},
    operator::Operator,
    owned,
    tcp_front::{Mode, TcpFront, upstream_of},
};
use serde_json::json;

/// The operator's renew deadline: a leader that could not renew stops
/// writing this long after its last renewal was sent.
const RENEW_DEADLINE: Duration = Duration::from_secs(10);
/// Lease duration (15 s), polling and a margin.
const TAKEOVER_BOUND: Duration = Duration::from_secs(60);

/// A namespace, a zone and a scope of the harsh front for one test.
struct Case {
    scope: HarshScope,
    namespace: String,
    zone: String,
    lease: String,
}

impl Case {
    async fn new(label: &str) -> Self {
        let env = common::env();
        env.install_crd();
        let scope = HarshScope::new(label);
        let namespace = env.namespace(label);
        let zone = format!("{label}-{}.example.com", common::unique_suffix());
        common::create_zone(&scope.view().clients().await, &zone).await;
        Self {
            scope,
            namespace,
            zone,
            lease: format!("{label}-lease"),
        }
    }

    fn apply(&self, name: &str) {
        self.apply_in(name, &self.zone);
    }

    /// The GlobalApi `name` serving `api.{zone}`.
    fn apply_in(&self, name: &str, zone: &str) {
        objects::apply(
            common::env(),
            &Manifest::latency(&self.namespace, name, zone).yaml(),
        );
    }

    fn ready(&self, name: &str) -> bool {
        objects::object(common::env(), &self.namespace, name).is_some_and(|o| objects::ready(&o))
    }

    /// A `globalapi run` replica named `pod` (its identity starts with it),
    /// electing over the case's Lease, reaching the API server through
    /// `kubeconfig`; `args` and `vars` added.
    fn replica(
        &self,
        pod: &str,
        kubeconfig: &std::path::Path,
        args: &[&str],
        vars: &[(&str, &str)],
    ) -> Operator {
        let env = common::env();
        let mut all: Vec<(String, String)> = self.scope.aws_env();
        all.push(("POD_NAME".into(), pod.into()));
        all.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let all: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut argv = vec![
            "--namespace",
            &self.namespace,
            "--leader-election-namespace",
            &self.namespace,
            "--leader-election-lease",
            &self.lease,
        ];
        argv.extend_from_slice(args);
        let operator = Operator::spawn(
            env,
            kubeconfig,
            &argv,
            &all,
            "leader-liveness",
            &format!("{}-{pod}", self.namespace),
        );
        operator.wait_for_ok("/healthz", Duration::from_secs(60));
        operator
    }

    /// Whether a call of the scope is being held by a `hang` rule.
    fn hanging(&self) -> bool {
        self.scope.counters()["injected"]
            .as_object()
            .is_some_and(|m| m.keys().any(|k| k.ends_with(":hang")))
    }

    /// The mutating calls the front answered for replica `pod`.
    fn writes_of(&self, pod: &str) -> Vec<JournalEntry> {
        self.scope
            .journal()
            .into_iter()
            .filter(|e| e.mutating && e.app.as_deref().is_some_and(|a| a.starts_with(pod)))
            .collect()
    }
}

/// A TCP front to the environment's API server, and a kubeconfig naming it.
async fn api_front() -> (TcpFront, std::path::PathBuf) {
    let env = common::env();
    let front = TcpFront::start(upstream_of(&env.kubeconfig)).await;
    let kubeconfig = front.kubeconfig(&env.kubeconfig, &env.root.join("target/leader-liveness"));
    (front, kubeconfig)
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// The leader is cut off from the API server (its packets held) while its
/// first reconciles are writing to a slow AWS; the other replica takes over.
/// On the AWS side, every write of the old leader ends before the new
/// leader's first one; the old leader steps down without exiting; nothing
/// is twinned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_leader_stops_writing_before_the_next_one_starts() {
    let env = common::env();
    let case = Case::new("partition").await;
    // Every write takes a second: the first applies are still writing when
    // the partition comes.
    case.scope
        .rule(json!({"mutating": true, "action": "delay", "delay_seconds": 1}));
    let (front, behind_front) = api_front().await;
    let a = case.replica("replica-a", &behind_front, &[], &[]);
    a.wait_until("replica-a leads", Duration::from_secs(30), || a.leading());
    let b = case.replica("replica-b", &env.kubeconfig, &[], &[]);
    b.wait_until("replica-b waits", Duration::from_secs(30), || {
        b.logs().contains("another replica leads")
    });
    // Two GlobalApis, each with a zone (and so a domain) of its own.
    let other_zone = format!("other-{}", case.zone);
    common::create_zone(&case.scope.view().clients().await, &other_zone).await;
    let names = ["first", "second"];
    case.apply_in(names[0], &case.zone);
    case.apply_in(names[1], &other_zone);
    // The partition comes after the leader's third write (not at a time).
    a.wait_until(
        "three writes of replica-a",
        Duration::from_secs(120),
        || case.writes_of("replica-a").len() >= 3,
    );
    front.set(Mode::Blackhole);
    let partitioned = now();
    b.wait_until("replica-b leads", TAKEOVER_BOUND, || b.leading());
    for name in names {
        b.wait_until(&format!("{name} Ready"), Duration::from_secs(240), || {
            case.ready(name)
        });
    }
    a.wait_until("replica-a steps down", Duration::from_secs(5), || {
        a.logs().contains("lost the leader lease")
    });
    front.set(Mode::Pass);
    assert!(
        a.try_wait().is_none(),
        "replica-a steps down, it does not exit:\n{}",
        a.logs()
    );

    let old = case.writes_of("replica-a");
    let new = case.writes_of("replica-b");
    let old_last = old.iter().map(|e| e.end).fold(f64::MIN, f64::max);
    let new_first = new.iter().map(|e| e.start).fold(f64::MAX, f64::min);
    let after_partition = old.iter().filter(|e| e.start >= partitioned).count();
    eprintln!(
        "partition: replica-a made {} writes ({after_partition} after the partition), the last ending {:.2} s after it; \
         replica-b's first write started {:.2} s after it; gap {:.2} s",
        old.len(),
        old_last - partitioned,
        new_first - partitioned,
        new_first - old_last
    );
    assert!(!new.is_empty(), "replica-b never wrote");
    assert!(
        old_last < new_first,
        "the two leaders' writes overlap: replica-a's last ended at {old_last:.3}, replica-b's first started at {new_first:.3}"
    );
    let clients = case.scope.view().clients().await;
    for name in names {
        let target = objects::target_of(env, &case.namespace, name).await;
        for region in ["us-east-1", "eu-west-1"] {
            let apis = owned::rest_api_ids(&clients, &target, region).await;
            assert_eq!(apis.len(), 1, "{name} in {region}: {apis:?}");
        }
    }
}

/// Every answer of the API server comes later than the renew deadline:
/// the leader steps down instead of writing on (no write ends later than
/// the deadline after the slowdown, plus one slow write in flight); once
/// the API server is quick again the same process leads again and carries
/// a spec change made meanwhile to AWS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_api_server_makes_the_leader_step_down_and_lead_again() {
    let env = common::env();
    let case = Case::new("slowapi").await;
    let (front, behind_front) = api_front().await;
    let a = case.replica("replica-a", &behind_front, &[], &[]);
    a.wait_until("replica-a leads", Duration::from_secs(30), || a.leading());
    case.apply("slow");
    a.wait_ready(env, &case.namespace, "slow", Duration::from_secs(180));

    let delay = Duration::from_secs(1);
    case.scope
        .rule(json!({"mutating": true, "action": "delay", "delay_seconds": delay.as_secs()}));
    front.set(Mode::Delay(RENEW_DEADLINE + Duration::from_secs(2)));
    let slowed = now();
    a.wait_until("replica-a steps down", Duration::from_secs(40), || {
        a.logs().contains("lost the leader lease")
    });
    let last = case
        .writes_of("replica-a")
        .iter()
        .map(|e| e.end)
        .fold(f64::MIN, f64::max);
    let bound = RENEW_DEADLINE.as_secs_f64() + delay.as_secs_f64() + 0.5;
    assert!(
        last - slowed < bound,
        "replica-a wrote until {:.2} s after the slowdown (bound {bound:.1} s)",
        last - slowed
    );

    // A spec change while nobody leads; then the API server recovers.
    objects::set_failure_threshold(env, &case.namespace, "slow", 5);
    front.set(Mode::Pass);
    a.wait_until("replica-a leads again", TAKEOVER_BOUND, || {
        a.logs().matches("became the leader").count() >= 2 && a.leading()
    });
    let target = objects::target_of(env, &case.namespace, "slow").await;
    let clients = case.scope.view().clients().await;
    a.wait_until("the change reached AWS", Duration::from_secs(120), || {
        let found = block(owned::thresholds(&clients, &target));
        found.len() == 2 && found.iter().all(|(_, t)| *t == 5)
    });
    a.wait_ready(env, &case.namespace, "slow", Duration::from_secs(120));
    assert!(a.try_wait().is_none(), "{}", a.logs());
}

/// The API server refuses every connection for 60 s: liveness holds the
/// whole time (readiness says the watch fails), the process never exits,
/// the status is kept, and afterwards the same process leads and
/// reconciles again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_server_away_for_a_minute_costs_no_liveness_and_no_status() {
    let env = common::env();
    let case = Case::new("apidown").await;
    let (front, behind_front) = api_front().await;
    let a = case.replica("replica-a", &behind_front, &[], &[]);
    a.wait_until("replica-a leads", Duration::from_secs(30), || a.leading());
    case.apply("away");
    a.wait_ready(env, &case.namespace, "away", Duration::from_secs(180));
    let before = objects::object(env, &case.namespace, "away").expect("the GlobalApi");

    front.set(Mode::Reset);
    let away = Instant::now();
    let mut unready = false;
    while away.elapsed() < Duration::from_secs(60) {
        let (live, body) = a.get("/healthz");
        assert_eq!(
            live, 200,
            "liveness failed with the API server away: {body}"
        );
        unready |= a.get("/readyz").0 == 503;
        assert!(a.try_wait().is_none(), "{}", a.logs());
        std::thread::sleep(Duration::from_secs(1));
    }
    assert!(unready, "readiness never said the watch fails");
    front.set(Mode::Pass);

    a.wait_until("replica-a leads again", TAKEOVER_BOUND, || a.leading());
    a.wait_until("/readyz again", Duration::from_secs(60), || {
        a.get("/readyz").0 == 200
    });
    let after = objects::object(env, &case.namespace, "away").expect("the GlobalApi");
    assert!(objects::ready(&after), "{after:#}");
    assert_eq!(after["status"]["regions"], before["status"]["regions"]);
    // A spec change is reconciled by the same process.
    objects::set_failure_threshold(env, &case.namespace, "away", 5);
    a.wait_ready(env, &case.namespace, "away", Duration::from_secs(120));
    assert!(a.try_wait().is_none(), "{}", a.logs());
}

/// AWS stops answering API Gateway and the operator's own bounds are long:
/// the reconcile hangs, and `/healthz` says so, naming the object, within
/// the stuck bound; when AWS answers again, liveness comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_reconcile_fails_liveness_within_its_bound() {
    let env = common::env();
    let case = Case::new("hung").await;
    case.scope
        .rule(json!({"service": "apigateway", "action": "hang"}));
    let a = case.replica(
        "replica-a",
        &env.kubeconfig,
        &["--stuck-reconcile-seconds", "10"],
        &[
            ("GLOBALAPI_AWS_ATTEMPT_TIMEOUT", "600"),
            ("GLOBALAPI_AWS_OPERATION_TIMEOUT", "600"),
            ("GLOBALAPI_PASS_TIMEOUT", "900"),
        ],
    );
    a.wait_until("replica-a leads", Duration::from_secs(30), || a.leading());
    case.apply("hung");
    a.wait_until(
        "a reconcile hanging on AWS",
        Duration::from_secs(60),
        || case.hanging() && a.metric("globalapi_reconciles_in_flight") == 1,
    );
    let started = Instant::now();
    a.wait_until("liveness fails", Duration::from_secs(30), || {
        a.get("/healthz").0 == 503
    });
    let (_, body) = a.get("/healthz");
    assert!(body.contains(&format!("{}/hung", case.namespace)), "{body}");
    eprintln!(
        "liveness failed {:?} after the reconcile was seen in flight",
        started.elapsed()
    );
    case.scope.clear();
    a.wait_until("liveness again", Duration::from_secs(120), || {
        a.get("/healthz").0 == 200
    });
}

/// SIGTERM while a reconcile hangs on AWS: the operator waits the shutdown
/// grace, cuts the reconcile, releases the Lease and exits cleanly; the
/// next replica leads at once instead of waiting for the Lease to expire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_long_reconcile_is_cut_at_the_grace_and_hands_over_at_once() {
    let env = common::env();
    let case = Case::new("sigterm").await;
    case.scope
        .rule(json!({"service": "apigateway", "action": "hang"}));
    let slow_aws = [
        ("GLOBALAPI_AWS_ATTEMPT_TIMEOUT", "600"),
        ("GLOBALAPI_AWS_OPERATION_TIMEOUT", "600"),
        ("GLOBALAPI_PASS_TIMEOUT", "900"),
    ];
    let a = case.replica(
        "replica-a",
        &env.kubeconfig,
        &["--shutdown-grace-seconds", "5"],
        &slow_aws,
    );
    a.wait_until("replica-a leads", Duration::from_secs(30), || a.leading());
    let b = case.replica("replica-b", &env.kubeconfig, &[], &slow_aws);
    case.apply("long");
    a.wait_until(
        "a reconcile hanging on AWS",
        Duration::from_secs(60),
        || case.hanging() && a.metric("globalapi_reconciles_in_flight") == 1,
    );
    a.signal("-TERM");
    let status = a.exit_within(Duration::from_secs(30));
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{}",
        a.logs()
    );
    assert!(
        a.logs().contains("were cut"),
        "the hung reconcile was not cut at the grace:\n{}",
        a.logs()
    );
    let released = Instant::now();
    b.wait_until("replica-b leads", Duration::from_secs(30), || b.leading());
    let handover = released.elapsed();
    eprintln!("replica-b led {handover:?} after replica-a exited");
    // Well before the Lease (15 s) could have expired by itself.
    assert!(handover < Duration::from_secs(10), "{handover:?}");
    case.scope.clear();
    b.wait_ready(env, &case.namespace, "long", Duration::from_secs(180));
}
