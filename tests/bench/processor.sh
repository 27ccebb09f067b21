#!/usr/bin/env bash
# tests/bench/processor.sh — analytics-processor throughput (interactions/s
# and utterances/s) beside its limit measured in the same run: the same
# events piped from Kafka into ClickHouse with no analysis (kafka_to_ch).
#
# Both read one pre-produced topic with their own consumer group, use the
# platform's batch consumer with the same batch size and flush time, and
# write the same schema (materialized views included) into databases of
# their own; both are timed the same way, from the first rows seen in
# ClickHouse to the last. Called by tests/bench/run.sh; runs alone too:
#   BENCH_PROCESSOR_N=40000 tests/bench/processor.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${SP_BUILD:-$ROOT/build}"
N="${BENCH_PROCESSOR_N:-40000}"
BATCH="${BENCH_PROCESSOR_BATCH:-500}"
FLUSH_MS=1000
cd "$ROOT"

RUN_DIR=$(mktemp -d /tmp/serphona-pbench-XXXXXX)
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
# The dev broker (librdkafka's mock cluster) keeps about 5 MB per partition
# and drops older records even when unconsumed: 32 partitions hold the
# whole pre-produced stream.
export SP_RUN_DIR="$RUN_DIR" SP_PORT_BASE="$BASE" SP_TOPIC_PREFIX="pbench$BASE." \
    SERPHONA_DEV_BROKER_PARTITIONS=32 SERPHONA_LOG_LEVEL=warn
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    "$ROOT/deploy/local/stack.sh" infra-down >/dev/null 2>&1 || true
    rm -rf "$RUN_DIR"
}
trap cleanup EXIT
"$ROOT/deploy/local/stack.sh" infra-up >/dev/null 2>&1 || { echo "infrastructure did not start"; exit 1; }
# shellcheck disable=SC1091
source "$RUN_DIR/stack.env"
TOPIC="${SP_TOPIC_PREFIX}serphona.interactions.v1"
CH="$SERPHONA_CLICKHOUSE_URL"

/usr/bin/python3 "$ROOT/tests/bench/gen_interactions.py" "$N" --seed 42 >"$RUN_DIR/events.jsonl"
UTTERANCES=$(/usr/bin/python3 -c '
import json, sys
print(sum(len(json.loads(l).get("utterances", [])) for l in open(sys.argv[1])))' "$RUN_DIR/events.jsonl")
"$BUILD/bin/serphona-cli" produce-interactions "$SERPHONA_KAFKA_BROKERS" "$TOPIC" \
    "$RUN_DIR/events.jsonl" >/dev/null

# measure DATABASE -> "seconds" from the first rows seen to all N stored.
measure() {
    /usr/bin/python3 - "$CH" "$1" "$N" <<'PY'
import sys, time, urllib.request
url, db, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def count():
    try:
        req = urllib.request.Request(f"{url}/?database={db}",
                                     data=b"SELECT count() FROM interactions")
        return int(urllib.request.urlopen(req, timeout=10).read())
    except Exception:
        return 0
deadline = time.monotonic() + 900
first = None
while time.monotonic() < deadline:
    c = count()
    now = time.monotonic()
    if c > 0 and first is None:
        first = (now, c)
    if c >= n:
        t0, c0 = first
        # Rows from the first observation on, over the time they took; a
        # run that finished between two polls counts one poll interval.
        print((n - c0) / max(now - t0, 0.05) if c0 < n else n / 0.05)
        sys.exit(0)
    time.sleep(0.05)
sys.exit("timed out with %d of %d rows" % (count(), n))
PY
}

"$BUILD/bench/kafka_to_ch" "$SERPHONA_KAFKA_BROKERS" "$TOPIC" bench-raw "$CH" bench_raw "$BATCH" \
    "$FLUSH_MS" 2>>"$RUN_DIR/raw.log" &
PIDS+=($!)
RAW_RATE=$(measure bench_raw)

SERPHONA_CLICKHOUSE_DATABASE=bench_proc SERPHONA_OPS_PORT=$((BASE + 36)) \
    SERPHONA_RPC_PORT=$((BASE + 26)) SERPHONA_PROCESSOR_BATCH_SIZE="$BATCH" \
    SERPHONA_PROCESSOR_FLUSH_MS="$FLUSH_MS" SERPHONA_RETENTION_INTERVAL_S=0 \
    "$BUILD/bin/analytics-processor" 2>>"$RUN_DIR/processor.log" &
PIDS+=($!)
PROC_RATE=$(measure bench_proc)

/usr/bin/python3 - "$N" "$UTTERANCES" "$RAW_RATE" "$PROC_RATE" "$BATCH" <<'PY'
import sys
n, utts, raw, proc, batch = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), \
    float(sys.argv[4]), sys.argv[5]
per = utts / n
print(f"  {n} interactions, {utts} utterances ({per:.1f} per interaction), batches of {batch}")
print(f"  Kafka -> ClickHouse, no analysis:    {raw:9.0f} interactions/s  {raw * per:9.0f} utterances/s")
print(f"  analytics-processor (NLP, dedupe,")
print(f"    events out, acks awaited):         {proc:9.0f} interactions/s  {proc * per:9.0f} utterances/s")
print(f"  ratio processor/no-analysis: {proc / raw:.2f}")
PY
