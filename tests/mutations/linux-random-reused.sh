# tests/mutations/linux-random-reused.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="a restored or reset Linux instance keeps the template's idea that the runtime's randomness is fresh (linux/lx_load.c), so every instance hands out the template's bytes; test_linux/sites_learned_survive_reset must fail"
MUT_BUILD="bin/linux-tests/sites.glibc build/test/test_linux" # make targets the check needs
MUT_TIMEOUT=300                                                # seconds
mut_apply() { # edits files in the current directory; fails loudly if the pattern is not found
    local line='    s->rnd_fresh = 0; /* the template'"'"'s randomness is never handed out */'
    if ! grep -qxF "$line" linux/lx_load.c; then
        echo "mut_apply: the rnd_fresh reset not found in linux/lx_load.c" >&2
        return 1
    fi
    grep -vxF "$line" linux/lx_load.c >linux/lx_load.c.new && mv linux/lx_load.c.new linux/lx_load.c
    ! grep -qF 's->rnd_fresh = 0;' linux/lx_load.c
}
mut_check() { # runs the guard; exit 0 = guard passed (bad, under the mutation)
    local out
    out=$(build/test/test_linux 2>&1) # whole output first: no SIGPIPE into the test
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: test_linux/sites_learned_survive_reset: .*random bytes' <<<"$out" && return 1
    return 0
}
