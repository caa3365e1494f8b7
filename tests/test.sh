#!/usr/bin/env bash
# `make test`: rustfmt, then clippy and the test build in one compile, then
# every test against the local environment, which starts meanwhile.
#
# Two things keep a cold run short on a small machine:
# - The dependencies compile once. `cargo clippy` would compile all of them
#   a second time, in check mode (minutes for the AWS SDK crates); instead
#   clippy's driver is the compiler of this crate (RUSTC_WORKSPACE_WRAPPER,
#   as `cargo clippy` sets it) while `cargo test` builds. Its lints and
#   `-D warnings` are those of `make lint`.
# - The environment (kube-apiserver, etcd, kubectl and helm built from Go
#   modules the first time, moto installed) is brought up while cargo
#   builds; both have long single-threaded stretches that the other fills.
#
# TEST_THREADS tests run at a time; KEEP_ENV=1 leaves the servers up.
#
# Tests run reconcile passes in their own threads; an unoptimised build
# polls that deep future with large frames, past the 2 MiB default stack
# (the operator binary sizes its runtime's threads itself).
set -euo pipefail
export RUST_MIN_STACK=${RUST_MIN_STACK:-16777216}
cd "$(dirname "$0")/.."

CARGO=${CARGO:-cargo}
ENV=tests/env/env.sh
TEST_THREADS=${TEST_THREADS:-8}
LOG=target/env-up.log

clippy_driver=$(rustc --print sysroot)/bin/clippy-driver
[ -x "$clippy_driver" ] || { echo "test: clippy-driver not found at $clippy_driver" >&2; exit 1; }
export RUSTC_WORKSPACE_WRAPPER=$clippy_driver
# What `cargo clippy -- -D warnings` hands its driver.
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"

"$CARGO" fmt --check

mkdir -p target
"$ENV" up >"$LOG" 2>&1 &
env_pid=$!
stop_env() { [ -n "${KEEP_ENV:-}" ] || "$ENV" down; }

if ! "$CARGO" test --locked --no-run; then
  wait "$env_pid" || true
  stop_env
  exit 1
fi
if ! wait "$env_pid"; then
  cat "$LOG" >&2
  echo "test: the local environment did not start (log above, also in $LOG)" >&2
  stop_env
  exit 1
fi
cat "$LOG" >&2

rc=0
"$CARGO" test --locked --no-fail-fast -- --test-threads "$TEST_THREADS" || rc=$?
stop_env
exit "$rc"
