#!/usr/bin/env bash
# zerg serve behind nginx, in one run: wrk through one nginx to three zerg
# serve instances (pooled, --fresh, --cold) and to a static file of about the
# zergling response's size (the proxy's floor). Prints requests/s and
# p50/p90/p99 per mode, ratios taken in the same run, and the goals.
# --json: one JSON object instead. Exits non-zero if nginx, wrk or KVM is
# missing, or if any mode had errors. Assumes `make` was run.
#
# Environment: BENCH_SECONDS (10) per mode, BENCH_COLD_SECONDS (BENCH_SECONDS)
# for --cold, BENCH_CONNS (4) wrk connections, BENCH_INSTANCES (8) zerg serve
# -n, BENCH_WARMUP (1) seconds of unmeasured load before pooled/fresh/static,
# BENCH_TIMEOUT (5s) wrk's per-request timeout (a timeout counts as an error).
set -euo pipefail
cd "$(dirname "$0")/.."

json=0
case ${1:-} in
"") ;;
--json) json=1 ;;
*)
    echo "usage: $0 [--json]" >&2
    exit 2
    ;;
esac

die() {
    echo "bench-serve: $*" >&2
    exit 1
}
say() { # the human-readable report (stdout), silent with --json
    [ "$json" = 1 ] || echo "$@"
}

SECONDS_=${BENCH_SECONDS:-10}
COLD_SECONDS=${BENCH_COLD_SECONDS:-$SECONDS_}
CONNS=${BENCH_CONNS:-4}
INSTANCES=${BENCH_INSTANCES:-8}
WARMUP=${BENCH_WARMUP:-1}
THREADS=2
[ "$CONNS" -lt "$THREADS" ] && THREADS=$CONNS
TIMEOUT=${BENCH_TIMEOUT:-5s}

# ---- what this needs ----------------------------------------------------------
for tool in nginx wrk python3; do
    command -v "$tool" >/dev/null || die "$tool is not installed (make deps, or apt-get install nginx-light wrk python3)"
done
if [ ! -x bin/zerg ] || [ ! -f bin/guests/zergling.elf ]; then
    die "bin/zerg or bin/guests/zergling.elf is missing: run make first"
fi
kvm_err=$(python3 - <<'EOF' 2>&1
import fcntl, os, sys
try:
    fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    v = fcntl.ioctl(fd, 0xAE00)  # KVM_GET_API_VERSION
except OSError as e:
    sys.exit("/dev/kvm: %s" % e.strerror)
if v != 12:
    sys.exit("/dev/kvm: KVM API version %d, not 12" % v)
EOF
) || die "KVM is not usable: $kvm_err"

# ---- a private directory, everything in it ------------------------------------
DIR=$(mktemp -d "${TMPDIR:-/tmp}/zerg-bench-serve.XXXXXX")
# shellcheck source=tests/sys/proxy.bash
source tests/sys/proxy.bash
cleanup() {
    set +e
    proxy_stop_all
    rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
[ ${#DIR} -le 80 ] || die "$DIR: too long a path for unix sockets (set TMPDIR to a shorter directory)"

export ZERG_HOME=$DIR/home ZERG_IMAGE_DIR=$DIR/img
mkdir -p "$ZERG_IMAGE_DIR" "$DIR/nginx/static"
bin/zerg template create zergling --guest bin/guests/zergling.elf -q >/dev/null ||
    die "cannot create the zergling template"

MODES=(pooled fresh cold)
declare -A FLAG=([pooled]="" [fresh]="--fresh" [cold]="--cold")
declare -A SERVE_CMD SPID
for m in "${MODES[@]}"; do
    # shellcheck disable=SC2206
    args=(${FLAG[$m]} -q -n "$INSTANCES" --listen "unix:$DIR/$m.sock=zergling")
    SERVE_CMD[$m]="bin/zerg serve --socket-mode 0666 --log $DIR/$m.log ${args[*]}"
    serve_start "$DIR/$m.log" "${args[@]}" || {
        tail -n 5 "$DIR/$m.log" >&2
        die "zerg serve ($m) did not start listening"
    }
    SPID[$m]=$SERVE_PID
done

# The floor: a 400-byte static file (zergling's whole response, headers
# included, is about 400 bytes), served by the same nginx.
{
    echo "Hello from the static floor!"
    for i in $(seq 1 7); do echo "line $i: zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"; done
} >"$DIR/nginx/static/floor.txt"
PORT=$(free_port)
nginx_start "$DIR/nginx" "$PORT" pooled="unix:$DIR/pooled.sock" fresh="unix:$DIR/fresh.sock" \
    cold="unix:$DIR/cold.sock" || {
    tail -n 5 "$DIR/nginx/error.log" >&2
    die "nginx did not start on 127.0.0.1:$PORT"
}

declare -A URL=([pooled]=/pooled/ [fresh]=/fresh/ [cold]=/cold/ [static]=/static/floor.txt)
declare -A DUR=([pooled]=$SECONDS_ [fresh]=$SECONDS_ [cold]=$COLD_SECONDS [static]=$SECONDS_)
ALL=(pooled fresh cold static)

# One request per path through nginx: the right answer, before any load.
get() {
    local out
    out=$(exec 3<>"/dev/tcp/127.0.0.1/$PORT" &&
        printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$1" >&3 && timeout 10 cat <&3) || true
    printf '%s' "$out"
}
for m in "${ALL[@]}"; do
    resp=$(get "${URL[$m]}")
    want="Hello from zergling!"
    [ "$m" = static ] && want="Hello from the static floor!"
    case $resp in
    "HTTP/1.1 200 OK"*"$want"*) ;;
    *)
        printf '%s\n' "$resp" | head -n 3 >&2
        die "GET ${URL[$m]} through nginx did not answer 200 with '$want'"
        ;;
    esac
done
static_bytes=$(wc -c <"$DIR/nginx/static/floor.txt")
zergling_bytes=$(printf 'GET / HTTP/1.0\r\n\r\n' | bin/zerg run zergling 2>/dev/null | wc -c)

WRK="wrk --latency -t$THREADS -c$CONNS --timeout $TIMEOUT"
say "zerg serve behind nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2), $(nproc) CPUs, $(uname -r)"
for m in "${MODES[@]}"; do
    say "  ${SERVE_CMD[$m]}"
done
say "  nginx -c $DIR/nginx/nginx.conf (tests/sys/proxy.bash nginx_start, ${NGINX_WORKERS:-1} worker; proxy_pass http://unix:SOCK:/ per mode, HTTP/1.0 upstream)"
say "  $WRK -d${SECONDS_}s http://127.0.0.1:$PORT{/pooled/,/fresh/,/static/floor.txt}  (after ${WARMUP}s of warm-up each)"
say "  $WRK -d${COLD_SECONDS}s http://127.0.0.1:$PORT/cold/"
say "  zergling's response $zergling_bytes bytes (headers included), static file $static_bytes bytes"
say ""

# ---- the runs ------------------------------------------------------------------
# parse FILE: "req_per_s p50_ms p90_ms p99_ms requests errors" from wrk's output.
parse() {
    awk '
        function ms(v) {
            if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
            if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
            if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000 }
            if (v ~ /m$/)  { sub(/m$/, "", v);  return v * 60000 }
            if (v ~ /h$/)  { sub(/h$/, "", v);  return v * 3600000 }
            return -1
        }
        $1 == "50%" { p50 = ms($2) }
        $1 == "90%" { p90 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        $2 == "requests" && $3 == "in" { n = $1 }
        /^Requests\/sec:/ { rps = $2 }
        /Socket errors:/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
        /Non-2xx or 3xx responses:/ { err += $NF }
        END { printf "%.2f %.3f %.3f %.3f %d %d\n", rps, p50, p90, p99, n, err }
    ' "$1"
}

# CPU time of zerg serve's master and workers, or nginx's (proc_cpu_ticks).
HZ=$(getconf CLK_TCK)

declare -A RPS P50 P90 P99 REQ ERR CPU_Z CPU_M CPU_N
# master_ticks PID: the master process alone (its workers are its children).
master_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
for m in "${ALL[@]}"; do
    url="http://127.0.0.1:$PORT${URL[$m]}"
    if [ "$m" != cold ] && [ "$WARMUP" != 0 ]; then
        $WRK -d"${WARMUP}s" "$url" >"$DIR/$m.warmup" 2>&1 || true
    fi
    [ "$json" = 1 ] || printf 'bench-serve: %s (%ss)\n' "$m" "${DUR[$m]}" >&2
    z0=0 m0=0
    [ "$m" = static ] || z0=$(proc_cpu_ticks "${SPID[$m]}") m0=$(master_ticks "${SPID[$m]}")
    n0=$(proc_cpu_ticks "$NGINX_PID")
    $WRK -d"${DUR[$m]}s" "$url" >"$DIR/$m.wrk" 2>&1 || {
        cat "$DIR/$m.wrk" >&2
        die "wrk failed on $url"
    }
    z1=0 m1=0
    [ "$m" = static ] || z1=$(proc_cpu_ticks "${SPID[$m]}") m1=$(master_ticks "${SPID[$m]}")
    n1=$(proc_cpu_ticks "$NGINX_PID")
    read -r rps p50 p90 p99 req err < <(parse "$DIR/$m.wrk")
    RPS[$m]=$rps P50[$m]=$p50 P90[$m]=$p90 P99[$m]=$p99 REQ[$m]=$req ERR[$m]=$err
    # microseconds of CPU per request, by process
    CPU_Z[$m]=$(awk -v d=$((z1 - z0)) -v hz="$HZ" -v n="$req" 'BEGIN {printf "%.1f", n ? d * 1e6 / hz / n : 0}')
    CPU_M[$m]=$(awk -v d=$((m1 - m0)) -v hz="$HZ" -v n="$req" 'BEGIN {printf "%.1f", n ? d * 1e6 / hz / n : 0}')
    CPU_N[$m]=$(awk -v d=$((n1 - n0)) -v hz="$HZ" -v n="$req" 'BEGIN {printf "%.1f", n ? d * 1e6 / hz / n : 0}')
done

# ratio A B: A/B to 1 decimal ("n/a" when B is 0).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else printf "n/a" }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

r_cold_p50=$(ratio "${P50[cold]}" "${P50[pooled]}")
r_cold_rps=$(ratio "${RPS[pooled]}" "${RPS[cold]}")
r_static_p50=$(ratio "${P50[pooled]}" "${P50[static]}")
r_static_rps=$(ratio "${RPS[static]}" "${RPS[pooled]}")
r_fresh_p50=$(ratio "${P50[fresh]}" "${P50[pooled]}")
r_fresh_rps=$(ratio "${RPS[pooled]}" "${RPS[fresh]}")
goal_p50=met
le "${P50[pooled]}" 2 || goal_p50="not met"
goal_rps=met
ge "${RPS[pooled]}" 1000 || goal_rps="not met"

bad=()
for m in "${ALL[@]}"; do
    [ "${ERR[$m]}" = 0 ] || bad+=("$m: ${ERR[$m]} errors")
    [ "${REQ[$m]}" -gt 0 ] || bad+=("$m: no request completed")
done

if [ "$json" = 1 ]; then
    jnum() { [ "$1" = n/a ] && echo null || echo "$1"; }
    printf '{"bench":"serve","nginx":"%s","wrk":"%s","cpus":%d,' \
        "$(nginx -v 2>&1 | sed 's/.*nginx\///')" "$(wrk -v 2>&1 | head -n 1 | cut -d' ' -f2)" "$(nproc)"
    printf '"params":{"seconds":%s,"cold_seconds":%s,"connections":%s,"threads":%s,"timeout":"%s","warmup_seconds":%s,"max_instances":%s,"nginx_workers":%s,"zergling_response_bytes":%s,"static_file_bytes":%s},' \
        "$SECONDS_" "$COLD_SECONDS" "$CONNS" "$THREADS" "$TIMEOUT" "$WARMUP" "$INSTANCES" \
        "${NGINX_WORKERS:-1}" "$zergling_bytes" "$static_bytes"
    printf '"commands":{'
    for m in "${MODES[@]}"; do
        printf '"%s":"%s",' "$m" "${SERVE_CMD[$m]}"
    done
    printf '"wrk":"%s -d<seconds>s http://127.0.0.1:%s<path>"},' "$WRK" "$PORT"
    printf '"modes":{'
    sep=""
    for m in "${ALL[@]}"; do
        printf '%s"%s":{"requests_per_s":%s,"p50_ms":%s,"p90_ms":%s,"p99_ms":%s,"requests":%s,"errors":%s,"cpu_us_per_request_zerg":%s,"cpu_us_per_request_zerg_master":%s,"cpu_us_per_request_nginx":%s}' \
            "$sep" "$m" "${RPS[$m]}" "${P50[$m]}" "${P90[$m]}" "${P99[$m]}" "${REQ[$m]}" "${ERR[$m]}" \
            "${CPU_Z[$m]}" "${CPU_M[$m]}" "${CPU_N[$m]}"
        sep=","
    done
    printf '},"ratios":{"cold_p50_over_pooled_p50":%s,"pooled_rps_over_cold_rps":%s,' \
        "$(jnum "$r_cold_p50")" "$(jnum "$r_cold_rps")"
    printf '"pooled_p50_over_static_p50":%s,"static_rps_over_pooled_rps":%s,' \
        "$(jnum "$r_static_p50")" "$(jnum "$r_static_rps")"
    printf '"fresh_p50_over_pooled_p50":%s,"pooled_rps_over_fresh_rps":%s},' \
        "$(jnum "$r_fresh_p50")" "$(jnum "$r_fresh_rps")"
    printf '"goals":{"pooled_p50_le_2ms":%s,"pooled_ge_1000_rps":%s},"ok":%s}\n' \
        "$([ "$goal_p50" = met ] && echo true || echo false)" \
        "$([ "$goal_rps" = met ] && echo true || echo false)" \
        "$([ ${#bad[@]} -eq 0 ] && echo true || echo false)"
else
    printf '%-8s %12s %10s %10s %10s %10s %8s %12s %12s %12s\n' mode requests/s "p50 ms" "p90 ms" "p99 ms" \
        requests errors "zerg cpu us" "master us" "nginx cpu us"
    for m in "${ALL[@]}"; do
        printf '%-8s %12s %10s %10s %10s %10s %8s %12s %12s %12s\n' "$m" "${RPS[$m]}" "${P50[$m]}" "${P90[$m]}" \
            "${P99[$m]}" "${REQ[$m]}" "${ERR[$m]}" "${CPU_Z[$m]}" "${CPU_M[$m]}" "${CPU_N[$m]}"
    done
    echo "(cpu us: CPU time per request of zerg serve's master and workers (of which the"
    echo " master alone), and of nginx, from /proc/PID/stat user + system time before and"
    echo " after the run)"
    echo
    echo "ratios (this run):"
    echo "  cold p50 / pooled p50:       ${r_cold_p50}x"
    echo "  pooled req/s / cold req/s:   ${r_cold_rps}x"
    echo "  pooled p50 / static p50:     ${r_static_p50}x   (static file: nginx's floor)"
    echo "  static req/s / pooled req/s: ${r_static_rps}x"
    echo "  fresh p50 / pooled p50:      ${r_fresh_p50}x"
    echo "  pooled req/s / fresh req/s:  ${r_fresh_rps}x"
    echo
    echo "goal pooled p50 <= 2 ms: ${P50[pooled]} ms ($goal_p50)"
    echo "goal pooled >= 1000 req/s: ${RPS[pooled]} req/s ($goal_rps)"
fi

if [ ${#bad[@]} -gt 0 ]; then
    for m in "${ALL[@]}"; do
        [ "${ERR[$m]}" = 0 ] && [ "${REQ[$m]}" -gt 0 ] && continue
        echo "--- wrk ${URL[$m]}:" >&2
        cat "$DIR/$m.wrk" >&2
        echo "--- zerg serve / nginx log tail:" >&2
        [ "$m" = static ] || tail -n 5 "$DIR/$m.log" >&2
        tail -n 5 "$DIR/nginx/error.log" >&2
    done
    die "errors: ${bad[*]}"
fi
