#!/usr/bin/env bash
# Writers and GCs killed with SIGKILL at random points: afterwards the cache
# opens and verifies, and every page a writer reported stored is readable.
. "$(dirname "$0")/pagecache_lib.inc"

D="$T/cache"
ROUNDS=${ROUNDS:-20}
RANDOM=$$
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
done
# Only complete lines count: a line was printed after its pages were durable.
cat "$T"/keys/* | grep -E '^[0-9]+ [0-9a-f]{32}$' >"$T/all.keys"
n=$(wc -l <"$T/all.keys")
done_w=$(for f in "$T"/keys/*; do [ "$(wc -l <"$f")" -eq 1024 ] && echo; done | wc -l)
echo "crash: $ROUNDS rounds, $done_w writers finished before the kill, $n pages reported stored" >&2

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
