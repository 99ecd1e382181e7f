# The page cache crash test must prove that its kills landed mid-write: with
# the writers always allowed to finish before the kill, it must fail.
MUT_DESC="the crash test's writers finish before every kill; pagecache_crash/kills_landed_mid_write must fail"
MUT_BUILD="bin/zerg"
MUT_TIMEOUT=300
mut_apply() {
    grep -q '^    kill -9 "${pids\[@\]}" 2>/dev/null$' tests/sys/pagecache_crash.sh || return 1
    sed -i 's/^    kill -9 "${pids\[@\]}" 2>\/dev\/null$/    wait "${pids[@]}"; kill -9 "${pids[@]}" 2>\/dev\/null/' tests/sys/pagecache_crash.sh
}
mut_check() {
    local out
    out=$(bash tests/sys/pagecache_crash.sh 2>&1) # read whole, so the guard always gets to clean up
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: pagecache_crash/kills_landed_mid_write' <<<"$out" && return 1
    return 0
}
