#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs in the inner guest (busybox sh).  Finds the disk at SCSI address
# HP_SCSI_CTL (channel:target:lun, any host), writes HP_MIB MiB of random
# data with O_DIRECT, drops the caches, reads it back with O_DIRECT and
# compares.  Prints "disk-rw: ok" on success.
addr=${HP_SCSI_CTL:?HP_SCSI_CTL not set}
mib=${HP_MIB:-4}
me=disk-rw
# shellcheck source=tools/testing/vm/inner/lib.sh
. /hp/lib.sh

if ! dev=$(wait_disk "$addr"); then
	for d in /sys/class/scsi_disk/*; do
		[ -e "$d" ] && echo "disk-rw:   present: ${d##*/}"
	done
	fail "no disk at *:$addr after 30 s"
fi
sectors=$(cat "/sys/block/$dev/size")
echo "disk-rw: *:$addr is /dev/$dev, $sectors sectors"
[ "$sectors" -ge $((mib * 2048)) ] || fail "disk smaller than $mib MiB"

dd if=/dev/urandom of=/tmp/pattern bs=1M count="$mib" 2>/dev/null ||
	fail "cannot make the pattern"
dd if=/tmp/pattern of="/dev/$dev" bs=1M count="$mib" oflag=direct \
	conv=fsync 2>/dev/null || fail "write to /dev/$dev failed"
echo 3 > /proc/sys/vm/drop_caches
dd if="/dev/$dev" of=/tmp/back bs=1M count="$mib" iflag=direct \
	2>/dev/null || fail "read from /dev/$dev failed"
cmp /tmp/pattern /tmp/back || fail "read back differs from what was written"
echo "disk-rw: ok, $mib MiB written and read back, sha256" \
	"$(sha256sum < /tmp/pattern | cut -c1-16)"
