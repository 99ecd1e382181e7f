#!/usr/bin/env bash
# Pulling a template from a store (issue 17) against materializing it from
# the local cache, in the same run. The store is nginx's WebDAV module on
# loopback (the network is the kernel's loopback, so this measures zerg's
# side: requests, checking every record, storing it durably). For each
# setting, BENCH_RUNS pulls into an empty home; each row: wall seconds of the
# whole `zerg template pull` process (p50/p90/p99), MB/s of guest memory made
# available (the template's memory size / p50), the HTTP requests and the
# pages fetched, and the ratio to `zerg cache bench`'s materialize MB/s (one
# host, no network, same machine, same run).
#   BENCH_RUNS=9 (default) BENCH_DATASET_MIB=200 BENCH_MEM=512M
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/sys/proxy.bash
ZERG=$PWD/${ZERG:-bin/zerg}
N=${BENCH_RUNS:-9}
MIB=${BENCH_DATASET_MIB:-200}
MEM=${BENCH_MEM:-512M}
W=$(mktemp -d /tmp/zerg-bench-remote.XXXXXX)
cleanup() {
    proxy_stop_all 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT
for tool in nginx python3; do
    command -v "$tool" >/dev/null || { echo "bench-remote: $tool is not installed" >&2; exit 1; }
done
port=$(free_port)
webdav_conf "$W/store" "127.0.0.1:$port" "$W/store/data"
nginx -c "$W/store/nginx.conf" -p "$W/store" 2>>"$W/store/error.log" &
PROXY_PIDS+=($!)
wait_tcp "$port"
URL=http://127.0.0.1:$port/bench

export ZERG_HOME=$W/src
"$ZERG" template create big --guest bin/guests/zergling.elf --mem "$MEM" -q -- \
    --dataset-mib "$MIB" >"$W/create.txt"
"$ZERG" template push big --remote "$URL" --json >"$W/push.json"

# pull_runs LABEL ARGS...: N pulls into empty homes; one line of raw figures.
pull_runs() {
    local label=$1 i
    shift
    : >"$W/t"
    for i in $(seq 1 "$N"); do
        rm -rf "$W/dst"
        ZERG_HOME=$W/dst ZERG_IMAGE_DIR=$W/dst/img "$ZERG" template pull big --remote "$URL" \
            --json "$@" >"$W/pull.json"
        python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["seconds"], j["requests"], j["records"], j["ranges"], j["record_bytes"], j["pages"])' \
            "$W/pull.json" >>"$W/t"
    done
    sort -n "$W/t" | awk -v label="$label" '
        { s[NR] = $1; req = $2; rec = $3; rb = $5; pages = $6 }
        END {
            p50 = s[int((NR - 1) * 0.50) + 1]; p90 = s[int((NR - 1) * 0.90) + 1]; p99 = s[int((NR - 1) * 0.99) + 1]
            printf "%s %.4f %.4f %.4f %d %d %d %d\n", label, p50, p90, p99, req, rec, rb, pages
        }' >>"$W/rows"
}
: >"$W/rows"
pull_runs "4M_x4_(default)"
pull_runs "4M_x1" --jobs 1
pull_runs "512k_x4" --range 512k
pull_runs "64k_x4" --range 64k
# A pull of the version a host already holds: one request.
: >"$W/t2"
for i in $(seq 1 "$N"); do
    ZERG_HOME=$W/dst "$ZERG" template pull big --remote "$URL" --json |
        python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["seconds"], j["requests"])' >>"$W/t2"
done
"$ZERG" cache bench --json --mib 256 --reps 5 --tmp "$W" >"$W/cb.json"
mat=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["materialize_mbps"])' "$W/cb.json")

pages=$(awk 'NR==1 {print $8}' "$W/rows")
echo "template pull from nginx WebDAV on loopback: zergling, $MEM guest ($pages pages, dataset $MIB MiB),"
echo "$N pulls per row into an empty home; seconds of the whole pull (reference, manifest, map,"
echo "ranged GETs, every record checked and stored with fsync, root and manifest written)"
python3 - "$W/push.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
print(f"push: {j['records']} records ({j['record_bytes'] / 1e6:.1f} MB) in {j['requests']} requests, {j['seconds']:.3f} s")
PY
printf '%-16s %9s %9s %9s %11s %9s %9s %9s %11s\n' setting p50_s p90_s p99_s guest_MB/s requests pages MB_moved vs_materialize
awk -v mat="$mat" -v mem="$(python3 -c "import sys; print($pages * 4096)")" '{
    mbps = mem / 1e6 / $2
    printf "%-16s %9.4f %9.4f %9.4f %11.0f %9d %9d %9.1f %11.3f\n", $1, $2, $3, $4, mbps, $5, $6, $7 / 1e6, mbps / mat
}' "$W/rows"
sort -n "$W/t2" | awk '{ s[NR] = $1; r = $2 } END {
    printf "%-16s %9.4f %9.4f %9.4f %11s %9d %9d %9.1f %11s\n", "up-to-date", s[int((NR - 1) * 0.5) + 1], s[int((NR - 1) * 0.9) + 1], s[int((NR - 1) * 0.99) + 1], "-", r, 0, 0, "-" }'
echo "materialize (zerg cache bench, 256 MiB synthetic image, same run): $mat MB/s of guest memory"
echo "guest_MB/s: the template's memory / p50; vs_materialize: that / materialize MB/s"
