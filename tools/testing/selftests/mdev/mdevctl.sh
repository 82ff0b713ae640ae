#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# mdevctl against the loaded core: types, start, list, stop.  Run through
# run.sh (which loads the modules).  TAP output; exit 4 if no mdevctl.

command -v mdevctl >/dev/null 2>&1 || { echo "mdevctl not installed"; exit 4; }

U=5ca1ab1e-0000-4000-8000-$(printf '%012x' $$)
P=mdev_sample.0
T=mdev_sample-small
n=0
fail=0

ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n $2"
	else
		echo "not ok $n $2"
		fail=1
	fi
}

echo "TAP version 13"
echo "1..6"
out=$(mdevctl types -p $P 2>&1)
echo "$out" | sed 's/^/# /'
echo "$out" | grep -q "$T" && echo "$out" | grep -q "Available instances: 4"
ok $? "types lists $T with 4 available instances"

mdevctl start -u $U -p $P --type $T
ok $? "start -u -p --type"

[ -e /sys/bus/mdev/devices/$U ] &&
	[ "$(basename "$(readlink /sys/bus/mdev/devices/$U/mdev_type)")" = $T ]
ok $? "the device exists with the right type"

out=$(mdevctl list 2>&1)
echo "$out" | sed 's/^/# /'
echo "$out" | grep -q "$U $P $T"
ok $? "list shows it"

mdevctl stop -u $U
ok $? "stop"

[ ! -e /sys/bus/mdev/devices/$U ] && [ -z "$(mdevctl list)" ] &&
	[ "$(cat /sys/class/mdev_bus/$P/mdev_supported_types/$T/available_instances)" = 4 ]
ok $? "gone from sysfs and list, instance given back"
exit $fail
