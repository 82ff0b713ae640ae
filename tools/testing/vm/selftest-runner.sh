#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Tests of the VM runner itself: the gate must close on a WARNING, a hung
# task, a hang that never ends, a triple fault and (on lockdep kernels) a
# lockdep report, and must stay open for a clean test.  Each case boots its
# own VM.
#
# Usage: selftest-runner.sh [--kernel debian|debug]
# Prints TAP and "<label>: N passed, N failed".
set -uo pipefail
here=$(dirname "$(realpath "$0")")
root=$(realpath "$here/../../..")
kernel=debian
[ "${1:-}" = "--kernel" ] && kernel=$2
label=gate-$kernel
base=${OUT:-$root/out}/$label
mkdir -p "$base"

n=0 pass=0 fail=0 skip=0
result() {	# ok|not-ok|skip name detail
	n=$((n + 1))
	case $1 in
	ok) pass=$((pass + 1)); echo "ok $n $2" ;;
	skip) skip=$((skip + 1)); echo "ok $n $2 # SKIP $3" ;;
	*) fail=$((fail + 1)); echo "not ok $n $2 # $3" ;;
	esac
}

# run case-name extra-args... ; sets rc, tap, log.  RUNNER=run-nested
# runs the case through that wrapper instead of run-tests.
run() {
	local name=$1
	shift
	log=$base/$name.log
	"$here/${RUNNER:-run-tests}" --kernel "$kernel" --label "$label-$name" \
		--out "$base/$name" "$@" > "$log" 2>&1
	rc=$?
	tap=$base/$name/results.tap
}

# What a failing case's runner said, for the one line CI shows: the first
# test it failed, and the complaints the test printed (PATTERN) in its log.
said() {	# case test pattern
	local first told tlog=$base/$1/logs/$2.log

	first=$(grep -m 1 '^not ok ' "$tap" 2>/dev/null | cut -c1-160)
	[ -f "$tlog" ] &&
		told=$(grep -E "$3" "$tlog" | head -n 4 | paste -s -d '|' | cut -c1-300)
	printf 'rc=%s; %s; %s; see %s' "$rc" "${first:-no TAP line}" \
		"${told:-the test said nothing}" "$log"
}

echo "TAP version 13"

# Without a VM: two declared warnings printed at once by two CPUs leave
# nothing behind, and an undeclared one printed in the middle of a
# declared one is still seen: it is the first bad line left
# (tools/testing/vm/drop-expected.awk on gate/interleaved.log).
left=$(awk -v pats=<(echo 'WARNING: .* vfio_group_release') \
	-v bad="$here/bad-patterns" -f "$here/drop-expected.awk" \
	"$here/gate/interleaved.log" | grep -E -f "$here/bad-patterns" | head -n 1)
if [ "$left" = "[  313.700003] WARNING: CPU: 1 PID: 77 at lib/kobject.c:1 kobject_put+0x1/0x2" ]; then
	result ok runner-keeps-interleaved-declared-reports-apart
else
	result not-ok runner-keeps-interleaved-declared-reports-apart "first bad line left: ${left:-none}"
fi

# The debug kernel adds only lockdep to what the gate must catch; the rest
# of the runner is the same code and was shown on Debian's kernel.
if [ "$kernel" = debug ]; then
	run lockdep "$here/gate/lockdep.list"
	if [ $rc != 0 ] && grep -q '^not ok 1 gate-lockdep # kernel log: .*possible circular locking' "$tap"; then
		result ok runner-fails-on-lockdep-report
	else
		result not-ok runner-fails-on-lockdep-report "rc=$rc, see $log"
	fi
	echo "1..$n"
	echo "$label: $pass passed, $fail failed, $skip skipped"
	[ $fail = 0 ]
	exit
fi

run clean-and-warn "$here/gate/clean-and-warn.list"
if [ $rc != 0 ] && grep -q '^ok 1 gate-clean$' "$tap" &&
   grep -q '^not ok 2 gate-warn # kernel log: .*WARNING' "$tap"; then
	result ok runner-passes-clean-test-and-fails-on-warning
else
	result not-ok runner-passes-clean-test-and-fails-on-warning "rc=$rc, see $log"
fi
if [ $rc != 0 ] && grep -q '^ok 3 gate-expected-warn$' "$tap" &&
   grep -q '^not ok 4 gate-expected-missing # expected kernel report did not appear: WARNING: .* hp_gate_nowhere$' "$tap"; then
	result ok runner-forgives-declared-report-only
else
	result not-ok runner-forgives-declared-report-only "rc=$rc, see $log"
fi
if [ $rc != 0 ] && grep -q '^not ok 5 gate-hung-task # kernel log: .*blocked for more than' "$tap"; then
	result ok runner-fails-on-hung-task
else
	result not-ok runner-fails-on-hung-task "rc=$rc, see $log"
fi
if [ $rc != 0 ] && grep -q '^not ok 6 gate-oops # kernel log: .*BUG' "$tap" &&
   grep -q '^not ok 7 gate-after-oops # not run: the kernel oopsed in gate-oops' "$tap"; then
	result ok runner-fails-on-oops-and-stops
else
	result not-ok runner-fails-on-oops-and-stops "rc=$rc, see $log"
fi

run hang "$here/gate/hang.list"
# ... shows where the test's tasks wait, and stops: what they hold, later
# tests may wait on too.
if [ $rc != 0 ] &&
   grep -q '^not ok 1 gate-hang # timed out after 20s and left tasks stuck in the kernel: [0-9]* bash' "$tap" &&
   grep -q 'stacks| .*\[hp_gate\]' "$log" &&
   grep -q '^not ok 2 gate-after-hang # not run: gate-hang is stuck in the kernel$' "$tap"; then
	result ok runner-times-out-stuck-test-shows-stacks-stops
else
	result not-ok runner-times-out-stuck-test-shows-stacks-stops "rc=$rc, see $log"
fi

start=$(date +%s)
HP_PROGRESS_SLACK=10 run freeze --boot-timeout 60 "$here/gate/freeze.list"
took=$(($(date +%s) - start))
if [ $rc != 0 ] && grep -q '^not ok 1 gate-freeze # guest hung (no progress for' "$tap" &&
   grep -q '^not ok 2 gate-after-freeze # not run: guest hung' "$tap" &&
   [ "$(grep -c '^  RIP ' "$log")" -ge 2 ] && [ $took -lt 300 ]; then
	result ok runner-times-out-frozen-guest-and-shows-cpus
else
	result not-ok runner-times-out-frozen-guest-and-shows-cpus "rc=$rc after ${took}s, see $log"
fi

run reset "$here/gate/reset.list"
if [ $rc != 0 ] && grep -q '^not ok 1 gate-reset # test VM reset itself' "$tap" &&
   grep -q '^not ok 2 gate-after-reset # not run: test VM reset itself' "$tap" &&
   [ "$(grep -c '^  RIP ' "$log")" -ge 2 ]; then
	result ok runner-fails-on-reset-and-shows-cpus
else
	result not-ok runner-fails-on-reset-and-shows-cpus "rc=$rc, see $log"
fi

run inner "$here/gate/inner.list"
if [ $rc = 0 ] && grep -q '^ok 1 gate-inner-retry$' "$tap"; then
	result ok inner-guest-boots-again-only-before-init
else
	result not-ok inner-guest-boots-again-only-before-init \
		"$(said inner gate-inner-retry '^(early|late): ')"
fi

# run-nested boots the test VM a second time after a panic in a QEMU
# thread whose report names nothing of ours, once, for the tests that did
# not pass; after a panic in another task, or one naming our code (the
# gate module, in a task named as QEMU's), it does not.
RUNNER=run-nested run nested-panic "$here/gate/nested-panic.list"
first=$base/nested-panic.boot1/results.tap
second=$(tr -d '\r' < "$base/nested-panic/console.log" 2>/dev/null |
	grep -E '^vmtest: \[[0-9]+/[0-9]+\] [^ ]+ \.\.\.$' | cut -d' ' -f3 | paste -s -d ' ')
if [ $rc = 0 ] && grep -q '^not ok 2 gate-nested-panic # test VM reset itself' "$first" &&
   [ "$second" = "gate-nested-panic gate-nested-after" ] &&
   grep -q '^ok 1 gate-nested-before$' "$tap" &&
   grep -q '^ok 2 gate-nested-panic (second boot: .*sysrq triggered crash)$' "$tap" &&
   grep -q '^ok 3 gate-nested-after (second boot: ' "$tap"; then
	result ok nested-runner-boots-again-after-qemu-thread-panic
else
	result not-ok nested-runner-boots-again-after-qemu-thread-panic \
		"rc=$rc; second boot ran: ${second:-nothing}; see $log"
fi
RUNNER=run-nested run nested-other "$here/gate/nested-other.list"
if [ $rc != 0 ] && [ ! -e "$base/nested-other.boot1" ] &&
   grep -q '^not ok 1 gate-nested-other-panic # test VM reset itself' "$tap"; then
	result ok nested-runner-fails-on-other-panic
else
	result not-ok nested-runner-fails-on-other-panic "rc=$rc; see $log"
fi
RUNNER=run-nested run nested-ours "$here/gate/nested-ours.list"
if [ $rc != 0 ] && [ ! -e "$base/nested-ours.boot1" ] &&
   grep -q '^not ok 1 gate-nested-ours-panic # test VM reset itself' "$tap"; then
	result ok nested-runner-fails-on-panic-naming-our-code
else
	result not-ok nested-runner-fails-on-panic-naming-our-code "rc=$rc; see $log"
fi

result skip runner-fails-on-lockdep-report "Debian's kernel has no lockdep; runs on the debug kernel"

echo "1..$n"
echo "$label: $pass passed, $fail failed, $skip skipped"
[ $fail = 0 ]
