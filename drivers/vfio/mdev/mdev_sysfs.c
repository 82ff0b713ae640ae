// SPDX-License-Identifier: GPL-2.0-only
/*
 * File attributes for Mediated devices
 *
 * Copyright (c) 2016, NVIDIA CORPORATION. All rights reserved.
 *     Author: Neo Jia <cjia@nvidia.com>
 *             Kirti Wankhede <kwankhede@nvidia.com>
 *
 * <parent>/mdev_supported_types/<driver>-<type>/
 *	create, name, description, device_api, available_instances, devices/
 * /sys/bus/mdev/devices/<uuid>/{remove,mdev_type}
 *
 * No callback here ever sleeps on something unregistration holds: create,
 * remove and every type attribute's show take an active reference with
 * mdev_parent_tryget(), which fails fast with -ENODEV once unregistration
 * has started, so none of them calls into the parent driver after that.
 */

#include <linux/ctype.h>
#include <linux/mdev.h>
#include <linux/slab.h>
#include <linux/sysfs.h>

#include "mdev_private.h"

struct mdev_type_attr {
	struct attribute attr;
	ssize_t (*show)(struct mdev_type_node *node, char *buf);
	ssize_t (*store)(struct mdev_type_node *node, const char *buf,
			 size_t count);
};

#define to_type_node(k)	container_of(k, struct mdev_type_node, kobj)
#define to_type_attr(a)	container_of(a, struct mdev_type_attr, attr)

/*
 * The show callbacks read the parent driver's memory and call into it
 * (get_available, show_description): like create, only with an active
 * reference, so unregistration does not wait on them and they never run
 * once it has started.
 */
static ssize_t mdev_type_show(struct kobject *kobj, struct attribute *attr,
			      char *buf)
{
	struct mdev_type_attr *ta = to_type_attr(attr);
	struct mdev_type_node *node = to_type_node(kobj);
	ssize_t ret;

	if (!ta->show)
		return -EIO;
	if (!mdev_parent_tryget(node->ps))
		return -ENODEV;
	ret = ta->show(node, buf);
	mdev_parent_put(node->ps);
	return ret;
}

static ssize_t mdev_type_store(struct kobject *kobj, struct attribute *attr,
			       const char *buf, size_t count)
{
	struct mdev_type_attr *ta = to_type_attr(attr);

	return ta->store ? ta->store(to_type_node(kobj), buf, count) : -EIO;
}

static const struct sysfs_ops mdev_type_sysfs_ops = {
	.show = mdev_type_show,
	.store = mdev_type_store,
};

/*
 * Accept exactly a 36 character UUID, optionally followed by one newline
 * (what echo writes).  Anything else is -EINVAL.
 */
static int mdev_parse_uuid(const char *buf, size_t count, guid_t *uuid)
{
	char str[UUID_STRING_LEN + 1];

	if (count == UUID_STRING_LEN + 1 && buf[UUID_STRING_LEN] == '\n')
		count--;
	if (count != UUID_STRING_LEN)
		return -EINVAL;
	memcpy(str, buf, UUID_STRING_LEN);
	str[UUID_STRING_LEN] = '\0';
	return guid_parse(str, uuid);
}

static ssize_t create_store(struct mdev_type_node *node, const char *buf,
			    size_t count)
{
	guid_t uuid;
	int ret;

	ret = mdev_parse_uuid(buf, count, &uuid);
	if (ret)
		return ret;
	ret = mdev_device_create(node, &uuid);
	return ret ? ret : count;
}

static ssize_t device_api_show(struct mdev_type_node *node, char *buf)
{
	mdev_parent_assert_active(node->ps);
	return sysfs_emit(buf, "%s\n", node->ps->drv->device_api);
}

static ssize_t name_show(struct mdev_type_node *node, char *buf)
{
	const struct mdev_type *type = node->type;

	mdev_parent_assert_active(node->ps);
	return sysfs_emit(buf, "%s\n", type->pretty_name ?: type->sysfs_name);
}

static ssize_t available_instances_show(struct mdev_type_node *node,
					char *buf)
{
	struct mdev_parent_state *ps = node->ps;

	mdev_parent_assert_active(ps);
	if (!ps->counted)
		return sysfs_emit(buf, "%u\n",
				  ps->drv->get_available(node->type));
	return sysfs_emit(buf, "%d\n", atomic_read(&ps->available));
}

static ssize_t description_show(struct mdev_type_node *node, char *buf)
{
	mdev_parent_assert_active(node->ps);
	return node->ps->drv->show_description(node->type, buf);
}

static struct mdev_type_attr mdev_type_attr_create = {
	.attr = { .name = "create", .mode = 0200 },
	.store = create_store,
};

#define MDEV_TYPE_RO(_name)						\
static struct mdev_type_attr mdev_type_attr_##_name = {		\
	.attr = { .name = __stringify(_name), .mode = 0444 },		\
	.show = _name##_show,						\
}

MDEV_TYPE_RO(device_api);
MDEV_TYPE_RO(name);
MDEV_TYPE_RO(available_instances);
MDEV_TYPE_RO(description);

static struct attribute *mdev_type_attrs[] = {
	&mdev_type_attr_create.attr,
	&mdev_type_attr_device_api.attr,
	&mdev_type_attr_name.attr,
	&mdev_type_attr_available_instances.attr,
	&mdev_type_attr_description.attr,
	NULL,
};

static umode_t mdev_type_attr_visible(struct kobject *kobj,
				      struct attribute *attr, int n)
{
	struct mdev_type_node *node = to_type_node(kobj);

	if (attr == &mdev_type_attr_description.attr &&
	    !node->ps->drv->show_description)
		return 0;
	return attr->mode;
}

static const struct attribute_group mdev_type_group = {
	.attrs = mdev_type_attrs,
	.is_visible = mdev_type_attr_visible,
};

static const struct attribute_group *mdev_type_groups[] = {
	&mdev_type_group,
	NULL,
};

static void mdev_type_node_release(struct kobject *kobj)
{
	struct mdev_type_node *node = to_type_node(kobj);
	struct mdev_parent_state *ps = node->ps;

	kfree(node);
	/* Pairs with the kref_get() in mdev_type_node_add(); may be last */
	mdev_parent_state_put(ps);
}

static const struct kobj_type mdev_type_ktype = {
	.sysfs_ops = &mdev_type_sysfs_ops,
	.release = mdev_type_node_release,
	.default_groups = mdev_type_groups,
};

static struct mdev_type_node *mdev_type_node_add(struct mdev_parent_state *ps,
						 struct mdev_type *type)
{
	struct mdev_type_node *node;
	int ret;

	node = kzalloc(sizeof(*node), GFP_KERNEL);
	if (!node)
		return ERR_PTR(-ENOMEM);
	node->ps = ps;
	node->type = type;
	kref_get(&ps->ref);
	node->kobj.kset = ps->types_kset;
	ret = kobject_init_and_add(&node->kobj, &mdev_type_ktype, NULL,
				   "%s-%s", dev_driver_string(ps->dev),
				   type->sysfs_name);
	if (ret)
		goto out_put_node;

	node->devices_kobj = kobject_create_and_add("devices", &node->kobj);
	if (!node->devices_kobj) {
		ret = -ENOMEM;
		goto out_del_node;
	}
	return node;

out_del_node:
	kobject_del(&node->kobj);
out_put_node:
	kobject_put(&node->kobj);
	return ERR_PTR(ret);
}

static void mdev_type_node_remove(struct mdev_type_node *node)
{
	kobject_put(node->devices_kobj);
	/* kernfs drains running show/store callbacks of this node here */
	kobject_del(&node->kobj);
	/* mdevs of this type that are still referenced keep the memory */
	kobject_put(&node->kobj);
}

static void mdev_types_kset_release(struct kobject *kobj)
{
	kfree(container_of(kobj, struct kset, kobj));
}

static const struct kobj_type mdev_types_kset_ktype = {
	.sysfs_ops	= &kobj_sysfs_ops,
	.release	= mdev_types_kset_release,
};

/*
 * kset_create_and_add(), except on failure: 6.1's kset_register() leaves
 * the name allocated and kset_create_and_add() then frees only the kset,
 * so every failed registration leaked the name.  Later kernels free the
 * name in kset_register() and clear it, so freeing what is left is right
 * on both.
 */
static struct kset *mdev_types_kset_create(struct kobject *parent)
{
	struct kset *kset;
	int ret;

	kset = kzalloc(sizeof(*kset), GFP_KERNEL);
	if (!kset)
		return NULL;
	ret = kobject_set_name(&kset->kobj, "mdev_supported_types");
	if (ret)
		goto out_free_kset;
	kset->kobj.parent = parent;
	kset->kobj.ktype = &mdev_types_kset_ktype;
	ret = kset_register(kset);
	if (ret)
		goto out_free_name;
	return kset;

out_free_name:
	kfree_const(kset->kobj.name);
out_free_kset:
	kfree(kset);
	return NULL;
}

/**
 * mdev_types_add - create mdev_supported_types and one node per type
 * @ps: parent state, not yet live
 *
 * Return: 0 or a negative errno; on error nothing is left behind.
 */
int mdev_types_add(struct mdev_parent_state *ps)
{
	struct mdev_parent *parent = ps->parent;
	struct mdev_type_node *node;
	unsigned int i;

	ps->types_kset = mdev_types_kset_create(&ps->dev->kobj);
	if (!ps->types_kset)
		return -ENOMEM;

	for (i = 0; i < ps->nr_types; i++) {
		/*
		 * The node's files are readable as soon as it is added, and
		 * a driver's get_available() may look at type->parent.
		 */
		parent->types[i]->parent = parent;
		node = mdev_type_node_add(ps, parent->types[i]);
		if (IS_ERR(node)) {
			parent->types[i]->parent = NULL;
			ps->nr_types = i;
			mdev_types_remove(ps);
			return PTR_ERR(node);
		}
		/* 6.1's field; the core itself uses node->devices_kobj */
		parent->types[i]->devices_kobj = node->devices_kobj;
		ps->nodes[i] = node;
	}
	return 0;
}

/**
 * mdev_types_remove - remove the nodes created by mdev_types_add()
 * @ps: parent state; the gate is closed or was never opened
 */
void mdev_types_remove(struct mdev_parent_state *ps)
{
	unsigned int i;

	WARN_ON_ONCE(READ_ONCE(ps->live));
	for (i = 0; i < ps->nr_types; i++) {
		ps->parent->types[i]->devices_kobj = NULL;
		mdev_type_node_remove(ps->nodes[i]);
	}
	kset_unregister(ps->types_kset);
	ps->types_kset = NULL;
}

/*
 * Another writer owns the removal of @mc: wait until the device is gone
 * and succeed, as 6.1 does (there the loser waits in kernfs_remove_self()),
 * so that two tools racing to remove it (mdevctl, libvirt) both see
 * success.  Out of kernfs active protection while waiting, or the
 * owner's removal of this very file would wait for us.
 */
static ssize_t mdev_remove_wait(struct mdev_core_device *mc,
				struct device_attribute *attr, size_t count)
{
	struct device *dev = get_device(&mc->mdev.dev);
	struct kernfs_node *kn;
	int ret;

	/* the file is still there: this store holds it active */
	kn = sysfs_break_active_protection(&dev->kobj, &attr->attr);
	ret = wait_for_completion_killable(&mc->removed);
	if (kn)
		sysfs_unbreak_active_protection(kn);
	put_device(dev);
	return ret ? ret : count;
}

static ssize_t remove_store(struct device *dev, struct device_attribute *attr,
			    const char *buf, size_t count)
{
	struct mdev_core_device *mc = to_mdev_core(to_mdev_device(dev));
	unsigned long val;
	int ret;

	if (kstrtoul(buf, 0, &val) < 0)
		return -EINVAL;
	if (!val)
		return count;

	ret = mdev_device_remove_begin(mc);
	if (ret == -EBUSY)
		return mdev_remove_wait(mc, attr, count);
	if (ret)
		return ret;
	/*
	 * We own the removal now.  Leave kernfs active protection so that
	 * removing our own device does not wait for this store to return.
	 */
	device_remove_file_self(dev, attr);
	mdev_device_remove_end(mc);
	return count;
}
static DEVICE_ATTR_WO(remove);

static struct attribute *mdev_device_attrs[] = {
	&dev_attr_remove.attr,
	NULL,
};

static const struct attribute_group mdev_device_group = {
	.attrs = mdev_device_attrs,
};

const struct attribute_group *mdev_device_groups[] = {
	&mdev_device_group,
	NULL,
};

/* Create devices/<uuid> in the type and the mdev_type link of @mdev. */
int mdev_links_add(struct mdev_core_device *mc)
{
	struct mdev_type_node *node = mc->tnode;
	struct mdev_device *mdev = &mc->mdev;
	struct kobject *kobj = &mdev->dev.kobj;
	int ret;

	mdev_parent_assert_active(node->ps);
	ret = sysfs_create_link(node->devices_kobj, kobj, dev_name(&mdev->dev));
	if (ret)
		return ret;

	ret = sysfs_create_link(kobj, &node->kobj, "mdev_type");
	if (ret)
		sysfs_remove_link(node->devices_kobj, dev_name(&mdev->dev));
	return ret;
}

void mdev_links_remove(struct mdev_core_device *mc)
{
	struct mdev_type_node *node = mc->tnode;
	struct mdev_device *mdev = &mc->mdev;

	sysfs_remove_link(&mdev->dev.kobj, "mdev_type");
	sysfs_remove_link(node->devices_kobj, dev_name(&mdev->dev));
}
