#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh <ours|stock> <suite>...
#
# Runs vhost_scsi_<suite> inside the test VM against one flavour of the
# vhost_scsi module: "ours" (drivers/vhost/vhost_scsi.ko, loaded by path)
# or "stock" (Debian's, loaded on purpose for comparison).
#
# The verdict is about ours.  For stock, tests named in xfail.stock show a
# known defect of Debian's 6.1 module: their failure is logged as
# "expected to fail on stock" and does not fail the run, and their pass
# does (the test no longer sees the defect), unless the defect is marked
# "sometimes:" (a race that stock loses only now and then).  Any other
# failure fails the run for both flavours.
set -u

flavour=${1:?usage: run.sh ours|stock suite...}
shift
root=${HP_ROOT:-$(realpath "$(dirname "$0")/../../../..")}
dir=$root/tools/testing/selftests/vhost_scsi
out=${HP_OUT:-/tmp}
# shellcheck source=../../vm/guest-lib.sh
. "$root/tools/testing/vm/guest-lib.sh"

case "$flavour" in
ours|stock) ;;
*) hp_die "run.sh: flavour must be ours or stock, not $flavour" ;;
esac

for suite in "$@"; do
	[ -x "$dir/vhost_scsi_$suite" ] ||
		hp_skip "vhost_scsi_$suite not built: run make in $dir"
done

hp_configfs
modprobe target_core_mod || hp_die "cannot load target_core_mod"
modprobe target_core_file || hp_die "cannot load target_core_file"
# a previous test may have left either flavour loaded
hp_unload vhost_scsi
if [ "$flavour" = ours ]; then
	[ -f "${HP_MODDIR:-$root}/drivers/vhost/vhost_scsi.ko" ] ||
		hp_skip "drivers/vhost/vhost_scsi.ko is not built"
	hp_load drivers/vhost/vhost_scsi.ko
else
	hp_load_stock vhost_scsi
fi
[ -c /dev/vhost-scsi ] || hp_die "no /dev/vhost-scsi after loading $flavour"

# classify <tap-file>: prints a verdict per failure, returns 1 on a real one
classify() {
	awk -v flavour="$flavour" -v xfail="$dir/xfail.stock" '
	BEGIN {
		if (flavour == "stock")
			while ((getline line < xfail) > 0) {
				if (line ~ /^#/ || line == "")
					continue
				name = line; sub(/[ \t].*/, "", name)
				why = line; sub(/^[^ \t]*[ \t]+/, "", why)
				x[name] = why
			}
	}
	/^1\.\.[0-9]+$/ { plan = substr($1, 4) + 0 }
	/^(not )?ok / { n++ }
	/^not ok / {
		name = $4
		if (name in x) {
			print "# XFAIL " name ": expected to fail on stock: " x[name]
			next
		}
		print "# FAIL " name; bad = 1; next
	}
	/^ok / && !/# SKIP/ {
		if (!($3 in x))
			next
		if (x[$3] ~ /^sometimes: /) {
			print "# XPASS " $3 ": stock did not show this time: " x[$3]
			next
		}
		print "# FAIL " $3 ": stock did not show its defect: " x[$3]
		bad = 1
	}
	END {
		if (plan == "" || n != plan) {
			print "# FAIL incomplete TAP: " n " results, plan " plan
			bad = 1
		}
		exit bad
	}' "$1"
}

rc=0
for suite in "$@"; do
	tap=$out/vhost_scsi-$flavour-$suite.tap
	echo "# vhost_scsi_$suite against $flavour"
	VSG_FLAVOUR=$flavour "$dir/vhost_scsi_$suite" 2>&1 | tee "$tap"
	classify "$tap" || rc=1
done

# Tests remove what they create; leftovers are a failure.  The fabric
# directory itself pins the module, so it goes before the unload.
cfs=/sys/kernel/config/target/vhost
if [ -d $cfs ]; then
	if [ -n "$(ls $cfs | grep -v -e discovery_auth -e version)" ]; then
		echo "# FAIL leftover vhost WWNs: $(ls $cfs)"
		rc=1
	fi
	rmdir $cfs || hp_die "cannot remove $cfs"
fi
hp_unload vhost_scsi
[ $rc = 0 ] && echo "# vhost_scsi $flavour $*: verdict PASS" ||
	echo "# vhost_scsi $flavour $*: verdict FAIL"
exit $rc
