# tests/mutations/linux-template-ignores-threads.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="the template point is taken while other threads can still run (linux/lx_persona.c: serve_one no longer lets them run first), so their start-up runs again in every instance; linux.sh's template-point-waits-for-threads-* (LINUX_ONLY=threads) must fail"
MUT_BUILD="bin/zerg bin/linux-tests/tmplthreads.glibc bin/linux-tests/tmplthreads.musl"
MUT_TIMEOUT=600
mut_apply() {
    local l1='        if (lx_others_runnable(lx))'
    grep -qxF "$l1" linux/lx_persona.c || return 1
    sed -i 's/^        if (lx_others_runnable(lx))$/        if (0 \&\& lx_others_runnable(lx)) \/* mutation *\//' linux/lx_persona.c
    grep -qF '/* mutation */' linux/lx_persona.c
}
mut_check() {
    local out
    out=$(LINUX_ONLY=threads bash tests/sys/linux.sh 2>&1)
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: linux/template-point-waits-for-threads-glibc' <<<"$out" && return 1
    return 0
}
