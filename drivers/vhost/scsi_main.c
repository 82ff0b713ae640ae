// SPDX-License-Identifier: GPL-2.0+
/*
 * (C) Copyright 2010-2013 Datera, Inc.
 * (C) Copyright 2010-2012 IBM Corp.
 *
 * Authors: Nicholas A. Bellinger <nab@daterainc.com>
 *          Stefan Hajnoczi <stefanha@linux.vnet.ibm.com>
 *
 * vhost_scsi: /dev/vhost-scsi, its ioctls and the endpoint life cycle.
 *
 * SET_ENDPOINT builds a vhs_endpoint (target id -> TPG table), allocates
 * the command pools and only then publishes it; CLEAR_ENDPOINT unpublishes
 * it, waits for SRCU readers and for every command and TMF that found it,
 * and frees it.  No global lock is held across that wait.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/compat.h>
#include <linux/fs.h>
#include <linux/memcontrol.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/nospec.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <target/target_core_fabric.h>

#include "scsi.h"

struct srcu_struct vhs_srcu;
struct srcu_struct vhs_tpg_list_srcu;
/* Serialises writers of vhs_tpg_list (readers use vhs_tpg_list_srcu). */
DEFINE_MUTEX(vhs_tpg_list_lock);
LIST_HEAD(vhs_tpg_list);

static unsigned int vhs_max_io_vqs = 128;
module_param_named(max_io_vqs, vhs_max_io_vqs, uint, 0644);
MODULE_PARM_DESC(max_io_vqs,
		 "Request virtqueues per device (1-1024, default 128)");

unsigned int vhs_cmds_per_vq;
module_param_named(cmds_per_vq, vhs_cmds_per_vq, uint, 0644);
MODULE_PARM_DESC(cmds_per_vq,
		 "Commands preallocated per request queue (default 0: the ring size)");

unsigned int vhs_inline_sg_cnt = 32;
module_param_named(inline_sg_cnt, vhs_inline_sg_cnt, uint, 0644);
MODULE_PARM_DESC(inline_sg_cnt,
		 "Scatterlist entries preallocated per command, taken at SET_ENDPOINT (1-2048, default 32: requests up to 128 KiB allocate none)");

unsigned int vhs_max_bounce_kb = 8192;
module_param_named(max_bounce_kb, vhs_max_bounce_kb, uint, 0644);
MODULE_PARM_DESC(max_bounce_kb,
		 "Bounce memory for misaligned requests per request queue, in KiB; beyond it requests are answered TASK SET FULL (default 8192; one request is always admitted)");

/*
 * The kick handler of a request or control queue: take requests with @one
 * until it says stop or the queue has had its share of the worker, and
 * signal the guest once for whatever was answered on the spot (answers
 * that come later are signalled by their own work).
 *
 * The vq mutex keeps the backend and the queue's commands; the endpoint
 * is looked up under vhs_srcu, which @one keeps holding while it finds
 * TPGs and LUNs.  What the worker allocates with __GFP_ACCOUNT meanwhile
 * is charged to the device owner's memory cgroup (vs->memcg lives as long
 * as the endpoint).
 */
void vhs_vq_serve(struct vhost_virtqueue *vq,
		  bool (*one)(struct vhs_vq *svq, struct vhs_endpoint *ep,
			      bool *answered))
{
	struct vhs_vq *svq = to_svq(vq);
	struct vhs_dev *vs = svq->vs;
	struct mem_cgroup *old_memcg;
	struct vhs_endpoint *ep;
	bool answered = false;
	int idx, n = 0;

	mutex_lock(&vq->mutex);
	if (!vhost_vq_get_backend(vq))
		goto out_unlock;
	idx = srcu_read_lock(&vhs_srcu);
	ep = srcu_dereference(vs->ep, &vhs_srcu);
	if (!ep)
		goto out_srcu_unlock;
	vhost_disable_notify(&vs->dev, vq);
	old_memcg = set_active_memcg(vs->memcg);
	while (one(svq, ep, &answered))
		if (vhost_exceeds_weight(vq, ++n, 0))
			break;
	set_active_memcg(old_memcg);
	if (answered)
		vhost_signal(&vs->dev, vq);
out_srcu_unlock:
	srcu_read_unlock(&vhs_srcu, idx);
out_unlock:
	mutex_unlock(&vq->mutex);
}

/* Callers hold vhs_srcu. */
struct vhs_tpg *vhs_find_tpg(struct vhs_endpoint *ep, u8 target)
{
	return srcu_dereference(ep->tpg[target], &vhs_srcu);
}

/*
 * Callers hold vhs_srcu.  Returns the LUN with a reference on LIO's
 * lun_ref that the caller drops with vhs_put_lun() once the command's
 * response is in the used ring, or NULL when the LUN is not (or no longer)
 * published.  LIO's unlink waits for that reference (core_dev_del_lun()
 * drains lun_ref) after fabric_pre_unlink unpublished the LUN and waited
 * out our lookups, so a slot's LUN is live for as long as it is readable.
 */
struct se_lun *vhs_get_lun(struct vhs_tpg *tpg, u16 lun_id)
{
	struct se_lun *lun;

	if (lun_id >= VHS_MAX_LUN)
		return NULL;
	lun_id = array_index_nospec(lun_id, VHS_MAX_LUN);
	lun = srcu_dereference(tpg->luns[lun_id], &vhs_srcu);
	if (!lun || !percpu_ref_tryget_live(&lun->lun_ref))
		return NULL;
	return lun;
}

void vhs_put_lun(struct se_lun *lun)
{
	percpu_ref_put(&lun->lun_ref);
}

/*
 * Pop one descriptor chain.  0: got one; -ENODATA: ring empty (guest
 * notification re-enabled); -EAGAIN: raced with the guest, pop again;
 * other: a bad chain, vhost already reported it with vq_err().
 */
int vhs_pop_desc(struct vhs_dev *vs, struct vhost_virtqueue *vq,
		 struct vhs_desc *d)
{
	struct vhost_log *log = NULL;

	lockdep_assert_held(&vq->mutex);

	if (unlikely(vhost_has_feature(vq, VHOST_F_LOG_ALL)))
		log = vq->log;
	d->log_nr = 0;
	d->head = vhost_get_vq_desc(vq, vq->iov, ARRAY_SIZE(vq->iov),
				    &d->out, &d->in, log, &d->log_nr);
	if (unlikely(d->head < 0)) {
		/*
		 * vhost leaves a chain it cannot parse at the head of the
		 * ring and told the VMM (vq_err): this queue serves nothing
		 * until the device is reset.  Guest notifications go back
		 * on, so the guest's next kick (a rewritten chain, say) is
		 * seen instead of the queue staying silent with them off.
		 */
		vhost_enable_notify(&vs->dev, vq);
		return d->head;
	}
	if (d->head == vq->num) {
		if (unlikely(vhost_enable_notify(&vs->dev, vq))) {
			vhost_disable_notify(&vs->dev, vq);
			return -EAGAIN;
		}
		return -ENODATA;
	}
	d->out_size = iov_length(vq->iov, d->out);
	d->in_size = iov_length(&vq->iov[d->out], d->in);
	iov_iter_init(&d->out_iter, ITER_SOURCE, vq->iov, d->out, d->out_size);
	return 0;
}

/*
 * Answer a just-popped chain from its handler: @len bytes at the start of
 * the device-writable part (which may span descriptors), dirty-logged when
 * LOG_ALL is on, then one used entry.  The caller signals once per batch.
 */
void vhs_reply_desc(struct vhost_virtqueue *vq, struct vhs_desc *d,
		    const void *buf, size_t len)
{
	struct iov_iter it;

	lockdep_assert_held(&vq->mutex);

	iov_iter_init(&it, ITER_DEST, &vq->iov[d->out], d->in, len);
	if (copy_to_iter(buf, len, &it) != len)
		vq_err(vq, "vhost_scsi: faulted on response\n");
	if (unlikely(d->log_nr))
		vhost_log_write(vq, vq->log, d->log_nr, d->in_size, NULL, 0);
	vhost_add_used(vq, d->head, len);
}

/*
 * Save the device-writable iovecs covering the first @len bytes: the
 * response header.  vq->iov is reused by the next request, so an
 * asynchronous answer needs its own copy; one iovec is the common case and
 * lives in the caller's @inline_iov.
 */
int vhs_save_iov(struct vhost_virtqueue *vq, unsigned int out,
		 unsigned int in, size_t len, struct iovec *inline_iov,
		 struct iovec **iovp, unsigned int *nrp)
{
	struct iovec *src = &vq->iov[out];
	struct iovec *dst = inline_iov;
	unsigned int n = 0;
	size_t got = 0;

	while (n < in && got < len)
		got += src[n++].iov_len;
	if (got < len || !n)
		return -EINVAL;
	if (n > 1) {
		dst = kmalloc_array(n, sizeof(*dst), VHS_GFP);
		if (!dst)
			return -ENOMEM;
	}
	memcpy(dst, src, n * sizeof(*dst));
	*iovp = dst;
	*nrp = n;
	return 0;
}

/* Copy the dirty-log entries of a request, only when LOG_ALL is on. */
int vhs_save_log(struct vhost_virtqueue *vq, unsigned int log_nr,
		 struct vhost_log **logp, unsigned int *nrp)
{
	*logp = NULL;
	*nrp = 0;
	if (!log_nr)
		return 0;
	*logp = kmemdup(vq->log, log_nr * sizeof(*vq->log), VHS_GFP);
	if (!*logp)
		return -ENOMEM;
	*nrp = log_nr;
	return 0;
}

bool vhs_write_iov(struct iovec *iov, unsigned int nr, const void *buf,
		   size_t len)
{
	struct iov_iter it;

	iov_iter_init(&it, ITER_DEST, iov, nr, len);
	return copy_to_iter(buf, len, &it) == len;
}

static void vhs_ep_release(struct percpu_ref *ref)
{
	struct vhs_endpoint *ep = container_of(ref, struct vhs_endpoint, ref);

	complete(&ep->drained);
}

static struct vhs_endpoint *vhs_ep_alloc(struct vhs_dev *vs, const char *wwpn)
{
	struct vhs_endpoint *ep;

	ep = kzalloc(sizeof(*ep), GFP_KERNEL);
	if (!ep)
		return NULL;
	if (percpu_ref_init(&ep->ref, vhs_ep_release, 0, GFP_KERNEL)) {
		kfree(ep);
		return NULL;
	}
	init_completion(&ep->drained);
	ep->vs = vs;
	strscpy(ep->wwpn, wwpn, sizeof(ep->wwpn));
	return ep;
}

static void vhs_ep_free(struct vhs_endpoint *ep)
{
	percpu_ref_exit(&ep->ref);
	kfree(ep);
}

/* The endpoint's table is only written with the owner's dev.mutex held. */
static struct vhs_tpg *vhs_ep_tpg(struct vhs_endpoint *ep, int i)
{
	return rcu_dereference_protected(ep->tpg[i],
					 lockdep_is_held(&ep->vs->dev.mutex));
}

static void vhs_free_all_cmds(struct vhs_dev *vs)
{
	int i;

	for (i = VHS_VQ_IO; i < vs->nvqs; i++)
		vhs_vq_free_cmds(&vs->vqs[i]);
}

/*
 * After the drain: no vhs_drop_work() still runs.  It runs only for a vq
 * that lost its worker, and takes nothing but that vq's mutex.
 */
static void vhs_flush_drop_works(struct vhs_dev *vs)
{
	int i;

	for (i = VHS_VQ_IO; i < vs->nvqs; i++)
		flush_work(&vs->vqs[i].drop_work);
}

static int vhs_alloc_all_cmds(struct vhs_dev *vs)
{
	int i, ret;

	for (i = VHS_VQ_IO; i < vs->nvqs; i++) {
		if (!vhost_vq_is_setup(&vs->vqs[i].vq))
			continue;
		ret = vhs_vq_alloc_cmds(&vs->vqs[i]);
		if (ret) {
			vhs_free_all_cmds(vs);
			return ret;
		}
	}
	return 0;
}

/* Drop the claims and configfs dependencies of an endpoint's TPGs. */
static void vhs_release_tpgs(struct vhs_endpoint *ep)
{
	struct vhs_tpg *tpg;
	int i;

	for (i = 0; i < VHS_MAX_TARGET; i++) {
		tpg = vhs_ep_tpg(ep, i);
		if (!tpg)
			continue;
		RCU_INIT_POINTER(ep->tpg[i], NULL);
		mutex_lock(&tpg->mutex);
		tpg->claimed = false;
		mutex_unlock(&tpg->mutex);
		target_undepend_item(&tpg->se_tpg.tpg_group.cg_item);
	}
}

/*
 * Claim every free TPG with a nexus under the WWPN; the configfs
 * dependency keeps the TPG directory from going away while claimed.  It is
 * taken outside tpg->mutex and outside vhs_tpg_list_lock, which configfs
 * callbacks take inside configfs' own locks.  A TPG that configfs is
 * removing is skipped.
 */
static int vhs_claim_tpgs(struct vhs_endpoint *ep)
{
	struct vhs_tpg *tpg;
	bool found = false;
	bool avail;
	int idx;

	idx = srcu_read_lock(&vhs_tpg_list_srcu);
	list_for_each_entry_srcu(tpg, &vhs_tpg_list, node,
				 srcu_read_lock_held(&vhs_tpg_list_srcu)) {
		if (strcmp(tpg->tport->name, ep->wwpn))
			continue;
		/* Two ports of one name ("fc.x" and "x"): the first wins. */
		if (rcu_access_pointer(ep->tpg[tpg->tpgt]))
			continue;
		mutex_lock(&tpg->mutex);
		avail = tpg->se_sess && !tpg->claimed;
		if (avail)
			tpg->claimed = true;
		mutex_unlock(&tpg->mutex);
		if (!avail)
			continue;
		if (target_depend_item(&tpg->se_tpg.tpg_group.cg_item)) {
			mutex_lock(&tpg->mutex);
			tpg->claimed = false;
			mutex_unlock(&tpg->mutex);
			continue;
		}
		RCU_INIT_POINTER(ep->tpg[tpg->tpgt], tpg);
		found = true;
	}
	srcu_read_unlock(&vhs_tpg_list_srcu, idx);
	return found ? 0 : -ENODEV;
}

/* Route hot-plug events of the endpoint's TPGs to @vs, or stop them. */
static void vhs_bind_tpgs(struct vhs_endpoint *ep, struct vhs_dev *vs)
{
	struct vhs_tpg *tpg;
	int i;

	for (i = 0; i < VHS_MAX_TARGET; i++) {
		tpg = vhs_ep_tpg(ep, i);
		if (!tpg)
			continue;
		mutex_lock(&tpg->mutex);
		tpg->vs = vs;
		mutex_unlock(&tpg->mutex);
	}
}

static void vhs_stop_vqs(struct vhs_dev *vs)
{
	struct vhost_virtqueue *vq;
	int i;

	for (i = 0; i < vs->nvqs; i++) {
		vq = &vs->vqs[i].vq;
		mutex_lock(&vq->mutex);
		vhost_vq_set_backend(vq, NULL);
		mutex_unlock(&vq->mutex);
	}
}

static int vhs_start_vqs(struct vhs_dev *vs, struct vhs_endpoint *ep)
{
	struct vhost_virtqueue *vq;
	int i, ret;

	for (i = 0; i < vs->nvqs; i++) {
		vq = &vs->vqs[i].vq;
		if (!vhost_vq_is_setup(vq))
			continue;
		mutex_lock(&vq->mutex);
		vhost_vq_set_backend(vq, ep);
		ret = vhost_vq_init_access(vq);
		if (ret)
			vhost_vq_set_backend(vq, NULL);
		mutex_unlock(&vq->mutex);
		if (ret) {
			vhs_stop_vqs(vs);
			return ret;
		}
	}
	return 0;
}

static struct vhs_endpoint *vhs_dev_ep(struct vhs_dev *vs)
{
	return rcu_dereference_protected(vs->ep,
					 lockdep_is_held(&vs->dev.mutex));
}

static int vhs_set_endpoint(struct vhs_dev *vs, struct vhost_scsi_target *t)
{
	struct vhs_endpoint *ep;
	int i, ret;

	mutex_lock(&vs->dev.mutex);
	ret = vhost_dev_check_owner(&vs->dev);
	if (ret)
		goto out_unlock;
	ret = -EEXIST;
	if (vhs_dev_ep(vs))
		goto out_unlock;
	ret = -EFAULT;
	for (i = 0; i < vs->nvqs; i++)
		if (!vhost_vq_access_ok(&vs->vqs[i].vq))
			goto out_unlock;

	ret = -ENOMEM;
	ep = vhs_ep_alloc(vs, t->vhost_wwpn);
	if (!ep)
		goto out_unlock;
	ret = vhs_alloc_all_cmds(vs);
	if (ret)
		goto out_free_ep;
	vs->memcg = get_mem_cgroup_from_mm(vs->dev.mm);

	ret = vhs_claim_tpgs(ep);
	if (ret)
		goto out_free_cmds;
	ret = vhs_start_vqs(vs, ep);
	if (ret)
		goto out_release_tpgs;
	/*
	 * Fully set up.  Events first, then publish: a LUN linked from here
	 * on is announced, so none becomes reachable by requests unseen.
	 */
	vhs_bind_tpgs(ep, vs);
	rcu_assign_pointer(vs->ep, ep);

	/* Requests queued before the endpoint existed are served now. */
	for (i = 0; i < vs->nvqs; i++)
		if (vhost_vq_get_backend(&vs->vqs[i].vq))
			vhost_poll_queue(&vs->vqs[i].vq.poll);
	mutex_unlock(&vs->dev.mutex);
	return 0;

out_release_tpgs:
	vhs_release_tpgs(ep);
out_free_cmds:
	mem_cgroup_put(vs->memcg);
	vs->memcg = NULL;
	vhs_free_all_cmds(vs);
out_free_ep:
	vhs_ep_free(ep);
out_unlock:
	mutex_unlock(&vs->dev.mutex);
	return ret;
}

/* @wwpn NULL: release path, clear whatever is bound. */
static int vhs_clear_endpoint(struct vhs_dev *vs, const char *wwpn)
{
	struct vhs_endpoint *ep;
	int ret = 0;

	mutex_lock(&vs->dev.mutex);
	ep = vhs_dev_ep(vs);
	if (!ep)
		goto out_unlock;
	ret = -EINVAL;
	if (wwpn && strcmp(ep->wwpn, wwpn))
		goto out_unlock;

	/* No new hot-plug events, no new requests, no new lookups. */
	vhs_bind_tpgs(ep, NULL);
	vhs_stop_vqs(vs);
	RCU_INIT_POINTER(vs->ep, NULL);
	percpu_ref_kill(&ep->ref);
	synchronize_srcu(&vhs_srcu);
	/* Every command and TMF that found the endpoint is answered. */
	wait_for_completion(&ep->drained);
	/* ... and whoever queued their answers has left vhs_release_cmd(). */
	synchronize_rcu();
	vhost_dev_flush(&vs->dev);
	vhs_flush_drop_works(vs);
	vhs_evt_discard(vs);
	vhs_free_all_cmds(vs);
	mem_cgroup_put(vs->memcg);
	vs->memcg = NULL;
	vhs_release_tpgs(ep);
	vhs_ep_free(ep);
	ret = 0;
out_unlock:
	mutex_unlock(&vs->dev.mutex);
	return ret;
}

static int vhs_set_features(struct vhs_dev *vs, u64 features)
{
	struct vhost_virtqueue *vq;
	int i;

	if (features & ~(u64)VHS_FEATURES)
		return -EOPNOTSUPP;

	mutex_lock(&vs->dev.mutex);
	if ((features & BIT_ULL(VHOST_F_LOG_ALL)) &&
	    !vhost_log_access_ok(&vs->dev)) {
		mutex_unlock(&vs->dev.mutex);
		return -EFAULT;
	}
	for (i = 0; i < vs->nvqs; i++) {
		vq = &vs->vqs[i].vq;
		mutex_lock(&vq->mutex);
		vq->acked_features = features;
		mutex_unlock(&vq->mutex);
	}
	mutex_unlock(&vs->dev.mutex);
	return 0;
}

static int vhs_open(struct inode *inode, struct file *f)
{
	unsigned int nio = clamp(vhs_max_io_vqs, 1U, (unsigned int)VHS_MAX_IO_VQ);
	struct vhost_virtqueue **vqs;
	struct vhs_dev *vs;
	int i, nvqs = nio + VHS_VQ_IO;

	vs = kzalloc(sizeof(*vs), GFP_KERNEL);
	if (!vs)
		return -ENOMEM;
	vs->vqs = kvcalloc(nvqs, sizeof(*vs->vqs), GFP_KERNEL);
	if (!vs->vqs)
		goto out_free_vs;
	vqs = kmalloc_array(nvqs, sizeof(*vqs), GFP_KERNEL);
	if (!vqs)
		goto out_free_vqs;

	vs->nvqs = nvqs;
	INIT_LIST_HEAD(&vs->evt_list);
	vhost_work_init(&vs->evt_work, vhs_evt_work);
	for (i = 0; i < nvqs; i++) {
		struct vhs_vq *svq = &vs->vqs[i];

		svq->vs = vs;
		INIT_LIST_HEAD(&svq->inflight);
		init_llist_head(&svq->done);
		vhost_work_init(&svq->done_work, vhs_done_work);
		INIT_WORK(&svq->drop_work, vhs_drop_work);
		vqs[i] = &svq->vq;
		svq->vq.handle_kick = vhs_handle_io_kick;
	}
	vs->vqs[VHS_VQ_CTL].vq.handle_kick = vhs_handle_ctl_kick;
	vs->vqs[VHS_VQ_EVT].vq.handle_kick = vhs_handle_evt_kick;
	vhost_dev_init(&vs->dev, vqs, nvqs, UIO_MAXIOV, VHS_WEIGHT, 0, true,
		       NULL);
	f->private_data = vs;
	return 0;

out_free_vqs:
	kvfree(vs->vqs);
out_free_vs:
	kfree(vs);
	return -ENOMEM;
}

static int vhs_release(struct inode *inode, struct file *f)
{
	struct vhs_dev *vs = f->private_data;

	vhs_clear_endpoint(vs, NULL);
	vhost_dev_stop(&vs->dev);
	vhost_dev_cleanup(&vs->dev);
	kfree(vs->dev.vqs);
	kvfree(vs->vqs);
	kfree(vs);
	return 0;
}

static long vhs_events_missed_ioctl(struct vhs_dev *vs, unsigned int ioctl,
				    u32 __user *argp)
{
	struct vhost_virtqueue *vq = &vs->vqs[VHS_VQ_EVT].vq;
	u32 missed;

	if (ioctl == VHOST_SCSI_SET_EVENTS_MISSED) {
		if (get_user(missed, argp))
			return -EFAULT;
		mutex_lock(&vq->mutex);
		vs->events_missed = !!missed;
		mutex_unlock(&vq->mutex);
		return 0;
	}
	mutex_lock(&vq->mutex);
	missed = vs->events_missed;
	mutex_unlock(&vq->mutex);
	return put_user(missed, argp);
}

static long vhs_endpoint_ioctl(struct vhs_dev *vs, unsigned int ioctl,
			       void __user *argp)
{
	struct vhost_scsi_target t;

	if (copy_from_user(&t, argp, sizeof(t)))
		return -EFAULT;
	if (t.reserved)
		return -EOPNOTSUPP;
	t.vhost_wwpn[sizeof(t.vhost_wwpn) - 1] = '\0';
	if (ioctl == VHOST_SCSI_SET_ENDPOINT)
		return vhs_set_endpoint(vs, &t);
	return vhs_clear_endpoint(vs, t.vhost_wwpn);
}

static long vhs_ioctl(struct file *f, unsigned int ioctl, unsigned long arg)
{
	struct vhs_dev *vs = f->private_data;
	void __user *argp = (void __user *)arg;
	int abi = VHOST_SCSI_ABI_VERSION;
	u64 features;
	long r;

	switch (ioctl) {
	case VHOST_SCSI_SET_ENDPOINT:
	case VHOST_SCSI_CLEAR_ENDPOINT:
		return vhs_endpoint_ioctl(vs, ioctl, argp);
	case VHOST_SCSI_GET_ABI_VERSION:
		return copy_to_user(argp, &abi, sizeof(abi)) ? -EFAULT : 0;
	case VHOST_SCSI_SET_EVENTS_MISSED:
	case VHOST_SCSI_GET_EVENTS_MISSED:
		return vhs_events_missed_ioctl(vs, ioctl, argp);
	case VHOST_GET_FEATURES:
		features = VHS_FEATURES;
		return copy_to_user(argp, &features, sizeof(features)) ?
			-EFAULT : 0;
	case VHOST_SET_FEATURES:
		if (copy_from_user(&features, argp, sizeof(features)))
			return -EFAULT;
		return vhs_set_features(vs, features);
	default:
		mutex_lock(&vs->dev.mutex);
		r = vhs_worker_ioctl(&vs->dev, ioctl, argp);
		if (r == -ENOIOCTLCMD) {
			r = vhost_dev_ioctl(&vs->dev, ioctl, argp);
			if (r == -ENOIOCTLCMD)
				r = vhost_vring_ioctl(&vs->dev, ioctl, argp);
			else
				vhost_dev_flush(&vs->dev);
		}
		mutex_unlock(&vs->dev.mutex);
		return r;
	}
}

static const struct file_operations vhs_fops = {
	.owner		= THIS_MODULE,
	.open		= vhs_open,
	.release	= vhs_release,
	.unlocked_ioctl	= vhs_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice vhs_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "vhost-scsi",
	.fops	= &vhs_fops,
};

static int __init vhs_init(void)
{
	int ret;

	ret = init_srcu_struct(&vhs_srcu);
	if (ret)
		return ret;
	ret = init_srcu_struct(&vhs_tpg_list_srcu);
	if (ret)
		goto out_cleanup_srcu;
	ret = misc_register(&vhs_misc);
	if (ret)
		goto out_cleanup_list_srcu;
	ret = vhs_fabric_init();
	if (ret)
		goto out_deregister_misc;
	return 0;

out_deregister_misc:
	misc_deregister(&vhs_misc);
out_cleanup_list_srcu:
	cleanup_srcu_struct(&vhs_tpg_list_srcu);
out_cleanup_srcu:
	cleanup_srcu_struct(&vhs_srcu);
	return ret;
}

static void __exit vhs_exit(void)
{
	vhs_fabric_exit();
	misc_deregister(&vhs_misc);
	cleanup_srcu_struct(&vhs_tpg_list_srcu);
	cleanup_srcu_struct(&vhs_srcu);
}

module_init(vhs_init);
module_exit(vhs_exit);
MODULE_DESCRIPTION("virtio-scsi target over vhost (LIO fabric \"vhost\")");
MODULE_ALIAS("tcm_vhost");
/*
 * The kernel's vhost_scsi has no version; DKMS installs a module only
 * over one of a lower version, and takes two without one as the same.
 */
MODULE_VERSION("1.0");
MODULE_LICENSE("GPL");
