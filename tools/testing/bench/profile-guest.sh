#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Inside the test VM (tools/testing/bench/profile): one point of
# vhost_scsi_bench, ours and Debian's module in turn, with perf watching
# the whole system for a window at the start of the point.
#
# profile-guest.sh POINT SECS ROUNDS
#   POINT   a point name of vhost_scsi_bench (VSG_BENCH_ONLY)
#   SECS    VSG_BENCH_SECS; perf stat counts the first SECS/2 seconds of
#           the point; perf record samples from before the bench starts
#           to the point's end
#   ROUNDS  rounds of ours and Debian's, alternating which goes first
#
# Per run it prints the bench's figures, what perf stat counted per
# command (context switches, wakeups, migrations, workqueue items,
# interrupts, rescheduling and function-call IPIs) and
# which threads had the samples; the symbols of the vhost worker and of
# the kworkers go to $HP_OUT/profile/<run>-*.txt.
set -u
point=${1:?usage: profile-guest.sh POINT SECS ROUNDS}
secs=${2:?}
rounds=${3:?}
window=$(((secs + 1) / 2))
root=${HP_ROOT:?}
out=${HP_OUT:-/tmp}/profile
vs=$root/tools/testing/selftests/vhost_scsi
# shellcheck source=../vm/guest-lib.sh disable=SC1091
. "$root/tools/testing/vm/guest-lib.sh"
events=task-clock,context-switches,sched:sched_wakeup,sched:sched_migrate_task,workqueue:workqueue_execute_start,irq:irq_handler_entry,irq_vectors:reschedule_entry,irq_vectors:call_function_single_entry
mkdir -p "$out"
command -v perf > /dev/null || { echo "profile: no perf in the VM"; exit 2; }

# Waits for the bench to run its point: VSG_BENCH_MARK exists while the
# point's commands run.
wait_point() {
	for _ in $(seq 1200); do
		[ -e "$1" ] && return 0
		kill -0 "$2" 2> /dev/null || return 1
		sleep 0.05
	done
	return 1
}

# report <name>: the per-run summary and the symbol files
report() {
	local name=$1 data=$out/$1.data
	local line ops worker R comms

	line=$(grep -m1 "^# bench: " "$out/$name.log")
	echo "$name: ${line#\# bench: }"
	ops=$(echo "$line" | grep -o "iops=[0-9]*" | cut -d= -f2)
	ops=$((${ops:-0} * window))
	[ "$ops" -gt 0 ] || { echo "$name: no commands"; return 1; }
	# perf stat -x, lines: value,unit,event,...
	awk -F, -v ops="$ops" -v name="$name" '
		$1 ~ /^[0-9.]+$/ && $3 != "task-clock" {
			printf "%s: %s per command %.2f\n", name, $3, $1 / ops
		}' "$out/$name.stat.csv"
	# perf record started before run.sh loaded the module, and perf
	# report runs after it unloaded it: without the kallsyms of the point
	# perf lumps the module's samples into one bogus kernel symbol; with
	# it, what perf still cannot place shows as [unknown] addresses that
	# $name.kallsyms names
	R="perf report -i $data --kallsyms $out/$name.kallsyms --no-children --stdio -g none"
	comms=$($R --sort comm 2> /dev/null | grep -v "^#" | grep -v "^$")
	echo "$comms" | head -8 | sed "s/^/$name: samples /"
	worker=$(echo "$comms" | grep -o "vhost-[0-9]*" | head -1)
	[ -n "$worker" ] &&
		$R --comm "$worker" --sort dso,sym 2> /dev/null | grep -v "^#" |
		grep -v "^$" | head -40 > "$out/$name-worker.txt"
	$R --sort comm,dso,sym 2> /dev/null | grep "kworker" | head -40 \
		> "$out/$name-kworkers.txt"
	return 0
}

# Enabling a tracepoint patches kernel text (a static key) that the other
# vCPU may be running, and TCG can go on running a stale translation of
# it: on 2026-12-06 both vCPUs of a profile boot locked up in
# process_one_work() when perf stat turned the workqueue tracepoint on
# ("Nested guests under TCG" in Documentation/dev-tools/hotplug-testing.rst).
# So the tracepoints are turned on once, with CPU 0 alone online, and held
# on by an idle perf stat until the end: the runs' own perf stat then
# patches nothing.
# shellcheck disable=SC2317 # run through hp_cpu0_alone
hold_events() {
	perf stat -a -e "$events" -o /dev/null -- sleep 100000 > /dev/null 2>&1 &
	holder=$!
	sleep 2
}
hp_cpu0_alone hold_events ||
	hp_die "profile: cannot take the secondary CPUs offline"
trap 'kill $holder 2> /dev/null' EXIT

rc=0
for r in $(seq "$rounds"); do
	order="ours stock"
	[ $((r % 2)) = 0 ] && order="stock ours"
	for fl in $order; do
		name=$fl-$r
		rm -f "$out/mark"
		# perf record takes seconds to start here: it runs from before
		# the bench to the point's end, and its samples are shares of
		# that whole run
		perf record -q -a -g -o "$out/$name.data" > /dev/null 2>&1 &
		rec=$!
		sleep 5
		VSG_BENCH_ONLY=$point VSG_BENCH_SECS=$secs VSG_BENCH_ROUND=$r \
			VSG_BENCH_MARK=$out/mark \
			"$vs/run.sh" "$fl" bench > "$out/$name.log" 2>&1 &
		bench=$!
		if ! wait_point "$out/mark" "$bench"; then
			echo "profile: $name: the point did not start within 60 s"
			kill -INT "$rec"
			wait "$bench" "$rec"
			rc=1
			continue
		fi
		cp /proc/kallsyms "$out/$name.kallsyms"
		perf stat -a -x, -e "$events" -o "$out/$name.stat.csv" -- \
			sleep "$window" > /dev/null 2>&1
		while [ -e "$out/mark" ] && kill -0 "$bench" 2> /dev/null; do
			sleep 0.2
		done
		kill -INT "$rec"
		wait "$rec"
		wait "$bench" || { echo "profile: $name: the bench failed"; rc=1; }
		report "$name" || rc=1
	done
done
exit $rc
