#!/usr/bin/env bash
# The master's hop in zerg serve, measured (issue 15): on an idle server, each
# connection is accepted by the master, queued, passed to a slot with its
# descriptor (SCM_RIGHTS over the slot's socketpair) and handed to the slot's
# prepared instance. zerg serve logs, per connection, wait_us (accept to the
# instance starting: the hop, when nothing queues), run_us (the instance's run,
# to the connection's close) and total_us. One client makes REQUESTS requests
# one after the other over a unix socket (no proxy), pooled and fresh, and
# this prints the medians and p90s from the log. Assumes `make` was run.
#   BENCH_HOP_REQUESTS (500)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${BENCH_HOP_REQUESTS:-500}
TMP=$(mktemp -d /tmp/zerg-bench-hop.XXXXXX)
source tests/sys/proxy.bash
trap 'proxy_stop_all; rm -rf "$TMP"' EXIT
export ZERG_HOME=$TMP/home ZERG_IMAGE_DIR=$TMP/img
mkdir -p "$ZERG_IMAGE_DIR"
bin/zerg template create zergling -q --guest bin/guests/zergling.elf >/dev/null

echo "== the master's hop: $N sequential requests over a unix socket, log medians (us)"
printf '%-8s %10s %10s %10s %10s %10s %10s\n' mode wait_p50 wait_p90 run_p50 run_p90 total_p50 total_p90
for mode in pooled fresh; do
    flag=()
    [ $mode = fresh ] && flag=(--fresh)
    serve_start "$TMP/$mode.log" "${flag[@]}" --log-format json -n 2 -l "unix:$TMP/$mode.sock=zergling" ||
        { cat "$TMP/$mode.log"; exit 1; }
    python3 - "$TMP/$mode.sock" "$N" <<'PY'
import socket, sys
path, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(b"GET /hop HTTP/1.0\r\nHost: zerg\r\n\r\n")
    while s.recv(65536):
        pass
    s.close()
PY
    sleep 0.5
    python3 - "$TMP/$mode.log" "$mode" <<'PY'
import json, sys
rows = []
for line in open(sys.argv[1]):
    try:
        j = json.loads(line)
    except ValueError:
        continue
    if "wait_us" in j and j.get("end") == "exit":
        rows.append(j)
rows = rows[20:]  # the first ones warm the slots up
def q(k, p):
    v = sorted(r[k] for r in rows)
    return v[min(len(v) - 1, int(p * len(v)))] if v else float("nan")
print("%-8s %10.1f %10.1f %10.1f %10.1f %10.1f %10.1f" % (
    sys.argv[2], q("wait_us", .5), q("wait_us", .9), q("run_us", .5), q("run_us", .9),
    q("total_us", .5), q("total_us", .9)))
PY
done
echo "(wait: accepted by the master to the instance starting its run in a slot;"
echo " run: the instance's run to the connection's close; total: accept to close)"
