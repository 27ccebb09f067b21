#!/usr/bin/env bash
# deploy/local/redis.sh — a disposable local Redis on loopback.
#
#   SP_DATA_DIR=.run/redis SP_REDIS_PORT=6379 deploy/local/redis.sh start|stop|status
#
# Data, pid file and log live under SP_DATA_DIR. Persistence is off (no RDB, no
# AOF): this Redis holds rate limits, caches and idempotency keys, all of which
# are safe to lose on a restart of a development stack.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DATA_DIR="${SP_DATA_DIR:-$ROOT/.run/redis}"
PORT="${SP_REDIS_PORT:-6379}"
START_TIMEOUT="${SP_START_TIMEOUT:-30}"

DATA_DIR="$(realpath -m "$DATA_DIR")"
PIDFILE="$DATA_DIR/redis.pid"
LOGFILE="$DATA_DIR/redis.log"

log() { echo "redis.sh: $*" >&2; }

die() {
    log "error: $*"
    if [[ -f "$LOGFILE" ]]; then
        log "last lines of $LOGFILE:"
        tail -n 30 "$LOGFILE" >&2 || true
    fi
    exit 1
}

pid_alive() {
    [[ -f "$PIDFILE" ]] || return 1
    local pid
    pid="$(cat "$PIDFILE" 2>/dev/null || true)"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

answers() {
    [[ "$(redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null || true)" == "PONG" ]]
}

cmd_start() {
    if pid_alive; then
        if answers; then
            log "already running on 127.0.0.1:$PORT (pid $(cat "$PIDFILE"))"
            echo "redis://127.0.0.1:$PORT"
            return 0
        fi
        die "pid $(cat "$PIDFILE") is alive but 127.0.0.1:$PORT does not answer (running on another port?)"
    fi
    mkdir -p "$DATA_DIR"
    rm -f "$PIDFILE"
    redis-server --bind 127.0.0.1 --port "$PORT" --daemonize yes \
        --dir "$DATA_DIR" --pidfile "$PIDFILE" --logfile "$LOGFILE" \
        --save "" --appendonly no --protected-mode yes \
        || die "redis-server failed to start"
    local deadline=$((SECONDS + START_TIMEOUT))
    until answers; do
        if ((SECONDS >= deadline)); then
            die "redis did not answer on 127.0.0.1:$PORT within ${START_TIMEOUT}s"
        fi
        sleep 0.1
    done
    log "started on 127.0.0.1:$PORT (data $DATA_DIR)"
    echo "redis://127.0.0.1:$PORT"
}

cmd_stop() {
    if ! pid_alive; then
        log "not running"
        rm -f "$PIDFILE"
        return 0
    fi
    local pid
    pid="$(cat "$PIDFILE")"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + START_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            log "pid $pid ignored SIGTERM for ${START_TIMEOUT}s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.1
    done
    rm -f "$PIDFILE"
    log "stopped"
}

cmd_status() {
    if pid_alive && answers; then
        echo "redis: running on 127.0.0.1:$PORT (pid $(cat "$PIDFILE"))"
        return 0
    fi
    echo "redis: not running"
    return 3
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
*)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
