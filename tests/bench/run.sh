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

# run_wrk URL [wrk options...] -> "rps p50_ms p99_ms"
run_wrk() {
    local url=$1
    shift
    wrk -t2 -c"$CONNS" -d3s "$@" "$url" >/dev/null 2>&1 # warm-up
    wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency "$@" "$url" | /usr/bin/python3 -c '
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

echo
echo "== 3. Authentication: authenticated GET (JWT verify + session/principal check + rate limits + ZeroMQ hop) vs the same route with authentication off (wrk, ${DURATION}s, $CONNS connections)"
# The same route, the same back service, the same run: once through the
# stack's gateway with a tenant user's access token, once through a second
# gateway started with SERPHONA_AUTH_DISABLED=1 (benchmarks only; refused
# without SERPHONA_ALLOW_INSECURE=1), which forwards without any check. The
# bench tenant's plan allows 2^31-1 requests a minute, so the limits are
# computed on every request (two Redis calls) but never refuse.
NOAUTH_HTTP_PORT=$((BASE + 12))
(
    export SERPHONA_AUTH_DISABLED=1 SERPHONA_ALLOW_INSECURE=1
    export SERPHONA_HTTP_PORT=$NOAUTH_HTTP_PORT SERPHONA_OPS_PORT=$((BASE + 38))
    exec "${SP_BIN_DIR:-$BUILD/bin}/auth-gateway"
) >>"$RUN_DIR/logs/auth-gateway-noauth.log" 2>&1 &
NOAUTH_PID=$!
trap 'kill "$NOAUTH_PID" 2>/dev/null || true; cleanup' EXIT
TOKEN=$(cd "$ROOT" && /usr/bin/python3 - "http://127.0.0.1:$SP_GATEWAY_HTTP_PORT" <<'PY'
import os, sys, uuid, requests
gw = sys.argv[1]
pw = "Bench-Passphrase-" + uuid.uuid4().hex[:8]
def ok(resp, status):
    if resp.status_code != status:
        sys.exit("bench setup: %s %s" % (resp.status_code, resp.text))
    return resp.json()
op = ok(requests.post(gw + "/v1/auth/login", json={"email": os.environ["SERPHONA_OPERATOR_EMAIL"],
        "password": os.environ["SERPHONA_OPERATOR_PASSWORD"]}, timeout=30), 200)["access_token"]
auth = {"Authorization": "Bearer " + op}
slug = "bench-" + uuid.uuid4().hex[:8]
t = ok(requests.post(gw + "/v1/tenants", headers=auth, timeout=30,
       json={"slug": slug, "name": "Bench", "owner_email": "owner@%s.test" % slug}), 201)
big = 2147483647
ok(requests.put(gw + "/v1/tenants/%s/plan" % t["tenant"]["id"], headers=auth, timeout=30,
   json={"plan": "enterprise", "limit_overrides": {"user_requests_per_minute": big,
                                                   "tenant_requests_per_minute": big}}), 200)
ok(requests.post(gw + "/v1/users/invites/accept", timeout=30,
   json={"token": t["owner_invite"]["token"], "password": pw}), 201)
print(ok(requests.post(gw + "/v1/auth/login", timeout=30, json={"tenant": slug,
         "email": "owner@%s.test" % slug, "password": pw}), 200)["access_token"])
PY
) || { echo "bench setup failed"; exit 1; }
for _ in $(seq 1 50); do
    curl -fs -o /dev/null "http://127.0.0.1:$NOAUTH_HTTP_PORT/v1/system/billing" && break
    sleep 0.2
done
ROUTE=/v1/system/billing
read -r OFF_RPS OFF_P50 OFF_P99 < <(run_wrk "http://127.0.0.1:$NOAUTH_HTTP_PORT$ROUTE")
read -r ON_RPS ON_P50 ON_P99 < <(run_wrk "http://127.0.0.1:$SP_GATEWAY_HTTP_PORT$ROUTE" \
    -H "Authorization: Bearer $TOKEN")
printf '  authentication off:              %9.0f req/s  p50 %6.2f ms  p99 %6.2f ms\n' "$OFF_RPS" "$OFF_P50" "$OFF_P99"
printf '  authenticated (JWT + limits):    %9.0f req/s  p50 %6.2f ms  p99 %6.2f ms\n' "$ON_RPS" "$ON_P50" "$ON_P99"
/usr/bin/python3 -c "r = $ON_RPS / $OFF_RPS; print('  ratio authenticated/off throughput: %.2f (target > 0.85; Kong keeps ~0.76 with key-auth + rate limiting)' % r)"

# --- analytics-processor (tests/bench/processor.sh: its own infrastructure) ---
echo
echo "== 4. Processor: Kafka -> NLP -> ClickHouse (1 and N analysis threads) vs the same events piped with no analysis; one tenant end to end through the API"
"$ROOT/tests/bench/processor.sh"

# --- ingestion API (tests/bench/ingest_bench.sh: its own stack) ---
echo
"$ROOT/tests/bench/ingest_bench.sh"

# ---- analytics-query: overview latency vs the raw ClickHouse query --------------------------
# tests/bench/query_bench.sh starts its own stack; QB_ROWS picks the sizes (default 1M and 10M).
echo
echo "== Analytics query: overview latency at ${QB_ROWS:-1000000 10000000} synthetic interactions vs the raw ClickHouse query"
"$ROOT/tests/bench/query_bench.sh"
