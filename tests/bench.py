"""make bench: N GlobalApis sharing one hosted zone, reconciled by one
operator process against the local environment (kube-apiserver + moto).

Prints a table: time until all are Ready, AWS calls per GlobalApi to
converge, AWS calls per GlobalApi per steady-state resync (all, mutating,
Route 53 reads), the operator's peak RSS, and the time until all are
deleted again. Numbers, not assertions: this machine is shared and noisy.

Run through tests/bench.sh, which builds the operator and starts the
environment; it passes the binary and the environment in.
"""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter

import boto3

READ_PREFIXES = ("Get", "List", "Describe")


def log(text):
    print(f"    {text}", file=sys.stderr, flush=True)


def kubectl(*args, stdin=None):
    out = subprocess.run(
        ["kubectl", *args], input=stdin, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(f"kubectl {' '.join(args)} failed: {out.stderr.strip()}")
    return out.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(url):
    """The operator's counters: reconciles and AWS calls by (service, operation)."""
    text = urllib.request.urlopen(f"{url}/metrics", timeout=10).read().decode()
    calls = Counter()
    reconciles = 0
    for line in text.splitlines():
        m = re.match(
            r'globalapi_aws_calls_total\{service="([^"]*)",operation="([^"]*)"\} (\d+)',
            line,
        )
        if m:
            calls[(m.group(1), m.group(2))] = int(m.group(3))
        elif line.startswith("globalapi_reconciles_total "):
            reconciles = int(line.split()[1])
    return reconciles, calls


def is_read(operation):
    return operation.startswith(READ_PREFIXES)


def is_route53(service):
    return service.lower().replace(" ", "") == "route53"


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def wait_for(what, done, timeout, operator, operator_log, every=2):
    """Polls `done` every `every` s; stops the bench when the operator exits or time runs out."""
    started = time.time()
    while not done():
        if operator.poll() is not None:
            raise SystemExit(f"{what}: the operator exited; see {operator_log}")
        if time.time() - started > timeout:
            raise SystemExit(f"{what}: not within {timeout} s; see {operator_log}")
        time.sleep(every)


def manifest(count, namespace, zone, zone_id, resync):
    docs = []
    for i in range(count):
        docs.append(
            {
                "apiVersion": "globalapi.io/v1alpha1",
                "kind": "GlobalApi",
                "metadata": {"name": f"api-{i:04d}", "namespace": namespace},
                "spec": {
                    "domain": f"api-{i:04d}.{zone}",
                    "hostedZone": {"id": zone_id},
                    "routing": {"policy": "Latency"},
                    "regions": [
                        {
                            "name": "us-east-1",
                            "backend": {"httpUrl": f"https://use1-{i}.backend.example.com"},
                        },
                        {
                            "name": "eu-west-1",
                            "backend": {"httpUrl": f"https://euw1-{i}.backend.example.com"},
                        },
                    ],
                    "resyncSeconds": resync,
                },
            }
        )
    return {"apiVersion": "v1", "kind": "List", "items": docs}


def ready_count(namespace):
    listing = json.loads(kubectl("get", "globalapis", "-n", namespace, "-o", "json"))
    ready = 0
    for o in listing["items"]:
        s = o.get("status") or {}
        if s.get("observedGeneration") == o["metadata"]["generation"] and any(
            c["type"] == "Ready" and c["status"] == "True" for c in s.get("conditions", [])
        ):
            ready += 1
    return ready, len(listing["items"])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--resync", type=int, default=60)
    p.add_argument("--concurrency", type=int, default=10)
    p.add_argument("--binary", required=True)
    p.add_argument("--work-dir", required=True)
    args = p.parse_args()
    if not 1 <= args.count <= 1000:
        raise SystemExit("--count: give 1 to 1000 GlobalApis")
    if not 30 <= args.resync <= 86400:
        raise SystemExit("--resync: spec.resyncSeconds takes 30 to 86400 seconds")

    run_id = time.strftime("%Y%m%d%H%M%S")
    namespace = f"globalapi-bench-{run_id}"
    zone = f"bench-{run_id}.example.com"
    r53 = boto3.client("route53")
    zone_id = r53.create_hosted_zone(Name=zone, CallerReference=f"bench-{run_id}")[
        "HostedZone"
    ]["Id"].split("/")[-1]
    log(f"hosted zone {zone} ({zone_id}), namespace {namespace}")
    kubectl("create", "namespace", namespace)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    operator_log = open(os.path.join(args.work_dir, "operator.log"), "w")
    env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
    operator = subprocess.Popen(
        [
            args.binary,
            "run",
            "--namespace",
            namespace,
            "--leader-elect=false",
            "--max-concurrent-reconciles",
            str(args.concurrency),
            "--metrics-addr",
            f"127.0.0.1:{port}",
        ],
        stdout=operator_log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/readyz", timeout=2)
                break
            except OSError:
                if operator.poll() is not None or time.time() > deadline:
                    raise SystemExit(f"the operator did not start; see {operator_log.name}")
                time.sleep(0.5)
        log(f"operator pid {operator.pid}, metrics {url}/metrics, log {operator_log.name}")

        kubectl(
            "apply",
            "--server-side",
            "-f",
            "-",
            stdin=json.dumps(manifest(args.count, namespace, zone, zone_id, args.resync)),
        )
        applied = time.time()
        log(f"{args.count} GlobalApis applied (resyncSeconds {args.resync}); waiting for Ready")
        timeout = 120 + 3 * args.count
        progress = {"last": -1}

        def all_ready():
            ready, total = ready_count(namespace)
            if ready != progress["last"]:
                log(f"{ready}/{total} Ready after {time.time() - applied:.0f} s")
                progress["last"] = ready
            return ready == args.count

        # Listing a thousand objects costs the API server and kubectl some CPU
        # that the operator and moto would otherwise have.
        poll = max(2, args.count // 200)
        wait_for("all Ready", all_ready, timeout, operator, operator_log.name, poll)
        to_ready = time.time() - applied
        converge_reconciles, converge_calls = scrape(url)

        # Steady state: as many passes again as there are objects, all settled.
        log(f"all Ready; measuring the next {args.count} resync passes")
        wait_for(
            f"{args.count} more passes",
            lambda: scrape(url)[0] - converge_reconciles >= args.count,
            timeout + 3 * args.resync,
            operator,
            operator_log.name,
        )
        reconciles, calls = scrape(url)
        steady_passes = reconciles - converge_reconciles
        steady = calls - converge_calls
        rss = peak_rss_kib(operator.pid)

        kubectl("delete", "globalapis", "--all", "-n", namespace, "--wait=false")
        deleting = time.time()
        wait_for(
            "all deleted",
            lambda: ready_count(namespace)[1] == 0,
            timeout,
            operator,
            operator_log.name,
            poll,
        )
        to_deleted = time.time() - deleting
        left = r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
        left_types = sorted(r["Type"] for r in left)
    finally:
        if operator.poll() is None:
            operator.send_signal(signal.SIGTERM)
            try:
                operator.wait(timeout=30)
            except subprocess.TimeoutExpired:
                operator.kill()
        operator_log.close()
    subprocess.run(["kubectl", "delete", "namespace", namespace, "--wait=false"],
                   capture_output=True)
    r53.delete_hosted_zone(Id=zone_id)

    n = args.count
    converge_total = sum(converge_calls.values())
    converge_mutating = sum(v for (s, o), v in converge_calls.items() if not is_read(o))
    steady_total = sum(steady.values())
    steady_mutating = sum(v for (s, o), v in steady.items() if not is_read(o))
    steady_r53_reads = sum(v for (s, o), v in steady.items() if is_route53(s) and is_read(o))

    rows = [
        ("GlobalApis (2 regions, latency, one zone)", f"{n}"),
        ("spec.resyncSeconds", f"{args.resync}"),
        ("reconciles at once (--max-concurrent-reconciles)", f"{args.concurrency}"),
        ("time until all Ready", f"{to_ready:.1f} s"),
        ("AWS calls per GlobalApi to converge", f"{converge_total / n:.1f}"),
        ("  of which mutating", f"{converge_mutating / n:.1f}"),
        ("reconcile passes until all Ready", f"{converge_reconciles}"),
        ("steady-state passes measured", f"{steady_passes}"),
        ("AWS calls per GlobalApi per resync", f"{steady_total / steady_passes:.2f}"),
        ("  of which mutating", f"{steady_mutating / steady_passes:.2f}"),
        ("  of which Route 53 reads", f"{steady_r53_reads / steady_passes:.3f}"),
        ("operator peak RSS", f"{rss / 1024:.1f} MiB"),
        ("time until all deleted", f"{to_deleted:.1f} s"),
        ("records left in the zone", f"{len(left)} ({', '.join(left_types)})"),
    ]
    width = max(len(k) for k, _ in rows)
    print()
    print(f"{'measure':<{width}}  value")
    print(f"{'-' * width}  {'-' * 16}")
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    print()
    print(f"AWS calls per GlobalApi per resync, by operation ({steady_passes} passes):")
    for (service, operation), v in sorted(steady.items(), key=lambda kv: -kv[1]):
        print(f"  {service:<12} {operation:<36} {v / steady_passes:8.3f}")


if __name__ == "__main__":
    main()
