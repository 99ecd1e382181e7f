#!/usr/bin/env bash
# make demo: cold-boot zergling for one HTTP request and show where the time goes.
# (The warm-template issue extends this to the cold boot vs restore comparison.)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! [ -c /dev/kvm ] || ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
    echo "demo: /dev/kvm is missing or not accessible to $(id -un); zerg needs KVM." >&2
    exit 1
fi

echo "== zerg demo: one HTTP request answered by a freshly cold-booted zergling VM"
echo "\$ printf 'GET /hello HTTP/1.0\\r\\n\\r\\n' | bin/zerg boot -v bin/guests/zergling.elf"
printf 'GET /hello HTTP/1.0\r\n\r\n' | bin/zerg boot -v bin/guests/zergling.elf
echo
echo "== five more cold boots (the timing line of each)"
for i in 1 2 3 4 5; do
    printf 'GET /run/%d HTTP/1.0\r\n\r\n' "$i" | bin/zerg boot -v bin/guests/zergling.elf 2>&1 >/dev/null |
        grep 'timing'
done
echo
echo "Almost all of a cold boot is the guest's own initialisation (run to ready):"
echo "that is what a warm template will skip."
