#!/usr/bin/env bash
# tests/with-stack.sh CMD [ARGS...] — runs one command against a private
# PostgreSQL/Redis/ClickHouse/Kafka stack on free loopback ports, with the
# SERPHONA_TEST_* variables the unit tests read, and stops the stack after.
# For a developer running one server-backed unit test by hand:
#   tests/with-stack.sh build/services/tenant-manager/tests/test_users
# SP_BIN_DIR picks the build whose dev broker is used (default build/bin).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
(($#)) || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }

base=$(/usr/bin/python3 - <<'PY'
import random, socket, os, time
rng = random.Random(os.getpid() ^ int(time.time() * 1000))
for _ in range(500):
    base = rng.randrange(32000, 44000, 50)
    ok = True
    for p in range(base, base + 40):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            ok = False
        finally:
            s.close()
        if not ok:
            break
    if ok:
        print(base)
        break
PY
)
run_dir=$(mktemp -d /tmp/serphona-stack-XXXXXX)
stack_env=(SP_RUN_DIR="$run_dir" SP_PORT_BASE="$base" SP_BIN_DIR="${SP_BIN_DIR:-$ROOT/build/bin}"
           SP_TOPIC_PREFIX="unit$base.")
stop() { env "${stack_env[@]}" "$ROOT/deploy/local/stack.sh" infra-down >/dev/null 2>&1; rm -rf "$run_dir"; }
trap stop EXIT
env "${stack_env[@]}" "$ROOT/deploy/local/stack.sh" infra-up || exit 1
# shellcheck disable=SC1091
source "$run_dir/stack.env"
export SERPHONA_TEST_PG_URL="$SERPHONA_PG_URL"
export SERPHONA_TEST_PG_OWNER_URL="$SERPHONA_PG_MIGRATE_URL"
export SERPHONA_TEST_PG_SUPER_SOCKET="$run_dir/pg/sock" SERPHONA_TEST_PG_PORT="$SP_PG_PORT"
export SERPHONA_TEST_REDIS_PORT="$SP_REDIS_PORT"
export SERPHONA_TEST_CH_URL="$SERPHONA_CLICKHOUSE_URL"
export SERPHONA_TEST_KAFKA_BROKERS="$SERPHONA_KAFKA_BROKERS"
"$@"
