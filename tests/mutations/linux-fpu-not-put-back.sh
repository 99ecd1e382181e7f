# tests/mutations/linux-fpu-not-put-back.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="the Linux runtime's entry stops putting the program's FPU state back after an exit (linux/rt/entry.S) while the monitor still leaves the FPU to it on a pooled reset, so a request starts with the MXCSR the last one left; linux.sh's linux/fpu-control-reset-pooled-* must fail"
MUT_BUILD="bin/zerg bin/linux-tests/fpu.glibc bin/linux-tests/fpu.dyn"
MUT_TIMEOUT=300
mut_apply() {
    if ! grep -qF 'fxrstor64 ZG_LINUX_FPU_GPA' linux/rt/entry.S; then
        echo "mut_apply: 'fxrstor64 ZG_LINUX_FPU_GPA' not found in linux/rt/entry.S" >&2
        return 1
    fi
    sed -i 's/^    fxrstor64 ZG_LINUX_FPU_GPA$/    nop \/* mutation: FPU not put back *\//' linux/rt/entry.S
    ! grep -qF 'fxrstor64' linux/rt/entry.S
}
mut_check() {
    local out
    out=$(LINUX_ONLY=fpu bash tests/sys/linux.sh 2>&1)
    printf '%s\n' "$out" | grep -E '^(PASS|FAIL): linux/fpu' >&2
    grep -q '^FAIL: linux/fpu-control-reset-pooled' <<<"$out" && return 1
    return 0
}
