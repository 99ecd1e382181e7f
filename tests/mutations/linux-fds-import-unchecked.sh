# tests/mutations/linux-fds-import-unchecked.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="the monitor takes back any descriptor and open-file entry the guest wrote, not only the files, directories and devices the runtime may make (linux/lx_persona.c: import_fds); linux.sh's forged-descriptors must fail"
MUT_BUILD="bin/zerg bin/zerg-asan bin/linux-tests/forge.glibc bin/linux-tests/forge.musl"
MUT_TIMEOUT=600
mut_apply() {
    local l1='        if (zg_linux_fd_runtime(n.kind) && lx_file_sound(lx, &n, &v))'
    local l2='        } else if (n.file <= LX_NFILE && zg_linux_fd_runtime(lx->file[n.file - 1].kind)) {'
    local l3='        if (monitors(m))'
    grep -qxF "$l1" linux/lx_persona.c && grep -qxF "$l2" linux/lx_persona.c &&
        grep -qxF "$l3" linux/lx_persona.c || return 1
    sed -i -e 's/^        if (zg_linux_fd_runtime(n.kind) \&\& lx_file_sound(lx, \&n, \&v))$/        if ((void)v, 1) \/* mutation: accepted *\//' \
        -e 's/^        } else if (n.file <= LX_NFILE \&\& zg_linux_fd_runtime(lx->file\[n.file - 1\].kind)) {$/        } else if (n.file <= LX_NFILE) { \/* mutation *\//' \
        -e 's/^        if (monitors(m))$/        if (0) \/* mutation *\//' linux/lx_persona.c
    [ "$(grep -c '/\* mutation' linux/lx_persona.c)" = 3 ]
}
mut_check() {
    local out
    out=$(LINUX_ONLY=forge bash tests/sys/linux.sh 2>&1)
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: zerg/linux/forged-descriptors' <<<"$out" && return 1
    return 0
}
