#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# "make demo": runs inside the test VM and shows both drivers at work on
# real clients (mdevctl, targetcli, a nested QEMU guest).
. "$HP_ROOT/tools/testing/vm/guest-lib.sh"
rc=0

banner() {
	echo
	echo "==================================================================="
	echo "== $*"
	echo "==================================================================="
}

banner "mdev: mdevctl against our core; a parent unbound while creates run"
if [ -x samples/vfio-mdev/demo.sh ]; then
	samples/vfio-mdev/demo.sh || rc=1
else
	echo "(samples/vfio-mdev/demo.sh is not there yet)"
fi

banner "vhost_scsi: a real guest doing I/O while a LUN is unmapped and remapped"
if [ -x tools/testing/selftests/vhost_scsi/guest/demo.sh ]; then
	tools/testing/selftests/vhost_scsi/guest/demo.sh || rc=1
else
	echo "(tools/testing/selftests/vhost_scsi/guest/demo.sh is not there yet)"
fi

banner "demo $([ $rc = 0 ] && echo finished || echo FAILED)"
exit $rc
