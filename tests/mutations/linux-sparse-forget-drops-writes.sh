# tests/mutations/linux-sparse-forget-drops-writes.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="when KVM is made to forget its mappings to free frames (linux/lx_sparse.c: forget), a free frame the program wrote through the shadow's old mapping of its region is freed as if it held zeros, so the next region given it reads the old region's bytes; linux.sh's linux/sparse-pooled-reset-* must fail"
MUT_BUILD="bin/zerg bin/linux-tests/sparse.glibc bin/linux-tests/sparse.pie bin/linux-tests/sparse.musl bin/linux-tests/sparse.dyn"
MUT_TIMEOUT=300
mut_apply() {
    if ! grep -qF 'if (all_zero(in->mem + gpa, MIB2))' linux/lx_sparse.c; then
        echo "mut_apply: the content test of forget() not found in linux/lx_sparse.c" >&2
        return 1
    fi
    sed -i 's/if (all_zero(in->mem + gpa, MIB2))/if (1 || all_zero(in->mem + gpa, MIB2)) \/* mutation *\//' linux/lx_sparse.c
    grep -qF '1 || all_zero' linux/lx_sparse.c
}
mut_check() {
    local out
    out=$(LINUX_ONLY=sparse bash tests/sys/linux.sh 2>&1)
    printf '%s\n' "$out" | grep -E '^(PASS|FAIL): linux/sparse-pooled' >&2
    grep -q '^FAIL: linux/sparse-pooled-reset' <<<"$out" && return 1
    return 0
}
