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
    bash tests/sys/pagecache_crash.sh | tee /dev/stderr | grep -q '^FAIL: pagecache_crash/kills_landed_mid_write' && return 1
    return 0
}
