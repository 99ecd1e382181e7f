# tests/run.sh against a missing tier: without the ASan+UBSan unit tests built,
# the asan tier must fail (it once printed "0 passed, 0 failed").
MUT_DESC="the ASan+UBSan unit test binaries are gone; tests/run.sh --only asan must fail"
MUT_BUILD=""
MUT_TIMEOUT=120
mut_apply() {
    [ -d build/test-asan ] || return 1
    rm -rf build/test-asan
}
mut_check() {
    tests/run.sh --only asan
}
