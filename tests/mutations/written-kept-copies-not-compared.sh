# tests/mutations/written-kept-copies-not-compared.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="a pooled reset by the host's page table stops comparing the copies it kept from earlier requests (monitor/written.c), so a page written again keeps the request's bytes; test_restore's reset tests must fail"
MUT_BUILD="bin/guests/zergling.elf bin/linux-tests/pages.glibc build/test/test_restore"
MUT_TIMEOUT=300
mut_apply() {
    local line='        if (memcmp(m, img, ZG_PAGE_SIZE) != 0) {'
    if ! grep -qF "$line" monitor/written.c; then
        echo "mut_apply: '$line' not found in monitor/written.c" >&2
        return 1
    fi
    sed -i 's/        if (memcmp(m, img, ZG_PAGE_SIZE) != 0) {/        if (!in->idle[p] \&\& memcmp(m, img, ZG_PAGE_SIZE) != 0) {/' monitor/written.c
    grep -qF '!in->idle[p] && memcmp' monitor/written.c
}
mut_check() {
    local out
    out=$(build/test/test_restore 2>&1)
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: test_restore/reset_equals_template:' <<<"$out" &&
        grep -q '^FAIL: test_restore/written_pages_put_back_and_given_back' <<<"$out" && return 1
    return 0
}
