#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test-kernel.sh KVER: Debian's kernel image package linux-image-KVER, of
# the version of the installed headers linux-headers-KVER, unpacked into
# the cache with its modules.dep.  Never installed: no boot loader entry,
# no initramfs, nothing of the host changes; where the package is
# installed already (6.12's headers depend on it), that is used.  For the
# VM tiers of the other
# kernels a Debian 12 host runs (run-tests --kernel 6.12|rt).  Prints shell
# assignments TK_BZIMAGE, TK_SYSMAP and TK_MODROOT (lib/modules/KVER is
# below it); progress goes to stderr.
# Environment: CACHE (default /var/cache/hotplug-kmod).
set -euo pipefail
kver=${1:?usage: test-kernel.sh KVER}
cache=${CACHE:-/var/cache/hotplug-kmod}
pkg=linux-image-$kver
dst=$cache/kernels/$kver

ver=$(dpkg-query -W -f='${Version}' "linux-headers-$kver" 2>/dev/null) || {
	echo "test-kernel: linux-headers-$kver is not installed (run scripts/setup.sh)" >&2
	exit 1
}
if [ "$(dpkg-query -W -f='${db:Status-Status} ${Version}' "$pkg" 2>/dev/null || true)" = "installed $ver" ]; then
	dst=
elif [ "$(cat "$dst/.hp-version" 2>/dev/null || true)" != "$ver" ]; then
	echo "test-kernel: unpacking $pkg $ver into $dst" >&2
	mkdir -p "$cache/kernels"
	tmp=$(mktemp -d "$cache/kernels/.download.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	# apt's download sandbox user must be able to write there.
	chown _apt "$tmp" 2>/dev/null || true
	if ! (cd "$tmp" && apt-get download -q "$pkg=$ver") >&2; then
		echo "test-kernel: cannot download $pkg $ver from Debian's archive" >&2
		exit 1
	fi
	rm -rf "$dst"
	mkdir -p "$dst"
	dpkg-deb -x "$tmp"/*.deb "$dst"
	depmod -b "$dst" "$kver"
	echo "$ver" > "$dst/.hp-version"
fi
for f in "boot/vmlinuz-$kver" "boot/System.map-$kver" "lib/modules/$kver/modules.dep"; do
	[ -f "$dst/$f" ] || { echo "test-kernel: $pkg has no $f" >&2; exit 1; }
done
echo "TK_BZIMAGE=$dst/boot/vmlinuz-$kver"
echo "TK_SYSMAP=$dst/boot/System.map-$kver"
echo "TK_MODROOT=${dst:-/}"
