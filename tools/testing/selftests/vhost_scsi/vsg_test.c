// SPDX-License-Identifier: GPL-2.0
/*
 * Shared pieces of the vhost_scsi selftests.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vsg_test.h"

int vsg_env_setup(struct vsg_env *e, enum vsg_bs_kind kind,
		  unsigned int nr_luns, const struct vsg_opts *opts)
{
	int ret;

	memset(e, 0, sizeof(*e));
	if (access("/dev/vhost-scsi", R_OK | W_OK)) {
		snprintf(e->why, sizeof(e->why),
			 "no /dev/vhost-scsi: load vhost_scsi first");
		return 4;
	}
	if (vsg_cfs_available()) {
		snprintf(e->why, sizeof(e->why),
			 "no %s/core: mount configfs, load target_core_mod",
			 VSG_CFS_ROOT);
		return 4;
	}
	ret = vsg_target_setup(&e->t, kind, nr_luns, VSG_LUN_BYTES);
	if (ret) {
		snprintf(e->why, sizeof(e->why), "target setup: %s",
			 strerror(-ret));
		return 1;
	}
	ret = vsg_open(opts, &e->d);
	if (ret) {
		snprintf(e->why, sizeof(e->why), "vsg_open: %s",
			 strerror(-ret));
		return 1;
	}
	e->q = vsg_io_vq(e->d, 0);
	ret = vsg_set_endpoint(e->d, e->t.wwpn);
	if (ret) {
		snprintf(e->why, sizeof(e->why), "SET_ENDPOINT: %s",
			 strerror(-ret));
		return 1;
	}
	return 0;
}

void vsg_env_teardown(struct vsg_env *e)
{
	vsg_close(e->d);
	e->d = NULL;
	vsg_target_teardown(&e->t);
}

static __u64 vsg_mix(__u64 x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

void vsg_fill(void *buf, size_t len, __u64 seed)
{
	__u8 *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = vsg_mix(seed + i / 8) >> (8 * (i % 8));
}

/* Returns the offset of the first wrong byte, or -1. */
long vsg_check(const void *buf, size_t len, __u64 seed)
{
	const __u8 *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != (__u8)(vsg_mix(seed + i / 8) >> (8 * (i % 8))))
			return i;
	return -1;
}

/*
 * The sense byte at @desc in descriptor format, or at @fixed in fixed
 * format; -1 when the sense is shorter than either needs.
 */
static int vsg_sense_byte(const struct vsg_scsi_res *res, unsigned int desc,
			  unsigned int fixed)
{
	unsigned int at;

	if (res->sense_len < 3)
		return -1;
	at = (res->sense[0] & 0x7f) >= 0x72 ? desc : fixed;
	return res->sense_len > at ? res->sense[at] : -1;
}

/* Additional sense code, or -1. */
int vsg_sense_asc(const struct vsg_scsi_res *res)
{
	return vsg_sense_byte(res, 2, 12);
}

/* Additional sense code qualifier, or -1. */
int vsg_sense_ascq(const struct vsg_scsi_res *res)
{
	return vsg_sense_byte(res, 3, 13);
}

/* Sense key, or -1. */
int vsg_sense_key(const struct vsg_scsi_res *res)
{
	int b = vsg_sense_byte(res, 1, 2);

	return b < 0 ? b : b & 0xf;
}

/* Keep what the first unexpected answer was, for the test's log. */
static void vsg_worker_odd(struct vsg_worker *w, const struct vsg_scsi_res *r)
{
	if (w->odd[0])
		return;
	snprintf(w->odd, sizeof(w->odd),
		 "first: response %u status 0x%02x key %d asc 0x%02x ascq 0x%02x",
		 r->response, r->status, vsg_sense_key(r),
		 vsg_sense_asc(r) & 0xff, vsg_sense_ascq(r) & 0xff);
}

/*
 * BUSY without sense is what LIO answers a command that found a unit
 * attention pending when a concurrent command of the same nexus and LUN
 * took that unit attention first (translate_sense_reason()).  A guest
 * retries it; a test with several workers on a LUN that gets unit
 * attentions may see it, but never more often than the unit attentions.
 */
static void vsg_worker_count(struct vsg_worker *w, struct vsg_cmd *c,
			     struct vsg_scsi_res *r)
{
	if (c->completions != 1)
		w->multi_complete++;
	if (r->response == VIRTIO_SCSI_S_OK && r->status == SAM_STAT_GOOD) {
		w->good++;
		return;
	}
	if (r->response == VIRTIO_SCSI_S_OK && vsg_sense_key(r) == 6) {
		w->unit_attention++;
		return;
	}
	if (r->response == VIRTIO_SCSI_S_OK && r->status == SAM_STAT_BUSY &&
	    !r->sense_len) {
		w->busy++;
		return;
	}
	vsg_worker_odd(w, r);
	if (r->response == VIRTIO_SCSI_S_OK)
		w->check_cond++;
	else if (r->response == VIRTIO_SCSI_S_BAD_TARGET)
		w->bad_target++;
	else if (r->response == VIRTIO_SCSI_S_INCORRECT_LUN)
		w->incorrect_lun++;
	else
		w->other_resp++;
}

/* One command; returns 1 for GOOD, 0 for another answer, <0 trouble. */
static int vsg_worker_cmd(struct vsg_worker *w, bool write, void *buf)
{
	size_t len = (size_t)w->blocks * VSG_BLOCK;
	__u8 cdb[16] = { write ? 0x8a : 0x88 };
	struct iovec iov = { buf, len };
	struct vsg_scsi_res r;
	struct vsg_cmd *c;
	int i, ret;

	for (i = 0; i < 8; i++)
		cdb[2 + i] = w->lba >> (56 - 8 * i);
	cdb[13] = w->blocks;
	cdb[12] = w->blocks >> 8;
	c = vsg_cmd_get(w->vq);
	if (!c) {
		w->errors++;
		return -EBUSY;
	}
	w->ops++;
	vsg_scsi_prep(c, w->target, w->lun, cdb, sizeof(cdb));
	ret = vsg_scsi_submit(c, write, &iov, 1, w->flags);
	if (!ret)
		ret = vsg_cmd_wait(c, VSG_CMD_TIMEOUT_MS);
	if (ret == -ETIMEDOUT) {
		w->timeouts++;
		return ret;
	}
	if (ret) {
		w->errors++;
		vsg_cmd_put(c);
		return ret;
	}
	vsg_scsi_result(c, &r);
	vsg_worker_count(w, c, &r);
	vsg_cmd_put(c);
	return r.response == VIRTIO_SCSI_S_OK && r.status == SAM_STAT_GOOD;
}

void *vsg_worker_fn(void *arg)
{
	struct vsg_worker *w = arg;
	size_t len = (size_t)w->blocks * VSG_BLOCK;
	__u8 *wbuf = vsg_alloc(w->vq->dev, len, 4096);
	__u8 *rbuf = vsg_alloc(w->vq->dev, len, 4096);
	__u64 seed = w->lba << 20;
	unsigned int n;
	long bad;

	if (!wbuf || !rbuf) {
		w->errors++;
		return NULL;
	}
	for (n = 0; n < w->max_ops && vsg_now_ms() < w->deadline_ms; n++) {
		if (w->stop && __atomic_load_n(w->stop, __ATOMIC_RELAXED))
			break;
		if (w->write_verify) {
			vsg_fill(wbuf, len, ++seed);
			if (vsg_worker_cmd(w, true, wbuf) != 1)
				continue;
		}
		memset(rbuf, 0, len);
		if (vsg_worker_cmd(w, false, rbuf) != 1 || !w->write_verify)
			continue;
		bad = vsg_check(rbuf, len, seed);
		if (bad >= 0)
			w->mismatches++;
	}
	return NULL;
}

int vsg_worker_start(struct vsg_worker *w)
{
	return -pthread_create(&w->thread, NULL, vsg_worker_fn, w);
}

void vsg_worker_join(struct vsg_worker *w)
{
	pthread_join(w->thread, NULL);
}
