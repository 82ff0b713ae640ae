#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tree-modules.sh DEST KDIR [MAKE-ARGS...]: a copy of the tree (as
# committed plus local changes, without out/) in DEST, built against the
# kernel headers or build directory KDIR, with the private headers of that
# kernel's own source (scripts/ksrc.sh); the mdev sample is also built
# against that kernel's own <linux/mdev.h> (the drop-in tests, run.sh
# dropin) when that kernel has an mdev (the cloud flavour has none).  The
# tree's own build, against the kernel the tests boot, stays as it is.
# MAKE-ARGS go to the modules build (W=1 C=2 for lint).
# Environment: CACHE (default /var/cache/hotplug-kmod).
set -euo pipefail
usage="usage: tree-modules.sh DEST KDIR [MAKE-ARGS...]"
dst=${1:?$usage}
kdir=${2:?$usage}
shift 2
root=$(realpath "$(dirname "$0")/..")
cd "$root"
ksrc=$(scripts/ksrc.sh "${CACHE:-/var/cache/hotplug-kmod}" "$kdir")
rm -rf "$dst"
mkdir -p "$dst"
dst=$(realpath "$dst")	# kbuild wants M absolute
git ls-files -co --exclude-standard | grep -v '^out/' | cpio -pdm --quiet "$dst"
make -C "$kdir" M="$dst" HP_KSRC="$ksrc" -j2 "$@" modules
scripts/vhost-layout.sh "$kdir" "$ksrc" "$dst/drivers/vhost/vhost_scsi.ko"
if scripts/kernel-has-mdev.sh "$kdir"; then
	make -C "$dst/samples/vfio-mdev" stock KDIR="$kdir" KSRC="$ksrc"
else
	echo "tree-modules: $kdir has no mdev of its own: no stock sample"
fi
