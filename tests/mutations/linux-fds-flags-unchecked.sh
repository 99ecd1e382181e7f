# tests/mutations/linux-fds-flags-unchecked.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="the monitor takes back any flags the guest wrote into a descriptor of the view or a device (linux/lx_persona.c: fd_fields_ok); linux.sh's forged-positions-flags-* (LINUX_ONLY=forge: F_GETFL, F_SETFL, read, write after forged flags) must fail"
MUT_BUILD="bin/zerg bin/zerg-asan bin/linux-tests/forge.glibc bin/linux-tests/forge.musl bin/linux-tests/forgepos.glibc bin/linux-tests/forgepos.musl"
MUT_TIMEOUT=600
mut_apply() {
    local l1='    if ((n->flags & ~LX_O_KEPT) || mode == 3u)'
    grep -qxF "$l1" linux/lx_persona.c || return 1
    sed -i -e 's/^    if ((n->flags \& ~LX_O_KEPT) || mode == 3u)$/    if (0 \&\& mode) \/* mutation *\//' \
        -e 's/^        return mode == 0 \&\& /        return /' linux/lx_persona.c
    grep -qF 'if (0 && mode) /* mutation */' linux/lx_persona.c && ! grep -qF 'return mode == 0' linux/lx_persona.c
}
mut_check() {
    local out
    out=$(LINUX_ONLY=forge bash tests/sys/linux.sh 2>&1)
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: zerg/linux/forged-positions-flags-glibc' <<<"$out" &&
        grep -q '^FAIL: zerg/linux/forged-positions-flags-musl' <<<"$out" && return 1
    return 0
}
