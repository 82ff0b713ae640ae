/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vsg - a small userspace virtio-scsi guest driving /dev/vhost-scsi.
 *
 * The library plays the guest side of a virtio-scsi device: it owns one
 * anonymous memory arena that is registered with VHOST_SET_MEM_TABLE as an
 * identity map (guest address == user address), lays out split virtqueues
 * in it, and offers both convenient SCSI helpers and raw descriptor
 * control for fuzzing and negative tests.
 *
 * Threading: any number of threads may submit and wait on any queue.
 * Each queue has one mutex (vsg_vq.lock) that protects its ring indices,
 * free descriptor list, command pool and counters.  The arena allocator
 * has its own mutex.  Nothing else is shared.
 */
#ifndef VSG_H
#define VSG_H

#include <stdbool.h>
#include <stddef.h>
#include <pthread.h>
#include <sys/uio.h>
#include <linux/types.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_scsi.h>

#define VSG_VQ_CTL		0
#define VSG_VQ_EVT		1
#define VSG_VQ_IO		2

#define VSG_MAX_IO_VQS		16
#define VSG_HDR_AREA		256	/* request/response area per command */
#define VSG_INDIRECT_MAX	256	/* indirect table entries per command */
#define VSG_EVT_SIZE		sizeof(struct virtio_scsi_event)

#ifndef BIT_ULL
#define BIT_ULL(nr)		(1ULL << (nr))
#endif

/* Features vsg_open() negotiates when vsg_opts.features is 0. */
#define VSG_FEATURES_DEFAULT	((1ULL << VIRTIO_F_VERSION_1) |		\
				 (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |	\
				 (1ULL << VIRTIO_RING_F_EVENT_IDX))

/* Submission flags for vsg_cmd_submit() and the SCSI helpers. */
#define VSG_F_INDIRECT		0x1	/* put the chain in an indirect table */
#define VSG_F_RAW		0x2	/* seg flags/next are used verbatim */
#define VSG_F_SPLIT_HDR		0x4	/* request header over two descs */
#define VSG_F_SPLIT_RESP	0x8	/* response header over three descs */
#define VSG_F_NO_KICK		0x10	/* publish but do not kick */

/* Command states. */
enum vsg_cmd_state {
	VSG_CMD_IDLE,		/* in the pool or owned by the caller */
	VSG_CMD_INFLIGHT,	/* published in the avail ring */
	VSG_CMD_DONE,		/* seen in the used ring */
};

/* One descriptor of a chain.  'next' is an index into the same array. */
struct vsg_seg {
	__u64 addr;
	__u32 len;
	__u16 flags;		/* VRING_DESC_F_WRITE; more with VSG_F_RAW */
	__u16 next;		/* only with VSG_F_RAW */
};

struct vsg_vq;
struct vsg_dev;

/*
 * A command slot.  Each queue owns a pool of queue-size slots; the request
 * and response areas and the indirect table live in the arena.
 */
struct vsg_cmd {
	struct vsg_vq *vq;
	void *req;			/* VSG_HDR_AREA bytes, device-readable */
	void *resp;			/* VSG_HDR_AREA bytes, device-writable */
	struct vring_desc *indir;	/* VSG_INDIRECT_MAX entries */
	/* fields below are protected by vq->lock */
	enum vsg_cmd_state state;
	__u16 head;			/* ring head while in flight */
	__u16 ndesc;			/* ring descriptors it holds */
	__u16 *ids;			/* those descriptors (num entries) */
	unsigned int flags;		/* VSG_F_* of the last submission */
	__u32 used_len;			/* len from the used ring */
	unsigned int completions;	/* times seen in the used ring */
	__u64 submit_seq;		/* per-queue submission number */
	/* free for the caller */
	__u64 tag;
	void *priv;
};

/* Per-queue counters, snapshot with vsg_vq_stats(). */
struct vsg_vq_stats {
	__u64 submitted;	/* chains published */
	__u64 completed;	/* used entries that matched an in-flight cmd */
	__u64 spurious;		/* used entries naming no in-flight cmd */
	__u64 kicks;
	__u64 vq_errors;	/* vq_err() signals from the device */
	__u64 signals;		/* call eventfd reads that found a signal */
	__u64 unsignalled;	/* answers found only at a deadline's last look */
	unsigned int inflight;
};

struct vsg_vq {
	struct vsg_dev *dev;
	unsigned int index;
	unsigned int num;
	unsigned int pool;	/* command slots */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	int kick_fd;
	int call_fd;
	int err_fd;
	pthread_mutex_t lock;	/* protects everything below */
	__u16 avail_idx;	/* next avail index to publish */
	__u16 last_used;	/* next used index to reap */
	__u16 free_head;	/* free ring descriptors, linked by .next */
	unsigned int nr_free;
	struct vsg_cmd **by_head;	/* in-flight command per head */
	struct vsg_cmd *cmds;		/* pool of num slots */
	struct vsg_cmd **free_cmds;	/* stack of idle slots */
	unsigned int nr_free_cmds;
	__u64 seq;
	struct vsg_vq_stats st;
};

struct vsg_opts {
	const char *path;	/* default /dev/vhost-scsi */
	unsigned int nr_io;	/* request queues, default 1 */
	unsigned int qsize;	/* ring size, default 128, power of two */
	unsigned int pool;	/* commands per queue, default min(qsize, 256) */
	__u64 features;		/* 0: VERSION_1 | INDIRECT_DESC | EVENT_IDX */
	size_t arena;		/* bytes of guest memory, default 16 MiB */
	bool lazy;		/* arena faulted in when touched, not at open */
	bool no_err_fd;		/* do not install vring error eventfds */
};

struct vsg_dev {
	int fd;
	__u64 offered;		/* VHOST_GET_FEATURES */
	__u64 features;		/* negotiated */
	unsigned int nr_vqs;	/* 2 + nr_io */
	struct vsg_vq vqs[VSG_VQ_IO + VSG_MAX_IO_VQS];
	char wwpn[224];		/* endpoint set, "" if none */
	/* arena: [base, base + size); bump allocation under arena_lock */
	void *base;
	size_t size;
	size_t used;
	pthread_mutex_t arena_lock;
	/* event queue buffers posted by vsg_event_post() */
	size_t evt_size;
};

/* Result of one SCSI command, decoded from struct virtio_scsi_cmd_resp. */
struct vsg_scsi_res {
	__u8 response;
	__u8 status;
	__u32 sense_len;
	__u32 resid;
	__u32 used_len;
	__u8 sense[VIRTIO_SCSI_SENSE_SIZE];
};

/* device */
int vsg_open(const struct vsg_opts *opts, struct vsg_dev **out);
void vsg_close(struct vsg_dev *d);
int vsg_set_endpoint(struct vsg_dev *d, const char *wwpn);
int vsg_clear_endpoint(struct vsg_dev *d, const char *wwpn);
int vsg_get_events_missed(struct vsg_dev *d, __u32 *missed);
int vsg_set_events_missed(struct vsg_dev *d, __u32 missed);
bool vsg_has_feature(struct vsg_dev *d, unsigned int bit);
void *vsg_alloc(struct vsg_dev *d, size_t size, size_t align);
bool vsg_in_arena(struct vsg_dev *d, const void *p, size_t len);
struct vsg_vq *vsg_io_vq(struct vsg_dev *d, unsigned int n);

/* queues and commands */
struct vsg_cmd *vsg_cmd_get(struct vsg_vq *vq);
void vsg_cmd_put(struct vsg_cmd *c);
int vsg_cmd_submit(struct vsg_cmd *c, const struct vsg_seg *segs,
		   unsigned int nr, unsigned int flags);
int vsg_cmd_wait(struct vsg_cmd *c, int timeout_ms);
int vsg_vq_await(struct vsg_vq *vq, __u64 deadline_ms);
int vsg_vq_last_look(struct vsg_vq *vq);
int vsg_vq_kick(struct vsg_vq *vq);
int vsg_vq_reap(struct vsg_vq *vq);
unsigned int vsg_vq_unanswered(struct vsg_vq *vq);
void vsg_vq_stats(struct vsg_vq *vq, struct vsg_vq_stats *st);
__u64 vsg_vq_errors(struct vsg_vq *vq);
int vsg_vq_wait_error(struct vsg_vq *vq, __u64 before, int timeout_ms);

/* SCSI requests */
void vsg_lun(__u8 lun[8], unsigned int target, unsigned int lun_id);
size_t vsg_req_size(struct vsg_dev *d);
void vsg_scsi_prep(struct vsg_cmd *c, unsigned int target,
		   unsigned int lun, const __u8 *cdb, size_t cdb_len);
void vsg_scsi_prep_pi(struct vsg_cmd *c, __u32 pi_out, __u32 pi_in);
int vsg_scsi_submit(struct vsg_cmd *c, bool write, const struct iovec *iov,
		    int niov, unsigned int flags);
void vsg_scsi_result(struct vsg_cmd *c, struct vsg_scsi_res *res);
int vsg_scsi(struct vsg_vq *vq, unsigned int target, unsigned int lun,
	     const __u8 *cdb, size_t cdb_len, bool write,
	     const struct iovec *iov, int niov, struct vsg_scsi_res *res,
	     int timeout_ms);

/* SCSI convenience, return <0 errno for transport trouble */
int vsg_tur(struct vsg_vq *vq, unsigned int t, unsigned int l,
	    struct vsg_scsi_res *res);
int vsg_tur_settle(struct vsg_vq *vq, unsigned int t, unsigned int l,
		   unsigned int tries);
int vsg_inquiry(struct vsg_vq *vq, unsigned int t, unsigned int l,
		void *buf, size_t len, struct vsg_scsi_res *res);
int vsg_read_capacity16(struct vsg_vq *vq, unsigned int t, unsigned int l,
			__u64 *last_lba, __u32 *block_size,
			struct vsg_scsi_res *res);
int vsg_report_luns(struct vsg_vq *vq, unsigned int t, void *buf,
		    size_t len, struct vsg_scsi_res *res);
int vsg_rw(struct vsg_vq *vq, unsigned int t, unsigned int l, bool write,
	   bool cdb16, __u64 lba, __u32 blocks, void *buf, size_t len,
	   struct vsg_scsi_res *res);

/* control queue */
int vsg_tmf(struct vsg_dev *d, __u32 subtype, unsigned int target,
	    unsigned int lun, __u64 tag, __u8 *response, int timeout_ms);
/* Fills @c's request with a TMF. */
void vsg_tmf_prep(struct vsg_cmd *c, __u32 subtype, unsigned int target,
		  unsigned int lun, __u64 tag);
/* A TMF submitted and kicked, not waited for; NULL if it could not be. */
struct vsg_cmd *vsg_tmf_start(struct vsg_dev *d, __u32 subtype,
			      unsigned int target, unsigned int lun, __u64 tag);
int vsg_an(struct vsg_dev *d, __u32 type, unsigned int target,
	   unsigned int lun, __u32 requested, __u32 *actual,
	   __u8 *response, int timeout_ms);

/* event queue */
int vsg_event_post(struct vsg_dev *d, unsigned int count, size_t size);
int vsg_event_next(struct vsg_dev *d, struct virtio_scsi_event *ev,
		   __u32 *len, int timeout_ms);

/* misc */
__u64 vsg_now_ms(void);
const char *vsg_flavour(void);
bool vsg_flavour_stock(void);
__u16 vsg_crc_t10dif(const void *buf, size_t len);

#endif /* VSG_H */
