// SPDX-License-Identifier: GPL-2.0
/*
 * One test per finding of a review of the core's drop-in use, each against our
 * core (MDEV_FLAVOUR ours or dropin):
 *
 *  - show_gated: while unregistration waits (a VFIO fd is open), reading
 *    available_instances, description, name or device_api fails fast
 *    with -ENODEV instead of calling into the parent driver;
 *  - unreg_warns: that wait is reported in the kernel log, naming the
 *    mdev it waits for, every unreg_warn_secs;
 *  - remove_twice: two writers of "remove" both block until the device is
 *    gone and both succeed, as in 6.1 (removing_race: the same for
 *    writers that race to the store: each -ENODEV must come from kernfs,
 *    for a writer that came after the file was removed, and writers that
 *    both got in must both succeed);
 *  - add_uevent_complete: KOBJ_ADD comes only once the mdev is bound to
 *    its driver and has its mdev_type link;
 *  - bad_unregister: mdev_unregister_parent() on a parent that was
 *    unregistered already, or never registered, WARNs and returns (the
 *    sample's bad_unregister knob makes those calls; the VM runner is
 *    told to expect the WARNING).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <poll.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include "vfio_util.h"
#include "kselftest_harness.h"

#define FAST_S	0.3	/* a fail-fast answer comes quicker than this */

struct unbind_job {
	pthread_t thread;
	int parent;
	int ret;
	atomic_int done;
};

static void *unbind_thread(void *arg)
{
	struct unbind_job *j = arg;

	j->ret = parent_unbind(j->parent);
	atomic_store(&j->done, 1);
	return NULL;
}

struct remove_job {
	pthread_t thread;
	const char *uuid;
	int ret;
	atomic_int done;
};

static void *remove_thread(void *arg)
{
	struct remove_job *j = arg;

	j->ret = mdev_remove(j->uuid);
	atomic_store(&j->done, 1);
	return NULL;
}

/* /dev/kmsg positioned at its end: only what comes after is read. */
static int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

/* How many records since the last call contain every one of @a and @b. */
static int kmsg_count(int fd, const char *a, const char *b)
{
	char rec[2048];
	ssize_t n;
	int hits = 0;

	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten records: go on */
		if (n <= 0)
			break;
		rec[n] = '\0';
		if (strstr(rec, a) && (!b || strstr(rec, b)))
			hits++;
	}
	return hits;
}

static int mdev_param(const char *name, unsigned int val)
{
	char p[PATH_MAX], v[16];

	snprintf(p, sizeof(p), "/sys/module/mdev/parameters/%s", name);
	snprintf(v, sizeof(v), "%u", val);
	return sysfs_write(p, v);
}

/* open while a test runs: a failed test closes it in the teardown */
static struct vfio_handle *review_h;

FIXTURE(review) {
	int dummy;
};

FIXTURE_SETUP(review)
{
	if (access(PLAT_DEVS "/mdev_sample.0", F_OK))
		SKIP(return, "sample parent not loaded (use run.sh)");
	if (mdev_is_stock())
		SKIP(return, "these are findings about this core, not 6.1's");
	mdev_cleanup_all(2);
}

FIXTURE_TEARDOWN(review)
{
	/* a blocked unbind or remove of a failed test ends now */
	if (review_h) {
		vfio_close(review_h);
		sleep_ms(500);
	}
	mdev_cleanup_all(2);
	sample_knobs_off();
	sample_knob("bad_unregister", 0);
	mdev_param("unreg_warn_secs", 10);
	EXPECT_EQ(0, mdev_count());
}

/*
 * Create an mdev on @parent, open it as VFIO and start unbinding the
 * parent: the unbind waits for the fd.
 */
static int start_blocked_unbind(int parent, const char *uuid,
				struct vfio_handle *h, struct unbind_job *j)
{
	int ret;

	ret = mdev_create(parent, "small", uuid);
	if (ret)
		return ret;
	ret = vfio_open_mdev(uuid, h);
	if (ret)
		return ret;
	review_h = h;
	j->parent = parent;
	if (pthread_create(&j->thread, NULL, unbind_thread, j))
		return -EAGAIN;
	sleep_ms(500);
	return atomic_load(&j->done) ? -EINVAL : 0;
}

static void finish_blocked_unbind(struct __test_metadata *_metadata,
				  struct vfio_handle *h, struct unbind_job *j)
{
	vfio_close(h);
	ASSERT_EQ(0, pthread_join(j->thread, NULL));
	EXPECT_EQ(0, j->ret);
	ASSERT_EQ(0, parent_bind(j->parent));
}

/* Read a type attribute: 0 or -errno, and how long it took. */
static int timed_read(int parent, const char *attr, double *secs)
{
	char p[PATH_MAX], buf[256];
	double t0 = now_s();
	int ret;

	type_path(p, sizeof(p), parent, "small", attr);
	ret = sysfs_read(p, buf, sizeof(buf));
	*secs = now_s() - t0;
	return ret;
}

TEST_F(review, show_gated)
{
	static const char * const attrs[] = {
		"available_instances", "description", "name", "device_api",
	};
	struct unbind_job j = { .ret = 0 };
	static struct vfio_handle h;	/* see review_h */
	char u[40], p[PATH_MAX];
	double secs;
	int parent, i, fds[4], ret;

	if (access("/dev/vfio/vfio", F_OK))
		SKIP(return, "no /dev/vfio/vfio");
	/* parent 1 counts with get_available: a call into the driver */
	for (parent = 0; parent < 2; parent++) {
		memset(&j, 0, sizeof(j));
		make_uuid(u, 0x40 + parent, 1);
		/* opened before: the files stay reachable during the wait */
		for (i = 0; i < 4; i++) {
			type_path(p, sizeof(p), parent, "small", attrs[i]);
			fds[i] = open(p, O_RDONLY);
			ASSERT_GE(fds[i], 0);
			ASSERT_EQ(0, timed_read(parent, attrs[i], &secs));
		}
		ret = start_blocked_unbind(parent, u, &h, &j);
		ASSERT_EQ(0, ret) TH_LOG("parent %d: %s", parent, strerror(-ret));
		for (i = 0; i < 4; i++) {
			char buf[256];

			secs = now_s();
			ret = pread(fds[i], buf, sizeof(buf), 0) < 0 ? -errno : 0;
			secs = now_s() - secs;
			EXPECT_EQ(-ENODEV, ret)
				TH_LOG("parent %d %s during unregistration: %d",
				       parent, attrs[i], ret);
			EXPECT_LT(secs, FAST_S);
			close(fds[i]);
		}
		EXPECT_FALSE(atomic_load(&j.done));
		finish_blocked_unbind(_metadata, &h, &j);
		/* and readable again once registered anew */
		EXPECT_EQ(0, timed_read(parent, "available_instances", &secs));
	}
}

TEST_F(review, unreg_warns)
{
	struct unbind_job j = { .ret = 0 };
	static struct vfio_handle h;	/* see review_h */
	char u[40];
	int kmsg, hits;

	if (access("/dev/vfio/vfio", F_OK))
		SKIP(return, "no /dev/vfio/vfio");
	kmsg = kmsg_open();
	ASSERT_GE(kmsg, 0);
	ASSERT_EQ(0, mdev_param("unreg_warn_secs", 1));
	make_uuid(u, 0x41, 1);
	ASSERT_EQ(0, start_blocked_unbind(0, u, &h, &j));
	sleep_ms(2800);
	/* two warnings in 3 s, each naming the parent and the mdev */
	hits = kmsg_count(kmsg, "mdev_sample.0: MDEV: unregistering for", u);
	EXPECT_GE(hits, 2) TH_LOG("%d warnings naming %s", hits, u);
	EXPECT_FALSE(atomic_load(&j.done));
	finish_blocked_unbind(_metadata, &h, &j);
	/* and none once it is over */
	kmsg_count(kmsg, "", NULL);
	sleep_ms(1500);
	EXPECT_EQ(0, kmsg_count(kmsg, "MDEV: unregistering for", NULL));
	close(kmsg);
}

TEST_F(review, remove_twice)
{
	struct remove_job r[2] = { { .ret = 1 }, { .ret = 1 } };
	static struct vfio_handle h;	/* see review_h */
	char u[40];
	int i, ret;

	if (access("/dev/vfio/vfio", F_OK))
		SKIP(return, "no /dev/vfio/vfio");
	make_uuid(u, 0x42, 1);
	ASSERT_EQ(0, mdev_create(0, "small", u));
	ret = vfio_open_mdev(u, &h);
	ASSERT_EQ(0, ret) TH_LOG("open: %s", strerror(-ret));
	review_h = &h;
	/*
	 * The first removal waits for the fd.  A writer that comes after
	 * it removed the "remove" file finds no file (-ENOENT, or -ENODEV
	 * on a descriptor opened before), in 6.1 as here.
	 */
	for (i = 0; i < 2; i++) {
		r[i].uuid = u;
		ASSERT_EQ(0, pthread_create(&r[i].thread, NULL, remove_thread,
					    &r[i]));
		sleep_ms(400);
	}
	EXPECT_FALSE(atomic_load(&r[0].done));
	vfio_close(&h);
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_join(r[i].thread, NULL));
	EXPECT_EQ(0, r[0].ret);
	EXPECT_TRUE(r[1].ret == -ENOENT || r[1].ret == -ENODEV)
		TH_LOG("late remove: %d", r[1].ret);
	EXPECT_FALSE(mdev_exists(u));
	EXPECT_FALSE(mdev_dir_exists(0, u));
	EXPECT_EQ(4, mdev_available(0, "small"));
}

struct race_writer {
	pthread_t thread;
	atomic_int *ready;
	const char *uuid;
	int fd;
	int ret;
	bool gone;	/* the mdev was gone when write() returned */
};

/* Spin until both writers are ready, so both enter write() together. */
static void *race_thread(void *arg)
{
	struct race_writer *w = arg;

	atomic_fetch_add(w->ready, 1);
	while (atomic_load(w->ready) < 2)
		;
	w->ret = write(w->fd, "1", 1) < 0 ? -errno : 0;
	w->gone = !mdev_exists(w->uuid);
	return NULL;
}

/*
 * Two writers released together on descriptors opened before.  Either
 * both got into the store before the first removed the file, and then
 * both must succeed, or the second found it deactivated (-ENODEV from
 * kernfs).  A writer of ours that got in and saw the removal claimed used
 * to fail with -ENODEV too, so "both succeeded" never happened: over
 * many rounds it must happen.
 */
TEST_F_TIMEOUT(review, removing_race, 60)
{
	int round, i, both = 0, one = 0, rounds = 0;
	char u[40], p[PATH_MAX];
	double end = now_s() + 25;

	for (round = 0; round < 400 && now_s() < end && both < 5; round++) {
		struct race_writer w[2];
		atomic_int ready = 0;

		make_uuid(u, 0x44, round);
		ASSERT_EQ(0, mdev_create(0, "small", u));
		snprintf(p, sizeof(p), MDEV_DEVS "/%s/remove", u);
		for (i = 0; i < 2; i++) {
			w[i].ready = &ready;
			w[i].uuid = u;
			w[i].fd = open(p, O_WRONLY);
			ASSERT_GE(w[i].fd, 0);
		}
		for (i = 0; i < 2; i++)
			ASSERT_EQ(0, pthread_create(&w[i].thread, NULL,
						    race_thread, &w[i]));
		for (i = 0; i < 2; i++) {
			ASSERT_EQ(0, pthread_join(w[i].thread, NULL));
			close(w[i].fd);
		}
		rounds++;
		/* a success means the device is gone, already at its return */
		EXPECT_FALSE(mdev_exists(u));
		for (i = 0; i < 2; i++)
			EXPECT_TRUE(w[i].ret || w[i].gone)
				TH_LOG("round %d: writer %d succeeded before the mdev was gone",
				       round, i);
		if (!w[0].ret && !w[1].ret) {
			both++;
		} else {
			one++;
			EXPECT_TRUE((!w[0].ret && w[1].ret == -ENODEV) ||
				    (!w[1].ret && w[0].ret == -ENODEV))
				TH_LOG("round %d: %d and %d", round, w[0].ret,
				       w[1].ret);
		}
	}
	TH_LOG("%d rounds: both writers succeeded %d times, one %d times",
	       rounds, both, one);
	EXPECT_GT(both, 0);
	EXPECT_EQ(4, mdev_available(0, "small"));
}

static int uevent_open(void)
{
	struct sockaddr_nl sa = {
		.nl_family = AF_NETLINK, .nl_groups = 1,
	};
	int size = 1 << 20;
	int s;

	s = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
		   NETLINK_KOBJECT_UEVENT);
	if (s < 0)
		return -1;
	setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa))) {
		close(s);
		return -1;
	}
	return s;
}

struct create_job {
	pthread_t thread;
	const char *uuid;
	int ret;
};

static void *create_thread(void *arg)
{
	struct create_job *c = arg;

	c->ret = mdev_create(0, "small", c->uuid);
	return NULL;
}

TEST_F(review, add_uevent_complete)
{
	struct create_job c = { .ret = 1 };
	struct pollfd pfd;
	char u[40], buf[8192], p[PATH_MAX];
	bool seen = false, driver = false, link = false, bound = false;
	char want[128];
	double end;
	ssize_t n;
	char *s;

	make_uuid(u, 0x43, 1);
	/* the mdev's own event, not those of its children (vfio-dev/...) */
	snprintf(want, sizeof(want), "add@/devices/platform/mdev_sample.0/%s", u);
	pfd.fd = uevent_open();
	pfd.events = POLLIN;
	ASSERT_GE(pfd.fd, 0);
	/* hold the probe so that an early KOBJ_ADD is seen early */
	ASSERT_EQ(0, sample_knob("create_delay_ms", 500));
	c.uuid = u;
	ASSERT_EQ(0, pthread_create(&c.thread, NULL, create_thread, &c));
	end = now_s() + 3;
	while (!seen && now_s() < end) {
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = recv(pfd.fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (strcmp(buf, want))
			continue;
		seen = true;
		/* what a udev rule would look at, right now */
		snprintf(p, sizeof(p), MDEV_DEVS "/%s/mdev_type", u);
		link = access(p, F_OK) == 0;
		snprintf(p, sizeof(p), MDEV_DEVS "/%s/driver", u);
		bound = access(p, F_OK) == 0;
		for (s = buf; s < buf + n; s += strlen(s) + 1)
			if (!strncmp(s, "DRIVER=", 7))
				driver = true;
	}
	ASSERT_EQ(0, pthread_join(c.thread, NULL));
	close(pfd.fd);
	EXPECT_EQ(0, c.ret);
	EXPECT_TRUE(seen) TH_LOG("no add uevent for %s", u);
	EXPECT_TRUE(driver) TH_LOG("add uevent without DRIVER=");
	EXPECT_TRUE(bound) TH_LOG("add uevent before the driver was bound");
	EXPECT_TRUE(link) TH_LOG("add uevent before the mdev_type link");
	EXPECT_EQ(0, mdev_remove(u));
}

TEST_F(review, bad_unregister)
{
	int kmsg, hits;

	kmsg = kmsg_open();
	ASSERT_GE(kmsg, 0);
	/* the core WARNs with the caller's backtrace, each time */
	expect_kernel_report("WARNING: .* mdev_unregister_parent\\+");
	ASSERT_EQ(0, sample_knob("bad_unregister", 1));
	/* the sample unregisters twice, and a parent it never registered */
	ASSERT_EQ(0, parent_unbind(0));
	sample_knob("bad_unregister", 0);
	hits = kmsg_count(kmsg, "mdev: unregistering parent", "not registered");
	EXPECT_EQ(2, hits);
	close(kmsg);
	/* the core is still fine */
	ASSERT_EQ(0, parent_bind(0));
	EXPECT_EQ(4, mdev_available(0, "small"));
}

TEST_HARNESS_MAIN
