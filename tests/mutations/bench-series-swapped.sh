# zerg bench with two series swapped: the first-byte figures of fresh and
# pooled instances reported under each other's JSON keys. Every key is still
# there, so only the ordering checks of template/bench-json can catch it.
MUT_DESC="zerg bench reports first_byte_fresh_us and first_byte_pooled_us swapped; template/bench-json must fail"
MUT_BUILD="bin/zerg"
MUT_TIMEOUT=300
mut_apply() {
    local f=tools/cmd_bench.c
    grep -q '\.key = "first_byte_fresh_us"' "$f" && grep -q '\.key = "first_byte_pooled_us"' "$f" || return 1
    sed -i -e 's/\.key = "first_byte_fresh_us"/.key = "@SWAP@"/' \
        -e 's/\.key = "first_byte_pooled_us"/.key = "first_byte_fresh_us"/' \
        -e 's/\.key = "@SWAP@"/.key = "first_byte_pooled_us"/' "$f"
    grep -q 'FB_FRESH\] = (struct series){\.key = "first_byte_pooled_us"' "$f"
}
mut_check() {
    bash tests/sys/template.sh | tee /dev/stderr | grep -q '^FAIL: template/bench-json' && return 1
    return 0
}
