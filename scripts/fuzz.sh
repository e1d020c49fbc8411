#!/usr/bin/env bash
# Fuzzes every parser of untrusted input with libFuzzer for a bounded time and prints executions and crashes:
# Telegram Desktop exports, Bot API updates, web-preview HTML, and model output (our entity markup).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]      (default 60)
#
# Seeds come from ../shared/fixtures at run time; crashing inputs are kept in .build/fuzz/<target>/crash-*.
# Each crash found becomes a regression test (Tests/CoreTests/FuzzRegressionTests.swift).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
seconds="${1:-60}"
fixtures="$ROOT/../shared/fixtures"
[ -d "$fixtures" ] || die "no ../shared/fixtures beside the repository (the seed inputs)"
core="$ROOT/Sources/Core"
sources=(
    "$core"/Domain/*.swift "$core/Ports/PostSource.swift" "$core/Adapters/TelegramExport/TelegramDesktopExport.swift"
    "$core/Adapters/BotAPI/BotAPIUpdates.swift" "$core/Adapters/Telegram/BotAPIError.swift"
    "$core/Adapters/TelegramWeb/WebPreviewPage.swift" "$core/Adapters/Translation/EntityMarkup.swift" "$core/Ports/Translator.swift"
    "$core/Adapters/Translation/TranslationRules.swift" "$core/Adapters/Translation/TranslationPrompt.swift"
    "$core/Adapters/Translation/TranslationAnswer.swift" "$ROOT/Fuzz/FuzzTarget.swift"
)
total_crashes=0
for target in EXPORT BOTAPI WEBPREVIEW MARKUP; do
    dir="$ROOT/.build/fuzz/$target"
    mkdir -p "$dir/corpus"
    max_len=8192
    case "$target" in
        EXPORT) max_len=100000; cp "$fixtures"/telegram_desktop_export/*.json "$ROOT/Samples/sample_export/result.json" "$dir/corpus/" ;;
        BOTAPI) cp "$fixtures"/bot_api_updates/*.json "$fixtures"/bot_api_updates/nutgram_fixtures/*.json "$dir/corpus/" ;;
        WEBPREVIEW) max_len=30000; cp "$fixtures"/tme_s_html/*.html "$dir/corpus/" ;;
        MARKUP) printf '<e0>a</e0><e1>b</e1><e2>c</e2>' >"$dir/corpus/seed1"; printf '<e0>x<e1>y</e1></e0>&amp;<e2>z</e2>' >"$dir/corpus/seed2"
                printf '<translation id="1">\n<e0>b</e0><e1>b</e1><e2/>\n</translation>' >"$dir/corpus/seed3" ;;
    esac
    say "building fuzz target $target"
    swiftc -sanitize=fuzzer,address -parse-as-library -O -D "FUZZ_$target" "${sources[@]}" -o "$dir/fuzz" 2>&1 | grep -E "error" && die "fuzz target $target did not build"
    say "fuzzing $target for ${seconds}s"
    (cd "$dir" && "$dir/fuzz" -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb=4096 -timeout=20 -print_final_stats=1 corpus >"$dir/log.txt" 2>&1) || true
    runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$dir/log.txt" | grep -Eo '[0-9]+$' || echo 0)
    crashes=$(find "$dir" -maxdepth 1 \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
    total_crashes=$((total_crashes + crashes))
    printf 'fuzz target=%s seconds=%s executions=%s crashes=%s\n' "$target" "$seconds" "$runs" "$crashes"
done
[ "$total_crashes" -eq 0 ] || die "$total_crashes crashing input(s) under .build/fuzz/*/; turn each into a regression test"
