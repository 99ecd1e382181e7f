# tests/mutations/image-not-checked.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="zg_image_open stops checking a memory image it finds against the template (restorer/restore.c, image_matches), so bytes changed in the shared image file are served; template.sh's template/tampered-image-never-served must fail"
MUT_BUILD="bin/zerg bin/test-guests/snapcheck.elf bin/guests/zergling.elf bin/test-guests/abiv2.elf"
MUT_TIMEOUT=300
mut_apply() {
    local line='    const uint64_t size = t->npages * ZG_PAGE_SIZE;'
    if ! grep -qxF "$line" restorer/restore.c; then
        echo "mut_apply: '$line' not found in restorer/restore.c" >&2
        return 1
    fi
    sed -i 's/^    const uint64_t size = t->npages \* ZG_PAGE_SIZE;$/    if (t) return 0; \/* mutation: not checked *\/\n&/' restorer/restore.c
    grep -qF 'mutation: not checked' restorer/restore.c
}
mut_check() {
    local out
    out=$(bash tests/sys/template.sh 2>&1)
    printf '%s\n' "$out" | grep -E '^(PASS|FAIL): template/tampered' >&2
    grep -q '^FAIL: template/tampered-image-never-served' <<<"$out" && return 1
    return 0
}
