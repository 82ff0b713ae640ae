/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Mediated device internal definitions
 *
 * Copyright (c) 2016, NVIDIA CORPORATION. All rights reserved.
 *     Author: Neo Jia <cjia@nvidia.com>
 *             Kirti Wankhede <kwankhede@nvidia.com>
 *
 * The public structures are <linux/mdev.h>'s, field for field and
 * unchanged, so the exported symbols keep the modversions CRCs that parent
 * drivers built against that header expect.  Everything the core needs
 * beyond them lives here, in memory the core owns:
 *
 *  - struct mdev_parent_state, one per registration, found from the
 *    driver's struct mdev_parent through the list of registered parents;
 *  - struct mdev_type_node, the sysfs directory of a type (the kobject in
 *    the driver's struct mdev_type stays unused: its memory is the
 *    driver's and must not carry a lifetime we depend on);
 *  - struct mdev_core_device, which every struct mdev_device is embedded
 *    in (the core allocates all of them).
 *
 * Lifetime and locking, in short (the full rules are in
 * Documentation/driver-api/vfio-mediated-device-lifecycle.rst):
 *
 *  - struct mdev_parent_state is allocated by mdev_register_parent() and
 *    freed when its kref @ref drops to zero.  Holders of @ref: the
 *    registration itself, every type node, every mdev.
 *  - @active counts users that may touch the parent driver's memory
 *    (create, remove and the type attributes' show callbacks in flight)
 *    plus one initial reference owned by the registration.  It is only
 *    taken while @live is set, under @gate_lock.  Unregistration clears
 *    @live, drops the initial reference and waits for @active_done before
 *    it removes anything.
 *  - Lock order: an active reference, then mdev_list_lock or @lock.  The
 *    two mutexes are never held together, and neither is held while
 *    waiting for @active_done.
 */

#ifndef MDEV_PRIVATE_H
#define MDEV_PRIVATE_H

#include <linux/completion.h>
#include <linux/kref.h>
#include <linux/lockdep.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

#include "mdev_compat.h"

struct mdev_type_node;

struct mdev_parent_state {
	/* memory lifetime: registration + each type node + each mdev */
	struct kref ref;
	/* in mdev_parents while registered; protected by mdev_parents_lock */
	struct list_head entry;
	/* the parent device; a device reference is held for our life */
	struct device *dev;
	/*
	 * The driver's structures.  Only dereferenced by a holder of an
	 * @active reference or by the registering and unregistering caller.
	 */
	struct mdev_parent *parent;
	struct mdev_driver *drv;
	/* copy of !drv->get_available, safe to read after unregistration */
	bool counted;
	/* free instances when @counted; atomic, returned on mdev release */
	atomic_t available;

	/* protects @live; taking @active happens under it */
	spinlock_t gate_lock;
	/* the gate: true from registration until unregistration starts */
	bool live;
	/* users in flight + 1 initial reference; see mdev_parent_tryget() */
	refcount_t active;
	/* completed when @active drops to zero */
	struct completion active_done;
#ifdef CONFIG_DEBUG_LOCK_ALLOC
	/* lockdep model of @active: users read-hold it, unregister writes */
	struct lockdep_map active_map;
#endif

	/* protects @children and every child's removing/sibling */
	struct mutex lock;
	/* fully created mdevs that nobody has claimed for removal */
	struct list_head children;

	/*
	 * While unregistration waits: what for (a constant string and the
	 * mdev being removed, if any), and the work that says so every
	 * mdev_unreg_warn_secs.  @waiting_for and @waiting_mdev are
	 * protected by @gate_lock.
	 */
	const char *waiting_for;
	struct mdev_device *waiting_mdev;
	unsigned long unreg_start;
	struct delayed_work unreg_warn;

	/*
	 * "mdev_supported_types" and one node per type: written only by
	 * mdev_types_add() before the gate opens and mdev_types_remove()
	 * after it drained; @nodes[] entries are not valid after that.
	 */
	struct kset *types_kset;
	unsigned int nr_types;
	struct mdev_type_node **nodes;
};

/*
 * The sysfs directory of one type.  Allocated by the core, so a stale
 * mdev never points into the parent driver's memory.  Holds a kref on
 * @ps; every mdev of the type holds a reference on @kobj.
 */
struct mdev_type_node {
	struct kobject kobj;
	/* "devices/": links to the mdevs; removed with the node */
	struct kobject *devices_kobj;
	struct mdev_parent_state *ps;
	/* driver memory: only with an active reference on @ps */
	struct mdev_type *type;
};

/*
 * Every struct mdev_device is the first member of one of these, allocated
 * by mdev_device_alloc(); drivers only ever see the embedded @mdev.
 */
struct mdev_core_device {
	struct mdev_device mdev;
	/* the parent's state; a kref is held from allocation to release */
	struct mdev_parent_state *ps;
	/* the type's sysfs node; a kobject reference is held for life */
	struct mdev_type_node *tnode;
	/* entry in @ps->children while published; protected by @ps->lock */
	struct list_head sibling;
	/* removal claimed (by a user or unregistration); @ps->lock */
	bool removing;
	/* completed when a claimed removal has deleted the device */
	struct completion removed;
};

static inline struct mdev_core_device *to_mdev_core(struct mdev_device *mdev)
{
	return container_of(mdev, struct mdev_core_device, mdev);
}

/* Assert that the caller holds an active reference on @ps. */
static inline void mdev_parent_assert_active(struct mdev_parent_state *ps)
{
#ifdef CONFIG_DEBUG_LOCK_ALLOC
	lockdep_assert(lock_is_held_type(&ps->active_map, 1));
#endif
}

extern MDEV_BUS_TYPE mdev_bus_type;
extern const struct attribute_group *mdev_device_groups[];

bool mdev_parent_tryget(struct mdev_parent_state *ps);
void mdev_parent_put(struct mdev_parent_state *ps);
void mdev_parent_state_put(struct mdev_parent_state *ps);

int mdev_types_add(struct mdev_parent_state *ps);
void mdev_types_remove(struct mdev_parent_state *ps);

int mdev_device_create(struct mdev_type_node *node, const guid_t *uuid);
int mdev_device_remove_begin(struct mdev_core_device *mc);
void mdev_device_remove_end(struct mdev_core_device *mc);

int mdev_links_add(struct mdev_core_device *mc);
void mdev_links_remove(struct mdev_core_device *mc);

#endif /* MDEV_PRIVATE_H */
