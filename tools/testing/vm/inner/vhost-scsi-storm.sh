#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vhost-scsi-storm.sh stock|ours [SECS]
#
# Runs in the test guest (issue 13, scenario 1, with real clients).  An
# inner guest on vhost-scsi-pci with two queues runs, for SECS seconds
# (default 40), fio random write with verification on LUN 0 (rd_mcp),
# fio random read/write on LUN 1 (a null_blk LUN that holds every command
# 50 ms, so that the guest's commands are in flight when the LUN goes)
# and sg_reset -d on both (tools/testing/vm/inner/fio-storm.sh).
# Meanwhile this script unlinks LUN 1 through configfs and links it again.
# Each link stays until the guest has sent LUN 1 a command, at least
# LINKED_MS and at most HOLD_MS; the figures count the cycles the guest
# reached so.  LUN 0's data must verify with no I/O error, every unlink
# and link must return within OP_BOUND seconds, the guest must have
# reached LUN 1 in at least a tenth of the cycles, and the TPG and the
# module must come off afterwards.
#
# A Linux guest's virtio_scsi never sends ABORT TASK: its eh_timed_out
# resets the timer of every command (the host answers each one), so a
# short command timeout does not make it abort.  ABORT TASK under LUN
# cycles is the userspace guest's part (tools/testing/stress).
set -uo pipefail

flavour=${1:-}
secs=${2:-40}
here=$(dirname "$(realpath "$0")")
# shellcheck disable=SC1091
. "$here/../guest-lib.sh"
slow_ms=50
# shellcheck source-path=SCRIPTDIR source=target.sh
. "$here/target.sh"

OP_BOUND=30
LINKED_MS=100
HOLD_MS=2000
link=$tpg/lun/lun_1/hp_port

# op WHAT CMD...: run a configfs write, check its bound, track the slowest.
# Timed with bash's EPOCHREALTIME (microseconds): a fork of date(1) for
# every timestamp cost more than the configfs write under TCG.
op() {
	local what=$1 t0 ms
	shift

	t0=${EPOCHREALTIME/[.,]/}
	"$@" || hp_die "vhost-scsi-storm: $flavour: $what failed"
	ms=$(((${EPOCHREALTIME/[.,]/} - t0) / 1000))
	[ $ms -le $((OP_BOUND * 1000)) ] ||
		hp_die "vhost-scsi-storm: $flavour: $what took ${ms} ms"
	if [ $ms -gt "$max_ms" ]; then
		max_ms=$ms
		max_what=$what
	fi
}

# hold: after a link, wait until the guest has sent LUN 1 a command (and
# count the cycle as reached), at least LINKED_MS and at most HOLD_MS
hold() {
	local t0=${EPOCHREALTIME/[.,]/} c0 c ms

	read -r c0 < "$slowdev/statistics/scsi_lu/num_cmds"
	while :; do
		sleep 0.02
		read -r c < "$slowdev/statistics/scsi_lu/num_cmds"
		ms=$(((${EPOCHREALTIME/[.,]/} - t0) / 1000))
		if [ "$c" -gt "$c0" ] && [ $ms -ge $LINKED_MS ]; then
			reached=$((reached + 1))
			return
		fi
		[ $ms -lt $HOLD_MS ] || return
	done
}

main() {
	local ipid rc cycles=0 reached=0 max_ms=0 max_what=- k0

	hp_kvm
	tgt_load
	hp_configfs
	tgt_setup slow
	k0=$(dmesg | wc -l)
	HP_INNER_TRACE=0 "$HP_ROOT/tools/testing/vm/inner-guest.sh" \
		--host-root --mem 1024 --timeout $((secs + 240)) \
		--env HP_SECS="$secs" --env HP_LUN0="0:$tpgt:0" \
		--env HP_LUN1="0:$tpgt:1" "$here/fio-storm.sh" -- \
		-device "vhost-scsi-pci,wwpn=$wwpn,num_queues=2" &
	ipid=$!
	while kill -0 $ipid 2>/dev/null; do
		op unlink rm "$link"
		op link ln -s "$slowdev" "$link"
		cycles=$((cycles + 1))
		hold
	done
	wait $ipid
	rc=$?
	echo "vhost-scsi-storm: $flavour: $cycles LUN 1 cycles ($reached" \
		"reached by the guest), slowest" \
		"configfs call ${max_ms} ms ($max_what), LUN 1 commands" \
		"$(tgt_counter num_cmds "$slowdev"), LUN 0 written" \
		"$(tgt_counter write_mbytes) MiB"
	# the figures for make stress (tools/testing/stress/report)
	echo "# real-storm: secs=$secs lun1_cycles=$cycles" \
		"lun1_reached=$reached slowest_ms=$max_ms" \
		"lun1_cmds=$(tgt_counter num_cmds "$slowdev")" \
		"lun0_written_mib=$(tgt_counter write_mbytes)" \
		"host_log_lines=$(($(dmesg | wc -l) - k0))"
	# what the host logged meanwhile, most frequent first
	echo "vhost-scsi-storm: $flavour: the host logged $(($(dmesg | wc -l) - k0)) lines:"
	dmesg | tail -n +$((k0 + 1)) | sed 's/^\[[^]]*\] //' | sort | uniq -c |
		sort -rn | head -n 5 | sed 's/^/  /'
	[ $rc = 0 ] || hp_die "vhost-scsi-storm: $flavour: the inner guest failed ($rc)"
	[ $cycles -gt 0 ] || hp_die "vhost-scsi-storm: $flavour: no LUN cycle"
	[ $((reached * 10)) -ge $cycles ] ||
		hp_die "vhost-scsi-storm: $flavour: the guest reached LUN 1 in" \
			"only $reached of $cycles cycles"
	tgt_teardown || hp_die "vhost-scsi-storm: $flavour: cannot tear the target down"
	hp_unload vhost_scsi
	echo "vhost-scsi-storm: $flavour: ok"
}

main
