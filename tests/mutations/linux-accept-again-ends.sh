# tests/mutations/linux-accept-again-ends.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="a second accept while the connection is still open ends the instance (linux/sys_net.c: do_accept no longer waits), as Go's server accepts again at once; linux.sh's go-httpd checks (LINUX_ONLY=go) must fail"
MUT_BUILD="bin/zerg bin/zerg-asan"
MUT_TIMEOUT=600
mut_apply() {
    local l1='    if (c->lx->accepted && lx_conn_open(c->lx)) {'
    grep -qxF "$l1" linux/sys_net.c || return 1
    sed -i 's/^    if (c->lx->accepted \&\& lx_conn_open(c->lx)) {$/    if (0 \&\& lx_conn_open(c->lx)) { \/* mutation *\//' linux/sys_net.c
    grep -qF '/* mutation */' linux/sys_net.c
}
mut_check() {
    local out
    out=$(LINUX_ONLY=go bash tests/sys/linux.sh 2>&1)
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: zerg/linux/go-httpd-cold' <<<"$out" && return 1
    return 0
}
