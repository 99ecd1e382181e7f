# tests/mutations/remote-map-cap-1gib.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="zg_remote_pull caps the map at 1 GiB (RM_OBJECT_MAX) instead of what its manifest's page count allows (remote/rm_pull.c), so a map streamed without end is buffered up to 1 GiB; remote_hostile.sh's endless-map must fail"
MUT_BUILD="bin/zerg bin/guests/zergling.elf"
MUT_TIMEOUT=400
mut_apply() {
    if ! grep -qF 'RM_MAP_MAX((uint64_t)t->npages)' remote/rm_pull.c; then
        echo "mut_apply: 'RM_MAP_MAX((uint64_t)t->npages)' not found in remote/rm_pull.c" >&2
        return 1
    fi
    sed -i 's/RM_MAP_MAX((uint64_t)t->npages)/RM_OBJECT_MAX \/* mutation: 1 GiB *\//' remote/rm_pull.c
    grep -qF 'mutation: 1 GiB' remote/rm_pull.c
}
mut_check() {
    local out
    out=$(bash tests/sys/remote_hostile.sh 2>&1)
    printf '%s\n' "$out" | grep -E '^(PASS|FAIL): remote_hostile/zerg/(endless|liar)-map' >&2
    grep -q '^FAIL: remote_hostile/zerg/endless-map' <<<"$out" && return 1
    return 0
}
