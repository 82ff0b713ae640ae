#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make deb-test: build the package (make deb), fetch what the test VM
# cannot (it has no network: dkms and its one missing dependency, and the
# rt kernel's headers for the "installed later" case) into out/deb/pool,
# then run tools/testing/vm/tests/deb.sh on Debian's kernel and on 6.12.
# Each boot builds for every kernel with headers under TCG: 20 to 30 min.
set -euo pipefail
root=$(realpath "$(dirname "$0")/..")
cd "$root"
out=$root/out	# tests/deb.sh looks in $HP_ROOT/out/deb
scripts/setup.sh --quiet --tests
OUT=$out scripts/mkdeb.sh
pool=$out/deb/pool
mkdir -p "$pool"
chown _apt "$pool" 2>/dev/null || true
rtk=$(scripts/kver.sh linux-headers-rt-amd64)
(cd "$pool" && apt-get download -q dkms sudo "linux-headers-$rtk")
rc=0
tools/testing/vm/run-tests --kernel debian --label deb-debian \
	--out "$out/vm-deb-debian" tools/testing/vm/vmtests-deb || rc=1
# run-tests wants modules for 6.12; the test installs its own
HP_MODDIR=$out/deb/src tools/testing/vm/run-tests --kernel 6.12 \
	--label deb-6.12 --out "$out/vm-deb-6.12" tools/testing/vm/vmtests-deb || rc=1
exit $rc
