#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# "make install" puts our modules under updates/ and runs depmod, so that a
# plain "modprobe vhost_scsi" / "modprobe mdev" loads ours, not Debian's.
# Runs in the test VM, whose root is a throw-away overlay.
. "$HP_ROOT/tools/testing/vm/guest-lib.sh"
set -e
[ "$HP_KERNEL" = debian ] ||
	hp_skip "install targets Debian's /lib/modules; the debug kernel has none"

make -s -C "$HP_ROOT" install HP_NO_SETUP=1
for m in drivers/vhost/vhost_scsi.ko drivers/vfio/mdev/mdev.ko; do
	name=$(modinfo -F name "$HP_ROOT/$m")
	want=$(modinfo -F srcversion "$HP_ROOT/$m")
	path=$(modinfo -n "$name")
	case "$path" in
	*/updates/*) ;;
	*) hp_die "modinfo $name resolves to $path, not updates/" ;;
	esac
	modprobe "$name"
	got=$(cat "/sys/module/$name/srcversion")
	[ "$got" = "$want" ] ||
		hp_die "modprobe $name loaded srcversion $got, ours is $want"
	echo "modprobe $name: ours ($path, srcversion $got)"
	modprobe -r "$name"
done
modinfo -F alias vhost_scsi | grep -qx tcm_vhost ||
	hp_die "vhost_scsi lacks the tcm_vhost alias rtslib loads it by"
modprobe tcm_vhost
[ "$(cat /sys/module/vhost_scsi/srcversion)" = \
  "$(modinfo -F srcversion "$HP_ROOT/drivers/vhost/vhost_scsi.ko")" ] ||
	hp_die "modprobe tcm_vhost did not load ours"
modprobe -r vhost_scsi
echo "modprobe tcm_vhost: ours"
