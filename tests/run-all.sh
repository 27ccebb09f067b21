#!/usr/bin/env bash
# tests/run-all.sh — what `make test` runs, after `make deps`:
#   1. build everything (build/), run every unit test against a private
#      PostgreSQL/Redis/ClickHouse/Kafka stack, run the integration suite
#      (which starts its own full stack with all seven services);
#   2. the same again built with AddressSanitizer + UBSan (build/asan/); any
#      sanitizer report fails the run.
# Prints one closing line "N passed, N failed" over every suite.
#
# Two narrower modes serve the Makefile:
#   tests/run-all.sh --unit BUILD_DIR [BIN...]   the given unit tests (default:
#                                             every one in BUILD_DIR) against
#                                             one private stack (make unit-test)
#   tests/run-all.sh --unit-pure BUILD_DIR BIN...   the given pure unit tests,
#                                             no stack (make check)
# Both print the same "ok"/"FAIL" lines and a closing "N passed, N failed".
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

# start_unit_stack BUILD_DIR: a private stack, its SERPHONA_TEST_* exported.
start_unit_stack() {
    local build=$1
    UNIT_RUN_DIR=$(mktemp -d /tmp/serphona-unit-XXXXXX)
    local base; base=$(free_port_base)
    STACK_ENV=(SP_RUN_DIR="$UNIT_RUN_DIR" SP_PORT_BASE="$base" SP_BIN_DIR="$ROOT/$build/bin"
               SP_TOPIC_PREFIX="unit$base.")
    env "${STACK_ENV[@]}" deploy/local/stack.sh infra-up || return 1
    # shellcheck disable=SC1091
    source "$UNIT_RUN_DIR/stack.env"
    export SERPHONA_TEST_PG_URL="$SERPHONA_PG_URL"
    export SERPHONA_TEST_PG_OWNER_URL="$SERPHONA_PG_MIGRATE_URL"
    export SERPHONA_TEST_PG_SUPER_SOCKET="$UNIT_RUN_DIR/pg/sock" SERPHONA_TEST_PG_PORT="$SP_PG_PORT"
    export SERPHONA_TEST_REDIS_PORT="$SP_REDIS_PORT"
    export SERPHONA_TEST_CH_URL="$SERPHONA_CLICKHOUSE_URL"
    export SERPHONA_TEST_KAFKA_BROKERS="$SERPHONA_KAFKA_BROKERS"
}

# run_unit_bins LABEL BUILD_DIR OUT_FILE BIN...: runs each test binary,
# one "ok"/"FAIL" line each; a sanitizer report fails the binary.
run_unit_bins() {
    local label=$1 build=$2 out=$3 t rc
    shift 3
    for t in "$@"; do
        local name=${t#"$build"/}
        if timeout 600 "$t" >"$out" 2>&1; then rc=0; else rc=$?; fi
        if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$out"; then rc=1; fi
        if [[ $rc == 0 ]]; then
            printf '  ok    %s (%s)\n' "$name" "$(grep -oE '[0-9]+ test\(s\) run' "$out" | tail -1)"
        else
            printf '  FAIL  %s (exit %s)\n' "$name" "$rc"
            tail -n 60 "$out" | sed 's/^/        /'
        fi
        record "[$label] $name" $rc
    done
}

# Every unit test binary of BUILD_DIR, sorted.
unit_bins() {
    find "$1/libs" "$1/services" "$1/tests/support" -type f -perm -u+x -name 'test_*' 2>/dev/null | sort
}

summary() {
    echo
    if ((FAILED)); then
        printf 'failed: %s\n' "${FAILURES[@]}"
    fi
    echo "suites: $PASSED passed, $FAILED failed"
    ((FAILED == 0))
}

# run_suite LABEL BUILD_DIR
run_suite() {
    local label=$1 build=$2
    note "[$label] unit tests"
    if ! start_unit_stack "$build"; then
        record "[$label] unit stack start" 1
        stop_unit_stack
        return
    fi
    local bins; mapfile -t bins < <(unit_bins "$build")
    run_unit_bins "$label" "$build" "$UNIT_RUN_DIR/out.txt" "${bins[@]}"
    stop_unit_stack

    note "[$label] integration tests (tests/integration)"
    if SP_BIN_DIR="$ROOT/$build/bin" "${PYTEST[@]}" tests/integration; then rc=0; else rc=$?; fi
    record "[$label] integration" $rc
}

case "${1:-}" in
--unit)
    build=${2:-build}
    shift 2
    note "unit tests ($build, private stack)"
    if start_unit_stack "$build"; then
        # The given binaries (the Makefile's list), else every one built.
        if (($#)); then bins=("$@"); else mapfile -t bins < <(unit_bins "$build"); fi
        run_unit_bins unit "$build" "$UNIT_RUN_DIR/out.txt" "${bins[@]}"
    else
        record "unit stack start" 1
    fi
    stop_unit_stack
    summary
    exit
    ;;
--unit-pure)
    build=${2:-build}
    shift 2
    note "pure unit tests ($build, no servers)"
    # No SERPHONA_TEST_*: a server test run here by mistake fails loudly.
    unset "${!SERPHONA_TEST_@}"
    out_dir=$(mktemp -d /tmp/serphona-unit-XXXXXX)
    run_unit_bins pure "$build" "$out_dir/out.txt" "$@"
    rm -rf "$out_dir"
    summary
    exit
    ;;
esac

note "build"
if ! make -j"$JOBS" all; then echo "build failed"; echo "0 passed, 1 failed"; exit 1; fi
run_suite plain build

# Deployment artifacts (Dockerfile, compose file, Helm chart, alert rules,
# dashboard), checked without Docker or helm; needs the plain binaries' --help.
note "[plain] deployment tests (tests/deploy)"
if SP_BIN_DIR="$ROOT/build/bin" "${PYTEST[@]}" tests/deploy; then rc=0; else rc=$?; fi
record "[plain] deploy" $rc

# A short pass of every fuzz target over its seed corpus and a few seconds of
# new inputs (libFuzzer + ASan/UBSan; `make fuzz` is the long run).
note "fuzz smoke (tests/fuzz)"
if make --no-print-directory fuzz-smoke; then rc=0; else rc=$?; fi
record "fuzz smoke" $rc

note "build with AddressSanitizer + UBSan"
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0"
if make -j"$JOBS" SAN=1 all; then
    run_suite asan build/asan
else
    record "[asan] build" 1
fi

summary
