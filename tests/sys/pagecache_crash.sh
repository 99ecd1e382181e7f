#!/usr/bin/env bash
# Writers and GCs killed with SIGKILL at random points: afterwards the cache
# opens and verifies, and every page a writer reported stored is readable.
. "$(dirname "$0")/pagecache_lib.inc"

D="$T/cache"
ROUNDS=${ROUNDS:-20}
RANDOM=$$
mid=0 # rounds where a kill landed mid-write
mkdir -p "$T/keys"
for r in $(seq 1 "$ROUNDS"); do
    pids=()
    for w in 1 2; do # two writers at once, each with 4 MiB of new pages
        head -c $((4 << 20)) /dev/urandom >"$T/img$w"
        "$ZERG" cache ingest-file "$T/img$w" --root "r$r-w$w" --dir "$D" \
            >"$T/keys/r$r-w$w" 2>/dev/null &
        pids+=($!)
    done
    if [ $((r % 4)) -eq 0 ]; then # and sometimes a GC after deleting an older root
        old=$(ls "$T/keys" | head -1)
        if "$ZERG" cache rm-root "$old" --dir "$D" 2>/dev/null; then
            rm -f "$T/keys/$old"
        fi
        "$ZERG" cache gc --dir "$D" >/dev/null 2>&1 &
        pids+=($!)
    fi
    sleep "$(printf "0.%03d" $((RANDOM % 45)))"
    kill -9 "${pids[@]}" 2>/dev/null
    wait "${pids[@]}" 2>/dev/null
    # Did a kill land mid-write? Then the packs hold records the index does not
    # name yet (a writer died between appending and publishing), or a torn
    # tail. A read-only verify sees that before the next writer repairs it.
    "$ZERG" cache verify --dir "$D" >"$T/rv" 2>&1
    recs=$(sed -n 's/.* \([0-9]*\) records, \([0-9]*\) index entries.*/\1 \2/p' "$T/rv" | tail -n 1)
    warn=$(sed -n 's/.* \([0-9]*\) warnings.*/\1/p' "$T/rv" | tail -n 1)
    if [ -n "$recs" ] && { [ "${recs% *}" -gt "${recs#* }" ] || [ "${warn:-0}" -gt 0 ]; }; then
        mid=$((mid + 1))
    fi
done
# Only complete lines count: a line was printed after its pages were durable.
cat "$T"/keys/* | grep -E '^[0-9]+ [0-9a-f]{32}$' >"$T/all.keys"
n=$(wc -l <"$T/all.keys")
done_w=$(for f in "$T"/keys/*; do [ "$(wc -l <"$f")" -eq 1024 ] && echo; done | wc -l)
echo "crash: $ROUNDS rounds, $done_w writers finished before the kill, $n pages reported stored, $mid rounds killed a writer mid-write" >&2
# Kills that all land before a writer starts or after it ends test nothing.
if [ "$mid" -gt 0 ]; then
    pc_pass kills_landed_mid_write
else
    pc_fail kills_landed_mid_write "none of $ROUNDS rounds left appended records unpublished or a torn tail"
fi

if "$ZERG" cache verify --dir "$D" >"$T/v" 2>&1; then
    tail -1 "$T/v" >&2
    pc_pass verify_after_kills
else
    pc_fail verify_after_kills "$(grep -m5 error "$T/v")"
fi
if [ "$n" -gt 0 ] && "$ZERG" cache check-keys "$T/all.keys" --dir "$D" >"$T/c" 2>&1; then
    pc_pass reported_pages_readable
else
    pc_fail reported_pages_readable "$n keys; $(tail -3 "$T/c")"
fi
# A writer opening the cache cuts torn tails and catches the index up.
head -c 8192 /dev/urandom >"$T/small"
"$ZERG" cache ingest-file "$T/small" --dir "$D" >/dev/null 2>&1
"$ZERG" cache gc --dir "$D" >/dev/null 2>&1
if "$ZERG" cache verify --dir "$D" >"$T/v" 2>&1 && grep -q ' 0 errors, 0 warnings' "$T/v" &&
    "$ZERG" cache check-keys "$T/all.keys" --dir "$D" >/dev/null 2>&1; then
    pc_pass recovered_by_next_writer
else
    pc_fail recovered_by_next_writer "$(tail -3 "$T/v")"
fi
exit $T_FAILED
