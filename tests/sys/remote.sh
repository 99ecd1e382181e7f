#!/usr/bin/env bash
# System test: templates shared through an object store (remote/, docs/format.md
# "Remote page tier"), a real nginx with its WebDAV module on loopback as the
# store. push -> pull on another home -> the same answers; only the records a
# side lacks move, in few ranged GETs; damage on the store or in transit is
# refused and named (exit 4) with the template absent and the cache
# verifiable; a pull killed, or its server killed, mid-transfer leaves the
# cache verifiable and the template absent, and the next pull fetches only
# what is still missing. Exit statuses: 0 ok, 1 network/server, 2 usage,
# 3 not found, 4 damaged, 126 another format version.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/proxy.bash"
source "$(dirname "$0")/remote.bash"

if ! kvm_usable; then
    skip remote/all "/dev/kvm is missing or not accessible to $(id -un)"
    exit 0
fi
if ! command -v nginx >/dev/null || ! nginx -V 2>&1 | grep -q -- --with-http_dav_module; then
    skip remote/all "nginx with its WebDAV module (http_dav_module) is not installed"
    exit 0
fi
trap 'proxy_stop_all; rm -rf "$TMP"' EXIT
# Sanitizer reports go to files (checked per binary), not into the stderr a case reads.
mkdir -p "$TMP/san"
export ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$TMP/san/asan"
export UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$TMP/san/ubsan"
GUEST=bin/guests/zergling.elf

# store_start NAME PORT [RATE]: nginx on 127.0.0.1:PORT serving $TMP/store
# (GET, ranged GET, WebDAV PUT), each connection limited to RATE bytes/s when
# given; every request logged (method, path, status, Range) to
# $TMP/NAME/access.log. STORE_PID is the master's pid.
store_start() {
    local d=$TMP/$1 port=$2
    webdav_conf "$d" "127.0.0.1:$port" "$TMP/store" ${3:+"limit_rate $3"}
    touch "$d/access.log"
    nginx -c "$d/nginx.conf" -p "$d" 2>>"$d/error.log" &
    STORE_PID=$!
    PROXY_PIDS+=("$STORE_PID")
    wait_tcp "$port"
}

# A proxy in front of the store that damages one byte in the body of the
# Nth ranged GET of a pack (.zpk) it forwards (Range header and status
# forwarded as they are), and says so on stdout.
cat >"$TMP/flipproxy.py" <<'PY'
import http.client, http.server, sys, threading
listen, upstream, nth = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
lock = threading.Lock()
count = [0]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def do_GET(self):
        up = http.client.HTTPConnection("127.0.0.1", upstream, timeout=30)
        hdrs = {"Range": self.headers["Range"]} if self.headers["Range"] else {}
        up.request("GET", self.path, headers=hdrs)
        r = up.getresponse()
        body = bytearray(r.read())
        up.close()
        if r.status == 206 and self.path.endswith(".zpk"):
            with lock:
                count[0] += 1
                n = count[0]
            if n == nth and body:
                body[len(body) // 2] ^= 0x20
                print("damaged %s %s at body byte %d" % (self.path, self.headers["Range"],
                                                        len(body) // 2), flush=True)
        self.send_response(r.status)
        for k in ("Content-Type", "Content-Range", "Accept-Ranges"):
            if r.getheader(k):
                self.send_header(k, r.getheader(k))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("127.0.0.1", listen), H).serve_forever()
PY

# flip FILE OFFSET: XORs one byte of FILE (again to restore it).
flip() {
    python3 -c 'import os,sys
fd = os.open(sys.argv[1], os.O_RDWR); off = int(sys.argv[2])
b = os.pread(fd, 1, off); os.pwrite(fd, bytes([b[0] ^ 0x01]), off); os.close(fd)' "$1" "$2"
}

# ranged_206 LOG [FROM]: ranged GETs of packs answered 206 in the access log
# after its first FROM lines.
ranged_206() {
    tail -n +$((${2:-0} + 1)) "$1" | grep -c '^GET /.*\.zpk 206 range=bytes='
}
# wait_206 LOG FROM N: until N more ranged GETs were answered (at most 20 s).
wait_206() {
    local i
    for ((i = 0; i < 400; i++)); do
        [ "$(ranged_206 "$1" "$2")" -ge "$3" ] && return 0
        sleep 0.05
    done
    return 1
}

FAST=$(free_port)
store_start fast "$FAST" || {
    fail remote/store "nginx did not start: $(cat "$TMP/fast/error.log")"
    exit 1
}
FASTLOG=$TMP/fast/access.log

for Z in $(zerg_bins); do
    tag=$(basename "$Z")
    if ! "$Z" template push 2>&1 | grep -q 'need NAME and --remote'; then
        fail "remote/$tag/all" "$Z has no 'template push' (built before remote/: make $Z)"
        continue
    fi
    R=$TMP/$tag
    URL=http://127.0.0.1:$FAST/$tag
    S=$TMP/store/$tag/zerg1 # the store's files, as nginx keeps them
    H1=$R/host1 H2=$R/host2
    mkdir -p "$R"
    rm -f "$TMP"/san/*

    # 1. Host 1 creates two templates differing in a few pages and pushes
    # both: the second push uploads only those few. Host 2 pulls one: every
    # record in a few 4 MiB ranged GETs, then the same answers.
    zh "$H1" template create web --guest "$GUEST" -q >"$R/create.txt" 2>&1
    c1=$?
    zh "$H1" template create web2 --guest "$GUEST" -q -- --greeting hi >>"$R/create.txt" 2>&1
    c2=$?
    zh "$H1" template push web --remote "$URL" --json >"$R/push1.json" 2>"$R/push1.err"
    p1=$?
    zh "$H1" template push web2 --remote "$URL" --json >"$R/push2.json" 2>"$R/push2.err"
    p2=$?
    D=$(jf "$R/push1.json" distinct)
    zh "$H2" template pull web --remote "$URL" --json >"$R/pull1.json" 2>"$R/pull1.err"
    l1=$?
    r1=$(jf "$R/pull1.json" records) g1=$(jf "$R/pull1.json" ranges) q1=$(jf "$R/pull1.json" requests)
    if [ $c1$c2$p1$p2$l1 = 00000 ] && [ "${D:-0}" -gt 11000 ] &&
        [ "$(jf "$R/push1.json" records)" = "$D" ] && [ "$(jf "$R/push1.json" known)" = 0 ] &&
        [ "$(jf "$R/push2.json" records)" -gt 0 ] && [ "$(jf "$R/push2.json" records)" -lt 20 ] &&
        [ "$(jf "$R/push2.json" known)" -gt 11000 ] &&
        [ $(($(jf "$R/push2.json" known) + $(jf "$R/push2.json" records))) = "$(jf "$R/push2.json" distinct)" ] &&
        [ "$(jf "$R/pull1.json" distinct)" = "$D" ] && [ "$r1" = "$D" ] &&
        [ "$(jf "$R/pull1.json" up_to_date)" = false ] && [ "$g1" -ge 1 ] && [ "$g1" -le 10 ] &&
        [ "$q1" = $((g1 + 3)) ] && same_answer "$H1" "$H2" web && verified "$H2" &&
        [ "$V_RECORDS" = "$D" ]; then
        pass "remote/$tag/push-pull-roundtrip ($D records in $g1 ranged GETs, $q1 requests)"
    else
        fail "remote/$tag/push-pull-roundtrip" "create=$c1/$c2 push=$p1/$p2 pull=$l1 distinct=$D records=$r1 ranges=$g1 requests=$q1 verify records=$V_RECORDS; $(cat "$R/create.txt" "$R/push1.json" "$R/push1.err" "$R/push2.json" "$R/push2.err" "$R/pull1.json" "$R/pull1.err" "$TMP/verify.txt")"
    fi

    # 2. The same version again: the reference alone, no page.
    zh "$H2" template pull web --remote "$URL" --json >"$R/pull2.json" 2>"$R/pull2.err"
    l2=$?
    if [ $l2 = 0 ] && [ "$(jf "$R/pull2.json" up_to_date)" = true ] &&
        [ "$(jf "$R/pull2.json" records)" = 0 ] && [ "$(jf "$R/pull2.json" requests)" = 1 ] &&
        [ "$(jf "$R/pull2.json" ranges)" = 0 ]; then
        pass "remote/$tag/second-pull-moves-nothing"
    else
        fail "remote/$tag/second-pull-moves-nothing" "rc=$l2 $(cat "$R/pull2.json" "$R/pull2.err")"
    fi

    # 3. The second template on a host with the first: only the pages it lacks.
    zh "$H2" template pull web2 --remote "$URL" --json >"$R/pull3.json" 2>"$R/pull3.err"
    l3=$?
    r3=$(jf "$R/pull3.json" records)
    if [ $l3 = 0 ] && [ "$r3" -gt 0 ] && [ "$r3" -lt 20 ] &&
        [ "$r3" = "$(jf "$R/push2.json" records)" ] && same_answer "$H1" "$H2" web2 &&
        verified "$H2" && [ "$V_RECORDS" = $((D + r3)) ]; then
        pass "remote/$tag/pull-only-missing ($r3 records)"
    else
        fail "remote/$tag/pull-only-missing" "rc=$l3 records=$r3 verify records=$V_RECORDS $(cat "$R/pull3.json" "$R/pull3.err")"
    fi

    # 3b. A new version of that template (created again: the same pages but
    # the few a creation writes anew): pushed and pulled, only those pages
    # move; the pulled version replaces the older one on host 2.
    zh "$H1" template create web2 --force --guest "$GUEST" -q -- --greeting hi >"$R/create2.txt" 2>&1
    c3=$?
    zh "$H1" template push web2 --remote "$URL" --json >"$R/push3.json" 2>"$R/push3.err"
    p3=$?
    zh "$H2" template pull web2 --remote "$URL" --json >"$R/pull3b.json" 2>"$R/pull3b.err"
    l3b=$?
    r3b=$(jf "$R/pull3b.json" records)
    if [ $c3$p3$l3b = 000 ] && [ "$(jf "$R/push3.json" records)" -lt 20 ] &&
        [ "$(jf "$R/push3.json" version)" != "$(jf "$R/push2.json" version)" ] &&
        [ "$(jf "$R/pull3b.json" up_to_date)" = false ] && [ "$r3b" = "$(jf "$R/push3.json" records)" ] &&
        [ "$(jf "$R/pull3b.json" requests)" = $(($(jf "$R/pull3b.json" ranges) + 3)) ] &&
        [ "$(jf "$R/pull3b.json" version)" = "$(jf "$R/push3.json" version)" ] &&
        cmp -s "$H1/templates/web2.zgt" "$H2/templates/web2.zgt" && same_answer "$H1" "$H2" web2; then
        pass "remote/$tag/new-version-moves-only-new-pages ($r3b records)"
    else
        fail "remote/$tag/new-version-moves-only-new-pages" "create=$c3 push=$p3 pull=$l3b $(cat "$R/create2.txt" "$R/push3.json" "$R/push3.err" "$R/pull3b.json" "$R/pull3b.err")"
    fi

    # 4. Small ranges: many more ranged GETs (each a 206 in nginx's log), the
    # same template.
    H3=$R/host3
    from=$(lines "$FASTLOG")
    zh "$H3" template pull web --remote "$URL" --range 64k --json >"$R/pull4.json" 2>"$R/pull4.err"
    l4=$?
    r4=$(jf "$R/pull4.json" records) g4=$(jf "$R/pull4.json" ranges)
    n206=$(ranged_206 "$FASTLOG" "$from")
    if [ $l4 = 0 ] && [ "$r4" = "$D" ] && [ "$g4" -ge 400 ] && [ "$n206" = "$g4" ] &&
        [ "$(jf "$R/pull4.json" requests)" = $((g4 + 3)) ] && same_answer "$H1" "$H3" web &&
        verified "$H3" && [ "$V_RECORDS" = "$D" ]; then
        pass "remote/$tag/ranged-gets-merged ($g4 ranged GETs of at most 64 KiB, $n206 answered 206)"
    else
        fail "remote/$tag/ranged-gets-merged" "rc=$l4 records=$r4 ranges=$g4 206s=$n206 $(cat "$R/pull4.json" "$R/pull4.err"; tail -n 3 "$FASTLOG")"
    fi

    # 5. Damage on the store: refused and named (exit 4), the template
    # absent, the cache verifiable.
    pack=$(ls -S "$S"/packs/*.zpk 2>/dev/null | head -n 1)
    if [ -n "$pack" ]; then
        off=$(($(stat -c %s "$pack") / 2))
        flip "$pack" "$off"
        H=$R/dmg-pack
        zh "$H" template pull web --remote "$URL" >"$R/d1.out" 2>"$R/d1.err"
        rc=$?
        if [ $rc = 4 ] && grep -q "damaged remote object .*$(basename "$pack")" "$R/d1.err" &&
            absent "$H" web && verified "$H"; then
            pass "remote/$tag/damaged-pack-on-server"
        else
            fail "remote/$tag/damaged-pack-on-server" "rc=$rc $(cat "$R/d1.out" "$R/d1.err" "$TMP/verify.txt")"
        fi
        # A plain push trusts the record lists and repairs nothing; --full
        # uploads every page again (here the same pack, byte for byte: its
        # correct bytes replace the damaged ones), and the same pull succeeds.
        zh "$H1" template push web --remote "$URL" --full --json >"$R/full.json" 2>"$R/full.err"
        rc=$?
        zh "$H" template pull web --remote "$URL" >"$R/d1b.out" 2>"$R/d1b.err"
        rc2=$?
        if [ $rc = 0 ] && [ "$(jf "$R/full.json" records)" = "$D" ] && [ $rc2 = 0 ] &&
            same_answer "$H1" "$H" web && verified "$H"; then
            pass "remote/$tag/push-full-repairs-a-damaged-store"
        else
            fail "remote/$tag/push-full-repairs-a-damaged-store" "push rc=$rc pull rc=$rc2 $(cat "$R/full.json" "$R/full.err" "$R/d1b.out" "$R/d1b.err")"
            flip "$pack" "$off" # not repaired: undo the damage for the cases below
        fi
    else
        fail "remote/$tag/damaged-pack-on-server" "no .zpk in $S/packs: $(ls -R "$TMP/store")"
    fi
    ver=$(jf "$R/push1.json" version) map=$(jf "$R/push1.json" map)
    man=$S/manifests/$ver.zgt
    if [ -f "$man" ]; then
        off=$(($(stat -c %s "$man") / 2))
        flip "$man" "$off"
        H=$R/dmg-manifest
        zh "$H" template pull web --remote "$URL" >"$R/d2.out" 2>"$R/d2.err"
        rc=$?
        if [ $rc = 4 ] && grep -q "damaged remote object .*manifests/$ver.zgt" "$R/d2.err" &&
            absent "$H" web && verified "$H" && [ "$V_RECORDS" = 0 ]; then
            pass "remote/$tag/damaged-manifest-on-server"
        else
            fail "remote/$tag/damaged-manifest-on-server" "rc=$rc $(cat "$R/d2.out" "$R/d2.err" "$TMP/verify.txt")"
        fi
        flip "$man" "$off"
    else
        fail "remote/$tag/damaged-manifest-on-server" "no $man"
    fi
    mapf=$S/maps/$map.zmap
    if [ -f "$mapf" ]; then
        cp "$mapf" "$R/map.bak"
        truncate -s $(($(stat -c %s "$mapf") / 2)) "$mapf"
        H=$R/dmg-map
        zh "$H" template pull web --remote "$URL" >"$R/d3.out" 2>"$R/d3.err"
        rc=$?
        if [ $rc = 4 ] && grep -q "damaged remote object .*maps/$map.zmap" "$R/d3.err" &&
            absent "$H" web && verified "$H" && [ "$V_RECORDS" = 0 ]; then
            pass "remote/$tag/truncated-map-on-server"
        else
            fail "remote/$tag/truncated-map-on-server" "rc=$rc $(cat "$R/d3.out" "$R/d3.err" "$TMP/verify.txt")"
        fi
        cp "$R/map.bak" "$mapf"
    else
        fail "remote/$tag/truncated-map-on-server" "no $mapf"
    fi
    ref=$S/refs/web
    cp "$ref" "$R/ref.bak"
    # Another major version: refused (126), not taken for damage.
    printf 'zerg2 %s %s\n' "$ver" "$map" >"$ref"
    zh "$R/ref-v2" template pull web --remote "$URL" >/dev/null 2>"$R/d4.err"
    rc_v2=$?
    # A reference that is not one: damaged (4).
    printf 'hello, world\n' >"$ref"
    zh "$R/ref-bad" template pull web --remote "$URL" >/dev/null 2>"$R/d5.err"
    rc_bad=$?
    cp "$R/ref.bak" "$ref"
    # No reference: not found (3).
    zh "$R/ref-none" template pull no-such-template --remote "$URL" >/dev/null 2>"$R/d6.err"
    rc_none=$?
    if [ $rc_v2 = 126 ] && grep -q 'refs/web: a reference of another format version' "$R/d4.err" &&
        absent "$R/ref-v2" web; then
        pass "remote/$tag/ref-of-other-version-refused"
    else
        fail "remote/$tag/ref-of-other-version-refused" "rc=$rc_v2 $(cat "$R/d4.err")"
    fi
    if [ $rc_bad = 4 ] && grep -q 'damaged remote object .*refs/web' "$R/d5.err" &&
        absent "$R/ref-bad" web; then
        pass "remote/$tag/garbage-ref-damaged"
    else
        fail "remote/$tag/garbage-ref-damaged" "rc=$rc_bad $(cat "$R/d5.err")"
    fi
    if [ $rc_none = 3 ] && grep -q "no template 'no-such-template'" "$R/d6.err"; then
        pass "remote/$tag/missing-ref-not-found"
    else
        fail "remote/$tag/missing-ref-not-found" "rc=$rc_none $(cat "$R/d6.err")"
    fi

    # 6. Damage in transit: a proxy damages one byte of the third ranged GET
    # of a pack (--jobs 1: the two before it are stored). Refused and named,
    # the template absent, the cache verifiable; pulled again straight from
    # the store, only what is still missing moves.
    PX=$(free_port)
    python3 "$TMP/flipproxy.py" "$PX" "$FAST" 3 >"$R/proxy.log" 2>&1 &
    px_pid=$!
    if wait_tcp "$PX"; then
        H=$R/transit
        zh "$H" template pull web --remote "http://127.0.0.1:$PX/$tag" --jobs 1 >"$R/t1.out" 2>"$R/t1.err"
        rc=$?
        absent "$H" web
        ab=$?
        verified "$H"
        v1=$?
        kept=${V_ENTRIES:-0}
        zh "$H" template pull web --remote "$URL" --json >"$R/t2.json" 2>"$R/t2.err"
        rc2=$?
        r6=$(jf "$R/t2.json" records)
        if [ $rc = 4 ] && grep -q '^damaged .*\.zpk' "$R/proxy.log" &&
            grep -q "damaged remote object .*packs/[0-9a-f]\{32\}\.zpk (bytes " "$R/t1.err" &&
            [ $ab = 0 ] && [ $v1 = 0 ] && [ "$kept" -gt 0 ] && [ $rc2 = 0 ] && [ "$r6" = $((D - kept)) ] &&
            same_answer "$H1" "$H" web && verified "$H"; then
            pass "remote/$tag/damaged-in-transit ($kept records kept from before the damage, $r6 fetched after)"
        else
            fail "remote/$tag/damaged-in-transit" "rc=$rc absent=$ab verify=$v1 kept=$kept; again: rc=$rc2 records=$r6; $(cat "$R/proxy.log" "$R/t1.out" "$R/t1.err" "$R/t2.json" "$R/t2.err")"
        fi
    else
        fail "remote/$tag/damaged-in-transit" "the proxy did not start: $(cat "$R/proxy.log")"
    fi
    kill "$px_pid" 2>/dev/null
    wait "$px_pid" 2>/dev/null

    # 9. Push errors: no such template (3), a store nobody listens on (1,
    # named), a URL of another scheme (2).
    CLOSED=$(free_port)
    zh "$H1" template push no-such-template --remote "$URL" >/dev/null 2>"$R/e1.err"
    e1=$?
    zh "$H1" template push web --remote "http://127.0.0.1:$CLOSED/x" >/dev/null 2>"$R/e2.err"
    e2=$?
    zh "$H1" template push web --remote "ftp://127.0.0.1/x" >/dev/null 2>"$R/e3.err"
    e3=$?
    zh "$H1" template pull web --remote "ftp://127.0.0.1/x" >/dev/null 2>"$R/e4.err"
    e4=$?
    zh "$H1" template pull web --remote "$URL" --jobs 0 >/dev/null 2>"$R/e5.err"
    e5=$?
    if [ "$e1 $e2 $e3 $e4 $e5" = "3 1 2 2 2" ] && grep -q "no template 'no-such-template'" "$R/e1.err" &&
        grep -q "127.0.0.1:$CLOSED" "$R/e2.err" && grep -q "'ftp://127.0.0.1/x' is not a remote URL" "$R/e3.err"; then
        pass "remote/$tag/push-errors"
    else
        fail "remote/$tag/push-errors" "got $e1 $e2 $e3 $e4 $e5, want 3 1 2 2 2: $(cat "$R"/e[1-5].err)"
    fi

    if compgen -G "$TMP/san/*" >/dev/null; then
        fail "remote/$tag/no-sanitizer-reports" "$(head -c 3000 "$TMP"/san/*)"
    elif [ "$tag" != zerg ]; then
        pass "remote/$tag/no-sanitizer-reports"
    fi
done

# The interruptions, with bin/zerg only: a store that sends each connection
# 1 MiB/s, so a pull (--jobs 2 --range 256k) takes about 14 s.
Z=bin/zerg
tag=zerg
R=$TMP/$tag
URL=http://127.0.0.1:$FAST/$tag
SLOW=$(free_port)
store_start slow "$SLOW" 1m || fail remote/slow-store "nginx did not start: $(cat "$TMP/slow/error.log")"
SLOW_PID=$STORE_PID
SLOWLOG=$TMP/slow/access.log
SLOWURL=http://127.0.0.1:$SLOW/$tag
D=$(jf "$R/push1.json" distinct)

# 7. Pulls killed (SIGKILL) mid-transfer, three times on one home, each after
# some ranges arrived: every time the cache verifies and the template is
# absent; then a pull completes, fetching only the records not yet stored.
H=$R/killed
ok=1 why="" prev=0
RANDOM=$$
for round in 1 2 3; do
    from=$(lines "$SLOWLOG")
    ZERG_HOME=$H ZERG_IMAGE_DIR=$H/img "$Z" template pull web --remote "$SLOWURL" --jobs 2 --range 256k \
        >"$R/k$round.out" 2>"$R/k$round.err" &
    pid=$!
    # A pull commits what arrived every 0.5 s (or 32 MiB): 8 ranges of
    # 256 KiB at 1 MB/s on 2 connections take about 1 s.
    wait_206 "$SLOWLOG" "$from" 8
    sleep "0.$((RANDOM % 3))$((RANDOM % 10))"
    running=0
    kill -0 "$pid" 2>/dev/null && running=1
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    st=$?
    if [ $running = 0 ] || [ $st != 137 ]; then
        ok=0 why+="round $round: the pull was not running when killed (status $st: $(cat "$R/k$round.err")); "
    fi
    if ! verified "$H"; then
        ok=0 why+="round $round: verify: $(cat "$TMP/verify.txt"); "
    elif [ "$V_ENTRIES" -ge "$D" ] || [ "$V_ENTRIES" -lt "$prev" ]; then
        ok=0 why+="round $round: $V_ENTRIES records stored (before: $prev, of $D); "
    fi
    prev=${V_ENTRIES:-0}
    absent "$H" web || { ok=0 why+="round $round: the template is there; "; }
done
zh "$H" template pull web --remote "$URL" --json >"$R/k.json" 2>"$R/k.err"
rc=$?
r7=$(jf "$R/k.json" records)
if [ $ok = 1 ] && [ "$prev" -gt 0 ] && [ $rc = 0 ] && [ "$r7" -lt "$D" ] && [ "$r7" -le $((D - prev)) ] &&
    same_answer "$R/host1" "$H" web && verified "$H" && [ "$V_ENTRIES" = "$D" ]; then
    pass "remote/killed-mid-pull (3 kills, $prev records stored before them, $r7 fetched after)"
else
    fail remote/killed-mid-pull "$why; stored $prev; final pull rc=$rc records=$r7 entries=$V_ENTRIES of $D: $(cat "$R/k.json" "$R/k.err" "$TMP/verify.txt")"
fi

# 8. The store killed (SIGKILL, master and worker) mid-transfer: the pull
# fails (1) soon, naming the request; the template absent, the cache
# verifiable; the next pull (another server) completes.
H=$R/server-gone
from=$(lines "$SLOWLOG")
ZERG_HOME=$H ZERG_IMAGE_DIR=$H/img "$Z" template pull web --remote "$SLOWURL" --jobs 2 --range 256k \
    >"$R/g.out" 2>"$R/g.err" &
pid=$!
wait_206 "$SLOWLOG" "$from" 2
running=0
kill -0 "$pid" 2>/dev/null && running=1
{
    kill -9 $(pgrep -P "$SLOW_PID") "$SLOW_PID"
    wait "$SLOW_PID"
} 2>/dev/null
t0=$(date +%s%N)
for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
done
wait_ms=$((($(date +%s%N) - t0) / 1000000))
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
st=$?
absent "$H" web
ab=$?
verified "$H"
v=$?
zh "$H" template pull web --remote "$URL" --json >"$R/g.json" 2>"$R/g2.err"
rc=$?
r8=$(jf "$R/g.json" records)
if [ $running = 1 ] && [ $st = 1 ] && [ "$wait_ms" -lt 15000 ] &&
    grep -q "template pull web: GET http://127.0.0.1:$SLOW/" "$R/g.err" && [ $ab = 0 ] && [ $v = 0 ] &&
    [ $rc = 0 ] && [ "$r8" -lt "$D" ] && same_answer "$R/host1" "$H" web; then
    pass "remote/server-gone-mid-pull (failed ${wait_ms} ms after the kill: $(tail -n 1 "$R/g.err"))"
else
    fail remote/server-gone-mid-pull "running=$running status=$st after ${wait_ms} ms, absent=$ab verify=$v; again: rc=$rc records=$r8: $(cat "$R/g.err" "$R/g.json" "$R/g2.err")"
fi
exit $T_FAILED
