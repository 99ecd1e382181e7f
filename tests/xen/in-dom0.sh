#!/bin/sh
# Run inside the rig's dom0 (cwd /zerg, busybox sh): zerg's Xen tests. Every
# line goes back to the host; PASS:/FAIL:/SKIP: lines are counted there,
# XENBENCH lines are passed through.
T=/tmp/zt
mkdir -p $T
export ZERG_HOME=$T/home ZERG_IMAGE_DIR=$T/img
mkdir -p "$ZERG_IMAGE_DIR"
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: $2"; }

# checked NAME CMD...: runs CMD, passes its lines on (through $CHECKED_SED if
# set) and counts a non-zero exit that printed no FAIL line -- a crash, a
# sanitizer abort -- as a failure of NAME: an exit status is never ignored.
checked() {
    name=$1
    shift
    "$@" >$T/checked.out 2>&1
    rc=$?
    sed "${CHECKED_SED:-s/^//}" $T/checked.out
    if [ $rc -ne 0 ] && ! grep -q '^FAIL: ' $T/checked.out; then
        fail "$name" "exited with status $rc: $(tail -n 8 $T/checked.out | awk '{printf "%s ", $0}')"
    fi
}

checked test_xen ./build/test/test_xen
CHECKED_SED='s/^\([A-Z]*\): test_xen/\1: asan\/test_xen/' \
    checked asan/test_xen env ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 ./build/test-asan/test_xen

for Z in bin/zerg bin/zerg-asan; do
    [ -x $Z ] || continue
    v=$(basename $Z)
    B="$Z boot --backend xen"

    # hello: console output, argv and the exit status through the mailbox.
    out=$($B bin/test-guests/hello.elf -- 7 foo bar 2>&1 </dev/null)
    rc=$?
    if [ $rc -eq 7 ] && echo "$out" | grep -q 'argc=3 \[7\] \[foo\] \[bar\]' && echo "$out" | grep -q SUCCESS; then
        pass "$v/guests/hello"
    else
        fail "$v/guests/hello" "rc=$rc out=$out"
    fi

    # hypercalls: every call checked inside; RECV/SEND echo 300 kB byte for byte.
    head -c 300000 /dev/urandom >$T/in.bin
    $B bin/test-guests/hypercalls.elf <$T/in.bin >$T/out.bin 2>$T/err.txt
    rc=$?
    hdr=$(head -n 1 $T/out.bin)
    tail -c 300000 $T/out.bin >$T/echo.bin
    if [ $rc -eq 42 ] && grep -q SUCCESS $T/err.txt && echo "$hdr" | grep -q '^ECHO 300000 ' &&
        cmp -s $T/in.bin $T/echo.bin; then
        pass "$v/guests/hypercalls"
    else
        fail "$v/guests/hypercalls" "rc=$rc hdr=$hdr $(head -c 300 $T/err.txt)"
    fi

    # wildptr: -EFAULT for every bad buffer, then a wild struct ends the instance.
    out=$($B bin/test-guests/wildptr.elf 2>&1 </dev/null)
    rc=$?
    if [ $rc -eq 125 ] && echo "$out" | grep -q 'EFAULT checks passed' &&
        echo "$out" | grep -q 'outside guest memory' && ! echo "$out" | grep -q 'STILL RUNNING'; then
        pass "$v/guests/wildptr"
    else
        fail "$v/guests/wildptr" "rc=$rc out=$out"
    fi

    # loop: an endless loop is killed at its deadline.
    out=$($B --timeout 500 bin/test-guests/loop.elf 2>&1 </dev/null)
    rc=$?
    if [ $rc -eq 124 ] && echo "$out" | grep -q 'killed at its deadline of 500 ms'; then
        pass "$v/guests/loop-deadline"
    else
        fail "$v/guests/loop-deadline" "rc=$rc out=$out"
    fi

    # fault: the domain crashes (no trap table); reported with the guest's RIP.
    out=$($B bin/test-guests/fault.elf 2>&1 </dev/null)
    rc=$?
    site=$(echo "$out" | sed -n 's/^faulting at \(0x[0-9a-f]*\)$/\1/p')
    if [ $rc -eq 125 ] && [ -n "$site" ] && echo "$out" | grep -q "registers: rip=$site "; then
        pass "$v/guests/fault-rip"
    else
        fail "$v/guests/fault-rip" "rc=$rc site=$site out=$out"
    fi

    # zergling: one HTTP request answered by a cold-booted PV domain.
    out=$(printf 'GET /hello HTTP/1.0\r\n\r\n' | $B bin/guests/zergling.elf -- --dataset-mib 1 2>$T/zl.err)
    rc=$?
    if [ $rc -eq 0 ] && echo "$out" | head -n 1 | grep -q '^HTTP/1.1 200 OK' &&
        echo "$out" | grep -q '^path: /hello' && echo "$out" | grep -q '^restored: no'; then
        pass "$v/guests/zergling-http"
    else
        fail "$v/guests/zergling-http" "rc=$rc out=$out err=$(cat $T/zl.err)"
    fi
done

# Templates on Xen: save -> destroy -> restore -> compare (registers, SSE
# state and memory, checked by the snapcheck guest), at several sizes.
Z=bin/zerg
for n in 0 300 2000; do
    if $Z template create "sc$n" --backend xen --guest bin/test-guests/snapcheck.elf -q -- $n >$T/c.txt 2>&1 &&
        out=$($Z run -q "sc$n" </dev/null) && [ "$out" = "STATE OK restored=1 pages=$n" ]; then
        pass "template/state-survives-$n-pages"
    else
        fail "template/state-survives-$n-pages" "$(cat $T/c.txt) / $out"
    fi
done
# The template records its backend: KVM cannot restore it.
out=$($Z run --backend kvm sc0 </dev/null 2>&1)
rc=$?
if [ $rc -ne 0 ] && echo "$out" | grep -q 'captured on xen, not kvm'; then
    pass "template/backend-recorded"
else
    fail "template/backend-recorded" "rc=$rc $out"
fi

# zergling: capture on Xen, then requests answered by restored instances.
if $Z template create zl --backend xen --mem 16M --guest bin/guests/zergling.elf -q -- --dataset-mib 2 >$T/c.txt 2>&1; then
    pass template/create-zergling
else
    fail template/create-zergling "$(cat $T/c.txt)"
fi
r1=$(printf 'GET /one HTTP/1.0\r\n\r\n' | $Z run -v zl 2>$T/v.txt)
r2=$(printf 'GET /two HTTP/1.0\r\n\r\n' | $Z run zl 2>/dev/null)
id1=$(echo "$r1" | sed -n 's/^instance: //p')
id2=$(echo "$r2" | sed -n 's/^instance: //p')
if echo "$r1" | head -n 1 | grep -q '^HTTP/1.1 200' && echo "$r1" | grep -q '^restored: yes' &&
    echo "$r1" | grep -q '^path: /one' && echo "$r2" | grep -q '^path: /two'; then
    pass template/run-answers-restored
else
    fail template/run-answers-restored "$r1 / $r2 $(cat $T/v.txt)"
fi
grep 'phases' $T/v.txt
if [ -n "$id1" ] && [ "$id1" != "$id2" ]; then
    pass template/restored-instances-distinct
else
    fail template/restored-instances-distinct "'$id1' vs '$id2'"
fi

# zerg serve on Xen behind nginx (the 2013 demo's shape, without the boot):
# one freshly restored domain per connection, prepared before it arrives.
if [ -x /bin/nginx ]; then
    ifconfig lo 127.0.0.1 up
    N=$T/nginx
    mkdir -p $N/tmp
    $Z serve --listen unix:$T/zs.sock=zl --max-instances 3 --log $T/serve.log 2>>$T/serve.log &
    SP=$!
    for i in $(seq 1 200); do [ -S $T/zs.sock ] && break; sleep 0.05; done
    printf '%s\n' 'user root root;' 'worker_processes 1;' "pid $N/nginx.pid;" 'events { worker_connections 64; }' \
        'http {' '  log_format t "$request_uri $status $request_time";' "  access_log $N/access.log t;" "  client_body_temp_path $N/tmp/body;" "  proxy_temp_path $N/tmp/proxy;" \
        "  fastcgi_temp_path $N/tmp/f;" "  uwsgi_temp_path $N/tmp/u;" "  scgi_temp_path $N/tmp/s;" \
        '  server {' '    listen 127.0.0.1:8080;' "    location /zl/ { proxy_pass http://unix:$T/zs.sock:/; }" '  }' '}' >$N/nginx.conf
    nginx -p $N -e $N/error.log -c $N/nginx.conf
    for i in $(seq 1 100); do wget -q -O /dev/null http://127.0.0.1:8080/none 2>/dev/null; [ -s $N/nginx.pid ] && break; sleep 0.05; done
    # Five one after another (connections 1-5), then six at once on three slots.
    seq_ok=0
    for i in 1 2 3 4 5; do
        r1=$(wget -q -O - http://127.0.0.1:8080/zl/s$i 2>&1)
        echo "$r1" | grep -q "^path: /s$i" && echo "$r1" | grep -q '^restored: yes' && seq_ok=$((seq_ok + 1))
    done
    if [ $seq_ok = 5 ]; then
        pass serve/nginx-answers-from-restored-domains
    else
        fail serve/nginx-answers-from-restored-domains "$seq_ok of 5: $r1 / $(tail -n 5 $T/serve.log) / $(tail -n 5 $N/error.log)"
    fi
    pids=""
    for i in 1 2 3 4 5 6; do
        wget -q -O $T/par$i.txt http://127.0.0.1:8080/zl/p$i 2>/dev/null &
        pids="$pids $!"
    done
    wait $pids
    ok=0
    for i in 1 2 3 4 5 6; do grep -q "^path: /p$i" $T/par$i.txt 2>/dev/null && ok=$((ok + 1)); done
    ids=$(sed -n 's/^instance: //p' $T/par*.txt | sort -u | wc -l)
    if [ $ok = 6 ] && [ "$ids" = 6 ]; then
        pass serve/six-concurrent-connections-six-domains
    else
        fail serve/six-concurrent-connections-six-domains "answered $ok of 6, $ids distinct instances; $(tail -n 8 $T/serve.log)"
    fi
    kill -TERM $SP
    wait $SP
    rc=$?
    kill $(cat $N/nginx.pid) 2>/dev/null
    # The sequential five (connections 1-5, /zl/s1-5), medians: zerg's accept
    # to the instance's end (its domain was restored ahead, while the slot was
    # idle), and nginx's request time (ms resolution) around it.
    med() { sort -n | awk -v d="$1" '{ v[NR] = $1 } END { if (NR) printf "%.2f", v[int((NR + 1) / 2)] / d; else print "null" }'; }
    serve_ms=$(sed -n 's/.* conn=\([1-5]\) .* total_us=\([0-9.]*\) .*/\2/p' $T/serve.log | med 1000)
    nginx_ms=$(sed -n 's|^/zl/s[1-5] 200 \([0-9.]*\)$|\1|p' $N/access.log | med 0.001)
    grep ' zerg-serve instance ' $T/serve.log
    cat $N/access.log
    if [ $rc = 0 ] && grep -q 'fresh' $T/serve.log && [ "$(./build/test/test_xen --count-domains 2>/dev/null)" = 1 ]; then
        pass serve/drains-fresh-no-domains-left
    else
        fail serve/drains-fresh-no-domains-left "rc=$rc domains=$(./build/test/test_xen --count-domains 2>&1) $(tail -n 5 $T/serve.log)"
    fi
else
    echo "SKIP: serve/nginx: nginx is not installed on the host"
fi

# No domain is left behind by any of the above.
left=$(ls /proc/xen >/dev/null 2>&1 && ./build/test/test_xen --count-domains 2>/dev/null)
if [ "$left" = "1" ]; then
    pass "no-domains-left"
else
    fail "no-domains-left" "domains alive besides dom0: '$left'"
fi

# The Xen bench: zerg's cold boot (its own PV builder, guest init to READY)
# against restores of the same template, medians over several runs.
RUNS=${XEN_BENCH_RUNS:-15}
COLD_RUNS=${XEN_BENCH_COLD_RUNS:-8}
XL_RUNS=${XEN_BENCH_XL_RUNS:-5}
if $Z bench zl --runs $RUNS --cold-runs $COLD_RUNS --json >$T/bench.json 2>$T/bench.err; then
    pass bench/zerg-bench-xen
else
    fail bench/zerg-bench-xen "$(cat $T/bench.err)"
fi

# Xen's own toolstack on the same guest, for comparison: xenstored,
# xenconsoled and xl start only now, so nothing above ran beside them.
# Xen's standard PV builder boots zergling.elf by its Xen ELF notes
# (guest/rt/xen.c); xlbench times xl create (to the guest's READY), xl save
# and xl restore.
XB=/usr/lib/xen-4.17/bin
mkdir -p /run/xen /var/log/xen/console
if $XB/xenstored --pid-file /run/xenstored.pid && $XB/xen-init-dom0 >$T/init-dom0.txt 2>&1 &&
    $XB/xenconsoled --pid-file=/run/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console; then
    pass toolstack-started
else
    fail toolstack-started "$(cat $T/init-dom0.txt)"
fi
printf '%s\n' 'type = "pv"' 'kernel = "/zerg/bin/guests/zergling.elf"' 'extra = "--dataset-mib 2"' \
    'memory = 16' 'vcpus = 1' 'on_poweroff = "destroy"' 'on_crash = "destroy"' >$T/zl.cfg
PATH=$PATH:$XB ./build/test/xlbench --config $T/zl.cfg --runs $XL_RUNS --save $T/zl.save >$T/xl.txt 2>&1
rc=$?
grep -v '^XLBENCH ' $T/xl.txt
if [ $rc -ne 0 ] && ! grep -q '^FAIL: ' $T/xl.txt; then
    fail xlbench "exited with status $rc: $(tail -n 8 $T/xl.txt | awk '{printf "%s ", $0}')"
fi

# One line for the host: medians in ms, and zerg's restore against each.
p50() { sed -n "s/.*\"$1\":{\"p50\":\([0-9.]*\).*/\1/p" $T/bench.json; }
xlv() { v=$(sed -n "s/^XLBENCH .*\"$1\":\([0-9.]*\).*/\1/p" $T/xl.txt); echo "${v:-null}"; }
ms() { awk -v u="$1" 'BEGIN { if (u == "") print "null"; else printf "%.2f", u / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "null" || b == "null" || b + 0 == 0) print "null"; else printf "%.1f", a / b }'; }
# xl restore creates its domain: compare with zerg's fresh restore including
# the creation of its domain (which zerg serve does ahead of the request).
zr=$(ms "$(p50 restore_fresh_with_create_us)")
xc=$(xlv xl_create_ms)
xr=$(xlv xl_restore_ms)
J="\"runs\":$RUNS,\"cold_runs\":$COLD_RUNS,\"xl_runs\":$XL_RUNS,\"mem_mib\":16"
J="$J,\"zerg_cold_boot_ms\":$(ms "$(p50 cold_boot_us)"),\"zerg_restore_ms\":$zr"
J="$J,\"zerg_first_byte_ms\":$(ms "$(p50 first_byte_fresh_with_create_us)"),\"xen_empty_domain_ms\":$(ms "$(p50 xen_floor_us)")"
J="$J,\"xl_create_ms\":$xc,\"xl_create_cmd_ms\":$(xlv xl_create_cmd_ms),\"xl_save_ms\":$(xlv xl_save_ms)"
J="$J,\"zerg_serve_ms\":${serve_ms:-null},\"zerg_serve_nginx_ms\":${nginx_ms:-null},\"xl_restore_ms\":$xr,\"xl_restore_resumed_ms\":$(xlv xl_restore_resumed_ms)"
J="$J,\"xl_restore_over_zerg_restore\":$(ratio "$xr" "$zr"),\"xl_create_over_zerg_restore\":$(ratio "$xc" "$zr")"
echo "XENBENCH {$J}"
