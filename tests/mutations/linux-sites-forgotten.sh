# tests/mutations/linux-sites-forgotten.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="a pooled Linux VM's reset no longer rewrites again the call sites it learned (linux/lx_load.c), so they trap after every reset; test_linux/sites_learned_survive_reset must fail"
MUT_BUILD="bin/linux-tests/sites.glibc build/test/test_linux" # make targets the check needs
MUT_TIMEOUT=300                                                # seconds
mut_apply() { # edits files in the current directory; fails loudly if the pattern is not found
    local call='    lx_patch_again(in, s);'
    if ! grep -qxF "$call" linux/lx_load.c; then
        echo "mut_apply: '$call' not found in linux/lx_load.c" >&2
        return 1
    fi
    sed -i 's/^    lx_patch_again(in, s);$/    (void)0; \/* mutation: learned sites forgotten *\//' linux/lx_load.c
    if grep -qxF "$call" linux/lx_load.c; then
        echo "mut_apply: '$call' still in linux/lx_load.c" >&2
        return 1
    fi
}
mut_check() { # runs the guard; exit 0 = guard passed (bad, under the mutation)
    local out
    out=$(build/test/test_linux 2>&1) # whole output first: no SIGPIPE into the test
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: test_linux/sites_learned_survive_reset' <<<"$out" && return 1
    return 0
}
