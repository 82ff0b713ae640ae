// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection for the vhost_scsi selftests: see vsg_fault.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mount.h>

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

#include "vsg_cfs.h"
#include "vsg_fault.h"

static void dbg_path(char *path, size_t len, const char *file)
{
	snprintf(path, len, VSG_DEBUGFS "/%s", file);
}

int vsg_faults_apply(struct vsg_faults *f,
		     const struct vsg_fault_setting *set, unsigned int nr)
{
	char path[128];
	unsigned int i;

	f->set = set;
	f->nr_set = 0;
	f->why[0] = '\0';
	if (nr > VSG_FAULT_MAX_SETTINGS) {
		snprintf(f->why, sizeof(f->why), "%u fault settings, at most %u",
			 nr, VSG_FAULT_MAX_SETTINGS);
		return 1;
	}
	if (access(VSG_DEBUGFS "/failslab", F_OK))
		mount("none", VSG_DEBUGFS, "debugfs", 0, NULL);
	if (access(VSG_DEBUGFS "/failslab", F_OK) ||
	    access(VSG_DEBUGFS "/fail_page_alloc", F_OK)) {
		snprintf(f->why, sizeof(f->why), "%s",
			 "kernel without CONFIG_FAILSLAB and CONFIG_FAIL_PAGE_ALLOC (the debug tier runs this)");
		return 4;
	}
	for (i = 0; i < nr; i++) {
		dbg_path(path, sizeof(path), set[i].file);
		if (vsg_cfs_read(path, f->old[i], sizeof(f->old[i]))) {
			snprintf(f->why, sizeof(f->why), "cannot read %s",
				 path);
			return 1;
		}
		f->old[i][strcspn(f->old[i], "\n")] = '\0';
		f->nr_set++;
		if (vsg_cfs_write(path, set[i].val)) {
			snprintf(f->why, sizeof(f->why), "cannot set %s = %s",
				 path, set[i].val);
			return 1;
		}
	}
	return 0;
}

void vsg_faults_undo(struct vsg_faults *f)
{
	char path[128];

	while (f->nr_set) {
		f->nr_set--;
		dbg_path(path, sizeof(path), f->set[f->nr_set].file);
		vsg_cfs_write(path, f->old[f->nr_set]);
	}
}

long long vsg_fault_times(const char *what)
{
	char path[96], val[32];

	snprintf(path, sizeof(path), VSG_DEBUGFS "/%s/times", what);
	if (vsg_cfs_read(path, val, sizeof(val)))
		return -1;
	return atoll(val);
}

int vsg_make_it_fail(pid_t pid, bool on)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/make-it-fail", pid);
	return vsg_cfs_write(path, on ? "1" : "0");
}

int vsg_fail_nth_open(pid_t tid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/fail-nth", tid);
	return open(path, O_RDWR | O_CLOEXEC);
}

int vsg_fail_nth_set(int fd, unsigned int n)
{
	char val[16];
	int len = snprintf(val, sizeof(val), "%u", n);

	return pwrite(fd, val, len, 0) == len ? 0 : -1;
}

long vsg_fail_nth_left(int fd)
{
	char val[16];
	ssize_t n = pread(fd, val, sizeof(val) - 1, 0);

	if (n <= 0)
		return -1;
	val[n] = '\0';
	return atol(val);
}

const struct vsg_fault_setting vsg_fault_nth_only[] = {
	{ "failslab/verbose", "0" },
	{ "fail_page_alloc/verbose", "0" },
	{ "failslab/ignore-gfp-wait", "N" },
	{ "fail_page_alloc/ignore-gfp-wait", "N" },
	{ "fail_page_alloc/min-order", "0" },
};

const unsigned int vsg_fault_nth_only_nr = ARRAY_SIZE(vsg_fault_nth_only);

static void sweep_errno(struct vsg_sweep *r, int err)
{
	unsigned int i;

	for (i = 0; i < r->nr_errnos; i++)
		if (r->errnos[i] == err)
			return;
	if (r->nr_errnos < ARRAY_SIZE(r->errnos))
		r->errnos[r->nr_errnos++] = err;
}

static void sweep_wrong(struct vsg_sweep *r, unsigned int n, const char *msg)
{
	if (!r->what[0])
		snprintf(r->what, sizeof(r->what), "allocation %u failed: %s",
			 n, msg);
}

static void sweep_check(const struct vsg_step *st, void *ctx,
			struct vsg_sweep *r, unsigned int n, bool done)
{
	const char *bad = st->check ? st->check(ctx, done) : NULL;

	if (bad)
		sweep_wrong(r, n, bad);
}

/* Allocation @n set to fail; 1: the step made fewer, 0: go on, <0 stop. */
static int sweep_one(int nth_fd, const struct vsg_step *st, void *ctx,
		     struct vsg_sweep *r, unsigned int n)
{
	long left;
	int ret;

	if (st->prep && st->prep(ctx)) {
		sweep_wrong(r, n, "preparing the step failed");
		return -1;
	}
	if (vsg_fail_nth_set(nth_fd, n))
		return -1;
	ret = st->op(ctx);
	left = vsg_fail_nth_left(nth_fd);
	if (vsg_fail_nth_set(nth_fd, 0) || left < 0)
		return -1;
	if (left) {		/* nothing failed */
		if (ret) {
			sweep_wrong(r, n, "failed with no failure");
			return -1;
		}
		sweep_check(st, ctx, r, n, true);
		st->undo(ctx);
		r->sites = n - 1;
		return 1;
	}
	if (!ret) {
		r->tolerated++;
		sweep_check(st, ctx, r, n, true);
		st->undo(ctx);
		return 0;
	}
	r->failed++;
	sweep_errno(r, -ret);
	sweep_check(st, ctx, r, n, false);
	if (st->op(ctx)) {
		sweep_wrong(r, n, "and the next attempt failed too");
		return -1;
	}
	st->undo(ctx);
	return 0;
}

int vsg_sweep_run(int nth_fd, const struct vsg_step *st, void *ctx,
		  unsigned int max, struct vsg_sweep *r)
{
	unsigned int n;
	int ret = 0;

	memset(r, 0, sizeof(*r));
	for (n = 1; n <= max && !ret; n++)
		ret = sweep_one(nth_fd, st, ctx, r, n);
	return ret ?: -1;
}

void vsg_sweep_errors(const struct vsg_sweep *r, char *buf, size_t len)
{
	unsigned int i;
	size_t at = 0;

	snprintf(buf, len, "-");
	for (i = 0; i < r->nr_errnos && at < len; i++)
		at += snprintf(buf + at, len - at, "%s%s", i ? "," : "",
			       strerrorname_np(r->errnos[i]));
}

int vsg_kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0 && lseek(fd, 0, SEEK_END) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * CONFIG_DEBUG_KOBJECT_RELEASE defers each kobject release by 1 to 4 s
 * and says so ("kobject: 'x' (...): kobject_release, parent ... (delayed
 * N)"); the release then runs, and reports, in a kworker.
 */
#define KOBJ_DELAYED		"kobject_release, parent"
#define KOBJ_DELAY_MAX_US	4500000ULL

/*
 * Counts into *@hits as vsg_kmsg_count(); returns the latest time (printk
 * clock, us) at which a deferred kobject release it read may still run,
 * or 0.
 */
static unsigned long long kmsg_scan(int fd, const char *needle,
				    int max_level, char *last, size_t len,
				    unsigned int *hits)
{
	unsigned long long ts, until = 0;
	char rec[2048], *msg;
	ssize_t n;

	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)	/* overwritten: go on */
			continue;
		if (n <= 0)
			break;
		rec[n] = '\0';
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		if (strstr(msg, KOBJ_DELAYED) &&
		    sscanf(rec, "%*u,%*u,%llu", &ts) == 1 &&
		    ts + KOBJ_DELAY_MAX_US > until)
			until = ts + KOBJ_DELAY_MAX_US;
		if ((atoi(rec) & 7) > max_level || (needle && !strstr(msg, needle)))
			continue;
		(*hits)++;
		if (last)
			snprintf(last, len, "%.200s", msg);
	}
	return until;
}

unsigned int vsg_kmsg_count(int fd, const char *needle, int max_level,
			    char *last, size_t len)
{
	unsigned int hits = 0;

	kmsg_scan(fd, needle, max_level, last, len, &hits);
	return hits;
}

/* The printk clock is the monotonic one give or take; a second covers it. */
#define SETTLE_SLACK_US		1000000ULL
#define SETTLE_MAX_US		30000000ULL

unsigned int vsg_kmsg_count_settled(int fd, const char *needle,
				    int max_level, char *last, size_t len)
{
	unsigned long long until, now, start = 0;
	unsigned int hits = 0;
	struct timespec t;

	for (;;) {
		until = kmsg_scan(fd, needle, max_level, last, len, &hits);
		clock_gettime(CLOCK_MONOTONIC, &t);
		now = t.tv_sec * 1000000ULL + t.tv_nsec / 1000;
		if (!start)
			start = now;
		if (!until || now >= until + SETTLE_SLACK_US ||
		    now - start >= SETTLE_MAX_US)
			return hits;
		usleep(200000);
	}
}
