#!/usr/bin/env bash
# System test: zerg as installed (make install PREFIX=... into a scratch
# prefix), used only from the installed paths: the zerg command finds its
# guests in PREFIX/lib/zerg/guests, and an out-of-tree guest is built from
# the installed SDK alone (headers, runtime library, linker script, through
# pkg-config), then boots, is templated, restored and served.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/proxy.bash"
trap 'proxy_stop_all; rm -rf "$TMP"' EXIT

if ! kvm_usable; then
    skip install/all "/dev/kvm is missing or not accessible to $(id -un)"
    exit 0
fi
for tool in pkg-config python3; do
    command -v "$tool" >/dev/null || {
        fail install/tools "$tool is not installed (make deps installs it)"
        exit 1
    }
done
P=$TMP/prefix
if make --no-print-directory install PREFIX="$P" >"$TMP/install.txt" 2>&1 &&
    [ -x "$P/bin/zerg" ] && [ -f "$P/lib/zerg/guests/zergling.elf" ] &&
    [ -f "$P/include/zerg/zerg.h" ] && [ -f "$P/lib/zerg/libzerg-guest.a" ] &&
    [ -f "$P/lib/pkgconfig/zerg-guest.pc" ]; then
    pass install/make-install
else
    fail install/make-install "$(tail -n 5 "$TMP/install.txt"; find "$P" -type f | head)"
    exit 1
fi

# An out-of-tree guest: a copy of docs/abi.md's example, built outside the
# tree with nothing but the installed SDK.
mkdir -p "$TMP/app"
cp guest/apps/upper/upper.c "$TMP/app/app.c"
export PKG_CONFIG_PATH=$P/lib/pkgconfig
export ZERG_HOME=$TMP/home ZERG_IMAGE_DIR=$TMP/img
mkdir -p "$ZERG_IMAGE_DIR"
Z=$P/bin/zerg
(
    cd "$TMP/app" || exit 1
    # shellcheck disable=SC2046
    cc $(pkg-config --cflags --libs zerg-guest) app.c -o app.elf
) >"$TMP/cc.txt" 2>&1
out=$(printf 'hello, sdk\n' | "$Z" boot "$TMP/app/app.elf" 2>"$TMP/boot.err")
rc=$?
if [ -f "$TMP/app/app.elf" ] && [ $rc -eq 0 ] && [ "$out" = "HELLO, SDK" ]; then
    pass install/sdk-guest-builds-and-boots
else
    fail install/sdk-guest-builds-and-boots "rc=$rc out=$out $(cat "$TMP/cc.txt" "$TMP/boot.err")"
fi
if "$Z" template create app -q --guest "$TMP/app/app.elf" >"$TMP/tc.txt" 2>&1 &&
    [ "$(printf 'from a template\n' | "$Z" run app 2>/dev/null)" = "FROM A TEMPLATE" ] &&
    ZERG=$Z serve_start "$TMP/serve.log" -n 1 -l "unix:$TMP/app.sock=app" &&
    [ "$(python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(b"served\n")
s.shutdown(socket.SHUT_WR)
out = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    out += b
sys.stdout.write(out.decode())' "$TMP/app.sock")" = "SERVED" ]; then
    pass install/sdk-guest-templated-and-served
else
    fail install/sdk-guest-templated-and-served "$(cat "$TMP/tc.txt"; tail -n 3 "$TMP/serve.log" 2>/dev/null)"
fi
proxy_stop_all

# The installed zerg finds the reference guest for a template's cold boots
# (zerg bench) in PREFIX/lib/zerg/guests, as the built one does in bin/guests.
if "$Z" template create zl -q --guest "$P/lib/zerg/guests/zergling.elf" >"$TMP/zl.txt" 2>&1 &&
    "$Z" bench zl --runs 3 --cold-runs 1 --live 1 --json >"$TMP/b.json" 2>"$TMP/b.err" &&
    grep -q '"cold_boot_us"' "$TMP/b.json"; then
    pass install/finds-its-guests
else
    fail install/finds-its-guests "$(cat "$TMP/zl.txt" "$TMP/b.err")"
fi
exit $T_FAILED
