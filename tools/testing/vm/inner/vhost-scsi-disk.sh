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

# shellcheck source-path=SCRIPTDIR source=target.sh
. "$here/target.sh"

main() {
	local rc w0 r0 w1 r1

	hp_kvm
	tgt_load
	hp_configfs
	tgt_setup
	w0=$(tgt_counter write_mbytes)
	r0=$(tgt_counter read_mbytes)
	"$HP_ROOT/tools/testing/vm/inner-guest.sh" \
		--env HP_SCSI_CTL="0:$tpgt:0" --env HP_MIB=$mib \
		"$here/disk-rw.sh" -- \
		-device "vhost-scsi-pci,wwpn=$wwpn"
	rc=$?
	w1=$(tgt_counter write_mbytes)
	r1=$(tgt_counter read_mbytes)
	echo "vhost-scsi-disk: LUN counters: written $((w1 - w0)) MiB, read $((r1 - r0)) MiB"
	tgt_teardown || hp_die "cannot tear the target down"
	hp_unload vhost_scsi
	[ $rc = 0 ] || hp_die "the inner guest failed ($rc)"
	[ $((w1 - w0)) -ge $mib ] ||
		hp_die "the LUN saw less than $mib MiB of writes"
	[ $((r1 - r0)) -ge $mib ] ||
		hp_die "the LUN saw less than $mib MiB of reads"
	echo "vhost-scsi-disk: $flavour: ok"
}

main
