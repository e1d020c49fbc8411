#!/usr/bin/env bash
# Benchmark (not a test): translation requests and billed input tokens per 1,000 translated posts over the
# two real exports, this product's defaults against one request per post without prompt caching, both
# against the same token-counting fake Claude (Benchmarks/BenchFakeClaude: ⌈UTF-8 bytes / 4⌉ per token,
# prompt caching as documented, 1,024-token minimum). Billed input tokens weigh cache writes 1.25× and
# cache reads 0.1×, as Anthropic bills them. Each run also repeats with a 150-term glossary (none of whose
# terms occur in the posts), which makes the stable prompt long enough to be cached.
#
#   scripts/bench-translation.sh
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

fixtures="$ROOT/../shared/fixtures/telegram_desktop_export"
exports=("ru:$fixtures/guzelskie_perezalivy_ru_public_channel_result.json" "zh:$fixtures/trantor_library_zh_public_channel_result.json")
for entry in "${exports[@]}"; do [ -f "${entry#*:}" ] || die "no export at ${entry#*:}"; done
bench_setup "export:${exports[0]#*:}"
fake_bin="$(swift build -c release --package-path "$ROOT" --show-bin-path)/BenchFakeClaude"
"$fake_bin" >"$tmp/fake.out" &
fake_pid=$!
trap 'kill "$fake_pid" 2>/dev/null; stop_postgres "$tmp/data"; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do grep -q '^url=' "$tmp/fake.out" 2>/dev/null && break; sleep 0.1; done
fake_url="$(sed -n 's/^url=//p' "$tmp/fake.out")"
[ -n "$fake_url" ] || die "the fake Claude did not start"

python3 - "$tmp/glossary.csv" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("source,target,note\n")
    for i in range(150):
        f.write(f"обозначение{i:03d},designation{i:03d},house style term {i}\n")
PY

psql() { as_pg "$PG_BIN/psql" -h "$tmp/sock" -U postgres -tAq "$@"; }
run=0
measure() {  # LABEL LANG EXPORT GLOSSARY(yes/no) ENV...
    local label="$1" lang="$2" export_path="$3" glossary="$4"
    shift 4
    run=$((run + 1))
    psql -d postgres -c "CREATE DATABASE bench_$run"
    (
        export DATABASE_URL="host=$tmp/sock dbname=bench_$run user=postgres" SRC_CHANNEL="export:$export_path"
        export DST_CHANNEL="files:$tmp/out-$run" ANTHROPIC_API_KEY=sk-ant-bench ANTHROPIC_BASE_URL="$fake_url"
        export TRANSLATE_BATCH_API_THRESHOLD=0 SOURCE_LANG="$lang"
        local setting
        for setting in "$@"; do export "${setting?}"; done
        "$bin" migrate >/dev/null
        if [ "$glossary" = yes ]; then "$bin" glossary import "$tmp/glossary.csv" >/dev/null; fi
        "$bin" fetch >/dev/null
        curl -s -X POST "$fake_url/reset" >/dev/null
        "$bin" translate-pending >/dev/null
    )
    local posts stats
    posts=$(psql -d "bench_$run" -c "SELECT count(*) FROM mirror.translations")
    stats=$(curl -s "$fake_url/stats")
    python3 - "$label" "$posts" "$stats" <<'PY' | tee -a "$tmp/results"
import json, sys
label, posts, s = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
billed = s["input_tokens"] + 1.25 * s["cache_write_tokens"] + 0.1 * s["cache_read_tokens"]
k = 1000 / posts
print(f"{label} posts={posts} requests_per_1000={s['requests']*k:.1f} billed_input_tokens_per_1000={billed*k:.0f} "
      f"(input={s['input_tokens']*k:.0f} cache_write={s['cache_write_tokens']*k:.0f} cache_read={s['cache_read_tokens']*k:.0f}) "
      f"output_tokens_per_1000={s['output_tokens']*k:.0f}")
PY
}

for entry in "${exports[@]}"; do
    lang="${entry%%:*}" path="${entry#*:}"
    for glossary in no yes; do
        measure "$lang glossary=$glossary baseline" "$lang" "$path" "$glossary" TRANSLATE_BATCH_POSTS=1 CLAUDE_PROMPT_CACHE=false
        measure "$lang glossary=$glossary ours    " "$lang" "$path" "$glossary"
    done
done
python3 - "$tmp/results" <<'PY'
import re, sys
runs = {}
for line in open(sys.argv[1]):
    label = line[:line.index(" posts=")]
    case, variant = label.rsplit(" ", 1) if not label.endswith(" ") else label.rstrip().rsplit(" ", 1)
    values = dict(re.findall(r"(\w+)=([\d.]+)", line))
    runs.setdefault(case.strip(), {})[variant] = values
for case, v in runs.items():
    base, ours = v["baseline"], v["ours"]
    fewer = 1 - float(ours["billed_input_tokens_per_1000"]) / float(base["billed_input_tokens_per_1000"])
    print(f"{case}: {float(base['requests_per_1000']) / float(ours['requests_per_1000']):.1f}x fewer requests, {fewer:.1%} fewer billed input tokens")
PY
