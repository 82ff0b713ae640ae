// SPDX-License-Identifier: GPL-2.0
/*
 * vsg_probe <wwpn> <target> <lun> <good|missing>
 *
 * One-shot check for targets built by other tools (targetcli): opens
 * /dev/vhost-scsi, sets the endpoint to <wwpn> and checks that the LUN
 * answers TEST UNIT READY and a write/read/verify ("good"), or that it is
 * answered as absent ("missing").  Prints one TAP-style line, exit 0/1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vsg_test.h"

static int probe_good(struct vsg_dev *d, unsigned int t, unsigned int l)
{
	struct vsg_vq *q = vsg_io_vq(d, 0);
	__u8 *w = vsg_alloc(d, 8 * VSG_BLOCK, 4096);
	__u8 *r = vsg_alloc(d, 8 * VSG_BLOCK, 4096);
	struct vsg_scsi_res res;
	int i;

	/* the first commands may report a unit attention */
	for (i = 0; i < 3; i++)
		if (!vsg_tur(q, t, l, &res) && !res.response && !res.status)
			break;
	if (i == 3)
		return 1;
	vsg_fill(w, 8 * VSG_BLOCK, 42);
	if (vsg_rw(q, t, l, true, true, 8, 8, w, 8 * VSG_BLOCK, &res) ||
	    res.response || res.status)
		return 1;
	if (vsg_rw(q, t, l, false, false, 8, 8, r, 8 * VSG_BLOCK, &res) ||
	    res.response || res.status)
		return 1;
	return vsg_check(r, 8 * VSG_BLOCK, 42) >= 0;
}

/*
 * Absent: an error answer.  LIO answers an unmapped LUN 0 with its
 * read-only virtual LUN 0, so a GOOD TUR counts only if a write fails.
 */
static int probe_missing(struct vsg_dev *d, unsigned int t, unsigned int l)
{
	__u8 *w = vsg_alloc(d, VSG_BLOCK, 4096);
	struct vsg_scsi_res res;

	if (vsg_tur(vsg_io_vq(d, 0), t, l, &res))
		return 1;
	if (res.response == VIRTIO_SCSI_S_OK && !res.status && !l) {
		if (vsg_rw(vsg_io_vq(d, 0), t, l, true, false, 0, 1, w,
			   VSG_BLOCK, &res))
			return 1;
		return res.response == VIRTIO_SCSI_S_OK && !res.status;
	}
	if (res.response == VIRTIO_SCSI_S_OK)
		return res.status != SAM_STAT_CHECK_CONDITION;
	return res.response != VIRTIO_SCSI_S_INCORRECT_LUN &&
	       res.response != VIRTIO_SCSI_S_BAD_TARGET;
}

int main(int argc, char **argv)
{
	struct vsg_dev *d;
	unsigned int t, l;
	int ret;

	if (argc != 5) {
		fprintf(stderr, "usage: %s wwpn target lun good|missing\n",
			argv[0]);
		return 2;
	}
	t = strtoul(argv[2], NULL, 0);
	l = strtoul(argv[3], NULL, 0);
	ret = vsg_open(NULL, &d);
	if (ret) {
		printf("not ok vsg_probe: open: %s\n", strerror(-ret));
		return 1;
	}
	ret = vsg_set_endpoint(d, argv[1]);
	if (ret) {
		printf("not ok vsg_probe: SET_ENDPOINT %s: %s\n", argv[1],
		       strerror(-ret));
		vsg_close(d);
		return 1;
	}
	if (!strcmp(argv[4], "good"))
		ret = probe_good(d, t, l);
	else
		ret = probe_missing(d, t, l);
	printf("%sok vsg_probe %s %u/%u %s\n", ret ? "not " : "", argv[1], t,
	       l, argv[4]);
	vsg_close(d);
	return ret;
}
