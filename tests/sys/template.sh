#!/usr/bin/env bash
# System test: warm templates on real KVM. Capture -> destroy -> restore ->
# compare (registers, SSE state and memory checked by the snapcheck guest),
# clone uniqueness, damaged pages and manifests refused, rm + gc.
source "$(dirname "$0")/lib.bash"

if ! kvm_usable; then
    skip template/all "/dev/kvm is missing or not accessible to $(id -un)"
    exit 0
fi
export ZERG_HOME=$TMP/home ZERG_IMAGE_DIR=$TMP/img
mkdir -p "$ZERG_IMAGE_DIR"
Z=${ZERG:-bin/zerg}

# Save -> destroy -> restore -> compare at several points of a guest's life
# (different amounts of state built before READY).
for n in 0 300 8000; do
    if "$Z" template create "sc$n" --guest bin/test-guests/snapcheck.elf -q -- "$n" >"$TMP/c.txt" 2>&1 &&
        out=$("$Z" run -q "sc$n" </dev/null) && [ "$out" = "STATE OK restored=1 pages=$n" ]; then
        pass "template/state-survives-$n-pages"
    else
        fail "template/state-survives-$n-pages" "$(cat "$TMP/c.txt") / $out"
    fi
done

# zergling: capture, then a request answered by a restored instance.
if "$Z" template create zl --guest bin/guests/zergling.elf -q -- --dataset-mib 8 >"$TMP/c.txt" 2>&1 &&
    grep -q 'newly stored' "$TMP/c.txt"; then
    pass template/create-zergling
else
    fail template/create-zergling "$(cat "$TMP/c.txt")"
fi
r1=$(printf 'GET /one HTTP/1.0\r\n\r\n' | "$Z" run -v zl 2>"$TMP/v.txt")
r2=$(printf 'GET /two HTTP/1.0\r\n\r\n' | "$Z" run zl 2>/dev/null)
if head -n 1 <<<"$r1" | grep -q '^HTTP/1.1 200' && grep -q '^restored: yes' <<<"$r1" &&
    grep -q '^path: /one' <<<"$r1" && grep -q 'first guest instruction by' "$TMP/v.txt"; then
    pass template/run-answers-restored
else
    fail template/run-answers-restored "$r1 $(cat "$TMP/v.txt")"
fi
# ABI version 3: a request that arrives whole comes with READY (READY_RECV)
# and the response leaves with the end (SEND_EXIT): zergling enters the
# guest once per request (SEND_EXIT), was 5 with RECV, SEND, SEND, TIME,
# EXIT. A request not all there when READY is answered (its end arrives
# later) is read on with RECV, and answered the same.
trips=$(sed -n 's/^zerg: \([0-9]*\) round trips into the guest.*/\1/p' "$TMP/v.txt")
late=$( (printf 'GET /late HTTP/1.0\r\n'; sleep 0.5; printf '\r\n') | "$Z" run -v zl 2>"$TMP/vl.txt")
late_trips=$(sed -n 's/^zerg: \([0-9]*\) round trips into the guest.*/\1/p' "$TMP/vl.txt")
if [ "$trips" = 1 ] && head -n 1 <<<"$late" | grep -q '^HTTP/1.1 200' && grep -q '^path: /late' <<<"$late" &&
    [ "${late_trips:-0}" -ge 2 ]; then
    pass "template/zergling-one-round-trip (a request that arrives late: $late_trips)"
else
    fail template/zergling-one-round-trip "trips=$trips late=$(head -n 1 <<<"$late") late_trips=$late_trips"
fi
# A guest of ABI version 2 (READY, RECV, SEND, EXIT by hand) still runs,
# cold and restored from its template.
v2_cold=$(printf 'hello v2' | "$Z" boot bin/test-guests/abiv2.elf 2>&1)
if "$Z" template create v2 --guest bin/test-guests/abiv2.elf -q >"$TMP/c.txt" 2>&1; then
    v2_warm=$(printf 'again' | "$Z" run v2 2>&1)
fi
if [ "$v2_cold" = "v2 restored=0 bytes=8"$'\n'"hello v2" ] &&
    [ "${v2_warm:-}" = "v2 restored=1 bytes=5"$'\n'"again" ]; then
    pass template/abi-v2-guest-runs
else
    fail template/abi-v2-guest-runs "cold=[$v2_cold] warm=[${v2_warm:-}] $(cat "$TMP/c.txt")"
fi
# Clone uniqueness: each instance draws fresh entropy and a fresh id.
rnd1=$(grep '^random:' <<<"$r1")
rnd2=$(grep '^random:' <<<"$r2")
id1=$(grep '^instance:' <<<"$r1")
id2=$(grep '^instance:' <<<"$r2")
if [ -n "$rnd1" ] && [ "$rnd1" != "$rnd2" ] && [ -n "$id1" ] && [ "$id1" != "$id2" ]; then
    pass template/clones-differ
else
    fail template/clones-differ "'$rnd1' '$rnd2' '$id1' '$id2'"
fi
# The warm state is the template's: same digest as a cold boot.
d_cold=$(printf 'GET / HTTP/1.0\r\n\r\n' | "$Z" boot bin/guests/zergling.elf -- --dataset-mib 8 2>/dev/null | grep '^dataset:')
d_warm=$(grep '^dataset:' <<<"$r1")
if [ -n "$d_cold" ] && [ "${d_cold%, built*}" = "${d_warm%, built*}" ]; then
    pass template/warm-state-matches-cold-boot
else
    fail template/warm-state-matches-cold-boot "'$d_cold' vs '$d_warm'"
fi

# zerg bench --json: every mode measured, the keys a program reads present,
# and the figures in the order the design promises: floor > 0; on first
# byte and on restore pooled < fresh < cold; p50 <= p90 <= p99 in every
# series; every memory figure of the bench's own process > 0.
json=$("$Z" bench zl --runs 20 --cold-runs 3 --live 32 --json 2>"$TMP/b.txt")
if why=$(python3 - "$json" <<'PY'
import json, sys
def die(msg):
    print(msg)
    sys.exit(1)
try:
    j = json.loads(sys.argv[1])
except ValueError as e:
    die("not JSON: %s" % e)
bad = []
series = ["kvm_floor_us", "cold_boot_us", "restore_fresh_us", "restore_pooled_us",
          "first_byte_cold_us", "first_byte_fresh_us", "first_byte_pooled_us",
          "vm_create_us", "restore_fresh_with_create_us", "first_byte_fresh_with_create_us",
          "vm_destroy_us", "reset_pooled_us"]
for k in series:
    s = j.get(k)
    if not isinstance(s, dict) or not all(isinstance(s.get(p), (int, float)) for p in ("p50", "p90", "p99")):
        bad.append("missing %s" % k)
    elif not s["p50"] <= s["p90"] <= s["p99"]:
        bad.append("%s: p50 %s p90 %s p99 %s out of order" % (k, s["p50"], s["p90"], s["p99"]))
if bad:
    die("; ".join(bad))
p50 = {k: j[k]["p50"] for k in series}
def less(a, b):
    if not p50[a] < p50[b]:
        bad.append("%s p50 %s is not below %s p50 %s" % (a, p50[a], b, p50[b]))
if not p50["kvm_floor_us"] > 0:
    bad.append("kvm_floor_us p50 is %s" % p50["kvm_floor_us"])
less("first_byte_pooled_us", "first_byte_fresh_us")
less("first_byte_fresh_us", "first_byte_cold_us")
less("restore_pooled_us", "restore_fresh_us")
less("restore_fresh_us", "cold_boot_us")
# Fresh is timed from taking a VM created ahead: with its creation it is longer.
less("restore_fresh_us", "restore_fresh_with_create_us")
# The reset alone is part of a pooled restore (which also enters the guest).
less("reset_pooled_us", "restore_pooled_us")
less("first_byte_fresh_us", "first_byte_fresh_with_create_us")
less("first_byte_fresh_with_create_us", "first_byte_cold_us")
for k in ("vm_create_us", "vm_destroy_us"):
    if not p50[k] > 0:
        bad.append("%s p50 is %s" % (k, p50[k]))
for k in ("private_kib_per_instance", "private_kib_per_pooled_instance",
          "process_kib_per_fresh_instance", "process_kib_per_pooled_instance"):
    v = j.get(k)
    if not isinstance(v, (int, float)) or not v > 0:
        bad.append("%s is %s" % (k, v))
# Round trips per request: zergling's request takes the same calls fresh and
# pooled (SEND_EXIT at least); a pooled request's KVM_RUN calls are exactly
# its round trips: the reset makes none of its own (the last `out` is
# completed by the next run, after the registers the reset set: hv_kvm.c).
ef, ep = j.get("exits_per_fresh_request"), j.get("exits_per_pooled_request")
if not isinstance(ef, (int, float)) or not isinstance(ep, (int, float)) or not 1 <= ep <= ef:
    bad.append("exits per request: fresh %s, pooled %s" % (ef, ep))
kr = j.get("kvm_runs_per_pooled_request")
if not isinstance(kr, (int, float)) or kr != ep:
    bad.append("KVM_RUN calls per pooled request: %s" % kr)
# The host-wide figures (MemAvailable) move with everything else running on
# the machine, so only their presence is asserted.
for k in ("host_kib_per_fresh_instance", "host_kib_per_pooled_instance"):
    if not isinstance(j.get(k), (int, float)):
        bad.append("%s is %s" % (k, j.get(k)))
if bad:
    die("; ".join(bad))
PY
); then
    pass template/bench-json
else
    fail template/bench-json "$why in $json $(cat "$TMP/b.txt")"
fi

# ls / inspect
if "$Z" template ls | grep -q '^zl ' && "$Z" template inspect zl | grep -q '^OK' &&
    "$Z" template inspect zl --json | grep -q '"ok":true'; then
    pass template/ls-inspect
else
    fail template/ls-inspect "$("$Z" template ls; "$Z" template inspect zl)"
fi

# A tampered memory image: the shared image file in ZERG_IMAGE_DIR is checked
# against the template when a process opens it, so bytes changed in it (in a
# page with data, and in a hole, which reads as zeros) are never served: the
# image is rebuilt from the cache, with a warning, and the answer is the
# untampered one (snapcheck checks every byte of its 300-page pattern, the
# image's largest extent of data). The image is published read-only.
rm -f "$ZERG_IMAGE_DIR"/*
"$Z" run sc300 </dev/null >"$TMP/t0.txt" 2>"$TMP/t0.err"
img=$(ls "$ZERG_IMAGE_DIR"/*.img 2>/dev/null | head -n 1)
tamper_ok=1 tamper_why=""
if [ -z "$img" ] || [ "$(stat -c %a "$img")" != 400 ] || ! grep -q 'STATE OK' "$TMP/t0.txt"; then
    tamper_ok=0 tamper_why="no read-only image after a first run: $(ls -l "$ZERG_IMAGE_DIR") $(cat "$TMP/t0.err")"
fi
for where in data hole; do
    [ $tamper_ok = 1 ] || break
    img=$(ls "$ZERG_IMAGE_DIR"/*.img | head -n 1)
    chmod u+w "$img"
    python3 - "$img" "$where" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
size = os.fstat(fd).st_size
# data: the middle of the largest extent with data (snapcheck's pattern);
# hole: the last page of guest memory (zero, never written)
if sys.argv[2] == "data":
    off, best, pos = 0, 0, 0
    while True:
        try:
            d = os.lseek(fd, off, os.SEEK_DATA)
        except OSError:
            break
        h = os.lseek(fd, d, os.SEEK_HOLE)
        if h - d > best:
            best, pos = h - d, (d + h) // 2
        off = h
else:
    pos = size - 100
b = os.pread(fd, 1, pos)
os.pwrite(fd, bytes([b[0] ^ 0x5a]), pos)
os.close(fd)
PY
    "$Z" run sc300 </dev/null >"$TMP/t1.txt" 2>"$TMP/t1.err"
    rc=$?
    if [ $rc -ne 0 ] || ! grep -q 'STATE OK' "$TMP/t1.txt" ||
        ! grep -q "did not match template 'sc300'.*rebuilt from the page cache" "$TMP/t1.err"; then
        tamper_ok=0 tamper_why="$where: rc=$rc; $(head -c 300 "$TMP/t1.txt") $(cat "$TMP/t1.err")"
    fi
done
if [ $tamper_ok = 1 ]; then
    # And the rebuilt image is used as it is by the next run (no warning).
    "$Z" run sc300 </dev/null >"$TMP/t2.txt" 2>"$TMP/t2.err"
    if grep -q 'STATE OK' "$TMP/t2.txt" && ! grep -q warning "$TMP/t2.err"; then
        pass template/tampered-image-never-served
    else
        fail template/tampered-image-never-served "after the rebuild: $(cat "$TMP/t2.err")"
    fi
else
    fail template/tampered-image-never-served "$tamper_why"
fi

# A damaged page in the cache: inspect names it, restore refuses (no stale image to hide it).
rm -f "$ZERG_IMAGE_DIR"/*
pack=$(ls "$ZERG_HOME"/cache/packs/* 2>/dev/null | head -n 1)
if [ -n "$pack" ]; then
    size=$(stat -c %s "$pack")
    for off in $((size / 3)) $((size / 2)) $((size * 2 / 3)); do
        printf '\xff\x00\xff\x00' | dd of="$pack" bs=1 seek="$off" conv=notrunc status=none
    done
    "$Z" template inspect zl >"$TMP/i.txt" 2>&1
    irc=$?
    printf 'GET / HTTP/1.0\r\n\r\n' | "$Z" run zl >"$TMP/o.txt" 2>"$TMP/e.txt"
    rrc=$?
    if [ $irc -eq 4 ] && grep -q DAMAGED "$TMP/i.txt" && [ $rrc -eq 4 ] &&
        grep -q "cannot be restored" "$TMP/e.txt" && [ ! -s "$TMP/o.txt" ]; then
        pass template/damaged-pages-refused
    else
        fail template/damaged-pages-refused "inspect rc=$irc run rc=$rrc $(cat "$TMP/e.txt")"
    fi
    # Created again (the same guest, so the same pages), the template repairs
    # the cache: the damaged copies are stored again, and it restores.
    "$Z" template create zl --force --guest bin/guests/zergling.elf -q -- --dataset-mib 8 >"$TMP/rc.txt" 2>&1
    crc=$?
    "$Z" template inspect zl >"$TMP/i2.txt" 2>&1
    irc2=$?
    printf 'GET / HTTP/1.0\r\n\r\n' | "$Z" run zl >"$TMP/o2.txt" 2>"$TMP/e2.txt"
    rrc2=$?
    if [ $crc -eq 0 ] && grep -q 'were stored again (repaired)' "$TMP/rc.txt" && [ $irc2 -eq 0 ] &&
        [ $rrc2 -eq 0 ] && grep -q '^Hello from zergling!' "$TMP/o2.txt"; then
        pass template/re-create-repairs-damaged-pages
    else
        fail template/re-create-repairs-damaged-pages "create rc=$crc $(cat "$TMP/rc.txt"); inspect rc=$irc2; run rc=$rrc2 $(cat "$TMP/e2.txt")"
    fi
else
    fail template/damaged-pages-refused "no pack file found under $ZERG_HOME/cache"
fi

# A truncated or garbled manifest: a clear error, never a crash.
m="$ZERG_HOME/templates/sc300.zgt"
cp "$m" "$TMP/m.bak"
head -c 1000 "$TMP/m.bak" >"$m"
"$Z" run sc300 </dev/null >/dev/null 2>"$TMP/e1.txt"
rc1=$?
# ls --json lists it, damaged, with the others (valid JSON for a script).
"$Z" template ls --json >"$TMP/ls.json" 2>&1
"$Z" template ls >"$TMP/ls.txt" 2>&1
if python3 - "$TMP/ls.json" <<'PY'; then
import json, sys
ls = json.load(open(sys.argv[1]))
by = {t["name"]: t for t in ls}
sc = by.get("sc300", {})
ok = sc.get("state") == "damaged" and any(w in sc.get("error", "") for w in ("truncated", "header says"))
ok = ok and by.get("zl", {}).get("state") == "ok" and by["zl"].get("mem_bytes", 0) > 0
sys.exit(0 if ok else 1)
PY
    grep -q '^sc300 .*(damaged: ' "$TMP/ls.txt" && pass template/ls-lists-damaged ||
        fail template/ls-lists-damaged "text: $(cat "$TMP/ls.txt")"
else
    fail template/ls-lists-damaged "json: $(cat "$TMP/ls.json")"
fi
cp "$TMP/m.bak" "$m"
printf 'XX' | dd of="$m" bs=1 seek=5000 conv=notrunc status=none
"$Z" run sc300 </dev/null >/dev/null 2>"$TMP/e2.txt"
rc2=$?
if [ $rc1 -eq 4 ] && grep -q 'truncated\|header says' "$TMP/e1.txt" && [ $rc2 -eq 4 ] &&
    grep -q 'checksum' "$TMP/e2.txt"; then
    pass template/bad-manifest-refused
else
    fail template/bad-manifest-refused "rc=$rc1/$rc2 $(cat "$TMP/e1.txt" "$TMP/e2.txt")"
fi

# A whole pack gone: inspect and verify name the first problems and count
# the rest (thousands of lines otherwise); -v names every one.
cp -r "$ZERG_HOME" "$TMP/nopack"
rm -f "$TMP/nopack"/cache/packs/*
ZERG_HOME=$TMP/nopack "$Z" template inspect sc8000 >/dev/null 2>"$TMP/in.txt"
irc=$?
ZERG_HOME=$TMP/nopack "$Z" template inspect sc8000 -v >/dev/null 2>"$TMP/inv.txt"
ZERG_HOME=$TMP/nopack "$Z" cache verify >"$TMP/cv.txt" 2>&1
vrc=$?
ZERG_HOME=$TMP/nopack "$Z" cache verify -v >"$TMP/cvv.txt" 2>&1
more=$(sed -n 's/.*\.\.\. and \([0-9]*\) more pages missing.*/\1/p' "$TMP/in.txt")
named=$(grep -c '^zerg: page ' "$TMP/in.txt")
allv=$(grep -c '^zerg: page ' "$TMP/inv.txt")
if [ $irc -eq 4 ] && [ "$named" = 10 ] && [ -n "$more" ] && [ "$allv" = $((10 + more)) ] &&
    [ $vrc -eq 4 ] && [ "$(grep -c '^error: ' "$TMP/cv.txt")" = 20 ] &&
    grep -q '^\.\.\. and [0-9]* more problems (-v names every one):' "$TMP/cv.txt" &&
    [ "$(grep -c '^error: ' "$TMP/cvv.txt")" -gt 20 ]; then
    pass "template/missing-pack-summarised ($allv pages missing)"
else
    fail template/missing-pack-summarised "inspect rc=$irc named=$named more=$more -v=$allv; verify rc=$vrc: $(tail -n 4 "$TMP/cv.txt")"
fi

# Exit statuses mean the same for every command (docs/abi.md, "Exit
# statuses"): 3 what was named does not exist, 4 damaged (above), 124 the
# deadline, 125 a guest fault, 126 refused.
"$Z" run no-such-template </dev/null >/dev/null 2>&1
s_run=$?
"$Z" bench no-such-template >/dev/null 2>&1
s_bench=$?
"$Z" template inspect no-such-template >/dev/null 2>&1
s_insp=$?
"$Z" boot "$TMP/no-such-guest.elf" </dev/null >/dev/null 2>&1
s_boot=$?
"$Z" template create nsg --guest "$TMP/no-such-guest.elf" -q >/dev/null 2>&1
s_create=$?
"$Z" template create dl --guest bin/test-guests/loop.elf --timeout 300 -q >/dev/null 2>&1
s_deadline=$?
"$Z" boot --timeout 300 bin/test-guests/loop.elf </dev/null >/dev/null 2>&1
s_bootdl=$?
"$Z" template create ft --guest bin/test-guests/fault.elf -q >/dev/null 2>&1
s_fault=$?
"$Z" template create bad --guest tests/sys/lib.bash -q >/dev/null 2>&1
s_refused=$?
"$Z" serve -l "unix:$TMP/nst.sock=no-such-template" >/dev/null 2>&1
s_serve=$?
got="run=$s_run bench=$s_bench inspect=$s_insp boot=$s_boot create=$s_create create-deadline=$s_deadline boot-deadline=$s_bootdl create-fault=$s_fault create-refused=$s_refused serve=$s_serve"
want="run=3 bench=3 inspect=3 boot=3 create=3 create-deadline=124 boot-deadline=124 create-fault=125 create-refused=126 serve=3"
if [ "$got" = "$want" ]; then
    pass template/exit-statuses-agree
else
    fail template/exit-statuses-agree "got $got; want $want"
fi

# rm, then gc frees what only that template used.
before=$("$Z" cache stats --json | sed -n 's/.*"pages_stored": *\([0-9]*\).*/\1/p' | head -n 1)
"$Z" template rm sc8000 && "$Z" cache gc >/dev/null 2>&1
after=$("$Z" cache stats --json | sed -n 's/.*"pages_stored": *\([0-9]*\).*/\1/p' | head -n 1)
if ! "$Z" template ls | grep -q '^sc8000 ' && [ -n "$before" ] && [ -n "$after" ] &&
    [ "$after" -lt "$before" ] && "$Z" run -q sc0 </dev/null | grep -q 'STATE OK'; then
    pass template/rm-and-gc
else
    fail template/rm-and-gc "unique pages before=$before after=$after"
fi
exit $T_FAILED
