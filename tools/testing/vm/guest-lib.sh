# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Helpers for tests that run inside the test VM.  Source it:
#   . "$HP_ROOT/tools/testing/vm/guest-lib.sh"

# Modules of ours are loaded by path from HP_MODDIR, the tree built against
# the running kernel.  Debian's copies of the same names are never loaded
# by accident: hp_load refuses a module that is already loaded from
# somewhere else.

hp_die() {
	echo "$*" >&2
	exit 1
}

# hp_load <path/relative/to/repo.ko> [param=value ...]
hp_load() {
	local ko=$1 name dep
	shift
	case "$ko" in
	/*) ;;
	*) ko=${HP_MODDIR:-$HP_ROOT}/$ko ;;
	esac
	[ -f "$ko" ] || hp_die "hp_load: $ko not built"
	name=$(modinfo -F name "$ko")
	if grep -q "^$name " /proc/modules; then
		hp_die "hp_load: a module named $name is already loaded"
	fi
	for dep in $(modinfo -F depends "$ko" | tr ',' ' '); do
		# A dependency of ours is loaded by path by the caller first;
		# everything else comes from the running kernel.
		grep -q "^$dep " /proc/modules && continue
		modprobe "$dep" || hp_die "hp_load: cannot load $dep for $ko"
	done
	insmod "$ko" "$@" || hp_die "hp_load: insmod $ko failed"
	# For the host's map of a frozen guest's CPUs to module code.
	[ -n "${HP_OUT:-}" ] && cat /proc/modules > "$HP_OUT/modules.txt"
}

# hp_load_stock <name>: the running kernel's own module, on purpose.
hp_load_stock() {
	local name=$1
	if grep -q "^$name " /proc/modules; then
		hp_die "hp_load_stock: $name is already loaded"
	fi
	modprobe "$name" || hp_die "hp_load_stock: modprobe $name failed"
}

# hp_unload <name>
hp_unload() {
	grep -q "^$1 " /proc/modules || return 0
	rmmod "$1" || hp_die "hp_unload: rmmod $1 failed"
}

# hp_configfs: configfs mounted at /sys/kernel/config.
hp_configfs() {
	modprobe configfs 2>/dev/null
	mountpoint -q /sys/kernel/config ||
		mount -t configfs configfs /sys/kernel/config ||
		hp_die "hp_configfs: cannot mount configfs"
}

# hp_expect_report <ERE>: this test provokes a kernel report on purpose;
# ERE matches its first line, e.g. 'WARNING: .* foo_unregister\+'.  The
# runner then requires it and forgives it (see guest-run).
hp_expect_report() {
	[ -n "${HP_EXPECT:-}" ] || return 0
	printf '%s\n' "$1" >> "$HP_EXPECT"
}

# hp_kvm: make /dev/kvm ready for inner guests, once per boot: load
# kvm_amd (or kvm_intel) and start tools/testing/vm/kvm-hold.py, whose idle
# VM keeps KVM's static keys enabled for the rest of the boot.  Both steps
# patch kernel text (static calls, static keys).  Under TCG a vCPU running
# code that the other vCPU patches can go on executing a stale translation
# of it and freeze the test VM ("Nested guests under TCG" in
# Documentation/dev-tools/hotplug-testing.rst), so they run with every CPU
# but the boot CPU offline: then nothing executes what is patched.  Skips
# the test when the CPU has neither SVM nor VMX.
hp_kvm() {
	local pidfile=/run/hp-kvm-hold.pid mod=kvm_amd rc=0

	if [ -s $pidfile ] && kill -0 "$(cat $pidfile)" 2>/dev/null; then
		return 0
	fi
	grep -qw vmx /proc/cpuinfo && mod=kvm_intel
	grep -qw -e svm -e vmx /proc/cpuinfo ||
		hp_skip "the test VM's CPU has neither SVM nor VMX, so no inner guest"
	hp_cpu0_alone hp_kvm_load $mod $pidfile || rc=$?
	case $rc in
	125) hp_die "hp_kvm: cannot take the secondary CPUs offline" ;;
	2) hp_die "hp_kvm: modprobe $mod gave no /dev/kvm" ;;
	3) hp_die "hp_kvm: kvm-hold.py could not create its VM" ;;
	esac
}

# hp_kvm_load MODULE PIDFILE: hp_kvm's steps that patch kernel text.
hp_kvm_load() {
	if [ ! -c /dev/kvm ]; then
		modprobe "$1" || return 2
		[ -c /dev/kvm ] || return 2
	fi
	python3 "${HP_ROOT:?}/tools/testing/vm/kvm-hold.py" "$2" || return 3
}

# hp_cpu0_alone CMD...: run CMD (in this shell) with every CPU but CPU 0
# offline, then bring them back; CMD's status, or 125 when the CPUs could
# not be taken offline.  For what patches kernel text under TCG (hp_kvm).
hp_cpu0_alone() {
	local off rc=0

	off=$(hp_cpus_offline) || return 125
	"$@" || rc=$?
	# shellcheck disable=SC2086 # a list of CPU numbers
	hp_cpus_online $off
	return $rc
}

# hp_cpus_offline: take every online CPU but CPU 0 offline; print their
# numbers.  On failure, bring back those already taken and fail.
hp_cpus_offline() {
	local f n off=

	for f in /sys/devices/system/cpu/cpu[0-9]*/online; do
		[ -e "$f" ] || continue
		n=${f%/online}
		n=${n##*/cpu}
		[ "$n" = 0 ] && continue
		[ "$(cat "$f")" = 1 ] || continue
		if ! echo 0 > "$f"; then
			# shellcheck disable=SC2086 # a list of CPU numbers
			hp_cpus_online $off
			return 1
		fi
		off="$off $n"
	done
	echo "${off# }"
}

# hp_cpus_online N...: bring the given CPUs back online.
hp_cpus_online() {
	local n

	for n in "$@"; do
		echo 1 > "/sys/devices/system/cpu/cpu$n/online" ||
			echo "hp_cpus_online: cannot bring CPU $n back online" >&2
	done
}

# hp_install <module>...: "make install" the tree under test (HP_MODDIR,
# for the kernel under test) as users do, and fail unless modinfo now
# resolves each module to updates/.
hp_install() {
	local m path

	make -s -C "$HP_MODDIR" install HP_NO_SETUP=1 KDIR="$HP_KDIR"
	for m in "$@"; do
		path=$(modinfo -n "$m")
		case "$path" in
		*/updates/*) ;;
		*) hp_die "modinfo $m resolves to $path, not updates/" ;;
		esac
	done
}

# hp_skip <reason>: end the test as skipped (exit 4, reason last).
hp_skip() {
	echo "$*"
	exit 4
}

# hp_task_stacks [--user] [PID...]: the state and kernel stack of the given
# tasks, of every task in uninterruptible sleep (state D), of the vhost
# workers and of every kernel thread whose stack is in LIO, vhost or our
# drivers; with --user, of every user-space task too.  For a step that
# takes too long: it shows where it waits, without sysrq (whose "Call
# Trace:" lines would fail the run's kernel log check).
hp_task_stacks() {
	local d pid comm state user=0 shown=" "

	[ "${1:-}" = --user ] && { user=1; shift; }
	for d in "$@" /proc/[0-9]*; do
		case $d in /proc/*) ;; *) d=/proc/$d ;; esac
		pid=${d#/proc/}
		case $shown in *" $pid "*) continue ;; esac
		comm=$(cat "$d/comm" 2>/dev/null) || continue
		state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' \
			"$d/status" 2>/dev/null)
		hp_task_wanted "$pid" "$comm" "$state" "$user" "$@" || continue
		shown="$shown$pid "
		echo "task $pid ($comm) state $state, wchan $(cat "$d/wchan" 2>/dev/null):"
		sed 's/^/    /' "$d/stack" 2>/dev/null
	done
}

# hp_task_wanted PID COMM STATE USER [PID...]: for hp_task_stacks.
hp_task_wanted() {
	local pid=$1 comm=$2 state=$3 user=$4

	shift 4
	case " $* " in *" $pid "*) return 0 ;; esac
	[ "$state" = D ] && return 0
	case $comm in vhost-*) return 0 ;; esac
	# a kernel thread somewhere in LIO, vhost or our drivers (an
	# interruptible wait there, such as a semaphore, is not state D)
	grep -qsE '(target_|transport_|core_tmr|sbc_|vhs_|vhost|mdev)' \
		"/proc/$pid/stack" && return 0
	# A user-space task has a command line (procfs files show size 0, so
	# read it); this shell is not of interest.
	[ "$user" = 1 ] && [ "$pid" != $$ ] && [ "$pid" != "$BASHPID" ] &&
		[ -n "$(head -c 1 "/proc/$pid/cmdline" 2>/dev/null | tr -d '\0')" ]
}
