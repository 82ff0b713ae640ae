# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The vhost-scsi target of the inner-guest tests, set up in the test
# guest's configfs: one TPG on WWPN $wwpn with an rd_mcp LUN 0 of 16 MiB
# and, with tgt_setup slow, an iblock LUN 1 on a null_blk device that
# completes every command after $slow_ms ms (200 unless set before), so
# that commands are always in flight while a guest reads it.  Source it
# after guest-lib.sh; set "flavour" (stock or ours) first.

T=/sys/kernel/config/target
NULLB=/sys/kernel/config/nullb
wwpn=naa.5001405a11ce0001
nexus=naa.5001405a11ce0002
tpgt=1
mib=4
slow_ms=${slow_ms:-200}
dev=$T/core/rd_mcp_0/hp_inner_disk
slowdev=$T/core/iblock_0/hp_inner_slow
slownb=$NULLB/hpslow
tpg=$T/vhost/$wwpn/tpgt_$tpgt

# A script that fails leaves no target, inner guest or module behind for
# the next test of the boot: its EXIT trap (set by tgt_load) kills its
# background jobs (inner-guest.sh) with their QEMU, tears the target down
# and unloads vhost_scsi.  A script that passes has done that itself, and
# checked it.  After an oops or a KASAN report (taint D or B) it only
# kills: a wait or a teardown could hang on what the oops left locked
# (Debian's module, 2026-12-05: the storm's unlink oopsed in SLUB, and the
# clean-up held the boot for the test's whole limit), and the runner runs
# no test after either.
tgt_on_exit() {
	local rc=$? p

	[ $rc = 0 ] && return 0
	for p in $(jobs -p); do
		pkill -KILL -P "$p"
		kill -KILL "$p"
	done 2> /dev/null
	if (( $(< /proc/sys/kernel/tainted) & (128 | 32) )); then
		echo "target: no clean-up after the failure (exit $rc): the kernel oopsed or reported corruption"
		return $rc
	fi
	wait 2> /dev/null
	# hp_unload exits on failure: in a subshell, so the trap goes on
	if tgt_teardown 2> /dev/null && (hp_unload vhost_scsi) 2> /dev/null; then
		echo "target: cleaned up after the failure (exit $rc)"
	else
		echo "target: could not clean up after the failure (exit $rc):" \
			"the tests after this one may fail"
	fi
	return $rc
}

# shellcheck disable=SC2154 # the caller sets flavour
tgt_load() {
	trap tgt_on_exit EXIT
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

# tgt_slow_lun: LUN 1 on null_blk behind iblock.
tgt_slow_lun() {
	local a

	modprobe null_blk nr_devices=0 && modprobe target_core_iblock ||
		hp_die "cannot load null_blk or target_core_iblock"
	mkdir "$slownb" || hp_die "cannot make a null_blk device"
	for a in size=64 irqmode=2 completion_nsec=$((slow_ms * 1000000)) \
		 hw_queue_depth=64 power=1; do
		echo "${a#*=}" > "$slownb/${a%%=*}" ||
			hp_die "null_blk: cannot set $a"
	done
	mkdir -p "$slowdev" &&
		echo "udev_path=/dev/hpslow" > "$slowdev/control" &&
		echo 1 > "$slowdev/enable" ||
		hp_die "cannot make the iblock device on /dev/hpslow"
	mkdir "$tpg/lun/lun_1" && ln -s "$slowdev" "$tpg/lun/lun_1/hp_port" ||
		hp_die "cannot map the slow LUN"
}

# tgt_setup [slow]
tgt_setup() {
	mkdir -p "$dev" || hp_die "cannot create the rd_mcp device"
	echo "rd_pages=$((mib * 256 * 4))" > "$dev/control" ||
		hp_die "cannot size the rd_mcp device"
	echo 1 > "$dev/enable" || hp_die "cannot enable the rd_mcp device"
	mkdir -p "$tpg/lun/lun_0" || hp_die "cannot create the vhost TPG"
	ln -s "$dev" "$tpg/lun/lun_0/hp_port" || hp_die "cannot map the LUN"
	[ "${1:-}" = slow ] && tgt_slow_lun
	echo "$nexus" > "$tpg/nexus" || hp_die "cannot create the I_T nexus"
}

# Undo tgt_setup, including the fabric directory that pins the module.
tgt_teardown() {
	local l

	[ -d "$T/vhost" ] || return 0
	if [ -d "$tpg" ]; then
		for l in "$tpg"/lun/lun_*; do
			[ -d "$l" ] || continue
			rm -f "$l/hp_port" && rmdir "$l" || return 1
		done
		echo NULL > "$tpg/nexus" &&
			rmdir "$tpg" "$T/vhost/$wwpn" || return 1
	fi
	rmdir "$T/vhost" || return 1
	if [ -d "$slowdev" ]; then
		rmdir "$slowdev" "$T/core/iblock_0" || return 1
	fi
	if [ -d "$slownb" ]; then
		echo 0 > "$slownb/power" && rmdir "$slownb" || return 1
	fi
	[ -d "$dev" ] || return 0
	rmdir "$dev" "$T/core/rd_mcp_0"
}

# tgt_counter STAT [DEV]: a statistics/scsi_lu counter of DEV (LUN 0's)
tgt_counter() {
	cat "${2:-$dev}/statistics/scsi_lu/$1"
}
