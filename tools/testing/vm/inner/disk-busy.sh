#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs in the inner guest (busybox sh) until it is killed: writes LUN 0
# (SCSI address HP_SCSI_CTL, channel:target:lun) over and over with
# O_DIRECT, and reads the slow LUN (HP_SCSI_SLOW) with HP_READERS readers
# at once, so that commands are in flight on both LUNs at any moment.
# Prints "disk-busy: running" once every loop has started.
addr=${HP_SCSI_CTL:?HP_SCSI_CTL not set}
slow=${HP_SCSI_SLOW:?HP_SCSI_SLOW not set}
readers=${HP_READERS:-8}
mib=${HP_MIB:-4}
me=disk-busy
# shellcheck source=tools/testing/vm/inner/lib.sh
. /hp/lib.sh

d0=$(wait_disk "$addr") || fail "no disk at *:$addr after 30 s"
d1=$(wait_disk "$slow") || fail "no disk at *:$slow after 30 s"
echo "disk-busy: LUN 0 is /dev/$d0, the slow LUN /dev/$d1"

i=0
while [ $i -lt "$readers" ]; do
	(while :; do
		dd if="/dev/$d1" of=/dev/null bs=4k count=1 skip=$i \
			iflag=direct 2>/dev/null
	done) &
	i=$((i + 1))
done
(while :; do
	dd if=/dev/urandom of="/dev/$d0" bs=1M count="$mib" oflag=direct \
		2>/dev/null
done) &
echo "disk-busy: running"
wait
