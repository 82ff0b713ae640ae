#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""kvm-hold.py PIDFILE: keep one idle KVM VM open for the rest of the boot.

Under TCG with one thread per vCPU (QEMU 7.2), the test VM was seen to go
on executing a stale translation of kernel code that the other vCPU had
just patched: __schedule() trapped for ever on an int3 that text_poke had
already replaced by the NOP of a static branch, holding the runqueue
lock, while the other vCPU spun on it: the test VM froze.  KVM flips such
static keys whenever a VM or a vCPU comes and goes: preempt_notifier_key
(scheduler code), apic_sw_disabled and apic_hw_disabled (kvm.ko).
Holding one VM with an in-kernel irqchip and one vCPU that never runs
keeps all of them enabled, so the inner guests that come and go later
patch no code.

Detaches (new session, no open terminal or pipe) and writes its pid.
"""
import fcntl
import os
import sys
import time

KVM_CREATE_VM = 0xAE01
KVM_CREATE_VCPU = 0xAE41
KVM_CREATE_IRQCHIP = 0xAE60


def main():
    pidfile = sys.argv[1]
    kvm = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    vm = fcntl.ioctl(kvm, KVM_CREATE_VM, 0)
    fcntl.ioctl(vm, KVM_CREATE_IRQCHIP, 0)
    fcntl.ioctl(vm, KVM_CREATE_VCPU, 0)
    if os.fork():
        os._exit(0)
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    with open(pidfile, "w") as f:
        f.write("%d\n" % os.getpid())
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
