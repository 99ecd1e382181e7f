# Helpers to start zerg serve, nginx and HAProxy on loopback (sourced by the
# serve tests and by scripts/bench-serve.sh). Every process started is
# recorded in PROXY_PIDS and stopped by proxy_stop_all.
PROXY_PIDS=()

# free_port: a TCP port on 127.0.0.1 nobody listens on now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_unix SOCKET [SECONDS]: until a unix socket accepts connections.
wait_unix() {
    local i
    for ((i = 0; i < ${2:-20} * 20; i++)); do
        python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])' \
            "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# wait_tcp PORT [SECONDS]
wait_tcp() {
    local i
    for ((i = 0; i < ${2:-20} * 20; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# serve_start LOG ARGS...: zerg serve in the background; SERVE_PID is its pid.
# Waits until every unix: listener given accepts.
serve_start() {
    local log=$1
    shift
    "${ZERG:-bin/zerg}" serve --socket-mode 0666 --log "$log" "$@" 2>>"$log" &
    SERVE_PID=$!
    PROXY_PIDS+=("$SERVE_PID")
    local a
    for a in "$@"; do
        case $a in
        unix:*)
            a=${a#unix:}
            wait_unix "${a%%=*}" || return 1
            ;;
        esac
    done
    return 0
}

# nginx_start DIR PORT NAME=unix:/SOCK ...: nginx on 127.0.0.1:PORT with
# location /NAME/ proxied to each socket (the prefix stripped) and /static/
# served from DIR/static. NGINX_PID is the master's pid.
nginx_start() {
    local dir=$1 port=$2
    shift 2
    mkdir -p "$dir/static" "$dir/tmp"
    local locs="" m
    for m in "$@"; do
        locs+="        location /${m%%=*}/ { proxy_pass http://${m#*=}:/; }
"
    done
    local user=""
    [ "$(id -u)" = 0 ] && user="user root;"
    cat >"$dir/nginx.conf" <<EOF
$user
worker_processes ${NGINX_WORKERS:-1};
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$port;
$locs        location /static/ { root $dir; }
    }
}
EOF
    nginx -c "$dir/nginx.conf" -p "$dir" 2>>"$dir/error.log" &
    NGINX_PID=$!
    PROXY_PIDS+=("$NGINX_PID")
    wait_tcp "$port"
}

# haproxy_start DIR PORT /SOCK: HAProxy on 127.0.0.1:PORT, every request sent
# to the unix socket. HAPROXY_PID is its pid.
haproxy_start() {
    local dir=$1 port=$2 sock=$3
    mkdir -p "$dir"
    cat >"$dir/haproxy.cfg" <<EOF
global
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    option http-server-close
frontend web
    bind 127.0.0.1:$port
    default_backend zerg
backend zerg
    server zerg1 $sock
EOF
    haproxy -W -db -f "$dir/haproxy.cfg" >>"$dir/haproxy.log" 2>&1 &
    HAPROXY_PID=$!
    PROXY_PIDS+=("$HAPROXY_PID")
    wait_tcp "$port"
}

# proc_rss_kib PID...: summed VmRSS of the processes and their children.
tree_pids() {
    local p
    for p in "$@"; do
        echo "$p"
        pgrep -P "$p"
    done
}
proc_rss_kib() {
    local sum=0 p v
    for p in $(tree_pids "$@"); do
        v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null)
        sum=$((sum + ${v:-0}))
    done
    echo "$sum"
}
# proc_cpu_ticks PID...: summed user + system CPU time (clock ticks) of the
# processes and their children.
proc_cpu_ticks() {
    local sum=0 p v
    for p in $(tree_pids "$@"); do
        v=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null)
        sum=$((sum + ${v:-0}))
    done
    echo "$sum"
}
proc_fds() {
    local sum=0 p
    for p in $(tree_pids "$@"); do
        sum=$((sum + $(ls "/proc/$p/fd" 2>/dev/null | wc -l)))
    done
    echo "$sum"
}

proxy_stop_all() {
    local p
    for p in "${PROXY_PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${PROXY_PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    PROXY_PIDS=()
}

# wrk_row MODE URL SECONDS: one row of a load table (wrk -t2 -c4 after a 1 s
# warm-up): mode, requests/s, p50/p90/p99 latency in ms, error lines (non-2xx
# or socket errors), requests. wrk_header prints the header row.
wrk_header() {
    printf '%-8s %12s %10s %10s %10s %8s %10s\n' mode req/s p50_ms p90_ms p99_ms errors requests
}
wrk_row() {
    local out
    wrk -t2 -c4 -d1s "$2" >/dev/null 2>&1 || true
    out=$(wrk -t2 -c4 -d"$3s" --timeout 5s --latency "$2")
    lat() { awk -v p="$1" '$1 == p {v = $2; if (v ~ /us$/) {sub(/us/, "", v); v /= 1000} else if (v ~ /ms$/) sub(/ms/, "", v); else if (v ~ /s$/) {sub(/s/, "", v); v *= 1000}; print v}' <<<"$out"; }
    printf '%-8s %12s %10s %10s %10s %8s %10s\n' "$1" "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
        "$(lat 50%)" "$(lat 90%)" "$(lat 99%)" "$(awk '/Non-2xx|Socket errors/ {n++} END {print n + 0}' <<<"$out")" \
        "$(awk '/requests in/ {print $1}' <<<"$out")"
}

# webdav_conf DIR LISTEN ROOT [DIRECTIVE...]: writes DIR/nginx.conf, an
# object store for zerg template push/pull: nginx's WebDAV module (PUT)
# serving ROOT on LISTEN (127.0.0.1:PORT, or an address in a test's network
# namespace), each DIRECTIVE added to its location (e.g. "limit_rate 1m").
# Every request is logged to DIR/access.log: method, path, status, Range,
# body bytes sent. Start it with: nginx -c DIR/nginx.conf -p DIR &
webdav_conf() {
    local dir=$1 listen=$2 root=$3 d extra=""
    shift 3
    for d in "$@"; do extra+="            $d;
"; done
    mkdir -p "$root" "$dir/tmp"
    local user=""
    [ "$(id -u)" = 0 ] && user="user root;"
    cat >"$dir/nginx.conf" <<EOF2
$user
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events {}
http {
    log_format zr '\$request_method \$uri \$status range=\$http_range sent=\$body_bytes_sent';
    access_log $dir/access.log zr;
    client_body_temp_path $dir/tmp;
    proxy_temp_path $dir/tmp; fastcgi_temp_path $dir/tmp; uwsgi_temp_path $dir/tmp; scgi_temp_path $dir/tmp;
    server {
        listen $listen;
        root $root;
        location / {
            dav_methods PUT;
            create_full_put_path on;
            client_max_body_size 0;
$extra        }
    }
}
EOF2
}
