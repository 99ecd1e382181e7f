# The pointer check of the Linux personality's guest-side runtime (the calls
# it serves without an exit): with ok() accepting any address, the system-call
# fuzzer's wild-pointer checks of those calls (rt_sigaction, sigaltstack,
# writev, time...) must fail: the guest faults or a call that must be EFAULT
# succeeds.
MUT_DESC="linux/rt/rt.c's ok() accepts every address instead of handing the call to the monitor or EFAULT; tests/sys/linux.sh's syscall-fuzzer must fail"
MUT_BUILD="bin/zerg bin/zerg-asan bin/linux-tests/scfuzz.glibc"
MUT_TIMEOUT=600
mut_apply() {
    local line='    if (len == 0 || va + len < va)'
    grep -qxF "$line" linux/rt/rt.c || return 1
    sed -i 's/^    if (len == 0 || va + len < va)$/    if (va || len) return 1; \/* mutation *\/\n    if (len == 0 || va + len < va)/' linux/rt/rt.c
    grep -qF 'mutation' linux/rt/rt.c
}
mut_check() {
    local out
    out=$(LINUX_ONLY=fuzz LINUX_FUZZ_CALLS=20000 LINUX_FUZZ_CALLS_ASAN=10000 bash tests/sys/linux.sh 2>&1)
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: zerg/linux/syscall-fuzzer' <<<"$out" && return 1
    return 0
}
