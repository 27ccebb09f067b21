#!/usr/bin/env bash
# deploy/local/stack.sh — the whole platform on loopback, no Docker.
#
#   deploy/local/stack.sh up      PostgreSQL, Redis, ClickHouse, the dev Kafka
#                                 broker, then the seven services; waits until
#                                 every /health/ready answers 200
#   deploy/local/stack.sh down    stops everything `up` started (reverse order)
#   deploy/local/stack.sh infra-up | infra-down | services-up | services-down
#   deploy/local/stack.sh env     prints the environment the services get
#
# Everything lives under SP_RUN_DIR (default .run/, git-ignored): data, logs,
# pid files, and stack.env — shell `export` lines describing where each piece
# listens, which tests and scripts source.
#
# Ports: the defaults of the design (gateway 8080, RPC 7102-7107, ops
# 9101-9107; PostgreSQL 15432, Redis 16379, ClickHouse 18123/19000). With
# SP_PORT_BASE=N every port is N+offset instead, so a test run never collides
# with `make run` or another test run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/deploy/local"
RUN_DIR="$(realpath -m "${SP_RUN_DIR:-$ROOT/.run}")"
BIN_DIR="$(realpath -m "${SP_BIN_DIR:-$ROOT/build/bin}")"
ENV_FILE="$RUN_DIR/stack.env"
SERVICES=(tenant-manager billing agent-orchestrator tools-gateway analytics-processor analytics-query auth-gateway)

log() { echo "stack: $*" >&2; }
die() { log "error: $*"; exit 1; }

# --- ports -------------------------------------------------------------------
svc_index() {
    case "$1" in
        auth-gateway) echo 1 ;; tenant-manager) echo 2 ;; billing) echo 3 ;;
        agent-orchestrator) echo 4 ;; tools-gateway) echo 5 ;;
        analytics-processor) echo 6 ;; analytics-query) echo 7 ;;
    esac
}
if [[ -n "${SP_PORT_BASE:-}" ]]; then
    B=$SP_PORT_BASE
    PG_PORT=$B; REDIS_PORT=$((B + 1)); CH_HTTP_PORT=$((B + 2)); CH_TCP_PORT=$((B + 3))
    CH_INTERSERVER_PORT=$((B + 4)); GATEWAY_HTTP_PORT=$((B + 10)); TOOLS_HTTP_PORT=$((B + 11))
    rpc_port() { echo $((B + 20 + $(svc_index "$1"))); }
    ops_port() { echo $((B + 30 + $(svc_index "$1"))); }
else
    PG_PORT=${SP_PG_PORT:-15432}; REDIS_PORT=${SP_REDIS_PORT:-16379}
    CH_HTTP_PORT=${SP_CH_HTTP_PORT:-18123}; CH_TCP_PORT=${SP_CH_TCP_PORT:-19000}
    CH_INTERSERVER_PORT=${SP_CH_INTERSERVER_PORT:-19009}
    GATEWAY_HTTP_PORT=8080; TOOLS_HTTP_PORT=8090
    rpc_port() { echo $((7100 + $(svc_index "$1"))); }
    ops_port() { echo $((9100 + $(svc_index "$1"))); }
fi
TOPIC_PREFIX="${SP_TOPIC_PREFIX:-}"
export SP_PG_OWNER_PASSWORD="${SP_PG_OWNER_PASSWORD:-serphona_owner_dev}"
export SP_PG_APP_PASSWORD="${SP_PG_APP_PASSWORD:-serphona_app_dev}"

upper() { echo "$1" | tr 'a-z-' 'A-Z_'; }

# --- infrastructure ----------------------------------------------------------
infra_up() {
    mkdir -p "$RUN_DIR/logs" "$RUN_DIR/pids"
    SP_DATA_DIR="$RUN_DIR/pg" SP_PG_PORT=$PG_PORT "$HERE/postgres.sh" start >/dev/null
    SP_DATA_DIR="$RUN_DIR/redis" SP_REDIS_PORT=$REDIS_PORT "$HERE/redis.sh" start >/dev/null
    SP_DATA_DIR="$RUN_DIR/clickhouse" SP_CH_HTTP_PORT=$CH_HTTP_PORT SP_CH_TCP_PORT=$CH_TCP_PORT \
        SP_CH_INTERSERVER_PORT=$CH_INTERSERVER_PORT "$HERE/clickhouse.sh" start >/dev/null
    broker_up
    jwt_key
    write_env
    log "infrastructure up (PostgreSQL :$PG_PORT, Redis :$REDIS_PORT, ClickHouse :$CH_HTTP_PORT, Kafka $(cat "$RUN_DIR/kafka.bootstrap"))"
}

broker_up() {
    local pidfile="$RUN_DIR/pids/dev-broker.pid" bootstrap="$RUN_DIR/kafka.bootstrap"
    if [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null && [[ -s "$bootstrap" ]]; then
        return 0
    fi
    [[ -x "$BIN_DIR/serphona-dev-broker" ]] || die "$BIN_DIR/serphona-dev-broker is missing: run make"
    rm -f "$bootstrap"
    # setsid: a Ctrl-C in the terminal of `make run` reaches run.sh, which
    # stops everything in order, instead of hitting every process at once.
    setsid "$BIN_DIR/serphona-dev-broker" --bootstrap-file "$bootstrap" --topic-prefix "$TOPIC_PREFIX" \
        >>"$RUN_DIR/logs/dev-broker.log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 100); do
        [[ -s "$bootstrap" ]] && return 0
        kill -0 "$(cat "$pidfile")" 2>/dev/null || break
        sleep 0.1
    done
    tail -n 20 "$RUN_DIR/logs/dev-broker.log" >&2 || true
    die "the dev Kafka broker did not start"
}

infra_down() {
    stop_pid dev-broker
    SP_DATA_DIR="$RUN_DIR/clickhouse" SP_CH_HTTP_PORT=$CH_HTTP_PORT "$HERE/clickhouse.sh" stop || true
    SP_DATA_DIR="$RUN_DIR/redis" SP_REDIS_PORT=$REDIS_PORT "$HERE/redis.sh" stop || true
    SP_DATA_DIR="$RUN_DIR/pg" SP_PG_PORT=$PG_PORT "$HERE/postgres.sh" stop || true
}

# A P-256 key for the auth-gateway's access tokens, made once per run dir.
# Key files sort oldest first by name; to rotate, add a newer file and restart
# the gateway (the old key keeps verifying until it is removed).
jwt_key() {
    local dir="$RUN_DIR/jwt"
    mkdir -p "$dir"
    chmod 700 "$dir"
    compgen -G "$dir/*.pem" >/dev/null && return 0
    command -v openssl >/dev/null || die "openssl is missing: run make deps"
    (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -out "$dir/$(date -u +%Y%m%dT%H%M%SZ).pem" 2>/dev/null) || die "cannot make a JWT key"
}

# --- environment -------------------------------------------------------------
# The first platform operator's password: random per stack, made once and
# kept in $RUN_DIR/operator.password (mode 600), never a built-in default.
operator_password() {
    local f="$RUN_DIR/operator.password"
    if [[ ! -s "$f" ]]; then
        (umask 077; head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$f")
    fi
    cat "$f"
}

write_env() {
    local tmp="$ENV_FILE.tmp"
    {
        echo "# Written by deploy/local/stack.sh; source it to reach this stack."
        echo "export SERPHONA_BIND_ADDR=127.0.0.1"
        echo "export SERPHONA_PG_URL='postgresql://serphona_app:$SP_PG_APP_PASSWORD@127.0.0.1:$PG_PORT/serphona?connect_timeout=2'"
        echo "export SERPHONA_PG_MIGRATE_URL='postgresql://serphona_owner:$SP_PG_OWNER_PASSWORD@127.0.0.1:$PG_PORT/serphona?connect_timeout=2'"
        echo "export SERPHONA_REDIS_URL=redis://127.0.0.1:$REDIS_PORT"
        echo "export SERPHONA_CLICKHOUSE_URL=http://127.0.0.1:$CH_HTTP_PORT"
        echo "export SERPHONA_KAFKA_BROKERS='$(cat "$RUN_DIR/kafka.bootstrap")'"
        echo "export SERPHONA_KAFKA_TOPIC_PREFIX='$TOPIC_PREFIX'"
        echo "export SERPHONA_JWT_KEYS_DIR='$RUN_DIR/jwt'"
        for s in "${SERVICES[@]}"; do
            local u; u=$(upper "$s")
            echo "export SERPHONA_${u}_RPC=tcp://127.0.0.1:$(rpc_port "$s")"
            echo "export SP_${u}_OPS_PORT=$(ops_port "$s")"
        done
        echo "export SP_GATEWAY_HTTP_PORT=$GATEWAY_HTTP_PORT"
        echo "export SP_TOOLS_HTTP_PORT=$TOOLS_HTTP_PORT"
        echo "export SP_PG_PORT=$PG_PORT SP_REDIS_PORT=$REDIS_PORT SP_CH_HTTP_PORT=$CH_HTTP_PORT SP_CH_TCP_PORT=$CH_TCP_PORT SP_CH_INTERSERVER_PORT=$CH_INTERSERVER_PORT"
        echo "export SP_RUN_DIR='$RUN_DIR'"
        echo "export SERPHONA_OPERATOR_EMAIL='${SERPHONA_OPERATOR_EMAIL:-operator@serphona.local}'"
        echo "export SERPHONA_OPERATOR_PASSWORD='$(operator_password)'"
    } >"$tmp"
    mv "$tmp" "$ENV_FILE"
}

# --- services ----------------------------------------------------------------
stop_pid() {
    local name=$1 pidfile="$RUN_DIR/pids/$1.pid" pid
    [[ -f "$pidfile" ]] || return 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 150); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "$name did not stop within 15 s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$pidfile"
}

service_up() {
    local s=$1 u pidfile="$RUN_DIR/pids/$1.pid"
    u=$(upper "$s")
    if [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        return 0
    fi
    [[ -x "$BIN_DIR/$s" ]] || die "$BIN_DIR/$s is missing: run make"
    local http_port=""
    [[ $s == auth-gateway ]] && http_port=$GATEWAY_HTTP_PORT
    [[ $s == tools-gateway ]] && http_port=$TOOLS_HTTP_PORT
    (
        # shellcheck disable=SC1090
        source "$ENV_FILE"
        export SERPHONA_OPS_PORT=$(ops_port "$s")
        export SERPHONA_RPC_PORT=$(rpc_port "$s")
        [[ -n $http_port ]] && export SERPHONA_HTTP_PORT=$http_port
        exec setsid "$BIN_DIR/$s"
    ) >>"$RUN_DIR/logs/$s.log" 2>&1 &
    echo $! >"$pidfile"
}

wait_ready() {
    local s=$1 port deadline=$((SECONDS + ${SP_READY_TIMEOUT:-60}))
    port=$(ops_port "$s")
    while ((SECONDS < deadline)); do
        if [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health/ready")" == 200 ]]; then
            return 0
        fi
        kill -0 "$(cat "$RUN_DIR/pids/$s.pid")" 2>/dev/null || break
        sleep 0.2
    done
    log "$s is not ready; last lines of $RUN_DIR/logs/$s.log:"
    tail -n 30 "$RUN_DIR/logs/$s.log" >&2 || true
    return 1
}

services_up() {
    [[ -f "$ENV_FILE" ]] || die "no $ENV_FILE: run infra-up first"
    for s in "${SERVICES[@]}"; do service_up "$s"; done
    local ok=1
    for s in "${SERVICES[@]}"; do wait_ready "$s" || ok=0; done
    ((ok)) || die "some services did not become ready"
    log "services ready"
}

services_down() {
    local i
    for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do stop_pid "${SERVICES[i]}"; done
}

case "${1:-}" in
    up) infra_up; services_up ;;
    down) services_down; infra_down ;;
    infra-up) infra_up ;;
    infra-down) infra_down ;;
    services-up) services_up ;;
    services-down) services_down ;;
    env) cat "$ENV_FILE" ;;
    *) echo "usage: $0 up|down|infra-up|infra-down|services-up|services-down|env" >&2; exit 2 ;;
esac
