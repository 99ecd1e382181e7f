# tests/mutations/metrics-deadline-per-byte.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="zerg serve's metrics listener counts a client's 1 s request-head deadline from its last byte instead of its accept (serve/side.c, client_read), so a client sending one byte per 100 ms is never dropped; serve.sh's serve/health-idle-clients-dropped must fail"
MUT_BUILD="bin/zerg bin/guests/zergling.elf bin/test-guests/servetest.elf"
MUT_TIMEOUT=300
mut_apply() {
    local line='    c->got += (size_t)n;'
    if ! grep -qxF "$line" serve/side.c; then
        echo "mut_apply: '$line' not found in serve/side.c" >&2
        return 1
    fi
    sed -i 's/^    c->got += (size_t)n;$/    c->got += (size_t)n;\
    c->accept_ns = zg_now_ns(); \/* mutation: the deadline restarts with each byte *\//' serve/side.c
    grep -qF 'mutation: the deadline restarts' serve/side.c
}
mut_check() {
    local out
    out=$(SERVE_ONLY=health bash tests/sys/serve.sh 2>&1)
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: serve/health-idle-clients-dropped' <<<"$out" && return 1
    return 0
}
