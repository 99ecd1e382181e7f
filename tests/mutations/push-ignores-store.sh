# tests/mutations/push-ignores-store.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="zg_remote_push no longer reads the catalog (remote/rm_push.c, learn), so every push uploads every page; remote.sh's remote/zerg/push-pull-roundtrip (the second template's push moves only its own pages) must fail"
MUT_BUILD="bin/zerg bin/guests/zergling.elf"
MUT_TIMEOUT=300
mut_apply() {
    local line='    if (!o->full && (rc = learn(&P.r, &P.k, &skipped)) < 0)'
    if ! grep -qxF "$line" remote/rm_push.c; then
        echo "mut_apply: '$line' not found in remote/rm_push.c" >&2
        return 1
    fi
    sed -i 's/^    if (!o->full && (rc = learn(&P.r, &P.k, &skipped)) < 0)$/    if (0 \&\& (rc = learn(\&P.r, \&P.k, \&skipped)) < 0) \/* mutation: store ignored *\//' remote/rm_push.c
    grep -qF 'mutation: store ignored' remote/rm_push.c
}
mut_check() {
    local out
    out=$(bash tests/sys/remote.sh 2>&1)
    printf '%s\n' "$out" | grep -E '^(PASS|FAIL): remote/zerg/push-pull' >&2
    grep -q '^FAIL: remote/zerg/push-pull-roundtrip' <<<"$out" && return 1
    return 0
}
