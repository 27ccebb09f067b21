#!/usr/bin/env bash
# tests/fuzz/run.sh — runs the libFuzzer harnesses built by `make fuzz-build`.
#
#   run.sh smoke [target...]   every seed of tests/fuzz/corpus/<target>, then
#                              FUZZ_SMOKE_SECONDS (10) of fuzzing per target
#   run.sh long  [target...]   up to FUZZ_RUNS (10000000) executions or
#                              FUZZ_SECONDS (600) per target, whichever first
#
# No target = all. Each run starts from the seeds in the repo plus what earlier
# runs found (build/fuzz/corpus/<target>, never committed); a crash, leak or
# UB report leaves its input in build/fuzz/artifacts/<target>/ and fails the
# run. Prints one line per target: executions, cov: (edges) and ft:
# (features) at the end, executions per second, and the verdict.
set -u
cd "$(dirname "$0")/../.."

mode=${1:-smoke}
shift || true
FZ=build/fuzz
case $mode in
smoke) budget=(-max_total_time="${FUZZ_SMOKE_SECONDS:-10}") ;;
long) budget=(-max_total_time="${FUZZ_SECONDS:-600}" -runs="${FUZZ_RUNS:-10000000}") ;;
*)
    echo "usage: $0 smoke|long [target...]" >&2
    exit 2
    ;;
esac

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for f in tests/fuzz/fuzz_*.c; do
        t=${f#tests/fuzz/fuzz_}
        targets+=("${t%.c}")
    done
fi

failed=0
printf '%-10s %12s %8s %8s %9s  %s\n' target execs cov ft exec/s result
for t in "${targets[@]}"; do
    bin=$FZ/bin/fuzz_$t
    seeds=tests/fuzz/corpus/$t
    work=$FZ/corpus/$t
    art=$FZ/artifacts/$t
    log=$FZ/logs/$t.$mode.log
    mkdir -p "$work" "$art" "$(dirname "$log")"
    if [ ! -x "$bin" ]; then
        echo "$t: $bin is missing (make fuzz-build)" >&2
        failed=1
        continue
    fi
    # -timeout: one input may take at most 10 s (a hang is a bug too);
    # -rss_limit_mb: so is an input that makes a parser eat gigabytes.
    # ASan's leak check runs at exit of each input batch (detect_leaks).
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        nice -n "${FUZZ_NICE:-10}" "$bin" "${budget[@]}" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$art/" \
        "$work" "$seeds" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)
    cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")
    if [ $rc -eq 0 ]; then
        result=ok
    else
        result="FAILED (rc $rc, see $log)"
        failed=1
        grep -E 'ERROR: |runtime error|SUMMARY|Test unit written' "$log" | head -5 | sed 's/^/    /'
    fi
    printf '%-10s %12s %8s %8s %9s  %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" \
        "${speed:-?}" "$result"
done
exit $failed
