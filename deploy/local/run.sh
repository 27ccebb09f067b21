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
export SP_RUN_DIR SP_GATEWAY_HTTP_PORT SERPHONA_OPERATOR_EMAIL SERPHONA_OPERATOR_PASSWORD
/usr/bin/python3 "$ROOT/deploy/local/demo_tenant.py"
# shellcheck disable=SC1091
source "$SP_RUN_DIR/demo.env"
if [[ -x "$ROOT/deploy/local/demo/load.sh" ]]; then
    "$ROOT/deploy/local/demo/load.sh"
fi

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

  Demo tenant "$SERPHONA_DEMO_TENANT" (logins also in $SP_RUN_DIR/demo.env):
    admin     $SERPHONA_DEMO_ADMIN_EMAIL / $SERPHONA_DEMO_ADMIN_PASSWORD
    API key   $SERPHONA_DEMO_API_KEY
  Platform operator: $SERPHONA_OPERATOR_EMAIL / $SERPHONA_OPERATOR_PASSWORD

  Try:
    TOKEN=\$(curl -s -X POST localhost:$SP_GATEWAY_HTTP_PORT/v1/auth/login -H 'Content-Type: application/json' \\
      -d '{"tenant":"$SERPHONA_DEMO_TENANT","email":"$SERPHONA_DEMO_ADMIN_EMAIL","password":"$SERPHONA_DEMO_ADMIN_PASSWORD"}' \\
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    curl -s localhost:$SP_GATEWAY_HTTP_PORT/v1/users -H "Authorization: Bearer \$TOKEN"

  Logs in $SP_RUN_DIR/logs, addresses in $SP_RUN_DIR/stack.env.
  Press Ctrl-C to stop everything.
INFO

# Wait until interrupted; the INT/TERM trap exits, and the EXIT trap stops.
while true; do
    sleep 3600 &
    wait $! || true
done
