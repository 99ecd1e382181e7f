#!/usr/bin/env bash
# Damage packs, index and roots: verify names the damaged pages (file, offset,
# key) and exits 4; reading a damaged page is a clear error, never wrong data.
. "$(dirname "$0")/pagecache_lib.inc"

C="$T/clean"
mkimg "$T/a.img" 3
"$ZERG" cache ingest-file "$T/a.img" --root app --dir "$C" >"$T/keys" 2>/dev/null || {
    pc_fail setup "ingest failed"
    exit 1
}
PACK=packs/pack-00000001.zpk
fresh() { rm -rf "$T/d" && cp -a "$C" "$T/d"; }
flip() { # flip FILE OFFSET
    python3 -c "
import sys
f = open(sys.argv[1], 'r+b'); f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2]))
f.write(bytes([b[0] ^ 0x5a]))" "$1" "$2"
}
# every key named in verify's output must pc_fail to read, with a message naming it
check_named() { # check_named CASE
    local keys
    keys=$(grep -o 'key [0-9a-f]\{32\}' "$T/v" | cut -d' ' -f2 | sort -u)
    [ -n "$keys" ] || { pc_fail "$1" "verify named no key: $(head -5 "$T/v")"; return 1; }
    for k in $keys; do
        if "$ZERG" cache get "$k" --dir "$T/d" -o "$T/p" 2>"$T/err"; then
            pc_fail "$1" "damaged page $k read without error"
            return 1
        fi
        grep -q "$k" "$T/err" || { pc_fail "$1" "error does not name $k: $(cat "$T/err")"; return 1; }
    done
    if "$ZERG" cache materialize --root app --dir "$T/d" -o "$T/out" 2>/dev/null; then
        pc_fail "$1" "materialize of a damaged template succeeded"
        return 1
    fi
    pc_pass "$1"
}

size=$(stat -c %s "$C/$PACK")
for frac in 3 2 1.3; do # bytes in the middle of records
    fresh
    off=$(python3 -c "print(int($size / $frac))")
    flip "$T/d/$PACK" "$off"
    if "$ZERG" cache verify --dir "$T/d" >"$T/v" 2>&1; then
        pc_fail "pack_flip_$frac" "verify passed a flipped byte at $off"
    elif grep -q "error: $PACK offset [0-9]* key" "$T/v"; then
        check_named "pack_flip_$frac"
    else
        pc_fail "pack_flip_$frac" "no pack/offset/key: $(head -3 "$T/v")"
    fi
done

fresh
truncate -s $((size * 2 / 3)) "$T/d/$PACK"
if ! "$ZERG" cache verify --dir "$T/d" >"$T/v" 2>&1 && grep -q "pack truncated" "$T/v"; then
    check_named pack_truncated
else
    pc_fail pack_truncated "$(head -3 "$T/v")"
fi

fresh
flip "$T/d/index" 100 # inside the first index entry
if ! "$ZERG" cache verify --dir "$T/d" >"$T/v" 2>&1 && grep -q "error: index" "$T/v"; then
    # the pages themselves are intact: reads rebuild from the packs
    "$ZERG" cache check-keys "$T/keys" --dir "$T/d" >/dev/null && pc_pass index_flip ||
        pc_fail index_flip "intact pages unreadable after an index flip"
else
    pc_fail index_flip "$(head -3 "$T/v")"
fi

# An index entry pointing at the wrong place in an intact pack: verify
# names the index entry, not the pack (the index's header is 64 bytes, then
# one 16-byte pack table entry; an entry's record offset is at +16).
fresh
flip "$T/d/index" $((64 + 16 + 16)) # the first entry's record offset, low byte
if ! "$ZERG" cache verify --dir "$T/d" >"$T/v" 2>&1 &&
    grep -q "error: index offset 80 key [0-9a-f]*: entry 0 is damaged: it points at offset" "$T/v" &&
    ! grep -q "error: packs/" "$T/v"; then
    pc_pass index_entry_offset_names_the_index
else
    pc_fail index_entry_offset_names_the_index "$(head -4 "$T/v")"
fi

# Each field of one index entry flipped, the pack byte-identical: verify
# names that entry of the index (its number, the field's offset) and no pack,
# exits 4 (damaged), the intact pages still read, and 'cache gc' (an open
# for writing, docs/format.md's recovery table) rebuilds the index from the
# packs, after which verify passes.
# Entry 5 starts at 64 + 16 + 5 * 32 = 240: key +0, offset +16, pack +24,
# length +28, encoding +30.
for f in key:0 key_last:15 offset:16 offset_high:21 pack:24 length:28 length_high:29 enc:30; do
    fresh
    field=${f%%:*} at=$((240 + ${f#*:}))
    flip "$T/d/index" "$at"
    cmp -s "$C/$PACK" "$T/d/$PACK" || pc_fail "index_field_$field" "the pack changed"
    "$ZERG" cache verify --dir "$T/d" >"$T/v" 2>&1
    st=$?
    if [ $st = 4 ] && grep -q "error: index offset 240 key [0-9a-f]*: entry 5[ :]" "$T/v" &&
        ! grep -q "error: packs/" "$T/v" &&
        "$ZERG" cache check-keys "$T/keys" --dir "$T/d" >/dev/null 2>&1 &&
        "$ZERG" cache gc --dir "$T/d" >/dev/null 2>&1 &&
        "$ZERG" cache verify --dir "$T/d" >/dev/null 2>&1; then
        pc_pass "index_field_${field}_names_the_index"
    else
        pc_fail "index_field_${field}_names_the_index" "exit $st: $(grep error "$T/v" | head -4)"
    fi
done

fresh
truncate -s 1000 "$T/d/index"
if ! "$ZERG" cache verify --json --dir "$T/d" >"$T/v" 2>&1 && grep -q '"ok": false' "$T/v"; then
    pc_pass index_truncated
else
    pc_fail index_truncated "$(head -3 "$T/v")"
fi

fresh
flip "$T/d/roots/app" 40
if ! "$ZERG" cache verify --dir "$T/d" >"$T/v" 2>&1 && grep -q "error: roots/app" "$T/v" &&
    ! "$ZERG" cache gc --dir "$T/d" >/dev/null 2>&1; then
    pc_pass root_flip_blocks_gc
else
    pc_fail root_flip_blocks_gc "$(head -3 "$T/v")"
fi
exit $T_FAILED
