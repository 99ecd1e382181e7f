#!/usr/bin/env bash
# make demo: cold boot vs restore from a warm template, for zergling.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! [ -c /dev/kvm ] || ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
    echo "demo: /dev/kvm is missing or not accessible to $(id -un); zerg needs KVM." >&2
    exit 1
fi
# The demo keeps its own home unless the caller chose one.
export ZERG_HOME=${ZERG_HOME:-$PWD/build/demo-home}

echo "== 1. cold boot: a fresh VM boots zergling, which warms up its dataset, then answers"
echo "\$ printf 'GET /hello HTTP/1.0\\r\\n\\r\\n' | bin/zerg boot -v bin/guests/zergling.elf"
printf 'GET /hello HTTP/1.0\r\n\r\n' | bin/zerg boot -v bin/guests/zergling.elf
echo
echo "== 2. capture a warm template once (ZERG_HOME=$ZERG_HOME)"
echo "\$ bin/zerg template create zergling --guest bin/guests/zergling.elf --force"
bin/zerg template create zergling --guest bin/guests/zergling.elf --force -q
echo
echo "== 3. restore: every request gets its own instance, resumed inside READY"
echo "\$ printf 'GET /hello HTTP/1.0\\r\\n\\r\\n' | bin/zerg run -v zergling"
printf 'GET /hello HTTP/1.0\r\n\r\n' | bin/zerg run -v zergling
echo
echo "== 4. the comparison, measured in one run: zerg bench zergling"
bin/zerg bench zergling
