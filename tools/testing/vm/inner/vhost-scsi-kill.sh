#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vhost-scsi-kill.sh stock|ours
#
# Runs in the test guest (issue 13, scenario 2: kill and restart).  An
# inner guest on vhost-scsi-pci (two queues) writes LUN 0 (rd_mcp) and
# reads LUN 1, a null_blk LUN that holds each command for 200 ms, with 8
# readers, so that commands are in flight on both LUNs at any moment.
# Then QEMU is killed with SIGKILL.  Closing /dev/vhost-scsi in the dying
# QEMU must drain everything in flight, so QEMU must be gone within
# KILL_BOUND seconds; a new QEMU on the same WWPN must then write and read
# back LUN 0, and the TPG and the module must come off.
set -uo pipefail

flavour=${1:-}
here=$(dirname "$(realpath "$0")")
# shellcheck disable=SC1091
. "$here/../guest-lib.sh"
# shellcheck source-path=SCRIPTDIR source=target.sh
. "$here/target.sh"

KILL_BOUND=30		# seconds from SIGKILL to QEMU's exit
BUSY_LIMIT=240		# seconds for the inner guest to boot and get busy
inner=$HP_ROOT/tools/testing/vm/inner-guest.sh

# gone PID: the process has exited (its files are closed: a zombie counts)
gone() {
	local st

	st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)
	[ -z "$st" ] || [ "$st" = Z ] || [ "$st" = X ]
}

# busy_wait PID: wait until the inner guest's loops show in the slow
# LUN's counter; 1 if the inner guest ends first or takes too long.
busy_wait() {
	local n0 n1 i=0

	n0=$(tgt_counter num_cmds "$slowdev")
	while [ $i -lt $((BUSY_LIMIT * 2)) ]; do
		kill -0 "$1" 2>/dev/null || return 1
		n1=$(tgt_counter num_cmds "$slowdev")
		[ $((n1 - n0)) -ge 64 ] && grep -q "disk-busy: running" "$work/busy/console.log" &&
			return 0
		sleep 0.5
		i=$((i + 1))
	done
	return 1
}

# kill_qemu: SIGKILL the busy inner guest's QEMU with commands in flight;
# sets "ms" to the time it took to exit.
kill_qemu() {
	local qpid n0 n1 t0 t1

	qpid=$(pgrep -f -- "$work/busy/initramfs.cpio") ||
		hp_die "vhost-scsi-kill: no QEMU of the busy inner guest"
	n0=$(tgt_counter num_cmds "$slowdev")
	sleep 1
	n1=$(tgt_counter num_cmds "$slowdev")
	[ "$n1" -gt "$n0" ] ||
		hp_die "vhost-scsi-kill: the slow LUN saw no command in the last second"
	t0=$(date +%s%N)
	kill -9 "$qpid"
	while ! gone "$qpid"; do
		t1=$(date +%s%N)
		if [ $(((t1 - t0) / 1000000000)) -ge $KILL_BOUND ]; then
			echo "vhost-scsi-kill: QEMU ($qpid) still there ${KILL_BOUND}s after SIGKILL"
			hp_task_stacks "$qpid"
			hp_die "vhost-scsi-kill: $flavour: QEMU did not exit"
		fi
		sleep 0.05
	done
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
}

main() {
	local ipid rc w0 r0 w1 r1 ms

	hp_kvm
	tgt_load
	hp_configfs
	tgt_setup slow
	work=$(mktemp -d "${HP_OUT:-/tmp}/kill.XXXXXX") ||
		hp_die "cannot make a work directory"
	"$inner" --work "$work/busy" --timeout $((BUSY_LIMIT + 120)) \
		--env HP_SCSI_CTL="0:$tpgt:0" --env HP_SCSI_SLOW="0:$tpgt:1" \
		--env HP_MIB=$mib "$here/disk-busy.sh" -- \
		-device "vhost-scsi-pci,wwpn=$wwpn,num_queues=2" \
		> "$work/busy.log" 2>&1 &
	ipid=$!
	if ! busy_wait $ipid; then
		kill $ipid 2>/dev/null
		wait $ipid
		sed 's/^/  | /' "$work/busy.log"
		hp_die "vhost-scsi-kill: $flavour: the inner guest never got busy"
	fi
	kill_qemu
	wait $ipid
	echo "vhost-scsi-kill: $flavour: QEMU exited ${ms} ms after SIGKILL," \
		"slow LUN commands so far $(tgt_counter num_cmds "$slowdev")"
	echo "# real-kill: exit_ms=$ms"

	w0=$(tgt_counter write_mbytes)
	r0=$(tgt_counter read_mbytes)
	"$inner" --work "$work/again" --env HP_SCSI_CTL="0:$tpgt:0" \
		--env HP_MIB=$mib "$here/disk-rw.sh" -- \
		-device "vhost-scsi-pci,wwpn=$wwpn"
	rc=$?
	w1=$(tgt_counter write_mbytes)
	r1=$(tgt_counter read_mbytes)
	[ $rc = 0 ] || hp_die "vhost-scsi-kill: $flavour: the new QEMU on $wwpn failed ($rc)"
	[ $((w1 - w0)) -ge $mib ] && [ $((r1 - r0)) -ge $mib ] ||
		hp_die "vhost-scsi-kill: $flavour: LUN 0 saw $((w1 - w0)) MiB written, $((r1 - r0)) read after the restart"
	tgt_teardown || hp_die "vhost-scsi-kill: $flavour: cannot tear the target down"
	hp_unload vhost_scsi
	echo "vhost-scsi-kill: $flavour: ok"
}

main
