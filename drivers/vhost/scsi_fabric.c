// SPDX-License-Identifier: GPL-2.0+
/*
 * (C) Copyright 2010-2013 Datera, Inc.
 * (C) Copyright 2010-2012 IBM Corp.
 *
 * Authors: Nicholas A. Bellinger <nab@daterainc.com>
 *          Stefan Hajnoczi <stefanha@linux.vnet.ibm.com>
 *
 * vhost_scsi LIO fabric "vhost": configfs WWNs, TPGs, nexus, LUN links.
 *
 * A LUN symlink publishes LIO's se_lun in the TPG's SRCU-read LUN table
 * once LIO set it up, then queues a RESCAN event; the link allocates
 * nothing of ours.  Unlink unpublishes it and waits for readers
 * (synchronize_srcu); LIO then drains the LUN's lun_ref, which every
 * command or TMF that found it holds until answered, and after that we
 * queue REMOVED.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/configfs.h>
#include <linux/ctype.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/string.h>
#include <linux/utsname.h>
#include <scsi/scsi_proto.h>
#include <target/target_core_fabric.h>

#include "scsi.h"

static char *vhs_tpg_get_wwn(struct se_portal_group *se_tpg)
{
	return to_vhs_tpg(se_tpg)->tport->name;
}

static u16 vhs_tpg_get_tag(struct se_portal_group *se_tpg)
{
	return to_vhs_tpg(se_tpg)->tpgt;
}

static int vhs_check_true(struct se_portal_group *se_tpg)
{
	return 1;
}

static int vhs_check_false(struct se_portal_group *se_tpg)
{
	return 0;
}

static int vhs_check_prot_fabric_only(struct se_portal_group *se_tpg)
{
	return READ_ONCE(to_vhs_tpg(se_tpg)->fabric_prot_type);
}

static u32 vhs_tpg_get_inst_index(struct se_portal_group *se_tpg)
{
	return 1;
}

static int vhs_check_stop_free(struct se_cmd *se_cmd)
{
	return target_put_sess_cmd(se_cmd);
}

static void vhs_lio_release_cmd(struct se_cmd *se_cmd)
{
	if (se_cmd->se_cmd_flags & SCF_SCSI_TMR_CDB)
		vhs_release_tmr(container_of(se_cmd, struct vhs_tmf, se_cmd));
	else
		vhs_release_cmd(container_of(se_cmd, struct vhs_cmd, se_cmd));
}

static u32 vhs_sess_get_index(struct se_session *se_sess)
{
	return 0;
}

/* The data of a write is already in the scatterlist. */
static int vhs_write_pending(struct se_cmd *se_cmd)
{
	target_execute_cmd(se_cmd);
	return 0;
}

static void vhs_set_default_node_attrs(struct se_node_acl *nacl)
{
}

static int vhs_get_cmd_state(struct se_cmd *se_cmd)
{
	return 0;
}

static int vhs_queue_status(struct se_cmd *se_cmd)
{
	container_of(se_cmd, struct vhs_cmd, se_cmd)->status_sent = true;
	transport_generic_free_cmd(se_cmd, 0);
	return 0;
}

/* A read's data is in the scatterlist: the response reports it. */
static int vhs_queue_data_in(struct se_cmd *se_cmd)
{
	container_of(se_cmd, struct vhs_cmd, se_cmd)->data_sent = true;
	return vhs_queue_status(se_cmd);
}

static void vhs_queue_tm_rsp(struct se_cmd *se_cmd)
{
	struct vhs_tmf *tmf = container_of(se_cmd, struct vhs_tmf, se_cmd);

	tmf->lio_resp = se_cmd->se_tmr_req->response;
	transport_generic_free_cmd(se_cmd, 0);
}

/* No status was sent; the response will say VIRTIO_SCSI_S_ABORTED. */
static void vhs_aborted_task(struct se_cmd *se_cmd)
{
}

/* WWN prefix -> SCSI protocol; @skip: prefix bytes not part of the name */
static int vhs_wwn_proto(const char *name, u8 *proto, size_t *skip)
{
	static const struct {
		const char *prefix;
		u8 proto;
		bool keep;	/* prefix is part of the port name */
		bool hex;	/* rest must be hex digits */
	} types[] = {
		{ "naa.", SCSI_PROTOCOL_SAS, true, true },
		{ "eui.", SCSI_PROTOCOL_ISCSI, true, true },
		{ "fc.", SCSI_PROTOCOL_FCP, false, false },
		{ "iqn.", SCSI_PROTOCOL_ISCSI, true, false },
	};
	size_t i, j, len;

	for (i = 0; i < ARRAY_SIZE(types); i++) {
		len = strlen(types[i].prefix);
		if (strncmp(name, types[i].prefix, len) || !name[len])
			continue;
		for (j = len; types[i].hex && name[j]; j++)
			if (!isxdigit(name[j]))
				return -EINVAL;
		*proto = types[i].proto;
		*skip = types[i].keep ? 0 : len;
		return 0;
	}
	return -EINVAL;
}

static struct se_wwn *vhs_make_tport(struct target_fabric_configfs *tf,
				     struct config_group *group,
				     const char *name)
{
	struct vhs_tport *tport;
	size_t skip;
	u8 proto;

	if (strlen(name) >= VHS_NAMELEN || vhs_wwn_proto(name, &proto, &skip)) {
		pr_err_ratelimited("invalid target port name %s\n", name);
		return ERR_PTR(-EINVAL);
	}
	tport = kzalloc(sizeof(*tport), GFP_KERNEL);
	if (!tport)
		return ERR_PTR(-ENOMEM);
	tport->proto_id = proto;
	strscpy(tport->name, name + skip, sizeof(tport->name));
	return &tport->wwn;
}

static void vhs_drop_tport(struct se_wwn *wwn)
{
	kfree(container_of(wwn, struct vhs_tport, wwn));
}

/*
 * "tpgt_N" with N < VHS_MAX_TARGET, spelt canonically: "tpgt_01" or
 * "tpgt_+1" would be a second directory for target id 1.
 */
static int vhs_parse_tpgt(const char *name, u16 *tpgt)
{
	char canon[16];

	if (!str_has_prefix(name, "tpgt_") || kstrtou16(name + 5, 10, tpgt) ||
	    *tpgt >= VHS_MAX_TARGET)
		return -EINVAL;
	snprintf(canon, sizeof(canon), "tpgt_%u", *tpgt);
	return strcmp(name, canon) ? -EINVAL : 0;
}

static struct se_portal_group *vhs_make_tpg(struct se_wwn *wwn,
					    const char *name)
{
	struct vhs_tport *tport = container_of(wwn, struct vhs_tport, wwn);
	struct vhs_tpg *tpg;
	u16 tpgt;
	int ret;

	if (vhs_parse_tpgt(name, &tpgt)) {
		pr_err_ratelimited("invalid TPG name %s (tpgt_0 .. tpgt_%u)\n",
				   name, VHS_MAX_TARGET - 1);
		return ERR_PTR(-EINVAL);
	}

	tpg = kzalloc(sizeof(*tpg), GFP_KERNEL);
	if (!tpg)
		return ERR_PTR(-ENOMEM);
	/* 128 KiB of LUN slots, so that a LUN link has nothing to grow. */
	tpg->luns = kvcalloc(VHS_MAX_LUN, sizeof(*tpg->luns), GFP_KERNEL);
	if (!tpg->luns) {
		ret = -ENOMEM;
		goto out_free_tpg;
	}
	mutex_init(&tpg->mutex);
	INIT_LIST_HEAD(&tpg->node);
	tpg->tport = tport;
	tpg->tpgt = tpgt;
	ret = core_tpg_register(wwn, &tpg->se_tpg, tport->proto_id);
	if (ret < 0)
		goto out_free_luns;
	mutex_lock(&vhs_tpg_list_lock);
	list_add_tail_rcu(&tpg->node, &vhs_tpg_list);
	mutex_unlock(&vhs_tpg_list_lock);
	return &tpg->se_tpg;

out_free_luns:
	kvfree(tpg->luns);
out_free_tpg:
	kfree(tpg);
	return ERR_PTR(ret);
}

static int vhs_drop_nexus(struct vhs_tpg *tpg)
{
	int ret = 0;

	mutex_lock(&tpg->mutex);
	if (!tpg->se_sess)
		ret = -ENODEV;
	else if (tpg->nr_luns || tpg->claimed)
		ret = -EBUSY;
	if (!ret) {
		target_remove_session(tpg->se_sess);
		tpg->se_sess = NULL;
	}
	mutex_unlock(&tpg->mutex);
	return ret;
}

static void vhs_drop_tpg(struct se_portal_group *se_tpg)
{
	struct vhs_tpg *tpg = to_vhs_tpg(se_tpg);

	mutex_lock(&vhs_tpg_list_lock);
	list_del_rcu(&tpg->node);
	mutex_unlock(&vhs_tpg_list_lock);
	/* A SET_ENDPOINT walking the list may still look at this TPG. */
	synchronize_srcu(&vhs_tpg_list_srcu);
	/* Not claimed (configfs dependency), no LUN left: nothing reads. */
	vhs_drop_nexus(tpg);
	core_tpg_deregister(se_tpg);
	kvfree(tpg->luns);
	kfree(tpg);
}

static int vhs_make_nexus(struct vhs_tpg *tpg, const char *name)
{
	struct se_session *sess;
	int ret = 0;

	mutex_lock(&tpg->mutex);
	if (tpg->se_sess) {
		ret = -EEXIST;
		goto out_unlock;
	}
	sess = target_setup_session(&tpg->se_tpg, 0, 0,
				    TARGET_PROT_DIN_PASS | TARGET_PROT_DOUT_PASS,
				    name, tpg, NULL);
	if (IS_ERR(sess))
		ret = PTR_ERR(sess);
	else
		tpg->se_sess = sess;
out_unlock:
	mutex_unlock(&tpg->mutex);
	return ret;
}

static ssize_t vhs_tpg_nexus_show(struct config_item *item, char *page)
{
	struct vhs_tpg *tpg = to_vhs_tpg(to_tpg(item));
	ssize_t ret = -ENODEV;

	mutex_lock(&tpg->mutex);
	if (tpg->se_sess)
		ret = sysfs_emit(page, "%s\n",
				 tpg->se_sess->se_node_acl->initiatorname);
	mutex_unlock(&tpg->mutex);
	return ret;
}

static ssize_t vhs_tpg_nexus_store(struct config_item *item, const char *page,
				   size_t count)
{
	struct vhs_tpg *tpg = to_vhs_tpg(to_tpg(item));
	char name[VHS_NAMELEN];
	size_t skip;
	u8 proto;
	int ret;

	if (!strncmp(page, "NULL", 4)) {
		ret = vhs_drop_nexus(tpg);
		return ret ?: count;
	}
	if (count >= VHS_NAMELEN)
		return -EINVAL;
	strscpy(name, page, sizeof(name));
	name[strcspn(name, "\n")] = '\0';
	if (vhs_wwn_proto(name, &proto, &skip) ||
	    proto != tpg->tport->proto_id) {
		pr_err_ratelimited("initiator %s does not match target port %s\n",
				   name, tpg->tport->name);
		return -EINVAL;
	}
	ret = vhs_make_nexus(tpg, name + skip);
	return ret ?: count;
}

CONFIGFS_ATTR(vhs_tpg_, nexus);

static struct configfs_attribute *vhs_tpg_attrs[] = {
	&vhs_tpg_attr_nexus,
	NULL,
};

static ssize_t vhs_tpg_attrib_fabric_prot_type_show(struct config_item *item,
						    char *page)
{
	struct vhs_tpg *tpg = to_vhs_tpg(attrib_to_tpg(item));

	return sysfs_emit(page, "%d\n", READ_ONCE(tpg->fabric_prot_type));
}

static ssize_t vhs_tpg_attrib_fabric_prot_type_store(struct config_item *item,
						     const char *page,
						     size_t count)
{
	struct vhs_tpg *tpg = to_vhs_tpg(attrib_to_tpg(item));
	unsigned int val;
	int ret;

	ret = kstrtouint(page, 0, &val);
	if (ret)
		return ret;
	if (val != 0 && val != 1 && val != 3)
		return -EINVAL;
	WRITE_ONCE(tpg->fabric_prot_type, val);
	return count;
}

CONFIGFS_ATTR(vhs_tpg_attrib_, fabric_prot_type);

static struct configfs_attribute *vhs_tpg_attrib_attrs[] = {
	&vhs_tpg_attrib_attr_fabric_prot_type,
	NULL,
};

static ssize_t vhs_wwn_version_show(struct config_item *item, char *page)
{
	return sysfs_emit(page, "vhost_scsi SRCU fabric module on %s/%s on %s\n",
			  utsname()->sysname, utsname()->machine,
			  utsname()->release);
}

CONFIGFS_ATTR_RO(vhs_wwn_, version);

static struct configfs_attribute *vhs_wwn_attrs[] = {
	&vhs_wwn_attr_version,
	NULL,
};

/*
 * Does the initiator of @sess reach LUN @id?  6.1's LIO maps a new LUN
 * for the dynamic ACL of each session but ignores a failure to allocate
 * the mapping, and links the LUN anyway.
 */
static bool vhs_lun_mapped(struct se_session *sess, u64 id)
{
	struct se_dev_entry *deve;
	bool mapped = false;

	rcu_read_lock();
	hlist_for_each_entry_rcu(deve, &sess->se_node_acl->lun_entry_hlist,
				 link) {
		if (deve->mapped_lun == id) {
			mapped = true;
			break;
		}
	}
	rcu_read_unlock();
	return mapped;
}

/*
 * fabric_post_link: LIO has set the LUN up and made its lun_ref live;
 * publish it, then announce it.  LIO ignores what this returns, so
 * nothing here may fail: the slot was allocated with the TPG.
 */
static int vhs_port_link(struct se_portal_group *se_tpg, struct se_lun *se_lun)
{
	struct vhs_tpg *tpg = to_vhs_tpg(se_tpg);
	u64 id = se_lun->unpacked_lun;

	if (id >= VHS_MAX_LUN)
		pr_warn_ratelimited("LUN %llu of %s/tpgt_%u is not visible to guests (LUNs %u and above cannot be addressed)\n",
				    id, tpg->tport->name, tpg->tpgt,
				    VHS_MAX_LUN);
	mutex_lock(&tpg->mutex);
	tpg->nr_luns++;
	if (id < VHS_MAX_LUN) {
		rcu_assign_pointer(tpg->luns[id], se_lun);
		vhs_evt_post(tpg, id, VIRTIO_SCSI_EVT_RESET_RESCAN);
	}
	if (tpg->se_sess && !vhs_lun_mapped(tpg->se_sess, id))
		pr_warn_ratelimited("LUN %llu of %s/tpgt_%u is not mapped for initiator %s: LIO could not allocate the mapping; unlink and link it again\n",
				    id, tpg->tport->name, tpg->tpgt,
				    tpg->se_sess->se_node_acl->initiatorname);
	mutex_unlock(&tpg->mutex);
	return 0;
}

/*
 * fabric_pre_unlink: make the LUN invisible to new lookups and wait for
 * the lookups in progress.  After that every command and TMF that found
 * the LUN holds its lun_ref (vhs_get_lun()), and LIO's core_dev_del_lun(),
 * next in the unlink, kills lun_ref and waits until each has been
 * answered; only then does the unlink return.  Waiting here for our
 * lookups is what makes that drain complete: a lookup still between
 * reading the slot and its tryget could otherwise touch a lun_ref that
 * LIO has killed and freed (percpu_ref_exit()) by then.  The wait is
 * under the TPG mutex, so whoever takes it next (a link, SET_ENDPOINT's
 * claim, a nexus drop) finds no lookup of the old LUN left; LIO's drain
 * runs after we dropped it.
 */
static void vhs_port_unlink(struct se_portal_group *se_tpg,
			    struct se_lun *se_lun)
{
	struct vhs_tpg *tpg = to_vhs_tpg(se_tpg);
	u64 id = se_lun->unpacked_lun;

	mutex_lock(&tpg->mutex);
	tpg->nr_luns--;
	if (id < VHS_MAX_LUN)
		RCU_INIT_POINTER(tpg->luns[id], NULL);
	synchronize_srcu(&vhs_srcu);
	mutex_unlock(&tpg->mutex);
}

/* fabric_post_unlink: LIO released the LUN; now tell the guest. */
static void vhs_port_post_unlink(struct se_portal_group *se_tpg,
				 struct se_lun *se_lun)
{
	struct vhs_tpg *tpg = to_vhs_tpg(se_tpg);

	mutex_lock(&tpg->mutex);
	if (se_lun->unpacked_lun < VHS_MAX_LUN)
		vhs_evt_post(tpg, se_lun->unpacked_lun,
			     VIRTIO_SCSI_EVT_RESET_REMOVED);
	mutex_unlock(&tpg->mutex);
}

static const struct target_core_fabric_ops vhs_ops = {
	.module				= THIS_MODULE,
	.fabric_name			= "vhost",
	.max_data_sg_nents		= VHS_MAX_SGS,
	.tpg_get_wwn			= vhs_tpg_get_wwn,
	.tpg_get_tag			= vhs_tpg_get_tag,
	.tpg_check_demo_mode		= vhs_check_true,
	.tpg_check_demo_mode_cache	= vhs_check_true,
	.tpg_check_demo_mode_write_protect = vhs_check_false,
	.tpg_check_prod_mode_write_protect = vhs_check_false,
	.tpg_check_prot_fabric_only	= vhs_check_prot_fabric_only,
	.tpg_get_inst_index		= vhs_tpg_get_inst_index,
	.release_cmd			= vhs_lio_release_cmd,
	.check_stop_free		= vhs_check_stop_free,
	.sess_get_index			= vhs_sess_get_index,
	.write_pending			= vhs_write_pending,
	.set_default_node_attributes	= vhs_set_default_node_attrs,
	.get_cmd_state			= vhs_get_cmd_state,
	.queue_data_in			= vhs_queue_data_in,
	.queue_status			= vhs_queue_status,
	.queue_tm_rsp			= vhs_queue_tm_rsp,
	.aborted_task			= vhs_aborted_task,
	.fabric_make_wwn		= vhs_make_tport,
	.fabric_drop_wwn		= vhs_drop_tport,
	.fabric_make_tpg		= vhs_make_tpg,
	.fabric_drop_tpg		= vhs_drop_tpg,
	.fabric_post_link		= vhs_port_link,
	.fabric_pre_unlink		= vhs_port_unlink,
	.fabric_post_unlink		= vhs_port_post_unlink,
	.tfc_wwn_attrs			= vhs_wwn_attrs,
	.tfc_tpg_base_attrs		= vhs_tpg_attrs,
	.tfc_tpg_attrib_attrs		= vhs_tpg_attrib_attrs,
	VHS_FABRIC_SUBMIT_OPS
};

int vhs_fabric_init(void)
{
	return target_register_template(&vhs_ops);
}

void vhs_fabric_exit(void)
{
	target_unregister_template(&vhs_ops);
}
