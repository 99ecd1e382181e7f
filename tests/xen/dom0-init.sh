#!/bin/sh
# PID 1 of the rig's dom0: mount what libxenctrl needs (the privcmd and
# event-channel devices, xenfs), run zerg's Xen tests (/zerg/run.sh), then
# stop QEMU through its isa-debug-exit port. Lines for the host start "ZR ".
export PATH=/bin
zr() { echo "ZR $*"; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mkdir -p /dev/shm /dev/pts /run
mount -t tmpfs tmpfs /dev/shm
mount -t devpts devpts /dev/pts # xenconsoled gives each guest console a pty
for m in xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs; do
    insmod /lib/modules/$m.ko || zr "FAIL: dom0/insmod-$m: insmod failed"
done
mkdir -p /proc/xen
mount -t xenfs xenfs /proc/xen || zr "FAIL: dom0/xenfs: mount failed"
zr "dom0 up after $(cut -d' ' -f1 /proc/uptime) s: $(uname -r), caps $(cat /proc/xen/capabilities)"
cd /zerg && sh ./run.sh 2>&1 | while IFS= read -r line; do zr "$line"; done
zr XENRIG-DONE
# isa-debug-exit: writing 1 to port 0xf4 makes QEMU exit with status 3.
printf '\001' | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
poweroff -f
