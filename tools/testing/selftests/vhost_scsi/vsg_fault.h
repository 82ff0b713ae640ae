/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fault injection for the vhost_scsi selftests (debug kernel): settings
 * of failslab and fail_page_alloc in debugfs, made in order and undone in
 * the reverse order, fail-nth, which fails a task's N-th allocation
 * from now on, the sweep built on it, and reading the kernel log (what a
 * step reported).
 */
#ifndef VSG_FAULT_H
#define VSG_FAULT_H

#include <stdbool.h>
#include <stddef.h>
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

/*
 * Only fail-nth injects with these: messages off, sleeping allocations
 * and single pages fail too, the probabilities stay 0.
 */
extern const struct vsg_fault_setting vsg_fault_nth_only[];
extern const unsigned int vsg_fault_nth_only_nr;

/*
 * A sweep of failing allocations over one step: the step's allocation 1
 * fails, then 2, ..., until the step makes fewer allocations than the
 * one set to fail.  @op is the step; @prep before it and @undo after a
 * success run without failures; @check says whether the state is what
 * @done (the step succeeded) says, returning NULL or what is wrong.
 */
struct vsg_step {
	const char *name;
	int (*prep)(void *ctx);
	int (*op)(void *ctx);		/* 0 or -errno */
	void (*undo)(void *ctx);
	const char *(*check)(void *ctx, bool done);
};

struct vsg_sweep {
	unsigned int sites;	/* allocations the step makes */
	unsigned int failed;	/* failures answered with an error */
	unsigned int tolerated;	/* failures the step got over */
	int errnos[8];		/* distinct errors seen */
	unsigned int nr_errnos;
	char what[200];		/* the first thing wrong, "" if none */
};

/*
 * Sweeps @st with the caller's fail-nth @nth_fd, at most @max allocations.
 * 1: ended with a run that made fewer allocations; <0: stopped early.
 * A failed step must fail with an error, leave @check's state as before
 * and succeed when tried again; one that succeeded anyway must pass
 * @check as done.  @r->what says what was wrong first.
 */
int vsg_sweep_run(int nth_fd, const struct vsg_step *st, void *ctx,
		  unsigned int max, struct vsg_sweep *r);
/* "ENOMEM,EINVAL" of @r, or "-" */
void vsg_sweep_errors(const struct vsg_sweep *r, char *buf, size_t len);

/*
 * The kernel log: vsg_kmsg_open() reads /dev/kmsg from its end on;
 * vsg_kmsg_count() counts the records since then at @max_level or more
 * urgent (7: any) that contain @needle (NULL: any), keeping the last one.
 * vsg_kmsg_count_settled() goes on counting until every kobject release
 * it read of as deferred (CONFIG_DEBUG_KOBJECT_RELEASE: by up to 4 s) can
 * have run, at most 30 s: what such a release reports belongs to the step
 * that dropped the object, not to whatever runs 4 s later.
 */
int vsg_kmsg_open(void);
unsigned int vsg_kmsg_count(int fd, const char *needle, int max_level,
			    char *last, size_t len);
unsigned int vsg_kmsg_count_settled(int fd, const char *needle,
				    int max_level, char *last, size_t len);

#endif /* VSG_FAULT_H */
