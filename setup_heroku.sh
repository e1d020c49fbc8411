#!/usr/bin/env bash
# Pushes this project's configuration to a Heroku app in one `heroku config:set` call.
#
#   ./setup_heroku.sh --app NAME [--dry-run]
#
# Values come from app_settings.env, then .env (a variable in .env wins), in the current folder. The
# variables JobRunner requires must all be present; every missing one is listed before anything is sent.
# --dry-run prints what would be set, with secrets masked, and sends nothing.
set -euo pipefail

app=""
dry_run=0
while [ $# -gt 0 ]; do
    case "$1" in
        --app) app="${2:-}"; shift 2 || { echo "error: --app needs a name" >&2; exit 64; } ;;
        --app=*) app="${1#--app=}"; shift ;;
        --dry-run) dry_run=1; shift ;;
        -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "error: unknown argument $1; usage: ./setup_heroku.sh --app NAME [--dry-run]" >&2; exit 64 ;;
    esac
done
[ -n "$app" ] || { echo "error: --app NAME is required (the Heroku app to configure)" >&2; exit 64; }

declare -A values=()
order=()
read_env_file() {
    local file="$1" line key value
    [ -f "$file" ] || return 0
    while IFS= read -r line || [ -n "$line" ]; do
        line="${line%$'\r'}"
        [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
        line="${line#export }"
        if [[ ! "$line" =~ ^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]]; then
            echo "error: $file: cannot read line: ${line%%=*}…; use KEY=VALUE" >&2
            exit 1
        fi
        key="${BASH_REMATCH[1]}"
        value="${BASH_REMATCH[2]}"
        if [[ "$value" =~ ^\"(.*)\"$ || "$value" =~ ^\'(.*)\'$ ]]; then value="${BASH_REMATCH[1]}"; fi
        [ -n "${values[$key]+set}" ] || order+=("$key")
        values[$key]="$value"
    done <"$file"
}
read_env_file app_settings.env
read_env_file .env

missing=()
for key in DATABASE_URL SRC_CHANNEL DST_CHANNEL TARGET_LANG; do
    [ -n "${values[$key]:-}" ] || missing+=("$key")
done
if [ "${#missing[@]}" -gt 0 ]; then
    for key in "${missing[@]}"; do echo "error: $key is not set in .env or app_settings.env" >&2; done
    exit 1
fi

args=()
for key in "${order[@]}"; do args+=("$key=${values[$key]}"); done

if [ "$dry_run" -eq 1 ]; then
    echo "would run: heroku config:set --app $app with:"
    for key in "${order[@]}"; do
        case "$key" in
            *KEY*|*TOKEN*|*SECRET*|*PASSWORD*|DATABASE_URL) echo "  $key=****" ;;
            *) echo "  $key=${values[$key]}" ;;
        esac
    done
    exit 0
fi
heroku config:set --app "$app" "${args[@]}" >/dev/null
echo "configured ${#args[@]} variables on $app"
