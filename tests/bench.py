"""make bench: N GlobalApis sharing one hosted zone, reconciled by one
operator process against the local environment (kube-apiserver + moto).

By default the front enforces AWS's control-plane quotas (src/aws/quotas.json,
rates multiplied by --quota-scale for both the front and the operator), and
the objects are spread over --regions regions, two each, so that no region
passes a hard limit (120 custom domains, 600 REST APIs).

Prints a table: time until all are Ready beside the lower bound the quotas
put on the same work (the scarcest bucket's calls over its rate) and their
ratio; the calls AWS throttled and the quota errors; AWS calls per
GlobalApi to converge and per steady-state resync, by service, with the
fraction of each service's budget the steady state uses; the operator's
peak RSS; the time until all are deleted and its bound. Numbers, not
assertions: this machine is shared and noisy.

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
# spec.resyncSeconds when the spec names none.
DEFAULT_RESYNC = 300
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Regions with API Gateway, ACM and Lambda, in the order objects are spread over them.
REGIONS = [
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1",
    "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1",
    "eu-south-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "ap-northeast-2",
    "ap-northeast-3", "ap-south-1", "sa-east-1", "me-south-1", "af-south-1",
]
SERVICE_NAMES = {  # the SDK's service names in the operator's metrics -> signing names
    "route53": "route53", "apigateway": "apigateway", "acm": "acm",
    "cloudfront": "cloudfront", "rds": "rds", "lambda": "lambda",
}


def signing_name(service):
    return SERVICE_NAMES.get(service.lower().replace(" ", ""), service.lower())


def quota_table():
    with open(os.path.join(ROOT, "src", "aws", "quotas.json")) as f:
        return json.load(f)["buckets"]


def covers(bucket, service, operation):
    if bucket["service"] != service:
        return False
    ops = bucket["operations"]
    if ops == "*":
        return operation not in bucket.get("except", [])
    return operation in ops


def front(method, path, body=None):
    endpoint = os.environ["AWS_ENDPOINT_URL"].rstrip("/")
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{endpoint}{path}", data=data, method=method,
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read().decode())


def front_quotas(akid):
    return front("GET", f"/_harsh/scopes/{akid}/quotas")


def diff_counts(after, before):
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0) > 0}


def quota_bound(passed, regions_used, scale):
    """The least time the quotas allow for `passed` calls ("svc Op" -> n),
    spread evenly over `regions_used` regions: per bucket, the calls beyond
    its burst over its rate; the largest such time, and which bucket."""
    best = (0.0, "none")
    for b in quota_table():
        n = sum(v for k, v in passed.items() if covers(b, *k.split(" ", 1)))
        if n == 0:
            continue
        per_key = n if b["scope"] == "account" else n / regions_used
        rate = b["requests"] * scale / b["per_seconds"]
        seconds = max(0.0, per_key - b["burst"]) / rate
        if seconds > best[0]:
            name = b["operations"] if b["operations"] == "*" else ",".join(b["operations"])
            best = (seconds, f"{b['service']} {name}")
    return best


def budget_use(per_resync, n, resync, regions_used):
    """The fraction of each service's scarcest bucket that the steady state
    uses: calls per object per resync times objects over resyncSeconds."""
    use = {}
    for b in quota_table():
        calls = sum(v for (svc, op), v in per_resync.items()
                    if covers(b, signing_name(svc), op))
        if calls == 0:
            continue
        per_key = calls * n / resync / (1 if b["scope"] == "account" else regions_used)
        rate = b["requests"] / b["per_seconds"]
        fraction = per_key / rate
        name = b["operations"] if b["operations"] == "*" else ",".join(b["operations"])
        if fraction > use.get(b["service"], (0, ""))[0]:
            use[b["service"]] = (fraction, name)
    return use


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


def manifest(count, namespace, zone, zone_id, resync, regions):
    docs = []
    for i in range(count):
        first, second = REGIONS[i % regions], REGIONS[(i + 1) % regions]
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
                            "name": first,
                            "backend": {"httpUrl": f"https://{first}-{i}.backend.example.com"},
                        },
                        {
                            "name": second,
                            "backend": {"httpUrl": f"https://{second}-{i}.backend.example.com"},
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
    p.add_argument("--quotas", choices=["on", "off"], default="on")
    p.add_argument("--quota-scale", type=float, default=1.0)
    p.add_argument("--regions", type=int, default=0,
                   help="regions to spread over (default: enough for the hard limits, at least 4)")
    args = p.parse_args()
    if args.regions == 0:
        # Two regions per object; at most 100 custom domains per region (limit 120).
        args.regions = min(len(REGIONS), max(4, -(-2 * args.count // 100)))
    if not 2 <= args.regions <= len(REGIONS):
        raise SystemExit(f"--regions: 2 to {len(REGIONS)}")
    quotas = args.quotas == "on"
    scale = args.quota_scale
    if not 1 <= args.count <= 1000:
        raise SystemExit("--count: give 1 to 1000 GlobalApis")
    if not 30 <= args.resync <= 86400:
        raise SystemExit("--resync: spec.resyncSeconds takes 30 to 86400 seconds")

    run_id = time.strftime("%Y%m%d%H%M%S")
    # An account of its own at the front: its quotas are the bench's alone.
    akid = f"harsh-bench-{run_id}"
    os.environ["AWS_ACCESS_KEY_ID"] = akid
    front("POST", f"/_harsh/scopes/{akid}/quotas", {"enabled": quotas, "scale": scale})
    log(f"quotas {'on' if quotas else 'off'} (scale {scale:g}) for account of {akid}; "
        f"{args.regions} regions")
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
            "--aws-rate-scale",
            f"{scale:g}",
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
            stdin=json.dumps(
                manifest(args.count, namespace, zone, zone_id, args.resync, args.regions)
            ),
        )
        applied = time.time()
        front_start = front_quotas(akid)
        log(f"{args.count} GlobalApis applied (resyncSeconds {args.resync}); waiting for Ready")
        timeout = 600 + 3 * args.count + int(90 * args.count / args.regions / max(scale, 0.01))
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
        front_ready = front_quotas(akid)

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

        front_steady = front_quotas(akid)
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
        front_deleted = front_quotas(akid)
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

    def phase(after, before):
        passed = diff_counts(after["passed"], before["passed"])
        throttled = diff_counts(after["throttled"], before["throttled"])
        limited = sum(diff_counts(after["limited"], before["limited"]).values())
        return passed, throttled, limited

    converge_passed, converge_by_op, converge_limited = phase(front_ready, front_start)
    steady_passed, steady_by_op, steady_limited = phase(front_steady, front_ready)
    delete_passed, delete_by_op, delete_limited = phase(front_deleted, front_steady)
    throttled_by_op = Counter(converge_by_op) + Counter(steady_by_op) + Counter(delete_by_op)
    converge_throttled = sum(converge_by_op.values())
    steady_throttled = sum(steady_by_op.values())
    delete_throttled = sum(delete_by_op.values())
    ready_bound, ready_scarce = quota_bound(converge_passed, args.regions, scale)
    delete_bound, delete_scarce = quota_bound(delete_passed, args.regions, scale)
    all_passed = sum(converge_passed.values()) + sum(steady_passed.values()) + sum(
        delete_passed.values())
    all_throttled = converge_throttled + steady_throttled + delete_throttled
    all_limited = converge_limited + steady_limited + delete_limited
    per_resync = {k: v / steady_passes for k, v in steady.items()}
    use = budget_use(per_resync, n, args.resync, args.regions)
    use_default = budget_use(per_resync, n, DEFAULT_RESYNC, args.regions)

    def ratio(t, bound):
        return f"{t / bound:.2f}" if bound > 0 else "-"

    rows = [
        (f"GlobalApis (2 of {args.regions} regions each, latency, one zone)", f"{n}"),
        ("AWS quotas at the front", f"{'on' if quotas else 'off'}, rates x {scale:g}"),
        ("spec.resyncSeconds", f"{args.resync}"),
        ("reconciles at once (--max-concurrent-reconciles)", f"{args.concurrency}"),
        ("time until all Ready", f"{to_ready:.1f} s"),
        ("  lower bound from the quotas (scarcest bucket)",
         f"{ready_bound:.1f} s ({ready_scarce})"),
        ("  ratio to the bound", ratio(to_ready, ready_bound)),
        ("calls AWS throttled / all calls",
         f"{all_throttled} / {all_passed + all_throttled} "
         f"({100 * all_throttled / max(1, all_passed + all_throttled):.2f} %)"),
        ("quota errors (hard limits)", f"{all_limited}"),
        ("AWS calls per GlobalApi to converge", f"{converge_total / n:.1f}"),
        ("  of which mutating", f"{converge_mutating / n:.1f}"),
        ("reconcile passes until all Ready", f"{converge_reconciles}"),
        ("steady-state passes measured", f"{steady_passes}"),
        ("AWS calls per GlobalApi per resync", f"{steady_total / steady_passes:.2f}"),
        ("  of which mutating", f"{steady_mutating / steady_passes:.2f}"),
        ("  of which Route 53 reads", f"{steady_r53_reads / steady_passes:.3f}"),
        ("operator peak RSS", f"{rss / 1024:.1f} MiB"),
        ("time until all deleted", f"{to_deleted:.1f} s"),
        ("  lower bound from the quotas (scarcest bucket)",
         f"{delete_bound:.1f} s ({delete_scarce})"),
        ("  ratio to the bound", ratio(to_deleted, delete_bound)),
        ("records left in the zone", f"{len(left)} ({', '.join(left_types)})"),
    ]
    width = max(len(k) for k, _ in rows)
    print()
    print(f"{'measure':<{width}}  value")
    print(f"{'-' * width}  {'-' * 16}")
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    print()
    print(f"Steady state: calls per GlobalApi per resync by service, and the fraction of the "
          f"service's scarcest budget that {n} objects use (AWS's rates, per account and "
          f"region) at resyncSeconds {args.resync} and at the default {DEFAULT_RESYNC}:")
    by_service = Counter()
    for (service, _), v in per_resync.items():
        by_service[signing_name(service)] += v
    for service, v in sorted(by_service.items()):
        fraction, bucket = use.get(service, (0.0, "no documented rate"))
        at_default = use_default.get(service, (0.0, ""))[0]
        print(f"  {service:<12} {v:6.2f} calls   {100 * fraction:6.1f} %   "
              f"{100 * at_default:6.1f} %   of {service} {bucket}")
    if throttled_by_op:
        print()
        print(f"Calls AWS throttled, by operation (converge {converge_throttled}, steady state "
              f"{steady_throttled}, deletion {delete_throttled}):")
        for key, v in throttled_by_op.most_common(10):
            print(f"  {key:<49} {v:8d}")
    print()
    print(f"AWS calls per GlobalApi per resync, by operation ({steady_passes} passes):")
    for (service, operation), v in sorted(steady.items(), key=lambda kv: -kv[1]):
        print(f"  {service:<12} {operation:<36} {v / steady_passes:8.3f}")


if __name__ == "__main__":
    main()
