// SPDX-License-Identifier: GPL-2.0
/*
 * Race stress: one thread per (parent, type) creates and removes mdevs
 * while another thread unbinds and rebinds the parents in a loop; the
 * first half of the run with the sample's delay knobs off, the second
 * with them on.  Bounded by MDEV_STRESS_SECS (default 20) and
 * MDEV_STRESS_OPS (default 20000 operations per thread).
 *
 * Checked: every create either made a device or failed with -ENODEV,
 * -EEXIST or -EUSERS (-ENOENT while the type directory is gone); a device
 * created and not removed exists until its parent is unbound; no device
 * survives whose parent is unbound or that nobody created; everything
 * removes cleanly at the end and every instance is given back.  A reader
 * thread reads the type attributes all the while.
 *
 * One more worker creates and removes through mdevctl (start, stop), as
 * an operator would, on parent 0's small type beside the sysfs worker
 * there; its errors are the errno mdevctl reports, or what its own checks
 * say (parent or type not there, no instance left).  Without mdevctl the
 * test says so and runs the sysfs workers only.
 *
 * With MDEV_FLAVOUR=stock (6.1's own mdev.ko) the findings are logged but
 * do not fail the test: the verdict is about our core.
 */
#include <libgen.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include "mdev_util.h"
#include "kselftest_harness.h"

#define NR_PARENTS	2
#define NR_WORKERS	5	/* the last one through mdevctl */
#define MAX_LIVE	8

/*
 * Per parent: incremented before and after each unbind, so it is odd
 * while an unbind may be under way.  An mdev created when it was even
 * must exist for as long as it stays unchanged.
 */
static atomic_int gen[NR_PARENTS];
static atomic_bool stop;

struct live {
	char uuid[40];
	int gen;
};

struct worker {
	pthread_t thread;
	int id, parent, ops_max;
	const char *type;
	bool mdevctl;		/* through mdevctl, not sysfs */
	struct live live[MAX_LIVE];
	int nr_live;
	unsigned int seq;
	/* results */
	int ops, created, removed, enodev, eusers, eexist, enoent;
	int bad_errno, vanished;
	int last_bad;
	char msg[160];		/* mdevctl's, of the last call */
	char last_msg[160];	/* mdevctl's, for last_bad */
};

static bool stock;

/* A finding fails the test for our core and is only logged for stock. */
static void
check(struct __test_metadata *_metadata, bool ok, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (ok)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (stock) {
		TH_LOG("stock core: %s", msg);
		return;
	}
	EXPECT_TRUE(ok) TH_LOG("%s", msg);
}

#define CHECK(cond, ...) check(_metadata, !!(cond), __VA_ARGS__)

/*
 * Run mdevctl with @argv; 0 when it succeeds, else the error it reports as
 * -errno: the os error of its sysfs write (EACCES as ENOENT, see below),
 * or what its own checks found before writing (-ENODEV: no such parent or
 * type; -EUSERS: no instance left; -EEXIST).  -EPROTO when its message
 * says neither; @msg gets the message's last line.
 */
static int mdevctl(const char *const argv[], char *msg, size_t len)
{
	static const struct { const char *text; int err; } says[] = {
		{ "Unable to find parent device", -ENODEV },
		{ "is not currently registered for mdev support", -ENODEV },
		{ "does not support mdev type", -ENODEV },
		{ "No available instances", -EUSERS },
		{ "already exists", -EEXIST },
		{ "Device is not active", -ENODEV },
		{ "No devices match", -ENODEV },
	};
	char out[1024] = "", *os, *nl;
	int fds[2], status, err;
	size_t n = 0;
	ssize_t r;
	pid_t pid;
	unsigned int i;

	if (pipe(fds))
		return -errno;
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(fds[0]);
		close(fds[1]);
		return err;
	}
	if (!pid) {
		dup2(fds[1], STDERR_FILENO);
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		execvp("mdevctl", (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	while (n < sizeof(out) - 1 &&
	       (r = read(fds[0], out + n, sizeof(out) - 1 - n)) > 0)
		n += r;
	out[n] = '\0';
	close(fds[0]);
	if (waitpid(pid, &status, 0) != pid)
		return -ECHILD;
	if (WIFEXITED(status) && !WEXITSTATUS(status))
		return 0;
	while (n && out[n - 1] == '\n')
		out[--n] = '\0';
	nl = strrchr(out, '\n');
	snprintf(msg, len, "%s", nl ? nl + 1 : out);
	os = strstr(out, "(os error ");
	/*
	 * mdevctl writes an attribute with Rust's fs::write(), which opens
	 * it O_CREAT: where the name is missing from a sysfs directory that
	 * is still there (an unbind removing the type's files, or a device's)
	 * vfs_create() fails with EACCES, since kernfs directories cannot
	 * create; an open() without O_CREAT, as the sysfs workers do, says
	 * ENOENT.  Seen once on the rt kernel in 422 mdevctl calls.
	 */
	if (os && sscanf(os, "(os error %d)", &err) == 1 && err > 0)
		return err == EACCES ? -ENOENT : -err;
	for (i = 0; i < ARRAY_SIZE(says); i++)
		if (strstr(out, says[i].text))
			return says[i].err;
	return -EPROTO;
}

static bool have_mdevctl(void)
{
	const char *const argv[] = { "mdevctl", "list", NULL };
	char msg[160];

	return mdevctl(argv, msg, sizeof(msg)) == 0;
}

static int worker_create(struct worker *w, const char *uuid)
{
	char parent[32], type[64];
	const char *const argv[] = {
		"mdevctl", "start", "-u", uuid, "-p", parent, "--type", type,
		NULL,
	};

	if (!w->mdevctl)
		return mdev_create(w->parent, w->type, uuid);
	snprintf(parent, sizeof(parent), "mdev_sample.%d", w->parent);
	snprintf(type, sizeof(type), TYPE_PREFIX "%s", w->type);
	return mdevctl(argv, w->msg, sizeof(w->msg));
}

static int worker_remove(struct worker *w, const char *uuid)
{
	const char *const argv[] = { "mdevctl", "stop", "-u", uuid, NULL };

	if (!w->mdevctl)
		return mdev_remove(uuid);
	return mdevctl(argv, w->msg, sizeof(w->msg));
}

static void bad_errno(struct worker *w, int ret)
{
	w->bad_errno++;
	w->last_bad = ret;
	memcpy(w->last_msg, w->msg, sizeof(w->last_msg));
}

/* Can an unbind have removed a device created at generation @g? */
static bool unbound_since(int parent, int g)
{
	return (g & 1) || atomic_load(&gen[parent]) != g;
}

static void do_create(struct worker *w)
{
	struct live *l = &w->live[w->nr_live];
	int ret;

	make_uuid(l->uuid, 0x100 + w->id, w->seq++);
	l->gen = atomic_load(&gen[w->parent]);
	ret = worker_create(w, l->uuid);
	switch (ret) {
	case 0:
		/* made, unless an unbind may have taken it since */
		if (!mdev_dir_exists(w->parent, l->uuid) &&
		    !unbound_since(w->parent, l->gen))
			w->vanished++;
		w->created++;
		w->nr_live++;
		break;
	case -ENODEV:
		w->enodev++;
		break;
	case -EUSERS:
		w->eusers++;
		break;
	case -EEXIST:
		w->eexist++;
		break;
	case -ENOENT:
		w->enoent++;
		break;
	default:
		bad_errno(w, ret);
	}
}

static void do_remove(struct worker *w)
{
	int i = rand_r(&w->seq) % w->nr_live;
	struct live *l = &w->live[i];
	int ret;

	ret = worker_remove(w, l->uuid);
	if (ret == 0) {
		w->removed++;
	} else if (ret == -ENODEV || ret == -ENOENT) {
		/* fine only if the parent went away since the create */
		if (!unbound_since(w->parent, l->gen))
			w->vanished++;
		if (ret == -ENODEV)
			w->enodev++;
		else
			w->enoent++;
	} else {
		bad_errno(w, ret);
	}
	w->live[i] = w->live[--w->nr_live];
}

static void *worker_thread(void *arg)
{
	struct worker *w = arg;

	while (!atomic_load(&stop) && w->ops < w->ops_max) {
		if (w->nr_live < MAX_LIVE && (w->nr_live < 2 ||
					      rand_r(&w->seq) & 1))
			do_create(w);
		else
			do_remove(w);
		w->ops++;
	}
	return NULL;
}

struct unbinder {
	pthread_t thread;
	int cycles, errors;
};

static void *unbind_thread(void *arg)
{
	struct unbinder *u = arg;
	int p = 0;

	while (!atomic_load(&stop)) {
		atomic_fetch_add(&gen[p], 1);
		if (parent_unbind(p))
			u->errors++;
		atomic_fetch_add(&gen[p], 1);
		sleep_ms(10 + u->cycles % 40);
		if (parent_bind(p))
			u->errors++;
		sleep_ms(100);
		u->cycles++;
		p = (p + 1) % NR_PARENTS;
	}
	return NULL;
}

/*
 * Reads every attribute of every type in a loop: a read may race with
 * registration (a driver's get_available() looks at type->parent) and with
 * unregistration (kernfs drains it).  It may fail with ENOENT or ENODEV
 * while the type is gone, never crash the kernel or hang the unbind.
 */
struct reader {
	pthread_t thread;
	int reads, ok;
};

static void *reader_thread(void *arg)
{
	static const char * const attrs[] = {
		"available_instances", "name", "description", "device_api",
	};
	static const char * const types[] = { "small", "large" };
	struct reader *r = arg;
	char p[PATH_MAX], buf[256];
	unsigned int i = 0;

	while (!atomic_load(&stop)) {
		type_path(p, sizeof(p), i % NR_PARENTS,
			  types[(i / NR_PARENTS) % 2], attrs[(i / 4) % 4]);
		if (!sysfs_read(p, buf, sizeof(buf)))
			r->ok++;
		r->reads++;
		i++;
	}
	return NULL;
}

static int env_int(const char *name, int def)
{
	const char *v = getenv(name);

	return v && *v ? atoi(v) : def;
}

static void knobs(bool on)
{
	sample_knob("create_delay_ms", on ? 5 : 0);
	sample_knob("mdev_remove_delay_ms", on ? 5 : 0);
	sample_knob("probe_delay_ms", on ? 20 : 0);
	sample_knob("remove_delay_ms", on ? 20 : 0);
}

/* Is the mdev named @uuid one that a worker holds as live? */
static struct live *find_live(struct worker *ws, const char *uuid, int *p)
{
	int i, k;

	for (i = 0; i < NR_WORKERS; i++)
		for (k = 0; k < ws[i].nr_live; k++)
			if (!strcmp(ws[i].live[k].uuid, uuid)) {
				*p = ws[i].parent;
				return &ws[i].live[k];
			}
	return NULL;
}

FIXTURE(stress) {
	int dummy;
};

FIXTURE_SETUP(stress)
{
	if (access(PLAT_DEVS "/mdev_sample.0", F_OK))
		SKIP(return, "sample parent not loaded (use run.sh)");
	stock = mdev_is_stock();
	mdev_cleanup_all(NR_PARENTS);
}

FIXTURE_TEARDOWN(stress)
{
	mdev_cleanup_all(NR_PARENTS);
}

static void check_survivors(struct __test_metadata *_metadata,
			    struct worker *ws)
{
	char p[PATH_MAX], real[PATH_MAX], *parent;
	struct dirent *de;
	struct live *l;
	int pidx, i, k;
	DIR *d;

	d = opendir(MDEV_DEVS);
	ASSERT_NE(NULL, d);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), MDEV_DEVS "/%s", de->d_name);
		if (!realpath(p, real))
			continue;
		parent = basename(dirname(real));
		l = find_live(ws, de->d_name, &pidx);
		CHECK(l, "mdev %s exists but no create succeeded for it",
		      de->d_name);
		CHECK(sscanf(parent, "mdev_sample.%d", &pidx) == 1 &&
		      parent_bound(pidx),
		      "mdev %s survives on unbound parent %s",
		      de->d_name, parent);
	}
	closedir(d);

	for (i = 0; i < NR_WORKERS; i++)
		for (k = 0; k < ws[i].nr_live; k++) {
			l = &ws[i].live[k];
			if (unbound_since(ws[i].parent, l->gen))
				continue;
			CHECK(mdev_dir_exists(ws[i].parent, l->uuid),
			      "mdev %s vanished without an unbind", l->uuid);
		}
}

TEST_F_TIMEOUT(stress, create_remove_unbind, 3600)
{
	int secs = env_int("MDEV_STRESS_SECS", 20);
	int ops = env_int("MDEV_STRESS_OPS", 20000);
	static const char * const types[] = { "small", "large" };
	struct worker ws[NR_WORKERS] = {};
	bool with_mdevctl = have_mdevctl();
	struct unbinder u = {};
	struct reader rd = {};
	int i, total = 0, t, n;
	double end;

	if (!with_mdevctl)
		TH_LOG("no mdevctl worker: mdevctl is not installed or fails");
	atomic_store(&stop, false);
	for (i = 0; i < NR_WORKERS; i++) {
		ws[i].id = i;
		ws[i].mdevctl = i == NR_WORKERS - 1;
		ws[i].parent = ws[i].mdevctl ? 0 : i / 2;
		ws[i].type = types[ws[i].mdevctl ? 0 : i % 2];
		ws[i].ops_max = ws[i].mdevctl && !with_mdevctl ? 0 : ops;
		ws[i].seq = getpid() * 31 + i;
		ASSERT_EQ(0, pthread_create(&ws[i].thread, NULL,
					    worker_thread, &ws[i]));
	}
	ASSERT_EQ(0, pthread_create(&u.thread, NULL, unbind_thread, &u));
	ASSERT_EQ(0, pthread_create(&rd.thread, NULL, reader_thread, &rd));

	end = now_s() + secs;
	knobs(false);
	for (t = 0; now_s() < end; t++) {
		if (t == secs / 2)
			knobs(true);
		sleep_ms(1000);
	}
	atomic_store(&stop, true);
	for (i = 0; i < NR_WORKERS; i++)
		pthread_join(ws[i].thread, NULL);
	pthread_join(u.thread, NULL);
	pthread_join(rd.thread, NULL);
	knobs(false);
	for (i = 0; i < NR_PARENTS; i++)
		if (!parent_bound(i))
			ASSERT_EQ(0, parent_bind(i));

	for (i = 0; i < NR_WORKERS; i++) {
		struct worker *w = &ws[i];

		TH_LOG("%s: parent %d %-5s%s ops %d created %d removed %d",
		       mdev_flavour(), w->parent, w->type,
		       w->mdevctl ? " (mdevctl)" : "", w->ops, w->created,
		       w->removed);
		TH_LOG("  errors: ENODEV %d EUSERS %d EEXIST %d ENOENT %d",
		       w->enodev, w->eusers, w->eexist, w->enoent);
		CHECK(!w->bad_errno, "%d unexpected errors, last %d (%s)%s%s",
		      w->bad_errno, w->last_bad, strerror(-w->last_bad),
		      w->mdevctl ? ": mdevctl says " : "",
		      w->mdevctl ? w->last_msg : "");
		CHECK(!w->vanished, "%d mdevs gone without unbind or remove",
		      w->vanished);
		total += w->ops;
	}
	TH_LOG("%s: %d unbind/bind cycles, %d operations", mdev_flavour(),
	       u.cycles, total);
	TH_LOG("%s: %d attribute reads, %d succeeded", mdev_flavour(),
	       rd.reads, rd.ok);
	EXPECT_GT(rd.ok, 0);
	EXPECT_GT(u.cycles, 2);
	EXPECT_EQ(0, u.errors);

	check_survivors(_metadata, ws);

	/* everything removes cleanly and every instance comes back */
	for (i = 0; i < NR_WORKERS; i++)
		while (ws[i].nr_live) {
			struct live *l = &ws[i].live[--ws[i].nr_live];

			n = mdev_remove(l->uuid);
			CHECK(n == 0 || (n == -ENOENT &&
					 unbound_since(ws[i].parent, l->gen)),
			      "final remove of %s: %d", l->uuid, n);
		}
	n = mdev_count();
	CHECK(n == 0, "%d mdevs left after removing all", n);
	n = mdev_available(0, "small");
	CHECK(n == 4, "parent 0 available_instances %d, want 4", n);
	n = mdev_available(1, "small");
	CHECK(n == 3, "parent 1 available_instances %d, want 3", n);
}

TEST_HARNESS_MAIN
