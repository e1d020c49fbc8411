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
bench_setup "export:$export_path"
/usr/bin/time -v "$bin" all 2>"$tmp/time.txt"
posts=$(python3 -c "import json,sys; print(sum(len(json.loads(l)['items']) for l in open(sys.argv[1])))" "$tmp/out/publications.jsonl")
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$tmp/time.txt")
rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/time.txt")
secs=$(python3 -c "import sys; p=sys.argv[1].split(':'); print(sum(float(x)*60**i for i,x in enumerate(reversed(p))))" "$wall")
python3 -c "import sys; print(f'posts={sys.argv[1]} wall_s={float(sys.argv[2]):.2f} posts_per_s={int(sys.argv[1])/float(sys.argv[2]):.0f} peak_rss_mib={int(sys.argv[3])/1024:.1f}')" "$posts" "$secs" "$rss"
