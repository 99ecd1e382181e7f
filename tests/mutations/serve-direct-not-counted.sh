# tests/mutations/serve-direct-not-counted.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="zerg serve's master stops counting the connections its slots accept themselves (serve/master.c, on_grant_report), so zerg_connections_total misses them; serve.sh's serve/accept-by-slots must fail"
MUT_BUILD="bin/zerg bin/guests/zergling.elf bin/test-guests/servetest.elf"
MUT_TIMEOUT=300
mut_apply() {
    local line='    m->st.t[r->tmpl].accepted++;'
    if ! grep -qxF "$line" serve/master.c; then
        echo "mut_apply: '$line' not found in serve/master.c" >&2
        return 1
    fi
    sed -i 's/^    m->st.t\[r->tmpl\].accepted++;$/    (void)0; \/* mutation: not counted *\//' serve/master.c
    ! grep -qxF "$line" serve/master.c
}
mut_check() {
    local out
    out=$(bash tests/sys/serve.sh 2>&1)
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: serve/accept-by-slots' <<<"$out" && return 1
    return 0
}
