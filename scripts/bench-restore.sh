#!/usr/bin/env bash
# Restore latency: zerg bench on the zergling template (cold boot, restore
# fresh, restore pooled, KVM floor), in its own zerg home.
set -euo pipefail
cd "$(dirname "$0")/.."
export ZERG_HOME=${ZERG_HOME:-$PWD/build/bench-home}
bin/zerg template create zergling --guest bin/guests/zergling.elf --force -q >/dev/null
bin/zerg bench zergling ${BENCH_RESTORE_ARGS:-} --plot build/bench-restore.svg
echo "(latency distributions drawn in build/bench-restore.svg)"
