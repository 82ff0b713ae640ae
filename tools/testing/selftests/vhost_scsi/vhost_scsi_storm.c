// SPDX-License-Identifier: GPL-2.0
/*
 * vhost_scsi storm: every request queue runs write-and-verify I/O while
 * one thread each
 *  - unlinks and relinks LUN 1 as fast as it can, and every fourth cycle
 *    links and unlinks a far LUN id (8, 255, 256, 16383: across the table),
 *  - sends LUN RESET and ABORT TASK to the flapping LUNs, ABORT TASK SET
 *    and I_T NEXUS RESET to LUN 0,
 *  - clears and sets the endpoint,
 *  - opens a second device on a second target, queues commands on it and
 *    closes it with them in flight,
 *  - writes configfs attributes of the TPG and the backstores.
 *
 * Bounded by VSG_STORM_SECS (default 45) and VSG_STORM_CYCLES LUN cycles
 * (default 200); VSG_STORM_MIN_CYCLES (default 100) is the least the run
 * must reach.  A slow machine (the debug kernel beside another VM) may not
 * reach it in time: the run then goes on for up to VSG_STORM_EXTRA_SECS
 * more (default 45) until it has.  The first line says the bounds.
 *
 * Checked: every command is answered exactly once; what LUN 0 and LUN 1
 * answered GOOD to a write reads back; LUN 0 answers only GOOD, a unit
 * attention, or LIO's BUSY when a concurrent command took the unit
 * attention (never more BUSY than unit attentions); a LUN is there once
 * its link returns and gone once its unlink returns;
 * every TMF gets a TMF answer; every ioctl, configfs write and close
 * returns within STORM_BOUND_MS.  The run ends with one "# storm:" line
 * of counts (key=value) for the long stress runs.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vsg_test.h"

#define NR_Q		4
#define STORM_BOUND_MS	10000
#define TMF_WAIT_MS	20000
#define FAR_BS		2	/* backstore linked at the far ids */
#define REOPEN_CMDS	16	/* in flight per queue at close */

static const unsigned int far_ids[] = { 8, 255, 256, 16383 };

struct storm {
	struct vsg_env e;
	struct vsg_target t2;		/* the reopened device's target */
	struct vsg_worker w[NR_Q];
	bool stop;			/* atomic */
	__u64 deadline;			/* ends here with min_cycles done */
	__u64 last_call;		/* ends here in any case */
	unsigned int min_cycles, max_cycles;
	pthread_mutex_t lock;		/* protects everything below */
	unsigned int failures;
	char what[256];			/* the first failure */
	__u64 max_op_ms;
	char slowest[48];
	/* counts */
	unsigned int lun_cycles, far_links, tmfs, tmf_busy, tmf_rejected;
	unsigned int ep_cycles;
	unsigned int reopens, closed_inflight, attr_writes;
	unsigned int lun0_ua, lun0_busy;
};

static bool storm_over(struct storm *s)
{
	return __atomic_load_n(&s->stop, __ATOMIC_RELAXED) ||
	       vsg_now_ms() >= s->last_call;
}

static void storm_fail(struct storm *s, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&s->lock);
	if (!s->failures++) {
		va_start(ap, fmt);
		vsnprintf(s->what, sizeof(s->what), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&s->lock);
	__atomic_store_n(&s->stop, true, __ATOMIC_RELAXED);
}

static void storm_count(struct storm *s, unsigned int *counter)
{
	pthread_mutex_lock(&s->lock);
	(*counter)++;
	pthread_mutex_unlock(&s->lock);
}

/* An operation that started at @t0 has returned @ret: on time, no error? */
static bool storm_op(struct storm *s, const char *op, int ret, __u64 t0)
{
	__u64 ms = vsg_now_ms() - t0;

	pthread_mutex_lock(&s->lock);
	if (ms > s->max_op_ms) {
		s->max_op_ms = ms;
		snprintf(s->slowest, sizeof(s->slowest), "%s", op);
	}
	pthread_mutex_unlock(&s->lock);
	if (ret) {
		storm_fail(s, "%s: %s", op, strerror(-ret));
		return false;
	}
	if (ms > STORM_BOUND_MS) {
		storm_fail(s, "%s took %llu ms", op, (unsigned long long)ms);
		return false;
	}
	return true;
}

/* A LUN that was just linked answers; one just unlinked is missing. */
static bool lun_check(struct storm *s, unsigned int lun, bool present)
{
	struct vsg_scsi_res r;
	bool ok;
	int ret;

	ret = vsg_tur(s->e.q, 1, lun, &r);
	if (ret) {
		storm_fail(s, "TUR of LUN %u: %s", lun, strerror(-ret));
		return false;
	}
	if (present)
		ok = r.response == VIRTIO_SCSI_S_OK &&
		     (r.status == SAM_STAT_GOOD || vsg_sense_key(&r) == 6);
	else	/* LOGICAL UNIT NOT SUPPORTED, or the transport says so */
		ok = (r.response == VIRTIO_SCSI_S_OK &&
		      r.status == SAM_STAT_CHECK_CONDITION &&
		      vsg_sense_asc(&r) == 0x25) ||
		     r.response == VIRTIO_SCSI_S_INCORRECT_LUN;
	if (!ok)
		storm_fail(s, "LUN %u %s: response %u status %u asc %#x",
			   lun, present ? "linked but not there" :
					  "unlinked but still there",
			   r.response, r.status, vsg_sense_asc(&r));
	return ok;
}

static bool lun_flip(struct storm *s, unsigned int bs, unsigned int id,
		     bool link)
{
	char op[32];
	__u64 t0 = vsg_now_ms();
	int ret;

	if (id == bs)
		ret = link ? vsg_lun_link(&s->e.t, id) :
			     vsg_lun_unlink(&s->e.t, id);
	else
		ret = link ? vsg_lun_link_as(&s->e.t, bs, id) :
			     vsg_lun_unlink_id(&s->e.t, id);
	snprintf(op, sizeof(op), "%s of LUN %u", link ? "link" : "unlink", id);
	return storm_op(s, op, ret, t0) && lun_check(s, id, link);
}

static void *lun_fn(void *arg)
{
	struct storm *s = arg;
	unsigned int n, far;

	for (n = 0; n < s->max_cycles && !storm_over(s); n++) {
		if (n >= s->min_cycles && vsg_now_ms() >= s->deadline)
			break;
		if (!lun_flip(s, 1, 1, false) || !lun_flip(s, 1, 1, true))
			break;
		storm_count(s, &s->lun_cycles);
		if (n % 4 != 3)
			continue;
		far = far_ids[(n / 4) % ARRAY_SIZE(far_ids)];
		if (!lun_flip(s, FAR_BS, far, true) ||
		    !lun_flip(s, FAR_BS, far, false))
			break;
		storm_count(s, &s->far_links);
	}
	return NULL;
}

/*
 * LUN RESET and ABORT TASK go to the flapping LUNs (linked or not: a
 * missing LUN is a proper answer); ABORT TASK SET and I_T NEXUS RESET
 * wait for their commands without aborting them, so LUN 0's I/O sees
 * only GOOD from them.
 */
static void *tmf_fn(void *arg)
{
	static const __u32 kind[] = {
		VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET,
		VIRTIO_SCSI_T_TMF_ABORT_TASK,
		VIRTIO_SCSI_T_TMF_ABORT_TASK_SET,
		VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET,
	};
	struct storm *s = arg;
	unsigned int n, lun;
	bool flapping, ok;
	__u32 sub;
	__u8 resp;
	int ret;

	for (n = 0; !storm_over(s); n++) {
		sub = kind[n % ARRAY_SIZE(kind)];
		flapping = sub == VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET ||
			   sub == VIRTIO_SCSI_T_TMF_ABORT_TASK;
		lun = !flapping ? 0 : n % 8 < 4 ? 1 : far_ids[n / 8 % 4];
		resp = 0xff;
		ret = vsg_tmf(s->e.d, sub, 1, lun, n, &resp, TMF_WAIT_MS);
		if (ret) {
			storm_fail(s, "TMF %u to LUN %u: %s", sub, lun,
				   strerror(-ret));
			break;
		}
		ok = vsg_tmf_done(resp) || resp == VIRTIO_SCSI_S_BUSY ||
		     (flapping && (resp == VIRTIO_SCSI_S_INCORRECT_LUN ||
				   resp == VIRTIO_SCSI_S_BAD_TARGET));
		/*
		 * 6.1's module rejects every TMF but LUN RESET, and a LUN
		 * RESET of a missing LUN; let it go on, counted, so that a
		 * stress run sees what else it does.
		 */
		if (!ok && vsg_flavour_stock() &&
		    resp == VIRTIO_SCSI_S_FUNCTION_REJECTED) {
			storm_count(s, &s->tmf_rejected);
			ok = true;
		}
		if (!ok) {
			storm_fail(s, "TMF %u to LUN %u: response %u", sub,
				   lun, resp);
			break;
		}
		storm_count(s, &s->tmfs);
		if (resp == VIRTIO_SCSI_S_BUSY)
			storm_count(s, &s->tmf_busy);
		usleep(5000);
	}
	return NULL;
}

static void *ep_fn(void *arg)
{
	struct storm *s = arg;
	__u64 t0;

	while (!storm_over(s)) {
		usleep(100000 + rand() % 200000);
		t0 = vsg_now_ms();
		if (!storm_op(s, "CLEAR_ENDPOINT",
			      vsg_clear_endpoint(s->e.d, s->e.t.wwpn), t0))
			break;
		usleep(20000);
		t0 = vsg_now_ms();
		if (!storm_op(s, "SET_ENDPOINT",
			      vsg_set_endpoint(s->e.d, s->e.t.wwpn), t0))
			break;
		storm_count(s, &s->ep_cycles);
	}
	return NULL;
}

/* Queue REOPEN_CMDS reads per queue of @d and kick; do not wait. */
static int queue_reads(struct vsg_dev *d, unsigned int *queued)
{
	__u8 cdb[10] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0 };
	struct vsg_cmd *c;
	struct iovec iov;
	unsigned int q, i;
	int ret;

	for (q = 0; q < 2; q++) {
		for (i = 0; i < REOPEN_CMDS; i++) {
			c = vsg_cmd_get(vsg_io_vq(d, q));
			iov.iov_len = 4096;
			iov.iov_base = vsg_alloc(d, iov.iov_len, 4096);
			if (!c || !iov.iov_base)
				return -ENOMEM;
			vsg_scsi_prep(c, 1, 0, cdb, sizeof(cdb));
			ret = vsg_scsi_submit(c, false, &iov, 1,
					      i % 2 ? VSG_F_INDIRECT : 0);
			if (ret)
				return ret;
			(*queued)++;
		}
	}
	return 0;
}

static void *reopen_fn(void *arg)
{
	struct vsg_opts o = { .nr_io = 2 };
	struct storm *s = arg;
	struct vsg_dev *d;
	unsigned int queued;
	__u64 t0;
	int ret;

	while (!storm_over(s)) {
		t0 = vsg_now_ms();
		ret = vsg_open(&o, &d);
		if (!storm_op(s, "open", ret, t0))
			break;
		t0 = vsg_now_ms();
		ret = vsg_set_endpoint(d, s->t2.wwpn);
		if (!storm_op(s, "SET_ENDPOINT of the second device", ret, t0)) {
			vsg_close(d);
			break;
		}
		queued = 0;
		ret = queue_reads(d, &queued);
		if (ret)
			storm_fail(s, "queueing on the second device: %s",
				   strerror(-ret));
		t0 = vsg_now_ms();
		vsg_close(d);
		if (ret || !storm_op(s, "close", 0, t0))
			break;
		pthread_mutex_lock(&s->lock);
		s->reopens++;
		s->closed_inflight += queued;
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

/* Attribute writes that change nothing a command depends on. */
static void *attr_fn(void *arg)
{
	struct storm *s = arg;
	char op[64], val[16];
	unsigned int n;
	__u64 t0;
	int ret;

	for (n = 0; !storm_over(s); n++) {
		usleep(20000);
		t0 = vsg_now_ms();
		switch (n % 3) {
		case 0:
		case 1:
			snprintf(val, sizeof(val), "%u", n / 3 % 2);
			snprintf(op, sizeof(op),
				 "backstore %u emulate_write_cache", n % 3);
			ret = vsg_bs_attr(&s->e.t, n % 3,
					  "emulate_write_cache", val);
			break;
		default:
			snprintf(op, sizeof(op), "TPG fabric_prot_type");
			ret = vsg_tpg_attr(&s->e.t, "attrib/fabric_prot_type",
					   "0");
			break;
		}
		if (!storm_op(s, op, ret, t0))
			break;
		storm_count(s, &s->attr_writes);
	}
	return NULL;
}

static unsigned int env_uint(const char *name, unsigned int dflt)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 0) : dflt;
}

FIXTURE(storm) {
	struct storm s;
};

FIXTURE_SETUP(storm)
{
	struct vsg_opts o = {
		.nr_io = NR_Q,
		.features = VSG_FEATURES_DEFAULT |
			    BIT_ULL(VIRTIO_SCSI_F_HOTPLUG),
	};
	struct storm *s = &self->s;
	int ret;

	pthread_mutex_init(&s->lock, NULL);
	ret = vsg_env_setup(&s->e, VSG_BS_RD, 2, &o);
	if (ret == 4)
		SKIP(return, "%s", s->e.why);
	ASSERT_EQ(0, ret) TH_LOG("%s", s->e.why);
	ASSERT_EQ(0, vsg_bs_create(&s->e.t, FAR_BS, VSG_BS_RD, 1 << 20));
	ASSERT_EQ(0, vsg_target_setup(&s->t2, VSG_BS_RD, 1, 1 << 20));
}

FIXTURE_TEARDOWN(storm)
{
	vsg_env_teardown(&self->s.e);
	vsg_target_teardown(&self->s.t2);
}

static void workers_start(struct __test_metadata *_metadata,
			  struct storm *s)
{
	struct vsg_worker *w;
	unsigned int q;

	for (q = 0; q < NR_Q; q++) {
		w = &s->w[q];
		w->vq = vsg_io_vq(s->e.d, q);
		w->target = 1;
		w->lun = q / 2;		/* 0, 0, 1, 1 */
		w->lba = q % 2 * 512;
		w->blocks = 8 + q * 4;
		w->max_ops = ~0u;
		w->deadline_ms = s->last_call + STORM_BOUND_MS;
		w->write_verify = true;
		w->flags = q % 2 ? VSG_F_INDIRECT : 0;
		w->stop = &s->stop;
		ASSERT_EQ(0, vsg_worker_start(w));
	}
}

static void workers_check(struct __test_metadata *_metadata,
			  struct storm *s)
{
	struct vsg_vq_stats st;
	struct vsg_worker *w;
	unsigned int q;

	for (q = 0; q < NR_Q; q++) {
		w = &s->w[q];
		EXPECT_EQ(0, w->timeouts) TH_LOG("queue %u", q);
		EXPECT_EQ(0, w->errors) TH_LOG("queue %u", q);
		EXPECT_EQ(0, w->multi_complete) TH_LOG("queue %u", q);
		EXPECT_EQ(0, w->mismatches) TH_LOG("queue %u", q);
		EXPECT_LT(0, w->good) TH_LOG("queue %u", q);
		vsg_vq_stats(w->vq, &st);
		EXPECT_EQ(st.submitted, st.completed) TH_LOG("queue %u", q);
		EXPECT_EQ(0, st.spurious) TH_LOG("queue %u", q);
		EXPECT_EQ(0, st.inflight) TH_LOG("queue %u", q);
		if (w->lun)	/* LUN 1: also missing, or aborted by a TMF */
			continue;
		EXPECT_EQ(w->ops, w->good + w->unit_attention + w->busy)
			TH_LOG("LUN 0, queue %u: cc %u bt %u il %u other %u; %s",
			       q, w->check_cond, w->bad_target,
			       w->incorrect_lun, w->other_resp, w->odd);
		s->lun0_busy += w->busy;
		s->lun0_ua += w->unit_attention;
	}
	/* BUSY only where a unit attention went to a concurrent command */
	EXPECT_LE(s->lun0_busy, s->lun0_ua);
}

TEST_F_TIMEOUT(storm, everything_at_once, 3600)
{
	void *(*fns[])(void *) = { lun_fn, tmf_fn, ep_fn, reopen_fn, attr_fn };
	unsigned int secs = env_uint("VSG_STORM_SECS", 45);
	unsigned int extra = env_uint("VSG_STORM_EXTRA_SECS", 45);
	struct storm *s = &self->s;
	pthread_t th[ARRAY_SIZE(fns)];
	unsigned long long io = 0;
	unsigned int i;
	__u64 t0;

	s->min_cycles = env_uint("VSG_STORM_MIN_CYCLES", 100);
	s->max_cycles = env_uint("VSG_STORM_CYCLES", 200);
	ASSERT_LE(s->min_cycles, s->max_cycles);
	ASSERT_GE(3300, secs + extra)
		TH_LOG("VSG_STORM_SECS + _EXTRA_SECS beyond the test's timeout");
	TH_LOG("bounds: %u s (up to %u more to reach %u LUN cycles), %u LUN cycles, %d ms per call",
	       secs, extra, s->min_cycles, s->max_cycles, STORM_BOUND_MS);
	srand(getpid());
	ASSERT_EQ(0, vsg_event_post(s->e.d, 64, VSG_EVT_SIZE));
	t0 = vsg_now_ms();
	s->deadline = t0 + secs * 1000ULL;
	s->last_call = s->deadline + extra * 1000ULL;
	workers_start(_metadata, s);
	for (i = 0; i < ARRAY_SIZE(fns); i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, fns[i], s));
	/* LUN cycles end the storm when they reach their count */
	pthread_join(th[0], NULL);
	__atomic_store_n(&s->stop, true, __ATOMIC_RELAXED);
	for (i = 1; i < ARRAY_SIZE(fns); i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < NR_Q; i++) {
		vsg_worker_join(&s->w[i]);
		io += s->w[i].ops;
	}

	EXPECT_EQ(0, s->failures)
		TH_LOG("%u failures, the first: %s", s->failures, s->what);
	workers_check(_metadata, s);
	EXPECT_LE(s->min_cycles, s->lun_cycles);
	EXPECT_LT(0, s->far_links);
	EXPECT_LT(0, s->tmfs);
	EXPECT_LT(0, s->ep_cycles);
	EXPECT_LT(0, s->reopens);
	EXPECT_LT(0, s->attr_writes);
	printf("# storm: secs=%llu lun_cycles=%u far_links=%u io_cmds=%llu",
	       (unsigned long long)(vsg_now_ms() - t0) / 1000, s->lun_cycles,
	       s->far_links, io);
	printf(" tmfs=%u tmf_busy=%u tmf_rejected=%u ep_cycles=%u reopens=%u",
	       s->tmfs, s->tmf_busy, s->tmf_rejected, s->ep_cycles,
	       s->reopens);
	printf(" closed_inflight=%u attr_writes=%u max_op_ms=%llu",
	       s->closed_inflight, s->attr_writes,
	       (unsigned long long)s->max_op_ms);
	printf(" lun0_ua=%u lun0_busy=%u", s->lun0_ua, s->lun0_busy);
	printf(" slowest=\"%s\" failures=%u\n", s->slowest, s->failures);
	fflush(stdout);		/* the harness ends the test with _exit() */
}

TEST_HARNESS_MAIN
