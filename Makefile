# SPDX-License-Identifier: GPL-2.0
#
# Out-of-tree build of the hot-plug-safe vhost_scsi and mdev modules for
# Debian 12's 6.1 kernel.  See README.md and
# Documentation/dev-tools/hotplug-testing.rst.
#
#   make                 build modules and selftests against KDIR
#   make check           lint + VM tests on the Debian and the debug kernel
#   make check-debug     only the debug-kernel tier
#   make mutants         run the mutants of tools/testing/mutants (hours)
#   make stress          long hot-plug storms, ours against Debian's (116 min)
#   make bench           benchmarks, ours against Debian's (two boots, 40 min)
#   make profile         perf at one benchmark point, ours against Debian's
#   make deb             the DKMS package hotplug-kmod-dkms (out/deb/)
#   make deb-test        install, use and remove it in VMs (about 50 min)
#   make demo            boot a VM and show the drivers at work
#   make install         install into /lib/modules/<kver>/updates + depmod
#   make patches         the kernel patch series (out/patches/), built and checked

CACHE	?= /var/cache/hotplug-kmod
OUT	?= $(CURDIR)/out

# Make sure the Debian packages we need are there before anything asks
# dpkg or the headers a question.  HP_NO_SETUP=1 skips that (DKMS runs us
# from inside apt, where apt cannot be called again).
ifeq ($(filter help,$(MAKECMDGOALS))$(HP_NO_SETUP),)
  ifneq ($(shell $(CURDIR)/scripts/setup.sh --quiet >&2 && echo ok),ok)
    $(error scripts/setup.sh failed)
  endif
endif

# KDIR given (a real host: /lib/modules/$(uname -r)/build): its release.
# Otherwise the Debian kernel that linux-headers-amd64 points at.
ifneq ($(KDIR),)
  KVER	?= $(shell sed -n 's/.*UTS_RELEASE "\(.*\)"/\1/p' \
		$(KDIR)/include/generated/utsrelease.h)
else
  KVER	?= $(shell $(CURDIR)/scripts/kver.sh)
  KDIR	:= /usr/src/linux-headers-$(KVER)
endif
# make patches works on Debian's linux-source tarball itself
# (scripts/mkpatches.sh): it must not extract one into the cache.
ifneq ($(MAKECMDGOALS),patches)
KSRC	?= $(shell $(CURDIR)/scripts/ksrc.sh $(CACHE) $(KDIR))
ifeq ($(KSRC),)
  $(error cannot find the kernel source matching $(KDIR))
endif
endif

# No header of the kernel's is shadowed: mdev builds against the kernel's
# own <linux/mdev.h>, so its exports keep the kernel's modversions CRCs.
KBUILD_ARGS = -C $(KDIR) M=$(CURDIR) HP_KSRC=$(KSRC)

SELFTESTS := $(patsubst %/Makefile,%,$(wildcard tools/testing/selftests/*/Makefile))

export CACHE OUT KVER KDIR KSRC

.PHONY: all modules selftests check check-debug lint mutants stress bench profile \
	deb deb-test vmtest demo install patches clean help

all: modules selftests

# vhost.h is private: our vhost_scsi must see vhost's structures as the
# kernel's own vhost.ko does (see scripts/vhost-layout.sh).
modules:
	$(MAKE) $(KBUILD_ARGS) modules
	@$(CURDIR)/scripts/vhost-layout.sh $(KDIR) $(KSRC) \
		$(CURDIR)/drivers/vhost/vhost_scsi.ko

# The selftest Makefiles are the kernel tree's (include ../lib.mk, the
# harness from -I..): the kselftest framework they expect one level up is
# linked in from the kernel source, as tools/testing/selftests/.gitignore
# lists.  lib.mk leaves OUTPUT to its caller below the top level.
KSELFTEST_FRAMEWORK := lib.mk kselftest.h kselftest_harness.h kselftest

selftests:
	@set -e; for f in $(KSELFTEST_FRAMEWORK); do \
		test -e $(KSRC)/tools/testing/selftests/$$f || \
			{ echo "$(KSRC) has no tools/testing/selftests/$$f"; exit 1; }; \
		ln -sfn $(KSRC)/tools/testing/selftests/$$f \
			tools/testing/selftests/$$f; \
	done
	@set -e; for d in $(SELFTESTS); do \
		$(MAKE) -C $$d OUTPUT=$(CURDIR)/$$d; \
	done

# Everything CI runs: lint, the VM tests on Debian's kernel, the runner's
# own tests, then the debug-kernel tier.  Ends with "N passed, N failed".
check:
	@$(CURDIR)/scripts/check.sh all

check-debug:
	@$(CURDIR)/scripts/check.sh debug

lint:
	@$(CURDIR)/scripts/check.sh lint

# Not part of check: every mutant of tools/testing/mutants/mutants.list
# must make the tests it names fail.  MUTANTS=REGEX runs some of them.
mutants: all
	@$(CURDIR)/tools/testing/mutants/run '$(MUTANTS)'

# Not part of check: the long runs of issue 13, ours against Debian's
# modules; STRESS=short for a quick try; STRESS_BOOTS="ours real" for
# some of the boots only (a full run in parts; see the script).  Writes
# the table of Documentation/admin-guide/hotplug-stress.rst.
stress: all
	@$(CURDIR)/tools/testing/stress/run $(or $(STRESS),full) $(STRESS_BOOTS)

# Not part of check (check runs its smoke mode): ours against Debian's
# vhost_scsi and mdev in one boot; BENCH=smoke for a quick try,
# BENCH_KERNEL=6.12 for Debian's 6.12 kernel and its own modules.  Writes
# Documentation/admin-guide/hotplug-bench.{rst,json} and the plots.
bench: all
	@$(CURDIR)/tools/testing/bench/run $(or $(BENCH),full) $(or $(BENCH_KERNEL),debian)

# Not part of check: perf in the test VM at one point of the benchmark,
# ours against Debian's; PROFILE="POINT SECS ROUNDS" (see the script).
profile: all
	@$(CURDIR)/tools/testing/bench/profile $(PROFILE)

# The DKMS package: builds nothing here; DKMS builds on the host.
deb:
	@$(CURDIR)/scripts/mkdeb.sh

deb-test:
	@$(CURDIR)/scripts/deb-test.sh

# Not part of check: the series for the kernel tree against Debian's
# linux-source-6.1, applied with git am to a clean copy, every patch
# built with W=1 and checked with checkpatch --strict (VERIFY=0: only
# write it).  Takes the base's extraction once, then a few minutes.
patches:
	@VERIFY=$(or $(VERIFY),1) $(CURDIR)/scripts/mkpatches.sh

vmtest: all
	tools/testing/vm/run-tests --kernel debian

demo: all
	HP_VM_MEM=6G tools/testing/vm/run-tests --kernel debian --label demo \
		--demo tools/testing/vm/demo.sh

# Only the two drivers; the sample parent and the test modules stay here.
INSTALL_KOS := drivers/vhost/vhost_scsi.ko drivers/vfio/mdev/mdev.ko
MODDEST = $(INSTALL_MOD_PATH)/lib/modules/$(KVER)/updates

install:
	@for ko in $(INSTALL_KOS); do \
		[ -f $$ko ] || { echo "install: $$ko not built; run make" >&2; exit 1; }; \
		install -D -m 0644 $$ko $(MODDEST)/$$(basename $$ko); \
		echo "  INSTALL $(MODDEST)/$$(basename $$ko)"; \
	done
	depmod -a $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) $(KVER)

clean:
	@if [ -d "$(KDIR)" ]; then $(MAKE) $(KBUILD_ARGS) clean; fi
	@for d in $(SELFTESTS); do $(MAKE) -C $$d clean; done
	rm -rf $(OUT)

help:
	@sed -n 's/^#   //p' Makefile
