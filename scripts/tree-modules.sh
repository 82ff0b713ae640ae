#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# debug-modules.sh DEST: a copy of the tree (as committed plus local
# changes, without out/) in DEST, built against the debug kernel of
# scripts/debug-kernel.sh, with the mdev sample also built against the
# debug kernel's own <linux/mdev.h> (the drop-in tests, run.sh dropin).
# Environment: KSRC (the kernel source the build takes private headers
# from).
set -euo pipefail
dst=${1:?usage: debug-modules.sh DEST}
root=$(realpath "$(dirname "$0")/..")
cd "$root"
: "${KSRC:?}"
eval "$(scripts/debug-kernel.sh --print-vars)"
rm -rf "$dst"
mkdir -p "$dst"
git ls-files -co --exclude-standard | grep -v '^out/' | cpio -pdm --quiet "$dst"
make -C "$DEBUG_KDIR" M="$dst" HP_KSRC="$KSRC" -j2 modules
make -C "$dst/samples/vfio-mdev" stock KDIR="$DEBUG_KDIR" KSRC="$KSRC"
