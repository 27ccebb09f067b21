#!/usr/bin/env bash
# deploy/local/run.sh — what `make run` runs after building: the whole platform
# on loopback with the design's default ports, until Ctrl-C.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export SP_RUN_DIR="${SP_RUN_DIR:-$ROOT/.run}"
STACK="$ROOT/deploy/local/stack.sh"

stopping=0
stop() {
    ((stopping)) && return
    stopping=1
    echo
    echo "stopping Serphona..."
    "$STACK" down
    echo "stopped."
}
trap stop EXIT
trap 'exit 0' INT TERM

"$STACK" up
# shellcheck disable=SC1091
source "$SP_RUN_DIR/stack.env"

cat <<INFO

Serphona is running.

  Console API (auth-gateway)   http://127.0.0.1:$SP_GATEWAY_HTTP_PORT
  Partner API (tools-gateway)  http://127.0.0.1:$SP_TOOLS_HTTP_PORT
  Service status via gateway   http://127.0.0.1:$SP_GATEWAY_HTTP_PORT/v1/system/<service>

  Operations (health, metrics):
INFO
for s in auth-gateway tenant-manager billing agent-orchestrator tools-gateway analytics-processor analytics-query; do
    var="SP_$(echo "$s" | tr 'a-z-' 'A-Z_')_OPS_PORT"
    printf '    %-20s http://127.0.0.1:%s/health/ready  /metrics\n' "$s" "${!var}"
done
cat <<INFO

  PostgreSQL  127.0.0.1:$SP_PG_PORT (database serphona)
  Redis       127.0.0.1:$SP_REDIS_PORT
  ClickHouse  http://127.0.0.1:$SP_CH_HTTP_PORT
  Kafka       $SERPHONA_KAFKA_BROKERS (dev broker, topics serphona.*.v1)

  Logs in $SP_RUN_DIR/logs, addresses in $SP_RUN_DIR/stack.env.
  Press Ctrl-C to stop everything.
INFO

# Wait until interrupted; the INT/TERM trap exits, and the EXIT trap stops.
while true; do
    sleep 3600 &
    wait $! || true
done
