# tests/mutations/pull-manifest-first.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="zg_remote_pull writes the template's manifest before it fetches the pages (remote/rm_pull.c), so an interrupted pull leaves a template that is not complete; remote.sh's remote/killed-mid-pull must fail"
MUT_BUILD="bin/zerg bin/guests/zergling.elf"
MUT_TIMEOUT=300
mut_apply() {
    local line='    P.flushed_at = rm_now();'
    if ! grep -qxF "$line" remote/rm_pull.c; then
        echo "mut_apply: '$line' not found in remote/rm_pull.c" >&2
        return 1
    fi
    sed -i 's/^    P.flushed_at = rm_now();$/    zg_tmpl_store_bytes(home, name, man, manlen, 1, err, errlen); \/* mutation: early *\/\n&/' remote/rm_pull.c
    grep -qF 'mutation: early' remote/rm_pull.c
}
mut_check() {
    local out
    out=$(bash tests/sys/remote.sh 2>&1)
    printf '%s\n' "$out" | grep -E '^(PASS|FAIL): remote/killed' >&2
    grep -q '^FAIL: remote/killed-mid-pull' <<<"$out" && return 1
    return 0
}
