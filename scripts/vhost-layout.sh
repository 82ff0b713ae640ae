#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vhost-layout.sh [--strict] KDIR KSRC MODULE: does our vhost_scsi.ko
# (MODULE, built against KDIR with the private drivers/vhost/vhost.h of
# KSRC) see vhost's structures as the kernel's own vhost.ko does?
#
# Debian ships that header only in linux-source-X.Y, which can be one
# upload away from the headers (and so from the running vhost.ko).  That
# is fine as long as every structure of vhost.h our module uses has the
# same layout, which pahole tells: our module's DWARF against vhost.ko's
# BTF (with the kernel image's BTF as its base).  A difference is fatal:
# the module is removed, so that nothing loads it.
#
# When the source is the headers' own version, or the kernel is our
# debug kernel (built from that very source), as scripts/ksrc.sh recorded
# in KSRC/.hp-exact/, a layout that cannot be compared (no pahole, no
# image or vhost.ko of that kernel on this machine) is accepted with a
# note; with --strict, or when the versions differ, it is an error.
#
# Environment: CACHE (default /var/cache/hotplug-kmod): images unpacked by
# scripts/test-kernel.sh are looked for there too, and the BTF of each
# image is kept in CACHE/btf, extracted once per image.
set -euo pipefail
strict=0
[ "${1:-}" = --strict ] && { strict=1; shift; }
usage="usage: vhost-layout.sh [--strict] KDIR KSRC MODULE"
kdir=${1:?$usage}
ksrc=${2:?$usage}
ko=${3:?$usage}
cache=${CACHE:-/var/cache/hotplug-kmod}

real=$(realpath "$kdir")
kver=$(sed -n 's/.*UTS_RELEASE "\(.*\)"/\1/p' \
	"$real/include/generated/utsrelease.h")
say() { echo "vhost-layout: $kver: $*"; }

exact=0
if [ -f "$ksrc/.hp-exact/$kver" ] || [ -f "$real/.hp-debug-kernel" ]; then
	exact=1
fi

# cannot WHY: a comparison that could not be made
cannot() {
	if [ $exact = 1 ] && [ $strict = 0 ]; then
		say "not compared ($1); the private header is from the kernel's own source version"
		exit 0
	fi
	say "cannot compare vhost's layouts: $1" >&2
	[ $exact = 1 ] || say "the kernel source is not the headers' version: install the matching linux-source, or pahole (dwarves) and that kernel's image, so that the layouts can be compared" >&2
	exit 1
}

command -v pahole > /dev/null || cannot "no pahole (apt-get install dwarves)"
[ -f "$ko" ] || cannot "no $ko"
image='' vhost=''
for r in / "$cache/kernels/$kver/"; do
	[ -f "${r}boot/vmlinuz-$kver" ] && image=${r}boot/vmlinuz-$kver
	for f in "${r}lib/modules/$kver/kernel/drivers/vhost/vhost.ko"{,.xz,.zst}; do
		[ -f "$f" ] && vhost=$f
	done
	[ -n "$image" ] && [ -n "$vhost" ] && break
	image='' vhost=''
done
[ -n "$image" ] || cannot "no image and vhost.ko of $kver here"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# image_btf: the .BTF section of $image in $base, from CACHE/btf when it
# was extracted from this very image (same path, size and time) before.
# A cache that cannot be written only costs the extraction next time.
image_btf() {
	local dir=$cache/btf stamp
	stamp="$(stat -L -c '%s %Y' "$image") $image"
	base=$dir/$kver.btf
	[ -s "$base" ] && [ "$(cat "$dir/$kver.stamp" 2>/dev/null)" = "$stamp" ] &&
		return
	base=$tmp/btf
	sh "$ksrc/scripts/extract-vmlinux" "$image" > "$tmp/vmlinux" 2> /dev/null ||
		cannot "no vmlinux in $image"
	objcopy -O binary --only-section=.BTF "$tmp/vmlinux" "$base" ||
		cannot "objcopy failed on $image's vmlinux"
	[ -s "$base" ] || cannot "$image has no BTF"
	mkdir -p "$dir" 2> /dev/null && cp "$base" "$dir/$kver.btf.$$" &&
		mv "$dir/$kver.btf.$$" "$dir/$kver.btf" &&
		echo "$stamp" > "$dir/$kver.stamp" || rm -f "$dir/$kver.btf.$$"
}

# The base BTF: the running kernel's, or the image's .BTF section.
if [ "$(uname -r)" = "$kver" ] && [ -r /sys/kernel/btf/vmlinux ]; then
	base=/sys/kernel/btf/vmlinux
else
	image_btf
fi
case $vhost in
*.xz) xz -dc "$vhost" > "$tmp/vhost.ko" ;;
*.zst) zstd -q -dc "$vhost" > "$tmp/vhost.ko" ;;
*) cp "$vhost" "$tmp/vhost.ko" ;;
esac

# Every structure vhost.h defines that our module uses.
n=0 bad=0
structs=$(sed -n 's/^struct \([a-z0-9_]*\) {.*/\1/p' "$ksrc/drivers/vhost/vhost.h")
for s in $structs; do
	pahole -F dwarf -C "$s" "$ko" > "$tmp/ours" 2> /dev/null || true
	[ -s "$tmp/ours" ] || continue
	pahole -F btf --btf_base "$base" -C "$s" "$tmp/vhost.ko" \
		> "$tmp/kernel" 2> /dev/null || true
	[ -s "$tmp/kernel" ] || cannot "vhost.ko's BTF has no struct $s"
	n=$((n + 1))
	if ! diff -u "$tmp/kernel" "$tmp/ours" > "$tmp/diff"; then
		say "struct $s differs from vhost.ko's (- kernel, + ours):" >&2
		sed 's/^/  /' "$tmp/diff" >&2
		bad=1
	fi
done
[ $n -gt 0 ] || cannot "$ko uses no structure of vhost.h"
if [ $bad = 1 ]; then
	rm -f "$ko"
	say "$ko removed: the drivers/vhost/vhost.h it was built with ($ksrc) does not match $vhost" >&2
	exit 1
fi
say "$n structures of vhost.h laid out as in $vhost"
