#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs in the inner guest (busybox sh), booted with inner-guest.sh
# --host-root, for HP_SECS seconds (issue 13, scenario 1):
#  - fio random write with verification on LUN 0 (HP_LUN0, an address
#    channel:target:lun), which must end without an error;
#  - fio random read/write without verification on LUN 1 (HP_LUN1), which
#    the host unlinks and links again all the while, so errors are
#    expected.  QEMU's vhost-scsi-pci does not offer VIRTIO_SCSI_F_HOTPLUG,
#    so no event tells the guest about LUN 1: while it has no disk there,
#    it scans for one through sysfs, as an operator would.  Once found,
#    the disk stays across the host's cycles: its commands get BAD_TARGET
#    while the LUN is gone and reach the backend again once it is back.
#    A disk the guest took offline is set running again, one found with
#    no capacity (the LUN went mid-probe) is deleted and scanned again;
#  - sg_reset -d (LUN RESET) on both disks every 2 s; each one on LUN 0
#    must succeed.
# fio and sg3-utils are the host's, run in a chroot of the 9p share.
# Prints "fio-storm: ok" when LUN 0's fio passed, its resets succeeded and
# the kernel logged no I/O error on LUN 0's disk.
secs=${HP_SECS:-40}
lun0=${HP_LUN0:?}
lun1=${HP_LUN1:?}
me=fio-storm
# shellcheck source=tools/testing/vm/inner/lib.sh
. /hp/lib.sh

host_root /usr/bin/fio /usr/bin/sg_reset
d0=$(wait_disk "$lun0") || fail "no disk at *:$lun0 after 30 s"
echo "fio-storm: LUN 0 is /dev/$d0; ${secs}s"
end=$(($(date +%s) + secs))

chroot $H /usr/bin/fio --name=lun0 --filename="/dev/$d0" --rw=randwrite \
	--bs=4k --size=8M --direct=1 --ioengine=libaio --iodepth=16 \
	--verify=crc32c --verify_backlog=256 --verify_fatal=1 \
	--verify_state_save=0 \
	--time_based --runtime="$secs" > /tmp/lun0.out 2>&1 &
fio0=$!

(n=0 scans=0 revived=0
scan1=$(echo "$lun1" | tr : ' ')
while [ "$(date +%s)" -lt $end ]; do
	if ! d1=$(disk "$lun1"); then
		scans=$((scans + 1))
		for h in /sys/class/scsi_host/host*; do
			echo "$scan1" > "$h/scan"
		done 2> /dev/null
		disk "$lun1" > /dev/null || sleep 0.2
		continue
	fi
	# a disk found while the LUN went away mid-probe: scan again
	if [ "$(cat "/sys/block/$d1/size")" = 0 ]; then
		echo 1 > "/sys/block/$d1/device/delete"
		continue
	fi
	s=/sys/block/$d1/device/state
	if [ "$(cat "$s")" != running ]; then
		echo running > "$s" && revived=$((revived + 1))
	fi
	# long runs: a fio start costs seconds here, with no I/O meanwhile
	t=$((end - $(date +%s)))
	[ $t -le 20 ] || t=20
	[ $t -gt 0 ] || break
	chroot $H /usr/bin/fio --name=lun1 --filename="/dev/$d1" \
		--rw=randrw --bs=4k --size=4M --direct=1 --ioengine=libaio \
		--iodepth=8 --rate_iops=400 --time_based --runtime=$t \
		--continue_on_error=all > /dev/null 2>&1
	n=$((n + 1))
done
echo "fio-storm: LUN 1: $n fio runs, $scans scans, set running" \
	"again $revived times") &
io1=$!

# LUN RESETs: every one on LUN 0 must succeed; LUN 1 may be gone
(n0=0 bad0=0 n1=0 bad1=0
while [ "$(date +%s)" -lt $end ]; do
	if d=$(disk "$lun0"); then
		n0=$((n0 + 1))
		chroot $H /usr/bin/sg_reset -d "/dev/$d" > /dev/null 2>&1 ||
			bad0=$((bad0 + 1))
	fi
	if d=$(disk "$lun1"); then
		n1=$((n1 + 1))
		chroot $H /usr/bin/sg_reset -d "/dev/$d" > /dev/null 2>&1 ||
			bad1=$((bad1 + 1))
	fi
	sleep 2
done
echo "fio-storm: LUN resets: LUN 0 $n0 ($bad0 failed), LUN 1 $n1 ($bad1 failed)"
[ $bad0 = 0 ]) &
resets=$!

wait $fio0
rc=$?
wait $resets
rst=$?
wait $io1
grep -E "err=|WRITE:|verify" /tmp/lun0.out | sed 's/^/fio-storm: lun0: /'
if [ $rc != 0 ]; then
	tail -n 20 /tmp/lun0.out | sed 's/^/fio-storm: lun0 said: /'
	fail "fio on LUN 0 exited $rc"
fi
[ $rst = 0 ] || fail "a LUN RESET of LUN 0 failed"
if dmesg | grep -E "(I/O|critical medium|critical target) error, dev $d0"; then
	fail "the kernel logged I/O errors on LUN 0 (/dev/$d0)"
fi
echo "fio-storm: ok"
