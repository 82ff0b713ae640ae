// SPDX-License-Identifier: GPL-2.0
/*
 * vsg_cfs - configfs setup of vhost targets without targetcli.  Names are
 * made unique per process so concurrent tests do not collide.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "vsg_cfs.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

static unsigned int vsg_cfs_seq;

int vsg_cfs_available(void)
{
	struct stat st;

	if (stat(VSG_CFS_ROOT "/core", &st))
		return -ENOENT;
	return 0;
}

int vsg_cfs_write(const char *path, const char *val)
{
	size_t len = strlen(val);
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	if (n < 0)
		err = -errno;
	else if ((size_t)n != len)
		err = -EIO;
	close(fd);
	return err;
}

int vsg_cfs_read(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int vsg_mkdir(const char *path)
{
	if (mkdir(path, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

static int vsg_rmdir(const char *path)
{
	return rmdir(path) ? -errno : 0;
}

static void vsg_bs_path(char *buf, size_t len, struct vsg_target *t,
			unsigned int lun, const char *sub)
{
	snprintf(buf, len, VSG_CFS_ROOT "/core/%s%s%s", t->bs[lun],
		 sub ? "/" : "", sub ? sub : "");
}

static int vsg_bs_control(struct vsg_target *t, unsigned int lun,
			  size_t bytes)
{
	char path[256], val[256];

	if (t->kind[lun] == VSG_BS_RD) {
		snprintf(val, sizeof(val), "rd_pages=%zu", (bytes + 4095) / 4096);
	} else if (t->kind[lun] == VSG_BS_IBLOCK) {
		snprintf(val, sizeof(val), "udev_path=%s", t->file[lun]);
	} else {
		const char *dir = getenv("TMPDIR");
		char name[64];

		snprintf(name, sizeof(name), "%s", t->wwpn + 4);
		snprintf(t->file[lun], sizeof(t->file[lun]), "%s/%s-%u.img",
			 dir ? dir : "/tmp", name, lun);
		snprintf(val, sizeof(val), "fd_dev_name=%s,fd_dev_size=%zu",
			 t->file[lun], bytes);
	}
	vsg_bs_path(path, sizeof(path), t, lun, "control");
	return vsg_cfs_write(path, val);
}

static const char *vsg_bs_hba(enum vsg_bs_kind kind)
{
	switch (kind) {
	case VSG_BS_RD:
		return "rd_mcp";
	case VSG_BS_IBLOCK:
		return "iblock";
	default:
		return "fileio";
	}
}

/*
 * Creates and enables backstore @lun of @kind; not linked yet.  For
 * VSG_BS_IBLOCK the caller puts the block device's path in t->file[lun]
 * first, and @bytes is unused.
 */
int vsg_bs_create(struct vsg_target *t, unsigned int lun,
		  enum vsg_bs_kind kind, size_t bytes)
{
	char path[256];
	int ret;

	if (lun >= VSG_CFS_MAX_LUNS || t->kind[lun] != VSG_BS_NONE)
		return -EINVAL;
	snprintf(t->bs[lun], sizeof(t->bs[lun]), "%s_%u/vsg", vsg_bs_hba(kind),
		 (unsigned int)getpid() * 64 + (vsg_cfs_seq++ % 64));
	t->kind[lun] = kind;
	snprintf(path, sizeof(path), VSG_CFS_ROOT "/core/%s", t->bs[lun]);
	*strrchr(path, '/') = '\0';
	ret = vsg_mkdir(path);
	if (!ret)
		ret = vsg_mkdir(strcat(path, "/vsg"));
	if (!ret)
		ret = vsg_bs_control(t, lun, bytes);
	if (!ret) {
		vsg_bs_path(path, sizeof(path), t, lun, "enable");
		ret = vsg_cfs_write(path, "1");
	}
	return ret;
}

int vsg_bs_attr(struct vsg_target *t, unsigned int lun, const char *attr,
		const char *val)
{
	char path[256], sub[128];

	snprintf(sub, sizeof(sub), "attrib/%s", attr);
	vsg_bs_path(path, sizeof(path), t, lun, sub);
	return vsg_cfs_write(path, val);
}

int vsg_bs_remove(struct vsg_target *t, unsigned int lun)
{
	char path[256];
	int ret;

	if (t->kind[lun] == VSG_BS_NONE)
		return 0;
	vsg_bs_path(path, sizeof(path), t, lun, NULL);
	ret = vsg_rmdir(path);
	*strrchr(path, '/') = '\0';
	if (!ret)
		ret = vsg_rmdir(path);
	if (t->kind[lun] == VSG_BS_FILEIO)
		unlink(t->file[lun]);
	t->kind[lun] = VSG_BS_NONE;
	return ret;
}

static void vsg_tpg_path(char *buf, size_t len, struct vsg_target *t,
			 const char *sub)
{
	snprintf(buf, len, VSG_CFS_ROOT "/vhost/%s/tpgt_%u%s%s", t->wwpn,
		 t->tpgt, sub ? "/" : "", sub ? sub : "");
}

/* Creates WWN (if needed), tpgt_N and the nexus. */
int vsg_tpg_create(struct vsg_target *t, unsigned int tpgt)
{
	char path[256];
	int ret;

	t->tpgt = tpgt;
	snprintf(path, sizeof(path), VSG_CFS_ROOT "/vhost");
	ret = vsg_mkdir(path);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), VSG_CFS_ROOT "/vhost/%s", t->wwpn);
	ret = vsg_mkdir(path);
	if (ret)
		return ret;
	vsg_tpg_path(path, sizeof(path), t, NULL);
	ret = vsg_mkdir(path);
	if (ret)
		return ret;
	t->tpg_made = true;
	return vsg_tpg_attr(t, "nexus", t->nexus);
}

int vsg_tpg_attr(struct vsg_target *t, const char *attr, const char *val)
{
	char path[256];

	vsg_tpg_path(path, sizeof(path), t, attr);
	return vsg_cfs_write(path, val);
}

/* Links backstore @bs as LUN @id (0..16383: any id LIO takes). */
int vsg_lun_link_as(struct vsg_target *t, unsigned int bs, unsigned int id)
{
	char dir[256], link[300], dst[256];
	char sub[32];

	snprintf(sub, sizeof(sub), "lun/lun_%u", id);
	vsg_tpg_path(dir, sizeof(dir), t, sub);
	if (vsg_mkdir(dir))
		return -errno;
	snprintf(link, sizeof(link), "%s/vsg_port", dir);
	vsg_bs_path(dst, sizeof(dst), t, bs, NULL);
	if (symlink(dst, link))
		return -errno;
	return 0;
}

int vsg_lun_unlink_id(struct vsg_target *t, unsigned int id)
{
	char dir[256], link[300];
	char sub[32];

	snprintf(sub, sizeof(sub), "lun/lun_%u", id);
	vsg_tpg_path(dir, sizeof(dir), t, sub);
	snprintf(link, sizeof(link), "%s/vsg_port", dir);
	if (unlink(link) && errno != ENOENT)
		return -errno;
	return vsg_rmdir(dir);
}

int vsg_lun_link(struct vsg_target *t, unsigned int lun)
{
	int ret = vsg_lun_link_as(t, lun, lun);

	if (!ret)
		t->linked[lun] = true;
	return ret;
}

int vsg_lun_unlink(struct vsg_target *t, unsigned int lun)
{
	t->linked[lun] = false;
	return vsg_lun_unlink_id(t, lun);
}

int vsg_target_setup(struct vsg_target *t, enum vsg_bs_kind kind,
		     unsigned int nr_luns, size_t bytes)
{
	unsigned int id = getpid() * 64 + (vsg_cfs_seq++ % 64), i;
	int ret;

	memset(t, 0, sizeof(*t));
	snprintf(t->wwpn, sizeof(t->wwpn), "naa.5001405%09x", id);
	snprintf(t->nexus, sizeof(t->nexus), "naa.5001406%09x", id);
	ret = vsg_tpg_create(t, 1);
	for (i = 0; !ret && i < nr_luns; i++) {
		ret = vsg_bs_create(t, i, kind, bytes);
		if (!ret)
			ret = vsg_lun_link(t, i);
	}
	return ret;
}

/* Every LUN of the TPG, whatever its id. */
static void vsg_unlink_all(struct vsg_target *t)
{
	struct dirent *de;
	char path[256];
	unsigned int id;
	DIR *dir;

	vsg_tpg_path(path, sizeof(path), t, "lun");
	dir = opendir(path);
	if (!dir)
		return;
	while ((de = readdir(dir)))
		if (sscanf(de->d_name, "lun_%u", &id) == 1)
			vsg_lun_unlink_id(t, id);
	closedir(dir);
	memset(t->linked, 0, sizeof(t->linked));
}

void vsg_target_teardown(struct vsg_target *t)
{
	char path[256];
	unsigned int i;

	if (t->tpg_made) {
		vsg_unlink_all(t);
		vsg_tpg_path(path, sizeof(path), t, NULL);
		vsg_rmdir(path);
		snprintf(path, sizeof(path), VSG_CFS_ROOT "/vhost/%s", t->wwpn);
		vsg_rmdir(path);
		t->tpg_made = false;
	}
	for (i = 0; i < VSG_CFS_MAX_LUNS; i++)
		vsg_bs_remove(t, i);
}

int vsg_nullb_available(void)
{
	if (system("modprobe -q null_blk nr_devices=0 && modprobe -q target_core_iblock"))
		return -ENOENT;
	return access(VSG_NULLB_CFS, F_OK) ? -errno : 0;
}

static int vsg_nullb_attr(const char *dir, const char *attr, const char *val)
{
	char path[192];

	snprintf(path, sizeof(path), "%s/%s", dir, attr);
	return vsg_cfs_write(path, val);
}

/*
 * A powered-on null_blk device made in configfs at @dir, in timer mode
 * when @completion_ns is set; 6.1 names the disk after the directory.
 */
int vsg_nullb_make(const char *dir, unsigned long completion_ns, char *dev,
		   size_t len)
{
	const char *attrs[][2] = {
		{ "size", "64" }, { "irqmode", completion_ns ? "2" : "1" },
		{ "completion_nsec", NULL }, { "hw_queue_depth", "128" },
		{ "power", "1" },
	};
	char ns[32];
	unsigned int i;
	int ret;

	if (mkdir(dir, 0755))
		return -errno;
	snprintf(ns, sizeof(ns), "%lu", completion_ns);
	attrs[2][1] = ns;
	for (i = 0; i < ARRAY_SIZE(attrs); i++) {
		ret = vsg_nullb_attr(dir, attrs[i][0], attrs[i][1]);
		if (ret)
			return ret;
	}
	snprintf(dev, len, "/dev/%s", strrchr(dir, '/') + 1);
	return access(dev, R_OK | W_OK) ? -errno : 0;
}

void vsg_nullb_remove(const char *dir)
{
	if (!dir[0] || access(dir, F_OK))
		return;
	vsg_nullb_attr(dir, "power", "0");
	rmdir(dir);
}
