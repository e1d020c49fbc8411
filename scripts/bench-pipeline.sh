#!/usr/bin/env bash
# Benchmark (not a test): wall time, posts/s and peak RSS of `JobRunner all` over a channel export,
# build and migration excluded, on a fresh throwaway PostgreSQL.
#
#   scripts/bench-pipeline.sh [path/to/result.json]     (default: the real Russian export)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export_path="${1:-$ROOT/../shared/fixtures/telegram_desktop_export/guzelskie_perezalivy_ru_public_channel_result.json}"
[ -f "$export_path" ] || die "no export at $export_path"
ensure_system_packages
ensure_postgres_binaries
[ -x /usr/bin/time ] || { [ "$(id -u)" -eq 0 ] && apt-get install -y -qq time >/dev/null; } || die "install GNU time (apt-get install time)"

tmp="$(mktemp -d /tmp/channel-mirror-bench.XXXXXX)"
chmod 755 "$tmp"
trap 'stop_postgres "$tmp/data"; rm -rf "$tmp"' EXIT
start_postgres "$tmp/data" "$tmp/sock"
swift build -c release --package-path "$ROOT" >/dev/null
bin="$(swift build -c release --package-path "$ROOT" --show-bin-path)/JobRunner"

export DATABASE_URL="host=$tmp/sock dbname=postgres user=postgres"
export SRC_CHANNEL="export:$export_path" DST_CHANNEL="files:$tmp/out" TARGET_LANG=en LOG_LEVEL=warning
unset ANTHROPIC_API_KEY
"$bin" migrate
/usr/bin/time -v "$bin" all 2>"$tmp/time.txt"
posts=$(python3 -c "import json,sys; print(sum(len(json.loads(l)['items']) for l in open(sys.argv[1])))" "$tmp/out/publications.jsonl")
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$tmp/time.txt")
rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/time.txt")
secs=$(python3 -c "import sys; p=sys.argv[1].split(':'); print(sum(float(x)*60**i for i,x in enumerate(reversed(p))))" "$wall")
python3 -c "import sys; print(f'posts={sys.argv[1]} wall_s={float(sys.argv[2]):.2f} posts_per_s={int(sys.argv[1])/float(sys.argv[2]):.0f} peak_rss_mib={int(sys.argv[3])/1024:.1f}')" "$posts" "$secs" "$rss"
