# tests/mutations/fpu-not-put-back.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="the guest runtime's zg_ready stops putting its FPU state back after READY (guest/rt/hypercall.c) while still telling the monitor it does (ZG_READY_SELF_FPU), so a pooled VM's next request starts with the x87/SSE control state the last one left; serve.sh's serve/pooled-isolation* tests must fail"
MUT_BUILD="bin/zerg bin/guests/zergling.elf bin/test-guests/servetest.elf"
MUT_TIMEOUT=300
mut_apply() {
    local line='    __asm__ volatile("fxrstor64 %0" : : "m"(ready_fpu) : "memory");'
    if ! grep -qF "$line" guest/rt/hypercall.c; then
        echo "mut_apply: the fxrstor64 line is not in guest/rt/hypercall.c" >&2
        return 1
    fi
    sed -i 's/    __asm__ volatile("fxrstor64 %0" : : "m"(ready_fpu) : "memory");/    (void)ready_fpu; \/* mutation: FPU not put back *\//' guest/rt/hypercall.c
    ! grep -qF 'fxrstor64' guest/rt/hypercall.c
}
mut_check() {
    local out
    out=$(SERVE_ONLY=isolation bash tests/sys/serve.sh 2>&1)
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: serve/pooled-isolation' <<<"$out" && return 1
    return 0
}
