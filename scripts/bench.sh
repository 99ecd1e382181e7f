#!/usr/bin/env bash
# make bench: every benchmark zerg has, each printing its own table.
set -euo pipefail
cd "$(dirname "$0")/.."
for b in scripts/bench-*.sh; do
    [ -f "$b" ] || continue
    echo "== $b"
    bash "$b"
    echo
done
