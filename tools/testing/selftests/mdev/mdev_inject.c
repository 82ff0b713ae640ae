// SPDX-License-Identifier: GPL-2.0
/*
 * Failing allocations in mdev's setup paths (debug kernel: FAILSLAB and
 * FAIL_PAGE_ALLOC), swept with fail-nth on this thread as the vhost_scsi
 * inject suite does (vsg_fault.[ch]): allocation 1 of the step fails,
 * then 2, ..., until the step makes fewer allocations than the one set
 * to fail.  The steps:
 *  - create an mdev: the write to a type's "create";
 *  - register a parent: the write to the sample driver's "bind", whose
 *    probe registers the parent with the mdev core.
 *
 * A step that fails must return an error, leave no device (no parent)
 * and every instance available, and succeed when tried again.  One that
 * succeeds although an allocation failed must have done its whole job: the
 * mdev exists, the parent's types are there with all their instances.
 * Leaks are for kmemleak, scanned by the VM runner after the run.  Each
 * sweep prints an "# inject:" line.
 *
 * One report is not ours and is declared when it shows: 6.1's vfio core
 * puts a group whose creation failed with its iommu_group still set
 * (vfio_create_group()), and vfio_group_release() warns.  The sample's
 * mdev probe registers a vfio device, so the create sweep reaches it.
 * The debug kernel defers kobject releases (DEBUG_KOBJECT_RELEASE), so
 * the warning comes from a kworker up to 4 s later, and two of them can
 * print at once: each sweep waits those releases out before it counts.
 */
#include <sys/mman.h>
#include <sys/syscall.h>
#include "mdev_util.h"
#include "vsg_fault.h"
#include "kselftest_harness.h"

#define NR_PARENTS	2
#define SWEEP_MAX	400
#define UUID		"83b8f4f2-509f-382f-3c1e-e6bfe0fa1100"

struct minj {
	struct vsg_faults faults;
	int kmsg;		/* the kernel log since the test began */
	int nth;		/* this thread's fail-nth */
	int fd;			/* the attribute the step writes */
	int avail0;		/* instances of parent 0, type small */
	bool skipped;		/* setup skipped; 6.1 runs the test anyway */
};

FIXTURE(inject) {
	struct minj x;
};

static int attr_open(struct minj *x, const char *path)
{
	x->fd = open(path, O_WRONLY | O_CLOEXEC);
	return x->fd < 0 ? -errno : 0;
}

static int attr_write(struct minj *x, const char *val)
{
	ssize_t n = pwrite(x->fd, val, strlen(val), 0);

	return n < 0 ? -errno : 0;
}

static void attr_close(struct minj *x)
{
	if (x->fd >= 0)
		close(x->fd);
	x->fd = -1;
}

static int create_prep(void *ctx)
{
	char p[PATH_MAX];

	type_path(p, sizeof(p), 0, "small", "create");
	return attr_open(ctx, p);
}

static int create_op(void *ctx)
{
	return attr_write(ctx, UUID);
}

static void create_undo(void *ctx)
{
	attr_close(ctx);
	mdev_remove(UUID);
}

static const char *create_check(void *ctx, bool done)
{
	struct minj *x = ctx;
	bool there = mdev_exists(UUID);

	if (there != done)
		return there ? "the mdev exists, its create failed" :
			       "no mdev, its create succeeded";
	if (mdev_available(0, "small") != x->avail0 - done)
		return "available_instances is off";
	return NULL;
}

static int bind_prep(void *ctx)
{
	return attr_open(ctx, PLAT_DRV "/bind");
}

static int bind_op(void *ctx)
{
	return attr_write(ctx, "mdev_sample.1");
}

static void bind_undo(void *ctx)
{
	attr_close(ctx);
	parent_unbind(1);
}

static const char *bind_check(void *ctx, bool done)
{
	char p[PATH_MAX];
	bool types;

	snprintf(p, sizeof(p), PLAT_DEVS "/mdev_sample.1/mdev_supported_types");
	types = !access(p, F_OK);
	if (types != done || parent_bound(1) != done)
		return done ? "the parent is bound but not registered" :
			      "the parent is registered, its bind failed";
	if (done && mdev_available(1, "small") != 3)
		return "the parent's instances are off";
	return NULL;
}

static void sweep(struct __test_metadata *_metadata, struct minj *x,
		  const struct vsg_step *st)
{
	struct vsg_sweep r;
	char errs[64];
	int ret;

	unsigned int vfio_warns;

	ret = vsg_sweep_run(x->nth, st, x, SWEEP_MAX, &r);
	vsg_sweep_errors(&r, errs, sizeof(errs));
	vfio_warns = vsg_kmsg_count_settled(x->kmsg,
					    "at drivers/vfio/vfio_main.c", 7,
					    NULL, 0);
	if (vfio_warns)
		expect_kernel_report("WARNING: .* vfio_group_release");
	printf("# inject: step=\"%s\" sites=%u failed=%u tolerated=%u vfio_warns=%u errors=%s\n",
	       st->name, r.sites, r.failed, r.tolerated, vfio_warns, errs);
	fflush(stdout);
	EXPECT_EQ(1, ret) TH_LOG("%s: stopped before a clean run", st->name);
	EXPECT_EQ('\0', r.what[0]) TH_LOG("%s: %s", st->name, r.what);
	EXPECT_LE(1, r.sites) TH_LOG("%s", st->name);
	EXPECT_EQ(r.sites, r.failed + r.tolerated) TH_LOG("%s", st->name);
}

FIXTURE_SETUP(inject)
{
	struct minj *x = &self->x;
	int ret;

	x->nth = -1;
	x->fd = -1;
	x->kmsg = vsg_kmsg_open();
	ASSERT_LE(0, x->kmsg) TH_LOG("cannot read /dev/kmsg");
	if (access(PLAT_DEVS "/mdev_sample.0", F_OK)) {
		x->skipped = true;
		SKIP(return, "sample parent not loaded (use run.sh)");
	}
	ret = vsg_faults_apply(&x->faults, vsg_fault_nth_only,
			       vsg_fault_nth_only_nr);
	if (ret == 4) {
		x->skipped = true;
		SKIP(return, "%s", x->faults.why);
	}
	ASSERT_EQ(0, ret) TH_LOG("%s", x->faults.why);
	mdev_cleanup_all(NR_PARENTS);
	x->avail0 = mdev_available(0, "small");
	ASSERT_LT(0, x->avail0);
	ASSERT_EQ(0, mlockall(MCL_CURRENT | MCL_FUTURE)) TH_LOG("mlockall");
	x->nth = vsg_fail_nth_open(syscall(SYS_gettid));
	ASSERT_LE(0, x->nth);
}

FIXTURE_TEARDOWN(inject)
{
	struct minj *x = &self->x;

	if (x->nth >= 0) {
		vsg_fail_nth_set(x->nth, 0);
		close(x->nth);
	}
	attr_close(x);
	if (x->kmsg > 0)
		close(x->kmsg);
	munlockall();
	if (!parent_bound(1))
		parent_bind(1);
	mdev_cleanup_all(NR_PARENTS);
	vsg_faults_undo(&x->faults);
}

TEST_F_TIMEOUT(inject, create, 300)
{
	const struct vsg_step create = {
		"create an mdev", create_prep, create_op, create_undo,
		create_check,
	};

	if (self->x.skipped)
		return;
	sweep(_metadata, &self->x, &create);
}

TEST_F_TIMEOUT(inject, parent_registration, 300)
{
	const struct vsg_step bind = {
		"register a parent (bind)", bind_prep, bind_op, bind_undo,
		bind_check,
	};

	if (self->x.skipped)
		return;
	ASSERT_EQ(0, parent_unbind(1));
	sweep(_metadata, &self->x, &bind);
}

TEST_HARNESS_MAIN
