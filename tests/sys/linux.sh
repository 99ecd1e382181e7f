#!/usr/bin/env bash
# System test: unmodified static Linux programs (tests/linux/*.c, built with
# static glibc, static-PIE glibc and static musl) run under `zerg boot` on
# real KVM. The host kernel is the reference: each conformance program runs
# natively and under zerg with the same request on stdin, and standard
# output, standard error and the exit status must match. Then the bad cases:
# fork/exec, a program that never ends, one that exhausts memory, malformed
# ELFs, a Linux program for Xen; dynamically linked Debian programs; the system-call
# fuzzer; templates of Linux programs, restored and served.
#   LINUX_ONLY=fuzz               only the fuzzer
#   LINUX_ONLY=forge              only the forged-descriptor checks
#   LINUX_ONLY=sites              only the site-shaped data checks (linux_sites)
#   LINUX_ONLY=files              only the --ro file checks (files.c, natively and under zerg)
#   LINUX_ONLY=fpu                only the pooled FPU check (linux_fpu)
#   LINUX_ONLY=threads            only the threads-in-a-template checks (linux_threads)
#   LINUX_ONLY=go                 only the Go net/http server checks (linux_go)
#   LINUX_ONLY=node               only the Node.js checks (linux_node)
#   LINUX_ONLY=sparse             only the sparse address space checks (linux_sparse)
#   LINUX_FUZZ_CALLS=N            random calls through bin/zerg (default 1,000,000)
#   LINUX_FUZZ_CALLS_ASAN=N       through bin/zerg-asan (default 100,000)
source "$(dirname "$0")/lib.bash"

if ! kvm_usable; then
    skip linux/all "/dev/kvm is missing or not accessible to $(id -un)"
    exit 0
fi
if ! command -v busybox >/dev/null || ! file -L "$(command -v busybox)" | grep -q 'statically linked'; then
    fail linux/tools "Debian's busybox-static is not installed (make deps installs it)"
    exit 1
fi
REQ=$'GET /conformance HTTP/1.0\r\nHost: zerg\r\n\r\n'
# A tree for the file tests: nested directories, empty, small and multi-page
# files, an executable, relative, absolute and dangling links.
TREE=$TMP/tree
mkdir -p "$TREE/sub/deep"
echo hello >"$TREE/a.txt"
head -c 10000 /dev/urandom >"$TREE/sub/b.bin"
: >"$TREE/empty"
printf '#!/bin/sh\necho hi\n' >"$TREE/run.sh"
chmod 755 "$TREE/run.sh"
ln -s a.txt "$TREE/link"
ln -s "$TREE/sub/b.bin" "$TREE/sub/abs"
ln -s ../missing "$TREE/sub/dangling"
head -c 5000 /dev/zero >"$TREE/sub/deep/z"
# LINUX_ONLY=fuzz runs only the system-call fuzzer, LINUX_ONLY=forge only the
# forged-descriptor programs, LINUX_ONLY=fpu only linux_fpu, LINUX_ONLY=sites
# only linux_sites, LINUX_ONLY=files only the file checks, LINUX_ONLY=threads
# only linux_threads, LINUX_ONLY=sparse only linux_sparse (tests/mutations/ use
# them).
case "${LINUX_ONLY:-}" in
"" | fuzz | forge | fpu | sites | files | threads | sparse | go | node) ;;
*)
    fail linux/args "LINUX_ONLY='$LINUX_ONLY': only 'fuzz', 'forge', 'fpu', 'sites', 'files', 'threads', 'sparse', 'go' and 'node' are known"
    exit 1
    ;;
esac
# linux_threads: threads in a template (examples/python/threads.py): three worker threads
# wait on a queue at the template point and are captured there; each
# restored instance has them and answers as the program does natively, with
# its own token; then `zerg serve` pooled answers every request from one VM
# reset in between (all the threads put back each time). LINUX_ONLY=threads runs only
# this.
linux_threads() {
    local treq native r1 r2 t1 t2 sp bad got vms i
    local ZERG_HOME=$TMP/pthome
    export ZERG_HOME
    tnorm() { sed -e 's/^token [0-9a-f]*/token T/'; }
    treq=$'GET /a/bb/ccc HTTP/1.0\r\nHost: zerg\r\n\r\n'
    native=$(printf '%s' "$treq" | /usr/bin/python3.11 examples/python/threads.py)
    if bin/zerg template create pythreads -q --mem 512M --ro /usr/lib/python3.11 \
        --ro "$PWD/examples/python/threads.py=/app/threads.py" --guest /usr/bin/python3.11 \
        -- /app/threads.py >"$TMP/pt.txt" 2>&1; then
        r1=$(printf '%s' "$treq" | bin/zerg run pythreads 2>>"$TMP/pt.txt")
        r2=$(printf '%s' "$treq" | bin/zerg run pythreads 2>>"$TMP/pt.txt")
        t1=$(sed -n 's/^token //p' <<<"$r1")
        t2=$(sed -n 's/^token //p' <<<"$r2")
        if grep -q '^threads 4' <<<"$native" && [ "$(tnorm <<<"$r1")" = "$(tnorm <<<"$native")" ] &&
            [ "$(tnorm <<<"$r2")" = "$(tnorm <<<"$native")" ] && [ -n "$t1" ] && [ "$t1" != "$t2" ]; then
            pass "linux/python-threads-template (three threads captured waiting, restored twice)"
        else
            fail linux/python-threads-template "native=$native r1=$r1 r2=$r2 $(tail -n 3 "$TMP/pt.txt")"
        fi
        bin/zerg serve -t pythreads -l "unix:$TMP/pt.sock" -n 1 >"$TMP/pts.log" 2>&1 &
        sp=$!
        for i in $(seq 1 50); do [ -S "$TMP/pt.sock" ] && break; sleep 0.1; done
        bad=0
        for i in 1 2 3 4 5 6; do
            got=$(curl -s -m 20 --unix-socket "$TMP/pt.sock" "http://zerg/w$i/x")
            grep -q "^w$i $(printf 'w%s' "$i" | sha256sum | cut -c1-12) 2" <<<"$got" &&
                grep -q '^threads 4' <<<"$got" || bad=$((bad + 1))
        done
        kill -TERM $sp
        wait $sp
        vms=$(grep -o ' vm=[0-9]*' "$TMP/pts.log" | sort -u | wc -l)
        if [ $bad = 0 ] && [ "$(grep -c 'template=pythreads mode=pooled .* end=exit status=0' "$TMP/pts.log")" = 6 ] &&
            [ "$vms" = 1 ]; then
            pass "linux/python-threads-served-pooled (6 requests, one VM reset between them)"
        else
            fail linux/python-threads-served-pooled "bad=$bad vms=$vms $(grep -v ' end=exit status=0' "$TMP/pts.log" | tail -n 3)"
        fi
    else
        fail linux/python-threads-template "$(tail -n 5 "$TMP/pt.txt")"
    fi
    # The template point waits for the other threads (tests/linux/tmplthreads.c):
    # two workers not yet run when main first reads run their start-up there
    # and then wait, so a restored instance prints only its answer.
    local variant want out1 out2
    for variant in glibc musl; do
        want=$(echo hello | "bin/linux-tests/tmplthreads.$variant" | grep '^answer')
        if bin/zerg template create "tt$variant" -q --guest "bin/linux-tests/tmplthreads.$variant" \
            >"$TMP/tt.txt" 2>&1; then
            out1=$(echo hello | bin/zerg run "tt$variant" 2>>"$TMP/tt.txt")
            out2=$(echo hello | bin/zerg run "tt$variant" 2>>"$TMP/tt.txt")
            if [ -n "$want" ] && [ "$out1" = "$want" ] && [ "$out2" = "$want" ]; then
                pass "linux/template-point-waits-for-threads-$variant"
            else
                fail "linux/template-point-waits-for-threads-$variant" "want=[$want] got=[$out1] [$out2] $(tail -n 3 "$TMP/tt.txt")"
            fi
        else
            fail "linux/template-point-waits-for-threads-$variant" "$(tail -n 3 "$TMP/tt.txt")"
        fi
    done
    # Hostile threads (tests/linux/threadbomb.c): every thread starts eight
    # more, four levels deep (4,681 natively): at most 64 live at once, the
    # rest are EAGAIN (logged once), the program still ends normally; a
    # thread that spins forever is killed at the deadline.
    local rc ran fl
    for variant in glibc musl; do
        out1=$(bin/zerg boot --mem 512M --timeout 60000 "bin/linux-tests/threadbomb.$variant" 2>"$TMP/tb.err")
        rc=$?
        ran=$(sed -n 's/^threads ran \([0-9]*\), .*/\1/p' <<<"$out1")
        fl=$(sed -n 's/.*creations failed \([0-9]*\)$/\1/p' <<<"$out1")
        if [ $rc = 0 ] && [ "${ran:-0}" -ge 64 ] && [ "${fl:-0}" -gt 0 ] &&
            grep -q 'more than 64 threads at once: EAGAIN' "$TMP/tb.err"; then
            pass "linux/thread-bomb-$variant ($ran threads ran, $fl creations refused)"
        else
            fail "linux/thread-bomb-$variant" "rc=$rc out=$out1 $(head -c 300 "$TMP/tb.err")"
        fi
        bin/zerg boot --timeout 2000 "bin/linux-tests/threadbomb.$variant" -- spin >/dev/null 2>"$TMP/ts.err"
        rc=$?
        if [ $rc = 124 ] && grep -q 'killed at its deadline of 2000 ms' "$TMP/ts.err"; then
            pass "linux/thread-spinning-killed-at-deadline-$variant"
        else
            fail "linux/thread-spinning-killed-at-deadline-$variant" "rc=$rc $(head -c 300 "$TMP/ts.err")"
        fi
    done
}
# linux_go: a Go net/http server (examples/go/httpd, Debian's golang-go,
# static, CGO_ENABLED=0): Go's runtime starts threads, reserves address space
# beyond --mem, waits in edge-triggered epoll with a pipe to wake it, and
# accepts again at once. Cold under zerg and zerg-asan, from a template
# (restored twice: distinct tokens), and served pooled. LINUX_ONLY=go runs
# only this.
linux_go() {
    local gobin=$TMP/gohttpd out1 out2 z sp bad got i
    local ZERG_HOME=$TMP/gohome
    export ZERG_HOME
    if ! command -v go >/dev/null; then
        fail linux/go-tools "Debian's golang-go is not installed (make deps installs it)"
        return
    fi
    if ! (cd examples/go/httpd && CGO_ENABLED=0 GOCACHE=$TMP/gocache GOPATH=$TMP/gopath GOFLAGS=-mod=mod \
        go build -o "$gobin" .) >"$TMP/gobuild.txt" 2>&1; then
        fail linux/go-build "$(tail -n 5 "$TMP/gobuild.txt")"
        return
    fi
    local req=$'GET /cold HTTP/1.0\r\nHost: zerg\r\n\r\n'
    for z in bin/zerg bin/zerg-asan; do
        out1=$(printf '%s' "$req" | "$z" boot --timeout 30000 "$gobin" 2>"$TMP/go.err")
        if grep -q '^path /cold squares \[0 1 4 9\] token [0-9a-f]\{16\}$' <<<"$out1" &&
            ! grep -Eq 'Sanitizer|runtime error' "$TMP/go.err"; then
            pass "$(basename "$z")/linux/go-httpd-cold"
        else
            fail "$(basename "$z")/linux/go-httpd-cold" "out=$out1 $(head -c 400 "$TMP/go.err")"
        fi
    done
    if bin/zerg template create gohttpd -q --guest "$gobin" >"$TMP/gt.txt" 2>&1; then
        out1=$(printf 'GET /a HTTP/1.0\r\n\r\n' | bin/zerg run gohttpd 2>>"$TMP/gt.txt")
        out2=$(printf 'GET /a HTTP/1.0\r\n\r\n' | bin/zerg run gohttpd 2>>"$TMP/gt.txt")
        if grep -q '^path /a squares \[0 1 4 9\] token ' <<<"$out1" &&
            grep -q '^path /a squares \[0 1 4 9\] token ' <<<"$out2" &&
            [ "$(tail -n 1 <<<"$out1")" != "$(tail -n 1 <<<"$out2")" ]; then
            pass "linux/go-httpd-template (restored twice, distinct tokens)"
        else
            fail linux/go-httpd-template "out1=$out1 out2=$out2 $(tail -n 3 "$TMP/gt.txt")"
        fi
        bin/zerg serve -t gohttpd -l "unix:$TMP/go.sock" -n 1 >"$TMP/gos.log" 2>&1 &
        sp=$!
        for i in $(seq 1 50); do [ -S "$TMP/go.sock" ] && break; sleep 0.1; done
        bad=0
        for i in 1 2 3 4 5 6 7 8; do
            got=$(curl -s -m 20 --unix-socket "$TMP/go.sock" "http://zerg/r$i")
            grep -q "^path /r$i squares \[0 1 4 9\] token " <<<"$got" || bad=$((bad + 1))
        done
        kill -TERM $sp
        wait $sp
        if [ $bad = 0 ] &&
            [ "$(grep -c 'template=gohttpd mode=pooled .* end=exit status=0' "$TMP/gos.log")" = 8 ]; then
            pass "linux/go-httpd-served-pooled (8 requests)"
        else
            fail linux/go-httpd-served-pooled "bad=$bad $(grep -v ' end=exit status=0' "$TMP/gos.log" | tail -n 3)"
        fi
    else
        fail linux/go-httpd-template "$(tail -n 5 "$TMP/gt.txt")"
    fi
}
# linux_node: Node.js (/usr/bin/node, unmodified): its threads, epoll, pipes
# and eventfds. A stdio handler using crypto (examples/node/hash.js) cold
# under zerg and zerg-asan and from a template restored twice (the hash as
# natively, tokens distinct); an http.createServer server
# (examples/node/server.js) from a template restored twice and served
# pooled. LINUX_ONLY=node runs only this.
linux_node() {
    local z want got1 got2 sp bad got i
    local ZERG_HOME=$TMP/nodehome
    export ZERG_HOME
    if [ ! -x /usr/bin/node ]; then
        fail linux/node-tools "/usr/bin/node is not installed"
        return
    fi
    want=$(echo "hello zerg" | /usr/bin/node examples/node/hash.js | sed 's/ token .*//')
    for z in bin/zerg bin/zerg-asan; do
        got1=$(echo "hello zerg" | "$z" boot --mem 1G --timeout 60000 \
            --ro "$PWD/examples/node/hash.js=/app/hash.js" /usr/bin/node -- /app/hash.js 2>"$TMP/node.err")
        if [ -n "$want" ] && [ "$(sed 's/ token .*//' <<<"$got1")" = "$want" ] &&
            ! grep -Eq 'Sanitizer|runtime error' "$TMP/node.err"; then
            pass "$(basename "$z")/linux/node-crypto-stdio-cold"
        else
            fail "$(basename "$z")/linux/node-crypto-stdio-cold" "want=$want got=$got1 $(head -c 400 "$TMP/node.err")"
        fi
    done
    if bin/zerg template create nodehash -q --mem 1G --ro "$PWD/examples/node/hash.js=/app/hash.js" \
        --guest /usr/bin/node -- /app/hash.js >"$TMP/nt.txt" 2>&1; then
        got1=$(echo "hello zerg" | bin/zerg run nodehash 2>>"$TMP/nt.txt")
        got2=$(echo "hello zerg" | bin/zerg run nodehash 2>>"$TMP/nt.txt")
        if [ -n "$want" ] && [ "$(sed 's/ token .*//' <<<"$got1")" = "$want" ] &&
            [ "$(sed 's/ token .*//' <<<"$got2")" = "$want" ] && [ "$got1" != "$got2" ]; then
            pass "linux/node-crypto-stdio-template (restored twice, distinct tokens)"
        else
            fail linux/node-crypto-stdio-template "want=$want got=$got1 / $got2 $(tail -n 3 "$TMP/nt.txt")"
        fi
    else
        fail linux/node-crypto-stdio-template "$(tail -n 5 "$TMP/nt.txt")"
    fi
    if bin/zerg template create nodehttp -q --mem 1G --ro "$PWD/examples/node/server.js=/app/server.js" \
        --guest /usr/bin/node -- /app/server.js >"$TMP/nh.txt" 2>&1; then
        got1=$(printf 'GET /x HTTP/1.0\r\n\r\n' | bin/zerg run nodehttp 2>>"$TMP/nh.txt" | tail -n 1)
        got2=$(printf 'GET /x HTTP/1.0\r\n\r\n' | bin/zerg run nodehttp 2>>"$TMP/nh.txt" | tail -n 1)
        if grep -q '^path /x sha b3d1db318671 token ' <<<"$got1" &&
            grep -q '^path /x sha b3d1db318671 token ' <<<"$got2" && [ "$got1" != "$got2" ]; then
            pass "linux/node-http-template (restored twice, distinct tokens)"
        else
            fail linux/node-http-template "got=$got1 / $got2 $(tail -n 3 "$TMP/nh.txt")"
        fi
        bin/zerg serve -t nodehttp -l "unix:$TMP/node.sock" -n 1 >"$TMP/nodes.log" 2>&1 &
        sp=$!
        for i in $(seq 1 50); do [ -S "$TMP/node.sock" ] && break; sleep 0.1; done
        bad=0
        for i in 1 2 3 4 5 6; do
            got=$(curl -s -m 20 --unix-socket "$TMP/node.sock" "http://zerg/x")
            grep -q '^path /x sha b3d1db318671 token ' <<<"$got" || bad=$((bad + 1))
        done
        kill -TERM $sp
        wait $sp
        if [ $bad = 0 ] &&
            [ "$(grep -c 'template=nodehttp mode=pooled .* end=exit status=0' "$TMP/nodes.log")" = 6 ]; then
            pass "linux/node-http-served-pooled (6 requests)"
        else
            fail linux/node-http-served-pooled "bad=$bad $(grep -v ' end=exit status=0' "$TMP/nodes.log" | tail -n 3)"
        fi
    else
        fail linux/node-http-template "$(tail -n 5 "$TMP/nh.txt")"
    fi
}
if [ "${LINUX_ONLY:-}" = node ]; then
    linux_node
    exit $T_FAILED
fi
if [ "${LINUX_ONLY:-}" = go ]; then
    linux_go
    exit $T_FAILED
fi
if [ "${LINUX_ONLY:-}" = threads ]; then
    linux_threads
    exit $T_FAILED
fi
# linux_fpu: the FPU at the template point: every request of a pooled VM
# starts with the template's MXCSR and x87 control word, although the
# previous request changed both (the runtime's entry puts the program's FPU
# back itself after the template point's exit; the reset does not set it).
# Static and dynamic. LINUX_ONLY=fpu runs only this.
linux_fpu() {
    local v i sp got vms
    for v in glibc dyn; do
        if ZERG_HOME=$TMP/fpuhome ZERG_IMAGE_DIR=$TMP/fpuimg bin/zerg template create "fpu$v" -q \
            --guest "bin/linux-tests/fpu.$v" >"$TMP/fpu.txt" 2>&1; then
            rm -f "$TMP/fpu.sock"
            ZERG_HOME=$TMP/fpuhome ZERG_IMAGE_DIR=$TMP/fpuimg bin/zerg serve -t "fpu$v" \
                -l "unix:$TMP/fpu.sock" -n 1 >"$TMP/fpu.log" 2>&1 &
            sp=$!
            for i in $(seq 1 50); do [ -S "$TMP/fpu.sock" ] && break; sleep 0.1; done
            got=""
            for i in 1 2 3; do
                got+="$(curl -s --unix-socket "$TMP/fpu.sock" "http://zerg/f$i" | cut -c1-6)|"
            done
            kill -TERM $sp
            wait $sp
            vms=$(grep -o 'template=fpu[a-z]* mode=pooled .* vm=[0-9]*' "$TMP/fpu.log" | sed 's/.*vm=//' | sort -u)
            if [ "$got" = "fpu ok|fpu ok|fpu ok|" ] && [ "$vms" = 1 ]; then
                pass "linux/fpu-control-reset-pooled-$v"
            else
                fail "linux/fpu-control-reset-pooled-$v" "got=$got vms=$vms log: $(tail -n 3 "$TMP/fpu.log")"
            fi
        else
            fail "linux/fpu-control-reset-pooled-$v" "$(cat "$TMP/fpu.txt")"
        fi
    done
}
if [ "${LINUX_ONLY:-}" = fpu ]; then
    mkdir -p "$TMP/fpuimg"
    linux_fpu
    exit $T_FAILED
fi
# linux_sparse: the mmap area is address space far beyond --mem, backed where
# it is touched (tests/linux/sparse.c). 64 GiB reservations touched in
# scattered pieces answer as natively (with --mem 128M, and 64M, where the
# frames of unmapped regions must be freed for new ones); touching more than
# --mem ends the instance "out of memory"; MAP_POPULATE beyond it is ENOMEM;
# a template taken after regions were backed restores with them, and a
# pooled VM whose requests touch 16 regions each, in another order and
# other sets each time (so that frames must be freed from the regions of
# earlier requests), finds every region zero at its first touch and then
# holding its own byte (one VM, 21 requests).
# LINUX_ONLY=sparse runs only this.
linux_sparse() {
    local variant Z v nrc zrc out rc got sp vms i r mem P
    mkdir -p "$TMP/spimg"
    for Z in $(zerg_bins); do
        v=$(basename "$Z")
        for variant in glibc pie musl dyn; do
            P=bin/linux-tests/sparse.$variant
            echo hello-sparse | "$P" >"$TMP/spn.out" 2>&1
            nrc=$?
            for mem in 128M 64M; do
                echo hello-sparse | "$Z" boot --mem $mem "$P" >"$TMP/spz.out" 2>"$TMP/spz.err"
                zrc=$?
                if [ $nrc = 0 ] && [ $zrc = 0 ] && cmp -s "$TMP/spn.out" "$TMP/spz.out" &&
                    grep -q '^second reservation: 224$' "$TMP/spz.out"; then
                    pass "$v/linux/sparse-$variant-$mem (64 GiB reserved twice, pieces touched as natively)"
                else
                    fail "$v/linux/sparse-$variant-$mem" "rc=$nrc/$zrc $(diff "$TMP/spn.out" "$TMP/spz.out" | head -6 | tr '\n' ' ') $(head -c 300 "$TMP/spz.err")"
                fi
            done
        done
        out=$("$Z" boot --mem 64M bin/linux-tests/sparse.glibc -- touch 1024 2>&1 </dev/null)
        rc=$?
        if [ $rc != 0 ] && grep -q 'out of memory: the program touched 0x7f00' <<<"$out" &&
            ! grep -q '^touched' <<<"$out"; then
            pass "$v/linux/sparse-touch-beyond-mem (the instance ends: out of memory)"
        else
            fail "$v/linux/sparse-touch-beyond-mem" "rc=$rc out=$out"
        fi
        out=$("$Z" boot --mem 64M bin/linux-tests/sparse.glibc -- populate 2>&1 </dev/null)
        rc=$?
        if [ $rc = 0 ] && grep -q '^populate 4 GiB: Cannot allocate memory$' <<<"$out" &&
            grep -q '^populate 4 MiB: mapped, 1 2$' <<<"$out"; then
            pass "$v/linux/sparse-populate-beyond-mem-enomem"
        else
            fail "$v/linux/sparse-populate-beyond-mem-enomem" "rc=$rc out=$out"
        fi
    done
    for variant in glibc dyn; do
        if ZERG_HOME=$TMP/sphome ZERG_IMAGE_DIR=$TMP/spimg bin/zerg template create "sp$variant" -q \
            --mem 128M --guest "bin/linux-tests/sparse.$variant" -- serve >"$TMP/sp.txt" 2>&1; then
            got=""
            for r in a b a; do
                got+="$(printf 'GET /%s HTTP/1.0\r\n\r\n' $r |
                    ZERG_HOME=$TMP/sphome ZERG_IMAGE_DIR=$TMP/spimg bin/zerg run "sp$variant" | tail -n 1)|"
            done
            if [ "$got" = "sparse ok|sparse ok|sparse ok|" ]; then
                pass "linux/sparse-template-restored-$variant (regions backed before the template point)"
            else
                fail "linux/sparse-template-restored-$variant" "got=$got"
            fi
            rm -f "$TMP/sp.sock"
            ZERG_HOME=$TMP/sphome ZERG_IMAGE_DIR=$TMP/spimg bin/zerg serve -t "sp$variant" \
                -l "unix:$TMP/sp.sock" -n 1 >"$TMP/sp.log" 2>&1 &
            sp=$!
            for i in $(seq 1 50); do [ -S "$TMP/sp.sock" ] && break; sleep 0.1; done
            got=""
            for r in a b a b b a a1 b2 a3 b1 a0 b0 a1 b1 a2 b2 b0 a5 b4 a4 b5; do
                got+="$(curl -s --unix-socket "$TMP/sp.sock" "http://zerg/$r" | tail -n 1 | grep -v '^sparse ok$')"
            done
            kill -TERM $sp
            wait $sp
            vms=$(grep -o "template=sp$variant mode=pooled .* vm=[0-9]*" "$TMP/sp.log" | sed 's/.*vm=//' | sort -u)
            if [ -z "$got" ] && [ "$vms" = 1 ]; then
                pass "linux/sparse-pooled-reset-$variant (21 requests, one VM, new regions zero each time)"
            else
                fail "linux/sparse-pooled-reset-$variant" "got=$got vms=$vms log: $(tail -n 3 "$TMP/sp.log")"
            fi
        else
            fail "linux/sparse-template-restored-$variant" "$(cat "$TMP/sp.txt")"
        fi
    done
}
if [ "${LINUX_ONLY:-}" = sparse ]; then
    linux_sparse
    exit $T_FAILED
fi

# linux_sites: data shaped like a call site (tests/linux/datasite.c) is never
# rewritten: a request that executes a .data table reading `mov $39,%eax;
# syscall; ret` answers as natively (its bytes unchanged), fresh and in every
# variant; one that names site-shaped .data and .rodata in a frame it made
# itself and sent with a raw `out` (zerg only) too; and a pooled VM serving
# hello, attack, hello, forge, hello answers every request with the
# template's bytes (issue 31: it answered the rewritten bytes ever after).
linux_sites() {
    local Z v variant want got r sp i vms
    for Z in $(zerg_bins); do
        v=$(basename "$Z")
        for variant in glibc pie musl dyn; do
            P=bin/linux-tests/datasite.$variant
            want=$(printf 'GET /hello HTTP/1.0\r\n\r\n' | "$P" 2>&1)
            got=""
            for r in hello attack; do
                [ "$(printf 'GET /%s HTTP/1.0\r\n\r\n' "$r" | "$P" 2>&1)" = "$want" ] || got+="native-$r "
                [ "$(printf 'GET /%s HTTP/1.0\r\n\r\n' "$r" | "$Z" boot "$P" 2>&1)" = "$want" ] || got+="zerg-$r "
            done
            [ "$(printf 'GET /attack-forge HTTP/1.0\r\n\r\n' | "$Z" boot "$P" 2>&1)" = "$want" ] || got+="zerg-forge "
            if [ -z "$got" ] && grep -q '^data b8 27 00 00 00 0f 05 c3 44 41 54 41' <<<"$want"; then
                pass "$v/linux/site-shaped-data-left-alone-$variant"
            else
                fail "$v/linux/site-shaped-data-left-alone-$variant" "differs: $got want=$(tr '\n' ' ' <<<"$want")"
            fi
        done
    done
    for variant in glibc dyn; do
        if ZERG_HOME=$TMP/dshome ZERG_IMAGE_DIR=$TMP/dsimg bin/zerg template create "ds$variant" -q \
            --guest "bin/linux-tests/datasite.$variant" >"$TMP/ds.txt" 2>&1; then
            want=$(printf 'GET /hello HTTP/1.0\r\n\r\n' | "bin/linux-tests/datasite.$variant" | sed -n '/^data/,$p')
            rm -f "$TMP/ds.sock"
            ZERG_HOME=$TMP/dshome ZERG_IMAGE_DIR=$TMP/dsimg bin/zerg serve -t "ds$variant" \
                -l "unix:$TMP/ds.sock" -n 1 >"$TMP/ds.log" 2>&1 &
            sp=$!
            for i in $(seq 1 50); do [ -S "$TMP/ds.sock" ] && break; sleep 0.1; done
            got=""
            for r in hello attack hello forge hello attack-forge hello; do
                [ "$(curl -s --unix-socket "$TMP/ds.sock" "http://zerg/$r")" = "$want" ] || got+="$r "
            done
            kill -TERM $sp
            wait $sp
            vms=$(grep -o "template=ds$variant mode=pooled .* vm=[0-9]*" "$TMP/ds.log" | sed 's/.*vm=//' | sort -u)
            if [ -n "$want" ] && [ -z "$got" ] && [ "$vms" = 1 ]; then
                pass "linux/site-shaped-data-pooled-$variant (7 requests, one VM, the template's bytes every time)"
            else
                fail "linux/site-shaped-data-pooled-$variant" "rewritten or failed in: $got vms=$vms log: $(tail -n 3 "$TMP/ds.log")"
            fi
        else
            fail "linux/site-shaped-data-pooled-$variant" "$(cat "$TMP/ds.txt")"
        fi
    done
}
if [ "${LINUX_ONLY:-}" = sites ]; then
    mkdir -p "$TMP/dsimg"
    linux_sites
    exit $T_FAILED
fi
for Z in $(zerg_bins); do
    [ "${LINUX_ONLY:-}" = fuzz ] && break
    v=$(basename "$Z")
    if [ "${LINUX_ONLY:-}" != files ]; then
        # A program that forges entries in zerg's guest copy of its descriptor
        # table (zerg-only: natively the addresses are not mapped): the monitor
        # takes back none of them, every use is EBADF, the host survives.
        for variant in glibc musl; do
            "$Z" boot bin/linux-tests/forge.$variant >"$TMP/fg.out" 2>"$TMP/fg.err"
            rc=$?
            if [ $rc = 0 ] && [ "$(grep -c ': EBADF$' "$TMP/fg.out")" = 14 ] &&
                grep -q '^forged descriptors ignored$' "$TMP/fg.out" &&
                ! grep -Eq 'Sanitizer|runtime error' "$TMP/fg.err"; then
                pass "$v/linux/forged-descriptors-$variant"
            else
                fail "$v/linux/forged-descriptors-$variant" "rc=$rc $(grep -v EBADF "$TMP/fg.out" | head -3 | tr '\n' ' ') $(head -c 300 "$TMP/fg.err")"
            fi
        done

        # Forged positions and flags (zerg-only, tests/linux/forgepos.c): for every
        # call that uses them, asked of the monitor through a forged frame; the
        # monitor takes back neither (under zerg-asan: no overflow anywhere).
        for variant in glibc musl; do
            "$Z" boot --ro "$TREE" bin/linux-tests/forgepos.$variant -- "$TREE/sub/b.bin" "$TREE/sub" \
                >"$TMP/fp.out" 2>"$TMP/fp.err"
            rc=$?
            if [ $rc = 0 ] && [ "$(grep -c ': ok$' "$TMP/fp.out")" -ge 60 ] &&
                grep -q '^forged positions and flags ignored$' "$TMP/fp.out" &&
                ! grep -Eq 'Sanitizer|runtime error' "$TMP/fp.err"; then
                pass "$v/linux/forged-positions-flags-$variant ($(grep -c ': ok$' "$TMP/fp.out") calls)"
            else
                fail "$v/linux/forged-positions-flags-$variant" "rc=$rc $(grep -v ': ok$' "$TMP/fp.out" | head -3 | tr '\n' ' ') $(head -c 300 "$TMP/fp.err")"
            fi
        done
    fi
    [ "${LINUX_ONLY:-}" = forge ] && continue

    # Files: an --ro tree seen by the program exactly as the host kernel shows it.
    for variant in glibc pie musl dyn; do
        P=bin/linux-tests/files.$variant
        "$P" "$TREE" >"$TMP/fn.out" 2>&1
        nrc=$?
        "$Z" boot --ro "$TREE" "$P" -- "$TREE" >"$TMP/fz.out" 2>"$TMP/fz.err"
        zrc=$?
        if [ $nrc = 0 ] && [ $zrc = 0 ] && cmp -s "$TMP/fn.out" "$TMP/fz.out" &&
            [ "$(wc -l <"$TMP/fn.out")" -ge 20 ]; then
            pass "$v/linux/files-$variant"
        else
            fail "$v/linux/files-$variant" "rc=$nrc/$zrc $(diff "$TMP/fn.out" "$TMP/fz.out" | head -6 | tr '\n' ' ') $(head -c 300 "$TMP/fz.err")"
        fi
    done

    # Threads (tests/linux/threads.c), natively and under zerg, outputs
    # identical: creation and join, mutexes (robust ones too), condition
    # variables with timeouts, barriers, TLS, pthread_exit, detached threads,
    # semaphores, pthread_once, 100 threads in turn, a thread blocked in a
    # pipe's read. (--mem 256M: every thread's stack backs a 2 MiB region.)
    [ "${LINUX_ONLY:-}" = files ] || for variant in glibc pie musl dyn; do
        P=bin/linux-tests/threads.$variant
        "$P" >"$TMP/tn.out" 2>&1
        nrc=$?
        "$Z" boot --mem 256M --timeout 30000 "$P" >"$TMP/tz.out" 2>"$TMP/tz.err"
        zrc=$?
        if [ $nrc = 0 ] && [ $zrc = 0 ] && cmp -s "$TMP/tn.out" "$TMP/tz.out" &&
            [ "$(grep -c ' ok' "$TMP/tz.out")" -ge 30 ] && ! grep -Eq 'Sanitizer|runtime error' "$TMP/tz.err"; then
            pass "$v/linux/threads-$variant ($(grep -c ' ok' "$TMP/tz.out") checks as natively)"
        else
            fail "$v/linux/threads-$variant" "rc=$nrc/$zrc $(diff "$TMP/tn.out" "$TMP/tz.out" | head -6 | tr '\n' ' ') $(head -c 300 "$TMP/tz.err")"
        fi
    done

    [ "${LINUX_ONLY:-}" = files ] && continue
    for variant in glibc pie musl dyn; do
        P=bin/linux-tests/syscalls.$variant
        printf '%s' "$REQ" | "$P" conform >"$TMP/n.out" 2>"$TMP/n.err"
        nrc=$?
        printf '%s' "$REQ" | "$Z" boot "$P" -- conform >"$TMP/z.out" 2>"$TMP/z.err"
        zrc=$?
        # zerg's own log lines (what it refused, and why) are not the program's.
        grep -v '^zerg: ' "$TMP/z.err" >"$TMP/z.err.prog"
        checks=$(sed -n 's/^\([0-9]*\) checks$/\1/p' "$TMP/n.out")
        if [ "$nrc" = 7 ] && [ "$zrc" = "$nrc" ] && [ "${checks:-0}" -ge 60 ] &&
            cmp -s "$TMP/n.out" "$TMP/z.out" && cmp -s "$TMP/n.err" "$TMP/z.err.prog"; then
            pass "$v/linux/conformance-$variant ($checks checks identical)"
        else
            fail "$v/linux/conformance-$variant" "native rc=$nrc zerg rc=$zrc; $(diff "$TMP/n.out" "$TMP/z.out" | head -n 8 | tr '\n' ' ') $(head -c 300 "$TMP/z.err")"
        fi
    done

    # Output order: standard output (buffered by zerg's guest-side runtime)
    # and standard error (written at once) in turns, merged, as natively; and
    # every line written before a fault or a deadline kill is sent.
    for variant in glibc pie musl dyn; do
        P=bin/linux-tests/outorder.$variant
        "$P" >"$TMP/on.out" 2>&1
        nrc=$?
        "$Z" boot "$P" >"$TMP/oz.all" 2>&1
        zrc=$?
        grep -av '^zerg: ' "$TMP/oz.all" >"$TMP/oz.out"
        "$P" fault >"$TMP/onf.out" 2>/dev/null
        "$Z" boot "$P" -- fault >"$TMP/ozf.out" 2>"$TMP/ozf.err"
        zfrc=$?
        "$Z" boot --timeout 300 "$P" -- loop >"$TMP/ozl.out" 2>/dev/null
        zlrc=$?
        if [ $nrc = 0 ] && [ $zrc = 0 ] && cmp -s "$TMP/on.out" "$TMP/oz.out" &&
            [ "$(grep -c '^err' "$TMP/oz.out")" = 8 ] && [ $zfrc = 125 ] && [ $zlrc = 124 ] &&
            grep -q 'guest fault: page fault (#PF), vector 14, .*; the last system call the monitor served was' "$TMP/ozf.err" &&
            cmp -s "$TMP/onf.out" "$TMP/ozf.out" && cmp -s "$TMP/onf.out" "$TMP/ozl.out" &&
            [ "$(tail -n 1 "$TMP/ozl.out")" = "end 00" ]; then
            pass "$v/linux/output-order-$variant (merged streams identical; all sent after a fault and a kill)"
        else
            fail "$v/linux/output-order-$variant" "rc=$nrc/$zrc fault=$zfrc loop=$zlrc $(diff "$TMP/on.out" "$TMP/oz.out" | head -c 300 | tr '\n' ' ') fault: $(cmp "$TMP/onf.out" "$TMP/ozf.out" 2>&1) $(head -c 300 "$TMP/ozf.err") loop: $(cmp "$TMP/onf.out" "$TMP/ozl.out" 2>&1)"
        fi
    done

    # Debian's busybox (static, unmodified): a shell script as a request handler.
    SCRIPT='read line; set -- $line; n=0; while read h; do n=$((n+1)); [ "${#h}" -le 1 ] && break; done; echo "method=$1 path=$2 headers=$n"; for w in a b c; do printf "%s-" "$w"; done; echo; echo "$((6*7))"; exit 3'
    printf '%s' "$REQ" | busybox sh -c "$SCRIPT" >"$TMP/n.out" 2>&1
    nrc=$?
    printf '%s' "$REQ" | "$Z" boot "$(command -v busybox)" -- sh -c "$SCRIPT" >"$TMP/z.out" 2>"$TMP/z.err"
    zrc=$?
    if [ $nrc = 3 ] && [ $zrc = 3 ] && cmp -s "$TMP/n.out" "$TMP/z.out" && grep -q 'method=GET path=/conformance' "$TMP/z.out"; then
        pass "$v/linux/busybox-sh-handler"
    else
        fail "$v/linux/busybox-sh-handler" "rc=$nrc/$zrc native=$(cat "$TMP/n.out") zerg=$(cat "$TMP/z.out" "$TMP/z.err")"
    fi

    # Reads that wait: standard input arrives in two parts, well after the
    # program first asked for it; the read says "would block" and the
    # instance's scheduler waits on the stream (linux/lx_sched.c), then
    # serves it again. Both parts come out, the program ends by itself long
    # before its deadline.
    { sleep 0.3; printf 'first\n'; sleep 0.3; printf 'second\n'; } |
        "$Z" boot --timeout 8000 "$(command -v busybox)" -- cat >"$TMP/late.out" 2>"$TMP/late.err"
    zrc=$?
    if [ $zrc = 0 ] && [ "$(cat "$TMP/late.out")" = $'first\nsecond' ]; then
        pass "$v/linux/read-waits-for-late-input"
    else
        fail "$v/linux/read-waits-for-late-input" "rc=$zrc out=$(head -c 200 "$TMP/late.out") err=$(head -c 300 "$TMP/late.err")"
    fi

    # The server model: a program that listens, polls and accepts; natively it
    # serves a real client, under zerg the instance's one connection (the
    # request on stdin) and ends when the server waits for a second.
    for variant in glibc musl glibc-epoll musl-epoll; do
        wait_with=poll
        [ "${variant#*-}" = epoll ] && wait_with=epoll
        variant=${variant%-epoll}
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        bin/linux-tests/server.$variant "$port" 1 $wait_with 2>/dev/null &
        sp=$!
        native=""
        for i in $(seq 1 50); do
            native=$(python3 -c 'import socket,sys
s=socket.create_connection(("127.0.0.1",int(sys.argv[1])))
s.sendall(b"GET /srv HTTP/1.0\r\nHost: zerg\r\n\r\n")
d=b""
while True:
    b=s.recv(4096)
    if not b: break
    d+=b
sys.stdout.write(d.decode())' "$port" 2>/dev/null) && break
            sleep 0.05
        done
        wait $sp
        zout=$(printf 'GET /srv HTTP/1.0\r\nHost: zerg\r\n\r\n' | "$Z" boot "bin/linux-tests/server.$variant" -- "$port" 0 $wait_with 2>"$TMP/s.err")
        zrc=$?
        if [ $zrc = 0 ] && [ -n "$native" ] && [ "$zout" = "$native" ] && grep -q 'connection 1 ' <<<"$zout"; then
            pass "$v/linux/server-model-$variant-$wait_with"
        else
            fail "$v/linux/server-model-$variant-$wait_with" "rc=$zrc native=[$native] zerg=[$zout] $(head -c 300 "$TMP/s.err")"
        fi
    done

    # fork and exec: a clear error to the program (logged by zerg), never a crash.
    out=$("$Z" boot bin/linux-tests/forker.glibc 2>"$TMP/f.err" </dev/null)
    rc=$?
    if [ $rc = 0 ] && grep -q '^fork: Function not implemented' <<<"$out" &&
        grep -q '^execv: Function not implemented' <<<"$out" &&
        grep -q 'zerg: linux: clone of a new process: ENOSYS' "$TMP/f.err" && grep -q 'execve is refused' "$TMP/f.err"; then
        pass "$v/linux/fork-exec-refused"
    else
        fail "$v/linux/fork-exec-refused" "rc=$rc out=$out err=$(cat "$TMP/f.err")"
    fi

    # A program that never ends is killed at its deadline.
    out=$("$Z" boot --timeout 300 bin/linux-tests/loop.musl 2>&1 </dev/null)
    rc=$?
    if [ $rc = 124 ] && grep -q 'killed at its deadline of 300 ms' <<<"$out"; then
        pass "$v/linux/loop-deadline"
    else
        fail "$v/linux/loop-deadline" "rc=$rc out=$out"
    fi

    # Memory runs out: the heap (brk) is ENOMEM when full, and malloc goes on
    # in the mmap area, whose address space is far larger than --mem; the
    # touch past what --mem backs ends the instance (out of memory), as
    # Linux's OOM killer would, never the host.
    for variant in glibc musl; do
        out=$("$Z" boot --mem 64M bin/linux-tests/hog.$variant 2>&1 </dev/null)
        rc=$?
        if [ $rc != 0 ] && grep -q 'out of memory: the program touched 0x7f00' <<<"$out"; then
            pass "$v/linux/memory-exhausted-$variant (the instance ends: out of memory)"
        else
            fail "$v/linux/memory-exhausted-$variant" "rc=$rc out=$out"
        fi
    done

    # Malformed images: a clear error, a non-zero exit. A truncated ELF, and a
    # dynamic program whose interpreter (PT_INTERP) does not exist.
    head -c 600 bin/linux-tests/syscalls.glibc >"$TMP/trunc"
    out=$("$Z" boot "$TMP/trunc" 2>&1 </dev/null)
    rc=$?
    python3 - /bin/true "$TMP/badinterp" <<'PY'
import sys
b = open(sys.argv[1], "rb").read()
old = b"/lib64/ld-linux-x86-64.so.2\0"
assert old in b
open(sys.argv[2], "wb").write(b.replace(old, b"/lib64/ld-linux-x86-64.so.9\0"))
PY
    out2=$("$Z" boot "$TMP/badinterp" 2>&1 </dev/null)
    rc2=$?
    # ... and one that needs a library this host does not have (libq.so.6)
    python3 - /bin/true "$TMP/badneed" <<'PY'
import sys
b = open(sys.argv[1], "rb").read()
assert b"libc.so.6\0" in b
open(sys.argv[2], "wb").write(b.replace(b"libc.so.6\0", b"libq.so.6\0"))
PY
    out3=$("$Z" boot "$TMP/badneed" 2>&1 </dev/null)
    rc3=$?
    if [ $rc = 126 ] && grep -q 'refused' <<<"$out" && [ $rc2 = 126 ] &&
        grep -q 'interpreter /lib64/ld-linux-x86-64.so.9: No such file' <<<"$out2" &&
        [ $rc3 = 126 ] && grep -q 'needs the shared library libq.so.6' <<<"$out3"; then
        pass "$v/linux/bad-images"
    else
        fail "$v/linux/bad-images" "rc=$rc $out / rc=$rc2 $out2 / rc=$rc3 $out3"
    fi

    # Dynamically linked programs from Debian (the start of issue 14): the
    # interpreter comes from the host; zerg finds the libraries and carries
    # them in the view itself. Their output must match the host's.
    want=$(/bin/echo hello dynamic world)
    got=$("$Z" boot /bin/echo -- hello dynamic world 2>"$TMP/dy.err")
    jq_want=$(echo '{"a":[1,2,3]}' | jq -c '.a|map(.*2)')
    jq_got=$(echo '{"a":[1,2,3]}' | "$Z" boot /usr/bin/jq -- -c '.a|map(.*2)' 2>>"$TMP/dy.err")
    # (the user and group databases and the time zone: the host's /etc files zerg carries)
    py='import json, re, sys, os, pwd, grp, time; print(json.dumps({"v": list(sys.version_info[:2]), "m": re.findall("[a-z]+", "ab cd"), "u": pwd.getpwuid(os.getuid()).pw_name, "g": grp.getgrgid(os.getgid()).gr_name, "tz": time.tzname}))'
    py_want=$(/usr/bin/python3.11 -c "$py")
    py_got=$("$Z" boot --mem 512M --timeout 60000 --ro /usr/lib/python3.11 /usr/bin/python3.11 -- -c "$py" \
        2>>"$TMP/dy.err")
    # and threads: a ThreadPoolExecutor, an Event handed between threads
    pyt='import threading, concurrent.futures as cf, hashlib
def f(i): return hashlib.sha256(str(i).encode()).hexdigest()[:8]
with cf.ThreadPoolExecutor(4) as ex: print(list(ex.map(f, range(8))))
ev, r = threading.Event(), []
def w(): ev.wait(); r.append(threading.get_ident() != threading.main_thread().ident)
t = threading.Thread(target=w); t.start(); ev.set(); t.join(); print(r, threading.active_count())'
    py_want+=$'\n'$(/usr/bin/python3.11 -c "$pyt")
    py_got+=$'\n'$("$Z" boot --mem 512M --timeout 60000 --ro /usr/lib/python3.11 /usr/bin/python3.11 -- -c "$pyt" \
        2>>"$TMP/dy.err" </dev/null)
    if [ -n "$want" ] && [ "$got" = "$want" ] && [ -n "$jq_want" ] && [ "$jq_got" = "$jq_want" ] &&
        [ -n "$py_want" ] && [ "$py_got" = "$py_want" ] && ! grep -Eq 'Sanitizer|runtime error' "$TMP/dy.err"; then
        pass "$v/linux/dynamic-programs (echo, jq, python3.11 with threads as on the host)"
    else
        fail "$v/linux/dynamic-programs" "echo='$got' jq='$jq_got' py='$py_got' $(head -c 400 "$TMP/dy.err")"
    fi
done

[ "${LINUX_ONLY:-}" = forge ] || [ "${LINUX_ONLY:-}" = files ] && exit $T_FAILED
# The system-call fuzzer (tests/linux/scfuzz.c): random calls with wild
# arguments until TARGET calls were made across runs (a wild write may wreck
# the program itself: a guest fault, and the next seed goes on). zerg must
# survive every run -- exit 0 or a guest fault, no sanitizer report -- and
# every run's targeted checks must hold: each wild pointer EFAULT, no host
# file opened. The fuzzer also scribbles on the state zerg's guest-side
# runtime keeps in guest memory (the monitor must trust none of it).
fuzz_linux() {
    local Z=$1 target=$2 per=$3 variant=${4:-glibc} total=0 seed=0 bad="" runs=0
    while [ $total -lt "$target" ] && [ $seed -lt 60 ]; do
        seed=$((seed + 1))
        "$Z" boot --timeout 300000 --ro "$TREE=/fz" "bin/linux-tests/scfuzz.$variant" -- "$per" "$seed" zerg \
            </dev/null >"$TMP/fz.out" 2>"$TMP/fz.err"
        local rc=$?
        runs=$((runs + 1))
        local got
        got=$(sed -n 's/^progress \([0-9]*\)$/\1/p' "$TMP/fz.out" | tail -n 1)
        grep -q "^calls $per$" "$TMP/fz.out" && got=$per
        total=$((total + ${got:-0}))
        if { [ $rc != 0 ] && [ $rc != 125 ]; } || grep -Eq 'Sanitizer|runtime error' "$TMP/fz.err"; then
            bad="seed $seed: zerg exited $rc: $(grep -E 'Sanitizer|runtime error|error' "$TMP/fz.err" | head -3)"
            break
        fi
        if ! grep -q '^efault checks \([0-9]*\)/\1, opened 0$' "$TMP/fz.out"; then
            bad="seed $seed: $(head -n 5 "$TMP/fz.out")"
            break
        fi
    done
    if [ -z "$bad" ] && [ $total -ge "$target" ]; then
        pass "$(basename "$Z")/linux/syscall-fuzzer-$variant ($total random calls in $runs runs; wild pointers EFAULT; no host file)"
    else
        fail "$(basename "$Z")/linux/syscall-fuzzer-$variant" "${bad:-only $total calls in $runs runs}"
    fi
}
fuzz_linux bin/zerg "${LINUX_FUZZ_CALLS:-1000000}" 200000
fuzz_linux bin/zerg-asan "${LINUX_FUZZ_CALLS_ASAN:-100000}" 50000
# The same against a dynamically linked build: ld.so, libc.so and the
# program's own pages in the mmap area are what its wild writes may hit.
fuzz_linux bin/zerg "${LINUX_FUZZ_CALLS_DYN:-300000}" 100000 dyn
[ "${LINUX_ONLY:-}" = fuzz ] && exit $T_FAILED
# No host file is opened on the program's behalf: the host process, traced.
if command -v strace >/dev/null; then
    strace -f -o "$TMP/fz.strace" -e trace=open,openat,openat2 bin/zerg boot bin/linux-tests/scfuzz.glibc \
        -- 20000 7 </dev/null >/dev/null 2>&1
    # (the paths the fuzzer tries; zerg's own start-up opens ld.so.cache, its libraries, /dev/kvm)
    leaked=$(grep -E '"(/etc/shadow|/etc/passwd|/etc/hostname|/proc/self/maps|/proc/self/environ|/tmp|/bin/sh|\.\./\.\./etc/shadow|\.\./\.\./etc/passwd|/dev/mem|/sys/kernel)"' "$TMP/fz.strace" | head -3)
    if [ -z "$leaked" ] && grep -q 'scfuzz.glibc' "$TMP/fz.strace"; then
        pass linux/syscall-fuzzer-opens-no-host-file
    else
        fail linux/syscall-fuzzer-opens-no-host-file "$leaked"
    fi
fi

# How many distinct system calls the conformance program makes (natively,
# seen by strace), in its glibc, musl and dynamic builds together.
if command -v strace >/dev/null; then
    for variant in glibc musl dyn; do
        printf '%s' "$REQ" | strace -o "$TMP/st.$variant" bin/linux-tests/syscalls.$variant x >/dev/null 2>&1
    done
    calls=$(cat "$TMP"/st.* | sed -n 's/^\([a-z0-9_]*\)(.*/\1/p' | grep -vx execve | sort -u)
    ncalls=$(wc -l <<<"$calls")
    if [ "$ncalls" -ge 40 ]; then
        pass "linux/conformance-covers-$ncalls-calls"
        echo "# conformance calls: $(tr '\n' ' ' <<<"$calls")"
    else
        fail linux/conformance-covers-calls "only $ncalls distinct calls: $calls"
    fi
else
    fail linux/conformance-covers-calls "strace is not installed (make deps installs it)"
fi

# docs/linux-calls.md is generated from the table, and current.
if bin/zerg linux calls >"$TMP/calls.md" && cmp -s "$TMP/calls.md" docs/linux-calls.md &&
    [ "$(grep -c '^| [0-9]' docs/linux-calls.md)" -ge 40 ]; then
    pass "linux/calls-doc-current ($(grep -c '^| [0-9]' docs/linux-calls.md) calls)"
else
    fail linux/calls-doc-current "docs/linux-calls.md differs from zerg linux calls (make docs): $(diff "$TMP/calls.md" docs/linux-calls.md | head -5)"
fi

# A Linux program on Xen: refused, saying why.
out=$(bin/zerg boot --backend xen bin/linux-tests/syscalls.glibc 2>&1 </dev/null)
rc=$?
# (Outside a dom0 the backend itself is unavailable first; in one, the personality refuses.)
if [ $rc != 0 ] && grep -Eq 'Linux programs run on KVM only|xen backend unavailable' <<<"$out"; then
    pass linux/xen-refused
else
    fail linux/xen-refused "rc=$rc $out"
fi

mkdir -p "$TMP/dsimg"
linux_sites

# Warm templates of Linux programs: captured where the program first reads
# its request; every restored instance answers exactly as the program does
# natively, fresh (zerg run) and pooled (zerg serve, one VM reset in place).
export ZERG_HOME=$TMP/home ZERG_IMAGE_DIR=$TMP/img
mkdir -p "$ZERG_IMAGE_DIR"
if bin/zerg template create lxsc -q --guest bin/linux-tests/syscalls.musl -- conform >"$TMP/c.txt" 2>&1 &&
    bin/zerg template create bbsh -q --guest "$(command -v busybox)" -- sh -c "$SCRIPT" >>"$TMP/c.txt" 2>&1; then
    pass linux/template-create
else
    fail linux/template-create "$(cat "$TMP/c.txt")"
fi
printf '%s' "$REQ" | bin/linux-tests/syscalls.musl conform >"$TMP/n.out" 2>"$TMP/n.err"
ok=0
for i in 1 2; do
    printf '%s' "$REQ" | bin/zerg run lxsc >"$TMP/r$i.out" 2>"$TMP/r$i.err"
    rc=$?
    [ $rc = 7 ] && cmp -s "$TMP/n.out" "$TMP/r$i.out" && cmp -s "$TMP/n.err" "$TMP/r$i.err" && ok=$((ok + 1))
done
if [ $ok = 2 ]; then
    pass linux/template-run-identical-to-native
else
    fail linux/template-run-identical-to-native "rc=$rc $(diff "$TMP/n.out" "$TMP/r1.out" | head -5 | tr '\n' ' ') $(head -c 300 "$TMP/r1.err")"
fi
# The explicit template point (opening /run/zerg/ready) and --env: the
# restored instance starts right after that open, in the environment given.
bin/zerg template create rdy -q --env GREETING=hi --guest "$(command -v busybox)" -- sh -c \
    'echo "before: $GREETING"; read x </run/zerg/ready; echo "after: $GREETING $HOME"; read l; echo "got $l"' \
    >"$TMP/rdy.txt" 2>&1
out=$(printf 'req1\n' | bin/zerg run rdy 2>&1)
if [ "$out" = "$(printf 'after: hi /\ngot req1')" ]; then
    pass linux/explicit-ready-point-and-env
else
    fail linux/explicit-ready-point-and-env "$out $(cat "$TMP/rdy.txt")"
fi

# Debian's python3.11 (dynamically linked) running a handler that imports
# json, re, hashlib (whose extension module needs libcrypto: zerg finds it by
# looking into the carried /usr/lib/python3.11) and random, and builds a
# table: a template taken at its first read of the request, restored twice,
# answers as the program does natively, and each instance draws its own
# os.urandom bytes and, reseeded after the template point, its own `random`
# numbers. A second Python app's template in the same cache stores at most
# 10% of the pages the first stored: the interpreter, its libraries and the
# stdlib's pages are shared by content.
req=$'GET /abc HTTP/1.0\r\nHost: zerg\r\n\r\n'
pynorm() { sed -e 's/"token": "[0-9a-f]*"/"token": T/' -e 's/"lucky": [0-9]*/"lucky": L/' \
    -e 's/^Content-Length: .*/Content-Length: N/'; }
pyfield() { sed -n "s/.*\"$1\": \"\{0,1\}\([0-9a-f]*\).*/\1/p"; }
native=$(printf '%s' "$req" | /usr/bin/python3.11 examples/python/handler.py)
export ZERG_HOME=$TMP/pyhome
if bin/zerg template create py -q --mem 512M --ro /usr/lib/python3.11 \
    --ro "$PWD/examples/python/handler.py=/app/handler.py" --guest /usr/bin/python3.11 \
    -- /app/handler.py >"$TMP/py.txt" 2>&1; then
    r1=$(printf '%s' "$req" | bin/zerg run py 2>>"$TMP/py.txt")
    r2=$(printf '%s' "$req" | bin/zerg run py 2>>"$TMP/py.txt")
    if [ -n "$native" ] && [ "$(pynorm <<<"$r1")" = "$(pynorm <<<"$native")" ] &&
        [ "$(pynorm <<<"$r2")" = "$(pynorm <<<"$native")" ] && [ -n "$(pyfield token <<<"$r1")" ] &&
        [ "$(pyfield token <<<"$r1")" != "$(pyfield token <<<"$r2")" ] &&
        [ -n "$(pyfield lucky <<<"$r1")" ] && [ "$(pyfield lucky <<<"$r1")" != "$(pyfield lucky <<<"$r2")" ]; then
        pass "linux/python-template-restores-reseeded (Debian's python3.11, a dynamic program)"
    else
        fail linux/python-template-restores-reseeded "native=$native r1=$r1 r2=$r2 $(tail -n 3 "$TMP/py.txt")"
    fi
    words_want=$(printf 'GET /c?text=the+cat+and+the+cat+sat HTTP/1.0\r\n\r\n' | /usr/bin/python3.11 examples/python/words.py)
    if bin/zerg template create words -q --mem 512M --ro /usr/lib/python3.11 \
        --ro "$PWD/examples/python/words.py=/app/words.py" --guest /usr/bin/python3.11 \
        -- /app/words.py >"$TMP/w.txt" 2>&1; then
        words_got=$(printf 'GET /c?text=the+cat+and+the+cat+sat HTTP/1.0\r\n\r\n' | bin/zerg run words 2>&1)
        first=$(sed -n 's/.* \([0-9]*\) newly stored.*/\1/p' "$TMP/py.txt")
        second=$(sed -n 's/.* \([0-9]*\) newly stored.*/\1/p' "$TMP/w.txt")
        stats=$(bin/zerg cache stats 2>&1)
        if [ -n "$words_want" ] && [ "$words_got" = "$words_want" ] && [ "${first:-0}" -gt 1000 ] &&
            [ -n "$second" ] && [ $((second * 10)) -le "$first" ] && grep -q '^  words ' <<<"$stats"; then
            pass "linux/python-second-template-shares-pages ($second new pages, first $first)"
        else
            fail linux/python-second-template-shares-pages "first=$first second=$second got=$words_got $(tail -n 2 "$TMP/w.txt")"
        fi
    else
        fail linux/python-second-template-shares-pages "$(tail -n 5 "$TMP/w.txt")"
    fi
else
    fail linux/python-template-restores-reseeded "$(tail -n 5 "$TMP/py.txt")"
fi

linux_threads
linux_go
linux_node
export ZERG_HOME=$TMP/home

# A static Lua 5.4 (Debian's liblua5.4.a) running a handler that builds a
# 200,000-entry table: restored instances answer as the program does natively
# (same table digest) and each draws its own random numbers (it reseeds after
# its template point, /run/zerg/ready).
d() { sed -n 's/.*"words":\([0-9]*\),"digest":\([0-9]*\).*/\1 \2/p' <<<"$1"; }
l() { sed -n 's/.*"lucky":\([0-9]*\).*/\1/p' <<<"$1"; }
native=$(printf 'GET /word/a HTTP/1.0\r\n\r\n' | bin/linux-apps/zlua examples/lua/handler.lua | tail -n 1)
if bin/zerg template create lua -q --mem 256M --ro "$PWD/examples/lua=/app" --guest bin/linux-apps/zlua \
    -- /app/handler.lua >"$TMP/lua.txt" 2>&1; then
    r1=$(printf 'GET /word/a HTTP/1.0\r\n\r\n' | bin/zerg run lua | tail -n 1)
    r2=$(printf 'GET /word/a HTTP/1.0\r\n\r\n' | bin/zerg run lua | tail -n 1)
    if [ -n "$(d "$native")" ] && [ "$(d "$r1")" = "$(d "$native")" ] && [ "$(d "$r2")" = "$(d "$native")" ] &&
        [ -n "$(l "$r1")" ] && [ "$(l "$r1")" != "$(l "$r2")" ]; then
        pass "linux/lua-template-restores-reseeded ($(d "$r1" | cut -d' ' -f1) entries)"
    else
        fail linux/lua-template-restores-reseeded "native=$native r1=$r1 r2=$r2"
    fi
else
    fail linux/lua-template-restores-reseeded "$(cat "$TMP/lua.txt")"
fi

# Debian's own /usr/bin/lua5.4 (a dynamic PIE: liblua5.4.so.0 and libc come
# from the host, found and carried by zerg) with the same handler.
native=$(printf 'GET /word/a HTTP/1.0\r\n\r\n' | /usr/bin/lua5.4 examples/lua/handler.lua | tail -n 1)
if bin/zerg template create lua54 -q --mem 256M --ro "$PWD/examples/lua=/app" --guest /usr/bin/lua5.4 \
    -- /app/handler.lua >"$TMP/lua54.txt" 2>&1; then
    r1=$(printf 'GET /word/a HTTP/1.0\r\n\r\n' | bin/zerg run lua54 | tail -n 1)
    r2=$(printf 'GET /word/a HTTP/1.0\r\n\r\n' | bin/zerg run lua54 | tail -n 1)
    if [ -n "$(d "$native")" ] && [ "$(d "$r1")" = "$(d "$native")" ] && [ "$(d "$r2")" = "$(d "$native")" ] &&
        [ -n "$(l "$r1")" ] && [ "$(l "$r1")" != "$(l "$r2")" ]; then
        pass "linux/lua54-dynamic-template-restores-reseeded ($(d "$r1" | cut -d' ' -f1) entries)"
    else
        fail linux/lua54-dynamic-template-restores-reseeded "native=$native r1=$r1 r2=$r2"
    fi
else
    fail linux/lua54-dynamic-template-restores-reseeded "$(cat "$TMP/lua54.txt")"
fi

bin/zerg serve -t bbsh -l "unix:$TMP/bb.sock" -n 1 >"$TMP/serve.log" 2>&1 &
sp=$!
for i in $(seq 1 50); do [ -S "$TMP/bb.sock" ] && break; sleep 0.1; done
answers=""
for i in 1 2 3; do
    answers+="$(python3 tests/sys/rawclient.py "$TMP/bb.sock" request "GET /p$i HTTP/1.0\r\nHost: zerg\r\n\r\n")|"
done
kill -TERM $sp
wait $sp
vms=$(grep -o ' vm=[0-9]*' "$TMP/serve.log" | sort -u | wc -l)
if grep -q 'method=GET path=/p1 headers=2' <<<"$answers" && grep -q 'path=/p3 ' <<<"$answers" &&
    [ "$(grep -c 'template=bbsh mode=pooled .* end=exit status=3' "$TMP/serve.log")" = 3 ] && [ "$vms" = 1 ]; then
    pass linux/serve-busybox-sh-pooled
else
    fail linux/serve-busybox-sh-pooled "answers=$answers vms=$vms log: $(tail -n 5 "$TMP/serve.log")"
fi

# The server model from a template: captured where the server first waits
# for a connection (poll on its listening socket); served per connection,
# pooled, every instance answering its one connection as connection 1.
if bin/zerg template create srv -q --guest bin/linux-tests/server.glibc -- 8080 0 epoll >"$TMP/srv.txt" 2>&1; then
    bin/zerg serve -t srv -l "unix:$TMP/srv.sock" -n 2 >"$TMP/srv.log" 2>&1 &
    sp=$!
    for i in $(seq 1 50); do [ -S "$TMP/srv.sock" ] && break; sleep 0.1; done
    got=""
    for i in 1 2 3; do
        got+="$(curl -s --unix-socket "$TMP/srv.sock" "http://zerg/s$i")|"
    done
    kill -TERM $sp
    wait $sp
    want=""
    for i in 1 2 3; do want+="method GET path /s$i connection 1 local-port 8080 peer-family inet|"; done
    if [ "$got" = "$want" ] && [ "$(grep -c 'template=srv mode=pooled .* end=exit status=0' "$TMP/srv.log")" = 3 ]; then
        pass linux/server-model-template-served
    else
        fail linux/server-model-template-served "got=$got log: $(tail -n 4 "$TMP/srv.log")"
    fi
else
    fail linux/server-model-template-served "$(cat "$TMP/srv.txt")"
fi

mkdir -p "$TMP/fpuimg"
linux_fpu
linux_sparse

# Debian's busybox httpd -i (inetd style), serving an --ro tree from a
# template, per connection, through zerg serve behind nginx: pooled and fresh.
source "$(dirname "$0")/proxy.bash"
trap 'proxy_stop_all; rm -rf "$TMP"' EXIT
mkdir -p "$TMP/www/img"
printf '<h1>served by busybox httpd in a zerg instance</h1>\n' >"$TMP/www/index.html"
head -c 20000 /dev/urandom >"$TMP/www/img/blob.bin"
if bin/zerg template create bbhttpd -q --ro "$TMP/www=/www" --guest "$(command -v busybox)" \
    -- httpd -i -h /www >"$TMP/c.txt" 2>&1; then
    pass linux/template-busybox-httpd
else
    fail linux/template-busybox-httpd "$(cat "$TMP/c.txt")"
fi
cp "$TMP/www/img/blob.bin" "$TMP/blob.orig"
echo changed-after-the-template >"$TMP/www/index.html" # instances keep the tree as it was
for mode in pooled fresh; do
    flag=()
    [ $mode = fresh ] && flag=(--fresh)
    if ! serve_start "$TMP/bb-$mode.log" "${flag[@]}" -n 2 -l "unix:$TMP/bb-$mode.sock=bbhttpd"; then
        fail "linux/httpd-$mode-start" "$(cat "$TMP/bb-$mode.log")"
        continue
    fi
    port=$(free_port)
    if ! nginx_start "$TMP/ng-$mode" "$port" bb="unix:$TMP/bb-$mode.sock"; then
        fail "linux/httpd-$mode-nginx" "$(cat "$TMP/ng-$mode/error.log")"
        continue
    fi
    U=http://127.0.0.1:$port/bb
    page=$(curl -s "$U/index.html")
    curl -s -o "$TMP/blob.got" "$U/img/blob.bin"
    codes=""
    for i in 1 2 3 4 5; do codes+="$(curl -s -o /dev/null -w '%{http_code}' "$U/index.html")"; done
    missing=$(curl -s -o /dev/null -w '%{http_code}' "$U/nope.html")
    if [ "$page" = "<h1>served by busybox httpd in a zerg instance</h1>" ] &&
        cmp -s "$TMP/blob.got" "$TMP/blob.orig" && [ "$codes" = 200200200200200 ] &&
        [ "$missing" = 404 ]; then
        pass "linux/httpd-$mode-behind-nginx"
    else
        fail "linux/httpd-$mode-behind-nginx" "page=$page codes=$codes missing=$missing $(tail -n 3 "$TMP/bb-$mode.log")"
    fi
    proxy_stop_all
done

# Exits per request: one pooled VM serving busybox httpd again and again.
# Its first request traps at the call sites it has not seen and has them
# rewritten; from the second on, the guest-side runtime serves the request's
# calls (stat, open, sendfile, write, time...) and at most 3 reach the monitor.
if serve_start "$TMP/bbx.log" -n 1 -w 1 -l "unix:$TMP/bbx.sock=bbhttpd"; then
    codes=""
    for i in 1 2 3 4 5; do
        codes+="$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$TMP/bbx.sock" http://zerg/index.html)"
    done
    sleep 0.3 # the last instance line follows the VM's reset
    # (the last 5 lines: serve_start's own probe of the socket is served too)
    exits=$(grep -o 'template=bbhttpd mode=pooled .* exits=[0-9]*' "$TMP/bbx.log" | sed 's/.*exits=//' |
        tail -n 5 | tr '\n' ' ')
    read -r -a ex <<<"$exits"
    if [ "$codes" = 200200200200200 ] && [ "${#ex[@]}" = 5 ] && [ "${ex[1]}" -le 3 ] &&
        [ "${ex[2]}" -le 3 ] && [ "${ex[3]}" -le 3 ] && [ "${ex[4]}" -le 3 ] && [ "${ex[0]}" -gt "${ex[4]}" ]; then
        pass "linux/httpd-pooled-exits (exits per request: $exits)"
    else
        fail "linux/httpd-pooled-exits" "codes=$codes exits per request: $exits (want <= 3 from the second on)"
    fi
    proxy_stop_all
else
    fail linux/httpd-pooled-exits-start "$(cat "$TMP/bbx.log")"
fi
exit $T_FAILED
