#!/usr/bin/env bash
# tests/bench/processor.sh — analytics-processor throughput beside its limit,
# and one tenant end to end, all in one run on one private stack.
#
# The whole stack runs (the processor asks tenant-manager for each tenant's
# taxonomy: a bench without it measures RPC timeouts, not the processor).
#   1. Kafka -> ClickHouse with no analysis (kafka_to_ch): the limit, best
#      of 2 runs.
#   2. analytics-processor with 1 analysis thread and with one per CPU
#      (SERPHONA_PROCESSOR_THREADS; "0 threads" in its lines), two rounds in
#      opposite order, each run on its own copy of the same pre-produced
#      events, its own consumer group and database. Rates are timed from the
#      first rows seen in ClickHouse to the last.
#   3. One tenant end to end (tests/bench/e2e_ingest.py): interactions posted
#      through the public ingestion API until all are visible in the
#      tenant's overview, beside the same interactions produced straight to
#      Kafka; peak RSS of tools-gateway and analytics-processor (/proc).
# Any phase whose count stops growing for BENCH_STALL_S (60) seconds fails
# the bench at once, printing the rows stored, the consumer lag and the
# processor's metrics.
# Knobs: BENCH_PROCESSOR_N (20000), BENCH_E2E_N (10000; straight to Kafka at
# most 3000, see below),
# BENCH_PROCESSOR_BATCH (500). Runs alone too: tests/bench/processor.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${SP_BUILD:-$ROOT/build}"
N="${BENCH_PROCESSOR_N:-20000}"
E2E_N="${BENCH_E2E_N:-10000}"
BATCH="${BENCH_PROCESSOR_BATCH:-500}"
STALL_S="${BENCH_STALL_S:-60}"
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
export SP_RUN_DIR="$RUN_DIR" RUN_DIR SP_PORT_BASE="$BASE" SP_TOPIC_PREFIX="pbench$BASE." \
    SP_BIN_DIR="${SP_BIN_DIR:-$BUILD/bin}" SERPHONA_DEV_BROKER_PARTITIONS=32 \
    SERPHONA_LOG_LEVEL=warn BENCH_STALL_S="$STALL_S"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    "$ROOT/deploy/local/stack.sh" down >/dev/null 2>&1 || true
    rm -rf "$RUN_DIR"
}
trap cleanup EXIT
"$ROOT/deploy/local/stack.sh" up >/dev/null 2>&1 || { echo "  stack did not start"; exit 1; }
# shellcheck disable=SC1091
source "$RUN_DIR/stack.env"
CH="$SERPHONA_CLICKHOUSE_URL"

/usr/bin/python3 "$ROOT/tests/bench/gen_interactions.py" "$N" --seed 42 >"$RUN_DIR/events.jsonl"
UTTERANCES=$(/usr/bin/python3 -c '
import json, sys
print(sum(len(json.loads(l).get("utterances", [])) for l in open(sys.argv[1])))' "$RUN_DIR/events.jsonl")
# One copy per consumer, each under a prefix of its own (the processor's
# consumer group is named after its topic prefix), on a second dev broker
# of the bench's own: the stack's creates 32 partitions only for its own
# prefix, and auto-creates others with 4, too few for the stream to stay
# under its ~5 MB per partition.
"$SP_BIN_DIR/serphona-dev-broker" --bootstrap-file "$RUN_DIR/bench-broker" --no-default-topics \
    --topic "pb1$BASE.serphona.interactions.v1:32" --topic "pbn$BASE.serphona.interactions.v1:32" \
    --topic "pb1b$BASE.serphona.interactions.v1:32" --topic "pbnb$BASE.serphona.interactions.v1:32" \
    >>"$RUN_DIR/bench-broker.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do [[ -s "$RUN_DIR/bench-broker" ]] && break; sleep 0.1; done
BENCH_BROKERS=$(cat "$RUN_DIR/bench-broker")
for copy in 1 n 1b nb; do
    "$BUILD/bin/serphona-cli" produce-interactions "$BENCH_BROKERS" \
        "pb$copy$BASE.serphona.interactions.v1" "$RUN_DIR/events.jsonl" >/dev/null
done

# measure DATABASE OPS_PORT LOG PID -> interactions/s from the first rows
# seen to all N stored; fails after STALL_S seconds without a new row, or as
# soon as PID is gone.
measure() {
    /usr/bin/python3 - "$CH" "$1" "$N" "$STALL_S" "$2" "$3" "$4" <<'PY'
import os, sys, time, urllib.request
url, db, n, stall, ops, log, pid = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
    float(sys.argv[4]), sys.argv[5], sys.argv[6], int(sys.argv[7])
def count():
    try:
        req = urllib.request.Request(f"{url}/?database={db}",
                                     data=b"SELECT count() FROM interactions")
        return int(urllib.request.urlopen(req, timeout=10).read())
    except Exception:
        return 0
def metrics():
    if ops == "-":
        return []
    keep = ("serphona_processor_interactions_total", "serphona_processor_flush_failures_total",
            "serphona_events_consumer_lag", "serphona_events_consumed_total",
            "serphona_processor_analysis_seconds_sum", "serphona_processor_analysis_seconds_count",
            "serphona_events_lost_total", "serphona_rpc_client")
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{ops}/metrics", timeout=5).read().decode()
    except Exception as e:
        return [f"(metrics unreachable: {e})"]
    return [l for l in text.splitlines() if l.startswith(keep)]
first, seen, changed = None, -1, time.monotonic()
while True:
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
    gone = not os.path.exists(f"/proc/{pid}")
    if c != seen:
        seen, changed = c, now
    if gone or now - changed > stall:
        why = "it exited" if gone else f"no progress for {stall:.0f} s"
        lines = [f"{why} in {db}: {c} of {n} rows stored"] + metrics()
        try:
            lines += ["last lines of the log:"] + open(log).read().splitlines()[-15:]
        except OSError:
            pass
        sys.exit("\n    ".join(lines))
    time.sleep(0.05)
PY
}

# run_raw ROUND -> interactions/s of the no-analysis pipe (its own group and
# database per round; best of 2, as for the processor below).
run_raw() {
    local rate
    "$BUILD/bench/kafka_to_ch" "$BENCH_BROKERS" "pb1$BASE.serphona.interactions.v1" \
        "pb-raw$1$BASE" "$CH" "bench_raw$1" "$BATCH" "$FLUSH_MS" 2>>"$RUN_DIR/raw.log" &
    local pid=$!
    PIDS+=("$pid")
    rate=$(measure "bench_raw$1" - "$RUN_DIR/raw.log" "$pid") || { echo "  FAILED (no-analysis pipe, above)" >&2; return 1; }
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    echo "$rate"
}
RAW_A=$(run_raw a) || exit 1
RAW_B=$(run_raw b) || exit 1
RAW_RATE=$(/usr/bin/python3 -c "print(max($RAW_A, $RAW_B))")
CPUS=$(nproc)
PER=$(/usr/bin/python3 -c "print($UTTERANCES / $N)")
# figure LABEL RATE: one line, interactions/s and utterances/s.
figure() {
    /usr/bin/python3 -c "import sys; r = float(sys.argv[2]); print('  %-38s %9.0f interactions/s  %9.0f utterances/s' % (sys.argv[1], r, r * $PER))" "$1" "$2"
}
ratio() { /usr/bin/python3 -c "print('%.2f' % ($1 / $2))"; }
printf '  %d interactions, %d utterances (%.1f per interaction), batches of %s, %s CPUs\n' \
    "$N" "$UTTERANCES" "$PER" "$BATCH" "$CPUS"
figure "Kafka -> ClickHouse, no analysis:" "$RAW_RATE"
printf '      (rounds: %.0f, %.0f interactions/s)\n' "$RAW_A" "$RAW_B"

# run_processor COPY THREADS -> interactions/s of a processor of its own.
run_processor() {
    local ops rpc log="$RUN_DIR/processor-$1.log" rate
    # Ports free now (the machine is shared: one free at the start may not be).
    read -r ops rpc < <(/usr/bin/python3 -c '
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
    SERPHONA_KAFKA_BROKERS="$BENCH_BROKERS" SERPHONA_KAFKA_TOPIC_PREFIX="pb$1$BASE." \
        SERPHONA_CLICKHOUSE_DATABASE="bench_proc_$1" \
        SERPHONA_OPS_PORT=$ops SERPHONA_RPC_PORT=$rpc \
        SERPHONA_PROCESSOR_BATCH_SIZE="$BATCH" SERPHONA_PROCESSOR_FLUSH_MS="$FLUSH_MS" \
        SERPHONA_PROCESSOR_THREADS="$2" SERPHONA_RETENTION_INTERVAL_S=0 \
        "$BUILD/bin/analytics-processor" 2>>"$log" &
    local pid=$!
    PIDS+=("$pid")
    rate=$(measure "bench_proc_$1" "$ops" "$log" "$pid") || { echo "  FAILED (processor, $2 threads; above)" >&2; return 1; }
    # Where the time went, from the processor's own histograms (stderr).
    curl -fs "http://127.0.0.1:$ops/metrics" | /usr/bin/python3 -c '
import re, sys
m = {k: float(v) for k, v in re.findall(r"^(serphona_processor_\w+_(?:sum|count)) (\S+)$", sys.stdin.read(), re.M)}
g = lambda k: m.get("serphona_processor_" + k, 0.0)
print("      (%s threads: %d flushes: %.1f s in all, of which INSERTs %.1f s; analysis %.1f s of CPU, %.2f ms each)"
      % (sys.argv[1], g("flush_seconds_count"), g("flush_seconds_sum"), g("batch_seconds_sum"),
         g("analysis_seconds_sum"), 1000 * g("analysis_seconds_sum") / max(g("analysis_seconds_count"), 1)))' "$2" >&2 || true
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    echo "$rate"
}
# Two rounds in opposite order (1, N, then N, 1): on a shared machine
# ClickHouse's background merges of the earlier runs slow the later ones,
# and the best of each setting is what it can do.
echo "  analytics-processor (NLP, dedupe, events out, acks awaited), best of 2 rounds:"
P1A=$(run_processor 1 1) || exit 1
PNA=$(run_processor n 0) || exit 1
PNB=$(run_processor nb 0) || exit 1
P1B=$(run_processor 1b 1) || exit 1
P1_RATE=$(/usr/bin/python3 -c "print(max($P1A, $P1B))")
PN_RATE=$(/usr/bin/python3 -c "print(max($PNA, $PNB))")
figure "  1 analysis thread:" "$P1_RATE"
figure "  $CPUS analysis threads:" "$PN_RATE"
printf '      (rounds: 1 thread %.0f, %.0f; %s threads %.0f, %.0f interactions/s)\n' \
    "$P1A" "$P1B" "$CPUS" "$PNA" "$PNB"
echo "  ratio processor/no-analysis: $(ratio "$P1_RATE" "$RAW_RATE") (1 thread)," \
    "$(ratio "$PN_RATE" "$RAW_RATE") ($CPUS threads); $CPUS threads/1 thread: $(ratio "$PN_RATE" "$P1_RATE")"

# One tenant end to end, through the stack's own processor (one thread per CPU).
echo "  one tenant end to end, $E2E_N interactions of the same mix (accepted -> visible in the overview):"
API=$(/usr/bin/python3 "$ROOT/tests/bench/e2e_ingest.py" api "$E2E_N") || { echo "  FAILED (above)"; exit 1; }
field() { /usr/bin/python3 -c "import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
figure "through the ingestion API:" "$(field "$API" rate)"
# serphona-cli keys what it produces by tenant: one partition, which the dev
# broker caps at ~5 MB (about 3000 of these) and nothing holds it back.
KAFKA_N=$((E2E_N < 3000 ? E2E_N : 3000))
DIRECT=$(/usr/bin/python3 "$ROOT/tests/bench/e2e_ingest.py" kafka "$KAFKA_N") || { echo "  FAILED (above)"; exit 1; }
figure "produced straight to Kafka ($KAFKA_N):" "$(field "$DIRECT" rate)"
/usr/bin/python3 - "$API" "$DIRECT" "$RAW_RATE" <<'PY'
import json, sys
api, direct, raw = json.loads(sys.argv[1]), json.loads(sys.argv[2]), float(sys.argv[3])
print(f"  (API: {api['seconds']:.1f} s in all, sending {api['send_seconds']:.1f} s,"
      f" {api['busy_503']} answers 503; straight to Kafka: {direct['seconds']:.1f} s)")
print(f"  ratio end to end/no-analysis pipe: {api['rate'] / raw:.2f} (goal >= 0.5);"
      f" API/straight to Kafka: {api['rate'] / direct['rate']:.2f}")
kb = lambda v: "?" if v is None else f"{v / 1024:.0f} MB"
print(f"  peak RSS (VmHWM) under that load: tools-gateway {kb(direct['rss_tools_gateway_kb'])},"
      f" analytics-processor {kb(direct['rss_processor_kb'])}")
PY
