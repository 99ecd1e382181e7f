# tests/run.sh against a test that was not built: one unit test binary missing
# must be a FAIL, not a unit tier one test smaller.
MUT_DESC="build/test/test_restore is gone; tests/run.sh --only unit must fail"
MUT_BUILD=""
MUT_TIMEOUT=300
mut_apply() {
    [ -x build/test/test_restore ] || return 1
    rm -f build/test/test_restore
}
mut_check() {
    local out
    out=$(tests/run.sh --only unit 2>&1) # read whole, so the guard always gets to clean up
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: unit/test_restore: build/test/test_restore is not built' <<<"$out" && return 1
    return 0
}
