# The fuzz tier's seed check: a seed the loader refuses (a guest ELF whose ABI
# note names a version this monitor does not speak, like the stale ABI v1
# seeds were) must fail tests/run.sh's fuzz tier, not fuzz nothing and PASS.
MUT_DESC="an ELF seed the loader refuses (badabi.elf) among the fuzz seeds; run.sh's fuzz/fuzz_elf/seeds check must fail"
MUT_BUILD="build/fuzz-seeds/.made build/fuzz/fuzz_elf"
MUT_TIMEOUT=200
mut_apply() {
    grep -q '^FUZZ_SEED_ELFS := \$(BIN)/guests/zergling.elf' Makefile || return 1
    sed -i 's|^FUZZ_SEED_ELFS := $(BIN)/guests/zergling.elf|FUZZ_SEED_ELFS := $(BIN)/test-guests/badabi.elf $(BIN)/guests/zergling.elf|' Makefile
    rm -rf build/fuzz-seeds
}
mut_check() {
    local out
    out=$(FUZZ_SECONDS=1 tests/run.sh --only fuzz 2>&1) # read whole, so the guard always gets to clean up
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: fuzz/fuzz_elf/seeds' <<<"$out" && return 1
    return 0
}
