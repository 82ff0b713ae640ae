#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Demo, run inside the test VM from the repository root: load our mdev
# core and the sample, create and remove mdevs with mdevctl, then unbind
# a parent while creates are running (each held open for 1.5 s by the
# sample's create_delay_ms knob) and show what each create got: the one
# in flight finishes and is then removed by the unbind, the later ones
# fail fast with ENODEV, nothing is left on the parent.

. tools/testing/vm/guest-lib.sh

say() { printf '\n=== %s\n' "$*"; }
P=mdev_sample.0
T=mdev_sample-small
TYPES=/sys/bus/platform/devices/$P/mdev_supported_types

say "loading our mdev core and the sample parent"
hp_load drivers/vfio/mdev/mdev.ko
hp_load samples/vfio-mdev/mdev_sample.ko
ls /sys/class/mdev_bus/

say "mdevctl types"
mdevctl types

say "mdevctl start: two mdevs on $P"
for i in 1 2; do
	mdevctl start -u 00000000-0000-4000-8000-00000000000$i -p $P --type $T &&
		echo "started 00000000-0000-4000-8000-00000000000$i"
done
mdevctl list
echo "available_instances: $(cat $TYPES/$T/available_instances)"

say "mdevctl stop: the first one"
mdevctl stop -u 00000000-0000-4000-8000-000000000001
mdevctl list

say "unbinding $P while creates are running (create_delay_ms=1500)"
echo 1500 > /sys/module/mdev_sample/parameters/create_delay_ms
# one python process drives the race so that the timing is not lost in
# interpreter start-up under TCG
python3 - "$TYPES/$T/create" $P <<'PYEOF'
import errno, os, sys, threading, time
create, parent = sys.argv[1], sys.argv[2]
t0 = time.monotonic()
def log(msg):
    print("  %5.2fs %s" % (time.monotonic() - t0, msg), flush=True)
def do_create(n):
    u = "00000000-0000-4000-8000-00000000000%d" % n
    fd = os.open(create, os.O_WRONLY)
    log("create %s: started" % u)
    try:
        os.write(fd, u.encode())
        log("create %s: ok" % u)
    except OSError as e:
        log("create %s: failed with %s" % (u, errno.errorcode[e.errno]))
def do_unbind():
    log("unbind %s: started" % parent)
    with open("/sys/bus/platform/drivers/mdev_sample/unbind", "w") as f:
        f.write(parent)
    log("unbind %s: done, after the create in flight finished" % parent)
ts = [threading.Thread(target=do_create, args=(3,)),
      threading.Thread(target=do_unbind),
      threading.Thread(target=do_create, args=(4,)),
      threading.Thread(target=do_create, args=(5,))]
for t in ts:
    t.start()
    time.sleep(0.3)
for t in ts:
    t.join()
PYEOF
echo 0 > /sys/module/mdev_sample/parameters/create_delay_ms
echo "mdevs left on $P: $(ls -d /sys/bus/platform/devices/$P/????????-* 2>/dev/null | wc -l)"
mdevctl list

say "binding $P again"
echo $P > /sys/bus/platform/drivers/mdev_sample/bind
echo "available_instances: $(cat $TYPES/$T/available_instances)"

say "unloading"
hp_unload mdev_sample
hp_unload mdev
echo "done"
