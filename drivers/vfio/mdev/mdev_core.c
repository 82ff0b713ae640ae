// SPDX-License-Identifier: GPL-2.0-only
/*
 * Mediated device Core Driver
 *
 * Copyright (c) 2016, NVIDIA CORPORATION. All rights reserved.
 *     Author: Neo Jia <cjia@nvidia.com>
 *             Kirti Wankhede <kwankhede@nvidia.com>
 *
 * Parents, their lifetime and the mdev lifecycle.
 *
 * A parent is live between mdev_register_parent() and the start of
 * mdev_unregister_parent().  Creating or removing an mdev needs an active
 * reference on the parent, which can only be taken while it is live.
 * Unregistration closes the gate, waits until every active reference is
 * gone and only then removes children and sysfs nodes, so it never races
 * with a half created or half removed child.  Memory that an mdev may still
 * touch after that (its parent state and type node) is reference counted
 * and owned by the core, not by the parent driver.
 */

#include <linux/delay.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/sysfs.h>
#include <linux/mdev.h>

#include "mdev_private.h"

static struct class_compat *mdev_bus_compat_class;

/* every registered parent's state, to find it from a struct mdev_parent */
static LIST_HEAD(mdev_parents);
/* protects mdev_parents */
static DEFINE_MUTEX(mdev_parents_lock);

static unsigned int mdev_unreg_warn_secs = 10;
module_param_named(unreg_warn_secs, mdev_unreg_warn_secs, uint, 0644);
MODULE_PARM_DESC(unreg_warn_secs,
		 "Seconds between the warnings of an unregistration that waits (0: none)");

/* every mdev from allocation until removal, for UUID uniqueness */
static LIST_HEAD(mdev_list);
/* protects mdev_list */
static DEFINE_MUTEX(mdev_list_lock);

#ifdef CONFIG_DEBUG_LOCK_ALLOC
static struct lock_class_key mdev_active_key;
#endif

static void mdev_parent_state_release(struct kref *ref)
{
	struct mdev_parent_state *ps =
		container_of(ref, struct mdev_parent_state, ref);

	put_device(ps->dev);
	kfree(ps->nodes);
	kfree(ps);
	/*
	 * This may be the last reference on mdev.ko, and the rest of this
	 * function (and of its callers in mdev.ko) still runs after it:
	 * mdev_exit() waits for that with synchronize_rcu_tasks().
	 */
	module_put(THIS_MODULE);
}

/* Drop a memory reference on @ps; may free it. */
void mdev_parent_state_put(struct mdev_parent_state *ps)
{
	kref_put(&ps->ref, mdev_parent_state_release);
}

/**
 * mdev_parent_tryget - take an active reference if the parent is live
 * @ps: parent state
 *
 * Never sleeps, so a sysfs store fails fast with -ENODEV while the
 * parent goes away instead of blocking the removal of its own node.
 *
 * Return: true if the reference was taken.
 */
bool mdev_parent_tryget(struct mdev_parent_state *ps)
{
	bool live;

	spin_lock(&ps->gate_lock);
	live = ps->live;
	if (live)
		refcount_inc(&ps->active);
	spin_unlock(&ps->gate_lock);
#ifdef CONFIG_DEBUG_LOCK_ALLOC
	if (live)
		rwsem_acquire_read(&ps->active_map, 0, 1, _RET_IP_);
#endif
	return live;
}

/* Drop an active reference taken with mdev_parent_tryget(). */
void mdev_parent_put(struct mdev_parent_state *ps)
{
#ifdef CONFIG_DEBUG_LOCK_ALLOC
	rwsem_release(&ps->active_map, _RET_IP_);
#endif
	if (refcount_dec_and_test(&ps->active))
		complete(&ps->active_done);
}

/* Say what unregistration waits for, while it waits (see unreg_warn). */
static void mdev_unreg_set_waiting(struct mdev_parent_state *ps,
				   const char *what, struct mdev_device *mdev)
{
	spin_lock(&ps->gate_lock);
	ps->waiting_for = what;
	ps->waiting_mdev = mdev;
	spin_unlock(&ps->gate_lock);
}

/*
 * Every unreg_warn_secs while unregistration runs: name the parent, how
 * long it has waited and for what, so that an operator sees why an unbind
 * hangs (a removal waits for the VFIO user to close the device).
 */
static void mdev_unreg_warn(struct work_struct *work)
{
	struct mdev_parent_state *ps = container_of(to_delayed_work(work),
						    struct mdev_parent_state,
						    unreg_warn);
	unsigned int secs = READ_ONCE(mdev_unreg_warn_secs);
	unsigned int waited = jiffies_to_msecs(jiffies - ps->unreg_start) / 1000;
	unsigned int users = refcount_read(&ps->active);

	spin_lock(&ps->gate_lock);
	if (ps->waiting_mdev)
		dev_warn(ps->dev,
			 "MDEV: unregistering for %us, waiting for %s %s\n",
			 waited, ps->waiting_for,
			 dev_name(&ps->waiting_mdev->dev));
	else if (users)
		dev_warn(ps->dev,
			 "MDEV: unregistering for %us, waiting for %s (%u)\n",
			 waited, ps->waiting_for, users);
	else
		dev_warn(ps->dev, "MDEV: unregistering for %us, waiting for %s\n",
			 waited, ps->waiting_for);
	spin_unlock(&ps->gate_lock);
	if (secs)
		schedule_delayed_work(&ps->unreg_warn, secs * HZ);
}

/* Close the gate and wait until no create, remove or show is in flight. */
static void mdev_parent_drain(struct mdev_parent_state *ps)
{
	spin_lock(&ps->gate_lock);
	ps->live = false;
	spin_unlock(&ps->gate_lock);

#ifdef CONFIG_DEBUG_LOCK_ALLOC
	rwsem_acquire(&ps->active_map, 0, 0, _RET_IP_);
#endif
	mdev_unreg_set_waiting(ps, "creates, removes and reads of the types in flight",
			       NULL);
	/* the initial reference, owned by the registration */
	if (refcount_dec_and_test(&ps->active))
		complete(&ps->active_done);
	/* uninterruptible, but wakes up for the hung task detector's sake */
	while (!wait_for_completion_timeout(&ps->active_done, 10 * HZ))
		;
#ifdef CONFIG_DEBUG_LOCK_ALLOC
	rwsem_release(&ps->active_map, _RET_IP_);
#endif
}

/*
 * Give back @mc's UUID and instance, once: when the device is deleted (its
 * driver has let go of it), not at its release.  A reference held past the
 * removal (another get_device() user, a delayed kobject release) must not
 * keep the UUID from being created again, nor the instance from counting.
 */
static void mdev_device_unreserve(struct mdev_core_device *mc)
{
	mutex_lock(&mdev_list_lock);
	if (!list_empty(&mc->mdev.next)) {
		list_del_init(&mc->mdev.next);
		if (mc->ps->counted)
			atomic_inc(&mc->ps->available);
	}
	mutex_unlock(&mdev_list_lock);
}

/* Tear down a claimed child; the caller owns its initial reference. */
static void mdev_device_destroy(struct mdev_core_device *mc)
{
	lockdep_assert_not_held(&mc->ps->lock);
	WARN_ON_ONCE(!mc->removing);

	mdev_links_remove(mc);
	device_del(&mc->mdev.dev);
	mdev_device_unreserve(mc);
	dev_dbg(&mc->mdev.dev, "removed\n");
	/* a second writer of "remove" waits for this (see remove_store) */
	complete_all(&mc->removed);
	/* Balances device_initialize() */
	put_device(&mc->mdev.dev);
}

/* Take a live child off its parent's list: the caller now removes it. */
static void mdev_device_claim(struct mdev_core_device *mc)
{
	lockdep_assert_held(&mc->ps->lock);
	list_del_init(&mc->sibling);
	mc->mdev.active = false;
	mc->removing = true;
}

static void mdev_remove_children(struct mdev_parent_state *ps)
{
	struct mdev_core_device *mc;

	/* Only after mdev_parent_drain(): no create or remove in flight. */
	WARN_ON_ONCE(refcount_read(&ps->active));
	mutex_lock(&ps->lock);
	while ((mc = list_first_entry_or_null(&ps->children,
					      struct mdev_core_device,
					      sibling))) {
		mdev_device_claim(mc);
		mutex_unlock(&ps->lock);
		/* the warning work names it: keep it until it is unnamed */
		get_device(&mc->mdev.dev);
		mdev_unreg_set_waiting(ps, "the driver to remove mdev",
				       &mc->mdev);
		mdev_device_destroy(mc);
		mdev_unreg_set_waiting(ps, "the removal of the type directories",
				       NULL);
		put_device(&mc->mdev.dev);
		mutex_lock(&ps->lock);
	}
	mutex_unlock(&ps->lock);
}

static void mdev_parent_uevent(struct device *dev, const char *state)
{
	char env[32];
	char *envp[2];

	snprintf(env, sizeof(env), "MDEV_STATE=%s", state);
	envp[0] = env;
	envp[1] = NULL;
	kobject_uevent_env(&dev->kobj, KOBJ_CHANGE, envp);
}

static struct mdev_parent_state *mdev_parent_state_alloc(struct device *dev,
							 struct mdev_driver *drv,
							 unsigned int nr_types)
{
	struct mdev_parent_state *ps;

	ps = kzalloc(sizeof(*ps), GFP_KERNEL);
	if (!ps)
		return NULL;
	ps->nodes = kcalloc(nr_types, sizeof(*ps->nodes), GFP_KERNEL);
	if (!ps->nodes) {
		kfree(ps);
		return NULL;
	}
	kref_init(&ps->ref);
	ps->dev = get_device(dev);
	ps->drv = drv;
	ps->counted = !drv->get_available;
	atomic_set(&ps->available, min_t(unsigned int, drv->max_instances,
					 INT_MAX));
	spin_lock_init(&ps->gate_lock);
	refcount_set(&ps->active, 1);
	init_completion(&ps->active_done);
#ifdef CONFIG_DEBUG_LOCK_ALLOC
	lockdep_init_map(&ps->active_map, "mdev_parent_active",
			 &mdev_active_key, 0);
#endif
	mutex_init(&ps->lock);
	INIT_LIST_HEAD(&ps->children);
	INIT_LIST_HEAD(&ps->entry);
	INIT_DELAYED_WORK(&ps->unreg_warn, mdev_unreg_warn);
	ps->nr_types = nr_types;
	__module_get(THIS_MODULE);
	return ps;
}

/* The state of @parent if it is registered. */
static struct mdev_parent_state *mdev_parent_find(struct mdev_parent *parent)
{
	struct mdev_parent_state *ps;

	lockdep_assert_held(&mdev_parents_lock);
	list_for_each_entry(ps, &mdev_parents, entry)
		if (ps->parent == parent)
			return ps;
	return NULL;
}

/**
 * mdev_register_parent - register a device as parent for mdevs
 * @parent: parent structure, embedded in the driver's device state
 * @dev: the parent device
 * @mdev_driver: driver bound to every mdev created on this parent
 * @types: array of supported mdev types
 * @nr_types: number of entries in @types
 *
 * The caller holds a reference on @dev until mdev_unregister_parent()
 * returned.  @parent and @types must stay valid until then too; after
 * that the core no longer touches them.
 *
 * Return: 0 or a negative errno.
 */
int mdev_register_parent(struct mdev_parent *parent, struct device *dev,
			 struct mdev_driver *mdev_driver,
			 struct mdev_type **types, unsigned int nr_types)
{
	struct mdev_parent_state *ps;
	int ret;

	if (!mdev_driver->device_api || !nr_types)
		return -EINVAL;

	mutex_lock(&mdev_parents_lock);
	ps = mdev_parent_find(parent);
	mutex_unlock(&mdev_parents_lock);
	if (ps) {
		dev_err(dev, "MDEV: parent %p registered twice, by %pS\n",
			parent, __builtin_return_address(0));
		return -EBUSY;
	}

	memset(parent, 0, sizeof(*parent));
	/* as 6.1 does; the core itself uses neither */
	init_rwsem(&parent->unreg_sem);
	atomic_set(&parent->available_instances, mdev_driver->max_instances);
	ps = mdev_parent_state_alloc(dev, mdev_driver, nr_types);
	if (!ps)
		return -ENOMEM;
	parent->dev = dev;
	parent->mdev_driver = mdev_driver;
	parent->types = types;
	parent->nr_types = nr_types;
	ps->parent = parent;

	ret = mdev_types_add(ps);
	if (ret)
		goto out_put_state;
	parent->mdev_types_kset = ps->types_kset;

	mutex_lock(&mdev_parents_lock);
	list_add(&ps->entry, &mdev_parents);
	mutex_unlock(&mdev_parents_lock);

	ret = class_compat_create_link(mdev_bus_compat_class, dev, NULL);
	if (ret)
		dev_warn(dev, "Failed to create compatibility class link\n");

	/* open the gate only once everything is in place */
	spin_lock(&ps->gate_lock);
	ps->live = true;
	spin_unlock(&ps->gate_lock);

	dev_info(dev, "MDEV: Registered\n");
	mdev_parent_uevent(dev, "registered");
	return 0;

out_put_state:
	mdev_parent_state_put(ps);
	return ret;
}
EXPORT_SYMBOL(mdev_register_parent);

/**
 * mdev_unregister_parent - unregister a parent
 * @parent: parent structure passed to mdev_register_parent()
 *
 * Fails every new create and remove with -ENODEV, waits for those in
 * flight, removes every child (waiting for its driver's remove, which for
 * VFIO waits for open file descriptors) and the sysfs files.  When this
 * returns the core no longer references @parent, its types or its driver.
 *
 * Must not be called from an mdev sysfs callback of the same parent.
 */
void mdev_unregister_parent(struct mdev_parent *parent)
{
	struct mdev_parent_state *ps;
	struct device *dev;
	unsigned int secs;

	/* Taken off the list here: a second call finds nothing. */
	mutex_lock(&mdev_parents_lock);
	ps = mdev_parent_find(parent);
	if (ps)
		list_del_init(&ps->entry);
	mutex_unlock(&mdev_parents_lock);
	/* a parent driver's bug: never registered, or unregistered twice */
	if (WARN(!ps, "mdev: unregistering parent %p that is not registered\n",
		 parent))
		return;
	dev = ps->dev;

	dev_info(dev, "MDEV: Unregistering\n");
	ps->unreg_start = jiffies;
	secs = READ_ONCE(mdev_unreg_warn_secs);
	if (secs)
		schedule_delayed_work(&ps->unreg_warn, secs * HZ);

	mdev_parent_drain(ps);
	class_compat_remove_link(mdev_bus_compat_class, dev, NULL);
	mdev_remove_children(ps);
	mdev_types_remove(ps);
	cancel_delayed_work_sync(&ps->unreg_warn);

	parent->mdev_types_kset = NULL;
	mdev_parent_uevent(dev, "unregistered");
	/* the registration's reference; mdevs still alive keep their own */
	mdev_parent_state_put(ps);
}
EXPORT_SYMBOL(mdev_unregister_parent);

static void mdev_device_release(struct device *dev)
{
	struct mdev_core_device *mc = to_mdev_core(to_mdev_device(dev));
	struct mdev_parent_state *ps = mc->ps;

	/* every path that deletes or abandons the device unreserved it */
	if (WARN_ON_ONCE(!list_empty(&mc->mdev.next)))
		mdev_device_unreserve(mc);
	dev_dbg(dev, "released\n");
	/* Pairs with the gets in mdev_device_alloc() */
	kobject_put(&mc->tnode->kobj);
	kfree(mc);
	/* Last: the final put drops the module reference of @ps. */
	mdev_parent_state_put(ps);
}

static bool mdev_uuid_in_use(const guid_t *uuid)
{
	struct mdev_device *tmp;

	lockdep_assert_held(&mdev_list_lock);
	list_for_each_entry(tmp, &mdev_list, next)
		if (guid_equal(&tmp->uuid, uuid))
			return true;
	return false;
}

/*
 * Reserve @uuid and an instance and allocate the mdev.  Called with an
 * active reference on the parent.
 */
static struct mdev_core_device *
mdev_device_alloc(struct mdev_type_node *node, const guid_t *uuid)
{
	struct mdev_parent_state *ps = node->ps;
	struct mdev_core_device *mc;
	struct mdev_device *mdev;
	int ret;

	mdev_parent_assert_active(ps);
	mutex_lock(&mdev_list_lock);
	if (mdev_uuid_in_use(uuid)) {
		ret = -EEXIST;
		goto out_unlock;
	}
	if (ps->counted && atomic_dec_if_positive(&ps->available) < 0) {
		ret = -EUSERS;
		goto out_unlock;
	}
	mc = kzalloc(sizeof(*mc), GFP_KERNEL);
	if (!mc) {
		ret = -ENOMEM;
		goto out_return_instance;
	}
	mdev = &mc->mdev;

	device_initialize(&mdev->dev);
	mdev->dev.parent = ps->dev;
	mdev->dev.bus = &mdev_bus_type;
	mdev->dev.release = mdev_device_release;
	mdev->dev.groups = mdev_device_groups;
	mdev->type = node->type;
	mc->ps = ps;
	mc->tnode = node;
	INIT_LIST_HEAD(&mc->sibling);
	init_completion(&mc->removed);
	/* Pairs with the puts in mdev_device_release() */
	kref_get(&ps->ref);
	kobject_get(&node->kobj);
	guid_copy(&mdev->uuid, uuid);
	list_add(&mdev->next, &mdev_list);
	mutex_unlock(&mdev_list_lock);
	return mc;

out_return_instance:
	if (ps->counted)
		atomic_inc(&ps->available);
out_unlock:
	mutex_unlock(&mdev_list_lock);
	return ERR_PTR(ret);
}

/* Make a fully created child visible to remove and unregistration. */
static void mdev_device_publish(struct mdev_core_device *mc)
{
	lockdep_assert_held(&mc->ps->lock);
	mc->mdev.active = true;
	list_add_tail(&mc->sibling, &mc->ps->children);
}

static int mdev_device_add(struct mdev_core_device *mc)
{
	struct mdev_parent_state *ps = mc->ps;
	struct mdev_device *mdev = &mc->mdev;
	int ret;

	mdev_parent_assert_active(ps);
	ret = dev_set_name(&mdev->dev, "%pUl", &mdev->uuid);
	if (ret)
		return ret;

	/*
	 * No KOBJ_ADD (nor KOBJ_BIND) yet: udev and mdevctl must see the
	 * device only once it is bound and has its mdev_type link.
	 */
	dev_set_uevent_suppress(&mdev->dev, 1);
	ret = device_add(&mdev->dev);
	if (ret)
		return ret;

	ret = device_driver_attach(&ps->drv->driver, &mdev->dev);
	if (ret)
		goto out_del;

	ret = mdev_links_add(mc);
	if (ret)
		goto out_del;

	dev_set_uevent_suppress(&mdev->dev, 0);
	kobject_uevent(&mdev->dev.kobj, KOBJ_ADD);
	/* Once published a remove may free @mdev: log before that. */
	dev_dbg(&mdev->dev, "created\n");
	mutex_lock(&ps->lock);
	mdev_device_publish(mc);
	mutex_unlock(&ps->lock);
	return 0;

out_del:
	/* nobody was told of the device: no KOBJ_REMOVE either */
	device_del(&mdev->dev);
	return ret;
}

/**
 * mdev_device_create - create an mdev of a type
 * @node: the type's node
 * @uuid: the UUID of the new mdev
 *
 * Return: 0, -ENODEV if the parent is going away, -EEXIST if @uuid is in
 * use, -EUSERS if no instance is left, or the driver's probe error.
 */
int mdev_device_create(struct mdev_type_node *node, const guid_t *uuid)
{
	struct mdev_parent_state *ps = node->ps;
	struct mdev_core_device *mc;
	int ret;

	if (!mdev_parent_tryget(ps))
		return -ENODEV;

	mc = mdev_device_alloc(node, uuid);
	if (IS_ERR(mc)) {
		ret = PTR_ERR(mc);
		goto out_put_parent;
	}

	ret = mdev_device_add(mc);
	if (ret) {
		mdev_device_unreserve(mc);
		put_device(&mc->mdev.dev);
	}

out_put_parent:
	mdev_parent_put(ps);
	return ret;
}

/**
 * mdev_device_remove_begin - claim an mdev for removal by the user
 * @mc: the mdev
 *
 * On success the caller holds an active reference on the parent and owns
 * the removal; it must call mdev_device_remove_end().
 *
 * Return: 0, -ENODEV if the parent is going away, -EBUSY if another user
 * remove owns the removal (@mc->removed completes when it is done),
 * -EAGAIN if its creation has not finished yet.
 */
int mdev_device_remove_begin(struct mdev_core_device *mc)
{
	struct mdev_parent_state *ps = mc->ps;
	int ret = 0;

	if (!mdev_parent_tryget(ps))
		return -ENODEV;

	mutex_lock(&ps->lock);
	/*
	 * With an active reference held, unregistration has not started to
	 * remove children: only a user remove can have claimed this one.
	 */
	if (mc->removing)
		ret = -EBUSY;
	else if (!mc->mdev.active)
		ret = -EAGAIN;
	else
		mdev_device_claim(mc);
	mutex_unlock(&ps->lock);

	if (ret)
		mdev_parent_put(ps);
	return ret;
}

/**
 * mdev_device_remove_end - finish a removal claimed by remove_begin
 * @mc: the mdev; may be freed when this returns
 */
void mdev_device_remove_end(struct mdev_core_device *mc)
{
	struct mdev_parent_state *ps = mc->ps;

	mdev_parent_assert_active(ps);
	mdev_device_destroy(mc);
	mdev_parent_put(ps);
}

static int __init mdev_init(void)
{
	int ret;

	ret = bus_register(&mdev_bus_type);
	if (ret)
		return ret;

	mdev_bus_compat_class = class_compat_register("mdev_bus");
	if (!mdev_bus_compat_class) {
		bus_unregister(&mdev_bus_type);
		return -ENOMEM;
	}
	return 0;
}

/*
 * On 6.1 bus_unregister() drops the last reference to the bus's private
 * kobject, and its release, bus_release(), ends by clearing
 * mdev_bus_type.p: a write to this module's memory.  It normally runs
 * before bus_unregister() returns; with CONFIG_DEBUG_KOBJECT_RELEASE it
 * runs seconds later from a workqueue, and wrote to freed module memory
 * once (caught by KASAN).  Nothing signals that release but the write
 * itself, so wait for it (mdev_bus_released()).
 */
static void mdev_bus_wait_released(void)
{
	unsigned int ms = 0;

	while (!mdev_bus_released(&mdev_bus_type)) {
		if (ms == 10000)
			pr_warn("mdev: waiting for the release of the mdev bus\n");
		msleep(20);
		ms += 20;
	}
}

static void __exit mdev_exit(void)
{
	class_compat_unregister(mdev_bus_compat_class);
	bus_unregister(&mdev_bus_type);
	mdev_bus_wait_released();
	/*
	 * The last module reference may have been dropped by a release
	 * function of ours (mdev_parent_state_release(), from a late
	 * put_device() of an mdev or a delayed kobject release) that has not
	 * returned yet: wait until every task has left such code, as for a
	 * trampoline, before the module's memory goes.
	 */
	synchronize_rcu_tasks();
}

module_init(mdev_init);
module_exit(mdev_exit);

MODULE_LICENSE("GPL v2");
MODULE_DESCRIPTION("Mediated device core with reference counted parents");
