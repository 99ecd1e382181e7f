# tests/mutations/host-writes-forgotten-reset.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="RECV and READY_RECV stop marking the request bytes they write into guest memory (monitor/hypercall.c), so a pooled reset by KVM's dirty log (ZERG_DIRTY_LOG=kvm; the host's page table sees host writes itself) leaves pages only the host wrote; test_restore/reset_equals_template_kvm_log must fail"
MUT_BUILD="bin/guests/zergling.elf build/test/test_restore" # make targets the check needs
MUT_TIMEOUT=300                                             # seconds
mut_apply() { # edits files in the current directory; fails loudly if the pattern is not found
    local call='zg_guest_mark(in, gpa, (uint64_t)ret);'
    if ! grep -qF "$call" monitor/hypercall.c; then
        echo "mut_apply: '$call' not found in monitor/hypercall.c" >&2
        return 1
    fi
    # The call becomes a no-op rather than being deleted: deleting the line
    # would leave its `if` guarding the `return` below it, a fall-through that
    # -Werror refuses, and the mutant would never build.
    sed -i 's/zg_guest_mark(in, gpa, (uint64_t)ret);/(void)0; \/* mutation: RECV bytes not marked *\//' \
        monitor/hypercall.c
    if grep -qF "$call" monitor/hypercall.c; then
        echo "mut_apply: '$call' still in monitor/hypercall.c" >&2
        return 1
    fi
}
mut_check() { # runs the guard; exit 0 = guard passed (bad, under the mutation)
    local out
    out=$(ZERG_DIRTY_LOG=kvm build/test/test_restore 2>&1) # whole output first: no SIGPIPE into the test
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: test_restore/reset_equals_template_kvm_log' <<<"$out" && return 1
    return 0
}
