# tests/mutations/linux-runtime-serves-unlisted.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="the guest-side runtime's table (linux/rt/rt.c: RT_CALLS) gains mmap, which linux/lx_calls.h does not mark as served in the guest; the runtime's build (its _Static_assert over the list) must fail"
MUT_BUILD=""
MUT_TIMEOUT=300
mut_apply() {
    local line='    RT(prctl, sys_zero)'
    grep -qE '^    RT\(prctl, sys_zero\) +\\$' linux/rt/rt.c || return 1
    grep -qE '^CALL\(mmap, [a-z_0-9]+, [A-Z]+, "",' linux/lx_calls.h || return 1
    sed -i "s/^$line \( *\)\\\\\$/$line \\1\\\\\\n    RT(mmap, sys_zero) \\/* mutation *\\/ \\\\/" linux/rt/rt.c
    grep -qF 'RT(mmap, sys_zero) /* mutation */' linux/rt/rt.c
}
mut_check() {
    local out
    if out=$(make --no-print-directory build/lxrt/rt.bin 2>&1); then
        printf '%s\n' "$out" >&2
        echo "the runtime built with a row the list does not mark"
        return 0
    fi
    printf '%s\n' "$out" >&2
    if grep -q 'serves mmap, which linux/lx_calls.h does not mark as served in the guest' <<<"$out"; then
        echo "FAIL: linux/runtime-table-checked: the runtime serves mmap, unmarked in linux/lx_calls.h"
        return 1
    fi
    echo "the runtime's build failed, but not at the check"
    return 0
}
