#!/usr/bin/env bash
# The master's hop in zerg serve, measured (issue 15). With --accept master
# each connection is accepted by the master, passed to a slot with its
# descriptor (SCM_RIGHTS over the slot's socketpair) and handed to the slot's
# prepared instance; with --accept slots (the default) an idle slot accepts
# it itself. One client makes REQUESTS requests one after the other over a
# unix socket (no proxy), for pooled and fresh, each way, and this prints:
#   client   the client's own time from connect() to the response's end
#   wait     zerg serve's log: accepted to the instance starting its run
#   run      the instance's run, to the connection's close
# as medians and p90s in microseconds (the first 20 requests left out: they
# warm the slots up). Assumes `make` was run.
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

echo "== the master's hop: $N sequential requests over a unix socket, medians and p90s (us)"
printf '%-8s %-7s %10s %10s %10s %10s %10s %10s\n' mode accept client_p50 client_p90 \
    wait_p50 wait_p90 run_p50 run_p90
for mode in pooled fresh; do
    for who in master slots; do
        flag=(--accept "$who")
        [ $mode = fresh ] && flag+=(--fresh)
        sock=$TMP/$mode-$who.sock log=$TMP/$mode-$who.log
        serve_start "$log" "${flag[@]}" --log-format json -n 2 -l "unix:$sock=zergling" ||
            { cat "$log"; exit 1; }
        python3 - "$sock" "$N" >"$TMP/client.txt" <<'PY'
import socket, sys, time
path, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    t0 = time.perf_counter_ns()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(b"GET /hop HTTP/1.0\r\nHost: zerg\r\n\r\n")
    while s.recv(65536):
        pass
    s.close()
    print((time.perf_counter_ns() - t0) / 1000.0)
PY
        sleep 0.5
        python3 - "$log" "$mode" "$who" "$TMP/client.txt" <<'PY'
import json, sys
rows = []
for line in open(sys.argv[1]):
    try:
        j = json.loads(line)
    except ValueError:
        continue
    if "wait_us" in j and j.get("end") == "exit":
        rows.append(j)
rows = rows[20:]
client = sorted(float(x) for x in open(sys.argv[4]).read().split()[20:])
def qv(v, p):
    return v[min(len(v) - 1, int(p * len(v)))] if v else float("nan")
def q(k, p):
    return qv(sorted(r[k] for r in rows), p)
print("%-8s %-7s %10.1f %10.1f %10.1f %10.1f %10.1f %10.1f" % (
    sys.argv[2], sys.argv[3], qv(client, .5), qv(client, .9), q("wait_us", .5), q("wait_us", .9),
    q("run_us", .5), q("run_us", .9)))
PY
        proxy_stop_all
    done
done
