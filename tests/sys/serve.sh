#!/usr/bin/env bash
# System test: zerg serve for real, behind the real nginx and HAProxy from
# Debian, on loopback. Isolation (pooled and fresh), faults (crash, endless
# loop, memory cap) while other connections are served, clients that vanish
# or stall, the bounded backlog, SIGHUP reload under traffic, SIGTERM drain,
# metrics, a TCP listener and systemd socket activation.
#
# Environment:
#   SERVE_ONLY=isolation  run only the templates' creation, the pooled server's
#                         start and its isolation tests (serve/pooled-isolation*):
#                         ~3 s instead of ~30 s, for mutation checks such as
#                         tests/mutations/host-writes-forgotten-serve.sh.
#   SERVE_ONLY=health     run only the templates' creation and the routing tests
#                         (serve/agent-check-and-health, serve/health-*): the
#                         agent and the metrics listener, and idle or slow
#                         clients against them (~20 s).
#                         Unset or empty: every test.
#   ZERG                  the zerg binary to test (default bin/zerg).
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/proxy.bash"
trap 'proxy_stop_all; rm -rf "$TMP"' EXIT

SERVE_ONLY=${SERVE_ONLY:-}
case $SERVE_ONLY in
"" | isolation | health) ;;
*)
    fail serve/only "SERVE_ONLY=$SERVE_ONLY: the filters are SERVE_ONLY=isolation and SERVE_ONLY=health"
    exit 1
    ;;
esac

if ! kvm_usable; then
    skip serve/all "/dev/kvm is missing or not accessible to $(id -un)"
    exit 0
fi
for tool in nginx haproxy curl python3; do
    if ! command -v "$tool" >/dev/null; then
        fail serve/tools "$tool is not installed (make deps installs it)"
        exit 1
    fi
done
export ZERG_HOME=$TMP/home ZERG_IMAGE_DIR=$TMP/img
mkdir -p "$ZERG_IMAGE_DIR"
Z=${ZERG:-bin/zerg}
RAW="python3 tests/sys/rawclient.py"

if "$Z" template create st --guest bin/test-guests/servetest.elf -q >"$TMP/c.txt" 2>&1 &&
    "$Z" template create zl --guest bin/guests/zergling.elf -q -- --dataset-mib 8 >>"$TMP/c.txt" 2>&1; then
    pass serve/templates
else
    fail serve/templates "$(cat "$TMP/c.txt")"
    exit 1
fi

# metric NAME_WITH_LABELS SOCKET: one value from a scrape.
metric() {
    curl -s --unix-socket "$2" http://m/metrics | awk -v k="$1" '$1 == k {print $2}'
}
# kvm_vms PID: VMs open in the server's processes (kvm-vm descriptors).
kvm_vms() {
    local n=0 p
    for p in $(tree_pids "$1"); do
        n=$((n + $(ls -l "/proc/$p/fd" 2>/dev/null | grep -c 'kvm-vm')))
    done
    echo "$n"
}

# What servetest's /get answers in an instance that holds nothing of an
# earlier request.
CLEAN="bss=- heap=- page=- rest=- image=- fpu=-"

# big_headers SECRET: BIG becomes curl options for three headers of ~4000
# bytes repeating SECRET. With them a request head through nginx is ~12 KiB,
# and whole pages of servetest's receive buffer hold nothing but these bytes:
# pages written by the monitor's RECV alone, which KVM's dirty log does not
# see (the guest writes only a zero after each read and one in the request
# line), so only the monitor's own record of them gets them reset.
big_headers() {
    local v=""
    while [ ${#v} -lt 4000 ]; do v+="$1."; done
    BIG=(-H "X-Pad-1: $v" -H "X-Pad-2: $v" -H "X-Pad-3: $v")
}

# st_instances LOG: "conn slot vm in end" for each instance line of template
# st, in connection order.
st_instances() {
    awk '/ zerg-serve instance template=st / {
        delete f
        for (i = 1; i <= NF; i++) {
            if ($i ~ /^why=/) break
            if (split($i, kv, "=") == 2) f[kv[1]] = kv[2]
        }
        print f["conn"], f["slot"], f["vm"], f["in"], f["end"]
    }' "$1" | sort -n
}

# put_report LOG END: for the big request (in > 8000 bytes) that ended END,
# "SLOT VM GETS ON_ITS_VM": the VM that served it, how many small requests
# ending in exit followed it, and how many of those ran on that same VM.
# "- - 0 0" while its line is not in the log.
put_report() {
    st_instances "$1" | awk -v want="$2" '
        $4 > 8000 && $5 == want { pc = $1; ps = $2; pv = $3; n = k = 0; next }
        pc && $1 > pc && $4 <= 8000 && $5 == "exit" { n++; if ($2 == ps && $3 == pv) k++ }
        END { if (pc) printf "%s %s %d %d\n", ps, pv, n, k; else print "- - 0 0" }'
}

# wait_report LOG END GETS: put_report once the put and GETS requests after it
# are in the log (at most 3 s). The server logs an instance when its slot
# reports, after which the slot is idle again: a request sent after the
# put's line is in the log is handed the put's slot first (the idle stack is
# LIFO), and the log says whether it was.
wait_report() {
    local i r n
    for ((i = 0; i < 60; i++)); do
        r=$(put_report "$1" "$2")
        read -r _ _ n _ <<<"$r"
        [ "${r%% *}" != - ] && [ "$n" -ge "$3" ] && break
        sleep 0.05
    done
    echo "$r"
}

# same_vm_ok MODE "SLOT VM GETS ON_ITS_VM": pooled: at least one get ran on
# the put's VM (so the reset in place is what was tested); fresh: none did
# (every instance is a new VM).
same_vm_ok() {
    local ps pv n k
    read -r ps pv n k <<<"$2"
    [ "$ps" != - ] && [ "$pv" != 0 ] || return 1
    if [ "$1" = pooled ]; then [ "$k" -ge 1 ]; else [ "$k" = 0 ]; fi
}

# ---- routing: HAProxy's agent-check and the health endpoint -----------------------
# (a function: SERVE_ONLY=health runs it alone, right after the templates)
routing_tests() {
    # --agent answers each connection with one line: "up N%" (the share of
    # instance slots free) or "drain" once draining; GET /health is 200 "ok", or
    # 503 once draining. A request spinning in one of two slots halves the weight.
    # Its deadline (20 s) is far beyond the checks, which must find the server
    # still draining however slowly python starts on a loaded machine; a
    # second SIGTERM then stops it.
    D=$TMP/agent
    mkdir -p "$D"
    aport=$(free_port)
    agent() { python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1])),3); print(s.recv(64).decode().strip())' "$aport" 2>&1; }
    health() { curl -s -m 3 -o /dev/null -w '%{http_code}' --unix-socket "$D/m.sock" http://m/health; }
    if serve_start "$D/serve.log" -n 2 --deadline 20000 -l "unix:$D/st.sock=st" --agent "127.0.0.1:$aport" \
        --metrics "unix:$D/m.sock"; then
        SP=$SERVE_PID
        sleep 0.2
        idle=$(agent)
        h_idle=$(health)
        curl -s -m 25 -o /dev/null --unix-socket "$D/st.sock" http://x/spin &
        sleep 0.5
        half=$(agent)
        kill -TERM "$SP"
        sleep 0.3
        drain=$(agent)
        h_drain=$(health)
        kill -TERM "$SP"
        wait "$SP" 2>/dev/null
        if [ "$idle" = "up 100%" ] && [ "$h_idle" = 200 ] && [ "$half" = "up 50%" ] &&
            [ "$drain" = drain ] && [ "$h_drain" = 503 ]; then
            pass serve/agent-check-and-health
        else
            fail serve/agent-check-and-health "idle='$idle' ($h_idle) half='$half' drain='$drain' ($h_drain)"
        fi
    else
        fail serve/agent-start "$(cat "$D/serve.log")"
    fi

    # Nobody who reaches the metrics port can hold /health down. The listener
    # drops a client that has not sent its whole request head 1 s after its
    # accept (not 1 s after its last byte: a client sending one byte per
    # 100 ms is dropped as well), and when its 256 places are taken a new
    # connection evicts the oldest client still sending its head instead of
    # being refused. First a few idle and trickling clients alone: each must
    # be dropped about 1 s after it connected. Then 300 idle and 8 trickling
    # ones, reopened as they are dropped (more than the 256 places), while
    # /health and the agent are polled 40 times, 0.2 s apart: every poll answered.
    D=$TMP/starve
    mkdir -p "$D"
    local mport aport2 r ok ag h i
    mport=$(free_port)
    aport2=$(free_port)
    if serve_start "$D/serve.log" -n 2 -l "unix:$D/zl.sock=zl" --metrics "127.0.0.1:$mport" \
        --agent "127.0.0.1:$aport2" && wait_tcp "$mport"; then
        SP=$SERVE_PID
        r=$($RAW "127.0.0.1:$mport" hold 8 4 4 0)
        local idle_closed='' idle_min='' idle_max='' trickle_closed='' trickle_max='' answered=''
        eval "$(tr ' ' '\n' <<<"$r" | grep -E '^(idle_closed|idle_min|idle_max|trickle_closed|trickle_max|answered)=[0-9.]+$')"
        if [ "$idle_closed" = 8 ] && [ "$trickle_closed" = 4 ] && [ "$answered" = 0 ] &&
            [ -n "$idle_min" ] && [ -n "$idle_max" ] && [ -n "$trickle_max" ] && awk -v a="$idle_min" -v b="$idle_max" -v c="$trickle_max" \
                'BEGIN { exit !(a >= 0.9 && b <= 1.6 && c <= 1.6) }'; then
            pass serve/health-idle-clients-dropped
        else
            fail serve/health-idle-clients-dropped "$r"
        fi
        $RAW "127.0.0.1:$mport" hold 300 8 120 1 >"$D/hold.txt" 2>&1 &
        local hp=$!
        sleep 1
        ok=0 ag=0 h=""
        for ((i = 0; i < 40; i++)); do
            r=$(curl -s -m 3 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mport/health")
            [ "$r" = 200 ] && ok=$((ok + 1))
            h+="$r "
            [ "$(python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1])),3); print(s.recv(64).decode().strip())' "$aport2" 2>&1)" = "up 100%" ] &&
                ag=$((ag + 1))
            sleep 0.2
        done
        r=$(curl -s -m 5 -o /dev/null -w '%{http_code}' --unix-socket "$D/zl.sock" http://x/during-hold)
        kill -TERM $hp # the clients were there until the last poll
        wait $hp
        local held
        held=$(cat "$D/hold.txt")
        local idle_oldest='' trickle_oldest='' connects=''
        trickle_max=''
        eval "$(tr ' ' '\n' <<<"$held" | grep -E '^(idle_oldest|trickle_oldest|trickle_max|connects)=[0-9.]+$')"
        if [ $ok = 40 ] && [ $ag = 40 ] && [ "$r" = 200 ] && [ "${connects:-0}" -gt 308 ] &&
            [ -n "$idle_oldest" ] && [ -n "$trickle_oldest" ] && [ -n "$trickle_max" ] && awk -v a="$idle_oldest" -v b="$trickle_oldest" -v c="$trickle_max" \
                'BEGIN { exit !(a <= 1.6 && b <= 1.6 && c <= 1.6) }'; then
            pass serve/health-not-starved-by-idle-clients
        else
            fail serve/health-not-starved-by-idle-clients "health $ok/40 ($h) agent $ag/40, main port $r; $held"
        fi
        kill -TERM "$SP"
        wait "$SP" 2>/dev/null
    else
        fail serve/health-start "$(cat "$D/serve.log")"
    fi
}

if [ "$SERVE_ONLY" = health ]; then
    routing_tests
    proxy_stop_all
    exit $T_FAILED
fi

# ---- per mode: isolation, faults, vanishing and stalling clients -----------------
modes=(pooled fresh)
[ "$SERVE_ONLY" = isolation ] && modes=(pooled)
for mode in "${modes[@]}"; do
    D=$TMP/$mode
    mkdir -p "$D"
    flag=()
    [ $mode = fresh ] && flag=(--fresh)
    if ! serve_start "$D/serve.log" "${flag[@]}" -n 4 --deadline 1500 --mem-cap 8M \
        -l "unix:$D/st.sock=st" -l "unix:$D/zl.sock=zl" --metrics "unix:$D/m.sock"; then
        fail "serve/$mode-start" "$(cat "$D/serve.log")"
        continue
    fi
    SP=$SERVE_PID
    port=$(free_port)
    if ! nginx_start "$D/nginx" "$port" st="unix:$D/st.sock" zl="unix:$D/zl.sock"; then
        fail "serve/$mode-nginx" "$(cat "$D/nginx/error.log")"
        continue
    fi
    U=http://127.0.0.1:$port

    if [ -z "$SERVE_ONLY" ]; then
        r=$(curl -s "$U/zl/hello")
        if grep -q '^restored: yes' <<<"$r" && grep -q '^path: /hello' <<<"$r"; then
            pass "serve/$mode-nginx-answers"
        else
            fail "serve/$mode-nginx-answers" "$r"
        fi
    fi

    # Isolation: one request stores a secret in .bss, heap and a page of its
    # own, and brings it in a ~12 KiB request head (big_headers: pages only
    # the monitor wrote, READY_RECV's and RECV's). No later request may see
    # it, there, anywhere in its receive buffer beyond its own request, or
    # anywhere in its image (data and bss: the runtime's buffers too). The log says which VM served
    # each (slot=, vm=): pooled, at least one get must have run on the very VM
    # that took the put, reset in place; fresh, none (a new VM every time).
    secret=SECRET-$mode-$$
    big_headers "$secret"
    put=$(curl -s "${BIG[@]}" "$U/st/put/$secret")
    wait_report "$D/serve.log" exit 0 >/dev/null
    leaks=0 leak=""
    for i in 1 2 3 4 5 6 7 8; do
        g=$(curl -s "$U/st/get")
        [ "$g" = "$CLEAN" ] || { leaks=$((leaks + 1)) && leak=$g; }
    done
    vms=$(wait_report "$D/serve.log" exit 8)
    if [ "$put" = stored ] && [ $leaks = 0 ] && same_vm_ok $mode "$vms"; then
        pass "serve/$mode-isolation"
    else
        fail "serve/$mode-isolation" "put=$put; put's slot, vm, gets after it, gets on its VM: $vms; $leaks of 8 gets saw something, the last: $leak"
    fi

    # A secret written just before the instance is killed (a crash, its
    # deadline, its memory cap), brought in pages only the monitor wrote as
    # well: the requests after it, on the same VM when pooled, see none of it.
    for kill in crash:fault spin:deadline hog:memory; do
        route=${kill%%:*} end=${kill#*:}
        secret=KILLED-$route-$mode-$$
        big_headers "$secret"
        code=$(curl -s -o /dev/null -w '%{http_code}' "${BIG[@]}" "$U/st/put-$route/$secret")
        wait_report "$D/serve.log" "$end" 0 >/dev/null
        leaks=0 leak=""
        for i in 1 2 3 4; do
            g=$(curl -s "$U/st/get")
            [ "$g" = "$CLEAN" ] || { leaks=$((leaks + 1)) && leak=$g; }
        done
        vms=$(wait_report "$D/serve.log" "$end" 4)
        if [ "$code" = 502 ] && [ $leaks = 0 ] && same_vm_ok $mode "$vms"; then
            pass "serve/$mode-isolation-after-$end"
        else
            fail "serve/$mode-isolation-after-$end" "put-$route: $code; put's slot, vm, gets after it, gets on its VM: $vms; $leaks of 4 gets saw something, the last: $leak"
        fi
    done

    # The same secret, with the get racing the put on other instances.
    curl -s "$U/st/put/RACE-$mode" >/dev/null &
    g=$(curl -s "$U/st/get")
    wait $!
    if [ "$g" = "$CLEAN" ]; then
        pass "serve/$mode-isolation-concurrent"
    else
        fail "serve/$mode-isolation-concurrent" "$g"
    fi
    if [ -n "$SERVE_ONLY" ]; then
        proxy_stop_all
        continue
    fi

    # Faults: a crash, an endless loop and a memory hog, while other
    # connections keep being answered.
    vms0=$(kvm_vms "$SP")
    curl -s -o /dev/null -w '%{http_code}' "$U/st/spin" >"$D/spin.code" &
    sp=$!
    curl -s -o /dev/null -w '%{http_code}' "$U/st/hog/40" >"$D/hog.code" &
    hp=$!
    crash=$(curl -s -o /dev/null -w '%{http_code}' "$U/st/crash")
    ok=0
    for i in $(seq 1 20); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$U/zl/during-faults")" = 200 ] && ok=$((ok + 1))
    done
    wait $sp $hp
    sleep 0.2
    log=$(cat "$D/serve.log")
    if [ "$crash" = 502 ] && [ "$(cat "$D/spin.code")" = 502 ] && [ "$(cat "$D/hog.code")" = 502 ] &&
        [ $ok = 20 ] && grep -q 'end=fault .*why="guest fault' <<<"$log" &&
        grep -q 'end=deadline .*why="killed at its deadline of 1500 ms"' <<<"$log" &&
        grep -q 'end=memory .*over its cap of 8192 KiB' <<<"$log"; then
        pass "serve/$mode-faults-killed-others-served"
    else
        fail "serve/$mode-faults-killed-others-served" \
            "crash=$crash spin=$(cat "$D/spin.code") hog=$(cat "$D/hog.code") ok=$ok/20 log:$(tail -n 8 "$D/serve.log")"
    fi
    m="$D/m.sock"
    f_dl=$(metric 'zerg_instance_failures_total{template="st",reason="deadline"}' "$m")
    f_ft=$(metric 'zerg_instance_failures_total{template="st",reason="fault"}' "$m")
    f_mm=$(metric 'zerg_instance_failures_total{template="st",reason="memory"}' "$m")
    n_rs=$(metric "zerg_restores_total{template=\"zl\",mode=\"$mode\"}" "$m")
    if [ "${f_dl:-0}" -ge 1 ] && [ "${f_ft:-0}" -ge 1 ] && [ "${f_mm:-0}" -ge 1 ] && [ "${n_rs:-0}" -ge 21 ]; then
        pass "serve/$mode-metrics-count-failures"
    else
        fail "serve/$mode-metrics-count-failures" "deadline=$f_dl fault=$f_ft memory=$f_mm restores=$n_rs"
    fi

    # Clients that vanish: before sending anything, mid-request, and after
    # asking for an endless loop. None may leave an instance behind.
    $RAW "$D/st.sock" vanish "" >/dev/null
    $RAW "$D/st.sock" vanish 'GET /get HT' >/dev/null
    $RAW "$D/st.sock" vanish 'GET /spin HTTP/1.0\r\n\r\n' >/dev/null
    sleep 2 # past the 1.5 s deadline of the spinning one
    # On a loaded machine the killed instance's replacement may still be in
    # the making: wait (bounded) for the count to settle.
    for i in $(seq 1 40); do
        busy=$(metric 'zerg_instances{state="busy"}' "$m")
        vms1=$(kvm_vms "$SP")
        [ "$busy" = 0 ] && [ "$vms1" = "$vms0" ] && break
        sleep 0.1
    done
    if [ "$busy" = 0 ] && [ "$vms1" = "$vms0" ] && [ "$vms1" -gt 0 ] &&
        [ "$(grep -c 'template=st .*in=11 .*end=exit' "$D/serve.log")" -ge 1 ]; then
        pass "serve/$mode-vanishing-clients-leave-nothing"
    else
        fail "serve/$mode-vanishing-clients-leave-nothing" "busy=$busy vms $vms0 -> $vms1; $(tail -n 4 "$D/serve.log")"
    fi

    # A client that stalls mid-request costs only its own instance, until
    # its deadline.
    st=$($RAW "$D/st.sock" stall 'GET /get HTTP/1.0\r\n' 5)
    code=$(curl -s -o /dev/null -w '%{http_code}' "$U/zl/while-stalled")
    if [[ $st == "closed after 1."* ]] && [ "$code" = 200 ]; then
        pass "serve/$mode-stalled-client-killed-at-deadline"
    else
        fail "serve/$mode-stalled-client-killed-at-deadline" "$st, other request $code"
    fi
    proxy_stop_all
done
[ -n "$SERVE_ONLY" ] && exit $T_FAILED

# ---- HAProxy in front -------------------------------------------------------------
D=$TMP/haproxy
mkdir -p "$D"
if serve_start "$D/serve.log" -q -n 2 -l "unix:$D/zl.sock=zl"; then
    port=$(free_port)
    if haproxy_start "$D" "$port" "$D/zl.sock"; then
        ids=""
        codes=""
        for i in 1 2 3 4 5; do
            r=$(curl -s -D "$D/h$i" "http://127.0.0.1:$port/via-haproxy")
            ids+="$(grep '^instance:' <<<"$r" | cut -d' ' -f2) "
            codes+="$(head -n 1 "$D/h$i" | cut -d' ' -f2) "
        done
        uniq=$(tr ' ' '\n' <<<"$ids" | grep -c .)
        distinct=$(tr ' ' '\n' <<<"$ids" | grep . | sort -u | wc -l)
        if [ "$codes" = "200 200 200 200 200 " ] && [ "$uniq" = 5 ] && [ "$distinct" = 5 ]; then
            pass serve/haproxy-each-request-own-instance
        else
            fail serve/haproxy-each-request-own-instance "codes=$codes ids=$ids $(cat "$D/haproxy.log")"
        fi
    else
        fail serve/haproxy-start "$(cat "$D/haproxy.log")"
    fi
else
    fail serve/haproxy-serve-start "$(cat "$D/serve.log")"
fi
proxy_stop_all

# ---- the bounded backlog: refused fast, not left to time out ---------------------
D=$TMP/backlog
mkdir -p "$D"
if serve_start "$D/serve.log" -n 1 --backlog 1 --deadline 3000 -l "unix:$D/st.sock=st" \
    --metrics "unix:$D/m.sock"; then
    $RAW "$D/st.sock" stall 'GET /spin HTTP/1.0\r\n\r\n' 4 >"$D/a" &
    a=$!
    sleep 0.3
    $RAW "$D/st.sock" stall 'GET /get HTTP/1.0\r\n\r\n' 6 >"$D/b" &
    b=$!
    sleep 0.3
    third=$($RAW "$D/st.sock" request 'GET /get HTTP/1.0\r\n\r\n')
    wait $a $b
    refused=$(metric 'zerg_connections_refused_total{template="st"}' "$D/m.sock")
    # The third is reset at once; the queued second (conn 3: serve_start's
    # probe was conn 1) is served after the spinner dies.
    if [[ $third == "reset after 0."* || $third == "got 0 bytes"* ]] && [ "$refused" = 1 ] &&
        [[ $(cat "$D/b") == "closed after 2."* || $(cat "$D/b") == "closed after 3."* ]] &&
        grep -q 'template=st .*conn=3 .*in=21 .*end=exit' "$D/serve.log"; then
        pass serve/backlog-full-refused-fast
    else
        fail serve/backlog-full-refused-fast "third: $third; refused=$refused; queued: $(cat "$D/b"); $(tail -n 3 "$D/serve.log")"
    fi
else
    fail serve/backlog-start "$(cat "$D/serve.log")"
fi
proxy_stop_all

# ---- SIGHUP: templates reloaded under traffic, no connection dropped -------------
D=$TMP/reload
mkdir -p "$D"
if serve_start "$D/serve.log" -q -n 4 -l "unix:$D/zl.sock=zl"; then
    SP=$SERVE_PID
    (
        for i in $(seq 1 150); do
            curl -s -o /dev/null -w '%{http_code}\n' --unix-socket "$D/zl.sock" "http://x/r$i"
        done
    ) >"$D/codes" &
    loop=$!
    for i in 1 2 3; do
        sleep 0.2
        kill -HUP "$SP"
    done
    # A new version of the template: later connections must get it.
    "$Z" template create zl --force --guest bin/guests/zergling.elf -q -- --dataset-mib 4 >"$D/c.txt" 2>&1
    kill -HUP "$SP"
    wait $loop
    sleep 0.3
    after=$(curl -s --unix-socket "$D/zl.sock" http://x/after)
    n200=$(grep -c '^200$' "$D/codes")
    if [ "$n200" = 150 ] && grep -q '(4 MiB)' <<<"$after" &&
        [ "$(grep -c 'zerg-serve reload generation' "$D/serve.log")" = 4 ]; then
        pass serve/sighup-reload-drops-nothing
    else
        fail serve/sighup-reload-drops-nothing "200s: $n200/150; after: $(grep dataset <<<"$after"); $(grep -v instance "$D/serve.log" | tail -n 5)"
    fi
    # A reload that cannot load keeps serving the old version.
    "$Z" template rm zl >/dev/null 2>&1
    kill -HUP "$SP"
    sleep 0.3
    code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$D/zl.sock" http://x/still)
    if [ "$code" = 200 ] && grep -q 'reload-failed keeping the templates served' "$D/serve.log"; then
        pass serve/failed-reload-keeps-serving
    else
        fail serve/failed-reload-keeps-serving "code=$code; $(tail -n 3 "$D/serve.log")"
    fi
    "$Z" template create zl --guest bin/guests/zergling.elf -q -- --dataset-mib 8 >/dev/null 2>&1
else
    fail serve/reload-start "$(cat "$D/serve.log")"
fi
proxy_stop_all

# ---- SIGTERM: in-flight instances finish, then the server exits 0 ----------------
D=$TMP/drain
mkdir -p "$D"
# One instance: the first connection is in flight (half its request sent
# when SIGTERM comes), the second waits in the queue; both must be answered.
if serve_start "$D/serve.log" -n 1 -l "unix:$D/st.sock=st"; then
    SP=$SERVE_PID
    echo "$SP" >"$D/pid"
    # The SIGTERM waits until the second client has connected (a loaded
    # machine can take longer than any fixed pause to start it).
    RAW_WAIT_FOR="$D/queued" $RAW "$D/st.sock" drain 'GET /echo HTTP/1.0\r\n' 'X-Late: 1\r\n\r\n' \
        "$D/pid" >"$D/r" &
    rp=$!
    sleep 0.05
    RAW_CONNECTED="$D/queued" $RAW "$D/st.sock" request 'GET /get HTTP/1.0\r\n\r\n' >"$D/q" &
    qp=$!
    wait $rp $qp
    wait "$SP"
    rc=$?
    PROXY_PIDS=()
    r=$(cat "$D/r")
    q=$(cat "$D/q")
    if [[ $r == "got "*"HTTP/1.0 200 X" ]] && [[ $q == "got "*"HTTP/1.0 200 X" ]] && [ $rc = 0 ] &&
        [ ! -e "$D/st.sock" ] &&
        grep -q 'zerg-serve drain SIGTERM: no longer accepting; 1 in flight, 1 queued' "$D/serve.log" &&
        [ -z "$(tree_pids "$SP" | tail -n +2)" ]; then
        pass serve/sigterm-drains-in-flight-and-queued
    else
        fail serve/sigterm-drains-in-flight-and-queued "in flight: $r; queued: $q; rc=$rc; $(tail -n 4 "$D/serve.log")"
    fi
else
    fail serve/drain-start "$(cat "$D/serve.log")"
fi

# ---- who accepts: idle slots themselves (the default), or the master -------------------
# A slot granted leave to accept takes its connection off the listener
# itself (no hop through the master); with --accept master every connection
# is accepted by the master and its descriptor passed on. Either way every
# connection is counted once, logged once, and answered; a burst larger than
# the slots (served one after another by one slot) mixes both paths, as the
# master accepts while no slot waits.
D=$TMP/accept
mkdir -p "$D"
for who in slots master; do
    rm -f "$D"/*.sock
    if serve_start "$D/$who.log" -n 1 --accept "$who" -l "unix:$D/zl.sock=zl" \
        --metrics "unix:$D/m.sock"; then
        SP=$SERVE_PID
        codes=""
        for i in 1 2 3 4 5 6; do
            # The slot idle (and so, by default, granted and waiting) first.
            for ((k = 0; k < 100; k++)); do
                [ "$(metric 'zerg_instances{state="idle"}' "$D/m.sock")" = 1 ] && break
                sleep 0.02
            done
            codes+="$(curl -s -m 3 -o /dev/null -w '%{http_code}' --unix-socket "$D/zl.sock" "http://x/$i") "
        done
        # The burst: 12 at once to one slot.
        for i in $(seq 1 12); do
            curl -s -m 10 -o /dev/null -w '%{http_code}\n' --unix-socket "$D/zl.sock" "http://x/b$i" >"$D/burst.$i" &
        done
        wait_jobs=$(jobs -p | grep -v "^$SP\$" || true)
        for j in $wait_jobs; do wait "$j" 2>/dev/null || true; done
        burst=$(cat "$D"/burst.* | grep -c '^200$')
        sleep 0.2
        conns=$(metric 'zerg_connections_total{template="zl"}' "$D/m.sock")
        served=$(metric 'zerg_restores_total{template="zl",mode="pooled"}' "$D/m.sock")
        busy=$(metric 'zerg_instances{state="busy"}' "$D/m.sock")
        lines=$(grep -c ' zerg-serve instance ' "$D/$who.log")
        by_slot=$(grep -c ' zerg-serve instance .* by=slot' "$D/$who.log")
        by_master=$(grep -c ' zerg-serve instance .* by=master' "$D/$who.log")
        if [ "$who" = slots ]; then
            # The sequential six: all by the slot (it is idle and waiting each time).
            first6=$(grep ' zerg-serve instance ' "$D/$who.log" | grep -v ' in=0 ' | head -n 6 |
                grep -c 'by=slot')
            right=$([ "$first6" = 6 ] && echo yes)
        else
            right=$([ "$by_master" = 19 ] && [ "$by_slot" = 0 ] && echo yes)
        fi
        # 19 connections: serve_start's probe (connects, sends nothing), the
        # six and the burst.
        if [ "$codes" = "200 200 200 200 200 200 " ] && [ "$burst" = 12 ] && [ "$conns" = 19 ] &&
            [ "$served" = 19 ] && [ "$lines" = 19 ] && [ "$busy" = 0 ] && [ "$right" = yes ] &&
            ! grep -q 'ungrant' "$D/$who.log"; then
            pass "serve/accept-by-$who"
        else
            fail "serve/accept-by-$who" "codes=$codes burst=$burst/12 conns=$conns served=$served lines=$lines busy=$busy by slot $by_slot, master $by_master; $(grep -v ' instance ' "$D/$who.log" | tail -n 3)"
        fi
        kill -TERM "$SP"
        wait "$SP" 2>/dev/null || true
    else
        fail "serve/accept-$who-start" "$(cat "$D/$who.log")"
    fi
done

# ---- the workers' sandbox (docs/security.md) --------------------------------------
# Pooled and fresh workers run under a seccomp filter (Seccomp: 2, no new
# privileges) and, started as root, as nobody in a network namespace of
# their own; a worker that makes a call outside its filter is killed
# (SIGSYS) and replaced, and the master carries on. The test hook
# ZERG_SERVE_TEST_FORBIDDEN_CALL makes the first workers call socket()
# when they get a connection: here serve_start's probe of the socket, which
# is lost with the worker; the connections after it wait for the worker
# started in its place (at most a second later) and are answered.
D=$TMP/sandbox
mkdir -p "$D"
if serve_start "$D/serve.log" -n 1 -w 1 -l "unix:$D/zl.sock=zl"; then
    SP=$SERVE_PID
    code=$(curl -s -m 3 -o /dev/null -w '%{http_code}' --unix-socket "$D/zl.sock" http://x/s)
    w=$(pgrep -P "$SP" | head -n 1)
    seccomp=$(awk '$1 == "Seccomp:" {print $2}' "/proc/$w/status" 2>/dev/null)
    nnp=$(awk '$1 == "NoNewPrivs:" {print $2}' "/proc/$w/status" 2>/dev/null)
    wuid=$(awk '$1 == "Uid:" {print $2}' "/proc/$w/status" 2>/dev/null)
    netns_w=$(readlink "/proc/$w/ns/net" 2>/dev/null)
    netns_m=$(readlink "/proc/$SP/ns/net" 2>/dev/null)
    as_root_ok=yes
    if [ "$(id -u)" = 0 ] && { [ "$wuid" != 65534 ] || [ "$netns_w" = "$netns_m" ]; }; then
        as_root_ok=no
    fi
    if [ "$code" = 200 ] && [ "$seccomp" = 2 ] && [ "$nnp" = 1 ] && [ $as_root_ok = yes ]; then
        pass serve/worker-sandboxed
    else
        fail serve/worker-sandboxed "code=$code seccomp=$seccomp nnp=$nnp uid=$wuid net $netns_w (master $netns_m)"
    fi
    kill -TERM "$SP"
    wait "$SP" 2>/dev/null
else
    fail serve/sandbox-start "$(cat "$D/serve.log")"
fi
rm -f "$D/zl.sock"
if ZERG_SERVE_TEST_FORBIDDEN_CALL=1 serve_start "$D/forbidden.log" -n 1 -w 1 -l "unix:$D/zl.sock=zl"; then
    SP=$SERVE_PID
    after=""
    for i in 1 2 3; do
        after+="$(curl -s -m 5 -o /dev/null -w '%{http_code}' --unix-socket "$D/zl.sock" "http://x/a$i") "
    done
    if [ "$after" = "200 200 200 " ] &&
        grep -q 'worker-died worker 0 (pid [0-9]*) killed by signal 31' "$D/forbidden.log" &&
        [ "$(grep -c 'end=host .*its worker process died' "$D/forbidden.log")" = 1 ] &&
        grep -q 'respawn starting a worker for 1 slot' "$D/forbidden.log"; then
        pass serve/forbidden-call-kills-only-the-worker
    else
        fail serve/forbidden-call-kills-only-the-worker "after: $after; $(grep -v ' instance .*end=exit' "$D/forbidden.log" | tail -n 4)"
    fi
    kill -TERM "$SP"
    wait "$SP" 2>/dev/null
else
    fail serve/forbidden-start "$(cat "$D/forbidden.log")"
fi

# ---- routing: HAProxy's agent-check and the health endpoint -----------------------
routing_tests
# ---- a log nobody reads must not stop serving ---------------------------------------
D=$TMP/slowlog
mkdir -p "$D"
mkfifo "$D/log.fifo"
sleep 300 <"$D/log.fifo" & # opens the FIFO for reading, never reads
reader=$!
"${ZERG:-bin/zerg}" serve --log "$D/log.fifo" -n 2 -l "unix:$D/zl.sock=zl" \
    --metrics "unix:$D/m.sock" 2>>"$D/err" &
SP=$!
PROXY_PIDS+=("$SP" "$reader")
if wait_unix "$D/zl.sock"; then
    ok=0
    for i in $(seq 1 400); do
        [ "$(curl -s -m 3 -o /dev/null -w '%{http_code}' --unix-socket "$D/zl.sock" "http://x/$i")" = 200 ] &&
            ok=$((ok + 1))
    done
    scraped=$(curl -s -m 3 --unix-socket "$D/m.sock" http://m/metrics | grep -c '^zerg_restores_total')
    if [ $ok = 400 ] && [ "$scraped" = 1 ]; then
        pass serve/unread-log-does-not-block
    else
        fail serve/unread-log-does-not-block "$ok/400 answered, metrics scraped: $scraped; $(cat "$D/err")"
    fi
else
    fail serve/slowlog-start "$(cat "$D/err")"
fi
proxy_stop_all

# ---- a worker that dies is replaced; a connection whose descriptor cannot
# reach its worker is answered (reset) without losing the slot -------------------
D=$TMP/workers
mkdir -p "$D"
# (--no-sandbox: prlimit below must change the workers' limits, and a
# sandboxed worker runs as nobody, another user than this script's.)
if serve_start "$D/serve.log" -n 2 -w 2 --no-sandbox -l "unix:$D/zl.sock=zl" --metrics "unix:$D/m.sock"; then
    SP=$SERVE_PID
    w1=$(pgrep -P "$SP" | head -n 1)
    kill -9 "$w1"
    sleep 1.5 # respawn happens at most once a second
    codes=""
    for i in 1 2 3 4; do
        codes+="$(curl -s -m 3 -o /dev/null -w '%{http_code}' --unix-socket "$D/zl.sock" "http://x/$i") "
    done
    workers=$(curl -s --unix-socket "$D/m.sock" http://m/metrics | awk '$1 == "zerg_workers" {print $2}')
    if [ "$codes" = "200 200 200 200 " ] && [ "$workers" = 2 ] && grep -q 'worker-died' "$D/serve.log" &&
        grep -q 'respawn starting a worker for 1 slot' "$D/serve.log"; then
        pass serve/dead-worker-replaced
    else
        fail serve/dead-worker-replaced "codes=$codes workers=$workers; $(grep -v instance "$D/serve.log" | tail -n 4)"
    fi
    if command -v prlimit >/dev/null; then
        # Starve every worker of descriptors: the passed fd cannot arrive.
        for w in $(pgrep -P "$SP"); do prlimit --pid "$w" --nofile=4:1024; done
        lost=$($RAW "$D/zl.sock" request 'GET /lost HTTP/1.0\r\n\r\n')
        for w in $(pgrep -P "$SP"); do prlimit --pid "$w" --nofile=1024:1024; done
        sleep 0.2
        after=""
        for i in 1 2 3; do
            after+="$(curl -s -m 3 -o /dev/null -w '%{http_code}' --unix-socket "$D/zl.sock" "http://x/a$i") "
        done
        busy=$(curl -s --unix-socket "$D/m.sock" http://m/metrics | awk '$1 == "zerg_instances{state=\"busy\"}" {print $2}')
        if [[ $lost == "got 0 bytes"* || $lost == reset* ]] && [ "$after" = "200 200 200 " ] &&
            [ "$busy" = 0 ] && grep -q 'end=restore .*lost in passing' "$D/serve.log"; then
            pass serve/lost-descriptor-frees-the-slot
        else
            fail serve/lost-descriptor-frees-the-slot "lost: $lost; after: $after; busy=$busy; $(tail -n 3 "$D/serve.log")"
        fi
    else
        skip serve/lost-descriptor-frees-the-slot "prlimit (util-linux) not installed"
    fi
else
    fail serve/workers-start "$(cat "$D/serve.log")"
fi
proxy_stop_all

# ---- a TCP listener, JSON log lines ------------------------------------------------
D=$TMP/tcp
mkdir -p "$D"
port=$(free_port)
if serve_start "$D/serve.log" --log-format json -n 2 -l "127.0.0.1:$port=zl" && wait_tcp "$port"; then
    r=$(curl -s "http://127.0.0.1:$port/over-tcp")
    sleep 0.2
    if grep -q '^path: /over-tcp' <<<"$r" &&
        python3 -c 'import json,sys
for l in open(sys.argv[1]):
    j = json.loads(l)
    if j.get("event") == "instance" and j["bytes_out"] > 0:
        assert j["template"] == "zl" and j["end"] == "exit" and j["bytes_in"] > 0
        assert j["vm"] >= 1 and len(j["slot"].split(".")) == 2
        sys.exit(0)
sys.exit(1)' "$D/serve.log"; then
        pass serve/tcp-listener-json-log
    else
        fail serve/tcp-listener-json-log "$r; $(cat "$D/serve.log")"
    fi
else
    fail serve/tcp-start "$(cat "$D/serve.log")"
fi
proxy_stop_all

# ---- systemd socket activation ---------------------------------------------------
D=$TMP/sd
mkdir -p "$D"
$RAW "$D/web.sock" activate web "$PWD/$Z" serve --log "$D/serve.log" -n 2 \
    --listen systemd:web=zl 2>>"$D/serve.log" &
PROXY_PIDS+=($!)
if wait_unix "$D/web.sock" && r=$(curl -s --unix-socket "$D/web.sock" http://x/activated) &&
    grep -q '^path: /activated' <<<"$r"; then
    pass serve/systemd-socket-activation
else
    fail serve/systemd-socket-activation "$r; $(cat "$D/serve.log")"
fi
proxy_stop_all

# ---- bad command lines are refused with a message ---------------------------------
out=$("$Z" serve -l "unix:$TMP/x.sock=nosuch" 2>&1)
rc1=$?
out2=$("$Z" serve -l "unix:$TMP/y.sock" 2>&1)
rc2=$?
out3=$("$Z" serve -t zl -l "999.1.1.1:80" 2>&1)
rc3=$?
if [ $rc1 != 0 ] && grep -q "nosuch" <<<"$out" && [ $rc2 = 2 ] && grep -q 'no template' <<<"$out2" &&
    [ $rc3 = 2 ]; then
    pass serve/bad-arguments-refused
else
    fail serve/bad-arguments-refused "$rc1 $out / $rc2 $out2 / $rc3 $out3"
fi

exit $T_FAILED
