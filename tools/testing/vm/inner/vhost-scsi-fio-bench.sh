#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vhost-scsi-fio-bench.sh stock|ours ROUND SECS
#
# Runs in the test guest: the real-guest points of make bench
# (tools/testing/bench/run).  An rd_mcp LUN through vhost-scsi (the running
# kernel's vhost_scsi.ko for "stock", ours for "ours"), an inner guest
# with two CPUs on -device vhost-scsi-pci,num_queues=2, and fio in it: 4
# KiB random read and random write at queue depth 32, one job per CPU and
# so per request queue, SECS seconds each (tools/testing/vm/inner/
# fio-bench.sh).  Prints "# bench:" lines for tools/testing/bench/report
# and a kselftest-style totals line; the target's counters must show the
# I/O.
set -uo pipefail

flavour=${1:-}
round=${2:?round}
secs=${3:?seconds per workload}
here=$(dirname "$(realpath "$0")")
# shellcheck disable=SC1091
. "$here/../guest-lib.sh"
# shellcheck source-path=SCRIPTDIR source=target.sh
. "$here/target.sh"

totals() {
	echo "# Totals: pass:$((1 - $1)) fail:$1 xfail:0 xpass:0 skip:0 error:0"
}

die() {
	totals 1
	hp_die "$*"
}

main() {
	local rc out r0 r1 w0 w1 figures rw f

	echo "# vhost_scsi_real_bench: $flavour module, round $round, ${secs}s per workload"
	hp_kvm
	tgt_load
	hp_configfs
	tgt_setup
	r0=$(tgt_counter read_mbytes)
	w0=$(tgt_counter write_mbytes)
	out=$("$HP_ROOT/tools/testing/vm/inner-guest.sh" --host-root --smp 2 \
		--mem 768 --timeout $((2 * secs + 600)) \
		--env HP_SECS="$secs" --env HP_LUN0="0:$tpgt:0" \
		"$here/fio-bench.sh" -- \
		-device "vhost-scsi-pci,wwpn=$wwpn,num_queues=2" | tr -d '\r')
	rc=$?
	echo "$out"
	r1=$(tgt_counter read_mbytes)
	w1=$(tgt_counter write_mbytes)
	echo "vhost-scsi-fio-bench: LUN counters: read $((r1 - r0)) MiB, written $((w1 - w0)) MiB"
	tgt_teardown || die "cannot tear the target down"
	hp_unload vhost_scsi
	if [ $rc != 0 ] || ! grep -q "^fio-bench: ok" <<< "$out"; then
		die "the inner guest failed ($rc)"
	fi
	if [ $((r1 - r0)) = 0 ] || [ $((w1 - w0)) = 0 ]; then
		die "the LUN's counters do not show fio's reads and writes"
	fi
	# fio-bench: rw=R iops=N ... errors=0 -> point=real-R-4k-j2-d32 iops=N ...
	figures=$(sed -n 's/^fio-bench: rw=\([a-z]*\) \(.*\) errors=0$/\1 \2/p' <<< "$out")
	[ "$(grep -c . <<< "$figures")" = 2 ] ||
		die "fio gave no figures for both workloads"
	while read -r rw f; do
		echo "# bench: flavour=$flavour round=$round" \
			"point=real-$rw-4k-j2-d32 $f queues=2 depth=32 secs=$secs"
	done <<< "$figures"
	totals 0
	echo "vhost-scsi-fio-bench: $flavour: ok"
}

main
