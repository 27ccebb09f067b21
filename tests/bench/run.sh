#!/usr/bin/env bash
# tests/bench/run.sh — what `make bench` runs. Each benchmark measures the
# platform and a bare baseline in the same run and prints both and the ratio;
# figures vary with the machine, ratios much less.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${SP_BUILD:-$ROOT/build}"
DURATION="${BENCH_DURATION:-10}"
CONNS="${BENCH_CONNECTIONS:-32}"

echo "== 1. RPC round trip"
"$BUILD/bench/rpc_bench" "${BENCH_RPC_CALLS:-20000}"

echo
echo "== 2. HTTP: gateway GET forwarded over ZeroMQ vs bare libmicrohttpd (wrk, ${DURATION}s, $CONNS connections; services log at warn)"
RUN_DIR=$(mktemp -d /tmp/serphona-bench-XXXXXX)
BASE=$(/usr/bin/python3 -c '
import random, socket
for _ in range(500):
    b = random.randrange(44000, 56000, 50); ok = True
    for p in range(b, b + 40):
        s = socket.socket()
        try: s.bind(("127.0.0.1", p))
        except OSError: ok = False
        finally: s.close()
        if not ok: break
    if ok: print(b); break')
export SP_RUN_DIR="$RUN_DIR" SP_PORT_BASE="$BASE" SP_TOPIC_PREFIX="bench$BASE." SERPHONA_LOG_LEVEL=warn
HELLO_PORT=$((BASE + 39))
cleanup() {
    [[ -n "${HELLO_PID:-}" ]] && kill "$HELLO_PID" 2>/dev/null || true
    "$ROOT/deploy/local/stack.sh" down >/dev/null 2>&1 || true
    rm -rf "$RUN_DIR"
}
trap cleanup EXIT
"$ROOT/deploy/local/stack.sh" up >/dev/null 2>&1 || { echo "stack did not start"; exit 1; }
# shellcheck disable=SC1091
source "$RUN_DIR/stack.env"
"$BUILD/bench/http_hello" "$HELLO_PORT" 4 &
HELLO_PID=$!
sleep 0.5

# run_wrk URL -> "rps p50_ms p99_ms"
run_wrk() {
    wrk -t2 -c"$CONNS" -d3s "$1" >/dev/null 2>&1 # warm-up
    wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency "$1" | /usr/bin/python3 -c '
import re, sys
text = sys.stdin.read()
def ms(v):
    n, unit = re.match(r"([\d.]+)(us|ms|s)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
p50 = ms(re.search(r"\s50%\s+(\S+)", text).group(1))
p99 = ms(re.search(r"\s99%\s+(\S+)", text).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
if errors:
    sys.exit("wrk saw %s non-2xx responses" % errors.group(1))
print(rps, p50, p99)'
}
read -r GW_RPS GW_P50 GW_P99 < <(run_wrk "http://127.0.0.1:$SP_GATEWAY_HTTP_PORT/v1/system/billing")
read -r BARE_RPS BARE_P50 BARE_P99 < <(run_wrk "http://127.0.0.1:$HELLO_PORT/")
printf '  bare libmicrohttpd hello:        %9.0f req/s  p50 %6.2f ms  p99 %6.2f ms\n' "$BARE_RPS" "$BARE_P50" "$BARE_P99"
printf '  gateway -> ZeroMQ -> billing:    %9.0f req/s  p50 %6.2f ms  p99 %6.2f ms\n' "$GW_RPS" "$GW_P50" "$GW_P99"
/usr/bin/python3 -c "print('  ratio gateway/bare throughput: %.2f' % ($GW_RPS / $BARE_RPS))"
