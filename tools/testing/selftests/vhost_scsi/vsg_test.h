/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared pieces of the vhost_scsi selftests: a target plus an open device
 * with the endpoint set, data patterns and an I/O worker thread.
 */
#ifndef VSG_TEST_H
#define VSG_TEST_H

#include <pthread.h>
#include "vsg.h"
#include "vsg_cfs.h"
#include "vsg_fault.h"

#define VSG_BLOCK		512
#define VSG_LUN_BYTES		(8UL << 20)
#define VSG_CMD_TIMEOUT_MS	10000

#define SAM_STAT_GOOD		0x00
#define SAM_STAT_CHECK_CONDITION 0x02
#define SAM_STAT_BUSY		0x08

struct vsg_env {
	struct vsg_target t;
	struct vsg_dev *d;
	struct vsg_vq *q;	/* first request queue */
	char why[128];		/* reason when setup skips or fails */
};

/* Returns 0, KSFT_SKIP (4) or 1 with env->why set. */
int vsg_env_setup(struct vsg_env *e, enum vsg_bs_kind kind,
		  unsigned int nr_luns, const struct vsg_opts *opts);
void vsg_env_teardown(struct vsg_env *e);

void vsg_fill(void *buf, size_t len, __u64 seed);
long vsg_check(const void *buf, size_t len, __u64 seed);
int vsg_sense_asc(const struct vsg_scsi_res *res);
int vsg_sense_ascq(const struct vsg_scsi_res *res);
int vsg_sense_key(const struct vsg_scsi_res *res);

/* An I/O thread: write+read-verify loops bounded by time and count. */
struct vsg_worker {
	pthread_t thread;
	struct vsg_vq *vq;
	unsigned int target;
	unsigned int lun;
	__u64 lba;		/* private region start */
	__u32 blocks;		/* per command */
	unsigned int max_ops;
	__u64 deadline_ms;
	bool write_verify;	/* false: reads only */
	unsigned int flags;	/* VSG_F_* for the submissions */
	bool *stop;		/* read with __atomic_load_n() */
	/* results */
	unsigned int ops;
	unsigned int good;
	unsigned int check_cond;	/* other than unit attention */
	unsigned int unit_attention;
	unsigned int busy;		/* status BUSY: see vsg_worker_count() */
	unsigned int bad_target;
	unsigned int incorrect_lun;
	unsigned int other_resp;
	unsigned int timeouts;
	unsigned int errors;		/* submit errors */
	unsigned int mismatches;
	unsigned int multi_complete;	/* cmd completions != 1 */
	char odd[80];		/* the first answer neither GOOD nor UA */
};

/* A TMF response saying the function completed (virtio spec 5.6.6.2). */
static inline bool vsg_tmf_done(__u8 resp)
{
	return resp == VIRTIO_SCSI_S_OK ||
	       resp == VIRTIO_SCSI_S_FUNCTION_SUCCEEDED;
}

/* Completed, or refused as a function the target does not offer. */
static inline bool vsg_tmf_answered(__u8 resp)
{
	return vsg_tmf_done(resp) || resp == VIRTIO_SCSI_S_FUNCTION_REJECTED;
}

/* The LUN id an event names (flat space addressing). */
static inline unsigned int vsg_ev_lun(const struct virtio_scsi_event *ev)
{
	return ((ev->lun[2] & 0x3f) << 8) | ev->lun[3];
}

void *vsg_worker_fn(void *arg);
int vsg_worker_start(struct vsg_worker *w);
void vsg_worker_join(struct vsg_worker *w);

#endif /* VSG_TEST_H */
