# tests/mutations/linux-dup2-skips-close.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="dup2 and dup3 overwrite an open target descriptor without closing it (linux/lx_file.c: lx_fd_dup), so an epoll instance under it is never released; linux.sh's files-* (LINUX_ONLY=files: 12 epoll instances closed by dup2 one after another) must fail"
MUT_BUILD="bin/zerg bin/zerg-asan bin/linux-tests/files.glibc bin/linux-tests/files.musl"
MUT_TIMEOUT=600
mut_apply() {
    local l1='        (void)lx_fd_close(lx, to);'
    grep -qxF "$l1" linux/lx_file.c || return 1
    sed -i 's|^        (void)lx_fd_close(lx, to);$|        (void)0; /* mutation: not closed */|' linux/lx_file.c
    grep -qF '/* mutation: not closed */' linux/lx_file.c
}
mut_check() {
    local out
    out=$(LINUX_ONLY=files bash tests/sys/linux.sh 2>&1)
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: zerg/linux/files-glibc' <<<"$out" && return 1
    return 0
}
