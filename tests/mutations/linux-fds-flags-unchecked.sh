# tests/mutations/linux-fds-flags-unchecked.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="the monitor takes back any flags the guest wrote into an open file of the view or a device (linux/lx_file.c: lx_file_sound, view_check); linux.sh's forged-positions-flags-* (LINUX_ONLY=forge: F_GETFL, F_SETFL, read, write after forged flags) must fail"
MUT_BUILD="bin/zerg bin/zerg-asan bin/linux-tests/forge.glibc bin/linux-tests/forge.musl bin/linux-tests/forgepos.glibc bin/linux-tests/forgepos.musl"
MUT_TIMEOUT=600
mut_apply() {
    local l1='    return ops && !(f->flags & ~LX_O_KEPT) && (f->flags & O_ACCMODE) != 3u && !f->pad &&'
    local l2='    if (!e || (e->mode & LXV_S_IFMT) != want || (f->flags & O_ACCMODE) != O_RDONLY || f->port ||'
    grep -qxF "$l1" linux/lx_file.c && grep -qxF "$l2" linux/lx_file.c || return 1
    sed -i -e 's/^    return ops \&\& !(f->flags \& ~LX_O_KEPT) \&\& (f->flags \& O_ACCMODE) != 3u \&\& !f->pad \&\&$/    return ops \&\& \/* mutation *\/ !f->pad \&\&/' \
        -e 's/^    if (!e || (e->mode \& LXV_S_IFMT) != want || (f->flags \& O_ACCMODE) != O_RDONLY || f->port ||$/    if (!e || (e->mode \& LXV_S_IFMT) != want || \/* mutation *\/ f->port ||/' linux/lx_file.c
    [ "$(grep -c '/\* mutation \*/' linux/lx_file.c)" = 2 ]
}
mut_check() {
    local out
    out=$(LINUX_ONLY=forge bash tests/sys/linux.sh 2>&1)
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: zerg/linux/forged-positions-flags-glibc' <<<"$out" &&
        grep -q '^FAIL: zerg/linux/forged-positions-flags-musl' <<<"$out" && return 1
    return 0
}
