# Sourced (not run) by scripts that use the local environment once
# `tests/env/env.sh up` has started it: kubectl and helm from target/env/bin,
# the API server's kubeconfig, and the AWS settings that point at moto.
GLOBALAPI_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export KUBECONFIG=$GLOBALAPI_ROOT/target/env/kubeconfig
export PATH=$GLOBALAPI_ROOT/target/env/bin:$PATH
set -a
# shellcheck disable=SC1091
. "$GLOBALAPI_ROOT/target/env/aws.env"
set +a
