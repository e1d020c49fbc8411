#!/usr/bin/env bash
# The first command: runs the whole pipeline (migrate, then fetch → translate-pending → publish) on this
# machine against a local PostgreSQL in .local/, over a Telegram Desktop channel export.
#
#   scripts/run-local.sh [path/to/result.json]
#
# Without an argument it uses the real Russian export in ../shared/fixtures when present, otherwise the
# sample export in Samples/. Output lands in out/channel-<id>-<lang>/ (publications.jsonl, index.html).
# Translation is offline (pseudo-translator) unless ANTHROPIC_API_KEY is set; then it is live (no Message
# Batches unless TRANSLATE_BATCH_API_THRESHOLD is set).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export_path="${1:-}"
if [ -z "$export_path" ]; then
    real="$ROOT/../shared/fixtures/telegram_desktop_export/guzelskie_perezalivy_ru_public_channel_result.json"
    if [ -f "$real" ]; then export_path="$real"; else export_path="$ROOT/Samples/sample_export/result.json"; fi
fi
[ -f "$export_path" ] || die "no export at $export_path; pass the path of a Telegram Desktop result.json"
export_path="$(cd "$(dirname "$export_path")" && pwd)/$(basename "$export_path")"

ensure_system_packages
ensure_postgres_binaries

# A short socket path (unix sockets are limited to ~100 bytes), stable for this checkout.
sock="/tmp/channel-mirror-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)"
start_postgres "$LOCAL/pgdata" "$sock"
create_database "$sock" mirror
say "PostgreSQL running in .local/pgdata (socket $sock); stop it with: scripts/stop-local.sh"
say "to run other commands against it: export DATABASE_URL=\"host=$sock dbname=mirror user=postgres\""

say "building (release)"
swift build -c release --package-path "$ROOT" 2>&1 | tail -n 1
bin="$(swift build -c release --package-path "$ROOT" --show-bin-path)/JobRunner"

# One output folder per channel and language, whatever folder the export sits in, so a newer export of
# the same channel continues the same route (and publishes only what is new).
channel_id="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1], encoding="utf-8")).get("id", "unknown"))' "$export_path" 2>/dev/null || echo unknown)"
export TARGET_LANG="${TARGET_LANG:-en}"
# Languages are case-insensitive (EN is en), so the folder, which names the route's destination, is too.
name="channel-$channel_id-$(printf '%s' "$TARGET_LANG" | tr '[:upper:]' '[:lower:]')"
export DATABASE_URL="host=$sock dbname=mirror user=postgres"
export SRC_CHANNEL="export:$export_path"
# End to end in this run: with ANTHROPIC_API_KEY set, a whole export would otherwise be a backlog for the
# Message Batches API, translated within 24 hours by a later run.
export TRANSLATE_BATCH_API_THRESHOLD="${TRANSLATE_BATCH_API_THRESHOLD:-0}"
export DST_CHANNEL="files:$ROOT/out/$name"

"$bin" migrate
"$bin" all
say "review page: $ROOT/out/$name/index.html (records: $ROOT/out/$name/publications.jsonl)"
