#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runner self-test of tools/testing/vm/inner-guest.sh (gate/inner.list),
# run in the test VM.  An inner kernel given no init it can run panics
# before init and resets: inner-guest.sh must show where its CPU was, boot
# it once more, and then fail with 125 (no result).  A script that fails
# after init must fail once, with its own status, and not be booted again.
#
# The second case runs a real inner boot, which under TCG can itself die
# before init now and then (see "Nested guests under TCG"); inner-guest.sh
# boots that once more by design.  So the rule checked is the one the
# script states: no boot after the one in which the script ran.
set -uo pipefail
. tools/testing/vm/guest-lib.sh

work=$(mktemp -d /run/gate-inner.XXXXXX) || hp_die "no work directory"
trap 'rm -rf "$work"' EXIT
hp_kvm
printf 'echo gate-inner-script-ran\nexit 3\n' > "$work/script.sh"
# A boot that reaches no init is stopped after this long; either case has
# at most two boots (gate/inner.list gives the whole test 360 s).
export HP_INNER_INIT_LIMIT=90

# ig OUT [QEMU-ARGS...]: run inner-guest.sh, output to $work/OUT; its status
ig() {
	local out=$work/$1

	shift
	tools/testing/vm/inner-guest.sh --work "$work/w-${out##*/}" \
		"$work/script.sh" -- "$@" > "$out" 2>&1
	local rc=$?
	sed "s/^/${out##*/}| /" "$out"
	return $rc
}

fail=0
ig early -append "console=ttyS0,115200 nokaslr panic=-1 rdinit=/hp-no-init"
rc=$?
[ $rc = 125 ] || { echo "early: status $rc, not 125"; fail=1; }
grep -q '^inner-guest: the inner guest reset itself' "$work/early" ||
	{ echo "early: no reset reported"; fail=1; }
grep -q '^  RIP ' "$work/early" || { echo "early: no RIP shown"; fail=1; }
grep -q '^inner-guest: boot 1 failed before the inner kernel ran init' "$work/early" ||
	{ echo "early: not booted again"; fail=1; }
[ "$(grep -c '^inner-guest: booting ' "$work/early")" = 2 ] ||
	{ echo "early: not exactly two boots"; fail=1; }

ig late
rc=$?
[ $rc = 3 ] || { echo "late: status $rc, not the script's 3"; fail=1; }
[ "$(grep -c 'gate-inner-script-ran$' "$work/late")" = 1 ] ||
	{ echo "late: the script did not run exactly once"; fail=1; }
# Boots after the first one in which the script ran: there must be none.
after=$(awk '/gate-inner-script-ran$/ { ran = 1 }
	     ran && /^inner-guest: booting / { n++ }
	     END { print n + 0 }' "$work/late")
[ "$after" = 0 ] || { echo "late: booted again after the script ran"; fail=1; }
before=$(grep -c '^inner-guest: boot [0-9]* failed before the inner kernel ran init' "$work/late")
[ "$before" = 0 ] ||
	echo "late: $before boot(s) died before init and were booted again (TCG; not this test's rule)"
exit $fail
