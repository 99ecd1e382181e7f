#!/usr/bin/env bash
# Linux programs under zerg, in one run: what a system call costs (a program
# timing N calls natively and under zerg: one the guest-side runtime serves
# and one the monitor serves, each through a call site zerg rewrites and
# through one that keeps trapping), `zerg bench` on a template of Debian's
# busybox httpd -i (stdio model, an --ro tree) beside zergling's, the round
# trips into the guest per request, and zerg serve of busybox httpd behind
# nginx under wrk (pooled and fresh) beside a static file. Medians; ratios
# from the same run. Assumes `make` was run.
#   BENCH_RUNS (300) restores per mode, BENCH_SECONDS (10) wrk seconds per mode
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${BENCH_RUNS:-300}
SECS=${BENCH_SECONDS:-10}
BB=$(command -v busybox || true)
for t in nginx wrk python3; do
    command -v "$t" >/dev/null || { echo "bench-linux: $t is not installed (make deps)" >&2; exit 1; }
done
[ -n "$BB" ] && file -L "$BB" | grep -q 'statically linked' ||
    { echo "bench-linux: Debian's busybox-static is not installed (make deps)" >&2; exit 1; }
TMP=$(mktemp -d /tmp/zerg-bench-linux.XXXXXX)
source tests/sys/proxy.bash
trap 'proxy_stop_all; rm -rf "$TMP"' EXIT
export ZERG_HOME=$TMP/home ZERG_IMAGE_DIR=$TMP/img
mkdir -p "$ZERG_IMAGE_DIR" "$TMP/www"
head -c 600 /dev/urandom | base64 >"$TMP/www/index.html" # about zergling's response size

median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

echo "== the cost of one system call (20,000 per run, 5 runs; medians)"
cc_us() { sed 's/.*, \([0-9.]*\) us per call/\1/' | median; }
cost() { # MODE: "native zerg" medians
    local n z
    n=$(for i in 1 2 3 4 5; do bin/linux-tests/callcost.glibc 20000 "$1"; done | cc_us)
    z=$(for i in 1 2 3 4 5; do bin/zerg boot -q bin/linux-tests/callcost.glibc -- 20000 "$1" </dev/null; done | cc_us)
    echo "$n $z"
}
printf '  %-58s %10s %10s\n' "" "native us" "zerg us"
for m in wrapper generic monitor monitor-generic; do
    case $m in
    wrapper) what="getppid(), served in the guest, rewritten site" ;;
    generic) what="syscall(SYS_getppid), in the guest, the syscall trap" ;;
    monitor) what="uname(), served by the monitor: one exit" ;;
    monitor-generic) what="syscall(SYS_uname): the syscall trap and one exit" ;;
    esac
    read -r n z <<<"$(cost $m)"
    printf '  %-58s %10.2f %10.2f\n' "$what" "$n" "$z"
done

echo
echo "== zerg bench: busybox httpd -i (Linux program, --ro tree) and zergling, same run"
bin/zerg template create zergling -q --guest bin/guests/zergling.elf >/dev/null
bin/zerg template create bbhttpd -q --ro "$TMP/www=/www" --guest "$BB" -- httpd -i -h /www >/dev/null
bin/zerg bench zergling --runs "$RUNS" --cold-runs 20 --json >"$TMP/zl.json" 2>/dev/null
bin/zerg bench bbhttpd --guest "$BB" --ro "$TMP/www=/www" --runs "$RUNS" --cold-runs 20 >"$TMP/bb.txt" 2>/dev/null
bin/zerg bench bbhttpd --guest "$BB" --ro "$TMP/www=/www" --runs "$RUNS" --cold-runs 20 --json >"$TMP/bb.json" 2>/dev/null
cat "$TMP/bb.txt"
python3 - "$TMP/zl.json" "$TMP/bb.json" <<'PY'
import json, sys
zl, bb = (json.load(open(f)) for f in sys.argv[1:3])
a, b = zl["first_byte_pooled_us"]["p50"], bb["first_byte_pooled_us"]["p50"]
print("first byte pooled p50: zergling %.1f us, busybox httpd %.1f us: %.2fx (goal <= 2x)" % (a, b, b / a))
print("round trips per pooled request: zergling %.2f, busybox httpd %.2f (goal <= 3)" %
      (zl["exits_per_pooled_request"], bb["exits_per_pooled_request"]))
print("first byte fresh p50:  zergling %.1f us, busybox httpd %.1f us: %.2fx" %
      (zl["first_byte_fresh_us"]["p50"], bb["first_byte_fresh_us"]["p50"],
       bb["first_byte_fresh_us"]["p50"] / zl["first_byte_fresh_us"]["p50"]))
PY
echo "(a fresh instance, as zerg run makes, learns the call sites; a pooled VM keeps them)"
printf 'GET /index.html HTTP/1.0\r\n\r\n' | bin/zerg run -v bbhttpd 2>&1 >/dev/null | grep -E 'round trips|linux:'

echo
echo "== zerg bench: a static Lua 5.4 handler that builds a 200,000-entry table at start-up"
bin/zerg template create lua -q --mem 256M --ro "$PWD/examples/lua=/app" --guest bin/linux-apps/zlua \
    -- /app/handler.lua >/dev/null
bin/zerg bench lua --guest bin/linux-apps/zlua --ro "$PWD/examples/lua=/app" --runs 100 --cold-runs 10 \
    2>/dev/null | sed -n '/p50/,/pages copied/p'
printf 'GET /word/x HTTP/1.0\r\n\r\n' | bin/zerg run -v lua 2>&1 >/dev/null | grep -E 'round trips|linux:'

echo
echo "== zerg bench: the runtimes servers are written in, beside busybox httpd -i above (same run)"
echo "   Go 1.19 net/http (examples/go/httpd, static) and Node.js http (examples/node/server.js)"
if command -v go >/dev/null && [ -x /usr/bin/node ]; then
    (cd examples/go/httpd && CGO_ENABLED=0 GOCACHE=$TMP/gocache GOPATH=$TMP/gopath go build -o "$TMP/gohttpd" .)
    bin/zerg template create gohttpd -q --guest "$TMP/gohttpd" >/dev/null
    bin/zerg bench gohttpd --guest "$TMP/gohttpd" --runs "$RUNS" --cold-runs 20 --json >"$TMP/go.json" 2>/dev/null
    bin/zerg template create nodehttp -q --mem 1G --ro "$PWD/examples/node/server.js=/app/server.js" \
        --guest /usr/bin/node -- /app/server.js >/dev/null
    bin/zerg bench nodehttp --guest /usr/bin/node --ro "$PWD/examples/node/server.js=/app/server.js" \
        --runs "$RUNS" --cold-runs 10 --live 8 --json >"$TMP/node.json" 2>/dev/null
    python3 - "$TMP/bb.json" "$TMP/go.json" "$TMP/node.json" <<'PY'
import json, sys
rows = [("busybox httpd -i", json.load(open(sys.argv[1]))), ("Go net/http", json.load(open(sys.argv[2]))),
        ("Node.js http", json.load(open(sys.argv[3])))]
print("  %-18s %10s %10s %10s %10s %12s %12s %8s" % ("first byte, us", "pooled p50", "p90", "p99", "fresh p50",
                                                    "cold p50", "cold/pooled", "exits"))
for name, j in rows:
    p, c = j["first_byte_pooled_us"], j["first_byte_cold_us"]["p50"]
    print("  %-18s %10.1f %10.1f %10.1f %10.1f %12.1f %11.0fx %8.2f" % (
        name, p["p50"], p["p90"], p["p99"], j["first_byte_fresh_us"]["p50"], c, c / p["p50"],
        j["exits_per_pooled_request"]))
bb, go, node = (j["first_byte_pooled_us"]["p50"] for _, j in rows)
print("Go pooled first byte / busybox httpd's: %.2fx (goal <= 2x)" % (go / bb))
print("Node.js pooled first byte: %.1f us (goal <= 1000 us)" % node)
PY
else
    echo "(skipped: golang-go or /usr/bin/node is not installed; make deps)"
fi

echo
echo "== zerg serve behind nginx, wrk ${SECS}s per mode, 4 connections: busybox httpd, and"
echo "   the Go and Node.js servers where their templates were made above"
serve_start "$TMP/p.log" -n 8 -l "unix:$TMP/p.sock=bbhttpd" || { cat "$TMP/p.log"; exit 1; }
serve_start "$TMP/f.log" --fresh -n 8 -l "unix:$TMP/f.sock=bbhttpd" || { cat "$TMP/f.log"; exit 1; }
modes=(static pooled fresh)
locs=(pooled="unix:$TMP/p.sock" fresh="unix:$TMP/f.sock")
for t in gohttpd nodehttp; do
    [ -f "$TMP/${t%http*}.json" ] || continue # benched above: its template exists
    serve_start "$TMP/$t-p.log" -n 4 -l "unix:$TMP/$t-p.sock=$t" || { cat "$TMP/$t-p.log"; exit 1; }
    serve_start "$TMP/$t-f.log" --fresh -n 4 -l "unix:$TMP/$t-f.sock=$t" || { cat "$TMP/$t-f.log"; exit 1; }
    locs+=("$t-pooled=unix:$TMP/$t-p.sock" "$t-fresh=unix:$TMP/$t-f.sock")
    modes+=("$t-pooled" "$t-fresh")
done
port=$(free_port)
nginx_start "$TMP/ng" "$port" "${locs[@]}" || { cat "$TMP/ng/error.log"; exit 1; }
cp "$TMP/www/index.html" "$TMP/ng/static/index.html"
wrk_header
for mode in "${modes[@]}"; do
    wrk_row "$mode" "http://127.0.0.1:$port/$mode/index.html" "$SECS"
done
