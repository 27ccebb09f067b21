#!/usr/bin/env bash
# tests/run-all.sh — what `make test` runs, after `make deps`:
#   1. build everything (build/), run every unit test against a private
#      PostgreSQL/Redis/ClickHouse/Kafka stack, run the integration suite
#      (which starts its own full stack with all seven services);
#   2. the same again built with AddressSanitizer + UBSan (build/asan/); any
#      sanitizer report fails the run.
# Prints one closing line "N passed, N failed" over every suite.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
JOBS=$(nproc 2>/dev/null || echo 2)
PASSED=0
FAILED=0
FAILURES=()
PYTEST=(/usr/bin/python3 -m pytest -q -p no:cacheprovider)

note() { printf '\n==> %s\n' "$*"; }
record() { # name rc
    if [[ $2 == 0 ]]; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); FAILURES+=("$1"); fi
}

# A block of 40 free loopback ports for one private stack.
free_port_base() {
    /usr/bin/python3 - <<'PY'
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
}

STACK_ENV=()
UNIT_RUN_DIR=""
stop_unit_stack() {
    [[ -n "$UNIT_RUN_DIR" ]] && env "${STACK_ENV[@]}" deploy/local/stack.sh infra-down >/dev/null 2>&1
    [[ -n "$UNIT_RUN_DIR" ]] && rm -rf "$UNIT_RUN_DIR"
    UNIT_RUN_DIR=""
}
trap stop_unit_stack EXIT

# run_suite LABEL BUILD_DIR
run_suite() {
    local label=$1 build=$2
    note "[$label] unit tests"
    UNIT_RUN_DIR=$(mktemp -d /tmp/serphona-unit-XXXXXX)
    local base; base=$(free_port_base)
    STACK_ENV=(SP_RUN_DIR="$UNIT_RUN_DIR" SP_PORT_BASE="$base" SP_BIN_DIR="$ROOT/$build/bin"
               SP_TOPIC_PREFIX="unit$base.")
    if ! env "${STACK_ENV[@]}" deploy/local/stack.sh infra-up; then
        record "[$label] unit stack start" 1
        stop_unit_stack
        return
    fi
    # shellcheck disable=SC1091
    source "$UNIT_RUN_DIR/stack.env"
    export SERPHONA_TEST_PG_URL="$SERPHONA_PG_URL"
    export SERPHONA_TEST_PG_OWNER_URL="$SERPHONA_PG_MIGRATE_URL"
    export SERPHONA_TEST_PG_SUPER_SOCKET="$UNIT_RUN_DIR/pg/sock" SERPHONA_TEST_PG_PORT="$SP_PG_PORT"
    export SERPHONA_TEST_REDIS_PORT="$SP_REDIS_PORT"
    export SERPHONA_TEST_CH_URL="$SERPHONA_CLICKHOUSE_URL"
    export SERPHONA_TEST_KAFKA_BROKERS="$SERPHONA_KAFKA_BROKERS"
    local t rc
    while IFS= read -r t; do
        local name=${t#"$build"/}
        if timeout 600 "$t" >"$UNIT_RUN_DIR/out.txt" 2>&1; then rc=0; else rc=$?; fi
        if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$UNIT_RUN_DIR/out.txt"; then rc=1; fi
        if [[ $rc == 0 ]]; then
            printf '  ok    %s (%s)\n' "$name" "$(grep -oE '[0-9]+ test\(s\) run' "$UNIT_RUN_DIR/out.txt" | tail -1)"
        else
            printf '  FAIL  %s (exit %s)\n' "$name" "$rc"
            tail -n 60 "$UNIT_RUN_DIR/out.txt" | sed 's/^/        /'
        fi
        record "[$label] $name" $rc
    done < <(find "$build/libs" "$build/services" -type f -perm -u+x -name 'test_*' 2>/dev/null | sort)
    stop_unit_stack

    note "[$label] integration tests (tests/integration)"
    if SP_BIN_DIR="$ROOT/$build/bin" "${PYTEST[@]}" tests/integration; then rc=0; else rc=$?; fi
    record "[$label] integration" $rc
}

note "build"
if ! make -j"$JOBS" all; then echo "build failed"; echo "0 passed, 1 failed"; exit 1; fi
run_suite plain build

# Deployment artifacts (Dockerfile, compose file, Helm chart, alert rules,
# dashboard), checked without Docker or helm; needs the plain binaries' --help.
note "[plain] deployment tests (tests/deploy)"
if SP_BIN_DIR="$ROOT/build/bin" "${PYTEST[@]}" tests/deploy; then rc=0; else rc=$?; fi
record "[plain] deploy" $rc

note "build with AddressSanitizer + UBSan"
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0"
if make -j"$JOBS" SAN=1 all; then
    run_suite asan build/asan
else
    record "[asan] build" 1
fi

echo
if ((FAILED)); then
    printf 'failed: %s\n' "${FAILURES[@]}"
fi
echo "suites: $PASSED passed, $FAILED failed"
((FAILED == 0))
