// SPDX-License-Identifier: GPL-2.0-only
/*
 * The same sample, compiled against the kernel's own <linux/mdev.h> so
 * that it links against Debian's mdev.ko.
 */
#include "../mdev_sample.c"
