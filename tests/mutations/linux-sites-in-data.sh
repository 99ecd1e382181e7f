# tests/mutations/linux-sites-in-data.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="call sites are rewritten anywhere in the image or the mmap area, data included, as before issue 31 (linux/lx_patch.c: lx_code_site); test_linux/reset_equals_template must fail"
MUT_BUILD="bin/linux-tests/datasite.glibc bin/linux-tests/datasite.musl bin/linux-tests/sites.glibc build/test/test_linux"
MUT_TIMEOUT=300
mut_apply() {
    local sig='int lx_code_site(const struct lx_state *lx, uint64_t rip)'
    if ! grep -qxF "$sig" linux/lx_patch.c; then
        echo "mut_apply: '$sig' not found in linux/lx_patch.c" >&2
        return 1
    fi
    sed -i '/^int lx_code_site(const struct lx_state \*lx, uint64_t rip)$/{n;s/^{$/{ uint64_t mr[2][2]; lx_code_ranges(lx, mr); if ((rip >= mr[0][0] \&\& rip < mr[0][1]) || (rip >= mr[1][0] \&\& rip < mr[1][1])) return 1; \/* mutation *\//}' linux/lx_patch.c
    grep -qF '/* mutation */' linux/lx_patch.c
}
mut_check() {
    local out
    out=$(build/test/test_linux 2>&1)
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: test_linux/reset_equals_template' <<<"$out" && return 1
    return 0
}
