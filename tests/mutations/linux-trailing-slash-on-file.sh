# tests/mutations/linux-trailing-slash-on-file.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="a path ending in '/' after a file resolves to the file instead of ENOTDIR (linux/lx_view.c: lxv_resolve, the monitor's and the runtime's); linux.sh's files-* (LINUX_ONLY=files: open, stat, lstat of 'a.txt/', 'link/', 'empty//' against the host kernel) must fail"
MUT_BUILD="bin/zerg bin/zerg-asan bin/linux-tests/files.glibc bin/linux-tests/files.pie bin/linux-tests/files.musl bin/linux-tests/files.dyn"
MUT_TIMEOUT=600
mut_apply() {
    local line='    if (slash && lxv_lookup(v, out, &n) == 0 && !lxv_is_dir(v, &n))'
    grep -qxF "$line" linux/lx_view.c || return 1
    sed -i 's/^    if (slash \&\& lxv_lookup(v, out, \&n) == 0 \&\& !lxv_is_dir(v, \&n))$/    if (0 \&\& slash \&\& lxv_lookup(v, out, \&n) == 0 \&\& !lxv_is_dir(v, \&n)) \/* mutation *\//' linux/lx_view.c
    grep -qF '/* mutation */' linux/lx_view.c
}
mut_check() {
    local out
    out=$(LINUX_ONLY=files bash tests/sys/linux.sh 2>&1)
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: zerg/linux/files-glibc' <<<"$out" && grep -q '^FAIL: zerg/linux/files-dyn' <<<"$out" && return 1
    return 0
}
