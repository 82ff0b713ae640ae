# SPDX-License-Identifier: GPL-2.0
# A userspace virtio-scsi guest (libvsg) and the vhost_scsi selftests.
# Each test sets up its LIO targets in configfs itself; see config for
# the kernel options they need.

CFLAGS += -O2 -g -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare -Werror=vla
CFLAGS += -I.. -pthread -D_GNU_SOURCE
LDLIBS += -pthread

TEST_GEN_PROGS := vhost_scsi_io vhost_scsi_ctl vhost_scsi_bad vhost_scsi_race \
		  vhost_scsi_limits vhost_scsi_fuzz vhost_scsi_storm \
		  vhost_scsi_inject
# Built, not run by kselftest: a probe of the device and a benchmark.
TEST_GEN_FILES := vsg_probe vhost_scsi_bench

LIB_OBJS := vsg.o vsg_vq.o vsg_scsi.o vsg_cmds.o vsg_cfs.o vsg_test.o \
	    vsg_fault.o
HDRS := vsg.h vsg_cfs.h vsg_test.h vsg_only.h vsg_fault.h

include ../lib.mk

LIBVSG := $(OUTPUT)/libvsg.a
EXTRA_CLEAN := $(LIBVSG) $(patsubst %,$(OUTPUT)/%.o,$(basename $(LIB_OBJS)) \
	$(notdir $(TEST_GEN_PROGS) $(TEST_GEN_FILES)))

$(LIBVSG): $(addprefix $(OUTPUT)/,$(LIB_OBJS))
	$(AR) rcs $@ $^

$(OUTPUT)/%.o: %.c $(HDRS)
	$(CC) $(CFLAGS) -c -o $@ $<

$(TEST_GEN_PROGS) $(TEST_GEN_FILES): %: %.o $(LIBVSG)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)
