// SPDX-License-Identifier: GPL-2.0
/*
 * vsg - convenience SCSI commands, control queue requests, event buffers
 * and the T10-DIF guard CRC.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <linux/virtio_ring.h>

#include "vsg.h"

#define VSG_TIMEOUT_MS		10000

static void vsg_put_be(__u8 *p, __u64 v, int bytes)
{
	while (bytes--) {
		p[bytes] = v & 0xff;
		v >>= 8;
	}
}

static __u64 vsg_get_be(const __u8 *p, int bytes)
{
	__u64 v = 0;

	while (bytes--)
		v = (v << 8) | *p++;
	return v;
}

static int vsg_data_cmd(struct vsg_vq *vq, unsigned int t, unsigned int l,
			const __u8 *cdb, size_t cdb_len, bool write,
			void *buf, size_t len, struct vsg_scsi_res *res)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	if (len && !vsg_in_arena(vq->dev, buf, len))
		return -EFAULT;
	return vsg_scsi(vq, t, l, cdb, cdb_len, write, &iov, len ? 1 : 0,
			res, VSG_TIMEOUT_MS);
}

int vsg_tur(struct vsg_vq *vq, unsigned int t, unsigned int l,
	    struct vsg_scsi_res *res)
{
	const __u8 cdb[6] = { 0x00 };

	return vsg_data_cmd(vq, t, l, cdb, sizeof(cdb), false, NULL, 0, res);
}

/*
 * TEST UNIT READY until it is answered GOOD, at most @tries times: a new
 * nexus, LUN or a reset leaves a unit attention that the first command
 * takes.  0, -EIO if it never settled, or vsg_tur()'s error.
 */
int vsg_tur_settle(struct vsg_vq *vq, unsigned int t, unsigned int l,
		   unsigned int tries)
{
	struct vsg_scsi_res res;
	int ret;

	while (tries--) {
		ret = vsg_tur(vq, t, l, &res);
		if (ret)
			return ret;
		if (res.response == VIRTIO_SCSI_S_OK && res.status == 0)
			return 0;
	}
	return -EIO;
}

int vsg_inquiry(struct vsg_vq *vq, unsigned int t, unsigned int l,
		void *buf, size_t len, struct vsg_scsi_res *res)
{
	__u8 cdb[6] = { 0x12 };

	vsg_put_be(cdb + 3, len, 2);
	return vsg_data_cmd(vq, t, l, cdb, sizeof(cdb), false, buf, len, res);
}

int vsg_read_capacity16(struct vsg_vq *vq, unsigned int t, unsigned int l,
			__u64 *last_lba, __u32 *block_size,
			struct vsg_scsi_res *res)
{
	__u8 cdb[16] = { 0x9e, 0x10 };
	__u8 *buf = vsg_alloc(vq->dev, 32, 64);
	int ret;

	if (!buf)
		return -ENOMEM;
	vsg_put_be(cdb + 10, 32, 4);
	ret = vsg_data_cmd(vq, t, l, cdb, sizeof(cdb), false, buf, 32, res);
	if (!ret) {
		*last_lba = vsg_get_be(buf, 8);
		*block_size = vsg_get_be(buf + 8, 4);
	}
	return ret;
}

int vsg_report_luns(struct vsg_vq *vq, unsigned int t, void *buf,
		    size_t len, struct vsg_scsi_res *res)
{
	__u8 cdb[12] = { 0xa0 };

	vsg_put_be(cdb + 6, len, 4);
	return vsg_data_cmd(vq, t, 0, cdb, sizeof(cdb), false, buf, len, res);
}

/* READ/WRITE(10) or (16) of @blocks blocks at @lba from/to @buf. */
int vsg_rw(struct vsg_vq *vq, unsigned int t, unsigned int l, bool write,
	   bool cdb16, __u64 lba, __u32 blocks, void *buf, size_t len,
	   struct vsg_scsi_res *res)
{
	__u8 cdb[16] = { 0 };

	if (cdb16) {
		cdb[0] = write ? 0x8a : 0x88;
		vsg_put_be(cdb + 2, lba, 8);
		vsg_put_be(cdb + 10, blocks, 4);
		return vsg_data_cmd(vq, t, l, cdb, 16, write, buf, len, res);
	}
	cdb[0] = write ? 0x2a : 0x28;
	vsg_put_be(cdb + 2, lba, 4);
	vsg_put_be(cdb + 7, blocks, 2);
	return vsg_data_cmd(vq, t, l, cdb, 10, write, buf, len, res);
}

/* One request/response pair on the control queue. */
static int vsg_ctl(struct vsg_dev *d, size_t req_len, size_t resp_len,
		   struct vsg_cmd **out, int timeout_ms)
{
	struct vsg_cmd *c = *out;
	struct vsg_seg segs[2] = {
		{ .addr = (uintptr_t)c->req, .len = req_len },
		{ .addr = (uintptr_t)c->resp, .len = resp_len,
		  .flags = VRING_DESC_F_WRITE },
	};
	int ret;

	ret = vsg_cmd_submit(c, segs, 2, 0);
	if (!ret)
		ret = vsg_cmd_wait(c, timeout_ms);
	if (ret == -ETIMEDOUT)
		*out = NULL;	/* the device still owns it */
	return ret;
}

/* A TMF request in @c, its response area preset to 0xa5. */
void vsg_tmf_prep(struct vsg_cmd *c, __u32 subtype,
		  unsigned int target, unsigned int lun, __u64 tag)
{
	struct virtio_scsi_ctrl_tmf_req *r = c->req;

	memset(r, 0, sizeof(*r));
	r->type = VIRTIO_SCSI_T_TMF;
	r->subtype = subtype;
	vsg_lun(r->lun, target, lun);
	r->tag = tag;
	memset(c->resp, 0xa5, VSG_HDR_AREA);
}

struct vsg_cmd *vsg_tmf_start(struct vsg_dev *d, __u32 subtype,
			      unsigned int target, unsigned int lun, __u64 tag)
{
	struct vsg_cmd *c = vsg_cmd_get(&d->vqs[VSG_VQ_CTL]);
	struct vsg_seg segs[2];

	if (!c)
		return NULL;
	vsg_tmf_prep(c, subtype, target, lun, tag);
	segs[0] = (struct vsg_seg){
		.addr = (uintptr_t)c->req,
		.len = sizeof(struct virtio_scsi_ctrl_tmf_req),
	};
	segs[1] = (struct vsg_seg){
		.addr = (uintptr_t)c->resp,
		.len = sizeof(struct virtio_scsi_ctrl_tmf_resp),
		.flags = VRING_DESC_F_WRITE,
	};
	if (vsg_cmd_submit(c, segs, 2, 0)) {
		vsg_cmd_put(c);
		return NULL;
	}
	return c;
}

int vsg_tmf(struct vsg_dev *d, __u32 subtype, unsigned int target,
	    unsigned int lun, __u64 tag, __u8 *response, int timeout_ms)
{
	struct vsg_cmd *c = vsg_cmd_get(&d->vqs[VSG_VQ_CTL]);
	int ret;

	if (!c)
		return -EBUSY;
	vsg_tmf_prep(c, subtype, target, lun, tag);
	ret = vsg_ctl(d, sizeof(struct virtio_scsi_ctrl_tmf_req),
		      sizeof(struct virtio_scsi_ctrl_tmf_resp), &c, timeout_ms);
	if (!ret)
		*response = ((struct virtio_scsi_ctrl_tmf_resp *)c->resp)->response;
	vsg_cmd_put(c);
	return ret;
}

int vsg_an(struct vsg_dev *d, __u32 type, unsigned int target,
	   unsigned int lun, __u32 requested, __u32 *actual,
	   __u8 *response, int timeout_ms)
{
	struct vsg_cmd *c = vsg_cmd_get(&d->vqs[VSG_VQ_CTL]);
	struct virtio_scsi_ctrl_an_req *r;
	struct virtio_scsi_ctrl_an_resp *p;
	int ret;

	if (!c)
		return -EBUSY;
	r = c->req;
	memset(r, 0, sizeof(*r));
	r->type = type;
	vsg_lun(r->lun, target, lun);
	r->event_requested = requested;
	memset(c->resp, 0xa5, VSG_HDR_AREA);
	ret = vsg_ctl(d, sizeof(*r), sizeof(*p), &c, timeout_ms);
	if (!ret) {
		p = c->resp;
		*actual = p->event_actual;
		*response = p->response;
	}
	vsg_cmd_put(c);
	return ret;
}

static int vsg_event_give(struct vsg_cmd *c, size_t size)
{
	struct vsg_seg seg = {
		.addr = (uintptr_t)c->resp, .len = size,
		.flags = VRING_DESC_F_WRITE,
	};

	memset(c->resp, 0, VSG_HDR_AREA);
	return vsg_cmd_submit(c, &seg, 1, 0);
}

/* Posts @count event buffers of @size bytes (16 is the right size). */
int vsg_event_post(struct vsg_dev *d, unsigned int count, size_t size)
{
	struct vsg_vq *vq = &d->vqs[VSG_VQ_EVT];
	struct vsg_cmd *c;
	int ret;

	if (!size || size > VSG_HDR_AREA)
		return -EINVAL;
	d->evt_size = size;
	while (count--) {
		c = vsg_cmd_get(vq);
		if (!c)
			return -ENOSPC;
		ret = vsg_event_give(c, size);
		if (ret)
			return ret;
	}
	return 0;
}

static struct vsg_cmd *vsg_event_oldest(struct vsg_vq *vq)
{
	struct vsg_cmd *best = NULL;
	unsigned int i;

	pthread_mutex_lock(&vq->lock);
	for (i = 0; i < vq->pool; i++) {
		struct vsg_cmd *c = &vq->cmds[i];

		if (c->state == VSG_CMD_DONE &&
		    (!best || c->submit_seq < best->submit_seq))
			best = c;
	}
	if (best)
		best->state = VSG_CMD_IDLE;
	pthread_mutex_unlock(&vq->lock);
	return best;
}

/*
 * Returns the oldest event the device wrote, then gives its buffer back.
 * 0 on success, -ETIMEDOUT if none arrived in @timeout_ms, -EPROTO if one
 * arrived but was never signalled.
 */
int vsg_event_next(struct vsg_dev *d, struct virtio_scsi_event *ev,
		   __u32 *len, int timeout_ms)
{
	struct vsg_vq *vq = &d->vqs[VSG_VQ_EVT];
	__u64 deadline = vsg_now_ms() + timeout_ms;
	struct vsg_cmd *c;

	while (!(c = vsg_event_oldest(vq))) {
		if (!vsg_vq_await(vq, deadline))
			continue;
		/* an event written but never signalled is a device bug */
		if (vsg_vq_last_look(vq))
			return -EPROTO;
		return -ETIMEDOUT;
	}
	memcpy(ev, c->resp, sizeof(*ev));
	if (len)
		*len = c->used_len;
	return vsg_event_give(c, d->evt_size);
}

/* CRC16 T10-DIF (polynomial 0x8bb7), bitwise. */
__u16 vsg_crc_t10dif(const void *buf, size_t len)
{
	const __u8 *p = buf;
	__u16 crc = 0;
	int bit;

	while (len--) {
		crc ^= (__u16)(*p++) << 8;
		for (bit = 0; bit < 8; bit++)
			crc = crc & 0x8000 ? (crc << 1) ^ 0x8bb7 : crc << 1;
	}
	return crc;
}
