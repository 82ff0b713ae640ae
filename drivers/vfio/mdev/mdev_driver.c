// SPDX-License-Identifier: GPL-2.0-only
/*
 * MDEV driver
 *
 * Copyright (c) 2016, NVIDIA CORPORATION. All rights reserved.
 *     Author: Neo Jia <cjia@nvidia.com>
 *             Kirti Wankhede <kwankhede@nvidia.com>
 *
 * The mdev bus and mdev drivers.  <linux/iommu.h> as in 6.1: the
 * definitions it brings into view enter the modversions CRCs of the
 * symbols exported here.
 */

#include <linux/iommu.h>
#include <linux/mdev.h>

#include "mdev_private.h"

static struct mdev_driver *to_mdev_driver(struct device_driver *drv)
{
	return container_of(drv, struct mdev_driver, driver);
}

static int mdev_bus_probe(struct device *dev)
{
	struct mdev_driver *drv = to_mdev_driver(dev->driver);

	return drv->probe ? drv->probe(to_mdev_device(dev)) : 0;
}

static void mdev_bus_remove(struct device *dev)
{
	struct mdev_driver *drv = to_mdev_driver(dev->driver);

	if (drv->remove)
		drv->remove(to_mdev_device(dev));
}

/* mdevs are bound explicitly by the core with device_driver_attach() */
static int mdev_bus_match(struct device *dev,
			  MDEV_MATCH_CONST struct device_driver *drv)
{
	return 0;
}

/*
 * need_parent_lock stays false: unregistration runs under the parent's
 * device lock while it waits for creates in flight, and those attach
 * drivers.
 */
MDEV_BUS_TYPE mdev_bus_type = {
	.name = "mdev",
	.probe = mdev_bus_probe,
	.remove = mdev_bus_remove,
	.match = mdev_bus_match,
};

/**
 * mdev_register_driver - register an mdev driver
 * @drv: the driver; @drv->device_api is required
 *
 * Return: 0 or a negative errno.
 */
int mdev_register_driver(struct mdev_driver *drv)
{
	if (!drv->device_api)
		return -EINVAL;
	drv->driver.bus = &mdev_bus_type;
	return driver_register(&drv->driver);
}
EXPORT_SYMBOL(mdev_register_driver);

/**
 * mdev_unregister_driver - unregister an mdev driver
 * @drv: the driver
 */
void mdev_unregister_driver(struct mdev_driver *drv)
{
	driver_unregister(&drv->driver);
}
EXPORT_SYMBOL(mdev_unregister_driver);
