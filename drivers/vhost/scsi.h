/* SPDX-License-Identifier: GPL-2.0+ */
/*
 * (C) Copyright 2010-2013 Datera, Inc.
 * (C) Copyright 2010-2012 IBM Corp.
 *
 * Authors: Nicholas A. Bellinger <nab@daterainc.com>
 *          Stefan Hajnoczi <stefanha@linux.vnet.ibm.com>
 *
 * vhost_scsi internal definitions.
 *
 * Object model (see Documentation/driver-api/vhost-scsi.rst):
 *
 *   vhs_tport (configfs WWN) -> vhs_tpg (tpgt_N) -> se_lun (LUN symlink)
 *   vhs_dev (/dev/vhost-scsi open) -> vhs_endpoint -> vhs_tpg[target id]
 *
 * The I/O and control paths find the endpoint, the TPG of a target id and
 * the LUN under srcu_read_lock(&vhs_srcu) only.  Writers publish with
 * rcu_assign_pointer() once an object is complete, unpublish, wait with
 * synchronize_srcu() and then drain the percpu_ref that every command
 * which found the object holds until its response is in the used ring:
 * the endpoint's own, and for a LUN LIO's se_lun->lun_ref, which LIO
 * drains in the unlink after our fabric_pre_unlink.  Those references are
 * taken with percpu_ref_tryget_live(): finding an object under SRCU does
 * not make it live, only the reference does.
 */
#ifndef _DRIVERS_VHOST_SCSI_H
#define _DRIVERS_VHOST_SCSI_H

#include <linux/completion.h>
#include <linux/list.h>
#include <linux/llist.h>
#include <linux/mutex.h>
#include <linux/percpu-refcount.h>
#include <linux/scatterlist.h>
#include <linux/srcu.h>
#include <linux/uio.h>
#include <linux/vhost.h>
#include <linux/virtio_scsi.h>
#include <linux/workqueue.h>
#include <target/target_core_base.h>

#include "vhost.h"
#include "scsi_compat.h"

#define VHS_MAX_TARGET		256
#define VHS_MAX_LUN		16384	/* flat space addressing, 14 bits */
#define VHS_MAX_IO_VQ		1024
#define VHS_NAMELEN		256
#define VHS_MAX_CDB		32
#define VHS_MAX_SGS		2048	/* largest data or PI scatterlist */
#define VHS_MAX_EVENTS		128	/* queued, undelivered events */
#define VHS_WEIGHT		256	/* requests per handler run */

/* virtio-scsi calls the TMF success code FUNCTION COMPLETE; it is S_OK. */
#define VHS_S_FUNCTION_COMPLETE	VIRTIO_SCSI_S_OK

enum {
	VHS_VQ_CTL = 0,
	VHS_VQ_EVT = 1,
	VHS_VQ_IO = 2,
};

enum {
	VHS_FEATURES = VHOST_FEATURES |
		  (1ULL << VIRTIO_SCSI_F_HOTPLUG) |
		  (1ULL << VIRTIO_SCSI_F_T10_PI),
};

/* Lock subclass of an I/O vq mutex taken while the control vq's is held. */
#define VHS_IO_VQ_NESTING	SINGLE_DEPTH_NESTING

/*
 * All lookup read sections use this one SRCU domain: the request and
 * control handlers sleep (page pinning, allocation, LIO submission) while
 * they hold what they found, so plain RCU is not enough.
 */
extern struct srcu_struct vhs_srcu;

/*
 * vhs_tpg_list: writers (configfs make/drop TPG) hold vhs_tpg_list_lock;
 * SET_ENDPOINT walks it under vhs_tpg_list_srcu, because it must call
 * target_depend_item() (configfs locks) while configfs holds its own
 * locks around make/drop TPG.  drop_tpg waits for that domain.
 */
extern struct mutex vhs_tpg_list_lock;
extern struct srcu_struct vhs_tpg_list_srcu;
extern struct list_head vhs_tpg_list;

extern unsigned int vhs_cmds_per_vq;
extern unsigned int vhs_max_bounce_kb;
extern unsigned int vhs_inline_sg_cnt;

/*
 * What a guest makes us allocate per request is charged to the memory
 * cgroup of the device's owner (the handlers run in set_active_memcg() of
 * it).  Bounce pages, the bulk of it, must not make the kernel reclaim
 * hard or OOM-kill for a guest: they fail fast (VHS_GFP_PAGE), and the
 * guest is answered TASK SET FULL and retries.  The smaller per-request
 * allocations (VHS_GFP: scatterlists, iovec and log copies) may reclaim
 * within the owner's cgroup like any of its allocations.
 */
#define VHS_GFP			(GFP_KERNEL_ACCOUNT | __GFP_NOWARN)
#define VHS_GFP_PAGE		(VHS_GFP | __GFP_NORETRY)

struct vhs_dev;

/* A target port: /sys/kernel/config/target/vhost/<wwn> */
struct vhs_tport {
	u8 proto_id;			/* SCSI_PROTOCOL_*, fixed at creation */
	char name[VHS_NAMELEN];		/* name SET_ENDPOINT matches */
	struct se_wwn wwn;
};

/* A target portal group: .../<wwn>/tpgt_N, virtio target id N */
struct vhs_tpg {
	u16 tpgt;
	/* configfs attrib/fabric_prot_type; READ_ONCE/WRITE_ONCE */
	int fabric_prot_type;
	/* Protects every field below that says "protected by mutex". */
	struct mutex mutex;
	/*
	 * The I_T nexus session; protected by mutex.  Stable without the
	 * mutex while @claimed is set (drop_nexus refuses then), which is
	 * how the I/O path uses it.
	 */
	struct se_session *se_sess;
	/* Linked LUNs, protected by mutex; drop_nexus refuses while > 0. */
	unsigned int nr_luns;
	/* Owned by an endpoint (being set up or live); protected by mutex. */
	bool claimed;
	/*
	 * Device to send hot-plug events to; protected by mutex.  Set once
	 * the endpoint is live, cleared by CLEAR_ENDPOINT before it drains,
	 * so a holder of @mutex never sees a freed or half-built device.
	 */
	struct vhs_dev *vs;
	/*
	 * LIO's LUN of each id, VHS_MAX_LUN slots allocated with the TPG and
	 * never replaced: a LUN link allocates nothing here, so it cannot
	 * half fail (LIO ignores what fabric_post_link returns).  A slot is
	 * set from fabric_post_link to fabric_pre_unlink, the span in which
	 * LIO keeps the LUN's lun_ref live.  Slots: writers hold mutex,
	 * readers hold vhs_srcu.
	 */
	struct se_lun __rcu **luns;
	/* On vhs_tpg_list: writers hold vhs_tpg_list_lock, readers its SRCU. */
	struct list_head node;
	struct vhs_tport *tport;
	struct se_portal_group se_tpg;
};

/* What SET_ENDPOINT bound: the target-id -> TPG table of one device. */
struct vhs_endpoint {
	struct vhs_dev *vs;		/* owner; its dev.mutex guards writes */
	/*
	 * Held by every in-flight command and TMF: taken with
	 * percpu_ref_tryget_live() in the handler, dropped after the
	 * response is in the used ring.  Killed by CLEAR_ENDPOINT, after it
	 * removed every vq backend under the vq mutexes (so a handler that
	 * found the endpoint never sees it dead in practice; tryget_live
	 * makes that a checked rule, not an accident of ordering).  The
	 * release callback completes @drained.
	 */
	struct percpu_ref ref;
	struct completion drained;
	char wwpn[VHS_NAMELEN];
	/*
	 * Filled before the endpoint is published and only cleared after
	 * it is unpublished; readers hold vhs_srcu.
	 */
	struct vhs_tpg __rcu *tpg[VHS_MAX_TARGET];
};

/* A bounced read: where the data goes once LIO filled the bounce pages. */
struct vhs_bounce {
	struct iov_iter iter;		/* guest data-in buffers */
	const void *iov;		/* dup_iter() copy backing @iter */
};

struct vhs_vq;
struct vhs_tmf;

/* One virtio-scsi request; preallocated per I/O vq, kept small. */
struct vhs_cmd {
	struct vhs_vq *svq;
	/* Per-use state from @ep up to @sgl_inline; vhs_cmd_get() clears it. */
	struct vhs_endpoint *ep;	/* ep->ref held */
	struct se_lun *lun;		/* lun->lun_ref held, NULL if none */
	/* On svq->inflight; protected by the vq mutex. */
	struct list_head inflight_node;
	/* On svq->done once LIO released it; lockless. */
	struct llist_node done_node;
	/* Next free command; protected by the vq mutex. */
	struct vhs_cmd *next_free;
	/*
	 * The TMF that waits for this command's answer, or NULL;
	 * set by the TMF's scan and read by the done work, both
	 * under the vq mutex.
	 */
	struct vhs_tmf *tmf;
	u64 tag;
	u16 lun_id;
	u16 head;
	u8 tgt;
	bool status_sent;		/* queue_status or queue_data_in ran */
	bool data_sent;			/* queue_data_in ran: data is valid */
	bool bounced;			/* @sgl holds our own pages */
	u8 local_resp;			/* answered without LIO, if non-zero */
	size_t in_len;			/* device-writable bytes */
	u32 data_len;			/* data bytes (without PI) */
	u32 prot_len;			/* PI bytes */
	unsigned int bounce_pages;	/* charged to svq->bounce_pages */
	enum dma_data_direction dir;

	/* Response header iovecs: one inline, more on demand. */
	struct iovec *resp_iov;
	unsigned int resp_nr;
	struct iovec resp_iov_inline;

	/* Data and PI scatterlists: a few inline, more on demand. */
	struct scatterlist *sgl;
	unsigned int sg_nr;
	struct scatterlist *prot_sgl;
	unsigned int prot_nr;
	struct vhs_bounce *bounce;	/* bounced reads only */

	/* Dirty log of the writable descriptors (LOG_ALL), on demand. */
	struct vhost_log *log;
	unsigned int log_nr;

	/*
	 * inline_sg_cnt entries of the vq's scatterlist pool, so that the
	 * common request sizes allocate no scatterlist of their own.
	 */
	struct scatterlist *sgl_inline;
	unsigned int sgl_inline_nr;

	u8 cdb[VHS_MAX_CDB];
	u8 sense[TRANSPORT_SENSE_BUFFER];
	struct se_cmd se_cmd;
};

struct vhs_vq {
	struct vhost_virtqueue vq;
	struct vhs_dev *vs;
	/*
	 * Command pool of an I/O vq: allocated by SET_ENDPOINT, freed by
	 * CLEAR_ENDPOINT after the drain, both under vs->dev.mutex.  Free
	 * list, in-flight list and @starved are protected by vq.mutex.
	 */
	struct vhs_cmd *cmds;
	unsigned int nr_cmds;
	struct scatterlist *sgls;	/* the commands' inline scatterlists */
	struct vhs_cmd *free;
	struct list_head inflight;
	bool starved;
	/*
	 * Bounce pages held by this vq's commands, protected by vq.mutex;
	 * at most max_bounce_kb, or one request's worth when it is zero.
	 */
	unsigned int bounce_pages;
	/* Commands LIO released; drained by @done_work in the worker. */
	struct llist_head done;
	struct vhost_work done_work;
	/*
	 * Drains @done without answering when the vq has no worker (its
	 * owner was killed, see vhs_work_queue()).  Queued from an RCU read
	 * section; CLEAR_ENDPOINT flushes it after its synchronize_rcu().
	 */
	struct work_struct drop_work;
};

struct vhs_dev {
	struct vhost_dev dev;
	struct vhs_vq *vqs;
	int nvqs;
	/* Writers hold dev.mutex; readers hold vhs_srcu. */
	struct vhs_endpoint __rcu *ep;
	/*
	 * The owner's memory cgroup: the 6.1 vhost worker is a kthread,
	 * whose __GFP_ACCOUNT allocations are charged to nobody unless the
	 * handlers name the cgroup (vhs_vq_serve()).  Taken by
	 * SET_ENDPOINT before any vq has a backend, put by CLEAR_ENDPOINT
	 * after the worker was flushed; written under dev.mutex.
	 */
	struct mem_cgroup *memcg;
	/*
	 * Events waiting for the worker, their count and the missed flag;
	 * all protected by the event vq's mutex.
	 */
	struct list_head evt_list;
	unsigned int evt_nr;
	bool events_missed;
	struct vhost_work evt_work;
	/*
	 * A TMF is being answered; the control handler takes no new request
	 * until it is.  Protected by the control vq's mutex.  One TMF per
	 * device at a time bounds what TMFs cost: one vhs_tmf, at most one
	 * LIO TMR, one scan of the in-flight lists.
	 */
	bool tmf_busy;
};

/*
 * One control-queue TMF; allocated per request, freed once answered.  It
 * is answered when @pending drops to zero: once its LIO TMR (if any) was
 * released and every command that was in its scope when it arrived has
 * its answer in the used ring.  So the guest never sees the TMF answer
 * before the answers of the commands it covers, whatever the worker
 * layout.
 */
struct vhs_tmf {
	struct vhs_dev *vs;
	struct vhs_endpoint *ep;	/* ep->ref held */
	struct se_lun *lun;		/* lun->lun_ref held, or NULL */
	u32 subtype;
	u16 head;
	size_t in_len;
	struct iovec *resp_iov;
	unsigned int resp_nr;
	struct iovec resp_iov_inline;
	struct vhost_log *log;
	unsigned int log_nr;
	struct vhost_work work;		/* answers from the worker */
	atomic_t pending;		/* LIO TMR + commands in scope, +1 */
	/*
	 * Written before the TMF's reference for the TMR is dropped
	 * (vhs_tmr_submit(), LIO's queue_tm_rsp), read by vhs_tmf_work()
	 * once @pending reached zero: the atomic_dec_and_test() orders them.
	 */
	u8 lio_resp;			/* enum tcm_tmrsp_table */
	bool tmr_nomem;			/* LIO could not allocate the TMR */
	struct se_cmd se_cmd;		/* the LIO TMR, if one is used */
};

static inline struct vhs_vq *to_svq(struct vhost_virtqueue *vq)
{
	return container_of(vq, struct vhs_vq, vq);
}

static inline struct vhs_tpg *to_vhs_tpg(struct se_portal_group *se_tpg)
{
	return container_of(se_tpg, struct vhs_tpg, se_tpg);
}

/* virtio LUN bytes -> LUN id; VHS_MAX_LUN when not addressable */
static inline u16 vhs_lun_id(const u8 *lun)
{
	switch (lun[2] >> 6) {
	case 0:	/* peripheral device addressing, bus 0 */
		return lun[2] ? VHS_MAX_LUN : lun[3];
	case 1:	/* flat space addressing */
		return ((lun[2] & 0x3f) << 8) | lun[3];
	default:
		return VHS_MAX_LUN;
	}
}

/* A popped descriptor chain. */
struct vhs_desc {
	int head;
	unsigned int out, in, log_nr;
	size_t out_size, in_size;
	struct iov_iter out_iter;	/* device-readable part */
};

/* scsi_main.c */
void vhs_vq_serve(struct vhost_virtqueue *vq,
		  bool (*one)(struct vhs_vq *svq, struct vhs_endpoint *ep,
			      bool *answered));
int vhs_pop_desc(struct vhs_dev *vs, struct vhost_virtqueue *vq,
		 struct vhs_desc *d);
void vhs_reply_desc(struct vhost_virtqueue *vq, struct vhs_desc *d,
		    const void *buf, size_t len);
struct vhs_tpg *vhs_find_tpg(struct vhs_endpoint *ep, u8 target);
struct se_lun *vhs_get_lun(struct vhs_tpg *tpg, u16 lun_id);
void vhs_put_lun(struct se_lun *lun);
int vhs_save_iov(struct vhost_virtqueue *vq, unsigned int out,
		 unsigned int in, size_t len, struct iovec *inline_iov,
		 struct iovec **iovp, unsigned int *nrp);
int vhs_save_log(struct vhost_virtqueue *vq, unsigned int log_nr,
		 struct vhost_log **logp, unsigned int *nrp);
bool vhs_write_iov(struct iovec *iov, unsigned int nr, const void *buf,
		   size_t len);

/* scsi_io.c */
void vhs_handle_io_kick(struct vhost_work *work);
void vhs_done_work(struct vhost_work *work);
void vhs_drop_work(struct work_struct *work);
void vhs_release_cmd(struct vhs_cmd *cmd);
int vhs_vq_alloc_cmds(struct vhs_vq *svq);
void vhs_vq_free_cmds(struct vhs_vq *svq);

/* scsi_ctl.c */
void vhs_handle_ctl_kick(struct vhost_work *work);
void vhs_release_tmr(struct vhs_tmf *tmf);
void vhs_tmf_put(struct vhs_tmf *tmf);

/* scsi_evt.c */
void vhs_handle_evt_kick(struct vhost_work *work);
void vhs_evt_work(struct vhost_work *work);
void vhs_evt_post(struct vhs_tpg *tpg, u64 lun, u32 reason);
void vhs_evt_discard(struct vhs_dev *vs);

/* scsi_fabric.c */
int vhs_fabric_init(void);
void vhs_fabric_exit(void);

#endif /* _DRIVERS_VHOST_SCSI_H */
