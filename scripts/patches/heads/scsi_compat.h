 * (C) Copyright 2010-2013 Datera, Inc.
 * (C) Copyright 2010-2012 IBM Corp.
 *
 * Authors: Nicholas A. Bellinger <nab@daterainc.com>
 *          Stefan Hajnoczi <stefanha@linux.vnet.ibm.com>
 *
 * The vhost and LIO calls whose form depends on the vhost core and the
 * target core this driver is built with, each behind one name.
 *
 * Here: one vhost worker, a kthread, runs the work of every vq of a
 * device and lives until vhost_dev_cleanup().  A fabric hands commands to
 * LIO's submission workqueue with target_queue_submission().
 */
