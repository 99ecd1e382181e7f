#!/usr/bin/env bash
# System test: the remote tier's S3 mode (remote/rm_http.c: AWS SigV4 by
# libcurl) against an S3 server on loopback that checks every signature:
# s3rver (npm @20minutes/s3rver, installed into build/npm on first use; the
# older "s3rver" 3.x parses SigV4 headers but never checks them, so a wrong
# secret passes there). A proxy in front of it does the check that s3rver
# leaves out and S3 makes: each request's x-amz-content-sha256 is signed and
# is the SHA-256 of its body. push -> pull on another home -> the same answers;
# a wrong secret is refused (403); no credentials is a usage error (2).
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/proxy.bash"
source "$(dirname "$0")/remote.bash"

if ! kvm_usable; then
    skip s3/all "/dev/kvm is missing or not accessible to $(id -un)"
    exit 0
fi
PKG=@20minutes/s3rver@5.0.0 # it asks for node >= 24 but runs on 20
NPM=build/npm
S3RVER=$NPM/node_modules/@20minutes/s3rver/lib/s3rver.js
if [ ! -f "$S3RVER" ]; then
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        skip s3/all "node or npm is not installed: no S3 server ($PKG) to test against"
        exit 0
    fi
    mkdir -p "$NPM"
    t0=$(date +%s%N)
    flock "$NPM/.lock" timeout 150 npm install --prefix "$NPM" --no-audit --no-fund \
        --fetch-timeout=30000 --fetch-retries=1 "$PKG" >"$TMP/npm.log" 2>&1
    rc=$?
    if [ ! -f "$S3RVER" ]; then
        if [ $rc = 124 ] || grep -qE 'E(NOTFOUND|AI_AGAIN|CONNREFUSED|CONNRESET|TIMEDOUT|NETUNREACH)|network' "$TMP/npm.log"; then
            skip s3/all "npm install $PKG failed: the npm registry is unreachable ($(grep -m1 -E 'ERR|error' "$TMP/npm.log"))"
            exit 0
        fi
        fail s3/install "npm install --prefix $NPM $PKG (status $rc): $(tail -n 5 "$TMP/npm.log")"
        exit 1
    fi
    echo "s3: installed $PKG into $NPM in $((($(date +%s%N) - t0) / 1000000)) ms"
fi
trap 'proxy_stop_all; rm -rf "$TMP"' EXIT
mkdir -p "$TMP/san"
export ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$TMP/san/asan"
export UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$TMP/san/ubsan"
GUEST=bin/guests/zergling.elf
BUCKET=zerg-test
# s3rver's one account.
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
unset AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_DEFAULT_REGION

# s3rver on 127.0.0.1:S3P, path-style, the bucket made at start, objects in
# $TMP/s3data, a line per request in $TMP/s3rver.log.
S3P=$(free_port)
node -e 'const S3rver = require(process.argv[1]);
new S3rver({ address: "127.0.0.1", port: +process.argv[2], directory: process.argv[3],
             vhostBuckets: false, configureBuckets: [{ name: process.argv[4], configs: [] }] })
  .run().then(a => console.log("s3rver listening on %s:%d", a.address, a.port),
              e => { console.error(e); process.exit(1); });' \
    "$PWD/$S3RVER" "$S3P" "$TMP/s3data" "$BUCKET" >"$TMP/s3rver.log" 2>&1 &
PROXY_PIDS+=($!)

# The payload-hash check S3 makes and s3rver does not: each request's
# x-amz-content-sha256 must be in SignedHeaders and be the SHA-256 of its
# body, else 400 XAmzContentSHA256Mismatch (not forwarded). Everything else
# goes to s3rver as it came (Host too: it is signed). A line per request in
# the log: method path status(-S3 error code) body-bytes signed-headers.
cat >"$TMP/hashproxy.py" <<'PY'
import hashlib, http.client, http.server, re, sys, threading
listen, upstream, logf = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()
HOP = {"connection", "keep-alive", "expect", "transfer-encoding", "content-length"}
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def log(self, status, n, signed):
        with lock, open(logf, "a") as f:
            f.write("%s %s %s %d %s\n" % (self.command, self.path, status, n, signed))
    def answer(self, status, hdrs, body):
        self.send_response(status)
        for k, v in hdrs:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def fwd(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        m = re.search(r"SignedHeaders=([^,\s]*)", self.headers.get("Authorization") or "")
        signed = m.group(1) if m else "-"
        if (self.headers.get("x-amz-content-sha256") != hashlib.sha256(body).hexdigest()
                or "x-amz-content-sha256" not in signed.split(";")):
            self.log("400-XAmzContentSHA256Mismatch", len(body), signed)
            return self.answer(400, [("Content-Type", "application/xml")],
                               b"<Error><Code>XAmzContentSHA256Mismatch</Code></Error>")
        up = http.client.HTTPConnection("127.0.0.1", upstream, timeout=30)
        up.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for k, v in self.headers.items():
            if k.lower() not in HOP:
                up.putheader(k, v)
        up.putheader("Content-Length", str(len(body)))
        up.endheaders(body)
        r = up.getresponse()
        rb = r.read()
        up.close()
        code = re.search(rb"<Code>([^<]*)</Code>", rb) if r.status >= 300 else None
        self.log("%d-%s" % (r.status, code.group(1).decode()) if code else r.status, len(body), signed)
        self.answer(r.status, [(k, v) for k, v in r.getheaders() if k.lower() not in HOP], rb)
    do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = fwd
http.server.ThreadingHTTPServer(("127.0.0.1", listen), H).serve_forever()
PY
PX=$(free_port)
PXLOG=$TMP/proxy.log
touch "$PXLOG"
python3 "$TMP/hashproxy.py" "$PX" "$S3P" "$PXLOG" >"$TMP/proxy.err" 2>&1 &
PROXY_PIDS+=($!)
if ! wait_tcp "$S3P" || ! grep -q 'listening' "$TMP/s3rver.log"; then
    fail s3/server "s3rver did not start on 127.0.0.1:$S3P: $(cat "$TMP/s3rver.log")"
    exit 1
fi
wait_tcp "$PX" || {
    fail s3/proxy "the hash-checking proxy did not start: $(cat "$TMP/proxy.err")"
    exit 1
}

# px FROM REGEX: proxy log lines after the first FROM matching REGEX.
px() { tail -n +$(($1 + 1)) "$PXLOG" | grep -cE "$2"; }

for Z in $(zerg_bins); do
    tag=$(basename "$Z")
    R=$TMP/$tag
    mkdir -p "$R"
    rm -f "$TMP"/san/*
    URL=s3+http://127.0.0.1:$S3P/$BUCKET/$tag # s3rver itself
    PURL=s3+http://127.0.0.1:$PX/$BUCKET/$tag # through the hash check
    H1=$R/host1 H2=$R/host2

    # 1. push (every object a signed PUT whose body hash is checked), pull on
    # another home (signed GETs, ranged), the same answers, a verifiable cache.
    zh "$H1" template create web --guest "$GUEST" -q >"$R/create.txt" 2>&1
    c1=$?
    from=$(lines "$PXLOG")
    zh "$H1" template push web --remote "$PURL" --json >"$R/push.json" 2>"$R/push.err"
    p1=$?
    puts=$(px "$from" '^PUT .* 200 ')
    from_pull=$(lines "$PXLOG")
    zh "$H2" template pull web --remote "$PURL" --json >"$R/pull.json" 2>"$R/pull.err"
    l1=$?
    bad=$(px "$from" ' 400-XAmzContentSHA256Mismatch ')
    D=$(jf "$R/push.json" distinct) r1=$(jf "$R/pull.json" records)
    g1=$(jf "$R/pull.json" ranges) q1=$(jf "$R/pull.json" requests)
    if [ $c1$p1$l1 = 000 ] && [ "${D:-0}" -gt 1000 ] && [ "$(jf "$R/push.json" records)" = "$D" ] &&
        [ "$puts" -ge 4 ] && [ "$puts" = "$(px "$from" '^PUT ')" ] && [ "$bad" = 0 ] &&
        [ "$r1" = "$D" ] && same_answer "$H1" "$H2" web && verified "$H2" && [ "$V_RECORDS" = "$D" ]; then
        pass "s3/$tag/push-pull-roundtrip ($D records; $puts signed PUTs and $(px "$from_pull" '^GET ') GETs, each body's SHA-256 signed)"
    else
        fail "s3/$tag/push-pull-roundtrip" "create=$c1 push=$p1 pull=$l1 distinct=$D records=$r1 PUTs=$puts hash-mismatches=$bad verify=$V_RECORDS; $(cat "$R/create.txt" "$R/push.json" "$R/push.err" "$R/pull.json" "$R/pull.err" "$TMP/verify.txt" 2>/dev/null; tail -n 5 "$PXLOG")"
    fi

    # 6. The pull's pages came in ranged GETs (206, counted by the proxy),
    # every record once; and in many small ones, several in flight, each signed.
    n206=$(tail -n +$((from_pull + 1)) "$PXLOG" | grep -cE '^GET /.*\.zpk 206 ')
    H5=$R/host5
    zh "$H5" template pull web --remote "$URL" --range 64k --json >"$R/pull64k.json" 2>"$R/pull64k.err"
    l5=$?
    g5=$(jf "$R/pull64k.json" ranges)
    if [ $l1 = 0 ] && [ "${g1:-0}" -gt 0 ] && [ "$n206" = "$g1" ] && [ "$q1" = $((g1 + 3)) ] &&
        [ "$r1" = "$(jf "$R/pull.json" distinct)" ] && [ $l5 = 0 ] && [ "${g5:-0}" -ge 400 ] &&
        [ "$(jf "$R/pull64k.json" records)" = "$D" ] && same_answer "$H1" "$H5" web; then
        pass "s3/$tag/ranged-gets ($g1 ranged GETs answered 206; with --range 64k: $g5)"
    else
        fail "s3/$tag/ranged-gets" "ranges=$g1 206s=$n206 requests=$q1 records=$r1; 64k: rc=$l5 ranges=$g5 $(cat "$R/pull64k.json" "$R/pull64k.err")"
    fi

    # 2. The same version again: the reference alone.
    zh "$H2" template pull web --remote "$URL" --json >"$R/pull2.json" 2>"$R/pull2.err"
    l2=$?
    if [ $l2 = 0 ] && [ "$(jf "$R/pull2.json" requests)" = 1 ] && [ "$(jf "$R/pull2.json" records)" = 0 ] &&
        [ "$(jf "$R/pull2.json" up_to_date)" = true ]; then
        pass "s3/$tag/second-pull-one-request"
    else
        fail "s3/$tag/second-pull-one-request" "rc=$l2 $(cat "$R/pull2.json" "$R/pull2.err")"
    fi

    # 3. s3://BUCKET/PREFIX with the endpoint from AWS_ENDPOINT_URL.
    H3=$R/host3
    AWS_ENDPOINT_URL=http://127.0.0.1:$S3P zh "$H3" template pull web --remote "s3://$BUCKET/$tag" --json \
        >"$R/pull3.json" 2>"$R/pull3.err"
    l3=$?
    if [ $l3 = 0 ] && [ "$(jf "$R/pull3.json" records)" = "$D" ] && same_answer "$H1" "$H3" web &&
        verified "$H3"; then
        pass "s3/$tag/s3-url-with-endpoint-env"
    else
        fail "s3/$tag/s3-url-with-endpoint-env" "rc=$l3 $(cat "$R/pull3.json" "$R/pull3.err" "$TMP/verify.txt")"
    fi

    # 7. A session token goes in a signed x-amz-security-token header.
    from=$(lines "$PXLOG")
    AWS_SESSION_TOKEN=zerg-test-token zh "$H2" template pull web --remote "$PURL" >/dev/null 2>"$R/tok.err"
    l7=$?
    if [ $l7 = 0 ] && [ "$(px "$from" '^GET .* 200 .*x-amz-security-token')" = 1 ]; then
        pass "s3/$tag/session-token-signed"
    else
        fail "s3/$tag/session-token-signed" "rc=$l7 $(cat "$R/tok.err"; tail -n +$((from + 1)) "$PXLOG")"
    fi

    # 4. A wrong secret: s3rver refuses the signature (403
    # SignatureDoesNotMatch); pull and push fail (1), naming it, and nothing
    # arrives on either side.
    H4=$R/host4
    from=$(lines "$PXLOG")
    AWS_SECRET_ACCESS_KEY=wrong-secret zh "$H4" template pull web --remote "$PURL" >/dev/null 2>"$R/w1.err"
    w1=$?
    AWS_SECRET_ACCESS_KEY=wrong-secret zh "$H1" template push web --remote "$PURL-wrong" >/dev/null 2>"$R/w2.err"
    w2=$?
    sdm=$(px "$from" ' 403-SignatureDoesNotMatch ')
    if [ "$w1 $w2" = "1 1" ] && grep -q 'HTTP 403' "$R/w1.err" && grep -q 'HTTP 403' "$R/w2.err" &&
        [ "$sdm" = 2 ] && [ "$(lines "$PXLOG")" = $((from + 2)) ] && absent "$H4" web &&
        [ ! -e "$TMP/s3data/$BUCKET/$tag-wrong" ]; then
        pass "s3/$tag/wrong-secret-refused (403 SignatureDoesNotMatch: $(tail -n 1 "$R/w1.err"))"
    else
        fail "s3/$tag/wrong-secret-refused" "pull rc=$w1 push rc=$w2, want 1 1: $(cat "$R/w1.err" "$R/w2.err"; tail -n +$((from + 1)) "$PXLOG"; ls "$TMP/s3data/$BUCKET")"
    fi

    # 5. No credentials: a usage error (2), named, before any request.
    from=$(lines "$PXLOG")
    env -u AWS_ACCESS_KEY_ID ZERG_HOME="$H4" ZERG_IMAGE_DIR="$H4/img" "$Z" template pull web --remote "$PURL" \
        >/dev/null 2>"$R/m1.err"
    m1=$?
    env -u AWS_SECRET_ACCESS_KEY ZERG_HOME="$H1" ZERG_IMAGE_DIR="$H1/img" "$Z" template push web --remote "$PURL" \
        >/dev/null 2>"$R/m2.err"
    m2=$?
    if [ "$m1 $m2" = "2 2" ] && grep -q 'S3 needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY' "$R/m1.err" &&
        grep -q 'S3 needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY' "$R/m2.err" && [ "$(lines "$PXLOG")" = "$from" ]; then
        pass "s3/$tag/missing-credentials"
    else
        fail "s3/$tag/missing-credentials" "pull rc=$m1 push rc=$m2, want 2 2: $(cat "$R/m1.err" "$R/m2.err")"
    fi

    # 8. No such reference: S3's 404 NoSuchKey is "not found" (3).
    zh "$H4" template pull no-such-template --remote "$URL" >/dev/null 2>"$R/n.err"
    n=$?
    if [ $n = 3 ] && grep -q "no template 'no-such-template'" "$R/n.err"; then
        pass "s3/$tag/missing-ref-not-found"
    else
        fail "s3/$tag/missing-ref-not-found" "rc=$n $(cat "$R/n.err")"
    fi

    if compgen -G "$TMP/san/*" >/dev/null; then
        fail "s3/$tag/no-sanitizer-reports" "$(head -c 3000 "$TMP"/san/*)"
    elif [ "$tag" != zerg ]; then
        pass "s3/$tag/no-sanitizer-reports"
    fi
done
exit $T_FAILED
