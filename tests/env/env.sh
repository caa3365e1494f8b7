#!/usr/bin/env bash
# The local environment the tests and the demo run against:
#   etcd + kube-apiserver (RBAC on, service-account token signing) and moto.
#
#   tests/env/env.sh up       start everything (harmless when already up)
#   tests/env/env.sh down     stop everything this script started, by pid
#   tests/env/env.sh status   say what runs
#   tests/env/env.sh tools    only build kube-apiserver, kubectl, etcd and helm
#
# Outputs (under target/env/):
#   kubeconfig   admin kubeconfig
#   bin/         kubectl, helm, kube-apiserver, etcd
#   aws.env      lines to source to reach moto (AWS_ENDPOINT_URL, region, dummy keys);
#                moto is served behind the harsh front, tests/env/harsh_aws.py
#
# Binaries are built from the published Go modules pinned in tests/env/tools/
# and cached outside the checkout (GLOBALAPI_CACHE, default ~/.cache/globalapi),
# keyed by the pins, so the second start on a machine costs seconds.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TOOLS="$ROOT/tests/env/tools"
ENV_DIR="$ROOT/target/env"
BIN="$ENV_DIR/bin"
RUN="$ENV_DIR/run"
LOGS="$ENV_DIR/logs"
CACHE="${GLOBALAPI_CACHE:-$HOME/.cache/globalapi}"

log() { printf 'env: %s\n' "$*" >&2; }
die() { printf 'env: error: %s\n' "$*" >&2; exit 1; }

need() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed; $2"
}

# The cache key of a Go tool module: its pins and the Go toolchain.
module_key() {
  local dir=$1
  { cat "$dir/go.mod" "$dir/go.sum"; find "$dir" -name '*.go' -print0 | sort -z | xargs -0 -r cat; go env GOVERSION; } \
    | sha256sum | cut -c1-16
}

# Build the packages of one tool module into the cache (once), then link them into bin/.
build_module() {
  local name=$1 dir=$2; shift 2
  local key out
  key=$(module_key "$dir")
  out="$CACHE/$name-$key"
  if [ ! -f "$out/.complete" ]; then
    log "building $name ($*) from the Go module proxy into $out; the first time takes minutes"
    rm -rf "$out.tmp" && mkdir -p "$out.tmp"
    local start=$SECONDS
    # The go command fetches modules GOMAXPROCS at a time; the fetch of a
    # cold module cache is bound by round trips to the proxy, not by cores,
    # so it runs wider first (on 2 cores: 1.5 min instead of 6).
    (cd "$dir" && GOFLAGS=-mod=readonly GOMAXPROCS=16 go list -deps "$@" >/dev/null) \
      || die "fetching the modules of $name failed (see the go output above)"
    (cd "$dir" && GOFLAGS=-mod=readonly CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$out.tmp/" "$@") \
      || die "building $name failed (see the go output above)"
    touch "$out.tmp/.complete"
    rm -rf "$out" && mv "$out.tmp" "$out"
    log "built $name in $((SECONDS - start))s"
  fi
  mkdir -p "$BIN"
  local f
  for f in "$out"/*; do ln -sf "$f" "$BIN/$(basename "$f")"; done
}

cmd_tools() {
  need go "the Go toolchain builds kube-apiserver, kubectl, etcd and helm"
  build_module k8s "$TOOLS/k8s" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl ./etcd
  build_module helm "$TOOLS/helm" helm.sh/helm/v3/cmd/helm
}

# moto in a project-local virtualenv, reinstalled when the lock file changes.
ensure_moto() {
  need python3 "moto runs on Python 3"
  local venv="$ENV_DIR/venv" stamp
  stamp=$(sha256sum "$ROOT/tests/env/requirements.lock" | cut -c1-16)
  if [ "$(cat "$venv/.stamp" 2>/dev/null)" != "$stamp" ]; then
    log "installing moto into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv" || die "python3 -m venv failed"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/tests/env/requirements.lock" \
      || die "pip install of moto failed"
    echo "$stamp" >"$venv/.stamp"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

alive() {
  local pidfile="$RUN/$1.pid"
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

# Start a process in its own session, detached from the caller, and record its pid.
spawn() {
  local name=$1; shift
  mkdir -p "$RUN" "$LOGS"
  setsid "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
}

wait_for() {
  local name=$1 tries=$2; shift 2
  local i
  for ((i = 0; i < tries; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    alive "$name" || { tail -n 30 "$LOGS/$name.log" >&2 || true; die "$name exited while starting (log: $LOGS/$name.log)"; }
    sleep 0.5
  done
  tail -n 30 "$LOGS/$name.log" >&2 || true
  die "$name did not become ready in $((tries / 2))s (log: $LOGS/$name.log)"
}

make_pki() {
  local pki="$ENV_DIR/pki"
  [ -f "$pki/.complete" ] && return 0
  need openssl "it makes the API server's certificates"
  rm -rf "$pki" && mkdir -p "$pki"
  (
    cd "$pki"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
      -subj "/CN=globalapi-test-ca" -keyout ca.key -out ca.crt 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -subj "/CN=kube-apiserver" -keyout serving.key -out serving.csr 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n' >serving.ext
    openssl x509 -req -in serving.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile serving.ext -out serving.crt 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    python3 -c 'import secrets; print(secrets.token_hex(24))' >admin.token
    printf '%s,admin,admin-uid,"system:masters"\n' "$(cat admin.token)" >tokens.csv
  ) || die "making certificates with openssl failed"
  touch "$pki/.complete"
}

start_etcd() {
  alive etcd && return 0
  local client peer
  client=$(free_port); peer=$(free_port)
  rm -rf "$ENV_DIR/etcd-data"
  spawn etcd "$BIN/etcd" --name globalapi-test --data-dir "$ENV_DIR/etcd-data" \
    --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "globalapi-test=http://127.0.0.1:$peer" \
    --unsafe-no-fsync --quota-backend-bytes 2147483648 --log-level warn
  echo "$client" >"$RUN/etcd.port"
  wait_for etcd 60 curl -sf "http://127.0.0.1:$client/health"
}

start_apiserver() {
  alive kube-apiserver && return 0
  local pki="$ENV_DIR/pki" port
  port=$(free_port)
  spawn kube-apiserver "$BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$(cat "$RUN/etcd.port")" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$port" \
    --tls-cert-file "$pki/serving.crt" --tls-private-key-file "$pki/serving.key" \
    --client-ca-file "$pki/ca.crt" \
    --token-auth-file "$pki/tokens.csv" \
    --authorization-mode RBAC \
    --service-account-issuer "https://127.0.0.1:$port" \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --service-cluster-ip-range 10.96.0.0/24 \
    --endpoint-reconciler-type none \
    --enable-priority-and-fairness=false \
    --cert-dir "$ENV_DIR/apiserver-certs"
  echo "$port" >"$RUN/kube-apiserver.port"
  wait_for kube-apiserver 240 curl -sf --cacert "$pki/ca.crt" \
    -H "Authorization: Bearer $(cat "$pki/admin.token")" "https://127.0.0.1:$port/readyz"
}

write_kubeconfig() {
  local pki="$ENV_DIR/pki" port
  port=$(cat "$RUN/kube-apiserver.port")
  cat >"$ENV_DIR/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: globalapi-test
  cluster:
    server: https://127.0.0.1:$port
    certificate-authority-data: $(base64 -w0 <"$pki/ca.crt")
users:
- name: admin
  user:
    token: $(cat "$pki/admin.token")
contexts:
- name: globalapi-test
  context: {cluster: globalapi-test, user: admin, namespace: default}
current-context: globalapi-test
EOF
  chmod 600 "$ENV_DIR/kubeconfig"
}

# 1 (the default) unless HARSH_STRICT turns the strict answers off.
strict_wanted() {
  case "${HARSH_STRICT:-1}" in
    0 | false | no | off | "") echo 0 ;;
    *) echo 1 ;;
  esac
}

# 1 when the front's /_harsh/health answer says it runs strict, else 0.
strict_of() {
  case "$1" in
    *'"strict_default": true'*) echo 1 ;;
    *) echo 0 ;;
  esac
}

# moto runs behind the harsh front (tests/env/harsh_aws.py), in moto's process:
# faults injected on a test's request, and AWS's answers where moto is lenient.
# Those strict answers are on unless HARSH_STRICT=0 (a scope can switch them
# on or off for itself); a front running with the other setting than the one
# wanted is restarted.
start_moto() {
  local port health
  if alive moto; then
    port=$(cat "$RUN/moto.port" 2>/dev/null || true)
    health=$( [ -n "$port" ] && curl -sf "http://127.0.0.1:$port/_harsh/health" 2>/dev/null || true)
    if [ -z "$health" ]; then
      log "moto runs without the harsh front; restarting it"
      stop moto
    elif [ "$(strict_of "$health")" != "$(strict_wanted)" ]; then
      log "the harsh front runs with another HARSH_STRICT; restarting it"
      stop moto
    else
      return 0
    fi
  fi
  port=$(free_port)
  # Certificates requested from ACM are ISSUED after this many seconds.
  MOTO_ACM_VALIDATION_WAIT=${MOTO_ACM_VALIDATION_WAIT:-2} HARSH_STRICT=$(strict_wanted) \
    spawn moto "$ENV_DIR/venv/bin/python" "$ROOT/tests/env/harsh_aws.py" -H 127.0.0.1 -p "$port"
  echo "$port" >"$RUN/moto.port"
  wait_for moto 120 curl -sf "http://127.0.0.1:$port/moto-api/data.json"
  curl -sf "http://127.0.0.1:$port/_harsh/health" >/dev/null \
    || die "moto answers but the harsh front does not (log: $LOGS/moto.log)"
  cat >"$ENV_DIR/aws.env" <<EOF
AWS_ENDPOINT_URL=http://127.0.0.1:$port
AWS_REGION=us-east-1
AWS_DEFAULT_REGION=us-east-1
AWS_ACCESS_KEY_ID=testing
AWS_SECRET_ACCESS_KEY=testing
EOF
}

cmd_up() {
  need curl "the readiness checks use it"
  cmd_tools
  ensure_moto
  make_pki
  mkdir -p "$RUN"
  # An API server whose etcd is gone cannot be reused.
  alive etcd || stop kube-apiserver
  start_etcd
  start_apiserver
  write_kubeconfig
  start_moto
  log "up: kube-apiserver https://127.0.0.1:$(cat "$RUN/kube-apiserver.port"), moto http://127.0.0.1:$(cat "$RUN/moto.port")"
  log "    export KUBECONFIG=$ENV_DIR/kubeconfig; set -a; . $ENV_DIR/aws.env; set +a"
}

stop() {
  local name=$1 pidfile="$RUN/$1.pid" pid i
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    log "stopped $name (pid $pid)"
  fi
  rm -f "$pidfile" "$RUN/$name.port"
}

cmd_down() {
  stop moto
  stop kube-apiserver
  stop etcd
  rm -rf "$ENV_DIR/etcd-data" "$ENV_DIR/aws.env" "$ENV_DIR/kubeconfig"
}

cmd_status() {
  local name
  for name in etcd kube-apiserver moto; do
    if alive "$name"; then
      echo "$name: running (pid $(cat "$RUN/$name.pid"), port $(cat "$RUN/$name.port"))"
    else
      echo "$name: stopped"
    fi
  done
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  tools) cmd_tools ;;
  *) echo "usage: $0 up|down|status|tools" >&2; exit 2 ;;
esac
