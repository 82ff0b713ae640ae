// SPDX-License-Identifier: GPL-2.0
/*
 * vsg - split virtqueue mechanics: publishing chains, reaping the used
 * ring, per-command and per-queue counters.  Every function that touches
 * ring indices or the command pool holds vq->lock.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/virtio_ring.h>

#include "vsg.h"

#define VSG_POLL_SLICE_MS	10

static void vsg_lock(struct vsg_vq *vq)
{
	pthread_mutex_lock(&vq->lock);
}

static void vsg_unlock(struct vsg_vq *vq)
{
	pthread_mutex_unlock(&vq->lock);
}

struct vsg_cmd *vsg_cmd_get(struct vsg_vq *vq)
{
	struct vsg_cmd *c = NULL;

	vsg_lock(vq);
	if (vq->nr_free_cmds) {
		c = vq->free_cmds[--vq->nr_free_cmds];
		c->state = VSG_CMD_IDLE;
		c->completions = 0;
		c->used_len = 0;
		c->flags = 0;
	}
	vsg_unlock(vq);
	return c;
}

/* A command the device still owns is not recycled: it stays leaked. */
void vsg_cmd_put(struct vsg_cmd *c)
{
	struct vsg_vq *vq;

	if (!c)
		return;
	vq = c->vq;
	vsg_lock(vq);
	if (c->state != VSG_CMD_INFLIGHT) {
		c->state = VSG_CMD_IDLE;
		vq->free_cmds[vq->nr_free_cmds++] = c;
	}
	vsg_unlock(vq);
}

int vsg_vq_kick(struct vsg_vq *vq)
{
	__u64 one = 1;

	vsg_lock(vq);
	vq->st.kicks++;
	vsg_unlock(vq);
	return write(vq->kick_fd, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
}

static __u16 vsg_desc_flags(const struct vsg_seg *s, unsigned int k,
			    unsigned int nr, unsigned int flags)
{
	if (flags & VSG_F_RAW)
		return s->flags;
	return (s->flags & VRING_DESC_F_WRITE) |
	       (k + 1 < nr ? VRING_DESC_F_NEXT : 0);
}

/* Takes @need ring descriptors off the free list into c->ids. */
static void vsg_take_descs(struct vsg_vq *vq, struct vsg_cmd *c,
			   unsigned int need)
{
	unsigned int k;

	for (k = 0; k < need; k++) {
		c->ids[k] = vq->free_head;
		vq->free_head = vq->desc[vq->free_head].next;
	}
	vq->nr_free -= need;
	c->ndesc = need;
}

static void vsg_fill_indirect(struct vsg_vq *vq, struct vsg_cmd *c,
			      const struct vsg_seg *segs, unsigned int nr,
			      unsigned int flags)
{
	struct vring_desc *d = &vq->desc[c->ids[0]];
	unsigned int k;

	for (k = 0; k < nr; k++) {
		c->indir[k].addr = segs[k].addr;
		c->indir[k].len = segs[k].len;
		c->indir[k].flags = vsg_desc_flags(&segs[k], k, nr, flags);
		c->indir[k].next = flags & VSG_F_RAW ? segs[k].next : k + 1;
	}
	d->addr = (uintptr_t)c->indir;
	d->len = nr * sizeof(*c->indir);
	d->flags = VRING_DESC_F_INDIRECT;
	d->next = 0;
}

static void vsg_fill_direct(struct vsg_vq *vq, struct vsg_cmd *c,
			    const struct vsg_seg *segs, unsigned int nr,
			    unsigned int flags)
{
	unsigned int k;

	for (k = 0; k < nr; k++) {
		struct vring_desc *d = &vq->desc[c->ids[k]];
		unsigned int next = k + 1 < nr ? c->ids[k + 1] : 0;

		if (flags & VSG_F_RAW)
			next = segs[k].next < nr ? c->ids[segs[k].next] :
						   segs[k].next;
		d->addr = segs[k].addr;
		d->len = segs[k].len;
		d->flags = vsg_desc_flags(&segs[k], k, nr, flags);
		d->next = next;
	}
}

static void vsg_publish(struct vsg_vq *vq, struct vsg_cmd *c)
{
	c->head = c->ids[0];
	c->state = VSG_CMD_INFLIGHT;
	c->completions = 0;
	c->used_len = 0;
	c->submit_seq = vq->seq++;
	vq->by_head[c->head] = c;
	vq->avail->ring[vq->avail_idx % vq->num] = c->head;
	vq->avail_idx++;
	__atomic_store_n(&vq->avail->idx, vq->avail_idx, __ATOMIC_RELEASE);
	vq->st.submitted++;
	vq->st.inflight++;
}

/*
 * Publishes @nr segments as one chain.  Without VSG_F_RAW the chain is
 * linked in order and only VRING_DESC_F_WRITE of each seg is used; with
 * it, flags and next (an index into @segs, or a literal ring index when
 * >= nr) are written verbatim, so loops and broken chains can be built.
 */
int vsg_cmd_submit(struct vsg_cmd *c, const struct vsg_seg *segs,
		   unsigned int nr, unsigned int flags)
{
	struct vsg_vq *vq = c->vq;
	bool indirect = flags & VSG_F_INDIRECT;
	unsigned int need = indirect ? 1 : nr;
	int ret = 0;

	if (!nr || (indirect && nr > VSG_INDIRECT_MAX))
		return -EINVAL;
	vsg_lock(vq);
	if (c->state == VSG_CMD_INFLIGHT) {
		ret = -EBUSY;
		goto out_unlock;
	}
	if (vq->nr_free < need) {
		ret = -ENOSPC;
		goto out_unlock;
	}
	vsg_take_descs(vq, c, need);
	c->flags = flags;
	if (indirect)
		vsg_fill_indirect(vq, c, segs, nr, flags);
	else
		vsg_fill_direct(vq, c, segs, nr, flags);
	vsg_publish(vq, c);
out_unlock:
	vsg_unlock(vq);
	if (!ret && !(flags & VSG_F_NO_KICK))
		ret = vsg_vq_kick(vq);
	return ret;
}

static void vsg_release_descs(struct vsg_vq *vq, struct vsg_cmd *c)
{
	unsigned int k;

	for (k = 0; k < c->ndesc; k++) {
		vq->desc[c->ids[k]].next = vq->free_head;
		vq->free_head = c->ids[k];
	}
	vq->nr_free += c->ndesc;
	c->ndesc = 0;
}

static int vsg_reap_locked(struct vsg_vq *vq)
{
	__u16 end = __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);
	int n = 0;

again:
	while (vq->last_used != end) {
		struct vring_used_elem *e;
		struct vsg_cmd *c;

		e = &vq->used->ring[vq->last_used % vq->num];
		vq->last_used++;
		c = e->id < vq->num ? vq->by_head[e->id] : NULL;
		if (!c) {
			vq->st.spurious++;
			continue;
		}
		vq->by_head[e->id] = NULL;
		c->used_len = e->len;
		c->completions++;
		c->state = VSG_CMD_DONE;
		vsg_release_descs(vq, c);
		vq->st.completed++;
		vq->st.inflight--;
		n++;
	}
	if (vsg_has_feature(vq->dev, VIRTIO_RING_F_EVENT_IDX)) {
		/*
		 * Ask for a signal at the next answer, then look again: one
		 * added before the device could see used_event was not
		 * signalled (virtio 1.1, 2.7.10).
		 */
		__atomic_store_n(&vq->avail->ring[vq->num], vq->last_used,
				 __ATOMIC_RELEASE);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		end = __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);
		if (end != vq->last_used)
			goto again;
	}
	return n;
}

int vsg_vq_reap(struct vsg_vq *vq)
{
	int n;

	vsg_lock(vq);
	n = vsg_reap_locked(vq);
	vsg_unlock(vq);
	return n;
}

/*
 * Commands published on @vq that the device has not answered yet, as of
 * now: those in flight less the answers already in the used ring.  Reaps
 * nothing, so the caller still learns of those answers from the call
 * eventfd (a missing signal still shows).
 */
unsigned int vsg_vq_unanswered(struct vsg_vq *vq)
{
	unsigned int inflight, used;

	vsg_lock(vq);
	used = (__u16)(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE) -
		       vq->last_used);
	inflight = vq->st.inflight;
	vsg_unlock(vq);
	return used < inflight ? inflight - used : 0;
}

/*
 * The guest learns of answers from the call eventfd only: wait up to one
 * slice (or until @deadline) for a signal and reap after one.  The slice
 * only bounds how late a waiter notices an answer that another thread
 * reaped; it reaps nothing itself.  Returns -ETIMEDOUT at @deadline.
 */
int vsg_vq_await(struct vsg_vq *vq, __u64 deadline)
{
	struct pollfd p = { .fd = vq->call_fd, .events = POLLIN };
	__u64 now = vsg_now_ms(), v;
	int ms;

	if (now >= deadline)
		return -ETIMEDOUT;
	ms = deadline - now > VSG_POLL_SLICE_MS ? VSG_POLL_SLICE_MS :
						   (int)(deadline - now);
	if (poll(&p, 1, ms) > 0 && read(vq->call_fd, &v, sizeof(v)) == sizeof(v)) {
		vsg_lock(vq);
		vq->st.signals++;
		vsg_reap_locked(vq);
		vsg_unlock(vq);
	}
	return 0;
}

/*
 * At a deadline: reap what the device answered without a signal.  Any
 * such answer is a device bug (a lost vhost_signal()), reported here and
 * counted in st.unsignalled.  Returns how many there were.
 */
int vsg_vq_last_look(struct vsg_vq *vq)
{
	int n;

	vsg_lock(vq);
	n = vsg_reap_locked(vq);
	vq->st.unsignalled += n;
	vsg_unlock(vq);
	if (n)
		fprintf(stderr, "vsg: vq %u: %d answer(s) in the used ring were never signalled\n",
			vq->index, n);
	return n;
}

/*
 * Returns 0 once the command was answered (and signalled), -EPROTO if it
 * was answered but never signalled, -ETIMEDOUT if not answered at all.
 */
int vsg_cmd_wait(struct vsg_cmd *c, int timeout_ms)
{
	struct vsg_vq *vq = c->vq;
	__u64 deadline = vsg_now_ms() + timeout_ms;
	enum vsg_cmd_state state;

	for (;;) {
		vsg_lock(vq);
		state = c->state;
		vsg_unlock(vq);
		if (state != VSG_CMD_INFLIGHT)
			return state == VSG_CMD_DONE ? 0 : -EINVAL;
		if (vsg_vq_await(vq, deadline))
			break;
	}
	vsg_vq_last_look(vq);
	vsg_lock(vq);
	state = c->state;
	vsg_unlock(vq);
	return state == VSG_CMD_INFLIGHT ? -ETIMEDOUT : -EPROTO;
}

__u64 vsg_vq_errors(struct vsg_vq *vq)
{
	__u64 v = 0, total;

	vsg_lock(vq);
	if (vq->err_fd >= 0 && read(vq->err_fd, &v, sizeof(v)) == sizeof(v))
		vq->st.vq_errors += v;
	total = vq->st.vq_errors;
	vsg_unlock(vq);
	return total;
}

/* Waits until the device signalled more vq errors than @before. */
int vsg_vq_wait_error(struct vsg_vq *vq, __u64 before, int timeout_ms)
{
	__u64 deadline = vsg_now_ms() + timeout_ms;
	struct pollfd p = { .fd = vq->err_fd, .events = POLLIN };

	if (vq->err_fd < 0)
		return -EOPNOTSUPP;
	while (vsg_vq_errors(vq) <= before) {
		if (vsg_now_ms() >= deadline)
			return -ETIMEDOUT;
		poll(&p, 1, VSG_POLL_SLICE_MS);
	}
	return 0;
}

void vsg_vq_stats(struct vsg_vq *vq, struct vsg_vq_stats *st)
{
	vsg_vq_errors(vq);
	vsg_lock(vq);
	vsg_reap_locked(vq);
	*st = vq->st;
	vsg_unlock(vq);
}
