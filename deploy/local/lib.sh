# shellcheck shell=bash
# deploy/local/lib.sh — shared by postgres.sh, redis.sh and clickhouse.sh;
# sourced, not run:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" SERVICE
#
# SERVICE is the short name used in messages (postgres, redis, clickhouse).
# Sourcing sets SERVICE and ROOT (the checkout) and defines functions only.
# The sourcing script then sets, before calling anything here:
#   DIE_LOGS       array of log files whose last lines die() shows
#   START_TIMEOUT  seconds to wait for a start or a stop
#   PIDFILE        the server's pid file (pid_alive, stop_by_pidfile)
# and defines:
#   answers        succeeds when the server answers on its port
#   status_where   prints "ADDRESS (DETAIL)" for `status`
#   cmd_start, cmd_stop
# is_running defaults to pid_alive; a script may define its own.

SERVICE="$1"
# shellcheck disable=SC2034 # ROOT is for the sourcing script.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

log() { echo "$SERVICE.sh: $*" >&2; }

# Logs the error, shows the last lines of every non-empty file in DIE_LOGS
# and exits 1.
die() {
    log "error: $*"
    local f
    for f in "${DIE_LOGS[@]}"; do
        if [[ -s "$f" ]]; then
            log "last lines of $f:"
            tail -n 30 "$f" >&2 || true
        fi
    done
    exit 1
}

# Succeeds when PIDFILE names a live process.
pid_alive() {
    [[ -f "$PIDFILE" ]] || return 1
    local pid
    pid="$(cat "$PIDFILE" 2>/dev/null || true)"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

is_running() { pid_alive; }

# wait_for_answer TIMEOUT INTERVAL MESSAGE [HOOK]: polls `answers` every
# INTERVAL seconds; after TIMEOUT seconds without an answer, dies with
# MESSAGE. HOOK, when given, runs after each unanswered poll that is still in
# time (to notice a server that died during start-up) and may die itself.
wait_for_answer() {
    local deadline=$((SECONDS + $1)) interval="$2" message="$3" hook="${4:-}"
    until answers; do
        ((SECONDS < deadline)) || die "$message"
        if [[ -n "$hook" ]]; then
            "$hook"
        fi
        sleep "$interval"
    done
}

# stop_by_pidfile INTERVAL: SIGTERM to the pid in PIDFILE, polled every
# INTERVAL seconds; SIGKILL when it outlives START_TIMEOUT. Removes PIDFILE.
stop_by_pidfile() {
    local interval="$1"
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
        sleep "$interval"
    done
    rm -f "$PIDFILE"
    log "stopped"
}

# Exit status 0 and "SERVICE: running on ..." when the server runs and
# answers; 3 (LSB "not running") otherwise.
cmd_status() {
    if is_running && answers; then
        echo "$SERVICE: running on $(status_where)"
        return 0
    fi
    echo "$SERVICE: not running"
    return 3
}

# The command line shared by the three scripts: start|stop|status.
main() {
    case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *)
        echo "usage: $0 start|stop|status" >&2
        exit 2
        ;;
    esac
}
