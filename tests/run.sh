#!/usr/bin/env bash
# Runs every zerg test and ends with one line: "N passed, N failed, N skipped".
#   tests/run.sh                 all tiers
#   tests/run.sh --only TIER     one tier: lint, unit, asan, sys, xen, fuzz, mutation
# Each test prints PASS:/FAIL:/SKIP: lines; a program that exits non-zero
# without printing a FAIL line (a crash, a sanitizer report) counts as a failure.
# A tier runs one test per source (tests/unit/test_*.c, tests/fuzz/fuzz_*.c),
# so a test that was not built is a FAIL, never a smaller tier; a tier that
# reports no result at all fails. A tier that could not run at all (the Xen
# rig without its packages) prints UNTESTED: and is named before the summary
# line ("untested-xen: N passed, ...").
set -u
cd "$(dirname "$0")/.."
ONLY=""
[ "${1:-}" = "--only" ] && ONLY="$2"
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
LOG=build/test-logs
mkdir -p "$LOG"
pass=0 fail=0 skip=0
failed_names=()
untested=()

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
    grep -E '^(PASS|FAIL|SKIP|XENBENCH|UNTESTED)[: ]' "$out"
    while read -r u; do untested+=("$u"); done < <(sed -n 's/^UNTESTED: \([a-z0-9-]*\):.*/\1/p' "$out")
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

# missing NAME FILE: a test binary (or what a tier needs) that is not built.
missing() {
    echo "FAIL: $1: $2 is not built (make test builds it)"
    fail=$((fail + 1))
    failed_names+=("$1")
}

# built TIER FILE...: FAIL for each FILE that is not there; true if all are.
built() {
    local t=$1 ok=0 f
    shift
    for f in "$@"; do
        [ -e "$f" ] || { missing "$t" "$f"; ok=1; }
    done
    return $ok
}

# The sys tier needs both zerg binaries and every guest.
sys_needs() {
    local d
    echo bin/zerg bin/zerg-asan
    for d in guest/apps/*/; do echo "bin/guests/$(basename "$d").elf"; done
    for d in tests/guests/*/; do echo "bin/test-guests/$(basename "$d").elf"; done
}

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
    for src in tests/unit/test_*.c; do
        t=build/test/$(basename "$src" .c)
        built "unit/$(basename "$t")" "$t" && run_one "unit/$(basename "$t")" 300 "$t"
    done
fi
if tier asan; then
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    for src in tests/unit/test_*.c; do
        t=build/test-asan/$(basename "$src" .c)
        built "asan/$(basename "$t")" "$t" && run_one "asan/$(basename "$t")" 600 "$t"
    done
fi
if tier sys; then
    built sys/build $(sys_needs)
    for t in tests/sys/*.sh; do
        [ -f "$t" ] && run_one "sys/$(basename "$t" .sh)" 900 bash "$t"
    done
fi
if tier xen; then
    # Xen + a PV dom0 in QEMU (TCG), zerg's Xen tests inside: tests/xen/rig.sh.
    run_one "xen/rig" 1500 bash tests/xen/rig.sh
fi
if tier fuzz; then
    for src in tests/fuzz/fuzz_*.c; do
        name=$(basename "$src" .c)
        f=build/fuzz/$name
        # Seeds made from this build (make: tests/fuzz/mkseeds.sh); each must
        # be accepted by its parser (ZG_FUZZ_STRICT), or the fuzzer would
        # never get past the version checks into the code behind them.
        seeds="build/fuzz-seeds/${name#fuzz_}"
        built "fuzz/$name" "$f" || continue
        if ! compgen -G "$seeds/*" >/dev/null; then
            missing "fuzz/$name" "$seeds/ (its seeds)"
            continue
        fi
        run_one "fuzz/$name/seeds" 120 bash -c \
            "ZG_FUZZ_STRICT=1 '$f' $seeds/* && echo \"PASS: fuzz/$name/seeds-accepted: \$(ls $seeds | wc -l) seeds\""
        corpus="build/fuzz-corpus/$name"
        mkdir -p "$corpus"
        run_one "fuzz/$name" $((FUZZ_SECONDS + 120)) bash -c \
            "'$f' -max_total_time=$FUZZ_SECONDS -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 '$corpus' '$seeds' && echo 'PASS: fuzz/$name: ${FUZZ_SECONDS}s, no crash'"
    done
fi

if tier mutation; then
    # Each guard fails against the code it guards, broken on purpose
    # (tests/mutations/, tests/README.md).
    run_one "mutation" 4800 tests/mutate.sh
fi

if [ ${#failed_names[@]} -gt 0 ]; then
    echo "failed: ${failed_names[*]}"
fi
if [ $((pass + fail + skip)) -eq 0 ]; then
    echo "FAIL: run.sh: no test reported a result${ONLY:+ in tier $ONLY}"
    fail=1
fi
prefix=""
if [ ${#untested[@]} -gt 0 ]; then
    echo "untested tiers: ${untested[*]} (see their SKIP lines)"
    prefix="untested-$(printf '%s\n' "${untested[@]}" | sort -u | paste -sd- -): "
fi
echo "$prefix$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
