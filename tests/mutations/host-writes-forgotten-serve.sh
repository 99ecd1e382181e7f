# tests/mutations/host-writes-forgotten-serve.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="RECV and READY_RECV stop marking the request bytes they write into guest memory (monitor/hypercall.c), so a pooled VM tracking by KVM's dirty log (ZERG_DIRTY_LOG=kvm; the host's page table sees host writes itself) keeps an earlier request's host-written pages; serve.sh's serve/pooled-isolation* tests must fail"
MUT_BUILD="bin/zerg bin/guests/zergling.elf bin/test-guests/servetest.elf" # make targets the check needs
MUT_TIMEOUT=300                                                           # seconds
mut_apply() { # edits files in the current directory; fails loudly if the pattern is not found
    local call='zg_guest_mark(in, gpa, (uint64_t)ret);'
    if ! grep -qF "$call" monitor/hypercall.c; then
        echo "mut_apply: '$call' not found in monitor/hypercall.c" >&2
        return 1
    fi
    # A no-op rather than a deleted line: see host-writes-forgotten-reset.sh.
    sed -i 's/zg_guest_mark(in, gpa, (uint64_t)ret);/(void)0; \/* mutation: RECV bytes not marked *\//' \
        monitor/hypercall.c
    if grep -qF "$call" monitor/hypercall.c; then
        echo "mut_apply: '$call' still in monitor/hypercall.c" >&2
        return 1
    fi
}
mut_check() { # runs the guard; exit 0 = guard passed (bad, under the mutation)
    local out
    # The pooled isolation tests only (~3 s); the whole output is read before
    # it is searched, so serve.sh always gets to stop its servers.
    out=$(ZERG_DIRTY_LOG=kvm SERVE_ONLY=isolation bash tests/sys/serve.sh 2>&1)
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: serve/pooled-isolation' <<<"$out" && return 1
    return 0
}
