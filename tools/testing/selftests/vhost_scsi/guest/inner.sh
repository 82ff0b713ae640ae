#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs in the inner guest (busybox sh), booted by guest.sh with
# -device vhost-scsi-pci against our vhost_scsi.ko.  The outer script
# changes the LUN map with targetcli; the two sides take turns through
# files in a 9p share mounted at $S (tag "hpsync"):
#
#   inner writes            outer then                 inner then checks
#   ready                   unmaps LUN 1, "unmapped"   LUN 1 I/O fails with sense
#   unmapped-ok             remaps LUN 1, "remapped"   rescan, old data, new I/O
#   remapped-ok             maps LUN 2, "lun2"         rescan finds LUN 2, I/O
#   lun2-ok, done           checks counters, tears down
#
# All the while a background loop writes and reads back 64 KiB blocks on
# LUN 0 and counts every verified cycle; it must advance in every phase and
# never see an error.  Either side gives up at its deadline; "abort" or
# "failed" in the share ends the run early.  Disks are found by SCSI
# address (channel 0, target $HP_TPGT, LUN n), never by sdX name.
S=/sync
T=${HP_TPGT:-1}
WAIT=${HP_WAIT:-120}
L0=/tmp/lun0

log() {
	echo "$*" >> $S/inner.log
}

fail() {
	log "FAIL: $*"
	echo "inner: FAIL: $*"
	dmesg | tail -n 20 | sed 's/^/inner dmesg: /'
	touch $S/failed /tmp/lun0.stop
	exit 1
}

# wait_for FILE: until the outer side writes FILE, or give up.
wait_for() {
	i=0
	while [ ! -e "$S/$1" ]; do
		[ -e $S/abort ] && fail "the outer side aborted"
		[ $i -ge $((WAIT * 5)) ] && fail "no '$1' after ${WAIT}s"
		usleep 200000
		i=$((i + 1))
	done
}

# disk_of LUN: the block device name at 0:T:LUN on any host, waiting for
# the asynchronous scan; empty when it does not appear within 30 s.
disk_of() {
	i=0
	while [ $i -lt 150 ]; do
		for d in /sys/class/scsi_disk/*:0:"$T:$1"; do
			[ -d "$d/device/block" ] && ls "$d/device/block" && return
		done
		usleep 200000
		i=$((i + 1))
	done
}

host_of() {
	for d in /sys/class/scsi_disk/*:0:"$T":0; do
		h=${d##*/}
		echo "${h%%:*}"
		return
	done
}

# rw DEV PATTERN: write the pattern with O_DIRECT, read it back, compare.
rw() {
	dd if="$2" of="/dev/$1" bs=64k oflag=direct conv=fsync 2>/dev/null ||
		return 1
	verify "$1" "$2"
}

# verify DEV PATTERN [SKIP-64K-BLOCKS]
verify() {
	n=$(($(wc -c < "$2") / 65536))
	dd if="/dev/$1" of=/tmp/back bs=64k count="$n" skip="${3:-0}" \
		iflag=direct 2>/dev/null || return 1
	cmp -s "$2" /tmp/back
}

# The LUN 0 loop: 64 KiB write + read-back cycles over its first 2 MiB,
# four rotating patterns; lun0.count is the number of cycles done,
# lun0.err the failed ones.
lun0_loop() {
	c=0
	e=0
	while [ ! -e $L0.stop ]; do
		p=$L0.p$((c % 4))
		off=$((c % 32))
		if ! dd if=$p of="/dev/$d0" bs=64k seek=$off count=1 \
			oflag=direct 2>/dev/null ||
		   ! dd if="/dev/$d0" of=$L0.back bs=64k skip=$off count=1 \
			iflag=direct 2>/dev/null ||
		   ! cmp -s $p $L0.back; then
			e=$((e + 1))
			echo "$c" >> $L0.err
		fi
		c=$((c + 1))
		echo $c > $L0.count
	done
}

# lun0_progress PHASE: the loop advanced since the last call, no errors.
lun0_progress() {
	i=0
	while [ "$(cat $L0.count)" -le "${last:-0}" ]; do
		[ $i -ge 300 ] && fail "LUN 0 I/O stalled during $1"
		usleep 100000
		i=$((i + 1))
	done
	[ -s $L0.err ] && fail "LUN 0 I/O failed during $1 (cycles $(cat $L0.err | tr '\n' ' '))"
	last=$(cat $L0.count)
	log "LUN 0 during $1: $last verified write+read cycles so far, 0 errors"
}

rescan() {
	log "rescan: echo '- - -' > /sys/class/scsi_host/host$host/scan"
	echo '- - -' > "/sys/class/scsi_host/host$host/scan" ||
		fail "rescan of host$host failed"
}

phase_start() {
	d0=$(disk_of 0)
	d1=$(disk_of 1)
	[ -n "$d0" ] || fail "no disk at 0:$T:0"
	[ -n "$d1" ] || fail "no disk at 0:$T:1"
	host=$(host_of)
	log "found LUN 0 at $host:0:$T:0 = /dev/$d0 ($(cat /sys/block/"$d0"/size) sectors)"
	log "found LUN 1 at $host:0:$T:1 = /dev/$d1 ($(cat /sys/block/"$d1"/size) sectors)"
	dd if=/dev/urandom of=/tmp/p0 bs=64k count=64 2>/dev/null
	dd if=/dev/urandom of=/tmp/p1 bs=64k count=16 2>/dev/null
	for k in 0 1 2 3; do
		dd if=/dev/urandom of=$L0.p$k bs=64k count=1 2>/dev/null
	done
	rw "$d0" /tmp/p0 || fail "LUN 0: 4 MiB pattern not read back"
	rw "$d1" /tmp/p1 || fail "LUN 1: 1 MiB pattern not read back"
	log "LUN 0: 4 MiB pattern written and read back"
	log "LUN 1: 1 MiB pattern written and read back"
	echo 0 > $L0.count
	lun0_loop &
	loop=$!
	lun0_progress start
	touch $S/ready
}

# While LUN 1 is unmapped, reads and writes must fail (within 60 s, not
# hang) and the guest kernel must have seen the target's sense data.
phase_unmapped() {
	wait_for unmapped
	log "LUN 1 is unmapped on the target: reading and writing /dev/$d1"
	timeout 60 dd if="/dev/$d1" of=/dev/null bs=4k count=1 \
		iflag=direct 2>/dev/null && fail "read from unmapped LUN 1 worked"
	timeout 60 dd if=/tmp/p1 of="/dev/$d1" bs=4k count=1 \
		oflag=direct 2>/dev/null && fail "write to unmapped LUN 1 worked"
	sense=$(dmesg | grep "$host:0:$T:1" | grep -i -e 'Logical unit not supported' \
		-e 'ASC=0x25' | tail -n 1)
	[ -n "$sense" ] || fail "no LOGICAL UNIT NOT SUPPORTED sense for LUN 1"
	log "read and write failed cleanly: ${sense#*] }"
	dmesg | grep "I/O error, dev $d1" | tail -n 1 | sed 's/^\[[^]]*\] /kernel: /' >> $S/inner.log
	lun0_progress "the unmap"
	touch $S/unmapped-ok
}

# After the remap, drop the stale device and rescan: the same backstore
# comes back with the data written before the unmap.
phase_remapped() {
	wait_for remapped
	log "LUN 1 is mapped again: deleting the stale sd device and rescanning"
	echo 1 > "/sys/class/scsi_disk/$host:0:$T:1/device/delete" ||
		fail "cannot delete the stale LUN 1 device"
	rescan
	d1=$(disk_of 1)
	[ -n "$d1" ] || fail "rescan did not find LUN 1 again"
	verify "$d1" /tmp/p1 || fail "LUN 1 lost the data written before the unmap"
	log "LUN 1 is back as /dev/$d1 with the data written before the unmap"
	dd if=/dev/urandom of=/tmp/p1 bs=64k count=16 2>/dev/null
	rw "$d1" /tmp/p1 || fail "LUN 1: new pattern not read back after the remap"
	log "LUN 1: new 1 MiB pattern written and read back"
	lun0_progress "the remap"
	touch $S/remapped-ok
}

phase_lun2() {
	wait_for lun2
	[ -z "$(disk_of_now 2)" ] || fail "LUN 2 appeared before any rescan"
	rescan
	d2=$(disk_of 2)
	[ -n "$d2" ] || fail "rescan did not find LUN 2"
	log "rescan found LUN 2 at $host:0:$T:2 = /dev/$d2"
	dd if=/dev/urandom of=/tmp/p2 bs=64k count=16 2>/dev/null
	rw "$d2" /tmp/p2 || fail "LUN 2: pattern not read back"
	log "LUN 2: 1 MiB pattern written and read back"
	lun0_progress "the LUN 2 scan"
	touch $S/lun2-ok
}

disk_of_now() {
	ls -d /sys/class/scsi_disk/*:0:"$T:$1" 2>/dev/null
}

# Stop the loop; the 2 MiB of the first pattern it never touched must be
# intact.
phase_end() {
	touch $L0.stop
	wait "$loop"
	[ -s $L0.err ] && fail "LUN 0 I/O failed (cycles $(cat $L0.err | tr '\n' ' '))"
	dd if=/tmp/p0 of=/tmp/p0.tail bs=64k skip=32 2>/dev/null
	verify "$d0" /tmp/p0.tail 32 || fail "LUN 0: the untouched 2 MiB changed"
	log "LUN 0: $(cat $L0.count) write+read cycles, all verified; untouched 2 MiB intact"
	touch $S/done
	echo "inner: ok"
}

mkdir -p $S
mount -t 9p -o trans=virtio,version=9p2000.L hpsync $S ||
	{ echo "inner: FAIL: cannot mount the 9p share"; exit 1; }
phase_start
phase_unmapped
phase_remapped
phase_lun2
phase_end
