// SPDX-License-Identifier: GPL-2.0
/*
 * Failing allocations in the setup paths (debug kernel: FAILSLAB and
 * FAIL_PAGE_ALLOC).  Each setup step is swept with fail-nth on the
 * calling thread: its first allocation fails, then its second, and so
 * on, until the step makes fewer allocations than the one set to fail.
 * That fails every allocation the step makes, in vhost_scsi and in the
 * layers it calls (LIO, configfs, vhost), once.  The steps: make a WWN,
 * a TPG and its nexus; link a LUN of the device's TPG, and LUN 16383 of
 * a new TPG; open /dev/vhost-scsi; SET_ENDPOINT.  (VHOST_SET_OWNER is
 * vhost's own and made more than SWEEP_MAX allocations under KASAN.)
 *
 * Every failed step must return an error and leave nothing behind: the
 * state it would have changed is as before (a LUN whose link failed is
 * not there for the guest), and the same step without failures then
 * succeeds.  A step that succeeds although an allocation failed must
 * have done its whole job.  Leaks are for kmemleak, which the VM runner
 * scans after the run.  Each sweep prints one "# inject:" line (key=value)
 * for the long stress runs.
 *
 * Only fail-nth injects (the probabilities stay 0), so nothing but this
 * thread's step fails.  Memory is locked first: a failed page-table
 * allocation under a user page fault would end in the OOM killer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/vhost.h>

#include "kselftest_harness.h"
#include "vsg_fault.h"
#include "vsg_test.h"

#define SWEEP_MAX	400	/* allocations per step, at most */
#define FAR_ID		16383	/* the last LUN id */

struct inj {
	struct vsg_env e;
	struct vsg_faults faults;
	struct vsg_target t2;	/* made and removed by the steps */
	int nth;		/* this thread's fail-nth */
	int fd;			/* a /dev/vhost-scsi of the steps */
	int kmsg;		/* the kernel log, read since the step's prep */
	unsigned int lio_unmapped;	/* links LIO did not map, per sweep */
	bool skipped;		/* setup skipped; 6.1 runs the test anyway */
};

FIXTURE(inject) {
	struct inj x;
};

/* One step swept: an "# inject:" line, and every check must hold. */
static void sweep(struct __test_metadata *_metadata, struct inj *x,
		  const struct vsg_step *st, unsigned int min_sites)
{
	struct vsg_sweep r;
	char errs[64];
	int ret;

	x->lio_unmapped = 0;
	ret = vsg_sweep_run(x->nth, st, x, SWEEP_MAX, &r);
	vsg_sweep_errors(&r, errs, sizeof(errs));
	printf("# inject: step=\"%s\" sites=%u failed=%u tolerated=%u lio_unmapped=%u errors=%s\n",
	       st->name, r.sites, r.failed, r.tolerated, x->lio_unmapped,
	       errs);
	fflush(stdout);
	EXPECT_EQ(1, ret) TH_LOG("%s: stopped before a clean run", st->name);
	EXPECT_EQ('\0', r.what[0]) TH_LOG("%s: %s", st->name, r.what);
	EXPECT_LE(min_sites, r.sites) TH_LOG("%s", st->name);
	EXPECT_EQ(r.sites, r.failed + r.tolerated) TH_LOG("%s", st->name);
}

/* configfs paths of the second target */
static void t2_path(struct inj *x, char *buf, size_t len,
		    const char *sub)
{
	snprintf(buf, len, VSG_CFS_ROOT "/vhost/%s%s%s", x->t2.wwpn,
		 sub ? "/" : "", sub ? sub : "");
}

static int cfs_mkdir(const char *path)
{
	return mkdir(path, 0755) ? -errno : 0;
}

static const char *exists_as(const char *path, bool done)
{
	bool there = !access(path, F_OK);

	if (there == done)
		return NULL;
	return there ? "the directory exists" : "the directory is missing";
}

static int wwn_make(void *ctx)
{
	struct inj *x = ctx;
	char path[256];

	t2_path(x, path, sizeof(path), NULL);
	return cfs_mkdir(path);
}

static void wwn_remove(void *ctx)
{
	struct inj *x = ctx;
	char path[256];

	t2_path(x, path, sizeof(path), NULL);
	rmdir(path);
}

static const char *wwn_check(void *ctx, bool done)
{
	struct inj *x = ctx;
	char path[256];

	t2_path(x, path, sizeof(path), NULL);
	return exists_as(path, done);
}

static int tpg_make(void *ctx)
{
	struct inj *x = ctx;
	char path[256];

	t2_path(x, path, sizeof(path), "tpgt_1");
	return cfs_mkdir(path);
}

static void tpg_remove(void *ctx)
{
	struct inj *x = ctx;
	char path[256];

	t2_path(x, path, sizeof(path), "tpgt_1");
	rmdir(path);
}

static const char *tpg_check(void *ctx, bool done)
{
	struct inj *x = ctx;
	char path[256];

	t2_path(x, path, sizeof(path), "tpgt_1");
	return exists_as(path, done);
}

static int nexus_write(struct inj *x, const char *val)
{
	char path[256];

	t2_path(x, path, sizeof(path), "tpgt_1/nexus");
	return vsg_cfs_write(path, val);
}

static int nexus_make(void *ctx)
{
	struct inj *x = ctx;

	return nexus_write(x, x->t2.nexus);
}

static void nexus_drop(void *ctx)
{
	struct inj *x = ctx;

	nexus_write(x, "NULL");
}

static const char *nexus_check(void *ctx, bool done)
{
	struct inj *x = ctx;
	char path[256], val[96];
	bool there;

	t2_path(x, path, sizeof(path), "tpgt_1/nexus");
	there = !vsg_cfs_read(path, val, sizeof(val));
	if (there == done)
		return NULL;
	return there ? "a nexus exists" : "no nexus";
}

/* LUN 1 of the device's own TPG: the guest must see what configfs says. */
static int lun1_link(void *ctx)
{
	struct inj *x = ctx;
	int ret = vsg_lun_link_as(&x->e.t, 1, 1);

	if (ret)	/* the symlink failed: its directory stays */
		vsg_lun_unlink_id(&x->e.t, 1);
	return ret;
}

static void lun1_unlink(void *ctx)
{
	struct inj *x = ctx;

	vsg_lun_unlink_id(&x->e.t, 1);
}

/* 1: LUN 1 answers, 0: it is missing, -1: no answer */
static int lun1_there(struct inj *x)
{
	struct vsg_scsi_res r;

	if (vsg_tur(x->e.q, 1, 1, &r))
		return -1;
	return r.response == VIRTIO_SCSI_S_OK &&
	       (r.status == SAM_STAT_GOOD || vsg_sense_key(&r) == 6);
}

/*
 * Events of earlier links and unlinks are old news.  (Not a timeout of
 * 0: an event whose signal was not read yet would count as unsignalled.)
 */
static int events_drain(void *ctx)
{
	struct inj *x = ctx;
	struct virtio_scsi_event ev;

	while (!vsg_event_next(x->e.d, &ev, NULL, 20))
		;
	vsg_kmsg_count(x->kmsg, NULL, 7, NULL, 0);
	return 0;
}

/*
 * A link that succeeded must make the LUN visible at once: the driver's
 * part of a link allocates nothing, so no failure can leave it half done.
 * Only LIO's own part can: 6.1's and 6.12's LIO link a LUN even when they
 * could not allocate the initiator's mapping of it, and the driver must
 * say so.
 */
static const char *lun1_check(void *ctx, bool done)
{
	struct inj *x = ctx;
	int there = lun1_there(x);

	if (there < 0)
		return "TUR of LUN 1 not answered";
	if (there == done)
		return NULL;
	if (!done)
		return "LUN 1 answers, its link failed";
	if (vsg_kmsg_count(x->kmsg, "is not mapped for initiator", 4, NULL,
			   0)) {
		x->lio_unmapped++;
		return NULL;
	}
	return "LUN 1 is missing although its link succeeded";
}

/* LUN 16383, the last id, on a TPG of its own made for each link. */
static int far_prep(void *ctx)
{
	struct inj *x = ctx;

	return tpg_make(x);
}

static int far_link(void *ctx)
{
	struct inj *x = ctx;
	char dir[256], link[300], dst[256];
	char sub[48];
	int ret;

	snprintf(sub, sizeof(sub), "tpgt_1/lun/lun_%u", FAR_ID);
	t2_path(x, dir, sizeof(dir), sub);
	snprintf(link, sizeof(link), "%s/vsg_port", dir);
	snprintf(dst, sizeof(dst), VSG_CFS_ROOT "/core/%s", x->e.t.bs[1]);
	ret = cfs_mkdir(dir);
	if (ret)
		return ret;
	if (!symlink(dst, link))
		return 0;
	ret = -errno;
	rmdir(dir);
	return ret;
}

static void far_unlink(void *ctx)
{
	struct inj *x = ctx;
	char dir[256], link[300];
	char sub[48];

	snprintf(sub, sizeof(sub), "tpgt_1/lun/lun_%u", FAR_ID);
	t2_path(x, dir, sizeof(dir), sub);
	snprintf(link, sizeof(link), "%s/vsg_port", dir);
	unlink(link);
	rmdir(dir);
	tpg_remove(x);
}

static int dev_open(void *ctx)
{
	struct inj *x = ctx;

	x->fd = open("/dev/vhost-scsi", O_RDWR | O_CLOEXEC);
	return x->fd < 0 ? -errno : 0;
}

static void dev_close(void *ctx)
{
	struct inj *x = ctx;

	close(x->fd);
	x->fd = -1;
}

static int ep_set(void *ctx)
{
	struct inj *x = ctx;

	return vsg_set_endpoint(x->e.d, x->e.t.wwpn);
}

static void ep_clear(void *ctx)
{
	struct inj *x = ctx;

	vsg_clear_endpoint(x->e.d, x->e.t.wwpn);
}

/* Served once set; while not set, a request would wait: no TUR then. */
static const char *ep_check(void *ctx, bool done)
{
	struct inj *x = ctx;
	struct vsg_scsi_res r;

	if (!done)
		return NULL;
	if (vsg_tur(x->e.q, 1, 0, &r))
		return "TUR of LUN 0 not answered after SET_ENDPOINT";
	if (r.response != VIRTIO_SCSI_S_OK ||
	    (r.status != SAM_STAT_GOOD && vsg_sense_key(&r) != 6))
		return "LUN 0 does not answer after SET_ENDPOINT";
	return NULL;
}

FIXTURE_SETUP(inject)
{
	struct vsg_opts o = {
		.nr_io = 1,
		.features = VSG_FEATURES_DEFAULT |
			    BIT_ULL(VIRTIO_SCSI_F_HOTPLUG),
	};
	struct inj *x = &self->x;
	unsigned int id;
	int ret;

	x->nth = -1;
	x->fd = -1;
	x->kmsg = vsg_kmsg_open();
	ASSERT_LE(0, x->kmsg) TH_LOG("cannot read /dev/kmsg");
	ret = vsg_faults_apply(&x->faults, vsg_fault_nth_only,
			       vsg_fault_nth_only_nr);
	if (ret == 4) {
		x->skipped = true;
		SKIP(return, "%s", x->faults.why);
	}
	ASSERT_EQ(0, ret) TH_LOG("%s", x->faults.why);
	ret = vsg_env_setup(&x->e, VSG_BS_RD, 1, &o);
	if (ret == 4) {
		x->skipped = true;
		SKIP(return, "%s", x->e.why);
	}
	ASSERT_EQ(0, ret) TH_LOG("%s", x->e.why);
	ASSERT_EQ(0, vsg_bs_create(&x->e.t, 1, VSG_BS_RD, 1 << 20));
	ASSERT_EQ(0, vsg_event_post(x->e.d, 16, VSG_EVT_SIZE));
	id = getpid() * 64 + 63;
	snprintf(x->t2.wwpn, sizeof(x->t2.wwpn), "naa.5001405%09x", id);
	snprintf(x->t2.nexus, sizeof(x->t2.nexus), "naa.5001406%09x",
		 id);
	x->t2.tpgt = 1;
	ASSERT_EQ(0, mlockall(MCL_CURRENT | MCL_FUTURE)) TH_LOG("mlockall");
	x->nth = vsg_fail_nth_open(syscall(SYS_gettid));
	ASSERT_LE(0, x->nth);
}

FIXTURE_TEARDOWN(inject)
{
	struct inj *x = &self->x;

	if (x->nth >= 0) {
		vsg_fail_nth_set(x->nth, 0);
		close(x->nth);
	}
	if (x->fd >= 0)
		close(x->fd);
	if (x->kmsg > 0)
		close(x->kmsg);
	munlockall();
	if (x->t2.wwpn[0]) {
		nexus_drop(x);
		far_unlink(x);
		wwn_remove(x);
	}
	if (x->e.t.tpg_made)
		lun1_unlink(x);
	vsg_env_teardown(&x->e);
	vsg_faults_undo(&x->faults);
}

TEST_F_TIMEOUT(inject, target_port_and_tpg, 300)
{
	const struct vsg_step wwn = {
		"make the WWN", NULL, wwn_make, wwn_remove, wwn_check,
	};
	const struct vsg_step tpg = {
		"make the TPG", NULL, tpg_make, tpg_remove, tpg_check,
	};
	const struct vsg_step nexus = {
		"make the nexus", NULL, nexus_make, nexus_drop, nexus_check,
	};

	if (self->x.skipped)
		return;
	sweep(_metadata, &self->x, &wwn, 1);
	ASSERT_EQ(0, wwn_make(&self->x));
	sweep(_metadata, &self->x, &tpg, 1);
	ASSERT_EQ(0, tpg_make(&self->x));
	sweep(_metadata, &self->x, &nexus, 1);
}

/*
 * Order-0 page allocations come and go with the slab caches' refills, so
 * the n-th allocation of a step is not always the same one, and a sweep
 * can step over a site: on 2026-12-04 two runs of four failed LIO's
 * mapping of the LUN for the initiator (117 to 122 sites), and the
 * driver broken on purpose to hide that failure passed one.  This sweep leaves them
 * out (only orders >= 1 still fail with the pages): every slab
 * allocation of the link fails once, that mapping among them, after which
 * 6.1's LIO links the LUN unmapped and the driver must say so.
 */
static const struct vsg_fault_setting slab_only[] = {
	{ "fail_page_alloc/min-order", "1" },
};

TEST_F_TIMEOUT(inject, lun_link, 300)
{
	const struct vsg_step lun1 = {
		"link LUN 1", events_drain, lun1_link, lun1_unlink,
		lun1_check,
	};
	const struct vsg_step lun1_slab = {
		"link LUN 1, slab allocations only", events_drain, lun1_link,
		lun1_unlink, lun1_check,
	};
	const struct vsg_step far = {
		"link LUN 16383 of a new TPG", far_prep, far_link, far_unlink,
		NULL,
	};

	struct vsg_faults slab;

	if (self->x.skipped)
		return;
	sweep(_metadata, &self->x, &lun1, 1);
	ASSERT_EQ(0, vsg_faults_apply(&slab, slab_only,
				      ARRAY_SIZE(slab_only)))
		TH_LOG("%s", slab.why);
	sweep(_metadata, &self->x, &lun1_slab, 1);
	vsg_faults_undo(&slab);
	ASSERT_EQ(0, wwn_make(&self->x));
	sweep(_metadata, &self->x, &far, 1);
}

TEST_F_TIMEOUT(inject, device, 300)
{
	const struct vsg_step open_dev = {
		"open /dev/vhost-scsi", NULL, dev_open, dev_close, NULL,
	};
	const struct vsg_step endpoint = {
		"VHOST_SCSI_SET_ENDPOINT", NULL, ep_set, ep_clear, ep_check,
	};

	if (self->x.skipped)
		return;
	sweep(_metadata, &self->x, &open_dev, 1);
	ep_clear(&self->x);
	sweep(_metadata, &self->x, &endpoint, 1);
	ASSERT_EQ(0, ep_set(&self->x));
}

TEST_HARNESS_MAIN
