#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""qmp-watch.py SOCKET OUT: follow a QEMU's QMP events until it shuts down.

The QEMU runs with -no-reboot and -action shutdown=pause, so a guest reset
(a triple fault, or a panic with panic=-1) pauses it instead of ending it.
On such a reset, save every vCPU's registers ("info registers -a") to OUT,
then quit QEMU.  A clean power-off just quits.  Used by run-tests (the test
VM) and inner-guest.sh (the nested guest).
"""
import json
import socket
import sys
import time


def connect(path):
    for _ in range(300):
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            return s
        except OSError:
            time.sleep(0.1)
    sys.exit("qmp: cannot connect to " + path)


def main():
    path, out = sys.argv[1], sys.argv[2]
    f = connect(path).makefile("rw")

    def cmd(name, args=None):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        f.write(json.dumps(msg) + "\n")
        f.flush()

    f.readline()
    cmd("qmp_capabilities")
    for line in f:
        ev = json.loads(line)
        if ev.get("event") == "SHUTDOWN":
            break
    else:
        return  # QEMU went away (killed on a timeout, say)
    print("qmp: SHUTDOWN", ev.get("data"), flush=True)
    if ev.get("data", {}).get("reason") == "guest-reset":
        cmd("human-monitor-command", {"command-line": "info registers -a"})
        for reply in f:
            ret = json.loads(reply).get("return")
            if isinstance(ret, str):
                with open(out, "w") as o:
                    o.write(ret)
                break
    # Wait for QEMU's answer: a connection closed too early drops the
    # queued command and leaves QEMU paused.
    cmd("quit")
    for line in f:
        if "return" in json.loads(line):
            break

if __name__ == "__main__":
    main()
