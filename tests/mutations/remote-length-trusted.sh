# tests/mutations/remote-length-trusted.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="a whole GET no longer refuses a Content-Length beyond its object's cap (remote/rm_http.c rm_get: no CURLOPT_MAXFILESIZE_LARGE), so a store announcing 100000000 bytes for a reference is read until it stops or trickles; remote_hostile.sh's liar-ref must fail"
MUT_BUILD="bin/zerg bin/guests/zergling.elf"
MUT_TIMEOUT=400
mut_apply() {
    local pat='CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max'
    if ! grep -qF "$pat" remote/rm_http.c; then
        echo "mut_apply: '$pat' not found in remote/rm_http.c" >&2
        return 1
    fi
    sed -i 's/CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max/CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)0 \/* mutation *\//' remote/rm_http.c
    grep -qF '(curl_off_t)0 /* mutation */' remote/rm_http.c
}
mut_check() {
    local out
    out=$(bash tests/sys/remote_hostile.sh 2>&1)
    printf '%s\n' "$out" | grep -E '^(PASS|FAIL): remote_hostile/zerg/liar' >&2
    grep -q '^FAIL: remote_hostile/zerg/liar-ref' <<<"$out" && return 1
    return 0
}
