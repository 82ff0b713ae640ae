#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# "make install" puts our modules under updates/ and runs depmod, so that a
# plain "modprobe vhost_scsi" / "modprobe mdev" (and rtslib's "modprobe
# tcm_vhost") loads ours, not Debian's.  Runs in the test VM, whose root is
# a throw-away overlay.
#
# Ours is told from Debian's by the loaded module's taint: a module built
# out of tree carries "O", Debian's in-tree modules do not.  On the debug
# kernel the same holds: its in-tree modules are the control, and
# /lib/modules/<its release> (the cache's modroot, through the VM's
# overlay) takes the install.
. "$HP_ROOT/tools/testing/vm/guest-lib.sh"
set -e

# The control: the kernel's own module is not ours.
modprobe vhost_scsi
if grep -q O /sys/module/vhost_scsi/taint; then
	hp_die "the kernel's vhost_scsi already looks out-of-tree; the check is void"
fi
modprobe -r vhost_scsi

hp_install vhost_scsi mdev

# loaded_is_ours <modprobe-name> <module>
loaded_is_ours() {
	modprobe "$1"
	grep -q O "/sys/module/$2/taint" ||
		hp_die "modprobe $1 loaded a module without taint O: not ours"
	echo "modprobe $1: ours ($(modinfo -n "$2"), taint $(cat "/sys/module/$2/taint"))"
	modprobe -r "$2"
}

for name in vhost_scsi mdev; do
	loaded_is_ours "$name" "$name"
done
modinfo -F alias vhost_scsi | grep -qx tcm_vhost ||
	hp_die "vhost_scsi lacks the tcm_vhost alias rtslib loads it by"
loaded_is_ours tcm_vhost vhost_scsi
