# The Linux personality's pointer checks: with lx_uptr handing out any
# address (wrapped into guest memory) instead of refusing what lies outside
# the program's regions, the system-call fuzzer's wild-pointer checks must
# fail (calls that must be EFAULT succeed).
MUT_DESC="lx_uptr maps every address into guest memory instead of EFAULT; tests/sys/linux.sh's syscall-fuzzer must fail"
MUT_BUILD="bin/zerg bin/zerg-asan bin/linux-tests/scfuzz.glibc"
MUT_TIMEOUT=600
mut_apply() {
    local line='    return translate(in, va, len, 0);'
    grep -qxF "$line" linux/lx_persona.c || return 1
    # Only lx_uptr's; lx_uwptr's passes 1.
    sed -i 's|^    return translate(in, va, len, 0);$|    return (void)translate, in->mem + (va % (in->mem_size - len)); /* mutation */|' linux/lx_persona.c
    grep -qF '/* mutation */' linux/lx_persona.c
}
mut_check() {
    local out
    out=$(LINUX_ONLY=fuzz LINUX_FUZZ_CALLS=20000 LINUX_FUZZ_CALLS_ASAN=10000 bash tests/sys/linux.sh 2>&1)
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: zerg/linux/syscall-fuzzer' <<<"$out" && return 1
    return 0
}
