#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# run.sh <ours|stock|dropin> <test-binary|script> [args...]
#
# Loads an mdev core (ours by path, or Debian's on purpose), the sample
# built against it, vfio and vfio_iommu_type1, runs the test with
# MDEV_FLAVOUR set, then unloads both modules: a failing rmmod fails the
# run.  Run inside the test VM from the repository root.
#
# MDEV_SAMPLE_ARGS: module parameters for the sample (ours and stock).
#
# dropin: our core with the sample built against the kernel's own headers
# (samples/vfio-mdev/stock), as a parent we did not build (kvmgt, a DKMS
# vGPU driver) would load against our mdev.ko: insmod checks its
# modversions CRCs against ours.

flavour=$1
shift
dir=tools/testing/selftests/mdev
. tools/testing/vm/guest-lib.sh

case "$flavour" in
ours)
	hp_load drivers/vfio/mdev/mdev.ko
	# shellcheck disable=SC2086 # MDEV_SAMPLE_ARGS: module parameters
	hp_load samples/vfio-mdev/mdev_sample.ko ${MDEV_SAMPLE_ARGS:-}
	sample=mdev_sample
	;;
stock)
	[ -f "${HP_MODDIR:-$HP_ROOT}/samples/vfio-mdev/stock/mdev_sample_stock.ko" ] ||
		hp_skip "stock sample not built (make -C samples/vfio-mdev stock)"
	hp_load_stock mdev
	# shellcheck disable=SC2086
	hp_load samples/vfio-mdev/stock/mdev_sample_stock.ko ${MDEV_SAMPLE_ARGS:-}
	sample=mdev_sample_stock
	;;
dropin)
	[ -f "${HP_MODDIR:-$HP_ROOT}/samples/vfio-mdev/stock/mdev_sample_stock.ko" ] ||
		hp_die "stock sample not built (make -C samples/vfio-mdev stock)"
	hp_load drivers/vfio/mdev/mdev.ko
	hp_load samples/vfio-mdev/stock/mdev_sample_stock.ko
	grep -q O /sys/module/mdev/taint ||
		hp_die "the mdev core loaded is not ours (no taint O)"
	sample=mdev_sample_stock
	;;
*)
	hp_die "usage: $0 ours|stock|dropin <test> [args]"
	;;
esac
modprobe vfio_iommu_type1 || hp_die "cannot load vfio_iommu_type1"

export MDEV_FLAVOUR=$flavour
test=$1
shift
case "$test" in
*/*) ;;
*) test=$dir/$test ;;
esac
tap=$(mktemp)
{ "$test" "$@"; echo $? > "$tap.rc"; } 2>&1 | tee "$tap"
rc=$(cat "$tap.rc")
# A run whose every test skipped is a skip (exit 4, the reason last), not
# a pass.
if [ $rc = 0 ] && grep -q '^ok ' "$tap" && ! grep '^ok ' "$tap" | grep -q -v '# SKIP'; then
	echo "all skipped: $(grep '^ok .*# SKIP' "$tap" | tail -n 1 | sed 's/.*# SKIP *//')"
	rc=4
fi
rm -f "$tap" "$tap.rc"

# a skip stays a skip, but the modules must still unload cleanly
hp_unload "$sample"
# Every parent state holds a reference on mdev until its last kobject is
# released; with CONFIG_DEBUG_KOBJECT_RELEASE that comes up to a few
# seconds after the sample is gone.
for _ in $(seq 50); do
	[ "$(cat /sys/module/mdev/refcnt 2>/dev/null || echo 0)" = 0 ] && break
	sleep 0.2
done
hp_unload mdev
exit $rc
