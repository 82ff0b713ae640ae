// SPDX-License-Identifier: GPL-2.0
/*
 * vhost_scsi limits: what a guest can make the host allocate is bounded
 * and charged to the owner's memory cgroup, and pressure is answered with
 * TASK SET FULL, which the guest retries, never with a failure.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vsg_fault.h"
#include "vsg_test.h"
#include "vsg_only.h"

#define SAM_STAT_TASK_SET_FULL	0x28
#define PARAM_BOUNCE	"/sys/module/vhost_scsi/parameters/max_bounce_kb"
#define CG_ROOT		"/sys/fs/cgroup"
#define RESP_LEN	sizeof(struct virtio_scsi_cmd_resp)

struct tally {
	unsigned int good, full, other, lost;
	/* the first other answer: response, status, used length */
	unsigned int odd_resp, odd_status, odd_used;
};

/* Reads @n misaligned READ(10)s of @len bytes at LBA 0 into @buf + 1. */
static int submit_reads(struct vsg_vq *vq, struct vsg_cmd **c, unsigned int n,
			__u8 *buf, size_t len)
{
	__u8 cdb[10] = { 0x28 };
	struct iovec iov = { .iov_base = buf + 1, .iov_len = len };
	unsigned int i;
	int ret;

	cdb[7] = (len / VSG_BLOCK) >> 8;
	cdb[8] = len / VSG_BLOCK;
	for (i = 0; i < n; i++) {
		if (!c[i])
			c[i] = vsg_cmd_get(vq);
		if (!c[i])
			return -ENOSPC;
		vsg_scsi_prep(c[i], 1, 0, cdb, sizeof(cdb));
		ret = vsg_scsi_submit(c[i], false, &iov, 1,
				      VSG_F_NO_KICK | VSG_F_INDIRECT);
		if (ret)
			return ret;
	}
	return vsg_vq_kick(vq);
}

/*
 * Waits for @n commands and counts their answers; a TASK SET FULL must
 * carry the whole transfer as residual and no data.
 */
static void tally_reads(struct vsg_cmd **c, unsigned int n, size_t len,
			struct tally *t, bool *full)
{
	struct vsg_scsi_res r;
	unsigned int i;

	for (i = 0; i < n; i++) {
		full[i] = false;
		if (vsg_cmd_wait(c[i], VSG_CMD_TIMEOUT_MS)) {
			t->lost++;
			continue;
		}
		vsg_scsi_result(c[i], &r);
		if (r.response == VIRTIO_SCSI_S_OK && r.status == SAM_STAT_GOOD &&
		    r.used_len == RESP_LEN + len) {
			t->good++;
		} else if (r.response == VIRTIO_SCSI_S_OK &&
			   r.status == SAM_STAT_TASK_SET_FULL &&
			   r.resid == len && r.used_len == RESP_LEN) {
			t->full++;
			full[i] = true;
		} else if (!t->other++) {
			t->odd_resp = r.response;
			t->odd_status = r.status;
			t->odd_used = r.used_len;
		}
	}
}

static int read_param(const char *path, char *buf, size_t len)
{
	int ret = vsg_cfs_read(path, buf, len);

	buf[strcspn(buf, "\n")] = '\0';
	return ret;
}

FIXTURE(limits) {
	struct vsg_env e;
	char old_budget[32];
};

FIXTURE_SETUP(limits)
{
	struct vsg_opts o = { .nr_io = 2, .arena = 32 << 20 };
	int ret;

	/* before the target: a failed setup gets no teardown */
	self->old_budget[0] = '\0';
	ASSERT_EQ(0, read_param(PARAM_BOUNCE, self->old_budget,
				sizeof(self->old_budget)))
		TH_LOG("no %s: the module has no bounce budget", PARAM_BOUNCE);
	ret = vsg_env_setup(&self->e, VSG_BS_RD, 1, &o);
	if (ret == 4)
		SKIP(return, "%s", self->e.why);
	ASSERT_EQ(0, ret) TH_LOG("%s", self->e.why);
}

FIXTURE_TEARDOWN(limits)
{
	if (self->old_budget[0])
		vsg_cfs_write(PARAM_BOUNCE, self->old_budget);
	vsg_env_teardown(&self->e);
}

/*
 * With a 64 KiB budget, of eight misaligned 64 KiB reads parsed in one
 * handler run only the first is bounced; the rest are answered TASK SET
 * FULL, and each of them succeeds when the guest retries it.
 */
TEST_F(limits, bounce_budget_task_set_full)
{
	const size_t len = 64 << 10;
	__u8 *buf = vsg_alloc(self->e.d, len + 4096, 4096);
	struct vsg_cmd *c[8] = { 0 };
	struct tally t = { 0 };
	bool full[8];
	unsigned int i;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, vsg_cfs_write(PARAM_BOUNCE, "64"));
	ASSERT_EQ(0, submit_reads(self->e.q, c, 8, buf, len));
	tally_reads(c, 8, len, &t, full);
	TH_LOG("budget 64 KiB: %u good, %u TASK SET FULL, %u other, %u lost",
	       t.good, t.full, t.other, t.lost);
	EXPECT_EQ(0, t.lost);
	EXPECT_EQ(0, t.other);
	EXPECT_EQ(1, t.good);
	EXPECT_EQ(7, t.full);

	/* the guest retries, one at a time: each is admitted */
	for (i = 0; i < 8; i++) {
		struct tally u = { 0 };
		bool f;

		if (!full[i])
			continue;
		ASSERT_EQ(0, submit_reads(self->e.q, &c[i], 1, buf, len));
		tally_reads(&c[i], 1, len, &u, &f);
		EXPECT_EQ(1, u.good) TH_LOG("retry %u was not served", i);
	}
}

static int cg_write(const char *cg, const char *file, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	return vsg_cfs_write(path, val);
}

static long long cg_read(const char *cg, const char *file)
{
	char path[256], buf[64];

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	if (vsg_cfs_read(path, buf, sizeof(buf)))
		return -1;
	return atoll(buf);
}

/* A cgroup v2 with the memory controller; 0, or -errno with @why set. */
static int cg_make(char *cg, size_t len, char *why, size_t wlen)
{
	char ctl[256];

	if (access(CG_ROOT "/cgroup.controllers", F_OK) &&
	    mount("none", CG_ROOT, "cgroup2", 0, NULL)) {
		snprintf(why, wlen, "cannot mount cgroup2: %s", strerror(errno));
		return -errno;
	}
	if (vsg_cfs_read(CG_ROOT "/cgroup.controllers", ctl, sizeof(ctl)) ||
	    !strstr(ctl, "memory")) {
		snprintf(why, wlen, "no memory controller in %s", CG_ROOT);
		return -ENOENT;
	}
	cg_write(CG_ROOT, "cgroup.subtree_control", "+memory");
	snprintf(cg, len, CG_ROOT "/vsg-limits-%d", getpid());
	if (mkdir(cg, 0755)) {
		snprintf(why, wlen, "mkdir %s: %s", cg, strerror(errno));
		return -errno;
	}
	return 0;
}

#define FLOOD_LEN	(1024 * 1024)
#define FLOOD_QUEUES	2
#define FLOOD_CMDS	64	/* per queue: 64 MiB asked for per queue */
#define FLOOD_MAX	"96M"	/* the owner's memory limit */

FIXTURE(memcg) {
	char cg[128];
	struct vsg_env e;
	bool env;
};

FIXTURE_SETUP(memcg)
{
	char why[160];

	self->env = false;
	ASSERT_EQ(0, cg_make(self->cg, sizeof(self->cg), why, sizeof(why)))
		TH_LOG("%s", why);
}

FIXTURE_TEARDOWN(memcg)
{
	if (self->env)
		vsg_env_teardown(&self->e);
	cg_write(CG_ROOT, "cgroup.procs", "0");
	rmdir(self->cg);
}

/*
 * A guest floods both queues with 1 MiB misaligned reads, in a memory
 * cgroup of 96 MiB.  The bounce memory is charged to the owner's cgroup
 * (the peak rises), stays within the per-queue budget (not the 256 MiB
 * asked for), the excess is answered TASK SET FULL, and retries finish
 * every read.  Against 6.1's driver, which has no budget, the flood runs
 * all the same and the figures say what it costs there.
 */
TEST_F_TIMEOUT(memcg, bounce_flood, 180)
{
	struct vsg_opts o = { .nr_io = FLOOD_QUEUES, .arena = 24 << 20 };
	struct vsg_cmd *c[FLOOD_QUEUES][FLOOD_CMDS] = { 0 };
	bool full[FLOOD_QUEUES][FLOOD_CMDS];
	long long base, peak, budget_kb;
	struct tally t = { 0 }, first;
	unsigned int q, round, left;
	const char *cg = self->cg;
	struct vsg_env *e = &self->e;
	char val[32];
	__u8 *buf;

	ASSERT_EQ(0, cg_write(cg, "memory.max", FLOOD_MAX));
	/* the owner, and so the vhost worker, is charged to @cg */
	ASSERT_EQ(0, cg_write(cg, "cgroup.procs", "0"));
	self->env = true;
	ASSERT_EQ(0, vsg_env_setup(e, VSG_BS_RD, 1, &o)) TH_LOG("%s", e->why);
	if (!read_param(PARAM_BOUNCE, val, sizeof(val))) {
		budget_kb = atoll(val);
	} else {
		/* 6.1's driver has none: the figures say what it does */
		ASSERT_TRUE(vsg_flavour_stock()) TH_LOG("no %s", PARAM_BOUNCE);
		budget_kb = 0;
	}
	buf = vsg_alloc(e->d, FLOOD_LEN + 4096, 4096);
	ASSERT_NE(NULL, buf);
	memset(buf, 0, FLOOD_LEN + 4096);	/* our own pages count now */
	/* the cgroup is new: its peak so far is our setup */
	base = cg_read(cg, "memory.current");
	ASSERT_LT(0, base);

	for (q = 0; q < FLOOD_QUEUES; q++)
		ASSERT_EQ(0, submit_reads(vsg_io_vq(e->d, q), c[q], FLOOD_CMDS,
					  buf, FLOOD_LEN));
	for (q = 0; q < FLOOD_QUEUES; q++)
		tally_reads(c[q], FLOOD_CMDS, FLOOD_LEN, &t, full[q]);
	peak = cg_read(cg, "memory.peak");
	first = t;

	/* retry what was refused until every read got its data */
	for (round = 0, left = t.full; left && round < 64; round++) {
		left = 0;
		for (q = 0; q < FLOOD_QUEUES; q++) {
			struct vsg_cmd *rc[FLOOD_CMDS];
			bool rf[FLOOD_CMDS];
			unsigned int i, n = 0;

			for (i = 0; i < FLOOD_CMDS; i++)
				if (full[q][i])
					rc[n++] = c[q][i];
			if (!n)
				continue;
			ASSERT_EQ(0, submit_reads(vsg_io_vq(e->d, q), rc, n,
						  buf, FLOOD_LEN));
			t.full = 0;
			tally_reads(rc, n, FLOOD_LEN, &t, rf);
			for (i = 0, n = 0; i < FLOOD_CMDS; i++)
				if (full[q][i])
					full[q][i] = rf[n++];
			left += t.full;
		}
	}

	TH_LOG("budget %lld KiB per queue (0: none), memory.max %s",
	       budget_kb, FLOOD_MAX);
	TH_LOG("first pass: %u good, %u TASK SET FULL, %u other, %u lost",
	       first.good, first.full, first.other, first.lost);
	if (first.other)
		TH_LOG("the first other: response %u status 0x%02x used length %u",
		       first.odd_resp, first.odd_status, first.odd_used);
	TH_LOG("memory.current %lld KiB before the flood", base >> 10);
	TH_LOG("memory.peak %lld KiB (+%lld KiB), %u MiB asked for",
	       peak >> 10, (peak - base) >> 10,
	       FLOOD_QUEUES * FLOOD_CMDS * (FLOOD_LEN >> 20));
	TH_LOG("%u rounds of retries, %u reads still refused", round, left);
	EXPECT_EQ(0, first.lost);
	EXPECT_EQ(0, t.other);
	EXPECT_LT(0, first.full) TH_LOG("no TASK SET FULL: no budget");
	EXPECT_EQ(0, left);
	/* charged: at least half a queue's budget went through the cgroup */
	EXPECT_LE(budget_kb / 2, (peak - base) >> 10)
		TH_LOG("bounce pages are not charged to the owner's cgroup");
	/* bounded: the budget of each queue, plus 8 MiB of slack */
	EXPECT_GE(FLOOD_QUEUES * budget_kb + 8192, (peak - base) >> 10);
}

/*
 * Failing allocations on the request and TMF paths.  failslab and
 * fail_page_alloc fail every allocation of the device's vhost worker
 * thread (task-filter and /proc/PID/make-it-fail), which is where the
 * request and control handlers run; nothing else is made to fail.
 */
#define FAIL_TIMES	"1000"

/*
 * In this order: the task filter first and the probabilities last, so
 * that no task but the worker ever sees a failure; they are restored in
 * the reverse order.
 */
static const struct vsg_fault_setting fault_settings[] = {
	{ "failslab/task-filter", "Y" },
	{ "fail_page_alloc/task-filter", "Y" },
	{ "failslab/verbose", "0" },
	{ "fail_page_alloc/verbose", "0" },
	{ "failslab/ignore-gfp-wait", "N" },
	{ "fail_page_alloc/ignore-gfp-wait", "N" },
	{ "fail_page_alloc/min-order", "0" },
	{ "failslab/space", "0" },
	{ "failslab/interval", "1" },
	{ "fail_page_alloc/interval", "1" },
	{ "failslab/times", FAIL_TIMES },
	{ "fail_page_alloc/times", FAIL_TIMES },
	{ "failslab/probability", "100" },
	{ "fail_page_alloc/probability", "100" },
};

FIXTURE(fail) {
	struct vsg_env e;
	struct vsg_faults faults;
	pid_t worker;
	bool skipped;		/* setup skipped; 6.1 runs the test anyway */
};

/* The device's vhost worker: 6.1 names it vhost-<owner pid>. */
static pid_t vhost_worker_pid(void)
{
	char want[32], path[300], comm[32];
	struct dirent *de;
	pid_t pid = 0;
	DIR *dir;

	snprintf(want, sizeof(want), "vhost-%d\n", getpid());
	dir = opendir("/proc");
	if (!dir)
		return 0;
	while (!pid && (de = readdir(dir))) {
		if (!isdigit(de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		if (!vsg_cfs_read(path, comm, sizeof(comm)) &&
		    !strcmp(comm, want))
			pid = atoi(de->d_name);
	}
	closedir(dir);
	return pid;
}

FIXTURE_SETUP(fail)
{
	struct vsg_opts o = { .nr_io = 1 };
	int ret;

	self->worker = 0;
	ret = vsg_faults_apply(&self->faults, fault_settings,
			       ARRAY_SIZE(fault_settings));
	if (ret == 4) {
		self->skipped = true;
		SKIP(return, "%s", self->faults.why);
	}
	ASSERT_EQ(0, ret) TH_LOG("%s", self->faults.why);
	ret = vsg_env_setup(&self->e, VSG_BS_RD, 1, &o);
	ASSERT_EQ(0, ret) TH_LOG("%s", self->e.why);
	self->worker = vhost_worker_pid();
	ASSERT_NE(0, self->worker) TH_LOG("no vhost-%d thread", getpid());
}

FIXTURE_TEARDOWN(fail)
{
	if (self->worker)
		vsg_make_it_fail(self->worker, false);
	if (self->e.d)
		vsg_env_teardown(&self->e);
	vsg_faults_undo(&self->faults);
}

/* A 256 KiB READ: more pages than the inline scatterlist holds. */
static int big_read(struct vsg_env *e, __u8 *buf, struct vsg_scsi_res *r)
{
	return vsg_rw(e->q, 1, 0, false, false, 0, (256 << 10) / VSG_BLOCK,
		      buf, 256 << 10, r);
}

/*
 * With every allocation of the worker failing, a misaligned READ (bounce
 * pages) and a 256 KiB READ (a scatterlist beyond the inline one) are
 * answered TASK SET FULL with the whole transfer as residual, and an
 * ABORT TASK SET is answered BUSY: answers a guest retries, not failures.
 * With the failures off again, the same requests succeed.
 */
TEST_F(fail, request_path_retryable)
{
	const size_t len = 64 << 10;
	long long slab0, page0;
	struct vsg_cmd *c = NULL;
	struct vsg_scsi_res r;
	struct tally t = { 0 };
	bool full;
	__u8 resp;
	__u8 *buf;

	if (self->skipped)
		return;
	buf = vsg_alloc(self->e.d, (256 << 10) + 4096, 4096);
	ASSERT_NE(NULL, buf);
	memset(buf, 0, (256 << 10) + 4096);	/* no fault in the worker */
	slab0 = vsg_fault_times("failslab");
	page0 = vsg_fault_times("fail_page_alloc");
	ASSERT_EQ(0, vsg_make_it_fail(self->worker, true));

	ASSERT_EQ(0, submit_reads(self->e.q, &c, 1, buf, len));
	tally_reads(&c, 1, len, &t, &full);
	EXPECT_EQ(1, t.full) TH_LOG("misaligned READ: %u good %u other %u lost",
				    t.good, t.other, t.lost);
	ASSERT_EQ(0, big_read(&self->e, buf, &r));
	EXPECT_EQ(VIRTIO_SCSI_S_OK, r.response);
	EXPECT_EQ(SAM_STAT_TASK_SET_FULL, r.status);
	EXPECT_EQ(256 << 10, r.resid);
	resp = 0xff;
	ASSERT_EQ(0, vsg_tmf(self->e.d, VIRTIO_SCSI_T_TMF_ABORT_TASK_SET, 1, 0,
			     0, &resp, VSG_CMD_TIMEOUT_MS));
	EXPECT_EQ(VIRTIO_SCSI_S_BUSY, resp);

	ASSERT_EQ(0, vsg_make_it_fail(self->worker, false));
	TH_LOG("failures injected: %lld slab, %lld page",
	       slab0 - vsg_fault_times("failslab"),
	       page0 - vsg_fault_times("fail_page_alloc"));
	EXPECT_LT(vsg_fault_times("failslab"), slab0);
	EXPECT_LT(vsg_fault_times("fail_page_alloc"), page0);

	/* the guest retries: each is served */
	memset(&t, 0, sizeof(t));
	ASSERT_EQ(0, submit_reads(self->e.q, &c, 1, buf, len));
	tally_reads(&c, 1, len, &t, &full);
	EXPECT_EQ(1, t.good);
	ASSERT_EQ(0, big_read(&self->e, buf, &r));
	EXPECT_EQ(VIRTIO_SCSI_S_OK, r.response);
	EXPECT_EQ(SAM_STAT_GOOD, r.status);
	resp = 0xff;
	ASSERT_EQ(0, vsg_tmf(self->e.d, VIRTIO_SCSI_T_TMF_ABORT_TASK_SET, 1, 0,
			     0, &resp, VSG_CMD_TIMEOUT_MS));
	EXPECT_TRUE(vsg_tmf_done(resp))
		TH_LOG("response %u", resp);
	vsg_cmd_put(c);
}

/*
 * A LUN RESET with the worker's first, second, ... allocation failing,
 * one at a time (fail-nth); the TMF's own state and LIO's TMR are among
 * them (first and third on 6.1).  Each failure is answered BUSY, which
 * the guest retries, or the reset completes anyway; never FUNCTION
 * REJECTED or FAILURE.  The sweep ends at the first TMF that made fewer allocations.
 * (An ABORT TASK goes the same way to LIO, but only with its task in
 * flight; one for a tag not in flight is answered from the in-flight
 * lists, allocating nothing.)
 */
TEST_F(fail, tmf_alloc_retryable)
{
	const __u32 lun_reset = VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET;
	unsigned int n, busy = 0;
	long left;
	__u8 resp;
	int fd;

	if (self->skipped)
		return;
	fd = vsg_fail_nth_open(self->worker);
	ASSERT_LE(0, fd);
	for (n = 1; n <= 16; n++) {
		resp = 0xff;
		ASSERT_EQ(0, vsg_fail_nth_set(fd, n));
		ASSERT_EQ(0, vsg_tmf(self->e.d, lun_reset, 1, 0, 0, &resp,
				     VSG_CMD_TIMEOUT_MS));
		left = vsg_fail_nth_left(fd);
		ASSERT_EQ(0, vsg_fail_nth_set(fd, 0));
		if (left)	/* the TMF made fewer allocations */
			break;
		EXPECT_TRUE(resp == VIRTIO_SCSI_S_BUSY || vsg_tmf_done(resp))
			TH_LOG("allocation %u failed: response %u (not retried)",
			       n, resp);
		busy += resp == VIRTIO_SCSI_S_BUSY;
	}
	close(fd);
	TH_LOG("LUN RESET: %u allocations failed in turn, %u answered BUSY",
	       n - 1, busy);
	/* its own state and LIO's TMR at least, both answered BUSY */
	EXPECT_LE(2, n - 1);
	EXPECT_LE(2, busy);
	resp = 0xff;
	ASSERT_EQ(0, vsg_tmf(self->e.d, lun_reset, 1, 0, 0, &resp,
			     VSG_CMD_TIMEOUT_MS));
	EXPECT_TRUE(vsg_tmf_done(resp))
		TH_LOG("LUN RESET without failures: response %u", resp);
}

int main(int argc, char **argv)
{
	return vsg_harness_main(argc, argv);
}
