/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Mediated device core: the interface for parent drivers.
 *
 * Source compatible with the 6.1 <linux/mdev.h>: a parent driver written
 * for 6.1 builds against this header unchanged.  The members marked
 * "core private" are ours; drivers must not touch them.
 *
 * See Documentation/driver-api/vfio-mediated-device-lifecycle.rst.
 */

#ifndef MDEV_H
#define MDEV_H

#include <linux/device.h>
#include <linux/uuid.h>

struct mdev_type;
struct mdev_parent_state;
struct mdev_type_node;

/**
 * struct mdev_device - a mediated device
 * @dev: the device, a direct child of the parent's device
 * @uuid: the UUID it was created with (also its name)
 * @next: entry in the core's UUID list; protected by mdev_list_lock
 * @type: the parent driver's type; valid while the parent is registered
 * @active: set once creation finished, cleared when removal starts;
 *	protected by the parent state's @lock
 * @pstate: core private: the parent's state; the mdev holds a kref on it
 *	from creation until its release, so a late put_device() never
 *	touches freed parent memory
 * @tnode: core private: the type's sysfs node; a kobject reference is
 *	held for the mdev's whole life
 * @sibling: core private: entry in the parent state's child list;
 *	protected by the parent state's @lock
 * @removing: core private: removal claimed; protected by the parent
 *	state's @lock
 */
struct mdev_device {
	struct device dev;
	guid_t uuid;
	struct list_head next;
	struct mdev_type *type;
	bool active;
	struct mdev_parent_state *pstate;
	struct mdev_type_node *tnode;
	struct list_head sibling;
	bool removing;
};

/**
 * struct mdev_type - a type of mdev that a parent offers
 * @sysfs_name: set by the driver: the type directory is <driver>-<sysfs_name>
 * @pretty_name: set by the driver (optional): shown in the name attribute
 * @parent: set by the core at registration, before any sysfs file of the
 *	type exists; drivers may read it (get_available() for instance)
 * @node: core private: the sysfs node of this type while registered
 */
struct mdev_type {
	const char *sysfs_name;
	const char *pretty_name;
	struct mdev_parent *parent;
	struct mdev_type_node *node;
};

/**
 * struct mdev_parent - embedded into the state of a device that hosts mdevs
 * @dev: the parent device
 * @mdev_driver: the mdev driver bound to every mdev of this parent
 * @types: the types offered
 * @nr_types: number of entries in @types
 * @state: core private: reference counted state that outlives this
 *	structure as long as any mdev or sysfs node of the parent exists;
 *	NULL outside mdev_register_parent() .. mdev_unregister_parent()
 */
struct mdev_parent {
	struct device *dev;
	struct mdev_driver *mdev_driver;
	struct mdev_type **types;
	unsigned int nr_types;
	struct mdev_parent_state *state;
};

static inline struct mdev_device *to_mdev_device(struct device *dev)
{
	return container_of(dev, struct mdev_device, dev);
}

/**
 * struct mdev_driver - Mediated device driver
 * @device_api: string to return for the device_api sysfs
 * @max_instances: maximum number of instances per parent (optional)
 * @probe: called when new device created
 * @remove: called when device removed
 * @get_available: Return the max number of instances that can be created
 * @show_description: Print a description of the mtype
 * @driver: device driver structure
 */
struct mdev_driver {
	const char *device_api;
	unsigned int max_instances;
	int (*probe)(struct mdev_device *dev);
	void (*remove)(struct mdev_device *dev);
	unsigned int (*get_available)(struct mdev_type *mtype);
	ssize_t (*show_description)(struct mdev_type *mtype, char *buf);
	struct device_driver driver;
};

int mdev_register_parent(struct mdev_parent *parent, struct device *dev,
			 struct mdev_driver *mdev_driver,
			 struct mdev_type **types, unsigned int nr_types);
void mdev_unregister_parent(struct mdev_parent *parent);

int mdev_register_driver(struct mdev_driver *drv);
void mdev_unregister_driver(struct mdev_driver *drv);

static inline struct device *mdev_dev(struct mdev_device *mdev)
{
	return &mdev->dev;
}

#endif /* MDEV_H */
