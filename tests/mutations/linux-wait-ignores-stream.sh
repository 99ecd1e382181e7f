# tests/mutations/linux-wait-ignores-stream.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="the scheduler's wait forgets the host descriptor a blocked call watches (linux/lx_sched.c: sched_wait), so a read of input that comes late waits for the deadline; linux.sh's read-waits-for-late-input must fail"
MUT_BUILD="bin/zerg bin/zerg-asan"
MUT_TIMEOUT=900
mut_apply() {
    local l1='        int n = poll(&p, w->host_fd >= 0 ? 1 : 0, ms < 0 ? 60000 : ms);'
    grep -qxF "$l1" linux/lx_sched.c || return 1
    sed -i 's|^        int n = poll(&p, w->host_fd >= 0 ? 1 : 0, ms < 0 ? 60000 : ms);$|        int n = poll(\&p, 0, ms < 0 ? 60000 : ms); /* mutation */|' linux/lx_sched.c
    grep -qF '/* mutation */' linux/lx_sched.c
}
mut_check() {
    local out
    out=$(LINUX_FUZZ_CALLS=1000 LINUX_FUZZ_CALLS_ASAN=1000 bash tests/sys/linux.sh 2>&1)
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: zerg/linux/read-waits-for-late-input' <<<"$out" && return 1
    return 0
}
