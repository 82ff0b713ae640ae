// SPDX-License-Identifier: GPL-2.0
/*
 * vhost_scsi bad guest input: every malformed request must get a vq_err,
 * a correct error response, or be dropped; never a hang, and the device
 * keeps serving other requests.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vsg_test.h"
#include "vsg_only.h"

#define BAD_WAIT_MS	3000

FIXTURE(bad) {
	struct vsg_env e;
	__u64 err0;
};

FIXTURE_SETUP(bad)
{
	struct vsg_opts o = {
		.nr_io = 2,
		.features = VSG_FEATURES_DEFAULT |
			    BIT_ULL(VIRTIO_SCSI_F_HOTPLUG),
	};
	int ret = vsg_env_setup(&self->e, VSG_BS_RD, 1, &o);

	if (ret == 4)
		SKIP(return, "%s", self->e.why);
	ASSERT_EQ(0, ret) TH_LOG("%s", self->e.why);
	self->err0 = vsg_vq_errors(self->e.q);
}

FIXTURE_TEARDOWN(bad)
{
	__u64 t0 = vsg_now_ms();

	/* closing must not hang on whatever the test left behind */
	vsg_env_teardown(&self->e);
	EXPECT_LT(vsg_now_ms() - t0, 10000);
}

/* The command was answered with @response in a full response header. */
static void expect_answer(struct __test_metadata *_metadata,
			  struct vsg_cmd *c, __u8 response)
{
	struct vsg_scsi_res r;

	ASSERT_EQ(0, vsg_cmd_wait(c, BAD_WAIT_MS)) TH_LOG("no answer");
	vsg_scsi_result(c, &r);
	EXPECT_EQ(response, r.response);
	EXPECT_EQ(sizeof(struct virtio_scsi_cmd_resp), r.used_len);
	EXPECT_EQ(0, r.sense_len);
}

/*
 * vhost could not parse the chain: vq_err, and the chain is neither
 * answered nor consumed (see chain_error_wants_kick).
 */
static void expect_vq_err_only(struct __test_metadata *_metadata,
			       struct vsg_cmd *c, __u64 err0)
{
	EXPECT_EQ(0, vsg_vq_wait_error(c->vq, err0, BAD_WAIT_MS));
	EXPECT_EQ(-ETIMEDOUT, vsg_cmd_wait(c, 500))
		TH_LOG("a chain vhost rejected was answered");
}

/* The device still answers on queue @n. */
static int alive(struct vsg_env *e, unsigned int n)
{
	struct vsg_scsi_res r;
	int ret = vsg_tur(vsg_io_vq(e->d, n), 1, 0, &r);

	if (ret)
		return ret;
	return r.response == VIRTIO_SCSI_S_OK && !r.status ? 0 : -EIO;
}

static int untouched_from(const __u8 *p, unsigned int from)
{
	unsigned int i;

	for (i = from; i < VSG_HDR_AREA; i++)
		if (p[i] != 0xa5)
			return i;
	return -1;
}

/* Request header shorter than virtio_scsi_cmd_req. */
TEST_F(bad, short_header)
{
	struct vsg_cmd *c = vsg_cmd_get(self->e.q);
	__u8 cdb[6] = { 0 };
	struct vsg_seg s[2];

	vsg_scsi_prep(c, 1, 0, cdb, 6);
	memset(c->resp, 0xa5, VSG_HDR_AREA);
	s[0] = (struct vsg_seg){ .addr = (uintptr_t)c->req, .len = 10 };
	s[1] = (struct vsg_seg){ .addr = (uintptr_t)c->resp,
		.len = sizeof(struct virtio_scsi_cmd_resp),
		.flags = VRING_DESC_F_WRITE };
	ASSERT_EQ(0, vsg_cmd_submit(c, s, 2, 0));
	expect_answer(_metadata, c, VIRTIO_SCSI_S_BAD_TARGET);
	EXPECT_EQ(0, alive(&self->e, 0));
}

/* Response buffer too small for virtio_scsi_cmd_resp: nothing written past. */
TEST_F(bad, short_response)
{
	struct vsg_cmd *c = vsg_cmd_get(self->e.q);
	__u8 cdb[6] = { 0 };
	struct vsg_seg s[2];

	vsg_scsi_prep(c, 1, 0, cdb, 6);
	memset(c->resp, 0xa5, VSG_HDR_AREA);
	s[0] = (struct vsg_seg){ .addr = (uintptr_t)c->req,
				 .len = vsg_req_size(self->e.d) };
	s[1] = (struct vsg_seg){ .addr = (uintptr_t)c->resp, .len = 4,
				 .flags = VRING_DESC_F_WRITE };
	ASSERT_EQ(0, vsg_cmd_submit(c, s, 2, 0));
	/* no response fits: the buffer comes back with used length 0 */
	ASSERT_EQ(0, vsg_cmd_wait(c, BAD_WAIT_MS));
	EXPECT_EQ(0, c->used_len);
	EXPECT_EQ(-1, untouched_from(c->resp, 0));
	EXPECT_EQ(0, alive(&self->e, 0));
}

/* lun[0] must be 1. */
TEST_F(bad, bad_lun_byte)
{
	struct vsg_cmd *c = vsg_cmd_get(self->e.q);
	__u8 cdb[6] = { 0 };

	vsg_scsi_prep(c, 1, 0, cdb, 6);
	((__u8 *)c->req)[0] = 2;
	ASSERT_EQ(0, vsg_scsi_submit(c, false, NULL, 0, 0));
	expect_answer(_metadata, c, VIRTIO_SCSI_S_BAD_TARGET);
	EXPECT_EQ(0, alive(&self->e, 0));
}

/* A CDB whose own length field says more than 32 bytes. */
TEST_F(bad, oversized_cdb)
{
	__u8 cdb[32] = { 0x7f, 0, 0, 0, 0, 0, 0, 0xf0 };
	struct vsg_cmd *c = vsg_cmd_get(self->e.q);

	vsg_scsi_prep(c, 1, 0, cdb, 32);
	ASSERT_EQ(0, vsg_scsi_submit(c, false, NULL, 0, 0));
	expect_answer(_metadata, c, VIRTIO_SCSI_S_FAILURE);
	EXPECT_EQ(0, alive(&self->e, 0));
}

/* Data both to and from the device: virtio-scsi has no bidirectional. */
TEST_F(bad, bidirectional)
{
	__u8 *buf = vsg_alloc(self->e.d, 1024, 4096);
	__u8 cdb[10] = { 0x2a, 0, 0, 0, 0, 0, 0, 0, 1 };
	struct vsg_cmd *c = vsg_cmd_get(self->e.q);
	struct vsg_seg s[4];

	ASSERT_NE(NULL, buf);
	vsg_scsi_prep(c, 1, 0, cdb, sizeof(cdb));
	memset(c->resp, 0xa5, VSG_HDR_AREA);
	s[0] = (struct vsg_seg){ .addr = (uintptr_t)c->req,
				 .len = vsg_req_size(self->e.d) };
	s[1] = (struct vsg_seg){ .addr = (uintptr_t)buf, .len = 512 };
	s[2] = (struct vsg_seg){ .addr = (uintptr_t)c->resp,
				 .len = sizeof(struct virtio_scsi_cmd_resp),
				 .flags = VRING_DESC_F_WRITE };
	s[3] = (struct vsg_seg){ .addr = (uintptr_t)buf + 512, .len = 512,
				 .flags = VRING_DESC_F_WRITE };
	ASSERT_EQ(0, vsg_cmd_submit(c, s, 4, 0));
	expect_answer(_metadata, c, VIRTIO_SCSI_S_FAILURE);
	EXPECT_EQ(0, alive(&self->e, 0));
}

/*
 * A READ into more than 2048 pages: OVERRUN, nothing transferred.  Also
 * into a misaligned buffer, which would otherwise be bounced: a bounce
 * that large never fits the queue's budget, and the TASK SET FULL that
 * a budget gives would have the guest retry for ever.
 */
TEST_F(bad, data_over_limit)
{
	const size_t len = (8 << 20) + 4096;
	__u8 cdb[10] = { 0x28, 0, 0, 0, 0, 0, 0, 0x40, 0x08 };
	__u8 *buf = vsg_alloc(self->e.d, len + 4096, 4096);
	struct vsg_cmd *c;
	unsigned int misalign;

	ASSERT_NE(NULL, buf);
	for (misalign = 0; misalign <= 1; misalign++) {
		struct iovec iov = { buf + misalign, len };

		c = vsg_cmd_get(self->e.q);
		ASSERT_NE(NULL, c);
		memset(buf, 0x5a, 4096);
		vsg_scsi_prep(c, 1, 0, cdb, sizeof(cdb));
		memset(c->resp, 0xa5, VSG_HDR_AREA);
		ASSERT_EQ(0, vsg_scsi_submit(c, false, &iov, 1, 0));
		expect_answer(_metadata, c, VIRTIO_SCSI_S_OVERRUN);
		EXPECT_EQ(0x5a, buf[misalign])
			TH_LOG("data written for an OVERRUN (misaligned %u)",
			       misalign);
		vsg_cmd_put(c);
	}
	EXPECT_EQ(0, alive(&self->e, 0));
}

/* A missing target answered through a response split over 3 descriptors. */
TEST_F(bad, bad_target_split_response)
{
	struct vsg_cmd *c = vsg_cmd_get(self->e.q);
	__u8 cdb[6] = { 0 };
	struct vsg_scsi_res r;

	vsg_scsi_prep(c, 9, 0, cdb, 6);
	ASSERT_EQ(0, vsg_scsi_submit(c, false, NULL, 0, VSG_F_SPLIT_RESP));
	ASSERT_EQ(0, vsg_cmd_wait(c, BAD_WAIT_MS));
	vsg_scsi_result(c, &r);
	EXPECT_EQ(VIRTIO_SCSI_S_BAD_TARGET, r.response);
	EXPECT_EQ(0, r.sense_len);
	EXPECT_EQ(sizeof(struct virtio_scsi_cmd_resp), r.used_len);
}

static struct vsg_seg hdr_seg(struct vsg_cmd *c)
{
	struct vsg_seg s = {
		.addr = (uintptr_t)c->req, .len = vsg_req_size(c->vq->dev),
		.flags = VRING_DESC_F_NEXT, .next = 1,
	};

	return s;
}

/* Data descriptor outside the memory table. */
TEST_F(bad, desc_outside_mem_table)
{
	struct vsg_cmd *c = vsg_cmd_get(self->e.q);
	__u64 far = (uintptr_t)self->e.d->base + self->e.d->size + (1 << 20);
	struct vsg_seg s[3] = {
		hdr_seg(c),
		{ .addr = (uintptr_t)c->resp, .len = 108,
		  .flags = VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, .next = 2 },
		{ .addr = far, .len = 4096, .flags = VRING_DESC_F_WRITE },
	};
	__u8 cdb[10] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0 };

	vsg_scsi_prep(c, 1, 0, cdb, 10);
	ASSERT_EQ(0, vsg_cmd_submit(c, s, 3, VSG_F_RAW));
	expect_vq_err_only(_metadata, c, self->err0);
	EXPECT_EQ(0, alive(&self->e, 1));
}

/* The ring address of the indirect table itself is outside. */
TEST_F(bad, indirect_table_outside_mem_table)
{
	__u64 far = (uintptr_t)self->e.d->base + self->e.d->size + (1 << 20);
	struct vsg_seg s = { .addr = far, .len = 64,
			     .flags = VRING_DESC_F_INDIRECT };
	struct vsg_cmd *c = vsg_cmd_get(self->e.q);
	__u8 cdb[6] = { 0 };

	vsg_scsi_prep(c, 1, 0, cdb, 6);
	ASSERT_EQ(0, vsg_cmd_submit(c, &s, 1, VSG_F_RAW));
	expect_vq_err_only(_metadata, c, self->err0);
	EXPECT_EQ(0, alive(&self->e, 1));
}

TEST_F(bad, desc_loop)
{
	struct vsg_cmd *c = vsg_cmd_get(self->e.q);
	struct vsg_seg s[2] = {
		hdr_seg(c),
		{ .addr = (uintptr_t)c->resp, .len = 108,
		  .flags = VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, .next = 0 },
	};
	__u8 cdb[6] = { 0 };

	vsg_scsi_prep(c, 1, 0, cdb, 6);
	ASSERT_EQ(0, vsg_cmd_submit(c, s, 2, VSG_F_RAW));
	expect_vq_err_only(_metadata, c, self->err0);
	EXPECT_EQ(0, alive(&self->e, 1));
}

TEST_F(bad, indirect_loop)
{
	struct vsg_cmd *c = vsg_cmd_get(self->e.q);
	struct vsg_seg s[2] = {
		hdr_seg(c),
		{ .addr = (uintptr_t)c->resp, .len = 108,
		  .flags = VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, .next = 1 },
	};
	__u8 cdb[6] = { 0 };

	vsg_scsi_prep(c, 1, 0, cdb, 6);
	ASSERT_EQ(0, vsg_cmd_submit(c, s, 2, VSG_F_RAW | VSG_F_INDIRECT));
	expect_vq_err_only(_metadata, c, self->err0);
	EXPECT_EQ(0, alive(&self->e, 1));
}

TEST_F(bad, next_out_of_range)
{
	struct vsg_cmd *c = vsg_cmd_get(self->e.q);
	struct vsg_seg s[1] = { {
		.addr = (uintptr_t)c->req, .len = vsg_req_size(self->e.d),
		.flags = VRING_DESC_F_NEXT, .next = 5000,
	} };
	__u8 cdb[6] = { 0 };

	vsg_scsi_prep(c, 1, 0, cdb, 6);
	ASSERT_EQ(0, vsg_cmd_submit(c, s, 1, VSG_F_RAW));
	expect_vq_err_only(_metadata, c, self->err0);
	EXPECT_EQ(0, alive(&self->e, 1));
}

/*
 * vhost leaves a chain it cannot parse at the head of the ring (vq_err to
 * the VMM).  The queue then serves nothing until it is reset, but guest
 * notifications are back on: with EVENT_IDX the device asks for a kick at
 * the next request (avail_event == avail idx), and that kick is seen (the
 * chain is reported again) while the request behind it stays unanswered.
 * Other queues keep working.
 */
TEST_F(bad, chain_error_wants_kick)
{
	struct vsg_vq *q = self->e.q;
	struct vsg_cmd *c = vsg_cmd_get(q), *next = vsg_cmd_get(q);
	struct vsg_seg s[1] = { {
		.addr = (uintptr_t)c->req, .len = vsg_req_size(self->e.d),
		.flags = VRING_DESC_F_NEXT, .next = 5000,
	} };
	__u8 cdb[6] = { 0 };
	__u16 avail_event;
	__u64 err1;

	ASSERT_TRUE(vsg_has_feature(self->e.d, VIRTIO_RING_F_EVENT_IDX));
	vsg_scsi_prep(c, 1, 0, cdb, 6);
	ASSERT_EQ(0, vsg_cmd_submit(c, s, 1, VSG_F_RAW));
	ASSERT_EQ(0, vsg_vq_wait_error(q, self->err0, BAD_WAIT_MS));
	err1 = vsg_vq_errors(q);
	avail_event = __atomic_load_n((__u16 *)&q->used->ring[q->num],
				      __ATOMIC_ACQUIRE);
	EXPECT_EQ(q->avail_idx, avail_event)
		TH_LOG("guest notifications left off after a bad chain");

	vsg_scsi_prep(next, 1, 0, cdb, 6);
	ASSERT_EQ(0, vsg_scsi_submit(next, false, NULL, 0, 0));
	EXPECT_EQ(0, vsg_vq_wait_error(q, err1, BAD_WAIT_MS))
		TH_LOG("the kick after the bad chain went unseen");
	EXPECT_EQ(-ETIMEDOUT, vsg_cmd_wait(next, 500))
		TH_LOG("the queue served past a chain it could not parse");
	EXPECT_EQ(0, alive(&self->e, 1));
}

/* An indirect table with more entries than any iovec array holds. */
TEST_F(bad, oversized_chain)
{
	const unsigned int n = 4096;
	struct vring_desc *t = vsg_alloc(self->e.d, n * sizeof(*t), 16);
	__u8 *buf = vsg_alloc(self->e.d, n, 64);
	struct vsg_cmd *c = vsg_cmd_get(self->e.q);
	struct vsg_seg s = { .addr = (uintptr_t)t, .len = n * sizeof(*t),
			     .flags = VRING_DESC_F_INDIRECT };
	__u8 cdb[10] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0 };
	unsigned int i;

	ASSERT_NE(NULL, t);
	vsg_scsi_prep(c, 1, 0, cdb, 10);
	t[0].addr = (uintptr_t)c->req;
	t[0].len = vsg_req_size(self->e.d);
	t[1].addr = (uintptr_t)c->resp;
	t[1].len = sizeof(struct virtio_scsi_cmd_resp);
	for (i = 2; i < n; i++) {
		t[i].addr = (uintptr_t)(buf + i);
		t[i].len = 1;
	}
	for (i = 0; i < n; i++) {
		t[i].flags = (i ? VRING_DESC_F_WRITE : 0) |
			     (i + 1 < n ? VRING_DESC_F_NEXT : 0);
		t[i].next = i + 1;
	}
	ASSERT_EQ(0, vsg_cmd_submit(c, &s, 1, VSG_F_RAW));
	expect_vq_err_only(_metadata, c, self->err0);
	EXPECT_EQ(0, alive(&self->e, 1));
}

/* Unknown control request type, then a truncated TMF request. */
TEST_F(bad, bad_control_requests)
{
	struct vsg_vq *cq = &self->e.d->vqs[VSG_VQ_CTL];
	struct vsg_cmd *c = vsg_cmd_get(cq);
	struct vsg_seg s[2];
	__u32 *type = c->req;
	__u8 resp = 0xff;

	memset(c->req, 0, VSG_HDR_AREA);
	memset(c->resp, 0xa5, VSG_HDR_AREA);
	*type = 77;
	s[0] = (struct vsg_seg){ .addr = (uintptr_t)c->req, .len = 24 };
	s[1] = (struct vsg_seg){ .addr = (uintptr_t)c->resp, .len = 1,
				 .flags = VRING_DESC_F_WRITE };
	ASSERT_EQ(0, vsg_cmd_submit(c, s, 2, 0));
	/* no layout to answer an unknown type with: returned, length 0 */
	ASSERT_EQ(0, vsg_cmd_wait(c, BAD_WAIT_MS));
	EXPECT_EQ(0, c->used_len);
	EXPECT_EQ(-1, untouched_from(c->resp, 0));

	c = vsg_cmd_get(cq);
	memset(c->req, 0, VSG_HDR_AREA);
	memset(c->resp, 0xa5, VSG_HDR_AREA);
	*(__u32 *)c->req = VIRTIO_SCSI_T_TMF;
	s[0] = (struct vsg_seg){ .addr = (uintptr_t)c->req, .len = 8 };
	s[1] = (struct vsg_seg){ .addr = (uintptr_t)c->resp, .len = 1,
				 .flags = VRING_DESC_F_WRITE };
	ASSERT_EQ(0, vsg_cmd_submit(c, s, 2, 0));
	/* a TMF too short to name a LUN: BAD TARGET in its 1-byte answer */
	ASSERT_EQ(0, vsg_cmd_wait(c, BAD_WAIT_MS));
	EXPECT_EQ(1, c->used_len);
	EXPECT_EQ(VIRTIO_SCSI_S_BAD_TARGET, ((__u8 *)c->resp)[0]);
	EXPECT_EQ(-1, untouched_from(c->resp, 1))
		TH_LOG("device wrote past the 1-byte TMF response");

	ASSERT_EQ(0, vsg_tmf(self->e.d, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET,
			     1, 0, 0, &resp, 10000));
	EXPECT_TRUE(vsg_tmf_done(resp)) TH_LOG("response %u", resp);
}

/* An 8-byte event buffer must not be overrun; later events still flow. */
TEST_F(bad, wrong_size_event_buffer)
{
	struct vsg_vq *ev = &self->e.d->vqs[VSG_VQ_EVT];
	struct vsg_cmd *c = vsg_cmd_get(ev);
	struct vsg_seg s = { .addr = (uintptr_t)c->resp, .len = 8,
			     .flags = VRING_DESC_F_WRITE };
	struct virtio_scsi_event e;
	__u64 deadline;
	bool removed = false;

	memset(c->resp, 0xa5, VSG_HDR_AREA);
	ASSERT_EQ(0, vsg_cmd_submit(c, &s, 1, 0));
	ASSERT_EQ(0, vsg_bs_create(&self->e.t, 2, VSG_BS_RD, 1 << 20));
	ASSERT_EQ(0, vsg_lun_link(&self->e.t, 2));
	usleep(300000);
	EXPECT_EQ(-1, untouched_from(c->resp, 8));

	ASSERT_EQ(0, vsg_event_post(self->e.d, 8, VSG_EVT_SIZE));
	ASSERT_EQ(0, vsg_lun_unlink(&self->e.t, 2));
	deadline = vsg_now_ms() + 5000;
	while (!removed && vsg_now_ms() < deadline) {
		if (vsg_event_next(self->e.d, &e, NULL, 500))
			continue;
		removed = (e.event & ~VIRTIO_SCSI_T_EVENTS_MISSED) ==
			  VIRTIO_SCSI_T_TRANSPORT_RESET &&
			  e.reason == VIRTIO_SCSI_EVT_RESET_REMOVED;
	}
	EXPECT_TRUE(removed);
}

/*
 * Requests a guest can repeat at will must not each put a line in the
 * host's kernel log: INQUIRY to an unmapped LUN, ABORT TASK of a task that
 * is not in flight.  Both still get their proper answers.
 */
TEST_F(bad, no_log_per_request)
{
	__u8 *buf = vsg_alloc(self->e.d, 96, 64);
	int fd, i, lun_lines, abort_lines;
	struct vsg_scsi_res r;
	__u8 resp;

	ASSERT_NE(NULL, buf);
	fd = vsg_kmsg_open();
	ASSERT_LE(0, fd) TH_LOG("/dev/kmsg: %s", strerror(errno));
	for (i = 0; i < 50; i++) {
		ASSERT_EQ(0, vsg_inquiry(self->e.q, 1, 9, buf, 96, &r));
		EXPECT_EQ(VIRTIO_SCSI_S_OK, r.response);
		EXPECT_EQ(SAM_STAT_CHECK_CONDITION, r.status);
		EXPECT_EQ(0x25, vsg_sense_asc(&r));
	}
	usleep(200000);
	lun_lines = vsg_kmsg_count(fd, "NON_EXISTENT_LUN", 7, NULL, 0);
	close(fd);
	fd = vsg_kmsg_open();
	ASSERT_LE(0, fd);
	for (i = 0; i < 50; i++) {
		resp = 0xff;
		ASSERT_EQ(0, vsg_tmf(self->e.d, VIRTIO_SCSI_T_TMF_ABORT_TASK,
				     1, 0, 2000 + i, &resp, 10000));
		/* FUNCTION COMPLETE, which virtio-scsi spells S_OK */
		EXPECT_EQ(VIRTIO_SCSI_S_OK, resp);
	}
	usleep(200000);
	abort_lines = vsg_kmsg_count(fd, "ABORT_TASK", 7, NULL, 0);
	close(fd);
	EXPECT_EQ(0, lun_lines);
	EXPECT_EQ(0, abort_lines);
}

/* tpgt_01 would be a second directory for target id 1. */
TEST_F(bad, noncanonical_tpgt)
{
	static const char * const names[] = {
		"tpgt_01", "tpgt_+2", "tpgt_256", "tpgt_x", "tpgt_",
	};
	char path[256];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		snprintf(path, sizeof(path), VSG_CFS_ROOT "/vhost/%s/%s",
			 self->e.t.wwpn, names[i]);
		errno = 0;
		if (!mkdir(path, 0755))
			rmdir(path);	/* accepted: errno stays 0 */
		EXPECT_EQ(EINVAL, errno) TH_LOG("%s", names[i]);
	}
}

/*
 * "fc.<name>" and "<name>" are two WWNs with one port name.  SET_ENDPOINT
 * binds one TPG per target id; CLEAR_ENDPOINT must leave both free to
 * remove (a TPG claimed and then overwritten would stay busy forever).
 */
TEST_F(bad, two_ports_one_name)
{
	struct vsg_target t2 = self->e.t;
	char path[256];
	unsigned int i;
	int ret;

	for (i = 0; i < VSG_CFS_MAX_LUNS; i++) {
		t2.kind[i] = VSG_BS_NONE;
		t2.linked[i] = false;
	}
	t2.tpg_made = false;
	snprintf(t2.wwpn, sizeof(t2.wwpn), "fc.%.32s", self->e.t.wwpn);
	snprintf(t2.nexus, sizeof(t2.nexus), "fc.%.32s", self->e.t.nexus);
	snprintf(path, sizeof(path), VSG_CFS_ROOT "/vhost/%s/tpgt_%u",
		 t2.wwpn, self->e.t.tpgt);

	/* No ASSERT until t2 is gone again: a leftover WWN pins the module. */
	ret = vsg_clear_endpoint(self->e.d, self->e.t.wwpn);
	EXPECT_EQ(0, ret);
	if (!ret) {
		ret = vsg_tpg_create(&t2, self->e.t.tpgt);
		EXPECT_EQ(0, ret) TH_LOG("second port: %s", strerror(-ret));
	}
	if (!ret) {
		ret = vsg_set_endpoint(self->e.d, self->e.t.wwpn);
		EXPECT_EQ(0, ret);
	}
	if (!ret) {
		EXPECT_EQ(0, alive(&self->e, 0));
		ret = vsg_clear_endpoint(self->e.d, self->e.t.wwpn);
		EXPECT_EQ(0, ret);
	}
	if (!ret)
		EXPECT_EQ(0, rmdir(path)) TH_LOG("%s: %s", path,
						 strerror(errno));
	vsg_target_teardown(&t2);
	EXPECT_NE(0, access(path, F_OK)) TH_LOG("%s is left", path);
	/* the first TPG must be free again too: bind it once more */
	EXPECT_EQ(0, vsg_set_endpoint(self->e.d, self->e.t.wwpn));
	EXPECT_EQ(0, alive(&self->e, 0));
}

int main(int argc, char **argv)
{
	return vsg_harness_main(argc, argv);
}
