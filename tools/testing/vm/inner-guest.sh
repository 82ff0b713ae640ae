#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a nested guest from INSIDE the TCG test guest and run a script in it.
#
# Usage: inner-guest [options] SCRIPT [-- QEMU-ARGS...]
#   --kver KVER      kernel to boot (default: the Debian kernel of the tests)
#   --timeout SECS   hard limit for each boot (default 300)
#   --mem MB         inner guest memory (default 512)
#   --smp N          inner guest CPUs (default 1)
#   --module NAME    load this module (and its dependencies) from the inner
#                    kernel's /lib/modules in the inner guest; repeatable;
#                    default virtio_pci virtio_scsi sd_mod
#   --env VAR=VALUE  set VAR for SCRIPT; repeatable
#   --work DIR       keep the initramfs, console log and registers here
#                    (default: a new directory under $HP_OUT or /tmp)
#   --accel ACCEL    kvm (default) or tcg, for comparing
#   --host-root      share the test guest's root read-only over 9p (tag
#                    "hostroot", with the 9p modules) so that SCRIPT can
#                    run the host's programs (fio, sg3-utils) in a chroot
#
# SCRIPT runs with busybox sh as root in an initramfs made of busybox-static
# and the listed modules, beside the helpers of inner/lib.sh (/hp/lib.sh); everything after "--" goes to qemu-system-x86_64
# as is (for example -device vhost-scsi-pci,wwpn=naa.5001405...).
# SCRIPT's output comes back over the inner serial console between markers
# and is printed on stdout; the exit status is SCRIPT's.  125 means the
# inner guest never reported (crash, no boot), 124 a timeout: then the CPU
# registers are dumped through the QEMU monitor and every RIP is mapped to a
# symbol with the inner kernel's System.map (the guest boots with nokaslr).
# A guest that resets itself before reporting (triple fault, panic) leaves
# QEMU paused, not gone: its registers are taken the same way at once.
# Lines of the inner kernel's log that match tools/testing/vm/bad-patterns
# (WARNING, BUG, KASAN, lockdep, ...) are printed and make the run fail.
#
# A boot that fails before the inner kernel runs its init (it resets itself,
# or prints no init marker within HP_INNER_INIT_LIMIT seconds, default 150)
# has started no vhost device: what failed is the emulated machine, not the
# code under test (see "Nested guests under TCG" in
# Documentation/dev-tools/hotplug-testing.rst).  Its registers and KVM trace
# are shown, its files kept as boot<N>-*, and the guest is booted again, at
# most HP_INNER_BOOTS times in all (default 2).  A boot that fails after init
# is never booted again.
#
# The inner CPU model is qemu64 (HP_INNER_CPU overrides it): with -cpu max
# or host, the XSAVE sizes that nested KVM reports under the TCG guest do
# not add up and the inner kernel WARNs in fpu__init_system_xstate().

set -uo pipefail

here=$(dirname "$(realpath "$0")")
root=$(realpath "$here/../../..")
export HP_ROOT=${HP_ROOT:-$root}
# shellcheck source-path=SCRIPTDIR source=guest-lib.sh
. "$here/guest-lib.sh"
kver=${HP_INNER_KVER:-}
timeout=300
init_limit=${HP_INNER_INIT_LIMIT:-150}
boots=${HP_INNER_BOOTS:-2}
mem=512
smp=1
accel=kvm
work=
modules=()
envs=()
qemu_args=()
host_root=0
script=

usage() {
	sed -n '4,35s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

parse_args() {
	while [ $# -gt 0 ]; do
		case $1 in
		--kver) kver=$2; shift ;;
		--timeout) timeout=$2; shift ;;
		--mem) mem=$2; shift ;;
		--smp) smp=$2; shift ;;
		--module) modules+=("$2"); shift ;;
		--env) envs+=("$2"); shift ;;
		--work) work=$2; shift ;;
		--accel) accel=$2; shift ;;
		--host-root) host_root=1 ;;
		--) shift; qemu_args=("$@"); break ;;
		-h|--help) usage ;;
		-*) echo "inner-guest: unknown option $1" >&2; usage ;;
		*) [ -z "$script" ] || usage; script=$1 ;;
		esac
		shift
	done
	if [ -z "$script" ] || [ ! -r "$script" ]; then
		echo "inner-guest: no readable SCRIPT" >&2
		usage
	fi
	[ ${#modules[@]} -gt 0 ] || modules=(virtio_pci virtio_scsi sd_mod)
	if [ $host_root = 1 ]; then
		modules+=(9pnet_virtio 9p)
		qemu_args+=(-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap")
	fi
}

die() {
	echo "inner-guest: $*" >&2
	exit 125
}

pick_kernel() {
	if [ -z "$kver" ]; then
		if [ -r "/boot/vmlinuz-$(uname -r)" ]; then
			kver=$(uname -r)
		else
			kver=$("$root/scripts/kver.sh") || die "no Debian kernel"
		fi
	fi
	bzimage=/boot/vmlinuz-$kver
	sysmap=/boot/System.map-$kver
	[ -r "$bzimage" ] || die "no kernel image $bzimage"
}

# Copy NAME and its dependencies, in load order, into the initramfs.
add_module() {
	local line path base

	modprobe -S "$kver" --show-depends "$1" > "$work/deps" 2>&1 ||
		die "module $1 not found for $kver: $(cat "$work/deps")"
	while read -r line; do
		case $line in
		builtin*) continue ;;
		insmod*) path=$(echo "$line" | awk '{ print $2 }') ;;
		*) die "unexpected modprobe output: $line" ;;
		esac
		base=$(basename "$path")
		base=${base%.xz}
		base=${base%.zst}
		grep -qxF "$base" "$initrd/etc/modules.order" && continue
		case $path in
		*.xz) xz -dc "$path" > "$initrd/lib/modules/$base" ;;
		*.zst) zstd -qdc "$path" > "$initrd/lib/modules/$base" ;;
		*) cp "$path" "$initrd/lib/modules/$base" ;;
		esac || die "cannot copy $path"
		echo "$base" >> "$initrd/etc/modules.order"
	done < "$work/deps"
}

make_initramfs() {
	local m kv

	initrd=$work/root
	rm -rf "$initrd"
	mkdir -p "$initrd"/{bin,etc,hp,lib/modules,proc,sys,dev,tmp}
	cp /bin/busybox "$initrd/bin/busybox" || die "busybox-static missing"
	cp "$here/inner/init" "$initrd/init"
	cp "$script" "$initrd/hp/script.sh"
	cp "$here/inner/lib.sh" "$initrd/hp/lib.sh"
	chmod +x "$initrd/init"
	echo "$nonce" > "$initrd/etc/hp-nonce"
	: > "$initrd/etc/modules.order"
	for m in "${modules[@]}"; do
		add_module "$m"
	done
	: > "$initrd/hp/env"
	for kv in "${envs[@]}"; do
		printf 'export %q\n' "$kv" >> "$initrd/hp/env"
	done
	(cd "$initrd" && find . | cpio -o -H newc --quiet) \
		> "$work/initramfs.cpio" || die "cpio failed"
}

# Debian's /boot/System.map is a stub (the real one is in the -dbg
# package).  When the test guest runs the same kernel with nokaslr, its own
# /proc/kallsyms has the inner kernel's addresses.
pick_symbols() {
	if [ "$(wc -l < "$sysmap" 2>/dev/null || echo 0)" -gt 1000 ]; then
		echo "$sysmap"
	elif [ "$(uname -r)" = "$kver" ] && grep -qw nokaslr /proc/cmdline; then
		echo /proc/kallsyms
	fi
}

# "rip:cpl" for every vCPU in $work/registers.txt, RIPs as 16 lower-case
# hex digits.
rip_list() {
	awk 'match($0, /RIP=[0-9a-fA-F]+/) {
		rip = tolower(substr($0, RSTART + 4, RLENGTH - 4))
		cpl = "?"
		if (match($0, /CPL=[0-9]/))
			cpl = substr($0, RSTART + 4, 1)
		while (length(rip) < 16)
			rip = "0" rip
		printf "%s:%s ", rip, cpl
	}' "$work/registers.txt"
}

# The inner guest's modules as "name:base:size" (base as 16 hex digits),
# from the list its init prints: the test VM's own module addresses say
# nothing about the inner guest's.
inner_modules() {
	tr -d '\r' < "$work/console.log" |
		sed -n "s/^HP-INNER-$nonce-MODULE \([^ ]*\) \([0-9]*\) .* 0x\([0-9a-f]*\)\$/\1 \3 \2/p" |
		awk '{ b = $2; while (length(b) < 16) b = "0" b
		       printf "%s:%s:%s ", $1, b, $3 }'
}

# module_symbol NAME OFFSET: the function of the inner kernel's module NAME
# at OFFSET (hex) into its core, taking .text as the core's first section.
module_symbol() {
	local path=$work/mod-$1.ko ko

	if [ ! -s "$path" ]; then
		ko=$(modinfo -k "$kver" -n "$1" 2>/dev/null)
		case $ko in
		*.xz) xz -dc "$ko" > "$path" ;;
		*.zst) zstd -qdc "$ko" > "$path" ;;
		?*) cp "$ko" "$path" ;;
		esac 2>/dev/null
	fi
	[ -s "$path" ] || return 0
	nm -n --defined-only "$path" 2>/dev/null | awk -v off="$2" '
	function hex(h,  i, v) {
		h = tolower(h)
		for (i = 1; i <= length(h); i++)
			v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
		return v
	}
	BEGIN { o = hex(off) }
	$2 ~ /^[tT]$/ && hex($1) <= o { s = $3; a = hex($1) }
	END { if (s != "") printf " (%s+0x%x)", s, o - a }'
}

# Print the symbol that contains each RIP, in one pass over the symbols
# (reading them is slow under TCG).  Addresses are compared as hex strings
# of equal length: awk's doubles cannot hold a 64-bit address exactly.  A
# RIP more than 1 MiB past the nearest symbol is in no known function.
map_rips() {
	local syms list=${1:-$(rip_list)} line mo

	syms=$(pick_symbols)
	if [ -z "$syms" ]; then
		echo "inner-guest: no symbols for $kver ($sysmap is a stub)"
		return
	fi
	echo "inner-guest: where the inner CPUs are ($syms):"
	awk -v list="$list" -v mods="$(inner_modules)" '
	function lo(h,  i, v) {
		for (i = 9; i <= 16; i++)
			v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
		return v
	}
	BEGIN { n = split(list, r, " "); m = split(mods, md, " ") }
	# the kernel only: module symbols (a 4th field) are of the test VM
	$2 ~ /^[tTwW]$/ && NF == 3 {
		for (i = 1; i <= n; i++) {
			a = $1 ""
			if (a <= substr(r[i], 1, 16) && a > addr[i] "") {
				addr[i] = a
				sym[i] = $3
			}
		}
	}
	END {
		for (i = 1; i <= n; i++) {
			rip = substr(r[i], 1, 16)
			if (substr(r[i], 18) == "3")
				printf "  RIP %s in user space\n", rip
			else if (sym[i] != "" &&
				 substr(addr[i], 1, 8) == substr(rip, 1, 8) &&
				 lo(rip) - lo(addr[i]) < 1048576)
				printf "  RIP %s = %s+0x%x\n", rip, sym[i],
					lo(rip) - lo(addr[i])
			else if (!in_module(rip))
				printf "  RIP %s (not in kernel text)\n", rip
		}
	}
	function in_module(rip,  k, f) {
		for (k = 1; k <= m; k++) {
			split(md[k], f, ":")
			if (substr(f[2], 1, 8) == substr(rip, 1, 8) &&
			    lo(rip) >= lo(f[2]) && lo(rip) - lo(f[2]) < f[3]) {
				printf "  RIP %s in module %s+0x%x\n", rip, f[1],
					lo(rip) - lo(f[2])
				return 1
			}
		}
		return 0
	}' "$syms" | while read -r line; do
		# a function name for a module offset, from the .ko
		case $line in
		*" in module "*)
			mo=${line##* in module }
			printf '  %s%s\n' "$line" \
				"$(module_symbol "${mo%%+*}" "${mo#*+0x}")" ;;
		*) printf '  %s\n' "$line" ;;
		esac
	done
}

# Ask the QEMU monitor for every vCPU's registers.
dump_registers() {
	python3 - "$monitor" > "$work/registers.txt" 2>&1 <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(5)
def drain():
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    return data.decode(errors="replace")
drain()
s.sendall(b"info registers -a\n")
print(drain())
PY
	show_registers
}

# The vCPUs' RIPs and stacks in $work/registers.txt, with symbols.
show_registers() {
	grep -E '^(CPU#|RIP=|RSP=)' "$work/registers.txt" | cut -c1-60 |
		sed 's/^/  /'
	map_rips
}

# QEMU runs with -no-reboot and -action shutdown=pause: on a guest reset
# qmp-watch.py saves the vCPUs' registers to $work/reset.txt, then quits.
watch_qmp() {
	python3 "$here/qmp-watch.py" "$qmp" "$work/reset.txt" > "$work/qmp.log" 2>&1
}

# Boot the inner guest; sets "timed_out" and "reached_init".
run_qemu() {
	local qpid waited=0 why

	timed_out=0
	reached_init=0
	: > "$work/console.log"
	qemu-system-x86_64 -accel "$accel" -cpu "${HP_INNER_CPU:-qemu64}" \
		-smp "$smp" -m "$mem" -nodefaults -no-user-config -display none \
		-no-reboot -action shutdown=pause \
		-kernel "$bzimage" -initrd "$work/initramfs.cpio" \
		-append "console=ttyS0,115200 loglevel=5 nokaslr panic=-1 rdinit=/init" \
		-chardev file,id=con,path="$work/console.log" \
		-serial chardev:con \
		-monitor unix:"$monitor",server=on,wait=off \
		-qmp unix:"$qmp",server=on,wait=off \
		"${qemu_args[@]}" < /dev/null > "$work/qemu.log" 2>&1 &
	qpid=$!
	watch_qmp &
	while kill -0 $qpid 2>/dev/null; do
		if [ $reached_init = 0 ] &&
		   grep -q "HP-INNER-$nonce-INIT" "$work/console.log"; then
			reached_init=1
		fi
		why=
		if [ $reached_init = 0 ] && [ $waited -ge "$init_limit" ]; then
			why="the inner kernel ran no init in ${init_limit}s"
		elif [ $waited -ge "$timeout" ]; then
			why="TIMEOUT after ${timeout}s"
		fi
		if [ -n "$why" ]; then
			timed_out=1
			echo "inner-guest: $why"
			dump_registers
			kill -9 $qpid 2>/dev/null
			break
		fi
		sleep 1
		waited=$((waited + 1))
	done
	{ wait $qpid; } 2>/dev/null
	qemu_rc=$?
	wait
	grep -q "HP-INNER-$nonce-INIT" "$work/console.log" && reached_init=1
	echo "inner-guest: qemu exited ($qemu_rc) after ${waited}s"
}

# The last KVM events before the end, then where their guest RIPs are.
show_trace() {
	local last rips

	[ -s "$work/kvm-trace.txt" ] || return 0
	last=$(tail -n 40 "$work/kvm-trace.txt")
	echo "inner-guest: KVM's last events for the inner guest ($work/kvm-trace.txt):"
	sed -E 's/^ *[^ ]+-[0-9]+ +\[[0-9]+\] +[^ ]+ +/  /' <<< "$last"
	# "rip:?" (privilege level unknown) for each RIP, as rip_list gives
	rips=$(grep -o 'rip 0x[0-9a-f]*' <<< "$last" | sort -u |
		awk '{ r = substr($2, 3); while (length(r) < 16) r = "0" r
		       printf "%s:? ", r }')
	[ -n "$rips" ] && map_rips "$rips"
}

# Print SCRIPT's output, check the inner kernel's log; return SCRIPT's
# status.
report() {
	local con=$work/console.log rc bad

	tr -d '\r' < "$con" > "$con.txt"
	sed -n "/^HP-INNER-$nonce-BEGIN\$/,/^HP-INNER-$nonce-RC=/p" \
		"$con.txt" | sed '1d;$d'
	rc=$(sed -n "s/^HP-INNER-$nonce-RC=\([0-9]*\)\$/\1/p" "$con.txt")
	bad=$(grep -E -f "$here/bad-patterns" "$con.txt")
	if [ -n "$bad" ]; then
		echo "inner-guest: the inner kernel logged:"
		printf '%s\n' "$bad" | head -n 20 | sed 's/^/  /'
		[ "${rc:-1}" != 0 ] || rc=1
	fi
	if [ $timed_out = 1 ] || [ -z "$rc" ]; then
		echo "inner-guest: no result from the inner guest; console tail:"
		tail -n 30 "$con.txt" | sed 's/^/  | /'
		grep -v '^$' "$work/qemu.log" | sed 's/^/  qemu: /'
		if [ -s "$work/reset.txt" ]; then
			echo "inner-guest: the inner guest reset itself (triple fault, or a panic with panic=-1); its vCPUs then:"
			cp "$work/reset.txt" "$work/registers.txt"
			show_registers
			grep -q '^EIP=0000fff0' "$work/reset.txt" &&
				echo "inner-guest: (a vCPU at the reset vector: KVM reset it on a triple fault before QEMU looked)"
			show_trace
		elif [ $timed_out = 1 ]; then
			show_trace
		fi
		[ $timed_out = 1 ] && return 124
		return 125
	fi
	return "$rc"
}

# KVM's view of the inner guest, kept in the trace ring buffer while it
# runs (the exits with the guest RIP, injected exceptions and interrupts,
# nested page faults): after a reset KVM has already reinitialized the
# vCPU, so this is the only record of what led up to it.  HP_INNER_TRACE=0
# turns it off.
#
# Enabling a trace event patches kernel text (its static call and static
# key), and so would disabling it.  Under TCG that froze the test VM when
# the other vCPU ran the code being patched: CPU 0 looped in
# asm_exc_int3() in __schedule() while CPU 1 waited in text_poke_bp() for
# it, from this script's "echo 1 > .../enable" (see hp_kvm in guest-lib.sh).
# So the events are enabled once per test-VM boot, with every CPU but the
# boot CPU offline, and never disabled: between inner guests only the ring
# buffer is switched off (tracing_on), which patches nothing.
KVM_EVENTS="kvm_exit kvm_inj_exception kvm_inj_virq kvm_page_fault kvm_userspace_exit"
trace_dir=
trace_enable_events() {	# tracefs
	local e todo=

	for e in $KVM_EVENTS; do
		[ -e "$1/events/kvm/$e/enable" ] || continue
		[ "$(cat "$1/events/kvm/$e/enable")" = 1 ] ||
			todo="$todo $1/events/kvm/$e/enable"
	done
	[ -n "$todo" ] || return 0
	# shellcheck disable=SC2086 # a list of paths without spaces
	echo 1 | hp_cpu0_alone tee $todo > /dev/null
}

trace_start() {
	local t=/sys/kernel/tracing

	[ "${HP_INNER_TRACE:-1}" = 1 ] || return 0
	[ -d $t/events/kvm ] || mount -t tracefs nodev $t 2>/dev/null
	[ -d $t/events/kvm ] || return 0
	echo 0 > $t/tracing_on
	echo 1024 > $t/buffer_size_kb
	if ! trace_enable_events $t; then
		echo "inner-guest: cannot enable KVM's trace events; booting without them"
		return 0
	fi
	: > $t/trace
	echo 1 > $t/tracing_on
	trace_dir=$t
}

trace_stop() {
	[ -n "$trace_dir" ] || return 0
	echo 0 > $trace_dir/tracing_on
	grep -v '^#' $trace_dir/trace | tail -n 400 > "$work/kvm-trace.txt"
	: > $trace_dir/trace
}

# Keep one boot's files apart before booting again.
keep_boot() {
	local f

	for f in console.log console.log.txt qemu.log registers.txt reset.txt \
		 kvm-trace.txt qmp.log; do
		[ -e "$work/$f" ] && mv "$work/$f" "$work/boot$1-$f"
	done
}

# Boot until a boot gets past the inner kernel's start, at most $boots
# times; return SCRIPT's status.
boot_loop() {
	local n=1 rc

	while :; do
		[ "$accel" = kvm ] && trace_start
		echo "inner-guest: booting $bzimage ($accel, ${mem}M, limit ${timeout}s, boot $n of at most $boots), work $work"
		run_qemu
		trace_stop
		report
		rc=$?
		if [ $rc = 0 ] || [ $reached_init = 1 ] || [ $n -ge "$boots" ]; then
			return $rc
		fi
		echo "inner-guest: boot $n failed before the inner kernel ran init, so it started no vhost device: the emulated machine failed, not the code under test; booting again"
		keep_boot $n
		n=$((n + 1))
	done
}

main() {
	parse_args "$@"
	pick_kernel
	if [ -z "$work" ]; then
		work=$(mktemp -d "${HP_OUT:-/tmp}/inner.XXXXXX") ||
			die "cannot make a work directory"
	fi
	mkdir -p "$work" || die "cannot make $work"
	# Not in $work: that may be a 9p share, which has no sockets.
	monitor=$(mktemp -u /tmp/inner-monitor.XXXXXX)
	qmp=$(mktemp -u /tmp/inner-qmp.XXXXXX)
	nonce=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
	make_initramfs
	if [ "$accel" = kvm ]; then
		hp_kvm
		[ -w /dev/kvm ] || die "/dev/kvm is not writable"
	fi
	boot_loop
	rc=$?
	rm -f "$monitor" "$qmp"
	return $rc
}

main "$@"
