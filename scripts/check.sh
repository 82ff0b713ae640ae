#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What "make check" runs.  Every step is a TAP test; a failing step does
# not stop the ones after it.  The last line is "N passed, N failed, N
# skipped" over all of them, and the exit status is 0 only with no failure.
#
# Usage: scripts/check.sh all|lint|debian|debug
# Environment (from the Makefile): CACHE OUT KVER KDIR KSRC; and
# HP_CHECK_BUDGET, the seconds the whole run may take (default 4800: CI
# stops a run at 90 min, setup included).  No VM runs past the budget: a
# hang costs the rest of the run, never the summary at its end.
set -uo pipefail
mode=${1:-all}
root=$(realpath "$(dirname "$0")/..")
cd "$root" || exit 2
: "${CACHE:?} ${OUT:?} ${KVER:?} ${KDIR:?} ${KSRC:?}"
res=$OUT/check
rm -rf "$res"
mkdir -p "$res"
begin=$(date +%s)
export HP_DEADLINE=$((begin + ${HP_CHECK_BUDGET:-4800}))

step_n=0
current=
debug_bg=
# Stopped from outside (CI's own time limit, say): say where.
on_signal() {
	echo "check: stopped by a signal after $(($(date +%s) - begin))s${current:+, in step $current; its last lines:}"
	[ -n "$current" ] && tail -n 30 "$res/$current.log" | cut -c1-200 | sed 's/^/  | /'
	[ -n "$debug_bg" ] && kill -TERM -- "-$debug_bg" 2>/dev/null
	exit 143
}
trap on_signal TERM INT

# step NAME CMD...: run, log to $res/NAME.log, record ok/not ok.  The
# progress lines of the VM runner (a line per test) show as they come.
step() {
	local name=$1 t0 took rc
	shift
	t0=$(date +%s)
	echo "check: $name ..."
	current=$name
	"$@" 2>&1 | tee "$res/$name.log" |
		grep --line-buffered -E '^(vmtest: \[[0-9]+/[0-9]+\] |run-tests: )' |
		sed -u -e 's/^\(.\{200\}\).*/\1/' -e 's/^/  /'
	rc=${PIPESTATUS[0]}
	current=
	step_n=$((step_n + 1))
	if [ "$rc" = 0 ]; then
		echo "ok $step_n $name" >> "$res/steps.tap"
	else
		echo "not ok $step_n $name # see $res/$name.log" >> "$res/steps.tap"
		tail -n 30 "$res/$name.log" | sed 's/^/  | /'
	fi
	took=$(($(date +%s) - t0))
	echo "check: $name: $([ "$rc" = 0 ] && echo ok || echo FAILED) (${took}s)"
	echo "$name ${took}s" >> "$res/times"
	return "$rc"
}

kbuild() {	# KDIR M extra-args...
	local kdir=$1 m=$2
	shift 2
	make -C "$kdir" M="$m" HP_KSRC="$KSRC" "$@"
}

# Not one warning about a file of TREE in a build's LOG (W=1, sparse,
# modpost).
build_clean() {	# TREE LOG
	if grep -E "^$1/.*(warning|error):|WARNING: modpost" "$2"; then
		echo "build: the warnings above must be fixed"
		return 1
	fi
}

# A W=1 build with sparse on every file of ours; any warning fails.
build_lint() {
	kbuild "$KDIR" "$root" clean > /dev/null
	kbuild "$KDIR" "$root" W=1 C=2 -j2 modules 2>&1 | tee "$res/build-raw.log"
	[ "${PIPESTATUS[0]}" = 0 ] || return 1
	build_clean "$root" "$res/build-raw.log" || return 1
	echo "build: no warnings from W=1 and sparse"
	scripts/vhost-layout.sh --strict "$KDIR" "$KSRC" \
		"$root/drivers/vhost/vhost_scsi.ko"
}

# The layout check must refuse a module whose vhost.h is not the running
# vhost.ko's: ours for 6.1 against 6.12's vhost.ko (after build_lint).
vhost_layout_refuses() {
	local kver kdir ksrc ko=$res/vhost_scsi-6.1.ko

	kver=$(scripts/kver.sh linux-headers-6.12-amd64) || return 1
	kdir=/usr/src/linux-headers-$kver
	ksrc=$(scripts/ksrc.sh "$CACHE" "$kdir") || return 1
	cp "$root/drivers/vhost/vhost_scsi.ko" "$ko"
	if scripts/vhost-layout.sh --strict "$kdir" "$ksrc" "$ko" \
		> "$res/layout.log" 2>&1; then
		cat "$res/layout.log"
		echo "vhost-layout: a 6.1 build passed against 6.12's vhost.ko"
		return 1
	fi
	if ! grep -q '^vhost-layout: .*: struct vhost_virtqueue differs' "$res/layout.log" ||
	   [ -e "$ko" ]; then
		cat "$res/layout.log"
		echo "vhost-layout: refused, but not for the layout, or kept the module"
		return 1
	fi
	echo "vhost-layout: a 6.1 build is refused against 6.12's vhost.ko, and removed"
}

# The lint build against another kernel a Debian 12 host runs, named by
# its headers' meta package, in a copy of the tree (the Debian tier uses
# $root's build); then our mdev's CRCs against that kernel's, if it has
# an mdev (the cloud flavour has no CONFIG_VFIO_MDEV: ours is then the
# only one, and no module built against that kernel can use another).
lint_kernel() {	# LABEL META
	local kver tree=$OUT/tree-$1

	kver=$(scripts/kver.sh "$2") || return 1
	# its image, for the layout check of vhost.h against its vhost.ko
	scripts/test-kernel.sh "$kver" > /dev/null || return 1
	scripts/tree-modules.sh "$tree" "/usr/src/linux-headers-$kver" \
		W=1 C=2 2>&1 | tee "$res/build-raw-$1.log"
	[ "${PIPESTATUS[0]}" = 0 ] || return 1
	build_clean "$tree" "$res/build-raw-$1.log" || return 1
	echo "build: no warnings from W=1 and sparse against $kver"
	if ! scripts/kernel-has-mdev.sh "/usr/src/linux-headers-$kver"; then
		echo "mdev-crcs: $kver has no mdev of its own: nothing to match"
		return 0
	fi
	mdev_crcs "/usr/src/linux-headers-$kver" "$tree"
}

# Our mdev.ko must export Debian's symbols with Debian's modversions CRCs
# (kvmgt and DKMS parents are built against Debian's headers).  Needs the
# build of build_lint (or any build of the tree against $1).
mdev_crcs() {	# KDIR [tree]
	tools/testing/selftests/mdev/check-crcs.sh "${2:-$root}/Module.symvers" \
		"$1/Module.symvers"
}

checkpatch() {
	local files
	files=$(git ls-files '*.c' '*.h')
	[ -n "$files" ] || return 0
	# shellcheck disable=SC2086
	perl "$KSRC/scripts/checkpatch.pl" --strict --no-tree --quiet \
		--show-types -f $files
}

# Every mutant of make mutants still applies: a driver change that moves
# a mutant's "from" text must move the mutant with it.
mutants_list() {
	tools/testing/mutants/apply.py tools/testing/mutants/mutants.list \
		--check "$root" && echo "mutants: every mutant applies"
}

selftests() {
	make -C "$root" selftests
}

# Stock sample build against Debian's own mdev (see samples/vfio-mdev).
stock_samples() {
	[ -f samples/vfio-mdev/Makefile ] || return 0
	make -C samples/vfio-mdev stock KDIR="$KDIR" KSRC="$KSRC"
}

# The real-guest test runs with the other nested guests (vm_inner) on
# Debian's kernel: in this long 3G boot, after the other tests, nested
# runs met an emulator defect now and then (see vmtests-inner).
vm_debian() {
	tools/testing/vm/run-tests --kernel debian --exclude '^vhost_scsi_ours_guest$' \
		--out "$OUT/vm-debian"
}

# The nested guests run last in the Debian tier, once the debug kernel's
# background build is over: beside its final link (2026-12-05, on a
# fresh machine) the inner guest ran at a third of its speed and fio in
# it failed to start on LUN 0 of the real-guest storm.  run-nested boots
# the test VM once more when the emulator panicked its kernel in a QEMU
# thread (the TAP lines of the tests run again say so).
vm_inner() {
	[ -f tools/testing/vm/vmtests-inner ] || return 0
	debug_build_wait
	HP_VM_MEM=6G tools/testing/vm/run-nested --kernel debian --label inner \
		--out "$OUT/vm-inner" tools/testing/vm/vmtests-inner
}

# The benchmark's smoke runs (vhost_scsi_*_bench, 0.1 s per point) in
# the Debian tier: every point of both modules must have given figures
# that the report can read.  Nothing is timed.
bench_smoke() {
	tools/testing/bench/report --smoke "$OUT/vm-debian/logs"
}

# The VM tier of another kernel a Debian 12 host runs (6.12, rt), with our
# modules from the tree its lint step built against its headers (built
# here when lint did not run) and the tests of tools/testing/vm/vmtests-LABEL.
vm_kernel() {	# LABEL META
	local tree=$OUT/tree-$1 kver

	if [ ! -f "$tree/drivers/vhost/vhost_scsi.ko" ]; then
		kver=$(scripts/kver.sh "$2") || return 1
		scripts/tree-modules.sh "$tree" "/usr/src/linux-headers-$kver" || return 1
	fi
	HP_MODDIR=$tree tools/testing/vm/run-tests --kernel "$1" \
		--out "$OUT/vm-$1" "tools/testing/vm/vmtests-$1"
}

runner_selftest() {
	OUT=$OUT tools/testing/vm/selftest-runner.sh --kernel "$1"
}

# The tests that show a defect of Debian's module by corrupting the
# kernel: each in a boot of its own, and each must still show it.
stock_defects() {
	OUT=$OUT tools/testing/selftests/vhost_scsi/stock-defects.sh --kernel debian
}

# The debug kernel takes about 20 min to build; it is cached in $CACHE.
# Where it is not there yet, "all" starts its build first thing, in a
# session of its own at the lowest CPU priority, beside lint and the
# Debian tier: their TCG guest leaves most of a core idle, and the build
# gets next to nothing of what the guest wants.  The debug-kernel step
# then waits for it.  The step runs in a pipeline (a subshell), so the
# build's status comes back in a file, not from "wait".
debug_kernel_start() {
	local vars

	vars=$(scripts/debug-kernel.sh --print-vars 2>/dev/null) || return 0
	case $vars in
	*DEBUG_READY=1*) return 0 ;;
	esac
	rm -f "$res/debug-kernel-bg.rc"
	# shellcheck disable=SC2016 # expanded by the inner shell
	setsid -w bash -c 'nice -n 19 scripts/debug-kernel.sh > "$1" 2>&1
		echo $? > "$2"' debug-kernel-bg "$res/debug-kernel-bg.log" \
		"$res/debug-kernel-bg.rc" &
	debug_bg=$!
	echo "check: the debug kernel is not built yet: building it beside the other steps (nice 19)"
}

# Wait for debug_kernel_start's background build, if there is one.
debug_build_wait() {
	local t0=$SECONDS

	[ -n "$debug_bg" ] || return 0
	while [ ! -s "$res/debug-kernel-bg.rc" ] &&
	      kill -0 "$debug_bg" 2>/dev/null; do
		sleep 5
	done
	echo "debug-kernel: waited $((SECONDS - t0)) s for the background build"
}

# The debug tier builds our modules against the debug kernel in a copy of
# the tree, so the Debian build stays as it is (mdev-crcs-debug compares
# its exports with the kernel's).  The drivers it loads, though, are the
# debug kernel's own: vhost_scsi, the mdev core and the sample parent as
# the kernel series builds them in that kernel's tree
# (scripts/debug-kernel.sh); they replace the copy's.
debug_kernel() {
	if [ -z "$debug_bg" ]; then
		scripts/debug-kernel.sh
		return
	fi
	debug_build_wait
	cat "$res/debug-kernel-bg.log"
	if [ ! -s "$res/debug-kernel-bg.rc" ]; then
		echo "debug-kernel: the background build ended without a status"
		return 1
	fi
	return "$(cat "$res/debug-kernel-bg.rc")"
}

debug_modules() {
	local vars
	vars=$(scripts/debug-kernel.sh --print-vars) || return 1
	eval "$vars"
	scripts/tree-modules.sh "$OUT/debug-tree" "$DEBUG_KDIR" || return 1
	for ko in drivers/vhost/vhost_scsi.ko drivers/vfio/mdev/mdev.ko \
		  samples/vfio-mdev/mdev_sample.ko; do
		cp "$DEBUG_KDIR/$ko" "$OUT/debug-tree/$ko" || return 1
		echo "debug-modules: $ko from the series, built in $DEBUG_KDIR"
	done
}

debug_mdev_crcs() {
	local vars
	vars=$(scripts/debug-kernel.sh --print-vars) || return 1
	eval "$vars"
	mdev_crcs "$DEBUG_KDIR" "$OUT/debug-tree"
}

# Comparisons with the in-tree modules ran on Debian's kernel already; the
# debug tier is about ours, under KASAN, lockdep and kmemleak.
#
# The real-guest test does not run here: under the debug kernel it took
# 592 s of its 600 (2026-12-02), its inner guest 213 s of 240, and each
# targetcli call 40-50 s; it failed on CI's machine once.  The driver
# paths it drives run here through the io, ctl, race and limits suites,
# and the test itself runs on Debian's kernel (vm-inner).  Counted as a
# skip with this reason.
VM_DEBUG_GUEST_RE='^vhost_scsi_ours_guest$'
VM_DEBUG_GUEST_WHY="a nested real guest under the debug kernel runs at its time limit; it runs on Debian's kernel in vm-inner"
#
# Nor do the tests whose subject is the build rather than a lifetime
# rule, to keep make check within its hour (they took 388 s of the tier's
# 1507 on 2026-12-04): install and kvmgt (what an operator installs runs
# on Debian's kernel; our CRCs against the debug kernel's are checked by
# mdev-crcs-debug), the drop-in variants of the mdev tests (the parent
# built against stock headers matters for Debian's kABI; here the same
# mdev core paths run with our sample), and mdev's benchmark (its
# create/remove cycles are mdev-stress's).  Also counted as a skip.
VM_DEBUG_BUILD_RE='^install-|-dropin$|^mdev-bench$'
VM_DEBUG_BUILD_WHY="about the build and Debian's kABI, not lifetime rules; they run on Debian's kernel in vm-debian"
#
# Nor the tests of what an operator's tools do (targetcli, mdevctl) and
# the benchmark's smoke run: they took 157 s of the tier's 1134 on a
# fresh machine on 2026-12-05, and the driver paths they reach run here
# through the ctl, race, storm and mdev suites, which drive configfs and
# sysfs directly; the tools themselves and the benchmark's figures run
# on Debian's kernel.  Also counted as a skip.
VM_DEBUG_CLIENT_RE='^vhost_scsi_ours_(targetcli|bench)$|^mdev-mdevctl$'
VM_DEBUG_CLIENT_WHY="operator tools and the benchmark's smoke run; the paths they reach run here through the ctl, race, storm and mdev suites, the tools on Debian's kernel in vm-debian"
vm_debug() {
	HP_MODDIR=$OUT/debug-tree HP_VM_MEM=4G \
		tools/testing/vm/run-tests --kernel debug \
		--exclude "stock|$VM_DEBUG_GUEST_RE|$VM_DEBUG_BUILD_RE|$VM_DEBUG_CLIENT_RE" \
		--out "$OUT/vm-debug"
}

# A counted skip of the tests vm_debug leaves out: what, and why.
vm_debug_skip() {	# name regex reason
	step_n=$((step_n + 1))
	echo "ok $step_n vm-debug-$1 # SKIP $2: $3" >> "$res/steps.tap"
}

runner_selftest_debug() {
	HP_MODDIR=$OUT/debug-tree HP_VM_MEM=4G runner_selftest debug
}

# The debug kernel's build needs only 6.1's source (the Makefile has
# installed it): it starts before the other kernels' packages, which only
# make check needs (lint-6.12, lint-rt, lint-cloud, vm-6.12, vm-rt).
[ "$mode" = all ] && debug_kernel_start
scripts/setup.sh --quiet --tests || exit 2
case $mode in
all|lint)
	step build-w1-sparse build_lint
	step mdev-crcs mdev_crcs "$KDIR"
	step lint-6.12 lint_kernel 6.12 linux-headers-6.12-amd64
	step vhost-layout-refuses vhost_layout_refuses
	step lint-rt lint_kernel rt linux-headers-rt-amd64
	step lint-cloud lint_kernel cloud linux-headers-cloud-amd64
	step checkpatch checkpatch
	step mutants-list mutants_list
	;;
esac
case $mode in
all|debian)
	if [ "$mode" != all ]; then
		step build kbuild "$KDIR" "$root" -j2 modules
	fi
	step selftests-build selftests
	step stock-sample-build stock_samples
	step vm-debian vm_debian
	step bench-smoke bench_smoke
	step vm-6.12 vm_kernel 6.12 linux-headers-6.12-amd64
	step vm-rt vm_kernel rt linux-headers-rt-amd64
	step runner-selftest-debian runner_selftest debian
	step stock-defects stock_defects
	step vm-inner vm_inner
	;;
esac
case $mode in
all|debug)
	if step debug-kernel debug_kernel && step debug-modules debug_modules; then
		step mdev-crcs-debug debug_mdev_crcs
		[ "$mode" = debug ] && step selftests-build selftests
		step vm-debug vm_debug
		vm_debug_skip guest "$VM_DEBUG_GUEST_RE" "$VM_DEBUG_GUEST_WHY"
		vm_debug_skip build-tests "$VM_DEBUG_BUILD_RE" "$VM_DEBUG_BUILD_WHY"
		vm_debug_skip client-tests "$VM_DEBUG_CLIENT_RE" "$VM_DEBUG_CLIENT_WHY"
		step runner-selftest-debug runner_selftest_debug
	fi
	;;
esac

# One TAP stream: the steps, and inside the VM steps every test.
{
	echo "TAP version 13"
	cat "$res/steps.tap"
} > "$res/summary.tap"
echo
echo "check: results ($(($(date +%s) - begin))s)"
total_pass=0 total_fail=0 total_skip=0
count() {	# file
	local p s f
	p=$(grep -c '^ok ' "$1")
	s=$(grep -c '^ok .*# SKIP' "$1")
	f=$(grep -c '^not ok ' "$1")
	total_pass=$((total_pass + p - s))
	total_skip=$((total_skip + s))
	total_fail=$((total_fail + f))
}
# The lint and build steps count as tests of their own; the VM steps count
# through the tests they ran.
# (A step's name only: a skip's reason may name a VM step too.)
grep -v -E '^(not )?ok [0-9]+ (vm-[a-z0-9.]+|runner-selftest-[a-z]+|stock-defects)( |$)' \
	"$res/steps.tap" > "$res/own.tap"
sed 's/^/  /' "$res/own.tap"
count "$res/own.tap"
for tap in "$OUT"/vm-debian/results.tap "$OUT"/vm-inner/results.tap \
	   "$OUT"/vm-6.12/results.tap "$OUT"/vm-rt/results.tap \
	   "$OUT"/vm-debug/results.tap; do
	[ -f "$tap" ] || continue
	echo "  # $(basename "$(dirname "$tap")")"
	sed 's/^/  /' "$tap"
	count "$tap"
done
for log in "$res"/runner-selftest-*.log "$res"/stock-defects.log; do
	[ -f "$log" ] || continue
	grep -E '^(not )?ok ' "$log" > "$log.tap"
	echo "  # $(basename "$log" .log)"
	sed 's/^/  /' "$log.tap"
	count "$log.tap"
done
# A VM step that failed without a single failing test (it could not boot,
# say) still fails the run.
failed_steps=
while read -r line; do
	case "$line" in
	"not ok "*)
		name=$(echo "$line" | cut -d' ' -f4)
		failed_steps="$failed_steps $name"
		;;
	esac
	case "$line" in
	"not ok "*vm-*|"not ok "*runner-selftest-*|"not ok "*stock-defects*)
		echo "  # step $name failed"
		if [ $total_fail = 0 ]; then
			total_fail=1
		fi
		;;
	esac
done < "$res/steps.tap"
# Why each failed step failed, for a reader of the end of the output only
# (CI keeps that): the failing tests' own lines, or the step's last lines.
for name in $failed_steps; do
	echo "  # why $name failed:"
	if grep -q ': FAIL ' "$res/$name.log"; then
		awk '/^vmtest: \[[0-9]+\/[0-9]+\] .*: FAIL / { print; n = 25; next }
		     n > 0 && /^vmtest:   / { print; n--; next }
		     { n = 0 }' "$res/$name.log"
	else
		# The runner's verdicts on the boot (a reset, a hang, and
		# the kernel's account of a panic), then the log's end.
		grep -E '^ *run-tests: ' "$res/$name.log" | tail -n 14
		tail -n 15 "$res/$name.log"
	fi | cut -c1-200 | sed 's/^/  | /'
done
# Where the time went, next to the end (all that CI keeps).
[ -f "$res/times" ] &&
	echo "check: $(($(date +%s) - begin))s; by step: $(awk '{ printf "%s%s %s", sep, $1, $2; sep = ", " }' "$res/times")"
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
[ $total_fail = 0 ]
