# tests/mutations/verify-entry-key-unchecked.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="cache verify no longer compares an index entry's key with the intact record at its offset (pagecache/pc_verify.c check_entries), so a damaged key in the index goes unnamed; pagecache_corrupt.sh's index_field_key_names_the_index must fail"
MUT_BUILD="bin/zerg"
MUT_TIMEOUT=120
mut_apply() {
    local pat='const char *field = !pc_key_eq(&r.key, &k) ? "key"'
    if ! grep -qF "$pat" pagecache/pc_verify.c; then
        echo "mut_apply: '$pat' not found in pagecache/pc_verify.c" >&2
        return 1
    fi
    sed -i 's/const char \*field = !pc_key_eq(&r.key, &k) ? "key"/const char *field = 0 \/* mutation *\/ ? "key"/' pagecache/pc_verify.c
    grep -qF '0 /* mutation */ ? "key"' pagecache/pc_verify.c
}
mut_check() {
    local out
    out=$(bash tests/sys/pagecache_corrupt.sh 2>&1)
    printf '%s\n' "$out" | grep -E '^(PASS|FAIL): pagecache_corrupt/index_field' >&2
    grep -q '^FAIL: pagecache_corrupt/index_field_key_names_the_index' <<<"$out" && return 1
    return 0
}
