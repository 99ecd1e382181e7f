# tests/mutations/linux-sparse-owners-reset.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="a pooled reset takes the template's record of which region each frame of the sparse mmap area backed, not the VM's own (linux/lx_load.c: lx_sparse_keep_owners not called), so a frame a request gave a new region goes to another region in the next request while the shadow MMU still maps the first; linux.sh's linux/sparse-pooled-reset-* must fail"
MUT_BUILD="bin/zerg bin/linux-tests/sparse.glibc bin/linux-tests/sparse.pie bin/linux-tests/sparse.musl bin/linux-tests/sparse.dyn"
MUT_TIMEOUT=300
mut_apply() {
    if ! grep -qF 'lx_sparse_keep_owners(s, old);' linux/lx_load.c; then
        echo "mut_apply: the owners' carry-over not found in linux/lx_load.c" >&2
        return 1
    fi
    sed -i 's/lx_sparse_keep_owners(s, old);/(void)0; \/* mutation: the template'"'"'s owners *\//' linux/lx_load.c
    grep -qF "mutation: the template's owners" linux/lx_load.c
}
mut_check() {
    local out
    out=$(LINUX_ONLY=sparse bash tests/sys/linux.sh 2>&1)
    printf '%s\n' "$out" | grep -E '^(PASS|FAIL): linux/sparse-pooled' >&2
    grep -q '^FAIL: linux/sparse-pooled-reset' <<<"$out" && return 1
    return 0
}
