#!/usr/bin/env bash
# Makes the fuzzers' seeds from the current build, so they always carry this
# build's format and ABI versions and reach the parsers behind the version
# checks (tests/run.sh checks each seed is accepted: ZG_FUZZ_STRICT).
#   tests/fuzz/mkseeds.sh OUTDIR ZERG MKSEED_MANIFEST ELF...
# OUTDIR/elf: the guest ELFs given; OUTDIR/manifest: manifests written by the
# real serializer; OUTDIR/lx_state: Linux personality states (mkseed_lxstate,
# beside MKSEED_MANIFEST); OUTDIR/pc_index, pc_pack, pc_root: the files of a page
# cache made by `zerg cache ingest-file` (text, random, zero and repeated pages).
set -euo pipefail
out=$1 zerg=$2 mkman=$3
shift 3
tmp=$(mktemp -d "${out%/}.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"/{elf,manifest,pc_index,pc_pack,pc_root,lx_state}
for e in "$@"; do cp "$e" "$tmp/elf/"; done
"$mkman" "$tmp/manifest"
"$(dirname "$mkman")/mkseed_lxstate" "$tmp/lx_state"
img=$tmp/img
{
    for i in $(seq 1 6); do (yes "zerg page cache seed line $i" || true) | head -c 4096; done
    head -c 16384 /dev/urandom
    head -c 8192 /dev/zero
    (yes "zerg page cache seed line 1" || true) | head -c 4096
} >"$img"
"$zerg" cache ingest-file "$img" --root seed --dir "$tmp/cache" >/dev/null 2>"$tmp/log" || { cat "$tmp/log" >&2; exit 1; }
"$zerg" cache ingest-file "$img" --root seed2 --dir "$tmp/cache" >/dev/null 2>"$tmp/log" || { cat "$tmp/log" >&2; exit 1; }
cp "$tmp/cache/index" "$tmp/pc_index/index"
cp "$tmp"/cache/packs/*.zpk "$tmp/pc_pack/"
cp "$tmp"/cache/roots/* "$tmp/pc_root/"
rm -rf "$tmp/cache" "$img" "$out"
mv "$tmp" "$out"
trap - EXIT
