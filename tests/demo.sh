#!/usr/bin/env bash
# make demo: the operator's main job, end to end, on the local environment
# (a real kube-apiserver + etcd, and moto for AWS):
#
#   build -> start the environment -> install the CRD -> hosted zone in moto
#   -> start `globalapi run` -> kubectl apply a GlobalApi -> Ready
#   -> what exists in AWS -> change a Route 53 record behind the operator's
#   back -> drift reported and put back -> kubectl delete -> AWS holds
#   nothing of it -> stop the operator.
#
# The environment stays up afterwards (`make env-down` stops it); running the
# demo again reuses it. Everything the demo writes is under target/demo/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

NAMESPACE=globalapi-demo
NAME=demo
MANIFEST=examples/demo.yaml
ZONE=example.com
RESYNC=30
DEMO_DIR=$ROOT/target/demo
OPERATOR_LOG=$DEMO_DIR/operator.log
OPERATOR_PID_FILE=$DEMO_DIR/operator.pid
OPERATOR_PID=
START=$SECONDS

if [ -t 1 ]; then BOLD=$'\033[1m' RED=$'\033[31m' GREEN=$'\033[32m' RESET=$'\033[0m'; else BOLD='' RED='' GREEN='' RESET=''; fi

section() { printf '\n%s==> %s%s  [%ss]\n' "$BOLD" "$*" "$RESET" "$((SECONDS - START))"; }
say() { printf '    %s\n' "$*"; }
ok() { printf '    %s✓ %s%s\n' "$GREEN" "$*" "$RESET"; }

# Stops with what a person needs to see why.
fail() {
  printf '\n%sdemo failed: %s%s\n' "$RED$BOLD" "$*" "$RESET" >&2
  if [ -n "${KUBECONFIG:-}" ]; then
    printf '\n--- kubectl describe globalapi %s -n %s\n' "$NAME" "$NAMESPACE" >&2
    kubectl describe globalapi "$NAME" -n "$NAMESPACE" >&2 2>&1 || true
    printf '\n--- kubectl get events -n %s (last 20)\n' "$NAMESPACE" >&2
    kubectl get events -n "$NAMESPACE" --sort-by=.lastTimestamp 2>&1 | tail -n 20 >&2 || true
  fi
  if [ -f "$OPERATOR_LOG" ]; then
    printf '\n--- operator log, last 40 lines (%s)\n' "$OPERATOR_LOG" >&2
    tail -n 40 "$OPERATOR_LOG" >&2 || true
  fi
  printf '\nThe environment is still up (make env-down stops it); make demo can run again.\n' >&2
  exit 1
}

# Polls `$@` every 2 s until it succeeds, for at most $1 seconds.
wait_for() {
  local timeout=$1 what=$2; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [ -n "$OPERATOR_PID" ] && ! kill -0 "$OPERATOR_PID" 2>/dev/null; then
      fail "$what: the operator exited"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      fail "$what: not within ${timeout}s"
    fi
    sleep 2
  done
}

# Stops the operator this demo started (SIGTERM, then SIGKILL after 30 s).
stop_operator() {
  [ -n "$OPERATOR_PID" ] || return 0
  if kill -0 "$OPERATOR_PID" 2>/dev/null; then
    kill -TERM "$OPERATOR_PID" 2>/dev/null || true
    local i
    for i in $(seq 1 150); do
      kill -0 "$OPERATOR_PID" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$OPERATOR_PID" 2>/dev/null; then
      say "the operator did not stop on SIGTERM; killing it"
      kill -KILL "$OPERATOR_PID" 2>/dev/null || true
    fi
  fi
  wait "$OPERATOR_PID" 2>/dev/null || true
  OPERATOR_PID=
  rm -f "$OPERATOR_PID_FILE"
}
trap stop_operator EXIT
trap 'exit 130' INT TERM
trap 'fail "line $LINENO: a command failed (see its output above)"' ERR

# ---------------------------------------------------------------------------
section "1/9 Build (cargo build)"
cargo build
mkdir -p "$DEMO_DIR"

# ---------------------------------------------------------------------------
section "2/9 Local environment: kube-apiserver + etcd, moto (tests/env/env.sh up)"
tests/env/env.sh up
# shellcheck source=env/activate.sh
. "$ROOT/tests/env/activate.sh"
PY=$ROOT/target/env/venv/bin/python
[ -x "$PY" ] || fail "no python in target/env/venv (tests/env/env.sh up installs it)"
say "API server: $(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')"
say "AWS (moto): $AWS_ENDPOINT_URL"

# ---------------------------------------------------------------------------
section "3/9 The GlobalApi CRD"
kubectl apply --server-side -f crds/globalapi.yaml
kubectl wait --for=condition=Established --timeout=60s crd/globalapis.globalapi.io
wait_for 30 "the globalapis resource is served" kubectl get globalapis -A

# ---------------------------------------------------------------------------
section "4/9 The hosted zone $ZONE in moto"
ZONE_INFO=$("$PY" - "$ZONE" <<'EOF'
import sys, time, boto3
zone = sys.argv[1]
r53 = boto3.client("route53")
found = [z for z in r53.list_hosted_zones_by_name(DNSName=zone)["HostedZones"]
         if z["Name"].rstrip(".") == zone and not z.get("Config", {}).get("PrivateZone")]
if not found:
    found = [r53.create_hosted_zone(Name=zone, CallerReference=f"globalapi-demo-{time.time_ns()}")["HostedZone"]]
    print(f"    created {zone}", file=sys.stderr)
else:
    print(f"    {zone} exists already", file=sys.stderr)
print(found[0]["Id"].split("/")[-1], len(found))
EOF
) || fail "could not read or create the hosted zone $ZONE in moto"
read -r ZONE_ID ZONE_COUNT <<<"$ZONE_INFO"
# Several public zones of one name make `hostedZone.name` ambiguous (the
# operator refuses it); the demo then names its zone by id.
ZONE_OVERRIDE=
if [ "$ZONE_COUNT" -gt 1 ]; then
  ZONE_OVERRIDE=$ZONE_ID
  say "$ZONE_COUNT public zones are named $ZONE in moto; the demo names $ZONE_ID by id"
fi
ok "zone $ZONE: $ZONE_ID"

# ---------------------------------------------------------------------------
section "5/9 Start the operator (globalapi run --namespace $NAMESPACE)"
# A demo operator left over from an interrupted run would fight this one.
if [ -f "$OPERATOR_PID_FILE" ]; then
  old=$(cat "$OPERATOR_PID_FILE")
  if [ -n "$old" ] && tr '\0' ' ' <"/proc/$old/cmdline" 2>/dev/null | grep -q "globalapi run --namespace $NAMESPACE"; then
    say "stopping the operator of an earlier demo run (pid $old)"
    kill -TERM "$old" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$old" 2>/dev/null || break; sleep 0.2; done
  fi
  rm -f "$OPERATOR_PID_FILE"
fi
kubectl create namespace "$NAMESPACE" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
METRICS=http://127.0.0.1:$PORT
RUST_LOG=${RUST_LOG:-info} target/debug/globalapi run --namespace "$NAMESPACE" --metrics-addr "127.0.0.1:$PORT" \
  >"$OPERATOR_LOG" 2>&1 &
OPERATOR_PID=$!
echo "$OPERATOR_PID" >"$OPERATOR_PID_FILE"
operator_leads() {
  curl -fsS "$METRICS/metrics" | grep -qx 'globalapi_leader 1'
}
wait_for 30 "the operator answers /readyz" curl -fsS "$METRICS/readyz"
# A lease left by a killed operator expires after 15 s.
wait_for 60 "the operator holds the leader lease" operator_leads
ok "pid $OPERATOR_PID, log $OPERATOR_LOG, metrics $METRICS/metrics"
say "leader lease: $(kubectl get lease globalapi-operator -n "$NAMESPACE" -o jsonpath='{.spec.holderIdentity}')"

# ---------------------------------------------------------------------------
section "6/9 kubectl apply $MANIFEST (with resyncSeconds: $RESYNC)"
sed 's/^/    | /' "$MANIFEST"
# The example keeps the default resync (5 minutes); the demo re-observes AWS
# every 30 s so that drift shows quickly.
kubectl create --dry-run=client -o json -n "$NAMESPACE" -f "$MANIFEST" \
  | "$PY" -c '
import json, sys
o = json.load(sys.stdin)
o["spec"]["resyncSeconds"] = int(sys.argv[1])
if sys.argv[2]:
    o["spec"]["hostedZone"] = {"id": sys.argv[2]}
json.dump(o, sys.stdout)' "$RESYNC" "$ZONE_OVERRIDE" \
  >"$DEMO_DIR/globalapi.json"
kubectl apply -n "$NAMESPACE" -f "$DEMO_DIR/globalapi.json"
APPLIED=$SECONDS

# Ready=True for the current generation.
is_ready() {
  kubectl get globalapi "$NAME" -n "$NAMESPACE" -o json | "$PY" -c '
import json, sys
o = json.load(sys.stdin)
s = o.get("status") or {}
ready = any(c["type"] == "Ready" and c["status"] == "True" for c in s.get("conditions", []))
sys.exit(0 if ready and s.get("observedGeneration") == o["metadata"]["generation"] else 1)'
}
say "waiting for Ready (at most 180 s) ..."
wait_for 180 "GlobalApi $NAME Ready=True" is_ready
ok "Ready $((SECONDS - APPLIED))s after kubectl apply"
echo
kubectl get globalapi -n "$NAMESPACE" -o wide
OBJECT_UID=$(kubectl get globalapi "$NAME" -n "$NAMESPACE" -o jsonpath='{.metadata.uid}')
DOMAIN=$(kubectl get globalapi "$NAME" -n "$NAMESPACE" -o jsonpath='{.spec.domain}')
REGIONS=$(kubectl get globalapi "$NAME" -n "$NAMESPACE" -o jsonpath='{.spec.regions[*].name}')

# What AWS holds that carries the object's uid (tags), and the zone's
# records for its domain. `summary` prints it; `gone` fails when anything is left.
aws_state() {
  "$PY" - "$1" "$OBJECT_UID" "$DOMAIN" "$ZONE_ID" $REGIONS <<'EOF'
import sys, boto3
mode, uid, domain, zone_id, regions = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
TAG = "globalapi.io/uid"
found = []
def line(kind, text):
    found.append(kind)
    print(f"    {kind:<24} {text}")
for region in regions:
    apigw = boto3.client("apigateway", region_name=region)
    for api in apigw.get_rest_apis(limit=500)["items"]:
        if api.get("tags", {}).get(TAG) == uid:
            stages = [s["stageName"] for s in apigw.get_stages(restApiId=api["id"])["item"]]
            line("REST API", f"{region}: {api['id']} {api['name']!r}, stages {stages}, "
                 f"https://{api['id']}.execute-api.{region}.amazonaws.com/{stages[0] if stages else ''}")
    for d in apigw.get_domain_names(limit=500)["items"]:
        if d.get("tags", {}).get(TAG) == uid:
            line("custom domain", f"{region}: {d['domainName']} -> {d.get('regionalDomainName')}")
    acm = boto3.client("acm", region_name=region)
    for c in acm.list_certificates()["CertificateSummaryList"]:
        tags = acm.list_tags_for_certificate(CertificateArn=c["CertificateArn"])["Tags"]
        if any(t["Key"] == TAG and t.get("Value") == uid for t in tags):
            status = acm.describe_certificate(CertificateArn=c["CertificateArn"])["Certificate"]["Status"]
            line("certificate", f"{region}: {c['DomainName']} {status} {c['CertificateArn'].split('/')[-1]}")
r53 = boto3.client("route53")
checks = r53.list_health_checks()["HealthChecks"]
for i in range(0, len(checks), 10):
    batch = [c["Id"] for c in checks[i:i + 10]]
    for tags in r53.list_tags_for_resources(ResourceType="healthcheck", ResourceIds=batch)["ResourceTagSets"]:
        if any(t["Key"] == TAG and t.get("Value") == uid for t in tags.get("Tags", [])):
            c = next(c for c in checks if c["Id"] == tags["ResourceId"])
            cfg = c["HealthCheckConfig"]
            line("health check", f"{c['Id']}: {cfg.get('Type')} {cfg.get('FullyQualifiedDomainName')}"
                 f"{cfg.get('ResourcePath', '')} every {cfg.get('RequestInterval')}s, threshold {cfg.get('FailureThreshold')}")
records = r53.list_resource_record_sets(HostedZoneId=zone_id, MaxItems="300")["ResourceRecordSets"]
for r in records:
    name = r["Name"].rstrip(".")
    if name == domain or name.endswith("." + domain):
        target = r["AliasTarget"]["DNSName"] if "AliasTarget" in r else ", ".join(v["Value"] for v in r.get("ResourceRecords", []))
        ident = f" [{r['SetIdentifier']}]" if "SetIdentifier" in r else ""
        line("record", f"{name} {r['Type']}{ident} -> {target}")
cf = boto3.client("cloudfront")
for d in cf.list_distributions().get("DistributionList", {}).get("Items", []):
    tags = cf.list_tags_for_resource(Resource=d["ARN"])["Tags"].get("Items", [])
    if any(t["Key"] == TAG and t.get("Value") == uid for t in tags):
        line("distribution", f"{d['Id']} {d['DomainName']} aliases {d.get('Aliases', {}).get('Items', [])} {d['Status']}")
kinds = sorted(set(found))
print("    in all: " + (", ".join(f"{found.count(k)} {k}" for k in kinds) if found else "nothing"))
if mode == "gone" and found:
    sys.exit(1)
EOF
}

# ---------------------------------------------------------------------------
section "7/9 What exists in AWS for $NAMESPACE/$NAME (uid $OBJECT_UID)"
aws_state summary || fail "reading AWS failed"

# ---------------------------------------------------------------------------
section "8/9 Drift: a Route 53 record changed behind the operator's back"
# The latency record of the first region (for the CloudFront origin name
# with the edge, for the domain itself without it) now points elsewhere.
FIRST_REGION=${REGIONS%% *}
CHANGED=$SECONDS
"$PY" - "$ZONE_ID" "$DOMAIN" "$FIRST_REGION" "$DEMO_DIR/record.json" <<'EOF' || fail "changing the record by hand failed"
import json, sys, boto3
zone_id, domain, region, saved = sys.argv[1:5]
r53 = boto3.client("route53")
records = r53.list_resource_record_sets(HostedZoneId=zone_id, MaxItems="300")["ResourceRecordSets"]
latency = [r for r in records if r["Type"] == "A" and r.get("Region") == region and "AliasTarget" in r
           and r["Name"].rstrip(".").endswith(domain)]
if not latency:
    sys.exit(f"no latency A record of {region} for {domain}")
record = latency[0]
json.dump(record, open(saved, "w"))
changed = json.loads(json.dumps(record))
changed["AliasTarget"]["DNSName"] = "elsewhere.execute-api.us-west-2.amazonaws.com."
r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
    {"Action": "UPSERT", "ResourceRecordSet": changed}]})
print(f"    {record['Name']} A [{record['SetIdentifier']}]")
print(f"      was:  {record['AliasTarget']['DNSName']}")
print(f"      now:  {changed['AliasTarget']['DNSName']}  (changed by hand, not by the operator)")
EOF
drift_seen() {
  kubectl get events -n "$NAMESPACE" --field-selector "reason=DriftDetected,involvedObject.uid=$OBJECT_UID" -o name | grep -q .
}
say "the operator re-observes AWS every ${RESYNC}s; waiting for it (at most 90 s) ..."
wait_for 90 "a DriftDetected event" drift_seen
ok "drift found $((SECONDS - CHANGED))s after the change"
echo
kubectl get globalapi -n "$NAMESPACE" -o wide
echo
kubectl get events -n "$NAMESPACE" --field-selector "involvedObject.uid=$OBJECT_UID" \
  -o custom-columns='TYPE:.type,REASON:.reason,MESSAGE:.message' | grep -E 'TYPE|Drift' || true
echo
kubectl get globalapi "$NAME" -n "$NAMESPACE" \
  -o jsonpath='{range .status.drift[*]}    status.drift: {.service} {.resource} {.field}: observed {.observed}, desired {.desired} -> {.action}{"\n"}{end}'
record_restored() {
  "$PY" - "$ZONE_ID" "$DEMO_DIR/record.json" <<'EOF'
import json, sys, boto3
zone_id, saved = sys.argv[1:3]
want = json.load(open(saved))
records = boto3.client("route53").list_resource_record_sets(HostedZoneId=zone_id, MaxItems="300")["ResourceRecordSets"]
now = [r for r in records if r["Name"] == want["Name"] and r["Type"] == want["Type"]
       and r.get("SetIdentifier") == want.get("SetIdentifier")]
sys.exit(0 if now and now[0]["AliasTarget"]["DNSName"] == want["AliasTarget"]["DNSName"] else 1)
EOF
}
wait_for 60 "the record put back by the operator" record_restored
ok "the record points at $("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["AliasTarget"]["DNSName"])' "$DEMO_DIR/record.json") again"

# ---------------------------------------------------------------------------
section "9/9 kubectl delete globalapi $NAME"
kubectl delete globalapi "$NAME" -n "$NAMESPACE" --wait=false
DELETED=$SECONDS
say "the finalizer holds the object until AWS is cleaned up (at most 180 s) ..."
if ! kubectl wait --for=delete "globalapi/$NAME" -n "$NAMESPACE" --timeout=180s >/dev/null 2>&1; then
  kubectl get globalapi "$NAME" -n "$NAMESPACE" >/dev/null 2>&1 && fail "the GlobalApi was not deleted within 180 s"
fi
ok "the GlobalApi is gone, $((SECONDS - DELETED))s after kubectl delete"
say "what AWS still holds of uid $OBJECT_UID:"
aws_state gone || fail "AWS still holds resources of the deleted GlobalApi"
ok "nothing"

echo
say "stopping the operator (SIGTERM) ..."
stop_operator
ok "stopped"

printf '\n%sThe demo passed in %ss.%s\n' "$GREEN$BOLD" "$((SECONDS - START))" "$RESET"
cat <<EOF

The environment is still up:
    export KUBECONFIG=$KUBECONFIG PATH=$ROOT/target/env/bin:\$PATH
    set -a; . target/env/aws.env; set +a      # AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL (moto)
    target/debug/globalapi run --namespace $NAMESPACE   # the operator again
Operator log: $OPERATOR_LOG
Stop everything with: make env-down
EOF
