# tests/mutations/linux-futex-wake-nobody.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="FUTEX_WAKE wakes no waiter (linux/lx_thread.c: lx_futex_wake), so threads waiting on a lock, a condition or a join sleep to the deadline; linux.sh's threads checks (LINUX_ONLY=threads) must fail"
MUT_BUILD="bin/zerg bin/linux-tests/tmplthreads.glibc bin/linux-tests/tmplthreads.musl"
MUT_TIMEOUT=900
mut_apply() {
    local l1='        if (t->state == LX_T_FUTEX && t->wait.futex == uaddr && (t->wait.bitset & bitset)) {'
    grep -qxF "$l1" linux/lx_thread.c || return 1
    sed -i 's/^        if (t->state == LX_T_FUTEX \&\& t->wait.futex == uaddr \&\& (t->wait.bitset \& bitset)) {$/        if (0 \&\& t->wait.futex == uaddr \&\& bitset) { \/* mutation *\//' linux/lx_thread.c
    grep -qF '/* mutation */' linux/lx_thread.c
}
mut_check() {
    local out
    out=$(LINUX_ONLY=threads bash tests/sys/linux.sh 2>&1)
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: linux/' <<<"$out" && return 1
    return 0
}
