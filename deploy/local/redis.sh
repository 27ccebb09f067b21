#!/usr/bin/env bash
# deploy/local/redis.sh — a disposable local Redis on loopback.
#
#   SP_DATA_DIR=.run/redis SP_REDIS_PORT=6379 deploy/local/redis.sh start|stop|status
#
# Data, pid file and log live under SP_DATA_DIR. Persistence is off (no RDB, no
# AOF): this Redis holds rate limits, caches and idempotency keys, all of which
# are safe to lose on a restart of a development stack.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" redis # sets SERVICE and ROOT
DATA_DIR="${SP_DATA_DIR:-$ROOT/.run/redis}"
PORT="${SP_REDIS_PORT:-6379}"
START_TIMEOUT="${SP_START_TIMEOUT:-30}"

DATA_DIR="$(realpath -m "$DATA_DIR")"
PIDFILE="$DATA_DIR/redis.pid"
LOGFILE="$DATA_DIR/redis.log"

DIE_LOGS=("$LOGFILE")

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
    wait_for_answer "$START_TIMEOUT" 0.1 "redis did not answer on 127.0.0.1:$PORT within ${START_TIMEOUT}s"
    log "started on 127.0.0.1:$PORT (data $DATA_DIR)"
    echo "redis://127.0.0.1:$PORT"
}

cmd_stop() { stop_by_pidfile 0.1; }

status_where() { echo "127.0.0.1:$PORT (pid $(cat "$PIDFILE"))"; }

main "$@"
