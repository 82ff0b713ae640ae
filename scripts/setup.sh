#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install every Debian package this project needs.  Idempotent: when all
# packages are present it only checks and exits.  Run as root on Debian 12.
#
# Usage: scripts/setup.sh [--quiet] [--tests] [--deb] [--bench]
set -euo pipefail

PKGS=(
	# build
	make gcc bc bison flex libelf-dev libssl-dev xz-utils perl python3 kmod
	linux-headers-amd64 linux-source-6.1 sparse
	# make patches: unifdef for the compat #ifdefs, ply and git for
	# checkpatch's SPDX check (scripts/spdxcheck.py)
	unifdef python3-ply python3-git
	# pahole: vhost's private layouts against vhost.ko (vhost-layout.sh)
	dwarves
	# the kernel the tests boot, and the VM
	linux-image-amd64 qemu-system-x86 busybox-static cpio
	# real clients used by the tests and the demo
	targetcli-fb dbus mdevctl fio sg3-utils
)

# make check only (--tests): the other kernels a Debian 12 host runs, for
# the lint builds (6.12, rt, cloud) and the VM tiers of 6.12 and rt (the
# cloud kernel has no 9p, which the test VM's root needs).  Images are
# unpacked into the cache by scripts/test-kernel.sh, never installed; but
# 6.12's headers depend on its image, so the host gets a 6.12 boot entry.
TEST_PKGS=(
	linux-headers-6.12-amd64 linux-source-6.12 linux-headers-rt-amd64
	linux-headers-cloud-amd64
)

# make deb only (--deb): building the DKMS package.
DEB_PKGS=(debhelper dh-dkms dpkg-dev)

# make bench only (--bench): its plots (make check's smoke run plots
# nothing, and matplotlib brings about a hundred packages).
BENCH_PKGS=(python3-matplotlib)

quiet=0
for arg in "$@"; do
	case $arg in
	--quiet) quiet=1 ;;
	--tests) PKGS+=("${TEST_PKGS[@]}") ;;
	--deb) PKGS+=("${DEB_PKGS[@]}") ;;
	--bench) PKGS+=("${BENCH_PKGS[@]}") ;;
	*) echo "usage: setup.sh [--quiet] [--tests] [--deb] [--bench]" >&2; exit 2 ;;
	esac
done

missing=()
for p in "${PKGS[@]}"; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = "installed" ] || missing+=("$p")
done

# linux-headers-amd64 and linux-image-amd64 are meta packages: the headers
# of the kernel they point at must be installed too.
if [ ${#missing[@]} -eq 0 ]; then
	hdr=$(dpkg-query -W -f='${Depends}' linux-headers-amd64 | sed 's/ .*//')
	st=$(dpkg-query -W -f='${db:Status-Status}' "$hdr" 2>/dev/null || true)
	[ "$st" = "installed" ] || missing+=("$hdr")
fi

if [ ${#missing[@]} -eq 0 ]; then
	[ $quiet = 1 ] || echo "setup: all packages present"
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "setup: missing packages: ${missing[*]}; run scripts/setup.sh as root" >&2
	exit 1
fi

echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q --no-install-recommends "${PKGS[@]}" >&2
