// SPDX-License-Identifier: GPL-2.0+
/*
 * (C) Copyright 2010-2013 Datera, Inc.
 * (C) Copyright 2010-2012 IBM Corp.
 *
 * Authors: Nicholas A. Bellinger <nab@daterainc.com>
 *          Stefan Hajnoczi <stefanha@linux.vnet.ibm.com>
 *
 * vhost_scsi event queue: hot-plug (transport reset) events.
 *
 * Events are queued under the event vq's mutex, and only while that vq
 * has a backend: CLEAR_ENDPOINT removes the backend under the same mutex
 * before it flushes, so no event can be queued behind its flush.  When
 * the guest left no buffer, the event is dropped and events_missed set;
 * the next event (or a NO_EVENT when the guest adds buffers) carries
 * VIRTIO_SCSI_T_EVENTS_MISSED so the guest rescans.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>

#include "scsi.h"

struct vhs_evt {
	struct list_head node;		/* on vs->evt_list */
	struct virtio_scsi_event ev;	/* in the guest's byte order */
};

/* Deliver one event.  False: no usable guest buffer, event dropped. */
static bool vhs_evt_send(struct vhs_dev *vs, struct virtio_scsi_event *ev)
{
	struct vhost_virtqueue *vq = &vs->vqs[VHS_VQ_EVT].vq;
	struct vhs_desc d;
	int ret;

	lockdep_assert_held(&vq->mutex);

	/* vhost_get_vq_desc() wants guest notifications off. */
	vhost_disable_notify(&vs->dev, vq);
	ret = vhs_pop_desc(vs, vq, &d);
	if (ret == -EAGAIN)	/* the guest added one meanwhile: once more */
		ret = vhs_pop_desc(vs, vq, &d);
	if (ret) {
		vs->events_missed = true;
		return false;
	}
	if (d.out || d.in_size < sizeof(*ev)) {
		vq_err(vq, "vhost_scsi: bad event buffer (%u out, %zu in)\n",
		       d.out, d.in_size);
		vhost_add_used_and_signal(&vs->dev, vq, d.head, 0);
		vs->events_missed = true;
		return false;
	}
	if (vs->events_missed) {
		ev->event |= cpu_to_vhost32(vq, VIRTIO_SCSI_T_EVENTS_MISSED);
		vs->events_missed = false;
	}
	vhs_reply_desc(vq, &d, ev, sizeof(*ev));
	vhost_signal(&vs->dev, vq);
	return true;
}

static void vhs_evt_flush_locked(struct vhs_dev *vs)
{
	struct vhost_virtqueue *vq = &vs->vqs[VHS_VQ_EVT].vq;
	bool live = vhost_vq_get_backend(vq);
	struct vhs_evt *evt, *next;

	lockdep_assert_held(&vq->mutex);

	list_for_each_entry_safe(evt, next, &vs->evt_list, node) {
		if (live)
			vhs_evt_send(vs, &evt->ev);
		list_del(&evt->node);
		vs->evt_nr--;
		kfree(evt);
	}
}

void vhs_evt_work(struct vhost_work *work)
{
	struct vhs_dev *vs = container_of(work, struct vhs_dev, evt_work);
	struct vhost_virtqueue *vq = &vs->vqs[VHS_VQ_EVT].vq;

	mutex_lock(&vq->mutex);
	vhs_evt_flush_locked(vs);
	mutex_unlock(&vq->mutex);
}

/* The guest added event buffers. */
void vhs_handle_evt_kick(struct vhost_work *work)
{
	struct vhost_virtqueue *vq = container_of(work, struct vhost_virtqueue,
						  poll.work);
	struct vhs_dev *vs = to_svq(vq)->vs;
	struct virtio_scsi_event ev = {
		.event = cpu_to_vhost32(vq, VIRTIO_SCSI_T_NO_EVENT),
	};

	mutex_lock(&vq->mutex);
	if (vhost_vq_get_backend(vq)) {
		if (vs->events_missed && list_empty(&vs->evt_list))
			vhs_evt_send(vs, &ev);
		vhs_evt_flush_locked(vs);
	}
	mutex_unlock(&vq->mutex);
}

/*
 * Queue a hot-plug event for LUN @lun of @tpg to the device bound to it,
 * if any.  Called from the configfs link/unlink callbacks with the TPG
 * mutex held, which keeps tpg->vs alive (CLEAR_ENDPOINT clears it under
 * that mutex before tearing down).
 */
void vhs_evt_post(struct vhs_tpg *tpg, u64 lun, u32 reason)
{
	struct vhs_dev *vs = tpg->vs;
	struct vhost_virtqueue *vq;
	struct vhs_evt *evt;

	lockdep_assert_held(&tpg->mutex);
	if (!vs)
		return;
	vq = &vs->vqs[VHS_VQ_EVT].vq;
	mutex_lock(&vq->mutex);
	if (!vhost_vq_get_backend(vq) ||
	    !vhost_has_feature(vq, VIRTIO_SCSI_F_HOTPLUG))
		goto out_unlock;
	if (vs->evt_nr >= VHS_MAX_EVENTS)
		goto out_missed;
	evt = kzalloc(sizeof(*evt), GFP_KERNEL);
	if (!evt)
		goto out_missed;
	evt->ev.event = cpu_to_vhost32(vq, VIRTIO_SCSI_T_TRANSPORT_RESET);
	evt->ev.reason = cpu_to_vhost32(vq, reason);
	evt->ev.lun[0] = 1;
	evt->ev.lun[1] = tpg->tpgt;
	if (lun >= 256)
		evt->ev.lun[2] = 0x40 | (lun >> 8);
	evt->ev.lun[3] = lun & 0xff;
	list_add_tail(&evt->node, &vs->evt_list);
	vs->evt_nr++;
	/* No worker: the owner was killed; CLEAR_ENDPOINT discards it. */
	vhs_work_queue(vq, &vs->evt_work);
	goto out_unlock;

out_missed:
	vs->events_missed = true;
out_unlock:
	mutex_unlock(&vq->mutex);
}

/* CLEAR_ENDPOINT, after the flush: drop what was never delivered. */
void vhs_evt_discard(struct vhs_dev *vs)
{
	struct vhost_virtqueue *vq = &vs->vqs[VHS_VQ_EVT].vq;

	mutex_lock(&vq->mutex);
	vhs_evt_flush_locked(vs);
	mutex_unlock(&vq->mutex);
}
