#!/usr/bin/env bash
# zerg cache end to end: ingest, materialize, stats, verify, roots, gc, bench, help.
. "$(dirname "$0")/pagecache_lib.inc"

mkimg "$T/a.img" 1
mkimg "$T/b.img" 2
if "$ZERG" cache ingest-file "$T/a.img" --root app-a >"$T/a.keys" 2>"$T/err" &&
    [ "$(wc -l <"$T/a.keys")" -eq 256 ] && [ -d "$ZERG_HOME/cache/packs" ]; then
    pc_pass ingest_default_home
else
    pc_fail ingest_default_home "$(cat "$T/err")"
fi
"$ZERG" cache ingest-file "$T/b.img" --root app-b >"$T/b.keys" 2>"$T/err" || pc_fail ingest_b "$(cat "$T/err")"

if "$ZERG" cache materialize --root app-a -o "$T/a.out" && cmp -s "$T/a.img" "$T/a.out"; then
    pc_pass materialize_round_trip
else
    pc_fail materialize_round_trip "materialized image differs"
fi
# Zero pages are holes in the materialized file.
if [ "$(du -k "$T/a.out" | cut -f1)" -lt "$(du -k --apparent-size "$T/a.out" | cut -f1)" ]; then
    pc_pass materialize_sparse
else
    pc_fail materialize_sparse "no holes in $(du -k "$T/a.out")"
fi

"$ZERG" cache stats --json >"$T/stats.json" 2>"$T/err"
if python3 - "$T/stats.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["templates"] == 2 and s["pages"] == 512, s
assert s["zero_pages"] == 128 and s["dedupe_ratio"] > 1 and s["compression_ratio"] > 1, s
t = {x["name"]: x for x in s["per_template"]}
assert t["app-a"]["pages"] == 256 and t["app-a"]["unique_pages"] < t["app-a"]["distinct_pages"]
PY
then pc_pass stats_json; else pc_fail stats_json "$(cat "$T/stats.json" "$T/err")"; fi
"$ZERG" cache stats | grep -q "app-b" && pc_pass stats_text || pc_fail stats_text "no per-template line"

if "$ZERG" cache verify >"$T/v" && grep -q '^OK: ' "$T/v"; then pc_pass verify_clean; else pc_fail verify_clean "$(cat "$T/v")"; fi

# Delete a template's root and collect: its own pages go, the others stay.
"$ZERG" cache rm-root app-a || pc_fail rm_root "rm-root failed"
"$ZERG" cache gc >"$T/gc" 2>&1 || pc_fail gc "$(cat "$T/gc")"
if grep -q "pages freed" "$T/gc" && "$ZERG" cache check-keys "$T/b.keys" >/dev/null &&
    "$ZERG" cache materialize --root app-b -o "$T/b.out" && cmp -s "$T/b.img" "$T/b.out"; then
    pc_pass gc_keeps_live
else
    pc_fail gc_keeps_live "$(cat "$T/gc")"
fi
# A page only app-a used (a random page: index 7) is gone.
k=$(sed -n 8p "$T/a.keys" | cut -d' ' -f2)
if ! "$ZERG" cache get "$k" -o "$T/p" 2>"$T/err" && grep -q "not in the cache" "$T/err"; then
    pc_pass gc_frees_dead
else
    pc_fail gc_frees_dead "page $k of the deleted root is still readable"
fi
"$ZERG" cache verify >"$T/v" && pc_pass verify_after_gc || pc_fail verify_after_gc "$(cat "$T/v")"

ok=1
for v in stats verify gc bench ingest-file materialize get check-keys roots rm-root; do
    "$ZERG" cache "$v" --help | grep -q "usage: zerg cache" || ok=0
done
"$ZERG" cache --help | grep -q verify || ok=0
"$ZERG" cache frobnicate 2>/dev/null; [ $? -eq 2 ] || ok=0
"$ZERG" cache stats --bogus 2>/dev/null; [ $? -eq 2 ] || ok=0
[ $ok -eq 1 ] && pc_pass help_and_usage || pc_fail help_and_usage "help or usage exit status wrong"

if "$ZERG" cache bench --json --mib 8 --reps 1 >"$T/bench.json" && python3 - "$T/bench.json" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))
for k in ("ingest_mbps", "materialize_mbps", "lz4_compress_mbps", "lz4_decompress_mbps",
          "xxh3_mbps", "cores_used"):
    assert isinstance(b[k], (int, float)) and b[k] > 0, k
PY
then pc_pass bench_json; else pc_fail bench_json "$(cat "$T/bench.json")"; fi
exit $T_FAILED
