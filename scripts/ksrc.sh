#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Extract Debian's linux-source-6.1 into the cache and print its path.
# The source must be exactly the version of the headers we build against:
# private headers (drivers/vhost/vhost.h) describe structures that the
# running vhost.ko must agree with.
#
# Usage: scripts/ksrc.sh CACHE KDIR
set -euo pipefail
cache=$1
kdir=$2

tarball=/usr/src/linux-source-6.1.tar.xz
if [ ! -f "$tarball" ]; then
	echo "ksrc: $tarball missing (run scripts/setup.sh)" >&2
	exit 1
fi
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1)

# Which package owns the headers?  KDIR may be a symlink (/lib/modules/*/build).
real=$(realpath "$kdir")
hdrpkg=$(dpkg-query -S "$real" 2>/dev/null | sed -n '1s/:.*//p' || true)
if [ -n "$hdrpkg" ]; then
	hdrver=$(dpkg-query -W -f='${Version}' "$hdrpkg")
	if [ "$hdrver" != "$srcver" ]; then
		echo "ksrc: linux-source-6.1 is $srcver but $hdrpkg is $hdrver." >&2
		echo "ksrc: install matching versions: apt-get install linux-source-6.1=$hdrver" >&2
		exit 1
	fi
elif [ -f "$real/.hp-debug-kernel" ]; then
	: # our debug kernel, built from this very source
else
	echo "ksrc: cannot tell the version of $kdir; not a Debian headers package" >&2
	exit 1
fi

dst=$cache/linux-source-6.1
if [ "$(cat "$dst/.hp-version" 2>/dev/null || true)" != "$srcver" ]; then
	echo "ksrc: extracting linux-source $srcver into $cache" >&2
	mkdir -p "$cache"
	rm -rf "$dst"
	tar -C "$cache" -xJf "$tarball"
	echo "$srcver" > "$dst/.hp-version"
fi
echo "$dst"
