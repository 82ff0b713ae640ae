#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs in the inner guest (busybox sh), booted with inner-guest.sh
# --host-root --smp 2, for the real-guest points of make bench: fio 4 KiB
# random read, then random write, on the disk at HP_LUN0 (channel:target:
# lun), queue depth 32, one job pinned to each CPU (blk-mq gives each CPU
# its own request queue of the two), HP_SECS seconds each.  Prints one
# "fio-bench: rw=R iops=N p50_us=N p99_us=N errors=N" line per workload,
# then "fio-bench: ok".  fio is the host's, run in a chroot of the 9p
# share, and its JSON is read with the host's python3.
secs=${HP_SECS:-10}
lun0=${HP_LUN0:?}
me=fio-bench
# shellcheck source=tools/testing/vm/inner/lib.sh
. /hp/lib.sh

host_root /usr/bin/fio /usr/bin/python3
[ "$(grep -c ^processor /proc/cpuinfo)" -ge 2 ] ||
	fail "one CPU: boot the inner guest with --smp 2"
d0=$(wait_disk "$lun0") || fail "no disk at *:$lun0 after 30 s"
nq=0
for q in /sys/block/"$d0"/mq/*; do
	[ -d "$q" ] && nq=$((nq + 1))
done
echo "fio-bench: LUN 0 is /dev/$d0 with $nq request queues; ${secs}s per workload"
[ "$nq" -ge 2 ] || fail "/dev/$d0 has $nq request queue(s), not 2"

for rw in randread randwrite; do
	chroot $H /usr/bin/fio --name="$rw" --filename="/dev/$d0" --rw=$rw \
		--bs=4k --size=12M --direct=1 --ioengine=libaio --iodepth=32 \
		--numjobs=2 --cpus_allowed=0-1 --cpus_allowed_policy=split \
		--group_reporting --time_based --runtime="$secs" \
		--output-format=json --output=/tmp/$rw.json > /tmp/$rw.err 2>&1
	rc=$?
	[ $rc = 0 ] || { cat /tmp/$rw.err; fail "fio $rw exited $rc"; }
	line=$(chroot $H /usr/bin/python3 -c '
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0]
d = job[sys.argv[2]]
p = d["clat_ns"]["percentile"]
print("rw=%s iops=%.0f p50_us=%.0f p99_us=%.0f errors=%d" % (sys.argv[3],
      d["iops"], p["50.000000"] / 1e3, p["99.000000"] / 1e3,
      job["error"]))' /tmp/$rw.json "${rw#rand}" $rw) ||
		fail "cannot read fio's figures for $rw"
	echo "fio-bench: $line"
	case $line in
	*" errors=0") ;;
	*) fail "fio $rw had errors" ;;
	esac
done
if dmesg | grep -E "(I/O|critical medium|critical target) error, dev $d0"; then
	fail "the kernel logged I/O errors on /dev/$d0"
fi
echo "fio-bench: ok"
