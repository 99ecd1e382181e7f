# Helpers for the tests of zerg template push/pull (sourced by remote.sh and
# s3.sh, not run): a home of its own per host, JSON fields, comparing answers,
# a template's absence, a cache that verifies. $Z is the zerg binary in use.

# zh HOME ARGS...: $Z with that home and an image directory of its own (so a
# run reads pages from that home's cache, never another home's image).
zh() {
    local h=$1
    shift
    mkdir -p "$h/img"
    ZERG_HOME=$h ZERG_IMAGE_DIR=$h/img "$Z" "$@"
}
# jf FILE KEY: a field of the JSON object in FILE ("" when there is none).
jf() {
    python3 -c 'import json, sys
try:
    v = json.load(open(sys.argv[1]))[sys.argv[2]]
except Exception:
    v = ""
print(json.dumps(v) if isinstance(v, bool) else v)' "$1" "$2"
}
# answer HOME NAME: the template's answer to GET / without the lines every
# instance draws anew (its id, its random number, its timing, and so the
# length of the body).
answer() {
    printf 'GET / HTTP/1.0\r\n\r\n' | zh "$1" run "$2" 2>/dev/null |
        grep -v -e '^instance:' -e '^random:' -e '^served:' -e '^Content-Length:'
}
# same_answer HOME1 HOME2 NAME: both homes answer 200, the same bytes.
same_answer() {
    local a b
    a=$(answer "$1" "$3")
    b=$(answer "$2" "$3")
    head -n 1 <<<"$a" | grep -q '^HTTP/1.1 200 OK' && grep -q '^Hello from zergling!' <<<"$a" &&
        [ "$a" = "$b" ]
}
# absent HOME NAME: no template NAME there: ls --json lists none, inspect exits 3.
absent() {
    zh "$1" template ls --json 2>/dev/null | python3 -c 'import json, sys
sys.exit(any(t.get("name") == sys.argv[1] for t in json.load(sys.stdin)))' "$2" || return 1
    zh "$1" template inspect "$2" >/dev/null 2>&1
    [ $? = 3 ]
}
# verified HOME: zerg cache verify exits 0 with 0 errors; V_RECORDS and
# V_ENTRIES are its record and index entry counts.
verified() {
    V_RECORDS="" V_ENTRIES=""
    zh "$1" cache verify >"$TMP/verify.txt" 2>&1 || return 1
    grep -q ' 0 errors' "$TMP/verify.txt" || return 1
    V_RECORDS=$(sed -n 's/.* \([0-9]*\) records, \([0-9]*\) index entries.*/\1/p' "$TMP/verify.txt" | tail -n 1)
    V_ENTRIES=$(sed -n 's/.* \([0-9]*\) records, \([0-9]*\) index entries.*/\2/p' "$TMP/verify.txt" | tail -n 1)
    [ -n "$V_RECORDS" ]
}
lines() { wc -l <"$1"; }
