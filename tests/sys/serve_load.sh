#!/usr/bin/env bash
# System test: load through the real nginx into zerg serve with wrk, for a
# bounded time. Zero errors, and the server's memory (RSS of the master and
# its workers) and open descriptors at the end equal those after warm-up.
# Then the same server under the ASan+UBSan build, with faults mixed in.
# Not a speed test: `make bench` measures speed.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/proxy.bash"
trap 'proxy_stop_all; rm -rf "$TMP"' EXIT

if ! kvm_usable; then
    skip serve-load/all "/dev/kvm is missing or not accessible to $(id -un)"
    exit 0
fi
for tool in nginx wrk curl; do
    if ! command -v "$tool" >/dev/null; then
        fail serve-load/tools "$tool is not installed (make deps installs it)"
        exit 1
    fi
done
export ZERG_HOME=$TMP/home ZERG_IMAGE_DIR=$TMP/img
mkdir -p "$ZERG_IMAGE_DIR"
SECS=${SERVE_LOAD_SECONDS:-8}
if ! bin/zerg template create zl --guest bin/guests/zergling.elf -q -- --dataset-mib 8 >"$TMP/c.txt" 2>&1 ||
    ! bin/zerg template create st --guest bin/test-guests/servetest.elf -q >>"$TMP/c.txt" 2>&1; then
    fail serve-load/templates "$(cat "$TMP/c.txt")"
    exit 1
fi

# wrk_check NAME OUT: wrk finished with requests and no errors of any kind.
wrk_errors() {
    grep -E 'Socket errors|Non-2xx' "$1"
}
wrk_reqs() {
    awk '/requests in/ {print $1}' "$1"
}

for mode in pooled fresh; do
    D=$TMP/$mode
    mkdir -p "$D"
    flag=()
    [ $mode = fresh ] && flag=(--fresh)
    if ! serve_start "$D/serve.log" -q "${flag[@]}" -n 8 -l "unix:$D/zl.sock=zl"; then
        fail "serve-load/$mode-start" "$(cat "$D/serve.log")"
        continue
    fi
    SP=$SERVE_PID
    port=$(free_port)
    nginx_start "$D/nginx" "$port" zl="unix:$D/zl.sock" || {
        fail "serve-load/$mode-nginx" "$(cat "$D/nginx/error.log")"
        continue
    }
    U=http://127.0.0.1:$port/zl/load
    # Warm-up: every slot serves, so every pooled instance has its pages.
    wrk -t2 -c16 -d2s "$U" >"$D/warm.txt" 2>&1
    sleep 0.5
    rss0=$(proc_rss_kib "$SP")
    fds0=$(proc_fds "$SP")
    wrk -t2 -c16 -d"${SECS}s" --latency "$U" >"$D/wrk.txt" 2>&1
    sleep 0.5
    rss1=$(proc_rss_kib "$SP")
    fds1=$(proc_fds "$SP")
    reqs=$(wrk_reqs "$D/wrk.txt")
    errs=$(wrk_errors "$D/wrk.txt")
    # RSS may move by what the allocator and the kernel account lazily; a
    # leak of one page per request would be > 4 KiB x requests.
    slack=$((2048))
    echo "serve-load: $mode: $reqs requests in ${SECS}s through nginx; RSS ${rss0} -> ${rss1} KiB, fds ${fds0} -> ${fds1}"
    if [ -z "$errs" ] && [ "${reqs:-0}" -gt 100 ]; then
        pass "serve-load/$mode-wrk-no-errors"
    else
        fail "serve-load/$mode-wrk-no-errors" "$(cat "$D/wrk.txt")"
    fi
    if [ "$fds1" = "$fds0" ] && [ "$rss1" -le $((rss0 + slack)) ]; then
        pass "serve-load/$mode-rss-and-fds-stable"
    else
        fail "serve-load/$mode-rss-and-fds-stable" "RSS ${rss0} -> ${rss1} KiB (slack $slack), fds ${fds0} -> ${fds1}"
    fi
    proxy_stop_all
done

# The ASan+UBSan build under load with crashes and kills mixed in: it must
# serve, drain on SIGTERM and exit 0 with no sanitizer report.
if [ -x bin/zerg-asan ]; then
    D=$TMP/asan
    mkdir -p "$D"
    if ZERG=bin/zerg-asan serve_start "$D/serve.log" -q -n 4 --deadline 500 --mem-cap 4M \
        -l "unix:$D/zl.sock=zl" -l "unix:$D/st.sock=st"; then
        SP=$SERVE_PID
        port=$(free_port)
        nginx_start "$D/nginx" "$port" zl="unix:$D/zl.sock" st="unix:$D/st.sock"
        cpids=()
        for p in crash spin hog/16 put/x get; do
            curl -s -o /dev/null "http://127.0.0.1:$port/st/$p" &
            cpids+=($!)
        done
        wrk -t2 -c4 -d3s "http://127.0.0.1:$port/zl/asan" >"$D/wrk.txt" 2>&1
        wait "${cpids[@]}"
        kill -TERM "$SP"
        wait "$SP"
        rc=$?
        PROXY_PIDS=("${PROXY_PIDS[@]/$SP/}")
        if [ $rc = 0 ] && [ -z "$(wrk_errors "$D/wrk.txt")" ] &&
            ! grep -qE 'AddressSanitizer|runtime error|LeakSanitizer' "$D/serve.log"; then
            pass serve-load/asan-clean
        else
            fail serve-load/asan-clean "rc=$rc; $(grep -E 'Sanitizer|runtime error' -A5 "$D/serve.log" | head -20); $(cat "$D/wrk.txt")"
        fi
    else
        fail serve-load/asan-start "$(cat "$D/serve.log")"
    fi
    proxy_stop_all
else
    fail serve-load/asan-clean "bin/zerg-asan is not built (make test builds it)"
fi

exit $T_FAILED
