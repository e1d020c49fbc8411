#!/usr/bin/env bash
# Pushes this project's configuration to a Heroku app in one `heroku config:set` call.
#
#   ./setup_heroku.sh --app NAME [--dry-run]
#
# Values come from app_settings.env, then .env (a variable in .env wins), in the current folder. Every
# variable JobRunner requires must be present (TELEGRAM_BOT_TOKEN too when a route uses Telegram); every
# missing one is listed before anything is sent. --dry-run prints what would be set, secrets masked.
set -euo pipefail

app=""
dry_run=0
while [ $# -gt 0 ]; do
    case "$1" in
        --app)
            [ $# -ge 2 ] || { echo "error: --app needs a name" >&2; exit 64; }
            app="$2"
            shift 2
            ;;
        --app=*) app="${1#--app=}"; shift ;;
        --dry-run) dry_run=1; shift ;;
        -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "error: unknown argument $1; usage: ./setup_heroku.sh --app NAME [--dry-run]" >&2; exit 64 ;;
    esac
done
[ -n "$app" ] || { echo "error: --app NAME is required (the Heroku app to configure)" >&2; exit 64; }

declare -A values=()
order=()
problems=()
# KEY=VALUE lines; `#` comments, `export `, single quotes (literal) and double quotes (\n, \" and \\ escapes).
read_env_file() {
    local file="$1" line key value number=0
    [ -f "$file" ] || return 0
    while IFS= read -r line || [ -n "$line" ]; do
        number=$((number + 1))
        line="${line%$'\r'}"
        [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
        line="${line#"${line%%[![:space:]]*}"}"
        line="${line#export }"
        if [[ ! "$line" =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]]; then
            problems+=("$file line $number is not KEY=VALUE; fix or remove it")
            continue
        fi
        key="${BASH_REMATCH[1]}"
        value="${BASH_REMATCH[2]}"
        if [[ "$value" =~ ^\'(.*)\'$ ]]; then
            value="${BASH_REMATCH[1]}"
        elif [[ "$value" =~ ^\"(.*)\"$ ]]; then
            value="${BASH_REMATCH[1]}"
            value="${value//\\\\/$'\x01'}"
            value="${value//\\n/$'\n'}"
            value="${value//\\\"/\"}"
            value="${value//$'\x01'/\\}"
        fi
        if [[ "$key" == HEROKU_* || "$key" == __* ]]; then
            problems+=("$file line $number: $key is reserved by Heroku; rename it")
            continue
        fi
        [ -n "${values[$key]+set}" ] || order+=("$key")
        values[$key]="$value"
    done <"$file"
}
read_env_file app_settings.env
read_env_file .env

required=(DATABASE_URL SRC_CHANNEL DST_CHANNEL TARGET_LANG)
dst="${values[DST_CHANNEL]:-}"
src="${values[SRC_CHANNEL]:-}"
if [[ "$dst" == telegram:* || "$dst" == @* || "$dst" == -* || "$src" == botapi:* ]]; then
    required+=(TELEGRAM_BOT_TOKEN)
fi
for key in "${required[@]}"; do
    [ -n "${values[$key]:-}" ] || problems+=("$key is not set in .env or app_settings.env")
done
if [ "${#problems[@]}" -gt 0 ]; then
    for problem in "${problems[@]}"; do echo "error: $problem" >&2; done
    exit 1
fi

args=()
for key in "${order[@]}"; do args+=("$key=${values[$key]}"); done

if [ "$dry_run" -eq 1 ]; then
    echo "would run: heroku config:set --app $app with:"
    for key in "${order[@]}"; do
        case "$key" in
            *KEY*|*TOKEN*|*SECRET*|*PASSWORD*|DATABASE_URL) echo "  $key=****" ;;
            *) printf '  %s=%q\n' "$key" "${values[$key]}" ;;
        esac
    done
    exit 0
fi
command -v heroku >/dev/null 2>&1 || { echo "error: the heroku command is not installed; install the Heroku CLI and run heroku login" >&2; exit 1; }
heroku config:set --app "$app" "${args[@]}" >/dev/null
echo "configured ${#args[@]} variables on $app"
