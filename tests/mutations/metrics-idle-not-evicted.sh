# tests/mutations/metrics-idle-not-evicted.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="zerg serve's metrics listener refuses (resets) a new connection when its places are all taken instead of dropping the oldest client still sending its head (serve/side.c, on_metrics_accept), so idle connections hold GET /health down; serve.sh's serve/health-not-starved-by-idle-clients must fail"
MUT_BUILD="bin/zerg bin/guests/zergling.elf bin/test-guests/servetest.elf"
MUT_TIMEOUT=300
mut_apply() {
    local line='        int i = client_place(s);'
    if ! grep -qxF "$line" serve/side.c; then
        echo "mut_apply: '$line' not found in serve/side.c" >&2
        return 1
    fi
    # Before taking a place: no free one, the new connection is reset (as
    # the master did before issue 32).
    sed -i 's/^        int i = client_place(s);$/        int i = 0; \/* mutation: refused when full *\/\
        while (i < SV_SIDE_CLIENTS \&\& s->c[i].fd >= 0)\
            i++;\
        if (i == SV_SIDE_CLIENTS) {\
            sv_reset_close(fd);\
            continue;\
        }\
        (void)client_place;/' serve/side.c
    grep -qF 'mutation: refused when full' serve/side.c && ! grep -qxF "$line" serve/side.c
}
mut_check() {
    local out
    # The routing tests only (~30 s); the whole output is read before it is
    # searched, so serve.sh always gets to stop its servers.
    out=$(SERVE_ONLY=health bash tests/sys/serve.sh 2>&1)
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: serve/health-not-starved-by-idle-clients' <<<"$out" && return 1
    return 0
}
