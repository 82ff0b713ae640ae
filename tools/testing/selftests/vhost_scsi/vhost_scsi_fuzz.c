// SPDX-License-Identifier: GPL-2.0
/*
 * vhost_scsi guest fuzzer: random and mutated descriptor chains (direct
 * and indirect) on the request, control and event queues, with random
 * request headers, CDBs, PI fields, TMFs and event buffers, and random
 * feature, memory-table and ring setups.
 *
 * Seeded and reproducible.  The first line says the bounds and the seed;
 * VSG_FUZZ_SEED=<n> replays a run, VSG_FUZZ_BATCH=<k> only its batch k,
 * VSG_FUZZ_BATCHES=<n>, VSG_FUZZ_SECONDS=<s> and VSG_FUZZ_CHAINS=<n> (stop
 * after the batch that reaches n chains) change its length.  A
 * batch is a device with random features and a memory table of its own,
 * on which up to VSG_FUZZ_ROUNDS (default 16) rounds of chains run; in a
 * structural batch, a round that stopped a queue is the last.  A failure
 * names its seed, batch and rounds; such a line goes into
 * fuzz.regressions, which fuzz.regressions replays on every run.
 *
 * Whatever the input, after every round:
 *  - every used entry names a chain in flight, once, and a direct chain's
 *    used length is no more than its device-writable bytes;
 *  - every chain is answered within FZ_ANSWER_MS (event buffers need
 *    not be), except in a structural batch, which also breaks chains
 *    (addresses outside guest memory, loops, readable after writable):
 *    there a queue with a vq error may stop, since vhost does not consume
 *    a chain it cannot parse;
 *  - the request queue that is never fuzzed writes and reads back a
 *    pattern, and the control queue answers a LUN RESET unless a
 *    structural batch stopped it;
 *  - every ioctl and the close of the device return (the harness timeout
 *    and FZ_CLOSE_MS bound them).
 * The runner's kernel log gate fails the run on any kernel report.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/vhost.h>

#include "kselftest_harness.h"
#include "vsg_test.h"
#include "vsg_only.h"

#define FZ_BATCHES	150	/* default run: batches ... */
#define FZ_SECONDS	60	/* ... or seconds, whichever ends first */
#define FZ_ROUNDS	16	/* rounds of chains per batch and device */
#define FZ_CHAINS	48	/* chains per round, at most */
#define FZ_FLAP		16	/* one round in FZ_FLAP flaps LUN 1 */
#define FZ_SEGS		12	/* segments per chain, at most (plus more) */
#define FZ_SCRATCH	0x1400000UL	/* device-accessible scratch, 20 MiB */
#define FZ_ARENA	(48UL << 20)	/* guest memory */
#define FZ_ANSWER_MS	5000
#define FZ_CLOSE_MS	10000
#define FZ_NR_IO	2	/* queue 0 is fuzzed, queue 1 never */
#define FZ_REGRESSIONS	"fuzz.regressions"

/* xorshift64*: one stream per batch, from the run's seed and its number */
struct fz_rng {
	__u64 s;
};

static __u64 fz_next(struct fz_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dULL;
}

static unsigned int fz_below(struct fz_rng *r, unsigned int n)
{
	return n ? fz_next(r) % n : 0;
}

static bool fz_one_in(struct fz_rng *r, unsigned int n)
{
	return !fz_below(r, n);
}

static void fz_seed(struct fz_rng *r, __u64 seed, unsigned int batch)
{
	r->s = (seed ^ (0x9e3779b97f4a7c15ULL * (batch + 1))) | 1;
	fz_next(r);
}

static void fz_bytes(struct fz_rng *r, void *p, size_t len)
{
	__u8 *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = fz_next(r) >> 56;
}

/* Figures over the whole run. */
struct fz_stats {
	unsigned int batches, rounds, chains, answered, vq_errors, wedged;
	unsigned int busy;
	unsigned int resp[256];		/* virtio response codes */
};

/* One batch's device, and what its current round submitted on it. */
struct fz_batch {
	struct vsg_dev *d;
	/*
	 * A structural batch also breaks chains (addresses outside guest
	 * memory, loops, readable after writable), which stops a queue at
	 * its first such chain; the others keep every chain parseable, so
	 * requests reach the SCSI and TMF paths.
	 */
	bool structural;
	__u8 *scratch;
	__u8 *clean;		/* the clean queue's buffer */
	struct vsg_cmd *c[FZ_CHAINS];
	__u32 wlen[FZ_CHAINS];	/* writable bytes; ~0: not known (raw) */
	unsigned int nr;
	__u64 err0[VSG_VQ_IO + FZ_NR_IO];
	char what[400];		/* the last failure, for the log */
	char desc[FZ_CHAINS][160];	/* each chain, for the log */
};

/* An address in the scratch area, or one the device cannot use. */
static __u64 fz_addr(struct fz_rng *r, struct fz_batch *b, __u32 len)
{
	static const __u64 bad[] = {
		0, 4096, 0xffff888000000000ULL, ~0ULL - 4095,
	};
	__u32 off;

	if (b->structural && fz_one_in(r, 24))
		return bad[fz_below(r, 4)];
	if (b->structural && fz_one_in(r, 24))	/* just past guest memory */
		return (uintptr_t)b->d->base + b->d->size - fz_below(r, 64);
	if (len >= FZ_SCRATCH)
		return (uintptr_t)b->scratch;
	off = fz_below(r, FZ_SCRATCH - len);
	if (!fz_one_in(r, 4))
		off &= ~511U;
	return (uintptr_t)b->scratch + off;
}

static __u32 fz_len(struct fz_rng *r, __u32 want)
{
	switch (fz_below(r, 12)) {
	case 0:
		return 0;
	case 1:
		return 1 + fz_below(r, 16);
	case 2:
		return want ? want - 1 : 0;
	case 3:
		return want + 1 + fz_below(r, 64);
	case 4:
		return fz_one_in(r, 8) ? 0xffffffffU : 1U << (12 + fz_below(r, 9));
	default:
		return want;
	}
}

/* A CDB that LIO understands, with random fields; sometimes random. */
static void fz_cdb(struct fz_rng *r, __u8 *cdb, __u32 *xfer, bool *write)
{
	static const __u8 ops[] = {
		0x00, 0x12, 0x28, 0x2a, 0x88, 0x8a, 0xa0, 0x9e, 0x1a, 0x5a,
		0x35, 0x03, 0x25, 0x2f, 0x41, 0x93, 0x42, 0x08, 0x0a,
	};
	__u32 blocks = fz_below(r, 9) ? fz_below(r, 64) : fz_next(r);
	__u64 lba = fz_below(r, 4) ? fz_below(r, 16384) : fz_next(r);

	memset(cdb, 0, VIRTIO_SCSI_CDB_SIZE);
	cdb[0] = ops[fz_below(r, sizeof(ops))];
	*write = cdb[0] == 0x2a || cdb[0] == 0x8a || cdb[0] == 0x0a ||
		 cdb[0] == 0x41 || cdb[0] == 0x93 || cdb[0] == 0x42;
	*xfer = (blocks & 0xffff) * 512;
	switch (cdb[0]) {
	case 0x28: case 0x2a: case 0x2f: case 0x41: case 0x42:
		cdb[2] = lba >> 24;
		cdb[3] = lba >> 16;
		cdb[4] = lba >> 8;
		cdb[5] = lba;
		cdb[7] = blocks >> 8;
		cdb[8] = blocks;
		break;
	case 0x88: case 0x8a: case 0x93: case 0x9e:
		cdb[1] = cdb[0] == 0x9e ? 0x10 : 0;
		for (int i = 0; i < 8; i++)
			cdb[2 + i] = lba >> (56 - 8 * i);
		cdb[10] = blocks >> 24;
		cdb[11] = blocks >> 16;
		cdb[12] = blocks >> 8;
		cdb[13] = blocks;
		break;
	case 0x12: case 0x1a: case 0x03:
		cdb[4] = blocks;
		*xfer = blocks & 0xff;
		break;
	case 0xa0: case 0x5a:
		cdb[6] = blocks >> 24;
		cdb[7] = blocks >> 16;
		cdb[8] = blocks >> 8;
		cdb[9] = blocks;
		*xfer = blocks & 0xffff;
		break;
	default:
		break;
	}
	if (fz_one_in(r, 6))
		fz_bytes(r, cdb + 1, VIRTIO_SCSI_CDB_SIZE - 1);
	if (fz_one_in(r, 10))
		fz_bytes(r, cdb, VIRTIO_SCSI_CDB_SIZE);
}

/* LUN bytes: mostly our target's LUNs, sometimes anything. */
static void fz_lun(struct fz_rng *r, __u8 *lun)
{
	unsigned int id = fz_below(r, 4) ? fz_below(r, 3) : fz_below(r, 16384);

	vsg_lun(lun, fz_below(r, 8) ? 1 : fz_below(r, 256), id);
	if (fz_one_in(r, 12))
		fz_bytes(r, lun, 8);
}

/* Random flag and next bits on some segments: loops, holes, indirects. */
static unsigned int fz_raw(struct fz_rng *r, struct vsg_seg *s,
			   unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		s[i].next = i + 1 < n ? i + 1 : 0;
		s[i].flags = (s[i].flags & VRING_DESC_F_WRITE) |
			     (i + 1 < n ? VRING_DESC_F_NEXT : 0);
	}
	i = fz_below(r, n);
	switch (fz_below(r, 4)) {
	case 0:
		s[i].next = fz_below(r, n);		/* maybe a loop */
		s[i].flags |= VRING_DESC_F_NEXT;
		break;
	case 1:
		s[i].next = n + fz_below(r, 1024);	/* out of the chain */
		s[i].flags |= VRING_DESC_F_NEXT;
		break;
	case 2:
		s[i].flags |= VRING_DESC_F_INDIRECT;	/* table of garbage */
		break;
	default:
		s[i].flags ^= VRING_DESC_F_WRITE;
		break;
	}
	return VSG_F_RAW;
}

/* Writable bytes of a chain built without VSG_F_RAW. */
static __u32 fz_wlen(const struct vsg_seg *s, unsigned int n)
{
	__u64 w = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		if (s[i].flags & VRING_DESC_F_WRITE)
			w += s[i].len;
	return w > 0xffffffffULL ? 0xffffffffU : w;
}

/* Mutates the segments of a well-formed chain; returns VSG_F_* flags. */
static unsigned int fz_mutate(struct fz_rng *r, struct fz_batch *b,
			      struct vsg_seg *s, unsigned int *n)
{
	unsigned int flags = 0, k, i;

	for (k = fz_below(r, 4); k; k--) {
		i = fz_below(r, *n);
		switch (fz_below(r, b->structural ? 6 : 3)) {
		case 0:
			s[i].len = fz_len(r, s[i].len);
			if (!b->structural && s[i].len > FZ_SCRATCH / 4)
				s[i].len = FZ_SCRATCH / 4;
			if (!b->structural && s[i].addr >= (uintptr_t)b->scratch)
				s[i].addr = fz_addr(r, b, s[i].len);
			break;
		case 1:
			s[i].addr = fz_addr(r, b, s[i].len);
			break;
		case 2:	/* drop a segment (the last one, if not structural) */
			if (!b->structural)
				i = *n - 1;
			if (*n > 1) {
				memmove(&s[i], &s[i + 1],
					(*n - i - 1) * sizeof(*s));
				(*n)--;
			}
			break;
		case 3:	/* a readable one after the writable ones */
			if (*n < FZ_SEGS + 4) {
				s[*n] = (struct vsg_seg){
					.addr = fz_addr(r, b, 512), .len = 512 };
				(*n)++;
			}
			break;
		case 4:
			if (i + 1 < *n) {
				struct vsg_seg t = s[i];

				s[i] = s[i + 1];
				s[i + 1] = t;
			}
			break;
		default:
			s[i].flags ^= VRING_DESC_F_WRITE;
			break;
		}
	}
	if (b->structural && fz_one_in(r, 6))
		flags |= fz_raw(r, s, *n);
	return flags;
}

/* Data segments of @len bytes split into up to @max pieces. */
static unsigned int fz_data(struct fz_rng *r, struct fz_batch *b,
			    struct vsg_seg *s, __u32 len, unsigned int max,
			    bool writable)
{
	unsigned int n = 1 + fz_below(r, max), i;
	__u32 left = len, piece;

	if (!len)
		return 0;
	for (i = 0; i < n && left; i++) {
		piece = i + 1 == n ? left : 1 + fz_below(r, left);
		s[i].len = piece;
		s[i].addr = fz_addr(r, b, piece);
		if (fz_below(r, 3))	/* misaligned sometimes, not always */
			s[i].addr &= ~511ULL;
		s[i].flags = writable ? VRING_DESC_F_WRITE : 0;
		left -= piece;
	}
	return i;
}

/* A SCSI request on an I/O queue. */
static unsigned int fz_io_chain(struct fz_rng *r, struct fz_batch *b,
				struct vsg_cmd *c, struct vsg_seg *s)
{
	size_t req = vsg_req_size(b->d);
	struct virtio_scsi_cmd_req_pi *pi = c->req;
	struct virtio_scsi_cmd_req *q = c->req;
	__u8 cdb[VIRTIO_SCSI_CDB_SIZE];
	unsigned int n = 0;
	bool write;
	__u32 xfer;

	fz_cdb(r, cdb, &xfer, &write);
	memset(c->req, 0, VSG_HDR_AREA);
	memset(c->resp, 0xa5, VSG_HDR_AREA);
	if (vsg_has_feature(b->d, VIRTIO_SCSI_F_T10_PI)) {
		fz_lun(r, pi->lun);
		pi->tag = fz_next(r);
		pi->task_attr = fz_below(r, 5);
		memcpy(pi->cdb, cdb, sizeof(cdb));
		if (fz_one_in(r, 4)) {
			pi->pi_bytesout = fz_below(r, 2) ? fz_below(r, 4096) :
							  fz_next(r);
			pi->pi_bytesin = fz_below(r, 2) ? fz_below(r, 4096) :
							 fz_next(r);
		}
	} else {
		fz_lun(r, q->lun);
		q->tag = fz_next(r);
		q->task_attr = fz_below(r, 5);
		memcpy(q->cdb, cdb, sizeof(cdb));
	}
	s[n++] = (struct vsg_seg){ .addr = (uintptr_t)c->req, .len = req };
	if (fz_one_in(r, 5))	/* 8 MiB and more: OVERRUN */
		xfer = fz_below(r, 2) ? fz_below(r, 1 << 17) :
					(8 << 20) + fz_below(r, 2) * 4096;
	/* a well-formed chain stays in guest memory */
	if (!b->structural && xfer > FZ_SCRATCH / 2)
		xfer = FZ_SCRATCH / 2;
	if (write)
		n += fz_data(r, b, s + n, xfer, FZ_SEGS / 2, false);
	s[n++] = (struct vsg_seg){ .addr = (uintptr_t)c->resp,
				   .len = sizeof(struct virtio_scsi_cmd_resp),
				   .flags = VRING_DESC_F_WRITE };
	if (!write)
		n += fz_data(r, b, s + n, xfer, FZ_SEGS / 2, true);
	return n;
}

/* A TMF or an asynchronous-notification request on the control queue. */
static unsigned int fz_ctl_chain(struct fz_rng *r, struct fz_batch *b,
				 struct vsg_cmd *c, struct vsg_seg *s)
{
	struct virtio_scsi_ctrl_tmf_req *t = c->req;
	struct virtio_scsi_ctrl_an_req *a = c->req;
	size_t req, resp;

	memset(c->req, 0, VSG_HDR_AREA);
	memset(c->resp, 0xa5, VSG_HDR_AREA);
	switch (fz_below(r, 4)) {
	case 0: case 1:
		t->type = VIRTIO_SCSI_T_TMF;
		t->subtype = fz_below(r, 6) ? fz_below(r, 8) : fz_next(r);
		fz_lun(r, t->lun);
		t->tag = fz_below(r, 2) ? fz_below(r, 8) : fz_next(r);
		req = sizeof(*t);
		resp = sizeof(struct virtio_scsi_ctrl_tmf_resp);
		break;
	case 2:
		a->type = fz_below(r, 2) ? VIRTIO_SCSI_T_AN_QUERY :
					   VIRTIO_SCSI_T_AN_SUBSCRIBE;
		fz_lun(r, a->lun);
		a->event_requested = fz_next(r);
		req = sizeof(*a);
		resp = sizeof(struct virtio_scsi_ctrl_an_resp);
		break;
	default:
		fz_bytes(r, c->req, 64);
		req = fz_below(r, 64);
		resp = fz_below(r, 16);
		break;
	}
	s[0] = (struct vsg_seg){ .addr = (uintptr_t)c->req, .len = req };
	s[1] = (struct vsg_seg){ .addr = (uintptr_t)c->resp, .len = resp,
				 .flags = VRING_DESC_F_WRITE };
	return 2;
}

/* An event buffer: mostly well formed. */
static unsigned int fz_evt_chain(struct fz_rng *r, struct fz_batch *b,
				 struct vsg_cmd *c, struct vsg_seg *s)
{
	unsigned int n = 1;

	memset(c->resp, 0xa5, VSG_HDR_AREA);
	s[0] = (struct vsg_seg){ .addr = (uintptr_t)c->resp,
				 .len = fz_below(r, 3) ? VSG_EVT_SIZE :
							 fz_below(r, 64),
				 .flags = VRING_DESC_F_WRITE };
	if (fz_one_in(r, 6)) {
		s[1] = (struct vsg_seg){ .addr = fz_addr(r, b, 16), .len = 16,
					 .flags = VRING_DESC_F_WRITE };
		n++;
	}
	return n;
}

/*
 * The device writes wherever the guest points it.  So that a chain can
 * only hurt itself, not the rings and tables of the others: a writable
 * segment in guest memory outside the scratch area stays within its
 * command's header area, and a segment made indirect points to random
 * bytes in the scratch area.
 */
static void fz_contain(struct fz_rng *r, struct fz_batch *b,
		       struct vsg_seg *s, unsigned int n)
{
	__u64 lo = (uintptr_t)b->scratch, hi = lo + FZ_SCRATCH;
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (s[i].flags & VRING_DESC_F_INDIRECT) {
			s[i].len = 16 * (1 + fz_below(r, 8));
			s[i].addr = lo + 16 * fz_below(r, 1024);
			fz_bytes(r, (void *)(uintptr_t)s[i].addr, s[i].len);
		} else if ((s[i].flags & VRING_DESC_F_WRITE) &&
			   vsg_in_arena(b->d, (void *)(uintptr_t)s[i].addr, 1) &&
			   (s[i].addr < lo || s[i].addr >= hi) &&
			   s[i].len > VSG_HDR_AREA) {
			s[i].len = VSG_HDR_AREA;
		} else if ((s[i].flags & VRING_DESC_F_WRITE) &&
			   s[i].addr >= lo && s[i].addr < hi &&
			   s[i].len > hi - s[i].addr) {
			s[i].len = hi - s[i].addr;
		}
	}
}

/* "hdr <16 bytes> segs <len>[w] ... flags <f>" for the log */
static void fz_describe(char *p, size_t len, struct fz_batch *b,
			struct vsg_cmd *c, const struct vsg_seg *s,
			unsigned int n, unsigned int flags)
{
	const __u8 *h = c->req;
	unsigned int i;
	int k;

	k = snprintf(p, len, "hdr");
	for (i = 0; i < 16 && k < (int)len; i++)
		k += snprintf(p + k, len - k, " %02x", h[i]);
	if (c->vq->index >= VSG_VQ_IO && k < (int)len)
		k += snprintf(p + k, len - k, " cdb %02x", h[19 +
			      (vsg_has_feature(b->d, VIRTIO_SCSI_F_T10_PI) ? 8 : 0)]);
	for (i = 0; i < n && k < (int)len; i++)
		k += snprintf(p + k, len - k, " %u%s", s[i].len,
			      s[i].flags & VRING_DESC_F_WRITE ? "w" : "");
	if (k < (int)len)
		snprintf(p + k, len - k, " f%x", flags);
}

/* Builds, mutates and submits one chain on a queue picked at random. */
static void fz_chain(struct fz_rng *r, struct fz_batch *b, struct fz_stats *st)
{
	static const unsigned int pick[] = {
		VSG_VQ_IO, VSG_VQ_IO, VSG_VQ_IO, VSG_VQ_IO, VSG_VQ_CTL,
		VSG_VQ_EVT,
	};
	struct vsg_seg s[FZ_SEGS + 8];
	unsigned int q = pick[fz_below(r, ARRAY_SIZE(pick))];
	struct vsg_vq *vq = &b->d->vqs[q];
	unsigned int n, flags;
	struct vsg_cmd *c;

	c = vsg_cmd_get(vq);
	if (!c)
		return;
	memset(s, 0, sizeof(s));
	if (q == VSG_VQ_IO)
		n = fz_io_chain(r, b, c, s);
	else if (q == VSG_VQ_CTL)
		n = fz_ctl_chain(r, b, c, s);
	else
		n = fz_evt_chain(r, b, c, s);
	flags = fz_mutate(r, b, s, &n);
	fz_contain(r, b, s, n);
	if (fz_one_in(r, 3) && vsg_has_feature(b->d, VIRTIO_RING_F_INDIRECT_DESC))
		flags |= VSG_F_INDIRECT;
	if (fz_below(r, 3))
		flags |= VSG_F_NO_KICK;
	if (vsg_cmd_submit(c, s, n, flags)) {
		vsg_cmd_put(c);
		return;
	}
	b->wlen[b->nr] = flags & VSG_F_RAW ? ~0U : fz_wlen(s, n);
	fz_describe(b->desc[b->nr], sizeof(b->desc[0]), b, c, s, n, flags);
	b->c[b->nr++] = c;
	st->chains++;
}

static void fz_kick_all(struct vsg_dev *d)
{
	unsigned int q;

	for (q = 0; q < d->nr_vqs; q++)
		vsg_vq_kick(&d->vqs[q]);
}

/*
 * Waits until every chain of queue @q is answered or the queue reported
 * a vq error; 0, or -1 with b->what set.
 */
static int fz_settle(struct fz_batch *b, unsigned int q, struct fz_stats *st)
{
	struct vsg_vq *vq = &b->d->vqs[q];
	__u64 end = vsg_now_ms() + FZ_ANSWER_MS;
	unsigned int left = 0, i;

	for (;;) {
		left = 0;
		for (i = 0; i < b->nr; i++)
			left += b->c[i]->vq == vq &&
				b->c[i]->state == VSG_CMD_INFLIGHT;
		if (!left)
			return 0;
		/* vhost does not consume a chain it cannot parse */
		if (b->structural && vsg_vq_errors(vq) > b->err0[q]) {
			st->wedged++;
			return 0;
		}
		if (vsg_now_ms() >= end)
			break;
		/* learns of answers from the call eventfd only */
		vsg_vq_await(vq, vsg_now_ms() + 100);
	}
	vsg_vq_last_look(vq);
	for (i = 0; i < b->nr; i++)
		if (b->c[i]->vq == vq && b->c[i]->state == VSG_CMD_INFLIGHT)
			break;
	snprintf(b->what, sizeof(b->what),
		 "queue %u: %u chains unanswered after %u ms (%s); the first: %s",
		 q, left, FZ_ANSWER_MS, b->structural ? "no vq error" :
		 "every chain was well formed", b->desc[i]);
	return -1;
}

/* The used ring's answers are sane; 0, or -1 with b->what set. */
static int fz_check_answers(struct fz_batch *b, struct fz_stats *st)
{
	struct vsg_vq_stats vs;
	unsigned int i, q;

	for (q = 0; q < b->d->nr_vqs; q++) {
		vsg_vq_stats(&b->d->vqs[q], &vs);
		if (vs.spurious || vs.unsignalled) {
			snprintf(b->what, sizeof(b->what),
				 "queue %u: %llu used entries name no chain in flight, %llu answers not signalled",
				 q, (unsigned long long)vs.spurious,
				 (unsigned long long)vs.unsignalled);
			return -1;
		}
	}
	for (i = 0; i < b->nr; i++) {
		struct vsg_cmd *c = b->c[i];

		if (c->state != VSG_CMD_DONE)
			continue;
		st->answered++;
		if (c->completions != 1 ||
		    (b->wlen[i] != ~0U && c->used_len > b->wlen[i])) {
			snprintf(b->what, sizeof(b->what),
				 "chain %u on queue %u: %u answers, used length %u of %u writable",
				 i, c->vq->index, c->completions, c->used_len,
				 b->wlen[i]);
			return -1;
		}
		if (c->vq->index >= VSG_VQ_IO && c->used_len)
			st->resp[((struct virtio_scsi_cmd_resp *)c->resp)->response]++;
	}
	return 0;
}

/*
 * A READ or WRITE on the clean queue; a unit attention (a fuzzed TMF
 * reset the LUN, a LUN came or went) is retried, as a guest does.
 */
static int fz_rw(struct vsg_vq *vq, bool write, void *buf,
		 struct vsg_scsi_res *r)
{
	unsigned int tries;
	int ret;

	for (tries = 0; tries < 4; tries++) {
		ret = vsg_rw(vq, 1, 0, write, false, 64, 8, buf, 4096, r);
		if (ret || r->response || r->status != SAM_STAT_CHECK_CONDITION ||
		    vsg_sense_key(r) != 6)
			break;
	}
	return ret;
}

/* A pattern written and read back on the queue never fuzzed. */
static int fz_check_clean(struct fz_batch *b, unsigned int batch)
{
	struct vsg_vq *vq = vsg_io_vq(b->d, FZ_NR_IO - 1);
	__u8 *buf = b->clean;	/* no fuzzed chain points here */
	struct vsg_scsi_res r = { 0 };
	int ret;

	vsg_fill(buf, 4096, batch);
	ret = fz_rw(vq, true, buf, &r);
	if (!ret && (r.response || r.status))
		ret = -EIO;
	if (!ret) {
		memset(buf, 0, 4096);
		ret = fz_rw(vq, false, buf, &r);
	}
	if (!ret && (r.response || r.status || vsg_check(buf, 4096, batch) >= 0))
		ret = -EIO;
	if (ret)
		snprintf(b->what, sizeof(b->what),
			 "the clean queue: write/read of a pattern: %s (response %u status %u sense key %d asc %d)",
			 strerror(-ret), r.response, r.status,
			 vsg_sense_key(&r), vsg_sense_asc(&r));
	return ret;
}

static int fz_check_ctl(struct fz_batch *b)
{
	__u8 resp = 0xa5;
	int ret;

	if (b->structural &&
	    vsg_vq_errors(&b->d->vqs[VSG_VQ_CTL]) > b->err0[VSG_VQ_CTL])
		return 0;
	ret = vsg_tmf(b->d, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 1, 0, 0,
		      &resp, FZ_ANSWER_MS);
	if (!ret && vsg_tmf_done(resp))
		return 0;
	snprintf(b->what, sizeof(b->what),
		 "the control queue: LUN RESET: %s, response %u",
		 ret ? strerror(-ret) : "answered", resp);
	return -1;
}

/* Random negotiated features: each batch sees another device. */
static __u64 fz_features(struct fz_rng *r)
{
	__u64 f = BIT_ULL(VIRTIO_F_VERSION_1);

	if (fz_below(r, 4))
		f |= BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC);
	if (fz_below(r, 2))
		f |= BIT_ULL(VIRTIO_RING_F_EVENT_IDX);
	if (fz_below(r, 2))
		f |= BIT_ULL(VIRTIO_SCSI_F_HOTPLUG);
	if (fz_one_in(r, 3))
		f |= BIT_ULL(VIRTIO_SCSI_F_T10_PI);
	return f;
}

/*
 * One round of chains on the batch's device, then the checks: 0, or -1
 * with b->what set.  The round's answered chains go back to their queues;
 * event buffers may stay in flight.
 */
static int fz_round(struct fz_rng *r, struct fz_batch *b,
		    struct vsg_target *t, unsigned int batch,
		    struct fz_stats *st)
{
	unsigned int i, nr = 1 + fz_below(r, FZ_CHAINS);
	/* one round in FZ_FLAP flaps LUN 1 after one of its chains */
	unsigned int flap = fz_one_in(r, FZ_FLAP) ? fz_below(r, nr) : nr;
	int ret;

	b->nr = 0;
	for (i = 0; i < nr; i++) {
		fz_chain(r, b, st);
		if (i == flap && t->linked[1]) {
			vsg_lun_unlink(t, 1);
			vsg_lun_link(t, 1);
		}
	}
	fz_kick_all(b->d);
	ret = fz_settle(b, VSG_VQ_IO, st);
	if (!ret)
		ret = fz_settle(b, VSG_VQ_CTL, st);
	/* event buffers need not be answered: take the signalled ones */
	vsg_vq_await(&b->d->vqs[VSG_VQ_EVT], vsg_now_ms());
	if (!ret)
		ret = fz_check_answers(b, st);
	if (!ret)
		ret = fz_check_clean(b, batch);
	if (!ret)
		ret = fz_check_ctl(b);
	for (i = 0; i < b->nr; i++)
		vsg_cmd_put(b->c[i]);	/* a chain in flight stays */
	st->rounds++;
	return ret;
}

/* A structural round may have stopped a queue: no round after it. */
static bool fz_stopped(struct fz_batch *b)
{
	unsigned int q;

	for (q = 0; b->structural && q < b->d->nr_vqs; q++)
		if (vsg_vq_errors(&b->d->vqs[q]) > b->err0[q])
			return true;
	return false;
}

/*
 * One batch on a device of its own: 0, or -1 with @what set.  @t is the
 * target; LUN 1 is unlinked and linked again in some rounds, so events
 * reach the fuzzed event buffers.  Up to @rounds rounds share the device:
 * its setup and close cost more than a round.
 */
/*
 * VSG_FUZZ_TRACE=1 writes the seed and batch of every batch to the kernel
 * log before it starts: a batch that hangs the kernel (and so the test
 * and its report) can still be named from the console.
 */
static void fz_trace(__u64 seed, unsigned int batch)
{
	static int fd = -2;
	char line[64];
	int n;

	if (fd == -2)
		fd = getenv("VSG_FUZZ_TRACE") ?
		     open("/dev/kmsg", O_WRONLY | O_CLOEXEC) : -1;
	if (fd < 0)
		return;
	n = snprintf(line, sizeof(line), "vsg_fuzz: seed %llu batch %u\n",
		     (unsigned long long)seed, batch);
	if (write(fd, line, n) != n)
		fd = -1;
}

static int fz_batch(struct vsg_target *t, __u64 seed, unsigned int batch,
		    unsigned int rounds, struct fz_stats *st, char *what,
		    size_t len)
{
	/* a batch touches little of its arena: populating it took a third */
	struct vsg_opts o = { .nr_io = FZ_NR_IO, .qsize = 64,
			      .arena = FZ_ARENA, .lazy = true };
	struct fz_batch b = { 0 };
	unsigned int q, round;
	struct fz_rng r;
	__u64 t0;
	int ret;

	fz_trace(seed, batch);
	fz_seed(&r, seed, batch);
	o.features = fz_features(&r);
	b.structural = fz_one_in(&r, 4);
	ret = vsg_open(&o, &b.d);
	if (!ret)
		ret = vsg_set_endpoint(b.d, t->wwpn);
	if (ret) {
		snprintf(what, len, "device setup: %s", strerror(-ret));
		vsg_close(b.d);
		return -1;
	}
	b.scratch = vsg_alloc(b.d, FZ_SCRATCH, 4096);
	b.clean = vsg_alloc(b.d, 4096, 4096);
	if (!b.scratch || !b.clean) {
		snprintf(what, len, "guest memory full");
		vsg_close(b.d);
		return -1;
	}
	for (q = 0; q < b.d->nr_vqs; q++)
		b.err0[q] = vsg_vq_errors(&b.d->vqs[q]);
	for (round = 0; round < rounds && !ret && !fz_stopped(&b); round++)
		ret = fz_round(&r, &b, t, batch, st);
	for (q = 0; q < b.d->nr_vqs; q++)
		st->vq_errors += vsg_vq_errors(&b.d->vqs[q]) > b.err0[q];
	if (ret)
		snprintf(what, len, "round %u: %s", round - 1, b.what);
	t0 = vsg_now_ms();
	vsg_close(b.d);
	if (!ret && vsg_now_ms() - t0 > FZ_CLOSE_MS) {
		snprintf(what, len, "close took %llu ms",
			 (unsigned long long)(vsg_now_ms() - t0));
		ret = -1;
	}
	if (!t->linked[1] && vsg_lun_link(t, 1)) {
		snprintf(what, len, "LUN 1 could not be linked again");
		ret = -1;
	}
	st->batches++;
	return ret;
}

static __u64 fz_env(const char *name, __u64 def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

FIXTURE(fuzz) {
	struct vsg_target t;
	struct fz_stats st;
};

FIXTURE_SETUP(fuzz)
{
	int ret;

	memset(&self->st, 0, sizeof(self->st));
	if (access("/dev/vhost-scsi", R_OK | W_OK))
		SKIP(return, "no /dev/vhost-scsi: load vhost_scsi first");
	ASSERT_EQ(0, vsg_cfs_available()) TH_LOG("no configfs target core");
	ret = vsg_target_setup(&self->t, VSG_BS_RD, 2, VSG_LUN_BYTES);
	ASSERT_EQ(0, ret) TH_LOG("target setup: %s", strerror(-ret));
}

FIXTURE_TEARDOWN(fuzz)
{
	vsg_target_teardown(&self->t);
}

static void fz_report(struct __test_metadata *_metadata, struct fz_stats *st)
{
	TH_LOG("%u batches, %u chains, %u answered, in %u rounds",
	       st->batches, st->chains, st->answered, st->rounds);
	TH_LOG("%u queues with vq errors (%u stopped)", st->vq_errors,
	       st->wedged);
	TH_LOG("responses: OK %u, OVERRUN %u, ABORTED %u, BAD_TARGET %u, RESET %u, BUSY %u",
	       st->resp[VIRTIO_SCSI_S_OK], st->resp[VIRTIO_SCSI_S_OVERRUN],
	       st->resp[VIRTIO_SCSI_S_ABORTED],
	       st->resp[VIRTIO_SCSI_S_BAD_TARGET],
	       st->resp[VIRTIO_SCSI_S_RESET], st->resp[VIRTIO_SCSI_S_BUSY]);
	TH_LOG("responses: TRANSPORT_FAILURE %u, TARGET_FAILURE %u, NEXUS_FAILURE %u, FAILURE %u",
	       st->resp[VIRTIO_SCSI_S_TRANSPORT_FAILURE],
	       st->resp[VIRTIO_SCSI_S_TARGET_FAILURE],
	       st->resp[VIRTIO_SCSI_S_NEXUS_FAILURE],
	       st->resp[VIRTIO_SCSI_S_FAILURE]);
}

/* Batches of mutated chains, bounded in count and time. */
TEST_F_TIMEOUT(fuzz, chains, 3600)
{
	__u64 seed = fz_env("VSG_FUZZ_SEED", getpid() ^ vsg_now_ms());
	unsigned int batches = fz_env("VSG_FUZZ_BATCHES", FZ_BATCHES);
	unsigned int secs = fz_env("VSG_FUZZ_SECONDS", FZ_SECONDS);
	unsigned int rounds = fz_env("VSG_FUZZ_ROUNDS", FZ_ROUNDS);
	unsigned int chains = fz_env("VSG_FUZZ_CHAINS", ~0U);
	unsigned int only = fz_env("VSG_FUZZ_BATCH", ~0U), k;
	__u64 end = vsg_now_ms() + secs * 1000ULL;
	char what[512];

	TH_LOG("seed %llu: up to %u batches of up to %u rounds of up to %u chains,",
	       (unsigned long long)seed, batches, rounds, FZ_CHAINS);
	TH_LOG("up to %u chains and %u s in all", chains, secs);
	for (k = only == ~0U ? 0 : only; k < batches || k == only; k++) {
		if (fz_batch(&self->t, seed, k, rounds, &self->st, what,
			     sizeof(what))) {
			fz_report(_metadata, &self->st);
			TH_LOG("replay: VSG_FUZZ_SEED=%llu VSG_FUZZ_BATCH=%u VSG_FUZZ_ROUNDS=%u",
			       (unsigned long long)seed, k, rounds);
			ASSERT_TRUE(false)
				TH_LOG("seed %llu batch %u: %s",
				       (unsigned long long)seed, k, what);
		}
		if (k == only || vsg_now_ms() >= end ||
		    self->st.chains >= chains)
			break;
	}
	fz_report(_metadata, &self->st);
	EXPECT_LT(0, self->st.answered);
}

/* Seeds and batches that once failed, replayed on every run. */
TEST_F_TIMEOUT(fuzz, regressions, 120)
{
	char path[512], line[128], what[512];
	unsigned int batch, rounds, n = 0;
	unsigned long long seed;
	ssize_t len;
	FILE *f;

	/* beside the binary */
	len = readlink("/proc/self/exe", path, sizeof(path) - 1);
	ASSERT_LT(0, len);
	path[len] = '\0';
	snprintf(strrchr(path, '/') + 1, sizeof(path) - (strrchr(path, '/') + 1 - path),
		 "%s", FZ_REGRESSIONS);
	f = fopen(path, "r");
	ASSERT_NE(NULL, f) TH_LOG("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		rounds = FZ_ROUNDS;
		if (sscanf(line, "%llu %u %u", &seed, &batch, &rounds) < 2)
			continue;
		n++;
		EXPECT_EQ(0, fz_batch(&self->t, seed, batch, rounds, &self->st,
				      what, sizeof(what)))
			TH_LOG("seed %llu batch %u rounds %u: %s", seed, batch,
			       rounds, what);
	}
	fclose(f);
	TH_LOG("%u regressions replayed", n);
}

/* Random ioctl sequences on fresh descriptors, then a device that works. */
#define FZ_SETUP_ROUNDS	200

static void fz_setup_round(struct fz_rng *r, const char *wwpn, void *mem,
			   size_t len)
{
	struct vhost_memory *m = calloc(1, sizeof(*m) + 4 * sizeof(m->regions[0]));
	int fd = open("/dev/vhost-scsi", O_RDWR | O_CLOEXEC);
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	unsigned int i, k, nvq = 2 + 1 + fz_below(r, 3);
	__u64 v;

	if (fd < 0 || !m)
		goto out;
	for (k = 0; k < 24; k++) {
		struct vhost_vring_state vs = { .index = fz_below(r, nvq + 2) };
		struct vhost_vring_file vf = { .index = vs.index };
		struct vhost_vring_addr va = { .index = vs.index };
		struct vhost_scsi_target t = { 0 };

		switch (fz_below(r, 12)) {
		case 0:
			ioctl(fd, VHOST_SET_OWNER);
			break;
		case 1:
			v = fz_below(r, 2) ? fz_next(r) :
			    BIT_ULL(VIRTIO_F_VERSION_1) | (fz_next(r) & 0xf);
			ioctl(fd, VHOST_SET_FEATURES, &v);
			break;
		case 2:
			m->nregions = fz_below(r, 5);
			for (i = 0; i < m->nregions && i < 4; i++) {
				m->regions[i].guest_phys_addr = fz_below(r, 2) ?
					(uintptr_t)mem : fz_next(r);
				m->regions[i].userspace_addr = fz_below(r, 2) ?
					(uintptr_t)mem + fz_below(r, len) :
					fz_next(r);
				m->regions[i].memory_size = fz_below(r, 2) ?
					len : fz_next(r);
			}
			ioctl(fd, VHOST_SET_MEM_TABLE, m);
			break;
		case 3:
			vs.num = fz_below(r, 2) ? 1U << fz_below(r, 16) :
						  fz_next(r);
			ioctl(fd, VHOST_SET_VRING_NUM, &vs);
			break;
		case 4:
			vs.num = fz_next(r);
			ioctl(fd, VHOST_SET_VRING_BASE, &vs);
			break;
		case 5:
			va.desc_user_addr = (uintptr_t)mem + fz_below(r, len);
			va.avail_user_addr = (uintptr_t)mem + fz_below(r, len);
			va.used_user_addr = (uintptr_t)mem + fz_below(r, len);
			if (fz_one_in(r, 4))
				va.used_user_addr = fz_next(r);
			va.flags = fz_one_in(r, 4);
			ioctl(fd, VHOST_SET_VRING_ADDR, &va);
			break;
		case 6:
			vf.fd = fz_below(r, 3) ? efd : fz_below(r, 2) ? -1 : fd;
			ioctl(fd, fz_below(r, 2) ? VHOST_SET_VRING_KICK :
				  VHOST_SET_VRING_CALL, &vf);
			break;
		case 7:
			snprintf(t.vhost_wwpn, sizeof(t.vhost_wwpn), "%s",
				 fz_below(r, 2) ? wwpn : "naa.nothing");
			if (fz_one_in(r, 4))
				fz_bytes(r, &t, sizeof(t));
			ioctl(fd, fz_below(r, 3) ? VHOST_SCSI_SET_ENDPOINT :
				  VHOST_SCSI_CLEAR_ENDPOINT, &t);
			break;
		case 8:
			v = fz_next(r);
			ioctl(fd, fz_below(r, 2) ? VHOST_SCSI_SET_EVENTS_MISSED :
				  VHOST_SCSI_GET_EVENTS_MISSED, &v);
			break;
		case 9:
			ioctl(fd, VHOST_SCSI_GET_ABI_VERSION, &v);
			ioctl(fd, VHOST_GET_FEATURES, &v);
			break;
		case 10:
			v = 1;
			if (write(efd, &v, sizeof(v)) < 0)
				break;
			break;
		default:
			vf.fd = -1;
			ioctl(fd, VHOST_SET_VRING_ERR, &vf);
			break;
		}
	}
out:
	if (fd >= 0)
		close(fd);
	if (efd >= 0)
		close(efd);
	free(m);
}

TEST_F_TIMEOUT(fuzz, ioctls, 180)
{
	__u64 seed = fz_env("VSG_FUZZ_SEED", getpid() ^ vsg_now_ms());
	struct vsg_scsi_res res;
	struct vsg_env e;
	struct fz_rng r;
	size_t len = 1 << 20;
	unsigned int k;
	void *mem;
	int ret;

	TH_LOG("seed %llu: %u rounds of 24 random setup ioctls",
	       (unsigned long long)seed, FZ_SETUP_ROUNDS);
	/* only this mapping is ever named as guest memory */
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	for (k = 0; k < FZ_SETUP_ROUNDS; k++) {
		fz_seed(&r, seed, k);
		fz_setup_round(&r, self->t.wwpn, mem, len);
		if (k % 50 != 49)
			continue;
		/* a device set up right still works */
		memset(&e, 0, sizeof(e));
		ret = vsg_open(NULL, &e.d);
		if (!ret)
			ret = vsg_set_endpoint(e.d, self->t.wwpn);
		if (!ret)
			ret = vsg_tur(vsg_io_vq(e.d, 0), 1, 0, &res);
		EXPECT_EQ(0, ret) TH_LOG("seed %llu round %u: %s",
					 (unsigned long long)seed, k,
					 strerror(-ret));
		if (!ret)
			EXPECT_EQ(VIRTIO_SCSI_S_OK, res.response);
		vsg_close(e.d);
	}
	munmap(mem, len);
}

int main(int argc, char **argv)
{
	return vsg_harness_main(argc, argv);
}
