#!/usr/bin/env bash
# tests/bench/query_bench.sh — analytics-query overview latency against the
# raw ClickHouse query, at growing numbers of synthetic interactions.
#
# Starts its own stack (private ports, data under a temporary folder),
# generates interactions for one tenant inside ClickHouse itself (INSERT ...
# SELECT FROM numbers(N), pseudo-random columns from cityHash64, occurred_at
# spread over the last 365 days; the materialized views fill the hourly
# rollups as they would for the processor's inserts), merges the tables
# (OPTIMIZE ... FINAL, so every series reads the same parts), then for each
# size and for a 30-day and a 365-day window measures, in one process, with
# one clock and interleaved round by round so that other load on the machine
# hits every series alike (build/bench/query_bench):
#   service uncached  GET /v1/analytics/overview over the service's RPC port
#                     (the gateway's envelope, analyst auth), the tenant's cache
#                     generation bumped before each call: the full path with the
#                     ClickHouse query on the hourly rollups
#   service cached    the same, answered from Redis
#   rollup SQL        the same sums straight from interactions_hourly (what the
#                     service asks ClickHouse), to show the service's own cost
#   raw SQL           the same sums computed from the raw interactions table,
#                     as one would without rollups (no dedup)
#   raw SQL FINAL     the same, deduplicated with FINAL (what a correct raw
#                     query must do on a ReplacingMergeTree)
#   coarse rollup     the same sums from a rollup without agent_id (hour x
#                     channel x language), built here only to measure what such
#                     a second rollup would give: interactions_hourly keys on the
#                     agent too, so with many agents it holds nearly a row per
#                     interaction
# Each is p50 / p95 / mean in milliseconds over sequential requests.
#
# Knobs: QB_ROWS (ascending cumulative sizes, default "1000000 10000000"),
# QB_REQUESTS (service calls per series, default 100), QB_RAW_REQUESTS (raw
# queries per series, default 20). 10M rows take about 1.5 GB of disk and a
# few minutes to generate on two cores.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${SP_BUILD:-$ROOT/build}"
ROWS="${QB_ROWS:-1000000 10000000}"
REQUESTS="${QB_REQUESTS:-100}"
RAW_REQUESTS="${QB_RAW_REQUESTS:-20}"

RUN_DIR=$(mktemp -d /tmp/serphona-qbench-XXXXXX)
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
export SP_RUN_DIR="$RUN_DIR" SP_PORT_BASE="$BASE" SP_TOPIC_PREFIX="qbench$BASE." SERPHONA_LOG_LEVEL=warn
cleanup() {
    "$ROOT/deploy/local/stack.sh" down >/dev/null 2>&1 || true
    rm -rf "$RUN_DIR"
}
trap cleanup EXIT
"$ROOT/deploy/local/stack.sh" up >/dev/null 2>&1 || { echo "stack did not start"; exit 1; }
# shellcheck disable=SC1091
source "$RUN_DIR/stack.env"
CH="$SERPHONA_CLICKHOUSE_URL"
DB=serphona
TENANT=$(/usr/bin/python3 -c 'import uuid; print(uuid.uuid4())')

ch() { curl -sS --fail "$CH/?database=$DB" --data-binary "$1"; }

NOW_H=$(($(date +%s) / 3600 * 3600))
TO=$((NOW_H + 3600))   # the end of the current hour, as the service rounds it
SPAN=$((365 * 86400))  # the data covers the 365 days before TO

# generate OFFSET COUNT: interactions number OFFSET .. OFFSET+COUNT-1.
generate() {
    ch "INSERT INTO interactions (tenant_id, interaction_id, external_id, channel, occurred_at,
        analyzed_at, language, agent_id, agent_name, customer_ref, tags, sentiment,
        sentiment_customer, sentiment_agent, topics, intent, keywords, duration_ms, talk_agent_ms,
        talk_customer_ms, silence_ratio, longest_silence_ms, overtalk_ms, escalated, resolved,
        churn_risk, csat, nps, pii_redactions, utterance_count, text, version)
    SELECT toUUID('$TENANT'), generateUUIDv4(), toString(number),
        ['call','chat','whatsapp','email','survey','review'][number % 6 + 1] AS ch,
        toDateTime($((TO - SPAN)) + cityHash64(number, 1) % $SPAN) AS t, t,
        ['en','pt','es'][cityHash64(number, 2) % 3 + 1],
        concat('agent-', toString(cityHash64(number, 3) % 50)) AS ag, ag, '', [],
        toFloat32(toInt32(cityHash64(number, 4) % 2001) - 1000) / 1000 AS s, s, s,
        arraySlice(['billing','delivery','technical_problem','account_access','pricing',
                    'complaint','praise','cancellation'], cityHash64(number, 5) % 8 + 1,
                   1 + cityHash64(number, 6) % 2),
        ['refund','delivery_status','cancel','login','price_question'][cityHash64(number, 7) % 5 + 1],
        arraySlice(['invoice','refund','package','password','price'], cityHash64(number, 8) % 5 + 1, 1),
        if(ch = 'call', toUInt32(30000 + cityHash64(number, 9) % 600000), 0) AS d, d / 2, d / 3,
        if(ch = 'call', toFloat32(cityHash64(number, 10) % 500) / 1000, 0), 0, 0,
        cityHash64(number, 11) % 10 = 0, cityHash64(number, 12) % 10 < 7,
        cityHash64(number, 13) % 20 = 0,
        if(cityHash64(number, 14) % 3 = 0, toInt8(1 + cityHash64(number, 15) % 5), -1),
        if(cityHash64(number, 16) % 4 = 0, toInt8(cityHash64(number, 17) % 11), -1),
        0, 1, 'synthetic interaction', 1
    FROM numbers($1, $2)"
}

# The 15 sums of the overview (services/analytics-query/src/kpis.h), for both
# periods, over the rollup or over the raw table.
ROLLUP_COLS=(interactions sentiment_sum positive negative resolved escalated churn_risk
             duration_ms_sum timed silence_ratio_sum csat_sum csat_count nps_promoters
             nps_detractors nps_count)
RAW_COLS=("1" "toFloat64(sentiment)" "sentiment > 0.05" "sentiment < -0.05" "resolved" "escalated"
          "churn_risk" "toUInt64(duration_ms)" "duration_ms > 0" "toFloat64(silence_ratio)"
          "if(csat >= 0, toUInt64(csat), 0)" "csat >= 0" "nps >= 9" "nps >= 0 AND nps <= 6"
          "nps >= 0")
COARSE_SUMS=()
for c in "${ROLLUP_COLS[@]}"; do COARSE_SUMS+=("sum($c) AS $c"); done
sums_sql() { # TABLE TIMECOL FROM PREV_FROM COLS...  (the shape of overview.c's query)
    local table=$1 t=$2 from=$3 prev=$4; shift 4
    local sel="" c
    for c in "$@"; do sel+="sum(($c)), "; done
    echo "SELECT $t >= toDateTime($from) AS cur, ${sel%, } FROM $table WHERE tenant_id = '$TENANT'" \
        "AND $t >= toDateTime($prev) AND $t < toDateTime($TO) GROUP BY cur"
}
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

QB="$BUILD/bench/query_bench"
ENDPOINT="$SERPHONA_ANALYTICS_QUERY_RPC"
printf '  one tenant; data over the 365 days before %s; %d service / %d raw requests per series\n' \
    "$(iso "$TO")" "$REQUESTS" "$RAW_REQUESTS"
printf '  %-10s %-7s %-17s %10s %10s %10s\n' rows window series p50_ms p95_ms mean_ms
have=0
for n in $ROWS; do
    if ((n > have)); then
        t0=$(date +%s.%N)
        generate "$have" $((n - have))
        have=$n
        secs=$(/usr/bin/python3 -c "import time; print('%.1f' % (time.time() - $t0))")
        printf '  %-10s generated in %s s\n' "$n" "$secs"
    fi
    # Merge every table fully, the steady state of all but the newest
    # partitions, so that each series reads the same parts.
    for table in interactions interactions_hourly topics_hourly; do
        ch "OPTIMIZE TABLE $table FINAL"
    done
    ch "DROP TABLE IF EXISTS bench_coarse_hourly"
    ch "CREATE TABLE bench_coarse_hourly ENGINE = SummingMergeTree() PARTITION BY toYYYYMM(hour)
        ORDER BY (tenant_id, hour, channel, language) AS
        SELECT tenant_id, hour, channel, language, $(IFS=,; echo "${COARSE_SUMS[*]}")
        FROM interactions_hourly GROUP BY tenant_id, hour, channel, language"
    printf '  %-10s merged: %s raw rows, %s interactions_hourly rows, %s coarse rollup rows\n' "$n" \
        "$(ch "SELECT count() FROM interactions WHERE tenant_id = '$TENANT'")" \
        "$(ch "SELECT count() FROM interactions_hourly WHERE tenant_id = '$TENANT'")" \
        "$(ch "SELECT count() FROM bench_coarse_hourly WHERE tenant_id = '$TENANT'")"
    for days in 30 365; do
        from=$((TO - days * 86400)); prev=$((from - days * 86400))
        path="/v1/analytics/overview?from=$(iso "$from")&to=$(iso "$TO")"
        "$QB" compare "$ENDPOINT" "$SP_REDIS_PORT" "$TENANT" "$path" "$REQUESTS" "$CH" "$DB" \
            rollup_SQL "$REQUESTS" "$(sums_sql interactions_hourly hour "$from" "$prev" "${ROLLUP_COLS[@]}")" \
            raw_SQL "$RAW_REQUESTS" "$(sums_sql interactions occurred_at "$from" "$prev" "${RAW_COLS[@]}")" \
            raw_SQL_FINAL "$RAW_REQUESTS" "$(sums_sql "interactions FINAL" occurred_at "$from" "$prev" "${RAW_COLS[@]}")" \
            coarse_rollup "$REQUESTS" "$(sums_sql bench_coarse_hourly hour "$from" "$prev" "${ROLLUP_COLS[@]}")" |
            while read -r label p50 p95 mean; do
                printf '  %-10s %-7s %-17s %10s %10s %10s\n' "$n" "${days}d" "${label//_/ }" "$p50" "$p95" "$mean"
            done
    done
done
