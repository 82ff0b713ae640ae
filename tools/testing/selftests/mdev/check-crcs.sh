#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check-crcs.sh <our Module.symvers> <kernel Module.symvers>
#
# Our mdev.ko is a drop-in for the kernel's only if every symbol the
# kernel's mdev.ko exports is exported by ours with the same modversions
# CRC: modules built against the kernel's headers (kvmgt, DKMS parents)
# refuse to load otherwise ("disagrees about version of symbol").  The
# kernel's Module.symvers is the reference list: every line of module
# drivers/vfio/mdev/mdev.  Prints one line per symbol; exits non-zero on
# any missing symbol, different CRC or export type, or when the reference
# has no mdev symbol at all (nothing would have been compared).
set -u
ours=$1 ref=$2

[ -f "$ours" ] || { echo "no $ours: build first"; exit 1; }
[ -f "$ref" ] || { echo "no $ref"; exit 1; }

# The CRC is 0x00000000 in a build without CONFIG_MODVERSIONS: nothing to
# compare against then, and that must not pass silently either.
fail=0 n=0
while IFS=$'\t' read -r crc sym mod type _; do
	[ "$mod" = drivers/vfio/mdev/mdev ] || continue
	n=$((n + 1))
	line=$(awk -F'\t' -v s="$sym" '$2 == s && $3 ~ /drivers\/vfio\/mdev\/mdev$/' "$ours")
	if [ -z "$line" ]; then
		echo "not ok $sym: kernel $crc, not exported by ours"
		fail=1
		continue
	fi
	ocrc=$(echo "$line" | cut -f1)
	otype=$(echo "$line" | cut -f4)
	if [ "$crc" = 0x00000000 ]; then
		echo "not ok $sym: the kernel has no modversions CRC"
		fail=1
	elif [ "$ocrc" != "$crc" ] || [ "$otype" != "$type" ]; then
		echo "not ok $sym: kernel $crc $type, ours $ocrc $otype"
		fail=1
	else
		echo "ok $sym $crc $type"
	fi
done < "$ref"

if [ $n = 0 ]; then
	echo "not ok: $ref exports nothing from drivers/vfio/mdev/mdev"
	exit 1
fi
# Exports of ours that the kernel's mdev.ko does not have are not an ABI
# break, but nothing built against the kernel could use them: report.
awk -F'\t' '$3 ~ /drivers\/vfio\/mdev\/mdev$/ { print $2 }' "$ours" |
while read -r sym; do
	grep -q "	$sym	drivers/vfio/mdev/mdev	" "$ref" ||
		echo "# note: $sym is exported by ours only"
done
echo "$n symbols compared: $([ $fail = 0 ] && echo "all match" || echo "MISMATCH")"
exit $fail
