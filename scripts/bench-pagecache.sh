#!/usr/bin/env bash
# Page cache benchmark: ingest and materialize vs raw LZ4 and XXH3, one run,
# medians of several repetitions. Extra arguments go to `zerg cache bench`
# (e.g. --json, --mib 512, --reps 9). Called by `make bench`.
set -euo pipefail
cd "$(dirname "$0")/.."
ZERG=${ZERG:-bin/zerg}
if [ ! -x "$ZERG" ]; then
    echo "bench-pagecache: $ZERG is not built (run make)" >&2
    exit 1
fi
exec "$ZERG" cache bench "$@"
