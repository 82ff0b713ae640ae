#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# targetcli.sh <ours|stock>
#
# Maps a ramdisk LUN with targetcli (rtslib), checks it with the userspace
# guest, unmaps and remaps it with targetcli and checks again.  Shows the
# module works with rtslib's configfs layout and its "modprobe tcm_vhost".
set -u

flavour=${1:?usage: targetcli.sh ours|stock}
root=${HP_ROOT:-$(realpath "$(dirname "$0")/../../../..")}
dir=$root/tools/testing/selftests/vhost_scsi
# shellcheck source=../../vm/guest-lib.sh
. "$root/tools/testing/vm/guest-lib.sh"

wwn=naa.5001405feedbee01
bs=vsgtc$$
probe=$dir/vsg_probe

command -v targetcli >/dev/null || hp_skip "targetcli is not installed"
[ -x "$probe" ] || hp_skip "vsg_probe not built: run make in $dir"

hp_configfs
hp_unload vhost_scsi
if [ "$flavour" = ours ]; then
	[ -f "${HP_MODDIR:-$root}/drivers/vhost/vhost_scsi.ko" ] ||
		hp_skip "drivers/vhost/vhost_scsi.ko is not built"
	hp_load drivers/vhost/vhost_scsi.ko
else
	hp_load_stock vhost_scsi
fi
# rtslib asks the system bus for tcmu-runner backstores
pgrep -x dbus-daemon >/dev/null || {
	mkdir -p /run/dbus
	dbus-daemon --system --fork || hp_die "cannot start dbus-daemon"
}

tc() {
	echo "+ targetcli $*"
	targetcli "$@" || hp_die "targetcli $* failed"
}

rc=0
check() {
	"$probe" "$wwn" 1 0 "$1" || rc=1
}

tc /backstores/ramdisk create name="$bs" size=16M
tc /vhost create "$wwn"
tc /vhost/"$wwn"/tpg1/luns create /backstores/ramdisk/"$bs"
check good
tc /vhost/"$wwn"/tpg1/luns delete lun0
check missing
tc /vhost/"$wwn"/tpg1/luns create /backstores/ramdisk/"$bs"
check good
# Delete what we made, by name: clearconfig would also load every other
# fabric rtslib knows (iscsi_target_mod), which a minimal kernel lacks.
tc /vhost delete "$wwn"
tc /backstores/ramdisk delete "$bs"
[ ! -e "/sys/kernel/config/target/vhost/$wwn" ] ||
	hp_die "targetcli left $wwn behind in configfs"
rmdir /sys/kernel/config/target/vhost 2>/dev/null
hp_unload vhost_scsi
exit $rc
