#!/usr/bin/env bash
# The Xen rig: Debian's Xen 4.17 and a PV dom0 (Debian's kernel) booted in
# QEMU under TCG (these machines' /dev/kvm cannot run Xen), with zerg's Xen
# tests run inside dom0. Their PASS:/FAIL:/SKIP: lines come back over the
# serial console and are printed here, so tests/run.sh counts them like any
# other tier. Nothing is installed into the host's boot path: the packages
# are downloaded and unpacked into the rig's directory.
#
#   tests/xen/rig.sh            build the dom0 image, boot, run, report
#   XEN_RIG_DIR=DIR             work directory (default build/xen-rig)
#   XEN_RIG_TIMEOUT=S           kill QEMU after S seconds (default 600)
#   XEN_RIG_KEEP=1              keep the serial log (DIR/serial.log) on success
#   XEN_RIG_RUN=FILE            run FILE in dom0 instead of tests/xen/in-dom0.sh
#
# Skips (SKIP and UNTESTED lines, exit 0) when QEMU or the packages cannot be
# installed; tests/run.sh then names the Xen tier untested in its summary.
# Needs `make`, bin/zerg-asan and the unit tests built (make test does all).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
W=${XEN_RIG_DIR:-build/xen-rig}
TMO=${XEN_RIG_TIMEOUT:-600}
XV=4.17

say() { echo "xen-rig: $*" >&2; }
# Not run at all (no QEMU, no packages): a SKIP, and an UNTESTED line that
# tests/run.sh carries into its summary line, so an untested tier is seen.
skip_all() {
    echo "SKIP: xen/rig: $*"
    echo "UNTESTED: xen: $*"
    exit 0
}
fail_all() {
    echo "FAIL: xen/rig: $*"
    exit 1
}

# ---- 1. the host tools: QEMU, cpio -------------------------------------------------------
missing=()
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
command -v cpio >/dev/null || missing+=(cpio)
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || skip_all "${missing[*]} not installed and not root to install them"
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        >"$W.apt.log" 2>&1 ||
        skip_all "cannot install ${missing[*]} (apt-get: $(tail -n 1 "$W.apt.log"))"
fi
for f in build/test/test_xen build/test-asan/test_xen build/test/xlbench bin/zerg bin/zerg-asan; do
    [ -x "$f" ] || fail_all "$f is not built (run make and the unit test build first)"
done

# ---- 2. Xen, the dom0 kernel and busybox, from Debian, unpacked (not installed) ------------
KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$KPKG" ] || skip_all "cannot find Debian's kernel package (apt-cache depends linux-image-amd64)"
# xen-utils: the toolstack (xl, xenstored, xenconsoled), for the xl comparison only.
PKGS=("xen-hypervisor-$XV-amd64" "xen-utils-$XV" busybox-static "$KPKG")
mkdir -p "$W/debs"
for p in "${PKGS[@]}"; do
    if ! ls "$W/debs/${p}_"*.deb >/dev/null 2>&1; then
        say "downloading $p"
        (cd "$W/debs" && apt-get download "$p" >/dev/null 2>&1) || skip_all "cannot download $p"
    fi
done
R=$W/root
DEBS=$(ls "$W"/debs/*.deb)
if [ "$(cat "$R/.unpacked" 2>/dev/null)" != "$DEBS" ]; then
    rm -rf "$R"
    mkdir -p "$R"
    for d in $DEBS; do dpkg -x "$d" "$R" || fail_all "cannot unpack $d"; done
    echo "$DEBS" >"$R/.unpacked"
fi
KVER=$(ls "$R/lib/modules" | head -n 1)
mkdir -p "$W/out"
[ -s "$W/out/xen" ] || zcat "$R/boot/xen-$XV-amd64.gz" >"$W/out/xen" # QEMU loads the multiboot ELF
# dom0's kernel as a plain ELF: Xen would otherwise decompress it, slowly, under TCG.
if [ ! -s "$W/out/vmlinux" ]; then
    python3 - "$R/boot/vmlinuz-$KVER" "$W/out/vmlinux" <<'EOF' || fail_all "cannot unpack the dom0 kernel"
import lzma, sys
raw = open(sys.argv[1], "rb").read()
at = raw.find(b"\xfd7zXZ\x00")
if at < 0:
    sys.exit("no XZ payload in " + sys.argv[1])
elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(raw[at:])
if elf[:4] != b"\x7fELF":
    sys.exit("the payload is not an ELF")
open(sys.argv[2], "wb").write(elf)
EOF
fi

# ---- 3. dom0's initramfs: busybox, the Xen device modules, zerg's tests ----------------
I=$W/dom0
rm -rf "$I"
mkdir -p "$I"/{bin,proc,sys,dev,tmp,run,lib64,lib/x86_64-linux-gnu,lib/modules,zerg,etc/xen} \
    "$I"/var/{lib/xen,lib/xenstored,log/xen/console}
ln -s ../run "$I/var/run"
cp "$R/bin/busybox" "$I/bin/busybox"
for a in sh mount mkdir insmod cat echo printf dd ls grep sleep uname cut sed awk date poweroff \
    env rm cp chmod wc head tail seq cmp basename kill ps sort ifconfig wget; do
    ln -s busybox "$I/bin/$a"
done
for m in xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs/xenfs; do
    cp "$R/lib/modules/$KVER/kernel/drivers/xen/$m.ko" "$I/lib/modules/" ||
        fail_all "module $m missing from $KPKG"
done
# What runs inside: the tests and the zerg command, with their shared libraries
# (the host's: dom0 runs the same Debian userland).
PAYLOAD=(build/test/test_xen build/test-asan/test_xen build/test/xlbench bin/zerg bin/zerg-asan)
for f in "${PAYLOAD[@]}"; do
    mkdir -p "$I/zerg/$(dirname "$f")"
    cp "$f" "$I/zerg/$f"
done
cp -r bin/guests bin/test-guests "$I/zerg/bin/"
# The toolstack, for xl create/save/restore of the same guest (tests/xen/xlbench.c);
# dom0 starts it after zerg's own tests. Its libraries are the host's libxen-dev ones.
XB=usr/lib/xen-$XV/bin
TOOLS=("$XB/xl" "$XB/xenstored" "$XB/xenconsoled" "$XB/xen-init-dom0" "$XB/libxl-save-helper")
mkdir -p "$I/$XB"
for b in "${TOOLS[@]}"; do
    cp "$R/$b" "$I/$b" || fail_all "$b missing from xen-utils-$XV"
done
ln -s "/$XB/xl" "$I/bin/xl"
printf 'autoballoon="off"\nlockfile="/run/xl.lock"\n' >"$I/etc/xen/xl.conf"
# nginx (the host's, as tests/sys uses) in front of zerg serve on Xen.
EXTRA=()
if [ -x /usr/sbin/nginx ]; then
    cp /usr/sbin/nginx "$I/bin/nginx"
    EXTRA+=(/usr/sbin/nginx)
    printf 'root:x:0:0:root:/root:/bin/sh\n' >"$I/etc/passwd"
    printf 'root:x:0:\n' >"$I/etc/group"
fi
# (Checked outside the copying pipeline: fail_all there would only leave a subshell.)
LIBS=()
for f in "${PAYLOAD[@]}" "${TOOLS[@]/#/$R/}" "${EXTRA[@]}"; do
    deps=$(ldd "$f") || fail_all "ldd $f failed"
    missing=$(echo "$deps" | grep 'not found' | tr -d '\t' | tr '\n' ' ')
    [ -z "$missing" ] || fail_all "$f: $missing(is libxen-dev installed?)"
    LIBS+=($(echo "$deps" | awk '/=> \// {print $3}'))
done
printf '%s\n' "${LIBS[@]}" | sort -u | while read -r lib; do
    cp -L "$lib" "$I/lib/x86_64-linux-gnu/"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$I/lib64/"
# glibc dlopen()s it for pthread_cancel, which xl calls on its way out.
cp -L "$(gcc -print-file-name=libgcc_s.so.1)" "$I/lib/x86_64-linux-gnu/" 2>/dev/null ||
    cp -L /lib/x86_64-linux-gnu/libgcc_s.so.1 "$I/lib/x86_64-linux-gnu/"
cp tests/xen/dom0-init.sh "$I/init"
cp "${XEN_RIG_RUN:-tests/xen/in-dom0.sh}" "$I/zerg/run.sh"
chmod +x "$I/init" "$I/zerg/run.sh"
(cd "$I" && find . | cpio -o -H newc --quiet | gzip -1) >"$W/out/dom0.cpio.gz" ||
    fail_all "cannot pack the initramfs"

# ---- 4. boot ------------------------------------------------------------------------------
XENARGS="console=com1 com1=115200,8n1 dom0_mem=512M,max:512M dom0_max_vcpus=1 iommu=0 loglvl=warning guest_loglvl=warning"
DOM0ARGS="console=hvc0 loglevel=3 quiet"
LOG=$W/serial.log
say "booting Xen $XV + dom0 ($KVER) in QEMU (TCG); serial log in $LOG"
t0=$(date +%s)
timeout "$TMO" qemu-system-x86_64 -accel tcg,thread=multi -cpu Haswell-noTSX-IBRS -m 1024 -smp 1 \
    -display none -serial stdio -monitor none -no-reboot -nodefaults \
    -device isa-debug-exit,iobase=0xf4,iosize=0x01 \
    -kernel "$W/out/xen" -append "$XENARGS" \
    -initrd "$W/out/vmlinux $DOM0ARGS,$W/out/dom0.cpio.gz" </dev/null >"$LOG" 2>&1
rc=$?
secs=$(($(date +%s) - t0))
tr -d '\r' <"$LOG" >"$LOG.txt"

# ---- 5. report -----------------------------------------------------------------------------
# dom0 prints "ZR <line>" for every line meant for the host.
grep -a '^ZR ' "$LOG.txt" | sed 's/^ZR //' | grep -E '^(PASS|FAIL|SKIP): ' | sed 's/^\(PASS\|FAIL\|SKIP\): /\1: xen\//'
grep -a '^ZR XENBENCH ' "$LOG.txt" | sed 's/^ZR //'
if ! grep -aq '^ZR XENRIG-DONE' "$LOG.txt"; then
    echo "FAIL: xen/rig: dom0 did not finish (QEMU exit $rc after ${secs}s); last lines:"
    tail -n 25 "$LOG.txt" | sed 's/^/    /'
    exit 1
fi
if [ $rc != 3 ]; then # isa-debug-exit with 1: (1 << 1) | 1
    echo "FAIL: xen/rig: QEMU exited $rc, not through dom0's isa-debug-exit"
    exit 1
fi
echo "PASS: xen/rig: Xen $XV + dom0 booted, tests ran, clean exit in ${secs}s"
[ "${XEN_RIG_KEEP:-0}" = 1 ] || rm -f "$LOG"
exit 0
