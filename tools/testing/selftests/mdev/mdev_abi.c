// SPDX-License-Identifier: GPL-2.0
/*
 * mdev sysfs ABI: attributes, create/list/remove by echo, and the exact
 * errno for each mistake.  Needs the sample loaded with its defaults
 * (parent 0 counted with max_instances=4, parent 1 pool of 3); run.sh
 * does that.
 */
#include <libgen.h>
#include "mdev_util.h"
#include "kselftest_harness.h"

#define NR_PARENTS	2

FIXTURE(abi) {
	int start_count;
};

FIXTURE_SETUP(abi)
{
	if (access(PLAT_DEVS "/mdev_sample.0", F_OK))
		SKIP(return, "sample parent not loaded (use run.sh)");
	mdev_cleanup_all(NR_PARENTS);
	self->start_count = mdev_count();
	ASSERT_EQ(0, self->start_count);
}

FIXTURE_TEARDOWN(abi)
{
	mdev_cleanup_all(NR_PARENTS);
	/* nothing leaked: every instance is back */
	EXPECT_EQ(0, mdev_count());
	EXPECT_EQ(4, mdev_available(0, "small"));
	EXPECT_EQ(3, mdev_available(1, "small"));
}

TEST_F(abi, attributes)
{
	char p[PATH_MAX], buf[256];

	type_path(p, sizeof(p), 0, "small", "name");
	ASSERT_EQ(0, sysfs_read(p, buf, sizeof(buf)));
	EXPECT_STREQ("sample small", buf);
	type_path(p, sizeof(p), 0, "large", "device_api");
	ASSERT_EQ(0, sysfs_read(p, buf, sizeof(buf)));
	EXPECT_STREQ("vfio-pci", buf);
	type_path(p, sizeof(p), 0, "large", "description");
	ASSERT_EQ(0, sysfs_read(p, buf, sizeof(buf)));
	EXPECT_STREQ("test device, BAR0 16 KiB", buf);
	EXPECT_EQ(4, mdev_available(0, "small"));
	EXPECT_EQ(4, mdev_available(0, "large"));
	EXPECT_EQ(3, mdev_available(1, "large"));
	type_path(p, sizeof(p), 0, "small", "devices");
	EXPECT_EQ(0, access(p, F_OK));
	/* create is write-only */
	type_path(p, sizeof(p), 0, "small", "create");
	EXPECT_EQ(-EACCES, sysfs_read(p, buf, sizeof(buf)));
	EXPECT_EQ(0, access("/sys/class/mdev_bus/mdev_sample.0", F_OK));
	EXPECT_EQ(0, access("/sys/class/mdev_bus/mdev_sample.1", F_OK));
}

TEST_F(abi, create_list_remove)
{
	char u[40], p[PATH_MAX], real[PATH_MAX], link[PATH_MAX];
	ssize_t n;

	make_uuid(u, 1, 1);
	ASSERT_EQ(0, mdev_create(0, "small", u));
	ASSERT_TRUE(mdev_exists(u));
	EXPECT_EQ(3, mdev_available(0, "small"));
	/* the mdev is a direct child of its parent */
	snprintf(p, sizeof(p), MDEV_DEVS "/%s", u);
	ASSERT_NE(NULL, realpath(p, real));
	EXPECT_STREQ("/sys/devices/platform/mdev_sample.0", dirname(real));
	/* mdev_type link and the type's devices/ entry */
	snprintf(p, sizeof(p), MDEV_DEVS "/%s/mdev_type", u);
	n = readlink(p, link, sizeof(link) - 1);
	ASSERT_GT(n, 0);
	link[n] = '\0';
	EXPECT_STREQ(TYPE_PREFIX "small", basename(link));
	type_path(p, sizeof(p), 0, "small", "devices/");
	strcat(p, u);
	EXPECT_EQ(0, access(p, F_OK));

	EXPECT_EQ(0, mdev_remove(u));
	EXPECT_FALSE(mdev_exists(u));
	EXPECT_NE(0, access(p, F_OK));
	EXPECT_EQ(4, mdev_available(0, "small"));
}

TEST_F(abi, bad_uuids)
{
	char u[64];

	EXPECT_EQ(-EINVAL, mdev_create(0, "small", "1234"));
	make_uuid(u, 2, 1);
	u[35] = '\0';
	EXPECT_EQ(-EINVAL, mdev_create(0, "small", u));
	make_uuid(u, 2, 1);
	u[3] = 'z';
	EXPECT_EQ(-EINVAL, mdev_create(0, "small", u));
	make_uuid(u, 2, 1);
	u[8] = 'x';
	EXPECT_EQ(-EINVAL, mdev_create(0, "small", u));
	make_uuid(u, 2, 1);
	strcat(u, "x");
	EXPECT_EQ(-EINVAL, mdev_create(0, "small", u));
	make_uuid(u, 2, 1);
	strcat(u, "\n\n");
	EXPECT_EQ(-EINVAL, mdev_create(0, "small", u));
	EXPECT_EQ(-EINVAL, mdev_create(0, "small", "\n"));
	EXPECT_EQ(0, mdev_count());
	/* a trailing newline (what echo writes) is fine */
	make_uuid(u, 2, 2);
	strcat(u, "\n");
	EXPECT_EQ(0, mdev_create(0, "small", u));
	EXPECT_EQ(1, mdev_count());
}

TEST_F(abi, duplicate_uuid)
{
	char u[40];

	make_uuid(u, 3, 1);
	ASSERT_EQ(0, mdev_create(0, "small", u));
	EXPECT_EQ(-EEXIST, mdev_create(0, "small", u));
	EXPECT_EQ(-EEXIST, mdev_create(0, "large", u));
	EXPECT_EQ(-EEXIST, mdev_create(1, "small", u));
	EXPECT_EQ(1, mdev_count());
	/* the failed creates did not use up instances */
	EXPECT_EQ(3, mdev_available(0, "small"));
	EXPECT_EQ(3, mdev_available(1, "small"));
}

TEST_F(abi, exhaust_max_instances)
{
	char u[40];
	int i;

	/* parent 0: max_instances=4, shared by both types, core counted */
	for (i = 0; i < 4; i++) {
		make_uuid(u, 4, i);
		ASSERT_EQ(0, mdev_create(0, i & 1 ? "large" : "small", u));
	}
	EXPECT_EQ(0, mdev_available(0, "small"));
	make_uuid(u, 4, 100);
	EXPECT_EQ(-EUSERS, mdev_create(0, "small", u));
	EXPECT_EQ(-EUSERS, mdev_create(0, "large", u));
	EXPECT_FALSE(mdev_exists(u));
	/* a remove gives one back */
	make_uuid(u, 4, 0);
	ASSERT_EQ(0, mdev_remove(u));
	EXPECT_EQ(1, mdev_available(0, "large"));
}

TEST_F(abi, exhaust_get_available)
{
	char u[40];
	int i;

	/* parent 1: get_available, the sample's pool of 3 */
	for (i = 0; i < 3; i++) {
		make_uuid(u, 5, i);
		ASSERT_EQ(0, mdev_create(1, "small", u));
	}
	EXPECT_EQ(0, mdev_available(1, "large"));
	make_uuid(u, 5, 100);
	EXPECT_EQ(-EUSERS, mdev_create(1, "large", u));
	EXPECT_FALSE(mdev_exists(u));
	EXPECT_EQ(3, mdev_count());
	/* the failed probe released its UUID */
	make_uuid(u, 5, 0);
	ASSERT_EQ(0, mdev_remove(u));
	make_uuid(u, 5, 100);
	EXPECT_EQ(0, mdev_create(1, "large", u));
}

TEST_F(abi, remove_twice)
{
	char u[40], p[PATH_MAX];
	int fd;

	make_uuid(u, 6, 1);
	ASSERT_EQ(0, mdev_create(0, "small", u));
	snprintf(p, sizeof(p), MDEV_DEVS "/%s/remove", u);
	fd = open(p, O_WRONLY);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(-EINVAL, sysfs_write(p, "abc"));
	EXPECT_EQ(0, sysfs_write(p, "0"));
	EXPECT_TRUE(mdev_exists(u));
	EXPECT_EQ(1, write(fd, "1", 1));
	EXPECT_FALSE(mdev_exists(u));
	/* again through the old file descriptor and through the path */
	EXPECT_EQ(-1, pwrite(fd, "1", 1, 0));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(-ENOENT, mdev_remove(u));
	close(fd);
	EXPECT_EQ(4, mdev_available(0, "small"));
}

TEST_F(abi, create_on_unbound_parent)
{
	char u[40], p[PATH_MAX];
	int fd;

	type_path(p, sizeof(p), 0, "small", "create");
	fd = open(p, O_WRONLY);
	ASSERT_GE(fd, 0);
	make_uuid(u, 7, 1);
	ASSERT_EQ(0, parent_unbind(0));
	EXPECT_EQ(-1, write(fd, u, 36));
	EXPECT_EQ(ENODEV, errno);
	close(fd);
	EXPECT_EQ(-ENOENT, mdev_create(0, "small", u));
	EXPECT_FALSE(mdev_exists(u));
	EXPECT_NE(0, access("/sys/class/mdev_bus/mdev_sample.0", F_OK));
	EXPECT_EQ(ENOENT, errno);
	/* parent 1 is unaffected, and parent 0 comes back on bind */
	EXPECT_EQ(0, mdev_create(1, "small", u));
	ASSERT_EQ(0, parent_bind(0));
	EXPECT_EQ(4, mdev_available(0, "small"));
	EXPECT_EQ(-EEXIST, mdev_create(0, "small", u));
}

TEST_F(abi, unbind_removes_children)
{
	char u[40];
	int i;

	for (i = 0; i < 3; i++) {
		make_uuid(u, 8, i);
		ASSERT_EQ(0, mdev_create(0, i ? "large" : "small", u));
	}
	ASSERT_EQ(3, mdev_count());
	ASSERT_EQ(0, parent_unbind(0));
	EXPECT_EQ(0, mdev_count());
	ASSERT_EQ(0, parent_bind(0));
	EXPECT_EQ(4, mdev_available(0, "small"));
	/* the UUIDs are free again */
	make_uuid(u, 8, 0);
	EXPECT_EQ(0, mdev_create(0, "small", u));
}

TEST_HARNESS_MAIN
