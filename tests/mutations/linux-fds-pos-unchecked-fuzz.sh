# tests/mutations/linux-fds-pos-unchecked-fuzz.sh
# Sourced by tests/mutate.sh in a scratch copy of the tree.
MUT_DESC="the monitor takes back any position the guest wrote into an open file (linux/lx_file.c: view_check, dev_check); linux.sh's system-call fuzzer under zerg-asan (LINUX_ONLY=fuzz: it forges descriptors and frames between its calls) must fail"
MUT_BUILD="bin/zerg bin/zerg-asan bin/linux-tests/scfuzz.glibc bin/linux-tests/scfuzz.dyn"
MUT_TIMEOUT=900
mut_apply() {
    local l1='        return f->pos <= (uint64_t)INT64_MAX;'
    local l2='    return h && f->pos <= 2ull + h->nent;'
    local l3='    return d >= 0 && lxv_devices[d].kind == f->kind && f->pos == 0 && !f->port && !f->sock;'
    grep -qxF "$l1" linux/lx_file.c && grep -qxF "$l2" linux/lx_file.c &&
        grep -qxF "$l3" linux/lx_file.c || return 1
    sed -i -e 's|^        return f->pos <= (uint64_t)INT64_MAX;$|        return 1; /* mutation */|' \
        -e 's|^    return h \&\& f->pos <= 2ull + h->nent;$|    return h != 0; /* mutation */|' \
        -e 's|^    return d >= 0 \&\& lxv_devices\[d\].kind == f->kind \&\& f->pos == 0 \&\& |    return d >= 0 \&\& lxv_devices[d].kind == f->kind \&\& /* mutation */ |' linux/lx_file.c
    [ "$(grep -c '/\* mutation \*/' linux/lx_file.c)" = 3 ]
}
mut_check() {
    local out
    out=$(LINUX_ONLY=fuzz LINUX_FUZZ_CALLS=10000 LINUX_FUZZ_CALLS_DYN=10000 bash tests/sys/linux.sh 2>&1)
    printf '%s\n' "$out" >&2
    grep -q '^FAIL: zerg-asan/linux/syscall-fuzzer-glibc' <<<"$out" && return 1
    return 0
}
