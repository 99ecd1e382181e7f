#!/usr/bin/env bash
# System test: zerg serve at production sizes under its sandbox (issue 30).
# A worker runs one thread per slot; glibc's malloc asks for the CPU count
# (opening /sys/devices/system/cpu/online) once more than 8 threads of a
# process have allocated, which the sandbox's filter used to stop (SIGSYS),
# so workers of more than 8 slots crash-looped. Here every slot is made to
# hold a connection at once, then each answers; any worker-died fails.
#   - 64 slots in one worker (-n 64 -w 1), pooled and fresh;
#   - -n 1024 across workers (32 slots each, the default), pooled.
# Then the death of a worker by a call outside the filter is logged with the
# call's number and name (the serve.sh test hook, in a worker of 64 slots).
#   SERVE_SLOTS_ONLY=NAME   only that case (tests/mutations), SLOTS_SECS its time
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/proxy.bash"
trap 'proxy_stop_all; rm -rf "$TMP"' EXIT

if ! kvm_usable; then
    skip serve-slots/all "/dev/kvm is missing or not accessible to $(id -un)"
    exit 0
fi
export ZERG_HOME=$TMP/home ZERG_IMAGE_DIR=$TMP/img
mkdir -p "$ZERG_IMAGE_DIR"
# The client holds 1024 connections, the master as many plus its slots'.
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if ! bin/zerg template create zl --guest bin/guests/zergling.elf -q >"$TMP/c.txt" 2>&1; then
    fail serve-slots/template "$(cat "$TMP/c.txt")"
    exit 1
fi

ONLY=${SERVE_SLOTS_ONLY:-}
SECS=${SLOTS_SECS:-90}

# all_slots NAME N ARGS...: serve with ARGS, occupy all N slots, then each
# answers; no worker dies, and N distinct slots served.
all_slots() {
    local name=$1 n=$2
    shift 2
    [ -n "$ONLY" ] && [ "$ONLY" != "$name" ] && return
    local D=$TMP/$name
    mkdir -p "$D"
    if ! serve_start "$D/serve.log" -l "unix:$D/zl.sock=zl" --metrics "unix:$D/m.sock" \
        --deadline 60000 "$@"; then
        fail "serve-slots/$name" "did not start: $(tail -n 5 "$D/serve.log")"
        return
    fi
    local SP=$SERVE_PID out
    wait_unix "$D/m.sock"
    out=$(python3 tests/sys/slots.py "$D/zl.sock" "$n" "$D/m.sock" "$SECS" 2>&1)
    kill -TERM "$SP"
    wait "$SP" 2>/dev/null
    local slots died
    slots=$(grep -o ' slot=[0-9]*\.[0-9]*' "$D/serve.log" | sort -u | wc -l)
    died=$(grep -c 'worker-died' "$D/serve.log")
    if [ "$out" = "busy $n answered $n of $n" ] && [ "$slots" = "$n" ] && [ "$died" = 0 ]; then
        pass "serve-slots/$name"
    else
        fail "serve-slots/$name" "$out; $slots distinct slots served; $died worker-died: $(grep -m 3 'worker-died' "$D/serve.log")"
    fi
}

all_slots pooled-64-in-one-worker 64 -n 64 -w 1
all_slots fresh-64-in-one-worker 64 -n 64 -w 1 --fresh
all_slots pooled-1024 1024 -n 1024
[ -n "$ONLY" ] && exit $T_FAILED

# A call outside the filter in a worker of 64 slots: the worker dies by
# SIGSYS and the master names the call (serve.sh's hook calls socket()).
D=$TMP/forbidden
mkdir -p "$D"
if ZERG_SERVE_TEST_FORBIDDEN_CALL=1 serve_start "$D/serve.log" -n 64 -w 1 -l "unix:$D/zl.sock=zl" \
    --metrics "unix:$D/m.sock"; then
    SP=$SERVE_PID
    code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' --unix-socket "$D/zl.sock" http://x/a)
    sleep 0.3
    kills=$(curl -s --unix-socket "$D/m.sock" http://m/metrics | awk '$1 == "zerg_worker_sandbox_kills_total" {print $2}')
    kill -TERM "$SP"
    wait "$SP" 2>/dev/null
    if grep -q 'worker-died worker 0 (pid [0-9]*) killed by signal 31: its sandbox stopped system call 41 (socket)$' \
        "$D/serve.log" && [ "$kills" = 1 ]; then
        pass serve-slots/sandbox-death-names-the-call
    else
        fail serve-slots/sandbox-death-names-the-call "answer $code, zerg_worker_sandbox_kills_total '$kills': $(grep -m 2 'worker-died' "$D/serve.log")"
    fi
else
    fail serve-slots/forbidden-start "$(tail -n 5 "$D/serve.log")"
fi
exit $T_FAILED
