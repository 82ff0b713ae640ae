#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (or find in the cache) the debug kernel used by the debug test tier.
#
# The kernel is built out of tree (O=) from Debian's linux-source-6.1 with
# this tree's kernel series applied (scripts/mkpatches.sh), and
# tools/testing/vm/debug.config on top of allnoconfig: vhost_scsi, the mdev
# core and the sample parent are in-tree modules of it, built from the
# series, so the debug tier runs exactly what the series contains.  The
# source is $HP_CACHE/debug-<key>-series/patches/base (mkpatches' base,
# checked out at the series), the build directory $HP_CACHE/debug-<key>,
# where <key> hashes the config fragment, the kernel source version and the
# compiler.  Every --build writes the series again; a checkout rewrites
# only the files that changed, so after a driver change only those modules
# are rebuilt, not the kernel.
#
# Usage: debug-kernel [--build | --print-vars | --key | --rebuild]
#   --build       build if needed, then print the variables (default)
#   --print-vars  print the variables without building; DEBUG_READY=1
#                 says the kernel is built and installed
#   --key         print the cache key only
#   --rebuild     forget the stamp and run every build step again
#
# Stdout carries only DEBUG_*=value lines (no spaces, no quotes), usable
# with shell eval and with make's include: DEBUG_KDIR (build tree, the KDIR
# for our modules), DEBUG_BZIMAGE, DEBUG_VMLINUX, DEBUG_SYSTEM_MAP,
# DEBUG_MODROOT (INSTALL_MOD_PATH: lib/modules/$DEBUG_KVER below it),
# DEBUG_KVER, DEBUG_KEY and DEBUG_READY.  The build tree carries the stamp
# .hp-debug-kernel, which scripts/ksrc.sh accepts as a KDIR.  Progress goes
# to stderr; the full build log is $DEBUG_KDIR/build.log.
#
# Environment: KSRC (extracted kernel source: its version keys the cache;
# the series applies to Debian's tarball of it, KSRC_TAR as in
# scripts/mkpatches.sh), HP_CACHE (cache directory, default
# /var/cache/hotplug-kmod), JOBS (make -j, at most 2).

set -euo pipefail

RECIPE=2	# bump when the build steps change in a way the key must see
HP_CACHE=${HP_CACHE:-/var/cache/hotplug-kmod}
KSRC=${KSRC:-$HP_CACHE/linux-source-6.1}
JOBS=${JOBS:-2}
TOP=$(cd "$(dirname "$0")/.." && pwd)
FRAG=$TOP/tools/testing/vm/debug.config
export PATH=$PATH:/usr/sbin:/sbin

log() { echo "debug-kernel: $*" >&2; }
die() { log "error: $*"; exit 1; }

kmake() {
	make -C "$SRC" O="$OUT" ARCH=x86_64 "$@"
}

# Write the series of this tree and check it out in $SRC (see the top).
# The identity and dates of its commits do not matter here.
series_source() {
	log "applying the kernel series of $TOP to $SRC"
	mkdir -p "$OUT"
	GIT_AUTHOR_NAME="debug kernel" GIT_AUTHOR_EMAIL="debug-kernel@localhost" \
		OUT=$SERIES VERIFY=0 "$TOP/scripts/mkpatches.sh" \
		>> "$OUT/series.log" 2>&1 ||
		{ tail -n 20 "$OUT/series.log" >&2; die "scripts/mkpatches.sh failed"; }
	git -C "$SRC" checkout -q -f --detach series ||
		die "cannot check the series out in $SRC"
}

# The kernel is built: rebuild what the series changed, and install.
build_series_modules() {
	local start=$SECONDS

	kmake -j"$JOBS" modules >> "$OUT/build.log" 2>&1 ||
		{ tail -n 30 "$OUT/build.log" >&2; die "modules build failed"; }
	rm -rf "$OUT/modroot"
	kmake INSTALL_MOD_PATH="$OUT/modroot" modules_install \
		>> "$OUT/build.log" 2>&1 ||
		{ tail -n 30 "$OUT/build.log" >&2; die "modules_install failed"; }
	log "the series' modules rebuilt in $((SECONDS - start)) s"
}

check_inputs() {
	[ -f "$FRAG" ] || die "missing config fragment $FRAG"
	[ -f "$KSRC/Makefile" ] ||
		die "no kernel source at $KSRC (run scripts/setup.sh or set KSRC)"
	[ ! -e "$KSRC/.config" ] ||
		die "$KSRC has a .config; O= builds need a clean source tree"
	case $JOBS in
	1|2) ;;
	*) log "JOBS=$JOBS capped to 2 (shared machine)"; JOBS=2 ;;
	esac
}

src_version() {
	local v pkg

	v=$(make -s -C "$KSRC" kernelversion 2>/dev/null) ||
		die "cannot read the kernel version of $KSRC"
	pkg=$(dpkg-query -W -f '${Version}' linux-source-6.1 2>/dev/null || true)
	echo "$v${pkg:+ ($pkg)}"
}

cache_key() {
	{
		echo "recipe $RECIPE"
		echo "source $(src_version)"
		echo "compiler $(gcc --version | head -n1)"
		cat "$FRAG"
	} | sha256sum | cut -c1-16
}

# Print every symbol the fragment sets that .config does not have.
config_mismatches() {
	local line sym

	while IFS= read -r line; do
		case $line in
		CONFIG_*=*)
			grep -qxF -- "$line" "$OUT/.config" ||
				echo "  want $line, have:" \
				     "$(grep -E "^(# )?${line%%=*}[= ]" \
					"$OUT/.config" || echo unset)"
			;;
		"# CONFIG_"*" is not set")
			sym=${line#\# }
			sym=${sym%% *}
			! grep -q "^$sym=" "$OUT/.config" ||
				echo "  want $sym unset, have it set"
			;;
		esac
	done < "$FRAG"
}

configure() {
	local bad

	log "configuring $OUT (allnoconfig + $FRAG)"
	kmake KCONFIG_ALLCONFIG="$FRAG" allnoconfig >> "$OUT/build.log" 2>&1 ||
		die "allnoconfig failed, see $OUT/build.log"
	bad=$(config_mismatches)
	[ -z "$bad" ] || die "config fragment not honoured (missing \
dependency?):"$'\n'"$bad"
}

build_kernel() {
	local start=$SECONDS

	mkdir -p "$OUT"
	: > "$OUT/build.log"
	log "building into $OUT with -j$JOBS (log: $OUT/build.log)"
	configure
	kmake -j"$JOBS" all >> "$OUT/build.log" 2>&1 ||
		{ tail -n 30 "$OUT/build.log" >&2; die "kernel build failed"; }
	rm -rf "$OUT/modroot"
	kmake INSTALL_MOD_PATH="$OUT/modroot" modules_install \
		>> "$OUT/build.log" 2>&1 ||
		{ tail -n 30 "$OUT/build.log" >&2; die "modules_install failed"; }
	echo "key=$KEY seconds=$((SECONDS - start)) date=$(date -u +%FT%TZ)" \
		> "$OUT/.hp-debug-kernel"
	log "built in $((SECONDS - start)) s"
}

kernel_release() {
	if [ -s "$OUT/include/config/kernel.release" ]; then
		cat "$OUT/include/config/kernel.release"
		return
	fi
	# Not built yet: predict it the way setlocalversion will.
	echo "$(make -s -C "$KSRC" kernelversion)$(sed -n \
		's/^CONFIG_LOCALVERSION="\(.*\)"$/\1/p' "$FRAG")"
}

print_vars() {
	local ready=0

	[ -f "$OUT/.hp-debug-kernel" ] && ready=1
	cat <<EOF
DEBUG_KEY=$KEY
DEBUG_KDIR=$OUT
DEBUG_BZIMAGE=$OUT/arch/x86/boot/bzImage
DEBUG_VMLINUX=$OUT/vmlinux
DEBUG_SYSTEM_MAP=$OUT/System.map
DEBUG_MODROOT=$OUT/modroot
DEBUG_KVER=$(kernel_release)
DEBUG_READY=$ready
EOF
}

# Serialise builds of the same key (the runner and make may race).
build_locked() {
	exec 9> "$HP_CACHE/debug-$KEY.lock"
	flock 9
	series_source
	if [ -f "$OUT/.hp-debug-kernel" ]; then
		build_series_modules
	else
		build_kernel
	fi
	exec 9>&-
}

main() {
	local mode=${1:---build}

	check_inputs
	KEY=$(cache_key)
	OUT=$HP_CACHE/debug-$KEY
	SERIES=$HP_CACHE/debug-$KEY-series
	SRC=$SERIES/patches/base
	case $mode in
	--key) echo "$KEY" ;;
	--print-vars) print_vars ;;
	--rebuild) rm -f "$OUT/.hp-debug-kernel"; build_locked; print_vars ;;
	--build) build_locked; print_vars ;;
	-h|--help) sed -n '3,28s/^# \{0,1\}//p' "$0" ;;
	*) die "unknown option $mode (try --help)" ;;
	esac
}

main "$@"
