#!/usr/bin/env bash
# Runs every zerg test and ends with one line: "N passed, N failed, N skipped".
#   tests/run.sh                 all tiers
#   tests/run.sh --only TIER     one tier: lint, unit, asan, sys, xen, fuzz
# Each test prints PASS:/FAIL:/SKIP: lines; a program that exits non-zero
# without printing a FAIL line (a crash, a sanitizer report) counts as a failure.
set -u
cd "$(dirname "$0")/.."
ONLY=""
[ "${1:-}" = "--only" ] && ONLY="$2"
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
LOG=build/test-logs
mkdir -p "$LOG"
pass=0 fail=0 skip=0
failed_names=()

# run_one NAME TIMEOUT CMD...: runs CMD, echoes its PASS/FAIL/SKIP lines, counts them.
run_one() {
    local name=$1 tmo=$2
    shift 2
    local out="$LOG/${name//\//_}.log"
    timeout --kill-after=5 "$tmo" "$@" >"$out" 2>&1
    local rc=$?
    local p f s
    p=$(grep -c '^PASS: ' "$out")
    f=$(grep -c '^FAIL: ' "$out")
    s=$(grep -c '^SKIP: ' "$out")
    grep -E '^(PASS|FAIL|SKIP|XENBENCH)[: ]' "$out"
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL: $name: exited with status $rc (log: $out)"
        tail -n 20 "$out" | sed 's/^/    /'
        f=1
    elif [ "$f" -gt 0 ]; then
        grep -B2 -A8 '^FAIL: ' "$out" | grep -vE '^(PASS|SKIP): ' | sed 's/^/    /' | head -n 40
    fi
    if [ "$rc" -eq 0 ] && [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ "$s" -eq 0 ]; then
        echo "FAIL: $name: printed no result"
        f=1
    fi
    pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
    [ "$f" -gt 0 ] && failed_names+=("$name")
}

tier() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }

if tier lint; then
    if command -v clang-format >/dev/null; then
        run_one "lint/clang-format" 120 bash -c \
            'make --no-print-directory format-check && echo "PASS: lint/clang-format"'
    else
        echo "SKIP: lint/clang-format: clang-format not installed"
        skip=$((skip + 1))
    fi
fi
if tier unit; then
    for t in build/test/test_*; do
        [ -x "$t" ] && run_one "unit/$(basename "$t")" 300 "$t"
    done
fi
if tier asan; then
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    for t in build/test-asan/test_*; do
        [ -x "$t" ] && run_one "asan/$(basename "$t")" 600 "$t"
    done
fi
if tier sys; then
    for t in tests/sys/*.sh; do
        [ -f "$t" ] && run_one "sys/$(basename "$t" .sh)" 900 bash "$t"
    done
fi
if tier xen; then
    # Xen + a PV dom0 in QEMU (TCG), zerg's Xen tests inside: tests/xen/rig.sh.
    run_one "xen/rig" 1500 bash tests/xen/rig.sh
fi
if tier fuzz; then
    for f in build/fuzz/fuzz_*; do
        [ -x "$f" ] || continue
        name=$(basename "$f")
        corpus="build/fuzz-corpus/$name"
        mkdir -p "$corpus"
        seeds="tests/fuzz/seeds/${name#fuzz_}"
        [ -d "$seeds" ] || seeds=""
        run_one "fuzz/$name" $((FUZZ_SECONDS + 120)) bash -c \
            "'$f' -max_total_time=$FUZZ_SECONDS -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 '$corpus' $seeds && echo 'PASS: fuzz/$name: ${FUZZ_SECONDS}s, no crash'"
    done
fi

if [ ${#failed_names[@]} -gt 0 ]; then
    echo "failed: ${failed_names[*]}"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
