#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vhost-scsi-disk.sh stock|ours
#
# Runs in the test guest.  Exposes an rd_mcp LUN through vhost-scsi (the
# running kernel's vhost_scsi.ko for "stock", ours from drivers/vhost for
# "ours"), boots an inner guest with -device vhost-scsi-pci on it and has
# the inner guest write a random pattern to the disk and read it back.
# The target's own counters must show the I/O, so a guest that never
# reached the LUN cannot pass.
set -uo pipefail

flavour=${1:-}
here=$(dirname "$(realpath "$0")")
# shellcheck disable=SC1091
. "$here/../guest-lib.sh"

T=/sys/kernel/config/target
wwpn=naa.5001405a11ce0001
nexus=naa.5001405a11ce0002
tpgt=1
lun=0
mib=4
dev=$T/core/rd_mcp_0/hp_inner_disk
tpg=$T/vhost/$wwpn/tpgt_$tpgt

load_flavour() {
	case $flavour in
	stock)
		hp_load_stock vhost_scsi
		;;
	ours)
		[ -f "${HP_MODDIR:-$HP_ROOT}/drivers/vhost/vhost_scsi.ko" ] ||
			hp_skip "drivers/vhost/vhost_scsi.ko is not built yet"
		hp_load drivers/vhost/vhost_scsi.ko
		;;
	*)
		hp_die "usage: $0 stock|ours"
		;;
	esac
}

setup_target() {
	mkdir -p "$dev" || hp_die "cannot create the rd_mcp device"
	echo "rd_pages=$((mib * 256 * 4))" > "$dev/control" ||
		hp_die "cannot size the rd_mcp device"
	echo 1 > "$dev/enable" || hp_die "cannot enable the rd_mcp device"
	mkdir -p "$tpg/lun/lun_$lun" || hp_die "cannot create the vhost TPG"
	ln -s "$dev" "$tpg/lun/lun_$lun/hp_port" || hp_die "cannot map the LUN"
	echo "$nexus" > "$tpg/nexus" || hp_die "cannot create the I_T nexus"
}

# Undo setup_target, including the fabric directory that pins the module.
teardown_target() {
	[ -d "$T/vhost" ] || return 0
	if [ -d "$tpg" ]; then
		rm -f "$tpg/lun/lun_$lun/hp_port" &&
			rmdir "$tpg/lun/lun_$lun" &&
			echo NULL > "$tpg/nexus" &&
			rmdir "$tpg" "$T/vhost/$wwpn" || return 1
	fi
	rmdir "$T/vhost" || return 1
	[ -d "$dev" ] || return 0
	rmdir "$dev" "$T/core/rd_mcp_0"
}

counter() {
	cat "$dev/statistics/scsi_lu/$1"
}

main() {
	local rc w0 r0 w1 r1

	hp_kvm
	load_flavour
	hp_configfs
	setup_target
	w0=$(counter write_mbytes)
	r0=$(counter read_mbytes)
	"$HP_ROOT/tools/testing/vm/inner-guest.sh" \
		--env HP_SCSI_CTL="0:$tpgt:$lun" --env HP_MIB=$mib \
		"$here/disk-rw.sh" -- \
		-device "vhost-scsi-pci,wwpn=$wwpn"
	rc=$?
	w1=$(counter write_mbytes)
	r1=$(counter read_mbytes)
	echo "vhost-scsi-disk: LUN counters: written $((w1 - w0)) MiB, read $((r1 - r0)) MiB"
	teardown_target || hp_die "cannot tear the target down"
	hp_unload vhost_scsi
	[ $rc = 0 ] || hp_die "the inner guest failed ($rc)"
	[ $((w1 - w0)) -ge $mib ] ||
		hp_die "the LUN saw less than $mib MiB of writes"
	[ $((r1 - r0)) -ge $mib ] ||
		hp_die "the LUN saw less than $mib MiB of reads"
	echo "vhost-scsi-disk: $flavour: ok"
}

main
