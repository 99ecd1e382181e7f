#!/usr/bin/env bash
# System test: zerg boot is valgrind-clean (no invalid access, no leak) on the
# good path and on the guest-misbehaviour paths.
source "$(dirname "$0")/lib.bash"

if ! command -v valgrind >/dev/null; then
    skip valgrind/boot "valgrind is not installed"
    exit 0
fi
if ! kvm_usable; then
    skip valgrind/boot "/dev/kvm is missing or not accessible to $(id -un)"
    exit 0
fi
VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect)

check() { # name expected-status guest [args...]
    local name=$1 want=$2
    shift 2
    "${VG[@]}" bin/zerg boot "$@" </dev/null >/dev/null 2>"$TMP/vg.txt"
    local rc=$?
    if [ $rc -eq "$want" ] && ! grep -q '^==[0-9]*==' "$TMP/vg.txt"; then
        pass "valgrind/$name"
    else
        fail "valgrind/$name" "rc=$rc (want $want): $(grep '^==' "$TMP/vg.txt" | head -n 20)"
    fi
}

check hello 3 bin/test-guests/hello.elf -- 3
check fault 125 bin/test-guests/fault.elf
check wildptr 125 bin/test-guests/wildptr.elf
check deadline 124 --timeout 500 bin/test-guests/loop.elf
check badabi 126 bin/test-guests/badabi.elf
exit $T_FAILED
