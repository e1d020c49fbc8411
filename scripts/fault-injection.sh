#!/usr/bin/env bash
# Fault injection (not part of the regular suite's size): RUNS runs of `JobRunner all`, four at a time, killed
# with SIGKILL at random moments, against a fake Bot API and a fake Claude each failing a fifth of the calls;
# prints the figures (posts, published once, lost, duplicated, uncertain). Then PostgreSQL is stopped and
# restarted under a running `all --every 1s`. The regular test suite runs both, with 100 runs.
#
#   scripts/fault-injection.sh [RUNS] [SEED]      (default 1000 runs, a time-based seed)
set -euo pipefail
runs="${1:-1000}"
export FAULT_RUNS="$runs"
[ -n "${2:-}" ] && export FAULT_SEED="$2"
exec bash "$(dirname "${BASH_SOURCE[0]}")/test.sh" --filter "FaultInjectionTests|DatabaseOutageTests"
