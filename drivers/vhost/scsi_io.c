// SPDX-License-Identifier: GPL-2.0+
/*
 * (C) Copyright 2010-2013 Datera, Inc.
 * (C) Copyright 2010-2012 IBM Corp.
 *
 * Authors: Nicholas A. Bellinger <nab@daterainc.com>
 *          Stefan Hajnoczi <stefanha@linux.vnet.ibm.com>
 *
 * vhost_scsi request queues.
 *
 * The handler runs in the vhost worker with the vq mutex held (taken by
 * us, as vhost expects) and finds target and LUN under vhs_srcu; it takes
 * no other lock.  LIO releases finished commands onto a lockless per-vq
 * list; one work item per vq writes all their responses, adds them to the
 * used ring in one update and signals the guest once per batch.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/highmem.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <scsi/scsi_common.h>
#include <scsi/scsi_proto.h>
#include <target/target_core_fabric.h>

#include "scsi.h"

/* Buffers the block layer can take as they are (dma alignment 511). */
#define VHS_ALIGN_MASK		511
#define VHS_PIN_BATCH		16

/* A request being parsed; lives on the handler's stack. */
struct vhs_req {
	struct vhs_desc d;
	union {
		struct virtio_scsi_cmd_req cmd;
		struct virtio_scsi_cmd_req_pi pi;
	} hdr;
	u8 *lun;
	u8 *cdb;
	u64 tag;
	enum dma_data_direction dir;
	u32 data_len;
	u32 prot_len;
};

#define VHS_SUBMITTED	(-1)

static void vhs_io_reply_code(struct vhost_virtqueue *vq, struct vhs_req *r,
			      u8 response)
{
	struct virtio_scsi_cmd_resp rsp = { .response = response };

	vhs_reply_desc(vq, &r->d, &rsp, sizeof(rsp));
}

/*
 * Pressure (no memory, bounce budget spent): TASK SET FULL, which a guest
 * retries (Linux requeues it), unlike VIRTIO_SCSI_S_FAILURE, which it
 * turns into an I/O error.
 */
static void vhs_io_reply_full(struct vhost_virtqueue *vq, struct vhs_req *r)
{
	struct virtio_scsi_cmd_resp rsp = {
		.status = SAM_STAT_TASK_SET_FULL,
		.response = VIRTIO_SCSI_S_OK,
	};

	rsp.resid = cpu_to_vhost32(vq, r->data_len);
	vhs_reply_desc(vq, &r->d, &rsp, sizeof(rsp));
}

/* CHECK CONDITION, ILLEGAL REQUEST, LOGICAL UNIT NOT SUPPORTED */
static void vhs_io_reply_no_lun(struct vhost_virtqueue *vq, struct vhs_req *r)
{
	struct virtio_scsi_cmd_resp rsp = {
		.status = SAM_STAT_CHECK_CONDITION,
		.response = VIRTIO_SCSI_S_OK,
	};

	scsi_build_sense_buffer(0, rsp.sense, ILLEGAL_REQUEST, 0x25, 0x00);
	rsp.sense_len = cpu_to_vhost32(vq, 18);
	rsp.resid = cpu_to_vhost32(vq, r->data_len);
	vhs_reply_desc(vq, &r->d, &rsp, sizeof(rsp));
}

/* Direction and lengths from the descriptors; PI split off the data. */
static int vhs_io_lengths(struct vhost_virtqueue *vq, struct vhs_req *r,
			  size_t req_size, u32 pi_out, u32 pi_in)
{
	size_t out = r->d.out_size - req_size;
	size_t in = r->d.in_size - sizeof(struct virtio_scsi_cmd_resp);
	size_t len = out ?: in;

	if (out && in)
		return VIRTIO_SCSI_S_FAILURE;	/* bidirectional */
	r->dir = out ? DMA_TO_DEVICE : in ? DMA_FROM_DEVICE : DMA_NONE;
	if ((pi_out && (r->dir != DMA_TO_DEVICE || pi_in)) ||
	    (pi_in && r->dir != DMA_FROM_DEVICE)) {
		vq_err(vq, "vhost_scsi: PI length against data direction\n");
		return VIRTIO_SCSI_S_FAILURE;
	}
	r->prot_len = pi_out ?: pi_in;
	if (r->prot_len > len)
		return VIRTIO_SCSI_S_FAILURE;
	len -= r->prot_len;
	if (len > (size_t)VHS_MAX_SGS * PAGE_SIZE ||
	    r->prot_len > (size_t)VHS_MAX_SGS * PAGE_SIZE)
		return VIRTIO_SCSI_S_OVERRUN;
	r->data_len = len;
	return 0;
}

/* Read and check the request header.  0 or a virtio response code. */
static int vhs_io_parse(struct vhost_virtqueue *vq, struct vhs_req *r)
{
	bool pi = vhost_has_feature(vq, VIRTIO_SCSI_F_T10_PI);
	size_t req_size = pi ? sizeof(r->hdr.pi) : sizeof(r->hdr.cmd);
	u32 pi_out = 0, pi_in = 0;

	r->data_len = 0;
	if (r->d.out_size < req_size ||
	    !copy_from_iter_full(&r->hdr, req_size, &r->d.out_iter)) {
		vq_err(vq, "vhost_scsi: short request header\n");
		return VIRTIO_SCSI_S_BAD_TARGET;
	}
	if (pi) {
		r->lun = r->hdr.pi.lun;
		r->cdb = r->hdr.pi.cdb;
		r->tag = vhost64_to_cpu(vq, r->hdr.pi.tag);
		pi_out = vhost32_to_cpu(vq, r->hdr.pi.pi_bytesout);
		pi_in = vhost32_to_cpu(vq, r->hdr.pi.pi_bytesin);
	} else {
		r->lun = r->hdr.cmd.lun;
		r->cdb = r->hdr.cmd.cdb;
		r->tag = vhost64_to_cpu(vq, r->hdr.cmd.tag);
	}
	if (r->lun[0] != 1)
		return VIRTIO_SCSI_S_BAD_TARGET;
	if (scsi_command_size(r->cdb) > VHS_MAX_CDB) {
		vq_err(vq, "vhost_scsi: CDB too long\n");
		return VIRTIO_SCSI_S_FAILURE;
	}
	return vhs_io_lengths(vq, r, req_size, pi_out, pi_in);
}

/*
 * Release pinned guest pages, marking the ones the device wrote dirty
 * (a page already dirty needs no page lock: whoever cleans it later
 * writes out what we put there).
 */
static void vhs_put_pages(struct scatterlist *sgl, unsigned int nr,
			  bool dirty)
{
	struct page *page;
	unsigned int i;

	for (i = 0; i < nr; i++) {
		page = sg_page(&sgl[i]);
		if (dirty && !PageDirty(page))
			set_page_dirty_lock(page);
		put_page(page);
	}
}

/* The command's inline scatterlist when @nr entries fit, else a new one. */
static struct scatterlist *vhs_alloc_sgl(struct vhs_cmd *cmd, unsigned int nr,
					 bool use_inline)
{
	struct scatterlist *sgl = cmd->sgl_inline;

	/* Up to VHS_MAX_SGS entries (64 KiB): no high-order allocation. */
	if (!use_inline || nr > cmd->sgl_inline_nr)
		sgl = kvmalloc_array(nr, sizeof(*sgl), VHS_GFP);
	if (sgl)
		sg_init_table(sgl, nr);
	return sgl;
}

/* Pin up to VHS_PIN_BATCH pages of @it into @sgl starting at *@nr. */
static int vhs_pin_batch(struct iov_iter *it, struct scatterlist *sgl,
			 unsigned int *nr, unsigned int max)
{
	struct page *pages[VHS_PIN_BATCH];
	unsigned int i, npages;
	ssize_t bytes;
	size_t off, len;

	bytes = iov_iter_get_pages2(it, pages, LONG_MAX, VHS_PIN_BATCH, &off);
	if (bytes <= 0)
		return bytes ? bytes : -EFAULT;
	npages = DIV_ROUND_UP(off + bytes, PAGE_SIZE);
	for (i = 0; i < npages; i++) {
		if (*nr == max) {
			while (i < npages)
				put_page(pages[i++]);
			return -E2BIG;
		}
		len = min_t(size_t, PAGE_SIZE - off, bytes);
		sg_set_page(&sgl[(*nr)++], pages[i], len, off);
		bytes -= len;
		off = 0;
	}
	return 0;
}

/* Pin guest buffers straight into a scatterlist (zero copy). */
static int vhs_pin_sgl(struct vhs_cmd *cmd, struct iov_iter *it,
		       struct scatterlist **sglp, unsigned int *nrp,
		       bool use_inline)
{
	int max = iov_iter_npages(it, VHS_MAX_SGS + 1);
	struct scatterlist *sgl;
	unsigned int nr = 0;
	int ret = 0;

	if (max > VHS_MAX_SGS)
		return -E2BIG;
	if (max <= 0)
		return -EINVAL;
	sgl = vhs_alloc_sgl(cmd, max, use_inline);
	if (!sgl)
		return -ENOMEM;
	while (iov_iter_count(it) && !ret)
		ret = vhs_pin_batch(it, sgl, &nr, max);
	if (ret || !nr) {
		vhs_put_pages(sgl, nr, false);
		if (sgl != cmd->sgl_inline)
			kvfree(sgl);
		return ret ?: -EFAULT;
	}
	sg_mark_end(&sgl[nr - 1]);
	*sglp = sgl;
	*nrp = nr;
	return 0;
}

static void vhs_free_bounce(struct vhs_cmd *cmd)
{
	struct vhs_vq *svq = cmd->svq;
	unsigned int i;

	lockdep_assert_held(&svq->vq.mutex);
	for (i = 0; i < cmd->sg_nr; i++)
		__free_page(sg_page(&cmd->sgl[i]));
	svq->bounce_pages -= cmd->bounce_pages;
	cmd->bounce_pages = 0;
	if (cmd->bounce) {
		kfree(cmd->bounce->iov);
		kfree(cmd->bounce);
		cmd->bounce = NULL;
	}
}

/*
 * Charge @nr bounce pages to the vq: within max_bounce_kb, or any one
 * request (at most VHS_MAX_SGS pages) while the vq holds none, so that a
 * budget smaller than the largest request cannot stall a guest for good.
 */
static bool vhs_bounce_charge(struct vhs_vq *svq, unsigned int nr)
{
	unsigned int budget = READ_ONCE(vhs_max_bounce_kb) >> (PAGE_SHIFT - 10);

	lockdep_assert_held(&svq->vq.mutex);
	if (svq->bounce_pages && svq->bounce_pages + nr > budget)
		return false;
	svq->bounce_pages += nr;
	return true;
}

/*
 * Misaligned guest buffers: give LIO our own pages.  Writes copy in now,
 * reads remember the guest iovecs and copy out on completion.  The pages
 * are not zeroed: a write fills them, and a read copies out only what LIO
 * reported as transferred.
 */
static int vhs_bounce_map(struct vhs_cmd *cmd, struct iov_iter *it)
{
	unsigned int i, nr = DIV_ROUND_UP(cmd->data_len, PAGE_SIZE);
	size_t left = cmd->data_len, len;
	struct page *page;

	if (!vhs_bounce_charge(cmd->svq, nr))
		return -EBUSY;
	cmd->bounce_pages = nr;
	cmd->bounced = true;
	cmd->sgl = vhs_alloc_sgl(cmd, nr, true);
	if (!cmd->sgl)
		return -ENOMEM;
	for (i = 0; i < nr; i++, left -= len) {
		len = min_t(size_t, left, PAGE_SIZE);
		page = alloc_page(VHS_GFP_PAGE);
		if (!page)
			return -ENOMEM;
		sg_set_page(&cmd->sgl[cmd->sg_nr++], page, len, 0);
		if (cmd->dir == DMA_TO_DEVICE &&
		    copy_page_from_iter(page, 0, len, it) != len)
			return -EFAULT;
	}
	if (cmd->dir == DMA_TO_DEVICE)
		return 0;
	cmd->bounce = kzalloc(sizeof(*cmd->bounce), VHS_GFP);
	if (!cmd->bounce)
		return -ENOMEM;
	cmd->bounce->iov = dup_iter(&cmd->bounce->iter, it, VHS_GFP);
	return cmd->bounce->iov ? 0 : -ENOMEM;
}

/* Build the PI and data scatterlists from the request's data iterator. */
static int vhs_io_map(struct vhs_cmd *cmd, struct iov_iter *data)
{
	struct iov_iter prot;
	int ret;

	if (cmd->dir == DMA_NONE)
		return 0;
	if (iov_iter_count(data) > cmd->data_len) {
		prot = *data;
		iov_iter_truncate(&prot, iov_iter_count(data) - cmd->data_len);
		iov_iter_advance(data, iov_iter_count(&prot));
		ret = vhs_pin_sgl(cmd, &prot, &cmd->prot_sgl, &cmd->prot_nr,
				  false);
		if (ret)
			return ret;
	}
	if (!cmd->data_len)
		return 0;
	if (iov_iter_alignment(data) & VHS_ALIGN_MASK)
		return vhs_bounce_map(cmd, data);
	return vhs_pin_sgl(cmd, data, &cmd->sgl, &cmd->sg_nr, true);
}

static void vhs_io_unmap(struct vhs_cmd *cmd)
{
	bool dirty = cmd->dir == DMA_FROM_DEVICE;

	if (cmd->bounced)
		vhs_free_bounce(cmd);
	else
		vhs_put_pages(cmd->sgl, cmd->sg_nr, dirty);
	if (cmd->sgl != cmd->sgl_inline)
		kvfree(cmd->sgl);
	vhs_put_pages(cmd->prot_sgl, cmd->prot_nr, dirty);
	kvfree(cmd->prot_sgl);
	if (cmd->resp_iov != &cmd->resp_iov_inline)
		kfree(cmd->resp_iov);
	kfree(cmd->log);
}

/* Give a command back to the pool and drop what it held. */
static void vhs_cmd_put(struct vhs_vq *svq, struct vhs_cmd *cmd)
{
	lockdep_assert_held(&svq->vq.mutex);

	vhs_io_unmap(cmd);
	list_del_init(&cmd->inflight_node);
	if (cmd->lun)
		vhs_put_lun(cmd->lun);
	percpu_ref_put(&cmd->ep->ref);
	cmd->next_free = svq->free;
	svq->free = cmd;
}

/* Takes a command off the free list; the caller holds an ep reference. */
static struct vhs_cmd *vhs_cmd_get(struct vhs_vq *svq, struct vhs_req *r,
				   struct vhs_endpoint *ep, struct se_lun *lun)
{
	struct vhs_cmd *cmd = svq->free;

	lockdep_assert_held(&svq->vq.mutex);

	svq->free = cmd->next_free;
	memset((u8 *)cmd + offsetof(struct vhs_cmd, ep), 0,
	       offsetof(struct vhs_cmd, sgl_inline) -
	       offsetof(struct vhs_cmd, ep));
	INIT_LIST_HEAD(&cmd->inflight_node);
	cmd->ep = ep;
	cmd->lun = lun;
	cmd->tag = r->tag;
	cmd->lun_id = vhs_lun_id(r->lun);
	cmd->tgt = r->lun[1];
	cmd->head = r->d.head;
	cmd->in_len = r->d.in_size;
	cmd->data_len = r->data_len;
	cmd->prot_len = r->prot_len;
	cmd->dir = r->dir;
	cmd->resp_iov = &cmd->resp_iov_inline;
	memcpy(cmd->cdb, r->cdb, VHS_MAX_CDB);
	return cmd;
}

/*
 * Hand a mapped command to LIO.  LIO runs it from its submission
 * workqueue, so the backend's work (bio submission under a plug, for
 * iblock) overlaps our parsing of the next requests instead of
 * serialising with it in the vhost worker: calling target_submit() here
 * cost a quarter of the IOPS on a null_blk LUN in our benchmark.
 * Nothing waits for the submission: the command holds its LUN and
 * endpoint references until LIO releases it, queued or not.
 */
static void vhs_io_submit(struct vhs_cmd *cmd, struct se_session *sess)
{
	struct se_cmd *se_cmd = &cmd->se_cmd;

	memset(se_cmd, 0, sizeof(*se_cmd));
	se_cmd->tag = cmd->tag;
	/*
	 * Every command goes to LIO as SIMPLE, whatever its task attribute:
	 * virtio-scsi lets a device map all of them to SIMPLE, and LIO's
	 * ordering cannot be left to a guest.  LIO counts a SIMPLE or HEAD
	 * OF QUEUE command when it starts and uncounts it only when it
	 * completes, not when a TMF aborted it (target_handle_abort()); an
	 * ORDERED command after such an abort would wait for good, with
	 * every command behind it, on a backstore other initiators share.
	 */
	if (target_init_cmd(se_cmd, sess, cmd->sense, cmd->lun_id,
			    cmd->data_len, TCM_SIMPLE_TAG, cmd->dir,
			    TARGET_SCF_ACK_KREF)) {
		/* The session is going away: answer without LIO. */
		cmd->local_resp = VIRTIO_SCSI_S_TRANSPORT_FAILURE;
		vhs_release_cmd(cmd);
		return;
	}
	if (cmd->sg_nr && !cmd->prot_nr)
		se_cmd->prot_pto = true;
	if (target_submit_prep(se_cmd, cmd->cdb, cmd->sgl, cmd->sg_nr, NULL, 0,
			       cmd->prot_sgl, cmd->prot_nr, GFP_KERNEL))
		return;
	vhs_target_submit(se_cmd);
}

/*
 * Requests LIO answers without a mapped LUN: INQUIRY, REPORT LUNS and
 * REQUEST SENSE to LUN 0 go to its virtual LUN 0.  For any other LUN LIO
 * would only log an error (not rate limited) and answer LOGICAL UNIT NOT
 * SUPPORTED, which we do ourselves.
 */
static bool vhs_lio_answers_missing(u16 lun_id, u8 opcode)
{
	return !lun_id && (opcode == INQUIRY || opcode == REPORT_LUNS ||
			   opcode == REQUEST_SENSE);
}

/*
 * Look up, map and hand one parsed request to LIO.  Returns VHS_SUBMITTED
 * or a virtio response code the caller answers with (0: already answered).
 */
static int vhs_io_start(struct vhs_vq *svq, struct vhs_endpoint *ep,
			struct vhs_req *r)
{
	struct vhost_virtqueue *vq = &svq->vq;
	struct iov_iter data = r->d.out_iter;
	u16 lun_id = vhs_lun_id(r->lun);
	struct se_lun *lun = NULL;
	struct vhs_tpg *tpg;
	struct vhs_cmd *cmd;
	int ret;

	tpg = vhs_find_tpg(ep, r->lun[1]);
	if (!tpg)
		return VIRTIO_SCSI_S_BAD_TARGET;
	if (lun_id < VHS_MAX_LUN)
		lun = vhs_get_lun(tpg, lun_id);
	if (!lun && !vhs_lio_answers_missing(lun_id, r->cdb[0])) {
		vhs_io_reply_no_lun(vq, r);
		return 0;
	}
	if (!percpu_ref_tryget_live(&ep->ref)) {
		/* CLEAR_ENDPOINT is under way: the target is going away. */
		if (lun)
			vhs_put_lun(lun);
		return VIRTIO_SCSI_S_BAD_TARGET;
	}

	cmd = vhs_cmd_get(svq, r, ep, lun);
	ret = vhs_save_iov(vq, r->d.out, r->d.in, sizeof(struct virtio_scsi_cmd_resp),
			   &cmd->resp_iov_inline, &cmd->resp_iov,
			   &cmd->resp_nr);
	if (!ret)
		ret = vhs_save_log(vq, r->d.log_nr, &cmd->log, &cmd->log_nr);
	if (!ret && r->dir == DMA_FROM_DEVICE) {
		iov_iter_init(&data, ITER_DEST, &vq->iov[r->d.out], r->d.in,
			      r->d.in_size);
		iov_iter_advance(&data, sizeof(struct virtio_scsi_cmd_resp));
	}
	if (!ret)
		ret = vhs_io_map(cmd, &data);
	if (ret) {
		vq_err(vq, "vhost_scsi: mapping request failed: %d\n", ret);
		vhs_cmd_put(svq, cmd);
		switch (ret) {
		case -ENOMEM:
		case -EBUSY:
			vhs_io_reply_full(vq, r);
			return 0;
		case -E2BIG:
			return VIRTIO_SCSI_S_OVERRUN;
		default:
			return VIRTIO_SCSI_S_FAILURE;
		}
	}
	list_add_tail(&cmd->inflight_node, &svq->inflight);
	vhs_io_submit(cmd, tpg->se_sess);
	return VHS_SUBMITTED;
}

/* One request.  Returns true to go on with the next one. */
static bool vhs_io_one(struct vhs_vq *svq, struct vhs_endpoint *ep,
		       bool *answered)
{
	struct vhost_virtqueue *vq = &svq->vq;
	struct vhs_req r;
	int ret;

	if (!svq->free) {
		/* The done work kicks us again when a command returns. */
		svq->starved = true;
		return false;
	}
	ret = vhs_pop_desc(svq->vs, vq, &r.d);
	if (ret)
		return ret == -EAGAIN;

	if (r.d.in_size < sizeof(struct virtio_scsi_cmd_resp)) {
		vq_err(vq, "vhost_scsi: response buffer too small\n");
		vhost_add_used(vq, r.d.head, 0);
		*answered = true;
		return true;
	}
	ret = vhs_io_parse(vq, &r);
	if (!ret)
		ret = vhs_io_start(svq, ep, &r);
	if (ret != VHS_SUBMITTED) {
		if (ret > 0)
			vhs_io_reply_code(vq, &r, ret);
		*answered = true;
	}
	return true;
}

void vhs_handle_io_kick(struct vhost_work *work)
{
	vhs_vq_serve(container_of(work, struct vhost_virtqueue, poll.work),
		     vhs_io_one);
}

/* Copy bounced read data to the guest; returns the bytes copied. */
static u32 vhs_bounce_out(struct vhs_cmd *cmd, u32 len)
{
	u32 done = 0, n;
	unsigned int i;

	for (i = 0; i < cmd->sg_nr && done < len; i++) {
		n = min_t(u32, cmd->sgl[i].length, len - done);
		if (copy_page_to_iter(sg_page(&cmd->sgl[i]), 0, n,
				      &cmd->bounce->iter) != n)
			break;
		done += n;
	}
	return done;
}

/*
 * Bytes a finished read wrote to the guest: PI plus data when LIO sent
 * the data (queue_data_in), nothing when it answered with a status only
 * (a CHECK CONDITION before any transfer): then all of it is residual.
 */
static u32 vhs_read_xfer(struct vhs_cmd *cmd, __virtio32 *resid)
{
	struct se_cmd *se_cmd = &cmd->se_cmd;
	struct vhost_virtqueue *vq = &cmd->svq->vq;
	u32 xfer = cmd->data_len;

	if (!cmd->data_sent) {
		*resid = cpu_to_vhost32(vq, cmd->data_len);
		return 0;
	}
	if (se_cmd->se_cmd_flags & SCF_UNDERFLOW_BIT)
		xfer -= min(xfer, se_cmd->residual_count);
	if (cmd->bounce)
		xfer = vhs_bounce_out(cmd, xfer);
	return cmd->prot_len + xfer;
}

/* Write the response of a finished command; returns the used length. */
static u32 vhs_cmd_respond(struct vhost_virtqueue *vq, struct vhs_cmd *cmd)
{
	struct virtio_scsi_cmd_resp rsp = {};
	struct se_cmd *se_cmd = &cmd->se_cmd;
	u32 len = sizeof(rsp), xfer = 0;

	if (cmd->local_resp) {
		rsp.response = cmd->local_resp;
		rsp.resid = cpu_to_vhost32(vq, cmd->data_len);
	} else if (!cmd->status_sent) {
		rsp.response = VIRTIO_SCSI_S_ABORTED;
	} else {
		rsp.status = se_cmd->scsi_status;
		rsp.resid = cpu_to_vhost32(vq, se_cmd->residual_count);
		rsp.sense_len = cpu_to_vhost32(vq, se_cmd->scsi_sense_length);
		memcpy(rsp.sense, cmd->sense,
		       min_t(u32, se_cmd->scsi_sense_length, sizeof(rsp.sense)));
		if (cmd->dir == DMA_FROM_DEVICE)
			xfer = vhs_read_xfer(cmd, &rsp.resid);
	}
	if (!vhs_write_iov(cmd->resp_iov, cmd->resp_nr, &rsp, sizeof(rsp)))
		vq_err(vq, "vhost_scsi: faulted on response\n");
	if (unlikely(cmd->log))
		vhost_log_write(vq, cmd->log, cmd->log_nr, cmd->in_len, NULL, 0);
	return len + xfer;
}

/*
 * Commands off @svq->done, answered or never to be: now a TMF waiting for
 * them may be answered, and they may stop holding LUN and endpoint.
 */
static void vhs_put_done(struct vhs_vq *svq, struct llist_node *list)
{
	struct vhs_cmd *cmd, *next;

	llist_for_each_entry_safe(cmd, next, list, done_node) {
		if (cmd->tmf)
			vhs_tmf_put(cmd->tmf);
		vhs_cmd_put(svq, cmd);
	}
}

void vhs_done_work(struct vhost_work *work)
{
	struct vhs_vq *svq = container_of(work, struct vhs_vq, done_work);
	struct vhost_virtqueue *vq = &svq->vq;
	struct llist_node *list;
	struct vhs_cmd *cmd;
	unsigned int n = 0;

	list = llist_reverse_order(llist_del_all(&svq->done));
	if (!list)
		return;

	mutex_lock(&vq->mutex);
	llist_for_each_entry(cmd, list, done_node) {
		vq->heads[n].id = cpu_to_vhost32(vq, cmd->head);
		vq->heads[n].len = cpu_to_vhost32(vq, vhs_cmd_respond(vq, cmd));
		if (++n == vq->dev->iov_limit) {
			vhost_add_used_n(vq, vq->heads, n);
			n = 0;
		}
	}
	if (n)
		vhost_add_used_n(vq, vq->heads, n);
	vhost_signal(vq->dev, vq);

	vhs_put_done(svq, list);
	if (svq->starved) {
		svq->starved = false;
		vhost_poll_queue(&vq->poll);
	}
	mutex_unlock(&vq->mutex);
}

/*
 * The vq lost its worker with its owner: nobody reads the ring any more.
 * Release the finished commands unanswered, as their answers would have,
 * so that the drain of the release path ends.
 */
void vhs_drop_work(struct work_struct *work)
{
	struct vhs_vq *svq = container_of(work, struct vhs_vq, drop_work);

	mutex_lock(&svq->vq.mutex);
	vhs_put_done(svq, llist_del_all(&svq->done));
	mutex_unlock(&svq->vq.mutex);
}

/*
 * From LIO's release_cmd (any context) or a local failure.  Once the
 * command is on @svq->done the worker may answer it and drop the last
 * endpoint reference before we queue the work: the RCU read section keeps
 * the device alive until then (CLEAR_ENDPOINT waits for it after the
 * drain).
 */
void vhs_release_cmd(struct vhs_cmd *cmd)
{
	struct vhs_vq *svq = cmd->svq;

	rcu_read_lock();
	llist_add(&cmd->done_node, &svq->done);
	if (!vhs_work_queue(&svq->vq, &svq->done_work))
		schedule_work(&svq->drop_work);
	rcu_read_unlock();
}

int vhs_vq_alloc_cmds(struct vhs_vq *svq)
{
	unsigned int i, nr = svq->vq.num;
	unsigned int nsg = clamp(READ_ONCE(vhs_inline_sg_cnt), 1U,
				 (unsigned int)VHS_MAX_SGS);
	struct scatterlist *sgls;
	struct vhs_cmd *cmds;

	/* @cmds lives from SET_ENDPOINT to CLEAR_ENDPOINT */
	lockdep_assert_held(&svq->vs->dev.mutex);
	if (vhs_cmds_per_vq && vhs_cmds_per_vq < nr)
		nr = vhs_cmds_per_vq;
	cmds = kvcalloc(nr, sizeof(*cmds), GFP_KERNEL_ACCOUNT);
	if (!cmds)
		return -ENOMEM;
	sgls = kvcalloc(array_size(nr, nsg), sizeof(*sgls), GFP_KERNEL_ACCOUNT);
	if (!sgls) {
		kvfree(cmds);
		return -ENOMEM;
	}

	mutex_lock(&svq->vq.mutex);
	svq->cmds = cmds;
	svq->sgls = sgls;
	svq->nr_cmds = nr;
	svq->free = NULL;
	for (i = nr; i--; ) {
		cmds[i].svq = svq;
		cmds[i].sgl_inline = &sgls[i * nsg];
		cmds[i].sgl_inline_nr = nsg;
		INIT_LIST_HEAD(&cmds[i].inflight_node);
		cmds[i].next_free = svq->free;
		svq->free = &cmds[i];
	}
	svq->starved = false;
	mutex_unlock(&svq->vq.mutex);
	return 0;
}

/* Only once the endpoint drained: no command is in flight. */
void vhs_vq_free_cmds(struct vhs_vq *svq)
{
	lockdep_assert_held(&svq->vs->dev.mutex);
	mutex_lock(&svq->vq.mutex);
	WARN_ON_ONCE(!list_empty(&svq->inflight));
	kvfree(svq->cmds);
	kvfree(svq->sgls);
	svq->cmds = NULL;
	svq->sgls = NULL;
	svq->free = NULL;
	svq->nr_cmds = 0;
	mutex_unlock(&svq->vq.mutex);
}
