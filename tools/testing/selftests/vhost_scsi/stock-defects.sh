#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# stock-defects.sh [--kernel debian|debug]
#
# Runs on the host.  Each test of unsafe.stock against Debian's
# vhost_scsi.ko, in a VM boot of its own: these defects corrupt the
# kernel, so nothing else may run after them.  The boot has SLUB's own
# checks on (slub_debug=FZPU): without KASAN, a bogus kfree() or a write
# to freed memory would go unseen until it took a later test down.
#
# The defect shows when the test fails, the kernel reports (an oops, a
# SLUB or KASAN report, lockdep, a WARNING), or the guest hangs or
# resets; then the case passes.  A test that passes against stock fails
# the case (the suite no longer sees the defect), unless the defect is
# marked "sometimes:".
#
# Prints TAP and "stock-defects: N passed, N failed, N skipped".
#
# stock-defects.sh --guest FIXTURE.TEST SUITE runs one case in the VM.
set -uo pipefail
here=$(dirname "$(realpath "$0")")
root=$(realpath "$here/../../../..")

# In the guest: the test against stock, ended early once the kernel has
# reported (the test itself may then wait for good on what the report
# left behind: its verdict is the report).
guest() {
	local name=$1 suite=$2 pid pat

	pat=$(paste -sd'|' "$root/tools/testing/vm/bad-patterns")
	# A defect that wedges a task shows as a hung-task report: after
	# 20 s here, not the runner's 60 (each case has a boot of its own).
	echo 20 > /proc/sys/kernel/hung_task_timeout_secs
	VSG_ONLY=$name VSG_STOCK_UNSAFE=1 "$here/run.sh" stock "$suite" &
	pid=$!
	while kill -0 $pid 2>/dev/null; do
		if dmesg | grep -q -E "$pat"; then
			sleep 3
			echo "stock-defects: the kernel reported; the test is not waited for"
			exit 1
		fi
		sleep 1
	done
	wait $pid
}

if [ "${1:-}" = --guest ]; then
	guest "$2" "$3"
	exit
fi

kernel=debian
[ "${1:-}" = "--kernel" ] && kernel=$2
base=${OUT:-$root/out}/stock-defects-$kernel
rm -rf "$base"
mkdir -p "$base"

n=0 pass=0 fail=0 skip=0
result() {	# ok|not-ok|skip name detail
	n=$((n + 1))
	case $1 in
	ok) pass=$((pass + 1)); echo "ok $n $2${3:+ # $3}" ;;
	skip) skip=$((skip + 1)); echo "ok $n $2 # SKIP $3" ;;
	*) fail=$((fail + 1)); echo "not ok $n $2 # $3" ;;
	esac
}

# judge NAME DEFECT TAP-LINE TEST-LOG
judge() {
	local name=$1 defect=$2 line=$3 log=$4 why sometimes=0

	case $defect in sometimes:*) sometimes=1 ;; esac
	case $line in
	"ok 1 "*"# SKIP"*)
		result skip "$name" "${line#*# SKIP }"
		;;
	"ok 1 "*)
		if [ $sometimes = 1 ]; then
			result ok "$name" "did not show this time (a race): $defect"
		else
			result not-ok "$name" "stock did not show its defect: $defect"
		fi
		;;
	"not ok 1 "*"# exit status"*)
		# the test itself must have failed, not the run around it
		why=$(grep -m1 -E ':Expected |Test terminated' "$log")
		if grep -q "^not ok 1 $name\$" "$log"; then
			result ok "$name" "shown, test failed: ${why:-see $log}"
		else
			result not-ok "$name" "the run failed before the test did: see $log"
		fi
		;;
	"not ok 1 "*)
		result ok "$name" "shown: ${line#*# }"
		;;
	*)
		result not-ok "$name" "no verdict: see $base"
		;;
	esac
}

echo "TAP version 13"
while read -r name suite defect; do
	case "$name" in ''|'#'*) continue ;; esac
	dir=$base/$name
	mkdir -p "$dir"
	vt="stock-defect-$name"
	echo "$vt 150 tools/testing/selftests/vhost_scsi/stock-defects.sh --guest $name $suite" \
		> "$dir.list"
	HP_APPEND="${HP_APPEND:-} slub_debug=FZPU" \
		"$root/tools/testing/vm/run-tests" --kernel "$kernel" --label "$vt" \
		--out "$dir" "$dir.list" > "$dir.log" 2>&1
	judge "$name" "$defect" "$(grep -m1 -E '^(not )?ok 1 ' "$dir/results.tap" 2>/dev/null)" \
		"$dir/logs/$vt.log"
done < "$here/unsafe.stock"

echo "1..$n"
echo "stock-defects: $pass passed, $fail failed, $skip skipped"
[ $fail = 0 ]
