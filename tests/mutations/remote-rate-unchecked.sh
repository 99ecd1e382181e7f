# tests/mutations/remote-rate-unchecked.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="a remote transfer's progress callback never stops it (remote/rm_http.c on_progress: no deadline, no minimum rate), so a store that stalls or trickles holds a pull until libcurl's backstop; remote_hostile.sh's trickle-* and stall-* must fail"
MUT_BUILD="bin/zerg bin/guests/zergling.elf"
MUT_TIMEOUT=400
mut_apply() {
    local line='    return b->late != RM_IN_TIME;'
    if ! grep -qxF "$line" remote/rm_http.c; then
        echo "mut_apply: '$line' not found in remote/rm_http.c" >&2
        return 1
    fi
    sed -i 's/^    return b->late != RM_IN_TIME;$/    return 0; \/* mutation: never late *\//' remote/rm_http.c
    grep -qF 'mutation: never late' remote/rm_http.c
}
mut_check() {
    local out
    out=$(bash tests/sys/remote_hostile.sh 2>&1)
    printf '%s\n' "$out" | grep -E '^(PASS|FAIL): remote_hostile/zerg/(trickle|stall)' >&2
    grep -q '^FAIL: remote_hostile/zerg/trickle-manifest' <<<"$out" && return 1
    return 0
}
