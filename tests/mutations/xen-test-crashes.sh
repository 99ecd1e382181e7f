# The Xen rig must not ignore the exit status of test_xen: a test_xen that
# crashes inside dom0 (no FAIL line printed) must fail the rig.
MUT_DESC="test_xen aborts inside dom0 after its probe; the rig (tests/xen/rig.sh) must print FAIL: xen/test_xen"
MUT_BUILD="build/test/test_xen build/test-asan/test_xen"
MUT_TIMEOUT=1200
mut_apply() {
    grep -q '^    ZT_RUN(create_populate_map_destroy);' tests/unit/test_xen.c || return 1
    sed -i 's/^    ZT_RUN(create_populate_map_destroy);/    abort(); \/* mutation *\/\n    ZT_RUN(create_populate_map_destroy);/' tests/unit/test_xen.c
}
mut_check() {
    local out
    out=$(bash tests/xen/rig.sh 2>&1) # read whole, so the guard always gets to clean up
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: xen/test_xen: exited with status' <<<"$out" && return 1
    return 0
}
