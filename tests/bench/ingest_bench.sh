#!/usr/bin/env bash
# tests/bench/ingest_bench.sh — ingestion API throughput, beside its limit.
#
# Measured on a private stack (its own ports and topic prefix), in one run:
#   1. the API: wrk posts batches of BENCH_INGEST_BATCH (100) call
#      interactions (4 timestamped utterances each, unique external ids) to
#      POST /v1/ingest/interactions on the tools-gateway's public port with a
#      partner API key; every 202 means Kafka acknowledged the whole batch
#      (acks=all). Figure: interactions accepted per second (from the
#      service's own serphona_ingest_interactions_total{result="accepted"}),
#      and the batch latency p50/p99;
#   2. the limit: the same kind of interactions produced straight to the
#      same topic by one client (serphona-cli produce-interactions: JSON in,
#      protobuf + envelope out, acks=all, all in flight at once) — no HTTP,
#      no auth, no validation, no dedup ledger.
# Prints both and the ratio. The analytics-processor is stopped while this
# runs. Figures vary with the machine, ratios less.
# Knobs: BENCH_DURATION (10 s), BENCH_INGEST_CONNECTIONS (16),
# BENCH_INGEST_BATCH (100).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${SP_BUILD:-$ROOT/build}"
DURATION="${BENCH_DURATION:-10}"
CONNS="${BENCH_INGEST_CONNECTIONS:-16}"
BATCH="${BENCH_INGEST_BATCH:-100}"

echo "== Ingestion API: interactions accepted/s (batches of $BATCH, wrk ${DURATION}s, $CONNS connections) vs direct Kafka produce"
RUN_DIR=$(mktemp -d /tmp/serphona-ingest-bench-XXXXXX)
BASE=$(/usr/bin/python3 -c '
import random, socket
for _ in range(500):
    b = random.randrange(56000, 60000, 50); ok = True
    for p in range(b, b + 40):
        s = socket.socket()
        try: s.bind(("127.0.0.1", p))
        except OSError: ok = False
        finally: s.close()
        if not ok: break
    if ok: print(b); break')
export SP_RUN_DIR="$RUN_DIR" SP_PORT_BASE="$BASE" SP_TOPIC_PREFIX="ibench$BASE." \
    SP_BIN_DIR="$BUILD/bin" SERPHONA_LOG_LEVEL=warn
cleanup() {
    "$ROOT/deploy/local/stack.sh" down >/dev/null 2>&1 || true
    rm -rf "$RUN_DIR"
}
trap cleanup EXIT
"$ROOT/deploy/local/stack.sh" up >/dev/null 2>&1 || { echo "  stack did not start"; exit 1; }
# shellcheck disable=SC1091
source "$RUN_DIR/stack.env"
TOOLS="http://127.0.0.1:$SP_TOOLS_HTTP_PORT"
# The analysis would share the CPU with what is measured here (and lag
# behind anyway): stop it, so the figures are the ingestion path's.
kill -TERM "$(cat "$RUN_DIR/pids/analytics-processor.pid")" 2>/dev/null || true
METRICS="http://127.0.0.1:$SP_TOOLS_GATEWAY_OPS_PORT/metrics"

# A tenant and its partner API key, made through the public API.
KEY=$(/usr/bin/python3 - "http://127.0.0.1:$SP_GATEWAY_HTTP_PORT" <<'PY'
import os, sys, uuid, requests
gw = sys.argv[1]
pw = "Bench-Passphrase-" + uuid.uuid4().hex[:8]
def ok(resp, status):
    if resp.status_code != status:
        sys.exit("ingest bench setup: %s %s" % (resp.status_code, resp.text))
    return resp.json()
op = ok(requests.post(gw + "/v1/auth/login", json={"email": os.environ["SERPHONA_OPERATOR_EMAIL"],
        "password": os.environ["SERPHONA_OPERATOR_PASSWORD"]}, timeout=30), 200)["access_token"]
slug = "ibench-" + uuid.uuid4().hex[:8]
t = ok(requests.post(gw + "/v1/tenants", headers={"Authorization": "Bearer " + op}, timeout=30,
       json={"slug": slug, "name": "Ingest bench", "owner_email": "owner@%s.test" % slug}), 201)
ok(requests.post(gw + "/v1/users/invites/accept", timeout=30,
   json={"token": t["owner_invite"]["token"], "password": pw}), 201)
tok = ok(requests.post(gw + "/v1/auth/login", timeout=30, json={"tenant": slug,
         "email": "owner@%s.test" % slug, "password": pw}), 200)["access_token"]
print(ok(requests.post(gw + "/v1/api-keys", headers={"Authorization": "Bearer " + tok},
         json={"name": "bench", "scopes": ["ingest:write"]}, timeout=30), 201)["key"])
PY
) || { echo "  bench setup failed"; exit 1; }

# The wrk script: each request a batch of BATCH call interactions with ids
# unique per run, thread and request, so every one is accepted, none a
# duplicate.
cat >"$RUN_DIR/ingest.lua" <<LUA
local batch = $BATCH
local nonce = "$BASE-" .. os.time()
local item = '{"external_id":"b-%s-%d-%d-%d","channel":"call","occurred_at":"2024-05-01T10:00:00Z",'
  .. '"language":"en","agent":{"id":"ag-1","name":"Emma"},"customer_ref":"cust-1",'
  .. '"utterances":[{"speaker":"agent","text":"Hello, how can I help you today?","start_ms":0,"end_ms":2100},'
  .. '{"speaker":"customer","text":"I was charged twice for my order this month.","start_ms":1900,"end_ms":4800},'
  .. '{"speaker":"agent","text":"Let me check that for you, one moment please.","start_ms":5200,"end_ms":7300},'
  .. '{"speaker":"customer","text":"Thanks, that fixed it!","start_ms":12000,"end_ms":13500}]}'
local n_threads = 0
function setup(thread)
  n_threads = n_threads + 1
  thread:set("tid", n_threads)
end
function init(args)
  counter = 0
end
function request()
  counter = counter + 1
  local parts = {}
  for j = 1, batch do
    parts[j] = string.format(item, nonce, tid, counter, j)
  end
  return wrk.format("POST", "/v1/ingest/interactions", nil, "[" .. table.concat(parts, ",") .. "]")
end
LUA

accepted() {
    curl -fs "$METRICS" | awk -F' ' '/^serphona_ingest_interactions_total\{result="accepted"\}/ {print $2}' \
        | head -n 1 | awk '{print ($1 == "" ? 0 : $1)}'
}
wrk_ingest() { # seconds -> wrk output
    wrk -t2 -c"$CONNS" -d"${1}s" --latency -s "$RUN_DIR/ingest.lua" \
        -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" "$TOOLS"
}
wrk_ingest 3 >/dev/null # warm-up
A0=$(accepted)
T0=$(date +%s.%N)
OUT=$(wrk_ingest "$DURATION")
T1=$(date +%s.%N)
A1=$(accepted)
read -r API_RATE P50 P99 NON2XX < <(/usr/bin/python3 - "$A0" "$A1" "$T0" "$T1" "$OUT" <<'PY'
import re, sys
a0, a1, t0, t1, text = float(sys.argv[1] or 0), float(sys.argv[2] or 0), float(sys.argv[3]), \
    float(sys.argv[4]), sys.argv[5]
def ms(v):
    n, unit = re.match(r"([\d.]+)(us|ms|s)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
p50 = ms(re.search(r"\s50%\s+(\S+)", text).group(1))
p99 = ms(re.search(r"\s99%\s+(\S+)", text).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
print((a1 - a0) / (t1 - t0), p50, p99, non2xx.group(1) if non2xx else 0)
PY
)

# The limit: as many interactions straight to Kafka, same topic, acks=all.
N_DIRECT=$(/usr/bin/python3 -c "print(max(20000, min(200000, int($API_RATE * $DURATION))))")
/usr/bin/python3 - "$N_DIRECT" >"$RUN_DIR/direct.jsonl" <<'PY'
import json, sys, uuid
tenant = str(uuid.uuid4())
texts = [("agent", "Hello, how can I help you today?", 0, 2100),
         ("customer", "I was charged twice for my order this month.", 1900, 4800),
         ("agent", "Let me check that for you, one moment please.", 5200, 7300),
         ("customer", "Thanks, that fixed it!", 12000, 13500)]
for n in range(int(sys.argv[1])):
    print(json.dumps({"interaction_id": str(uuid.uuid4()), "tenant_id": tenant,
        "external_id": "d-%d" % n, "channel": "call", "occurred_at_unix_ms": 1714557600000,
        "language": "en", "agent_id": "ag-1", "agent_name": "Emma", "customer_ref": "cust-1",
        "source": "api", "utterances": [{"speaker": s, "text": t, "start_ms": a, "end_ms": b}
                                        for s, t, a, b in texts]}))
PY
D0=$(date +%s.%N)
DIRECT=$("$BUILD/bin/serphona-cli" produce-interactions "$SERPHONA_KAFKA_BROKERS" \
    "${SP_TOPIC_PREFIX}serphona.interactions.v1" "$RUN_DIR/direct.jsonl")
D1=$(date +%s.%N)
DIRECT_RATE=$(/usr/bin/python3 -c "
import json; d = json.loads('''$DIRECT''')
assert d['failed'] == 0 and d['bad_lines'] == 0, d
print(d['produced'] / ($D1 - $D0))")

printf '  direct Kafka produce (acks=all):  %9.0f interactions/s  (%d events, one client)\n' "$DIRECT_RATE" "$N_DIRECT"
printf '  ingestion API accepted:           %9.0f interactions/s  batch p50 %6.2f ms  p99 %6.2f ms  non-2xx %s\n' \
    "$API_RATE" "$P50" "$P99" "$NON2XX"
/usr/bin/python3 -c "print('  ratio API/direct: %.2f' % ($API_RATE / $DIRECT_RATE))"
