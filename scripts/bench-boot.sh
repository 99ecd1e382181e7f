#!/usr/bin/env bash
# Cold-boot latency of zergling: a plain loop of N `zerg boot -v` runs, each
# reporting its phases from the monitor's own clocks (total = from reading the
# ELF to the guest's exit; starting and ending the zerg process not included),
# summarized as median/p90/p99 per phase.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${BENCH_RUNS:-30}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for i in $(seq 1 "$N"); do
    printf 'GET / HTTP/1.0\r\n\r\n' | bin/zerg boot -v bin/guests/zergling.elf 2>&1 >/dev/null |
        sed -n 's/.*VM creation \([0-9.]*\) | load \([0-9.]*\) | run to ready \([0-9.]*\) | ready to exit \([0-9.]*\) | total \([0-9.]*\)/\1 \2 \3 \4 \5/p' >>"$tmp"
done
echo "cold boot of zergling (32 MiB warm-up), $N runs, milliseconds"
printf '%-16s %10s %10s %10s\n' phase p50 p90 p99
col=1
for phase in "VM creation" "load" "run to ready" "ready to exit" "total"; do
    sort -n -k"$col" "$tmp" | awk -v c="$col" -v name="$phase" '
        { v[NR] = $c }
        END {
            p50 = v[int((NR - 1) * 0.50) + 1]; p90 = v[int((NR - 1) * 0.90) + 1]; p99 = v[int((NR - 1) * 0.99) + 1]
            printf "%-16s %10.3f %10.3f %10.3f\n", name, p50, p90, p99
        }'
    col=$((col + 1))
done
