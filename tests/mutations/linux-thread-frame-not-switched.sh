# tests/mutations/linux-thread-frame-not-switched.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="a thread switch leaves the previous thread's call frame in guest memory (linux/lx_thread.c: load), so the next thread returns from another's call; linux.sh's threads checks (LINUX_ONLY=threads) must fail"
MUT_BUILD="bin/zerg bin/linux-tests/tmplthreads.glibc bin/linux-tests/tmplthreads.musl"
MUT_TIMEOUT=600
mut_apply() {
    local l1='    memcpy(f, &t->frame, sizeof(t->frame));'
    grep -qxF "$l1" linux/lx_thread.c || return 1
    sed -i 's|^    memcpy(f, &t->frame, sizeof(t->frame));$|    (void)f; /* mutation: the frame stays */|' linux/lx_thread.c
    grep -qF '/* mutation: the frame stays */' linux/lx_thread.c
}
mut_check() {
    local out
    out=$(LINUX_ONLY=threads bash tests/sys/linux.sh 2>&1)
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: linux/' <<<"$out" && return 1
    return 0
}
