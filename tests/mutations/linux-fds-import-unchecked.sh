# tests/mutations/linux-fds-import-unchecked.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="the monitor takes back any descriptor entry the guest wrote, not only the files, directories and devices the runtime may make (linux/lx_persona.c: import_fds); linux.sh's forged-descriptors must fail"
MUT_BUILD="bin/zerg bin/zerg-asan bin/linux-tests/forge.glibc bin/linux-tests/forge.musl"
MUT_TIMEOUT=600
mut_apply() {
    local line='                continue; /* not something the runtime may make: ignored */'
    grep -qxF "$line" linux/lx_persona.c || return 1
    sed -i 's|^                continue; /\* not something the runtime may make: ignored \*/$|                (void)0; /* mutation: accepted */|' linux/lx_persona.c
    local line2='        if (m->kind != ZG_LINUX_FD_FREE && !zg_linux_fd_runtime(m->kind))'
    grep -qxF "$line2" linux/lx_persona.c || return 1
    sed -i 's|^        if (m->kind != ZG_LINUX_FD_FREE \&\& !zg_linux_fd_runtime(m->kind))$|        if (0) /* mutation */|' linux/lx_persona.c
    ! grep -qxF "$line" linux/lx_persona.c
}
mut_check() {
    local out
    out=$(LINUX_ONLY=forge bash tests/sys/linux.sh 2>&1)
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: zerg/linux/forged-descriptors' <<<"$out" && return 1
    return 0
}
