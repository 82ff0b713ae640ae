#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Extract Debian's linux-source-X.Y for the headers in KDIR into the cache
# and print its path.  X.Y is the headers' kernel series (6.1 for 6.1.0-57
# and its rt and cloud flavours, 6.12 for 6.12.118+deb12).  Its private
# drivers/vhost/vhost.h describes structures that the running vhost.ko
# must agree with: a source of another upload than the headers is used
# with a note, and every build checks the layouts it got
# (scripts/vhost-layout.sh).  Whether the source is the headers' own
# version is recorded once, here, for that check: an empty file
# .hp-exact/RELEASE in the extracted source when it is (or when KDIR is
# our debug kernel, built from this very source).
#
# Usage: scripts/ksrc.sh CACHE KDIR
set -euo pipefail
cache=$1
kdir=$2

# KDIR may be a symlink (/lib/modules/*/build).
real=$(realpath "$kdir")
release=$(sed -n 's/.*UTS_RELEASE "\(.*\)"/\1/p' \
	"$real/include/generated/utsrelease.h" 2>/dev/null || true)
series=$(echo "$release" | sed -n 's/^\([0-9]*\.[0-9]*\)[.-].*/\1/p')
if [ -z "$series" ]; then
	echo "ksrc: $kdir has no kernel release (include/generated/utsrelease.h); not a kernel build directory" >&2
	exit 1
fi
srcpkg=linux-source-$series
tarball=/usr/src/$srcpkg.tar.xz
if [ ! -f "$tarball" ]; then
	echo "ksrc: $tarball missing: kernel $release is built with the private headers of $srcpkg (apt-get install $srcpkg; scripts/setup.sh installs those of 6.1 and 6.12)" >&2
	exit 1
fi
srcver=$(dpkg-query -W -f='${Version}' "$srcpkg")

# Which package owns the headers?
exact=0
hdrpkg=$(dpkg-query -S "$real" 2>/dev/null | sed -n '1s/:.*//p' || true)
if [ -n "$hdrpkg" ]; then
	hdrver=$(dpkg-query -W -f='${Version}' "$hdrpkg")
	if [ "$hdrver" != "$srcver" ]; then
		echo "ksrc: $srcpkg is $srcver but $hdrpkg is $hdrver: the build compares vhost's layouts with the kernel's vhost.ko" >&2
	else
		exact=1
	fi
elif [ -f "$real/.hp-debug-kernel" ]; then
	exact=1	# our debug kernel, built from this very source
else
	echo "ksrc: cannot tell the version of $kdir; not a Debian headers package" >&2
	exit 1
fi

dst=$cache/$srcpkg
if [ "$(cat "$dst/.hp-version" 2>/dev/null || true)" != "$srcver" ]; then
	echo "ksrc: extracting $srcpkg $srcver into $cache" >&2
	mkdir -p "$cache"
	rm -rf "$dst"
	tar -C "$cache" -xJf "$tarball"
	echo "$srcver" > "$dst/.hp-version"
fi
mkdir -p "$dst/.hp-exact"
if [ $exact = 1 ]; then
	touch "$dst/.hp-exact/$release"
else
	rm -f "$dst/.hp-exact/$release"
fi
echo "$dst"
