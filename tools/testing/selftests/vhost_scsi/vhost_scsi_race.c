// SPDX-License-Identifier: GPL-2.0
/*
 * vhost_scsi races: I/O threads while a LUN is unlinked and relinked and
 * while CLEAR_ENDPOINT runs; TMFs and hot-plug against unlink and
 * endpoint changes.  Every command must complete exactly once, no hang.
 * Loops are bounded by time and by count.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vsg_test.h"

#define NR_Q		2

FIXTURE(race) {
	struct vsg_env e;
};

FIXTURE_SETUP(race)
{
	struct vsg_opts o = {
		.nr_io = NR_Q,
		.features = VSG_FEATURES_DEFAULT |
			    BIT_ULL(VIRTIO_SCSI_F_HOTPLUG),
	};
	int ret = vsg_env_setup(&self->e, VSG_BS_RD, 2, &o);

	if (ret == 4)
		SKIP(return, "%s", self->e.why);
	ASSERT_EQ(0, ret) TH_LOG("%s", self->e.why);
}

FIXTURE_TEARDOWN(race)
{
	vsg_env_teardown(&self->e);
}

static void worker_init(struct vsg_worker *w, struct vsg_env *e,
			unsigned int q, unsigned int lun, __u64 lba,
			unsigned int ms, bool *stop)
{
	memset(w, 0, sizeof(*w));
	w->vq = vsg_io_vq(e->d, q);
	w->target = 1;
	w->lun = lun;
	w->lba = lba;
	w->blocks = 16;
	w->max_ops = 20000;
	w->deadline_ms = vsg_now_ms() + ms;
	w->write_verify = true;
	w->flags = q ? VSG_F_INDIRECT : 0;
	w->stop = stop;
}

static void check_exactly_once(struct __test_metadata *_metadata,
			       struct vsg_env *e, struct vsg_worker *w,
			       unsigned int nr)
{
	struct vsg_vq_stats st;
	unsigned int i;

	for (i = 0; i < nr; i++) {
		EXPECT_EQ(0, w[i].timeouts) TH_LOG("worker %u", i);
		EXPECT_EQ(0, w[i].errors) TH_LOG("worker %u", i);
		EXPECT_EQ(0, w[i].multi_complete) TH_LOG("worker %u", i);
		EXPECT_EQ(0, w[i].mismatches) TH_LOG("worker %u", i);
		EXPECT_GT(w[i].ops, 0);
	}
	for (i = 0; i < NR_Q; i++) {
		vsg_vq_stats(vsg_io_vq(e->d, i), &st);
		EXPECT_EQ(st.submitted, st.completed) TH_LOG("queue %u", i);
		EXPECT_EQ(0, st.spurious) TH_LOG("queue %u", i);
		EXPECT_EQ(0, st.inflight) TH_LOG("queue %u", i);
	}
}

/* LUN 1 flaps under I/O; LUN 0 never notices. */
TEST_F_TIMEOUT(race, io_vs_lun_unlink_relink, 100)
{
	struct virtio_scsi_event ev;
	unsigned int i, cycles = 0, removed = 0, missed = 0;
	struct vsg_worker w[3];
	bool stop = false;
	__u64 end;

	ASSERT_EQ(0, vsg_event_post(self->e.d, 64, VSG_EVT_SIZE));
	worker_init(&w[0], &self->e, 0, 1, 0, 30000, &stop);
	worker_init(&w[1], &self->e, 1, 1, 512, 30000, &stop);
	worker_init(&w[2], &self->e, 1, 0, 0, 30000, &stop);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, vsg_worker_start(&w[i]));
	end = vsg_now_ms() + 15000;
	while (cycles < 20 && vsg_now_ms() < end) {
		usleep(50000);
		ASSERT_EQ(0, vsg_lun_unlink(&self->e.t, 1));
		usleep(50000);
		ASSERT_EQ(0, vsg_lun_link(&self->e.t, 1));
		cycles++;
	}
	__atomic_store_n(&stop, true, __ATOMIC_RELAXED);
	for (i = 0; i < 3; i++)
		vsg_worker_join(&w[i]);
	while (!vsg_event_next(self->e.d, &ev, NULL, 500)) {
		if (ev.event & VIRTIO_SCSI_T_EVENTS_MISSED)
			missed++;
		if (ev.reason == VIRTIO_SCSI_EVT_RESET_REMOVED)
			removed++;
	}
	check_exactly_once(_metadata, &self->e, w, 3);
	/* REPORTED LUNS DATA HAS CHANGED is fine, anything else is not */
	EXPECT_EQ(w[2].ops, w[2].good + w[2].unit_attention)
		TH_LOG("LUN 0 disturbed: cc %u other %u", w[2].check_cond,
		       w[2].other_resp + w[2].bad_target + w[2].incorrect_lun);
	EXPECT_EQ(0, w[0].other_resp + w[1].other_resp)
		TH_LOG("LUN 1 answers other than CHECK CONDITION/BAD_TARGET");
	EXPECT_TRUE(removed == cycles || missed)
		TH_LOG("%u removed events for %u unlinks", removed, cycles);
	TH_LOG("%u cycles; LUN 1 ops %u good %u, LUN 0 ops %u", cycles,
	       w[0].ops + w[1].ops, w[0].good + w[1].good, w[2].ops);
}

/* A queue's counters as the workers left them, without reaping. */
static void vq_peek(struct vsg_vq *vq, struct vsg_vq_stats *st)
{
	pthread_mutex_lock(&vq->lock);
	*st = vq->st;
	pthread_mutex_unlock(&vq->lock);
}

/* Requests published that the device has not put in the used ring. */
static __u16 vq_unanswered(struct vsg_vq *vq)
{
	__u16 n;

	pthread_mutex_lock(&vq->lock);
	n = vq->avail_idx - __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);
	pthread_mutex_unlock(&vq->lock);
	return n;
}

/*
 * CLEAR_ENDPOINT/SET_ENDPOINT under I/O: no command lost or doubled.  In
 * every round each worker queues a request while no endpoint is set (its
 * kick finds no backend), and nothing here kicks after SET_ENDPOINT:
 * serving those requests is the driver's job (vhs_set_endpoint polls every
 * queue), so each must be answered, once, without a further kick.
 */
TEST_F_TIMEOUT(race, io_vs_clear_endpoint, 100)
{
	struct vsg_vq_stats st;
	struct vsg_worker w[NR_Q];
	__u64 queued[NR_Q], end, t;
	unsigned int i, round, waiting;
	bool stop = false;
	int ret;

	worker_init(&w[0], &self->e, 0, 0, 0, 60000, &stop);
	worker_init(&w[1], &self->e, 1, 0, 512, 60000, &stop);
	for (i = 0; i < NR_Q; i++)
		ASSERT_EQ(0, vsg_worker_start(&w[i]));
	end = vsg_now_ms() + 10000;
	for (round = 0; round < 12 && vsg_now_ms() < end; round++) {
		usleep(200000);
		ret = vsg_clear_endpoint(self->e.d, self->e.t.wwpn);
		EXPECT_EQ(0, ret);
		if (ret)
			break;
		/*
		 * Whatever found the endpoint is answered now; each worker
		 * has (or soon submits and kicks) a request that did not.
		 */
		t = vsg_now_ms() + 5000;
		do {
			usleep(1000);
			for (i = 0, waiting = 0; i < NR_Q; i++)
				waiting += !vq_unanswered(vsg_io_vq(self->e.d, i));
		} while (waiting && vsg_now_ms() < t);
		usleep(20000);
		ret = vsg_set_endpoint(self->e.d, self->e.t.wwpn);
		EXPECT_EQ(0, ret);
		if (ret)
			break;
		EXPECT_EQ(0, waiting)
			TH_LOG("round %u: %u queue(s) had no request waiting",
			       round, waiting);
		if (waiting)
			break;
		/* No kick from here on: SET_ENDPOINT must serve them. */
		for (i = 0; i < NR_Q; i++) {
			vq_peek(vsg_io_vq(self->e.d, i), &st);
			queued[i] = st.submitted;
		}
		t = vsg_now_ms() + 5000;
		do {
			usleep(1000);
			for (i = 0, waiting = 0; i < NR_Q; i++) {
				vq_peek(vsg_io_vq(self->e.d, i), &st);
				waiting += st.completed < queued[i];
			}
		} while (waiting && vsg_now_ms() < t);
		EXPECT_EQ(0, waiting)
			TH_LOG("round %u: %u request(s) queued while cleared: %s",
			       round, waiting,
			       "unanswered 5 s after SET_ENDPOINT");
		if (waiting)
			break;
	}
	__atomic_store_n(&stop, true, __ATOMIC_RELAXED);
	for (i = 0; i < NR_Q; i++)
		vsg_worker_join(&w[i]);
	check_exactly_once(_metadata, &self->e, w, NR_Q);
	for (i = 0; i < NR_Q; i++) {
		EXPECT_EQ(w[i].ops, w[i].good + w[i].unit_attention)
			TH_LOG("worker %u: cc %u bt %u il %u other %u", i,
			       w[i].check_cond, w[i].bad_target,
			       w[i].incorrect_lun, w[i].other_resp);
	}
	TH_LOG("%u rounds, ops %u + %u", round, w[0].ops, w[1].ops);
}

/* Closing the device with commands in flight returns promptly. */
TEST_F_TIMEOUT(race, close_with_commands_in_flight, 60)
{
	__u8 *buf = vsg_alloc(self->e.d, 64 * 8192, 4096);
	__u8 cdb[10] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 16, 0 };
	__u64 t0;
	int i;

	for (i = 0; i < 64; i++) {
		struct vsg_cmd *c = vsg_cmd_get(vsg_io_vq(self->e.d, i % 2));
		struct iovec iov = { buf + i * 8192, 8192 };

		vsg_scsi_prep(c, 1, i % 2, cdb, 10);
		ASSERT_EQ(0, vsg_scsi_submit(c, false, &iov, 1, 0));
	}
	t0 = vsg_now_ms();
	close(self->e.d->fd);
	self->e.d->fd = -1;
	EXPECT_LT(vsg_now_ms() - t0, 10000);
}

/*
 * Without waiting: the pending signal of @c's queue (consumed), and
 * whether @c is in the used ring.
 */
static bool answered_now(struct vsg_cmd *c, bool *signalled)
{
	struct pollfd p = { .fd = c->vq->call_fd, .events = POLLIN };
	__u64 v;
	bool done;

	if (poll(&p, 1, 0) > 0 &&
	    read(c->vq->call_fd, &v, sizeof(v)) == sizeof(v))
		*signalled = true;
	vsg_vq_reap(c->vq);
	pthread_mutex_lock(&c->vq->lock);
	done = c->state == VSG_CMD_DONE;
	pthread_mutex_unlock(&c->vq->lock);
	return done;
}

/*
 * LUN resets while the LUN is unlinked and relinked.  Unlink returns only
 * once every TMF that found the LUN is answered: when vsg_lun_unlink()
 * returns, such a TMF (answered anything but INCORRECT_LUN) must already
 * be in the used ring, signalled.  A TMF that came after the unpublish
 * answers INCORRECT_LUN, whenever.  Debian's module frees the wrong
 * preallocated TMF here, so not run against stock.
 */
TEST_F_TIMEOUT(race, tmf_vs_lun_unlink, 100)
{
	struct vsg_vq *cq = &self->e.d->vqs[VSG_VQ_CTL];
	unsigned int i, sent = 0, found = 0, raced = 0, late = 0;
	unsigned int seed = getpid();
	bool before, after, sig;
	__u8 resp;
	__u64 v, end;

	if (vsg_flavour_stock() && !getenv("VSG_STOCK_UNSAFE"))
		SKIP(return, "stock frees the wrong TMF entry (6.1 defect)");
	end = vsg_now_ms() + 10000;
	for (i = 0; i < 100 && vsg_now_ms() < end; i++) {
		struct vsg_cmd *c = vsg_cmd_get(cq);
		struct virtio_scsi_ctrl_tmf_req *r;
		struct vsg_seg s[2];

		ASSERT_NE(NULL, c);
		r = c->req;
		s[0] = (struct vsg_seg){ .addr = (uintptr_t)r, .len = sizeof(*r) };
		s[1] = (struct vsg_seg){ .addr = (uintptr_t)c->resp, .len = 1,
					 .flags = VRING_DESC_F_WRITE };
		memset(r, 0, sizeof(*r));
		r->type = VIRTIO_SCSI_T_TMF;
		r->subtype = VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET;
		vsg_lun(r->lun, 1, 1);
		memset(c->resp, 0xa5, VSG_HDR_AREA);
		/* a stale signal would pass for this TMF's */
		while (read(cq->call_fd, &v, sizeof(v)) == sizeof(v))
			;
		ASSERT_EQ(0, vsg_cmd_submit(c, s, 2, 0));
		sent++;
		/* spread the unlink over the TMF's life */
		usleep(rand_r(&seed) % 400);
		sig = false;
		before = answered_now(c, &sig);
		ASSERT_EQ(0, vsg_lun_unlink(&self->e.t, 1));
		after = answered_now(c, &sig);
		ASSERT_EQ(0, vsg_cmd_wait(c, 10000));
		resp = *(__u8 *)c->resp;
		EXPECT_NE(0xa5, resp) TH_LOG("TMF %u: answered, no response", i);
		if (resp != 0xa5 && resp != VIRTIO_SCSI_S_INCORRECT_LUN) {
			found++;
			raced += !before;
			if (!after || !sig) {
				late++;
				TH_LOG("TMF %u (response %u) found the LUN: %s",
				       i, resp, after ?
				       "not signalled when unlink returned" :
				       "not in the used ring when unlink returned");
			}
		}
		vsg_cmd_put(c);
		ASSERT_EQ(0, vsg_lun_link(&self->e.t, 1));
	}
	EXPECT_EQ(0, late);
	TH_LOG("%u TMFs: %u found the LUN, %u of them still unanswered when unlink began",
	       sent, found, raced);
	ASSERT_EQ(0, vsg_tmf(self->e.d, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET,
			     1, 1, 0, &resp, 10000));
}

/*
 * LUN link/unlink while the endpoint is cleared and set again.  Debian's
 * module can queue an event after the clear flushed and then warns, so
 * not run against stock.
 */
TEST_F_TIMEOUT(race, hotplug_vs_clear_endpoint, 100)
{
	struct virtio_scsi_event ev;
	struct vsg_scsi_res r;
	unsigned int i;

	if (vsg_flavour_stock() && !getenv("VSG_STOCK_UNSAFE"))
		SKIP(return, "stock can queue an event after clear (6.1 defect)");
	ASSERT_EQ(0, vsg_event_post(self->e.d, 64, VSG_EVT_SIZE));
	for (i = 0; i < 15; i++) {
		ASSERT_EQ(0, vsg_lun_unlink(&self->e.t, 1));
		ASSERT_EQ(0, vsg_clear_endpoint(self->e.d, self->e.t.wwpn));
		ASSERT_EQ(0, vsg_lun_link(&self->e.t, 1));
		ASSERT_EQ(0, vsg_set_endpoint(self->e.d, self->e.t.wwpn));
	}
	while (!vsg_event_next(self->e.d, &ev, NULL, 300))
		;
	ASSERT_EQ(0, vsg_tur(self->e.q, 1, 1, &r));
	EXPECT_EQ(VIRTIO_SCSI_S_OK, r.response);
}

/*
 * SET_ENDPOINT with a huge request queue, then LUN unlink.  Debian's
 * module keeps a pointer to the device when SET_ENDPOINT fails and uses
 * it after free on unlink, so not run against stock.
 */
TEST_F_TIMEOUT(race, failed_set_endpoint_then_unlink, 100)
{
	struct vsg_opts o = { .nr_io = 1, .qsize = 32768, .pool = 16,
			      .arena = 8 << 20 };
	struct vsg_dev *big;
	struct vsg_scsi_res r;
	int ret;

	if (vsg_flavour_stock() && !getenv("VSG_STOCK_UNSAFE"))
		SKIP(return, "stock uses the device after free (6.1 defect)");
	ASSERT_EQ(0, vsg_clear_endpoint(self->e.d, self->e.t.wwpn));
	ASSERT_EQ(0, vsg_open(&o, &big));
	ret = vsg_set_endpoint(big, self->e.t.wwpn);
	TH_LOG("SET_ENDPOINT with 32768 entries: %s", strerror(-ret));
	if (!ret)
		ASSERT_EQ(0, vsg_clear_endpoint(big, self->e.t.wwpn));
	vsg_close(big);
	ASSERT_EQ(0, vsg_lun_unlink(&self->e.t, 1));
	ASSERT_EQ(0, vsg_lun_link(&self->e.t, 1));
	ASSERT_EQ(0, vsg_set_endpoint(self->e.d, self->e.t.wwpn));
	ASSERT_EQ(0, vsg_tur(self->e.q, 1, 1, &r));
	EXPECT_EQ(VIRTIO_SCSI_S_OK, r.response);
}

TEST_HARNESS_MAIN
