#!/usr/bin/env bash
# System test: the Debian package. make deb builds it (dpkg-deb); as root
# this installs it on the machine with dpkg, uses zerg from the installed
# paths only (the command, its guests, the manual page, the bash completion,
# the systemd units as systemd-analyze reads them), and removes it again,
# checking that nothing of it is left. Needs root (dpkg -i): skipped without.
source "$(dirname "$0")/lib.bash"

if ! command -v dpkg-deb >/dev/null || ! command -v dpkg >/dev/null; then
    skip deb/all "dpkg is not installed (not a Debian system)"
    exit 0
fi
if ! deb=$(scripts/mkdeb.sh 2>"$TMP/mkdeb.err") || [ ! -f "$deb" ]; then
    fail deb/build "$(cat "$TMP/mkdeb.err")"
    exit 1
fi
info=$(dpkg-deb -I "$deb")
list=$(dpkg-deb -c "$deb")
if grep -q '^ Depends: .*liblz4-1.*libseccomp2.*libxxhash0' <<<"$info" &&
    grep -q '\./usr/bin/zerg$' <<<"$list" &&
    grep -q '\./usr/lib/zerg/guests/zergling.elf$' <<<"$list"; then
    pass "deb/build ($(basename "$deb"))"
else
    fail deb/build "$(grep Depends <<<"$info") $(head -n 5 <<<"$list")"
fi
if [ "$(id -u)" != 0 ]; then
    skip deb/install "dpkg -i needs root"
    exit $T_FAILED
fi
if dpkg-query -W zerg >/dev/null 2>&1; then
    skip deb/install "a zerg package is already installed on this machine: not touching it"
    exit $T_FAILED
fi
trap 'dpkg -r zerg >/dev/null 2>&1; rm -rf "$TMP"' EXIT

if dpkg -i "$deb" >"$TMP/dpkg.txt" 2>&1 && [ -x /usr/bin/zerg ]; then
    pass deb/install
else
    fail deb/install "$(tail -n 5 "$TMP/dpkg.txt")"
    exit 1
fi
files=$(dpkg -L zerg)

# From the installed paths only: a template of the installed reference
# guest, restored; the manual page; the completion; the units.
export ZERG_HOME=$TMP/home ZERG_IMAGE_DIR=$TMP/img
mkdir -p "$ZERG_IMAGE_DIR"
out=""
if (cd / && /usr/bin/zerg template create zl -q --guest /usr/lib/zerg/guests/zergling.elf) >"$TMP/tc.txt" 2>&1; then
    out=$(printf 'GET /deb HTTP/1.0\r\n\r\n' | (cd / && /usr/bin/zerg run zl 2>/dev/null))
fi
if grep -q '^path: /deb' <<<"$out" && grep -q '^restored: yes' <<<"$out"; then
    pass deb/installed-zerg-templates-and-restores
else
    fail deb/installed-zerg-templates-and-restores "$(cat "$TMP/tc.txt") $out"
fi
man_ok=no
if command -v man >/dev/null && man -l /usr/share/man/man1/zerg.1.gz 2>/dev/null | grep -q 'zerg serve'; then
    man_ok=yes
fi
comp=$(bash -c 'source /usr/share/bash-completion/completions/zerg
    COMP_WORDS=(zerg te); COMP_CWORD=1; _zerg; echo "${COMPREPLY[*]}"
    COMP_WORDS=(zerg serve --acc); COMP_CWORD=2; _zerg; echo "${COMPREPLY[*]}"' 2>&1 | paste -sd'|')
units_ok=yes
if command -v systemd-analyze >/dev/null; then
    mkdir -p "$TMP/units"
    cp /lib/systemd/system/zerg-serve@.service "$TMP/units/zerg-serve@zl.service"
    cp /lib/systemd/system/zerg-serve@.socket "$TMP/units/zerg-serve@zl.socket"
    # Warnings about other units of this machine are not ours: only lines
    # naming the zerg units count.
    if systemd-analyze verify "$TMP/units/zerg-serve@zl.service" "$TMP/units/zerg-serve@zl.socket" 2>&1 |
        grep 'zerg-serve@' | grep -v "Command 'man zerg(1)' failed" | grep -q .; then
        units_ok=no
    fi
fi
if [ $man_ok = yes ] && [ "$comp" = "template|--accept" ] && [ $units_ok = yes ]; then
    pass deb/man-completion-units
else
    fail deb/man-completion-units "man=$man_ok completion='$comp' units=$units_ok"
fi

if dpkg -r zerg >"$TMP/rm.txt" 2>&1 && ! dpkg-query -W zerg >/dev/null 2>&1; then
    left=""
    while read -r f; do
        [ -f "$f" ] && left+="$f "
    done <<<"$files"
    if [ -z "$left" ] && [ ! -e /usr/bin/zerg ]; then
        pass deb/removed-cleanly
    else
        fail deb/removed-cleanly "left behind: $left"
    fi
else
    fail deb/removed-cleanly "$(cat "$TMP/rm.txt")"
fi
exit $T_FAILED
