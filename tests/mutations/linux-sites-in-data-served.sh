# tests/mutations/linux-sites-in-data-served.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="call sites are rewritten anywhere in the image or the mmap area, data included (linux/lx_patch.c: lx_code_site); linux.sh's site-shaped-data-* (LINUX_ONLY=sites: natively, fresh and pooled) must fail"
MUT_BUILD="bin/zerg bin/zerg-asan bin/linux-tests/datasite.glibc bin/linux-tests/datasite.pie bin/linux-tests/datasite.musl bin/linux-tests/datasite.dyn"
MUT_TIMEOUT=600
mut_apply() {
    local sig='int lx_code_site(const struct lx_state *lx, uint64_t rip)'
    grep -qxF "$sig" linux/lx_patch.c || return 1
    sed -i '/^int lx_code_site(const struct lx_state \*lx, uint64_t rip)$/{n;s/^{$/{ uint64_t mr[2][2]; lx_code_ranges(lx, mr); if ((rip >= mr[0][0] \&\& rip < mr[0][1]) || (rip >= mr[1][0] \&\& rip < mr[1][1])) return 1; \/* mutation *\//}' linux/lx_patch.c
    grep -qF '/* mutation */' linux/lx_patch.c
}
mut_check() {
    local out
    out=$(LINUX_ONLY=sites bash tests/sys/linux.sh 2>&1)
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: linux/site-shaped-data-pooled-glibc' <<<"$out" &&
        grep -q '^FAIL: zerg/linux/site-shaped-data-left-alone-glibc' <<<"$out" && return 1
    return 0
}
