#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# kernel-has-mdev.sh KDIR: exit 0 when the kernel of the headers in KDIR
# has an mdev of its own (its Module.symvers exports drivers/vfio/mdev),
# 1 when not (Debian's cloud flavour has no CONFIG_VFIO_MDEV).
set -euo pipefail
grep -q 'drivers/vfio/mdev/mdev\b' "${1:?usage: kernel-has-mdev.sh KDIR}/Module.symvers"
