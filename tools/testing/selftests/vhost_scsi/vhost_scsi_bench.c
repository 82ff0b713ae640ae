// SPDX-License-Identifier: GPL-2.0
/*
 * vhost_scsi_bench - what the vhost_scsi module loaded now delivers to the
 * userspace guest: IOPS, bandwidth and latency, host CPU per command at a
 * fixed rate, host memory per request queue, and LUN hot-plug latency.
 *
 * Not a timed test: each point is one TAP result that fails only when a
 * command is not answered GOOD within BENCH_WAIT_MS (then the figures mean
 * nothing), and prints one "# bench:" line of key=value figures that
 * tools/testing/bench/report compares with the other module's, measured
 * in the same boot.
 *
 * Environment: VSG_BENCH_SECS (seconds per point, default 2; 0.1 for a
 * smoke run), VSG_BENCH_ROUND (a label for the report, default 1),
 * VSG_BENCH_ONLY (run only the points whose name contains it, say for a
 * profile), VSG_BENCH_MARK (a file that exists while a point's commands
 * run, for tools/testing/bench/profile), VSG_FLAVOUR (ours or stock, set
 * by run.sh).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"
#include "vsg_test.h"

#define BENCH_QUEUES	2		/* request queues of the I/O device */
#define BENCH_MAX_DEPTH	128
#define BENCH_WAIT_MS	30000		/* a command slower than this fails */
#define BENCH_ARENA	(64UL << 20)
#define NULL_LUN	1
#define CPU_RATE	2000		/* commands per second, CPU points */
#define MEM_QUEUES	4
#define MAX_LANES	MEM_QUEUES
#define MEM_BURST_BS	(1024 * 1024)
#define MEM_BURST_DEPTH	8
#define HP_LUN_RD	1		/* the LUNs the hot-plug points cycle */
#define HP_LUN_SLOW	2
#define HP_DEPTH	32		/* READs kept in flight at the unlink */
#define HP_BS		4096
#define HP_SLOW_NS	(20 * 1000 * 1000)	/* per command, slow LUN */
#define HP_IO_MS	50		/* I/O runs this long before it */

enum bench_op { OP_RANDREAD, OP_RANDWRITE, OP_SEQREAD, OP_SEQWRITE };

static const char *const op_names[] = {
	"randread", "randwrite", "seqread", "seqwrite",
};

struct point {
	const char *backend;	/* "rd" or "null" */
	unsigned int target;	/* the TPG's tag */
	unsigned int lun;
	enum bench_op op;
	unsigned int bs;
	unsigned int queues;
	unsigned int depth;
	unsigned int rate;	/* commands per second per queue, 0: no limit */
	double secs;
};

/* One request queue's share of a point, run by its own thread. */
struct lane {
	pthread_t thread;
	const struct point *p;
	struct vsg_vq *vq;
	__u8 *buf;		/* depth * bs bytes in the arena */
	__u64 lun_blocks;
	__u64 seq_lba;
	unsigned int seed;
	struct vsg_cmd *c[BENCH_MAX_DEPTH];
	__u64 t0[BENCH_MAX_DEPTH];
	__u64 start_ns, end_ns;
	/* results */
	__u64 ops;
	__u32 *lat_us;		/* one per answered command, up to lat_cap */
	size_t nlat, lat_cap;
	char why[160];		/* the first failure, "" if none */
};

struct bench {
	struct vsg_env e;
	char nullb[128];	/* configfs directory, "" when not made */
	bool have_null;
	char null_why[128];
	__u64 lun_blocks[2];
	__u8 *buf[BENCH_QUEUES];
	double secs;
	unsigned int round;
	const char *flavour;
	const char *only;	/* VSG_BENCH_ONLY, NULL for all points */
	const char *mark;	/* VSG_BENCH_MARK, NULL for none */
};

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void sleep_until_ns(__u64 t)
{
	struct timespec ts = {
		.tv_sec = t / 1000000000ULL, .tv_nsec = t % 1000000000ULL,
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

static __u64 lane_lba(struct lane *l)
{
	__u32 blocks = l->p->bs / VSG_BLOCK;
	__u64 lba;

	if (l->p->op == OP_SEQREAD || l->p->op == OP_SEQWRITE) {
		lba = l->seq_lba;
		l->seq_lba += blocks;
		if (l->seq_lba + blocks > l->lun_blocks)
			l->seq_lba = 0;
		return lba;
	}
	return (__u64)(rand_r(&l->seed) % (l->lun_blocks / blocks)) * blocks;
}

static int lane_submit(struct lane *l, unsigned int i)
{
	bool write = l->p->op == OP_RANDWRITE || l->p->op == OP_SEQWRITE;
	__u32 blocks = l->p->bs / VSG_BLOCK;
	__u64 lba = lane_lba(l);
	__u8 cdb[16] = { write ? 0x8a : 0x88 };	/* WRITE(16) / READ(16) */
	struct iovec iov = {
		.iov_base = l->buf + (size_t)i * l->p->bs,
		.iov_len = l->p->bs,
	};
	int k;

	for (k = 0; k < 8; k++)
		cdb[2 + k] = lba >> (56 - 8 * k);
	for (k = 0; k < 4; k++)
		cdb[10 + k] = blocks >> (24 - 8 * k);
	vsg_scsi_prep(l->c[i], l->p->target, l->p->lun, cdb, sizeof(cdb));
	l->t0[i] = now_ns();
	return vsg_scsi_submit(l->c[i], write, &iov, 1,
			       VSG_F_INDIRECT | VSG_F_NO_KICK);
}

/* Accounts an answered command; false (with l->why) if it was not GOOD. */
static bool lane_answered(struct lane *l, unsigned int i, __u64 t)
{
	struct vsg_scsi_res res;

	vsg_scsi_result(l->c[i], &res);
	if (res.response != VIRTIO_SCSI_S_OK || res.status != SAM_STAT_GOOD) {
		snprintf(l->why, sizeof(l->why),
			 "queue %u: response %u status 0x%x sense key %d",
			 l->vq->index, res.response, res.status,
			 vsg_sense_key(&res));
		return false;
	}
	l->ops++;
	if (l->nlat < l->lat_cap)
		l->lat_us[l->nlat++] = (t - l->t0[i]) / 1000;
	return true;
}

/*
 * Keeps p->depth commands in flight until the point's time is up, then
 * waits for the last of them.  The guest learns of answers from the call
 * eventfd (vsg_vq_await); at a fixed rate, a command is resubmitted no
 * earlier than its slot in the schedule.
 */
static void *lane_run(void *arg)
{
	struct lane *l = arg;
	const struct point *p = l->p;
	__u64 end, watchdog, slot_ns = p->rate ? 1000000000ULL / p->rate : 0;
	unsigned int i, live = 0;
	__u64 issued = 0;

	for (i = 0; i < p->depth; i++) {
		l->c[i] = vsg_cmd_get(l->vq);
		if (!l->c[i] || lane_submit(l, i)) {
			snprintf(l->why, sizeof(l->why), "queue %u: submit %u failed",
				 l->vq->index, i);
			return NULL;
		}
		live++;
		issued++;
	}
	vsg_vq_kick(l->vq);
	l->start_ns = now_ns();
	end = l->start_ns + (__u64)(p->secs * 1e9);
	watchdog = vsg_now_ms() + p->secs * 1000 + BENCH_WAIT_MS;
	while (live) {
		bool kick = false;
		__u64 t;

		if (vsg_vq_await(l->vq, watchdog)) {
			snprintf(l->why, sizeof(l->why),
				 "queue %u: %u commands unanswered after %d ms",
				 l->vq->index, live, BENCH_WAIT_MS);
			vsg_vq_last_look(l->vq);
			return NULL;
		}
		t = now_ns();
		for (i = 0; i < p->depth; i++) {
			if (!l->c[i] || l->c[i]->state != VSG_CMD_DONE)
				continue;
			if (!lane_answered(l, i, t))
				return NULL;
			if (t >= end) {
				vsg_cmd_put(l->c[i]);
				l->c[i] = NULL;
				live--;
				continue;
			}
			if (slot_ns)
				sleep_until_ns(l->start_ns + issued * slot_ns);
			if (lane_submit(l, i)) {
				snprintf(l->why, sizeof(l->why),
					 "queue %u: resubmit failed", l->vq->index);
				return NULL;
			}
			issued++;
			kick = true;
		}
		if (kick)
			vsg_vq_kick(l->vq);
	}
	l->end_ns = now_ns();
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

/* Interrupt time of all CPUs in ns, from /proc/stat (tick resolution). */
static __u64 irq_ns(void)
{
	unsigned long long v[7] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	int n;

	if (!f)
		return 0;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
		   &v[2], &v[3], &v[4], &v[5], &v[6]);
	fclose(f);
	if (n != 7)
		return 0;
	return (v[5] + v[6]) * (1000000000ULL / sysconf(_SC_CLK_TCK));
}

/* The first number of a /proc file, 0 when it has none. */
static __u64 proc_u64(const char *path)
{
	unsigned long long v = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	if (fscanf(f, "%llu", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

/*
 * A task that works for the device: a vhost worker (a kthread on 6.1, a
 * thread of the device owner, this process, on 6.12) or a kworker (LIO's
 * submission and completion work, the block layer's).  Softirq threads
 * are not: their time is in the softirq time of /proc/stat.
 */
static bool host_task(const char *pid, const char *tid)
{
	char path[560], comm[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/task/%s/comm", pid, tid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = 0;
	fclose(f);
	return !strncmp(comm, "vhost-", 6) || !strncmp(comm, "kworker/", 8);
}

/* The run time of every host task at one moment, by thread id. */
struct cpu_snap {
	struct task_ns {
		int tid;
		__u64 ns;
	} *t;
	size_t n, cap;
	__u64 irq_ns;
};

static int cmp_tid(const void *a, const void *b)
{
	const struct task_ns *x = a, *y = b;

	return (x->tid > y->tid) - (x->tid < y->tid);
}

static int snap_add(struct cpu_snap *s, int tid, __u64 ns)
{
	struct task_ns *t;

	if (s->n == s->cap) {
		t = realloc(s->t, (s->cap * 2 + 64) * sizeof(*t));
		if (!t)
			return -1;
		s->t = t;
		s->cap = s->cap * 2 + 64;
	}
	s->t[s->n].tid = tid;
	s->t[s->n++].ns = ns;
	return 0;
}

/*
 * The run time of the vhost workers and of every kworker, from each
 * thread's schedstat, and the interrupt and softirq time.  False when
 * schedstat is missing (CONFIG_SCHED_INFO) or memory ran out.
 */
static bool host_cpu_snap(struct cpu_snap *s)
{
	char path[560];
	struct dirent *p, *t;
	DIR *proc, *task;
	bool ok = true;

	s->n = 0;
	proc = opendir("/proc");
	if (!proc)
		return false;
	while (ok && (p = readdir(proc))) {
		if (p->d_name[0] < '1' || p->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/task", p->d_name);
		task = opendir(path);
		if (!task)
			continue;
		while (ok && (t = readdir(task))) {
			if (t->d_name[0] == '.' || !host_task(p->d_name, t->d_name))
				continue;
			snprintf(path, sizeof(path), "/proc/%s/task/%s/schedstat",
				 p->d_name, t->d_name);
			ok = !snap_add(s, atoi(t->d_name), proc_u64(path));
		}
		closedir(task);
	}
	closedir(proc);
	qsort(s->t, s->n, sizeof(*s->t), cmp_tid);
	s->irq_ns = irq_ns();
	return ok && s->n && s->t[s->n - 1].ns;
}

/*
 * The host's CPU time between two snapshots: what each task present at
 * the end ran since the start (all of it if it started since).  A
 * difference of two sums would lose the whole life of a kworker that
 * exits meanwhile.
 */
static __u64 host_cpu_delta(const struct cpu_snap *a, const struct cpu_snap *b)
{
	const struct task_ns *was;
	__u64 sum = b->irq_ns - a->irq_ns;
	size_t i;

	for (i = 0; i < b->n; i++) {
		was = bsearch(&b->t[i], a->t, a->n, sizeof(*a->t), cmp_tid);
		if (!was || was->ns > b->t[i].ns)	/* new, or a reused id */
			sum += b->t[i].ns;
		else
			sum += b->t[i].ns - was->ns;
	}
	return sum;
}

static void point_name(const struct point *p, char *buf, size_t len)
{
	if (p->rate)
		snprintf(buf, len, "%s-%s-%uk-q%u-d%u-rate%u", p->backend,
			 op_names[p->op], p->bs >> 10, p->queues, p->depth,
			 p->rate);
	else
		snprintf(buf, len, "%s-%s-%uk-q%u-d%u", p->backend,
			 op_names[p->op], p->bs >> 10, p->queues, p->depth);
}

/* Runs every lane in a thread of its own; @why gets the first failure. */
static void lanes_run(struct lane *l, unsigned int n, char *why, size_t len)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (pthread_create(&l[i].thread, NULL, lane_run, &l[i]))
			snprintf(l[i].why, sizeof(l[i].why), "no thread");
	for (i = 0; i < n; i++) {
		if (!l[i].thread)
			continue;
		pthread_join(l[i].thread, NULL);
		if (l[i].why[0] && !why[0])
			snprintf(why, len, "%s", l[i].why);
	}
}

/* Lanes for @p on the first p->queues request queues of @d. */
static int lanes_init(struct lane *l, const struct point *p,
		      struct vsg_dev *d, __u8 *const *bufs, __u64 lun_blocks,
		      unsigned int seed, size_t lat_cap)
{
	unsigned int i;

	memset(l, 0, sizeof(*l) * p->queues);
	for (i = 0; i < p->queues; i++) {
		l[i].p = p;
		l[i].vq = vsg_io_vq(d, i);
		l[i].buf = bufs[i];
		l[i].lun_blocks = lun_blocks;
		l[i].seed = seed + i;
		l[i].lat_cap = lat_cap;
		l[i].lat_us = lat_cap ? malloc(lat_cap * sizeof(__u32)) : NULL;
		if (lat_cap && !l[i].lat_us)
			return -ENOMEM;
	}
	return 0;
}

static void lanes_free(struct lane *l, unsigned int n)
{
	while (n--)
		free(l[n].lat_us);
}

/* VSG_BENCH_MARK exists while a point's commands run. */
static void mark_point(const struct bench *b, bool running)
{
	FILE *f;

	if (!b->mark)
		return;
	if (!running) {
		unlink(b->mark);
		return;
	}
	f = fopen(b->mark, "w");
	if (f)
		fclose(f);
	else
		ksft_print_msg("VSG_BENCH_MARK %s: %s\n", b->mark, strerror(errno));
}

static void report(struct bench *b, const struct point *p, struct lane *l)
{
	struct cpu_snap cpu0 = { 0 }, cpu1 = { 0 };
	__u64 ops = 0, ns = 0;
	bool cpu_ok;
	size_t i, n = 0;
	char name[64], why[160] = "";
	double secs;
	__u32 *lat;

	point_name(p, name, sizeof(name));
	cpu_ok = host_cpu_snap(&cpu0);
	mark_point(b, true);
	lanes_run(l, p->queues, why, sizeof(why));
	mark_point(b, false);
	for (i = 0; i < p->queues; i++) {
		ops += l[i].ops;
		n += l[i].nlat;
		if (l[i].end_ns - l[i].start_ns > ns)
			ns = l[i].end_ns - l[i].start_ns;
	}
	cpu_ok = host_cpu_snap(&cpu1) && cpu_ok;
	if (why[0] || !ops || !ns) {
		ksft_test_result_fail("%s: %s\n", name, why[0] ? why : "no commands");
		goto out_free_snaps;
	}
	lat = malloc(n * sizeof(*lat));
	if (!lat) {
		ksft_test_result_fail("%s: out of memory\n", name);
		goto out_free_snaps;
	}
	for (i = 0, n = 0; i < p->queues; i++) {
		memcpy(lat + n, l[i].lat_us, l[i].nlat * sizeof(*lat));
		n += l[i].nlat;
	}
	qsort(lat, n, sizeof(*lat), cmp_u32);
	secs = ns / 1e9;
	printf("# bench: flavour=%s round=%u point=%s", b->flavour, b->round,
	       name);
	printf(" backend=%s op=%s bs=%u queues=%u depth=%u rate=%u",
	       p->backend, op_names[p->op], p->bs, p->queues, p->depth,
	       p->rate * p->queues);
	printf(" secs=%.2f ops=%llu iops=%.0f mbps=%.1f p50_us=%u p99_us=%u",
	       secs, (unsigned long long)ops, ops / secs,
	       ops * p->bs / secs / 1e6, lat[n / 2], lat[n * 99 / 100]);
	if (cpu_ok)
		printf(" host_cpu_us_per_kcmd=%.0f",
		       host_cpu_delta(&cpu0, &cpu1) / 1e3 * 1000 / ops);
	printf("\n");
	free(lat);
	ksft_test_result_pass("%s\n", name);
out_free_snaps:
	free(cpu0.t);
	free(cpu1.t);
}

static void run_point(struct bench *b, const struct point *p)
{
	struct lane l[MAX_LANES];
	char name[64];

	point_name(p, name, sizeof(name));
	if (ksft_get_fail_cnt()) {
		ksft_test_result_skip("%s: an earlier point failed\n", name);
		return;
	}
	if (b->only && !strstr(name, b->only)) {
		ksft_test_result_skip("%s: not in VSG_BENCH_ONLY\n", name);
		return;
	}
	if (p->lun == NULL_LUN && !b->have_null) {
		ksft_test_result_skip("%s: %s\n", name, b->null_why);
		return;
	}
	if (lanes_init(l, p, b->e.d, b->buf, b->lun_blocks[p->lun],
		       1 + 7 * b->round, 1U << 20))
		ksft_test_result_fail("%s: out of memory\n", name);
	else
		report(b, p, l);
	lanes_free(l, p->queues);
}

/* The I/O points of one backend. */
static void run_backend(struct bench *b, const char *backend, unsigned int lun)
{
	static const unsigned int depths[] = { 1, 32, 128 };
	struct point p = {
		.backend = backend, .target = b->e.t.tpgt, .lun = lun,
		.bs = 4096, .secs = b->secs,
	};
	unsigned int op, q, d;

	for (op = OP_RANDREAD; op <= OP_RANDWRITE; op++)
		for (q = 1; q <= BENCH_QUEUES; q++)
			for (d = 0; d < 3; d++) {
				p.op = op;
				p.queues = q;
				p.depth = depths[d];
				run_point(b, &p);
			}
	p.bs = 128 << 10;
	p.queues = 1;
	p.depth = 32;
	for (op = OP_SEQREAD; op <= OP_SEQWRITE; op++) {
		p.op = op;
		run_point(b, &p);
	}
	/* host CPU per command at a rate both modules reach */
	p.bs = 4096;
	p.depth = 4;
	p.rate = CPU_RATE;
	p.op = OP_RANDREAD;
	p.secs = 2 * b->secs;
	run_point(b, &p);
}

/* MemFree in KiB, from /proc/meminfo. */
static long mem_free_kb(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemFree: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

/*
 * One sample of host memory per request queue: what free memory lost
 * from before SET_ENDPOINT to after it (@kb[0]), and to after a burst of
 * MEM_BURST_DEPTH 1 MiB READs on every queue (@kb[1]).  The guest's own
 * buffers are touched before the first reading.
 */
static int mem_sample(const struct vsg_target *t, long kb[2], char *why,
		      size_t len)
{
	struct vsg_opts o = {
		.nr_io = MEM_QUEUES,
		.arena = (size_t)MEM_QUEUES * MEM_BURST_DEPTH * MEM_BURST_BS +
			 (8UL << 20),
	};
	struct point p = {
		.backend = "rd", .target = t->tpgt, .op = OP_SEQREAD,
		.bs = MEM_BURST_BS,
		.queues = MEM_QUEUES, .depth = MEM_BURST_DEPTH, .secs = 0.3,
	};
	struct lane l[MAX_LANES];
	__u8 *bufs[MAX_LANES];
	struct vsg_dev *d;
	long before, after_ep, after_burst;
	unsigned int i;
	int ret;

	ret = vsg_open(&o, &d);
	if (ret) {
		snprintf(why, len, "vsg_open: %s", strerror(-ret));
		return ret;
	}
	for (i = 0; i < MEM_QUEUES; i++) {
		bufs[i] = vsg_alloc(d, MEM_BURST_DEPTH * MEM_BURST_BS, 4096);
		if (!bufs[i]) {
			snprintf(why, len, "arena full");
			ret = -ENOMEM;
			goto out_close;
		}
		memset(bufs[i], 0, MEM_BURST_DEPTH * MEM_BURST_BS);
	}
	usleep(200000);
	before = mem_free_kb();
	ret = vsg_set_endpoint(d, t->wwpn);
	if (ret) {
		snprintf(why, len, "SET_ENDPOINT: %s", strerror(-ret));
		goto out_close;
	}
	usleep(200000);
	after_ep = mem_free_kb();
	for (i = 0; !ret && i < MEM_QUEUES; i++)
		ret = vsg_tur_settle(vsg_io_vq(d, i), t->tpgt, 0, 8);
	if (ret) {
		snprintf(why, len, "TEST UNIT READY: %s", strerror(-ret));
		goto out_close;
	}
	ret = lanes_init(l, &p, d, bufs, VSG_LUN_BYTES / VSG_BLOCK, 1, 0) ?
		-ENOMEM : 0;
	if (!ret) {
		lanes_run(l, MEM_QUEUES, why, len);
		ret = why[0] ? -EIO : 0;
	}
	lanes_free(l, MEM_QUEUES);
	usleep(200000);
	after_burst = mem_free_kb();
	kb[0] = (before - after_ep) / MEM_QUEUES;
	kb[1] = (before - after_burst) / MEM_QUEUES;
out_close:
	vsg_close(d);
	return ret;
}

/*
 * Median of three samples, each on a device of its own on a target of
 * its own; the device of the I/O points stays open meanwhile.
 */
static void run_mem(struct bench *b)
{
	long ep[3], burst[3], kb[2] = { 0, 0 };
	struct vsg_target t = { 0 };
	char why[160] = "";
	int i, ret;

	if (ksft_get_fail_cnt()) {
		ksft_test_result_skip("mem: an earlier point failed\n");
		return;
	}
	if (b->only && !strstr("mem", b->only)) {
		ksft_test_result_skip("mem: not in VSG_BENCH_ONLY\n");
		return;
	}
	ret = vsg_target_setup(&t, VSG_BS_RD, 1, VSG_LUN_BYTES);
	for (i = 0; !ret && i < 3; i++) {
		ret = mem_sample(&t, kb, why, sizeof(why));
		ep[i] = kb[0];
		burst[i] = kb[1];
	}
	vsg_target_teardown(&t);
	if (ret) {
		ksft_test_result_fail("mem: %s\n", why[0] ? why : strerror(-ret));
		return;
	}
	qsort(ep, 3, sizeof(long), cmp_long);
	qsort(burst, 3, sizeof(long), cmp_long);
	printf("# bench: flavour=%s round=%u point=mem queues=%u", b->flavour,
	       b->round, MEM_QUEUES);
	printf(" kb_per_queue_endpoint=%ld kb_per_queue_burst_1m=%ld\n", ep[1],
	       burst[1]);
	ksft_test_result_pass("mem\n");
}

/*
 * LUN hot-plug: the time from the LUN symlink to the guest's RESCAN
 * event, and the time an unlink takes to return while HP_DEPTH READs are
 * kept in flight on the LUN (rd_mcp answers each at once; the slow
 * null_blk LUN holds each HP_SLOW_NS).  A device and target of their own,
 * with VIRTIO_SCSI_F_HOTPLUG.
 */
struct hp_io {
	pthread_t thread;
	struct vsg_vq *vq;
	unsigned int target, lun;
	__u8 *buf;
	bool stop;		/* set by the unlinker, read atomically */
	unsigned int good, gone, live;
	char why[96];
};

/* READ(16) of the @i-th 4 KiB of the LUN into the @i-th 4 KiB of buf. */
static int hp_read(struct hp_io *io, struct vsg_cmd *c, unsigned int i)
{
	__u32 lba = i * HP_BS / VSG_BLOCK;
	__u8 cdb[16] = { 0x88 };
	struct iovec iov = {
		.iov_base = io->buf + (size_t)i * HP_BS,
		.iov_len = HP_BS,
	};

	cdb[8] = lba >> 8;
	cdb[9] = lba;
	cdb[13] = HP_BS / VSG_BLOCK;
	vsg_scsi_prep(c, io->target, io->lun, cdb, sizeof(cdb));
	return vsg_scsi_submit(c, false, &iov, 1,
			       VSG_F_INDIRECT | VSG_F_NO_KICK);
}

/*
 * Keeps HP_DEPTH READs in flight until told to stop or the LUN is gone
 * (an answer other than GOOD), then waits for the rest: every command
 * must be answered, whatever the answer.
 */
static void *hp_io_run(void *arg)
{
	__u64 deadline = vsg_now_ms() + BENCH_WAIT_MS;
	struct vsg_cmd *c[HP_DEPTH] = { NULL };
	struct hp_io *io = arg;
	struct vsg_scsi_res res;
	bool more = true;
	unsigned int i;

	for (i = 0; i < HP_DEPTH; i++) {
		c[i] = vsg_cmd_get(io->vq);
		if (!c[i] || hp_read(io, c[i], i)) {
			snprintf(io->why, sizeof(io->why), "submit %u failed", i);
			return NULL;
		}
		io->live++;
	}
	vsg_vq_kick(io->vq);
	while (io->live) {
		bool kick = false;

		if (vsg_vq_await(io->vq, deadline)) {
			snprintf(io->why, sizeof(io->why),
				 "%u READs unanswered after %d ms", io->live,
				 BENCH_WAIT_MS);
			vsg_vq_last_look(io->vq);
			return NULL;
		}
		for (i = 0; i < HP_DEPTH; i++) {
			if (!c[i] || c[i]->state != VSG_CMD_DONE)
				continue;
			vsg_scsi_result(c[i], &res);
			if (res.response == VIRTIO_SCSI_S_OK &&
			    res.status == SAM_STAT_GOOD) {
				io->good++;
			} else {
				io->gone++;
				more = false;
			}
			if (more && !__atomic_load_n(&io->stop, __ATOMIC_ACQUIRE) &&
			    !hp_read(io, c[i], i)) {
				kick = true;
				continue;
			}
			vsg_cmd_put(c[i]);
			c[i] = NULL;
			io->live--;
		}
		if (kick)
			vsg_vq_kick(io->vq);
	}
	return NULL;
}

/* The next event of @reason for @lun, skipping others. */
static int hp_event(struct vsg_dev *d, unsigned int lun, __u32 reason)
{
	struct virtio_scsi_event ev;
	int ret;

	do {
		ret = vsg_event_next(d, &ev, NULL, BENCH_WAIT_MS);
	} while (!ret && !(ev.event == VIRTIO_SCSI_T_TRANSPORT_RESET &&
			   ev.reason == reason && vsg_ev_lun(&ev) == lun));
	return ret;
}

/* One link and unlink of @lun; 0, or 1 with @why. */
static int hp_cycle(struct vsg_target *t, struct vsg_dev *d, __u8 *buf,
		    unsigned int lun, __u64 us[2], char *why, size_t len)
{
	struct hp_io io = {
		.vq = vsg_io_vq(d, 0), .target = t->tpgt, .lun = lun,
		.buf = buf,
	};
	__u64 t0 = now_ns();
	int ret;

	ret = vsg_lun_link(t, lun);
	if (!ret)
		ret = hp_event(d, lun, VIRTIO_SCSI_EVT_RESET_RESCAN);
	us[0] = (now_ns() - t0) / 1000;
	if (ret) {
		snprintf(why, len, "link of LUN %u, its RESCAN event: %s", lun,
			 strerror(-ret));
		return 1;
	}
	ret = vsg_tur_settle(io.vq, t->tpgt, lun, 8);
	if (ret) {
		snprintf(why, len, "TEST UNIT READY of LUN %u: %s", lun,
			 strerror(-ret));
		return 1;
	}
	if (pthread_create(&io.thread, NULL, hp_io_run, &io)) {
		snprintf(why, len, "no thread");
		return 1;
	}
	usleep(HP_IO_MS * 1000);
	t0 = now_ns();
	ret = vsg_lun_unlink(t, lun);
	us[1] = (now_ns() - t0) / 1000;
	__atomic_store_n(&io.stop, true, __ATOMIC_RELEASE);
	pthread_join(io.thread, NULL);
	if (ret)
		snprintf(why, len, "unlink of LUN %u: %s", lun, strerror(-ret));
	else if (io.why[0])
		snprintf(why, len, "LUN %u: %s", lun, io.why);
	else if (!io.good)
		snprintf(why, len, "no READ of LUN %u was answered GOOD", lun);
	else if (hp_event(d, lun, VIRTIO_SCSI_EVT_RESET_REMOVED))
		snprintf(why, len, "no REMOVED event for LUN %u", lun);
	return why[0] ? 1 : 0;
}

/* @n cycles of @lun, then one "# bench:" line of medians. */
static void hp_point(struct bench *b, struct vsg_target *t, struct vsg_dev *d,
		     __u8 *buf, const char *name, unsigned int lun,
		     unsigned int n)
{
	long link[64], unlink[64];
	__u64 us[2] = { 0, 0 };
	char why[160] = "";
	unsigned int i;

	for (i = 0; i < n && !why[0]; i++) {
		hp_cycle(t, d, buf, lun, us, why, sizeof(why));
		link[i] = us[0];
		unlink[i] = us[1];
	}
	if (why[0]) {
		ksft_test_result_fail("%s: cycle %u: %s\n", name, i, why);
		return;
	}
	qsort(link, n, sizeof(*link), cmp_long);
	qsort(unlink, n, sizeof(*unlink), cmp_long);
	printf("# bench: flavour=%s round=%u point=%s cycles=%u depth=%u",
	       b->flavour, b->round, name, n, HP_DEPTH);
	printf(" link_event_us=%ld unlink_us=%ld unlink_max_us=%ld\n",
	       link[n / 2], unlink[n / 2], unlink[n - 1]);
	ksft_test_result_pass("%s\n", name);
}

/* The slow LUN's backstore: iblock on a null_blk device; 0 or 1 with @why. */
static int hp_slow_lun(struct vsg_target *t, char *nullb, size_t nlen,
		       char *why, size_t len)
{
	int ret;

	if (vsg_nullb_available()) {
		snprintf(why, len, "no null_blk configfs or target_core_iblock");
		return 1;
	}
	snprintf(nullb, nlen, VSG_NULLB_CFS "/vsghp%d", getpid());
	ret = vsg_nullb_make(nullb, HP_SLOW_NS, t->file[HP_LUN_SLOW],
			     sizeof(t->file[HP_LUN_SLOW]));
	if (!ret)
		ret = vsg_bs_create(t, HP_LUN_SLOW, VSG_BS_IBLOCK, 0);
	if (ret)
		snprintf(why, len, "slow null_blk LUN: %s", strerror(-ret));
	return ret ? 1 : 0;
}

static void run_hotplug(struct bench *b)
{
	struct vsg_opts o = {
		.nr_io = 1, .features = VSG_FEATURES_DEFAULT |
					(1ULL << VIRTIO_SCSI_F_HOTPLUG),
	};
	double want = b->secs * 10;	/* cycles per point: 3 to 64 */
	unsigned int n = want < 3 ? 3 : want > 64 ? 64 : (unsigned int)want;
	struct vsg_target t = { 0 };
	char why[160] = "", slow_why[160] = "", nullb[128] = "";
	struct vsg_dev *d = NULL;
	__u8 *buf = NULL;
	bool slow;
	int ret;

	if (ksft_get_fail_cnt()) {
		ksft_test_result_skip("hotplug-rd: an earlier point failed\n");
		ksft_test_result_skip("hotplug-slow: an earlier point failed\n");
		return;
	}
	if (b->only && !strstr("hotplug-rd hotplug-slow", b->only)) {
		ksft_test_result_skip("hotplug-rd: not in VSG_BENCH_ONLY\n");
		ksft_test_result_skip("hotplug-slow: not in VSG_BENCH_ONLY\n");
		return;
	}
	ret = vsg_target_setup(&t, VSG_BS_RD, 1, VSG_LUN_BYTES);
	if (!ret)
		ret = vsg_bs_create(&t, HP_LUN_RD, VSG_BS_RD, VSG_LUN_BYTES);
	slow = !ret && !hp_slow_lun(&t, nullb, sizeof(nullb), slow_why,
				    sizeof(slow_why));
	if (!ret)
		ret = vsg_open(&o, &d);
	if (!ret)
		ret = vsg_set_endpoint(d, t.wwpn);
	if (!ret)
		ret = vsg_event_post(d, 8, VSG_EVT_SIZE);
	if (!ret) {
		buf = vsg_alloc(d, HP_DEPTH * HP_BS, 4096);
		if (!buf)
			ret = -ENOMEM;
	}
	if (ret) {
		snprintf(why, sizeof(why), "setup: %s", strerror(-ret));
		ksft_test_result_fail("hotplug-rd: %s\n", why);
		ksft_test_result_fail("hotplug-slow: %s\n", why);
	} else {
		hp_point(b, &t, d, buf, "hotplug-rd", HP_LUN_RD, n);
		if (slow)
			hp_point(b, &t, d, buf, "hotplug-slow", HP_LUN_SLOW, n);
		else
			ksft_test_result_skip("hotplug-slow: %s\n", slow_why);
	}
	if (d)
		vsg_close(d);
	vsg_target_teardown(&t);
	vsg_nullb_remove(nullb);
}

/* LUN 0 on rd_mcp, LUN 1 on a null_blk device if there is one. */
static int bench_setup(struct bench *b)
{
	struct vsg_opts o = { .nr_io = BENCH_QUEUES, .arena = BENCH_ARENA };
	struct vsg_target *t = &b->e.t;
	unsigned int i;
	int ret;

	ret = vsg_env_setup(&b->e, VSG_BS_RD, 1, &o);
	if (ret)
		return ret;
	b->lun_blocks[0] = VSG_LUN_BYTES / VSG_BLOCK;
	b->lun_blocks[NULL_LUN] = (64ULL << 20) / VSG_BLOCK;
	for (i = 0; i < BENCH_QUEUES; i++) {
		b->buf[i] = vsg_alloc(b->e.d, BENCH_MAX_DEPTH * (128 << 10),
				      4096);
		if (!b->buf[i]) {
			snprintf(b->e.why, sizeof(b->e.why), "arena full");
			return 1;
		}
	}
	if (vsg_nullb_available()) {
		snprintf(b->null_why, sizeof(b->null_why),
			 "no null_blk configfs or target_core_iblock");
		return 0;
	}
	snprintf(b->nullb, sizeof(b->nullb), VSG_NULLB_CFS "/vsgbench%d",
		 getpid());
	ret = vsg_nullb_make(b->nullb, 0, t->file[NULL_LUN],
			     sizeof(t->file[NULL_LUN]));
	if (!ret)
		ret = vsg_bs_create(t, NULL_LUN, VSG_BS_IBLOCK, 0);
	if (!ret)
		ret = vsg_lun_link(t, NULL_LUN);
	if (ret) {
		snprintf(b->e.why, sizeof(b->e.why), "null_blk LUN: %s",
			 strerror(-ret));
		return 1;
	}
	b->have_null = true;
	return 0;
}

/* The first command measured must not take a unit attention. */
static int bench_clear_ua(struct bench *b)
{
	unsigned int q, lun;
	int ret;

	for (q = 0; q < BENCH_QUEUES; q++)
		for (lun = 0; lun <= (b->have_null ? NULL_LUN : 0); lun++) {
			ret = vsg_tur_settle(vsg_io_vq(b->e.d, q), b->e.t.tpgt,
					     lun, 8);
			if (ret) {
				snprintf(b->e.why, sizeof(b->e.why),
					 "TEST UNIT READY on LUN %u: %s", lun,
					 strerror(-ret));
				return 1;
			}
		}
	return 0;
}

int main(void)
{
	const char *secs = getenv("VSG_BENCH_SECS");
	const char *round = getenv("VSG_BENCH_ROUND");
	static struct bench b;
	int ret;

	b.secs = secs ? atof(secs) : 2;
	b.round = round ? atoi(round) : 1;
	b.flavour = vsg_flavour();
	b.only = getenv("VSG_BENCH_ONLY");
	b.mark = getenv("VSG_BENCH_MARK");
	if (b.secs <= 0 || b.secs > 600)
		ksft_exit_fail_msg("VSG_BENCH_SECS %s: not in (0, 600]\n", secs);
	ksft_print_header();
	ksft_set_plan(2 * 15 + 1 + 2);
	printf("# vhost_scsi_bench: %s module, round %u, %.2f s per point\n",
	       b.flavour, b.round, b.secs);
	ret = bench_setup(&b);
	if (!ret)
		ret = bench_clear_ua(&b);
	if (ret) {
		vsg_env_teardown(&b.e);
		vsg_nullb_remove(b.nullb);
		if (ret == KSFT_SKIP)
			ksft_exit_skip("%s\n", b.e.why);
		ksft_exit_fail_msg("setup: %s\n", b.e.why);
	}
	run_backend(&b, "rd", 0);
	run_backend(&b, "null", NULL_LUN);
	run_mem(&b);
	run_hotplug(&b);
	vsg_env_teardown(&b.e);
	vsg_nullb_remove(b.nullb);
	ksft_finished();
}
