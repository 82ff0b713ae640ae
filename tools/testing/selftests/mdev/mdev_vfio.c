// SPDX-License-Identifier: GPL-2.0
/*
 * An mdev of the sample is a real VFIO device: open it through its group,
 * read its config space, size and write BAR0, read BAR0 back.
 */
#include <pthread.h>
#include "vfio_util.h"
#include "kselftest_harness.h"

#define CFG_OFF	((off_t)VFIO_PCI_CONFIG_REGION_INDEX << 40)
#define BAR_OFF	((off_t)VFIO_PCI_BAR0_REGION_INDEX << 40)

FIXTURE(vfio) {
	char uuid[40];
	struct vfio_handle h;
};

FIXTURE_VARIANT(vfio) {
	int parent;
	const char *type;
	unsigned int bar_size;
};

FIXTURE_VARIANT_ADD(vfio, small_counted) {
	.parent = 0, .type = "small", .bar_size = 4096,
};

FIXTURE_VARIANT_ADD(vfio, large_pool) {
	.parent = 1, .type = "large", .bar_size = 16384,
};

FIXTURE_SETUP(vfio)
{
	int ret;

	self->h.container = -1;
	self->h.group = -1;
	self->h.device = -1;
	if (access(PLAT_DEVS "/mdev_sample.0", F_OK))
		SKIP(return, "sample parent not loaded (use run.sh)");
	if (access("/dev/vfio/vfio", F_OK))
		SKIP(return, "no /dev/vfio/vfio: vfio not loaded");
	mdev_cleanup_all(2);
	make_uuid(self->uuid, 0x10, variant->parent);
	ASSERT_EQ(0, mdev_create(variant->parent, variant->type, self->uuid));
	ret = vfio_open_mdev(self->uuid, &self->h);
	ASSERT_EQ(0, ret) TH_LOG("opening the VFIO device: %s", strerror(-ret));
}

FIXTURE_TEARDOWN(vfio)
{
	vfio_close(&self->h);
	EXPECT_EQ(0, mdev_remove(self->uuid));
	EXPECT_EQ(0, mdev_count());
}

TEST_F(vfio, device_info)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct vfio_region_info reg = { .argsz = sizeof(reg) };

	ASSERT_EQ(0, ioctl(self->h.device, VFIO_DEVICE_GET_INFO, &info));
	EXPECT_TRUE(info.flags & VFIO_DEVICE_FLAGS_PCI);
	EXPECT_EQ(VFIO_PCI_NUM_REGIONS, info.num_regions);

	reg.index = VFIO_PCI_CONFIG_REGION_INDEX;
	ASSERT_EQ(0, ioctl(self->h.device, VFIO_DEVICE_GET_REGION_INFO, &reg));
	EXPECT_EQ(256, reg.size);
	EXPECT_EQ((__u64)CFG_OFF, reg.offset);
	reg.index = VFIO_PCI_BAR0_REGION_INDEX;
	ASSERT_EQ(0, ioctl(self->h.device, VFIO_DEVICE_GET_REGION_INFO, &reg));
	EXPECT_EQ(variant->bar_size, reg.size);
	reg.index = 100;
	EXPECT_EQ(-1, ioctl(self->h.device, VFIO_DEVICE_GET_REGION_INFO, &reg));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->h.device, VFIO_DEVICE_GET_IRQ_INFO, &reg));
	EXPECT_EQ(ENOTTY, errno);
}

TEST_F(vfio, config_space)
{
	uint8_t cfg[256];
	uint32_t bar;

	ASSERT_EQ(256, pread(self->h.device, cfg, sizeof(cfg), CFG_OFF));
	EXPECT_EQ(0x1b36, cfg[0] | cfg[1] << 8);
	EXPECT_EQ(0x10f0, cfg[2] | cfg[3] << 8);
	EXPECT_EQ(0xff, cfg[0xb]);	/* class: unclassified */
	EXPECT_EQ(variant->bar_size >> 10, cfg[0x2e] | cfg[0x2f] << 8);

	/* BAR sizing: all ones in, size mask out */
	bar = 0xffffffff;
	ASSERT_EQ(4, pwrite(self->h.device, &bar, 4, CFG_OFF + 0x10));
	ASSERT_EQ(4, pread(self->h.device, &bar, 4, CFG_OFF + 0x10));
	EXPECT_EQ(~(variant->bar_size - 1), bar);
	bar = 0xfe000000;
	ASSERT_EQ(4, pwrite(self->h.device, &bar, 4, CFG_OFF + 0x10));
	ASSERT_EQ(4, pread(self->h.device, &bar, 4, CFG_OFF + 0x10));
	EXPECT_EQ(0xfe000000, bar);
	/* the vendor id is read-only */
	bar = 0;
	ASSERT_EQ(2, pwrite(self->h.device, &bar, 2, CFG_OFF));
	ASSERT_EQ(256, pread(self->h.device, cfg, sizeof(cfg), CFG_OFF));
	EXPECT_EQ(0x1b36, cfg[0] | cfg[1] << 8);
	/* beyond the end */
	EXPECT_EQ(-1, pread(self->h.device, cfg, 2, CFG_OFF + 255));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(vfio, bar_read_write)
{
	unsigned int n = variant->bar_size;
	uint8_t *out = malloc(n), *in = malloc(n);
	unsigned int i;

	ASSERT_NE(NULL, out);
	ASSERT_NE(NULL, in);
	ASSERT_EQ(n, pread(self->h.device, in, n, BAR_OFF));
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, in[i]);
	for (i = 0; i < n; i++)
		out[i] = i * 7 + 3;
	ASSERT_EQ(n, pwrite(self->h.device, out, n, BAR_OFF));
	memset(in, 0, n);
	ASSERT_EQ(n, pread(self->h.device, in, n, BAR_OFF));
	EXPECT_EQ(0, memcmp(in, out, n));
	/* a small unaligned access in the middle */
	ASSERT_EQ(3, pwrite(self->h.device, "abc", 3, BAR_OFF + 101));
	ASSERT_EQ(5, pread(self->h.device, in, 5, BAR_OFF + 100));
	EXPECT_EQ(out[100], in[0]);
	EXPECT_EQ(0, memcmp(in + 1, "abc", 3));
	EXPECT_EQ(-1, pwrite(self->h.device, out, 2, BAR_OFF + n - 1));
	EXPECT_EQ(EINVAL, errno);
	/* reset clears the BAR */
	ASSERT_EQ(0, ioctl(self->h.device, VFIO_DEVICE_RESET));
	ASSERT_EQ(5, pread(self->h.device, in, 5, BAR_OFF + 100));
	EXPECT_EQ(0, in[1]);
	free(out);
	free(in);
}

static void *remove_thread(void *arg)
{
	long ret = mdev_remove(arg);

	return (void *)ret;
}

TEST_F(vfio, remove_waits_for_fd)
{
	pthread_t t;
	void *ret;

	ASSERT_EQ(0, pthread_create(&t, NULL, remove_thread, self->uuid));
	sleep_ms(500);
	/* the mdev driver's remove waits for the open device */
	EXPECT_EQ(EBUSY, pthread_tryjoin_np(t, &ret));
	EXPECT_TRUE(mdev_dir_exists(variant->parent, self->uuid));
	vfio_close(&self->h);
	ASSERT_EQ(0, pthread_join(t, &ret));
	EXPECT_EQ(0, (long)ret);
	EXPECT_FALSE(mdev_dir_exists(variant->parent, self->uuid));
	/* the teardown removes it again */
	ASSERT_EQ(0, mdev_create(variant->parent, variant->type, self->uuid));
}

TEST_HARNESS_MAIN
