#!/usr/bin/env bash
# Benchmark (not a test): `JobRunner aggregate-analytics` over 1,000,000 events spread over 30 days on a fresh
# throwaway PostgreSQL, first run and an incremental run (10,000 new events plus 100 late ones), with wall
# time and the runner's peak RSS. Build excluded.
#
#   scripts/bench-analytics.sh [EVENTS]      (default 1000000)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

events="${1:-1000000}"
bench_setup "export:$ROOT/Samples/sample_export/result.json"
psql=("$PG_BIN/psql" -q -v ON_ERROR_STOP=1 -h "$tmp/sock" -U postgres -d postgres)

# Two routes on one channel (en, de), 100,000 posts, then the events in one statement, as a backfill would.
"${psql[@]}" <<SQL
INSERT INTO mirror.routes (source, source_chat_id, destination, target_lang)
VALUES ('export:/bench', -1001, 'files:/bench/en', 'en'), ('export:/bench', -1001, 'files:/bench/de', 'de');
INSERT INTO mirror.posts (chat_id, message_id, posted_at, text, entities, media, needs_translation)
SELECT -1001, g, now() - interval '31 days' + g * interval '26 seconds', 'post ' || g, '[]', '[]', true
FROM generate_series(1, 100000) g;
INSERT INTO mirror.events (kind, route_id, post_id, detail, occurred_at)
SELECT k.kind, CASE WHEN k.kind = 'published' THEN 1 + g % 2 END, 1 + g % 100000,
       CASE WHEN k.kind IN ('translated', 'translation_failed')
            THEN jsonb_build_object('target_lang', CASE WHEN g % 2 = 0 THEN 'en' ELSE 'de' END,
                 'input_tokens', (g % 3000)::text, 'output_tokens', (g % 800)::text, 'cache_write_tokens', '0',
                 'cache_read_tokens', (g % 5000)::text, 'requests', '1', 'cost_usd', ((g % 900) / 1000000.0)::text)
            ELSE '{}' END,
       now() - interval '30 days' + g * (interval '30 days' / $events)
FROM generate_series(1, $events) g
CROSS JOIN LATERAL (SELECT (ARRAY['fetched', 'translated', 'published', 'published', 'translation_failed', 'tm_hit'])[1 + g % 6] AS kind) k;
ANALYZE;
SQL

measure() {
    /usr/bin/time -v "$bin" aggregate-analytics >"$tmp/out.txt" 2>"$tmp/time.txt"
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$tmp/time.txt")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/time.txt")
    summary=$(grep -o 'summary="[^"]*"' "$tmp/out.txt" || true)
    echo "$1: wall=$wall peak_rss_mib=$(python3 -c "print(round($rss/1024,1))") $summary"
}
measure "first run over $events events"

"${psql[@]}" <<SQL
INSERT INTO mirror.events (kind, route_id, post_id, occurred_at)
SELECT 'published', 1, 1 + g % 100000, now() - (g % 600) * interval '1 second' FROM generate_series(1, 10000) g;
INSERT INTO mirror.events (kind, route_id, post_id, occurred_at)
SELECT 'published', 2, 1 + g, now() - interval '12 days' - g * interval '1 hour' FROM generate_series(1, 100) g;
SQL
measure "incremental run (10,000 new + 100 late events)"
measure "rerun with nothing new"
"${psql[@]}" -t -c "SELECT 'rollup rows: ' || count(*) FROM mirror.analytics_rollups"
