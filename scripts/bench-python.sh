#!/usr/bin/env bash
# Dynamically linked Debian programs under zerg, in one run (issue 14):
# Debian's python3.11 running examples/python/handler.py -- its start-up
# natively, `zerg bench` of its template (cold start to the template point
# against restore, fresh and pooled; private memory per live instance), what
# each page a request writes costs a pooled VM (both ways of knowing which
# pages were written: monitor/written.c), what
# a second Python template adds to the page cache, zerg serve of it behind
# nginx under wrk (pooled and fresh) beside a static file; and `zerg bench` of
# Debian's /usr/bin/lua5.4 (a dynamic PIE) with the Lua handler. Medians;
# ratios from the same run. Assumes `make` was run.
#   BENCH_RUNS (100) restores per mode, BENCH_SECONDS (10) wrk seconds per mode
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${BENCH_RUNS:-100}
SECS=${BENCH_SECONDS:-10}
PY=/usr/bin/python3.11
LUA=/usr/bin/lua5.4
for t in nginx wrk python3 $PY $LUA; do
    command -v "$t" >/dev/null || { echo "bench-python: $t is not installed (make deps)" >&2; exit 1; }
done
TMP=$(mktemp -d /tmp/zerg-bench-python.XXXXXX)
source tests/sys/proxy.bash
trap 'proxy_stop_all; rm -rf "$TMP"' EXIT
export ZERG_HOME=$TMP/home ZERG_IMAGE_DIR=$TMP/img
mkdir -p "$ZERG_IMAGE_DIR"
REQ=$'GET /index.html HTTP/1.0\r\nHost: zerg\r\n\r\n'
PYRO=(--ro /usr/lib/python3.11 --ro "$PWD/examples/python/handler.py=/app/handler.py")

median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

echo "== Debian's python3.11, examples/python/handler.py"
native=$(for i in 1 2 3 4 5 6 7; do
    s=$(date +%s%N)
    printf '%s' "$REQ" | $PY examples/python/handler.py >/dev/null
    echo $((($(date +%s%N) - s) / 1000))
done | median)
echo "natively, start to exit (7 runs, median): $native us"
bin/zerg template create py -q --mem 512M "${PYRO[@]}" --guest $PY -- /app/handler.py | tee "$TMP/py.create"
bin/zerg bench py --guest $PY "${PYRO[@]}" --runs "$RUNS" --cold-runs 10 --live 16 2>/dev/null

echo
echo "== what each page a request writes costs a pooled VM (tests/linux/pages.c), both ways"
bin/zerg template create pg0 -q --guest bin/linux-tests/pages.glibc -- 0 0 7 >/dev/null
bin/zerg template create pg500 -q --guest bin/linux-tests/pages.glibc -- 0 500 7 >/dev/null
for way in pagemap kvm; do
    for t in pg0 pg500; do
        if [ $way = kvm ]; then
            ZERG_DIRTY_LOG=kvm bin/zerg bench $t --guest bin/linux-tests/pages.glibc --runs "$RUNS" \
                --cold-runs 2 --live 2 --json >"$TMP/$t.$way.json" 2>/dev/null
        else
            bin/zerg bench $t --guest bin/linux-tests/pages.glibc --runs "$RUNS" --cold-runs 2 \
                --live 2 --json >"$TMP/$t.$way.json" 2>/dev/null
        fi
    done
done
python3 - "$TMP" <<'PY'
import json, sys
d = sys.argv[1]
for way, what in (("pagemap", "the host's page table (default)"), ("kvm", "KVM's dirty log (ZERG_DIRTY_LOG=kvm)")):
    a, b = (json.load(open("%s/%s.%s.json" % (d, t, way)))["first_byte_pooled_us"]["p50"] for t in ("pg0", "pg500"))
    print("  %-40s pooled first byte p50: 0 pages %8.1f us, 500 pages %8.1f us: %.2f us a page" %
          (what, a, b, (b - a) / 500))
PY

echo
echo "== a second Python template in the same cache (examples/python/words.py)"
bin/zerg template create words -q --mem 512M --ro /usr/lib/python3.11 \
    --ro "$PWD/examples/python/words.py=/app/words.py" --guest $PY -- /app/words.py | tee "$TMP/w.create"
first=$(sed -n 's/.* \([0-9]*\) newly stored.*/\1/p' "$TMP/py.create")
second=$(sed -n 's/.* \([0-9]*\) newly stored.*/\1/p' "$TMP/w.create")
awk -v a="$first" -v b="$second" 'BEGIN {printf "the second template stored %d pages: %.1f%% of the first'"'"'s %d (goal <= 10%%)\n", b, 100 * b / a, a}'
bin/zerg cache stats

echo
echo "== zerg serve of the Python handler behind nginx, wrk ${SECS}s per mode, 4 connections"
serve_start "$TMP/p.log" -n 4 -l "unix:$TMP/p.sock=py" || { cat "$TMP/p.log"; exit 1; }
serve_start "$TMP/f.log" --fresh -n 4 -l "unix:$TMP/f.sock=py" || { cat "$TMP/f.log"; exit 1; }
port=$(free_port)
nginx_start "$TMP/ng" "$port" pooled="unix:$TMP/p.sock" fresh="unix:$TMP/f.sock" ||
    { cat "$TMP/ng/error.log"; exit 1; }
head -c 75 /dev/urandom | base64 >"$TMP/ng/static/index.html" # about the handler's body size
wrk_header
for mode in static pooled fresh; do
    wrk_row $mode "http://127.0.0.1:$port/$mode/index.html" "$SECS"
done
curl -s "http://127.0.0.1:$port/fresh/x" | tail -c 120
echo

echo
echo "== Debian's /usr/bin/lua5.4 (dynamic PIE), examples/lua/handler.lua"
bin/zerg template create lua54 -q --mem 256M --ro "$PWD/examples/lua=/app" --guest $LUA \
    -- /app/handler.lua >/dev/null
bin/zerg bench lua54 --guest $LUA --ro "$PWD/examples/lua=/app" --runs "$RUNS" --cold-runs 5 --live 4 \
    2>/dev/null | sed -n '/p50/,/pages copied/p'
