# SPDX-License-Identifier: GPL-2.0
#
# Helpers of the scripts that run in the inner guest (busybox sh).
# inner-guest.sh ships this file as /hp/lib.sh; a script sets "me" to
# its name and sources it:
#
#   me=disk-rw
#   . /hp/lib.sh
#
# Names the host's root (9p, --host-root) H, mounted by host_root.

H=/host

# fail MESSAGE: the script's verdict, on the console, and exit 1.
fail() {
	echo "${me:?}: FAIL: $*"
	exit 1
}

# disk ADDR: print the block device at SCSI address *:ADDR (channel:
# target:lun, any host) now; false when there is none.
disk() {
	for d in /sys/class/scsi_disk/*:"$1"; do
		[ -d "$d/device/block" ] && ls "$d/device/block" && return 0
	done
	return 1
}

# wait_disk ADDR: print the block device at *:ADDR, waiting up to 30 s
# for it (the guest's SCSI scan is asynchronous); false when none came.
# Used as d=$(wait_disk ADDR) || fail ..., so it cannot fail itself.
wait_disk() {
	i=0
	while ! disk "$1"; do
		[ $i -ge 30 ] && return 1
		sleep 1
		i=$((i + 1))
	done
}

# host_root PROGRAM...: mount the host's root read-only at $H, with the
# file systems a program run in a chroot of it needs; fails the script
# unless every PROGRAM (a path on the host) is there.  Debian's packages
# provide them: scripts/setup.sh installs what a test needs.
host_root() {
	mkdir -p $H
	mount -t 9p -o trans=virtio,version=9p2000.L,ro hostroot $H ||
		fail "cannot mount the host's root (boot with --host-root)"
	for m in devtmpfs:dev proc:proc sysfs:sys tmpfs:tmp; do
		mount -t "${m%%:*}" none "$H/${m#*:}" ||
			fail "cannot mount $m in $H"
	done
	for p in "$@"; do
		[ -x "$H$p" ] ||
			fail "$p missing on the host (scripts/setup.sh installs it)"
	done
}
