#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Print the release (e.g. 6.1.0-57-amd64) of the Debian kernel that a
# headers meta package points at: by default linux-headers-amd64, the
# kernel the tests boot; linux-headers-6.12-amd64 or linux-headers-rt-amd64
# for the other kernels a Debian 12 host runs.
#
# Usage: scripts/kver.sh [META-PACKAGE]
set -euo pipefail
meta=${1:-linux-headers-amd64}
dep=$(dpkg-query -W -f='${Depends}' "$meta" 2>/dev/null | sed 's/ .*//')
kver=${dep#linux-headers-}
if [ -z "$kver" ] || [ ! -d "/usr/src/linux-headers-$kver" ]; then
	echo "kver: $meta is not installed (run scripts/setup.sh)" >&2
	exit 1
fi
echo "$kver"
