#!/usr/bin/env bash
# deploy/local/postgres.sh — a disposable local PostgreSQL 15 cluster on loopback.
#
#   SP_DATA_DIR=.run/pg SP_PG_PORT=5432 deploy/local/postgres.sh start|stop|status
#
# Layout under SP_DATA_DIR: cluster/ (the PGDATA), sock/ (the unix socket, so
# nothing is written to /var/run), postgres.log.
#
# Roles (created or brought up to date on every start):
#   postgres        superuser, reachable only through the unix socket (trust;
#                   the socket directory is private to the cluster's owner)
#   serphona_owner  LOGIN, owns database serphona and the service schemas, runs
#                   migrations; password SP_PG_OWNER_PASSWORD
#   serphona_app    LOGIN NOSUPERUSER NOBYPASSRLS, owns nothing: the services
#                   run as this role so row-level security always applies;
#                   password SP_PG_APP_PASSWORD
# TCP (127.0.0.1 only) requires scram-sha-256 passwords.
#
# PostgreSQL refuses to run as root, so when this script runs as root the data
# directory belongs to the `postgres` system user and every server command
# runs through runuser.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" postgres # sets SERVICE and ROOT
PG_BIN="${SP_PG_BIN:-/usr/lib/postgresql/15/bin}"
DATA_DIR="${SP_DATA_DIR:-$ROOT/.run/pg}"
PORT="${SP_PG_PORT:-5432}"
START_TIMEOUT="${SP_START_TIMEOUT:-60}"
export SP_PG_OWNER_PASSWORD="${SP_PG_OWNER_PASSWORD:-serphona_owner_dev}"
export SP_PG_APP_PASSWORD="${SP_PG_APP_PASSWORD:-serphona_app_dev}"
DB_NAME=serphona

DATA_DIR="$(realpath -m "$DATA_DIR")"
PGDATA="$DATA_DIR/cluster"
SOCK_DIR="$DATA_DIR/sock"
LOGFILE="$DATA_DIR/postgres.log"
DIE_LOGS=("$LOGFILE")

if [[ "$(id -u)" == 0 ]]; then
    RUN_AS=(runuser -u postgres --)
    getent passwd postgres >/dev/null || die "running as root needs the 'postgres' system user (apt-get install postgresql)"
else
    RUN_AS=()
fi
as_pg() { "${RUN_AS[@]}" "$@"; }

# The server user has to traverse every parent of the data directory; a
# checkout under a root-owned 0750 directory would otherwise fail with a
# confusing "permission denied" deep inside initdb.
ensure_traversable() {
    mkdir -p "$DATA_DIR"
    [[ "$(id -u)" == 0 ]] || return 0
    local dir
    dir="$(dirname "$DATA_DIR")"
    while [[ "$dir" != "/" ]]; do
        if ! runuser -u postgres -- test -x "$dir"; then
            log "granting o+x on $dir so the postgres user can reach $DATA_DIR"
            chmod o+x "$dir"
        fi
        dir="$(dirname "$dir")"
    done
    chown postgres:postgres "$DATA_DIR"
}

# psql as the superuser through the private unix socket.
psql_super() {
    as_pg env SP_PG_OWNER_PASSWORD="$SP_PG_OWNER_PASSWORD" SP_PG_APP_PASSWORD="$SP_PG_APP_PASSWORD" \
        "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK_DIR" -p "$PORT" -U postgres "$@"
}

is_running() {
    [[ -f "$PGDATA/PG_VERSION" ]] && as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1
}

answers() {
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 2 >/dev/null 2>&1
}

init_cluster() {
    [[ -f "$PGDATA/PG_VERSION" ]] && return 0
    log "initialising cluster in $PGDATA"
    as_pg mkdir -p "$PGDATA"
    as_pg chmod 700 "$PGDATA"
    as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres --encoding=UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 --no-sync >"$DATA_DIR/initdb.log" 2>&1 \
        || { cat "$DATA_DIR/initdb.log" >&2; die "initdb failed"; }
    # Loopback only; the socket lives in the data directory. fsync is off
    # because this cluster is disposable development data and the test suite
    # creates and drops many schemas.
    as_pg tee -a "$PGDATA/postgresql.conf" >/dev/null <<EOF

# --- serphona local stack (deploy/local/postgres.sh) ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$SOCK_DIR'
unix_socket_permissions = 0700
password_encryption = 'scram-sha-256'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
    as_pg tee "$PGDATA/pg_hba.conf" >/dev/null <<'EOF'
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  trust
host    all       all   127.0.0.1/32   scram-sha-256
EOF
}

# Creates the database and roles if missing and resets the role passwords to
# the ones in the environment, so a changed password takes effect on restart.
setup_roles() {
    psql_super -d postgres <<'SQL'
\getenv owner_pw SP_PG_OWNER_PASSWORD
\getenv app_pw SP_PG_APP_PASSWORD
SELECT 'CREATE ROLE serphona_owner' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'serphona_owner') \gexec
SELECT 'CREATE ROLE serphona_app' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'serphona_app') \gexec
SELECT format('ALTER ROLE serphona_owner LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOBYPASSRLS PASSWORD %L', :'owner_pw') \gexec
SELECT format('ALTER ROLE serphona_app LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOBYPASSRLS NOINHERIT PASSWORD %L', :'app_pw') \gexec
SELECT 'CREATE DATABASE serphona OWNER serphona_owner' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'serphona') \gexec
REVOKE ALL ON DATABASE serphona FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE serphona TO serphona_app;
GRANT ALL ON DATABASE serphona TO serphona_owner;
SQL
    psql_super -d "$DB_NAME" <<'SQL'
ALTER SCHEMA public OWNER TO serphona_owner;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO serphona_app;
SQL
}

# Percent-encodes a URL userinfo component, so any password survives in a URL.
urlencode() {
    local s="$1" out="" c i
    for ((i = 0; i < ${#s}; i++)); do
        c="${s:i:1}"
        case "$c" in
        [a-zA-Z0-9._~-]) out+="$c" ;;
        *) out+="$(printf '%%%02X' "'$c")" ;;
        esac
    done
    printf '%s' "$out"
}

print_urls() {
    echo "SP_PG_OWNER_URL=postgresql://serphona_owner:$(urlencode "$SP_PG_OWNER_PASSWORD")@127.0.0.1:${PORT}/${DB_NAME}"
    echo "SP_PG_APP_URL=postgresql://serphona_app:$(urlencode "$SP_PG_APP_PASSWORD")@127.0.0.1:${PORT}/${DB_NAME}"
}

cmd_start() {
    ensure_traversable
    init_cluster
    if is_running; then
        answers || die "a server runs from $PGDATA but 127.0.0.1:$PORT does not answer (started on another port?)"
        log "already running on 127.0.0.1:$PORT"
    else
        as_pg mkdir -p "$SOCK_DIR"
        as_pg chmod 700 "$SOCK_DIR"
        if ! as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$LOGFILE" -w -t "$START_TIMEOUT" \
            -o "-p $PORT -k $SOCK_DIR -c listen_addresses=127.0.0.1" start >/dev/null; then
            die "pg_ctl start failed or the server did not come up within ${START_TIMEOUT}s"
        fi
        wait_for_answer "$START_TIMEOUT" 0.2 "server started but 127.0.0.1:$PORT does not answer"
        log "started on 127.0.0.1:$PORT (data $DATA_DIR)"
    fi
    setup_roles || die "creating roles and database failed"
    print_urls
}

cmd_stop() {
    if ! is_running; then
        log "not running"
        return 0
    fi
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w -t "$START_TIMEOUT" stop >/dev/null \
        || die "pg_ctl stop failed"
    log "stopped"
}

status_where() { echo "127.0.0.1:$PORT (data $DATA_DIR)"; }

main "$@"
