# tests/mutations/written-copies-never-given-back.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="a pooled reset by the host's page table never gives back a copy, however many it holds (monitor/written.c), so what each reset compares only grows; test_restore/written_pages_put_back_and_given_back must fail"
MUT_BUILD="bin/linux-tests/pages.glibc build/test/test_restore"
MUT_TIMEOUT=300
mut_apply() {
    local line='        if (rc == 0 && b.total > ZG_KEEP_MAX) {'
    if ! grep -qF "$line" monitor/written.c; then
        echo "mut_apply: '$line' not found in monitor/written.c" >&2
        return 1
    fi
    sed -i 's/        if (rc == 0 \&\& b.total > ZG_KEEP_MAX) {/        if (rc == 0 \&\& b.total > ZG_KEEP_MAX * 1000) { \/* mutation *\//' monitor/written.c
    grep -qF 'ZG_KEEP_MAX * 1000) { /* mutation */' monitor/written.c
}
mut_check() {
    local out
    out=$(build/test/test_restore 2>&1)
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: test_restore/written_pages_put_back_and_given_back' <<<"$out" && return 1
    return 0
}
