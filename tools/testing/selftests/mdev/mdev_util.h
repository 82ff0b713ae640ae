/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the mdev selftests: sysfs paths of the sample parent,
 * create/remove with the exact errno, bind/unbind, knobs.
 *
 * The module flavour comes from MDEV_FLAVOUR: "ours" (the default),
 * "stock" for a kernel's own core from before this rework (6.1's), or
 * "dropin" for ours with the sample built against the kernel's headers;
 * the run.sh wrapper loads the modules and sets it.
 */
#ifndef MDEV_UTIL_H
#define MDEV_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#define PLAT_DRV	"/sys/bus/platform/drivers/mdev_sample"
#define PLAT_DEVS	"/sys/bus/platform/devices"
#define MDEV_DEVS	"/sys/bus/mdev/devices"
#define TYPE_PREFIX	"mdev_sample-"

static inline const char *mdev_flavour(void)
{
	const char *f = getenv("MDEV_FLAVOUR");

	return f && *f ? f : "ours";
}

static inline bool mdev_is_stock(void)
{
	return !strcmp(mdev_flavour(), "stock");
}

static inline const char *sample_module(void)
{
	return mdev_is_stock() || !strcmp(mdev_flavour(), "dropin") ?
		"mdev_sample_stock" : "mdev_sample";
}

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Write @val to @path; 0 or -errno of open() or write(). */
static inline int sysfs_write(const char *path, const char *val)
{
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	if (n < 0)
		n = -errno;
	close(fd);
	return n < 0 ? n : 0;
}

/* Read @path into @buf without the trailing newline; 0 or -errno. */
static inline int sysfs_read(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return n;
	buf[n] = '\0';
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return 0;
}

static inline void type_path(char *buf, size_t len, int parent,
			     const char *type, const char *attr)
{
	snprintf(buf, len, PLAT_DEVS "/mdev_sample.%d/mdev_supported_types/"
		 TYPE_PREFIX "%s/%s", parent, type, attr);
}

static inline int mdev_create(int parent, const char *type, const char *uuid)
{
	char p[PATH_MAX];

	type_path(p, sizeof(p), parent, type, "create");
	return sysfs_write(p, uuid);
}

static inline int mdev_remove(const char *uuid)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), MDEV_DEVS "/%s/remove", uuid);
	return sysfs_write(p, "1");
}

static inline bool mdev_exists(const char *uuid)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), MDEV_DEVS "/%s", uuid);
	return access(p, F_OK) == 0;
}

static inline int mdev_available(int parent, const char *type)
{
	char p[PATH_MAX], buf[32];

	type_path(p, sizeof(p), parent, type, "available_instances");
	if (sysfs_read(p, buf, sizeof(buf)))
		return -1;
	return atoi(buf);
}

/* The device directory under its parent: gone only after device_del(). */
static inline bool mdev_dir_exists(int parent, const char *uuid)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), PLAT_DEVS "/mdev_sample.%d/%s", parent, uuid);
	return access(p, F_OK) == 0;
}

static inline bool parent_bound(int parent)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), PLAT_DRV "/mdev_sample.%d", parent);
	return access(p, F_OK) == 0;
}

static inline int parent_unbind(int parent)
{
	char name[32];

	snprintf(name, sizeof(name), "mdev_sample.%d", parent);
	return sysfs_write(PLAT_DRV "/unbind", name);
}

static inline int parent_bind(int parent)
{
	char name[32];

	snprintf(name, sizeof(name), "mdev_sample.%d", parent);
	return sysfs_write(PLAT_DRV "/bind", name);
}

/* Set a writable module parameter of the sample (delay knobs). */
static inline int sample_knob(const char *knob, unsigned int val)
{
	char p[PATH_MAX], v[16];

	snprintf(p, sizeof(p), "/sys/module/%s/parameters/%s",
		 sample_module(), knob);
	snprintf(v, sizeof(v), "%u", val);
	return sysfs_write(p, v);
}

static inline void sample_knobs_off(void)
{
	sample_knob("create_delay_ms", 0);
	sample_knob("mdev_remove_delay_ms", 0);
	sample_knob("probe_delay_ms", 0);
	sample_knob("remove_delay_ms", 0);
}

/* A UUID unique to this test run: @tag and @n in the last groups. */
/*
 * The test provokes a kernel report on purpose: @ere matches its first
 * line.  The VM runner (tools/testing/vm/guest-run) then requires it and
 * does not count it as a kernel bug; elsewhere this does nothing.
 */
static inline void expect_kernel_report(const char *ere)
{
	const char *path = getenv("HP_EXPECT");
	FILE *f;

	if (!path || !*path)
		return;
	f = fopen(path, "a");
	if (!f)
		return;
	fprintf(f, "%s\n", ere);
	fclose(f);
}

static inline void make_uuid(char *buf, unsigned int tag, unsigned int n)
{
	snprintf(buf, 37, "%08x-%04x-4%03x-8000-%012x",
		 (unsigned int)getpid(), tag & 0xffff, n >> 12 & 0xfff,
		 n & 0xfff);
}

/* Number of mdevs, or -1 if the bus is missing. */
static inline int mdev_count(void)
{
	struct dirent *de;
	int n = 0;
	DIR *d;

	d = opendir(MDEV_DEVS);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Remove every mdev and bind every sample parent: a clean slate. */
static inline void mdev_cleanup_all(int nr_parents)
{
	struct dirent *de;
	int i;
	DIR *d;

	sample_knobs_off();
	d = opendir(MDEV_DEVS);
	if (d) {
		while ((de = readdir(d)))
			if (de->d_name[0] != '.')
				mdev_remove(de->d_name);
		closedir(d);
	}
	for (i = 0; i < nr_parents; i++)
		if (!parent_bound(i))
			parent_bind(i);
}

#endif /* MDEV_UTIL_H */
