# SPDX-License-Identifier: GPL-2.0
# mdev selftests.  They drive the parents of the mdev lifecycle sample
# (samples/vfio-mdev/mdev_sample.c, CONFIG_SAMPLE_VFIO_MDEV_LIFECYCLE).

CFLAGS += -O2 -g -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare \
	  -I.. -D_GNU_SOURCE
LDLIBS += -pthread

TEST_GEN_PROGS := mdev_abi mdev_vfio mdev_unbind mdev_stress mdev_review \
		  mdev_held mdev_inject
# Built, not run by kselftest: a benchmark.
TEST_GEN_FILES := mdev_bench

# The fault-injection helpers of the vhost_scsi selftests.
VSG := ../vhost_scsi
FAULT_SRCS := $(VSG)/vsg_fault.c $(VSG)/vsg_cfs.c

include ../lib.mk

$(filter-out %/mdev_inject,$(TEST_GEN_PROGS)) $(TEST_GEN_FILES): $(OUTPUT)/%: %.c mdev_util.h vfio_util.h
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)

$(OUTPUT)/mdev_inject: mdev_inject.c mdev_util.h $(FAULT_SRCS) $(VSG)/vsg_fault.h
	$(CC) $(CFLAGS) -I$(VSG) -o $@ $< $(FAULT_SRCS) $(LDLIBS)
