// SPDX-License-Identifier: GPL-2.0+
/*
 * (C) Copyright 2010-2013 Datera, Inc.
 * (C) Copyright 2010-2012 IBM Corp.
 *
 * Authors: Nicholas A. Bellinger <nab@daterainc.com>
 *          Stefan Hajnoczi <stefanha@linux.vnet.ibm.com>
 *
 * vhost_scsi control queue: task management functions and asynchronous
 * notification query/subscribe.
 *
 * Every TMF gets its own vhs_tmf (no preallocated pool to run dry or to
 * free twice), and a device runs one TMF at a time: the handler takes no
 * control request while one is being answered.  That bounds what a guest
 * can make TMFs cost: one small vhs_tmf, at most one LIO TMR and one scan
 * of the in-flight lists per device, whatever the number of queues and
 * commands.  A TMF is answered only after the commands it covers (see
 * vhs_tmf_run()).  QUERY TASK (SET) are answered from the in-flight lists.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <target/target_core_fabric.h>

#include "scsi.h"

union vhs_ctl_req {
	__virtio32 type;
	struct virtio_scsi_ctrl_tmf_req tmf;
	struct virtio_scsi_ctrl_an_req an;
};

/* Which in-flight commands a TMF is about. */
struct vhs_scope {
	u8 tgt;
	bool any_lun;
	u16 lun_id;
	bool match_tag;
	u64 tag;
};

static bool vhs_in_scope(const struct vhs_cmd *cmd, const struct vhs_scope *sc)
{
	return cmd->tgt == sc->tgt &&
	       (sc->any_lun || cmd->lun_id == sc->lun_id) &&
	       (!sc->match_tag || cmd->tag == sc->tag);
}

/*
 * Count the in-flight commands in @sc over all request queues; with @tmf,
 * also make the TMF wait for each of their answers.  Called from the
 * control handler: control vq mutex, then each request vq's.  A command
 * LIO already released but not yet answered is still in flight here.
 */
static unsigned int vhs_scan_inflight(struct vhs_dev *vs,
				      const struct vhs_scope *sc,
				      struct vhs_tmf *tmf)
{
	struct vhs_vq *svq;
	struct vhs_cmd *cmd;
	unsigned int n = 0;
	int i;

	lockdep_assert_held(&vs->vqs[VHS_VQ_CTL].vq.mutex);

	for (i = VHS_VQ_IO; i < vs->nvqs; i++) {
		svq = &vs->vqs[i];
		mutex_lock_nested(&svq->vq.mutex, VHS_IO_VQ_NESTING);
		list_for_each_entry(cmd, &svq->inflight, inflight_node) {
			if (!vhs_in_scope(cmd, sc))
				continue;
			if (tmf) {
				/* One TMF at a time: no other waits for it. */
				WARN_ON_ONCE(cmd->tmf);
				cmd->tmf = tmf;
				atomic_inc(&tmf->pending);
			}
			n++;
		}
		mutex_unlock(&svq->vq.mutex);
	}
	return n;
}

/* The answer of a TMF whose LIO TMR (if any) and commands are done. */
static u8 vhs_tmf_response(struct vhs_tmf *tmf)
{
	switch (tmf->subtype) {
	case VIRTIO_SCSI_T_TMF_ABORT_TASK:
	case VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET:
		break;
	default:	/* waited for its scope, no LIO TMR */
		return VHS_S_FUNCTION_COMPLETE;
	}
	if (tmf->tmr_nomem)	/* no TMR: the guest may retry */
		return VIRTIO_SCSI_S_BUSY;
	switch (tmf->lio_resp) {
	case TMR_FUNCTION_COMPLETE:
	case TMR_TASK_DOES_NOT_EXIST:
		return VHS_S_FUNCTION_COMPLETE;
	case TMR_LUN_DOES_NOT_EXIST:
		return VIRTIO_SCSI_S_INCORRECT_LUN;
	case TMR_FUNCTION_REJECTED:
	case TMR_TASK_MGMT_FUNCTION_NOT_SUPPORTED:
		return VIRTIO_SCSI_S_FUNCTION_REJECTED;
	default:
		return VIRTIO_SCSI_S_FAILURE;
	}
}

static void vhs_tmf_free(struct vhs_tmf *tmf)
{
	if (tmf->resp_iov != &tmf->resp_iov_inline)
		kfree(tmf->resp_iov);
	kfree(tmf->log);
	kfree(tmf);
}

/* Answered, or nobody is left to answer: let go of LUN and endpoint. */
static void vhs_tmf_release(struct vhs_tmf *tmf)
{
	if (tmf->lun)
		vhs_put_lun(tmf->lun);
	percpu_ref_put(&tmf->ep->ref);
	vhs_tmf_free(tmf);
}

/*
 * Runs in the worker once the TMF's LIO TMR finished and every command it
 * covers is answered; then the control queue takes the next request.
 */
static void vhs_tmf_work(struct vhost_work *work)
{
	struct vhs_tmf *tmf = container_of(work, struct vhs_tmf, work);
	struct vhs_dev *vs = tmf->vs;
	struct vhost_virtqueue *vq = &vs->vqs[VHS_VQ_CTL].vq;
	struct virtio_scsi_ctrl_tmf_resp rsp = {
		.response = vhs_tmf_response(tmf),
	};

	mutex_lock(&vq->mutex);
	if (!vhs_write_iov(tmf->resp_iov, tmf->resp_nr, &rsp, sizeof(rsp)))
		vq_err(vq, "vhost_scsi: faulted on TMF response\n");
	if (unlikely(tmf->log))
		vhost_log_write(vq, tmf->log, tmf->log_nr, tmf->in_len, NULL, 0);
	vhost_add_used_and_signal(&vs->dev, vq, tmf->head, sizeof(rsp));
	vs->tmf_busy = false;
	vhost_poll_queue(&vq->poll);
	mutex_unlock(&vq->mutex);
	vhs_tmf_release(tmf);
}

/*
 * Drop one thing the TMF waits for: its LIO TMR (LIO's release_cmd, any
 * context), a command's answer (the done work), or the submitter's own
 * count.  The RCU read section: see vhs_release_cmd().  Without a worker
 * (its owner was killed) nobody reads the answer: release it unanswered.
 */
void vhs_tmf_put(struct vhs_tmf *tmf)
{
	struct vhost_virtqueue *vq = &tmf->vs->vqs[VHS_VQ_CTL].vq;

	rcu_read_lock();
	if (atomic_dec_and_test(&tmf->pending) &&
	    !vhs_work_queue(vq, &tmf->work))
		vhs_tmf_release(tmf);
	rcu_read_unlock();
}

/* LIO's release_cmd for a TMR. */
void vhs_release_tmr(struct vhs_tmf *tmf)
{
	vhs_tmf_put(tmf);
}

static void vhs_tmr_submit(struct vhs_tmf *tmf, struct se_session *sess,
			   const struct vhs_scope *sc, u8 function)
{
	int ret;

	tmf->lio_resp = TMR_FUNCTION_REJECTED;
	atomic_inc(&tmf->pending);
	ret = target_submit_tmr(&tmf->se_cmd, sess, NULL, sc->lun_id, NULL,
				function, VHS_GFP, sc->tag, TARGET_SCF_ACK_KREF);
	if (ret < 0) {
		/* Out of memory is pressure: BUSY, see vhs_tmf_response() */
		tmf->tmr_nomem = ret == -ENOMEM;
		vhs_tmf_put(tmf);
	}
}

static struct vhs_tmf *vhs_tmf_alloc(struct vhost_virtqueue *vq,
				     struct vhs_desc *d)
{
	struct vhs_tmf *tmf;

	tmf = kzalloc(sizeof(*tmf), VHS_GFP);
	if (!tmf)
		return NULL;
	if (vhs_save_iov(vq, d->out, d->in,
			 sizeof(struct virtio_scsi_ctrl_tmf_resp),
			 &tmf->resp_iov_inline, &tmf->resp_iov, &tmf->resp_nr) ||
	    vhs_save_log(vq, d->log_nr, &tmf->log, &tmf->log_nr)) {
		vhs_tmf_free(tmf);
		return NULL;
	}
	tmf->head = d->head;
	tmf->in_len = d->in_size;
	atomic_set(&tmf->pending, 1);
	vhost_work_init(&tmf->work, vhs_tmf_work);
	return tmf;
}

/* Run a TMF; VHS_CTL_ASYNC or a response code. */
#define VHS_CTL_ASYNC	(-1)

/*
 * ABORT TASK and LOGICAL UNIT RESET go to LIO.  ABORT TASK SET, CLEAR TASK
 * SET and I_T NEXUS RESET do not: LIO implements none of them, and every
 * command of ours is with LIO from submission on (queued or with the
 * backend), where LIO's own ABORT TASK would only wait for it too (logging
 * two lines per task).  So they complete once every command in their scope
 * is answered.  Either way the TMF waits for the answers of the commands
 * in its scope.
 */
static int vhs_tmf_run(struct vhs_dev *vs, struct vhs_endpoint *ep,
		       struct vhs_tpg *tpg, struct se_lun *lun,
		       struct vhs_desc *d, u32 subtype,
		       const struct vhs_scope *sc)
{
	struct vhost_virtqueue *vq = &vs->vqs[VHS_VQ_CTL].vq;
	struct vhs_tmf *tmf;

	lockdep_assert_held(&vq->mutex);
	if (!percpu_ref_tryget_live(&ep->ref))
		return VIRTIO_SCSI_S_BAD_TARGET;	/* see vhs_io_start() */
	tmf = vhs_tmf_alloc(vq, d);
	if (!tmf) {
		percpu_ref_put(&ep->ref);
		return VIRTIO_SCSI_S_BUSY;	/* the guest may retry */
	}
	tmf->vs = vs;
	tmf->ep = ep;
	tmf->lun = lun;
	tmf->subtype = subtype;
	vs->tmf_busy = true;

	vhs_scan_inflight(vs, sc, tmf);
	if (subtype == VIRTIO_SCSI_T_TMF_ABORT_TASK)
		vhs_tmr_submit(tmf, tpg->se_sess, sc, TMR_ABORT_TASK);
	else if (subtype == VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET)
		vhs_tmr_submit(tmf, tpg->se_sess, sc, TMR_LUN_RESET);
	vhs_tmf_put(tmf);
	return VHS_CTL_ASYNC;
}

/* Dispatch one TMF.  Returns VHS_CTL_ASYNC or a response code. */
static int vhs_tmf_start(struct vhs_dev *vs, struct vhs_endpoint *ep,
			 struct vhs_tpg *tpg, struct vhs_desc *d,
			 const struct virtio_scsi_ctrl_tmf_req *req)
{
	struct vhost_virtqueue *vq = &vs->vqs[VHS_VQ_CTL].vq;
	u32 subtype = vhost32_to_cpu(vq, req->subtype);
	struct vhs_scope sc = {
		.tgt = req->lun[1],
		.lun_id = vhs_lun_id(req->lun),
		.tag = vhost64_to_cpu(vq, req->tag),
	};
	struct se_lun *lun = NULL;
	int ret;

	switch (subtype) {
	case VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET:
		sc.any_lun = true;
		return vhs_tmf_run(vs, ep, tpg, NULL, d, subtype, &sc);
	case VIRTIO_SCSI_T_TMF_ABORT_TASK:
	case VIRTIO_SCSI_T_TMF_QUERY_TASK:
		sc.match_tag = true;
		fallthrough;
	case VIRTIO_SCSI_T_TMF_ABORT_TASK_SET:
	case VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET:
	case VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET:
	case VIRTIO_SCSI_T_TMF_QUERY_TASK_SET:
		break;
	default:	/* CLEAR ACA: we never establish an ACA */
		return VIRTIO_SCSI_S_FUNCTION_REJECTED;
	}

	if (sc.lun_id < VHS_MAX_LUN)
		lun = vhs_get_lun(tpg, sc.lun_id);
	if (!lun)
		return VIRTIO_SCSI_S_INCORRECT_LUN;

	/*
	 * QUERY TASK (SET) is answered from the in-flight lists, and so is an
	 * ABORT TASK of a task that is not in flight (it completes at once;
	 * LIO would log a line for every such request a guest sends).
	 */
	if (subtype == VIRTIO_SCSI_T_TMF_QUERY_TASK ||
	    subtype == VIRTIO_SCSI_T_TMF_QUERY_TASK_SET)
		ret = vhs_scan_inflight(vs, &sc, NULL) ?
		      VIRTIO_SCSI_S_FUNCTION_SUCCEEDED :
		      VHS_S_FUNCTION_COMPLETE;
	else if (subtype == VIRTIO_SCSI_T_TMF_ABORT_TASK &&
		 !vhs_scan_inflight(vs, &sc, NULL))
		ret = VHS_S_FUNCTION_COMPLETE;
	else
		ret = vhs_tmf_run(vs, ep, tpg, lun, d, subtype, &sc);
	if (ret != VHS_CTL_ASYNC)
		vhs_put_lun(lun);
	return ret;
}

/* Immediate answer: TMF and AN responses differ in layout. */
static void vhs_ctl_reply(struct vhost_virtqueue *vq, struct vhs_desc *d,
			  u32 type, u8 response)
{
	struct virtio_scsi_ctrl_tmf_resp tmf = { .response = response };
	struct virtio_scsi_ctrl_an_resp an = { .response = response };

	if (type == VIRTIO_SCSI_T_TMF)
		vhs_reply_desc(vq, d, &tmf, sizeof(tmf));
	else
		vhs_reply_desc(vq, d, &an, sizeof(an));
}

/* Request and response sizes of a control request type, 0 if unknown. */
static size_t vhs_ctl_sizes(u32 type, size_t *rsp_size)
{
	switch (type) {
	case VIRTIO_SCSI_T_TMF:
		*rsp_size = sizeof(struct virtio_scsi_ctrl_tmf_resp);
		return sizeof(struct virtio_scsi_ctrl_tmf_req);
	case VIRTIO_SCSI_T_AN_QUERY:
	case VIRTIO_SCSI_T_AN_SUBSCRIBE:
		*rsp_size = sizeof(struct virtio_scsi_ctrl_an_resp);
		return sizeof(struct virtio_scsi_ctrl_an_req);
	default:
		return 0;
	}
}

static int vhs_ctl_dispatch(struct vhs_dev *vs, struct vhs_endpoint *ep,
			    struct vhs_desc *d, union vhs_ctl_req *req,
			    u32 type, size_t req_size)
{
	size_t typ = sizeof(req->type);
	struct vhs_tpg *tpg;
	u8 *lun;

	if (d->out_size < req_size ||
	    !copy_from_iter_full((u8 *)req + typ, req_size - typ, &d->out_iter))
		return VIRTIO_SCSI_S_BAD_TARGET;
	lun = type == VIRTIO_SCSI_T_TMF ? req->tmf.lun : req->an.lun;
	if (lun[0] != 1)
		return VIRTIO_SCSI_S_BAD_TARGET;
	tpg = vhs_find_tpg(ep, lun[1]);
	if (!tpg)
		return VIRTIO_SCSI_S_BAD_TARGET;
	if (type == VIRTIO_SCSI_T_TMF)
		return vhs_tmf_start(vs, ep, tpg, d, &req->tmf);
	/* No asynchronous notification is supported: event_actual = 0. */
	return VIRTIO_SCSI_S_OK;
}

/* One control request.  Returns true to go on with the next one. */
static bool vhs_ctl_one(struct vhs_vq *svq, struct vhs_endpoint *ep,
			bool *answered)
{
	struct vhs_dev *vs = svq->vs;
	struct vhost_virtqueue *vq = &svq->vq;
	union vhs_ctl_req req;
	size_t req_size, rsp_size = 0;
	struct vhs_desc d;
	u32 type = ~0U;
	int ret;

	/* vhs_tmf_work() kicks us again once the running TMF is answered. */
	if (vs->tmf_busy)
		return false;
	ret = vhs_pop_desc(vs, vq, &d);
	if (ret)
		return ret == -EAGAIN;
	*answered = true;

	if (copy_from_iter_full(&req.type, sizeof(req.type), &d.out_iter))
		type = vhost32_to_cpu(vq, req.type);
	req_size = vhs_ctl_sizes(type, &rsp_size);
	if (!req_size || d.in_size < rsp_size) {
		/* No response layout to answer with: return the buffer. */
		vq_err(vq, "vhost_scsi: bad control request type %u\n", type);
		vhost_add_used(vq, d.head, 0);
		return true;
	}
	ret = vhs_ctl_dispatch(vs, ep, &d, &req, type, req_size);
	if (ret != VHS_CTL_ASYNC)
		vhs_ctl_reply(vq, &d, type, ret);
	return true;
}

void vhs_handle_ctl_kick(struct vhost_work *work)
{
	vhs_vq_serve(container_of(work, struct vhost_virtqueue, poll.work),
		     vhs_ctl_one);
}
