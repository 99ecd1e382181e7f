# test_pagecache_io's two-writer test must show that the writers overlapped:
# with the second writer started only after the first is done, it must fail.
MUT_DESC="the second writer starts 0.5 s after the first (no overlap); test_pagecache_io/two_processes_write_at_once must fail"
MUT_BUILD="build/test/test_pagecache_io"
MUT_TIMEOUT=120
mut_apply() {
    grep -q 'bad |= read(go\[0\], &c1, 1) != 0; /\* wait for the start \*/' tests/unit/test_pagecache_io.c || return 1
    sed -i 's|bad \|= read(go\[0\], &c1, 1) != 0; /\* wait for the start \*/|bad \|= read(go[0], \&c1, 1) != 0; usleep(500000u * (unsigned)k);|' tests/unit/test_pagecache_io.c
}
mut_check() {
    local out
    out=$(build/test/test_pagecache_io 2>&1) # read whole, so the guard always gets to clean up
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: test_pagecache_io/two_processes_write_at_once' <<<"$out" && return 1
    return 0
}
