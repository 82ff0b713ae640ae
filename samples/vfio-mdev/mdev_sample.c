// SPDX-License-Identifier: GPL-2.0-only
/*
 * mdev_sample: a platform driver whose devices are mdev parents.
 *
 * Every platform device "mdev_sample.<n>" registers a parent with two
 * types, "small" (4 KiB BAR) and "large" (16 KiB BAR).  The 6.1 API counts
 * instances per driver, so parents alternate between the two ways of
 * limiting them: even ones use an mdev driver with max_instances (the core
 * counts and fails with -EUSERS), odd ones one with get_available (this
 * driver counts a per-parent pool and fails probe with -EUSERS).
 *
 * Unbinding a platform device unregisters its parent, binding it again
 * registers a new one: the same sequence as a PCI parent going away.
 *
 * Every mdev is an emulated-IOMMU VFIO device with a PCI config space and
 * BAR0 backed by memory.  Writable module parameters add delays inside
 * the mdev probe (create), the platform probe and the removes, so tests
 * can hold race windows open.
 *
 * Builds against our mdev core and against Debian's (see Makefile).
 */

#include <linux/delay.h>
#include <linux/mdev.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci_regs.h>
#include <linux/platform_device.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>
#ifdef HP_HAVE_LINUX_UNALIGNED_H	/* see compat/Kbuild.compat */
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif

#define DRV_NAME		"mdev_sample"
#define SAMPLE_VENDOR		0x1b36	/* QEMU's vendor id, test devices */
#define SAMPLE_DEVICE		0x10f0
#define SAMPLE_CFG_SIZE		256
#define SAMPLE_OFFSET_SHIFT	40
#define SAMPLE_OFFSET_MASK	((1ULL << SAMPLE_OFFSET_SHIFT) - 1)

static unsigned int nr_parents = 2;
module_param(nr_parents, uint, 0444);
MODULE_PARM_DESC(nr_parents, "Number of parent platform devices (1-16)");

static unsigned int max_instances = 4;
module_param(max_instances, uint, 0444);
MODULE_PARM_DESC(max_instances, "Instances per even parent (core counted)");

static unsigned int pool_size = 3;
module_param(pool_size, uint, 0444);
MODULE_PARM_DESC(pool_size, "Instances per odd parent (get_available)");

static unsigned int create_delay_ms;
module_param(create_delay_ms, uint, 0644);
MODULE_PARM_DESC(create_delay_ms, "Delay inside mdev probe (create)");

static unsigned int mdev_remove_delay_ms;
module_param(mdev_remove_delay_ms, uint, 0644);
MODULE_PARM_DESC(mdev_remove_delay_ms, "Delay inside mdev remove");

static unsigned int probe_delay_ms;
module_param(probe_delay_ms, uint, 0644);
MODULE_PARM_DESC(probe_delay_ms, "Delay in platform probe before registering");

static unsigned int remove_delay_ms;
module_param(remove_delay_ms, uint, 0644);
MODULE_PARM_DESC(remove_delay_ms, "Delay in platform remove before unregistering");

static bool bad_unregister;
module_param(bad_unregister, bool, 0644);
MODULE_PARM_DESC(bad_unregister,
		 "Test only: platform remove unregisters the parent twice and a parent never registered (the core must refuse both)");

struct sample_type {
	struct mdev_type mtype;
	unsigned int bar_size;
};

struct sample_parent {
	struct mdev_parent parent;
	struct sample_type small;
	struct sample_type large;
	struct mdev_type *types[2];
	/* free instances of an odd (get_available) parent */
	atomic_t pool;
};

struct sample_mdev {
	struct vfio_device vdev;
	/*
	 * What vdev.ops points to once the device is set up.  The last put
	 * of vdev can come after this module is gone (late: always so with
	 * CONFIG_DEBUG_KOBJECT_RELEASE), and vfio_device_release() then
	 * reads vdev.ops->release.  So the ops live here, in the memory that
	 * release frees, and release is vfio_free_device() (vfio.ko): a late
	 * release touches nothing of this module.
	 */
	struct vfio_device_ops ops;
	struct sample_parent *sp;
	/* protects @config and @bar */
	struct mutex lock;
	unsigned int bar_size;
	u8 config[SAMPLE_CFG_SIZE];
	u8 *bar;
};

static struct platform_device *sample_pdevs[16];

static struct sample_parent *to_sample_parent(struct mdev_type *mtype)
{
	return container_of(mtype->parent, struct sample_parent, parent);
}

static void sample_config_init(struct sample_mdev *sm)
{
	u8 *c = sm->config;

	memset(c, 0, SAMPLE_CFG_SIZE);
	put_unaligned_le16(SAMPLE_VENDOR, c + PCI_VENDOR_ID);
	put_unaligned_le16(SAMPLE_DEVICE, c + PCI_DEVICE_ID);
	c[PCI_REVISION_ID] = 1;
	c[PCI_CLASS_DEVICE + 1] = 0xff;	/* unclassified device */
	put_unaligned_le32(PCI_BASE_ADDRESS_MEM_TYPE_32,
			   c + PCI_BASE_ADDRESS_0);
	put_unaligned_le16(SAMPLE_VENDOR, c + PCI_SUBSYSTEM_VENDOR_ID);
	put_unaligned_le16(sm->bar_size >> 10, c + PCI_SUBSYSTEM_ID);
}

/* Config writes: command, BAR0 (with sizing) and interrupt line only. */
static void sample_config_write(struct sample_mdev *sm, unsigned int off,
				const u8 *buf, size_t count)
{
	u32 val;

	lockdep_assert_held(&sm->lock);
	if (off == PCI_COMMAND && count == 2) {
		memcpy(sm->config + off, buf, 2);
	} else if (off == PCI_BASE_ADDRESS_0 && count == 4) {
		val = get_unaligned_le32(buf) & ~(sm->bar_size - 1);
		put_unaligned_le32(val | PCI_BASE_ADDRESS_MEM_TYPE_32,
				   sm->config + off);
	} else if (off == PCI_INTERRUPT_LINE && count == 1) {
		sm->config[off] = buf[0];
	}
}

static ssize_t sample_rw(struct sample_mdev *sm, char __user *ubuf,
			 size_t count, loff_t *ppos, bool write)
{
	unsigned int index = *ppos >> SAMPLE_OFFSET_SHIFT;
	u64 off = *ppos & SAMPLE_OFFSET_MASK;
	u8 tmp[8];
	u8 *mem;
	u64 size;

	if (index == VFIO_PCI_CONFIG_REGION_INDEX) {
		mem = sm->config;
		size = SAMPLE_CFG_SIZE;
	} else if (index == VFIO_PCI_BAR0_REGION_INDEX) {
		mem = sm->bar;
		size = sm->bar_size;
	} else {
		return -EINVAL;
	}
	if (!count || off >= size || count > size - off)
		return -EINVAL;
	if (index == VFIO_PCI_CONFIG_REGION_INDEX && write &&
	    count > sizeof(tmp))
		return -EINVAL;

	mutex_lock(&sm->lock);
	if (!write) {
		if (copy_to_user(ubuf, mem + off, count))
			count = -EFAULT;
	} else if (index == VFIO_PCI_BAR0_REGION_INDEX) {
		if (copy_from_user(mem + off, ubuf, count))
			count = -EFAULT;
	} else if (copy_from_user(tmp, ubuf, count)) {
		count = -EFAULT;
	} else {
		sample_config_write(sm, off, tmp, count);
	}
	mutex_unlock(&sm->lock);
	if ((ssize_t)count > 0)
		*ppos += count;
	return count;
}

static ssize_t sample_read(struct vfio_device *vdev, char __user *buf,
			   size_t count, loff_t *ppos)
{
	struct sample_mdev *sm = container_of(vdev, struct sample_mdev, vdev);

	return sample_rw(sm, buf, count, ppos, false);
}

static ssize_t sample_write(struct vfio_device *vdev, const char __user *buf,
			    size_t count, loff_t *ppos)
{
	struct sample_mdev *sm = container_of(vdev, struct sample_mdev, vdev);

	return sample_rw(sm, (char __user *)buf, count, ppos, true);
}

static long sample_region_info(struct sample_mdev *sm, void __user *arg)
{
	unsigned long minsz = offsetofend(struct vfio_region_info, offset);
	struct vfio_region_info info;

	if (copy_from_user(&info, arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;

	switch (info.index) {
	case VFIO_PCI_CONFIG_REGION_INDEX:
		info.size = SAMPLE_CFG_SIZE;
		break;
	case VFIO_PCI_BAR0_REGION_INDEX:
		info.size = sm->bar_size;
		break;
	default:
		if (info.index >= VFIO_PCI_NUM_REGIONS)
			return -EINVAL;
		info.size = 0;
	}
	info.offset = (u64)info.index << SAMPLE_OFFSET_SHIFT;
	info.flags = info.size ? VFIO_REGION_INFO_FLAG_READ |
				 VFIO_REGION_INFO_FLAG_WRITE : 0;
	return copy_to_user(arg, &info, minsz) ? -EFAULT : 0;
}

static long sample_ioctl(struct vfio_device *vdev, unsigned int cmd,
			 unsigned long arg)
{
	struct sample_mdev *sm = container_of(vdev, struct sample_mdev, vdev);
	unsigned long minsz;

	switch (cmd) {
	case VFIO_DEVICE_GET_INFO: {
		struct vfio_device_info info;

		minsz = offsetofend(struct vfio_device_info, num_irqs);
		if (copy_from_user(&info, (void __user *)arg, minsz))
			return -EFAULT;
		if (info.argsz < minsz)
			return -EINVAL;
		info.flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
		info.num_regions = VFIO_PCI_NUM_REGIONS;
		info.num_irqs = 0;
		return copy_to_user((void __user *)arg, &info, minsz) ?
			-EFAULT : 0;
	}
	case VFIO_DEVICE_GET_REGION_INFO:
		return sample_region_info(sm, (void __user *)arg);
	case VFIO_DEVICE_RESET:
		mutex_lock(&sm->lock);
		sample_config_init(sm);
		memset(sm->bar, 0, sm->bar_size);
		mutex_unlock(&sm->lock);
		return 0;
	}
	return -ENOTTY;
}

static int sample_init_dev(struct vfio_device *vdev)
{
	struct sample_mdev *sm = container_of(vdev, struct sample_mdev, vdev);
	struct mdev_device *mdev = to_mdev_device(vdev->dev);
	struct sample_type *st = container_of(mdev->type, struct sample_type,
					      mtype);

	sm->sp = to_sample_parent(mdev->type);
	sm->bar_size = st->bar_size;
	sm->bar = kzalloc(sm->bar_size, GFP_KERNEL);
	if (!sm->bar)
		return -ENOMEM;
	mutex_init(&sm->lock);
	sample_config_init(sm);
	return 0;
}

static const struct vfio_device_ops sample_dev_ops = {
	.name = "vfio-mdev-sample",
	.init = sample_init_dev,
#ifdef HP_HAVE_VFIO_FREE_DEVICE	/* 6.1 wants it; later kernels free */
	.release = vfio_free_device,
#endif
	.read = sample_read,
	.write = sample_write,
	.ioctl = sample_ioctl,
};

static bool sample_is_pool(struct mdev_device *mdev)
{
	return mdev->type->parent->mdev_driver->get_available;
}

static int sample_mdev_probe(struct mdev_device *mdev)
{
	struct sample_parent *sp = to_sample_parent(mdev->type);
	struct sample_mdev *sm;
	int ret;

	if (create_delay_ms)
		msleep(create_delay_ms);

	if (sample_is_pool(mdev) && atomic_dec_if_positive(&sp->pool) < 0)
		return -EUSERS;

	sm = vfio_alloc_device(sample_mdev, vdev, &mdev->dev, &sample_dev_ops);
	if (IS_ERR(sm)) {
		ret = PTR_ERR(sm);
		goto out_return_pool;
	}
	sm->ops = sample_dev_ops;
	sm->vdev.ops = &sm->ops;

	ret = vfio_register_emulated_iommu_dev(&sm->vdev);
	if (ret)
		goto out_put_vdev;
	dev_set_drvdata(&mdev->dev, sm);
	return 0;

out_put_vdev:
	kfree(sm->bar);
	vfio_put_device(&sm->vdev);
out_return_pool:
	if (sample_is_pool(mdev))
		atomic_inc(&sp->pool);
	return ret;
}

static void sample_mdev_remove(struct mdev_device *mdev)
{
	struct sample_mdev *sm = dev_get_drvdata(&mdev->dev);
	struct sample_parent *sp = sm->sp;

	if (mdev_remove_delay_ms)
		msleep(mdev_remove_delay_ms);

	/* waits until every VFIO file descriptor of the device is closed */
	vfio_unregister_group_dev(&sm->vdev);
	if (sample_is_pool(mdev))
		atomic_inc(&sp->pool);
	/* no file descriptor is left to use it; vfio_free_device() frees sm */
	kfree(sm->bar);
	mutex_destroy(&sm->lock);
	vfio_put_device(&sm->vdev);
}

static unsigned int sample_get_available(struct mdev_type *mtype)
{
	return atomic_read(&to_sample_parent(mtype)->pool);
}

static ssize_t sample_show_description(struct mdev_type *mtype, char *buf)
{
	struct sample_type *st = container_of(mtype, struct sample_type, mtype);

	return sysfs_emit(buf, "test device, BAR0 %u KiB\n", st->bar_size >> 10);
}

static struct mdev_driver sample_counted_driver = {
	.device_api = VFIO_DEVICE_API_PCI_STRING,
	.driver = {
		.name = "mdev_sample_counted",
		.owner = THIS_MODULE,
		.mod_name = KBUILD_MODNAME,
	},
	.probe = sample_mdev_probe,
	.remove = sample_mdev_remove,
	.show_description = sample_show_description,
};

static struct mdev_driver sample_pool_driver = {
	.device_api = VFIO_DEVICE_API_PCI_STRING,
	.driver = {
		.name = "mdev_sample_pool",
		.owner = THIS_MODULE,
		.mod_name = KBUILD_MODNAME,
	},
	.probe = sample_mdev_probe,
	.remove = sample_mdev_remove,
	.get_available = sample_get_available,
	.show_description = sample_show_description,
};

static int sample_probe(struct platform_device *pdev)
{
	struct mdev_driver *drv = &sample_counted_driver;
	struct sample_parent *sp;
	int ret;

	sp = devm_kzalloc(&pdev->dev, sizeof(*sp), GFP_KERNEL);
	if (!sp)
		return -ENOMEM;

	sp->small.mtype.sysfs_name = "small";
	sp->small.mtype.pretty_name = "sample small";
	sp->small.bar_size = SZ_4K;
	sp->large.mtype.sysfs_name = "large";
	sp->large.mtype.pretty_name = "sample large";
	sp->large.bar_size = SZ_16K;
	sp->types[0] = &sp->small.mtype;
	sp->types[1] = &sp->large.mtype;
	atomic_set(&sp->pool, pool_size);
	if (pdev->id & 1)
		drv = &sample_pool_driver;

	if (probe_delay_ms)
		msleep(probe_delay_ms);

	ret = mdev_register_parent(&sp->parent, &pdev->dev, drv, sp->types,
				   ARRAY_SIZE(sp->types));
	if (ret)
		return ret;
	platform_set_drvdata(pdev, sp);
	return 0;
}

static void sample_remove(struct platform_device *pdev)
{
	struct sample_parent *sp = platform_get_drvdata(pdev);

	if (remove_delay_ms)
		msleep(remove_delay_ms);
	mdev_unregister_parent(&sp->parent);
	if (bad_unregister) {
		static struct mdev_parent never_registered;

		mdev_unregister_parent(&sp->parent);
		mdev_unregister_parent(&never_registered);
	}
}

static struct platform_driver sample_platform_driver = {
	.driver = {
		.name = DRV_NAME,
	},
	.probe = sample_probe,
	.remove_new = sample_remove,
};

static void sample_pdevs_unregister(void)
{
	int i;

	for (i = ARRAY_SIZE(sample_pdevs) - 1; i >= 0; i--) {
		platform_device_unregister(sample_pdevs[i]);
		sample_pdevs[i] = NULL;
	}
}

static int __init sample_init(void)
{
	unsigned int i;
	int ret;

	if (!nr_parents || nr_parents > ARRAY_SIZE(sample_pdevs))
		return -EINVAL;

	sample_counted_driver.max_instances = max_instances;
	ret = mdev_register_driver(&sample_counted_driver);
	if (ret)
		return ret;
	ret = mdev_register_driver(&sample_pool_driver);
	if (ret)
		goto out_unregister_counted;
	ret = platform_driver_register(&sample_platform_driver);
	if (ret)
		goto out_unregister_pool;

	for (i = 0; i < nr_parents; i++) {
		sample_pdevs[i] = platform_device_register_simple(DRV_NAME, i,
								  NULL, 0);
		if (IS_ERR(sample_pdevs[i])) {
			ret = PTR_ERR(sample_pdevs[i]);
			sample_pdevs[i] = NULL;
			goto out_unregister_pdevs;
		}
	}
	return 0;

out_unregister_pdevs:
	sample_pdevs_unregister();
	platform_driver_unregister(&sample_platform_driver);
out_unregister_pool:
	mdev_unregister_driver(&sample_pool_driver);
out_unregister_counted:
	mdev_unregister_driver(&sample_counted_driver);
	return ret;
}

static void __exit sample_exit(void)
{
	sample_pdevs_unregister();
	platform_driver_unregister(&sample_platform_driver);
	mdev_unregister_driver(&sample_pool_driver);
	mdev_unregister_driver(&sample_counted_driver);
}

module_init(sample_init);
module_exit(sample_exit);

MODULE_LICENSE("GPL v2");
MODULE_DESCRIPTION("Sample mdev parent (VFIO PCI test device) with race knobs");
