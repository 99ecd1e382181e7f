# tests/mutations/linux-epoll-maxevents-small.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="epoll_wait refuses a maxevents above 256 (linux/sys_poll.c), as it once did; Node.js (libuv asks for 1,024) aborts; linux.sh's node checks (LINUX_ONLY=node) must fail"
MUT_BUILD="bin/zerg bin/zerg-asan"
MUT_TIMEOUT=600
mut_apply() {
    local l1='    if (max <= 0 || max > INT32_MAX / 12) /* Linux'"'"'s EP_MAX_EVENTS */'
    grep -qxF "$l1" linux/sys_poll.c || return 1
    sed -i 's|^    if (max <= 0 \|\| max > INT32_MAX / 12) /\* Linux.s EP_MAX_EVENTS \*/$|    if (max <= 0 \|\| max > 256) /* mutation */|' linux/sys_poll.c
    grep -qF '/* mutation */' linux/sys_poll.c
}
mut_check() {
    local out
    out=$(LINUX_ONLY=node bash tests/sys/linux.sh 2>&1)
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: zerg/linux/node-crypto-stdio-cold' <<<"$out" && return 1
    return 0
}
