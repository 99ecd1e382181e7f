# tests/mutations/linux-files-table-unchecked.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="a template's open-file table is not checked against its descriptors (linux/lx_file.c: lx_files_ok accepts open files nobody names and descriptors naming free ones); test_linux's open_files_unsound_refused must fail"
MUT_BUILD="build/test/test_linux"
MUT_TIMEOUT=300
mut_apply() {
    local l1='        if (!lx_file_sound(lx, f, v) || !lx_file_refs(lx, i)) {'
    local l2='        if (i && (i > LX_NFILE || lx->file[i - 1].kind == ZG_LINUX_FD_FREE)) {'
    grep -qxF "$l1" linux/lx_file.c && grep -qxF "$l2" linux/lx_file.c || return 1
    sed -i -e 's/^        if (!lx_file_sound(lx, f, v) || !lx_file_refs(lx, i)) {$/        if (!lx_file_sound(lx, f, v)) { \/* mutation *\//' \
        -e 's/^        if (i \&\& (i > LX_NFILE || lx->file\[i - 1\].kind == ZG_LINUX_FD_FREE)) {$/        if (i > LX_NFILE) { \/* mutation *\//' linux/lx_file.c
    [ "$(grep -c '/\* mutation \*/' linux/lx_file.c)" = 2 ]
}
mut_check() {
    build/test/test_linux
}
