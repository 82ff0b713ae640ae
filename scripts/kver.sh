#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Print the release (e.g. 6.1.0-56-amd64) of the Debian kernel that
# linux-headers-amd64 points at: the kernel the tests boot.
set -euo pipefail
dep=$(dpkg-query -W -f='${Depends}' linux-headers-amd64 2>/dev/null | sed 's/ .*//')
kver=${dep#linux-headers-}
if [ -z "$kver" ] || [ ! -d "/usr/src/linux-headers-$kver" ]; then
	echo "kver: linux-headers-amd64 is not installed (run scripts/setup.sh)" >&2
	exit 1
fi
echo "$kver"
