# The two commands of a fresh machine: `make demo` (arrives with the operator)
# and `make test`. Everything they need is installed by tests/env/env.sh.

CARGO ?= cargo
ENV := tests/env/env.sh

TEST_THREADS ?= 8

.PHONY: demo test bench lint env-up env-down env-status tools crd chart-crd chart-docs

## demo: build, start the local environment, run the operator on examples/demo.yaml end to end
## (Ready, AWS contents, drift reported and put back, deletion); the environment stays up
demo:
	tests/demo.sh

## test: rustfmt, clippy (warnings are errors) and every test against the local environment,
## which starts while the tests build and stops after them (KEEP_ENV=1 keeps it up);
## TEST_THREADS tests at a time (default 8: most of a test waits on servers and timers)
test:
	CARGO="$(CARGO)" TEST_THREADS="$(TEST_THREADS)" tests/test.sh

## bench: N GlobalApis (default 100, at most 1000) in one hosted zone, spread over regions,
## against the local environment with AWS's quotas enforced (QUOTAS=off: plain moto;
## QUOTA_SCALE=10: every rate ten times); prints time to Ready beside the quotas' bound,
## throttled calls, AWS calls per object (converge, per resync) and budget use, peak RSS
bench:
	N="$(N)" RESYNC="$(RESYNC)" CONCURRENCY="$(CONCURRENCY)" PROFILE="$(PROFILE)" QUOTAS="$(QUOTAS)" QUOTA_SCALE="$(QUOTA_SCALE)" tests/bench.sh

## lint: rustfmt and clippy, warnings are errors
lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

## env-up: start etcd, kube-apiserver and moto on 127.0.0.1 (harmless when already up)
env-up:
	$(ENV) up

## env-down: stop them
env-down:
	$(ENV) down

env-status:
	$(ENV) status

## tools: build kube-apiserver, kubectl, etcd and helm from the pinned Go modules
tools:
	$(ENV) tools

## crd: regenerate crds/globalapi.yaml from the Rust types
crd:
	$(CARGO) run --quiet -- crd > crds/globalapi.yaml

## chart-docs: write the chart README's values table from values.yaml's `# --` comments
chart-docs:
	WRITE_VALUES_TABLE=1 $(CARGO) test --locked --test suite -- --exact helm::the_values_table_is_made_from_values_yaml_and_documents_every_value

## chart-crd: copy crds/globalapi.yaml into the Helm chart (a test keeps them equal)
chart-crd:
	cp crds/globalapi.yaml charts/globalapi-operator/crds/globalapi.yaml
