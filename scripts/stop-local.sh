#!/usr/bin/env bash
# Stops the local PostgreSQL that scripts/run-local.sh started (the data in .local/pgdata is kept).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_postgres_binaries
stop_postgres "$LOCAL/pgdata"
say "stopped"
