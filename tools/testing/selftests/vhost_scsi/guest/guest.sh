#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# guest.sh [--demo] [--stock]
#
# A real Linux guest on our vhost_scsi.ko.  Runs in the test VM: maps two
# ramdisk LUNs on one vhost WWN/tpgt with targetcli, boots an inner guest
# (tools/testing/vm/inner-guest.sh, nested KVM) with -device vhost-scsi-pci
# on that WWN and runs inner.sh in it.  While the guest keeps LUN 0 busy
# with verified writes and reads, LUN 1 is unmapped with targetcli (the
# guest's I/O to it must fail with sense data, not hang), mapped again (a
# guest-side rescan brings it back with its data) and a LUN 2 is mapped
# (a rescan finds it).  The two sides take turns through files in a 9p
# share (see inner.sh); the guest's progress lines are shown as they come.
# Finally the target's own counters must show the guest's I/O.
#
# --demo adds "targetcli ls" views for "make demo" (tools/testing/vm/demo.sh
# runs demo.sh, which runs this).  --stock runs the same on Debian's own
# vhost_scsi.ko, on purpose: to compare when the nested setup misbehaves.
set -uo pipefail

here=$(dirname "$(realpath "$0")")
root=${HP_ROOT:-$(realpath "$here/../../../..")}
# shellcheck source-path=SCRIPTDIR source=../../../vm/guest-lib.sh
. "$root/tools/testing/vm/guest-lib.sh"

demo=0
flavour=ours
for arg in "$@"; do
	case $arg in
	--demo) demo=1 ;;
	--stock) flavour=stock ;;
	*) hp_die "usage: guest.sh [--demo] [--stock]" ;;
	esac
done
wwn=naa.5001405c0ffee001
tpgt=1
tpg=/vhost/$wwn/tpg1
cfs=/sys/kernel/config/target
bs=(vsgguest0 vsgguest1 vsgguest2)
wait_s=${VSG_GUEST_WAIT:-150}	# per turn, both sides
ig_timeout=${VSG_GUEST_TIMEOUT:-240}
slow_s=${VSG_GUEST_SLOW:-60}	# a targetcli run longer than this is shown
ko=${HP_MODDIR:-$root}/drivers/vhost/vhost_scsi.ko
work=
share=
igpid=
shown=0

say() {
	echo "vsg-guest: [${SECONDS}s] $*"
}

# A heading for each step.
part() {
	echo
	echo "vsg-guest: ==== $* ===="
}

# Shown in demo mode only: a targetcli view of the configuration.
show() {
	[ $demo = 1 ] || return 0
	echo "vsg-guest: targetcli ls $1"
	targetcli ls "$1" 2>&1 | sed 's/^/    /'
}

# run_watched INPUT CMD...: run CMD reading INPUT, its output in
# $work/tc.log.  Every $slow_s it still runs, show where it and any
# blocked task are in the kernel, and let it go on (the test's own timeout
# bounds it): a slow step then says whether it waits or computes.
run_watched() {
	local in=$1 pid i=0

	shift
	"$@" < "$in" > "$work/tc.log" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		if [ $i -gt 0 ] && [ $((i % (slow_s * 5))) = 0 ]; then
			say "$1 still runs after $((i / 5))s; kernel stacks:"
			hp_task_stacks "$pid" | sed 's/^/    /'
		fi
		sleep 0.2
		i=$((i + 1))
	done
	wait "$pid"
}

tc() {
	say "targetcli $*"
	run_watched /dev/null targetcli "$@" || {
		sed 's/^/    /' "$work/tc.log"
		return 1
	}
	say "targetcli done"
}

# tc_batch CMD...: one targetcli start for several commands (each start
# costs about 15 s under TCG).  It does not report errors in its exit
# status: callers check configfs afterwards.
tc_batch() {
	local c

	for c in "$@"; do
		say "targetcli $c"
	done
	printf '%s\n' "$@" exit > "$work/tc.in"
	run_watched "$work/tc.in" targetcli
	say "targetcli done"
	grep -i -e error -e 'no such' "$work/tc.log" | sed 's/^/    /'
}

lun_dir() {
	echo "$cfs/vhost/$wwn/tpgt_$tpgt/lun/lun_$1"
}

prepare() {
	command -v targetcli > /dev/null || hp_skip "targetcli is not installed"
	command -v qemu-system-x86_64 > /dev/null ||
		hp_skip "qemu-system-x86_64 is not installed"
	hp_kvm
	hp_configfs
	hp_unload vhost_scsi
	if [ $flavour = stock ]; then
		hp_load_stock vhost_scsi
	else
		[ -f "$ko" ] || hp_skip "drivers/vhost/vhost_scsi.ko is not built"
		hp_load drivers/vhost/vhost_scsi.ko
	fi
	# Ours is out of tree ("O" taint), Debian's is not: make sure nothing
	# (targetcli's "modprobe tcm_vhost", say) put the other in its place.
	if grep -q O /sys/module/vhost_scsi/taint; then
		[ $flavour = ours ] || hp_die "the loaded vhost_scsi is not Debian's"
	else
		[ $flavour = stock ] || hp_die "the loaded vhost_scsi is not ours"
	fi
	# rtslib asks the system bus for tcmu-runner backstores
	if ! pgrep -x dbus-daemon > /dev/null; then
		mkdir -p /run/dbus
		dbus-daemon --system --fork || hp_die "cannot start dbus-daemon"
	fi
	work=$(mktemp -d /run/vsg-guest.XXXXXX) || hp_die "no work directory"
	share=$work/share
	mkdir "$share" || hp_die "cannot make $share"
}

map_luns() {
	tc_batch "/backstores/ramdisk create name=${bs[0]} size=16M" \
		 "/backstores/ramdisk create name=${bs[1]} size=16M" \
		 "/vhost create $wwn" \
		 "$tpg/luns create /backstores/ramdisk/${bs[0]} lun=0" \
		 "$tpg/luns create /backstores/ramdisk/${bs[1]} lun=1"
	if [ ! -d "$(lun_dir 0)" ] || [ ! -d "$(lun_dir 1)" ]; then
		hp_die "targetcli did not map LUNs 0 and 1"
	fi
	[ "$(cat "$cfs/vhost/$wwn/tpgt_$tpgt/nexus")" != "" ] ||
		hp_die "targetcli made no I_T nexus"
	show /
}

boot_inner() {
	say "booting the inner guest: -device vhost-scsi-pci,wwpn=$wwn"
	"$root/tools/testing/vm/inner-guest.sh" --timeout "$ig_timeout" \
		--module virtio_pci --module virtio_scsi --module sd_mod \
		--module 9pnet_virtio --module 9p \
		--env HP_TPGT=$tpgt --env HP_WAIT="$wait_s" "$here/inner.sh" -- \
		-device "vhost-scsi-pci,wwpn=$wwn" \
		-virtfs "local,path=$share,mount_tag=hpsync,security_model=none,id=hpsync" \
		> "$work/inner-guest.log" 2>&1 &
	igpid=$!
}

# Print the guest's progress lines that have not been shown yet.
relay() {
	local n

	[ -f "$share/inner.log" ] || return 0
	n=$(wc -l < "$share/inner.log")
	[ "$n" -gt "$shown" ] || return 0
	sed -n "$((shown + 1)),${n}p" "$share/inner.log" | sed 's/^/guest| /'
	shown=$n
}

# wait_inner FILE [SECS]: until the inner guest writes FILE to the share,
# at most SECS (default $wait_s).
wait_inner() {
	local i=0 limit=${2:-$wait_s}

	while [ ! -e "$share/$1" ]; do
		relay
		[ -e "$share/failed" ] && return 1
		kill -0 "$igpid" 2>/dev/null || { relay; return 1; }
		if [ $i -ge $((limit * 5)) ]; then
			say "no '$1' from the inner guest after ${limit}s"
			return 1
		fi
		sleep 0.2
		i=$((i + 1))
	done
	relay
}

counters() {
	local i d

	for i in 0 1 2; do
		d=$(ls -d "$cfs"/core/rd_mcp_*/"${bs[$i]}" 2>/dev/null) || continue
		[ -n "$d" ] || continue
		printf 'vsg-guest: LUN %d %s: %s commands, %s MiB read, %s MiB written%s\n' \
			"$i" "${bs[$i]}" "$(stat_of "$d" num_cmds)" \
			"$(stat_of "$d" read_mbytes)" "$(stat_of "$d" write_mbytes)" \
			"$([ -d "$(lun_dir "$i")" ] || echo ' (not mapped)')"
	done
}

stat_of() {
	cat "$1/statistics/scsi_lu/$2"
}

# End the run early: tell the guest, wait for inner-guest.sh (bounded by
# its own timeout, and killing it would leave QEMU behind), show its log.
finish_inner() {
	[ -n "$igpid" ] || return 0
	[ -n "$share" ] && touch "$share/abort"
	wait "$igpid"
	ig_rc=$?
	igpid=
	relay
	sed 's/^/inner-guest| /' "$work/inner-guest.log"
	return $ig_rc
}

cleanup() {
	finish_inner > /dev/null
	if [ -d "$cfs/vhost/$wwn" ] || ls -d "$cfs"/core/rd_mcp_*/vsgguest* > /dev/null 2>&1; then
		tc_batch "/vhost delete $wwn" "/backstores/ramdisk delete ${bs[0]}" \
			 "/backstores/ramdisk delete ${bs[1]}" \
			 "/backstores/ramdisk delete ${bs[2]}" > /dev/null
	fi
	[ -d "$cfs/vhost" ] && rmdir "$cfs/vhost"
	hp_unload vhost_scsi
	[ -n "$work" ] && rm -rf "$work"
}

fail() {
	say "FAIL: $*"
	finish_inner
	exit 1
}

turns() {
	# inner-guest.sh boots again (once) when a boot fails before init
	wait_inner ready $((wait_s + ${HP_INNER_INIT_LIMIT:-150})) ||
		fail "the inner guest did not get its disks ready"
	counters
	part "unmap LUN 1 while the guest uses LUNs 0 and 1"
	tc "$tpg/luns" delete lun1 || fail "targetcli could not unmap LUN 1"
	[ ! -e "$(lun_dir 1)" ] || fail "LUN 1 is still in configfs"
	show "$tpg"
	touch "$share/unmapped"
	wait_inner unmapped-ok || fail "the guest's I/O to the unmapped LUN 1"
	counters
	part "map LUN 1 again"
	tc "$tpg/luns" create "/backstores/ramdisk/${bs[1]}" lun=1 ||
		fail "targetcli could not map LUN 1 again"
	touch "$share/remapped"
	wait_inner remapped-ok || fail "the guest's I/O to the remapped LUN 1"
	counters
	part "map a new LUN 2"
	tc_batch "/backstores/ramdisk create name=${bs[2]} size=16M" \
		 "$tpg/luns create /backstores/ramdisk/${bs[2]} lun=2"
	[ -d "$(lun_dir 2)" ] || fail "targetcli did not map LUN 2"
	show "$tpg"
	touch "$share/lun2"
	wait_inner lun2-ok || fail "the guest's rescan and I/O on LUN 2"
	part "stop the guest's LUN 0 loop and check it"
	wait_inner "done" || fail "the guest's final check of LUN 0"
}

# The target saw what the guest says it did: LUN 0 got the 4 MiB pattern
# and the loop's cycles, LUNs 1 and 2 their 1 MiB patterns.
check_counters() {
	local d w i min

	counters
	for i in 0 1 2; do
		min=1
		[ $i = 0 ] && min=4
		d=$(ls -d "$cfs"/core/rd_mcp_*/"${bs[$i]}")
		w=$(stat_of "$d" write_mbytes)
		[ "$w" -ge $min ] ||
			fail "LUN $i: the target saw $w MiB of writes, not $min"
	done
}

main() {
	prepare
	trap cleanup EXIT
	part "map LUNs 0 and 1 on $wwn tpgt $tpgt with targetcli"
	map_luns
	part "boot a guest on the $flavour vhost_scsi; it writes, reads and keeps LUN 0 busy"
	boot_inner
	turns
	finish_inner || fail "the inner guest failed"
	part "the target's counters"
	check_counters
	say "ok: guest I/O on LUN 0 never failed while LUN 1 was unmapped," \
		"remapped and LUN 2 was added"
}

main
