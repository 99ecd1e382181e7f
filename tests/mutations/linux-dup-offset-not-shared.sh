# tests/mutations/linux-dup-offset-not-shared.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="dup gives the new descriptor a copy of the open file instead of the file itself (linux/lx_file.c: lx_fd_dup), so dup'd descriptors keep separate positions and flags; linux.sh's files-* (LINUX_ONLY=files: files.c natively and under zerg) must fail"
MUT_BUILD="bin/zerg bin/zerg-asan bin/linux-tests/files.glibc bin/linux-tests/files.musl"
MUT_TIMEOUT=600
mut_apply() {
    local l1='    uint16_t file = lx->fd[from].file;'
    grep -qxF "$l1" linux/lx_file.c || return 1
    sed -i 's|^    uint16_t file = lx->fd\[from\].file;$|    uint16_t file = lx->fd[from].file; /* mutation: a copy */ for (unsigned j = 0; j < LX_NFILE; j++) if (!lx->file[j].kind) { lx->file[j] = lx->file[file - 1]; file = (uint16_t)(j + 1); break; }|' linux/lx_file.c
    grep -qF '/* mutation: a copy */' linux/lx_file.c
}
mut_check() {
    local out
    out=$(LINUX_ONLY=files bash tests/sys/linux.sh 2>&1)
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: zerg/linux/files-glibc' <<<"$out" && return 1
    return 0
}
