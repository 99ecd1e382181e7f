# tests/mutations/sandbox-lazy-calls-unsettled.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="the sandbox no longer settles malloc's arena limit before its filter (monitor/sandbox.c) and serve's slots no longer make their first allocation before it (serve/worker.c), so a worker of more than 8 slots dies by SIGSYS on glibc's lazy openat of /sys/devices/system/cpu/online; serve_slots.sh's serve-slots/pooled-64-in-one-worker must fail"
MUT_BUILD="bin/zerg bin/guests/zergling.elf" # make targets the check needs
MUT_TIMEOUT=120                              # seconds
mut_apply() { # edits files in the current directory; fails loudly if a pattern is not found
    local limit='    mallopt(M_ARENA_MAX, 8 * (cpus > 0 ? cpus : 1));'
    local first='    free(first);'
    if ! grep -qxF "$limit" monitor/sandbox.c || ! grep -qxF "$first" serve/worker.c; then
        echo "mut_apply: '$limit' or '$first' not found" >&2
        return 1
    fi
    sed -i 's/^    mallopt(M_ARENA_MAX, 8 \* (cpus > 0 ? cpus : 1));$/    (void)cpus; \/* mutation *\//' monitor/sandbox.c
    sed -i 's/^    void \*volatile first = malloc(64);.*$/    void *first = NULL; \/* mutation *\//' serve/worker.c
    if grep -qxF "$limit" monitor/sandbox.c || grep -q 'first = malloc' serve/worker.c; then
        echo "mut_apply: the arena limit or the first allocation is still there" >&2
        return 1
    fi
}
mut_check() { # runs the guard; exit 0 = guard passed (bad, under the mutation)
    local out
    out=$(SERVE_SLOTS_ONLY=pooled-64-in-one-worker SLOTS_SECS=10 bash tests/sys/serve_slots.sh 2>&1)
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: serve-slots/pooled-64-in-one-worker' <<<"$out" && return 1
    return 0
}
