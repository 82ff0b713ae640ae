/* SPDX-License-Identifier: GPL-2.0+ */
/*
 * (C) Copyright 2010-2013 Datera, Inc.
 * (C) Copyright 2010-2012 IBM Corp.
 *
 * Authors: Nicholas A. Bellinger <nab@daterainc.com>
 *          Stefan Hajnoczi <stefanha@linux.vnet.ibm.com>
 *
 * The vhost and LIO interfaces that differ between the kernels we build
 * for, each behind one name.  compat/Kbuild.compat finds out which ones
 * the headers have (HP_HAVE_*); nothing else in the driver asks.
 *
 * 6.1: one vhost worker, a kthread, runs the work of every vq of a device
 * and lives until vhost_dev_cleanup().  A fabric hands commands to LIO's
 * submission workqueue with target_queue_submission().
 *
 * 6.12: a worker per vq when userspace asks for it (VHOST_NEW_WORKER,
 * VHOST_ATTACH_VRING_WORKER, ...); a worker is a task of the owner's and
 * dies with it on SIGKILL, after which work queued on its vqs never runs.
 * A fabric declares how LIO should submit and calls target_submit().
 */
#ifndef _DRIVERS_VHOST_SCSI_COMPAT_H
#define _DRIVERS_VHOST_SCSI_COMPAT_H

#include <target/target_core_fabric.h>

#include "vhost.h"

/*
 * Queue @work on the worker of @vq.  False when @vq has no worker any
 * more (6.12: its owner was killed): @work will not run, the caller must
 * release what it meant @work to answer.  6.1's worker outlives every
 * caller of ours (they all need an endpoint; the release path clears it
 * before vhost_dev_cleanup() stops the worker).
 */
static inline bool vhs_work_queue(struct vhost_virtqueue *vq,
				  struct vhost_work *work)
{
#ifdef HP_HAVE_VHOST_VQ_WORK_QUEUE
	return vhost_vq_work_queue(vq, work);
#else
	vhost_work_queue(vq->dev, work);
	return true;
#endif
}

/*
 * The vhost core's worker ioctls, with dev->mutex held; -ENOIOCTLCMD for
 * any other ioctl and on a core without them.  Only those four may go to
 * vhost_worker_ioctl(): it fails every ioctl with -EINVAL before
 * VHOST_SET_OWNER, that one included.
 */
static inline long vhs_worker_ioctl(struct vhost_dev *dev, unsigned int ioctl,
				    void __user *argp)
{
	lockdep_assert_held(&dev->mutex);
#ifdef HP_HAVE_VHOST_WORKER_IOCTL
	switch (ioctl) {
	case VHOST_NEW_WORKER:
	case VHOST_FREE_WORKER:
	case VHOST_ATTACH_VRING_WORKER:
	case VHOST_GET_VRING_WORKER:
		return vhost_worker_ioctl(dev, ioctl, argp);
	}
#endif
	return -ENOIOCTLCMD;
}

/*
 * Hand a prepared command to LIO, which submits it to the backend from
 * its own workqueue, in batches under a plug, not from our worker.
 */
static inline void vhs_target_submit(struct se_cmd *se_cmd)
{
#ifdef HP_HAVE_TARGET_QUEUE_SUBMISSION
	target_queue_submission(se_cmd);
#else
	target_submit(se_cmd);	/* queued by VHS_FABRIC_SUBMIT_OPS */
#endif
}

/*
 * In the fabric ops, where LIO asks the fabric: queued submission, and
 * direct submission only where an operator sets the device's submit_type.
 */
#ifdef HP_HAVE_FABRIC_SUBMIT_TYPE
#define VHS_FABRIC_SUBMIT_OPS					\
	.default_submit_type	= TARGET_QUEUE_SUBMIT,		\
	.direct_submit_supp	= 1,
#else
#define VHS_FABRIC_SUBMIT_OPS
#endif

#endif /* _DRIVERS_VHOST_SCSI_COMPAT_H */
