//! Leader election of `globalapi run` against the real kube-apiserver and
//! moto: of two replicas sharing a Lease only the holder reconciles; when
//! the holder is killed (SIGKILL, so it cannot release the Lease) the other
//! takes over once the Lease expires and applies a spec change; a leader
//! whose Lease is taken away steps down and, a candidate again, leads once
//! the Lease is free; a replica stopped by SIGTERM, waiting or leading,
//! exits cleanly and a leader releases the Lease.

use crate::common;

use std::{
    process::Command,
    time::{Duration, Instant},
};

use common::{
    Setup, block,
    objects::{Manifest, apply, get_json, set_failure_threshold, target_of},
    operator::Operator,
    owned::thresholds,
    setup,
};
use serde_json::Value;

const LEASE: &str = "globalapi-leader-test";
/// The operator's Lease duration (15 s) plus polling and a generous margin.
const TAKEOVER_BOUND: Duration = Duration::from_secs(45);

/// Starts a `globalapi run` replica called `name` (its POD_NAME) watching
/// `namespace`, electing over the Lease [`LEASE`] in that namespace.
fn replica(env: &common::TestEnv, namespace: &str, name: &str) -> Operator {
    let replica = Operator::spawn(
        env,
        &env.kubeconfig,
        &[
            "--namespace",
            namespace,
            "--leader-election-namespace",
            namespace,
            "--leader-election-lease",
            LEASE,
        ],
        &[("POD_NAME", name)],
        "leader-election-test",
        &format!("{namespace}-{name}"),
    );
    replica.wait_for_ok("/healthz", Duration::from_secs(30));
    replica
}

/// The Lease as JSON, or `None` while there is none.
fn lease(env: &common::TestEnv, namespace: &str) -> Option<Value> {
    get_json(env, "lease", namespace, LEASE)
}

/// The Lease's holder ("" when released).
fn holder(env: &common::TestEnv, namespace: &str) -> String {
    lease(env, namespace)
        .and_then(|l| l["spec"]["holderIdentity"].as_str().map(str::to_owned))
        .unwrap_or_default()
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
    let Setup {
        env,
        clients,
        namespace,
        zone,
    } = setup("leader", "le").await;

    // Two replicas; the first to start creates the Lease and leads.
    let first = replica(env, &namespace, "replica-a");
    first.wait_until("replica-a leads", Duration::from_secs(30), || {
        first.leading()
    });
    // A waiting replica stops cleanly on SIGTERM, leaving the Lease alone.
    let waiting = replica(env, &namespace, "replica-w");
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
    let second = replica(env, &namespace, "replica-b");
    assert!(
        holder(env, &namespace).starts_with("replica-a-"),
        "{:#?}",
        lease(env, &namespace)
    );

    // A GlobalApi becomes Ready: reconciled by the leader alone.
    let name = "elected";
    apply(env, &Manifest::latency(&namespace, name, &zone).yaml());
    first.wait_ready(env, &namespace, name, Duration::from_secs(120));
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
    let target = target_of(env, &namespace, name).await;
    set_failure_threshold(env, &namespace, name, 5);
    second.wait_until(
        "health checks with threshold 5",
        Duration::from_secs(120),
        || {
            let found = block(thresholds(&clients, &target));
            found.len() == 2 && found.iter().all(|(_, t)| *t == 5)
        },
    );
    second.wait_ready(env, &namespace, name, Duration::from_secs(120));
    assert!(second.metric("globalapi_reconciles_total") >= 1);

    // The Lease taken away behind the leader's back: it steps down (its AWS
    // calls fenced off, its reconciles dropped) without exiting, and is a
    // candidate again; the intruder never renews, so it leads again.
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
    second.wait_until("replica-b steps down", Duration::from_secs(30), || {
        second.logs().contains("lost the leader lease")
    });
    assert!(
        second.try_wait().is_none(),
        "a leader that lost its Lease steps down, it does not exit:\n{}",
        second.logs()
    );
    second.wait_until("replica-b leads again", TAKEOVER_BOUND, || {
        second.logs().matches("became the leader").count() == 2 && second.leading()
    });
    assert!(
        holder(env, &namespace).starts_with("replica-b-"),
        "{:#?}",
        lease(env, &namespace)
    );
    second.delete_and_wait_gone(env, &namespace, name, Duration::from_secs(120));
    assert_eq!(
        thresholds(&clients, &target).await,
        Vec::<(String, i32)>::new()
    );

    // SIGTERM: a clean stop that releases the Lease.
    second.signal("-TERM");
    let status = second.exit_within(Duration::from_secs(30));
    assert!(
        status.is_some_and(|s| s.success()),
        "SIGTERM: {status:?}\n{}",
        second.logs()
    );
    assert_eq!(holder(env, &namespace), "", "{:#?}", lease(env, &namespace));
}
