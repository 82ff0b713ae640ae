/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Open an mdev as a VFIO device: container, group, IOMMU, device fd.
 */
#ifndef VFIO_UTIL_H
#define VFIO_UTIL_H

#include <libgen.h>
#include <sys/ioctl.h>
#include <linux/vfio.h>
#include "mdev_util.h"

struct vfio_handle {
	int container;
	int group;
	int device;
};

static inline void vfio_close(struct vfio_handle *h)
{
	if (h->device >= 0)
		close(h->device);
	if (h->group >= 0)
		close(h->group);
	if (h->container >= 0)
		close(h->container);
	h->device = -1;
	h->group = -1;
	h->container = -1;
}

/* 0 or -errno; on error @h holds no open descriptor. */
static inline int vfio_open_mdev(const char *uuid, struct vfio_handle *h)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char p[PATH_MAX], link[PATH_MAX];
	ssize_t n;
	int ret;

	h->container = -1;
	h->group = -1;
	h->device = -1;
	snprintf(p, sizeof(p), MDEV_DEVS "/%s/iommu_group", uuid);
	n = readlink(p, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = '\0';
	snprintf(p, sizeof(p), "/dev/vfio/%s", basename(link));

	h->container = open("/dev/vfio/vfio", O_RDWR);
	if (h->container < 0)
		goto out_errno;
	if (ioctl(h->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION) {
		ret = -EPROTO;
		goto out_close;
	}
	h->group = open(p, O_RDWR);
	if (h->group < 0)
		goto out_errno;
	if (ioctl(h->group, VFIO_GROUP_GET_STATUS, &status))
		goto out_errno;
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		ret = -EBUSY;
		goto out_close;
	}
	if (ioctl(h->group, VFIO_GROUP_SET_CONTAINER, &h->container))
		goto out_errno;
	if (ioctl(h->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		goto out_errno;
	h->device = ioctl(h->group, VFIO_GROUP_GET_DEVICE_FD, uuid);
	if (h->device < 0)
		goto out_errno;
	return 0;

out_errno:
	ret = -errno;
out_close:
	vfio_close(h);
	return ret;
}

#endif /* VFIO_UTIL_H */
