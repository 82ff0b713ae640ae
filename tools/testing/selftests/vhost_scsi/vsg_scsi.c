// SPDX-License-Identifier: GPL-2.0
/*
 * vsg - virtio-scsi requests on top of the queues: SCSI commands, task
 * management and asynchronous notification on the control queue, and
 * event buffers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/virtio_ring.h>

#include "vsg.h"

/* Where the pieces of a VSG_F_SPLIT_RESP response live in c->resp. */
#define VSG_SPLIT_A_OFF		0	/* sense_len, 4 bytes */
#define VSG_SPLIT_B_OFF		128	/* resid .. response, 8 bytes */
#define VSG_SPLIT_C_OFF		144	/* sense, 96 bytes */
#define VSG_SPLIT_HDR_OFF	128	/* second half of a split header */

void vsg_lun(__u8 lun[8], unsigned int target, unsigned int lun_id)
{
	memset(lun, 0, 8);
	lun[0] = 1;
	lun[1] = target;
	lun[2] = 0x40 | ((lun_id >> 8) & 0x3f);
	lun[3] = lun_id & 0xff;
}

size_t vsg_req_size(struct vsg_dev *d)
{
	if (vsg_has_feature(d, VIRTIO_SCSI_F_T10_PI))
		return sizeof(struct virtio_scsi_cmd_req_pi);
	return sizeof(struct virtio_scsi_cmd_req);
}

/* Fills c->req for @cdb; the layout follows the negotiated T10_PI bit. */
void vsg_scsi_prep(struct vsg_cmd *c, unsigned int target,
		   unsigned int lun, const __u8 *cdb, size_t cdb_len)
{
	struct vsg_dev *d = c->vq->dev;

	if (cdb_len > VIRTIO_SCSI_CDB_SIZE)
		cdb_len = VIRTIO_SCSI_CDB_SIZE;
	memset(c->req, 0, VSG_HDR_AREA);
	if (vsg_has_feature(d, VIRTIO_SCSI_F_T10_PI)) {
		struct virtio_scsi_cmd_req_pi *r = c->req;

		vsg_lun(r->lun, target, lun);
		r->tag = c->tag;
		memcpy(r->cdb, cdb, cdb_len);
	} else {
		struct virtio_scsi_cmd_req *r = c->req;

		vsg_lun(r->lun, target, lun);
		r->tag = c->tag;
		memcpy(r->cdb, cdb, cdb_len);
	}
}

/* Sets the PI byte counts; the data iovecs then start with the PI bytes. */
void vsg_scsi_prep_pi(struct vsg_cmd *c, __u32 pi_out, __u32 pi_in)
{
	struct virtio_scsi_cmd_req_pi *r = c->req;

	r->pi_bytesout = pi_out;
	r->pi_bytesin = pi_in;
}

static void vsg_seg_set(struct vsg_seg *s, uintptr_t addr, __u32 len,
			__u16 flags)
{
	s->addr = addr;
	s->len = len;
	s->flags = flags;
	s->next = 0;
}

static unsigned int vsg_hdr_segs(struct vsg_cmd *c, struct vsg_seg *s,
				 unsigned int flags)
{
	size_t len = vsg_req_size(c->vq->dev);
	char *req = c->req;

	if (!(flags & VSG_F_SPLIT_HDR)) {
		vsg_seg_set(s, (uintptr_t)req, len, 0);
		return 1;
	}
	memcpy(req + VSG_SPLIT_HDR_OFF, req + 8, len - 8);
	vsg_seg_set(&s[0], (uintptr_t)req, 8, 0);
	vsg_seg_set(&s[1], (uintptr_t)req + VSG_SPLIT_HDR_OFF, len - 8, 0);
	return 2;
}

static unsigned int vsg_resp_segs(struct vsg_cmd *c, struct vsg_seg *s,
				  unsigned int flags)
{
	uintptr_t r = (uintptr_t)c->resp;
	__u16 w = VRING_DESC_F_WRITE;

	memset(c->resp, 0xa5, VSG_HDR_AREA);
	if (!(flags & VSG_F_SPLIT_RESP)) {
		vsg_seg_set(s, r, sizeof(struct virtio_scsi_cmd_resp), w);
		return 1;
	}
	vsg_seg_set(&s[0], r + VSG_SPLIT_A_OFF, 4, w);
	vsg_seg_set(&s[1], r + VSG_SPLIT_B_OFF, 8, w);
	vsg_seg_set(&s[2], r + VSG_SPLIT_C_OFF, VIRTIO_SCSI_SENSE_SIZE, w);
	return 3;
}

static void vsg_iov_segs(struct vsg_seg *s, const struct iovec *iov,
			 int niov, bool dev_writes)
{
	int i;

	for (i = 0; i < niov; i++) {
		s[i].addr = (uintptr_t)iov[i].iov_base;
		s[i].len = iov[i].iov_len;
		s[i].flags = dev_writes ? VRING_DESC_F_WRITE : 0;
		s[i].next = 0;
	}
}

/*
 * Publishes a prepared command: header, data-out, response, data-in.
 * @write says which way the @iov data goes; no iovecs means no data.
 */
int vsg_scsi_submit(struct vsg_cmd *c, bool write, const struct iovec *iov,
		    int niov, unsigned int flags)
{
	struct vsg_seg *segs;
	unsigned int n;
	int ret;

	if (niov < 0)
		return -EINVAL;
	segs = calloc(niov + 5, sizeof(*segs));
	if (!segs)
		return -ENOMEM;
	n = vsg_hdr_segs(c, segs, flags);
	if (write) {
		vsg_iov_segs(segs + n, iov, niov, false);
		n += niov;
	}
	n += vsg_resp_segs(c, segs + n, flags);
	if (!write) {
		vsg_iov_segs(segs + n, iov, niov, true);
		n += niov;
	}
	ret = vsg_cmd_submit(c, segs, n, flags & ~VSG_F_RAW);
	free(segs);
	return ret;
}

static __u32 vsg_get32(const void *p)
{
	__u32 v;

	memcpy(&v, p, sizeof(v));
	return v;
}

void vsg_scsi_result(struct vsg_cmd *c, struct vsg_scsi_res *res)
{
	const __u8 *r = c->resp;

	memset(res, 0, sizeof(*res));
	res->used_len = c->used_len;
	if (c->flags & VSG_F_SPLIT_RESP) {
		res->sense_len = vsg_get32(r + VSG_SPLIT_A_OFF);
		res->resid = vsg_get32(r + VSG_SPLIT_B_OFF);
		res->status = r[VSG_SPLIT_B_OFF + 6];
		res->response = r[VSG_SPLIT_B_OFF + 7];
		memcpy(res->sense, r + VSG_SPLIT_C_OFF, sizeof(res->sense));
	} else {
		const struct virtio_scsi_cmd_resp *p = c->resp;

		res->sense_len = p->sense_len;
		res->resid = p->resid;
		res->status = p->status;
		res->response = p->response;
		memcpy(res->sense, p->sense, sizeof(res->sense));
	}
}

/* Gets a free command, waiting up to @timeout_ms for one to come back. */
static struct vsg_cmd *vsg_cmd_get_wait(struct vsg_vq *vq, int timeout_ms)
{
	__u64 deadline = vsg_now_ms() + timeout_ms;
	struct vsg_cmd *c;

	while (!(c = vsg_cmd_get(vq)))
		if (vsg_vq_await(vq, deadline))
			return NULL;
	return c;
}

/*
 * Synchronous SCSI command.  Returns 0 with @res filled, or -errno; on
 * -ETIMEDOUT the command stays owned by the device and is not reused.
 */
int vsg_scsi(struct vsg_vq *vq, unsigned int target, unsigned int lun,
	     const __u8 *cdb, size_t cdb_len, bool write,
	     const struct iovec *iov, int niov, struct vsg_scsi_res *res,
	     int timeout_ms)
{
	struct vsg_cmd *c = vsg_cmd_get_wait(vq, timeout_ms);
	int ret;

	if (!c)
		return -EBUSY;
	vsg_scsi_prep(c, target, lun, cdb, cdb_len);
	ret = vsg_scsi_submit(c, write, iov, niov, 0);
	if (!ret)
		ret = vsg_cmd_wait(c, timeout_ms);
	if (ret == -ETIMEDOUT)
		return ret;
	if (!ret)
		vsg_scsi_result(c, res);
	vsg_cmd_put(c);
	return ret;
}
