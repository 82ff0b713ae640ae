// SPDX-License-Identifier: GPL-2.0
/*
 * Unbinding a parent while its mdevs are busy.
 *
 *  - with a VFIO fd open: unbind waits, creates fail fast with -ENODEV
 *    meanwhile, unbind completes once the fd is closed and the mdev's
 *    "remove" uevent comes only after that;
 *  - with a create or a remove held in flight by the sample's delay
 *    knobs: unbind waits for it, new creates and removes fail fast with
 *    -ENODEV and no child survives the unbind.
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
	double done;
};

static void *unbind_thread(void *arg)
{
	struct unbind_job *j = arg;

	j->ret = parent_unbind(j->parent);
	j->done = now_s();
	return NULL;
}

struct create_job {
	pthread_t thread;
	int parent;
	const char *type;
	char uuid[40];
	int ret;
};

static void *create_thread(void *arg)
{
	struct create_job *j = arg;

	j->ret = mdev_create(j->parent, j->type, j->uuid);
	return NULL;
}

static void *remove_thread(void *arg)
{
	struct create_job *j = arg;

	j->ret = mdev_remove(j->uuid);
	return NULL;
}

/*
 * Kernel uevent listener: the time a "remove@.../<uuid>" was seen, for the
 * mdev itself (6.12's vfio-dev/vfioN below it goes first, when VFIO
 * unregisters the device).
 */
struct uevent_watch {
	pthread_t thread;
	int sock;
	const char *needle;
	double removed;
	bool unregistered;
	atomic_bool stop;
};

static void *uevent_thread(void *arg)
{
	struct uevent_watch *w = arg;
	struct pollfd pfd = { .fd = w->sock, .events = POLLIN };
	char buf[8192];
	size_t len = strlen(w->needle);
	ssize_t n;
	char *s;

	while (!atomic_load(&w->stop)) {
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = recv(w->sock, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (!strncmp(buf, "remove@", 7) && strlen(buf) >= 7 + len &&
		    !strcmp(buf + strlen(buf) - len, w->needle) && !w->removed)
			w->removed = now_s();
		for (s = buf; s < buf + n; s += strlen(s) + 1)
			if (!strcmp(s, "MDEV_STATE=unregistered"))
				w->unregistered = true;
	}
	return NULL;
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

FIXTURE(unbind) {
	int dummy;
};

FIXTURE_SETUP(unbind)
{
	if (access(PLAT_DEVS "/mdev_sample.0", F_OK))
		SKIP(return, "sample parent not loaded (use run.sh)");
	mdev_cleanup_all(2);
}

FIXTURE_TEARDOWN(unbind)
{
	mdev_cleanup_all(2);
	EXPECT_EQ(0, mdev_count());
}

/* Create on @parent and return the errno and how long it took. */
static int timed_create(int parent, const char *type, const char *uuid,
			double *secs)
{
	double t0 = now_s();
	int ret = mdev_create(parent, type, uuid);

	*secs = now_s() - t0;
	return ret;
}

TEST_F(unbind, open_vfio_fd)
{
	struct uevent_watch w = { .removed = 0 };
	struct unbind_job j = { .parent = 0 };
	struct vfio_handle h;
	char u[40], u2[40], p[PATH_MAX];
	double secs, closed;
	int fd, ret;

	if (access("/dev/vfio/vfio", F_OK))
		SKIP(return, "no /dev/vfio/vfio");
	make_uuid(u, 0x20, 1);
	make_uuid(u2, 0x20, 2);
	ASSERT_EQ(0, mdev_create(0, "small", u));
	ret = vfio_open_mdev(u, &h);
	ASSERT_EQ(0, ret) TH_LOG("open: %s", strerror(-ret));
	type_path(p, sizeof(p), 0, "large", "create");
	fd = open(p, O_WRONLY);
	ASSERT_GE(fd, 0);

	w.sock = uevent_open();
	ASSERT_GE(w.sock, 0);
	w.needle = u;
	ASSERT_EQ(0, pthread_create(&w.thread, NULL, uevent_thread, &w));
	ASSERT_EQ(0, pthread_create(&j.thread, NULL, unbind_thread, &j));

	sleep_ms(1000);
	EXPECT_EQ(0, j.done) TH_LOG("unbind did not wait for the open fd");
	/* creates fail fast meanwhile, via the open fd or a new open */
	secs = now_s();
	ret = write(fd, u2, 36) < 0 ? -errno : 0;
	secs = now_s() - secs;
	EXPECT_EQ(-ENODEV, ret);
	EXPECT_LT(secs, FAST_S);
	ret = timed_create(0, "small", u2, &secs);
	EXPECT_TRUE(ret == -ENODEV || ret == -ENOENT) TH_LOG("create: %d", ret);
	EXPECT_LT(secs, FAST_S);
	close(fd);
	/* the other parent is not affected */
	EXPECT_EQ(0, mdev_create(1, "small", u2));
	EXPECT_EQ(0, w.removed) TH_LOG("remove uevent before release");

	/* the device is still usable until the fd is closed */
	ASSERT_EQ(4, pwrite(h.device, "ping", 4,
			    (off_t)VFIO_PCI_BAR0_REGION_INDEX << 40));
	closed = now_s();
	vfio_close(&h);
	ASSERT_EQ(0, pthread_join(j.thread, NULL));
	EXPECT_EQ(0, j.ret);
	EXPECT_GE(j.done, closed);
	EXPECT_FALSE(mdev_dir_exists(0, u));

	sleep_ms(300);
	atomic_store(&w.stop, true);
	pthread_join(w.thread, NULL);
	close(w.sock);
	EXPECT_NE(0, w.removed) TH_LOG("no remove uevent for the mdev");
	EXPECT_GE(w.removed, closed);
	EXPECT_TRUE(w.unregistered);
	ASSERT_EQ(0, parent_bind(0));
	EXPECT_EQ(4, mdev_available(0, "small"));
}

TEST_F(unbind, create_in_flight)
{
	struct create_job c = { .parent = 0, .type = "small" };
	struct unbind_job j = { .parent = 0 };
	char u2[40], p[PATH_MAX];
	double secs;
	int fd, ret;

	make_uuid(c.uuid, 0x21, 1);
	make_uuid(u2, 0x21, 2);
	type_path(p, sizeof(p), 0, "large", "create");
	fd = open(p, O_WRONLY);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, sample_knob("create_delay_ms", 1500));
	ASSERT_EQ(0, pthread_create(&c.thread, NULL, create_thread, &c));
	sleep_ms(300);
	ASSERT_EQ(0, pthread_create(&j.thread, NULL, unbind_thread, &j));
	sleep_ms(300);

	/* unbind waits for the create in flight; a new one fails fast */
	EXPECT_EQ(0, j.done);
	secs = now_s();
	ret = write(fd, u2, 36) < 0 ? -errno : 0;
	secs = now_s() - secs;
	close(fd);
	EXPECT_EQ(-ENODEV, ret);
	EXPECT_LT(secs, FAST_S);

	ASSERT_EQ(0, pthread_join(c.thread, NULL));
	ASSERT_EQ(0, pthread_join(j.thread, NULL));
	/* the create in flight finished first, then unbind removed it */
	EXPECT_EQ(0, c.ret);
	EXPECT_EQ(0, j.ret);
	EXPECT_FALSE(mdev_dir_exists(0, c.uuid));
	EXPECT_FALSE(mdev_dir_exists(0, u2));
	EXPECT_EQ(0, mdev_count());
	sample_knob("create_delay_ms", 0);
	ASSERT_EQ(0, parent_bind(0));
	EXPECT_EQ(4, mdev_available(0, "small"));
}

TEST_F(unbind, remove_in_flight)
{
	struct create_job r = { .parent = 0 };
	struct unbind_job j = { .parent = 0 };
	char u2[40];
	double secs;
	int ret;

	make_uuid(r.uuid, 0x22, 1);
	make_uuid(u2, 0x22, 2);
	ASSERT_EQ(0, mdev_create(0, "small", r.uuid));
	ASSERT_EQ(0, mdev_create(0, "large", u2));
	ASSERT_EQ(0, sample_knob("mdev_remove_delay_ms", 1500));
	ASSERT_EQ(0, pthread_create(&r.thread, NULL, remove_thread, &r));
	sleep_ms(300);
	ASSERT_EQ(0, pthread_create(&j.thread, NULL, unbind_thread, &j));
	sleep_ms(300);

	EXPECT_EQ(0, j.done);
	secs = now_s();
	ret = mdev_remove(u2);
	secs = now_s() - secs;
	EXPECT_EQ(-ENODEV, ret);
	EXPECT_LT(secs, FAST_S);

	ASSERT_EQ(0, pthread_join(r.thread, NULL));
	ASSERT_EQ(0, pthread_join(j.thread, NULL));
	EXPECT_EQ(0, r.ret);
	EXPECT_EQ(0, j.ret);
	/* removed once by the user, the other one by unbind */
	EXPECT_FALSE(mdev_dir_exists(0, r.uuid));
	EXPECT_FALSE(mdev_dir_exists(0, u2));
	sample_knob("mdev_remove_delay_ms", 0);
	ASSERT_EQ(0, parent_bind(0));
	EXPECT_EQ(4, mdev_available(0, "small"));
}

TEST_HARNESS_MAIN
