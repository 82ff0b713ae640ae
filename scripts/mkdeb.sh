#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make deb: the DKMS package hotplug-kmod-dkms, from the tree as committed
# plus local changes (debian/, dh-dkms), built in a copy under $OUT/deb so
# that the tree stays clean.  Prints the path of the .deb.
set -euo pipefail
root=$(realpath "$(dirname "$0")/..")
cd "$root"
out=${OUT:-$root/out}/deb
scripts/setup.sh --quiet --deb >&2
rm -rf "$out/src" "$out"/*.deb "$out"/*.buildinfo "$out"/*.changes
mkdir -p "$out/src"
git ls-files -co --exclude-standard | grep -v '^out/' | cpio -pdm --quiet "$out/src"
(cd "$out/src" && dpkg-buildpackage -b -us -uc) > "$out/build.log" 2>&1 || {
	tail -n 20 "$out/build.log" >&2
	echo "mkdeb: dpkg-buildpackage failed (see $out/build.log)" >&2
	exit 1
}
ls "$out"/hotplug-kmod-dkms_*_all.deb
