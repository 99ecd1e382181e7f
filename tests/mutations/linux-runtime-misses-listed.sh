# tests/mutations/linux-runtime-misses-listed.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="the guest-side runtime's table (linux/rt/rt.c: RT_CALLS) loses prctl, which linux/lx_calls.h marks as served in the guest; the runtime's build (its _Static_assert over the list) must fail"
MUT_BUILD=""
MUT_TIMEOUT=300
mut_apply() {
    grep -qE '^    RT\(prctl, sys_zero\) +\\$' linux/rt/rt.c || return 1
    grep -qE '^CALL\(prctl, [a-z_0-9]+, [A-Z]+, "always",' linux/lx_calls.h || return 1
    sed -i '/^    RT(prctl, sys_zero) *\\$/d' linux/rt/rt.c
    ! grep -qF 'RT(prctl,' linux/rt/rt.c
}
mut_check() {
    local out
    if out=$(make --no-print-directory build/lxrt/rt.bin 2>&1); then
        printf '%s\n' "$out" >&2
        echo "the runtime built without a row the list marks"
        return 0
    fi
    printf '%s\n' "$out" >&2
    if grep -q 'marks a call as served in the guest that linux/rt/rt.c does not serve' <<<"$out"; then
        echo "FAIL: linux/runtime-table-checked: linux/lx_calls.h marks prctl, the runtime does not serve it"
        return 1
    fi
    echo "the runtime's build failed, but not at the check"
    return 0
}
