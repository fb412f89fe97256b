#!/usr/bin/env bash
# The audit trail's fault suite (audit/faults, build tag "faults"): SIGKILL
# of writers, three processes on one SQLite file, four PostgreSQL writers
# through a server restart, an outage, a lock hang and a frozen server (on a private server it
# starts), a full disk (2 MiB tmpfs), judge outages and 16,000 runs of load.
# Each scenario prints one line: runs attempted / acknowledged / found and
# the chain's verdict; it fails if an acknowledged run is lost. Needs root
# (tmpfs mount, the postgres user for the private server) and PostgreSQL's
# server binaries. About a minute on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
go test -tags faults -count=1 -v -timeout 10m ./audit/faults/ >"$log" 2>&1 || status=$?
grep -E '^(fault |--- |ok|FAIL|PASS|panic)' "$log" || true
if [ "$status" -ne 0 ]; then
	echo "audit fault suite failed; full log:" >&2
	grep -vE 'level=(ERROR|INFO|WARN) msg="reagent: audit' "$log" | tail -200 >&2
fi
exit "$status"
