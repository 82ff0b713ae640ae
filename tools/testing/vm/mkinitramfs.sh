#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the tiny busybox initramfs that mounts the host root over 9p.
#
# Usage: mkinitramfs.sh MODDIR OUTPUT.cpio.gz
#   MODDIR: /lib/modules/<kver> of the kernel to boot, or "-" when virtio,
#   9p and overlayfs are built in (the debug kernel).
set -euo pipefail
moddir=$1
out=$2
here=$(dirname "$(realpath "$0")")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{bin,etc,lib/modules,proc,sys,dev,lower,upper,newroot}
cp /bin/busybox "$work/bin/busybox"
cp "$here/init" "$work/init"
chmod +x "$work/init"
: > "$work/etc/modules.order"

# Modules the kernel needs before it can reach the host root, in
# dependency order.
want="virtio_pci 9pnet_virtio 9p overlay"
declare -A seen
add_module() {
	local name=$1 path deps d
	# 6.1's modules are plain .ko, 6.12's .ko.xz.
	path=$(awk -v m="/$name.ko" -F: '{ p = $1; sub(/\.(xz|zst)$/, "", p) }
		index(p, m) && substr(p, length(p) - length(m) + 1) == m { print $1; exit }' \
		"$moddir/modules.dep")
	if [ -z "$path" ]; then
		grep -q "/$name.ko" "$moddir/modules.builtin" 2>/dev/null && return 0
		echo "mkinitramfs: module $name not found in $moddir" >&2
		exit 1
	fi
	[ -n "${seen[$path]:-}" ] && return 0
	seen[$path]=1
	deps=$(awk -v p="$path" -F': *' '$1 == p { print $2; exit }' "$moddir/modules.dep")
	for d in $deps; do
		d=$(basename "$d")
		d=${d%.xz}
		d=${d%.zst}
		add_module "${d%.ko}"
	done
	local base
	base=$(basename "$path")
	case "$path" in
	*.ko.xz) xz -dc "$moddir/$path" > "$work/lib/modules/${base%.xz}"; base=${base%.xz} ;;
	*.ko.zst) zstd -qdc "$moddir/$path" > "$work/lib/modules/${base%.zst}"; base=${base%.zst} ;;
	*) cp "$moddir/$path" "$work/lib/modules/$base" ;;
	esac
	echo "$base" >> "$work/etc/modules.order"
}
if [ "$moddir" != "-" ]; then
	for m in $want; do
		add_module "$m"
	done
fi

(cd "$work" && find . | cpio -o -H newc --quiet) | gzip -1 > "$out"
