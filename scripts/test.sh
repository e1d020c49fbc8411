#!/usr/bin/env bash
# The second command: installs what the tests need, starts a throwaway PostgreSQL (pgvector included) on a
# unix socket in a temporary folder, runs `swift test`, and stops and deletes the database even when tests fail.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_system_packages pgbouncer shellcheck
ensure_postgres_binaries

tmp="$(mktemp -d /tmp/channel-mirror-test.XXXXXX)"
chmod 755 "$tmp"
cleanup() {
    stop_pgbouncer "$tmp/bouncer"
    stop_postgres "$tmp/data"
    rm -rf "$tmp"
}
trap cleanup EXIT
# fsync off: a throwaway cluster needs no durability, and tests run much faster without it.
start_postgres "$tmp/data" "$tmp/sock" "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
say "throwaway PostgreSQL on $tmp/sock"
start_pgbouncer "$tmp/bouncer" "$tmp/sock"
say "PgBouncer (transaction mode) on $tmp/bouncer"

export TEST_DATABASE_URL="host=$tmp/sock dbname=postgres user=postgres"
export TEST_PG_BIN="$PG_BIN"
export TEST_PG_DATA="$tmp/data"
export TEST_PGBOUNCER_URL="host=$tmp/bouncer port=6432 dbname=postgres user=postgres"
cd "$ROOT"
swift build --build-tests 2>&1 | grep -E 'error|warning: unre|Compiling|Build complete' | tail -n 5 || true
bin_path="$(swift build --show-bin-path)"
export JOBRUNNER_BIN="$bin_path/JobRunner"
# The release binary too, as Heroku builds it: the optimiser has changed behaviour before (DeploymentTests).
swift build -c release --product JobRunner 2>&1 | grep -E 'error:' || true
JOBRUNNER_RELEASE_BIN="$(swift build -c release --show-bin-path)/JobRunner"
export JOBRUNNER_RELEASE_BIN
swift test "$@"
