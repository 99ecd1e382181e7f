# tests/mutations/linux-sparse-frame-reused.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="a free frame of the sparse mmap area goes to any region, whichever region it backed before in this VM (linux/lx_sparse.c: pick), so kvm_pvm's shadow MMU, which keeps the old region's mapping after a pooled reset, aliases two regions; linux.sh's linux/sparse-pooled-reset-* must fail"
MUT_BUILD="bin/zerg bin/linux-tests/sparse.glibc bin/linux-tests/sparse.pie bin/linux-tests/sparse.musl bin/linux-tests/sparse.dyn"
MUT_TIMEOUT=300
mut_apply() {
    if ! grep -qF 'if (!lx->frame_owner[i] && lowest < 0)' linux/lx_sparse.c; then
        echo "mut_apply: the owner test of pick() not found in linux/lx_sparse.c" >&2
        return 1
    fi
    sed -i 's/if (!lx->frame_owner\[i\] && lowest < 0)/if (lowest < 0) \/* mutation: any owner *\//' linux/lx_sparse.c
    grep -qF 'mutation: any owner' linux/lx_sparse.c
}
mut_check() {
    local out
    out=$(LINUX_ONLY=sparse bash tests/sys/linux.sh 2>&1)
    printf '%s\n' "$out" | grep -E '^(PASS|FAIL): linux/sparse-pooled' >&2
    grep -q '^FAIL: linux/sparse-pooled-reset' <<<"$out" && return 1
    return 0
}
