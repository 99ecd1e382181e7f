#!/usr/bin/env bash
# make deb: make install PREFIX=/usr into a staging root, then dpkg-deb.
# Depends: the Debian packages of the shared libraries bin/zerg links (from
# ldd and dpkg -S, each at least the installed version). Prints the path.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v dpkg-deb >/dev/null || { echo "mkdeb: dpkg-deb is not installed" >&2; exit 1; }
S=build/deb/root
rm -rf build/deb
mkdir -p "$S"
make --no-print-directory install PREFIX=/usr DESTDIR="$PWD/$S" >/dev/null
gzip -9n "$S/usr/share/man/man1/zerg.1"
# Debian's place for units is /lib/systemd/system (usrmerge: the same).
mkdir -p "$S/lib/systemd"
mv "$S/usr/lib/systemd/system" "$S/lib/systemd/system"
rmdir "$S/usr/lib/systemd"
deps=()
while read -r lib; do
    real=$(readlink -f "$lib")
    pkg=$(dpkg -S "$real" 2>/dev/null | head -n 1 | cut -d: -f1) ||
        pkg=$(dpkg -S "$lib" 2>/dev/null | head -n 1 | cut -d: -f1) || true
    [ -n "$pkg" ] || { echo "mkdeb: no package owns $lib" >&2; exit 1; }
    ver=$(dpkg-query -W -f='${Version}' "$pkg")
    deps+=("$pkg (>= ${ver%%-*})")
done < <(ldd bin/zerg | awk '$3 ~ /^\// {print $3}')
depends=$(printf '%s\n' "${deps[@]}" | sort -u | paste -sd, | sed 's/,/, /g')
version="0.1.$(git rev-list --count HEAD 2>/dev/null || echo 0)"
mkdir -p "$S/DEBIAN"
cat >"$S/DEBIAN/control" <<CONTROL
Package: zerg
Version: $version
Architecture: $(dpkg --print-architecture)
Maintainer: zerg developers <zerg@localhost>
Section: admin
Priority: optional
Depends: $depends
Recommends: nginx-light | haproxy
Installed-Size: $(du -sk "$S/usr" | cut -f1)
Description: virtual machines ready in a millisecond, restored from warm templates
 zerg cold-boots a guest once, checkpoints it at its ready point into a warm
 template (pages deduplicated and compressed in a shared page cache), and
 restores a fresh or reset instance per request behind nginx or HAProxy.
 Runs zerg-ABI guests and unmodified Linux programs on KVM. Includes the
 guest SDK (headers, runtime, linker script, pkg-config file zerg-guest).
CONTROL
out=build/zerg_${version}_$(dpkg --print-architecture).deb
dpkg-deb --root-owner-group --build "$S" "$out" >/dev/null
echo "$out"
