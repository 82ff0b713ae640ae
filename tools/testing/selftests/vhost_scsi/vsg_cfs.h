/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vsg_cfs - build LIO targets for the vhost fabric directly in configfs:
 * rd_mcp and fileio backstores, WWN, tpgt_N, nexus and LUN symlinks.
 */
#ifndef VSG_CFS_H
#define VSG_CFS_H

#include <stdbool.h>
#include <stddef.h>

#define VSG_CFS_ROOT		"/sys/kernel/config/target"
#define VSG_CFS_MAX_LUNS	8

enum vsg_bs_kind {
	VSG_BS_NONE,
	VSG_BS_RD,
	VSG_BS_FILEIO,
	VSG_BS_IBLOCK,		/* block device named in file[lun] */
};

struct vsg_target {
	char wwpn[64];		/* naa.5001405xxxxxxxxx */
	char nexus[64];		/* initiator name written to nexus */
	unsigned int tpgt;
	enum vsg_bs_kind kind[VSG_CFS_MAX_LUNS];
	char bs[VSG_CFS_MAX_LUNS][64];		/* "rd_mcp_N/vsg" */
	char file[VSG_CFS_MAX_LUNS][128];	/* fileio file, iblock device */
	bool linked[VSG_CFS_MAX_LUNS];
	bool tpg_made;
};

int vsg_cfs_available(void);
int vsg_cfs_write(const char *path, const char *val);
int vsg_cfs_read(const char *path, char *buf, size_t len);

int vsg_bs_create(struct vsg_target *t, unsigned int lun,
		  enum vsg_bs_kind kind, size_t bytes);
int vsg_bs_attr(struct vsg_target *t, unsigned int lun, const char *attr,
		const char *val);
int vsg_bs_remove(struct vsg_target *t, unsigned int lun);

int vsg_tpg_create(struct vsg_target *t, unsigned int tpgt);
int vsg_tpg_attr(struct vsg_target *t, const char *attr, const char *val);
int vsg_lun_link(struct vsg_target *t, unsigned int lun);
int vsg_lun_unlink(struct vsg_target *t, unsigned int lun);
int vsg_lun_link_as(struct vsg_target *t, unsigned int bs, unsigned int id);
int vsg_lun_unlink_id(struct vsg_target *t, unsigned int id);

/* A TPG with @nr_luns LUNs (0..nr_luns-1) of @kind, @bytes each. */
int vsg_target_setup(struct vsg_target *t, enum vsg_bs_kind kind,
		     unsigned int nr_luns, size_t bytes);
void vsg_target_teardown(struct vsg_target *t);

/*
 * null_blk devices made in configfs, for an iblock backstore: 0 once
 * null_blk and target_core_iblock are loaded; a device of 64 MB that
 * completes every I/O after @completion_ns (0: at once, in softirq).
 */
#define VSG_NULLB_CFS		"/sys/kernel/config/nullb"
int vsg_nullb_available(void);
int vsg_nullb_make(const char *dir, unsigned long completion_ns, char *dev,
		   size_t len);
void vsg_nullb_remove(const char *dir);

#endif /* VSG_CFS_H */
