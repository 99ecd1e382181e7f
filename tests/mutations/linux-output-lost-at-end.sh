# tests/mutations/linux-output-lost-at-end.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="the Linux personality no longer sends the response bytes its guest-side runtime buffered when a run ends without a call (linux/lx_persona.c: lx_end); test_linux/output_sent_after_fault must fail"
MUT_BUILD="bin/linux-tests/outorder.glibc build/test/test_linux" # make targets the check needs
MUT_TIMEOUT=300                                                  # seconds
mut_apply() { # edits files in the current directory; fails loudly if the pattern is not found
    local call='        lx_flush(in); /* a program killed or faulting: what it wrote is sent */'
    if ! grep -qxF "$call" linux/lx_persona.c; then
        echo "mut_apply: lx_end's lx_flush not found in linux/lx_persona.c" >&2
        return 1
    fi
    sed -i 's|^        lx_flush(in); /\* a program killed or faulting: what it wrote is sent \*/$|        (void)0; /* mutation: buffered output lost */|' linux/lx_persona.c
    if grep -qxF "$call" linux/lx_persona.c; then
        echo "mut_apply: lx_end's lx_flush still in linux/lx_persona.c" >&2
        return 1
    fi
}
mut_check() { # runs the guard; exit 0 = guard passed (bad, under the mutation)
    local out
    out=$(build/test/test_linux 2>&1) # whole output first: no SIGPIPE into the test
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: test_linux/output_sent_after_fault' <<<"$out" && return 1
    return 0
}
