// SPDX-License-Identifier: GPL-2.0
/*
 * mdev_bench - what the mdev core loaded now costs: create+remove cycles
 * per second through sysfs on one parent and on four parents at once,
 * and how long a parent's unregistration (a driver unbind) takes with 1,
 * 16, 64 and 256 children, alone and with creates hammering it.
 *
 * Not a timed test: each point is a TAP result that fails only when the
 * core misbehaves (a create or remove that should work fails, a child
 * outlives its parent's unbind), and prints one "# bench:" line of
 * key=value figures for tools/testing/bench/report.
 *
 * Needs the sample loaded with nr_parents=4 max_instances=256 (run.sh
 * passes MDEV_SAMPLE_ARGS).  Environment: MDEV_BENCH_SECS (seconds per
 * rate point, default 2), MDEV_BENCH_ROUND (a label, default 1),
 * MDEV_FLAVOUR (set by run.sh).
 */
#include <pthread.h>
#include <stdarg.h>

#include "kselftest.h"
#include "mdev_util.h"

#define BENCH_PARENTS	4
#define MAX_CHILDREN	256
#define TYPE		"small"
#define LOAD_HINT	"load the sample with nr_parents=4 max_instances=256"

static double bench_secs = 2;
static unsigned int bench_round = 1;
static unsigned int uuid_seq;

/* A fresh uuid for @owner (a parent, or the hammer). */
static void next_uuid(char *buf, unsigned int owner)
{
	make_uuid(buf, owner,
		  __atomic_fetch_add(&uuid_seq, 1, __ATOMIC_RELAXED));
}

static void bench_line(const char *point, const char *fmt, ...)
{
	va_list ap;

	printf("# bench: flavour=%s round=%u point=%s ", mdev_flavour(),
	       bench_round, point);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

struct cycler {
	pthread_t thread;
	int parent;
	double end;
	unsigned long cycles;
	int err;		/* the first failure, -errno */
	const char *what;
};

/* Create and remove one mdev on c->parent until c->end. */
static void *cycle(void *arg)
{
	struct cycler *c = arg;
	char uuid[40];

	while (now_s() < c->end) {
		next_uuid(uuid, c->parent);
		c->err = mdev_create(c->parent, TYPE, uuid);
		if (c->err) {
			c->what = "create";
			break;
		}
		c->err = mdev_remove(uuid);
		if (c->err) {
			c->what = "remove";
			break;
		}
		c->cycles++;
	}
	return NULL;
}

static void run_cycles(unsigned int parents)
{
	struct cycler c[BENCH_PARENTS] = { 0 };
	unsigned long total = 0;
	char point[32];
	double t0, secs;
	unsigned int i;

	snprintf(point, sizeof(point), "create-remove-p%u", parents);
	t0 = now_s();
	for (i = 0; i < parents; i++) {
		c[i].parent = i;
		c[i].end = t0 + bench_secs;
		pthread_create(&c[i].thread, NULL, cycle, &c[i]);
	}
	for (i = 0; i < parents; i++)
		pthread_join(c[i].thread, NULL);
	secs = now_s() - t0;
	for (i = 0; i < parents; i++) {
		if (c[i].err) {
			ksft_test_result_fail("%s: parent %u: %s: %s\n", point,
					      i, c[i].what, strerror(-c[i].err));
			return;
		}
		total += c[i].cycles;
	}
	bench_line(point, "parents=%u secs=%.2f cycles=%lu cycles_per_s=%.0f",
		   parents, secs, total, total / secs);
	ksft_test_result_pass("%s\n", point);
}

struct hammer {
	pthread_t thread;
	bool stop;		/* atomic */
	unsigned long tries, created;
};

/* Creates on parent 0 until stopped; what it creates the unbind removes. */
static void *hammer(void *arg)
{
	struct hammer *h = arg;
	char uuid[40];

	while (!__atomic_load_n(&h->stop, __ATOMIC_RELAXED)) {
		next_uuid(uuid, 0xffff);
		h->tries++;
		if (!mdev_create(0, TYPE, uuid))
			h->created++;
	}
	return NULL;
}

/* Parent 0 with @children mdevs is unbound; the time the unbind took. */
static void run_unregister(unsigned int children, bool busy)
{
	struct hammer h = { 0 };
	char point[40], uuid[40];
	unsigned int i;
	int left;
	double t0, ms;
	int ret;

	snprintf(point, sizeof(point), "unregister-%u%s", children,
		 busy ? "-busy" : "");
	for (i = 0; i < children; i++) {
		next_uuid(uuid, 0);
		ret = mdev_create(0, TYPE, uuid);
		if (ret) {
			ksft_test_result_fail("%s: create %u: %s\n", point, i,
					      strerror(-ret));
			goto out_unbind;
		}
	}
	if (busy)
		pthread_create(&h.thread, NULL, hammer, &h);
	t0 = now_s();
	ret = parent_unbind(0);
	ms = (now_s() - t0) * 1000;
	if (busy) {
		__atomic_store_n(&h.stop, true, __ATOMIC_RELAXED);
		pthread_join(h.thread, NULL);
	}
	left = mdev_count();
	if (ret || left) {
		ksft_test_result_fail("%s: unbind: %s, %d mdevs left\n", point,
				      strerror(-ret), left);
		goto out_unbind;
	}
	bench_line(point, "children=%u busy=%d ms=%.1f hammer_creates=%lu/%lu",
		   children, busy, ms, h.created, h.tries);
	ksft_test_result_pass("%s\n", point);
out_unbind:
	if (parent_bound(0))
		parent_unbind(0);
	parent_bind(0);
}

int main(void)
{
	static const unsigned int children[] = { 1, 16, 64, 256 };
	const char *secs = getenv("MDEV_BENCH_SECS");
	const char *round = getenv("MDEV_BENCH_ROUND");
	unsigned int i;

	if (secs)
		bench_secs = atof(secs);
	if (round)
		bench_round = atoi(round);
	ksft_print_header();
	ksft_set_plan(2 + 2 * ARRAY_SIZE(children));
	printf("# mdev_bench: %s core, round %u, %.2f s per rate point\n",
	       mdev_flavour(), bench_round, bench_secs);
	for (i = 0; i < BENCH_PARENTS; i++)
		if (!parent_bound(i))
			ksft_exit_fail_msg("parent %u is not bound: %s\n", i,
					   LOAD_HINT);
	if (mdev_available(0, TYPE) < MAX_CHILDREN)
		ksft_exit_fail_msg("parent 0 offers %d instances: %s\n",
				   mdev_available(0, TYPE), LOAD_HINT);
	run_cycles(1);
	run_cycles(BENCH_PARENTS);
	for (i = 0; i < ARRAY_SIZE(children); i++) {
		run_unregister(children[i], false);
		run_unregister(children[i], true);
	}
	ksft_finished();
}
