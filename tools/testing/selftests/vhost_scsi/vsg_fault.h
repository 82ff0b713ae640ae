/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fault injection for the vhost_scsi selftests (debug kernel): settings
 * of failslab and fail_page_alloc in debugfs, made in order and undone in
 * the reverse order, and fail-nth, which fails a task's N-th allocation
 * from now on.
 */
#ifndef VSG_FAULT_H
#define VSG_FAULT_H

#include <stdbool.h>
#include <sys/types.h>

#define VSG_DEBUGFS		"/sys/kernel/debug"
#define VSG_FAULT_MAX_SETTINGS	16

struct vsg_fault_setting {
	const char *file;	/* below VSG_DEBUGFS */
	const char *val;
};

struct vsg_faults {
	const struct vsg_fault_setting *set;
	unsigned int nr_set;	/* made, to undo */
	char old[VSG_FAULT_MAX_SETTINGS][32];
	char why[160];		/* reason when apply skips or fails */
};

/* Returns 0, KSFT_SKIP (4: no fault injection) or 1, with f->why set. */
int vsg_faults_apply(struct vsg_faults *f,
		     const struct vsg_fault_setting *set, unsigned int nr);
void vsg_faults_undo(struct vsg_faults *f);

/* What is left of failslab's or fail_page_alloc's "times"; -1 error. */
long long vsg_fault_times(const char *what);
int vsg_make_it_fail(pid_t pid, bool on);

/*
 * fail-nth of task @tid, kept open: opening it allocates, so a sweep of
 * the caller's own allocations opens it once, before the first.
 */
int vsg_fail_nth_open(pid_t tid);
int vsg_fail_nth_set(int fd, unsigned int n);
/* What is left: 0 once the failure was injected; -1 error. */
long vsg_fail_nth_left(int fd);

#endif /* VSG_FAULT_H */
