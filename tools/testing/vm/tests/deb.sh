#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The package of "make deb" as a user installs it, in the test VM (whose
# root is a throw-away overlay of the host's, with the host's installed
# kernels and headers):
#
# - apt install of the .deb (and of dkms, which the host downloaded: the
#   VM has no network) builds our modules for every kernel with headers;
#   modprobe then loads ours on the running kernel (taint O, from
#   updates/dkms), and every other kernel's module tree resolves
#   vhost_scsi and mdev to ours;
# - headers of another kernel installed afterwards get a build too (the
#   rt headers, purged first; DKMS's header_postinst hook);
# - removing the package restores the kernel's own modules.
#
# HP_DEB_DIR (default $HP_ROOT/out/deb): the .deb, and pool/ with dkms'
# packages and the rt headers (make deb-test puts them there).
. "$HP_ROOT/tools/testing/vm/guest-lib.sh"
set -e
dir=${HP_DEB_DIR:-$HP_ROOT/out/deb}
deb=$(ls "$dir"/hotplug-kmod-dkms_*_all.deb 2>/dev/null | tail -n 1)
[ -n "$deb" ] || hp_die "no hotplug-kmod-dkms .deb in $dir: run make deb-test"
rt=
for f in "$dir"/pool/linux-headers-*-rt-amd64_*.deb; do
	[ -f "$f" ] && rt=$f
done
[ -n "$rt" ] || hp_die "no rt headers package in $dir/pool"
rtk=$(basename "$rt" | sed 's/^linux-headers-\(.*\)_.*_amd64\.deb$/\1/')
export DEBIAN_FRONTEND=noninteractive
# udev makes /dev/fd on a real system; the test VM's init does not, and
# dkms needs it for <(...).
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
# man-db's index rebuild takes minutes under TCG and tests nothing here.
rm -f /var/lib/man-db/auto-update

# mod_path KVER MODULE: where that kernel's modprobe finds MODULE
mod_path() {
	modinfo -k "$1" -n "$2" 2>/dev/null || echo none
}

# loads_ours MODULE: modprobe loads ours on the running kernel
loads_ours() {
	modprobe "$1" || hp_die "modprobe $1 failed"
	grep -q O "/sys/module/$1/taint" ||
		hp_die "modprobe $1 loaded $(mod_path "$(uname -r)" "$1"), not ours"
	echo "$(uname -r): modprobe $1: ours, $(mod_path "$(uname -r)" "$1")"
	modprobe -r "$1"
}

# The rt kernel's headers go first, to come back after the package.  So
# do the cloud kernel's, where the host has them (make check installs
# them for its lint build): a third build under TCG adds minutes and
# shows nothing that two kernels do not.
dpkg --purge "linux-headers-$rtk" linux-headers-rt-amd64 > /dev/null
mapfile -t cloud < <(dpkg-query -W -f='${Package}\n' \
	'linux-headers-*-cloud-amd64' linux-headers-cloud-amd64 2>/dev/null)
[ ${#cloud[@]} = 0 ] || dpkg --purge "${cloud[@]}" > /dev/null
# What apt would download from Debian's archive is in its cache already
# (the VM has no network).
cp "$dir"/pool/*.deb /var/cache/apt/archives/

echo "# apt install $(basename "$deb")"
apt-get install -y -q "$deb" || hp_die "apt install failed"
dkms status hotplug-kmod

kernels=$(ls -d /lib/modules/*/build/include 2>/dev/null | cut -d/ -f4)
[ -n "$kernels" ] || hp_die "no kernel with headers"
for k in $kernels; do
	for m in vhost_scsi mdev; do
		p=$(mod_path "$k" "$m")
		case $p in
		*/updates/dkms/*) echo "$k: $m -> $p" ;;
		*) hp_die "$k: $m resolves to $p, not to DKMS' build of ours" ;;
		esac
	done
done
loads_ours vhost_scsi
loads_ours mdev

echo "# apt install $(basename "$rt") (a kernel's headers, later)"
apt-get install -y -q "linux-headers-$rtk" ||
	hp_die "rt headers did not install"
p=$(mod_path "$rtk" vhost_scsi)
case $p in
*/updates/dkms/*) echo "$rtk: vhost_scsi -> $p" ;;
*) hp_die "$rtk: headers installed later, but vhost_scsi resolves to $p" ;;
esac

echo "# apt remove hotplug-kmod-dkms"
apt-get remove -y -q hotplug-kmod-dkms || hp_die "apt remove failed"
for k in $kernels $rtk; do
	p=$(mod_path "$k" vhost_scsi)
	case $p in
	*/updates/*) hp_die "$k: vhost_scsi still resolves to $p after removal" ;;
	esac
done
modprobe vhost_scsi
if grep -q O /sys/module/vhost_scsi/taint; then
	hp_die "after removal modprobe still loads an out-of-tree vhost_scsi"
fi
echo "$(uname -r): after removal modprobe vhost_scsi loads $(mod_path "$(uname -r)" vhost_scsi)"
modprobe -r vhost_scsi
