#!/usr/bin/env bash
# System test: every test guest in tests/guests and zergling, cold-booted by
# `zerg boot` on real KVM, each checked for the one behaviour it proves.
source "$(dirname "$0")/lib.bash"

if ! kvm_usable; then
    for t in hello hypercalls wildptr loop fault badabi zergling; do
        skip "guests/$t" "/dev/kvm is missing or not accessible to $(id -un)"
    done
    exit 0
fi

for Z in $(zerg_bins); do
    v=$(basename "$Z")

    # hello: console output, argv, and the exit status passing through.
    out=$("$Z" boot bin/test-guests/hello.elf -- 7 foo bar 2>&1 </dev/null)
    rc=$?
    if [ $rc -eq 7 ] && grep -q 'argc=3 \[7\] \[foo\] \[bar\]' <<<"$out" && grep -q SUCCESS <<<"$out"; then
        pass "$v/guests/hello"
    else
        fail "$v/guests/hello" "rc=$rc out=$out"
    fi

    # hypercalls: every call checked inside; RECV/SEND echo 3 MB byte for byte.
    head -c 3000000 /dev/urandom >"$TMP/in.bin"
    "$Z" boot bin/test-guests/hypercalls.elf <"$TMP/in.bin" >"$TMP/out.bin" 2>"$TMP/err.txt"
    rc=$?
    hdr=$(head -n 1 "$TMP/out.bin")
    tail -c +$((${#hdr} + 2)) "$TMP/out.bin" >"$TMP/echo.bin"
    if [ $rc -eq 42 ] && grep -q SUCCESS "$TMP/err.txt" && [[ "$hdr" == "ECHO 3000000 "* ]] &&
        cmp -s "$TMP/in.bin" "$TMP/echo.bin"; then
        pass "$v/guests/hypercalls"
    else
        fail "$v/guests/hypercalls" "rc=$rc hdr='$hdr' $(head -c 500 "$TMP/err.txt")"
    fi
    # An empty request stream: RECV returns 0 at once.
    "$Z" boot bin/test-guests/hypercalls.elf </dev/null >"$TMP/out0.bin" 2>/dev/null
    rc=$?
    if [ $rc -eq 42 ] && [ "$(head -n 1 "$TMP/out0.bin")" = "ECHO 0 cbf29ce484222325" ]; then
        pass "$v/guests/hypercalls-empty-stream"
    else
        fail "$v/guests/hypercalls-empty-stream" "rc=$rc $(head -c 200 "$TMP/out0.bin")"
    fi
    # Two instances draw different entropy and get different ids.
    id1=$("$Z" boot bin/test-guests/hypercalls.elf </dev/null 2>&1 >/dev/null | grep '^instance')
    id2=$("$Z" boot bin/test-guests/hypercalls.elf </dev/null 2>&1 >/dev/null | grep '^instance')
    if [ -n "$id1" ] && [ "$id1" != "$id2" ]; then
        pass "$v/guests/distinct-instance-ids"
    else
        fail "$v/guests/distinct-instance-ids" "'$id1' vs '$id2'"
    fi

    # wildptr: -EFAULT for every bad buffer, then a wild struct kills the instance.
    out=$("$Z" boot bin/test-guests/wildptr.elf 2>&1 </dev/null)
    rc=$?
    if [ $rc -eq 125 ] && grep -q 'EFAULT checks passed' <<<"$out" &&
        grep -q 'outside guest memory' <<<"$out" && ! grep -q 'STILL RUNNING' <<<"$out"; then
        pass "$v/guests/wildptr"
    else
        fail "$v/guests/wildptr" "rc=$rc out=$out"
    fi
    out=$("$Z" boot bin/test-guests/wildptr.elf -- send-exit 2>&1 </dev/null)
    rc=$?
    if [ $rc -eq 125 ] && grep -q 'SEND_EXIT of 4 bytes at 0x0: outside guest memory' <<<"$out" &&
        ! grep -q 'STILL RUNNING' <<<"$out"; then
        pass "$v/guests/wildptr-send-exit"
    else
        fail "$v/guests/wildptr-send-exit" "rc=$rc out=$out"
    fi

    # loop: killed at its 300 ms deadline, promptly.
    start=$(date +%s%N)
    out=$("$Z" boot --timeout 300 bin/test-guests/loop.elf 2>&1 </dev/null)
    rc=$?
    ms=$((($(date +%s%N) - start) / 1000000))
    if [ $rc -eq 124 ] && grep -q 'killed at its deadline of 300 ms' <<<"$out" && [ $ms -lt 5000 ]; then
        pass "$v/guests/loop-deadline"
    else
        fail "$v/guests/loop-deadline" "rc=$rc after ${ms} ms: $out"
    fi
    # A guest blocked in RECV on a silent client is killed at its deadline too.
    out=$(sleep 10 | "$Z" boot --timeout 300 bin/test-guests/hypercalls.elf 2>&1 >/dev/null)
    rc=$?
    if [ $rc -eq 124 ]; then
        pass "$v/guests/recv-deadline"
    else
        fail "$v/guests/recv-deadline" "rc=$rc: $out"
    fi

    # fault: reported with the RIP the guest printed.
    out=$("$Z" boot bin/test-guests/fault.elf 2>&1 </dev/null)
    rc=$?
    site=$(sed -n 's/^faulting at \(0x[0-9a-f]*\)$/\1/p' <<<"$out")
    if [ $rc -eq 125 ] && [ -n "$site" ] && grep -q "registers: rip=$site " <<<"$out" &&
        grep -q 'guest fault: invalid opcode (#UD), vector 6; .*its last hypercall was CONSOLE' <<<"$out" &&
        ! grep -q 'STILL RUNNING' <<<"$out"; then
        pass "$v/guests/fault-rip"
    else
        fail "$v/guests/fault-rip" "rc=$rc site=$site out=$out"
    fi
    out=$("$Z" boot bin/test-guests/fault.elf -- null 2>&1 </dev/null)
    rc=$?
    out2=$("$Z" boot bin/test-guests/fault.elf -- wild 2>&1 </dev/null)
    rc2=$?
    # The exception, its error code and a page fault's address and access
    # (KVM's vCPU events and CR2, read at the triple fault).
    if [ $rc -eq 125 ] && grep -q 'registers: rip=0x' <<<"$out" &&
        grep -q 'guest fault: page fault (#PF), vector 14, at address 0x0 (write, page not present, user mode), error code 0x6' <<<"$out" &&
        [ $rc2 -eq 125 ] &&
        grep -q 'page fault (#PF), vector 14, at address 0x7ead0123 (read, page not present, user mode)' <<<"$out2"; then
        pass "$v/guests/fault-null"
    else
        fail "$v/guests/fault-null" "rc=$rc out=$out; wild: rc=$rc2 $out2"
    fi

    # badabi: refused before it runs (it would print RAN).
    out=$("$Z" boot bin/test-guests/badabi.elf 2>&1 </dev/null)
    rc=$?
    if [ $rc -eq 126 ] && grep -q 'ABI version 999, this monitor speaks versions 2 to 3' <<<"$out" &&
        ! grep -q RAN <<<"$out"; then
        pass "$v/guests/badabi"
    else
        fail "$v/guests/badabi" "rc=$rc out=$out"
    fi

    # Not an ELF at all, and a truncated one: refused, never a crash.
    head -c 300 bin/test-guests/hello.elf >"$TMP/trunc.elf"
    out=$("$Z" boot "$TMP/trunc.elf" 2>&1 </dev/null)
    rc1=$?
    out2=$("$Z" boot tests/sys/lib.bash 2>&1 </dev/null)
    rc2=$?
    if [ $rc1 -eq 126 ] && [ $rc2 -eq 126 ] && grep -q 'refused' <<<"$out" && grep -q 'not an ELF' <<<"$out2"; then
        pass "$v/guests/bad-images"
    else
        fail "$v/guests/bad-images" "rc=$rc1/$rc2 $out / $out2"
    fi

    # zergling: one HTTP request answered from the guest.
    out=$(printf 'GET /hello HTTP/1.0\r\n\r\n' | "$Z" boot -v bin/guests/zergling.elf 2>"$TMP/zl.err")
    rc=$?
    if [ $rc -eq 0 ] && head -n 1 <<<"$out" | grep -q '^HTTP/1.1 200 OK' &&
        grep -q '^Hello from zergling!' <<<"$out" && grep -q '^path: /hello' <<<"$out" &&
        grep -q '^restored: no' <<<"$out" && grep -q 'timing (ms):.*run to ready' "$TMP/zl.err"; then
        pass "$v/guests/zergling-http"
    else
        fail "$v/guests/zergling-http" "rc=$rc out=$out err=$(cat "$TMP/zl.err")"
    fi
    out=$(printf 'POST / HTTP/1.1\r\nHost: x\r\n\r\n' | "$Z" boot bin/guests/zergling.elf -- --dataset-mib 1 2>/dev/null)
    if head -n 1 <<<"$out" | grep -q '^HTTP/1.1 405'; then
        pass "$v/guests/zergling-405"
    else
        fail "$v/guests/zergling-405" "$out"
    fi
    # docs/abi.md's example guest, as the docs show it running.
    out=$(printf 'hello, zerg\n' | "$Z" boot bin/guests/upper.elf 2>"$TMP/up.err")
    rc=$?
    if [ $rc -eq 0 ] && [ "$out" = "HELLO, ZERG" ] && grep -q '^instance [0-9a-f]\{16\} done$' "$TMP/up.err"; then
        pass "$v/guests/docs-example-upper"
    else
        fail "$v/guests/docs-example-upper" "rc=$rc out=$out err=$(cat "$TMP/up.err")"
    fi
    # Options anywhere before `--`, as its --help shows them: after the guest
    # too; what follows `--` is the guest's even when it begins with '-'.
    out=$(printf 'GET / HTTP/1.0\r\n\r\n' | "$Z" boot bin/guests/zergling.elf --mem 32M -q -- --dataset-mib 1 2>"$TMP/oa.err")
    rc=$?
    "$Z" boot bin/guests/zergling.elf --no-such-option </dev/null >/dev/null 2>"$TMP/ob.err"
    rc2=$?
    if [ $rc -eq 0 ] && grep -q '^dataset: 16384 records (1 MiB)' <<<"$out" && [ ! -s "$TMP/oa.err" ] &&
        [ $rc2 -eq 2 ] && grep -q "unrecognized option '--no-such-option'" "$TMP/ob.err"; then
        pass "$v/guests/boot-options-after-the-guest"
    else
        fail "$v/guests/boot-options-after-the-guest" "rc=$rc/$rc2 $(head -n 3 <<<"$out") $(cat "$TMP/oa.err" "$TMP/ob.err")"
    fi
done
exit $T_FAILED
