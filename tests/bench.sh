#!/usr/bin/env bash
# make bench [N=100] [RESYNC=60] [CONCURRENCY=10] [PROFILE=release] [QUOTAS=on]
# [QUOTA_SCALE=1]: N GlobalApis (1 to 1000) sharing one hosted zone, spread over
# regions, reconciled by one operator against the local environment, whose AWS
# front enforces AWS's control-plane quotas (QUOTAS=off: plain moto; QUOTA_SCALE
# multiplies every rate, for the front and the operator alike). Prints a table of numbers (see tests/bench.py); asserts
# nothing. The environment stays up afterwards (`make env-down` stops it).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

N=${N:-100}
QUOTAS=${QUOTAS:-on}
QUOTA_SCALE=${QUOTA_SCALE:-1}
RESYNC=${RESYNC:-60}
CONCURRENCY=${CONCURRENCY:-10}
PROFILE=${PROFILE:-release}
WORK_DIR=$ROOT/target/bench
mkdir -p "$WORK_DIR"

echo "==> Build ($PROFILE)"
if [ "$PROFILE" = release ]; then
  cargo build --locked --release
  BINARY=$ROOT/target/release/globalapi
else
  cargo build --locked
  BINARY=$ROOT/target/debug/globalapi
fi

echo "==> Local environment (tests/env/env.sh up)"
tests/env/env.sh up
# shellcheck source=env/activate.sh
. "$ROOT/tests/env/activate.sh"
kubectl apply --server-side -f crds/globalapi.yaml >/dev/null
kubectl wait --for=condition=Established --timeout=60s crd/globalapis.globalapi.io >/dev/null

echo "==> $N GlobalApis in one hosted zone"
exec "$ROOT/target/env/venv/bin/python" tests/bench.py \
  --count "$N" --resync "$RESYNC" --concurrency "$CONCURRENCY" --binary "$BINARY" --work-dir "$WORK_DIR" \
  --quotas "$QUOTAS" --quota-scale "$QUOTA_SCALE"
