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

# zerg serve: master and worker (valgrind follows fork) through good requests,
# a crash, a deadline kill, a memory-cap kill, a reload, and a SIGTERM drain.
source tests/sys/proxy.bash
export ZERG_HOME=$TMP/home ZERG_IMAGE_DIR=$TMP/img
mkdir -p "$ZERG_IMAGE_DIR"
if bin/zerg template create st --guest bin/test-guests/servetest.elf -q >"$TMP/c.txt" 2>&1; then
    # --no-sandbox: valgrind cannot run a process under a seccomp filter (its
    # own calls would be filtered); serve.sh tests the sandbox.
    "${VG[@]}" --log-file="$TMP/vg.%p" bin/zerg serve --no-sandbox -n 2 -w 1 --deadline 1000 --mem-cap 4M \
        -l "unix:$TMP/st.sock=st" --log "$TMP/serve.log" &
    vp=$!
    codes=""
    if wait_unix "$TMP/st.sock" 60; then
        for p in get put/x crash spin hog/8 echo; do
            codes+="$(curl -s -m 10 -o /dev/null -w '%{http_code}' --unix-socket "$TMP/st.sock" "http://x/$p") "
        done
        kill -HUP $vp
        sleep 3
        codes+="$(curl -s -m 10 -o /dev/null -w '%{http_code}' --unix-socket "$TMP/st.sock" http://x/get)"
    fi
    kill -TERM $vp
    wait $vp
    rc=$?
    errs=$(cat "$TMP"/vg.* 2>/dev/null | grep '^==' | head -n 20)
    if [ $rc = 0 ] && [ -z "$errs" ] && [ "$codes" = "200 200 000 000 000 200 200" ] &&
        [ "$(ls "$TMP"/vg.* | wc -l)" -ge 3 ]; then
        pass valgrind/serve
    else
        fail valgrind/serve "rc=$rc codes=$codes $errs $(tail -n 5 "$TMP/serve.log")"
    fi
else
    fail valgrind/serve "$(cat "$TMP/c.txt")"
fi
exit $T_FAILED
