#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# With our mdev.ko installed the way users install it ("make install" into
# updates/, as DKMS does), Debian's own kvmgt.ko, built against Debian's
# <linux/mdev.h> and Module.symvers, must load against it: same symbols,
# same modversions CRCs.  kvmgt pulls in i915 and kvm; no Intel GPU is
# needed for the modules to load.  On the debug kernel (which builds i915
# and kvmgt as modules for this) the same holds under KASAN, lockdep and
# modversions.  Runs in the test VM, whose root is a throw-away overlay.
. "$HP_ROOT/tools/testing/vm/guest-lib.sh"
set -e
kvmgt=$(modinfo -n kvmgt 2>/dev/null) ||
	hp_skip "this kernel has no kvmgt module"
for m in kvmgt mdev; do
	! grep -q "^$m " /proc/modules || hp_die "$m is loaded already"
done

hp_install mdev

t0=$(dmesg | wc -l)
modprobe kvmgt || {
	dmesg | tail -n +$((t0 + 1)) | grep -iE 'mdev|kvmgt|version' >&2
	hp_die "modprobe kvmgt failed with our mdev.ko installed"
}
grep -q O /sys/module/mdev/taint ||
	hp_die "the mdev loaded for kvmgt is not ours (taint $(cat /sys/module/mdev/taint))"
if dmesg | tail -n +$((t0 + 1)) | grep -E 'disagrees about version|Unknown symbol'; then
	hp_die "module version complaints while loading kvmgt"
fi
holders=$(ls /sys/module/mdev/holders)
echo "modprobe kvmgt: $kvmgt loaded against $(modinfo -n mdev) (taint $(cat /sys/module/mdev/taint)), mdev holders: $holders"
echo "$holders" | grep -qx kvmgt || hp_die "kvmgt does not use our mdev"

modprobe -r kvmgt
! grep -q "^mdev " /proc/modules || modprobe -r mdev
