// SPDX-License-Identifier: GPL-2.0
/*
 * vsg - userspace virtio-scsi guest over /dev/vhost-scsi: device, memory
 * arena and split virtqueues.  See vsg.h for the locking rules.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/vhost.h>

#include "vsg.h"

/* 6.5+ uapi, for older uapi headers (6.1's): a worker per vq. */
#ifndef VHOST_NEW_WORKER
struct vhost_worker_state {
	unsigned int worker_id;
};

struct vhost_vring_worker {
	unsigned int index;
	unsigned int worker_id;
};

#define VHOST_NEW_WORKER _IOR(VHOST_VIRTIO, 0x8, struct vhost_worker_state)
#define VHOST_ATTACH_VRING_WORKER \
	_IOW(VHOST_VIRTIO, 0x15, struct vhost_vring_worker)
#define VHOST_GET_VRING_WORKER \
	_IOWR(VHOST_VIRTIO, 0x16, struct vhost_vring_worker)
#endif

__u64 vsg_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *vsg_flavour(void)
{
	const char *f = getenv("VSG_FLAVOUR");

	return f && *f ? f : "ours";
}

/*
 * VSG_FLAVOUR=stock: the driver under test is a kernel's own from before
 * this rework (6.1's), run for comparison; tests of its known defects
 * skip unless VSG_STOCK_UNSAFE is set.
 */
bool vsg_flavour_stock(void)
{
	return !strcmp(vsg_flavour(), "stock");
}

bool vsg_has_feature(struct vsg_dev *d, unsigned int bit)
{
	return !!(d->features & (1ULL << bit));
}

/*
 * Bump allocator: the arena is never freed piecemeal, only with the dev,
 * so what it hands out is zero (a fresh anonymous mapping) and untouched:
 * no memset, which would also fault in a lazy arena's pages.
 */
void *vsg_alloc(struct vsg_dev *d, size_t size, size_t align)
{
	size_t off;
	void *p = NULL;

	if (!align)
		align = 16;
	pthread_mutex_lock(&d->arena_lock);
	off = (d->used + align - 1) & ~(align - 1);
	if (off + size <= d->size) {
		p = (char *)d->base + off;
		d->used = off + size;
	}
	pthread_mutex_unlock(&d->arena_lock);
	return p;
}

bool vsg_in_arena(struct vsg_dev *d, const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p, b = (uintptr_t)d->base;

	return a >= b && a + len <= b + d->size && a + len >= a;
}

struct vsg_vq *vsg_io_vq(struct vsg_dev *d, unsigned int n)
{
	if (VSG_VQ_IO + n >= d->nr_vqs)
		return NULL;
	return &d->vqs[VSG_VQ_IO + n];
}

static int vsg_ioctl(struct vsg_dev *d, unsigned long req, void *arg)
{
	return ioctl(d->fd, req, arg) < 0 ? -errno : 0;
}

static int vsg_vq_pool_init(struct vsg_dev *d, struct vsg_vq *vq)
{
	unsigned int i;

	vq->by_head = calloc(vq->num, sizeof(*vq->by_head));
	vq->cmds = calloc(vq->pool, sizeof(*vq->cmds));
	vq->free_cmds = calloc(vq->pool, sizeof(*vq->free_cmds));
	if (!vq->by_head || !vq->cmds || !vq->free_cmds)
		return -ENOMEM;
	for (i = 0; i < vq->pool; i++) {
		struct vsg_cmd *c = &vq->cmds[i];

		c->vq = vq;
		c->req = vsg_alloc(d, VSG_HDR_AREA, 64);
		c->resp = vsg_alloc(d, VSG_HDR_AREA, 64);
		c->indir = vsg_alloc(d, VSG_INDIRECT_MAX * sizeof(*c->indir),
				     16);
		c->ids = calloc(vq->num, sizeof(*c->ids));
		if (!c->req || !c->resp || !c->indir || !c->ids)
			return -ENOMEM;
		c->tag = i;
		vq->free_cmds[vq->pool - 1 - i] = c;
	}
	vq->nr_free_cmds = vq->pool;
	for (i = 0; i < vq->num; i++)
		vq->desc[i].next = i + 1;
	vq->free_head = 0;
	vq->nr_free = vq->num;
	return 0;
}

static int vsg_vq_files(struct vsg_dev *d, struct vsg_vq *vq, bool err_fd)
{
	struct vhost_vring_file f = { .index = vq->index };
	int ret;

	vq->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	vq->call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	vq->err_fd = err_fd ? eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) : -1;
	if (vq->kick_fd < 0 || vq->call_fd < 0 || (err_fd && vq->err_fd < 0))
		return -errno;
	f.fd = vq->kick_fd;
	ret = vsg_ioctl(d, VHOST_SET_VRING_KICK, &f);
	if (ret)
		return ret;
	f.fd = vq->call_fd;
	ret = vsg_ioctl(d, VHOST_SET_VRING_CALL, &f);
	if (ret || !err_fd)
		return ret;
	f.fd = vq->err_fd;
	return vsg_ioctl(d, VHOST_SET_VRING_ERR, &f);
}

static int vsg_vq_init(struct vsg_dev *d, unsigned int idx,
		       unsigned int num, unsigned int pool, bool err_fd)
{
	struct vsg_vq *vq = &d->vqs[idx];
	struct vhost_vring_state st = { .index = idx };
	struct vhost_vring_addr addr = { .index = idx };
	int ret;

	vq->dev = d;
	vq->index = idx;
	vq->num = num;
	vq->pool = pool < num ? pool : num;
	vq->kick_fd = -1;
	vq->call_fd = -1;
	vq->err_fd = -1;
	pthread_mutex_init(&vq->lock, NULL);
	vq->desc = vsg_alloc(d, num * sizeof(struct vring_desc), 4096);
	vq->avail = vsg_alloc(d, 6 + num * 2, 4096);
	vq->used = vsg_alloc(d, 6 + num * sizeof(struct vring_used_elem),
			     4096);
	if (!vq->desc || !vq->avail || !vq->used)
		return -ENOMEM;
	ret = vsg_vq_pool_init(d, vq);
	if (ret)
		return ret;

	st.num = num;
	ret = vsg_ioctl(d, VHOST_SET_VRING_NUM, &st);
	if (ret)
		return ret;
	st.num = 0;
	ret = vsg_ioctl(d, VHOST_SET_VRING_BASE, &st);
	if (ret)
		return ret;
	addr.desc_user_addr = (uintptr_t)vq->desc;
	addr.avail_user_addr = (uintptr_t)vq->avail;
	addr.used_user_addr = (uintptr_t)vq->used;
	ret = vsg_ioctl(d, VHOST_SET_VRING_ADDR, &addr);
	if (ret)
		return ret;
	return vsg_vq_files(d, vq, err_fd);
}

static int vsg_mem_table(struct vsg_dev *d)
{
	struct vhost_memory *mem;
	int ret;

	mem = calloc(1, sizeof(*mem) + sizeof(mem->regions[0]));
	if (!mem)
		return -ENOMEM;
	mem->nregions = 1;
	mem->regions[0].guest_phys_addr = (uintptr_t)d->base;
	mem->regions[0].userspace_addr = (uintptr_t)d->base;
	mem->regions[0].memory_size = d->size;
	ret = vsg_ioctl(d, VHOST_SET_MEM_TABLE, mem);
	free(mem);
	return ret;
}

static int vsg_negotiate(struct vsg_dev *d, const struct vsg_opts *o)
{
	__u64 want = o->features;
	int abi = 0, ret;

	ret = vsg_ioctl(d, VHOST_SET_OWNER, NULL);
	if (ret)
		return ret;
	ret = vsg_ioctl(d, VHOST_SCSI_GET_ABI_VERSION, &abi);
	if (ret)
		return ret;
	if (abi != VHOST_SCSI_ABI_VERSION)
		return -EPROTO;
	ret = vsg_ioctl(d, VHOST_GET_FEATURES, &d->offered);
	if (ret)
		return ret;
	if (!want)
		want = VSG_FEATURES_DEFAULT;
	ret = vsg_ioctl(d, VHOST_SET_FEATURES, &want);
	if (ret)
		return ret;
	d->features = want;
	return 0;
}

/*
 * VSG_WORKERS=vq: a vhost worker of its own for every vq, attached before
 * the rings are set up, as QEMU does with worker_per_virtqueue (6.5+
 * vhost cores).  Unset or "dev": the device's one worker.  Each vq must
 * then report the worker it was given.
 */
static int vsg_workers(struct vsg_dev *d)
{
	const char *mode = getenv("VSG_WORKERS");
	struct vhost_worker_state ws;
	struct vhost_vring_worker vw;
	unsigned int i;
	int ret;

	if (!mode || !*mode || !strcmp(mode, "dev"))
		return 0;
	if (strcmp(mode, "vq"))
		return -EINVAL;
	for (i = 0; i < d->nr_vqs; i++) {
		memset(&ws, 0, sizeof(ws));
		ret = vsg_ioctl(d, VHOST_NEW_WORKER, &ws);
		if (ret)
			return ret;
		vw.index = i;
		vw.worker_id = ws.worker_id;
		ret = vsg_ioctl(d, VHOST_ATTACH_VRING_WORKER, &vw);
		if (ret)
			return ret;
		vw.worker_id = ~0U;
		ret = vsg_ioctl(d, VHOST_GET_VRING_WORKER, &vw);
		if (ret)
			return ret;
		if (vw.worker_id != ws.worker_id)
			return -EPROTO;
	}
	return 0;
}

static int vsg_open_dev(struct vsg_dev *d, const struct vsg_opts *o)
{
	unsigned int i, qsize = o->qsize ? o->qsize : 128;
	int ret;

	d->fd = open(o->path ? o->path : "/dev/vhost-scsi", O_RDWR | O_CLOEXEC);
	if (d->fd < 0)
		return -errno;
	ret = vsg_negotiate(d, o);
	if (ret)
		return ret;
	ret = vsg_workers(d);
	if (ret)
		return ret;
	d->size = o->arena ? (o->arena + 4095) & ~4095UL : 16UL << 20;
	d->base = mmap(NULL, d->size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS |
		       (o->lazy ? 0 : MAP_POPULATE), -1, 0);
	if (d->base == MAP_FAILED) {
		d->base = NULL;
		return -ENOMEM;
	}
	ret = vsg_mem_table(d);
	if (ret)
		return ret;
	for (i = 0; i < d->nr_vqs; i++) {
		ret = vsg_vq_init(d, i, qsize, o->pool ? o->pool : 256,
				  !o->no_err_fd);
		if (ret)
			return ret;
	}
	return 0;
}

int vsg_open(const struct vsg_opts *opts, struct vsg_dev **out)
{
	struct vsg_opts def = { 0 };
	struct vsg_dev *d;
	unsigned int nr_io;
	int ret;

	if (!opts)
		opts = &def;
	nr_io = opts->nr_io ? opts->nr_io : 1;
	if (nr_io > VSG_MAX_IO_VQS ||
	    (opts->qsize & (opts->qsize - 1)) || opts->qsize > 32768)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->fd = -1;
	d->nr_vqs = VSG_VQ_IO + nr_io;
	pthread_mutex_init(&d->arena_lock, NULL);
	ret = vsg_open_dev(d, opts);
	if (ret) {
		vsg_close(d);
		return ret;
	}
	*out = d;
	return 0;
}

static void vsg_vq_free(struct vsg_vq *vq)
{
	unsigned int i;

	if (vq->kick_fd >= 0)
		close(vq->kick_fd);
	if (vq->call_fd >= 0)
		close(vq->call_fd);
	if (vq->err_fd >= 0)
		close(vq->err_fd);
	if (vq->cmds)
		for (i = 0; i < vq->pool; i++)
			free(vq->cmds[i].ids);
	free(vq->cmds);
	free(vq->free_cmds);
	free(vq->by_head);
}

/* Closing the fd makes the device clear its endpoint and stop. */
void vsg_close(struct vsg_dev *d)
{
	unsigned int i;

	if (!d)
		return;
	if (d->fd >= 0)
		close(d->fd);
	for (i = 0; i < d->nr_vqs; i++)
		if (d->vqs[i].dev)
			vsg_vq_free(&d->vqs[i]);
	if (d->base)
		munmap(d->base, d->size);
	free(d);
}

static int vsg_endpoint(struct vsg_dev *d, unsigned long req,
			const char *wwpn)
{
	struct vhost_scsi_target t;

	memset(&t, 0, sizeof(t));
	if (strlen(wwpn) >= sizeof(t.vhost_wwpn))
		return -ENAMETOOLONG;
	snprintf(t.vhost_wwpn, sizeof(t.vhost_wwpn), "%s", wwpn);
	return vsg_ioctl(d, req, &t);
}

int vsg_set_endpoint(struct vsg_dev *d, const char *wwpn)
{
	int ret = vsg_endpoint(d, VHOST_SCSI_SET_ENDPOINT, wwpn);

	if (!ret)
		snprintf(d->wwpn, sizeof(d->wwpn), "%s", wwpn);
	return ret;
}

int vsg_clear_endpoint(struct vsg_dev *d, const char *wwpn)
{
	int ret = vsg_endpoint(d, VHOST_SCSI_CLEAR_ENDPOINT, wwpn);

	if (!ret)
		d->wwpn[0] = '\0';
	return ret;
}

int vsg_get_events_missed(struct vsg_dev *d, __u32 *missed)
{
	return vsg_ioctl(d, VHOST_SCSI_GET_EVENTS_MISSED, missed);
}

int vsg_set_events_missed(struct vsg_dev *d, __u32 missed)
{
	return vsg_ioctl(d, VHOST_SCSI_SET_EVENTS_MISSED, &missed);
}
